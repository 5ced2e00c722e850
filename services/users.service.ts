/**
 * users: accounts (credentials and profile) and the User object of the wire contract.
 * The counts and flags a User shows belong to other services; `toUsers` gathers them with
 * one batched call per owner (settings.factProviders, and settings.flagProviders when
 * there is a viewer), and the read model (lib/read-model.ts) keeps the Users with their
 * counts while `stamp:users` holds and each viewer's flags while their stamp holds, so a
 * profile usually costs one stamp lookup and no call.
 */
import bcrypt from "bcryptjs";
import { LRUCache } from "lru-cache";
import type { Context, Service } from "moleculer";
import { tokenSigner } from "../lib/auth";
import { config } from "../lib/config";
import { conflict, notFound, unauthorized } from "../lib/errors";
import { STAMP } from "../lib/counts-cache";
import { distinctIds, gatherFacts, idsSchema } from "../lib/facts";
import type { AppMeta } from "../lib/meta";
import { METRIC } from "../lib/metrics";
import { type Collection, DuplicateKeyError } from "../lib/store";
import { optionalWireId } from "../lib/params";
import { FlagsCopy, StampedCopies, readStamps } from "../lib/read-model";
import { idempotentRead, retriedRead } from "../lib/resilience";
import { defineService } from "../lib/service";
import type { User } from "../lib/wire";
import { StoreMixin, type StoreVars } from "../mixins/store.mixin";

export interface UserDoc {
	_id: number;
	name: string;
	passwordHash: string;
	avatar: string;
	background_image: string;
	signature: string;
	createdAt: number;
}

interface UsersSettings {
	/** Actions answering `{ ids }` with counts of each User. */
	factProviders: string[];
	/** Actions answering `{ ids, viewerId }` with the viewer's flags about each User (is_follow). */
	flagProviders: string[];
}

interface UsersMethods {
	toUsers(ctx: Context, docs: UserDoc[], viewerId?: number): Promise<{ users: User[]; stale: boolean }>;
	loadUsers(ids: number[]): Promise<UserDoc[]>;
}

type UsersThis = Service<UsersSettings> &
	UsersMethods &
	StoreVars<{ users: Collection<UserDoc> }> & {
		/** Accounts by id: nothing in the API changes an account, so a replica may keep them. */
		docs: LRUCache<number, UserDoc>;
		/** Users with their counts, while stamp:users holds. */
		counted: StampedCopies<User>;
		/** Each viewer's flags about users (is_follow), while the viewer's stamp holds. */
		flags: FlagsCopy<User>;
	};

export interface CredentialsParams {
	username: string;
	password: string;
}
export interface GetParams {
	user_id?: number;
}
export interface GetManyParams {
	ids: number[];
	viewerId?: number;
}
export interface ResolveTokenParams {
	token: string;
}

const credentialsSchema = {
	username: { type: "string", trim: true, min: 1, max: 32 },
	password: { type: "string", min: 6, max: 32 }
} as const;

/** A hash of nothing anyone can type: login compares against it for unknown users, so timing tells nothing. */
const DUMMY_HASH = bcrypt.hashSync("moletok-no-such-user", 10);

