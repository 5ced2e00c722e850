/**
 * Derived counts, cached per entity: in process memory in embedded mode, in Redis in
 * cluster mode (so every replica sees an invalidation at once). A count is always
 * computed from the owner's data; the cache only saves the recount. A page reads all its
 * ids in ONE lookup (a Map walk, or one Redis MGET), not one cache call per id. The
 * writer deletes the entries its change touches right after the write, and once more a
 * moment later: a reader that counted just before the write and stores its result just
 * after the first delete would otherwise leave a stale count until the TTL.
 *
 * Every invalidation also renews a change stamp (STAMP): `counts` for any count, and
 * `viewer:<id>` for a viewer's own flags. A service that keeps something it assembled
 * from other owners' counts or flags (the feed's pages) reads the stamps first, in one
 * lookup, and keeps its copy only while they are unchanged: no call to the owners, and
 * never stale, on any replica.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import type { ServiceBroker } from "moleculer";
import { config } from "./config";
import { healthOf } from "./health";

/** The change stamps: a stamp gets a value never seen before whenever what it covers changes. */
export const STAMP = {
	/** Any cached count (likes, comments, follows, works). */
	counts: "stamp:counts",
	/** The viewer's own flags: what they liked, whom they follow. */
	viewer: (viewerId: number) => `stamp:viewer:${viewerId}`
};

/** A stamp outlives every copy kept against it (those live a minute at most). */
const STAMP_TTL_SECONDS = 7 * 24 * 3600;

/** Where cached counts live: batched reads and writes of JSON values, and the change stamps. */
export interface CountStore {
	getMany(keys: string[]): Promise<(unknown | null)[]>;
	setMany(entries: [string, unknown][], ttlSeconds: number): Promise<void>;
	/** Deletes the keys and renews the stamps, in one round trip. */
	invalidate(keys: string[], stamps: string[]): Promise<void>;
	/** The stamps' values (null: never renewed, or long ago). */
	stamps(keys: string[]): Promise<(string | null)[]>;
}

/** Embedded mode: one process, so a bounded in-memory map is the whole cache. */
export class MemoryCountStore implements CountStore {
	private readonly cache = new LRUCache<string, object>({ max: 200_000, ttlAutopurge: false });
	/** Not in the LRU: an evicted stamp would read as an old value again. One per viewer who ever acted. */
	private readonly stampValues = new Map<string, string>();

	async getMany(keys: string[]) {
		return keys.map(key => this.cache.get(key) ?? null);
	}

	async setMany(entries: [string, unknown][], ttlSeconds: number) {
		for (const [key, value] of entries) this.cache.set(key, value as object, { ttl: ttlSeconds * 1000 });
	}

	async invalidate(keys: string[], stamps: string[]) {
		for (const key of keys) this.cache.delete(key);
		for (const stamp of stamps) this.stampValues.set(stamp, randomUUID());
	}

	async stamps(keys: string[]) {
		return keys.map(key => this.stampValues.get(key) ?? null);
	}
}

/** Cluster mode: Redis, shared by every replica; one round trip per batch. */
export class RedisCountStore implements CountStore {
	constructor(
		private readonly redis: Redis,
		private readonly prefix: string
	) {}

	async getMany(keys: string[]) {
		if (keys.length === 0) return [];
		const values = await this.redis.mget(keys.map(key => this.prefix + key));
		return values.map(value => (value == null ? null : (JSON.parse(value) as unknown)));
	}

	async setMany(entries: [string, unknown][], ttlSeconds: number) {
		if (entries.length === 0) return;
		const batch = this.redis.multi();
		for (const [key, value] of entries) batch.set(this.prefix + key, JSON.stringify(value), "EX", ttlSeconds);
		await batch.exec();
	}

	async invalidate(keys: string[], stamps: string[]) {
		const batch = this.redis.multi();
		if (keys.length > 0) batch.del(keys.map(key => this.prefix + key));
		for (const stamp of stamps) batch.set(this.prefix + stamp, randomUUID(), "EX", STAMP_TTL_SECONDS);
		await batch.exec();
	}

	async stamps(keys: string[]) {
		return keys.length === 0 ? [] : this.redis.mget(keys.map(key => this.prefix + key));
	}
}

let processStore: CountStore | null = null;
let processRedis: Redis | null = null;

/** The count store of this process, chosen by REDIS_URL. */
export function countStore(): CountStore {
	if (!processStore) {
		const cfg = config();
		if (cfg.redisUrl) {
			// Auto-pipelining: the reads of every request that arrived in the same tick go out in
			// one write and come back in one, instead of a round trip (two wake-ups) each.
			processRedis = new Redis(cfg.redisUrl, { maxRetriesPerRequest: 3, enableAutoPipelining: true });
			processStore = new RedisCountStore(processRedis, `${cfg.namespace}-counts:`);
		} else processStore = new MemoryCountStore();
	}
	return processStore;
}

