/**
 * Comments over HTTP, through the gateway, on the whole embedded system with real
 * (ready) videos: posting, listing, deleting, the text rules, and comment_count wherever
 * the client sees the video (feed, publish list, favorite list) after every step.
 */
import type { Context } from "moleculer";
import { Client, codeOf } from "../helpers/client";
import { type System, startSystem } from "../helpers/system";
import { publishVideo } from "../helpers/videos";

jest.setTimeout(60000);

/** Small enough to test both sides of the limit cheaply. */
const MAX_CHARS = 20;

interface WireUser {
	id: number;
	name: string;
	[field: string]: unknown;
}
interface WireComment {
	id: number;
	user: WireUser;
	content: string;
	create_date: string;
}
interface WireVideo {
	id: number;
	comment_count: number;
	favorite_count: number;
}
interface Account {
	id: number;
	token: string;
	username: string;
}

let system: System;
let client: Client;
let alice: Account; // author of the videos
let bob: Account;
let carol: Account;
let v1: number;
let v2: number;
const events: { name: string; payload: unknown }[] = [];

beforeAll(async () => {
	// Listens to the events the services emit (on every node, so cluster mode too).
	const spy = {
		name: "commentsSpy",
		events: {
			"comment.*"(ctx: Context) {
				events.push({ name: ctx.eventName!, payload: ctx.params });
			}
		}
	};
	system = await startSystem({ env: { MAX_COMMENT_CHARS: String(MAX_CHARS) }, extraServices: [spy] });
	client = new Client(system.url);
	[alice, bob, carol] = await Promise.all([client.register(), client.register(), client.register()]);
	v1 = await publishVideo(client, system.broker, alice.token, "first");
	v2 = await publishVideo(client, system.broker, alice.token, "second");
	// So both videos show in carol's favorite list, where comment_count is checked too.
	for (const video of [v1, v2])
		expect(await client.post("/favorite/action/", { token: carol.token, video_id: video, action_type: 1 })).toMatchObject({ status_code: 0 });
});
afterAll(() => system.stop());

const post = (who: Account, videoId: number, text: string | undefined) =>
	client.post<{ comment: WireComment }>("/comment/action/", { token: who.token, video_id: videoId, action_type: 1, comment_text: text });
const remove = (who: Account, videoId: number, commentId: number | undefined) =>
	client.post("/comment/action/", { token: who.token, video_id: videoId, action_type: 2, comment_id: commentId });

async function comments(videoId: number, token?: string): Promise<WireComment[]> {
	const body = await client.get<{ comment_list: WireComment[] }>("/comment/list/", { video_id: videoId, token });
	expect(body).toMatchObject({ status_code: 0 });
	expect(Array.isArray(body.comment_list)).toBe(true);
	return body.comment_list;
}

async function videoList(path: string, params: Record<string, string | number | undefined>): Promise<WireVideo[]> {
	const body = await client.get<{ video_list: WireVideo[] }>(path, params);
	expect(body).toMatchObject({ status_code: 0 });
	return body.video_list;
}

/** comment_count of a video in the feed, the publish list and the favorite list, for a logged-in and an anonymous viewer. */
async function expectCommentCount(videoId: number, count: number) {
	for (const token of [bob.token, undefined]) {
		const lists = {
			feed: await videoList("/feed/", { token }),
			publish: await videoList("/publish/list/", { user_id: alice.id, token }),
			favorite: await videoList("/favorite/list/", { user_id: carol.id, token })
		};
		for (const [where, list] of Object.entries(lists)) {
			const video = list.find(v => v.id === videoId);
			expect({ where, comment_count: video?.comment_count }).toEqual({ where, comment_count: count });
		}
	}
	expect(await comments(videoId)).toHaveLength(count);
}

function today(): string {
	const now = new Date();
	return `${String(now.getMonth() + 1).padStart(2, "0")}-${String(now.getDate()).padStart(2, "0")}`;
}

async function eventsSettled(count: number) {
	for (let i = 0; i < 50 && events.length < count; i++) await new Promise(resolve => setTimeout(resolve, 10));
	await new Promise(resolve => setTimeout(resolve, 20));
}

