/**
 * Derived counts, cached per entity in the broker's cacher (memory in embedded mode,
 * Redis in cluster mode, so every replica sees an invalidation at once). A count is
 * always computed from the owner's data; the cache only saves the recount, and the
 * writer deletes the entries its change touches right after the write, and once more a
 * moment later: a reader that counted just before the write and stores its result just
 * after the first delete would otherwise leave a stale count until the TTL.
 */
/** The part of Moleculer's cacher this uses (memory and Redis cachers both have it). */
export interface Cacher {
	get(key: string): Promise<unknown>;
	set(key: string, data: unknown, ttl?: number): Promise<unknown>;
	del(key: string | string[]): Promise<unknown>;
}

/** Longer than any recount takes: the second delete comes after every racing reader stored. */
const RECOUNT_GRACE_MS = 1000;

export class CountsCache<T extends object> {
	/**
	 * @param cacher  the broker's cacher (null disables caching)
	 * @param prefix  key prefix, `<service>.<what>`, e.g. "favorites.videoCounts"
	 * @param compute recounts the given ids from the owner's data (one query for all)
	 */
	constructor(
		private readonly cacher: Cacher | null | undefined,
		private readonly prefix: string,
		private readonly compute: (ids: number[]) => Promise<Map<number, T>>
	) {}

	private key(id: number): string {
		return `${this.prefix}:${id}`;
	}

	/** The counts of every id: cached entries as they are, the rest recounted at once. */
	async get(ids: readonly number[]): Promise<Map<number, T>> {
		const result = new Map<number, T>();
		const cacher = this.cacher;
		if (!cacher) return this.compute([...ids]);
		const cached = await Promise.all(ids.map(id => cacher.get(this.key(id)) as Promise<T | null>));
		const missing: number[] = [];
		ids.forEach((id, i) => {
			const hit = cached[i];
			if (hit != null) result.set(id, hit);
			else missing.push(id);
		});
		if (missing.length > 0) {
			const fresh = await this.compute(missing);
			await Promise.all(
				missing.map(id => {
					const value = fresh.get(id);
					if (value === undefined) return undefined;
					result.set(id, value);
					return cacher.set(this.key(id), value);
				})
			);
		}
		return result;
	}

	/** Forgets the counts of these ids; call after every write that changes them. */
	async invalidate(ids: readonly number[]): Promise<void> {
		const cacher = this.cacher;
		if (!cacher || ids.length === 0) return;
		const keys = ids.map(id => this.key(id));
		await cacher.del(keys);
		setTimeout(() => void cacher.del(keys).catch(() => undefined), RECOUNT_GRACE_MS).unref();
	}
}
