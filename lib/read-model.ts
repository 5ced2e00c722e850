/**
 * The read model: what a replica keeps assembled from other owners' facts, so that a read
 * usually costs one stamp lookup and no call, and is never stale.
 *
 * How it stays fresh: every write that changes a count or a viewer's flag renews a change
 * stamp in the shared cache (lib/counts-cache.ts: `stamp:videos` for anything a Video shows,
 * `stamp:users` for a User's counts, `stamp:viewer:<id>` for a viewer's flags). A read first reads the stamps it depends on, in one batch, then
 * uses what this replica kept only if it was built under exactly those values; otherwise
 * it builds anew (and keeps that). Any replica, any write: the next read sees it.
 *
 * The pieces, from general to the feed:
 * - `Snapshot`: one value (the feed head) kept while its stamps hold; one build shared by
 *   every request that needs it meanwhile.
 * - `StampedCopies`: values by id (Users with their counts) kept while one stamp holds.
 * - `UsersCopy`: Users with their counts, as another service shows them (a comment's
 *   author), kept while `stamp:users` holds.
 * - `FlagsCopy`: each viewer's flags by id (is_favorite, is_follow), kept while the
 *   viewer's stamp holds; equal flag sets are shared and numbered.
 * - `VideosReadModel`: the feed. Its head is the newest pages of videos assembled for no
 *   viewer in particular; a page is a slice of it plus the viewer's flags. For a caller that
 *   only writes the answer out (the gateway, by the JSON_TEXT_HEADER of its call), the page
 *   comes as ready JSON bytes: the JSON of each video as a viewer with given flags sees
 *   it, made once per head and flag set, joined per request (lib/json-text.ts), with the
 *   span of latest_time values it answers when it may be kept.
 * - `FeedAnswers`: the gateway's copy of whole feed answers, kept under the stamps read
 *   before asking for them, so that a feed request usually costs one stamp read and no call.
 */
import { LRUCache } from "lru-cache";
import type { Context } from "moleculer";

import { type Cacher, STAMP, readStamps } from "./counts-cache";
import { distinctIds, gatherFacts } from "./facts";
import { JSON_TEXT_HEADER, type JsonText, jsonArray, jsonBytes } from "./json-text";
import { READ } from "./resilience";
import type { User, Video } from "./wire";

export { readStamps };

/** A stale build (a provider did not answer) is kept this long at most, so the provider is asked again soon. */
const STALE_KEEP_MS = 1000;

/** The stamps' values as one comparable key; null when one is unknown (then nothing is kept). */
function stampKey(stamps: readonly (string | null)[]): string | null {
	return stamps.includes(null) ? null : stamps.join("|");
}

/** A value as the read model gives it: `fresh` when built under exactly the stamps asked for, every provider answering. */
export interface Kept<T> {
	value: T;
	fresh: boolean;
}

/** One value kept while the stamps it was built under hold, and for `ttlMs` at most. */
export class Snapshot<T> {
	private kept: { key: string; value: T; stale: boolean; expires: number } | null = null;
	private building: { key: string; promise: Promise<Kept<T>> } | null = null;

	/** @param ttlMs bounds how long a lost stamp renewal (the cache down) could go unseen */
	constructor(private readonly ttlMs: number) {}

	/**
	 * The value for these stamps: the one kept, or one built now, once for every request
	 * waiting on it. A build that fails (an owner it needs is down) leaves the requests with
	 * the last value kept, when there is one: older, never an error, and not fresh.
	 */
	get(stamps: readonly (string | null)[], build: () => Promise<{ value: T; stale: boolean }>): Promise<Kept<T>> {
		const key = stampKey(stamps);
		const kept = this.kept;
		const orLastKept = (err: unknown): Kept<T> => {
			if (kept) return { value: kept.value, fresh: false };
			throw err;
		};
		if (key === null) return build().then(({ value }) => ({ value, fresh: false }), orLastKept);
		if (kept && kept.key === key && kept.expires > Date.now()) return Promise.resolve({ value: kept.value, fresh: !kept.stale });
		if (this.building?.key === key) return this.building.promise;
		const promise = build().then(({ value, stale }) => {
			// Kept only if no build for newer stamps started meanwhile.
			if (this.building?.promise === promise) this.kept = { key, value, stale, expires: Date.now() + (stale ? STALE_KEEP_MS : this.ttlMs) };
			return { value, fresh: !stale };
		}, orLastKept);
		this.building = { key, promise };
		const done = () => {
			if (this.building?.promise === promise) this.building = null;
		};
		promise.then(done, done);
		return promise;
	}

