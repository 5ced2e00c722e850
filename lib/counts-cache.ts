/**
 * Derived counts, cached per entity: in process memory in embedded mode, in Redis in
 * cluster mode (so every replica sees an invalidation at once). A count is always
 * computed from the owner's data; the cache only saves the recount. A page reads all its
 * ids in ONE lookup (a Map walk, or one Redis MGET), not one cache call per id. The
 * writer deletes the entries its change touches right after the write, and once more a
 * moment later: a reader that counted just before the write and stores its result just
 * after the first delete would otherwise leave a stale count until the TTL.
 */
import { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import type { ServiceBroker } from "moleculer";
import { config } from "./config";
import { healthOf } from "./health";

/** Where cached counts live: batched reads and writes of JSON values. */
export interface CountStore {
	getMany(keys: string[]): Promise<(unknown | null)[]>;
	setMany(entries: [string, unknown][], ttlSeconds: number): Promise<void>;
	del(keys: string[]): Promise<void>;
}

/** Embedded mode: one process, so a bounded in-memory map is the whole cache. */
export class MemoryCountStore implements CountStore {
	private readonly cache = new LRUCache<string, object>({ max: 200_000, ttlAutopurge: false });

	async getMany(keys: string[]) {
		return keys.map(key => this.cache.get(key) ?? null);
	}

	async setMany(entries: [string, unknown][], ttlSeconds: number) {
		for (const [key, value] of entries) this.cache.set(key, value as object, { ttl: ttlSeconds * 1000 });
	}

	async del(keys: string[]) {
		for (const key of keys) this.cache.delete(key);
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

	async del(keys: string[]) {
		if (keys.length > 0) await this.redis.del(keys.map(key => this.prefix + key));
	}
}

let processStore: CountStore | null = null;
let processRedis: Redis | null = null;

/** The count store of this process, chosen by REDIS_URL. */
export function countStore(): CountStore {
	if (!processStore) {
		const cfg = config();
		if (cfg.redisUrl) {
			processRedis = new Redis(cfg.redisUrl, { maxRetriesPerRequest: 3 });
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

	/** Forgets the counts of these ids; call after every write that changes them. */
	async invalidate(ids: readonly K[]): Promise<void> {
		if (ids.length === 0) return;
		const keys = ids.map(id => this.key(id));
		await this.store.del(keys);
		setTimeout(() => void this.store.del(keys).catch(() => undefined), RECOUNT_GRACE_MS).unref();
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
	constructor(prefix: string, find: (viewerId: number, ids: number[]) => Promise<number[]>, store?: CountStore) {
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
			store
		);
	}

	/** The ids among `ids` for which the fact holds for the viewer (none when anonymous). */
	async get(viewerId: number | undefined, ids: readonly number[]): Promise<Set<number>> {
		if (!viewerId || ids.length === 0) return new Set();
		const flags = await this.cache.get(ids.map(id => `${viewerId}:${id}`));
		return new Set(ids.filter(id => flags.get(`${viewerId}:${id}`)?.on));
	}

	invalidate(viewerId: number, ids: readonly number[]): Promise<void> {
		return this.cache.invalidate(ids.map(id => `${viewerId}:${id}`));
	}
}
