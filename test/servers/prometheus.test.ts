/**
 * Metrics as an operator sees them: a local cluster (scripts/cluster.sh: every service its
 * own process over NATS, FerretDB, Redis, MinIO), each process with its own METRICS_PORT,
 * scraped by a real Prometheus through the file_sd targets file the script writes. After
 * client traffic over HTTP, the domain series are read back through Prometheus' HTTP API.
 *
 * The cluster gets its own namespace, databases, bucket, state directory and ports, so it
 * runs beside a developer's cluster. Needs the servers (`bash scripts/servers.sh start`)
 * and Prometheus (/usr/bin/prometheus, installed by `scripts/servers.sh install`).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Client } from "../helpers/client";
import { dropClusterData, freePorts, until } from "../helpers/real-servers";
import { FIXTURE_MP4, uploadForm } from "../helpers/videos";

jest.setTimeout(240000);

const ROOT = path.join(__dirname, "..", "..");
const PROMETHEUS = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"].find(file => fs.existsSync(file));
const run = promisify(execFile);

interface Sample {
	metric: Record<string, string>;
	value: [number, string];
}

const id = `p${crypto.randomBytes(4).toString("hex")}`;
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `moletok-prometheus-${id}-`));
const clusterDir = path.join(workDir, "cluster");
let clusterEnv: NodeJS.ProcessEnv;
let prometheus: ChildProcess | null = null;
let promUrl: string;
let client: Client;
let targets: { targets: string[]; labels: { node: string; service: string; health_port: string } }[];

async function query(expr: string): Promise<Sample[]> {
	const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
	const body = (await res.json()) as { status: string; error?: string; data: { result: Sample[] } };
	if (body.status !== "success") throw new Error(`${expr}: ${body.error}`);
	return body.data.result;
}

/** `sum by (label) (expr)` as { labelValue: number }, once it equals `expected`. */
function expectSeries(expr: string, label: string | null, expected: Record<string, number>) {
	return until(`${expr} = ${JSON.stringify(expected)}`, async () => {
		const samples = await query(label ? `sum by (${label}) (${expr})` : `sum(${expr})`);
		const got = Object.fromEntries(samples.map(sample => [label ? sample.metric[label] : "", Number(sample.value[1])]));
		return Object.entries(expected).every(([key, value]) => got[key] === value) ? got : undefined;
	}, 30000);
}

beforeAll(async () => {
	if (!PROMETHEUS) throw new Error("Prometheus is missing: run `bash scripts/servers.sh install` (Debian package prometheus)");
	const missing = ["TRANSPORTER", "MONGO_URI", "REDIS_URL", "S3_ENDPOINT"].filter(name => !process.env[name]);
	if (missing.length > 0) throw new Error(`needs the real servers: eval "$(bash scripts/servers.sh start)" (missing ${missing.join(", ")})`);

	const base = await freePorts(24);
	clusterEnv = {
		...process.env,
		MOLETOK_CLUSTER_DIR: clusterDir,
		API_PORT: String(base),
		HEALTH_PORT_BASE: String(base + 2),
		METRICS_PORT_BASE: String(base + 12),
		NAMESPACE: id,
		MONGO_DB_PREFIX: id,
		S3_BUCKET: id,
		PUBLIC_BASE_URL: `${process.env.S3_ENDPOINT!.replace(/\/+$/, "")}/${id}`,
		TRANSCODE_POLL_MS: "200",
		LOG_LEVEL: "warn"
	};
	await run("bash", [path.join(ROOT, "scripts/cluster.sh"), "start"], { cwd: ROOT, env: clusterEnv, timeout: 180000 });
	client = new Client(`http://127.0.0.1:${base}`);
	targets = JSON.parse(fs.readFileSync(path.join(clusterDir, "targets.json"), "utf8"));

	const promPort = base + 22;
	promUrl = `http://127.0.0.1:${promPort}`;
	const configFile = path.join(workDir, "prometheus.yml");
	fs.writeFileSync(
		configFile,
		[
			"global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }",
			"scrape_configs:",
			"  - job_name: moletok",
			`    file_sd_configs: [{ files: [${JSON.stringify(path.join(clusterDir, "targets.json"))}], refresh_interval: 1s }]`,
			""
		].join("\n")
	);
	const log = fs.openSync(path.join(workDir, "prometheus.log"), "a");
	prometheus = spawn(
		PROMETHEUS,
		[`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(workDir, "tsdb")}`, `--web.listen-address=127.0.0.1:${promPort}`, "--log.level=warn"],
		{ stdio: ["ignore", log, log] }
	);
	fs.closeSync(log);
	await until("Prometheus to be ready", async () => ((await fetch(`${promUrl}/-/ready`)).ok ? true : undefined));
});

afterAll(async () => {
	if (prometheus && prometheus.exitCode === null) {
		const exited = new Promise(resolve => prometheus!.once("exit", resolve));
		prometheus.kill("SIGTERM");
		await exited;
	}
	if (clusterEnv) await run("bash", [path.join(ROOT, "scripts/cluster.sh"), "stop"], { cwd: ROOT, env: clusterEnv, timeout: 60000 }).catch(() => undefined);
	await dropClusterData(id);
	fs.rmSync(workDir, { recursive: true, force: true });
});

