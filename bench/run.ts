/**
 * MoleTok's HTTP benchmark (issue 6): the feed, a user's profile and a like, each under
 * 50 connections for a fixed time, against MoleTok embedded (the defaults a user gets,
 * then once more with METRICS_PORT=off), against a local cluster (one process per
 * service over NATS, real FerretDB/Redis and the S3 gateway), and against a bare Node server with
 * bodies of the same size and shape (the ceiling), all in one run on one machine.
 *
 * A measurement, not a test: targets missed are reported (flags in the JSON), never a
 * failing exit. Run with `npm run bench` (scripts/bench.sh builds and starts the servers).
 *
 * Env: BENCH_DURATION (s, default 10), BENCH_WARMUP (s, 2), BENCH_CONNECTIONS (50),
 * BENCH_TARGETS (embedded,bare,embedded-nometrics,cluster), BENCH_ENDPOINTS (feed,user,favorite,follow,comment,message),
 * BENCH_SHARED_SERVERS (1: the cluster uses the environment's NATS/Redis/FerretDB instead of its own),
 * BENCH_TIMEOUT (s for the whole run, 1800), BENCH_CPU_PROF (directory: V8 CPU profiles of
 * every server process, see bench/profile-summary.ts), BENCH_KEEP (1: keep the work directory).
 * Results: bench/results/<timestamp>.json and bench/results/latest.json.
 */
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type BenchRequest, type LoadResult, runLoad } from "./load";
import { log, stopChildren } from "./procs";
import { type Seeded, api, readyFeed, seed } from "./seed";
import { type ClusterTarget, ROOT, type Target, startBare, startCluster, startEmbedded } from "./targets";

const ENDPOINTS = ["feed", "user", "favorite", "follow", "comment", "message"] as const;
type Endpoint = (typeof ENDPOINTS)[number];
const TARGETS = ["embedded", "bare", "embedded-nometrics", "cluster"] as const;
type TargetName = (typeof TARGETS)[number];

function list<T extends string>(value: string | undefined, all: readonly T[]): T[] {
	if (!value) return [...all];
	const chosen = value.split(",").map(item => item.trim()) as T[];
	const unknown = chosen.filter(item => !all.includes(item));
	if (unknown.length > 0) throw new Error(`unknown ${unknown.join(", ")}; choose from ${all.join(", ")}`);
	return all.filter(item => chosen.includes(item));
}

const settings = {
	durationS: Number(process.env.BENCH_DURATION ?? 10),
	warmupS: Number(process.env.BENCH_WARMUP ?? 2),
	connections: Number(process.env.BENCH_CONNECTIONS ?? 50),
	targets: list<TargetName>(process.env.BENCH_TARGETS, TARGETS),
	endpoints: list<Endpoint>(process.env.BENCH_ENDPOINTS, ENDPOINTS),
	timeoutS: Number(process.env.BENCH_TIMEOUT ?? 1800),
	authors: 30
};

/**
 * The targets of issue 14: reads keep their lead (embedded feed ≥ 0.85 × bare, cluster feed
 * ≥ 0.30 × bare with p99 < 50 ms, cluster profile ≥ 5,000 req/s), and in a cluster every write
 * costs less server CPU than the Go peer's like (632 µs; at least ≤ 850 µs) with p99 < 50 ms.
 */
const GOALS = {
	embeddedFeedShare: 0.85,
	clusterFeedShare: 0.3,
	clusterFeedP99Ms: 50,
	clusterUserReqPerSec: 5000,
	clusterWriteCpuUs: 632,
	clusterWriteCpuUsAtLeast: 850,
	clusterWriteP99Ms: 50
};
const WRITES = ["favorite", "follow", "comment", "message"] as const satisfies readonly Endpoint[];

interface Row extends LoadResult {
	target: string;
	endpoint: Endpoint;
	/** CPU per request of every server process together (not the load generator, not `other`), µs. */
	serverCpuUs: number;
	/** req/s of this row over the bare server's on the same endpoint. */
	vsBare?: number;
}