	/** What is kept, whatever the stamps (for tests and diagnostics). */
	peek(): T | undefined {
		return this.kept?.value;
	}
}

/** Values by id, kept while one stamp holds (a new stamp drops them all). */
export class StampedCopies<T> {
	private stamp: string | null = null;
	private values: LRUCache<number, T & object>;

	constructor(private readonly max: number) {
		this.values = new LRUCache({ max });
	}

	/** The values of `ids` for this stamp (ids `build` leaves out are absent); builds the missing ones at once. */
	async get(
		stamp: string | null,
		ids: readonly number[],
		build: (ids: number[]) => Promise<{ values: Map<number, T>; stale: boolean }>
	): Promise<Map<number, T>> {
		if (stamp === null) return (await build([...ids])).values;
		if (stamp !== this.stamp) {
			this.stamp = stamp;
			this.values = new LRUCache({ max: this.max });
		}
		const found = new Map<number, T>();
		const missing: number[] = [];
		for (const id of ids) {
			const value = this.values.get(id);
			if (value !== undefined) found.set(id, value);
			else missing.push(id);
		}
		if (missing.length === 0) return found;
		const { values, stale } = await build(missing);
		for (const [id, value] of values) {
			found.set(id, value);
			// Kept only for the stamp it was built under, and only when every provider answered.
			if (!stale && this.stamp === stamp) this.values.set(id, value as T & object);
		}
		return found;
	}
}

/**
 * Users as another service shows them (their counts; no viewer's flags), kept while
 * `stamp:users` holds: users.getMany is asked only for ids not seen since it last changed.
 */
export class UsersCopy {
	private readonly copies: StampedCopies<User>;

	constructor(
		private readonly cacher: Cacher,
		max = 10_000
	) {
		this.copies = new StampedCopies(max);
	}

	/** The Users of these ids, by id (an unknown id is absent). */
	async get(ctx: Context, ids: readonly number[]): Promise<Map<number, User>> {
		const [stamp] = await readStamps(this.cacher, [STAMP.users]);
		return this.copies.get(stamp, ids, async missing => {
			const { users, stale } = await ctx.call<{ users: Record<number, User>; stale?: boolean }, { ids: number[] }>(
				"users.getMany",
				{ ids: missing },
				{ timeout: READ.inner() }
			);
			return { values: new Map(missing.flatMap(id => (users[id] ? [[id, users[id]] as const] : []))), stale: stale === true };
		});
	}
}

/** One viewer's flags about one entity, shared by every equal set; `code` numbers the distinct sets. */
export interface FlagSet<F> {
	values: Partial<F>;
	code: number;
}

/**
 * A consumer's copy of viewers' flags, asked of the flag providers only for ids it has
 * not seen since the viewer's stamp last changed. Every like, unlike, follow or unfollow
 * renews the viewer's stamp, so the copy is never stale, on any replica.
 */
export class FlagsCopy<F> {
	private readonly viewers = new LRUCache<number, { stamp: string; flags: Map<number, FlagSet<F>> }>({ max: 20_000, ttl: 60_000 });
	/** The distinct flag sets seen (a handful: every combination of a few booleans). */
	private readonly sets = new Map<string, FlagSet<F>>();

	constructor(private readonly providers: readonly string[]) {}

	/** The flags of each id for the viewer, by id, when this replica knows them all for this stamp (no waiting); else undefined. */
	known(viewerId: number, stamp: string | null, ids: readonly number[]): Map<number, FlagSet<F>> | undefined {
		if (stamp === null) return undefined;
		const copy = this.viewers.get(viewerId);
		if (!copy || copy.stamp !== stamp) return undefined;
		for (const id of ids) if (!copy.flags.has(id)) return undefined;
		return copy.flags;
	}

	/** The flags of each id for the viewer, by id; `stale` when some came from the cache because a provider did not answer. */
	async get(ctx: Context, viewerId: number, stamp: string | null, ids: readonly number[]): Promise<{ flags: Map<number, FlagSet<F>>; stale: boolean }> {
		const known = this.known(viewerId, stamp, ids);
		if (known) return { flags: known, stale: false };
		let copy = stamp === null ? undefined : this.viewers.get(viewerId);
		if (stamp !== null && (!copy || copy.stamp !== stamp)) this.viewers.set(viewerId, (copy = { stamp, flags: new Map() }));
		const have = copy?.flags ?? new Map<number, FlagSet<F>>();
		const missing = distinctIds(ids.filter(id => !have.has(id)));
		if (missing.length === 0) return { flags: have, stale: false };
		const { facts, stale } = await gatherFacts<F>(ctx, this.providers, { ids: missing, viewerId });
		// Flags read from the cache while a provider is down are used, not kept.
		const into = stale ? new Map(have) : have;
		for (const id of missing) into.set(id, this.intern(facts[id] ?? {}));
		return { flags: into, stale };
	}