describe("comment/action and comment/list", () => {
	let first: WireComment;
	let second: WireComment;

	test("a fresh video has no comments: comment_count 0 and an empty list", async () => {
		await expectCommentCount(v1, 0);
		expect(await client.get("/comment/list/", { video_id: v1 })).toEqual({ status_code: 0, status_msg: "success", comment_list: [] });
	});

	test("posting returns the created comment with its author as a full User, trimmed, dated mm-dd", async () => {
		const body = await post(bob, v1, "  测试评论 nice  ");
		expect(body.status_code).toBe(0);
		first = body.comment;
		expect(first).toEqual({
			id: expect.any(Number),
			user: {
				id: bob.id,
				name: bob.username,
				follow_count: 0,
				follower_count: 0,
				is_follow: false,
				avatar: "",
				background_image: "",
				signature: "",
				total_favorited: 0,
				work_count: 0,
				favorite_count: 0
			},
			content: "测试评论 nice",
			create_date: today()
		});
		expect(first.id).toBeGreaterThan(0);
		await expectCommentCount(v1, 1);
		await expectCommentCount(v2, 0);
		await eventsSettled(1);
		expect(events).toEqual([{ name: "comment.added", payload: { commentId: first.id, videoId: v1, userId: bob.id } }]);
	});

	test("the list is newest first, with the same comments for every viewer", async () => {
		const body = await post(carol, v1, "second!");
		expect(body.status_code).toBe(0);
		second = body.comment;
		expect(second.id).toBeGreaterThan(first.id);
		await expectCommentCount(v1, 2);
		for (const token of [undefined, bob.token, alice.token, "forged"]) {
			const list = await comments(v1, token);
			expect(list).toEqual([second, first]);
		}
	});

	test("the comment user carries the counts of the commenter", async () => {
		// carol liked two videos in beforeAll.
		expect(second.user).toMatchObject({ id: carol.id, favorite_count: 2, total_favorited: 0, work_count: 0 });
		const [newest] = await comments(v1);
		expect(newest.user).toMatchObject({ id: carol.id, favorite_count: 2 });
	});

	test("sensitive words are masked character for character, whatever their case", async () => {
		const body = await post(bob, v2, "what the FuCk, 傻逼!");
		expect(body.status_code).toBe(0);
		expect(body.comment.content).toBe("what the ****, **!");
		expect((await comments(v2))[0].content).toBe("what the ****, **!");
		await expectCommentCount(v2, 1);
	});

	test(`the text may be exactly ${MAX_CHARS} characters, counted as characters, not UTF-16 units`, async () => {
		for (const text of ["x".repeat(MAX_CHARS), "好".repeat(MAX_CHARS), "😀".repeat(MAX_CHARS)]) {
			const body = await post(bob, v2, `  ${text}\n`);
			expect(body.status_code).toBe(0);
			expect(body.comment.content).toBe(text);
		}
		await expectCommentCount(v2, 4);
	});

	test("someone else — even the video's owner — may not delete a comment, and counts stay", async () => {
		for (const who of [alice, carol]) {
			const body = await remove(who, v1, first.id);
			expect(body.status_code).not.toBe(0);
			expect(body.status_msg).toBe(`comment ${first.id} is not yours: only its author may delete it`);
		}
		await expectCommentCount(v1, 2);
		expect((await comments(v1)).map(c => c.id)).toEqual([second.id, first.id]);
	});

	test("a comment named with another video is not found there, and counts stay", async () => {
		const body = await remove(bob, v2, first.id);
		expect(body.status_code).not.toBe(0);
		expect(body.status_msg).toBe(`comment ${first.id} does not exist on video ${v2}`);
		await expectCommentCount(v1, 2);
		await expectCommentCount(v2, 4);
	});

	test("its author deletes it; deleting it again fails and counts stay", async () => {
		events.length = 0;
		expect(await remove(bob, v1, first.id)).toEqual({ status_code: 0, status_msg: "success" });
		await expectCommentCount(v1, 1);
		expect((await comments(v1)).map(c => c.id)).toEqual([second.id]);
		await eventsSettled(1);
		expect(events).toEqual([{ name: "comment.removed", payload: { commentId: first.id, videoId: v1, userId: bob.id } }]);

		const again = await remove(bob, v1, first.id);
		expect(again.status_code).not.toBe(0);
		expect(again.status_msg).toBe(`comment ${first.id} does not exist on video ${v1}`);
		await expectCommentCount(v1, 1);
		await eventsSettled(2);
		expect(events).toHaveLength(1);
	});

	test("concurrent deletes of one comment: one succeeds, the others fail, the count drops by one", async () => {
		const { comment } = await post(carol, v2, "short-lived");
		await expectCommentCount(v2, 5);
		const answers = await Promise.all(Array.from({ length: 10 }, () => remove(carol, v2, comment.id)));
		expect(answers.filter(a => a.status_code === 0)).toHaveLength(1);
		await expectCommentCount(v2, 4);
	});

	test("parameters are also read from an urlencoded body", async () => {
		const body = await client.postForm<{ comment: WireComment }>("/comment/action/", {
			token: alice.token,
			video_id: v1,
			action_type: 1,
			comment_text: "from a form"
		});
		expect(body.status_code).toBe(0);
		expect(body.comment).toMatchObject({ content: "from a form", user: { id: alice.id } });
		await expectCommentCount(v1, 2);
	});

	test("the comment user's counts are current: a follow or a like just before, through any api replica, is in the next comment", async () => {
		const dave = await client.register();
		const elsewhere = new Client(system.urls.at(-1)!);
		expect((await post(dave, v1, "one")).comment.user).toMatchObject({ id: dave.id, follower_count: 0, favorite_count: 0 });
		expect(await elsewhere.post("/relation/action/", { token: bob.token, to_user_id: dave.id, action_type: 1 })).toMatchObject({ status_code: 0 });
		expect((await post(dave, v1, "two")).comment.user).toMatchObject({ id: dave.id, follower_count: 1, favorite_count: 0 });
		expect(await elsewhere.post("/favorite/action/", { token: dave.token, video_id: v2, action_type: 1 })).toMatchObject({ status_code: 0 });
		expect((await post(dave, v1, "three")).comment.user).toMatchObject({ id: dave.id, follower_count: 1, favorite_count: 1 });
		expect(await elsewhere.post("/relation/action/", { token: bob.token, to_user_id: dave.id, action_type: 2 })).toMatchObject({ status_code: 0 });
		expect((await post(dave, v1, "four")).comment.user).toMatchObject({ id: dave.id, follower_count: 0, favorite_count: 1 });
	});
});

