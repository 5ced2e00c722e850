/**
 * The gateway's rate limits (README, "Rate limits"), counted by rate-limiter-flexible: in
 * this process's memory in embedded mode, in Redis in a cluster, through the broker
 * cacher's own connection, so a limit holds across every `api` replica. Should Redis fail,
 * each replica goes on counting in memory (the insurance limiter) instead of refusing.
 */
import type { Redis } from "ioredis";
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import type { Config, RateLimit } from "./config";
import { rateLimited } from "./errors";

/** Who a login or a registration is counted against. */
export interface Requester {
	/** The client address (lib/http.ts clientAddress). */
	address: string;
	/** The username a login is for. */
	username?: string;
}

type LimitKey = keyof Config["rateLimits"];

/** What each limit counts, for its message. */
const WHAT: Record<LimitKey, string> = {
	loginPerUsername: "too many failed logins for this username",
	loginPerAddress: "too many failed logins from your address",
	registerPerAddress: "too many registrations from your address",
	writesPerUser: "too many likes, comments, follows, messages and uploads"
};

/** "37 seconds", "12 minutes": when to try again. */
function wait(ms: number): string {
	const seconds = Math.max(1, Math.ceil(ms / 1000));
	return seconds < 120 ? `${seconds} second${seconds === 1 ? "" : "s"}` : `${Math.ceil(seconds / 60)} minutes`;
}

/** A username as one account, whatever its case or width, and of bounded length (it is checked later). */
function usernameKey(username: string): string {
	return username.normalize("NFKC").trim().toLowerCase().slice(0, 64);
}

export class RateLimits {
	private readonly limiters = new Map<LimitKey, RateLimiterAbstract>();

	/** `redis`: the broker cacher's client in a cluster; null counts in memory. */
	constructor(cfg: Config, redis: Redis | null) {
		for (const [name, limit] of Object.entries(cfg.rateLimits) as [LimitKey, RateLimit | null][]) {
			if (!limit) continue;
			const options = { keyPrefix: `${cfg.namespace}-ratelimit-${name}`, points: limit.points, duration: limit.seconds };
			this.limiters.set(
				name,
				redis
					? new RateLimiterRedis({
							...options,
							storeClient: redis,
							// A key over its limit is refused from memory until its window ends: a flood costs no Redis call.
							inMemoryBlockOnConsumed: limit.points + 1,
							insuranceLimiter: new RateLimiterMemory(options)
						})
					: new RateLimiterMemory(options)
			);
		}
	}

	/** Counts a login attempt; refuses it (429) when the username or the address is over its limit. */
	login(who: Requester & { username: string }): Promise<void> {
		return this.consume([
			["loginPerUsername", usernameKey(who.username)],
			["loginPerAddress", who.address]
		]);
	}

	/** A login succeeded: its attempt is given back, so only failed logins count. */
	async loggedIn(who: Requester & { username: string }): Promise<void> {
		await Promise.all([
			this.limiters.get("loginPerUsername")?.reward(usernameKey(who.username)),
			this.limiters.get("loginPerAddress")?.reward(who.address)
		]);
	}

	/** Counts a registration attempt of the address. */
	register(who: Requester): Promise<void> {
		return this.consume([["registerPerAddress", who.address]]);
	}

	/** Counts a write of the user. */
	write(userId: number): Promise<void> {
		return this.consume([["writesPerUser", String(userId)]]);
	}

	private async consume(keys: [LimitKey, string][]): Promise<void> {
		const outcomes = await Promise.allSettled(keys.map(([name, key]) => this.limiters.get(name)?.consume(key)));
		let refused: { name: LimitKey; ms: number } | null = null;
		outcomes.forEach((outcome, i) => {
			if (outcome.status === "fulfilled") return;
			if (!(outcome.reason instanceof RateLimiterRes)) throw outcome.reason;
			if (!refused || outcome.reason.msBeforeNext > refused.ms) refused = { name: keys[i][0], ms: outcome.reason.msBeforeNext };
		});
		if (refused) {
			const { name, ms } = refused as { name: LimitKey; ms: number };
			throw rateLimited(`${WHAT[name]}: try again in ${wait(ms)}`, Math.max(1, Math.ceil(ms / 1000)));
		}
	}
}
