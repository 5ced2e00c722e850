/**
 * users: accounts (credentials and profile) and the User object of the wire contract.
 * The counts and flags a User shows belong to other services; `toUsers` gathers them with
 * one batched call per owner (settings.factProviders, and settings.flagProviders when
 * there is a viewer), and the read model (lib/read-model.ts) keeps the Users with their
 * counts while `stamp:users` holds and each viewer's flags while their stamp holds, so a
 * profile usually costs one stamp lookup and no call.
 *
 * Passwords are hashed in worker threads (lib/passwords.ts); register and login each have a
 * bulkhead, so a flood of them waits in a bounded queue (PASSWORD_HASH_QUEUE) and beyond it
 * is answered at once with 503 "too many logins at once", while every other request goes on.
 * Usernames are unique by their key (lib/usernames.ts): "Alice", "alice" and "Ａｌｉｃｅ" are one.
 */
import { LRUCache } from "lru-cache";
import { type Context, Errors, type Logger, type Service, type ServiceSchema } from "moleculer";
import { tokenSigner } from "../lib/auth";
import { config } from "../lib/config";
import { conflict, notFound, unauthorized } from "../lib/errors";
import { STAMP } from "../lib/counts-cache";
import { distinctIds, gatherFacts, idsSchema } from "../lib/facts";
import type { AppMeta } from "../lib/meta";
import { METRIC } from "../lib/metrics";
import { PasswordHasher, type StoredPassword } from "../lib/passwords";
import { type Collection, type DocumentStore, DuplicateKeyError } from "../lib/store";
import { optionalWireId } from "../lib/params";
import { FlagsCopy, StampedCopies, readStamps } from "../lib/read-model";
import { idempotentRead, retriedRead } from "../lib/resilience";
import { LEGACY_KEY_PREFIX, USERNAME_MAX_CHARS, USERNAME_PATTERN, usernameKey } from "../lib/usernames";
import type { User } from "../lib/wire";
import { StoreMixin, type StoreVars } from "../mixins/store.mixin";

export interface UserDoc extends StoredPassword {
	_id: number;
	/** As registered (trimmed); what every User shows. */
	name: string;
	/** What names are compared by, unique (lib/usernames.ts); LEGACY_KEY_PREFIX + name for old look-alikes. */
	nameKey: string;
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
	findAccount(username: string): Promise<UserDoc | null>;
}

