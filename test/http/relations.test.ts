/**
 * relations over HTTP through the gateway: follow/unfollow rules, the counts and
 * is_follow everywhere a User appears, the follow/follower/friend lists, idempotence
 * under concurrency, and the batched assembly of the friend list.
 */
import type { ActionSchema, Context } from "moleculer";
import { Client, codeOf } from "../helpers/client";
import { type System, TARGET, startSystem } from "../helpers/system";

interface WireUser {
	id: number;
	name: string;
	follow_count: number;
	follower_count: number;
	is_follow: boolean;
	[field: string]: unknown;
}
interface FriendUser extends WireUser {
	message: string;
	msgType: number;
}
type Account = { id: number; token: string; username: string };

/** Local action calls, counted by name (reset by the test that reads them). */
const callCounts = new Map<string, number>();
const CallCounter = {
	name: "CallCounter",
	localAction(next: (ctx: Context) => Promise<unknown>, action: ActionSchema) {
		return (ctx: Context) => {
			callCounts.set(action.name!, (callCounts.get(action.name!) ?? 0) + 1);
			return next(ctx);
		};
	}
};

let system: System;
let client: Client;
let alice: Account;
let bob: Account;
let carol: Account;
let dave: Account;
const events: { name: string; params: { followerId: number; followeeId: number } }[] = [];

beforeAll(async () => {
	// The call counter sees the calls of this process: embedded only.
	// Listens to the events the services emit (on every node, so cluster mode too).
	const spy = {
		name: "relationEventSpy",
		events: {
			"relation.*"(ctx: Context<{ followerId: number; followeeId: number }>) {
				events.push({ name: ctx.eventName!, params: ctx.params });
			}
		}
	};
	system = await startSystem({ ...(TARGET === "embedded" ? { middlewares: [CallCounter] } : {}), extraServices: [spy] });
	client = new Client(system.url);
	await system.broker.waitForServices(["relationEventSpy"]);
	alice = await client.register();
	bob = await client.register();
	carol = await client.register();
	dave = await client.register();
});
afterAll(() => system?.stop());

function relate(who: Account | null, to: number | string | undefined, actionType: number | string | undefined) {
	return client.post("/relation/action/", { token: who?.token, to_user_id: to, action_type: actionType });
}
async function follow(who: Account, to: Account) {
	expect(await relate(who, to.id, 1)).toMatchObject({ status_code: 0 });
}
async function unfollow(who: Account, to: Account) {
	expect(await relate(who, to.id, 2)).toMatchObject({ status_code: 0 });
}
/** `whom` as `viewer` sees them on the user page. */
async function userInfo(viewer: Account, whom: Account): Promise<WireUser> {
	const body = await client.get<{ user: WireUser }>("/user/", { token: viewer.token, user_id: whom.id });
	expect(body.status_code).toBe(0);
	return body.user;
}
async function list(kind: "follow" | "follower", of: Account, viewer?: Account): Promise<WireUser[]> {
	const body = await client.get<{ user_list: WireUser[] }>(`/relation/${kind}/list/`, { token: viewer?.token, user_id: of.id });
	expect(body.status_code).toBe(0);
	expect(Array.isArray(body.user_list)).toBe(true);
	return body.user_list;
}
async function friends(viewer: Account, of?: Account): Promise<FriendUser[]> {
	const body = await client.get<{ user_list: FriendUser[] }>("/relation/friend/list/", { token: viewer.token, user_id: of?.id });
	expect(body.status_code).toBe(0);
	expect(Array.isArray(body.user_list)).toBe(true);
	return body.user_list;
}
async function counts(of: Account): Promise<[number, number]> {
	const user = await userInfo(of, of);
	return [user.follow_count, user.follower_count];
}
async function send(from: Account, to: Account, content: string) {
	expect(await client.post("/message/action/", { token: from.token, to_user_id: to.id, action_type: 1, content })).toMatchObject({ status_code: 0 });
}
const ids = (users: WireUser[]) => users.map(user => user.id);

