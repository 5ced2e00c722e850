/**
 * relations: who follows whom. Owns the follows (one document per follower → followee,
 * unique per pair, so a repeated or concurrent follow counts once), the follow and
 * follower counts and the is_follow flag of every User (facts provider of users.getMany),
 * and the follow, follower and friend (mutual follow) lists.
 */
import type { Context, Service, ServiceSchema } from "moleculer";
import { config } from "../lib/config";
import { CountsCache, STAMP, ViewerFlags, invalidate, countsOf } from "../lib/counts-cache";
import { invalidParam } from "../lib/errors";
import { type FactsParams, factsParamsSchema, flagsParamsSchema } from "../lib/facts";
import { type Known, knownUsers } from "../lib/known";
import type { AppMeta } from "../lib/meta";
import { actionType, wireId } from "../lib/params";
import { READ, idempotentRead } from "../lib/resilience";
import { type Collection, DuplicateKeyError } from "../lib/store";
import type { FriendUser, User } from "../lib/wire";
import { StoreMixin, type StoreVars } from "../mixins/store.mixin";

export interface FollowDoc {
	/** "<followerId>:<followeeId>": the natural key, so a follow needs no id sequence. */
	_id: string;
	followerId: number;
	followeeId: number;
	createdAt: number;
}

interface UserCounts {
	follow_count: number;
	follower_count: number;
}

/** What messages.lastWith answers per peer that has a conversation with the user. */
export interface LastMessage {
	content: string;
	fromUserId: number;
	create_time: number;
}

interface RelationsSettings {
	/** Longest follow, follower or friend list (the newest follows / friendships); also users.getMany's batch limit. */
	listLimit: number;
}

interface RelationsMethods {
	toUsers(ctx: Context<unknown, AppMeta>, ids: number[]): Promise<User[]>;
}

type Collections = { follows: Collection<FollowDoc> };

type RelationsThis = Service<RelationsSettings> &
	RelationsMethods &
	StoreVars<Collections> & { userCounts: CountsCache<UserCounts>; following: ViewerFlags<"is_follow">; users: Known<object> };

export interface ActionParams {
	to_user_id: number;
	action_type: number;
}
export interface ListParams {
	user_id: number;
}
export interface FriendListParams {
	user_id?: number;
}

/** action_type of a follow (2 is an unfollow). */
const FOLLOW = 1;


