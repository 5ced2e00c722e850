/**
 * Monotonic clocks kept in a collection: `tick(clocks, key)` returns a millisecond
 * timestamp that is the current time, or one more than the last one handed out for
 * `key` when that is later. Timestamps of one key are therefore unique and strictly
 * increasing across concurrent callers and replicas (a compare-and-set loop on the
 * store), which keeps cursor paging exact: a feed or a chat poll keyed by time can
 * neither repeat nor skip an item, even when two were written in the same millisecond.
 */
import { type Collection, DuplicateKeyError } from "./types";

export interface ClockDoc {
	_id: string;
	t: number;
}

export const CLOCKS_COLLECTION = "clocks";

export async function tick(clocks: Collection<ClockDoc>, key: string, now = Date.now()): Promise<number> {
	for (;;) {
		const current = await clocks.findOne({ _id: key });
		if (!current) {
			try {
				await clocks.insert({ _id: key, t: now });
				return now;
			} catch (err) {
				if (err instanceof DuplicateKeyError) continue;
				throw err;
			}
		}
		const next = Math.max(now, current.t + 1);
		if (await clocks.updateOne({ _id: key, t: current.t }, { $set: { t: next } })) return next;
	}
}