describe("relation/action", () => {
	test("a follow shows in both users' counts, in is_follow and in both lists", async () => {
		expect(await counts(alice)).toEqual([0, 0]);
		expect(await counts(bob)).toEqual([0, 0]);
		expect(await userInfo(alice, bob)).toMatchObject({ is_follow: false });

		await follow(alice, bob);

		expect(await counts(alice)).toEqual([1, 0]);
		expect(await counts(bob)).toEqual([0, 1]);
		expect(await userInfo(alice, bob)).toMatchObject({ id: bob.id, follower_count: 1, is_follow: true });
		expect(await userInfo(carol, bob)).toMatchObject({ follower_count: 1, is_follow: false });
		expect(await userInfo(bob, alice)).toMatchObject({ follow_count: 1, is_follow: false });
		expect(await userInfo(bob, bob)).toMatchObject({ is_follow: false });

		const following = await list("follow", alice, alice);
		expect(following).toEqual([expect.objectContaining({ id: bob.id, name: bob.username, follower_count: 1, is_follow: true })]);
		const followers = await list("follower", bob, bob);
		expect(followers).toEqual([expect.objectContaining({ id: alice.id, name: alice.username, follow_count: 1, is_follow: false })]);
		expect(events).toEqual([{ name: "relation.followed", params: { followerId: alice.id, followeeId: bob.id } }]);
	});

	test("following again changes nothing and emits nothing", async () => {
		events.length = 0;
		await follow(alice, bob);
		expect(await counts(alice)).toEqual([1, 0]);
		expect(await counts(bob)).toEqual([0, 1]);
		expect(ids(await list("follower", bob))).toEqual([alice.id]);
		expect(events).toEqual([]);
	});

	test("unfollow removes the follow everywhere; unfollowing again is a no-op", async () => {
		events.length = 0;
		await unfollow(alice, bob);
		expect(await counts(alice)).toEqual([0, 0]);
		expect(await counts(bob)).toEqual([0, 0]);
		expect(await userInfo(alice, bob)).toMatchObject({ is_follow: false });
		expect(await list("follow", alice, alice)).toEqual([]);
		expect(await list("follower", bob, bob)).toEqual([]);
		await unfollow(alice, bob);
		await unfollow(carol, dave);
		expect(await counts(alice)).toEqual([0, 0]);
		expect(await counts(bob)).toEqual([0, 0]);
		expect(await counts(dave)).toEqual([0, 0]);
		expect(events).toEqual([{ name: "relation.unfollowed", params: { followerId: alice.id, followeeId: bob.id } }]);
	});

	test("20 concurrent identical follows count once", async () => {
		events.length = 0;
		const bodies = await Promise.all(Array.from({ length: 20 }, () => relate(carol, dave.id, 1)));
		expect(bodies.every(body => body.status_code === 0)).toBe(true);
		expect(await counts(carol)).toEqual([1, 0]);
		expect(await counts(dave)).toEqual([0, 1]);
		expect(ids(await list("follower", dave))).toEqual([carol.id]);
		expect(ids(await list("follow", carol))).toEqual([dave.id]);
		expect(events).toHaveLength(1);

		const unfollows = await Promise.all(Array.from({ length: 20 }, () => relate(carol, dave.id, 2)));
		expect(unfollows.every(body => body.status_code === 0)).toBe(true);
		expect(await counts(carol)).toEqual([0, 0]);
		expect(await counts(dave)).toEqual([0, 0]);
		expect(events.filter(event => event.name === "relation.unfollowed")).toHaveLength(1);
	});

	test("the parameters may also come as an urlencoded or multipart body", async () => {
		const form = new FormData();
		form.append("token", carol.token);
		form.append("to_user_id", String(alice.id));
		form.append("action_type", "1");
		expect(await client.postMultipart("/relation/action/", form)).toMatchObject({ status_code: 0 });
		expect(await client.postForm("/relation/action/", { token: carol.token, to_user_id: alice.id, action_type: 2 })).toMatchObject({ status_code: 0 });
		expect(await counts(alice)).toEqual([0, 0]);
	});

	test.each([
		["no token", () => relate(null, bob.id, 1), /token is required/],
		["a forged token", () => client.post("/relation/action/", { token: "nope", to_user_id: bob.id, action_type: 1 }), /token is invalid/],
		["no to_user_id", () => relate(alice, undefined, 1), /'to_user_id' field is required/],
		["a non-numeric to_user_id", () => relate(alice, "bob", 1), /'to_user_id' field must be a number/],
		["a negative to_user_id", () => relate(alice, -3, 1), /'to_user_id' field must be a positive number/],
		["a fractional to_user_id", () => relate(alice, 1.5, 1), /'to_user_id' field must be an integer/],
		["no action_type", () => relate(alice, bob.id, undefined), /^The 'action_type' field must be 1 \(follow\) or 2 \(unfollow\)\.$/],
		["action_type 3", () => relate(alice, bob.id, 3), /^The 'action_type' field must be 1 \(follow\) or 2 \(unfollow\)\.$/],
		["action_type 0", () => relate(alice, bob.id, 0), /^The 'action_type' field must be 1 \(follow\) or 2 \(unfollow\)\.$/],
		["a non-numeric action_type", () => relate(alice, bob.id, "follow"), /^The 'action_type' field must be 1 \(follow\) or 2 \(unfollow\)\.$/],
		["following oneself", () => relate(alice, alice.id, 1), /cannot follow or unfollow yourself/],
		["unfollowing oneself", () => relate(alice, alice.id, 2), /cannot follow or unfollow yourself/],
		["following an unknown user", () => relate(alice, 987654, 1), /user 987654 does not exist/],
		["unfollowing an unknown user", () => relate(alice, 987654, 2), /user 987654 does not exist/]
	])("refuses %s with a message that says what is wrong", async (_what, request, message) => {
		const body = await request();
		expect(body.status_code).toBe(codeOf(message));
		expect(body.status_msg).toMatch(message);
		expect(await counts(alice)).toEqual([0, 0]);
	});

	test("GET is not the method of relation/action", async () => {
		const body = await client.get("/relation/action/", { token: alice.token, to_user_id: bob.id, action_type: 1 });
		expect(body.status_code).not.toBe(0);
		expect(body.status_msg).toMatch(/use POST/);
	});
});

