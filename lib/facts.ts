/**
 * Facts: what other services know about an entity they do not own (a user's follower
 * count, a video's like count, whether the viewer liked it). The owner of the entity
 * asks every provider ONCE per page with all ids; each provider answers
 * `{ [id]: { field: value } }`. Adding a provider is one line in the owner's settings;
 * callers never change.
 */
import type { Context } from "moleculer";

export interface FactsParams {
	ids: number[];
	/** The user whose point of view the flags (is_follow, is_favorite) take; absent = anonymous. */
	viewerId?: number;
}

export type Facts<F> = Record<number, Partial<F>>;

/** fastest-validator schema shared by every facts provider action. */
export const factsParamsSchema = {
	ids: { type: "array", items: { type: "number", integer: true, positive: true }, max: 1000 },
	viewerId: { type: "number", integer: true, positive: true, optional: true }
} as const;

/** Calls every provider once, in parallel, and merges their answers per id. */
export async function gatherFacts<F>(ctx: Context, providers: readonly string[], params: FactsParams): Promise<Facts<F>> {
	const merged: Facts<F> = {};
	if (params.ids.length === 0 || providers.length === 0) return merged;
	const answers = await Promise.all(providers.map(action => ctx.call<Facts<F>, FactsParams>(action, params)));
	for (const answer of answers)
		for (const [id, facts] of Object.entries(answer)) merged[Number(id)] = { ...merged[Number(id)], ...facts };
	return merged;
}

/** The distinct positive ids of a list, in first-seen order. */
export function distinctIds(ids: Iterable<number>): number[] {
	return [...new Set(ids)];
}
