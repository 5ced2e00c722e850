/**
 * videos: video metadata, status (pending → ready | failed) and object keys; the feed
 * and the publish lists. Every Video the API returns is built in two steps: `assemble`
 * joins authors (users.getMany) and counts (likes, comments) over a page, the same for
 * every viewer; `withFlags` adds the viewer's flags (is_favorite, the author's is_follow).
 * The feed keeps the assembled newest pages (the feed head) while the counts stamp is
 * unchanged, and each viewer's flags while their stamp is unchanged, so a feed request
 * usually costs one stamp lookup and no call.
 */
import type { Readable } from "node:stream";
import type { Context, Service } from "moleculer";
import { config } from "../lib/config";
import { CountsCache, STAMP, countStore } from "../lib/counts-cache";
import { invalidParam, notFound, tooLarge } from "../lib/errors";
import { type FactsParams, type FlagSet, FlagsCopy, distinctIds, factsParamsSchema, gatherFacts } from "../lib/facts";
import { jsonArray, jsonBytes } from "../lib/json-text";
import type { AppMeta } from "../lib/meta";
import { METRIC, countOutcomes } from "../lib/metrics";
import { optionalWireTime, textParam, wireId } from "../lib/params";
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
	/** Actions answering `{ ids }` with counts of each Video (favorite_count, comment_count). */
	factProviders: string[];
	/** Actions answering `{ ids, viewerId }` with the viewer's flags about each Video (is_favorite). */
	flagProviders: string[];
	/** The same about each Video's author (is_follow), asked of the flag's owner directly. */
	authorFlagProviders: string[];
	/** A pending video older than this with no transcode job gets one (crash between upload and enqueue). */
	orphanAfterMs: number;
}

/** The newest ready videos, assembled for no viewer in particular: what nearly every feed request pages through. */
interface FeedHead {
	/** STAMP.counts when it was assembled: the head is kept while the stamp is unchanged. */
	stamp: string | null;
	docs: VideoDoc[];
	/** The assembled docs, index by index (undefined: the author is gone). */
	videos: (Video | undefined)[];
	/** Holds every ready video: no older page exists. */
	complete: boolean;
	expires: number;
	/** The JSON of its videos as viewers see them, made once per (video, flag sets): see headText. */
	texts: Map<number, Buffer>;
}

/** A viewer's flags about the videos of a page and about their authors. */
interface ViewerFlags {
	videos: Map<number, FlagSet<Video>>;
	authors: Map<number, FlagSet<User>>;
}

/** The videos whose author still exists. */
function present(videos: (Video | undefined)[]): Video[] {
	return videos.filter((video): video is Video => video !== undefined);
}

/** The Video as the viewer sees it: a new object; the assembled one is never changed (it may be the feed head's). */
function flagged(video: Video, flags: ViewerFlags | null): Video {
	if (!flags) return video;
	return { ...video, ...flags.videos.get(video.id)?.values, author: { ...video.author, ...flags.authors.get(video.author.id)?.values } };
}

/** Room for this many distinct flag sets per kind in a headText slot number (there are a handful: a few booleans). */
const SLOTS_PER_SET = 1 << 16;

/** The JSON of the head's video `i` as a viewer with these flags sees it: made once, then shared by every such viewer. */
function headText(head: FeedHead, i: number, flags: ViewerFlags | null): Buffer {
	const video = head.videos[i]!;
	const videoSet = flags?.videos.get(video.id);
	const authorSet = flags?.authors.get(video.author.id);
	const slot = (i * SLOTS_PER_SET + (videoSet ? videoSet.code + 1 : 0)) * SLOTS_PER_SET + (authorSet ? authorSet.code + 1 : 0);
	let text = head.texts.get(slot);
	if (text === undefined) head.texts.set(slot, (text = jsonBytes(flagged(video, flags))));
	return text;
}