it("scrapes /metrics of every process of the cluster", async () => {
	expect(targets.map(group => group.labels.node).sort()).toEqual(
		["api-1", "api-2", "comments-1", "favorites-1", "messages-1", "relations-1", "transcoder-1", "users-1", "videos-1", "videos-2"].sort()
	);
	expect(new Set(targets.map(group => group.targets[0])).size).toBe(targets.length);
	const up = await until("every target up", async () => {
		const samples = await query("up");
		if (samples.length === targets.length && samples.every(sample => sample.value[1] === "1")) return samples;
		const { data } = (await (await fetch(`${promUrl}/api/v1/targets`)).json()) as {
			data: { activeTargets: { labels: Record<string, string>; health: string; lastError: string }[] };
		};
		const down = data.activeTargets.filter(target => target.health !== "up");
		throw new Error(`${data.activeTargets.length} targets, down: ${down.map(target => `${target.labels.node} (${target.lastError})`).join(", ")}`);
	});
	expect(up.map(sample => sample.metric.node).sort()).toEqual(targets.map(group => group.labels.node).sort());
	// Moleculer's own series come along, labelled with the process' node id.
	const nodes = await query("count by (nodeID) (moleculer_node_type)");
	expect(nodes.map(sample => sample.metric.nodeID).sort()).toEqual(targets.map(group => group.labels.node).sort());
	// The event-loop gauge of every process.
	const lag = await until("the event-loop gauge everywhere", async () => {
		const samples = await query('moletok_event_loop_lag_seconds{stat="p99"}');
		return samples.length === targets.length ? samples : undefined;
	});
	for (const sample of lag) expect(Number(sample.value[1])).toBeGreaterThanOrEqual(0);
});

it("counts logins, uploads, transcodes, likes, comments and messages where they happen", async () => {
	const alice = await client.register();
	const bob = await client.register();
	expect((await client.post("/user/login/", { username: alice.username, password: "wrong-password" })).status_code).toBe(401);
	expect((await client.post("/user/login/", { username: alice.username, password: alice.password })).status_code).toBe(0);

	const upload = await client.postMultipart<{ video_id: number }>("/publish/action/", uploadForm({ token: alice.token, title: "bear" }, fs.readFileSync(FIXTURE_MP4)));
	expect(upload.status_code).toBe(0);
	const notAVideo = await client.postMultipart("/publish/action/", uploadForm({ token: alice.token, title: "text" }, Buffer.from("not a video at all")));
	expect(notAVideo).toMatchObject({ status_code: 400, status_msg: expect.stringMatching(/^the file is not a video ffmpeg can read/) });
	const empty = await client.postMultipart("/publish/action/", uploadForm({ token: alice.token, title: "empty" }, Buffer.alloc(0)));
	expect(empty).toMatchObject({ status_code: 400, status_msg: expect.stringMatching(/empty/) });
	await until("the video to be ready", async () => {
		const list = await client.get<{ video_list: { id: number }[] }>("/publish/list/", { token: alice.token, user_id: alice.id });
		return list.video_list.some(video => video.id === upload.video_id) ? true : undefined;
	});

	const videoId = upload.video_id;
	expect((await client.post("/favorite/action/", { token: bob.token, video_id: videoId, action_type: 1 })).status_code).toBe(0);
	expect((await client.post("/favorite/action/", { token: bob.token, video_id: videoId, action_type: 1 })).status_code).toBe(0);
	expect((await client.post("/favorite/action/", { token: bob.token, video_id: videoId, action_type: 2 })).status_code).toBe(0);
	const comment = await client.post<{ comment: { id: number } }>("/comment/action/", { token: bob.token, video_id: videoId, action_type: 1, comment_text: "nice" });
	expect(comment.status_code).toBe(0);
	expect((await client.post("/comment/action/", { token: bob.token, video_id: videoId, action_type: 2, comment_id: comment.comment.id })).status_code).toBe(0);
	expect((await client.post("/message/action/", { token: bob.token, to_user_id: alice.id, action_type: 1, content: "hi" })).status_code).toBe(0);

	await expectSeries("moletok_logins_total", "outcome", { ok: 1, failed: 1 });
	await expectSeries("moletok_uploads_total", "outcome", { ok: 1, rejected: 2 });
	await expectSeries("moletok_transcode_duration_seconds_count", null, { "": 1 });
	await expectSeries("moletok_transcode_failures_total", "final", { true: 1 });
	// The repeated like changed nothing, so it is not counted.
	await expectSeries("moletok_likes_total", "action", { like: 1, unlike: 1 });
	await expectSeries("moletok_comments_total", "action", { add: 1, remove: 1 });
	await expectSeries("moletok_messages_total", null, { "": 1 });

	// Each series comes from the process whose service counted it.
	const origin = async (expr: string) => [...new Set((await query(expr)).map(sample => sample.metric.service))];
	expect(await origin("moletok_logins_total")).toEqual(["users"]);
	expect(await origin("moletok_uploads_total")).toEqual(["videos"]);
	expect(await origin("moletok_transcode_duration_seconds_count")).toEqual(["transcoder"]);
	expect(await origin("moletok_likes_total")).toEqual(["favorites"]);
	expect(await origin("moletok_comments_total")).toEqual(["comments"]);
	expect(await origin("moletok_messages_total")).toEqual(["messages"]);
	// A histogram Prometheus can take quantiles of.
	const buckets = await query("moletok_transcode_duration_seconds_bucket");
	expect(buckets.map(sample => sample.metric.le)).toEqual(expect.arrayContaining(["0.1", "1", "10", "+Inf"]));
	const p50 = await query("histogram_quantile(0.5, sum by (le) (moletok_transcode_duration_seconds_bucket))");
	expect(Number(p50[0].value[1])).toBeGreaterThan(0);
});
