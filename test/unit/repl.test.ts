/** The developer commands of the REPL, run against a real system. */
import { replCommands } from "../../lib/repl";
import { startSystem, type System } from "../helpers/system";

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
