/**
 * Starts a whole MoleTok for a test file, in one of two targets:
 *
 * - embedded (default): every service inside the test process, a fresh module graph (so
 *   each system reads its own environment), a temporary DATA_DIR, the gateway on a free port;
 * - cluster (MOLETOK_TARGET=cluster, the `servers` jest project): every service as its own
 *   process from the build (dist/), two replicas of `api` and `videos`, over NATS, with
 *   MongoDB-wire (FerretDB), Redis and the S3 gateway from the environment that
 *   `scripts/servers.sh start` prints. Each system gets its own namespace, databases and
 *   bucket, so systems never see each other's data. The test talks to it over HTTP and
 *   through `broker`, a client node on the same NATS.
 */
import { type ChildProcess, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net, { type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import type { ServiceBroker } from "moleculer";
import { bucketKeys, dropClusterData, minioFromEnv, until } from "./real-servers";

export const ALL_SERVICES = ["api", "users", "videos", "transcoder", "favorites", "comments", "relations", "messages"];

export const TARGET: "embedded" | "cluster" = process.env.MOLETOK_TARGET === "cluster" ? "cluster" : "embedded";

const ROOT = path.join(__dirname, "..", "..");

export interface System {
	/** A broker that reaches every service: the system's own (embedded) or a client node (cluster). */
	broker: ServiceBroker;
	/** http://127.0.0.1:<port> of the (first) api replica */
	url: string;
	/** Every api replica. */
	urls: string[];
	/** http://127.0.0.1:<health port> (/live, /ready) of the (first) api process */
	healthUrl: string;
	/** Embedded: the DATA_DIR. */
	dataDir: string;
	/** The keys of every stored media object (local directory or bucket). */
	objectKeys(): Promise<string[]>;
	/** The JWT secret the system signs tokens with (embedded: generated on the first sign-in). */
	jwtSecret(): string;
	/** Cluster: the processes, by node id (`<service>-<replica>-<namespace>`). */
	processes: Map<string, ClusterProcess>;
	stop(options?: { keepData?: boolean }): Promise<void>;
}

export interface ClusterProcess {
	child: ChildProcess;
	/** http://127.0.0.1:<health port> */
	healthUrl: string;
	/** api processes: http://127.0.0.1:<port> */
	url?: string;
}

export interface SystemOptions {
	env?: Record<string, string>;
	services?: string[];
	/** Reuse a data directory (restart tests; embedded only). */
	dataDir?: string;
	/** Extra broker middlewares (e.g. a call counter; embedded only). */
	middlewares?: unknown[];
	/** Extra service schemas (stubs) started with the system (cluster: on the client node). */
	extraServices?: object[];
	/** Cluster: replicas per service (default: api and videos 2, others 1). */
	replicas?: Record<string, number>;
	/** Cluster: extra environment of one process. */
	processEnv?: (service: string, replica: number) => Record<string, string>;
}

/** A TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const { port } = server.address() as AddressInfo;
			server.close(() => resolve(port));
		});
	});
}

export function startSystem(options: SystemOptions = {}): Promise<System> {
	return TARGET === "cluster" ? startCluster(options) : startEmbedded(options);
}

/**
 * Builds a broker from moleculer.config, and its services from services/, with `env` as
 * the environment, in a fresh module graph (config is read once per graph).
 */
function buildBroker(env: Record<string, string>, extra: { middlewares?: unknown[]; nodeID?: string; services?: string[] } = {}): ServiceBroker {
	const saved = { ...process.env };
	for (const key of ["TRANSPORTER", "MONGO_URI", "REDIS_URL", "S3_ENDPOINT", "JWT_SECRET", "PUBLIC_BASE_URL", "NODE_ID", "NAMESPACE"]) delete process.env[key];
	Object.assign(process.env, env);
	jest.resetModules();
	try {
		const { ServiceBroker: Broker } = require("moleculer") as typeof import("moleculer");
		const { brokerOptions } = require("../../moleculer.config") as typeof import("../../moleculer.config");
		const base = brokerOptions();
		const broker = new Broker({
			...base,
			...(extra.nodeID ? { nodeID: extra.nodeID } : {}),
			logger: false,
			middlewares: [...(base.middlewares ?? []), ...((extra.middlewares ?? []) as never[])]
		});
		for (const name of extra.services ?? []) broker.createService(require(`../../services/${name}.service`).default);
		return broker;
	} finally {
		process.env = saved;
	}
}

function walk(dir: string): string[] {
	if (!fs.existsSync(dir)) return [];
	return (fs.readdirSync(dir, { recursive: true }) as string[]).filter(name => fs.statSync(path.join(dir, name)).isFile());
}

async function startEmbedded(options: SystemOptions): Promise<System> {
	const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "moletok-test-"));
	const port = await freePort();
	const healthPort = await freePort();
	const env: Record<string, string> = {
		PORT: String(port),
		HEALTH_PORT: String(healthPort),
		METRICS_PORT: "off",
		PUBLIC_BASE_URL: `http://127.0.0.1:${port}/media`,
		HOST: "127.0.0.1",
		DATA_DIR: dataDir,
		LOG_LEVEL: "warn",
		TRANSCODE_POLL_MS: "100",
		TRANSCODE_BACKOFF_MS: "100",
		...options.env
	};
	const broker = buildBroker(env, { middlewares: options.middlewares, services: options.services ?? ALL_SERVICES });
	for (const schema of options.extraServices ?? []) broker.createService(schema as never);
	await broker.start();
	const url = `http://127.0.0.1:${port}`;
	return {
		broker,
		url,
		urls: [url],
		healthUrl: `http://127.0.0.1:${healthPort}`,
		dataDir,
		objectKeys: async () => walk(path.join(dataDir, "media")),
		jwtSecret: () => options.env?.JWT_SECRET ?? fs.readFileSync(path.join(dataDir, "jwt-secret"), "utf8").trim(),
		processes: new Map(),
		async stop(stopOptions = {}) {
			await broker.stop();
			if (!stopOptions.keepData && !options.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
		}
	};
}

const SERVER_ENV = ["TRANSPORTER", "MONGO_URI", "REDIS_URL", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY"];
const REPLICAS: Record<string, number> = { api: 2, videos: 2 };

async function startCluster(options: SystemOptions): Promise<System> {
	const missing = SERVER_ENV.filter(name => !process.env[name]);
	if (missing.length > 0)
		throw new Error(`cluster tests need the real servers: run \`eval "$(bash scripts/servers.sh start)"\` first (missing ${missing.join(", ")})`);
	if (options.dataDir || options.middlewares) throw new Error("dataDir and middlewares are for embedded systems only");
	if (!fs.existsSync(path.join(ROOT, "dist", "moleculer.config.js"))) throw new Error("build first: npx tsc -p tsconfig.build.json");

	const id = `t${crypto.randomBytes(4).toString("hex")}`;
	const s3Base = process.env.S3_ENDPOINT!.replace(/\/+$/, "");
	const shared: Record<string, string> = {
		NAMESPACE: id,
		MONGO_DB_PREFIX: id,
		S3_BUCKET: id,
		PUBLIC_BASE_URL: `${s3Base}/${id}`,
		JWT_SECRET: crypto.randomBytes(32).toString("hex"),
		HOST: "127.0.0.1",
		LOG_LEVEL: "warn",
		METRICS_PORT: "off",
		SHUTDOWN_DELAY_MS: "100",
		TRANSCODE_POLL_MS: "200",
		TRANSCODE_BACKOFF_MS: "100",
		...options.env
	};
	const logDir = fs.mkdtempSync(path.join(os.tmpdir(), `moletok-cluster-${id}-`));
	const children: { name: string; child: ChildProcess; healthPort: number; port: number; log: string }[] = [];
	const apiPorts: number[] = [];

	const stopChildren = async () => {
		await Promise.all(
			children.map(({ child }) => {
				if (child.exitCode !== null || child.signalCode !== null) return undefined;
				return new Promise<void>(resolve => {
					const kill = setTimeout(() => child.kill("SIGKILL"), 20000);
					child.once("exit", () => {
						clearTimeout(kill);
						resolve();
					});
					child.kill("SIGTERM");
				});
			})
		);
	};

	let broker: ServiceBroker | null = null;
	const waitReady = async (from: number) => {
		for (const { name, child, healthPort } of children.slice(from))
			await until(`${name} to be ready`, async () => {
				if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
				return (await fetch(`http://127.0.0.1:${healthPort}/ready`)).ok || undefined;
			}, 60000, 100);
	};
	try {
		// First replicas first: they create the databases (FerretDB 1.x breaks a collection
		// two clients create at once), then the other replicas join.
		const replicas = { ...REPLICAS, ...options.replicas };
		for (let replica = 1; replica <= Math.max(...Object.values(replicas)); replica++) {
			const from = children.length;
			for (const name of (options.services ?? ALL_SERVICES).filter(name => replica <= (replicas[name] ?? 1))) {
				const healthPort = await freePort();
				const port = name === "api" ? await freePort() : 0;
				if (name === "api") apiPorts.push(port);
				const nodeId = `${name}-${replica}-${id}`;
				const log = path.join(logDir, `${nodeId}.log`);
				const out = fs.openSync(log, "a");
				const child = spawn(
					process.execPath,
					[path.join(ROOT, "node_modules/moleculer/bin/moleculer-runner.js"), "--config", "dist/moleculer.config.js"],
					{
						cwd: ROOT,
						stdio: ["ignore", out, out],
						env: {
							...process.env,
							...shared,
							...options.processEnv?.(name, replica),
							SERVICES: name,
							SERVICEDIR: "dist/services",
							NODE_ID: nodeId,
							HEALTH_PORT: String(healthPort),
							PORT: String(port || 8080)
						}
					}
				);
				fs.closeSync(out);
				children.push({ name: nodeId, child, healthPort, port, log });
			}
			await waitReady(from);
		}

		const servers = Object.fromEntries(SERVER_ENV.map(name => [name, process.env[name]!]));
		broker = buildBroker({ ...servers, ...shared, HEALTH_PORT: "off" }, { nodeID: `client-${id}` });
		for (const schema of options.extraServices ?? []) broker.createService(schema as never);
		await broker.start();
		// Every process must know the stubs of this node before a test relies on them.
		const stubs = (options.extraServices ?? []).map(schema => (schema as { name: string }).name);
		const client = broker;
		if (stubs.length > 0)
			for (const { name } of children)
				await until(`${name} to see ${stubs.join(", ")}`, async () => {
					const known = await client.call<{ name: string }[], object>("$node.services", { skipInternal: true }, { nodeID: name });
					return stubs.every(stub => known.some(service => service.name === stub)) || undefined;
				}, 60000, 100);
		await broker.waitForServices(options.services ?? ALL_SERVICES, 30000);
		for (const port of apiPorts)
			await until(`api on :${port}`, async () => {
				const body = (await (await fetch(`http://127.0.0.1:${port}/douyin/feed/`)).json()) as { status_code: number };
				return body.status_code === 0 || undefined;
			}, 60000, 100);
	} catch (err) {
		for (const { name, log } of children) {
			const tail = fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").slice(-15).join("\n") : "";
			if (tail.trim()) console.error(`--- ${name}\n${tail}`);
		}
		await stopChildren();
		await broker?.stop();
		throw err;
	}

	const urls = apiPorts.map(port => `http://127.0.0.1:${port}`);
	const clientBroker = broker;
	return {
		broker: clientBroker,
		url: urls[0],
		urls,
		healthUrl: `http://127.0.0.1:${children.find(c => c.name.startsWith("api-"))?.healthPort}`,
		dataDir: logDir,
		jwtSecret: () => shared.JWT_SECRET,
		processes: new Map(
			children.map(({ name, child, healthPort, port }) => [
				name,
				{ child, healthUrl: `http://127.0.0.1:${healthPort}`, url: port ? `http://127.0.0.1:${port}` : undefined }
			])
		),
		objectKeys: () => bucketKeys(minioFromEnv(), id),
		async stop() {
			await stopChildren();
			await clientBroker.stop();
			await dropClusterData(id);
			// MOLETOK_KEEP_LOGS=1 keeps every process's log for a look after the run.
			if (process.env.MOLETOK_KEEP_LOGS === "1") console.log(`cluster logs kept in ${logDir}`);
			else fs.rmSync(logDir, { recursive: true, force: true });
		}
	};
}