type UsersThis = Service<UsersSettings> &
	UsersMethods &
	StoreVars<{ users: Collection<UserDoc> }> & {
		/** Accounts by id: nothing in the API changes an account, so a replica may keep them. */
		docs: LRUCache<number, UserDoc>;
		passwords: PasswordHasher;
		/** Whether some old accounts log in only by their exact name (see migrateNameKeys). */
		hasLegacyKeys: boolean;
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

const PASSWORD_MIN_CHARS = 6;
const PASSWORD_MAX_CHARS = 32;

/** The rules of a new account; their messages are the client's status_msg (400). */
const registerSchema = {
	username: {
		type: "string",
		trim: true,
		min: 1,
		max: USERNAME_MAX_CHARS,
		pattern: USERNAME_PATTERN,
		messages: {
			required: "username is required",
			string: "username must be a string",
			stringMin: "username must not be empty",
			stringMax: `username must be at most ${USERNAME_MAX_CHARS} characters`,
			stringPattern: "username must not contain control or invisible characters"
		}
	},
	password: {
		type: "string",
		min: PASSWORD_MIN_CHARS,
		max: PASSWORD_MAX_CHARS,
		messages: {
			required: "password is required",
			string: "password must be a string",
			stringMin: `password must be at least ${PASSWORD_MIN_CHARS} characters`,
			stringMax: `password must be at most ${PASSWORD_MAX_CHARS} characters`
		}
	}
} as const;

/** Login takes any strings: credentials no account can have are just wrong (401), not a bad request. */
const loginSchema = {
	username: { type: "string", trim: true, messages: { required: "username is required", string: "username must be a string" } },
	password: { type: "string", messages: { required: "password is required", string: "password must be a string" } }
} as const;

/** Whether an account could have these credentials (the rules of register); if not, no store read and no hash. */
function couldExist(username: string, password: string): boolean {
	return (
		username.length > 0 &&
		username.length <= USERNAME_MAX_CHARS &&
		USERNAME_PATTERN.test(username) &&
		password.length >= PASSWORD_MIN_CHARS &&
		password.length <= PASSWORD_MAX_CHARS
	);
}

/**
 * Gives every account from before names were compared by key its `nameKey` (idempotent; run
 * by each replica at start, before the unique index is made). When old names share a key
 * ("Alice" and "alice"), the oldest account gets it and keeps logging in by any spelling;
 * each later one gets LEGACY_KEY_PREFIX + its exact name and logs in with that spelling only.
 * Nobody loses an account, and no new account can take any of those names.
 */
async function migrateNameKeys(store: DocumentStore, logger: Logger): Promise<void> {
	const users = await store.collection<UserDoc>("users");
	if ((await users.count({ nameKey: { $exists: false } })) === 0) return;
	const docs = await users.find({}, { sort: { _id: 1 } });
	const taken = new Set(docs.flatMap(doc => (doc.nameKey === undefined ? [] : [doc.nameKey])));
	const exactOnly: string[] = [];
	let keyed = 0;
	for (const doc of docs) {
		if (doc.nameKey !== undefined) continue;
		let nameKey = usernameKey(doc.name);
		if (taken.has(nameKey)) {
			nameKey = LEGACY_KEY_PREFIX + doc.name;
			exactOnly.push(`${JSON.stringify(doc.name)} (user ${doc._id})`);
		}
		taken.add(nameKey);
		if (await users.updateOne({ _id: doc._id, nameKey: { $exists: false } }, { $set: { nameKey } })) keyed++;
	}
	logger.info(`usernames: ${keyed} accounts from before got their comparison key`);
	if (exactOnly.length > 0)
		logger.warn(`usernames: ${exactOnly.join(", ")} look like older accounts' names: they log in with their exact spelling only`);
}

/**
 * Refuses a call whose caller has stopped waiting (it waited out its timeout in the bulkhead's
 * queue), so that a flood never spends hashes on answers nobody reads.
 */
function skipIfAbandoned(ctx: Context): void {
	const { timeout } = ctx.options;
	if (!timeout || !ctx.startHrTime) return;
	const [s, ns] = process.hrtime(ctx.startHrTime);
	if (s * 1000 + ns / 1e6 >= timeout) throw new Errors.RequestSkippedError({ action: ctx.action!.name, nodeID: ctx.nodeID! });
}

const cfg = config();

/** The queue bound of register and login (Moleculer's bulkhead): two in flight per hashing thread, so none idles between hashes. */
const hashingBulkhead = { enabled: true, concurrency: 2 * cfg.passwordHashThreads, maxQueueSize: cfg.passwordHashQueue };

/**
 * No circuit breaker on register and login: under a flood their callers time out in the
 * bulkhead's queue by design, which must not make every other login "not available".
 */
const noBreaker = { enabled: false };

const UsersService: ServiceSchema<UsersSettings, UsersMethods, UsersThis> = {
	name: "users",
	mixins: [
		StoreMixin<{ users: Collection<UserDoc> }>(
			{ users: [{ fields: ["name"], unique: true }, { fields: ["nameKey"], unique: true }] },
			{ migrate: migrateNameKeys }
		)
	],

	settings: {
		factProviders: ["videos.userFacts", "favorites.userFacts", "relations.userFacts"],
		flagProviders: ["relations.userFlags"]
	},

	actions: {
		/** Creates an account. Params: username, password. Returns { user_id, token }. */
		register: {
			params: registerSchema,
			bulkhead: hashingBulkhead,
			circuitBreaker: noBreaker,
			busy: "too many registrations at once: try again in a moment",
			async handler(this: UsersThis, ctx: Context<CredentialsParams>) {
				skipIfAbandoned(ctx);
				const { username, password } = ctx.params;
				const nameKey = usernameKey(username);
				const taken = () =>
					conflict(`username "${username}" is already taken (names differing only in letter case or width count as the same): choose another one`);
				// A taken name is refused before a hash is spent on it; the unique index decides races.
				if (await this.collections.users.findOne({ nameKey })) throw taken();
				const hashed = await this.passwords.hash(password);
				const doc: UserDoc = {
					_id: await this.store.nextId("users"),
					name: username,
					nameKey,
					...hashed,
					avatar: "",
					background_image: "",
					signature: "",
					createdAt: Date.now()
				};
				try {
					await this.collections.users.insert(doc);
				} catch (err) {
					if (err instanceof DuplicateKeyError) throw taken();
					throw err;
				}
				ctx.emit("user.registered", { userId: doc._id });
				return { user_id: doc._id, token: tokenSigner(cfg).sign(doc._id) };
			}
		},

		/** Checks credentials. Params: username, password. Returns { user_id, token }; wrong ones fail 401 whatever they are. */
		login: {
			params: loginSchema,
			bulkhead: hashingBulkhead,
			circuitBreaker: noBreaker,
			busy: "too many logins at once: try again in a moment",
			async handler(this: UsersThis, ctx: Context<CredentialsParams>) {
				skipIfAbandoned(ctx);
				const { username, password } = ctx.params;
				const possible = couldExist(username, password);
				const doc = possible ? await this.findAccount(username) : null;
				// An unknown name costs a hash as a known one does: timing does not tell which names exist.
				const matches = possible && (await this.passwords.verify(password, doc));
				this.broker.metrics.increment(METRIC.LOGINS, { outcome: doc && matches ? "ok" : "failed" });
				if (!doc || !matches) throw unauthorized("wrong username or password");
				if (this.passwords.needsRehash(password, doc)) {
					// Best effort: the login stands either way, and the next one tries again.
					try {
						const fresh = await this.passwords.hash(password);
						await this.collections.users.updateOne({ _id: doc._id, passwordHash: doc.passwordHash }, { $set: { ...fresh } });
						this.docs.delete(doc._id);
					} catch (err) {
						this.logger.warn(`user ${doc._id}: the password hash could not be brought to the current scheme`, err);
					}
				}
				return { user_id: doc._id, token: tokenSigner(cfg).sign(doc._id) };
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
				const check = tokenSigner(cfg).verify(ctx.params.token);
				if ("error" in check) throw unauthorized(`token is ${check.error}`);
				return check;
			}
		},

		/** Fails with NOT_FOUND ("user N does not exist") unless every user exists. Params: ids. Returns {}. */
		assertExist: {
			visibility: "public",
			params: { ids: { ...idsSchema, min: 1 } },
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
		/** The account a login names: an old look-alike by its exact name first (see migrateNameKeys), else by key. */
		async findAccount(this: UsersThis, username: string): Promise<UserDoc | null> {
			const exact = this.hasLegacyKeys ? await this.collections.users.findOne({ nameKey: LEGACY_KEY_PREFIX + username }) : null;
			return exact ?? (await this.collections.users.findOne({ nameKey: usernameKey(username) }));
		},

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
				viewerId ? this.flags.get(ctx, viewerId, viewerStamp, ids).then(({ flags }) => flags) : null
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
	},

	async started(this: UsersThis) {
		this.passwords = new PasswordHasher({ threads: cfg.passwordHashThreads, cost: cfg.bcryptCost });
		const legacy = { $gte: LEGACY_KEY_PREFIX, $lt: String.fromCharCode(LEGACY_KEY_PREFIX.charCodeAt(0) + 1) };
		this.hasLegacyKeys = (await this.collections.users.count({ nameKey: legacy })) > 0;
	},

	async stopped(this: UsersThis) {
		await this.passwords?.close();
	}
};

export default UsersService;
