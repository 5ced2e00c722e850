/**
 * videos: video metadata, status (pending → ready | failed) and object keys; the feed
 * and the publish lists. Every Video the API returns is built by `toVideos`, the one
 * place that joins authors (users.getMany) and facts (likes, comments) over a page.
 */
import type { Readable } from "node:stream";
import type { Context, Service } from "moleculer";
import { config } from "../lib/config";
import { CountsCache } from "../lib/counts-cache";
import { invalidParam, notFound, tooLarge } from "../lib/errors";
import { type FactsParams, distinctIds, factsParamsSchema, gatherFacts } from "../lib/facts";
import type { AppMeta } from "../lib/meta";
import { METRIC, countOutcomes } from "../lib/metrics";
import { wireId } from "../lib/params";
import { defineService } from "../lib/service";
import { newKey } from "../lib/storage";
import type { Collection } from "../lib/store";
import { CLOCKS_COLLECTION, type ClockDoc, tick } from "../lib/store/clock";
import type { User, Video } from "../lib/wire";
import { StorageMixin, type StorageVars } from "../mixins/storage.mixin";
import { StoreMixin, type StoreVars } from "../mixins/store.mixin";

export type VideoStatus = "pending" | "ready" | "failed";

export interface VideoDoc {
	_id: number;
	authorId: number;
	title: string;
	status: VideoStatus;
	videoKey: string;
	coverKey: string | null;
	size: number;
	createdAt: number;
	/** When it became ready: unique per video (a store clock), the feed's order. */
	publishedAt?: number;
	failReason?: string;
}

interface VideosSettings {
	/** Actions answering `{ ids, viewerId }` with part of each Video (counts, is_favorite). */
	factProviders: string[];
	/** A pending video older than this with no transcode job gets one (crash between upload and enqueue). */
	orphanAfterMs: number;
}

interface VideosMethods {
	toVideos(ctx: Context, docs: VideoDoc[], viewerId?: number): Promise<Video[]>;
	feedPage(before: number): Promise<VideoDoc[]>;
	enqueueOrphans(): Promise<void>;
}

type Collections = { videos: Collection<VideoDoc>; clocks: Collection<ClockDoc> };

type VideosThis = Service<VideosSettings> &
	VideosMethods &
	StoreVars<Collections> &
	StorageVars & {
		workCounts: CountsCache<{ work_count: number }>;
		orphanTimer?: NodeJS.Timeout;
		/** The newest ready videos, which nearly every feed request pages through. */
		feedHead: { docs: VideoDoc[]; complete: boolean; expires: number } | null;
	};

export interface PublishParams {
	title: string;
}
export interface FeedParams {
	latest_time?: number;
}
export interface ListByAuthorParams {
	user_id: number;
}
export interface IdsParams {
	ids: number[];
	viewerId?: number;
}
export interface MarkReadyParams {
	id: number;
	coverKey: string;
}
export interface MarkFailedParams {
	id: number;
	reason: string;
}

/** The feed head: how many pages of the newest videos a replica keeps, and for how long at most. */
const FEED_HEAD_PAGES = 4;
const FEED_HEAD_TTL_MS = 2000;

/** Above this, latest_time is in milliseconds; below, in seconds (API.md, ambiguities). */
const MS_THRESHOLD = 1e12;

const idsSchema = { type: "array", items: { type: "number", integer: true, positive: true }, max: 1000 } as const;

const cfg = config();