/** Closes this process's Redis connection of the count store with the broker; checks it in /ready. */
export const CountStoreMiddleware = {
	name: "CountStore",
	async started(broker: ServiceBroker) {
		if (processRedis) healthOf(broker).register("counts", async () => void (await processRedis!.ping()));
	},
	async stopped() {
		await processRedis?.quit().catch(() => undefined);
		processRedis = null;
		processStore = null;
	}
};

/** Longer than any recount takes: the second delete comes after every racing reader stored. */
const RECOUNT_GRACE_MS = 1000;

export class CountsCache<T extends object, K extends number | string = number> {
	/**
	 * @param prefix  key prefix, `<service>.<what>`, e.g. "favorites.videoCounts"
	 * @param compute recounts the given ids from the owner's data (one query for all)
	 * @param store   where the counts are kept (default: this process's store)
	 */
	constructor(
		private readonly prefix: string,
		private readonly compute: (ids: K[]) => Promise<Map<K, T>>,
		private readonly store: CountStore = countStore(),
		private readonly ttlSeconds: number = config().countsCacheTtl
	) {}

	private key(id: K): string {
		return `${this.prefix}:${id}`;
	}

	/** The counts of every id: cached entries as they are, the rest recounted at once. */
	async get(ids: readonly K[]): Promise<Map<K, T>> {
		const result = new Map<K, T>();
		const cached = await this.store.getMany(ids.map(id => this.key(id)));
		const missing: K[] = [];
		ids.forEach((id, i) => {
			const hit = cached[i];
			if (hit != null) result.set(id, hit as T);
			else missing.push(id);
		});
		if (missing.length > 0) {
			const fresh = await this.compute(missing);
			const entries: [string, T][] = [];
			for (const id of missing) {
				const value = fresh.get(id);
				if (value === undefined) continue;
				result.set(id, value);
				entries.push([this.key(id), value]);
			}
			await this.store.setMany(entries, this.ttlSeconds);
		}
		return result;
	}

	/** Forgets the counts of these ids and renews the stamps (default: STAMP.counts); call after every write that changes them. */
	async invalidate(ids: readonly K[], stamps: string[] = [STAMP.counts]): Promise<void> {
		if (ids.length === 0) return;
		const keys = ids.map(id => this.key(id));
		await this.store.invalidate(keys, stamps);
		setTimeout(() => void this.store.invalidate(keys, stamps).catch(() => undefined), RECOUNT_GRACE_MS).unref();
	}
}

/**
 * Cached yes/no facts of a viewer about entities ("has viewer 7 liked video 12?"), one
 * entry per (viewer, entity) pair, so a page costs one batched read whatever the viewer
 * has done before; the writer invalidates the pairs it changes.
 */
export class ViewerFlags {
	private readonly cache: CountsCache<{ on: boolean }, string>;

	/** @param find the ids among `ids` for which the fact holds for `viewerId` (one query) */
	constructor(prefix: string, find: (viewerId: number, ids: number[]) => Promise<number[]>, store?: CountStore, ttlSeconds?: number) {
		this.cache = new CountsCache<{ on: boolean }, string>(
			prefix,
			async pairs => {
				const byViewer = new Map<number, number[]>();
				for (const pair of pairs) {
					const [viewerId, id] = pair.split(":").map(Number);
					byViewer.set(viewerId, [...(byViewer.get(viewerId) ?? []), id]);
				}
				const result = new Map<string, { on: boolean }>();
				for (const [viewerId, ids] of byViewer) {
					const on = new Set(await find(viewerId, ids));
					for (const id of ids) result.set(`${viewerId}:${id}`, { on: on.has(id) });
				}
				return result;
			},
			store,
			ttlSeconds
		);
	}

	/** The ids among `ids` for which the fact holds for the viewer (none when anonymous). */
	async get(viewerId: number | undefined, ids: readonly number[]): Promise<Set<number>> {
		if (!viewerId || ids.length === 0) return new Set();
		const flags = await this.cache.get(ids.map(id => `${viewerId}:${id}`));
		return new Set(ids.filter(id => flags.get(`${viewerId}:${id}`)?.on));
	}

	/** Forgets the viewer's flags about these ids and renews the viewer's stamp. */
	invalidate(viewerId: number, ids: readonly number[]): Promise<void> {
		return this.cache.invalidate(
			ids.map(id => `${viewerId}:${id}`),
			[STAMP.viewer(viewerId)]
		);
	}
}
