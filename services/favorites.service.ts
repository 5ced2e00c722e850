/**
 * favorites: likes (user, video). It owns every like-derived fact: a video's
 * favorite_count and is_favorite, a user's favorite_count (likes given) and
 * total_favorited (likes received). A like records the video's author, which never
 * changes, so likes received are counted from this service's own data.
 */
import type { Context, Service } from "moleculer";
import { CountsCache, ViewerFlags } from "../lib/counts-cache";
import { type FactsParams, distinctIds, factsParamsSchema, flagsParamsSchema } from "../lib/facts";
import type { AppMeta } from "../lib/meta";
import { METRIC } from "../lib/metrics";
import { actionType, wireId } from "../lib/params";
import { defineService } from "../lib/service";
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
	StoreVars<Collections> & { videoCounts: CountsCache<VideoCounts>; userCounts: CountsCache<UserCounts>; liked: ViewerFlags };

export interface ActionParams {
	video_id: number;
	/** 1 = like, 2 = unlike. */
	action_type: 1 | 2;
}
export interface ListParams {
	user_id: number;
}


const LIKE = 1;

const FavoritesService = defineService<FavoritesSettings, object, FavoritesThis>({
	name: "favorites",
	mixins: [
		StoreMixin<Collections>({
			likes: [
				{ fields: ["userId", "videoId"], unique: true },
				// The embedded store uses a compound index only for queries on all its fields.
				{ fields: ["userId"] },
				{ fields: ["videoId"] },
				{ fields: ["authorId"] }
			]
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
				const { authorId } = await ctx.call<{ authorId: number }, { id: number }>("videos.authorOf", { id: videoId });

				if (ctx.params.action_type === LIKE) {
					try {
						await this.collections.likes.insert({ _id: `${userId}:${videoId}`, userId, videoId, authorId, createdAt: Date.now() });
					} catch (err) {
						if (err instanceof DuplicateKeyError) return {};
						throw err;
					}
				} else if (!(await this.collections.likes.deleteOne({ userId, videoId }))) return {};

				await Promise.all([
					this.videoCounts.invalidate([videoId]),
					this.userCounts.invalidate(distinctIds([userId, authorId])),
					this.liked.invalidate(userId, [videoId])
				]);
				ctx.emit(ctx.params.action_type === LIKE ? "favorite.added" : "favorite.removed", { userId, videoId, authorId });
				this.broker.metrics.increment(METRIC.LIKES, { action: ctx.params.action_type === LIKE ? "like" : "unlike" });
				return {};
			}
		},

		/** The videos a user liked, most recent like first. Params: user_id. Returns { video_list }. */
		list: {
			auth: "optional",
			params: { user_id: wireId },
			async handler(this: FavoritesThis, ctx: Context<ListParams, AppMeta>) {
				const likes = await this.collections.likes.find(
					{ userId: ctx.params.user_id },
					{ sort: { createdAt: -1, _id: -1 }, limit: this.settings.maxListSize }
				);
				if (likes.length === 0) {
					await ctx.call("users.assertExist", { ids: [ctx.params.user_id] });
					return { video_list: [] };
				}
				const { videos } = await ctx.call<{ videos: Record<number, Video> }, FactsParams>("videos.getMany", {
					ids: likes.map(like => like.videoId),
					viewerId: ctx.meta.userId
				});
				return { video_list: likes.flatMap(like => videos[like.videoId] ?? []) };
			}
		},

		/** favorite_count of videos. Count provider of videos. */
		videoFacts: {
			visibility: "public",
			params: factsParamsSchema,
			async handler(this: FavoritesThis, ctx: Context<FactsParams>) {
				const counts = await this.videoCounts.get(ctx.params.ids);
				return Object.fromEntries(ctx.params.ids.map(id => [id, { favorite_count: counts.get(id)?.favorite_count ?? 0 }]));
			}
		},

		/** is_favorite of videos: has viewerId liked them. Flag provider of videos. */
		videoFlags: {
			visibility: "public",
			params: flagsParamsSchema,
			async handler(this: FavoritesThis, ctx: Context<Required<FactsParams>>) {
				const liked = await this.liked.get(ctx.params.viewerId, ctx.params.ids);
				return Object.fromEntries(ctx.params.ids.map(id => [id, { is_favorite: liked.has(id) }]));
			}
		},

		/** favorite_count (likes given) and total_favorited (likes received) of users. Facts provider of users. */
		userFacts: {
			visibility: "public",
			params: factsParamsSchema,
			async handler(this: FavoritesThis, ctx: Context<FactsParams>) {
				const counts = await this.userCounts.get(ctx.params.ids);
				return Object.fromEntries(ctx.params.ids.map(id => [id, counts.get(id) ?? { favorite_count: 0, total_favorited: 0 }]));
			}
		}
	},

	created(this: FavoritesThis) {
		this.liked = new ViewerFlags("favorites.liked", async (userId, videoIds) =>
			(await this.collections.likes.find({ userId, videoId: { $in: videoIds } })).map(like => like.videoId)
		);
		this.videoCounts = new CountsCache("favorites.videoCounts", async ids => {
			const counts = await this.collections.likes.countBy("videoId", ids);
			return new Map(ids.map(id => [id, { favorite_count: counts.get(id) ?? 0 }]));
		});
		this.userCounts = new CountsCache("favorites.userCounts", async ids => {
			const [given, received] = await Promise.all([
				this.collections.likes.countBy("userId", ids),
				this.collections.likes.countBy("authorId", ids)
			]);
			return new Map(ids.map(id => [id, { favorite_count: given.get(id) ?? 0, total_favorited: received.get(id) ?? 0 }]));
		});
	}
});

export default FavoritesService;