interface VideosMethods {
	toVideos(ctx: Context, docs: VideoDoc[], viewerId?: number): Promise<Video[]>;
	assemble(ctx: Context, docs: VideoDoc[]): Promise<(Video | undefined)[]>;
	withFlags(ctx: Context, videos: (Video | undefined)[], viewerId: number | undefined, stamp: string | null): Promise<Video[]>;
	flagsOf(ctx: Context, videos: Video[], viewerId: number | undefined, stamp: string | null): Promise<ViewerFlags | null>;
	feedHead(ctx: Context, stamp: string | null): Promise<FeedHead>;
	enqueueOrphans(): Promise<void>;
}

type Collections = { videos: Collection<VideoDoc>; clocks: Collection<ClockDoc> };

type VideosThis = Service<VideosSettings> &
	VideosMethods &
	StoreVars<Collections> &
	StorageVars & {
		workCounts: CountsCache<{ work_count: number }>;
		orphanTimer?: NodeJS.Timeout;
		head: FeedHead | null;
		/** The head being assembled, shared by every request that needs it meanwhile. */
		headBuild: { stamp: string | null; promise: Promise<FeedHead> } | null;
		videoFlags: FlagsCopy<Video>;
		authorFlags: FlagsCopy<User>;
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
 * most. A publish or any count change renews STAMP.counts and ends it at once; the
 * lifetime only bounds how long a lost renewal (the cache server down) could go unseen.
 */
const FEED_HEAD_PAGES = 4;
const FEED_HEAD_TTL_MS = 30_000;

/** Above this, latest_time is in milliseconds; below, in seconds (API.md, ambiguities). */
const MS_THRESHOLD = 1e12;

const idsSchema = { type: "array", items: { type: "number", integer: true, positive: true }, max: 1000 } as const;

/** The longest publish list: one users.getMany / facts batch (1000 ids), like every other list. */
const MAX_LIST_SIZE = 1000;

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
			params: { latest_time: optionalWireTime },
			async handler(this: VideosThis, ctx: Context<FeedParams, AppMeta>) {
				const latest = ctx.params.latest_time || Date.now();
				const before = latest > MS_THRESHOLD ? latest : latest * 1000;
				const viewerId = ctx.meta.userId;
				const [countsStamp, viewerStamp = null] = await countStore().stamps(viewerId ? [STAMP.counts, STAMP.viewer(viewerId)] : [STAMP.counts]);
				const head = await this.feedHead(ctx, countsStamp);
				const size = cfg.limits.feedPageSize;
				const start = head.docs.findIndex(doc => doc.publishedAt! < before);
				let docs: VideoDoc[];
				let videos: (Video | undefined)[];
				if (start >= 0 && (start + size <= head.docs.length || head.complete)) {
					docs = head.docs.slice(start, start + size);
					videos = head.videos.slice(start, start + size);
					if (ctx.meta.$jsonText) {
						// The gateway only writes the list out: the head's texts, joined.
						const flags = await this.flagsOf(ctx, present(videos), viewerId, viewerStamp);
						const parts: Buffer[] = [];
						for (let i = start; i < start + docs.length; i++) if (head.videos[i]) parts.push(headText(head, i, flags));
						return { video_list: jsonArray(parts), next_time: docs.at(-1)!.publishedAt! };
					}
				} else if (start < 0 && head.complete) docs = videos = [];
				else {
					// Older than the head: a query, assembled for this request only.
					docs = await this.collections.videos.find(
						{ status: "ready", publishedAt: { $lt: before } },
						{ sort: { publishedAt: -1, _id: -1 }, limit: size }
					);
					videos = await this.assemble(ctx, docs);
				}
				const video_list = await this.withFlags(ctx, videos, viewerId, viewerStamp);
				return { video_list, next_time: docs.at(-1)?.publishedAt ?? Date.now() };
			}
		},

		/** A user's ready videos, newest first, at most MAX_LIST_SIZE. Params: user_id. Returns { video_list }. */
		listByAuthor: {
			auth: "optional",
			params: { user_id: wireId },
			async handler(this: VideosThis, ctx: Context<ListByAuthorParams, AppMeta>) {
				const docs = await this.collections.videos.find(
					{ authorId: ctx.params.user_id, status: "ready" },
					{ sort: { publishedAt: -1, _id: -1 }, limit: MAX_LIST_SIZE }
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
				// Renews STAMP.counts too: every replica's feed head ends at once.
				await this.workCounts.invalidate([doc.authorId]);
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
		/** The feed head for this counts stamp: the one kept, or a new one assembled once for every request waiting on it. */
		feedHead(this: VideosThis, ctx: Context, stamp: string | null): Promise<FeedHead> {
			const head = this.head;
			if (head && head.stamp === stamp && head.expires > Date.now()) return Promise.resolve(head);
			if (this.headBuild && this.headBuild.stamp === stamp) return this.headBuild.promise;
			const promise: Promise<FeedHead> = (async () => {
				const limit = cfg.limits.feedPageSize * FEED_HEAD_PAGES;
				const docs = await this.collections.videos.find({ status: "ready" }, { sort: { publishedAt: -1, _id: -1 }, limit });
				const built: FeedHead = {
					stamp,
					docs,
					videos: await this.assemble(ctx, docs),
					complete: docs.length < limit,
					expires: Date.now() + FEED_HEAD_TTL_MS,
					texts: new Map()
				};
				// Kept only if no newer stamp's build started meanwhile.
				if (this.headBuild?.stamp === stamp) this.head = built;
				return built;
			})();
			this.headBuild = { stamp, promise };
			const done = () => {
				if (this.headBuild?.promise === promise) this.headBuild = null;
			};
			promise.then(done, done);
			return promise;
		},

		/** Every Video of these docs as the viewer sees it. */
		async toVideos(this: VideosThis, ctx: Context, docs: VideoDoc[], viewerId?: number): Promise<Video[]> {
			const [[stamp = null], videos] = await Promise.all([viewerId ? countStore().stamps([STAMP.viewer(viewerId)]) : [], this.assemble(ctx, docs)]);
			return this.withFlags(ctx, videos, viewerId, stamp);
		},

		/** The docs as Videos for no viewer in particular (flags false), index by index; undefined where the author is gone. */
		async assemble(this: VideosThis, ctx: Context, docs: VideoDoc[]): Promise<(Video | undefined)[]> {
			if (docs.length === 0) return [];
			const [{ users }, facts, urls] = await Promise.all([
				ctx.call<{ users: Record<number, User> }, IdsParams>("users.getMany", { ids: distinctIds(docs.map(doc => doc.authorId)) }),
				gatherFacts<Video>(ctx, this.settings.factProviders, { ids: docs.map(doc => doc._id) }),
				Promise.all(docs.map(doc => Promise.all([this.storage.url(doc.videoKey), this.storage.url(doc.coverKey!)])))
			]);
			return docs.map((doc, i) => {
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
		},

		/** Assembled Videos with the viewer's flags. */
		async withFlags(this: VideosThis, ctx: Context, videos: (Video | undefined)[], viewerId: number | undefined, stamp: string | null): Promise<Video[]> {
			const shown = present(videos);
			const flags = await this.flagsOf(ctx, shown, viewerId, stamp);
			return flags ? shown.map(video => flagged(video, flags)) : shown;
		},

		/**
		 * The viewer's flags about these videos and their authors (null when anonymous), from
		 * this replica's copy of them, valid while the viewer's stamp (read by the caller
		 * before) is unchanged.
		 */
		async flagsOf(this: VideosThis, ctx: Context, videos: Video[], viewerId: number | undefined, stamp: string | null): Promise<ViewerFlags | null> {
			if (!viewerId || videos.length === 0) return null;
			const videoIds = videos.map(video => video.id);
			const authorIds = videos.map(video => video.author.id);
			const known = this.videoFlags.known(viewerId, stamp, videoIds);
			const knownAuthors = known && this.authorFlags.known(viewerId, stamp, authorIds);
			if (known && knownAuthors) return { videos: known, authors: knownAuthors };
			const [videoFlags, authorFlags] = await Promise.all([
				this.videoFlags.get(ctx, viewerId, stamp, videoIds),
				this.authorFlags.get(ctx, viewerId, stamp, distinctIds(authorIds))
			]);
			return { videos: videoFlags, authors: authorFlags };
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
		this.head = null;
		this.headBuild = null;
		this.videoFlags = new FlagsCopy(this.settings.flagProviders);
		this.authorFlags = new FlagsCopy(this.settings.authorFlagProviders);
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
