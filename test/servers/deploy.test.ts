/**
 * Deployment: the Dockerfile, replayed without Docker, and the Helm chart, rendered and
 * validated offline against the Kubernetes API types (scripts/k8s-validate).
 *
 * Dockerfile: its instructions are parsed and executed in temporary directories, one per
 * stage (the build stage's `npm ci` + `tsc` in one, the runtime stage's `npm ci --omit=dev`
 * in another, COPY --from between them), with a build context made of the repository's files
 * filtered by .dockerignore. RUN steps run as written; the only ones not run are the OS-level
 * steps listed in SYSTEM_STEPS (apt, chown), each with its reason, and an instruction or
 * step the replay does not know fails the test. So the test follows the Dockerfile instead of
 * restating it: change a step and the test runs the new one. Then the image's CMD and
 * HEALTHCHECK are started from the runtime directory as the container would run them.
 *
 * Helm: needs `bash scripts/deploy-tools.sh install` (Helm and the validator, cached); a
 * missing or stale tool fails the suite with that command. The two-pod test needs the NATS of
 * scripts/servers.sh (TRANSPORTER), and the chart's NATS and Redis configurations are run on
 * the machine's nats-server and redis-server (Debian's, as scripts/servers.sh installs them).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../../lib/config";
import { ALL_SERVICES, freePort } from "../helpers/system";
import { BINARIES } from "../helpers/videos";

const ROOT = path.resolve(__dirname, "../..");
const CHART = path.join(ROOT, "helm/moletok");

// --- small helpers -------------------------------------------------------------------------

interface Ran {
	status: number | null;
	stdout: string;
	stderr: string;
}

function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Ran {
	const result = spawnSync(command, args, {
		cwd: options.cwd ?? ROOT,
		env: options.env ?? process.env,
		input: options.input,
		encoding: "utf8",
		maxBuffer: 64 * 1024 * 1024,
		timeout: options.timeoutMs ?? 120_000
	});
	if (result.error) throw result.error;
	return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function tempDir(label: string): string {
	return fs.mkdtempSync(path.join(os.tmpdir(), `moletok-deploy-${label}-`));
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe().catch(() => undefined);
		if (value !== undefined) return value;
		if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
		await new Promise(resolve => setTimeout(resolve, 100));
	}
}

async function status(url: string): Promise<number> {
	return (await fetch(url, { signal: AbortSignal.timeout(3000) })).status;
}

// --- the Dockerfile replay -------------------------------------------------------------------

interface Instruction {
	line: number;
	keyword: string;
	flags: string[];
	args: string;
}

/** Dockerfile instructions: continuation lines joined, comments (and parser directives) dropped. */
function parseDockerfile(text: string): Instruction[] {
	const instructions: Instruction[] = [];
	let buffer = "";
	let start = 0;
	text.split("\n").forEach((raw, index) => {
		const line = raw.trim();
		if (line.startsWith("#") || (!buffer && line === "")) return;
		if (!buffer) start = index + 1;
		if (line.endsWith("\\")) {
			buffer += `${line.slice(0, -1)} `;
			return;
		}
		buffer += line;
		const match = /^(\S+)\s+([\s\S]*)$/.exec(buffer);
		if (!match) throw new Error(`Dockerfile line ${start}: cannot parse "${buffer}"`);
		let args = match[2].trim();
		const flags: string[] = [];
		for (let flag = /^--\S+/.exec(args); flag; flag = /^--\S+/.exec(args)) {
			flags.push(flag[0]);
			args = args.slice(flag[0].length).trim();
		}
		instructions.push({ line: start, keyword: match[1].toUpperCase(), flags, args });
		buffer = "";
	});
	return instructions;
}

