/**
 * How calls survive a dead replica, with Moleculer's own machinery:
 *
 * - A read the gateway calls (`idempotentRead`: the feed, profiles, lists) is retried once, on
 *   another replica when there is one (`RetryElsewhere`), so a call that went to a node that
 *   just died (no answer ever comes: a killed process says no goodbye) moves to a live
 *   replica after READ_TIMEOUT_MS instead of waiting out REQUEST_TIMEOUT_MS. So is a read
 *   between services that asks others in turn (`retriedRead`: users.getMany,
 *   videos.getMany). Writes are never retried.
 * - Timeouts nest, and the caller sets them (Moleculer gives a nested call its caller's
 *   remaining time, which would override the called action's own): READ_TIMEOUT_MS for the
 *   gateway's reads, `READ.inner()` (half of it) for users.getMany and videos.getMany,
 *   `READ.leaf()` (a quarter) for facts, flags, authorOf and assertExist, which are not
 *   retried: a facts call that times out falls back to the provider's cached answers
 *   (lib/facts.ts) at once. So each level gives up well within its caller's time, and a
 *   slow answer is never mistaken for a dead replica one level up.
 * - Retries draw on a budget per process (`retryBudget`): a burst of failures cannot
 *   multiply the load on what is left.
 * - The circuit breaker (moleculer.config.ts) stops sending to an endpoint whose calls
 *   keep failing, and heartbeats forget a node that stopped answering within seconds.
 * - A facts provider that cannot answer at all leaves its callers with its cached facts
 *   (lib/facts.ts), never an error.
 */
import { type Context, Strategies } from "moleculer";
import { config } from "./config";

/** Retries per second a process may make, and how many it may save up for a burst. */
const RETRIES_PER_SECOND = 50;
const RETRY_BURST = 100;

/** A token bucket of retries: `take` is false once the budget is spent. */
export class RetryBudget {
	private tokens: number;
	private last = Date.now();

	constructor(
		private readonly perSecond = RETRIES_PER_SECOND,
		private readonly burst = RETRY_BURST
	) {
		this.tokens = burst;
	}

	take(): boolean {
		const now = Date.now();
		this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
		this.last = now;
		if (this.tokens < 1) return false;
		this.tokens -= 1;
		return true;
	}
}

const budget = new RetryBudget();

/** The broker's retry check: a retryable error (timeout, node gone, not available), while the budget lasts. */
export function retryable(err: Error & { retryable?: boolean }): boolean {
	return err.retryable === true && budget.take();
}

/** Per-attempt timeouts of reads between services, for the caller to pass (`{ timeout: READ.leaf() }`). */
export const READ = {
	/** A read that asks other services in turn (users.getMany, videos.getMany). */
	inner: () => Math.floor(config().readTimeoutMs / 2),
	/** A read that asks nobody else (facts, flags, authorOf, assertExist). */
	leaf: () => Math.floor(config().readTimeoutMs / 4)
};

/**
 * Action schema keys of an idempotent read the gateway calls: its own per-attempt timeout and
 * Moleculer's retries (callers learn both from the registry, whatever node they run on).
 */
export function idempotentRead(): { timeout: number; retryPolicy: { enabled: true; retries: number } } {
	return { timeout: config().readTimeoutMs, retryPolicy: { enabled: true, retries: 1 } };
}

/** Action schema keys of an idempotent read between services that asks others in turn: retried once; the caller gives the timeout (READ.inner). */
export function retriedRead(): { retryPolicy: { enabled: true; retries: number } } {
	return { retryPolicy: { enabled: true, retries: 1 } };
}

type Endpoint = Parameters<Strategies.RoundRobin["select"]>[0][number];

/** Moleculer's round robin, except that a retry goes to another node than the one that just failed, when there is one. */
export class RetryElsewhere extends Strategies.RoundRobin {
	override select(list: Endpoint[], ctx?: Context): Endpoint {
		const retry = ctx as (Context & { _retryAttempts?: number }) | undefined;
		if (retry?._retryAttempts && list.length > 1) {
			const others = list.filter(endpoint => endpoint.id !== retry.nodeID);
			if (others.length > 0) return super.select(others);
		}
		return super.select(list);
	}
}
