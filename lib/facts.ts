/**
 * Facts: what other services know about an entity they do not own. Counts (a user's
 * follower count, a video's like count) are the same for everyone; flags (is_follow,
 * is_favorite) are the viewer's. The owner of the entity asks every provider ONCE per
 * page with all ids; each provider answers `{ [id]: { field: value } }`. Count providers
 * take `{ ids }`, flag providers `{ ids, viewerId }`. Adding a provider is one line in
 * the owner's settings; callers never change.
 */
import { LRUCache } from "lru-cache";
import type { Context } from "moleculer";

export interface FactsParams {
	ids: number[];
	/** The user whose point of view flags take (flag providers only). */
	viewerId?: number;
}

export type Facts<F> = Record<number, Partial<F>>;

const idsSchema = { type: "array", items: { type: "number", integer: true, positive: true }, max: 1000 } as const;

/** fastest-validator schema of every count provider action. */
export const factsParamsSchema = { ids: idsSchema } as const;

/** fastest-validator schema of every flag provider action. */
export const flagsParamsSchema = { ids: idsSchema, viewerId: { type: "number", integer: true, positive: true } } as const;

/** Calls every provider once, in parallel, and merges their answers per id. */
export async function gatherFacts<F>(ctx: Context, providers: readonly string[], params: FactsParams): Promise<Facts<F>> {
	const merged: Facts<F> = {};
	if (params.ids.length === 0 || providers.length === 0) return merged;
	const answers = await Promise.all(providers.map(action => ctx.call<Facts<F>, FactsParams>(action, params)));
	for (const answer of answers)
		for (const id in answer) {
			const into = merged[id as unknown as number];
			if (into) Object.assign(into, answer[id]);
			else merged[id as unknown as number] = answer[id];
		}
	return merged;
}

/** One viewer's flags about one entity, shared by every equal set; `code` numbers the distinct sets. */
export interface FlagSet<F> {
	values: Partial<F>;
	code: number;
}

/**
 * A consumer's copy of viewers' flags, asked of the flag providers only for ids it has
 * not seen since the viewer's stamp (STAMP.viewer) last changed. Every like, unlike,
 * follow or unfollow renews the viewer's stamp in the shared count store, so the copy is
 * never stale, on any replica; the caller reads the stamp before calling `get`.
 */
export class FlagsCopy<F> {
	private readonly viewers = new LRUCache<number, { stamp: string | null; flags: Map<number, FlagSet<F>> }>({ max: 20_000, ttl: 60_000 });
	/** The distinct flag sets seen (a handful: every combination of a few booleans). */
	private readonly sets = new Map<string, FlagSet<F>>();

	constructor(private readonly providers: readonly string[]) {}

	/** The flags of each id for the viewer, by id, when this replica knows them all for this stamp (no waiting); else undefined. */
	known(viewerId: number, stamp: string | null, ids: readonly number[]): Map<number, FlagSet<F>> | undefined {
		const copy = this.viewers.get(viewerId);
		if (!copy || copy.stamp !== stamp) return undefined;
		for (const id of ids) if (!copy.flags.has(id)) return undefined;
		return copy.flags;
	}

	/** The flags of each id for the viewer, by id. */
	async get(ctx: Context, viewerId: number, stamp: string | null, ids: readonly number[]): Promise<Map<number, FlagSet<F>>> {
		const known = this.known(viewerId, stamp, ids);
		if (known) return known;
		let copy = this.viewers.get(viewerId);
		if (!copy || copy.stamp !== stamp) this.viewers.set(viewerId, (copy = { stamp, flags: new Map() }));
		const missing = ids.filter(id => !copy.flags.has(id));
		if (missing.length > 0) {
			const facts = await gatherFacts<F>(ctx, this.providers, { ids: missing, viewerId });
			for (const id of missing) copy.flags.set(id, this.intern(facts[id] ?? {}));
		}
		return copy.flags;
	}

	private intern(values: Partial<F>): FlagSet<F> {
		const key = JSON.stringify(values);
		let set = this.sets.get(key);
		if (!set) this.sets.set(key, (set = { values, code: this.sets.size }));
		return set;
	}
}

/** The distinct positive ids of a list, in first-seen order. */
export function distinctIds(ids: Iterable<number>): number[] {
	return [...new Set(ids)];
}