/**
 * (actor, target) index pairs, one per connection, distinct, never an actor with itself and
 * never a pair the seed already joined: connection c's pair is its own, so every write
 * changes state and no two connections contend for one record. `unordered`: (a, b) and
 * (b, a) count as one pair (a conversation).
 */
function ownPairs(count: number, actors: number, targets: number, taken: Set<string>, unordered = false): [number, number][] {
	const used = new Set(taken);
	const key = (a: number, b: number) => (unordered && b < a ? `${b}:${a}` : `${a}:${b}`);
	const pairs: [number, number][] = [];
	for (let c = 0; c < count; c++) {
		const actor = c % actors;
		let pair: [number, number] | undefined;
		for (let step = 0; step < targets && !pair; step++) {
			const target = (actor * 7 + Math.floor(c / actors) + 2 + step) % targets;
			if (target !== actor && !used.has(key(actor, target))) pair = [actor, target];
		}
		if (!pair) throw new Error(`no free pair for connection ${c}`);
		used.add(key(...pair));
		pairs.push(pair);
	}
	return pairs;
}

/** What each connection sends, per endpoint (see bench/README.md for why). */
function requestPlan(seeded: Seeded): Record<Endpoint, (connection: number) => BenchRequest[]> {
	const viewer = seeded.viewer.token;
	const n = seeded.authors.length;
	// Actors: every account (the authors, then the viewer as index n).
	const accounts = [...seeded.authors, seeded.viewer];
	const pairs = (taken: Set<string>, unordered = false) => ownPairs(Math.max(settings.connections, 1), accounts.length, n, taken, unordered);
	const seededLikes = new Set(seeded.social.likes.map(([a, v]) => `${a}:${v}`));
	const likes = pairs(seededLikes);
	const follows = pairs(new Set(seeded.social.follows.map(([a, b]) => `${a}:${b}`)));
	const comments = pairs(new Set());
	const chats = pairs(new Set(), true);
	const query = (params: Record<string, string | number>) => new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString();
	return {
		feed: () => [{ method: "GET", path: `/douyin/feed/?token=${viewer}` }],
		user: connection =>
			seeded.authors.map((_, k) => ({ method: "GET", path: `/douyin/user/?user_id=${seeded.authors[(connection + k) % n].id}&token=${viewer}` })),
		favorite: connection => {
			const [actor, video] = likes[connection];
			return [1, 2].map(action => ({
				method: "POST",
				path: `/douyin/favorite/action/?${query({ token: accounts[actor].token, video_id: seeded.videoIds[video], action_type: action })}`
			}));
		},
		follow: connection => {
			const [actor, author] = follows[connection];
			return [1, 2].map(action => ({
				method: "POST",
				path: `/douyin/relation/action/?${query({ token: accounts[actor].token, to_user_id: seeded.authors[author].id, action_type: action })}`
			}));
		},
		comment: connection => {
			const [actor, video] = comments[connection];
			const token = accounts[actor].token;
			const videoId = seeded.videoIds[video];
			const post = `/douyin/comment/action/?${query({ token, video_id: videoId, action_type: 1, comment_text: `bench comment ${connection}` })}`;
			return [
				{
					method: "POST",
					path: post,
					remember: (body, context) => {
						context.commentId = (JSON.parse(body) as { comment?: { id?: number } }).comment?.id;
					}
				},
				{
					method: "POST",
					path: post,
					// Deletes the comment it just posted (so every request changes state and the data ends as it began).
					pathFrom: context => `/douyin/comment/action/?${query({ token, video_id: videoId, action_type: 2, comment_id: String(context.commentId) })}`
				}
			];
		},
		message: connection => {
			const [actor, peer] = chats[connection];
			return [
				{
					method: "POST",
					path: `/douyin/message/action/?${query({ token: accounts[actor].token, to_user_id: seeded.authors[peer].id, action_type: 1, content: `bench message ${connection}` })}`
				}
			];
		}
	};
}