	private intern(values: Partial<F>): FlagSet<F> {
		const key = JSON.stringify(values);
		let set = this.sets.get(key);
		if (!set) this.sets.set(key, (set = { values, code: this.sets.size }));
		return set;
	}
}

// --- the feed --------------------------------------------------------------------------------

/** What the read model needs of a video record. */
export interface VideoRecord {
	_id: number;
	authorId: number;
	/** When it became ready: unique per video, the feed's order. */
	publishedAt?: number;
}

/** Where the videos read model gets its records and turns them into Videos (supplied by the videos service). */
export interface VideoSource<D extends VideoRecord> {
	/** The newest ready videos, newest first. */
	newest(limit: number): Promise<D[]>;
	/** Ready videos published before `time`, newest first. */
	before(time: number, limit: number): Promise<D[]>;
	/** The records as Videos for no viewer in particular (flags false), index by index; undefined where the author is gone. */
	assemble(ctx: Context, docs: D[]): Promise<{ videos: (Video | undefined)[]; stale: boolean }>;
}

/** The newest ready videos, assembled for no viewer in particular: what nearly every feed request pages through. */
interface FeedHead<D extends VideoRecord> {
	docs: D[];
	/** The assembled docs, index by index (undefined: the author is gone). */
	videos: (Video | undefined)[];
	/** Holds every ready video: no older page exists. */
	complete: boolean;
	/** The JSON of its videos as viewers see them, made once per (video, flag sets): see `headText`. */
	texts: Map<number, Buffer>;
}

/** A viewer's flags about the videos of a page and about their authors. */
interface PageFlags {
	videos: Map<number, FlagSet<Video>>;
	authors: Map<number, FlagSet<User>>;
}

/** The Video as the viewer sees it: a new object; the assembled one is never changed (it may be the feed head's). */
function flagged(video: Video, flags: PageFlags | null): Video {
	if (!flags) return video;
	return { ...video, ...flags.videos.get(video.id)?.values, author: { ...video.author, ...flags.authors.get(video.author.id)?.values } };
}

/** Room for this many distinct flag sets per kind in a headText slot number (there are a handful: a few booleans). */
const SLOTS_PER_SET = 1 << 16;

/** The JSON of the head's video `i` as a viewer with these flags sees it: made once, then shared by every such viewer. */
function headText<D extends VideoRecord>(head: FeedHead<D>, i: number, flags: PageFlags | null): Buffer {
	const video = head.videos[i]!;
	const videoSet = flags?.videos.get(video.id);
	const authorSet = flags?.authors.get(video.author.id);
	const slot = (i * SLOTS_PER_SET + (videoSet ? videoSet.code + 1 : 0)) * SLOTS_PER_SET + (authorSet ? authorSet.code + 1 : 0);
	let text = head.texts.get(slot);
	if (text === undefined) head.texts.set(slot, (text = jsonBytes(flagged(video, flags))));
	return text;
}

/** The videos whose author still exists. */
function present(videos: (Video | undefined)[]): Video[] {
	return videos.filter((video): video is Video => video !== undefined);
}

/** Above this, a feed's latest_time is in milliseconds; below, in seconds (API.md, ambiguities). */
const MS_THRESHOLD = 1e12;

/** The feed's bound in ms from its latest_time (ms or s; absent or 0: now): its videos were published before it. */
export function feedBefore(latestTime: number | undefined): number {
	const latest = latestTime || Date.now();
	return latest > MS_THRESHOLD ? latest : latest * 1000;
}

/**
 * The feed bounds (`before`, ms) for which one page is the answer while the stamps it was
 * made under hold: after < before ≤ upTo (upTo null: no upper bound, the newest page). A
 * video published in between would renew `stamp:videos`.
 */
export interface FeedSpan {
	after: number;
	upTo: number | null;
}

