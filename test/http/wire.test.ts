/**
 * The gateway's wire behaviour as clients written for other simple-tiktok servers see it
 * (issue 11.2–11.4, 12.3, 12.4, 12.10, 13.3): every answer carries the fields its route
 * owes, parameters are read as gin reads them, one status code per kind of error, lists
 * are bounded, bodies and connections are capped, CORS is same-origin by default.
 */
import net from "node:net";
import jwt from "jsonwebtoken";
import { Client, type Envelope, type Pairs } from "../helpers/client";
import { type System, startSystem } from "../helpers/system";
import { publishVideo, uploadForm } from "../helpers/videos";

let system: System;
let client: Client;
type Account = Awaited<ReturnType<Client["register"]>>;
let alice: Account;
let bob: Account;
let videoId: number;

const ZERO_USER = {
	id: 0,
	name: "",
	follow_count: 0,
	follower_count: 0,
	is_follow: false,
	avatar: "",
	background_image: "",
	signature: "",
	total_favorited: 0,
	work_count: 0,
	favorite_count: 0
};
const BAD_ID = (field: string) => `The '${field}' field must be a number written in decimal digits, like 42.`;
const NOT_POSITIVE = (field: string) => `The '${field}' field must be a positive number.`;
const CONTROL = (field: string) => `The '${field}' field must not contain control characters such as NUL: only line breaks and tabs are allowed.`;

beforeAll(async () => {
	system = await startSystem();
	client = new Client(system.url);
	alice = await client.register();
	bob = await client.register();
	videoId = await publishVideo(client, system.broker, bob.token);
});
afterAll(() => system.stop());

/** The messages of the chat between two users, as `viewer` reads them. */
async function chat(viewer: Account, peer: Account, preMsgTime?: number) {
	const query: Pairs = [["token", viewer.token], ["to_user_id", String(peer.id)]];
	if (preMsgTime !== undefined) query.push(["pre_msg_time", String(preMsgTime)]);
	const body = await client.send<{ message_list: { content: string; create_time: number; id: number }[] }>("GET", "/message/chat/", { query });
	expect(body.status_code).toBe(0);
	return body.message_list;
}

