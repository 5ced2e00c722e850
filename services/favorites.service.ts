/**
 * favorites: likes (user, video). It owns every like-derived fact: a video's
 * favorite_count and is_favorite, a user's favorite_count (likes given) and
 * total_favorited (likes received). A like records the video's author, which never
 * changes, so likes received are counted from this service's own data.
 */
import type { Context, Service, ServiceSchema } from "moleculer";
import { config } from "../lib/config";
import { CountsCache, STAMP, ViewerFlags, invalidate, countsOf } from "../lib/counts-cache";
import { type FactsParams, factsParamsSchema, flagsParamsSchema } from "../lib/facts";
import { type Known, knownAuthors } from "../lib/known";
import type { AppMeta } from "../lib/meta";
import { METRIC } from "../lib/metrics";
import { actionType, wireId } from "../lib/params";
import { READ, idempotentRead } from "../lib/resilience";
import { type Collection, DuplicateKeyError } from "../lib/store";
import type { User, Video } from "../lib/wire";
import { StoreMixin, type StoreVars } from "../mixins/store.mixin";

export interface LikeDoc {
	/** "<userId>:<videoId>": the natural key, so a like needs no id sequence. */
	_id: string;
	userId: number;
	videoId: number;
	/** The liked video's author (immutable), so total_favorited is a count over likes. */
	authorId: number;
	createdAt: number;
}

type VideoCounts = Pick<Video, "favorite_count">;
type UserCounts = Pick<User, "favorite_count" | "total_favorited">;

interface FavoritesSettings {
	/** The most recent likes `list` returns (one videos.getMany call takes at most 1000 ids). */
	maxListSize: number;
}

type Collections = { likes: Collection<LikeDoc> };

type FavoritesThis = Service<FavoritesSettings> &
	StoreVars<Collections> & {
		videoCounts: CountsCache<VideoCounts>;
		userCounts: CountsCache<UserCounts>;
		liked: ViewerFlags<"is_favorite">;
		authors: Known<{ authorId: number }>;
	};

export interface ActionParams {
	video_id: number;
	/** 1 = like, 2 = unlike. */
	action_type: 1 | 2;
}
export interface ListParams {
	user_id: number;
}


const LIKE = 1;

const FavoritesService: ServiceSchema<FavoritesSettings, object, FavoritesThis> = {
	name: "favorites",
	mixins: [
		StoreMixin<Collections>({
			// The natural key `_id` ("<userId>:<videoId>") keeps a like unique; these serve the
			// lists (userId), the flags (userId, then videoId) and the counts.
			likes: [{ fields: ["userId"] }, { fields: ["videoId"] }, { fields: ["authorId"] }]
		})
	],

	settings: {
		maxListSize: 1000
	},

	actions: {
		/** Likes (1) or unlikes (2) a video; both are idempotent. Params: video_id, action_type. Returns {}. */
		action: {
			auth: "required",
			params: {
				video_id: wireId,
				action_type: actionType("like", "unlike")
			},
			async handler(this: FavoritesThis, ctx: Context<ActionParams, AppMeta>) {
				const userId = ctx.meta.userId!;
				const videoId = ctx.params.video_id;
				const { authorId } = await this.authors.get(ctx, videoId);
				const _id = `${userId}:${videoId}`;
				const like = ctx.params.action_type === LIKE;
				if (like) {
					try {
						await this.collections.likes.insert({ _id, userId, videoId, authorId, createdAt: Date.now() });
					} catch (err) {
						if (err instanceof DuplicateKeyError) return {};
						throw err;
					}
				} else if (!(await this.collections.likes.deleteOne({ _id }))) return {};

				await invalidate(
					this.broker,
					[this.videoCounts.key(videoId), this.userCounts.key(userId), this.userCounts.key(authorId), this.liked.key(userId, videoId)],
					[STAMP.videos, STAMP.users, STAMP.viewer(userId)]
				);
				ctx.emit(like ? "favorite.added" : "favorite.removed", { userId, videoId, authorId });
				this.broker.metrics.increment(METRIC.LIKES, { action: like ? "like" : "unlike" });
				return {};
			}
		},

		/** The videos a user liked, most recent like first. Params: user_id. Returns { video_list }. */
		list: {
			...idempotentRead(),
			auth: "optional",
			params: { user_id: wireId },
			async handler(this: FavoritesThis, ctx: Context<ListParams, AppMeta>) {
				const likes = await this.collections.likes.find(
					{ userId: ctx.params.user_id },
					{ sort: { createdAt: -1, _id: -1 }, limit: this.settings.maxListSize }
				);
				if (likes.length === 0) {
					await ctx.call("users.assertExist", { ids: [ctx.params.user_id] }, { timeout: READ.leaf() });
					return { video_list: [] };
				}
				const { videos } = await ctx.call<{ videos: Record<number, Video> }, FactsParams>(
					"videos.getMany",
					{ ids: likes.map(like => like.videoId), viewerId: ctx.meta.userId },
					{ timeout: READ.inner() }
				);
				return { video_list: likes.flatMap(like => videos[like.videoId] ?? []) };
			}
		},

		/** favorite_count of videos. Count provider of videos. */
		videoFacts: {
			visibility: "public",
			params: factsParamsSchema,
			handler(this: FavoritesThis, ctx: Context<FactsParams>) {
				return this.videoCounts.facts(ctx.params.ids);
			}
		},

		/** is_favorite of videos: has viewerId liked them. Flag provider of videos. */
		videoFlags: {
			visibility: "public",
			params: flagsParamsSchema,
			handler(this: FavoritesThis, ctx: Context<Required<FactsParams>>) {
				return this.liked.facts(ctx.params.viewerId, ctx.params.ids);
			}
		},

		/** favorite_count (likes given) and total_favorited (likes received) of users. Facts provider of users. */
		userFacts: {
			visibility: "public",
			params: factsParamsSchema,
			handler(this: FavoritesThis, ctx: Context<FactsParams>) {
				return this.userCounts.facts(ctx.params.ids);
			}
		}
	},

	created(this: FavoritesThis) {
		const cacher = this.broker.cacher!;
		const ttl = config().countsCacheTtl;
		this.authors = knownAuthors();
		this.liked = new ViewerFlags(
			cacher,
			"favorites.videoFlags",
			"is_favorite",
			async (userId, videoIds) => (await this.collections.likes.find({ userId, videoId: { $in: videoIds } })).map(like => like.videoId),
			ttl
		);
		this.videoCounts = countsOf(cacher, "favorites.videoFacts", () => this.collections.likes, { favorite_count: "videoId" }, ttl);
		this.userCounts = countsOf(cacher, "favorites.userFacts", () => this.collections.likes, { favorite_count: "userId", total_favorited: "authorId" }, ttl);
	}
};

export default FavoritesService;