/** .dockerignore semantics: the last matching pattern wins; a pattern matches a path or any parent of it. */
function dockerignoreFilter(text: string): (file: string) => boolean {
	const rules = text
		.split("\n")
		.map(line => line.trim())
		.filter(line => line && !line.startsWith("#"))
		.map(line => {
			const negate = line.startsWith("!");
			const glob = path.posix.normalize(line.replace(/^!/, "")).replace(/^\/+|\/+$/g, "");
			const source = glob
				.split(/(\*\*|\*|\?)/)
				.map(part => (part === "**" ? ".*" : part === "*" ? "[^/]*" : part === "?" ? "[^/]" : part.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
				.join("");
			return { negate, pattern: new RegExp(`^${source}$`) };
		});
	return file => {
		const prefixes = file.split("/").map((_, i, parts) => parts.slice(0, i + 1).join("/"));
		let included = true;
		for (const rule of rules) if (prefixes.some(prefix => rule.pattern.test(prefix))) included = rule.negate;
		return included;
	};
}

/**
 * RUN steps the replay does not execute: they change the image's operating system, which
 * the test must not do to the machine it runs on. Every other step runs.
 */
const SYSTEM_STEPS: Array<[RegExp, string]> = [
	[/^apt-get (update|install)\b/, "Debian packages go into the image's OS"],
	[/^rm -rf \/var\/lib\/apt\/lists\/\*$/, "apt's package lists exist only in the image"],
	[/^chown \d+:\d+ \S+$/, "ownership: the replay runs as one user"]
];

interface Stage {
	name: string;
	image: string;
	root: string;
	workdir: string;
	env: Record<string, string>;
	user: string | null;
	cmd: string[] | null;
	healthcheck: string[] | null;
	expose: number[];
	ran: string[];
	skipped: string[];
}

class DockerfileReplay {
	readonly stages: Stage[] = [];
	private readonly args: Record<string, string> = {};

	constructor(
		private readonly context: string,
		private readonly workspace: string,
		private readonly buildEnv: NodeJS.ProcessEnv
	) {}

	get final(): Stage {
		return this.stages[this.stages.length - 1];
	}

	/** A path inside a stage's file system (absolute, or relative to its WORKDIR). */
	private inStage(stage: Stage, target: string): string {
		return path.join(stage.root, path.posix.isAbsolute(target) ? target : path.posix.join(stage.workdir, target));
	}

	private expand(text: string): string {
		return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, braced: string, bare: string) => this.args[braced ?? bare] ?? "");
	}

	run(instructions: Instruction[]): void {
		for (const instruction of instructions) {
			const where = `Dockerfile line ${instruction.line} (${instruction.keyword} ${instruction.args})`;
			const stage = this.stages[this.stages.length - 1];
			if (!stage && !["ARG", "FROM"].includes(instruction.keyword)) throw new Error(`${where}: before any FROM`);
			switch (instruction.keyword) {
				case "ARG": {
					const [name, value = ""] = instruction.args.split("=");
					if (!stage) this.args[name] = value;
					break;
				}
				case "FROM": {
					const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(this.expand(instruction.args));
					if (!match) throw new Error(`${where}: cannot parse`);
					const name = match[2] ?? String(this.stages.length);
					const root = path.join(this.workspace, name);
					fs.mkdirSync(root, { recursive: true });
					this.stages.push({ name, image: match[1], root, workdir: "/", env: {}, user: null, cmd: null, healthcheck: null, expose: [], ran: [], skipped: [] });
					break;
				}
				case "WORKDIR":
					stage.workdir = path.posix.resolve(stage.workdir, instruction.args);
					fs.mkdirSync(this.inStage(stage, "."), { recursive: true });
					break;
				case "ENV":
					for (const pair of instruction.args.split(/\s+/)) {
						const [name, ...value] = pair.split("=");
						if (!value.length) throw new Error(`${where}: use ENV NAME=value`);
						stage.env[name] = value.join("=");
					}
					break;
				case "COPY":
					this.copy(stage, instruction, where);
					break;
				case "RUN":
					this.runSteps(stage, instruction.args, where);
					break;
				case "USER":
					stage.user = instruction.args;
					break;
				case "EXPOSE":
					stage.expose.push(...instruction.args.split(/\s+/).map(port => Number(port.split("/")[0])));
					break;
				case "CMD":
					stage.cmd = JSON.parse(instruction.args) as string[];
					break;
				case "HEALTHCHECK": {
					const match = /^CMD\s+(\[.*\])$/.exec(instruction.args);
					if (!match) throw new Error(`${where}: the replay understands HEALTHCHECK [options] CMD ["exec", "form"] only`);
					stage.healthcheck = JSON.parse(match[1]) as string[];
					break;
				}
				default:
					throw new Error(`${where}: the replay does not know ${instruction.keyword}; teach it (test/servers/deploy.test.ts)`);
			}
		}
	}

	private copy(stage: Stage, instruction: Instruction, where: string): void {
		if (instruction.args.startsWith("[")) throw new Error(`${where}: the replay understands the plain COPY form only`);
		const from = instruction.flags.find(flag => flag.startsWith("--from="))?.slice("--from=".length);
		const unknown = instruction.flags.filter(flag => !flag.startsWith("--from=") && !flag.startsWith("--chown="));
		if (unknown.length) throw new Error(`${where}: unknown COPY flags ${unknown.join(" ")}`);
		const source = from === undefined ? null : this.stages.find(candidate => candidate.name === from);
		if (source === undefined) throw new Error(`${where}: no stage ${from}`);
		const parts = instruction.args.split(/\s+/);
		const dest = parts.pop()!;
		const destPath = this.inStage(stage, dest);
		const intoDirectory = dest.endsWith("/") || parts.length > 1;
		for (const part of parts) {
			const sourcePath = source ? this.inStage(source, part) : path.join(this.context, part);
			if (!fs.existsSync(sourcePath)) throw new Error(`${where}: ${part} is not in the ${source ? `stage ${source.name}` : "build context (.dockerignore?)"}`);
			const isDirectory = fs.statSync(sourcePath).isDirectory();
			const target = intoDirectory && !isDirectory ? path.join(destPath, path.basename(part)) : destPath;
			fs.mkdirSync(path.dirname(target), { recursive: true });
			fs.cpSync(sourcePath, target, { recursive: true });
		}
	}

	private runSteps(stage: Stage, command: string, where: string): void {
		for (const step of command.split("&&").map(part => part.trim())) {
			const system = SYSTEM_STEPS.find(([pattern]) => pattern.test(step));
			if (system) {
				stage.skipped.push(step);
				continue;
			}
			if (/[;|<>`]|\$\(|(^|\s)\//.test(step))
				throw new Error(`${where}: the replay runs "&&" chains of simple commands with relative paths only, not "${step}"; if it is an OS-level step, add it to SYSTEM_STEPS with its reason`);
			const result = run("sh", ["-c", step], { cwd: this.inStage(stage, "."), env: { ...this.buildEnv, ...stage.env }, timeoutMs: 600_000 });
			if (result.status !== 0) {
				const output = result.stdout + result.stderr;
				throw new Error(`${where}: "${step}" failed (${result.status}):\n${output.length > 4000 ? `${output.slice(0, 3000)}\n…\n${output.slice(-1000)}` : output}`);
			}
			stage.ran.push(step);
		}
	}
}

/** The build context: the repository's files (tracked, or new and not ignored) that .dockerignore lets through. */
function buildContext(target: string): string[] {
	const listed = run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"]).stdout.split("\0").filter(Boolean);
	const included = dockerignoreFilter(fs.readFileSync(path.join(ROOT, ".dockerignore"), "utf8"));
	const files = listed.filter(file => included(file) && fs.existsSync(path.join(ROOT, file)));
	for (const file of files) {
		fs.mkdirSync(path.dirname(path.join(target, file)), { recursive: true });
		fs.copyFileSync(path.join(ROOT, file), path.join(target, file));
	}
	return files;
}

/**
 * The environment `docker build` gives RUN steps here: PATH, HOME (npm's cache) and the
 * network settings only: proxies, and the CA that a TLS-inspecting proxy signs with (a
 * package missing from npm's cache is fetched through it).
 */
function buildEnvironment(): NodeJS.ProcessEnv {
	const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, npm_config_prefer_offline: "true", npm_config_update_notifier: "false" };
	for (const [name, value] of Object.entries(process.env))
		if (/^(https?_proxy|no_proxy|node_extra_ca_certs|npm_config_(cache|registry|userconfig|cafile))$/i.test(name)) env[name] = value;
	return env;
}

/**
 * Where the image's ffmpeg and ffprobe are (`apt-get install ffmpeg`, not replayed): the
 * project's own build (scripts/ffmpeg.sh), on the container's PATH as Debian's would be.
 */
const IMAGE_BIN = (() => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "moletok-image-bin-"));
	fs.symlinkSync(BINARIES.ffmpeg, path.join(dir, "ffmpeg"));
	fs.symlinkSync(BINARIES.ffprobe, path.join(dir, "ffprobe"));
	return dir;
})();

/** A process started from the runtime stage as its container would be (CMD, WORKDIR, ENV). */
class Container {
	readonly output: string[] = [];
	readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
	private readonly child: ChildProcess;

	constructor(
		stage: Stage,
		readonly env: Record<string, string>
	) {
		const [command, ...args] = stage.cmd!;
		this.child = spawn(command === "node" ? process.execPath : command, args, {
			cwd: path.join(stage.root, stage.workdir),
			env: { PATH: `${IMAGE_BIN}${path.delimiter}${process.env.PATH}`, HOME: os.tmpdir(), ...stage.env, ...env },
			stdio: ["ignore", "pipe", "pipe"]
		});
		this.child.stdout!.on("data", chunk => this.output.push(String(chunk)));
		this.child.stderr!.on("data", chunk => this.output.push(String(chunk)));
		this.exited = new Promise(resolve => this.child.once("exit", (code, signal) => resolve({ code, signal })));
	}

	get log(): string {
		return this.output.join("").slice(-4000);
	}

	kill(signal: NodeJS.Signals): void {
		if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
	}

	/** Waits until /ready answers 200; fails early, with the log, when the process exits. */
	async ready(healthUrl: string, timeoutMs = 60_000): Promise<void> {
		const deadline = Date.now() + timeoutMs;
		while (Date.now() < deadline) {
			if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`the process exited before it was ready:\n${this.log}`);
			if ((await status(`${healthUrl}/ready`).catch(() => 0)) === 200) return;
			await new Promise(resolve => setTimeout(resolve, 100));
		}
		throw new Error(`not ready within ${timeoutMs} ms:\n${this.log}`);
	}
}

describe("Dockerfile, replayed without Docker", () => {
	const dockerfile = fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8");
	let workspace: string | undefined;
	let replay: DockerfileReplay;
	let runtime: Stage;
	let runtimeApp: string;
	const containers: Container[] = [];

	beforeAll(() => {
		workspace = tempDir("image");
		const context = path.join(workspace, "context");
		buildContext(context);
		replay = new DockerfileReplay(context, path.join(workspace, "stages"), buildEnvironment());
		replay.run(parseDockerfile(dockerfile));
		runtime = replay.final;
		runtimeApp = path.join(runtime.root, runtime.workdir);
	}, 900_000);

	afterAll(async () => {
		for (const container of containers) container.kill("SIGKILL");
		await Promise.all(containers.map(container => container.exited));
		if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
	});

	it("builds in a build stage and runs from a separate runtime stage on Node >= the engines minimum", () => {
		expect(replay.stages.map(stage => stage.name)).toEqual(["build", "runtime"]);
		const engines = Number(/\d+/.exec((JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { engines: { node: string } }).engines.node)![0]);
		for (const stage of replay.stages) {
			const major = /^node:(\d+)-/.exec(stage.image);
			expect(major).not.toBeNull();
			expect(Number(major![1])).toBeGreaterThanOrEqual(engines);
		}
		expect(replay.stages[0].ran).toEqual(expect.arrayContaining([expect.stringMatching(/^npm (ci|install)\b/), "npx tsc -p tsconfig.build.json", "npm run build:web"]));
		expect(runtime.ran).toEqual(expect.arrayContaining([expect.stringMatching(/^npm (ci|install) --omit=dev\b/)]));
	});

	it("installs ffmpeg from Debian in the runtime stage (the only steps not replayed are OS-level ones)", () => {
		expect(replay.stages[0].skipped).toEqual([]);
		expect(runtime.skipped).toEqual(expect.arrayContaining([expect.stringMatching(/^apt-get install .*\bffmpeg\b/)]));
		for (const step of runtime.skipped) expect(SYSTEM_STEPS.some(([pattern]) => pattern.test(step))).toBe(true);
	});

	it("runs as a numeric non-root user, in production mode, Node as PID 1 on moleculer-runner", () => {
		expect(runtime.user).toMatch(/^\d+(:\d+)?$/);
		expect(Number(runtime.user!.split(":")[0])).toBeGreaterThan(0);
		expect(runtime.env.NODE_ENV).toBe("production");
		// Exec form, node first: no shell or npm in between to swallow SIGTERM.
		expect(runtime.cmd![0]).toBe("node");
		expect(runtime.cmd!.join(" ")).not.toMatch(/\bnpm\b|\bsh\b/);
		expect(fs.existsSync(path.join(runtimeApp, runtime.cmd![1]))).toBe(true);
		expect(runtime.cmd!.slice(1)).toEqual(["node_modules/moleculer/bin/moleculer-runner.js", "--config", "dist/moleculer.config.js", "dist/services"]);
	});

	it("exposes the app's default HTTP, health and metrics ports", () => {
		const defaults = loadConfig({});
		expect(runtime.expose.sort()).toEqual([defaults.port, defaults.healthPort, defaults.metricsPort].sort());
	});

	it("ships the compiled services, the config directory and production dependencies only", () => {
		for (const name of ALL_SERVICES) expect(fs.existsSync(path.join(runtimeApp, "dist/services", `${name}.service.js`))).toBe(true);
		expect(fs.existsSync(path.join(runtimeApp, "config/sensitive-words.txt"))).toBe(true);
		const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as Record<string, Record<string, string>>;
		const lock = JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean }> };
		const present = (name: string) => fs.existsSync(path.join(runtimeApp, "node_modules", name, "package.json"));
		// Dev-only: a devDependency no production package needs (the lock marks it "dev").
		const devOnly = Object.keys(pkg.devDependencies).filter(name => lock.packages[`node_modules/${name}`]?.dev);
		expect(devOnly).toEqual(expect.arrayContaining(["jest", "typescript"]));
		expect(devOnly.filter(present)).toEqual([]);
		expect(Object.keys(pkg.dependencies).filter(name => !present(name))).toEqual([]);
		// The web client and the API reference, built (web/ and docs/ stay out).
		expect(fs.existsSync(path.join(runtimeApp, "dist/web/index.html"))).toBe(true);
		expect(fs.readFileSync(path.join(runtimeApp, "dist/web/openapi.json"), "utf8")).toBe(fs.readFileSync(path.join(ROOT, "docs/openapi.json"), "utf8"));
		expect(fs.existsSync(path.join(runtimeApp, "web"))).toBe(false);
		// No TypeScript sources or tests in the image.
		expect(fs.existsSync(path.join(runtimeApp, "lib"))).toBe(false);
		expect(fs.existsSync(path.join(runtimeApp, "test"))).toBe(false);
	});

	describe("its CMD, with SERVICES unset (every service, embedded mode)", () => {
		let container: Container;
		let api: string;
		let health: string;
		let metrics: string;

		beforeAll(async () => {
			const [port, healthPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
			api = `http://127.0.0.1:${port}`;
			health = `http://127.0.0.1:${healthPort}`;
			metrics = `http://127.0.0.1:${metricsPort}/metrics`;
			container = new Container(runtime, {
				PORT: String(port),
				HEALTH_PORT: String(healthPort),
				METRICS_PORT: String(metricsPort),
				HOST: "127.0.0.1",
				LOG_LEVEL: "warn",
				SHUTDOWN_DELAY_MS: "1500"
			});
			containers.push(container);
			await container.ready(health);
		}, 90_000);

		it("answers /live and /ready with 200", async () => {
			expect(await status(`${health}/live`)).toBe(200);
			expect(await status(`${health}/ready`)).toBe(200);
		});

		it("serves the API: register, the user, the feed", async () => {
			const username = `docker${crypto.randomBytes(4).toString("hex")}`;
			const registered = (await (await fetch(`${api}/douyin/user/register/?username=${username}&password=secret123`, { method: "POST" })).json()) as {
				status_code: number;
				user_id: number;
				token: string;
			};
			expect(registered).toMatchObject({ status_code: 0, user_id: expect.any(Number), token: expect.any(String) });
			const user = (await (await fetch(`${api}/douyin/user/?user_id=${registered.user_id}&token=${registered.token}`)).json()) as {
				status_code: number;
				user: { id: number; name: string };
			};
			expect(user).toMatchObject({ status_code: 0, user: { id: registered.user_id, name: username } });
			expect(await (await fetch(`${api}/douyin/feed/`)).json()).toMatchObject({ status_code: 0, video_list: expect.any(Array) });
		});

		it("serves the web client at / and the API reference at /docs/", async () => {
			const page = await fetch(`${api}/`);
			expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
			expect(await page.text()).toContain('<div id="app">');
			expect((await fetch(`${api}/docs/`)).status).toBe(200);
			expect(((await (await fetch(`${api}/openapi.json`)).json()) as { openapi: string }).openapi).toBe("3.1.0");
		});

		it("serves Prometheus metrics on METRICS_PORT (what the pods' scrape annotations point at)", async () => {
			const res = await fetch(metrics);
			expect(res.status).toBe(200);
			expect(await res.text()).toMatch(/^moleculer_/m);
		});

		it("passes its own HEALTHCHECK", () => {
			const [command, ...args] = runtime.healthcheck!;
			const result = run(command === "node" ? process.execPath : command, args, { cwd: runtimeApp, env: { PATH: process.env.PATH, ...runtime.env, ...container.env } });
			expect(result).toMatchObject({ status: 0 });
		});

		it("on SIGTERM fails /ready at once while /live still answers, then exits 0", async () => {
			container.kill("SIGTERM");
			await waitFor("/ready to answer 503", async () => ((await status(`${health}/ready`)) === 503 ? true : undefined), 1000);
			expect(await status(`${health}/live`)).toBe(200);
			expect(await container.exited).toEqual({ code: 0, signal: null });
		}, 30_000);
	});

	describe("its CMD as two pods: SERVICES=api and SERVICES=users over NATS", () => {
		// The project's NATS, which wants the user and password that TRANSPORTER carries.
		const transporter = process.env.TRANSPORTER!;
		const common = {
			TRANSPORTER: transporter,
			REDIS_URL: process.env.REDIS_URL || "redis://127.0.0.1:6379",
			NAMESPACE: `deploy-test-${crypto.randomBytes(6).toString("hex")}`,
			JWT_SECRET: crypto.randomBytes(32).toString("hex"),
			HOST: "127.0.0.1",
			LOG_LEVEL: "warn",
			SHUTDOWN_DELAY_MS: "200"
		};
		let api: string;
		const pods: Container[] = [];
		const dataDirs: string[] = [];

		beforeAll(async () => {
			if (!transporter) throw new Error('TRANSPORTER is not set: run `eval "$(bash scripts/servers.sh start)"` first');
			for (const service of ["users", "api"]) {
				const [port, healthPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
				const dataDir = tempDir(`data-${service}`);
				dataDirs.push(dataDir);
				const pod = new Container(runtime, {
					...common,
					SERVICES: service,
					NODE_ID: `${service}-0`,
					DATA_DIR: dataDir,
					PORT: String(port),
					HEALTH_PORT: String(healthPort),
					METRICS_PORT: String(metricsPort)
				});
				pods.push(pod);
				containers.push(pod);
				await pod.ready(`http://127.0.0.1:${healthPort}`);
				if (service === "api") api = `http://127.0.0.1:${port}`;
			}
		}, 90_000);

		afterAll(() => {
			for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
		});

		it("registers and logs in through the api pod, answered by the users pod", async () => {
			const username = `pod${crypto.randomBytes(4).toString("hex")}`;
			const registered = (await (await fetch(`${api}/douyin/user/register/?username=${username}&password=secret123`, { method: "POST" })).json()) as { status_code: number; user_id: number };
			expect(registered).toMatchObject({ status_code: 0, user_id: expect.any(Number) });
			const login = await (await fetch(`${api}/douyin/user/login/?username=${username}&password=secret123`, { method: "POST" })).json();
			expect(login).toMatchObject({ status_code: 0, user_id: registered.user_id, token: expect.any(String) });
		});

		it("both pods stop cleanly on SIGTERM", async () => {
			for (const pod of pods) pod.kill("SIGTERM");
			for (const pod of pods) expect(await pod.exited).toEqual({ code: 0, signal: null });
		}, 30_000);
	});
});

