/**
 * users on a broker of its own, with the fact providers stubbed as small services of the
 * same names: registration rules, login, token resolution, and the batched facts.
 * (Accounts stored by earlier versions: users.migration.test.ts.)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Context, Errors, ServiceBroker } from "moleculer";
import type { FactsParams } from "../../lib/facts";
import { rejection } from "../helpers/rejection";

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "moletok-users-"));
process.env.DATA_DIR = dataDir;
process.env.BCRYPT_COST = "10";
// No health or metrics endpoint: a MoleTok started with `npm start` may hold their ports.
process.env.HEALTH_PORT = "off";
process.env.METRICS_PORT = "off";
process.env.PASSWORD_HASH_THREADS = "1";

const calls: { action: string; params: FactsParams }[] = [];
function provider(name: string, facts: (id: number) => object, flags?: (id: number, viewerId: number) => object) {
	const answer = (action: string, of: (id: number) => object) => (ctx: Context<FactsParams>) => {
		calls.push({ action: `${name}.${action}`, params: ctx.params });
		return Object.fromEntries(ctx.params.ids.map(id => [id, of(id)]));
	};
	return {
		name,
		actions: {
			userFacts: answer("userFacts", facts),
			...(flags && { userFlags: (ctx: Context<FactsParams>) => answer("userFlags", id => flags(id, ctx.params.viewerId!))(ctx) })
		}
	};
}

const { brokerOptions } = require("../../moleculer.config");
const broker = new ServiceBroker({ ...brokerOptions(), logger: false });
broker.createService(require("../../services/users.service").default);
broker.createService(provider("videos", () => ({ work_count: 3 })));
broker.createService(provider("favorites", id => ({ favorite_count: id, total_favorited: 7 })));
broker.createService(
	provider(
		"relations",
		() => ({ follow_count: 1, follower_count: 2 }),
		(_id, viewerId) => ({ is_follow: viewerId === 1 })
	)
);

beforeAll(() => broker.start());
afterAll(async () => {
	await broker.stop();
	fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("users", () => {
	test("register returns an id and a token that resolves to it", async () => {
		const res = await broker.call<{ user_id: number; token: string }, object>("users.register", { username: " alice ", password: "secret1" });
		expect(res.user_id).toBeGreaterThan(0);
		const who = await broker.call("users.resolveToken", { token: res.token });
		expect(who).toEqual({ userId: res.user_id });
	});

	test("the username is trimmed and unique", async () => {
		const err = await rejection(broker.call("users.register", { username: "alice", password: "secret2" }));
		expect(err).toBeInstanceOf(Errors.MoleculerClientError);
		expect(err.type).toBe("CONFLICT");
		expect(err.message).toMatch(/already taken/);
	});

	test("20 concurrent registrations of one name create exactly one user", async () => {
		const results = await Promise.allSettled(
			Array.from({ length: 20 }, () => broker.call("users.register", { username: "racer", password: "secret1" }))
		);
		expect(results.filter(r => r.status === "fulfilled")).toHaveLength(1);
		expect(results.filter(r => r.status === "rejected").every(r => (r as PromiseRejectedResult).reason.type === "CONFLICT")).toBe(true);
	});

	test.each([
		[{ username: "", password: "secret1" }, "username must not be empty"],
		[{ username: "   ", password: "secret1" }, "username must not be empty"],
		[{ username: "x".repeat(33), password: "secret1" }, "username must be at most 32 characters"],
		[{ username: "bob", password: "short" }, "password must be at least 6 characters"],
		[{ username: "bob", password: "p".repeat(33) }, "password must be at most 32 characters"],
		[{ password: "secret1" }, "username is required"],
		[{ username: "bob" }, "password is required"],
		[{ username: "bob\u0000", password: "secret1" }, "username must not contain control or invisible characters"],
		[{ username: "bo\nb", password: "secret1" }, "username must not contain control or invisible characters"],
		[{ username: "bo\u200bb", password: "secret1" }, "username must not contain control or invisible characters"],
		[{ username: "bob\u202egnp.exe", password: "secret1" }, "username must not contain control or invisible characters"],
		[{ username: "bo\u2028b", password: "secret1" }, "username must not contain control or invisible characters"],
		[{ username: "bo\ud800b", password: "secret1" }, "username must not contain control or invisible characters"]
	])("register refuses %j", async (params, message) => {
		const err = await rejection(broker.call("users.register", params));
		expect(err).toBeInstanceOf(Errors.ValidationError);
		expect((err.data as { message: string }[]).map(item => item.message)).toEqual([message]);
	});

	test("names that differ only in case, width or compatibility form are one name: refused, and any spelling logs in", async () => {
		const { user_id } = await broker.call<{ user_id: number }, object>("users.register", { username: "Zoë Müller", password: "secret1" });
		for (const lookalike of ["zoë müller", "ZOË MÜLLER", "Ｚｏë Ｍüｌｌｅｒ", "Zoë  Müller", "Zoe\u0308 Müller", "Zoë\u00a0Müller"]) {
			const err = await rejection(broker.call("users.register", { username: lookalike, password: "secret2" }));
			expect(err.type).toBe("CONFLICT");
			expect(err.code).toBe(409);
			expect(err.message).toBe(
				`username "${lookalike}" is already taken (names differing only in letter case or width count as the same): choose another one`
			);
			expect(await broker.call("users.login", { username: lookalike, password: "secret1" })).toMatchObject({ user_id });
		}
		const { users } = await broker.call<{ users: Record<number, { name: string }> }, object>("users.getMany", { ids: [user_id] });
		expect(users[user_id].name).toBe("Zoë Müller");
	});

	test("case folding goes beyond lower case: ß is ss, final sigma is sigma, the ligature ﬁ is fi", async () => {
		await broker.call("users.register", { username: "straße", password: "secret1" });
		await broker.call("users.register", { username: "ὈΔΥΣΣΕΎΣ", password: "secret1" });
		await broker.call("users.register", { username: "fish", password: "secret1" });
		for (const lookalike of ["STRASSE", "strasse", "ὀδυσσεύς", "ὀδυσσεύσ", "ﬁsh"])
			expect((await rejection(broker.call("users.register", { username: lookalike, password: "secret1" }))).code).toBe(409);
	});

	test.each([
		["a wrong password of the right length", "secret9"],
		["a one-character password", "s"],
		["an empty password", ""],
		["a password of 33 characters", "s".repeat(33)],
		["a password of 5,000 characters", "s".repeat(5000)]
	])("login with %s is 401 'wrong username or password'", async (_name, password) => {
		const err = await rejection(broker.call("users.login", { username: "alice", password }));
		expect(err).toMatchObject({ code: 401, type: "UNAUTHORIZED", message: "wrong username or password" });
	});

	test.each([
		["an unknown name", "nobody"],
		["a name longer than any account's", "a".repeat(100)],
		["a name with a NUL", "alice\u0000"],
		["an empty name", ""]
	])("login with %s is 401 'wrong username or password'", async (_name, username) => {
		const err = await rejection(broker.call("users.login", { username, password: "secret1" }));
		expect(err).toMatchObject({ code: 401, type: "UNAUTHORIZED", message: "wrong username or password" });
	});

	test("login without a password or a name is a bad request", async () => {
		const err = await rejection(broker.call("users.login", { username: "alice" }));
		expect(err).toBeInstanceOf(Errors.ValidationError);
		expect((err.data as { message: string }[]).map(item => item.message)).toEqual(["password is required"]);
	});

	test("every character of a password counts, beyond bcrypt's 72 bytes (25 CJK characters are 75)", async () => {
		const stem = "密码".repeat(12) + "码"; // 25 characters, 75 bytes in UTF-8
		const { user_id } = await broker.call<{ user_id: number }, object>("users.register", { username: "cjk", password: `${stem}甲` });
		expect(await broker.call("users.login", { username: "cjk", password: `${stem}甲` })).toMatchObject({ user_id });
		for (const other of [`${stem}乙`, stem, `${stem}甲甲`])
			expect((await rejection(broker.call("users.login", { username: "cjk", password: other }))).code).toBe(401);
	});

	test("a login whose caller gave up waiting in the queue costs no hash", async () => {
		const users = broker.getLocalService("users") as unknown as { passwords: { verify(...args: unknown[]): Promise<boolean> } };
		await broker.call("users.register", { username: "patient", password: "secret1" });
		const verify = jest.spyOn(users.passwords, "verify");
		try {
			// One hashing thread, two logins at a time: most of these wait longer than 200 ms.
			const impatient = await Promise.allSettled(
				Array.from({ length: 30 }, () => broker.call("users.login", { username: "patient", password: "wrong-password" }, { timeout: 200 }))
			);
			const timedOut = impatient.filter(r => r.status === "rejected" && (r.reason as Errors.MoleculerError).type === "REQUEST_TIMEOUT");
			expect(timedOut.length).toBeGreaterThan(0);
			// Queued behind them (first in, first out): when it is answered, every one of them was dequeued.
			expect(await broker.call("users.login", { username: "patient", password: "secret1" })).toMatchObject({ user_id: expect.any(Number) });
			expect(verify.mock.calls.length).toBeLessThanOrEqual(31 - timedOut.length + 2);
		} finally {
			verify.mockRestore();
		}
	});

	test("login: the same message for a wrong password and an unknown user", async () => {
		const ok = await broker.call<{ user_id: number }, object>("users.login", { username: "alice", password: "secret1" });
		expect(ok.user_id).toBeGreaterThan(0);
		const wrong = await rejection(broker.call("users.login", { username: "alice", password: "secret9" }));
		const unknown = await rejection(broker.call("users.login", { username: "nobody", password: "secret1" }));
		expect(wrong.type).toBe("UNAUTHORIZED");
		expect(unknown.type).toBe("UNAUTHORIZED");
		expect(wrong.message).toBe(unknown.message);
	});

	test("getMany asks each count and flag provider once for the whole batch and merges the answers", async () => {
		const ids: number[] = [];
		for (let i = 0; i < 5; i++)
			ids.push((await broker.call<{ user_id: number }, object>("users.register", { username: `batch${i}`, password: "secret1" })).user_id);
		calls.length = 0;
		const { users } = await broker.call<{ users: Record<number, Record<string, unknown>> }, object>("users.getMany", {
			ids: [...ids, ids[0], 99999],
			viewerId: 1
		});
		expect(calls.map(c => c.action).sort()).toEqual(["favorites.userFacts", "relations.userFacts", "relations.userFlags", "videos.userFacts"]);
		for (const call of calls) expect(call.params).toEqual(call.action.endsWith("Flags") ? { ids, viewerId: 1 } : { ids });
		expect(Object.keys(users).map(Number).sort((a, b) => a - b)).toEqual(ids);
		expect(users[ids[1]]).toEqual({
			id: ids[1],
			name: "batch1",
			follow_count: 1,
			follower_count: 2,
			is_follow: true,
			avatar: "",
			background_image: "",
			signature: "",
			total_favorited: 7,
			work_count: 3,
			favorite_count: ids[1]
		});
	});

	test("getMany without a viewer asks no flag provider and every flag is false", async () => {
		const { user_id } = await broker.call<{ user_id: number }, object>("users.register", { username: "noviewer", password: "secret1" });
		calls.length = 0;
		const { users } = await broker.call<{ users: Record<number, Record<string, unknown>> }, object>("users.getMany", { ids: [user_id] });
		expect(calls.map(c => c.action).sort()).toEqual(["favorites.userFacts", "relations.userFacts", "videos.userFacts"]);
		expect(users[user_id].is_follow).toBe(false);
	});

	test("get needs a logged-in caller", async () => {
		const err = await rejection(broker.call("users.get", {}));
		expect(err.type).toBe("UNAUTHORIZED");
		const { user } = await broker.call<{ user: { name: string } }, object>("users.get", {}, { meta: { userId: 1 } });
		expect(user.name).toBe("alice");
		const missing = await rejection(broker.call("users.get", { user_id: 424242 }, { meta: { userId: 1 } }));
		expect(missing.type).toBe("NOT_FOUND");
		expect(missing.message).toBe("user 424242 does not exist");
	});
});
