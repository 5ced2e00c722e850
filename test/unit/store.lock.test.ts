/**
 * One process per embedded store directory (lib/store/lock.ts): a second process on the same
 * DATA_DIR refuses to start and names the holder; a lock left by a process that died does
 * not block. In-process cases first, then real MoleTok processes (from dist/), kill -9 included.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DirectoryLockedError, lockDirectory } from "../../lib/store/lock";
import { until } from "../helpers/real-servers";
import { freePort } from "../helpers/system";

const ROOT = path.join(__dirname, "..", "..");
let tmp: string;
beforeAll(() => {
	tmp = fs.mkdtempSync(path.join(os.tmpdir(), "moletok-lock-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let dirs = 0;
const freshDir = () => path.join(tmp, `store${++dirs}`);
const lockFile = (dir: string) => path.join(dir, "LOCK");
const record = (dir: string) => JSON.parse(fs.readFileSync(lockFile(dir), "utf8")) as { pid: number; host: string; startedAt: string };

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
	const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
	await new Promise(resolve => child.once("exit", resolve));
	return child.pid!;
}

function expectedMessage(dir: string, holder: { pid: number; host: string; startedAt: string }, hint = ""): string {
	return (
		`the embedded store ${dir} is in use by process ${holder.pid} on host ${holder.host} (started ${holder.startedAt}): ` +
		`two processes on one DATA_DIR overwrite each other's data. Stop that process first, or give this one another DATA_DIR${hint}`
	);
}

describe("in one process", () => {
	test("a held directory is refused, naming this process; once released it can be taken again", async () => {
		const dir = freshDir();
		const lock = await lockDirectory(dir);
		const holder = record(dir);
		expect(holder).toEqual({ pid: process.pid, host: os.hostname(), startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
		const refused = await lockDirectory(dir).catch(err => err as DirectoryLockedError);
		expect(refused).toBeInstanceOf(DirectoryLockedError);
		expect((refused as Error).message).toBe(expectedMessage(dir, holder));
		await lock.release();
		expect(fs.existsSync(lockFile(dir))).toBe(false);
		await (await lockDirectory(dir)).release();
	});

	test("a lock left by a process that is gone is taken over", async () => {
		const dir = freshDir();
		fs.mkdirSync(dir);
		const pid = await deadPid();
		fs.writeFileSync(lockFile(dir), JSON.stringify({ pid, host: os.hostname(), startedAt: new Date().toISOString() }));
		const lock = await lockDirectory(dir);
		expect(record(dir).pid).toBe(process.pid);
		await lock.release();
	});

	test("a lock naming this pid that this process does not hold (a restarted container is pid 1 again) is taken over", async () => {
		const dir = freshDir();
		fs.mkdirSync(dir);
		fs.writeFileSync(lockFile(dir), JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: "2020-01-01T00:00:00.000Z" }));
		const lock = await lockDirectory(dir);
		expect(record(dir).startedAt).not.toBe("2020-01-01T00:00:00.000Z");
		await lock.release();
	});

	test("a lock held on another host is refused, saying which file to delete once that process is gone", async () => {
		const dir = freshDir();
		fs.mkdirSync(dir);
		const holder = { pid: 4242, host: "other-host.example", startedAt: "2025-05-01T10:00:00.000Z" };
		fs.writeFileSync(lockFile(dir), JSON.stringify(holder));
		const refused = await lockDirectory(dir).catch(err => err as Error);
		expect((refused as Error).message).toBe(expectedMessage(dir, holder, ` (once that process is gone, delete ${lockFile(dir)})`));
		expect(record(dir)).toEqual(holder);
	});

	test("an empty lock file left long ago (a crash between creating and writing it) is taken over", async () => {
		const dir = freshDir();
		fs.mkdirSync(dir);
		fs.writeFileSync(lockFile(dir), "");
		const longAgo = new Date(Date.now() - 60_000);
		fs.utimesSync(lockFile(dir), longAgo, longAgo);
		const lock = await lockDirectory(dir);
		expect(record(dir).pid).toBe(process.pid);
		await lock.release();
	});

	test("releasing leaves alone a lock file that is no longer this one's", async () => {
		const dir = freshDir();
		const lock = await lockDirectory(dir);
		const other = JSON.stringify({ pid: 4242, host: "other-host.example", startedAt: "2025-05-01T10:00:00.000Z" });
		fs.writeFileSync(lockFile(dir), other);
		await lock.release();
		expect(fs.readFileSync(lockFile(dir), "utf8")).toBe(other);
	});
});

describe("real processes on one DATA_DIR", () => {
	const dataDir = () => path.join(tmp, "data");
	const started: ChildProcess[] = [];

	async function start(): Promise<{ child: ChildProcess; url: string; healthUrl: string; output: () => string; exited: Promise<number | null> }> {
		if (!fs.existsSync(path.join(ROOT, "dist", "moleculer.config.js"))) throw new Error("build first: npx tsc -p tsconfig.build.json");
		const [port, healthPort] = [await freePort(), await freePort()];
		const child = spawn(process.execPath, ["node_modules/moleculer/bin/moleculer-runner.js", "--config", "dist/moleculer.config.js"], {
			cwd: ROOT,
			stdio: ["ignore", "pipe", "pipe"],
			env: {
				PATH: process.env.PATH,
				SERVICES: "api,users",
				SERVICEDIR: "dist/services",
				DATA_DIR: dataDir(),
				HOST: "127.0.0.1",
				PORT: String(port),
				HEALTH_PORT: String(healthPort),
				METRICS_PORT: "off",
				PASSWORD_HASH_THREADS: "1",
				LOG_LEVEL: "warn"
			}
		});
		started.push(child);
		let output = "";
		child.stdout!.on("data", chunk => (output += chunk));
		child.stderr!.on("data", chunk => (output += chunk));
		const exited = new Promise<number | null>(resolve => child.once("exit", code => resolve(code)));
		return { child, url: `http://127.0.0.1:${port}`, healthUrl: `http://127.0.0.1:${healthPort}`, output: () => output, exited };
	}

	async function ready(target: Awaited<ReturnType<typeof start>>): Promise<void> {
		await until(
			"the process to be ready",
			async () => {
				if (target.child.exitCode !== null) throw new Error(`exited ${target.child.exitCode}: ${target.output()}`);
				return (await fetch(`${target.healthUrl}/ready`)).ok || undefined;
			},
			60000,
			100
		);
	}

	const post = async (url: string, route: string, params: Record<string, string>) =>
		(await (await fetch(`${url}/douyin${route}?${new URLSearchParams(params)}`, { method: "POST" })).json()) as { status_code: number; user_id?: number };

	afterAll(async () => {
		for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
	});

	test("the second refuses to start naming the first; after a kill -9 of the first, the next one starts with every account", async () => {
		const first = await start();
		await ready(first);
		const alice = await post(first.url, "/user/register/", { username: "alice", password: "secret123" });
		expect(alice.status_code).toBe(0);
		const holder = record(path.join(dataDir(), "db", "users"));
		expect(holder).toMatchObject({ pid: first.child.pid, host: os.hostname() });

		const second = await start();
		expect(await second.exited).toBe(1);
		expect(second.output()).toContain(expectedMessage(path.join(dataDir(), "db", "users"), holder));
		// The first one never noticed.
		expect(await post(first.url, "/user/login/", { username: "alice", password: "secret123" })).toMatchObject({ status_code: 0, user_id: alice.user_id });

		first.child.kill("SIGKILL");
		await first.exited;
		const third = await start();
		await ready(third);
		expect(record(path.join(dataDir(), "db", "users")).pid).toBe(third.child.pid);
		expect(await post(third.url, "/user/login/", { username: "alice", password: "secret123" })).toMatchObject({ status_code: 0, user_id: alice.user_id });

		third.child.kill("SIGTERM");
		expect(await third.exited).toBe(0);
		expect(fs.existsSync(lockFile(path.join(dataDir(), "db", "users")))).toBe(false);
	});
});
