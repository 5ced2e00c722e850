/**
 * Likes over HTTP, through the gateway, on the whole embedded system with real (ready)
 * videos. After every step every count the like touches is read back where the client
 * sees it: the video in the feed, the publish list and the favorite list; the liker's
 * favorite_count and the author's total_favorited in GET /douyin/user/.
 */
import type { Context } from "moleculer";
import { Client, codeOf } from "../helpers/client";
import { type System, startSystem } from "../helpers/system";
import { publishVideo } from "../helpers/videos";

jest.setTimeout(60000);

interface WireUser {
	id: number;
	favorite_count: number;
	total_favorited: number;
	[field: string]: unknown;
}
interface WireVideo {
	id: number;
	author: WireUser;
	favorite_count: number;
	comment_count: number;
	is_favorite: boolean;
}
interface Account {
	id: number;
	token: string;
}

let system: System;
let client: Client;
let alice: Account; // author of both videos
let bob: Account;
let carol: Account;
let v1: number;
let v2: number;
const events: { name: string; payload: unknown }[] = [];

beforeAll(async () => {
	// Listens to the events the services emit (on every node, so cluster mode too).
	const spy = {
		name: "favoritesSpy",
		events: {
			"favorite.*"(ctx: Context) {
				events.push({ name: ctx.eventName!, payload: ctx.params });
			}
		}
	};
	system = await startSystem({ extraServices: [spy] });
	client = new Client(system.url);
	[alice, bob, carol] = await Promise.all([client.register(), client.register(), client.register()]);
	v1 = await publishVideo(client, system.broker, alice.token, "first");
	v2 = await publishVideo(client, system.broker, alice.token, "second");
});
afterAll(() => system.stop());

const like = (who: Account, videoId: number, actionType: number | string = 1) =>
	client.post("/favorite/action/", { token: who.token, video_id: videoId, action_type: actionType });

async function user(id: number, viewer: Account = alice): Promise<WireUser> {
	const body = await client.get<{ user: WireUser }>("/user/", { user_id: id, token: viewer.token });
	expect(body.status_code).toBe(0);
	return body.user;
}

async function videoList(path: string, params: Record<string, string | number | undefined>): Promise<WireVideo[]> {
	const body = await client.get<{ video_list: WireVideo[] }>(path, params);
	expect(body).toMatchObject({ status_code: 0 });
	expect(Array.isArray(body.video_list)).toBe(true);
	return body.video_list;
}

function find(list: WireVideo[], id: number): WireVideo {
	const video = list.find(v => v.id === id);
	if (!video) throw new Error(`video ${id} is not in ${JSON.stringify(list.map(v => v.id))}`);
	return video;
}

/** The video as each viewer sees it in the feed and in its author's publish list. */
async function seenEverywhere(videoId: number, viewers: (Account | undefined)[]) {
	const seen: { viewer: number | undefined; where: string; video: WireVideo }[] = [];
	for (const viewer of viewers) {
		const token = viewer?.token;
		seen.push({ viewer: viewer?.id, where: "feed", video: find(await videoList("/feed/", { token }), videoId) });
		seen.push({ viewer: viewer?.id, where: "publish", video: find(await videoList("/publish/list/", { user_id: alice.id, token }), videoId) });
	}
	return seen;
}

/**
 * Asserts a video's favorite_count and who sees it liked, in the feed and the publish
 * list for every viewer, and in the favorite list of each liker for every viewer.
 */
async function expectVideo(videoId: number, favoriteCount: number, likers: Account[]) {
	const viewers = [alice, bob, carol, undefined];
	for (const { viewer, where, video } of await seenEverywhere(videoId, viewers)) {
		expect({ viewer, where, favorite_count: video.favorite_count, is_favorite: video.is_favorite }).toEqual({
			viewer,
			where,
			favorite_count: favoriteCount,
			is_favorite: likers.some(liker => liker.id === viewer)
		});
	}
	for (const liker of likers)
		for (const viewer of viewers) {
			const video = find(await videoList("/favorite/list/", { user_id: liker.id, token: viewer?.token }), videoId);
			expect({ viewer: viewer?.id, favorite_count: video.favorite_count, is_favorite: video.is_favorite }).toEqual({
				viewer: viewer?.id,
				favorite_count: favoriteCount,
				is_favorite: likers.some(l => l.id === viewer?.id)
			});
		}
}

/** Asserts likes given (favorite_count) and received (total_favorited) of every account. */
async function expectUsers(expected: [Account, { favorite_count: number; total_favorited: number }][]) {
	for (const [account, counts] of expected) {
		const seen = await user(account.id, carol);
		expect({ id: seen.id, favorite_count: seen.favorite_count, total_favorited: seen.total_favorited }).toEqual({ id: account.id, ...counts });
	}
}

async function favoriteIds(userId: number, token?: string): Promise<number[]> {
	return (await videoList("/favorite/list/", { user_id: userId, token })).map(v => v.id);
}