// --- the Helm chart ---------------------------------------------------------------------------

/** A rendered Kubernetes object, as far as these tests look into it. */
interface K8sObject {
	apiVersion: string;
	kind: string;
	metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
	spec?: any;
	data?: Record<string, string>;
	automountServiceAccountToken?: boolean;
}

interface Tools {
	HELM: string;
	K8S_VALIDATE: string;
	KUBE_VERSION: string;
}

/** Values with every dependency external (and the optional parts on). */
const EXTERNAL = {
	nats: { enabled: false, url: "nats://nats.infra:4333", auth: { user: "moletok-prod", password: "natsPassword-1" } },
	mongodb: { enabled: false, uri: "mongodb://moletok:pw@mongo-a.infra:27017,mongo-b.infra:27018/?authSource=admin&replicaSet=rs" },
	redis: { enabled: false, url: "redis://:pw@redis.infra:6380" },
	objectStore: { enabled: false },
	s3: { endpoint: "https://s3.example.com", accessKey: "AKIAEXAMPLE", secretKey: "example-secret-key", presign: true },
	tracing: { jaegerEndpoint: "http://jaeger-collector.tracing:14268/api/traces", sampleRate: 0.25 },
	metrics: { serviceMonitor: { enabled: true, labels: { release: "prometheus" } } },
	auth: { jwtSecret: "0123456789abcdef0123456789abcdef" },
	ingress: { host: "api.example.com", tls: { enabled: true, secretName: "api-example-tls" } }
};

/** Every key a Secret of existingSecret holds for the default (built-in) servers. */
const SECRET_KEYS = ["JWT_SECRET", "NATS_PASSWORD", "S3_ACCESS_KEY", "S3_SECRET_KEY", "MONGO_PASSWORD", "MONGO_REPLICA_SET_KEY", "REDIS_PASSWORD"];

const decoded = (secret: K8sObject) => Object.fromEntries(Object.entries(secret.data!).map(([key, value]) => [key, Buffer.from(value, "base64").toString()]));

