/**
 * The attached REPL (lib/repl-attach.ts, `npm run repl -- --attach`): spawned from the build
 * against a running cluster (every service its own process over the authenticated NATS of
 * scripts/servers.sh), driven through its stdin and read from its stdout as a developer
 * would see it. It joins as a node with no services, its commands reach the running ones, and
 * an error prints as one line.
 *
 * The transcode-job commands use `transcoder.list` and `transcoder.retry`, which another
 * branch adds: their describe block fails until that branch is merged.
 */
import { type ChildProcess, spawn } from "node:child_process";
import crypto from "node:crypto";
import path from "node:path";
import { Client } from "../helpers/client";
import { until } from "../helpers/real-servers";
import { startSystem, type System } from "../helpers/system";
import { BINARIES, mpeg4Mkv, uploadForm } from "../helpers/videos";

const ROOT = path.join(__dirname, "..", "..");
const PROMPT = "mol $ ";

/** A REPL process: `run(line)` types a line and returns what it printed before the next prompt. */
class ReplSession {
	private output = "";
	private readonly child: ChildProcess;
	readonly exited: Promise<number | null>;

	constructor(env: NodeJS.ProcessEnv) {
		this.child = spawn(process.execPath, [path.join(ROOT, "dist/lib/repl-attach.js")], { cwd: ROOT, env, stdio: ["pipe", "pipe", "pipe"] });
		this.child.stdout!.on("data", chunk => (this.output += String(chunk)));
		this.child.stderr!.on("data", chunk => (this.output += String(chunk)));
		this.exited = new Promise(resolve => this.child.once("exit", code => resolve(code)));
	}

