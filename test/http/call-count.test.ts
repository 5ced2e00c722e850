/**
 * Lists are assembled with a fixed number of batched calls, never one per item
 * (DESIGN.md §2): every call made while answering one HTTP request is counted by a
 * broker middleware, and a page of 30 costs exactly what a page of 1 costs.
 */
import { RECOUNT_GRACE_MS, STAMP, invalidate } from "../../lib/counts-cache";
import { CallCounter } from "../helpers/call-counter";
import { Client } from "../helpers/client";
import { type System, startSystem } from "../helpers/system";
import { publishVideo } from "../helpers/videos";

jest.setTimeout(180000);

const PAGE = 30;

interface FeedPage {
	video_list: { is_favorite: boolean; comment_count: number; favorite_count: number }[];
}
interface CommentPage {
	comment_list: unknown[];
}

const counter = new CallCounter();
let system: System;
let client: Client;
let viewer: { id: number; token: string };
let sequence = 0;

beforeAll(async () => {
	system = await startSystem({ middlewares: [counter.middleware] });
	client = new Client(system.url);
	viewer = await client.register();
});
afterAll(() => system.stop());

interface Measured<T> {
	body: T & { status_code: number };
	/** Calls per action name (`call` hook). */
	calls: Record<string, number>;
	/** Action runs per action name (`localAction` hook). */
	runs: Record<string, number>;
	total: number;
}

/** Sends one GET with its own request id; returns the body and how often each action was called. */
async function measure<T>(path: string, params: Record<string, string | number>): Promise<Measured<T>> {
	const requestID = `measured-${++sequence}`;
	const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)] as [string, string])).toString();
	const res = await client.raw(`/douyin${path}?${query}`, { headers: { "X-Request-ID": requestID } });
	expect(res.status).toBe(200);
	const body = (await res.json()) as T & { status_code: number };
	expect(body.status_code).toBe(0);
	const calls = counter.tally(requestID, "call");
	const runs = counter.tally(requestID, "localAction");
	const total = Object.values(calls).reduce((sum, n) => sum + n, 0);
	return { body, calls, runs, total };
}

/**
 * As right after a write that changed every count and the viewer's flags: every change stamp
 * renewed, so whatever a replica kept is assembled anew (the counts themselves stay cached).
 * Comparing two pages in this same state compares what their size costs, nothing else.
 */
async function afterAnyWrite(): Promise<void> {
	await invalidate(system.broker, [], [STAMP.videos, STAMP.users, STAMP.viewer(viewer.id)]);
}

/** Registers `count` users who each publish one video and get one like and one comment from the viewer. */
async function authorsWithVideos(count: number): Promise<number[]> {
	const ids: number[] = [];
	for (let i = 0; i < count; i++) {
		const author = await client.register();
		const videoId = await publishVideo(client, system.broker, author.token, `video ${i}`);
		expect(await client.post("/favorite/action/", { token: viewer.token, video_id: videoId, action_type: 1 })).toMatchObject({ status_code: 0 });
		expect(await client.post("/comment/action/", { token: author.token, video_id: videoId, action_type: 1, comment_text: `by ${i}` })).toMatchObject({
			status_code: 0
		});
		ids.push(videoId);
	}
	return ids;
}