const UsersService = defineService<UsersSettings, UsersMethods, UsersThis>({
	name: "users",
	mixins: [StoreMixin<{ users: Collection<UserDoc> }>({ users: [{ fields: ["name"], unique: true }] })],

	settings: {
		factProviders: ["videos.userFacts", "favorites.userFacts", "relations.userFacts"],
		flagProviders: ["relations.userFlags"]
	},

	actions: {
		/** Creates an account. Params: username, password. Returns { user_id, token }. */
		register: {
			params: credentialsSchema,
			async handler(this: UsersThis, ctx: Context<CredentialsParams>) {
				const { username, password } = ctx.params;
				const cfg = config();
				const passwordHash = await bcrypt.hash(password, cfg.bcryptCost);
				const doc: UserDoc = {
					_id: await this.store.nextId("users"),
					name: username,
					passwordHash,
					avatar: "",
					background_image: "",
					signature: "",
					createdAt: Date.now()
				};
				try {
					await this.collections.users.insert(doc);
				} catch (err) {
					if (err instanceof DuplicateKeyError) throw conflict(`username "${username}" is already taken: choose another one`);
					throw err;
				}
				ctx.emit("user.registered", { userId: doc._id });
				return { user_id: doc._id, token: tokenSigner(cfg).sign(doc._id) };
			}
		},

		/** Checks credentials. Params: username, password. Returns { user_id, token }. */
		login: {
			params: credentialsSchema,
			async handler(this: UsersThis, ctx: Context<CredentialsParams>) {
				const { username, password } = ctx.params;
				const doc = await this.collections.users.findOne({ name: username });
				const matches = await bcrypt.compare(password, doc?.passwordHash ?? DUMMY_HASH);
				this.broker.metrics.increment(METRIC.LOGINS, { outcome: doc && matches ? "ok" : "failed" });
				if (!doc || !matches) throw unauthorized("wrong username or password");
				return { user_id: doc._id, token: tokenSigner(config()).sign(doc._id) };
			}
		},

		/** One user's profile. Params: user_id (default: the token's user). Returns { user }. */
		get: {
			...idempotentRead(),
			auth: "required",
			params: { user_id: optionalWireId },
			async handler(this: UsersThis, ctx: Context<GetParams, AppMeta>) {
				const userId = ctx.params.user_id ?? ctx.meta.userId!;
				const [doc] = await this.loadUsers([userId]);
				if (!doc) throw notFound(`user ${userId} does not exist`);
				const {
					users: [user]
				} = await this.toUsers(ctx, [doc], ctx.meta.userId);
				return { user };
			}
		},

		/**
		 * Users by id, for other services. Params: ids, viewerId. Returns { users: { [id]: User } }
		 * (unknown ids absent), and stale: true when a count provider did not answer and some
		 * counts are the cache's last ones.
		 */
		getMany: {
			...retriedRead(),
			visibility: "public",
			params: {
				ids: idsSchema,
				viewerId: { type: "number", integer: true, positive: true, optional: true }
			},
			async handler(this: UsersThis, ctx: Context<GetManyParams>) {
				const docs = await this.loadUsers(distinctIds(ctx.params.ids));
				const { users: list, stale } = await this.toUsers(ctx, docs, ctx.params.viewerId);
				const users: Record<number, User> = {};
				for (const user of list) users[user.id] = user;
				return stale ? { users, stale } : { users };
			}
		},

		/** Which user a token belongs to. Params: token. Returns { userId }. */
		resolveToken: {
			visibility: "public",
			params: { token: { type: "string", min: 1, max: 2048 } },
			handler(ctx: Context<ResolveTokenParams>) {
				const check = tokenSigner(config()).verify(ctx.params.token);
				if ("error" in check) throw unauthorized(`token is ${check.error}`);
				return check;
			}
		},

		/** Fails with NOT_FOUND ("user N does not exist") unless every user exists. Params: ids. Returns {}. */
		assertExist: {
			visibility: "public",
			params: { ids: { type: "array", items: { type: "number", integer: true, positive: true }, min: 1, max: 1000 } },
			async handler(this: UsersThis, ctx: Context<{ ids: number[] }>) {
				const ids = distinctIds(ctx.params.ids);
				const found = new Set((await this.loadUsers(ids)).map(doc => doc._id));
				const missing = ids.find(id => !found.has(id));
				if (missing !== undefined) throw notFound(`user ${missing} does not exist`);
				return {};
			}
		}
	},

	methods: {
		/** The accounts with these ids (unknown ids absent), from memory where possible. */
		async loadUsers(this: UsersThis, ids: number[]): Promise<UserDoc[]> {
			const missing = ids.filter(id => !this.docs.has(id));
			if (missing.length > 0) for (const doc of await this.collections.users.findByIds(missing)) this.docs.set(doc._id, doc);
			return ids.flatMap(id => this.docs.get(id) ?? []);
		},

		/** Wire Users with every count (from the copy kept while stamp:users holds) and the viewer's flags. */
		async toUsers(this: UsersThis, ctx: Context, docs: UserDoc[], viewerId?: number): Promise<{ users: User[]; stale: boolean }> {
			if (docs.length === 0) return { users: [], stale: false };
			const [usersStamp, viewerStamp] = await readStamps(this.broker.cacher!, viewerId ? [STAMP.users, STAMP.viewer(viewerId)] : [STAMP.users]);
			const byId = new Map(docs.map(doc => [doc._id, doc]));
			let stale = false;
			const ids = docs.map(doc => doc._id);
			const [counted, flags] = await Promise.all([
				this.counted.get(usersStamp, ids, async missing => {
					const gathered = await gatherFacts<User>(ctx, this.settings.factProviders, { ids: missing });
					stale = gathered.stale;
					return {
						stale,
						values: new Map(
							missing.map(id => {
								const doc = byId.get(id)!;
								const user: User = {
									id: doc._id,
									name: doc.name,
									follow_count: 0,
									follower_count: 0,
									is_follow: false,
									avatar: doc.avatar,
									background_image: doc.background_image,
									signature: doc.signature,
									total_favorited: 0,
									work_count: 0,
									favorite_count: 0,
									...gathered.facts[id]
								};
								return [id, user];
							})
						)
					};
				}),
				viewerId ? this.flags.get(ctx, viewerId, viewerStamp, ids) : null
			]);
			const users = ids.map(id => {
				const user = counted.get(id)!;
				const own = flags?.get(id)?.values;
				return own ? { ...user, ...own } : user;
			});
			return { users, stale };
		}
	},

	created(this: UsersThis) {
		this.docs = new LRUCache({ max: 100_000 });
		this.counted = new StampedCopies(100_000);
		this.flags = new FlagsCopy(this.settings.flagProviders);
	}
});

export default UsersService;