/** Every server process of the run, name → pid (CPU profiles carry the pid in their file name). */
const processes: Record<string, Record<string, number>> = {};

/** What the bare server imitates: the reads (its writes would store nothing). */
const BARE_ENDPOINTS: readonly Endpoint[] = ["feed", "user"];

/** Server CPU per request: every process group but the load generator and `other`. */
function serverCpuUs(row: LoadResult): number {
	return Math.round(
		Object.entries(row.cpuUsPerRequest)
			.filter(([name]) => name !== "load generator" && name !== "other")
			.reduce((sum, [, us]) => sum + us, 0)
	);
}

async function measure(target: Target, label: string, plan: ReturnType<typeof requestPlan>, rows: Row[]): Promise<void> {
	processes[label] = target.processes();
	for (const endpoint of settings.endpoints) {
		if (label === "bare" && !BARE_ENDPOINTS.includes(endpoint)) continue;
		log(`${label} ${endpoint}: ${settings.warmupS} s warm-up, ${settings.durationS} s at ${settings.connections} connections`);
		const result = await runLoad({
			bases: target.bases,
			requestsFor: plan[endpoint],
			connections: settings.connections,
			durationS: settings.durationS,
			warmupS: settings.warmupS,
			cpu: target.cpu
		});
		rows.push({ target: label, endpoint, serverCpuUs: serverCpuUs(result), ...result });
		log(
			`${label} ${endpoint}: ${result.reqPerSec} req/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms, ` +
				`server CPU ${serverCpuUs(result)} µs/req, errors ${result.errors}, non-2xx ${result.non2xx}, status_code≠0 ${result.apiErrors}` +
				(result.apiErrorSamples.length > 0 ? ` (${result.apiErrorSamples[0]})` : "")
		);
	}
}

/** The real answers the bare server imitates: the viewer's feed, an author's profile, a like. */
async function captureTemplates(base: string, seeded: Seeded, feedBody: string) {
	const user = await api.ok(base, "GET", "/user/", { user_id: seeded.authors[0].id, token: seeded.viewer.token });
	const last = seeded.videoIds.at(-1)!;
	await api.ok(base, "POST", "/favorite/action/", { token: seeded.viewer.token, video_id: last, action_type: 1 });
	const favorite = await api.ok(base, "POST", "/favorite/action/", { token: seeded.viewer.token, video_id: last, action_type: 2 });
	return { feed: JSON.parse(feedBody), user, favorite };
}

function gitDescribe(): { commit: string | null; changedFiles: string[] | null } {
	try {
		const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
		const changedFiles = execFileSync("git", ["status", "--porcelain"], { cwd: ROOT, encoding: "utf8" })
			.split("\n")
			.map(line => line.slice(3).trim())
			.filter(file => file && !file.startsWith("bench/results/"));
		return { commit, changedFiles };
	} catch {
		return { commit: null, changedFiles: null };
	}
}

