/**
 * The benchmark's data, put in through the HTTP API as the app would: 30 authors, each
 * publishing the test fixture MP4 (waited for until the transcoder made it ready), one
 * viewer, and a few likes, follows and comments so that every count on the feed is not 0.
 */
import fs from "node:fs";
import path from "node:path";
import { log, sleep, until } from "./procs";

export const FIXTURE_MP4 = path.join(__dirname, "..", "..", "test", "fixtures", "bear.mp4");

interface Envelope {
	status_code: number;
	status_msg?: string;
	[field: string]: unknown;
}

export interface Account {
	id: number;
	token: string;
	name: string;
}

export interface Seeded {
	authors: Account[];
	viewer: Account;
	/** videoIds[i] is the video of authors[i]. */
	videoIds: number[];
	/** What the seed joined, as [account, target] indexes (account n is the viewer; targets index authors and their videos). */
	social: { likes: [number, number][]; follows: [number, number][] };
}

type Params = Record<string, string | number>;

async function call(base: string, method: "GET" | "POST", endpoint: string, params: Params, body?: FormData): Promise<Envelope> {
	const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)] as [string, string])).toString();
	const res = await fetch(`${base}/douyin${endpoint}${query ? `?${query}` : ""}`, { method, body, signal: AbortSignal.timeout(30000) });
	const text = await res.text();
	if (res.status !== 200) throw new Error(`${method} ${endpoint}: HTTP ${res.status}: ${text.slice(0, 200)}`);
	return JSON.parse(text) as Envelope;
}

async function ok(base: string, method: "GET" | "POST", endpoint: string, params: Params, body?: FormData): Promise<Envelope> {
	const answer = await call(base, method, endpoint, params, body);
	if (answer.status_code !== 0) throw new Error(`${method} ${endpoint}: status_code ${answer.status_code}: ${answer.status_msg}`);
	return answer;
}

export const api = { call, ok };

async function register(base: string, name: string): Promise<Account> {
	const answer = await ok(base, "POST", "/user/register/", { username: name, password: "bench-secret" });
	return { id: answer.user_id as number, token: answer.token as string, name };
}

/** Runs `work` over `items` with at most `limit` at a time, in order of the items. */
async function pool<T, R>(items: T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
	const results: R[] = new Array(items.length);
	let next = 0;
	await Promise.all(
		Array.from({ length: Math.min(limit, items.length) }, async () => {
			while (next < items.length) {
				const index = next++;
				results[index] = await work(items[index], index);
			}
		})
	);
	return results;
}

export async function seed(base: string, runId: string, options: { authors: number; timeoutMs: number }): Promise<Seeded> {
	const started = Date.now();
	const fixture = fs.readFileSync(FIXTURE_MP4);
	const authors = await pool(
		Array.from({ length: options.authors }, (_, i) => `b${runId}a${i}`),
		4,
		name => register(base, name)
	);
	const viewer = await register(base, `b${runId}viewer`);
	log(`seed: ${authors.length} authors and a viewer registered (${Date.now() - started} ms)`);

	// One upload at a time per author, a few authors at once; the transcoder works them off in order.
	const videoIds = await pool(authors, 4, async (author, i) => {
		const form = new FormData();
		form.append("data", new Blob([new Uint8Array(fixture)], { type: "video/mp4" }), "bear.mp4");
		form.append("token", author.token);
		form.append("title", `bench video ${i + 1} by ${author.name}`);
		const answer = await ok(base, "POST", "/publish/action/", {}, form);
		return answer.video_id as number;
	});
	log(`seed: ${videoIds.length} videos uploaded (${Date.now() - started} ms); waiting for the transcoder`);

	const deadline = started + options.timeoutMs;
	const pending = new Set(authors.map((_, i) => i));
	while (pending.size > 0) {
		for (const i of [...pending]) {
			const list = await ok(base, "GET", "/publish/list/", { user_id: authors[i].id, token: viewer.token });
			if ((list.video_list as { id: number }[]).some(video => video.id === videoIds[i])) pending.delete(i);
		}
		if (pending.size === 0) break;
		if (Date.now() > deadline) throw new Error(`seed: ${pending.size} videos not ready after ${options.timeoutMs} ms`);
		await sleep(500);
	}
	log(`seed: every video ready (${Date.now() - started} ms)`);

	// Counts that are not 0: the viewer likes a third of the videos and follows a third of the
	// authors; each of the first ten authors likes and comments on the next author's video and follows them.
	const third = Math.max(1, Math.floor(authors.length / 3));
	const social: Promise<unknown>[] = [];
	const joined: Seeded["social"] = { likes: [], follows: [] };
	for (let i = 0; i < third; i++) {
		const next = (i + 1) % authors.length;
		joined.likes.push([authors.length, i], [i, next]);
		joined.follows.push([authors.length, i], [i, next]);
		social.push(ok(base, "POST", "/favorite/action/", { token: viewer.token, video_id: videoIds[i], action_type: 1 }));
		social.push(ok(base, "POST", "/relation/action/", { token: viewer.token, to_user_id: authors[i].id, action_type: 1 }));
		social.push(ok(base, "POST", "/favorite/action/", { token: authors[i].token, video_id: videoIds[next], action_type: 1 }));
		social.push(ok(base, "POST", "/relation/action/", { token: authors[i].token, to_user_id: authors[next].id, action_type: 1 }));
		social.push(
			ok(base, "POST", "/comment/action/", { token: authors[i].token, video_id: videoIds[next], action_type: 1, comment_text: "nice one" })
		);
	}
	await Promise.all(social);
	log(`seed: likes, follows and comments added (${Date.now() - started} ms)`);
	return { authors, viewer, videoIds, social: joined };
}

/** The feed as the viewer sees it, once it holds every seeded video by distinct authors with non-zero counts. */
export async function readyFeed(base: string, seeded: Seeded, timeoutMs: number): Promise<{ body: string; videos: number }> {
	return until(
		"the feed to show every seeded video",
		async () => {
			const res = await fetch(`${base}/douyin/feed/?token=${seeded.viewer.token}`, { signal: AbortSignal.timeout(10000) });
			const body = await res.text();
			const feed = JSON.parse(body) as { status_code: number; video_list: { id: number; favorite_count: number; author: { id: number; follower_count: number } }[] };
			if (feed.status_code !== 0) throw new Error(`feed status_code ${feed.status_code}`);
			const ids = new Set(feed.video_list.map(video => video.id));
			const authors = new Set(feed.video_list.map(video => video.author.id));
			if (!seeded.videoIds.every(id => ids.has(id))) throw new Error(`feed has ${ids.size} videos, not every seeded one`);
			if (authors.size !== seeded.authors.length) throw new Error(`feed has ${authors.size} distinct authors`);
			if (!feed.video_list.some(video => video.favorite_count > 0) || !feed.video_list.some(video => video.author.follower_count > 0))
				throw new Error("feed counts are still 0");
			return { body, videos: feed.video_list.length };
		},
		timeoutMs
	);
}
