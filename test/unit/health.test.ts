/** /live and /ready of an embedded process. */
import { healthOf } from "../../lib/health";
import { startSystem, type System } from "../helpers/system";

let system: System;
beforeAll(async () => {
	system = await startSystem();
});
afterAll(() => system.stop());

test("/live answers while the process runs", async () => {
	const res = await fetch(`${system.healthUrl}/live`);
	expect(res.status).toBe(200);
});

test("/ready checks the broker, every service's store and storage, and ffmpeg, whose version it shows", async () => {
	const res = await fetch(`${system.healthUrl}/ready`);
	expect(res.status).toBe(200);
	const body = (await res.json()) as { ready: boolean; checks: Record<string, string>; details: Record<string, string> };
	expect(body.ready).toBe(true);
	expect(Object.keys(body.checks).sort()).toEqual(
		["broker", "ffmpeg", "storage", ...["comments", "favorites", "messages", "relations", "transcoder", "users", "videos"].map(s => `store:${s}`)].sort()
	);
	// scripts/ffmpeg.sh's build (npm test puts it in FFMPEG_PATH): a current one.
	expect(body.details.ffmpeg).toMatch(/^(\d+)\.\d+(\.\d+)? \(\/.+\/ffmpeg\)$/);
	expect(Number(/^(\d+)/.exec(body.details.ffmpeg)![1])).toBeGreaterThanOrEqual(6);
});

test("/ready answers 503 and names the dependency that fails", async () => {
	healthOf(system.broker).register("store:users", () => Promise.reject(new Error("disk is gone")));
	const res = await fetch(`${system.healthUrl}/ready`);
	expect(res.status).toBe(503);
	const body = (await res.json()) as { ready: boolean; checks: Record<string, string> };
	expect(body).toMatchObject({ ready: false, checks: { "store:users": "disk is gone", broker: "ok" } });
});

test("a process whose SERVICES matched nothing is not ready", async () => {
	const empty = await startSystem({ services: [] });
	try {
		const res = await fetch(`${empty.healthUrl}/ready`);
		expect(res.status).toBe(503);
		expect(((await res.json()) as { checks: { broker: string } }).checks.broker).toMatch(/no services loaded/);
	} finally {
		await empty.stop();
	}
});