describe("follow and follower lists", () => {
	let erin: Account;
	let frank: Account;
	beforeAll(async () => {
		erin = await client.register();
		frank = await client.register();
	});

	test("newest follow first; is_follow is the requester's, not user_id's", async () => {
		await follow(erin, alice);
		await follow(erin, bob);
		await follow(erin, carol);
		await follow(frank, bob);

		const following = await list("follow", erin);
		expect(ids(following)).toEqual([carol.id, bob.id, alice.id]);
		// Anonymous: nobody is followed.
		expect(following.every(user => user.is_follow === false)).toBe(true);
		// erin's own view: she follows all of them.
		expect((await list("follow", erin, erin)).map(user => user.is_follow)).toEqual([true, true, true]);
		// frank looks at erin's list: he follows only bob.
		expect((await list("follow", erin, frank)).map(user => [user.id, user.is_follow])).toEqual([
			[carol.id, false],
			[bob.id, true],
			[alice.id, false]
		]);
		expect((await list("follow", erin, frank))[1]).toMatchObject({ follower_count: 2, follow_count: 0 });

		const bobFollowers = await list("follower", bob, erin);
		expect(ids(bobFollowers)).toEqual([frank.id, erin.id]);
		expect(bobFollowers.map(user => user.is_follow)).toEqual([false, false]);
		expect(bobFollowers[1]).toMatchObject({ follow_count: 3, follower_count: 0 });

		await follow(erin, frank);
		expect((await list("follower", bob, erin)).map(user => [user.id, user.is_follow])).toEqual([
			[frank.id, true],
			[erin.id, false]
		]);
		expect(await userInfo(erin, frank)).toMatchObject({ follower_count: 1, is_follow: true });
		// Lists read with a bad token are anonymous, not refused.
		const anonymous = await client.get<{ user_list: WireUser[] }>("/relation/follower/list/", { token: "garbage", user_id: bob.id });
		expect(anonymous.status_code).toBe(0);
		expect(anonymous.user_list.map(user => user.is_follow)).toEqual([false, false]);
	});

	test("every User field is present", async () => {
		const [user] = await list("follow", frank);
		expect(Object.keys(user).sort()).toEqual(
			["avatar", "background_image", "favorite_count", "follow_count", "follower_count", "id", "is_follow", "name", "signature", "total_favorited", "work_count"].sort()
		);
	});

	test.each(["follow", "follower"] as const)("%s list: bad user_id values are refused clearly", async kind => {
		for (const [params, message] of [
			[{}, /'user_id' field is required/],
			[{ user_id: "x" }, /'user_id' field must be a number/],
			[{ user_id: 0 }, /'user_id' field must be a positive number/],
			[{ user_id: 876543 }, /user 876543 does not exist/]
		] as const) {
			const body = await client.get(`/relation/${kind}/list/`, { token: alice.token, ...params });
			expect(body.status_code).not.toBe(0);
			expect(body.status_msg).toMatch(message);
		}
		expect(await list(kind, dave)).toEqual([]);
	});
});

