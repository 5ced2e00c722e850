/**
 * Accounts over HTTP, sent as the clients send them (query-string POSTs): the rules of
 * register (400 with the rule broken, 409 for a name taken in any spelling), login (401
 * whatever is wrong with the credentials), tokens accepted only as the server signs them,
 * and a flood of logins that queues or is refused while every other request is answered.
 */
import crypto from "node:crypto";
import jwt from "jsonwebtoken";
import { Client, type Envelope } from "../helpers/client";
import { type System, TARGET, startSystem } from "../helpers/system";

// The floods hash one password after another on one thread: seconds on a busy machine.
jest.setTimeout(120000);

const JWT_SECRET = crypto.randomBytes(32).toString("hex");
/** One hashing thread: bulkhead concurrency 2, plus 20 waiting = 22 logins (and as many registrations) at once. */
const HASH_THREADS = 1;
const HASH_QUEUE = 20;
const CAPACITY = 2 * HASH_THREADS + HASH_QUEUE;

let system: System;
let client: Client;

beforeAll(async () => {
	system = await startSystem({
		env: {
			JWT_SECRET,
			PASSWORD_HASH_THREADS: String(HASH_THREADS),
			PASSWORD_HASH_QUEUE: String(HASH_QUEUE),
			// The floods below must be answered by the queue, never by a timeout on a slow machine.
			REQUEST_TIMEOUT_MS: "60000",
			// The floods below prove the hashing queue, not the rate limits (test/http/limits.test.ts).
			RATE_LIMIT_LOGIN_USERNAME: "100000/1m",
			RATE_LIMIT_LOGIN_ADDRESS: "100000/1m",
			RATE_LIMIT_REGISTER_ADDRESS: "100000/1m"
		}
	});
	client = new Client(system.url);
});
afterAll(() => system.stop());

const outcome = (body: Envelope) => [body.status_code, body.status_msg];

describe("register", () => {
	test.each([
		["an empty username", { username: "", password: "secret123" }, "username is required"],
		["a username of 33 characters", { username: "x".repeat(33), password: "secret123" }, "username must be at most 32 characters"],
		["a password of 5 characters", { username: "shorty", password: "12345" }, "password must be at least 6 characters"],
		["a password of 33 characters", { username: "longpw", password: "p".repeat(33) }, "password must be at most 32 characters"],
		["a NUL in the username", { username: "nul\u0000name", password: "secret123" }, "username must not contain control or invisible characters"],
		["a zero-width space in the username", { username: "zero\u200bwidth", password: "secret123" }, "username must not contain control or invisible characters"],
		["a right-to-left override in the username", { username: "evil\u202egnp.exe", password: "secret123" }, "username must not contain control or invisible characters"],
		["an escape sequence in the username", { username: "red\u001b[31m", password: "secret123" }, "username must not contain control or invisible characters"]
	])("refuses %s with 400 and the rule", async (_name, params, message) => {
		expect(outcome(await client.post("/user/register/", params))).toEqual([400, message]);
	});

	test("a name taken in another spelling (case, full width, compatibility form) is 409; any spelling logs in; the name shown is the registered one", async () => {
		const alice = await client.register("Alice.Liddell");
		for (const lookalike of ["alice.liddell", "ALICE.LIDDELL", "Ａｌｉｃｅ．Ｌｉｄｄｅｌｌ", " Alice.Liddell "]) {
			expect(outcome(await client.post("/user/register/", { username: lookalike, password: "other-pass" }))).toEqual([
				409,
				`username "${lookalike.trim()}" is already taken (names differing only in letter case or width count as the same): choose another one`
			]);
			const login = await client.post("/user/login/", { username: lookalike, password: alice.password });
			expect([login.status_code, login.user_id]).toEqual([0, alice.id]);
		}
		const { user } = await client.get<{ user: { name: string } }>("/user/", { token: alice.token, user_id: alice.id });
		expect(user.name).toBe("Alice.Liddell");
	});

	test("every character of the password counts: 25 CJK characters fill bcrypt's 72 bytes, the 26th still matters", async () => {
		const stem = "密码".repeat(12) + "码";
		const user = await client.register(`cjk${crypto.randomBytes(3).toString("hex")}`, `${stem}甲`);
		expect(outcome(await client.post("/user/login/", { username: user.username, password: `${stem}乙` }))).toEqual([401, "wrong username or password"]);
		expect(outcome(await client.post("/user/login/", { username: user.username, password: stem }))).toEqual([401, "wrong username or password"]);
		expect((await client.post("/user/login/", { username: user.username, password: `${stem}甲` })).user_id).toBe(user.id);
	});
});

describe("login", () => {
	test.each([
		["a wrong password of a valid length", "wrong-password"],
		["a one-character password", "x"],
		["a five-character password", "12345"],
		["a password of 33 characters", "p".repeat(33)],
		["a password of 1,000 characters", "p".repeat(1000)]
	])("with %s is 401 'wrong username or password'", async (_name, password) => {
		const user = await client.register();
		expect(outcome(await client.post("/user/login/", { username: user.username, password }))).toEqual([401, "wrong username or password"]);
	});

	test.each([
		["an unknown username", "nobody-at-all"],
		["a username of 40 characters", "u".repeat(40)],
		["a username with a NUL", "nul\u0000name"]
	])("with %s is 401 'wrong username or password'", async (_name, username) => {
		expect(outcome(await client.post("/user/login/", { username, password: "secret123" }))).toEqual([401, "wrong username or password"]);
	});
});

