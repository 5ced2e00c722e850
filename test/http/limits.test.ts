/**
 * Rate limits (issue 12.2), writes only by users who exist (12.12) and CORS with configured
 * origins (13.3). The system believes X-Forwarded-For from loopback (TRUSTED_PROXIES), as
 * behind the ingress, so each test is its own set of client addresses. Floods are bounded
 * loops that stop at the first refusal. In a cluster the writes alternate between the two
 * api replicas: the limit is one, shared through Redis.
 */
import jwt from "jsonwebtoken";
import { Client, type Envelope, type Pairs } from "../helpers/client";
import { type System, startSystem } from "../helpers/system";
import { publishVideo, uploadForm } from "../helpers/videos";

let system: System;
let client: Client;
let clients: Client[];
let video: number;
let author: Account;

interface Account {
	id: number;
	token: string;
	username: string;
}

const WRITES = 6;

beforeAll(async () => {
	system = await startSystem({
		env: {
			TRUSTED_PROXIES: "loopback",
			RATE_LIMIT_LOGIN_USERNAME: "3/15m",
			RATE_LIMIT_LOGIN_ADDRESS: "5/15m",
			RATE_LIMIT_REGISTER_ADDRESS: "3/1h",
			RATE_LIMIT_WRITES: `${WRITES}/1m`,
			CORS_ORIGINS: "http://app.example, https://*.moletok.example"
		}
	});
	client = new Client(system.url);
	clients = system.urls.map(url => new Client(url));
	author = await register("198.51.100.1");
	video = await publishVideo(client, system.broker, author.token);
});
afterAll(() => system.stop());

let addressCount = 0;
/** A client address nobody else in this file uses. */
function newAddress(): string {
	addressCount++;
	return `203.0.113.${addressCount}`;
}

function from(address: string) {
	return { "X-Forwarded-For": address };
}

async function register(address = newAddress(), username = `l${Math.random().toString(36).slice(2, 10)}`): Promise<Account> {
	const body = await client.send<{ user_id: number; token: string }>("POST", "/user/register/", {
		query: [["username", username], ["password", "secret123"]],
		headers: from(address)
	});
	expect(body).toMatchObject({ status_code: 0 });
	return { id: body.user_id, token: body.token, username };
}

function login(username: string, password: string, address: string, via = client) {
	return via.send<{ user_id: number; token: string }>("POST", "/user/login/", { query: [["username", username], ["password", password]], headers: from(address) });
}

describe("logins", () => {
	test("failed logins per username: past the limit every attempt is refused with when to retry, from any address", async () => {
		const victim = await register();
		for (let i = 0; i < 3; i++) expect(await login(victim.username, "wrong-password", newAddress())).toMatchObject({ status_code: 401 });
		const res = await fetch(`${system.url}/douyin/user/login/?username=${victim.username}&password=secret123`, { method: "POST", headers: from(newAddress()) });
		expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(800);
		expect(await res.json()).toEqual({ status_code: 429, status_msg: "too many failed logins for this username: try again in 15 minutes", user_id: 0, token: "" });
		// The same account in another case or width is the same username to the limit.
		expect(await login(victim.username.toUpperCase(), "wrong-password", newAddress())).toMatchObject({ status_code: 429 });
		// Other accounts are not affected.
		const other = await register();
		expect(await login(other.username, "secret123", newAddress())).toMatchObject({ status_code: 0, user_id: other.id });
	});

	test("successful logins give their attempt back: a person logging in again and again is never limited", async () => {
		const person = await register();
		const address = newAddress();
		for (let i = 0; i < 10; i++) expect(await login(person.username, "secret123", address)).toMatchObject({ status_code: 0, user_id: person.id });
	});

	test("failed logins per address, whatever the usernames; other addresses go on", async () => {
		const address = newAddress();
		let refused: Envelope | null = null;
		let failed = 0;
		for (let i = 0; i < 20 && !refused; i++) {
			const body = await login(`nobody${i}x`, "wrong-password", address);
			if (body.status_code === 429) refused = body;
			else {
				expect(body.status_code).toBe(401);
				failed++;
			}
		}
		expect(failed).toBe(5);
		expect(refused).toEqual({ status_code: 429, status_msg: "too many failed logins from your address: try again in 15 minutes", user_id: 0, token: "" });
		const person = await register();
		expect(await login(person.username, "secret123", newAddress())).toMatchObject({ status_code: 0 });
	});

	test("X-Forwarded-For is believed only as far as trusted proxies go: a client cannot pick its address by prepending one", async () => {
		const real = newAddress();
		for (let i = 0; i < 5; i++) expect(await login(`ghost${i}`, "wrong-password", `10.9.8.${i}, ${real}`)).toMatchObject({ status_code: 401 });
		expect(await login("ghost-last", "wrong-password", `10.9.9.9, ${real}`)).toMatchObject({ status_code: 429 });
	});
});

test("registrations per address", async () => {
	const address = newAddress();
	for (let i = 0; i < 3; i++) await register(address);
	const body = await client.send("POST", "/user/register/", { query: [["username", "onemore"], ["password", "secret123"]], headers: from(address) });
	expect(body).toEqual({ status_code: 429, status_msg: "too many registrations from your address: try again in 60 minutes", user_id: 0, token: "" });
	expect((await register(newAddress())).id).toBeGreaterThan(0);
});