describe("Helm chart helm/moletok", () => {
	let tools: Tools;
	let scratch: string;
	let valuesFiles = 0;

	beforeAll(() => {
		scratch = tempDir("helm");
		const check = run("bash", ["scripts/deploy-tools.sh", "check"]);
		if (check.status !== 0) throw new Error(`the deployment tools are missing:\n${check.stderr}`);
		tools = Object.fromEntries(
			run("bash", ["scripts/deploy-tools.sh", "env"])
				.stdout.trim()
				.split(/\s+/)
				.map(pair => pair.split("="))
		) as unknown as Tools;
	});

	afterAll(() => {
		if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
	});

	/** `helm <args>` with `values` as a values file (JSON is YAML). */
	function helm(args: string[], values?: object, chart = CHART): Ran {
		const extra: string[] = [];
		if (values) {
			const file = path.join(scratch, `values-${++valuesFiles}.json`);
			fs.writeFileSync(file, JSON.stringify(values));
			extra.push("-f", file);
		}
		return run(tools.HELM, [...args.map(arg => (arg === "CHART" ? chart : arg)), "--kube-version", tools.KUBE_VERSION, ...extra]);
	}

	function template(values?: object, sets: string[] = [], chart = CHART): Ran {
		return helm(["template", "moletok", "CHART", "--namespace", "moletok", ...sets], values, chart);
	}

	/** Validates a rendered stream offline; returns the objects (fails the test with the validator's errors). */
	function validated(yaml: string): K8sObject[] {
		const result = run(tools.K8S_VALIDATE, ["-json"], { input: yaml });
		expect(result.stderr).toMatch(/object\(s\) valid/);
		expect(result.status).toBe(0);
		return JSON.parse(result.stdout) as K8sObject[];
	}

	function rendered(values?: object, sets: string[] = [], extraYaml = ""): K8sObject[] {
		const result = template(values, sets);
		if (result.status !== 0) throw new Error(result.stderr);
		return validated(result.stdout + extraYaml);
	}

	const ofKind = (objects: K8sObject[], kind: string) => objects.filter(object => object.kind === kind);
	const named = (objects: K8sObject[], kind: string, name: string) => {
		const found = objects.find(object => object.kind === kind && object.metadata.name === name);
		if (!found) throw new Error(`no ${kind} ${name}`);
		return found;
	};
	const podSpecOf = (workload: K8sObject) => (workload.kind === "Pod" ? workload.spec : workload.spec.template.spec);
	const containerOf = (workload: K8sObject) => podSpecOf(workload).containers[0];
	const envOf = (deployment: K8sObject): Record<string, string> =>
		Object.fromEntries((containerOf(deployment).env as Array<{ name: string; value?: string }>).map(entry => [entry.name, entry.value ?? "<from>"]));
	const workloads = (objects: K8sObject[]) => objects.filter(object => ["Deployment", "StatefulSet", "Pod"].includes(object.kind));

	it("passes `helm lint --strict` with the default values and with every dependency external", () => {
		for (const values of [undefined, EXTERNAL]) {
			const result = helm(["lint", "--strict", "CHART"], values);
			expect(`${result.stdout}${result.stderr}`).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
			expect(result.status).toBe(0);
		}
	});

	it("is rendered and validated for a Kubernetes release still supported upstream (the validator's k8s.io/api)", () => {
		const goMod = fs.readFileSync(path.join(ROOT, "scripts/k8s-validate/go.mod"), "utf8");
		const minor = Number(/^\s*k8s\.io\/api v0\.(\d+)\./m.exec(goMod)![1]);
		expect(tools.KUBE_VERSION).toBe(`1.${minor}.0`);
		// Kubernetes supports its three newest minors for about 14 months each: 1.35 (December
		// 2025) is the oldest still supported in late 2026.
		expect(minor).toBeGreaterThanOrEqual(35);
	});

	describe("with the default values", () => {
		let objects: K8sObject[];
		let config: Record<string, string>;

		beforeAll(() => {
			objects = rendered();
			config = named(objects, "ConfigMap", "moletok").data!;
		});

		it("validates strictly against the Kubernetes API types, with every reference resolved", () => {
			const kinds = objects.map(object => object.kind).sort();
			const count = (kind: string) => kinds.filter(k => k === kind).length;
			expect([count("Deployment"), count("HorizontalPodAutoscaler"), count("PodDisruptionBudget")]).toEqual([8, 8, 8]);
			expect(ofKind(objects, "StatefulSet").map(o => o.metadata.name).sort()).toEqual(["moletok-mongodb", "moletok-nats", "moletok-redis", "moletok-s3"]);
			expect(ofKind(objects, "Service").map(o => o.metadata.name).sort()).toEqual(["moletok-api", "moletok-mongodb", "moletok-nats", "moletok-redis", "moletok-s3"]);
			expect(ofKind(objects, "ConfigMap").map(o => o.metadata.name).sort()).toEqual(["moletok", "moletok-nats", "moletok-redis"]);
			expect([count("Secret"), count("ServiceAccount"), count("Ingress"), count("HTTPRoute"), count("ServiceMonitor")]).toEqual([1, 1, 1, 0, 0]);
		});

		it("runs one Deployment per service from one image, SERVICES=<name>, probes on the health port", () => {
			const deployments = ofKind(objects, "Deployment");
			expect(deployments.map(d => d.metadata.name).sort()).toEqual(ALL_SERVICES.map(name => `moletok-${name}`).sort());
			for (const deployment of deployments) {
				const name = deployment.metadata.name.replace(/^moletok-/, "");
				const container = containerOf(deployment);
				expect(container.image).toBe("moletok:0.1.0");
				expect(envOf(deployment).SERVICES).toBe(name);
				const ports = Object.fromEntries((container.ports as Array<{ name: string; containerPort: number }>).map(p => [p.name, p.containerPort]));
				expect(ports.health).toBe(Number(config.HEALTH_PORT));
				expect(ports.metrics).toBe(Number(config.METRICS_PORT));
				expect(ports.http).toBe(name === "api" ? Number(config.PORT) : undefined);
				expect(container.livenessProbe.httpGet).toEqual({ path: "/live", port: "health" });
				expect(container.startupProbe.httpGet).toEqual({ path: "/live", port: "health" });
				expect(container.readinessProbe.httpGet).toEqual({ path: "/ready", port: "health" });
				expect(container.envFrom).toEqual([{ configMapRef: { name: "moletok" } }, { secretRef: { name: "moletok" } }]);
				expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
				expect(podSpecOf(deployment).securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
				expect(deployment.spec.template.metadata.annotations).toMatchObject({
					"prometheus.io/scrape": "true",
					"prometheus.io/port": config.METRICS_PORT,
					"prometheus.io/path": "/metrics"
				});
				// The HPA owns the replica count.
				expect(deployment.spec.replicas).toBeUndefined();
			}
		});

		it("gives every pod a grace period covering preStop + shutdown delay + drain (+ transcode grace), from the same values as the env", () => {
			for (const deployment of ofKind(objects, "Deployment")) {
				const pod = podSpecOf(deployment);
				const preStop = Number(containerOf(deployment).lifecycle?.preStop?.exec?.command?.[1] ?? 0);
				let shutdownMs = Number(config.SHUTDOWN_DELAY_MS) + Number(config.SHUTDOWN_TIMEOUT_MS);
				if (deployment.metadata.name === "moletok-transcoder") shutdownMs += Number(config.TRANSCODE_SHUTDOWN_GRACE_MS);
				expect(pod.terminationGracePeriodSeconds).toBe(preStop + Math.ceil(shutdownMs / 1000) + 5);
			}
			expect(containerOf(named(objects, "Deployment", "moletok-api")).lifecycle.preStop.exec.command).toEqual(["sleep", "5"]);
			expect(config).toMatchObject({ SHUTDOWN_DELAY_MS: "2000", SHUTDOWN_TIMEOUT_MS: "20000", TRANSCODE_SHUTDOWN_GRACE_MS: "15000" });
		});

		it("points the pods at the built-in NATS (with its user and password), MongoDB (a replica set), Redis and object store", () => {
			expect(config).toMatchObject({ S3_ENDPOINT: "http://moletok-s3:7070", S3_BUCKET: "moletok" });
			expect(config).not.toHaveProperty("TRANSPORTER");
			for (const deployment of ofKind(objects, "Deployment"))
				expect(envOf(deployment)).toMatchObject({
					TRANSPORTER: "nats://moletok:$(NATS_PASSWORD)@moletok-nats:4222",
					MONGO_URI: "mongodb://root:$(MONGO_PASSWORD)@moletok-mongodb:27017/?authSource=admin&directConnection=true",
					REDIS_URL: "redis://:$(REDIS_PASSWORD)@moletok-redis:6379"
				});
			const withVolumes = ofKind(objects, "StatefulSet").filter(sts => sts.spec.volumeClaimTemplates?.length === 1);
			expect(withVolumes.map(sts => sts.metadata.name).sort()).toEqual(["moletok-mongodb", "moletok-s3"]);
		});

		it("pins every built-in server's image to an exact, maintained version (no MinIO, no floating tags)", () => {
			const images = Object.fromEntries(ofKind(objects, "StatefulSet").map(sts => [sts.metadata.name, containerOf(sts).image]));
			expect(images).toEqual({
				"moletok-nats": "nats:2.14.5-alpine",
				"moletok-mongodb": "mongo:8.0.29-noble",
				"moletok-redis": "redis:8.10.1-alpine",
				"moletok-s3": "versity/versitygw:v1.8.0"
			});
			for (const workload of workloads(objects)) expect(containerOf(workload).image).toMatch(/:v?\d+\.\d+\.\d+(-[a-z0-9]+)?$|^moletok:0\.1\.0$/);
		});

		it("runs NATS without JetStream and with authentication, the password from the Secret's environment", () => {
			const nats = named(objects, "StatefulSet", "moletok-nats");
			const container = containerOf(nats);
			expect(container.args).toEqual(["--config", "/etc/nats/nats.conf"]);
			expect(JSON.stringify(container)).not.toMatch(/jetstream|--js/i);
			expect(container.env).toEqual([{ name: "NATS_PASSWORD", valueFrom: { secretKeyRef: { name: "moletok", key: "NATS_PASSWORD" } } }]);
			expect(named(objects, "ConfigMap", "moletok-nats").data!["nats.conf"]).toContain('authorization {\n  user: "moletok"\n  password: $NATS_PASSWORD\n}');
			expect(nats.spec.template.metadata.annotations["checksum/config"]).toMatch(/^[0-9a-f]{64}$/);
		});

		it("runs Redis as a cache: bounded memory, an eviction policy, nothing on disk, no password on the command line", () => {
			const redis = named(objects, "StatefulSet", "moletok-redis");
			const conf = named(objects, "ConfigMap", "moletok-redis").data!["redis.conf"];
			expect(conf.split("\n")).toEqual(expect.arrayContaining(["maxmemory 192mb", "maxmemory-policy volatile-ttl", 'save ""', "appendonly no", "include /run/redis/auth.conf"]));
			const container = containerOf(redis);
			expect(container.args.join(" ")).not.toMatch(/requirepass\s+[^"]*\$\(|--requirepass/);
			expect(container.args.join(" ")).toMatch(/printf 'requirepass "%s"\\n' "\$REDISCLI_AUTH" >\/run\/redis\/auth\.conf && exec redis-server \/etc\/redis\/redis\.conf/);
			expect(podSpecOf(redis).volumes).toEqual(expect.arrayContaining([{ name: "auth", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } }]));
			expect(redis.spec.volumeClaimTemplates).toBeUndefined();
		});

		it("runs MongoDB as a single-node replica set with a key file, initiated once by its startup probe", () => {
			const mongo = containerOf(named(objects, "StatefulSet", "moletok-mongodb"));
			expect(mongo.args[0]).toMatch(/exec docker-entrypoint\.sh mongod --bind_ip_all --replSet rs0 --keyFile \/run\/mongodb\/keyfile$/);
			expect(mongo.args[0]).toMatch(/^umask 077 && printf '%s' "\$MONGO_REPLICA_SET_KEY" >\/run\/mongodb\/keyfile/);
			const probe = mongo.startupProbe.exec.command.join(" ");
			// Its member is localhost (clients connect directly), so initiating needs no DNS name
			// that resolves before the pod is ready.
			expect(probe).toContain(`rs.initiate({_id: "rs0", members: [{_id: 0, host: "localhost:27017"}]})`);
			expect(probe).toContain('if (e.codeName !== "NotYetInitialized") throw e');
			expect(mongo.readinessProbe.exec.command).toEqual(["mongosh", "--quiet", "--norc", "--eval", "if (!db.hello().isWritablePrimary) quit(1)"]);
		});

		it("generates every credential into a Secret that `helm uninstall` keeps, and uses given ones", () => {
			const secret = named(objects, "Secret", "moletok");
			expect(secret.metadata.annotations).toEqual({ "helm.sh/resource-policy": "keep" });
			const values = decoded(secret);
			expect(Object.keys(values).sort()).toEqual([...SECRET_KEYS].sort());
			expect(values.JWT_SECRET).toMatch(/^[A-Za-z0-9]{48}$/);
			// NATS reads it from its environment as a bare token: it starts with a letter.
			expect(values.NATS_PASSWORD).toMatch(/^n[A-Za-z0-9]{31}$/);
			expect(values.MONGO_REPLICA_SET_KEY).toMatch(/^[A-Za-z0-9]{64}$/);
			expect(decoded(named(rendered(), "Secret", "moletok")).JWT_SECRET).not.toBe(values.JWT_SECRET);
			const given = decoded(named(rendered({ auth: { jwtSecret: "x".repeat(40) }, nats: { auth: { password: "Nats-password-1" } } }), "Secret", "moletok"));
			expect(given).toMatchObject({ JWT_SECRET: "x".repeat(40), NATS_PASSWORD: "Nats-password-1" });
		});

		it("gives the MoleTok pods the release's ServiceAccount, without an API token", () => {
			const account = named(objects, "ServiceAccount", "moletok");
			expect(account.automountServiceAccountToken).toBe(false);
			for (const deployment of ofKind(objects, "Deployment")) expect(podSpecOf(deployment)).toMatchObject({ serviceAccountName: "moletok", automountServiceAccountToken: false });
		});

		it("spreads each service's replicas over nodes and zones, softly, counting only the current rollout", () => {
			for (const deployment of ofKind(objects, "Deployment")) {
				const selector = deployment.spec.selector.matchLabels;
				expect(podSpecOf(deployment).topologySpreadConstraints).toEqual(
					["kubernetes.io/hostname", "topology.kubernetes.io/zone"].map(topologyKey => ({
						topologyKey,
						maxSkew: 1,
						whenUnsatisfiable: "ScheduleAnyway",
						labelSelector: { matchLabels: selector },
						matchLabelKeys: ["pod-template-hash"]
					}))
				);
			}
		});

		it("puts the api behind an nginx Ingress sized for uploads, with media routed to the object store", () => {
			const ingress = named(objects, "Ingress", "moletok");
			const annotations = ingress.metadata.annotations!;
			const bodyMiB = Number(/^(\d+)m$/.exec(annotations["nginx.ingress.kubernetes.io/proxy-body-size"])![1]);
			expect(bodyMiB * 1024 * 1024).toBeGreaterThan(Number(config.MAX_UPLOAD_BYTES));
			expect(bodyMiB).toBe(101);
			for (const timeout of ["proxy-read-timeout", "proxy-send-timeout"])
				expect(Number(annotations[`nginx.ingress.kubernetes.io/${timeout}`]) * 1000).toBeGreaterThanOrEqual(Number(config.UPLOAD_TIMEOUT_MS));
			expect(annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"]).toBe("off");
			expect(ingress.spec.ingressClassName).toBe("nginx");
			const rule = ingress.spec.rules[0];
			expect(rule.host).toBe("moletok.local");
			expect(rule.http.paths.map((p: { path: string; backend: { service: { name: string; port: { name: string } } } }) => [p.path, p.backend.service.name, p.backend.service.port.name])).toEqual([
				["/moletok/", "moletok-s3", "s3"],
				["/", "moletok-api", "http"]
			]);
			expect(config.PUBLIC_BASE_URL).toBe("http://moletok.local/moletok");
		});

		it("closes the network: only the ingress controller reaches the api, only MoleTok pods reach the servers", () => {
			const policies = Object.fromEntries(ofKind(objects, "NetworkPolicy").map(policy => [policy.metadata.name.replace(/^moletok-/, ""), policy.spec]));
			expect(Object.keys(policies).sort()).toEqual(["api", "default", "mongodb", "nats", "redis", "s3", "services", "storage-clients", "test", "test-api"]);
			// Every pod of the release: nothing in or out but DNS, unless another policy allows it.
			expect(policies.default).toEqual({
				podSelector: { matchLabels: { "app.kubernetes.io/instance": "moletok" } },
				policyTypes: ["Ingress", "Egress"],
				egress: [{ ports: [{ port: 53, protocol: "UDP" }, { port: 53, protocol: "TCP" }] }]
			});
			const nginxNamespaces = { namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["ingress-nginx", "nginx-ingress", "nginx-gateway"] }] } };
			expect(policies.api.ingress).toEqual([{ from: [nginxNamespaces], ports: [{ port: "http", protocol: "TCP" }] }]);
			// The `helm test` pod's way to the api exists only while `helm test` runs (hooks).
			const testPod = { podSelector: { matchLabels: { "app.kubernetes.io/name": "moletok", "app.kubernetes.io/instance": "moletok", "app.kubernetes.io/component": "test" } } };
			expect(policies["test-api"].ingress).toEqual([{ from: [testPod], ports: [{ port: "http", protocol: "TCP" }] }]);
			for (const name of ["moletok-test", "moletok-test-api"]) expect(named(objects, "NetworkPolicy", name).metadata.annotations).toMatchObject({ "helm.sh/hook": "test" });
			const moletokPods = policies.services.podSelector;
			expect(moletokPods.matchExpressions[0].values.sort()).toEqual([...ALL_SERVICES].sort());
			expect(policies.nats.ingress).toEqual([{ from: [{ podSelector: moletokPods }], ports: [{ port: "client", protocol: "TCP" }] }]);
			expect(policies.redis.ingress).toEqual([{ from: [{ podSelector: moletokPods }], ports: [{ port: "redis", protocol: "TCP" }] }]);
			expect(policies.s3.ingress[0].from[1]).toEqual(nginxNamespaces);
			expect(policies["storage-clients"].podSelector.matchExpressions[0].values).toEqual(["api", "videos", "transcoder"]);
			expect(policies.services.egress.map((rule: { ports: Array<{ port: string }> }) => rule.ports[0].port)).toEqual(["client", "mongodb", "redis"]);
		});

		it("has a `helm test` pod that asks the api Service for the feed and wants status_code 0", () => {
			const pod = named(objects, "Pod", "moletok-test-feed");
			expect(pod.metadata.annotations!["helm.sh/hook"]).toBe("test");
			const container = containerOf(pod);
			const service = named(objects, "Service", "moletok-api");
			expect(container.env).toEqual([{ name: "FEED_URL", value: `http://moletok-api:${service.spec.ports[0].port}/douyin/feed/` }]);
			expect(container.args.join(" ")).toMatch(/curl .*"\$FEED_URL".*grep -q '"status_code":0'/s);
		});

		it("tells in NOTES.txt how to reach the API, attach the REPL, and what uninstall keeps", () => {
			// NOTES.txt renders only at install; render it through a copy of the chart instead.
			const copy = path.join(scratch, "notes-chart");
			fs.cpSync(CHART, copy, { recursive: true });
			fs.writeFileSync(path.join(copy, "templates/notes-preview.yaml"), 'notes: {{ include "moletok/templates/NOTES.txt" . | toJson }}\n');
			const notesOf = (values?: object) => {
				const result = template(values, ["--show-only", "templates/notes-preview.yaml"], copy);
				expect(result.stderr).toBe("");
				return JSON.parse(result.stdout.replace(/^[\s\S]*?notes: /, "")) as string;
			};
			const notes = notesOf();
			expect(notes).toContain("http://moletok.local/douyin/feed/");
			expect(notes).toContain("kubectl -n moletok port-forward service/moletok-api 8080:80");
			expect(notes).toContain("helm test moletok");
			expect(notes).toContain("kubectl -n moletok exec -it deploy/moletok-users -- node dist/lib/repl-attach.js");
			expect(notes).toContain("`helm uninstall` leaves it (and the database volumes) in place");
			const withoutIngress = notesOf({ ingress: { enabled: false }, publicBaseUrl: "https://cdn.example.com/moletok" });
			expect(withoutIngress).not.toContain("through the ingress");
			expect(withoutIngress).toContain("port-forward service/moletok-api");
		});
	});

	describe("the built-in servers' configurations, run on the real servers", () => {
		let objects: K8sObject[];
		const children: ChildProcess[] = [];

		beforeAll(() => {
			objects = rendered({ nats: { auth: { password: "Nats-password-from-the-secret" } }, redis: { auth: { password: "redis-password-12" } } });
		});

		afterAll(() => {
			for (const child of children) child.kill("SIGKILL");
		});

		/** Starts a server binary; resolves once `ready` answers. */
		async function serve(command: string, args: string[], env: NodeJS.ProcessEnv, ready: () => Promise<boolean>): Promise<ChildProcess> {
			const child = spawn(command, args, { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
			let log = "";
			child.stdout!.on("data", chunk => (log += String(chunk)));
			child.stderr!.on("data", chunk => (log += String(chunk)));
			children.push(child);
			await waitFor(`${command} to answer (log: ${log})`, async () => ((await ready()) ? true : undefined), 10_000);
			return child;
		}

		it("NATS: the chart's nats.conf, with NATS_PASSWORD from the Secret, refuses clients without it and lets MoleTok's TRANSPORTER in", async () => {
			const { connect } = await import("nats");
			const dir = tempDir("nats");
			fs.writeFileSync(path.join(dir, "nats.conf"), named(objects, "ConfigMap", "moletok-nats").data!["nats.conf"]);
			const [port, monitor] = [await freePort(), await freePort()];
			const password = decoded(named(objects, "Secret", "moletok")).NATS_PASSWORD;
			// The chart's file as it is; only the ports move off the pod's 4222/8222 (flags win over the file).
			await serve("nats-server", ["--config", path.join(dir, "nats.conf"), "-a", "127.0.0.1", "-p", String(port), "-m", String(monitor)], { NATS_PASSWORD: password }, async () =>
				(await status(`http://127.0.0.1:${monitor}/healthz`).catch(() => 0)) === 200
			);
			const attempt = async (options: object) =>
				connect({ servers: `127.0.0.1:${port}`, reconnect: false, ...options }).then(
					async connection => {
						await connection.close();
						return "connected";
					},
					(err: { code?: string }) => err.code
				);
			expect(await attempt({})).toBe("AUTHORIZATION_VIOLATION");
			expect(await attempt({ user: "moletok", pass: "guessed-password" })).toBe("AUTHORIZATION_VIOLATION");
			// TRANSPORTER as the kubelet expands it from the Deployment's env.
			const transporter = new URL(envOf(named(objects, "Deployment", "moletok-videos")).TRANSPORTER.replace("$(NATS_PASSWORD)", password));
			expect(await attempt({ user: transporter.username, pass: transporter.password })).toBe("connected");
			fs.rmSync(dir, { recursive: true, force: true });
		});

		it("Redis: the chart's redis.conf and password file make a password-protected cache with bounded memory", async () => {
			const dir = tempDir("redis");
			const conf = named(objects, "ConfigMap", "moletok-redis").data!["redis.conf"].replace("dir /data", `dir ${dir}`).replace("/run/redis/auth.conf", path.join(dir, "auth.conf"));
			fs.writeFileSync(path.join(dir, "redis.conf"), conf);
			// The container's own start command, with its paths in the temporary directory.
			const start = containerOf(named(objects, "StatefulSet", "moletok-redis")).args[0].replaceAll("/run/redis/auth.conf", path.join(dir, "auth.conf")).replace("/etc/redis/redis.conf", path.join(dir, "redis.conf"));
			const port = await freePort();
			const ask = (command: string, auth = true) =>
				run("redis-cli", ["-p", String(port), ...command.split(" ")], { env: { PATH: process.env.PATH, ...(auth ? { REDISCLI_AUTH: "redis-password-12" } : {}) } }).stdout.trim();
			await serve("sh", ["-c", `${start} --port ${port} --bind 127.0.0.1`], { REDISCLI_AUTH: "redis-password-12" }, async () => ask("PING") === "PONG");
			expect(ask("PING", false)).toMatch(/NOAUTH/);
			expect(ask("CONFIG GET maxmemory")).toBe(`maxmemory\n${192 * 1024 * 1024}`);
			expect(ask("CONFIG GET maxmemory-policy")).toBe("maxmemory-policy\nvolatile-ttl");
			expect(ask("CONFIG GET appendonly")).toBe("appendonly\nno");
			expect(ask("CONFIG GET save")).toBe("save");
			fs.rmSync(dir, { recursive: true, force: true });
		});
	});

	it("renders with every dependency external: no StatefulSet, endpoints from values, egress to their ports only", () => {
		const objects = rendered(EXTERNAL);
		expect(ofKind(objects, "StatefulSet")).toEqual([]);
		expect(ofKind(objects, "Service").map(o => o.metadata.name).sort()).toEqual(["moletok-api", "moletok-metrics"]);
		expect(decoded(named(objects, "Secret", "moletok"))).toEqual({
			JWT_SECRET: EXTERNAL.auth.jwtSecret,
			NATS_PASSWORD: EXTERNAL.nats.auth.password,
			S3_ACCESS_KEY: EXTERNAL.s3.accessKey,
			S3_SECRET_KEY: EXTERNAL.s3.secretKey,
			MONGO_URI: EXTERNAL.mongodb.uri,
			REDIS_URL: EXTERNAL.redis.url
		});
		const config = named(objects, "ConfigMap", "moletok").data!;
		expect(config).toMatchObject({ S3_ENDPOINT: "https://s3.example.com", S3_PRESIGN: "true", JAEGER_ENDPOINT: EXTERNAL.tracing.jaegerEndpoint, TRACE_SAMPLE_RATE: "0.25" });
		// External S3: the app derives media URLs from the endpoint (or presigns them).
		expect(config).not.toHaveProperty("PUBLIC_BASE_URL");
		for (const deployment of ofKind(objects, "Deployment"))
			expect(envOf(deployment)).toEqual({
				SERVICES: expect.any(String),
				NODE_ID: "<from>",
				TRANSPORTER: "nats://moletok-prod:$(NATS_PASSWORD)@nats.infra:4333",
				// services.users.env's default: hashing threads for the pod, not the node.
				...(deployment.metadata.name.endsWith("-users") ? { PASSWORD_HASH_THREADS: "2" } : {})
			});
		const monitor = named(objects, "ServiceMonitor", "moletok");
		expect(monitor.metadata.labels).toMatchObject({ release: "prometheus" });
		expect(monitor.spec.endpoints[0]).toMatchObject({ port: "metrics", path: "/metrics" });
		const ingress = named(objects, "Ingress", "moletok");
		expect(ingress.spec.tls).toEqual([{ secretName: "api-example-tls", hosts: ["api.example.com"] }]);
		expect(ingress.spec.rules[0].http.paths).toHaveLength(1);
		const policies = ofKind(objects, "NetworkPolicy").map(policy => policy.metadata.name);
		expect(policies.sort()).toEqual(["moletok-api", "moletok-default", "moletok-services", "moletok-storage-clients", "moletok-test", "moletok-test-api"]);
		const ports = (name: string) => named(objects, "NetworkPolicy", name).spec.egress.map((rule: { to?: unknown; ports: Array<{ port: number }> }) => [rule.to ?? "anywhere", rule.ports.map(p => p.port)]);
		expect(ports("moletok-services")).toEqual([
			["anywhere", [4333]],
			["anywhere", [27017, 27018]],
			["anywhere", [6380]],
			["anywhere", [14268]]
		]);
		expect(ports("moletok-storage-clients")).toEqual([["anywhere", [443]]]);
	});

	it("takes every credential from existingSecret: no Secret of its own, nothing generated", () => {
		const secret = ["---", "apiVersion: v1", "kind: Secret", "metadata: {name: moletok-credentials, namespace: moletok}", "stringData:", ...SECRET_KEYS.map(key => `  ${key}: x`)].join("\n");
		const objects = rendered({ existingSecret: "moletok-credentials" }, [], `\n${secret}\n`);
		expect(ofKind(objects, "Secret").map(s => s.metadata.name)).toEqual(["moletok-credentials"]);
		for (const deployment of ofKind(objects, "Deployment")) expect(containerOf(deployment).envFrom[1]).toEqual({ secretRef: { name: "moletok-credentials" } });
		const refs = JSON.stringify(ofKind(objects, "StatefulSet")).match(/"secretKeyRef":\{[^}]*\}/g)!;
		expect(refs.length).toBeGreaterThanOrEqual(6);
		for (const ref of refs) expect(ref).toContain('"name":"moletok-credentials"');
		// Without that Secret, the validator finds the references dangling (so the check above means something).
		expect(run(tools.K8S_VALIDATE, [], { input: template({ existingSecret: "moletok-credentials" }).stdout }).stderr).toMatch(/refers to Secret "moletok-credentials", which is not in the manifests/);
	});

	it("applies global.imageRegistry and global.imagePullSecrets to every pod, the built-in servers' and the test pod's too", () => {
		const objects = rendered({ global: { imageRegistry: "registry.example.com/mirror", imagePullSecrets: [{ name: "regcred" }] } });
		const pods = workloads(objects);
		expect(pods).toHaveLength(8 + 4 + 1);
		for (const pod of pods) {
			expect(containerOf(pod).image).toMatch(/^registry\.example\.com\/mirror\/[a-z]/);
			expect(podSpecOf(pod).imagePullSecrets).toEqual([{ name: "regcred" }]);
		}
		expect(containerOf(named(objects, "StatefulSet", "moletok-s3")).image).toBe("registry.example.com/mirror/versity/versitygw:v1.8.0");
	});

	it("schedules per service: its own nodeSelector, tolerations, affinity and priorityClassName over the defaults", () => {
		const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "gpu", operator: "Exists" }] }] } } };
		const toleration = { key: "media", operator: "Exists", effect: "NoSchedule" };
		const objects = rendered({
			nodeSelector: { pool: "apps" },
			priorityClassName: "moletok-normal",
			services: { transcoder: { nodeSelector: { pool: "media" }, tolerations: [toleration], affinity, priorityClassName: "moletok-batch" } },
			mongodb: { nodeSelector: { pool: "data" }, priorityClassName: "moletok-data" },
			topologySpread: { enabled: false },
			serviceAccount: { annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/moletok" } }
		});
		const spec = (kind: string, name: string) => podSpecOf(named(objects, kind, name));
		expect(spec("Deployment", "moletok-transcoder")).toMatchObject({ nodeSelector: { pool: "media" }, tolerations: [toleration], affinity, priorityClassName: "moletok-batch" });
		expect(spec("Deployment", "moletok-users")).toMatchObject({ nodeSelector: { pool: "apps" }, priorityClassName: "moletok-normal" });
		expect(spec("Deployment", "moletok-users").tolerations).toBeUndefined();
		expect(spec("StatefulSet", "moletok-mongodb")).toMatchObject({ nodeSelector: { pool: "data" }, priorityClassName: "moletok-data" });
		expect(spec("Deployment", "moletok-api").topologySpreadConstraints).toBeUndefined();
		expect(named(objects, "ServiceAccount", "moletok").metadata.annotations).toEqual({ "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/moletok" });
	});

	it("adds a Gateway API HTTPRoute: upload timeouts from limits, media GET/HEAD to the object store", () => {
		const objects = rendered({ ingress: { enabled: false }, httpRoute: { enabled: true, parentRefs: [{ name: "public", namespace: "gateway", sectionName: "https" }] }, limits: { uploadTimeoutMs: 900500 } });
		expect(ofKind(objects, "Ingress")).toEqual([]);
		const route = named(objects, "HTTPRoute", "moletok");
		expect(route.apiVersion).toBe("gateway.networking.k8s.io/v1");
		expect(route.spec.parentRefs).toEqual([{ name: "public", namespace: "gateway", sectionName: "https" }]);
		expect(route.spec.hostnames).toEqual(["moletok.local"]);
		expect(route.spec.rules).toEqual([
			{ matches: [{ path: { type: "PathPrefix", value: "/douyin/publish/action/" } }], backendRefs: [{ name: "moletok-api", port: 80 }], timeouts: { request: "901s", backendRequest: "901s" } },
			{
				matches: ["GET", "HEAD"].map(method => ({ path: { type: "PathPrefix", value: "/moletok/" }, method })),
				backendRefs: [{ name: "moletok-s3", port: 7070 }]
			},
			{ matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs: [{ name: "moletok-api", port: 80 }] }
		]);
		// Media URLs through the Gateway.
		expect(named(objects, "ConfigMap", "moletok").data!.PUBLIC_BASE_URL).toBe("https://moletok.local/moletok");
	});

	it("switches HPA, PDB, services, persistence and the network policies off, and drives env and grace from `shutdown`", () => {
		const objects = rendered({
			autoscaling: { enabled: false },
			services: { messages: { enabled: false }, api: { podDisruptionBudget: { enabled: false } }, users: { replicas: 3 } },
			mongodb: { persistence: { enabled: false } },
			objectStore: { persistence: { enabled: false } },
			networkPolicy: { enabled: false },
			serviceAccount: { create: false },
			shutdown: { drainTimeoutMs: 60000, delayMs: 3000 },
			limits: { maxUploadBytes: 524288000, uploadTimeoutMs: 1800000 },
			config: { JWT_TTL_SECONDS: 3600, TRANSCODE_LEASE_MS: 1200000, MAX_COMMENT_CHARS: "200" },
			metrics: { enabled: false }
		});
		expect(ofKind(objects, "HorizontalPodAutoscaler")).toEqual([]);
		expect(ofKind(objects, "NetworkPolicy")).toEqual([]);
		expect(ofKind(objects, "ServiceAccount")).toEqual([]);
		expect(podSpecOf(named(objects, "Deployment", "moletok-users")).serviceAccountName).toBe("default");
		expect(ofKind(objects, "Deployment").map(d => d.metadata.name)).not.toContain("moletok-messages");
		expect(ofKind(objects, "PodDisruptionBudget").map(p => p.metadata.name).sort()).toEqual(
			ALL_SERVICES.filter(name => !["api", "messages"].includes(name)).map(name => `moletok-${name}`).sort()
		);
		expect(named(objects, "Deployment", "moletok-users").spec.replicas).toBe(3);
		expect(named(objects, "Deployment", "moletok-api").spec.replicas).toBe(2);
		for (const name of ["moletok-mongodb", "moletok-s3"]) {
			expect(named(objects, "StatefulSet", name).spec.volumeClaimTemplates).toBeUndefined();
			expect(podSpecOf(named(objects, "StatefulSet", name)).volumes).toEqual(expect.arrayContaining([{ name: "data", emptyDir: {} }]));
		}
		const config = named(objects, "ConfigMap", "moletok").data!;
		expect(config).toMatchObject({ SHUTDOWN_TIMEOUT_MS: "60000", SHUTDOWN_DELAY_MS: "3000", MAX_UPLOAD_BYTES: "524288000", JWT_TTL_SECONDS: "3600", TRANSCODE_LEASE_MS: "1200000", MAX_COMMENT_CHARS: "200", METRICS_PORT: "off" });
		expect(podSpecOf(named(objects, "Deployment", "moletok-api")).terminationGracePeriodSeconds).toBe(5 + 63 + 5);
		expect(podSpecOf(named(objects, "Deployment", "moletok-transcoder")).terminationGracePeriodSeconds).toBe(63 + 15 + 5);
		const annotations = named(objects, "Ingress", "moletok").metadata.annotations!;
		expect(annotations).toMatchObject({ "nginx.ingress.kubernetes.io/proxy-body-size": "501m", "nginx.ingress.kubernetes.io/proxy-read-timeout": "1800" });
		const api = named(objects, "Deployment", "moletok-api");
		expect(api.spec.template.metadata.annotations).not.toHaveProperty("prometheus.io/scrape");
		expect(containerOf(api).ports.map((p: { name: string }) => p.name)).toEqual(["http", "health"]);
	});

	it.each([
		["negative replicas", { services: { api: { replicas: -1 } } }, /at '\/services\/api\/replicas': minimum: got -1, want 1/],
		["an empty image tag", { image: { tag: "" } }, /at '\/image\/tag': minLength: got 0, want 1/],
		["a misspelt key", { services: { api: { replica: 3 } } }, /at '\/services\/api': additional properties 'replica' not allowed/],
		["a key of the MinIO era", { minio: { enabled: false } }, /at '': additional properties 'minio' not allowed/],
		["external NATS without its URL", { nats: { enabled: false, auth: { user: "moletok", password: "natsPassword-1" } } }, /at '\/nats': missing property 'url'/],
		["a NATS URL with credentials in it", { nats: { enabled: false, url: "nats://u:p@nats:4222", auth: { user: "moletok", password: "natsPassword-1" } } }, /at '\/nats\/url': 'nats:\/\/u:p@nats:4222' does not match pattern/],
		["external NATS without a password", { nats: { enabled: false, url: "nats://nats.infra:4222" } }, /nats\.auth\.password is required for an external NATS \(or NATS_PASSWORD in existingSecret\)/],
		["a NATS password that is not a bare word", { nats: { auth: { password: "123456789012345" } } }, /at '\/nats\/auth\/password': '123456789012345' does not match pattern/],
		["external MongoDB without its URI", { mongodb: { enabled: false } }, /at '\/mongodb': missing property 'uri'/],
		["external Redis without its URL", { redis: { enabled: false } }, /at '\/redis': missing property 'url'/],
		["external S3 without endpoint and keys", { objectStore: { enabled: false } }, /at '\/s3': missing property 'endpoint'[\s\S]*at '\/s3': missing properties 'accessKey', 'secretKey'/],
		["a credential in values beside existingSecret", { existingSecret: "mine", auth: { jwtSecret: "x".repeat(40) } }, /auth\.jwtSecret is set, but existingSecret "mine" holds the credentials/],
		["existingSecret with external servers but no egress for them", { existingSecret: "mine", redis: { enabled: false } }, /networkPolicy: with existingSecret, the external MongoDB \/ Redis URLs are not in the values/],
		["a short JWT secret", { auth: { jwtSecret: "too-short" } }, /at '\/auth\/jwtSecret': minLength: got 9, want 32/],
		["a bad media URL", { publicBaseUrl: "ftp://media" }, /at '\/publicBaseUrl': 'ftp:\/\/media' does not match pattern/],
		["a bad Jaeger URL", { tracing: { jaegerEndpoint: "jaeger:14268" } }, /at '\/tracing\/jaegerEndpoint': 'jaeger:14268' does not match pattern/],
		["a password that breaks a URI", { mongodb: { auth: { rootPassword: "p@ss:word/1234" } } }, /at '\/mongodb\/auth\/rootPassword': 'p@ss:word\/1234' does not match pattern/],
		["a variable the chart sets itself", { config: { PORT: "1" } }, /at '\/config\/PORT': 'not' failed/],
		["an unknown log level", { logLevel: "verbose" }, /at '\/logLevel': value must be one of/],
		["an unknown eviction policy", { redis: { maxmemoryPolicy: "lru" } }, /at '\/redis\/maxmemoryPolicy': value must be one of/],
		["fewer max than min replicas", { services: { api: { autoscaling: { maxReplicas: 1 } } } }, /services\.api\.autoscaling\.maxReplicas \(1\) must be at least services\.api\.replicas \(2\)/],
		["the built-in object store without a reachable media URL", { ingress: { enabled: false } }, /publicBaseUrl is required when the built-in object store is not exposed through the Ingress/],
		["an HTTPRoute without a Gateway", { httpRoute: { enabled: true } }, /httpRoute\.parentRefs is required when httpRoute\.enabled/],
		["a ServiceMonitor without metrics", { metrics: { enabled: false, serviceMonitor: { enabled: true } } }, /metrics\.serviceMonitor\.enabled needs metrics\.enabled/],
		["the media path on an API path", { s3: { bucket: "douyin" } }, /s3\.bucket "douyin" is an API path/]
	])("refuses %s at install time with a clear message", (_what, values, message) => {
		const result = template(values);
		expect(result.status).not.toBe(0);
		expect(result.stderr).toMatch(message);
	});

	it("keeps k8s/ in step with the chart (scripts/render-k8s.sh), and its manifests validate", () => {
		const out = path.join(scratch, "k8s");
		const result = run("bash", ["scripts/render-k8s.sh", out]);
		expect(result.status).toBe(0);
		const files = fs.readdirSync(out).sort();
		expect(fs.readdirSync(path.join(ROOT, "k8s")).sort()).toEqual(files);
		for (const file of files)
			expect({ file, text: fs.readFileSync(path.join(ROOT, "k8s", file), "utf8") }).toEqual({ file, text: fs.readFileSync(path.join(out, file), "utf8") });
		const objects = validated(files.map(file => fs.readFileSync(path.join(out, file), "utf8")).join("\n---\n"));
		expect(ofKind(objects, "Namespace").map(n => n.metadata.name)).toEqual(["moletok"]);
		expect(ofKind(objects, "Pod")).toEqual([]);
		expect(decoded(named(objects, "Secret", "moletok"))).toMatchObject({ JWT_SECRET: "CHANGE-ME-jwt-secret-at-least-32-characters", NATS_PASSWORD: "CHANGE-ME-nats-password" });
	});

	it("has a validator that refuses what an API server would (so a pass means something), and an empty input", () => {
		const base = fs.readFileSync(path.join(ROOT, "k8s/10-moletok.yaml"), "utf8") + "\n---\n" + fs.readFileSync(path.join(ROOT, "k8s/secret.yaml.example"), "utf8");
		const broken: Array<[string, (yaml: string) => string, RegExp]> = [
			["an unknown field", yaml => yaml.replace("terminationGracePeriodSeconds:", "terminationGracePeriod:"), /unknown field "spec\.template\.spec\.terminationGracePeriod"/],
			["a wrong type", yaml => yaml.replace("maxReplicas: 6", "maxReplicas: six"), /cannot unmarshal string into Go struct field .*maxReplicas/],
			["a key in the wrong case", yaml => yaml.replace("ingressClassName:", "IngressClassName:"), /unknown field "spec\.IngressClassName"/],
			["an unknown kind", yaml => `${yaml}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n`, /unknown kind Widget/],
			["a probe on an undeclared port", yaml => yaml.replace("port: health }", "port: healthz }"), /port "healthz" is not a port of this container/],
			["a missing Secret key", yaml => yaml.replace("key: MONGO_PASSWORD", "key: MONGO_PASSWD"), /Secret "moletok" has no key "MONGO_PASSWD"/],
			["an unresolved $(VAR)", yaml => yaml.replace("$(REDIS_PASSWORD)", "$(REDIS_PASS)"), /\$\(REDIS_PASS\) is not defined/],
			["a Service selecting nothing", yaml => yaml.replace(/(kind: Service\n[\s\S]*?selector:\n\s+app\.kubernetes\.io\/name:) nats/, "$1 natz"), /matches no workload/],
			["a preStop longer than the grace period", yaml => yaml.replace('command: ["sleep", "5"]', 'command: ["sleep", "60"]'), /preStop sleeps 60 s but terminationGracePeriodSeconds is 32/],
			["a missing ServiceAccount", yaml => yaml.replace(/serviceAccountName: moletok$/m, "serviceAccountName: moletok-x"), /serviceAccountName "moletok-x": no such ServiceAccount/],
			["a NetworkPolicy on a port the pods lack", yaml => yaml.replace("- { port: client, protocol: TCP }", "- { port: clients, protocol: TCP }"), /port "clients" is not a container port of StatefulSet moletok\/moletok-nats/],
			["a topology spread over other pods", yaml => yaml.replace(/(topologySpreadConstraints:[\s\S]*?app\.kubernetes\.io\/component:) (\w+)/, "$1 nothing"), /its labelSelector must select this pod's own replicas/]
		];
		for (const [what, breakIt, message] of broken) {
			const yaml = breakIt(base);
			expect({ what, changed: yaml !== base }).toEqual({ what, changed: true });
			const result = run(tools.K8S_VALIDATE, [], { input: yaml });
			expect({ what, status: result.status }).toEqual({ what, status: 1 });
			expect(result.stderr).toMatch(message);
		}
		// A failed `helm template … | k8s-validate` pipeline feeds it nothing: that fails too.
		const empty = run("bash", ["-c", `"${tools.HELM}" template moletok "${CHART}" --set services.api.replicas=-1 2>/dev/null | "${tools.K8S_VALIDATE}"`]);
		expect(empty.status).toBe(1);
		expect(empty.stderr).toContain("no Kubernetes object at all (did the command that rendered it fail?)");
	});

	it("deploy-tools.sh reuses a Helm 3.14+ already on PATH, and says what it needs when a tool is missing", () => {
		const shims = tempDir("shims");
		const version = (v: string) => fs.writeFileSync(path.join(shims, "helm"), `#!/bin/sh\necho "${v}"\n`, { mode: 0o755 });
		const env = (cache: string) => ({ ...process.env, PATH: `${shims}:${process.env.PATH}`, MOLETOK_CACHE: cache });
		version("v3.17.2+gcc0bbbd");
		expect(run("bash", ["scripts/deploy-tools.sh", "env"], { env: env(os.homedir() + "/.cache/moletok") }).stdout).toContain(`HELM=${shims}/helm `);
		version("v3.12.0+g1234567");
		const old = run("bash", ["scripts/deploy-tools.sh", "check"], { env: env(path.join(shims, "empty-cache")) });
		expect(old.status).toBe(1);
		expect(old.stderr).toMatch(/no Helm 3\.14\+ on PATH, and Helm v\d+\.\d+\.\d+ \(for Kubernetes 1\.\d+\) is missing/);
		expect(old.stderr).toContain("run: bash scripts/deploy-tools.sh install (it needs Go 1.25 or newer to build what is missing)");
		fs.rmSync(shims, { recursive: true, force: true });
	});
});