function versionOf(pkg: string): string | null {
	try {
		return (JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
	} catch {
		return null;
	}
}

function pad(value: string | number, width: number, left = false): string {
	const text = String(value);
	return left ? text.padEnd(width) : text.padStart(width);
}

function table(rows: Row[]): string {
	const header = ["target", "endpoint", "req/s", "p50 ms", "p99 ms", "errors", "non-2xx", "status≠0", "vs bare", "server CPU µs/req"];
	const widths = [19, 9, 9, 7, 7, 7, 8, 9, 8, 18];
	const lines = [header.map((h, i) => pad(h, widths[i], i < 2)).join("  ")];
	lines.push(widths.map(w => "-".repeat(w)).join("  "));
	for (const row of rows) {
		const serverCpu = row.serverCpuUs;
		lines.push(
			[
				row.target,
				row.endpoint,
				row.reqPerSec.toFixed(0),
				row.latencyMs.p50.toFixed(2),
				row.latencyMs.p99.toFixed(2),
				row.errors,
				row.non2xx,
				`${(row.apiErrorShare * 100).toFixed(2)}%`,
				row.vsBare === undefined ? "" : row.vsBare.toFixed(2),
				serverCpu.toFixed(0)
			]
				.map((cell, i) => pad(cell, widths[i], i < 2))
				.join("  ")
		);
	}
	return lines.join("\n");
}

async function main(): Promise<void> {
	const runId = crypto.randomBytes(3).toString("hex");
	const startedAt = new Date();
	const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `moletok-bench-${runId}-`));
	const logDir = path.join(workDir, "logs");
	fs.mkdirSync(logDir);
	let cluster: ClusterTarget | null = null;
	let finished = false;

	const cleanUp = async () => {
		// The cluster first: its clean-up drops its data through the run's own servers.
		if (cluster) {
			const running = cluster;
			cluster = null;
			await running.stop();
			await running.cleanUp();
		}
		await stopChildren();
		if (process.env.BENCH_KEEP !== "1") fs.rmSync(workDir, { recursive: true, force: true });
		else log(`work directory kept: ${workDir}`);
	};
	const abort = (why: string, code: number) => {
		if (finished) return;
		finished = true;
		log(`aborting: ${why}`);
		void cleanUp().finally(() => process.exit(code));
	};
	const watchdog = setTimeout(() => abort(`the run took longer than BENCH_TIMEOUT=${settings.timeoutS} s`, 2), settings.timeoutS * 1000);
	watchdog.unref();
	process.once("SIGINT", () => abort("interrupted", 130));
	process.once("SIGTERM", () => abort("terminated", 143));

	log(
		`run ${runId}: targets ${settings.targets.join(", ")}; endpoints ${settings.endpoints.join(", ")}; ` +
			`${settings.connections} connections, ${settings.warmupS} s warm-up + ${settings.durationS} s each; work dir ${workDir}`
	);
	const rows: Row[] = [];
	const feedBytes: Record<string, number> = {};
	const seedTimeoutMs = 300000;

	try {
		const wantEmbedded = settings.targets.some(target => target !== "cluster");
		let embeddedSeed: Seeded;
		let templatesFile: string;
		const dataDir = path.join(workDir, "embedded-data");

		if (wantEmbedded) {
			// Seed once; the metrics-off run and the bare server reuse the data and its answers.
			let embedded: Target | null = await startEmbedded("embedded", { dataDir, logDir, metrics: true });
			embeddedSeed = await seed(embedded.bases[0], runId, { authors: settings.authors, timeoutMs: seedTimeoutMs });
			const feed = await readyFeed(embedded.bases[0], embeddedSeed, 60000);
			feedBytes.embedded = Buffer.byteLength(feed.body);
			log(`embedded: the viewer's feed has ${feed.videos} videos, ${feedBytes.embedded} bytes`);
			templatesFile = path.join(workDir, "templates.json");
			fs.writeFileSync(templatesFile, JSON.stringify(await captureTemplates(embedded.bases[0], embeddedSeed, feed.body)));
			const plan = requestPlan(embeddedSeed);

			// One process at a time: the embedded data on disk is reused by the next start.
			for (const name of settings.targets) {
				if (name === "cluster") continue;
				if (embedded && embedded.name !== name) {
					await embedded.stop();
					embedded = null;
				}
				if (name === "bare") {
					const bare = await startBare(templatesFile, logDir);
					feedBytes.bare = Buffer.byteLength(await (await fetch(`${bare.bases[0]}/douyin/feed/`)).text());
					await measure(bare, "bare", plan, rows);
					await bare.stop();
					continue;
				}
				embedded ??= await startEmbedded(name, { dataDir, logDir, metrics: name === "embedded" });
				await measure(embedded, name, plan, rows);
				await embedded.stop();
				embedded = null;
			}
			await embedded?.stop();
		}

		if (settings.targets.includes("cluster")) {
			cluster = await startCluster(runId, workDir, logDir);
			const clusterSeed = await seed(cluster.bases[0], runId, { authors: settings.authors, timeoutMs: seedTimeoutMs });
			const feed = await readyFeed(cluster.bases[0], clusterSeed, 60000);
			feedBytes.cluster = Buffer.byteLength(feed.body);
			log(`cluster: the viewer's feed has ${feed.videos} videos, ${feedBytes.cluster} bytes`);
			await measure(cluster, "cluster", requestPlan(clusterSeed), rows);
		}
	} finally {
		if (!finished) {
			finished = true;
			clearTimeout(watchdog);
			await cleanUp();
		}
	}

	// Ratios against the bare server, per endpoint, and the issue's targets.
	const bareOf = (endpoint: Endpoint) => rows.find(row => row.target === "bare" && row.endpoint === endpoint);
	for (const row of rows) {
		const bare = bareOf(row.endpoint);
		if (bare && row.target !== "bare") row.vsBare = Math.round((row.reqPerSec / bare.reqPerSec) * 1000) / 1000;
	}
	const rowOf = (target: string, endpoint: Endpoint) => rows.find(row => row.target === target && row.endpoint === endpoint);
	const embeddedFeed = rowOf("embedded", "feed");
	const clusterFeed = rowOf("cluster", "feed");
	const clusterUser = rowOf("cluster", "user");
	const allApiAnswersOk = rows.filter(row => row.target !== "bare").every(row => row.apiErrors === 0 && row.non2xx === 0 && row.errors === 0);
	const atLeast = (value: number | undefined, target: number) => (value === undefined ? null : value >= target);
	const below = (value: number | undefined, target: number) => (value === undefined ? null : value < target);
	const writeGoals = Object.fromEntries(
		WRITES.map(endpoint => {
			const row = rowOf("cluster", endpoint);
			return [
				`cluster${endpoint[0].toUpperCase()}${endpoint.slice(1)}`,
				{
					serverCpuUs: row?.serverCpuUs ?? null,
					p99Ms: row?.latencyMs.p99 ?? null,
					target: `server CPU <= ${GOALS.clusterWriteCpuUs} µs (at least <= ${GOALS.clusterWriteCpuUsAtLeast}), p99 < ${GOALS.clusterWriteP99Ms} ms`,
					pass: row ? row.serverCpuUs <= GOALS.clusterWriteCpuUs && row.latencyMs.p99 < GOALS.clusterWriteP99Ms : null,
					passAtLeast: row ? row.serverCpuUs <= GOALS.clusterWriteCpuUsAtLeast && row.latencyMs.p99 < GOALS.clusterWriteP99Ms : null
				}
			];
		})
	);
	const goals = {
		embeddedFeedVsBare: { ratio: embeddedFeed?.vsBare ?? null, target: `>= ${GOALS.embeddedFeedShare}`, pass: atLeast(embeddedFeed?.vsBare, GOALS.embeddedFeedShare) },
		clusterFeedVsBare: { ratio: clusterFeed?.vsBare ?? null, target: `>= ${GOALS.clusterFeedShare}`, pass: atLeast(clusterFeed?.vsBare, GOALS.clusterFeedShare) },
		clusterFeedP99: { ms: clusterFeed?.latencyMs.p99 ?? null, target: `< ${GOALS.clusterFeedP99Ms}`, pass: below(clusterFeed?.latencyMs.p99, GOALS.clusterFeedP99Ms) },
		clusterUserReqPerSec: {
			reqPerSec: clusterUser?.reqPerSec ?? null,
			target: `>= ${GOALS.clusterUserReqPerSec}`,
			pass: atLeast(clusterUser?.reqPerSec, GOALS.clusterUserReqPerSec)
		},
		...writeGoals,
		/** Every API answer under load was HTTP 200 with status_code 0 (no error, no timeout). */
		apiAnswersAllOk: allApiAnswersOk
	};

	const finishedAt = new Date();
	const report = {
		run: runId,
		startedAt: startedAt.toISOString(),
		finishedAt: finishedAt.toISOString(),
		settings: { ...settings, goals: GOALS },
		machine: {
			cpus: os.cpus().length,
			cpuModel: os.cpus()[0]?.model ?? null,
			memoryGiB: Math.round(os.totalmem() / 2 ** 30),
			loadAverageAtEnd: os.loadavg().map(value => Math.round(value * 100) / 100),
			node: process.version,
			moleculer: versionOf("moleculer"),
			moleculerWeb: versionOf("moleculer-web"),
			autocannon: versionOf("autocannon"),
			...gitDescribe()
		},
		feedBytes,
		processes,
		notes: [
			"Load generator (autocannon, one process) and every server share the same machine; compare rows of the same run.",
			"bare: plain Node http joining the same data (videos, users, counts, viewer flags held in maps) into wire objects and stringifying per request; feedBytes shows the bodies are the same size.",
			"cpuUsPerRequest: CPU time per answered request of each process group during the measured window (/proc), 'other' = every process not listed (other work on the machine).",
			"favorite, follow: connection c alternates like/unlike (follow/unfollow) on a (user, video) ((follower, followee)) pair of its own that the seed did not join, so every request changes state and the data ends as it began.",
			"comment: connection c posts a comment on a video and deletes it (the id from the answer), alternately.",
			"message: connection c sends messages in a conversation of its own.",
			"cluster: NATS, Redis and FerretDB of the run's own (unless BENCH_SHARED_SERVERS=1), so their CPU is the benchmark's alone; postgres = the backends of that FerretDB.",
			"feed: one viewer and no write during the window, so after the first request each api replica answers from its copy (lib/read-model.ts FeedAnswers: one stamp read, no call to videos); any write renews a stamp and the next feed request asks videos.feed again.",
			"user: each connection cycles through the 30 authors' profiles as the viewer.",
			"cluster: connections are spread over the api replicas, as a Kubernetes Service would."
		],
		goals,
		results: rows
	};

	const resultsDir = path.join(ROOT, "bench", "results");
	fs.mkdirSync(resultsDir, { recursive: true });
	const stamp = startedAt.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
	const text = `${JSON.stringify(report, null, 2)}\n`;
	for (const file of [`${stamp}.json`, "latest.json"]) {
		const tmp = path.join(resultsDir, `${file}.tmp`);
		fs.writeFileSync(tmp, text);
		fs.renameSync(tmp, path.join(resultsDir, file));
	}

	const flag = (pass: boolean | null | undefined) => (pass == null ? "n/a" : pass ? "PASS" : "MISS");
	console.log(`\nMoleTok benchmark ${runId}: ${settings.connections} connections, ${settings.durationS} s each after ${settings.warmupS} s warm-up`);
	console.log(`feed body: ${Object.entries(feedBytes).map(([target, bytes]) => `${target} ${bytes} B`).join(", ")}\n`);
	console.log(table(rows));
	console.log("\ntargets:");
	for (const [name, goal] of Object.entries(goals)) {
		if (typeof goal === "boolean") console.log(`  ${name}: ${goal ? "yes" : "NO"}`);
		else {
			const { target, pass, ...values } = goal as { target: string; pass: boolean | null; passAtLeast?: boolean | null };
			const atLeastFlag = "passAtLeast" in values ? ` (at least: ${flag(values.passAtLeast)})` : "";
			delete values.passAtLeast;
			console.log(`  ${name}: ${JSON.stringify(values)} (${target}) ${flag(pass)}${atLeastFlag}`);
		}
	}
	console.log(`results: bench/results/${stamp}.json, bench/results/latest.json`);
}

main().then(
	() => process.exit(0),
	err => {
		log(`failed: ${(err as Error).stack ?? err}`);
		process.exit(1);
	}
);