describe("friend list", () => {
	let gina: Account;
	let hugo: Account;
	let ivan: Account;
	beforeAll(async () => {
		gina = await client.register();
		hugo = await client.register();
		ivan = await client.register();
	});

	test("a one-way follow is not a friendship; a mutual one is, on both sides", async () => {
		expect(await friends(gina)).toEqual([]);
		await follow(gina, hugo);
		expect(await friends(gina)).toEqual([]);
		expect(await friends(hugo)).toEqual([]);
		await follow(hugo, gina);

		const ginaFriends = await friends(gina);
		expect(ginaFriends).toEqual([
			expect.objectContaining({ id: hugo.id, name: hugo.username, follow_count: 1, follower_count: 1, is_follow: true, message: "", msgType: 0 })
		]);
		expect(await friends(hugo)).toEqual([expect.objectContaining({ id: gina.id, is_follow: true, message: "", msgType: 0 })]);
		expect(Object.keys(ginaFriends[0]).sort()).toEqual(
			["avatar", "background_image", "favorite_count", "follow_count", "follower_count", "id", "is_follow", "message", "msgType", "name", "signature", "total_favorited", "work_count"].sort()
		);
		// user_id defaults to the token's user; giving one's own id is the same list.
		expect(await friends(gina, gina)).toEqual(ginaFriends);
	});

	test("message and msgType are the latest message from each side's point of view", async () => {
		await send(gina, hugo, "hello hugo");
		expect(await friends(gina)).toEqual([expect.objectContaining({ id: hugo.id, message: "hello hugo", msgType: 1 })]);
		expect(await friends(hugo)).toEqual([expect.objectContaining({ id: gina.id, message: "hello hugo", msgType: 0 })]);

		await send(hugo, gina, "hi gina");
		expect(await friends(gina)).toEqual([expect.objectContaining({ id: hugo.id, message: "hi gina", msgType: 0 })]);
		expect(await friends(hugo)).toEqual([expect.objectContaining({ id: gina.id, message: "hi gina", msgType: 1 })]);
	});

	test("the friend with the latest conversation comes first", async () => {
		await follow(gina, ivan);
		await follow(ivan, gina);
		// ivan is the newer friend and there is no message with him yet: hugo (who has one) leads.
		expect(ids(await friends(gina))).toEqual([hugo.id, ivan.id]);
		await send(ivan, gina, "yo");
		const list = await friends(gina);
		expect(ids(list)).toEqual([ivan.id, hugo.id]);
		expect(list[0]).toMatchObject({ message: "yo", msgType: 0 });
		expect(list[1]).toMatchObject({ message: "hi gina", msgType: 0 });
	});

	if (TARGET === "embedded")
		test("one users.getMany and one messages.lastWith per list, however many friends", async () => {
			callCounts.clear();
			await friends(gina);
			expect(callCounts.get("users.getMany")).toBe(1);
			expect(callCounts.get("messages.lastWith")).toBe(1);
			expect(callCounts.get("relations.friendList")).toBe(1);
		});

	test("unfollowing from either side ends the friendship for both; following back restores it", async () => {
		await unfollow(hugo, gina);
		expect(ids(await friends(gina))).toEqual([ivan.id]);
		expect(await friends(hugo)).toEqual([]);

		await follow(hugo, gina);
		expect(ids(await friends(gina))).toEqual([ivan.id, hugo.id]);
		expect(await friends(hugo)).toEqual([expect.objectContaining({ id: gina.id, message: "hi gina", msgType: 1 })]);

		await unfollow(gina, hugo);
		expect(ids(await friends(gina))).toEqual([ivan.id]);
		expect(await friends(hugo)).toEqual([]);
		// The follow that is left is still a follow.
		expect(ids(await list("follow", hugo))).toEqual([gina.id]);
	});

	test("someone else's friend list shows the friendships but not their private messages", async () => {
		const seen = await friends(hugo, gina);
		expect(seen).toEqual([expect.objectContaining({ id: ivan.id, message: "", msgType: 0, is_follow: false })]);
		expect(await friends(gina)).toEqual([expect.objectContaining({ id: ivan.id, message: "yo" })]);
	});

	test.each([
		["no token", { user_id: 1 }, /token is required/],
		["a forged token", { token: "forged", user_id: 1 }, /token is invalid/],
		["a non-numeric user_id", { user_id: "me" }, /'user_id' field must be a number/],
		["a negative user_id", { user_id: -1 }, /'user_id' field must be a positive number/],
		["an unknown user_id", { user_id: 765432 }, /user 765432 does not exist/]
	])("refuses %s", async (what, params, message) => {
		const withToken = what.includes("token") ? params : { token: gina.token, ...params };
		const body = await client.get("/relation/friend/list/", withToken);
		expect(body.status_code).toBe(codeOf(message));
		expect(body.status_msg).toMatch(message);
	});
});