	/** Everything printed so far (ANSI colours removed), and forgets it. */
	private take(): string {
		const text = this.output.replace(/\x1b\[[0-9;]*m/g, "");
		this.output = "";
		return text;
	}

	/** Waits for the first prompt; returns the banner. */
	async started(): Promise<string> {
		await until("the REPL's prompt", async () => (this.output.includes(PROMPT) ? true : undefined), 30_000, 50);
		return this.take().split(PROMPT)[0].trim();
	}

	async run(line: string): Promise<string> {
		this.take();
		this.child.stdin!.write(`${line}\n`);
		const text = await until(`the answer to "${line}"`, async () => (this.output.includes(PROMPT) ? this.output : undefined), 30_000, 50);
		this.take();
		return text.replace(/\x1b\[[0-9;]*m/g, "").split(PROMPT)[0].trim();
	}

	async quit(): Promise<number | null> {
		this.child.stdin!.end("quit\n");
		return this.exited;
	}
}

const NAMESPACE = `repl${crypto.randomBytes(4).toString("hex")}`;
const JWT_SECRET = crypto.randomBytes(32).toString("hex");
/** The environment a pod (or scripts/cluster.sh env) gives: the cluster's, ports and all. */
const clusterEnv = () => ({ ...process.env, NAMESPACE, JWT_SECRET, HEALTH_PORT: "3001", METRICS_PORT: "3030", LOG_LEVEL: "info" });

describe("the attached REPL", () => {
	let system: System;
	let client: Client;
	let repl: ReplSession;
	let banner: string;

	beforeAll(async () => {
		system = await startSystem({ env: { NAMESPACE, JWT_SECRET }, replicas: { api: 1, videos: 1 } });
		client = new Client(system.url);
		repl = new ReplSession(clusterEnv());
		banner = await repl.started();
	}, 120_000);

	afterAll(async () => {
		if (repl) await repl.quit();
		await system?.stop();
	});

	it("joins the cluster as a node with no services, beside the running ones", async () => {
		expect(banner).toMatch(new RegExp(`^attached to namespace "${NAMESPACE}" as repl-\\S+, a node with no services; \\d+ other node\\(s\\)\\.`));
		const replNode = /as (repl-\S+),/.exec(banner)![1];
		const node = await until("the cluster to see the REPL's node", async () => system.broker.registry.nodes.get(replNode) ?? undefined, 10_000, 50);
		expect(node.available).toBe(true);
		// Its only service is Moleculer's internal $node: nothing of MoleTok's runs there.
		expect(node.services.map(service => service.name)).toEqual(["$node"]);
		const listed = await repl.run("nodes");
		for (const node of system.processes.keys()) expect(listed).toContain(node.slice(0, 10));
	});

	it("counts <userId> prints the user's counts from users.getMany", async () => {
		const alice = await client.register();
		const bob = await client.register();
		expect(await client.post("/relation/action/", { token: alice.token, to_user_id: bob.id, action_type: 1 })).toMatchObject({ status_code: 0 });
		const printed = await repl.run(`counts ${bob.id}`);
		expect(printed.split("\n")).toEqual([
			`user ${bob.id} (${bob.username})`,
			"count            value",
			"follow_count     0",
			"follower_count   1",
			"work_count       0",
			"favorite_count   0",
			"total_favorited  0"
		]);
	});

	it.each([
		["counts 999999", "✖ counts: no user 999999"],
		["counts abc", '✖ counts: userId must be a positive integer, got "abc"'],
		["retry -3", '✖ retry: videoId must be a positive integer, got "-3"'],
		["jobs bogus", '✖ jobs: status must be one of queued, running, done, failed, got "bogus"'],
		["whois not-a-token", "✖ whois: token is invalid (401 UNAUTHORIZED)"]
	])("%s prints one clear line, no stack trace", async (line, expected) => {
		expect(await repl.run(line)).toBe(expected);
	});

	it("answers with the running cluster's data: whois shows the user of a token", async () => {
		const carol = await client.register();
		expect(JSON.parse(await repl.run(`whois ${carol.token}`))).toMatchObject({ id: carol.id, name: carol.username, follow_count: 0 });
	});
});

describe("the attached REPL's transcode-job commands (need transcoder.list / transcoder.retry)", () => {
	let system: System;
	let client: Client;
	let repl: ReplSession;

	beforeAll(async () => {
		system = await startSystem({
			env: { NAMESPACE: `${NAMESPACE}j`, JWT_SECRET, TRANSCODE_MAX_ATTEMPTS: "1" },
			replicas: { api: 1, videos: 1 },
			// The check passes (the real ffmpeg); the re-encode of an MPEG-4 Part 2 upload fails.
			processEnv: (service): Record<string, string> =>
				service === "transcoder"
					? { FFMPEG_PATH: path.join(ROOT, "test/fixtures/bin/ffmpeg-encode-fails"), MOLETOK_TEST_REAL_FFMPEG: BINARIES.ffmpeg }
					: {}
		});
		client = new Client(system.url);
		repl = new ReplSession({ ...clusterEnv(), NAMESPACE: `${NAMESPACE}j` });
		await repl.started();
	}, 120_000);

	afterAll(async () => {
		if (repl) await repl.quit();
		await system?.stop();
	});

	it("lists failed jobs, retries one, and says when there is nothing to retry", async () => {
		const user = await client.register();
		const published = await client.postMultipart<{ video_id: number }>("/publish/action/", uploadForm({ token: user.token, title: "fails" }, mpeg4Mkv()));
		expect(published).toMatchObject({ status_code: 0 });
		const videoId = published.video_id;
		const job = () => system.broker.call<{ status: string; updatedAt: number }, object>("transcoder.job", { videoId });
		await until("its re-encode to fail", async () => ((await job()).status === "failed" ? true : undefined));

		const failed = (await repl.run("jobs failed")).split("\n");
		expect(failed[0]).toMatch(/^video\s+status\s+attempts\s+updated\s+last error$/);
		expect(failed[1]).toMatch(new RegExp(`^${videoId}\\s+failed\\s+1\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ\\s+\\S`));
		expect(await repl.run("jobs done")).toBe("no done transcode jobs");

		const before = await job();
		expect(await repl.run(`retry ${videoId}`)).toBe(`video ${videoId}: its transcode job is queued again`);
		await until("the retried job to fail again", async () => {
			const now = await job();
			return now.status === "failed" && now.updatedAt > before.updatedAt ? now : undefined;
		});
		expect(await repl.run(`jobs --limit 1`)).toMatch(new RegExp(`\\n${videoId}\\s+failed\\s`));
		// An unknown video: retry says so in one line (whether transcoder.retry answers false or 404).
		expect(await repl.run("retry 999999")).toMatch(/^(video 999999: nothing to retry \(no transcode job\)|✖ retry: [^\n]*\(404 [A-Z_]+\))$/);
	});
});
