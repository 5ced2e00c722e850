/**
 * Answers that never change once given, remembered by the process that asked: the author
 * of a ready video (a video never changes author and a ready one never goes back), the
 * existence of a user (nothing in the API deletes an account). A write that needs one
 * (a like needs the video's author) asks its owner once, not on every write; a refusal
 * (not found) is never remembered, so a video that becomes ready later is seen then.
 */
import { LRUCache } from "lru-cache";
import type { Context } from "moleculer";
import { READ } from "./resilience";

export class Known<V extends object> {
	private readonly values: LRUCache<number, V>;

	/** @param ask the owner's answer for one id (throws when there is none) */
	constructor(
		private readonly ask: (ctx: Context, id: number) => Promise<V>,
		max = 100_000
	) {
		this.values = new LRUCache({ max });
	}

	async get(ctx: Context, id: number): Promise<V> {
		const known = this.values.get(id);
		if (known) return known;
		const value = await this.ask(ctx, id);
		this.values.set(id, value);
		return value;
	}
}

/** The author of a ready video (videos.authorOf: NOT_FOUND when there is no such ready video). */
export function knownAuthors(): Known<{ authorId: number }> {
	return new Known((ctx, id) => ctx.call<{ authorId: number }, { id: number }>("videos.authorOf", { id }, { timeout: READ.leaf() }));
}

/** That a user exists (users.assertExist: NOT_FOUND "user N does not exist" otherwise). */
export function knownUsers(): Known<object> {
	return new Known((ctx, id) => ctx.call<object, { ids: number[] }>("users.assertExist", { ids: [id] }, { timeout: READ.leaf() }));
}