const RelationsService: ServiceSchema<RelationsSettings, RelationsMethods, RelationsThis> = {
	name: "relations",
	mixins: [
		StoreMixin<Collections>({
			// The natural key `_id` ("<followerId>:<followeeId>") keeps a follow unique; these
			// serve the lists, the flags and the counts.
			follows: [{ fields: ["followeeId"] }, { fields: ["followerId"] }]
		})
	],

	settings: {
		listLimit: 1000
	},

	actions: {
		/** Follows (1) or unfollows (2) a user, idempotently. Params: to_user_id, action_type. Returns {}. */
		action: {
			auth: "required",
			params: { to_user_id: wireId, action_type: actionType("follow", "unfollow") },
			async handler(this: RelationsThis, ctx: Context<ActionParams, AppMeta>) {
				const followerId = ctx.meta.userId!;
				const { to_user_id: followeeId, action_type } = ctx.params;
				if (followeeId === followerId) throw invalidParam("you cannot follow or unfollow yourself: to_user_id is your own id", "to_user_id");
				await this.users.get(ctx, followeeId);

				const _id = `${followerId}:${followeeId}`;
				let changed: boolean;
				if (action_type === FOLLOW) {
					try {
						await this.collections.follows.insert({ _id, followerId, followeeId, createdAt: Date.now() });
						changed = true;
					} catch (err) {
						if (!(err instanceof DuplicateKeyError)) throw err;
						changed = false;
					}
				} else {
					changed = await this.collections.follows.deleteOne({ _id });
				}
				if (changed) {
					await invalidate(
						this.broker,
						[this.userCounts.key(followerId), this.userCounts.key(followeeId), this.following.key(followerId, followeeId)],
						// A Video shows its author's counts: the videos stamp too.
						[STAMP.users, STAMP.videos, STAMP.viewer(followerId)]
					);
					ctx.emit(action_type === FOLLOW ? "relation.followed" : "relation.unfollowed", { followerId, followeeId });
				}
				return {};
			}
		},

		/** The users user_id follows, newest follow first. Params: user_id. Returns { user_list }. */
		followList: {
			...idempotentRead(),
			auth: "optional",
			params: { user_id: wireId },
			async handler(this: RelationsThis, ctx: Context<ListParams, AppMeta>) {
				const docs = await this.collections.follows.find(
					{ followerId: ctx.params.user_id },
					{ sort: { createdAt: -1, _id: -1 }, limit: this.settings.listLimit }
				);
				if (docs.length === 0) await ctx.call("users.assertExist", { ids: [ctx.params.user_id] }, { timeout: READ.leaf() });
				return { user_list: await this.toUsers(ctx, docs.map(doc => doc.followeeId)) };
			}
		},

		/** The users following user_id, newest follow first. Params: user_id. Returns { user_list }. */
		followerList: {
			...idempotentRead(),
			auth: "optional",
			params: { user_id: wireId },
			async handler(this: RelationsThis, ctx: Context<ListParams, AppMeta>) {
				const docs = await this.collections.follows.find(
					{ followeeId: ctx.params.user_id },
					{ sort: { createdAt: -1, _id: -1 }, limit: this.settings.listLimit }
				);
				if (docs.length === 0) await ctx.call("users.assertExist", { ids: [ctx.params.user_id] }, { timeout: READ.leaf() });
				return { user_list: await this.toUsers(ctx, docs.map(doc => doc.followerId)) };
			}
		},

		/**
		 * Mutual follows of user_id (default: the token's user) as FriendUsers, latest
		 * conversation first. The message preview is private: it is filled only on one's
		 * own list. Params: user_id. Returns { user_list }.
		 */
		friendList: {
			...idempotentRead(),
			auth: "required",
			params: { user_id: { ...wireId, optional: true } },
			async handler(this: RelationsThis, ctx: Context<FriendListParams, AppMeta>) {
				const viewerId = ctx.meta.userId!;
				const userId = ctx.params.user_id ?? viewerId;
				const following = await this.collections.follows.find({ followerId: userId });
				const followBack =
					following.length === 0
						? []
						: await this.collections.follows.find({ followeeId: userId, followerId: { $in: following.map(doc => doc.followeeId) } });
				if (followBack.length === 0) {
					if (userId !== viewerId) await ctx.call("users.assertExist", { ids: [userId] }, { timeout: READ.leaf() });
					return { user_list: [] };
				}

				const followedAt = new Map(following.map(doc => [doc.followeeId, doc.createdAt]));
				const friendSince = new Map(followBack.map(doc => [doc.followerId, Math.max(doc.createdAt, followedAt.get(doc.followerId)!)]));
				const friendIds = [...friendSince.keys()]
					.sort((a, b) => friendSince.get(b)! - friendSince.get(a)! || b - a)
					.slice(0, this.settings.listLimit);
				const [{ users }, lastMessages] = await Promise.all([
					ctx.call<{ users: Record<number, User> }, { ids: number[]; viewerId: number }>("users.getMany", { ids: friendIds, viewerId }, { timeout: READ.inner() }),
					userId === viewerId
						? ctx.call<Record<number, LastMessage>, { userId: number; peerIds: number[] }>("messages.lastWith", { userId, peerIds: friendIds })
						: ({} as Record<number, LastMessage>)
				]);
				const lastTime = (id: number) => lastMessages[id]?.create_time ?? 0;
				const user_list: FriendUser[] = friendIds
					.filter(id => users[id])
					.sort((a, b) => lastTime(b) - lastTime(a) || friendSince.get(b)! - friendSince.get(a)! || b - a)
					.map(id => {
						const last = lastMessages[id];
						return { ...users[id], message: last?.content ?? "", msgType: last?.fromUserId === userId ? 1 : 0 };
					});
				return { user_list };
			}
		},

		/** follow_count and follower_count of users. Count provider of users.getMany. */
		userFacts: {
			visibility: "public",
			params: factsParamsSchema,
			handler(this: RelationsThis, ctx: Context<FactsParams>) {
				return this.userCounts.facts(ctx.params.ids);
			}
		},

		/** is_follow of users: does viewerId follow them. Flag provider of users.getMany and of videos' authors. */
		userFlags: {
			visibility: "public",
			params: flagsParamsSchema,
			handler(this: RelationsThis, ctx: Context<Required<FactsParams>>) {
				return this.following.facts(ctx.params.viewerId, ctx.params.ids);
			}
		}
	},

	methods: {
		/** Wire Users in the order of ids (unknown ids dropped), is_follow relative to the requester. */
		async toUsers(this: RelationsThis, ctx: Context<unknown, AppMeta>, ids: number[]): Promise<User[]> {
			if (ids.length === 0) return [];
			const { users } = await ctx.call<{ users: Record<number, User> }, { ids: number[]; viewerId?: number }>(
				"users.getMany",
				{ ids, viewerId: ctx.meta.userId },
				{ timeout: READ.inner() }
			);
			return ids.flatMap(id => (users[id] ? [users[id]] : []));
		},
	},

	created(this: RelationsThis) {
		const cacher = this.broker.cacher!;
		const ttl = config().countsCacheTtl;
		this.users = knownUsers();
		this.following = new ViewerFlags(
			cacher,
			"relations.userFlags",
			"is_follow",
			async (followerId, followeeIds) =>
				(await this.collections.follows.find({ followerId, followeeId: { $in: followeeIds } })).map(follow => follow.followeeId),
			ttl
		);
		this.userCounts = countsOf(cacher, "relations.userFacts", () => this.collections.follows, { follow_count: "followerId", follower_count: "followeeId" }, ttl);
	}
};

export default RelationsService;
