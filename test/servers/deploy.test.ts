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
 * missing or stale tool fails the suite with that command. The cluster test also needs NATS
 * on 127.0.0.1:4222 (scripts/servers.sh).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../../lib/config";
import { ALL_SERVICES, freePort } from "../helpers/system";

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

/** The environment `docker build` gives RUN steps here: PATH, HOME (npm's cache) and proxy settings only. */
function buildEnvironment(): NodeJS.ProcessEnv {
	const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, npm_config_prefer_offline: "true", npm_config_update_notifier: "false" };
	for (const [name, value] of Object.entries(process.env)) if (/^(https?_proxy|no_proxy|npm_config_(cache|registry|userconfig))$/i.test(name)) env[name] = value;
	return env;
}

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
			env: { PATH: process.env.PATH, HOME: os.tmpdir(), ...stage.env, ...env },
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
		expect(replay.stages[0].ran).toEqual(expect.arrayContaining([expect.stringMatching(/^npm (ci|install)\b/), "npx tsc -p tsconfig.build.json"]));
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
		const transporter = process.env.TRANSPORTER || "nats://127.0.0.1:4222";
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
}

interface Tools {
	HELM: string;
	K8S_VALIDATE: string;
	KUBE_VERSION: string;
}

/** Values with every dependency external (and the optional parts on). */
const EXTERNAL = {
	nats: { enabled: false, url: "nats://moletok:pw@nats.infra:4222" },
	mongodb: { enabled: false, uri: "mongodb://moletok:pw@mongo.infra:27017/?authSource=admin" },
	redis: { enabled: false, url: "redis://:pw@redis.infra:6379" },
	minio: { enabled: false },
	s3: { endpoint: "https://s3.example.com", accessKey: "AKIAEXAMPLE", secretKey: "example-secret-key", presign: true },
	tracing: { jaegerEndpoint: "http://jaeger-collector.tracing:14268/api/traces", sampleRate: 0.25 },
	metrics: { serviceMonitor: { enabled: true, labels: { release: "prometheus" } } },
	auth: { jwtSecret: "0123456789abcdef0123456789abcdef" },
	ingress: { host: "api.example.com", tls: { enabled: true, secretName: "api-example-tls" } }
};

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

	function rendered(values?: object, sets: string[] = []): K8sObject[] {
		const result = template(values, sets);
		if (result.status !== 0) throw new Error(result.stderr);
		return validated(result.stdout);
	}

	const ofKind = (objects: K8sObject[], kind: string) => objects.filter(object => object.kind === kind);
	const named = (objects: K8sObject[], kind: string, name: string) => {
		const found = objects.find(object => object.kind === kind && object.metadata.name === name);
		if (!found) throw new Error(`no ${kind} ${name}`);
		return found;
	};
	const containerOf = (deployment: K8sObject) => deployment.spec.template.spec.containers[0];
	const envOf = (deployment: K8sObject): Record<string, string> =>
		Object.fromEntries((containerOf(deployment).env as Array<{ name: string; value?: string }>).map(entry => [entry.name, entry.value ?? "<from>"]));

	it("passes `helm lint --strict` with the default values and with every dependency external", () => {
		for (const values of [undefined, EXTERNAL]) {
			const result = helm(["lint", "--strict", "CHART"], values);
			expect(`${result.stdout}${result.stderr}`).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
			expect(result.status).toBe(0);
		}
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
			expect(ofKind(objects, "StatefulSet").map(o => o.metadata.name).sort()).toEqual(["moletok-minio", "moletok-mongodb", "moletok-nats", "moletok-redis"]);
			expect(ofKind(objects, "Service").map(o => o.metadata.name).sort()).toEqual(["moletok-api", "moletok-minio", "moletok-mongodb", "moletok-nats", "moletok-redis"]);
			expect([count("ConfigMap"), count("Secret"), count("Ingress"), count("ServiceMonitor")]).toEqual([1, 1, 1, 0]);
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
				expect(deployment.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
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
				const pod = deployment.spec.template.spec;
				const preStop = Number(containerOf(deployment).lifecycle?.preStop?.exec?.command?.[1] ?? 0);
				let shutdownMs = Number(config.SHUTDOWN_DELAY_MS) + Number(config.SHUTDOWN_TIMEOUT_MS);
				if (deployment.metadata.name === "moletok-transcoder") shutdownMs += Number(config.TRANSCODE_SHUTDOWN_GRACE_MS);
				expect(pod.terminationGracePeriodSeconds).toBe(preStop + Math.ceil(shutdownMs / 1000) + 5);
			}
			expect(containerOf(named(objects, "Deployment", "moletok-api")).lifecycle.preStop.exec.command).toEqual(["sleep", "5"]);
			expect(config).toMatchObject({ SHUTDOWN_DELAY_MS: "2000", SHUTDOWN_TIMEOUT_MS: "20000", TRANSCODE_SHUTDOWN_GRACE_MS: "15000" });
		});

		it("points the pods at the built-in NATS, MongoDB, Redis and MinIO", () => {
			expect(config).toMatchObject({ TRANSPORTER: "nats://moletok-nats:4222", S3_ENDPOINT: "http://moletok-minio:9000", S3_BUCKET: "moletok" });
			const env = envOf(named(objects, "Deployment", "moletok-videos"));
			expect(env.MONGO_URI).toBe("mongodb://root:$(MONGO_PASSWORD)@moletok-mongodb:27017/?authSource=admin");
			expect(env.REDIS_URL).toBe("redis://:$(REDIS_PASSWORD)@moletok-redis:6379");
			const nats = containerOf(named(objects, "StatefulSet", "moletok-nats"));
			expect(nats.image).toBe("nats:2.10-alpine");
			expect(nats.args).toContain("--jetstream");
			expect(containerOf(named(objects, "StatefulSet", "moletok-mongodb")).image).toBe("mongo:7");
			expect(containerOf(named(objects, "StatefulSet", "moletok-redis")).image).toBe("redis:7-alpine");
			expect(containerOf(named(objects, "StatefulSet", "moletok-minio")).image).toMatch(/^minio\/minio:/);
			for (const statefulSet of ofKind(objects, "StatefulSet")) expect(statefulSet.spec.volumeClaimTemplates).toHaveLength(1);
		});

		it("generates a 48-character JWT secret when none is given, and uses the given one", () => {
			const secretOf = (list: K8sObject[]) => Buffer.from(named(list, "Secret", "moletok").data!.JWT_SECRET, "base64").toString();
			const generated = secretOf(objects);
			expect(generated).toMatch(/^[A-Za-z0-9]{48}$/);
			expect(secretOf(rendered())).not.toBe(generated);
			expect(secretOf(rendered({ auth: { jwtSecret: "x".repeat(40) } }))).toBe("x".repeat(40));
		});

		it("puts the api behind an nginx Ingress sized for uploads, with media routed to MinIO", () => {
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
			expect(rule.http.paths.map((p: { path: string; backend: { service: { name: string } } }) => [p.path, p.backend.service.name])).toEqual([
				["/moletok/", "moletok-minio"],
				["/", "moletok-api"]
			]);
			expect(config.PUBLIC_BASE_URL).toBe("http://moletok.local/moletok");
		});

		it("has a `helm test` pod that asks the api Service for the feed and wants status_code 0", () => {
			const pod = named(objects, "Pod", "moletok-test-feed");
			expect(pod.metadata.annotations!["helm.sh/hook"]).toBe("test");
			const container = pod.spec.containers[0];
			const service = named(objects, "Service", "moletok-api");
			expect(container.env).toEqual([{ name: "FEED_URL", value: `http://moletok-api:${service.spec.ports[0].port}/douyin/feed/` }]);
			expect(container.args.join(" ")).toMatch(/curl .*"\$FEED_URL".*grep -q '"status_code":0'/s);
		});

		it("tells in NOTES.txt how to reach the API (ingress host, or port-forward)", () => {
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
			const withoutIngress = notesOf({ ingress: { enabled: false }, publicBaseUrl: "https://cdn.example.com/moletok" });
			expect(withoutIngress).not.toContain("through the ingress");
			expect(withoutIngress).toContain("port-forward service/moletok-api");
		});
	});

	it("renders with every dependency external: no StatefulSet, endpoints from values, ServiceMonitor valid", () => {
		const objects = rendered(EXTERNAL);
		expect(ofKind(objects, "StatefulSet")).toEqual([]);
		expect(ofKind(objects, "Service").map(o => o.metadata.name).sort()).toEqual(["moletok-api", "moletok-metrics"]);
		const secret = Object.fromEntries(Object.entries(named(objects, "Secret", "moletok").data!).map(([key, value]) => [key, Buffer.from(value, "base64").toString()]));
		expect(secret).toEqual({
			JWT_SECRET: EXTERNAL.auth.jwtSecret,
			S3_ACCESS_KEY: EXTERNAL.s3.accessKey,
			S3_SECRET_KEY: EXTERNAL.s3.secretKey,
			TRANSPORTER: EXTERNAL.nats.url,
			MONGO_URI: EXTERNAL.mongodb.uri,
			REDIS_URL: EXTERNAL.redis.url
		});
		const config = named(objects, "ConfigMap", "moletok").data!;
		expect(config).toMatchObject({ S3_ENDPOINT: "https://s3.example.com", S3_PRESIGN: "true", JAEGER_ENDPOINT: EXTERNAL.tracing.jaegerEndpoint, TRACE_SAMPLE_RATE: "0.25" });
		expect(config).not.toHaveProperty("TRANSPORTER");
		// External S3: the app derives media URLs from the endpoint (or presigns them).
		expect(config).not.toHaveProperty("PUBLIC_BASE_URL");
		for (const deployment of ofKind(objects, "Deployment")) expect(Object.keys(envOf(deployment)).sort()).toEqual(["NODE_ID", "SERVICES"]);
		const monitor = named(objects, "ServiceMonitor", "moletok");
		expect(monitor.metadata.labels).toMatchObject({ release: "prometheus" });
		expect(monitor.spec.endpoints[0]).toMatchObject({ port: "metrics", path: "/metrics" });
		const ingress = named(objects, "Ingress", "moletok");
		expect(ingress.spec.tls).toEqual([{ secretName: "api-example-tls", hosts: ["api.example.com"] }]);
		expect(ingress.spec.rules[0].http.paths).toHaveLength(1);
	});

	it("switches HPA, PDB, services and persistence off, and drives env and grace from `shutdown`", () => {
		const objects = rendered({
			autoscaling: { enabled: false },
			services: { messages: { enabled: false }, api: { podDisruptionBudget: { enabled: false } }, users: { replicas: 3 } },
			nats: { persistence: { enabled: false } },
			minio: { persistence: { enabled: false } },
			shutdown: { drainTimeoutMs: 60000, delayMs: 3000 },
			limits: { maxUploadBytes: 524288000, uploadTimeoutMs: 1800000 },
			config: { JWT_TTL_SECONDS: 3600, TRANSCODE_LEASE_MS: 1200000, MAX_COMMENT_CHARS: "200" },
			metrics: { enabled: false }
		});
		expect(ofKind(objects, "HorizontalPodAutoscaler")).toEqual([]);
		expect(ofKind(objects, "Deployment").map(d => d.metadata.name)).not.toContain("moletok-messages");
		expect(ofKind(objects, "PodDisruptionBudget").map(p => p.metadata.name).sort()).toEqual(
			ALL_SERVICES.filter(name => !["api", "messages"].includes(name)).map(name => `moletok-${name}`).sort()
		);
		expect(named(objects, "Deployment", "moletok-users").spec.replicas).toBe(3);
		expect(named(objects, "Deployment", "moletok-api").spec.replicas).toBe(2);
		expect(named(objects, "StatefulSet", "moletok-nats").spec.volumeClaimTemplates).toBeUndefined();
		expect(named(objects, "StatefulSet", "moletok-nats").spec.template.spec.volumes).toEqual([{ name: "data", emptyDir: {} }]);
		const config = named(objects, "ConfigMap", "moletok").data!;
		expect(config).toMatchObject({ SHUTDOWN_TIMEOUT_MS: "60000", SHUTDOWN_DELAY_MS: "3000", MAX_UPLOAD_BYTES: "524288000", JWT_TTL_SECONDS: "3600", TRANSCODE_LEASE_MS: "1200000", MAX_COMMENT_CHARS: "200", METRICS_PORT: "off" });
		expect(named(objects, "Deployment", "moletok-api").spec.template.spec.terminationGracePeriodSeconds).toBe(5 + 63 + 5);
		expect(named(objects, "Deployment", "moletok-transcoder").spec.template.spec.terminationGracePeriodSeconds).toBe(63 + 15 + 5);
		const annotations = named(objects, "Ingress", "moletok").metadata.annotations!;
		expect(annotations).toMatchObject({ "nginx.ingress.kubernetes.io/proxy-body-size": "501m", "nginx.ingress.kubernetes.io/proxy-read-timeout": "1800" });
		const api = named(objects, "Deployment", "moletok-api");
		expect(api.spec.template.metadata.annotations).not.toHaveProperty("prometheus.io/scrape");
		expect(containerOf(api).ports.map((p: { name: string }) => p.name)).toEqual(["http", "health"]);
	});

	it.each([
		["negative replicas", { services: { api: { replicas: -1 } } }, /services\.api\.replicas: Must be greater than or equal to 1/],
		["an empty image tag", { image: { tag: "" } }, /image\.tag: String length must be greater than or equal to 1/],
		["a misspelt key", { services: { api: { replica: 3 } } }, /services\.api: Additional property replica is not allowed/],
		["external NATS without its URL", { nats: { enabled: false } }, /nats: url is required/],
		["a NATS URL that is not nats://", { nats: { enabled: false, url: "http://nats:4222" } }, /nats\.url: Does not match pattern/],
		["external MongoDB without its URI", { mongodb: { enabled: false } }, /mongodb: uri is required/],
		["external Redis without its URL", { redis: { enabled: false } }, /redis: url is required/],
		["external S3 without endpoint and keys", { minio: { enabled: false } }, /s3: endpoint is required[\s\S]*s3: accessKey is required[\s\S]*s3: secretKey is required/],
		["a short JWT secret", { auth: { jwtSecret: "too-short" } }, /auth\.jwtSecret: String length must be greater than or equal to 32/],
		["a bad media URL", { publicBaseUrl: "ftp://media" }, /publicBaseUrl: Does not match pattern/],
		["a bad Jaeger URL", { tracing: { jaegerEndpoint: "jaeger:14268" } }, /tracing\.jaegerEndpoint: Does not match pattern/],
		["a password that breaks a URI", { mongodb: { auth: { rootPassword: "p@ss:word/1234" } } }, /mongodb\.auth\.rootPassword: Does not match pattern/],
		["a variable the chart sets itself", { config: { PORT: "1" } }, /config: Property name of "PORT" does not match/],
		["an unknown log level", { logLevel: "verbose" }, /logLevel: logLevel must be one of the following/],
		["fewer max than min replicas", { services: { api: { autoscaling: { maxReplicas: 1 } } } }, /services\.api\.autoscaling\.maxReplicas \(1\) must be at least services\.api\.replicas \(2\)/],
		["built-in MinIO without a reachable media URL", { ingress: { enabled: false } }, /publicBaseUrl is required when the built-in MinIO is not exposed through the ingress/],
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
		expect(named(objects, "Secret", "moletok").data!.JWT_SECRET).toBe(Buffer.from("CHANGE-ME-jwt-secret-at-least-32-characters").toString("base64"));
	});

	it("has a validator that refuses what an API server would (so a pass means something)", () => {
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
			["a preStop longer than the grace period", yaml => yaml.replace('command: ["sleep", "5"]', 'command: ["sleep", "60"]'), /preStop sleeps 60 s but terminationGracePeriodSeconds is 32/]
		];
		for (const [what, breakIt, message] of broken) {
			const yaml = breakIt(base);
			expect({ what, changed: yaml !== base }).toEqual({ what, changed: true });
			const result = run(tools.K8S_VALIDATE, [], { input: yaml });
			expect({ what, status: result.status }).toEqual({ what, status: 1 });
			expect(result.stderr).toMatch(message);
		}
	});
});