describe("tokens", () => {
	const key = Buffer.from(JWT_SECRET, "utf8");
	const exp = () => Math.floor(Date.now() / 1000) + 600;
	let user: { id: number; token: string };
	beforeAll(async () => {
		user = await client.register();
	});

	test.each([
		["without exp", () => jwt.sign({ sub: String(user.id) }, key, { algorithm: "HS256" })],
		["with sub in exponent form", () => jwt.sign({ sub: `${user.id}e0`, exp: exp() }, key, { algorithm: "HS256" })],
		["with sub zero-padded", () => jwt.sign({ sub: `0${user.id}`, exp: exp() }, key, { algorithm: "HS256" })],
		["with sub signed", () => jwt.sign({ sub: `+${user.id}`, exp: exp() }, key, { algorithm: "HS256" })],
		["with sub space-padded", () => jwt.sign({ sub: ` ${user.id}`, exp: exp() }, key, { algorithm: "HS256" })],
		["with sub a number", () => jwt.sign({ sub: user.id, exp: exp() }, key, { algorithm: "HS256" })]
	])("one signed with the server's secret %s is refused", async (_name, make) => {
		const token = make();
		for (let i = 0; i < 2; i++)
			expect(outcome(await client.get("/user/", { token, user_id: user.id }))).toEqual([401, "token is invalid: log in again"]);
	});

	test("one with an exp and the canonical sub is the user's", async () => {
		const token = jwt.sign({ sub: String(user.id), exp: exp() }, key, { algorithm: "HS256" });
		const body = await client.get<{ user: { id: number } }>("/user/", { token, user_id: user.id });
		expect([body.status_code, body.user.id]).toEqual([0, user.id]);
	});
});

describe("a login flood", () => {
	const FLOOD = 20;

	test(`${FLOOD} concurrent wrong logins queue while the feed and profiles keep answering, and the event loop keeps turning`, async () => {
		const victim = await client.register();
		let ticks = 0;
		const ticker = setInterval(() => ticks++, 1);
		let pending = FLOOD;
		const logins = Array.from({ length: FLOOD }, () =>
			client.post("/user/login/", { username: victim.username, password: "wrong-password" }).finally(() => pending--)
		);
		const reads: Envelope[] = [];
		const reader = (async () => {
			for (let i = 0; pending > 0; i++)
				reads.push(i % 2 === 0 ? await client.get("/feed/", { token: victim.token }) : await client.get("/user/", { token: victim.token, user_id: victim.id }));
		})();
		const answers = await Promise.all(logins);
		await reader;
		clearInterval(ticker);
		console.log(`flood: ${reads.length} reads, ${ticks} ticks`);

		expect(answers.map(outcome)).toEqual(Array.from({ length: FLOOD }, () => [401, "wrong username or password"]));
		expect(reads.filter(body => body.status_code !== 0)).toEqual([]);
		// Counted, not timed: while the hashes ran, the feed and the users service answered
		// several requests per hash (bcrypt on the event loop answered fewer than one), and in
		// embedded mode this very process's timers kept firing.
		expect(reads.length).toBeGreaterThanOrEqual(2 * FLOOD);
		if (TARGET === "embedded") expect(ticks).toBeGreaterThanOrEqual(5 * FLOOD);
		// The victim still logs in.
		expect((await client.post("/user/login/", { username: victim.username, password: victim.password })).user_id).toBe(victim.id);
	});

	test("beyond the queue, logins are refused at once with 503 'too many logins at once'", async () => {
		const victim = await client.register();
		const answers = await Promise.all(
			Array.from({ length: 3 * CAPACITY }, () => client.post("/user/login/", { username: victim.username, password: "wrong-password" }))
		);
		const wrong = answers.filter(body => body.status_code === 401);
		const refused = answers.filter(body => body.status_code === 503);
		expect(wrong.length + refused.length).toBe(answers.length);
		expect(wrong.map(outcome)).toEqual(wrong.map(() => [401, "wrong username or password"]));
		expect(refused.map(outcome)).toEqual(refused.map(() => [503, "too many logins at once: try again in a moment"]));
		// Every place in the queue was used before any login was refused.
		expect(wrong.length).toBeGreaterThanOrEqual(CAPACITY);
		expect(refused.length).toBeGreaterThanOrEqual(1);
	});

	test("beyond the queue, registrations are refused at once with 503 'too many registrations at once'", async () => {
		const prefix = `r${crypto.randomBytes(3).toString("hex")}`;
		const answers = await Promise.all(
			Array.from({ length: 3 * CAPACITY }, (_, i) => client.post("/user/register/", { username: `${prefix}-${i}`, password: "secret123" }))
		);
		const created = answers.filter(body => body.status_code === 0);
		const refused = answers.filter(body => body.status_code === 503);
		expect(created.length + refused.length).toBe(answers.length);
		expect(refused.map(outcome)).toEqual(refused.map(() => [503, "too many registrations at once: try again in a moment"]));
		expect(created.length).toBeGreaterThanOrEqual(CAPACITY);
		expect(refused.length).toBeGreaterThanOrEqual(1);
	});
});