export interface FeedPage {
	video_list: Video[] | JsonText;
	next_time: number;
	/**
	 * For a caller that asked for ready JSON (JSON_TEXT_HEADER), when this very answer may be
	 * kept (a page of the head, every provider answering): the bounds it answers (`FeedAnswers`).
	 */
	span?: FeedSpan;
}

export interface VideosReadModelOptions {
	pageSize: number;
	/** How many pages of the newest videos the head holds. */
	headPages: number;
	/** How long a head lives at most (bounds how long a lost stamp renewal could go unseen). */
	headTtlMs: number;
	/** Actions answering `{ ids, viewerId }` with the viewer's flags about each Video (is_favorite). */
	videoFlagProviders: readonly string[];
	/** The same about each Video's author (is_follow). */
	authorFlagProviders: readonly string[];
}

/** Videos as viewers see them: the feed (from the head) and any other list (assembled per request). */
export class VideosReadModel<D extends VideoRecord> {
	private readonly head: Snapshot<FeedHead<D>>;
	private readonly videoFlags: FlagsCopy<Video>;
	private readonly authorFlags: FlagsCopy<User>;

	constructor(
		private readonly cacher: Cacher,
		private readonly source: VideoSource<D>,
		private readonly options: VideosReadModelOptions
	) {
		this.head = new Snapshot(options.headTtlMs);
		this.videoFlags = new FlagsCopy(options.videoFlagProviders);
		this.authorFlags = new FlagsCopy(options.authorFlagProviders);
	}

	/**
	 * A feed page: the ready videos published before `before` (ms), newest first, as the
	 * viewer sees them; ready JSON bytes, with the span a caller may keep it for, when the
	 * caller asked for them (JSON_TEXT_HEADER).
	 */
	async feed(ctx: Context, before: number, viewerId: number | undefined): Promise<FeedPage> {
		// Every change of what a Video shows, its author's counts included, renews STAMP.videos.
		const [videosStamp, viewerStamp = null] = await readStamps(this.cacher, viewerId ? [STAMP.videos, STAMP.viewer(viewerId)] : [STAMP.videos]);
		const { value: head, fresh } = await this.head.get([videosStamp], () => this.buildHead(ctx));
		const size = this.options.pageSize;
		const start = head.docs.findIndex(doc => doc.publishedAt! < before);
		if (start < 0 && head.complete) return { video_list: [], next_time: Date.now() };
		if (start < 0 || (start + size > head.docs.length && !head.complete)) {
			// Older than the head: a query, assembled for this request only.
			const docs = await this.source.before(before, size);
			const { videos } = await this.source.assemble(ctx, docs);
			return { video_list: (await this.withFlags(ctx, videos, viewerId, viewerStamp)).videos, next_time: docs.at(-1)?.publishedAt ?? Date.now() };
		}
		const end = Math.min(start + size, head.docs.length);
		const next_time = head.docs[end - 1].publishedAt!;
		const videos = head.videos.slice(start, end);
		const { flags, stale } = await this.flagsOf(ctx, present(videos), viewerId, viewerStamp);
		if (!ctx.headers?.[JSON_TEXT_HEADER]) return { video_list: present(videos).map(video => flagged(video, flags)), next_time };
		// The caller only writes the list out: the head's texts, joined.
		const parts: Buffer[] = [];
		for (let i = start; i < end; i++) if (head.videos[i]) parts.push(headText(head, i, flags));
		const page: FeedPage = { video_list: jsonArray(parts), next_time };
		if (fresh && !stale) page.span = { after: head.docs[start].publishedAt!, upTo: start > 0 ? head.docs[start - 1].publishedAt! : null };
		return page;
	}

	/** The docs as Videos as the viewer sees them (authors gone: left out). */
	async toVideos(ctx: Context, docs: D[], viewerId: number | undefined): Promise<Video[]> {
		const [[viewerStamp = null], { videos }] = await Promise.all([
			viewerId ? readStamps(this.cacher, [STAMP.viewer(viewerId)]) : Promise.resolve([]),
			this.source.assemble(ctx, docs)
		]);
		return (await this.withFlags(ctx, videos, viewerId, viewerStamp)).videos;
	}

	private async buildHead(ctx: Context): Promise<{ value: FeedHead<D>; stale: boolean }> {
		const limit = this.options.pageSize * this.options.headPages;
		const docs = await this.source.newest(limit);
		const { videos, stale } = await this.source.assemble(ctx, docs);
		return { value: { docs, videos, complete: docs.length < limit, texts: new Map() }, stale };
	}