describe("every answer carries every field the IDL marks required", () => {
	test("successes: register and login, user (11 fields), feed, lists", async () => {
		const name = `w${Math.random().toString(36).slice(2, 10)}`;
		const registered = await client.post("/user/register/", { username: name, password: "secret123" });
		expect(registered).toEqual({ status_code: 0, status_msg: "success", user_id: expect.any(Number), token: expect.any(String) });
		const loggedIn = await client.post("/user/login/", { username: name, password: "secret123" });
		expect(loggedIn).toEqual({ status_code: 0, status_msg: "success", user_id: registered.user_id, token: expect.any(String) });
		const { user } = await client.get<{ user: object }>("/user/", { token: alice.token });
		expect(Object.keys(user).sort()).toEqual(Object.keys(ZERO_USER).sort());
		const feed = await client.get("/feed/");
		expect(feed).toEqual({ status_code: 0, status_msg: "success", video_list: expect.any(Array), next_time: expect.any(Number) });
		for (const [path, field] of [
			["/publish/list/", "video_list"],
			["/favorite/list/", "video_list"],
			["/relation/follow/list/", "user_list"],
			["/relation/follower/list/", "user_list"],
			["/relation/friend/list/", "user_list"]
		])
			expect(await client.get(path, { token: alice.token, user_id: alice.id })).toEqual({ status_code: 0, status_msg: "success", [field]: [] });
	});

	// One failing request per route, answered with the exact envelope and the route's zero fields.
	const failures: [string, string, () => Promise<Envelope>, () => object][] = [
		["GET", "/feed/", () => client.get("/feed/", { latest_time: "soon" }), () => ({ status_code: 400, status_msg: BAD_ID("latest_time"), video_list: [], next_time: 0 })],
		["POST", "/user/register/ (taken)", () => client.post("/user/register/", { username: alice.username, password: "secret123" }), () => ({ status_code: 409, status_msg: `username "${alice.username}" is already taken (names differing only in letter case or width count as the same): choose another one`, user_id: 0, token: "" })],
		["POST", "/user/login/ (wrong password)", () => client.post("/user/login/", { username: alice.username, password: "wrong-password" }), () => ({ status_code: 401, status_msg: "wrong username or password", user_id: 0, token: "" })],
		["GET", "/user/ (no token)", () => client.get("/user/", { user_id: alice.id }), () => ({ status_code: 401, status_msg: "token is required: log in and send the token parameter", user: ZERO_USER })],
		["POST", "/publish/action/ (no token)", () => client.postMultipart("/publish/action/", uploadForm({ title: "t" })), () => ({ status_code: 401, status_msg: "token is required: log in and send the token parameter" })],
		["GET", "/publish/list/ (unknown user)", () => client.get("/publish/list/", { user_id: 987654 }), () => ({ status_code: 404, status_msg: "user 987654 does not exist", video_list: [] })],
		["POST", "/favorite/action/ (unknown video)", () => client.post("/favorite/action/", { token: alice.token, video_id: 987654, action_type: 1 }), () => ({ status_code: 404, status_msg: "video 987654 does not exist" })],
		["GET", "/favorite/list/ (id 0)", () => client.get("/favorite/list/", { user_id: 0 }), () => ({ status_code: 400, status_msg: NOT_POSITIVE("user_id"), video_list: [] })],
		["POST", "/comment/action/ (no text)", () => client.post("/comment/action/", { token: alice.token, video_id: videoId, action_type: 1 }), () => ({ status_code: 400, status_msg: "The 'comment_text' field is required to post a comment (action_type=1)." })],
		["GET", "/comment/list/ (unknown video)", () => client.get("/comment/list/", { video_id: 987654 }), () => ({ status_code: 404, status_msg: "video 987654 does not exist", comment_list: [] })],
		["POST", "/relation/action/ (oneself)", () => client.post("/relation/action/", { token: alice.token, to_user_id: alice.id, action_type: 1 }), () => ({ status_code: 400, status_msg: "you cannot follow or unfollow yourself: to_user_id is your own id" })],
		["GET", "/relation/follow/list/ (not a number)", () => client.get("/relation/follow/list/", { user_id: "abc" }), () => ({ status_code: 400, status_msg: BAD_ID("user_id"), user_list: [] })],
		["GET", "/relation/follower/list/ (unknown user)", () => client.get("/relation/follower/list/", { user_id: 987654 }), () => ({ status_code: 404, status_msg: "user 987654 does not exist", user_list: [] })],
		["GET", "/relation/friend/list/ (garbage token)", () => client.get("/relation/friend/list/", { token: "garbage" }), () => ({ status_code: 401, status_msg: "token is invalid: log in again", user_list: [] })],
		["POST", "/message/action/ (NUL)", () => client.post("/message/action/", { token: alice.token, to_user_id: bob.id, action_type: 1, content: "a\u0000b" }), () => ({ status_code: 400, status_msg: CONTROL("content") })],
		["GET", "/message/chat/ (oneself)", () => client.get("/message/chat/", { token: alice.token, to_user_id: alice.id }), () => ({ status_code: 400, status_msg: "you cannot chat with yourself: to_user_id is your own id", message_list: [] })],
	];
	test.each(failures)("%s %s", async (_method, _path, request, expected) => {
		expect(await request()).toEqual(expected());
	});

	test("gateway-level failures: unknown route, wrong method, body too large, malformed body", async () => {
		expect(await client.get("/nothing/here/")).toEqual({ status_code: 404, status_msg: "no such endpoint: GET /douyin/nothing/here/" });
		expect(await client.post("/feed/")).toEqual({ status_code: 405, status_msg: "POST is not allowed on /douyin/feed/: use GET", video_list: [], next_time: 0 });
		expect(await client.send("DELETE", "/user/")).toEqual({ status_code: 405, status_msg: "DELETE is not allowed on /douyin/user/: use GET", user: ZERO_USER });
		expect(await client.send("OPTIONS", "/relation/follow/list/")).toEqual({ status_code: 405, status_msg: "OPTIONS is not allowed on /douyin/relation/follow/list/: use GET", user_list: [] });
		expect(await client.send("POST", "/user/login/", { form: [["username", "x".repeat(100 * 1024)]] })).toEqual({ status_code: 413, status_msg: "request body is too large", user_id: 0, token: "" });
		expect(await client.send("POST", "/user/login/", { json: "{not json" })).toMatchObject({ status_code: 400, user_id: 0, token: "" });
	});
});

