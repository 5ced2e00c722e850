/**
 * videos: video metadata, status (pending → ready | failed) and object keys; the feed
 * and the publish lists. Every Video the API returns is assembled here (`assemble`: the
 * authors from users.getMany, the counts from the fact providers, one batched call each)
 * and shown through the read model (lib/read-model.ts), which keeps the feed head and each
 * viewer's flags while their change stamps hold, so a feed request usually costs one stamp
 * lookup and no call.
 */
import type { Readable } from "node:stream";
import type { Context, Service, ServiceSchema } from "moleculer";
import { config } from "../lib/config";
import { CountsCache, STAMP, invalidate, countsOf } from "../lib/counts-cache";
import { forbidden, invalidParam, notFound, tooLarge, unavailable } from "../lib/errors";
import { type FactsParams, distinctIds, factsParamsSchema, gatherFacts, idsSchema } from "../lib/facts";
import type { AppMeta } from "../lib/meta";
import { METRIC, countOutcomes } from "../lib/metrics";
import { optionalWireTime, textParam, wireId } from "../lib/params";
import { READ, idempotentRead, retriedRead } from "../lib/resilience";
import { VideosReadModel, feedBefore } from "../lib/read-model";
import { newKey } from "../lib/storage";
import type { Collection } from "../lib/store";
import { CLOCKS_COLLECTION, type ClockDoc, tick } from "../lib/store/clock";
import type { User, Video } from "../lib/wire";
import { StorageMixin, type StorageVars } from "../mixins/storage.mixin";
import { StoreMixin, type StoreVars } from "../mixins/store.mixin";
import type { EnqueueAnswer, EnqueueParams } from "./transcoder.service";

/** uploading (its file being stored) → pending (stored, being checked) → ready | failed. */
export type VideoStatus = "uploading" | "pending" | "ready" | "failed";

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
	/** Ready with its original file while the re-encoded MP4 is made. */
	normalising?: boolean;
}

interface VideosSettings {
	/** Actions answering `{ ids }` with counts of each Video (favorite_count, comment_count). */
	factProviders: string[];
	/** Actions answering `{ ids, viewerId }` with the viewer's flags about each Video (is_favorite). */
	flagProviders: string[];
	/** The same about each Video's author (is_follow), asked of the flag's owner directly. */
	authorFlagProviders: string[];
	/** How often orphans are looked for, and the age of a pending video that gets its transcode job again (crash between upload and enqueue). */
	orphanAfterMs: number;
}