const VideosService = defineService<VideosSettings, VideosMethods, VideosThis>({
	name: "videos",
	mixins: [
		StoreMixin<Collections>({
			videos: [{ fields: ["authorId"] }, { fields: ["publishedAt"] }, { fields: ["status"] }],
			[CLOCKS_COLLECTION]: []
		}),
		StorageMixin
	],

	settings: {
		factProviders: ["favorites.videoFacts", "comments.videoFacts"],
		orphanAfterMs: 60 * 1000
	},

	actions: {
		/** Stores the streamed file as a pending video and queues its transcode. Params: title; ctx.stream. Returns { video_id }. */
		publish: {
			auth: "required",
			hooks: countOutcomes(METRIC.UPLOADS),
			params: {
				title: {
					type: "string",
					trim: true,
					min: 1,
					max: cfg.limits.titleChars,
					messages: { required: "The 'title' field is required: give the video a title." }
				}
			},
			async handler(this: VideosThis, ctx: Context<PublishParams, AppMeta>) {
				const stream = ctx.stream as Readable | null;
				if (!stream) throw invalidParam("the video file is missing: send it as the 'data' part", "data");
				const videoKey = newKey("videos", "mp4");
				let size: number;
				try {
					({ size } = await this.storage.put(videoKey, stream, { contentType: "video/mp4", maxBytes: config().limits.uploadBytes }));
				} catch (err) {
					if ((err as Error).name === "ObjectTooLargeError")
						throw tooLarge(`the video is larger than ${config().limits.uploadBytes} bytes`);
					throw err;
				}
				if (size === 0) {
					await this.storage.delete(videoKey);
					throw invalidParam("the video file is empty", "data");
				}
				const doc: VideoDoc = {
					_id: await this.store.nextId("videos"),
					authorId: ctx.meta.userId!,
					title: ctx.params.title,
					status: "pending",
					videoKey,
					coverKey: null,
					size,
					createdAt: Date.now()
				};
				await this.collections.videos.insert(doc);
				try {
					await ctx.call("transcoder.enqueue", { videoId: doc._id, videoKey });
				} catch (err) {
					await this.collections.videos.deleteOne({ _id: doc._id });
					await this.storage.delete(videoKey);
					throw err;
				}
				ctx.emit("video.uploaded", { videoId: doc._id, authorId: doc.authorId });
				return { video_id: doc._id };
			}
		},

		/** The feed: ready videos published before latest_time (ms or s; default now), newest first. Returns { video_list, next_time }. */
		feed: {
			auth: "optional",
			params: { latest_time: { type: "number", integer: true, min: 0, convert: true, optional: true } },
			async handler(this: VideosThis, ctx: Context<FeedParams, AppMeta>) {
				const latest = ctx.params.latest_time || Date.now();
				const before = latest > MS_THRESHOLD ? latest : latest * 1000;
				const docs = await this.feedPage(before);
				const video_list = await this.toVideos(ctx, docs, ctx.meta.userId);
				const oldest = docs.at(-1);
				return { video_list, next_time: oldest ? oldest.publishedAt! : Date.now() };
			}
		},

		/** Every ready video of a user, newest first. Params: user_id. Returns { video_list }. */
		listByAuthor: {
			auth: "optional",
			params: { user_id: wireId },
			async handler(this: VideosThis, ctx: Context<ListByAuthorParams, AppMeta>) {
				const docs = await this.collections.videos.find(
					{ authorId: ctx.params.user_id, status: "ready" },
					{ sort: { publishedAt: -1, _id: -1 } }
				);
				// An empty list is only an answer for an existing user.
				if (docs.length === 0) await ctx.call("users.assertExist", { ids: [ctx.params.user_id] });
				return { video_list: await this.toVideos(ctx, docs, ctx.meta.userId) };
			}
		},

		/** Ready videos by id as wire Videos. Params: ids, viewerId. Returns { videos: { [id]: Video } }. */
		getMany: {
			visibility: "public",
			params: { ids: idsSchema, viewerId: { type: "number", integer: true, positive: true, optional: true } },
			async handler(this: VideosThis, ctx: Context<IdsParams>) {
				const docs = (await this.collections.videos.findByIds(distinctIds(ctx.params.ids))).filter(doc => doc.status === "ready");
				const videos: Record<number, Video> = {};
				for (const video of await this.toVideos(ctx, docs, ctx.params.viewerId)) videos[video.id] = video;
				return { videos };
			}
		},

		/** The author of a ready video; NOT_FOUND ("video N does not exist") otherwise. Params: id. Returns { authorId }. */
		authorOf: {
			visibility: "public",
			params: { id: wireId },
			async handler(this: VideosThis, ctx: Context<{ id: number }>) {
				const doc = await this.collections.videos.findOne({ _id: ctx.params.id, status: "ready" });
				if (!doc) throw notFound(`video ${ctx.params.id} does not exist`);
				return { authorId: doc.authorId };
			}
		},

		/** work_count of users: their ready videos. Facts provider of users.getMany. */
		userFacts: {
			visibility: "public",
			params: factsParamsSchema,
			async handler(this: VideosThis, ctx: Context<FactsParams>) {
				const counts = await this.workCounts.get(ctx.params.ids);
				return Object.fromEntries(ctx.params.ids.map(id => [id, counts.get(id) ?? { work_count: 0 }]));
			}
		},

		/** Called by the transcoder: the video is playable (and its object streamable). Params: id, coverKey. Returns { updated }. */
		markReady: {
			visibility: "public",
			params: {
				id: { type: "number", integer: true, positive: true },
				coverKey: { type: "string", min: 1 }
			},
			async handler(this: VideosThis, ctx: Context<MarkReadyParams>) {
				const doc = await this.collections.videos.findOne({ _id: ctx.params.id, status: "pending" });
				if (!doc) return { updated: false };
				const publishedAt = await tick(this.collections.clocks, "feed");
				const updated = await this.collections.videos.updateOne(
					{ _id: doc._id, status: "pending" },
					{ $set: { status: "ready", coverKey: ctx.params.coverKey, publishedAt } }
				);
				if (!updated) return { updated: false };
				await this.workCounts.invalidate([doc.authorId]);
				// Broadcast: every videos replica drops its feed head.
				ctx.broadcast("video.published", { videoId: doc._id, authorId: doc.authorId });
				return { updated: true };
			}
		},

		/** Called by the transcoder: the upload is not a usable video; its objects are removed. Params: id, reason. Returns { updated }. */
		markFailed: {
			visibility: "public",
			params: { id: { type: "number", integer: true, positive: true }, reason: { type: "string", max: 1000 } },
			async handler(this: VideosThis, ctx: Context<MarkFailedParams>) {
				const doc = await this.collections.videos.findOne({ _id: ctx.params.id, status: "pending" });
				if (!doc) return { updated: false };
				const updated = await this.collections.videos.updateOne(
					{ _id: doc._id, status: "pending" },
					{ $set: { status: "failed", failReason: ctx.params.reason } }
				);
				if (updated) await this.storage.delete(doc.videoKey);
				return { updated };
			}
		},

		/** A video's state, for developers and tests. Params: id. Returns the record without keys. */
		status: {
			visibility: "public",
			params: { id: wireId },
			async handler(this: VideosThis, ctx: Context<{ id: number }>) {
				const doc = await this.collections.videos.findOne({ _id: ctx.params.id });
				if (!doc) throw notFound(`video ${ctx.params.id} does not exist`);
				return { id: doc._id, authorId: doc.authorId, title: doc.title, status: doc.status, failReason: doc.failReason ?? null };
			}
		}
	},

	events: {
		"video.published"(this: VideosThis) {
			this.feedHead = null;
		}
	},

	methods: {
		/**
		 * The ready videos published before `before`, newest first, one page. Served from the
		 * feed head (the newest FEED_HEAD_PAGES pages, kept FEED_HEAD_TTL_MS and dropped on every
		 * publish) when it covers the page; older pages are a query.
		 */
		async feedPage(this: VideosThis, before: number): Promise<VideoDoc[]> {
			const size = config().limits.feedPageSize;
			const query = (limit: number, until = before) =>
				this.collections.videos.find({ status: "ready", publishedAt: { $lt: until } }, { sort: { publishedAt: -1, _id: -1 }, limit });
			let head = this.feedHead;
			if (!head || head.expires < Date.now()) {
				const docs = await query(size * FEED_HEAD_PAGES, Number.MAX_SAFE_INTEGER);
				head = this.feedHead = { docs, complete: docs.length < size * FEED_HEAD_PAGES, expires: Date.now() + FEED_HEAD_TTL_MS };
			}
			const start = head.docs.findIndex(doc => doc.publishedAt! < before);
			const page = start < 0 ? [] : head.docs.slice(start, start + size);
			return page.length === size || head.complete ? page : query(size);
		},

		async toVideos(this: VideosThis, ctx: Context, docs: VideoDoc[], viewerId?: number): Promise<Video[]> {
			if (docs.length === 0) return [];
			const [{ users }, facts, urls] = await Promise.all([
				ctx.call<{ users: Record<number, User> }, IdsParams>("users.getMany", { ids: distinctIds(docs.map(doc => doc.authorId)), viewerId }),
				gatherFacts<Video>(ctx, this.settings.factProviders, { ids: docs.map(doc => doc._id), viewerId }),
				Promise.all(docs.map(doc => Promise.all([this.storage.url(doc.videoKey), this.storage.url(doc.coverKey!)])))
			]);
			return docs.flatMap((doc, i) => {
				const author = users[doc.authorId];
				if (!author) return [];
				return [
					{
						id: doc._id,
						author,
						play_url: urls[i][0],
						cover_url: urls[i][1],
						favorite_count: 0,
						comment_count: 0,
						is_favorite: false,
						title: doc.title,
						...facts[doc._id]
					}
				];
			});
		},

		async enqueueOrphans(this: VideosThis) {
			const orphans = await this.collections.videos.find(
				{ status: "pending", createdAt: { $lt: Date.now() - this.settings.orphanAfterMs } },
				{ limit: 100 }
			);
			for (const doc of orphans)
				await this.broker.call("transcoder.enqueue", { videoId: doc._id, videoKey: doc.videoKey }).catch(err => {
					this.logger.warn(`could not queue orphan video ${doc._id}:`, (err as Error).message);
				});
		}
	},

	created(this: VideosThis) {
		this.feedHead = null;
		this.workCounts = new CountsCache("videos.workCount", async ids => {
			const counts = await this.collections.videos.countBy("authorId", ids, { status: "ready" });
			return new Map(ids.map(id => [id, { work_count: counts.get(id) ?? 0 }]));
		});
	},

	started(this: VideosThis) {
		this.orphanTimer = setInterval(() => void this.enqueueOrphans(), this.settings.orphanAfterMs);
		this.orphanTimer.unref();
	},

	stopped(this: VideosThis) {
		clearInterval(this.orphanTimer);
	}
});

export default VideosService;
