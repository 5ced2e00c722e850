/**
 * messages over HTTP through the gateway: sending rules, the chat both ways, the
 * pre_msg_time cursor, and a poll under concurrent sends that must see every message
 * exactly once, in order, the way the APK appends what each poll returns.
 */
import type { Context } from "moleculer";
import { Client, codeOf } from "../helpers/client";
import { type System, startSystem } from "../helpers/system";

interface WireMessage {
	id: number;
	to_user_id: number;
	from_user_id: number;
	content: string;
	create_time: number;
}
type Account = { id: number; token: string; username: string };

const MAX_CHARS = 40;

let system: System;
let client: Client;
let alice: Account;
let bob: Account;
let carol: Account;
const sentEvents: { messageId: number; fromUserId: number; toUserId: number }[] = [];

beforeAll(async () => {
	// Listens to the events the services emit (on every node, so cluster mode too).
	const spy = {
		name: "messageEventSpy",
		events: {
			"message.sent"(ctx: Context<{ messageId: number; fromUserId: number; toUserId: number }>) {
				sentEvents.push(ctx.params);
			}
		}
	};
	system = await startSystem({ env: { MAX_MESSAGE_CHARS: String(MAX_CHARS) }, extraServices: [spy] });
	client = new Client(system.url);
	alice = await client.register();
	bob = await client.register();
	carol = await client.register();
});
afterAll(() => system?.stop());

function post(from: Account | null, params: Record<string, string | number | undefined>) {
	return client.post("/message/action/", { token: from?.token, ...params });
}
async function send(from: Account, to: Account, content: string) {
	const body = await post(from, { to_user_id: to.id, action_type: 1, content });
	expect(body).toMatchObject({ status_code: 0 });
}
async function chat(viewer: Account, peer: Account, preMsgTime?: number): Promise<WireMessage[]> {
	const body = await client.get<{ message_list: WireMessage[] }>("/message/chat/", { token: viewer.token, to_user_id: peer.id, pre_msg_time: preMsgTime });
	expect(body.status_code).toBe(0);
	expect(Array.isArray(body.message_list)).toBe(true);
	return body.message_list;
}
const contents = (messages: WireMessage[]) => messages.map(message => message.content);