interface VideosMethods {
	assemble(ctx: Context, docs: VideoDoc[]): Promise<{ videos: (Video | undefined)[]; stale: boolean }>;
	enqueueOrphans(): Promise<void>;
	forget(doc: VideoDoc): Promise<void>;
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
	videoKey: string;
	coverKey: string;
	/** The original file while the re-encode runs: applies only to a pending video. */
	interim?: boolean;
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

/** The longest publish list: one users.getMany / facts batch (1000 ids), like every other list. */
const MAX_LIST_SIZE = 1000;

const cfg = config();

const VideosService: ServiceSchema<VideosSettings, VideosMethods, VideosThis> = {
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
		/**
		 * Stores the streamed file and has the transcoder check it (and make it streamable)
		 * before answering, so the video is ready when this returns; what takes longer than
		 * PUBLISH_WAIT_MS goes on in its job. A file that is no video, or breaks a limit, is
		 * refused and nothing of it stays. Params: title; ctx.stream. Returns { video_id }.
		 */
		publish: {
			auth: "required",
			hooks: countOutcomes(METRIC.UPLOADS),
			params: {
				title: textParam(
					{
						type: "string",
						trim: true,
						min: 1,
						max: cfg.limits.titleChars,
						messages: { required: "The 'title' field is required: give the video a title." }
					},
					{ multiline: false }
				)
			},
			async handler(this: VideosThis, ctx: Context<PublishParams, AppMeta>) {
				const stream = ctx.stream as Readable | null;
				if (!stream) throw invalidParam("the video file is missing: send it as the 'data' part", "data");
				// Over a transporter, the sender's error (an aborted or oversize upload) may come before
				// the stream is read, as an event that does not end it: kept here, it fails the upload below.
				let streamError: Error | null = null;
				stream.on("error", err => {
					streamError ??= err;
				});
				const { limits, publishWaitMs, requestTimeoutMs } = config();
				// Recorded before the file is stored, so a crash while storing leaves a record the orphan sweep finds.
				const doc: VideoDoc = {
					_id: await this.store.nextId("videos"),
					authorId: ctx.meta.userId!,
					title: ctx.params.title,
					status: "uploading",
					videoKey: newKey("videos", "mp4"),
					coverKey: null,
					size: 0,
					createdAt: Date.now()
				};
				await this.collections.videos.insert(doc);
				try {
					const { size } = await this.storage
						.put(doc.videoKey, stream, { contentType: "video/mp4", maxBytes: limits.uploadBytes })
						.then(info => {
							if (streamError) throw streamError;
							return info;
						})
						.catch(err => {
							throw (err as Error).name === "ObjectTooLargeError" ? tooLarge(`the video is larger than ${limits.uploadBytes} bytes`) : err;
						});
					if (size === 0) throw invalidParam("the video file is empty", "data");
					await this.collections.videos.updateOne({ _id: doc._id }, { $set: { status: "pending", size } });
				} catch (err) {
					stream.destroy();
					await this.forget(doc);
					throw err;
				}
				let answer: EnqueueAnswer;
				try {
					answer = await ctx.call<EnqueueAnswer, EnqueueParams>(
						"transcoder.enqueue",
						{ videoId: doc._id, videoKey: doc.videoKey, waitMs: publishWaitMs },
						{ timeout: publishWaitMs + requestTimeoutMs }
					);
				} catch (err) {
					// The transcoder went away while checking: the upload stays only if it made it.
					const now = await this.collections.videos.findOne({ _id: doc._id });
					this.logger.warn(`video ${doc._id}: the check did not answer (${(err as Error).message}); the video is ${now?.status ?? "gone"}`);
					answer = now?.status === "ready" ? { state: "ready" } : { state: "unavailable" };
				}
				if (answer.state === "refused" || answer.state === "unavailable") {
					if (answer.state === "unavailable") await ctx.call("transcoder.discard", { videoId: doc._id }).catch(() => undefined);
					await this.forget(doc);
					if (answer.state === "unavailable") throw unavailable("the video could not be checked just now: try again");
					throw answer.code === 413 ? tooLarge(answer.reason!) : invalidParam(answer.reason!, "data");
				}
				ctx.emit("video.uploaded", { videoId: doc._id, authorId: doc.authorId });
				return { video_id: doc._id };
			}
		},

		/** The feed: ready videos published before latest_time (ms or s; default now), newest first. Returns { video_list, next_time } (and `span` for the gateway: lib/read-model.ts). */
		feed: {
			...idempotentRead(),
			auth: "optional",
			params: { latest_time: optionalWireTime },
			handler(this: VideosThis, ctx: Context<FeedParams, AppMeta>) {
				return this.readModel.feed(ctx, feedBefore(ctx.params.latest_time), ctx.meta.userId);
			}
		},

		/** A user's ready videos, newest first, at most MAX_LIST_SIZE. Params: user_id. Returns { video_list }. */
		listByAuthor: {
			...idempotentRead(),
			auth: "optional",
			params: { user_id: wireId },
			async handler(this: VideosThis, ctx: Context<ListByAuthorParams, AppMeta>) {
				const docs = await this.collections.videos.find(
					{ authorId: ctx.params.user_id, status: "ready" },
					{ sort: { publishedAt: -1, _id: -1 }, limit: MAX_LIST_SIZE }
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

		/**
		 * Called by the transcoder: the video is playable with `videoKey`. A pending video
		 * becomes ready (interim: with its original file, while it is re-encoded); a ready
		 * one switches to `videoKey` (the re-encoded file, or its original for good). Params: id, videoKey,
		 * coverKey, interim. Returns { updated, gone } (gone: no such video, or it failed).
		 */
		markReady: {
			visibility: "public",
			params: {
				id: { type: "number", integer: true, positive: true },
				videoKey: { type: "string", min: 1, max: 200 },
				coverKey: { type: "string", min: 1, max: 200 },
				interim: { type: "boolean", optional: true }
			},
			async handler(this: VideosThis, ctx: Context<MarkReadyParams>) {
				const { id, videoKey, coverKey, interim = false } = ctx.params;
				// Two tries: an interim and a final call may cross.
				for (let attempt = 0; attempt < 2; attempt++) {
					const doc = await this.collections.videos.findOne({ _id: id });
					if (!doc || doc.status === "failed" || doc.status === "uploading") return { updated: false, gone: true };
					let updated = false;
					if (doc.status === "pending") {
						const publishedAt = await tick(this.collections.clocks, "feed");
						updated = await this.collections.videos.updateOne(
							{ _id: id, status: "pending" },
							{ $set: { status: "ready", videoKey, coverKey, publishedAt, normalising: interim } }
						);
						if (updated) ctx.emit("video.published", { videoId: id, authorId: doc.authorId });
					} else if (!interim && (doc.normalising || doc.videoKey !== videoKey))
						updated = await this.collections.videos.updateOne(
							{ _id: id, status: "ready", videoKey: doc.videoKey },
							{ $set: { videoKey, coverKey, normalising: false } }
						);
					else return { updated: false, gone: false };
					// The video (new, or its file replaced) and the author's work_count: every replica's feed head ends at once.
					if (updated) {
						await invalidate(this.broker, [this.workCounts.key(doc.authorId)], [STAMP.videos, STAMP.users]);
						return { updated: true, gone: false };
					}
				}
				return { updated: false, gone: false };
			}
		},

		/**
		 * Called by the transcoder: a pending upload cannot become a video; its file is
		 * removed. Params: id, reason. Returns { updated, gone } (gone: no such video).
		 */
		markFailed: {
			visibility: "public",
			params: { id: { type: "number", integer: true, positive: true }, reason: { type: "string", max: 1000 } },
			async handler(this: VideosThis, ctx: Context<MarkFailedParams>) {
				const doc = await this.collections.videos.findOne({ _id: ctx.params.id });
				if (doc?.status !== "pending") return { updated: false, gone: !doc };
				const updated = await this.collections.videos.updateOne(
					{ _id: doc._id, status: "pending" },
					{ $set: { status: "failed", failReason: ctx.params.reason } }
				);
				if (updated) await this.storage.delete(doc.videoKey);
				return { updated, gone: false };
			}
		},

		/** A video's state, for developers and tests. Params: id. Returns the record without keys. */
		status: {
			visibility: "public",
			params: { id: wireId },
			async handler(this: VideosThis, ctx: Context<{ id: number }>) {
				const doc = await this.collections.videos.findOne({ _id: ctx.params.id });
				if (!doc) throw notFound(`video ${ctx.params.id} does not exist`);
				return {
					id: doc._id,
					authorId: doc.authorId,
					title: doc.title,
					status: doc.status,
					normalising: Boolean(doc.normalising),
					failReason: doc.failReason ?? null
				};
			}
		},

		/**
		 * GET /douyin/publish/status/: where the author's upload stands. state: processing
		 * (being stored or checked), ready (normalising while it still plays its original
		 * file), failed (reason). Params: video_id. Returns { video_id, state, normalising, reason }.
		 */
		publishStatus: {
			auth: "required",
			params: { video_id: wireId },
			async handler(this: VideosThis, ctx: Context<{ video_id: number }, AppMeta>) {
				const doc = await this.collections.videos.findOne({ _id: ctx.params.video_id });
				if (!doc) throw notFound(`video ${ctx.params.video_id} does not exist`);
				if (doc.authorId !== ctx.meta.userId) throw forbidden(`only the author of video ${doc._id} may see where its upload stands`);
				const state = doc.status === "uploading" || doc.status === "pending" ? "processing" : doc.status;
				return { video_id: doc._id, state, normalising: Boolean(doc.normalising), reason: doc.failReason ?? "" };
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

		/** Cleans up after crashes (at start, then every orphanAfterMs): uploads still storing past UPLOAD_TIMEOUT_MS are removed; stored ones without a job get it again. */
		async enqueueOrphans(this: VideosThis) {
			const now = Date.now();
			const unfinished = await this.collections.videos.find(
				{ status: "uploading", createdAt: { $lt: now - config().uploadTimeoutMs } },
				{ limit: 100 }
			);
			for (const doc of unfinished) await this.forget(doc).catch(err => this.logger.warn(`could not remove unfinished upload ${doc._id}:`, (err as Error).message));
			const orphans = await this.collections.videos.find({ status: "pending", createdAt: { $lt: now - this.settings.orphanAfterMs } }, { limit: 100 });
			for (const doc of orphans)
				await this.broker.call("transcoder.enqueue", { videoId: doc._id, videoKey: doc.videoKey }).catch(err => {
					this.logger.warn(`could not queue orphan video ${doc._id}:`, (err as Error).message);
				});
		},

		/** Deletes a video that never became one: its file (also a partly stored one), then its record. */
		async forget(this: VideosThis, doc: VideoDoc) {
			await this.storage.delete(doc.videoKey);
			await this.collections.videos.deleteOne({ _id: doc._id });
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
		this.workCounts = countsOf(this.broker.cacher!, "videos.userFacts", () => this.collections.videos, { work_count: "authorId" }, cfg.countsCacheTtl, { status: "ready" });
	},

	started(this: VideosThis) {
		const sweep = () => void this.enqueueOrphans().catch(err => this.logger.warn("could not look for orphan videos:", (err as Error).message));
		sweep();
		this.orphanTimer = setInterval(sweep, this.settings.orphanAfterMs);
		this.orphanTimer.unref();
	},

	stopped(this: VideosThis) {
		clearInterval(this.orphanTimer);
	}
};

export default VideosService;
