/**
 * Durable transcoding under faults: every ffmpeg run is killed past its budget and the
 * job fails with that reason; a re-encode that keeps failing is retried with backoff and
 * ends failed while its video stays playable; a process killed (SIGKILL) in the middle of
 * a job takes its ffmpeg with it and leaves a job that the next start finishes; scratch
 * directories of dead processes are removed at start.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "../helpers/client";
import { freePort, startSystem, type System } from "../helpers/system";
import { until } from "../helpers/real-servers";
import { mpeg4Mkv, standIn, uploadForm, waitForVideo } from "../helpers/videos";

const ROOT = path.join(__dirname, "..", "..");
const BIN = path.join(ROOT, "test", "fixtures", "bin");

interface Job {
	status: string;
	stage: string;
	attempts: number;
	lastError: string | null;
}

/** The job once it has settled: the transcoder records it just after it settles the video. */
function settledJob(system: System, videoId: number) {
	return until(
		`the job of video ${videoId} to settle`,
		async () => {
			const job = await system.broker.call<Job, object>("transcoder.job", { videoId });
			return job.status === "running" || job.status === "queued" ? undefined : job;
		},
		20000,
		50
	);
}

function alive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}

/** The pids a stand-in ffmpeg wrote into its marker file. */
function markedPids(marker: string): number[] {
	return fs.existsSync(marker) ? fs.readFileSync(marker, "utf8").trim().split(/\s+/).filter(Boolean).map(Number) : [];
}

describe("an ffmpeg run past its budget", () => {
	let system: System;
	let client: Client;
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "moletok-budget-"));
	const marker = path.join(dir, "ffmpeg");

	beforeAll(async () => {
		system = await startSystem({
			env: {
				FFMPEG_PATH: standIn("ffmpeg-hangs", marker),
				FFMPEG_TIMEOUT_MS: "1000",
				TRANSCODE_TIMEOUT_MS: "1000"
			}
		});
		client = new Client(system.url);
	});
	afterAll(async () => {
		await system.stop();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	test("is killed when the budget is over, and the upload is refused with that reason", async () => {
		const author = await client.register();
		const body = await client.postMultipart("/publish/action/", uploadForm({ token: author.token, title: "stuck" }));
		expect(body).toEqual({
			status_code: 400,
			status_msg: "the video could not be checked in time (ffmpeg-hangs was stopped after its budget of 1 s)"
		});
		const [pid] = markedPids(marker);
		expect(pid).toBeGreaterThan(0);
		expect(alive(pid)).toBe(false);
		expect((await system.broker.call<{ jobs: unknown[] }, object>("transcoder.list", {})).jobs).toEqual([]);
		expect(await system.objectKeys()).toEqual([]);
	});
});

describe("a re-encode that never succeeds", () => {
	let system: System;
	let client: Client;
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "moletok-encode-"));
	const marker = path.join(dir, "encoders");

	beforeAll(async () => {
		system = await startSystem({
			env: {
				FFMPEG_PATH: standIn("ffmpeg-encodes-slowly", marker),
				TRANSCODE_TIMEOUT_MS: "1000",
				TRANSCODE_MAX_ATTEMPTS: "2",
				TRANSCODE_BACKOFF_MS: "50",
				PUBLISH_WAIT_MS: "300"
			}
		});
		client = new Client(system.url);
	});
	afterAll(async () => {
		await system.stop();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	test("is killed at its budget, retried with backoff, and ends failed while the video stays playable", async () => {
		const author = await client.register();
		const mkv = mpeg4Mkv();
		const body = await client.postMultipart<{ video_id: number }>("/publish/action/", uploadForm({ token: author.token, title: "kept" }, mkv));
		expect(body).toMatchObject({ status_code: 0 });
		const job = await settledJob(system, body.video_id);
		expect(job).toMatchObject({
			status: "failed",
			stage: "encode",
			attempts: 2,
			lastError: "transcoding failed after 2 attempt(s): ffmpeg-encodes-slowly was stopped after its budget of 1 s"
		});
		const encoders = markedPids(marker);
		expect(encoders).toHaveLength(2);
		expect(encoders.filter(alive)).toEqual([]);
		// The video was checked: it plays its original file, for good now.
		expect(await system.broker.call("videos.status", { id: body.video_id })).toMatchObject({ status: "ready", normalising: false });
		const [video] = (await client.get<{ video_list: { id: number; play_url: string }[] }>("/publish/list/", { user_id: author.id })).video_list;
		expect(video.id).toBe(body.video_id);
		expect(Buffer.from(await (await fetch(video.play_url)).arrayBuffer())).toEqual(mkv);

		// A developer may queue it again (transcoder.retry): it runs again, and fails again here.
		expect(await system.broker.call("transcoder.retry", { videoId: body.video_id })).toEqual({ retried: true });
		await until("the retried job to run", async () => (markedPids(marker).length > 2 ? true : undefined), 10000, 50);
		expect(await settledJob(system, body.video_id)).toMatchObject({ status: "failed", attempts: 2 });
		const failed = await system.broker.call<{ jobs: { _id: number }[] }, object>("transcoder.list", { status: "failed" });
		expect(failed.jobs.map(j => j._id)).toEqual([body.video_id]);
	}, 30000);
});

