/**
 * The owner's side of derived counts and viewer flags, kept in Moleculer's cacher
 * (`broker.cacher`: an in-process LRU in embedded mode, Redis in a cluster, so every replica
 * sees a change at once). A count is always computed from the owner's data; the cache only
 * saves the recount.
 *
 * - `CountsCache`: the facts of each id (`{ favorite_count: 3 }`), cached under
 *   `<provider action>:<id>`; a page reads all its ids in one batch (the Redis client
 *   pipelines the reads of one tick into one round trip), recounts the missing ones at once.
 * - `ViewerFlags`: a viewer's yes/no facts (`{ is_favorite: true }`) per (viewer, id), under
 *   `<provider action>:<viewer>:<id>`.
 * - Change stamps (`STAMP`): every write that changes a count or a flag renews the stamps it
 *   touches (`stamp:videos`, `stamp:users`, `stamp:viewer:<id>`) to a value never seen
 *   before. A consumer that keeps something assembled from other owners' facts (lib/read-model)
 *   reads the stamps first and keeps its copy only while they are unchanged.
 * - `invalidate`: a writer forgets the entries its change touches and renews the stamps, in
 *   one round trip, and once more a moment later (batched per process): a reader that
 *   counted just before the write and stored its result just after the first delete would
 *   otherwise leave a stale count until the TTL.
 *
 * The cache keys double as the facts protocol's fallback (lib/facts.ts): when a provider
 * cannot answer, its callers read its last answers straight from the cache.
 */
import { randomUUID } from "node:crypto";
import type { ServiceBroker } from "moleculer";
import type { Facts } from "./facts";
import type { BaseDoc, Collection, Filter } from "./store/types";

/** The broker's cacher (Moleculer's MemoryLRU cacher embedded, its Redis cacher in a cluster). */
export type Cacher = NonNullable<ServiceBroker["cacher"]>;

/** The change stamps: a stamp gets a value never seen before whenever what it covers changes. */
export const STAMP = {
	/**
	 * Anything a Video shows that changes: which videos are ready, their counts
	 * (favorite_count, comment_count) and their authors' counts. Renewed with `users` too.
	 */
	videos: "stamp:videos",
	/** The counts a User shows (follows, followers, likes given and received, works). */
	users: "stamp:users",
	/** The viewer's own flags: what they liked, whom they follow. */
	viewer: (viewerId: number) => `stamp:viewer:${viewerId}`
};

/** A stamp outlives every copy kept against it (those live a minute at most). */
const STAMP_TTL_SECONDS = 7 * 24 * 3600;

/** Longer than any recount takes: the second delete comes after every racing reader stored. */
export const RECOUNT_GRACE_MS = 1000;

/** The cacher's values, key by key, in one batch (undefined: not cached); a cache that fails reads as empty. */
export async function cachedValues<T>(cacher: Cacher, keys: readonly string[]): Promise<(T | undefined)[]> {
	try {
		return (await Promise.all(keys.map(key => cacher.get(key)))) as (T | undefined | null)[] as (T | undefined)[];
	} catch {
		return keys.map(() => undefined);
	}
}

/**
 * The stamps' values, in one batch; null for a stamp that is missing (never renewed,
 * expired, evicted) or unreadable. A reader keeps nothing against null. It asks for a fresh
 * value instead, but never uses that value itself: a fresh value set just after a writer's
 * renewal may overwrite it, which is harmless only because nothing was built under it yet
 * (whoever reads it later reads the owners' data after that write).
 */
export async function readStamps(cacher: Cacher, keys: readonly string[]): Promise<(string | null)[]> {
	let values: unknown[];
	try {
		values = await Promise.all(keys.map(key => cacher.get(key)));
	} catch {
		return keys.map(() => null);
	}
	return values.map((value, i) => {
		if (typeof value === "string") return value;
		cacher.set(keys[i], randomUUID(), STAMP_TTL_SECONDS).catch(() => undefined);
		return null;
	});
}

interface Pending {
	keys: Set<string>;
	stamps: Set<string>;
}

const nothing = (): Pending => ({ keys: new Set(), stamps: new Set() });