	private async withFlags(ctx: Context, videos: (Video | undefined)[], viewerId: number | undefined, viewerStamp: string | null): Promise<{ videos: Video[] }> {
		const shown = present(videos);
		const { flags } = await this.flagsOf(ctx, shown, viewerId, viewerStamp);
		return { videos: flags ? shown.map(video => flagged(video, flags)) : shown };
	}

	/** The viewer's flags about these videos and their authors (null when anonymous), from this replica's copy; `stale` as in FlagsCopy. */
	private async flagsOf(
		ctx: Context,
		videos: Video[],
		viewerId: number | undefined,
		stamp: string | null
	): Promise<{ flags: PageFlags | null; stale: boolean }> {
		if (!viewerId || videos.length === 0) return { flags: null, stale: false };
		const videoIds = videos.map(video => video.id);
		const authorIds = videos.map(video => video.author.id);
		const known = this.videoFlags.known(viewerId, stamp, videoIds);
		const knownAuthors = known && this.authorFlags.known(viewerId, stamp, authorIds);
		if (known && knownAuthors) return { flags: { videos: known, authors: knownAuthors }, stale: false };
		const [videoFlags, authorFlags] = await Promise.all([
			this.videoFlags.get(ctx, viewerId, stamp, videoIds),
			this.authorFlags.get(ctx, viewerId, stamp, authorIds)
		]);
		return { flags: { videos: videoFlags.flags, authors: authorFlags.flags }, stale: videoFlags.stale || authorFlags.stale };
	}
}

// --- the gateway's copy of feed answers --------------------------------------------------

/** One feed answer kept by the gateway: the bytes it writes, the bounds it answers, until when. */
interface KeptAnswer {
	bytes: Buffer;
	span: FeedSpan;
	expires: number;
}

export interface FeedAnswersOptions {
	/** The most bytes of answers kept (the least recently used go first). */
	maxBytes: number;
	/** How long an answer lives at most (bounds how long a lost stamp renewal could go unseen, like the feed head's). */
	ttlMs: number;
}

/** A gateway keeps up to 32 MiB of feed answers (some two thousand pages of 30 videos), each for 30 s at most. */
const FEED_ANSWERS: FeedAnswersOptions = { maxBytes: 32 * 1024 * 1024, ttlMs: 30_000 };

/**
 * The gateway's copy of whole feed answers, as the bytes it writes, so that a feed request
 * usually costs one stamp lookup (one Redis round trip in a cluster) and no call at all.
 * An answer is kept under the stamps its page depends on (`stamp:videos` and, for a logged-in
 * viewer, the viewer's own: see `keyOf`), read BEFORE videos.feed was asked; whatever the
 * page then shows was read after them, so while they hold it is the current answer, for
 * every `before` in its span. A write anywhere renews a stamp: the next request misses
 * and asks videos.feed again. Only answers videos.feed gives a span (pages of its head,
 * every provider answering) are kept.
 */
export class FeedAnswers {
	private readonly answers: LRUCache<string, KeptAnswer[]>;

	constructor(
		private readonly cacher: Cacher,
		private readonly options: FeedAnswersOptions = FEED_ANSWERS
	) {
		this.answers = new LRUCache({ maxSize: options.maxBytes, sizeCalculation: kept => kept.reduce((sum, answer) => sum + answer.bytes.length, 0) || 1 });
	}

	/** What the viewer's (or an anonymous) feed depends on now, as one key; null when a stamp is unknown (nothing is kept then). */
	async keyOf(viewerId: number | undefined): Promise<string | null> {
		const stamps = await readStamps(this.cacher, viewerId ? [STAMP.videos, STAMP.viewer(viewerId)] : [STAMP.videos]);
		const key = stampKey(stamps);
		return key === null ? null : `${viewerId ?? 0}|${key}`;
	}

	/** The answer kept under `key` for a feed before `before` (ms), if any. */
	find(key: string, before: number): Buffer | undefined {
		const now = Date.now();
		for (const { bytes, span, expires } of this.answers.get(key) ?? [])
			if (span.after < before && (span.upTo === null || before <= span.upTo) && expires > now) return bytes;
		return undefined;
	}

	/** Keeps an answer under the key read before it was asked for. */
	keep(key: string, span: FeedSpan, bytes: Buffer): void {
		const now = Date.now();
		const others = (this.answers.get(key) ?? []).filter(answer => answer.span.after !== span.after && answer.expires > now);
		this.answers.set(key, [...others, { bytes, span, expires: now + this.options.ttlMs }]);
	}
}