describe("message/action and message/chat", () => {
	test("an empty conversation is an empty list", async () => {
		expect(await chat(alice, bob)).toEqual([]);
		expect(await chat(alice, bob, 0)).toEqual([]);
	});

	test("both directions, oldest first, with integer ms times that increase", async () => {
		const before = Date.now();
		await send(alice, bob, "hi bob");
		await send(bob, alice, "hi alice");
		await send(alice, bob, "how are you?");
		const after = Date.now();

		const seenByAlice = await chat(alice, bob);
		expect(seenByAlice).toEqual([
			{ id: expect.any(Number), from_user_id: alice.id, to_user_id: bob.id, content: "hi bob", create_time: expect.any(Number) },
			{ id: expect.any(Number), from_user_id: bob.id, to_user_id: alice.id, content: "hi alice", create_time: expect.any(Number) },
			{ id: expect.any(Number), from_user_id: alice.id, to_user_id: bob.id, content: "how are you?", create_time: expect.any(Number) }
		]);
		expect(await chat(bob, alice)).toEqual(seenByAlice);
		for (const message of seenByAlice) {
			expect(Number.isSafeInteger(message.create_time)).toBe(true);
			expect(message.create_time).toBeGreaterThanOrEqual(before);
			expect(message.create_time).toBeLessThanOrEqual(after + 5);
		}
		const times = seenByAlice.map(message => message.create_time);
		expect([...times].sort((a, b) => a - b)).toEqual(times);
		expect(new Set(times).size).toBe(3);
		expect(new Set(seenByAlice.map(message => message.id)).size).toBe(3);
		expect(sentEvents.slice(-3)).toEqual(
			seenByAlice.map(message => expect.objectContaining({ messageId: message.id, fromUserId: message.from_user_id, toUserId: message.to_user_id }))
		);
	});

	test("pre_msg_time returns only strictly newer messages", async () => {
		const all = await chat(alice, bob);
		expect(contents(await chat(alice, bob, all[0].create_time))).toEqual(["hi alice", "how are you?"]);
		expect(contents(await chat(bob, alice, all[1].create_time))).toEqual(["how are you?"]);
		expect(await chat(alice, bob, all[2].create_time)).toEqual([]);
		expect(contents(await chat(alice, bob, all[0].create_time - 1))).toEqual(contents(all));
		expect(await chat(alice, bob, Date.now() + 60_000)).toEqual([]);
	});

	test("a conversation is private to its two users", async () => {
		expect(await chat(carol, alice)).toEqual([]);
		await send(carol, alice, "I'm carol");
		expect(contents(await chat(alice, carol))).toEqual(["I'm carol"]);
		expect(contents(await chat(alice, bob))).toEqual(["hi bob", "hi alice", "how are you?"]);
		expect(contents(await chat(carol, bob))).toEqual([]);
	});

	test("messaging someone who is not a friend is allowed", async () => {
		const friends = await client.get<{ user_list: unknown[] }>("/relation/friend/list/", { token: carol.token });
		expect(friends.user_list).toEqual([]);
		await send(carol, bob, "we are not friends");
		expect(contents(await chat(bob, carol))).toEqual(["we are not friends"]);
	});

	test("content is trimmed and its sensitive words masked", async () => {
		await send(alice, carol, "  oh Shit, fuck this  ");
		const [last] = (await chat(alice, carol)).slice(-1);
		expect(last.content).toBe("oh ****, **** this");
		await send(alice, carol, "你这个傻逼");
		expect((await chat(carol, alice)).at(-1)!.content).toBe("你这个**");
	});

	test(`content may be up to ${MAX_CHARS} characters`, async () => {
		const longest = "x".repeat(MAX_CHARS);
		await send(alice, carol, longest);
		expect((await chat(alice, carol)).at(-1)!.content).toBe(longest);
		const tooLong = await post(alice, { to_user_id: carol.id, action_type: 1, content: `${longest}y` });
		expect(tooLong.status_code).not.toBe(0);
		expect(tooLong.status_msg).toBe(`The 'content' field is too long: at most ${MAX_CHARS} characters.`);
	});

	test("the parameters may also come as an urlencoded or multipart body", async () => {
		expect(await client.postForm("/message/action/", { token: bob.token, to_user_id: carol.id, action_type: 1, content: "form" })).toMatchObject({
			status_code: 0
		});
		const form = new FormData();
		form.append("token", bob.token);
		form.append("to_user_id", String(carol.id));
		form.append("action_type", "1");
		form.append("content", "multipart 你好");
		expect(await client.postMultipart("/message/action/", form)).toMatchObject({ status_code: 0 });
		expect(contents(await chat(carol, bob)).slice(-2)).toEqual(["form", "multipart 你好"]);
	});

	test.each([
		["no token", null, { to_user_id: 2, action_type: 1, content: "x" }, /token is required/],
		["no to_user_id", "alice", { action_type: 1, content: "x" }, /'to_user_id' field is required/],
		["a non-numeric to_user_id", "alice", { to_user_id: "abc", action_type: 1, content: "x" }, /'to_user_id' field must be a number/],
		["a zero to_user_id", "alice", { to_user_id: 0, action_type: 1, content: "x" }, /'to_user_id' field must be a positive number/],
		["an unknown recipient", "alice", { to_user_id: 999999, action_type: 1, content: "x" }, /user 999999 does not exist/],
		["oneself as recipient", "alice", { to_user_id: "self", action_type: 1, content: "x" }, /cannot message yourself/],
		["no action_type", "alice", { to_user_id: "bob", content: "x" }, /^The 'action_type' field must be 1 \(send\)\.$/],
		["action_type 2", "alice", { to_user_id: "bob", action_type: 2, content: "x" }, /^The 'action_type' field must be 1 \(send\)\.$/],
		["a non-numeric action_type", "alice", { to_user_id: "bob", action_type: "send", content: "x" }, /^The 'action_type' field must be 1 \(send\)\.$/],
		["no content", "alice", { to_user_id: "bob", action_type: 1 }, /'content' field is required: type a message/],
		// An empty parameter counts as absent (gin).
		["empty content", "alice", { to_user_id: "bob", action_type: 1, content: "" }, /'content' field is required: type a message/],
		["whitespace-only content", "alice", { to_user_id: "bob", action_type: 1, content: " \n\t " }, /'content' field is empty: type a message/]
	] as const)("message/action refuses %s", async (_what, sender, raw, message) => {
		const from = sender === "alice" ? alice : null;
		const params: Record<string, string | number> = { ...raw };
		if (params.to_user_id === "self") params.to_user_id = alice.id;
		else if (params.to_user_id === "bob") params.to_user_id = bob.id;
		const before = await chat(alice, bob);
		const body = await post(from, params);
		expect(body.status_code).toBe(codeOf(message));
		expect(body.status_msg).toMatch(message);
		expect(await chat(alice, bob)).toEqual(before);
	});

	test.each([
		["no token", { to_user_id: "bob" }, /token is required/],
		["a forged token", { token: "forged", to_user_id: "bob" }, /token is invalid/],
		["no to_user_id", { token: "alice" }, /'to_user_id' field is required/],
		["a non-numeric to_user_id", { token: "alice", to_user_id: "x" }, /'to_user_id' field must be a number/],
		["an unknown to_user_id", { token: "alice", to_user_id: 999999 }, /user 999999 does not exist/],
		["oneself as to_user_id", { token: "alice", to_user_id: "self" }, /cannot chat with yourself/],
		["a negative pre_msg_time", { token: "alice", to_user_id: "bob", pre_msg_time: -1 }, /'pre_msg_time' field must be greater than or equal to 0/],
		["a non-numeric pre_msg_time", { token: "alice", to_user_id: "bob", pre_msg_time: "yesterday" }, /'pre_msg_time' field must be a number/]
	] as const)("message/chat refuses %s", async (_what, raw, message) => {
		const params: Record<string, string | number> = { ...raw };
		if (params.token === "alice") params.token = alice.token;
		if (params.to_user_id === "bob") params.to_user_id = bob.id;
		else if (params.to_user_id === "self") params.to_user_id = alice.id;
		const body = await client.get("/message/chat/", params);
		expect(body.status_code).toBe(codeOf(message));
		expect(body.status_msg).toMatch(message);
	});

	test("POST is not the method of message/chat", async () => {
		const body = await client.post("/message/chat/", { token: alice.token, to_user_id: bob.id });
		expect(body.status_code).not.toBe(0);
		expect(body.status_msg).toMatch(/use GET/);
	});
});