describe("a process killed in the middle of a job", () => {
	let child: ChildProcess | null = null;
	let system: System | null = null;
	const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "moletok-crash-"));
	const marker = path.join(dataDir, "ffmpeg-started");

	afterAll(async () => {
		if (child?.pid) {
			try {
				process.kill(-child.pid, "SIGKILL");
			} catch {
				// already gone
			}
		}
		for (const pid of markedPids(marker).filter(alive)) process.kill(pid, "SIGKILL");
		await system?.stop();
		fs.rmSync(dataDir, { recursive: true, force: true });
	});

	test("takes its ffmpeg with it, and the next start finishes the job and removes its scratch files", async () => {
		const port = await freePort();
		// The built system (npm test builds first), in its own process group: only its node process is killed below.
		child = spawn(
			process.execPath,
			[path.join(ROOT, "node_modules/moleculer/bin/moleculer-runner.js"), "--config", "dist/moleculer.config.js"],
			{
				cwd: ROOT,
				detached: true,
				stdio: "ignore",
				env: {
					...process.env,
					SERVICEDIR: "dist/services",
					PORT: String(port),
					HEALTH_PORT: "off",
					METRICS_PORT: "off",
					HOST: "127.0.0.1",
					DATA_DIR: dataDir,
					LOG_LEVEL: "warn",
					FFMPEG_PATH: path.join(BIN, "ffmpeg-hangs"),
					MOLETOK_TEST_MARKER: marker,
					PUBLISH_WAIT_MS: "500",
					TRANSCODE_LEASE_MS: "1500",
					TRANSCODE_POLL_MS: "100"
				}
			}
		);
		const client = new Client(`http://127.0.0.1:${port}`);
		let author: { token: string; id: number } | null = null;
		for (let i = 0; i < 100 && !author; i++) author = await client.register().catch(() => new Promise<null>(r => setTimeout(() => r(null), 200)));
		expect(author).not.toBeNull();
		// The check hangs in ffmpeg: publish answers after PUBLISH_WAIT_MS, the job goes on.
		const body = await client.postMultipart<{ video_id: number }>("/publish/action/", uploadForm({ token: author!.token, title: "survivor" }));
		expect(body.status_code).toBe(0);
		const [ffmpegPid] = await until("ffmpeg to start", async () => (markedPids(marker).length > 0 ? markedPids(marker) : undefined), 20000, 100);
		const scratch = fs.readdirSync(os.tmpdir()).filter(name => name.startsWith(`moletok-transcode-${child!.pid}.`));
		expect(scratch).toHaveLength(1);

		// kill -9 of the node process alone: ffmpeg is its child, not killed by us.
		process.kill(child.pid!, "SIGKILL");
		await new Promise(resolve => child!.once("exit", resolve));
		await until("ffmpeg to die with its parent", async () => (alive(ffmpegPid) ? undefined : true), 10000, 50);
		// Its scratch directory is left behind; the next start removes it (any MoleTok start
		// sweeps dead processes' directories, so one started meanwhile by another test file may
		// already have: only its absence afterwards is asserted).
		child = null;

		system = await startSystem({ dataDir, env: { TRANSCODE_LEASE_MS: "1500" } });
		expect(fs.existsSync(path.join(os.tmpdir(), scratch[0]))).toBe(false);
		const video = await waitForVideo(system.broker, body.video_id, 30000);
		expect(video.status).toBe("ready");
		const job = await settledJob(system, body.video_id);
		expect(job).toMatchObject({ status: "done", attempts: 2 });
		const list = await new Client(system.url).get<{ video_list: { id: number }[] }>("/publish/list/", { user_id: author!.id });
		expect(list.video_list.map(v => v.id)).toEqual([body.video_id]);
	}, 120000);
});