async function eventsSettled(count: number) {
	for (let i = 0; i < 50 && events.length < count; i++) await new Promise(resolve => setTimeout(resolve, 10));
	await new Promise(resolve => setTimeout(resolve, 20));
}

describe("favorite/action and favorite/list", () => {
	test("a fresh video and fresh users: every count 0, nothing liked, empty favorite lists", async () => {
		await expectVideo(v1, 0, []);
		await expectVideo(v2, 0, []);
		await expectUsers([
			[alice, { favorite_count: 0, total_favorited: 0 }],
			[bob, { favorite_count: 0, total_favorited: 0 }],
			[carol, { favorite_count: 0, total_favorited: 0 }]
		]);
		const body = await client.get("/favorite/list/", { user_id: bob.id });
		expect(body).toEqual({ status_code: 0, status_msg: "success", video_list: [] });
	});

	test("a like counts for the video, the liker and the author, and flags the video for the liker only", async () => {
		const body = await like(bob, v1);
		expect(body).toEqual({ status_code: 0, status_msg: "success" });
		await expectVideo(v1, 1, [bob]);
		await expectVideo(v2, 0, []);
		await expectUsers([
			[alice, { favorite_count: 0, total_favorited: 1 }],
			[bob, { favorite_count: 1, total_favorited: 0 }],
			[carol, { favorite_count: 0, total_favorited: 0 }]
		]);
		expect(await favoriteIds(bob.id)).toEqual([v1]);
		await eventsSettled(1);
		expect(events).toEqual([{ name: "favorite.added", payload: { userId: bob.id, videoId: v1, authorId: alice.id } }]);
	});

	test("liking again succeeds and counts once", async () => {
		expect(await like(bob, v1)).toMatchObject({ status_code: 0 });
		await expectVideo(v1, 1, [bob]);
		await expectUsers([
			[alice, { favorite_count: 0, total_favorited: 1 }],
			[bob, { favorite_count: 1, total_favorited: 0 }]
		]);
		await eventsSettled(2);
		expect(events).toHaveLength(1);
	});

	test("likes by several users and of several videos add up; the favorite list is newest like first", async () => {
		expect(await like(carol, v1)).toMatchObject({ status_code: 0 });
		expect(await like(bob, v2)).toMatchObject({ status_code: 0 });
		// The author may like her own video; it counts as given and as received.
		expect(await like(alice, v2)).toMatchObject({ status_code: 0 });
		await expectVideo(v1, 2, [bob, carol]);
		await expectVideo(v2, 2, [bob, alice]);
		await expectUsers([
			[alice, { favorite_count: 1, total_favorited: 4 }],
			[bob, { favorite_count: 2, total_favorited: 0 }],
			[carol, { favorite_count: 1, total_favorited: 0 }]
		]);
		expect(await favoriteIds(bob.id)).toEqual([v2, v1]);
		expect(await favoriteIds(bob.id, carol.token)).toEqual([v2, v1]);
		expect(await favoriteIds(carol.id)).toEqual([v1]);
	});

	test("the favorite list holds whole wire Videos with their author", async () => {
		const [first] = await videoList("/favorite/list/", { user_id: carol.id, token: bob.token });
		expect(first).toEqual({
			id: v1,
			author: expect.objectContaining({ id: alice.id, total_favorited: 4, favorite_count: 1, work_count: 2, is_follow: false }),
			play_url: expect.stringMatching(/^https?:\/\//),
			cover_url: expect.stringMatching(/^https?:\/\//),
			favorite_count: 2,
			comment_count: 0,
			is_favorite: true,
			title: "first"
		});
	});

	test("an unlike takes the like back everywhere; unliking again or what was never liked changes nothing", async () => {
		events.length = 0;
		expect(await like(bob, v1, 2)).toEqual({ status_code: 0, status_msg: "success" });
		await expectVideo(v1, 1, [carol]);
		await expectUsers([
			[alice, { favorite_count: 1, total_favorited: 3 }],
			[bob, { favorite_count: 1, total_favorited: 0 }],
			[carol, { favorite_count: 1, total_favorited: 0 }]
		]);
		expect(await favoriteIds(bob.id)).toEqual([v2]);

		expect(await like(bob, v1, 2)).toMatchObject({ status_code: 0 });
		expect(await like(carol, v2, 2)).toMatchObject({ status_code: 0 });
		await expectVideo(v1, 1, [carol]);
		await expectVideo(v2, 2, [bob, alice]);
		await expectUsers([
			[alice, { favorite_count: 1, total_favorited: 3 }],
			[bob, { favorite_count: 1, total_favorited: 0 }],
			[carol, { favorite_count: 1, total_favorited: 0 }]
		]);
		await eventsSettled(2);
		expect(events).toEqual([{ name: "favorite.removed", payload: { userId: bob.id, videoId: v1, authorId: alice.id } }]);
	});

	test("liking back after an unlike counts again and moves the video to the top of the list", async () => {
		expect(await like(bob, v1)).toMatchObject({ status_code: 0 });
		await expectVideo(v1, 2, [bob, carol]);
		expect(await favoriteIds(bob.id)).toEqual([v1, v2]);
		await expectUsers([
			[alice, { favorite_count: 1, total_favorited: 4 }],
			[bob, { favorite_count: 2, total_favorited: 0 }]
		]);
	});

	test("20 concurrent likes of one video by one user count once", async () => {
		const dave = await client.register();
		const answers = await Promise.all(Array.from({ length: 20 }, () => like(dave, v2)));
		expect(answers.map(a => a.status_code)).toEqual(Array(20).fill(0));
		await expectVideo(v2, 3, [bob, alice, dave]);
		await expectUsers([
			[dave, { favorite_count: 1, total_favorited: 0 }],
			[alice, { favorite_count: 1, total_favorited: 5 }]
		]);
		expect(await favoriteIds(dave.id)).toEqual([v2]);

		const unlikes = await Promise.all(Array.from({ length: 20 }, () => like(dave, v2, 2)));
		expect(unlikes.map(a => a.status_code)).toEqual(Array(20).fill(0));
		await expectVideo(v2, 2, [bob, alice]);
		await expectUsers([
			[dave, { favorite_count: 0, total_favorited: 0 }],
			[alice, { favorite_count: 1, total_favorited: 4 }]
		]);
	});

	test("parameters are also read from an urlencoded body", async () => {
		const body = await client.postForm("/favorite/action/", { token: carol.token, video_id: v2, action_type: 1 });
		expect(body).toMatchObject({ status_code: 0 });
		await expectVideo(v2, 3, [bob, alice, carol]);
		expect(await like(carol, v2, 2)).toMatchObject({ status_code: 0 });
	});
});

describe("bad requests answer HTTP 200 with a non-zero status_code and say what is wrong", () => {
	const failures: [string, () => Record<string, string | number | undefined>, RegExp][] = [
		["no token", () => ({ video_id: v1, action_type: 1 }), /token is required/],
		["an empty token", () => ({ token: "", video_id: v1, action_type: 1 }), /token is required/],
		["a forged token", () => ({ token: "not-a-token", video_id: v1, action_type: 1 }), /token is invalid/],
		["no action_type", () => ({ token: bob.token, video_id: v1 }), /'action_type'.*1 \(like\) or 2 \(unlike\)/],
		["action_type 0", () => ({ token: bob.token, video_id: v1, action_type: 0 }), /'action_type'.*1 \(like\) or 2 \(unlike\)/],
		["action_type 3", () => ({ token: bob.token, video_id: v1, action_type: 3 }), /'action_type'.*1 \(like\) or 2 \(unlike\)/],
		["action_type 1.5", () => ({ token: bob.token, video_id: v1, action_type: 1.5 }), /'action_type'.*1 \(like\) or 2 \(unlike\)/],
		["action_type like", () => ({ token: bob.token, video_id: v1, action_type: "like" }), /'action_type'.*1 \(like\) or 2 \(unlike\)/],
		["no video_id", () => ({ token: bob.token, action_type: 1 }), /'video_id' field is required/],
		["video_id abc", () => ({ token: bob.token, video_id: "abc", action_type: 1 }), /'video_id' field must be a number/],
		["video_id -1", () => ({ token: bob.token, video_id: -1, action_type: 1 }), /'video_id' field must be a positive number/],
		["an unknown video (like)", () => ({ token: bob.token, video_id: 987654, action_type: 1 }), /^video 987654 does not exist$/],
		["an unknown video (unlike)", () => ({ token: bob.token, video_id: 987654, action_type: 2 }), /^video 987654 does not exist$/]
	];

	test.each(failures)("favorite/action with %s", async (_name, params, message) => {
		const before = await user(alice.id);
		const body = await client.post("/favorite/action/", params());
		expect(body.status_code).toBe(codeOf(message));
		expect(body.status_msg).toMatch(message);
		const after = await user(alice.id);
		expect(after.total_favorited).toBe(before.total_favorited);
	});

	test.each([
		["no user_id", {}, /'user_id' field is required/],
		["user_id abc", { user_id: "abc" }, /'user_id' field must be a number/],
		["an unknown user", { user_id: 987654 }, /^user 987654 does not exist$/]
	])("favorite/list with %s", async (_name, params, message) => {
		const body = await client.get("/favorite/list/", params);
		expect(body.status_code).toBe(codeOf(message));
		expect(body.status_msg).toMatch(message);
		expect(body.video_list).toEqual([]);
	});

	test("favorite/list with a forged token is served anonymously", async () => {
		const list = await videoList("/favorite/list/", { user_id: bob.id, token: "forged" });
		expect(list.map(v => [v.id, v.is_favorite])).toEqual([
			[v1, false],
			[v2, false]
		]);
	});

	test("GET on favorite/action is refused with a message naming the method", async () => {
		const body = await client.get("/favorite/action/", { token: bob.token, video_id: v1, action_type: 1 });
		expect(body.status_code).not.toBe(0);
		expect(body.status_msg).toMatch(/use POST/);
	});
});
