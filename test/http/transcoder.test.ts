/**
 * Durable transcoding: a job that keeps failing is retried with backoff and ends
 * `failed` with its reason; a process killed (SIGKILL) in the middle of a job leaves a
 * job that the next start finishes.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "../helpers/client";
import { freePort, startSystem, type System } from "../helpers/system";
import { until } from "../helpers/real-servers";
import { uploadForm, waitForVideo } from "../helpers/videos";

const ROOT = path.join(__dirname, "..", "..");
const BIN = path.join(ROOT, "test", "fixtures", "bin");

/** The job once it has settled: the transcoder records it just after it settles the video. */
function settledJob(system: System, videoId: number) {
	return until(
		`the job of video ${videoId} to settle`,
		async () => {
			const job = await system.broker.call<{ status: string; attempts: number }, object>("transcoder.job", { videoId });
			return job.status === "running" || job.status === "queued" ? undefined : job;
		},
		10000,
		50
	);
}

describe("a job that keeps failing", () => {
	let system: System;
	let client: Client;

	beforeAll(async () => {
		system = await startSystem({ env: { FFMPEG_PATH: path.join(BIN, "ffmpeg-fails"), TRANSCODE_MAX_ATTEMPTS: "3", TRANSCODE_BACKOFF_MS: "50" } });
		client = new Client(system.url);
	});
	afterAll(() => system.stop());

	test("is retried with backoff, then ends failed with its reason and leaves nothing", async () => {
		const author = await client.register();
		const body = await client.postMultipart<{ video_id: number }>("/publish/action/", uploadForm({ token: author.token, title: "doomed" }));
		expect(body.status_code).toBe(0);
		const video = await waitForVideo(system.broker, body.video_id);
		expect(video.status).toBe("failed");
		expect(video.failReason).toMatch(/transcoding failed after 3 attempt\(s\): ffmpeg failed/);
		const job = await settledJob(system, body.video_id);
		expect(job).toMatchObject({ status: "failed", attempts: 3 });
		const list = await client.get<{ video_list: unknown[] }>("/publish/list/", { user_id: author.id });
		expect(list.video_list).toEqual([]);
		expect(fs.readdirSync(path.join(system.dataDir, "media", "videos"), { recursive: true }).filter(f => String(f).endsWith(".mp4"))).toEqual([]);
	});
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
		await system?.stop();
		fs.rmSync(dataDir, { recursive: true, force: true });
	});

	test("is finished by the next start", async () => {
		const port = await freePort();
		// The built system (npm test builds first), as its own process group so the hanging ffmpeg dies with it.
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
					TRANSCODE_LEASE_MS: "1500",
					TRANSCODE_POLL_MS: "100"
				}
			}
		);
		const client = new Client(`http://127.0.0.1:${port}`);
		let author: { token: string; id: number } | null = null;
		for (let i = 0; i < 100 && !author; i++) author = await client.register().catch(() => new Promise<null>(r => setTimeout(() => r(null), 200)));
		expect(author).not.toBeNull();
		const body = await client.postMultipart<{ video_id: number }>("/publish/action/", uploadForm({ token: author!.token, title: "survivor" }));
		expect(body.status_code).toBe(0);
		for (let i = 0; i < 200 && !fs.existsSync(marker); i++) await new Promise(r => setTimeout(r, 100));
		expect(fs.existsSync(marker)).toBe(true);

		process.kill(-child.pid!, "SIGKILL");
		await new Promise(resolve => child!.once("exit", resolve));
		child = null;

		system = await startSystem({ dataDir, env: { TRANSCODE_LEASE_MS: "1500" } });
		const video = await waitForVideo(system.broker, body.video_id, 30000);
		expect(video.status).toBe("ready");
		const job = await settledJob(system, body.video_id);
		expect(job).toMatchObject({ status: "done", attempts: 2 });
		const list = await new Client(system.url).get<{ video_list: { id: number }[] }>("/publish/list/", { user_id: author!.id });
		expect(list.video_list.map(v => v.id)).toEqual([body.video_id]);
	});
});