/**
 * The invalidations of one broker: now, and once more a moment later. The second passes are
 * batched: every RECOUNT_GRACE_MS, one round trip repeats those queued during the period
 * before the last, so each comes between one and two grace periods after its write.
 */
class Invalidations {
	private queued = nothing();
	private due = nothing();
	private timer: NodeJS.Timeout | null = null;

	constructor(private readonly cacher: Cacher) {}

	/** Forgets `keys` and renews `stamps` in one round trip; queues the same for the second pass. */
	async now(keys: readonly string[], stamps: readonly string[]): Promise<void> {
		for (const key of keys) this.queued.keys.add(key);
		for (const stamp of stamps) this.queued.stamps.add(stamp);
		if (!this.timer) {
			this.timer = setInterval(() => void this.tick(), RECOUNT_GRACE_MS);
			this.timer.unref();
		}
		await this.apply(this.cacher, keys, stamps);
	}

	/** Every second pass still pending, at once (before the process stops). */
	async flush(): Promise<void> {
		if (this.timer) clearInterval(this.timer);
		this.timer = null;
		const all = { keys: new Set([...this.due.keys, ...this.queued.keys]), stamps: new Set([...this.due.stamps, ...this.queued.stamps]) };
		this.due = nothing();
		this.queued = nothing();
		await this.apply(this.cacher, [...all.keys], [...all.stamps]).catch(() => undefined);
	}

	private async tick(): Promise<void> {
		const due = this.due;
		this.due = this.queued;
		this.queued = nothing();
		if (due.keys.size === 0 && due.stamps.size === 0 && this.due.keys.size === 0 && this.due.stamps.size === 0 && this.timer) {
			clearInterval(this.timer);
			this.timer = null;
		}
		await this.apply(this.cacher, [...due.keys], [...due.stamps]).catch(() => undefined);
	}

	private async apply(cacher: Cacher, keys: readonly string[], stamps: readonly string[]): Promise<void> {
		await Promise.all([
			keys.length > 0 ? cacher.del([...keys]) : undefined,
			...stamps.map(stamp => cacher.set(stamp, randomUUID(), STAMP_TTL_SECONDS))
		]);
	}
}

const INVALIDATIONS = Symbol.for("moletok.invalidations");

function invalidationsOf(broker: ServiceBroker): Invalidations {
	const holder = broker as ServiceBroker & { [INVALIDATIONS]?: Invalidations };
	if (!broker.cacher) throw new Error("MoleTok needs the broker's cacher (moleculer.config.ts)");
	holder[INVALIDATIONS] ??= new Invalidations(broker.cacher);
	return holder[INVALIDATIONS];
}

/**
 * After a write: forgets the cached entries it changed and renews the stamps it touched, in
 * one round trip, and again (batched with every other write of this process) RECOUNT_GRACE_MS later.
 */
export function invalidate(broker: ServiceBroker, keys: readonly string[], stamps: readonly string[]): Promise<void> {
	return invalidationsOf(broker).now(keys, stamps);
}

/** Runs the pending second invalidations before the broker stops (nothing is left stale after a restart). */
export const InvalidationsMiddleware = {
	name: "Invalidations",
	async stopping(broker: ServiceBroker) {
		await (broker as ServiceBroker & { [INVALIDATIONS]?: Invalidations })[INVALIDATIONS]?.flush();
	}
};

/** The counts of ids, as an owner's facts provider answers them: cached per id, recounted in one query. */
export class CountsCache<T extends object, K extends number | string = number> {
	/**
	 * @param cacher  the broker's cacher
	 * @param prefix  the provider action answering these counts, e.g. "favorites.videoFacts"
	 * @param compute recounts the given ids from the owner's data (one query for all); an id it leaves out counts as `empty`
	 * @param empty   the counts of an id nothing counted yet
	 */
	constructor(
		private readonly cacher: Cacher,
		readonly prefix: string,
		private readonly compute: (ids: K[]) => Promise<Map<K, T>>,
		private readonly empty: T,
		private readonly ttlSeconds: number
	) {}

