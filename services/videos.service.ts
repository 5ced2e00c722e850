/**
 * videos: video metadata, status (pending → ready | failed) and object keys; the feed
 * and the publish lists. Every Video the API returns is assembled here (`assemble`: the
 * authors from users.getMany, the counts from the fact providers, one batched call each)
 * and shown through the read model (lib/read-model.ts), which keeps the feed head and each
 * viewer's flags while their change stamps hold, so a feed request usually costs one stamp
 * lookup and no call.
 */
import type { Readable } from "node:stream";
import type { Context, Service } from "moleculer";
import { config } from "../lib/config";
import { CountsCache, STAMP, invalidate } from "../lib/counts-cache";
import { invalidParam, notFound, tooLarge } from "../lib/errors";
import { type FactsParams, distinctIds, factsParamsSchema, gatherFacts, idsSchema } from "../lib/facts";
import type { AppMeta } from "../lib/meta";
import { METRIC, countOutcomes } from "../lib/metrics";
import { wireId } from "../lib/params";
import { READ, idempotentRead, retriedRead } from "../lib/resilience";
import { defineService } from "../lib/service";
import { VideosReadModel } from "../lib/read-model";
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
	/** Actions answering `{ ids }` with counts of each Video (favorite_count, comment_count). */
	factProviders: string[];
	/** Actions answering `{ ids, viewerId }` with the viewer's flags about each Video (is_favorite). */
	flagProviders: string[];
	/** The same about each Video's author (is_follow), asked of the flag's owner directly. */
	authorFlagProviders: string[];
	/** A pending video older than this with no transcode job gets one (crash between upload and enqueue). */
	orphanAfterMs: number;
}

interface VideosMethods {
	assemble(ctx: Context, docs: VideoDoc[]): Promise<{ videos: (Video | undefined)[]; stale: boolean }>;
	enqueueOrphans(): Promise<void>;
}

type Collections = { videos: Collection<VideoDoc>; clocks: Collection<ClockDoc> };

type VideosThis = Service<VideosSettings> &
	VideosMethods &
	StoreVars<Collections> &
	StorageVars & {
		workCounts: CountsCache<{ work_count: number }>;
		orphanTimer?: NodeJS.Timeout;
		readModel: VideosReadModel<VideoDoc>;
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

/**
 * The feed head: how many pages of the newest videos a replica keeps, and for how long at
 * most. A publish or any count change renews a stamp and ends it at once; the lifetime only
 * bounds how long a lost renewal (the cache server down) could go unseen.
 */
const FEED_HEAD_PAGES = 4;
const FEED_HEAD_TTL_MS = 30_000;

/** Above this, latest_time is in milliseconds; below, in seconds (API.md, ambiguities). */
const MS_THRESHOLD = 1e12;

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
		flagProviders: ["favorites.videoFlags"],
		authorFlagProviders: ["relations.userFlags"],
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
			...idempotentRead(),
			auth: "optional",
			params: { latest_time: { type: "number", integer: true, min: 0, convert: true, optional: true } },
			handler(this: VideosThis, ctx: Context<FeedParams, AppMeta>) {
				const latest = ctx.params.latest_time || Date.now();
				return this.readModel.feed(ctx, latest > MS_THRESHOLD ? latest : latest * 1000, ctx.meta.userId);
			}
		},

		/** Every ready video of a user, newest first. Params: user_id. Returns { video_list }. */
		listByAuthor: {
			...idempotentRead(),
			auth: "optional",
			params: { user_id: wireId },
			async handler(this: VideosThis, ctx: Context<ListByAuthorParams, AppMeta>) {
				const docs = await this.collections.videos.find(
					{ authorId: ctx.params.user_id, status: "ready" },
					{ sort: { publishedAt: -1, _id: -1 } }
				);
				// An empty list is only an answer for an existing user.
				if (docs.length === 0) await ctx.call("users.assertExist", { ids: [ctx.params.user_id] }, { timeout: READ.leaf() });
				return { video_list: await this.readModel.toVideos(ctx, docs, ctx.meta.userId) };
			}
		},

		/** Ready videos by id as wire Videos. Params: ids, viewerId. Returns { videos: { [id]: Video } }. */
		getMany: {
			...retriedRead(),
			visibility: "public",
			params: { ids: idsSchema, viewerId: { type: "number", integer: true, positive: true, optional: true } },
			async handler(this: VideosThis, ctx: Context<IdsParams>) {
				const docs = (await this.collections.videos.findByIds(distinctIds(ctx.params.ids))).filter(doc => doc.status === "ready");
				const videos: Record<number, Video> = {};
				for (const video of await this.readModel.toVideos(ctx, docs, ctx.params.viewerId)) videos[video.id] = video;
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
			handler(this: VideosThis, ctx: Context<FactsParams>) {
				return this.workCounts.facts(ctx.params.ids);
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
				// The new video and the author's work_count: every replica's feed head ends at once.
				await invalidate(this.broker, [this.workCounts.key(doc.authorId)], [STAMP.videos, STAMP.users]);
				ctx.emit("video.published", { videoId: doc._id, authorId: doc.authorId });
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

	methods: {
		/** The docs as Videos for no viewer in particular (flags false), index by index; undefined where the author is gone. */
		async assemble(this: VideosThis, ctx: Context, docs: VideoDoc[]): Promise<{ videos: (Video | undefined)[]; stale: boolean }> {
			if (docs.length === 0) return { videos: [], stale: false };
			const [{ users, stale: usersStale }, { facts, stale }, urls] = await Promise.all([
				ctx.call<{ users: Record<number, User>; stale?: boolean }, IdsParams>("users.getMany", { ids: distinctIds(docs.map(doc => doc.authorId)) }, { timeout: READ.inner() }),
				gatherFacts<Video>(ctx, this.settings.factProviders, { ids: docs.map(doc => doc._id) }),
				Promise.all(docs.map(doc => Promise.all([this.storage.url(doc.videoKey), this.storage.url(doc.coverKey!)])))
			]);
			const videos = docs.map((doc, i) => {
				const author = users[doc.authorId];
				if (!author) return undefined;
				return {
					id: doc._id,
					author,
					play_url: urls[i][0],
					cover_url: urls[i][1],
					favorite_count: 0,
					comment_count: 0,
					is_favorite: false,
					title: doc.title,
					...facts[doc._id]
				};
			});
			return { videos, stale: stale || usersStale === true };
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
		const collection = () => this.collections.videos;
		const newestFirst = { sort: { publishedAt: -1 as const, _id: -1 as const } };
		this.readModel = new VideosReadModel<VideoDoc>(
			this.broker.cacher!,
			{
				newest: limit => collection().find({ status: "ready" }, { ...newestFirst, limit }),
				before: (time, limit) => collection().find({ status: "ready", publishedAt: { $lt: time } }, { ...newestFirst, limit }),
				assemble: (ctx, docs) => this.assemble(ctx, docs)
			},
			{
				pageSize: cfg.limits.feedPageSize,
				headPages: FEED_HEAD_PAGES,
				headTtlMs: FEED_HEAD_TTL_MS,
				videoFlagProviders: this.settings.flagProviders,
				authorFlagProviders: this.settings.authorFlagProviders
			}
		);
		this.workCounts = new CountsCache(
			this.broker.cacher!,
			"videos.userFacts",
			async ids => {
				const counts = await this.collections.videos.countBy("authorId", ids, { status: "ready" });
				return new Map(ids.map(id => [id, { work_count: counts.get(id) ?? 0 }]));
			},
			{ work_count: 0 },
			cfg.countsCacheTtl
		);
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