describe("polling while both sides send", () => {
	test("2 × 50 concurrent sends: each poller sees every message exactly once, in order", async () => {
		const dan = await client.register();
		const eve = await client.register();
		const PER_SIDE = 50;
		const BURST = 5;

		let sending = true;
		/** Polls like the APK: pre_msg_time = create_time of the newest message shown, appending blindly. */
		async function poller(me: Account, peer: Account): Promise<WireMessage[]> {
			const shown: WireMessage[] = [];
			const poll = async () => shown.push(...(await chat(me, peer, shown.at(-1)?.create_time ?? 0)));
			while (sending) {
				await poll();
				await new Promise(resolve => setTimeout(resolve, 2));
			}
			await poll();
			return shown;
		}
		/** Sends in bursts of concurrent requests, so many land in the same millisecond. */
		async function sender(from: Account, to: Account): Promise<void> {
			for (let i = 0; i < PER_SIDE; i += BURST)
				await Promise.all(Array.from({ length: BURST }, (_, j) => send(from, to, `${from.username} #${i + j}`)));
		}

		const polls = [poller(dan, eve), poller(eve, dan)];
		await Promise.all([sender(dan, eve), sender(eve, dan)]);
		sending = false;
		const [danSaw, eveSaw] = await Promise.all(polls);

		const truth = await chat(dan, eve);
		expect(truth).toHaveLength(2 * PER_SIDE);
		const times = truth.map(message => message.create_time);
		for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThan(times[i - 1]);
		expect(new Set(truth.map(message => message.id)).size).toBe(2 * PER_SIDE);
		for (const from of [dan, eve]) {
			const mine = truth.filter(message => message.from_user_id === from.id).map(message => message.content);
			expect([...mine].sort()).toEqual(Array.from({ length: PER_SIDE }, (_, i) => `${from.username} #${i}`).sort());
			// Bursts are sequential, so every message of a burst comes after all of the previous one.
			const burstOf = (content: string) => Math.floor(Number(content.split("#")[1]) / BURST);
			const bursts = mine.map(burstOf);
			expect([...bursts].sort((a, b) => a - b)).toEqual(bursts);
		}
		expect(danSaw).toEqual(truth);
		expect(eveSaw).toEqual(truth);
	}, 60_000);
});