	key(id: K): string {
		return `${this.prefix}:${id}`;
	}

	/** The counts of every id: cached entries as they are, the rest recounted at once. */
	async get(ids: readonly K[]): Promise<Map<K, T>> {
		const result = new Map<K, T>();
		const cached = await cachedValues<T>(this.cacher, ids.map(id => this.key(id)));
		const missing: K[] = [];
		ids.forEach((id, i) => {
			const hit = cached[i];
			if (hit != null) result.set(id, hit);
			else missing.push(id);
		});
		if (missing.length > 0) {
			const fresh = await this.compute(missing);
			for (const id of missing) {
				const value = fresh.get(id) ?? this.empty;
				result.set(id, value);
				this.cacher.set(this.key(id), value, this.ttlSeconds).catch(() => undefined);
			}
		}
		return result;
	}

	/** The provider's answer: `{ [id]: counts }` for every id. */
	async facts(ids: readonly K[]): Promise<Facts<T>> {
		const counts = await this.get(ids);
		const facts: Record<string, T> = {};
		for (const id of ids) facts[String(id)] = counts.get(id)!;
		return facts as unknown as Facts<T>;
	}
}

/**
 * The counts cache of an owner that counts its own documents: each count name is the number
 * of documents of `collection()` (asked at count time: a service opens its collections when it
 * starts) whose `field` is the id, e.g. `{ favorite_count: "videoId" }`
 * on the likes; `filter` narrows what counts. One countBy query per count for a whole batch.
 */
export function countsOf<N extends string>(
	cacher: Cacher,
	prefix: string,
	collection: () => Collection<BaseDoc>,
	fields: Record<N, string>,
	ttlSeconds: number,
	filter?: Filter
): CountsCache<Record<N, number>> {
	const names = Object.keys(fields) as N[];
	const empty = Object.fromEntries(names.map(name => [name, 0])) as Record<N, number>;
	return new CountsCache<Record<N, number>>(
		cacher,
		prefix,
		async ids => {
			const counted = await Promise.all(names.map(name => collection().countBy(fields[name], ids, filter)));
			return new Map(ids.map(id => [id, Object.fromEntries(names.map((name, i) => [name, counted[i].get(id) ?? 0])) as Record<N, number>]));
		},
		empty,
		ttlSeconds
	);
}

/**
 * A viewer's yes/no fact about entities ("has viewer 7 liked video 12?"), cached per
 * (viewer, entity) pair, so a page costs one batched read whatever the viewer did before.
 */
export class ViewerFlags<F extends string> {
	/**
	 * @param cacher the broker's cacher
	 * @param prefix the provider action answering these flags, e.g. "favorites.videoFlags"
	 * @param field  the flag's name in the answer, e.g. "is_favorite"
	 * @param find   the ids among `ids` for which the fact holds for `viewerId` (one query)
	 */
	constructor(
		private readonly cacher: Cacher,
		readonly prefix: string,
		private readonly field: F,
		private readonly find: (viewerId: number, ids: number[]) => Promise<number[]>,
		private readonly ttlSeconds: number
	) {}

	key(viewerId: number, id: number): string {
		return `${this.prefix}:${viewerId}:${id}`;
	}

	/** The provider's answer: `{ [id]: { [field]: boolean } }` for every id. */
	async facts(viewerId: number, ids: readonly number[]): Promise<Facts<Record<F, boolean>>> {
		const facts: Record<number, Record<F, boolean>> = {};
		const cached = await cachedValues<Record<F, boolean>>(this.cacher, ids.map(id => this.key(viewerId, id)));
		const missing: number[] = [];
		ids.forEach((id, i) => {
			const hit = cached[i];
			if (hit != null) facts[id] = hit;
			else missing.push(id);
		});
		if (missing.length > 0) {
			const on = new Set(await this.find(viewerId, missing));
			for (const id of missing) {
				const value = { [this.field]: on.has(id) } as Record<F, boolean>;
				facts[id] = value;
				this.cacher.set(this.key(viewerId, id), value, this.ttlSeconds).catch(() => undefined);
			}
		}
		return facts;
	}
}
