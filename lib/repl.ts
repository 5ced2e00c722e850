/**
 * Developer commands for the Moleculer REPL (`npm run repl`, and `npm run repl -- --attach`
 * on a node with no services of its own, lib/repl-attach.ts), beside the built-in `call`,
 * `dcall`, `services`, `actions`, `events`… Each prints what it did. An error the cluster
 * answers with (a MoleculerError: bad parameter, unknown entity, service not available,
 * timeout…) prints as one line, never a stack trace.
 */
import { Errors, type ServiceBroker } from "moleculer";
import type { JobDoc } from "../services/transcoder.service";

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

/** A mistake in what was typed: told in one line, like an error the cluster answers with. */
class UsageError extends Error {}

/** One line for an expected error: what failed, why, and its code and type. */
export function errorLine(command: string, err: unknown): string {
	if (err instanceof UsageError) return `✖ ${command}: ${err.message}`;
	const { message, code, type, data } = err as Errors.MoleculerError;
	// A validation error's message is generic; its data says which parameter is wrong.
	const details = Array.isArray(data) ? data.map(item => (item as { message?: string }).message).filter(Boolean) : [];
	const why = details.length > 0 ? `${message.replace(/!$/, "")}: ${details.join("; ")}` : message;
	return `✖ ${command}: ${why}${code ? ` (${code}${type ? ` ${type}` : ""})` : ""}`;
}

/** Runs a command's action; a MoleculerError or a usage mistake prints one line, anything else its stack. */
function guarded(command: ReplCommand): ReplCommand {
	const name = command.command.split(" ")[0];
	return {
		...command,
		async action(broker, args) {
			try {
				await command.action(broker, args);
			} catch (err) {
				if (err instanceof Errors.MoleculerError || err instanceof UsageError) console.log(errorLine(name, err));
				else console.log(`✖ ${name}: ${(err as Error).stack ?? String(err)}`);
			}
		}
	};
}

function positiveInt(what: string, raw: unknown): number {
	const value = Number(raw);
	if (raw === undefined || raw === "" || !Number.isSafeInteger(value) || value < 1) throw new UsageError(`${what} must be a positive integer, got ${JSON.stringify(raw ?? "")}`);
	return value;
}

const JOB_STATUSES = ["queued", "running", "done", "failed"];

function time(ms: number): string {
	return ms > 0 ? new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z") : "-";
}

/** Fixed-width columns, the header first. */
function table(rows: string[][]): string {
	const widths = rows[0].map((_, column) => Math.max(...rows.map(row => row[column].length)));
	return rows.map(row => row.map((cell, column) => cell.padEnd(widths[column])).join("  ").trimEnd()).join("\n");
}

const commands: ReplCommand[] = [
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
	},
	{
		command: "jobs [status]",
		description: `Lists transcode jobs, newest first, of one status (${JOB_STATUSES.join(", ")}) or all`,
		options: [{ option: "-n, --limit <count>", description: "how many (default 20)" }],
		async action(broker, args) {
			const status = args.status === undefined ? undefined : String(args.status);
			if (status !== undefined && !JOB_STATUSES.includes(status)) throw new UsageError(`status must be one of ${JOB_STATUSES.join(", ")}, got "${status}"`);
			const limit = args.options.limit === undefined ? 20 : positiveInt("--limit", args.options.limit);
			const { jobs } = await broker.call<{ jobs: JobDoc[] }, object>("transcoder.list", { ...(status ? { status } : {}), limit });
			if (jobs.length === 0) {
				console.log(`no ${status ?? ""}${status ? " " : ""}transcode jobs`);
				return;
			}
			const rows = jobs.map(job => [String(job._id), job.status, String(job.attempts), time(job.updatedAt), job.lastError ?? ""]);
			console.log(table([["video", "status", "attempts", "updated", "last error"], ...rows]));
		}
	},
	{
		command: "retry <videoId>",
		description: "Queues the transcode of a video whose job failed again",
		async action(broker, args) {
			const videoId = positiveInt("videoId", args.videoId);
			const { retried } = await broker.call<{ retried: boolean }, object>("transcoder.retry", { videoId });
			if (retried) console.log(`video ${videoId}: its transcode job is queued again`);
			else {
				const job = await broker.call<JobDoc | null, object>("transcoder.job", { videoId }).catch(() => null);
				console.log(`video ${videoId}: nothing to retry (${job ? `its job is ${job.status}` : "no transcode job"})`);
			}
		}
	},
	{
		command: "upload <videoId>",
		description: "Tells where an upload stands: the video's state and its transcode job",
		async action(broker, args) {
			const videoId = positiveInt("videoId", args.videoId);
			const video = await broker.call<{ authorId: number; title: string; status: string; normalising: boolean; failReason: string | null }, object>(
				"videos.status",
				{ id: videoId }
			);
			const job = await broker.call<JobDoc, object>("transcoder.job", { videoId }).catch(() => null);
			const rows = [
				["video", `${videoId} "${video.title}" by user ${video.authorId}`],
				["state", `${video.status}${video.normalising ? " (plays its original file until the normalised one replaces it)" : ""}`],
				...(video.failReason ? [["reason", video.failReason]] : []),
				["job", job ? `${job.status}, ${job.attempts} attempt(s), updated ${time(job.updatedAt)}${job.lastError ? `, last error: ${job.lastError}` : ""}` : "none"]
			];
			console.log(table(rows));
		}
	},
	{
		command: "counts <userId>",
		description: "Shows a user's counts: follows, followers, videos, likes given and received",
		async action(broker, args) {
			const userId = positiveInt("userId", args.userId);
			const { users } = await broker.call<{ users: Record<number, Record<string, unknown>> }, object>("users.getMany", { ids: [userId] });
			const user = users[userId];
			if (!user) throw new UsageError(`no user ${userId}`);
			const counts = ["follow_count", "follower_count", "work_count", "favorite_count", "total_favorited"].map(key => [key, String(user[key] ?? 0)]);
			console.log(`user ${userId} (${String(user.name)})\n${table([["count", "value"], ...counts])}`);
		}
	}
];

export const replCommands: ReplCommand[] = commands.map(guarded);