describe("writes per user", () => {
	test("likes, comments, follows and messages share one limit per user, across every api replica; reads and other users go on", async () => {
		const writer = await register();
		const peer = await register();
		const writes: Pairs[] = [
			[["video_id", String(video)], ["action_type", "1"]],
			[["to_user_id", String(peer.id)], ["action_type", "1"]],
			[["video_id", String(video)], ["action_type", "1"], ["comment_text", "hi"]],
			[["to_user_id", String(peer.id)], ["action_type", "1"], ["content", "hello"]]
		];
		const paths = ["/favorite/action/", "/relation/action/", "/comment/action/", "/message/action/"];
		let accepted = 0;
		let refused: Envelope | null = null;
		for (let i = 0; i < 4 * WRITES && !refused; i++) {
			const via = clients[i % clients.length];
			const body = await via.send("POST", paths[i % 4], { query: [["token", writer.token], ...writes[i % 4]] });
			if (body.status_code === 429) refused = body;
			else {
				expect(body.status_code).toBe(0);
				accepted++;
			}
		}
		expect(accepted).toBe(WRITES);
		expect(refused).toEqual({ status_code: 429, status_msg: expect.stringMatching(/^too many likes, comments, follows, messages and uploads: try again in \d+ seconds?$/) });
		// An upload is a write too; reading is not.
		expect(await client.postMultipart("/publish/action/", uploadForm({ token: writer.token, title: "limited" }))).toMatchObject({ status_code: 429 });
		expect(await client.get("/user/", { token: writer.token })).toMatchObject({ status_code: 0 });
		const other = await register();
		expect(await client.post("/favorite/action/", { token: other.token, video_id: video, action_type: 1 })).toEqual({ status_code: 0, status_msg: "success" });
	});

	test("a message flood from one token stops at the limit and stores no more than it allows", async () => {
		const flooder = await register();
		const target = await register();
		let sent = 0;
		for (let i = 0; i < 100; i++) {
			const body = await clients[i % clients.length].post("/message/action/", { token: flooder.token, to_user_id: target.id, action_type: 1, content: "x".repeat(1000) });
			if (body.status_code !== 0) {
				expect(body.status_code).toBe(429);
				break;
			}
			sent++;
		}
		expect(sent).toBe(WRITES);
		const chat = await client.get<{ message_list: unknown[] }>("/message/chat/", { token: target.token, to_user_id: flooder.id });
		expect(chat.message_list).toHaveLength(WRITES);
	});
});

describe("a validly signed token of a user who does not exist", () => {
	test("may not like, follow, comment, message or upload: 401 'log in again', nothing written", async () => {
		const ghost = jwt.sign({}, system.jwtSecret(), { algorithm: "HS256", subject: "987654321", expiresIn: 600 });
		const refusal = { status_code: 401, status_msg: "the token's user does not exist: log in again" };
		expect(await client.post("/favorite/action/", { token: ghost, video_id: video, action_type: 1 })).toEqual(refusal);
		expect(await client.post("/relation/action/", { token: ghost, to_user_id: author.id, action_type: 1 })).toEqual(refusal);
		expect(await client.post("/comment/action/", { token: ghost, video_id: video, action_type: 1, comment_text: "boo" })).toEqual(refusal);
		expect(await client.post("/message/action/", { token: ghost, to_user_id: author.id, action_type: 1, content: "boo" })).toEqual(refusal);
		expect(await client.postMultipart("/publish/action/", uploadForm({ token: ghost, title: "boo" }))).toEqual(refusal);
		const { user } = await client.get<{ user: { follower_count: number; total_favorited: number } }>("/user/", { token: author.token });
		expect(user).toMatchObject({ follower_count: 0 });
		const followers = await client.get<{ user_list: unknown[] }>("/relation/follower/list/", { user_id: author.id });
		expect(followers.user_list).toEqual([]);
		// Reading with it is anonymous reading.
		expect(await client.get("/feed/", { token: ghost })).toMatchObject({ status_code: 0 });
	});
});

describe("CORS with CORS_ORIGINS", () => {
	test.each(["http://app.example", "https://web.moletok.example"])("a preflight from %s is answered by the gateway", async origin => {
		const res = await fetch(`${system.url}/douyin/user/login/`, {
			method: "OPTIONS",
			headers: { Origin: origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type" }
		});
		expect(res.status).toBe(204);
		expect(res.headers.get("access-control-allow-origin")).toBe(origin);
		expect(res.headers.get("access-control-allow-methods")).toBe("GET, POST");
		expect(res.headers.get("access-control-allow-headers")).toBe("content-type");
		expect(await res.text()).toBe("");
	});

	test("the answer itself carries the origin; other origins are refused", async () => {
		const person = await register();
		const allowed = await fetch(`${system.url}/douyin/user/?token=${person.token}`, { headers: { Origin: "http://app.example" } });
		expect(allowed.headers.get("access-control-allow-origin")).toBe("http://app.example");
		expect(allowed.headers.get("access-control-expose-headers")).toBe("X-Request-ID, Retry-After");
		expect(await allowed.json()).toMatchObject({ status_code: 0, user: { id: person.id } });
		const refused = await fetch(`${system.url}/douyin/user/?token=${person.token}`, { headers: { Origin: "http://app.example.evil" } });
		expect(refused.headers.get("access-control-allow-origin")).toBeNull();
		expect(await refused.json()).toMatchObject({ status_code: 403, status_msg: "this origin may not call the API (CORS_ORIGINS)" });
	});
});