describe("the number of calls per request does not grow with the page", () => {
	let one: Measured<FeedPage>;
	let many: Measured<FeedPage>;
	let firstVideo: number;

	test("a feed page of 1 video", async () => {
		[firstVideo] = await authorsWithVideos(1);
		await afterAnyWrite();
		one = await measure<FeedPage>("/feed/", { token: viewer.token });
		expect(one.body.video_list).toHaveLength(1);
	});

	test(`a feed page of ${PAGE} videos by ${PAGE} authors costs the same small constant`, async () => {
		await authorsWithVideos(PAGE - 1);
		await afterAnyWrite();
		many = await measure<FeedPage>("/feed/", { token: viewer.token });
		const list = many.body.video_list;
		expect(list).toHaveLength(PAGE);
		expect(list.every(v => v.is_favorite && v.favorite_count === 1 && v.comment_count === 1)).toBe(true);

		// Right after writes, the feed head and the viewer's flags are assembled anew: the gateway's call, the authors, one call per count
		// provider of videos and of users, and one per flag provider.
		expect(many.calls).toEqual({
			"videos.feed": 1,
			"users.getMany": 1,
			"favorites.videoFacts": 1,
			"comments.videoFacts": 1,
			"videos.userFacts": 1,
			"favorites.userFacts": 1,
			"relations.userFacts": 1,
			"favorites.videoFlags": 1,
			"relations.userFlags": 1
		});
		expect(many.total).toBeLessThanOrEqual(10);
		expect(many.calls).toEqual(one.calls);
		expect(many.runs).toEqual(one.runs);
	});

	/** Lets the writes' second invalidation (one to two grace periods after each write) pass, and the feed be assembled again. */
	async function settle() {
		await new Promise(resolve => setTimeout(resolve, 2 * RECOUNT_GRACE_MS + 300));
		await measure<FeedPage>("/feed/", { token: viewer.token });
	}

	test("while nothing changes, a feed page costs no call: the gateway answers from its copy", async () => {
		await settle();
		const again = await measure<FeedPage>("/feed/", { token: viewer.token });
		expect(again.body).toEqual(many.body);
		expect(again.calls).toEqual({});
		// The same page asked for as the APK does (latest_time: now, in ms), or in seconds.
		const now = await measure<FeedPage>("/feed/", { token: viewer.token, latest_time: Date.now() });
		const seconds = await measure<FeedPage>("/feed/", { token: viewer.token, latest_time: Math.ceil(Date.now() / 1000) });
		expect([now.body, seconds.body]).toEqual([many.body, many.body]);
		expect([now.calls, seconds.calls]).toEqual([{}, {}]);
		// Another viewer's page is not this one. It is asked of videos.feed until kept: twice, as the
		// first request finds no stamp for the new viewer (it only creates one), so keeps nothing.
		const other = await client.register();
		const first = await measure<FeedPage>("/feed/", { token: other.token });
		expect(first.calls).toEqual({ "videos.feed": 1, "favorites.videoFlags": 1, "relations.userFlags": 1 });
		expect(first.body.video_list.every(video => !video.is_favorite)).toBe(true);
		expect((await measure<FeedPage>("/feed/", { token: other.token })).calls).toEqual({ "videos.feed": 1 });
		expect((await measure<FeedPage>("/feed/", { token: other.token })).calls).toEqual({});
	});

	test("someone else's like changes the counts but not the viewer's flags", async () => {
		const other = await client.register();
		await settle();
		const [, second] = many.body.video_list as unknown as { id: number }[];
		expect(await client.post("/favorite/action/", { token: other.token, video_id: second.id, action_type: 1 })).toMatchObject({ status_code: 0 });
		const after = await measure<FeedPage>("/feed/", { token: viewer.token });
		expect(after.body.video_list[1]).toMatchObject({ favorite_count: 2, is_favorite: true });
		expect(after.calls["favorites.videoFlags"]).toBeUndefined();
		expect(after.calls["relations.userFlags"]).toBeUndefined();
		expect(after.calls["users.getMany"]).toBe(1);
	});

	test("the viewer's own unlike is in the very next page", async () => {
		const [first] = many.body.video_list as unknown as { id: number }[];
		expect(await client.post("/favorite/action/", { token: viewer.token, video_id: first.id, action_type: 2 })).toMatchObject({ status_code: 0 });
		const after = await measure<FeedPage>("/feed/", { token: viewer.token });
		expect(after.body.video_list[0]).toMatchObject({ favorite_count: 0, is_favorite: false });
		expect(after.calls["favorites.videoFlags"]).toBe(1);
		expect(await client.post("/favorite/action/", { token: viewer.token, video_id: first.id, action_type: 1 })).toMatchObject({ status_code: 0 });
	});

	test(`a favorite list of 1 and of ${PAGE} videos costs the same`, async () => {
		const liker = await client.register();
		expect(await client.post("/favorite/action/", { token: liker.token, video_id: firstVideo, action_type: 1 })).toMatchObject({ status_code: 0 });
		await afterAnyWrite();
		const small = await measure<FeedPage>("/favorite/list/", { user_id: liker.id, token: viewer.token });
		expect(small.body.video_list).toHaveLength(1);
		await afterAnyWrite();
		const large = await measure<FeedPage>("/favorite/list/", { user_id: viewer.id, token: viewer.token });
		expect(large.body.video_list).toHaveLength(PAGE);
		expect(large.calls["videos.getMany"]).toBe(1);
		expect(large.calls["users.getMany"]).toBe(1);
		expect(large.calls).toEqual(small.calls);
	});

	test(`a comment list of 1 and of ${PAGE} comments by ${PAGE} users costs the same`, async () => {
		await afterAnyWrite();
		const small = await measure<CommentPage>("/comment/list/", { video_id: firstVideo, token: viewer.token });
		expect(small.body.comment_list).toHaveLength(1);
		for (let i = 1; i < PAGE; i++) {
			const commenter = await client.register();
			expect(
				await client.post("/comment/action/", { token: commenter.token, video_id: firstVideo, action_type: 1, comment_text: `#${i}` })
			).toMatchObject({ status_code: 0 });
		}
		await afterAnyWrite();
		const large = await measure<CommentPage>("/comment/list/", { video_id: firstVideo, token: viewer.token });
		expect(large.body.comment_list).toHaveLength(PAGE);
		expect(large.calls["users.getMany"]).toBe(1);
		expect(large.calls).toEqual(small.calls);
	});
});