describe("bad requests answer HTTP 200 with a non-zero status_code and say what is wrong", () => {
	const failures: [string, () => Record<string, string | number | undefined>, RegExp][] = [
		["no token", () => ({ video_id: v1, action_type: 1, comment_text: "hi" }), /token is required/],
		["a forged token", () => ({ token: "forged", video_id: v1, action_type: 1, comment_text: "hi" }), /token is invalid/],
		["no action_type", () => ({ token: bob.token, video_id: v1, comment_text: "hi" }), /'action_type'.*1 \(post a comment\) or 2 \(delete a comment\)/],
		["action_type 3", () => ({ token: bob.token, video_id: v1, action_type: 3, comment_text: "hi" }), /'action_type'.*1 \(post a comment\) or 2/],
		["action_type post", () => ({ token: bob.token, video_id: v1, action_type: "post", comment_text: "hi" }), /'action_type'.*1 \(post a comment\) or 2/],
		["no video_id", () => ({ token: bob.token, action_type: 1, comment_text: "hi" }), /'video_id' field is required/],
		["an unknown video", () => ({ token: bob.token, video_id: 987654, action_type: 1, comment_text: "hi" }), /^video 987654 does not exist$/],
		["no comment_text", () => ({ token: bob.token, video_id: v1, action_type: 1 }), /'comment_text' field is required to post a comment/],
		// An empty parameter counts as absent (gin).
		["an empty comment_text", () => ({ token: bob.token, video_id: v1, action_type: 1, comment_text: "" }), /'comment_text' field is required to post a comment/],
		["a blank comment_text", () => ({ token: bob.token, video_id: v1, action_type: 1, comment_text: " \t\n " }), /'comment_text' field must not be empty/],
		[
			"a comment_text one character too long",
			() => ({ token: bob.token, video_id: v1, action_type: 1, comment_text: "x".repeat(MAX_CHARS + 1) }),
			new RegExp(`'comment_text' field must be at most ${MAX_CHARS} characters long`)
		],
		[
			"a comment_text of emoji one too many",
			() => ({ token: bob.token, video_id: v1, action_type: 1, comment_text: "😀".repeat(MAX_CHARS + 1) }),
			new RegExp(`'comment_text' field must be at most ${MAX_CHARS} characters long`)
		],
		[
			"a far too long comment_text",
			() => ({ token: bob.token, video_id: v1, action_type: 1, comment_text: "x".repeat(10 * MAX_CHARS) }),
			new RegExp(`'comment_text' field must be at most ${MAX_CHARS} characters long`)
		],
		["a delete without comment_id", () => ({ token: bob.token, video_id: v1, action_type: 2 }), /'comment_id' field is required to delete a comment/],
		["a delete of comment_id abc", () => ({ token: bob.token, video_id: v1, action_type: 2, comment_id: "abc" }), /'comment_id' field must be a number/],
		["a delete of an unknown comment", () => ({ token: bob.token, video_id: v1, action_type: 2, comment_id: 987654 }), /^comment 987654 does not exist on video \d+$/]
	];

	test.each(failures)("comment/action with %s", async (_name, params, message) => {
		const before = await comments(v1);
		const body = await client.post("/comment/action/", params());
		expect(body.status_code).toBe(codeOf(message));
		expect(body.status_msg).toMatch(message);
		expect(body).not.toHaveProperty("comment");
		expect(await comments(v1)).toEqual(before);
	});

	test.each([
		["no video_id", {}, /'video_id' field is required/],
		["video_id abc", { video_id: "abc" }, /'video_id' field must be a number/],
		["an unknown video", { video_id: 987654 }, /^video 987654 does not exist$/]
	])("comment/list with %s", async (_name, params, message) => {
		const body = await client.get("/comment/list/", params);
		expect(body.status_code).toBe(codeOf(message));
		expect(body.status_msg).toMatch(message);
		expect(body.comment_list).toEqual([]);
	});
});
