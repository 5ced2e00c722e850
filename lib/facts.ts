/**
 * Facts: what other services know about an entity they do not own. Counts (a user's
 * follower count, a video's like count) are the same for everyone; flags (is_follow,
 * is_favorite) are the viewer's. The owner of the entity asks every provider ONCE per
 * page with all ids; each provider answers `{ [id]: { field: value } }`. Count providers
 * take `{ ids }`, flag providers `{ ids, viewerId }`. Adding a provider is one line in
 * the owner's settings; callers never change.
 *
 * Every provider keeps its answers in the broker's cacher under `<action>:<id>` (counts) or
 * `<action>:<viewerId>:<id>` (flags) (lib/counts-cache.ts). When a provider cannot answer
 * (its service is down, or its node died and the call timed out), `gatherFacts` reads its
 * last answers from there instead: the page is served with the counts the cache still
 * holds (the wire default, 0 or false, where it holds none) and is marked stale, so nobody
 * keeps it for long. It never fails a page.
 */
import type { Context, ServiceBroker } from "moleculer";
import { cachedValues } from "./counts-cache";
import { READ } from "./resilience";

export interface FactsParams {
	ids: number[];
	/** The user whose point of view flags take (flag providers only). */
	viewerId?: number;
}

export type Facts<F> = Record<number, Partial<F>>;

/** Facts gathered from every provider; `stale` when some came from the cache because a provider did not answer. */
export interface Gathered<F> {
	facts: Facts<F>;
	stale: boolean;
}

/** fastest-validator schema of a list of ids (one batched call takes at most 1000). */
export const idsSchema = { type: "array", items: { type: "number", integer: true, positive: true }, max: 1000 } as const;

/** fastest-validator schema of every count provider action. */
export const factsParamsSchema = { ids: idsSchema } as const;

/** fastest-validator schema of every flag provider action. */
export const flagsParamsSchema = { ids: idsSchema, viewerId: { type: "number", integer: true, positive: true } } as const;

/** How often a provider that does not answer is logged, at most. */
const WARN_EVERY_MS = 10_000;
const lastWarned = new Map<string, number>();

function warnOnce(broker: ServiceBroker, action: string, err: Error): void {
	const now = Date.now();
	if ((lastWarned.get(action) ?? 0) > now - WARN_EVERY_MS) return;
	lastWarned.set(action, now);
	broker.logger.warn(`${action} did not answer (${err.message}): serving its last cached facts (logged once per ${WARN_EVERY_MS / 1000} s)`);
}

/** A client's mistake stays an error; anything else (down, timed out, failing) falls back to the cache. */
function isOutage(err: Error & { code?: unknown; retryable?: boolean }): boolean {
	return err.retryable === true || typeof err.code !== "number" || err.code >= 500;
}

/** The provider's answers for these ids as its cache holds them. */
async function cachedFacts<F>(broker: ServiceBroker, action: string, params: FactsParams): Promise<Facts<F>> {
	if (!broker.cacher) return {};
	const keys = params.ids.map(id => (params.viewerId ? `${action}:${params.viewerId}:${id}` : `${action}:${id}`));
	const values = await cachedValues<Partial<F>>(broker.cacher, keys);
	const facts: Facts<F> = {};
	params.ids.forEach((id, i) => {
		if (values[i] != null) facts[id] = values[i];
	});
	return facts;
}

/** Calls every provider once, in parallel, and merges their answers per id. */
export async function gatherFacts<F>(ctx: Context, providers: readonly string[], params: FactsParams): Promise<Gathered<F>> {
	const merged: Facts<F> = {};
	if (params.ids.length === 0 || providers.length === 0) return { facts: merged, stale: false };
	let stale = false;
	const fallBack = (action: string, err: Error) => {
		warnOnce(ctx.broker, action, err);
		stale = true;
		return cachedFacts<F>(ctx.broker, action, params);
	};
	const answers = await Promise.all(
		providers.map(action =>
			// A provider with no live endpoint is not even asked (Moleculer would log every such call).
			ctx.broker.registry.getActionEndpoints(action)?.hasAvailable()
				? ctx.call<Facts<F>, FactsParams>(action, params, { timeout: READ.leaf() }).catch(async (err: Error) => {
						if (!isOutage(err)) throw err;
						return fallBack(action, err);
					})
				: fallBack(action, new Error("no live node runs it"))
		)
	);
	for (const answer of answers)
		for (const id in answer) {
			const into = merged[id as unknown as number];
			if (into) Object.assign(into, answer[id]);
			else merged[id as unknown as number] = { ...answer[id] };
		}
	return { facts: merged, stale };
}

/** The distinct positive ids of a list, in first-seen order. */
export function distinctIds(ids: Iterable<number>): number[] {
	return [...new Set(ids)];
}
