/**
 * Developer commands for the Moleculer REPL (`npm run repl`), beside the built-in
 * `call`, `dcall`, `services`, `actions`, `events`… Each prints what it did.
 */
import type { ServiceBroker } from "moleculer";

export interface ReplArgs {
	options: Record<string, string | boolean | undefined>;
	[name: string]: unknown;
}

export interface ReplCommand {
	command: string;
	description: string;
	alias?: string[];
	options?: { option: string; description: string }[];
	action(broker: ServiceBroker, args: ReplArgs): Promise<void>;
}

export const replCommands: ReplCommand[] = [
	{
		command: "demo-user [username] [password]",
		description: "Registers a user (or logs in when it exists) and prints its id and token",
		alias: ["du"],
		async action(broker, args) {
			const username = String(args.username ?? `demo${Math.floor(Math.random() * 1e6)}`);
			const password = String(args.password ?? "demo-password");
			const { user_id, token } = await broker
				.call<{ user_id: number; token: string }, object>("users.register", { username, password })
				.catch(() => broker.call<{ user_id: number; token: string }, object>("users.login", { username, password }));
			console.log(`user ${username} (id ${user_id}, password ${password})\ntoken: ${token}`);
			console.log(`try:  curl 'http://localhost:${process.env.PORT ?? 8080}/douyin/user/?token=${token}'`);
		}
	},
	{
		command: "whois <token>",
		description: "Tells which user a token belongs to and shows that user",
		async action(broker, args) {
			const { userId } = await broker.call<{ userId: number }, object>("users.resolveToken", { token: String(args.token) });
			const { users } = await broker.call<{ users: Record<number, unknown> }, object>("users.getMany", { ids: [userId] });
			console.log(JSON.stringify(users[userId] ?? { id: userId, missing: true }, null, 2));
		}
	}
];