describe("one status code per kind of error", () => {
	test.each([
		["follow oneself", () => client.post("/relation/action/", { token: bob.token, to_user_id: bob.id, action_type: 2 }), 400],
		["an upload without its file", () => client.postMultipart("/publish/action/", uploadForm({ token: alice.token, title: "t" }, null)), 400],
		["an action_type out of range", () => client.post("/favorite/action/", { token: alice.token, video_id: videoId, action_type: 3 }), 400],
		["a short password at register", () => client.post("/user/register/", { username: "shorty", password: "123" }), 400],
		["no token", () => client.post("/favorite/action/", { video_id: videoId, action_type: 1 }), 401],
		["an expired token", () => client.post("/favorite/action/", { token: jwt.sign({ sub: String(alice.id), exp: 1_000_000 }, system.jwtSecret()), video_id: videoId, action_type: 1 }), 401],
		["a token signed with another secret", () => client.post("/favorite/action/", { token: jwt.sign({ sub: String(alice.id) }, "x".repeat(32), { expiresIn: 60 }), video_id: videoId, action_type: 1 }), 401],
		["an unknown user", () => client.get("/user/", { token: alice.token, user_id: 987654 }), 404],
		["a wrong method", () => client.get("/message/action/"), 405],
		["a taken username", () => client.post("/user/register/", { username: bob.username, password: "secret123" }), 409]
	])("%s", async (_name, request, code) => {
		expect((await request()).status_code).toBe(code);
	});

	test("deleting someone else's comment is 403", async () => {
		const posted = await client.post<{ comment: { id: number } }>("/comment/action/", { token: bob.token, video_id: videoId, action_type: 1, comment_text: "mine" });
		const body = await client.post("/comment/action/", { token: alice.token, video_id: videoId, action_type: 2, comment_id: posted.comment.id });
		expect(body).toEqual({ status_code: 403, status_msg: `comment ${posted.comment.id} is not yours: only its author may delete it` });
	});
});

