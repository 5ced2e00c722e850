/** The developer commands of the REPL, run against a real system. */
import { replCommands } from "../../lib/repl";
import { Client } from "../helpers/client";
import { startSystem, type System } from "../helpers/system";
import { publishVideo } from "../helpers/videos";

let system: System;
beforeAll(async () => {
	system = await startSystem();
});
afterAll(() => system.stop());

function command(name: string) {
	const found = replCommands.find(cmd => cmd.command.split(" ")[0] === name);
	if (!found) throw new Error(`no REPL command ${name}`);
	return found;
}

async function output(run: () => Promise<void>): Promise<string> {
	const lines: string[] = [];
	const log = jest.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.join(" ")));
	try {
		await run();
	} finally {
		log.mockRestore();
	}
	return lines.join("\n");
}

test("demo-user registers a user, or logs in when it exists, and prints a working token", async () => {
	const first = await output(() => command("demo-user").action(system.broker, { options: {}, username: "demo", password: "secret123" }));
	const token = /token: (\S+)/.exec(first)?.[1];
	expect(first).toMatch(/user demo \(id 1, password secret123\)/);
	expect(await system.broker.call("users.resolveToken", { token })).toEqual({ userId: 1 });
	const again = await output(() => command("demo-user").action(system.broker, { options: {}, username: "demo", password: "secret123" }));
	expect(again).toMatch(/user demo \(id 1,/);
});

test("whois prints the User a token belongs to", async () => {
	const { token } = await system.broker.call<{ token: string }, object>("users.register", { username: "whoami", password: "secret123" });
	const printed = await output(() => command("whois").action(system.broker, { options: {}, token }));
	expect(JSON.parse(printed)).toMatchObject({ name: "whoami", follow_count: 0, work_count: 0 });
});

test("Moleculer's `cache keys` lists what the one cacher holds: counts, viewer flags and change stamps", async () => {
	const { cacheKeysHandler } = require("moleculer-repl/src/commands/cache") as {
		cacheKeysHandler(broker: unknown, args: { options: Record<string, string> }): Promise<void>;
	};
	const viewer = await system.broker.call<{ user_id: number; token: string }, object>("users.register", { username: "looker", password: "secret123" });
	const author = await system.broker.call<{ user_id: number }, object>("users.register", { username: "looked-at", password: "secret123" });
	await system.broker.call("relations.action", { to_user_id: author.user_id, action_type: 1 }, { meta: { userId: viewer.user_id } });
	await system.broker.call("users.get", { user_id: author.user_id }, { meta: { userId: viewer.user_id } });
	// The cacher's writes of a read are not awaited by it.
	await new Promise(resolve => setTimeout(resolve, 50));
	const printed = await output(async () => {
		await cacheKeysHandler(system.broker, { options: {} });
		await new Promise(resolve => setTimeout(resolve, 50));
	});
	// eslint-disable-next-line no-control-regex
	const keys = printed.replace(/\u001b\[[0-9;]*m/g, "");
	for (const key of [
		"stamp:users",
		"stamp:videos",
		`stamp:viewer:${viewer.user_id}`,
		`relations.userFacts:${author.user_id}`,
		`relations.userFlags:${viewer.user_id}:${author.user_id}`,
		`favorites.userFacts:${author.user_id}`,
		`videos.userFacts:${author.user_id}`
	])
		expect(keys).toContain(key);
});

test("upload tells where an upload stands: the video's state and its transcode job", async () => {
	const client = new Client(system.url);
	const author = await client.register("uploader");
	const videoId = await publishVideo(client, system.broker, author.token, "Bear");
	const printed = await output(() => command("upload").action(system.broker, { options: {}, videoId: String(videoId) }));
	const lines = printed.split("\n");
	expect(lines[0]).toMatch(new RegExp(`^video\\s+${videoId} "Bear" by user ${author.id}$`));
	expect(lines[1]).toMatch(/^state\s+ready$/);
	expect(lines[2]).toMatch(/^job\s+done, 1 attempt\(s\), updated \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
	expect(lines).toHaveLength(3);
});