describe("parameters are read the way gin reads them", () => {
	test("the demo tests' shape: every parameter in the query and again as a form field, content twice", async () => {
		const params: Pairs = [["token", alice.token], ["to_user_id", String(bob.id)], ["action_type", "1"], ["content", "Send to UserB"]];
		const body = await client.send("POST", "/message/action/", { query: [...params, ["content", "Send to UserB"]], form: params.slice(0, 3) });
		expect(body).toEqual({ status_code: 0, status_msg: "success" });
		expect((await chat(bob, alice)).at(-1)?.content).toBe("Send to UserB");
	});

	test.each([
		["query string", (pairs: Pairs) => ({ query: pairs })],
		["urlencoded body", (pairs: Pairs) => ({ form: pairs })],
		["multipart body", (pairs: Pairs) => ({ multipart: pairs })]
	])("a repeated parameter takes its first value (%s), tokens and ids included", async (_where, place) => {
		const content = `first ${Math.random()}`;
		const pairs: Pairs = [
			["token", alice.token],
			["token", "garbage"],
			["to_user_id", String(bob.id)],
			["to_user_id", "not-a-number"],
			["action_type", "1"],
			["action_type", "7"],
			["content", content],
			["content", "second"]
		];
		expect(await client.send("POST", "/message/action/", place(pairs))).toEqual({ status_code: 0, status_msg: "success" });
		expect((await chat(alice, bob)).at(-1)?.content).toBe(content);
	});

	test("an empty optional parameter counts as absent", async () => {
		const profile = await client.send<{ user: { id: number } }>("GET", "/user/", { query: [["token", alice.token], ["user_id", ""]] });
		expect(profile.user.id).toBe(alice.id);
		const posted = await client.send<{ comment: { content: string } }>("POST", "/comment/action/", {
			query: [["token", alice.token], ["video_id", String(videoId)], ["action_type", "1"], ["comment_text", "hello"], ["comment_id", ""]]
		});
		expect(posted).toMatchObject({ status_code: 0, comment: { content: "hello" } });
		expect(await client.send("GET", "/feed/", { query: [["latest_time", ""]] })).toMatchObject({ status_code: 0 });
		expect((await client.send<{ message_list: unknown[] }>("GET", "/message/chat/", { query: [["token", alice.token], ["to_user_id", String(bob.id)], ["pre_msg_time", ""]] })).message_list.length).toBeGreaterThan(0);
	});

	test("the query string comes first; an empty query value falls back to the body", async () => {
		const content = `from the query ${Math.random()}`;
		const params: Pairs = [["token", alice.token], ["to_user_id", String(bob.id)], ["action_type", "1"]];
		expect(await client.send("POST", "/message/action/", { query: [...params, ["content", content]], form: [["content", "from the body"]] })).toMatchObject({ status_code: 0 });
		expect((await chat(alice, bob)).at(-1)?.content).toBe(content);
		const fallback = await client.send<{ user: { id: number } }>("POST", "/user/login/", {
			query: [["username", ""], ["password", ""]],
			multipart: [["username", alice.username], ["password", alice.password]]
		});
		expect(fallback).toMatchObject({ status_code: 0, user_id: alice.id });
	});

	test("a JSON body: numbers as numbers or text, null as absent, unknown fields ignored", async () => {
		const body = await client.send("POST", "/favorite/action/", { json: { token: alice.token, video_id: videoId, action_type: 1, extra: { deep: [1, { x: 2 }] }, comment_id: null } });
		expect(body).toEqual({ status_code: 0, status_msg: "success" });
		const login = await client.send("POST", "/user/login/", { json: { username: alice.username, password: alice.password } });
		expect(login).toMatchObject({ status_code: 0, user_id: alice.id });
	});

	test.each([
		[{ toString: 1 }, "The 'video_id' parameter must be a single value (text or a number), not an object."],
		[[1, 2], "The 'video_id' parameter must be a single value (text or a number), not a list."],
		[12.5, "The 'video_id' field must be an integer."],
		[1e21, BAD_ID("video_id")],
		[true, BAD_ID("video_id")]
	])("a JSON value %j where an id goes is a 400", async (value, message) => {
		expect(await client.send("POST", "/favorite/action/", { json: { token: alice.token, video_id: value, action_type: 1 } })).toEqual({ status_code: 400, status_msg: message });
	});

	test("a 20,000-level nested JSON body is a 400, as a parameter or as the whole body", async () => {
		const deep = `${"[".repeat(20000)}${"]".repeat(20000)}`;
		expect(await client.send("POST", "/user/login/", { json: `{"username":${deep},"password":"secret123"}` })).toEqual({
			status_code: 400,
			status_msg: "The 'username' parameter must be a single value (text or a number), not a list.",
			user_id: 0,
			token: ""
		});
		expect(await client.send("POST", "/comment/action/", { json: deep })).toMatchObject({ status_code: 400, status_msg: expect.stringMatching(/JSON body must be an object/) });
		// Only the route's parameters travel on: a deep unknown field never reaches a service.
		expect(await client.send("POST", "/relation/action/", { json: `{"token":"${alice.token}","to_user_id":${bob.id},"action_type":1,"other":${deep}}` })).toEqual({ status_code: 0, status_msg: "success" });
	});

	test.each([
		["1e1", BAD_ID("user_id")],
		[" 12", BAD_ID("user_id")],
		["12 ", BAD_ID("user_id")],
		["0x10", BAD_ID("user_id")],
		["+5", BAD_ID("user_id")],
		["٣", BAD_ID("user_id")],
		["1.0", "The 'user_id' field must be an integer."],
		["9007199254740992", "The 'user_id' field must be at most 9007199254740991."],
		["-3", NOT_POSITIVE("user_id")],
		["0", NOT_POSITIVE("user_id")]
	])("id %j is not a decimal positive integer: 400", async (value, message) => {
		expect(await client.get("/publish/list/", { user_id: value })).toEqual({ status_code: 400, status_msg: message, video_list: [] });
	});

	test("an id with leading zeros and the largest safe integer are read as decimal numbers", async () => {
		expect(await client.get("/publish/list/", { user_id: `000${bob.id}` })).toMatchObject({ status_code: 0, video_list: [{ id: videoId }] });
		expect(await client.get("/publish/list/", { user_id: "9007199254740991" })).toEqual({ status_code: 404, status_msg: "user 9007199254740991 does not exist", video_list: [] });
	});

	test.each([
		["br", "not brotli at all"],
		["gzip", "not gzip at all"],
		["deflate", "not deflate at all"]
	])("a broken Content-Encoding: %s body is a 400", async (encoding, text) => {
		const res = await fetch(`${system.url}/douyin/user/login/`, {
			method: "POST",
			headers: { "Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": encoding },
			body: text
		});
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual({
			status_code: 400,
			status_msg: `malformed request body (the body could not be decoded as Content-Encoding ${encoding}): send the parameters in the query string, urlencoded, multipart or JSON`,
			user_id: 0,
			token: ""
		});
	});

	test("a gzip-encoded urlencoded body is read", async () => {
		const { gzipSync } = await import("node:zlib");
		const res = await fetch(`${system.url}/douyin/user/login/`, {
			method: "POST",
			headers: { "Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "gzip" },
			body: gzipSync(`username=${alice.username}&password=${alice.password}`)
		});
		expect(await res.json()).toMatchObject({ status_code: 0, user_id: alice.id });
	});
});

describe("text holds no control characters", () => {
	test.each([
		["NUL", "a\u0000b"],
		["BEL", "ring\u0007"],
		["ESC", "\u001b[31mred"],
		["DEL", "x\u007f"],
		["a C1 control", "x\u0085y"],
		["a lone surrogate", "half \ud800"],
		["a bare CR", "a\rb"]
	])("%s in a comment or a message is a 400, in any place", async (_name, text) => {
		const comment = await client.send("POST", "/comment/action/", { json: { token: alice.token, video_id: videoId, action_type: 1, comment_text: text } });
		expect(comment).toEqual({ status_code: 400, status_msg: CONTROL("comment_text") });
		const message = await client.send("POST", "/message/action/", { json: { token: alice.token, to_user_id: bob.id, action_type: 1, content: text } });
		expect(message).toEqual({ status_code: 400, status_msg: CONTROL("content") });
	});

	test("line breaks (CR LF becomes LF) and tabs stay in comments and messages; a title holds neither", async () => {
		const posted = await client.send<{ comment: { content: string } }>("POST", "/comment/action/", {
			form: [["token", alice.token], ["video_id", String(videoId)], ["action_type", "1"], ["comment_text", "line one\r\nline\ttwo"]]
		});
		expect(posted.comment.content).toBe("line one\nline\ttwo");
		const titled = await client.postMultipart("/publish/action/", uploadForm({ token: alice.token, title: "two\nlines" }));
		expect(titled).toEqual({ status_code: 400, status_msg: "The 'title' field must not contain control characters such as NUL, line breaks or tabs." });
	});
});

describe("bodies and connections", () => {
	test.each([
		["multipart", { multipart: [["username", "alice"], ["password", "x".repeat(200 * 1024)]] as Pairs }],
		["urlencoded", { form: [["password", "x".repeat(200 * 1024)]] as Pairs }],
		["JSON", { json: { password: "x".repeat(200 * 1024) } }],
		["text/plain", { headers: { "Content-Type": "text/plain" }, json: undefined }]
	])("a %s body past the cap of an ordinary route is a 413", async (_name, options) => {
		const request =
			"headers" in options
				? fetch(`${system.url}/douyin/user/login/`, { method: "POST", headers: options.headers, body: "x".repeat(200 * 1024) }).then(res => res.json())
				: client.send("POST", "/user/login/", options);
		expect(await request).toEqual({ status_code: 413, status_msg: "request body is too large", user_id: 0, token: "" });
	});

	test("a 1 MB query string and a 64 kB header are answered with the envelope and the route's fields", async () => {
		for (const res of [
			await fetch(`${system.url}/douyin/feed/?x=${"a".repeat(1 << 20)}`),
			await fetch(`${system.url}/douyin/feed/`, { headers: { "X-Big": "a".repeat(64 * 1024) } }),
			// A body after the refused request line is read and dropped, not a reset.
			await fetch(`${system.url}/douyin/feed/?x=${"a".repeat(70_000)}`, { method: "POST", body: new URLSearchParams({ text: "b".repeat(500_000) }) })
		]) {
			expect(res.status).toBe(200);
			expect(res.headers.get("content-type")).toMatch(/^application\/json/);
			expect(await res.json()).toEqual({
				status_code: 413,
				status_msg: "the request line or headers are too large: send long parameters in the body",
				video_list: [],
				next_time: 0
			});
		}
	});

	test("the longest message the APK can put in the query string fits", async () => {
		const content = "测".repeat(1000);
		expect(await client.post("/message/action/", { token: alice.token, to_user_id: bob.id, action_type: 1, content })).toEqual({ status_code: 0, status_msg: "success" });
	});

	/** What the server answers to `text` sent on a raw connection. */
	function rawExchange(text: string): Promise<string> {
		return new Promise((resolve, reject) => {
			const socket = net.connect(Number(new URL(system.url).port), "127.0.0.1", () => socket.write(text));
			let answer = "";
			socket.on("data", chunk => (answer += chunk));
			socket.on("error", reject);
			socket.on("close", () => resolve(answer));
		});
	}

	test.each([
		["an unknown method", "BREW /douyin/feed/ HTTP/1.1\r\nHost: x\r\n\r\n", { status_code: 405, status_msg: "unknown HTTP method: use GET or POST", video_list: [], next_time: 0 }],
		["a malformed request line", "GET /douyin/ feed/ HTTP/1.1\r\n\r\n", { status_code: 400, status_msg: expect.stringMatching(/^malformed HTTP request/) }],
		["a malformed header", "GET /douyin/user/ HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", { status_code: 400, status_msg: expect.stringMatching(/^malformed HTTP request/), user: ZERO_USER }]
	])("%s gets the envelope, and the server answers on", async (_name, text, expected) => {
		const answer = await rawExchange(text);
		const [head, body] = answer.split("\r\n\r\n");
		expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
		expect(head).toMatch(/Content-Type: application\/json/);
		expect(JSON.parse(body)).toEqual(expected);
		expect(await client.get("/feed/")).toMatchObject({ status_code: 0 });
	});
});

describe("lists are bounded", () => {
	test("chat: the newest 100 without pre_msg_time, oldest first; polling and paging see every message once", async () => {
		const carol = await client.register();
		const dave = await client.register();
		const send = (from: Account, to: Account, content: string) =>
			client.post("/message/action/", { token: from.token, to_user_id: to.id, action_type: 1, content }).then(body => expect(body.status_code).toBe(0));
		for (let i = 0; i < 104; i++) await send(i % 2 ? carol : dave, i % 2 ? dave : carol, `m${i}`);
		const opened = await chat(carol, dave);
		expect(opened.map(m => m.content)).toEqual(Array.from({ length: 100 }, (_, i) => `m${i + 4}`));
		expect(await chat(carol, dave, 0)).toEqual(opened);

		// The APK: poll with the create_time of the newest message shown, append what comes.
		const shown = [...opened];
		for (let i = 104; i < 110; i++) {
			await send(dave, carol, `m${i}`);
			if (i % 2) shown.push(...(await chat(carol, dave, shown.at(-1)!.create_time)));
		}
		shown.push(...(await chat(carol, dave, shown.at(-1)!.create_time)));
		expect(shown.map(m => m.content)).toEqual(Array.from({ length: 106 }, (_, i) => `m${i + 4}`));

		// From the beginning: pre_msg_time=1 pages forward through everything, 100 at a time.
		const all: string[] = [];
		let after = 1;
		for (let page = 0; page < 5; page++) {
			const messages = await chat(dave, carol, after);
			if (messages.length === 0) break;
			expect(messages.length).toBeLessThanOrEqual(100);
			all.push(...messages.map(m => m.content));
			after = messages.at(-1)!.create_time;
		}
		expect(all).toEqual(Array.from({ length: 110 }, (_, i) => `m${i}`));
	});
});

describe("CORS: same origin only by default", () => {
	test("a preflight from another origin is refused without reaching the action; the API's own origin needs no CORS", async () => {
		const foreign = await fetch(`${system.url}/douyin/user/login/`, {
			method: "OPTIONS",
			headers: { Origin: "http://elsewhere.example", "Access-Control-Request-Method": "POST" }
		});
		expect(foreign.headers.get("access-control-allow-origin")).toBeNull();
		expect(await foreign.json()).toEqual({ status_code: 403, status_msg: "this origin may not call the API (CORS_ORIGINS)", user_id: 0, token: "" });
		const own = await fetch(`${system.url}/douyin/user/login/`, {
			method: "OPTIONS",
			headers: { Origin: system.url, "Access-Control-Request-Method": "POST" }
		});
		expect(own.status).toBe(204);
		const sameOrigin = await fetch(`${system.url}/douyin/user/login/?username=${alice.username}&password=${alice.password}`, { method: "POST", headers: { Origin: system.url } });
		expect(await sameOrigin.json()).toMatchObject({ status_code: 0, user_id: alice.id });
	});
});
