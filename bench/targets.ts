/**
 * The systems under load: MoleTok embedded (one process, as `npm start` runs it), MoleTok
 * as a local cluster (scripts/cluster.sh: one process per service over NATS, with
 * FerretDB, Redis and the S3 gateway) in its own namespace, databases, bucket and ports, and the
 * bare Node server. Each start has a deadline; each stop leaves nothing behind.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { dropClusterData } from "../test/helpers/real-servers";
import { Child, type CpuGroups, freePorts, log, pidsByName, until } from "./procs";
import { type PrivateServers, startPrivateServers } from "./servers";

export const ROOT = path.join(__dirname, "..", "..");
const run = promisify(execFile);

/** Servers the cluster talks to, accounted as groups of their own (nothing else is ours). */
const INFRA = { "nats-server": "nats-server", redis: "redis-server", ferretdb: "ferretdb", postgres: "postgres", versitygw: "versitygw" };

/** The environment a user's shell would have, without any MoleTok or server variable. */
function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
	const keep = ["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "USER", "MOLETOK_CACHE", "MOLETOK_STATE"];
	const env: NodeJS.ProcessEnv = {};
	for (const name of keep) if (process.env[name] !== undefined) env[name] = process.env[name];
	return { ...env, ...extra };
}

/**
 * NODE_OPTIONS of the server processes: BENCH_NODE_OPTIONS (to try V8 or Node flags), and
 * a V8 CPU profile of every server process written on exit (BENCH_CPU_PROF=<dir>).
 */
function nodeOptionsEnv(label: string): NodeJS.ProcessEnv {
	const options = process.env.BENCH_NODE_OPTIONS ? [process.env.BENCH_NODE_OPTIONS] : [];
	const dir = process.env.BENCH_CPU_PROF;
	if (dir) {
		const target = path.resolve(dir, label);
		fs.mkdirSync(target, { recursive: true });
		options.push(`--cpu-prof --cpu-prof-dir=${target}`);
	}
	return options.length > 0 ? { NODE_OPTIONS: options.join(" ") } : {};
}

async function answersFeed(base: string): Promise<true | undefined> {
	const res = await fetch(`${base}/douyin/feed/`, { signal: AbortSignal.timeout(5000) });
	const body = (await res.json()) as { status_code?: number };
	return body.status_code === 0 ? true : undefined;
}

export interface Target {
	name: string;
	bases: string[];
	cpu: CpuGroups;
	/** Process name → pid of the target's own processes (to tell CPU profiles apart). */
	processes(): Record<string, number>;
	stop(): Promise<void>;
}

/**
 * The rate limits are for people: one load generator on loopback is one client address whose
 * few users write thousands of times a second. The benchmark sets them out of its reach,
 * still counting (their cost is part of what it measures).
 */
const UNREACHABLE = "1000000000/1m";
const NO_RATE_LIMITS = {
	RATE_LIMIT_WRITES: UNREACHABLE,
	RATE_LIMIT_LOGIN_USERNAME: UNREACHABLE,
	RATE_LIMIT_LOGIN_ADDRESS: UNREACHABLE,
	RATE_LIMIT_REGISTER_ADDRESS: UNREACHABLE
};

/**
 * Embedded mode with the defaults a user gets (metrics on, info logging, readable text
 * logs), except that every port is a free one and everything binds to loopback.
 */
export async function startEmbedded(name: string, options: { dataDir: string; logDir: string; metrics: boolean }): Promise<Target> {
	const base = await freePorts(3);
	const env = cleanEnv({
		SERVICEDIR: "dist/services",
		DATA_DIR: options.dataDir,
		HOST: "127.0.0.1",
		PORT: String(base),
		HEALTH_PORT: String(base + 1),
		METRICS_PORT: options.metrics ? String(base + 2) : "off",
		...NO_RATE_LIMITS,
		...nodeOptionsEnv(name)
	});
	const child = new Child(name, process.execPath, ["node_modules/moleculer/bin/moleculer-runner.js", "--config", "dist/moleculer.config.js"], {
		cwd: ROOT,
		env,
		logFile: path.join(options.logDir, `${name}.log`)
	});
	const url = `http://127.0.0.1:${base}`;
	try {
		await until(
			`${name} to be ready`,
			async () => {
				if (!child.running) throw new Error(`exited (${child.process.exitCode}); log in ${options.logDir}/${name}.log`);
				const ready = await fetch(`http://127.0.0.1:${base + 1}/ready`, { signal: AbortSignal.timeout(2000) });
				return ready.ok ? answersFeed(url) : undefined;
			},
			90000
		);
	} catch (err) {
		await child.stop();
		throw err;
	}
	log(`${name}: up on ${url} (pid ${child.pid}, metrics ${options.metrics ? `:${base + 2}` : "off"})`);
	return { name, bases: [url], cpu: { moletok: () => [child.pid] }, processes: () => ({ [name]: child.pid }), stop: () => child.stop() };
}

export async function startBare(templatesFile: string, logDir: string): Promise<Target> {
	const port = await freePorts(1);
	const child = new Child("bare", process.execPath, [path.join(__dirname, "bare-server.js"), String(port), templatesFile], {
		cwd: ROOT,
		env: cleanEnv({}),
		logFile: path.join(logDir, "bare.log")
	});
	const url = `http://127.0.0.1:${port}`;
	await until(
		"the bare server",
		async () => {
			if (!child.running) throw new Error("exited");
			return (await fetch(`${url}/douyin/feed/`)).ok ? true : undefined;
		},
		15000,
		100
	);
	log(`bare: up on ${url} (pid ${child.pid})`);
	return { name: "bare", bases: [url], cpu: { bare: () => [child.pid] }, processes: () => ({ bare: child.pid }), stop: () => child.stop() };
}

export interface ClusterTarget extends Target {
	/** Drops the run's databases and bucket (after stop). */
	cleanUp(): Promise<void>;
}

/**
 * A local cluster of its own (namespace, databases, bucket, ports, state directory) beside
 * any other, on NATS, Redis and FerretDB of its own (bench/servers.ts) unless
 * BENCH_SHARED_SERVERS=1 (then those of the environment, whose CPU others share).
 */
export async function startCluster(runId: string, workDir: string, logDir: string): Promise<ClusterTarget> {
	const missing = ["TRANSPORTER", "MONGO_URI", "REDIS_URL", "S3_ENDPOINT"].filter(name => !process.env[name]);
	if (missing.length > 0) throw new Error(`the cluster needs the servers: eval "$(bash scripts/servers.sh start)" (missing ${missing.join(", ")})`);
	const servers: PrivateServers | null = process.env.BENCH_SHARED_SERVERS === "1" ? null : await startPrivateServers(workDir, logDir);
	const urls = {
		TRANSPORTER: servers?.env.TRANSPORTER ?? process.env.TRANSPORTER,
		MONGO_URI: servers?.env.MONGO_URI ?? process.env.MONGO_URI,
		REDIS_URL: servers?.env.REDIS_URL ?? process.env.REDIS_URL
	};
	const id = `bench${runId}`;
	const clusterDir = path.join(workDir, "cluster");
	const replicasApi = Number(process.env.REPLICAS_API ?? 2);
	const base = await freePorts(32);
	const env = cleanEnv({
		...urls,
		CLUSTER_SERVERS: "given",
		S3_ENDPOINT: process.env.S3_ENDPOINT,
		S3_ACCESS_KEY: process.env.S3_ACCESS_KEY,
		S3_SECRET_KEY: process.env.S3_SECRET_KEY,
		MOLETOK_CLUSTER_DIR: clusterDir,
		API_PORT: String(base),
		HEALTH_PORT_BASE: String(base + 4),
		METRICS_PORT_BASE: String(base + 18),
		HOST: "127.0.0.1",
		NAMESPACE: id,
		MONGO_DB_PREFIX: id,
		S3_BUCKET: id,
		PUBLIC_BASE_URL: `${process.env.S3_ENDPOINT!.replace(/\/+$/, "")}/${id}`,
		...Object.fromEntries(["REPLICAS_API", "REPLICAS_VIDEOS", "REPLICAS_TRANSCODER"].flatMap(name => (process.env[name] ? [[name, process.env[name]]] : []))),
		...NO_RATE_LIMITS,
		...nodeOptionsEnv("cluster")
	});
	const script = path.join(ROOT, "scripts", "cluster.sh");
	const stop = async () => {
		await run("bash", [script, "stop"], { cwd: ROOT, env, timeout: 90000 }).catch(err => log(`cluster stop: ${(err as Error).message}`));
	};
	const cleanUp = async () => {
		await dropClusterData(id, urls.MONGO_URI).catch(err => log(`cluster clean-up of ${id}: ${(err as Error).message}`));
		await servers?.stop();
	};
	log(`cluster: starting (namespace ${id}, API on :${base}…:${base + replicasApi - 1}); this builds and takes a minute`);
	try {
		await run("bash", [script, "start"], { cwd: ROOT, env, timeout: 300000, maxBuffer: 16 << 20 });
	} catch (err) {
		await stop();
		await cleanUp();
		const { stdout, stderr } = err as Error & { stdout?: string; stderr?: string };
		throw new Error(`cluster did not start: ${(err as Error).message}\n${stdout ?? ""}${stderr ?? ""}`);
	}
	const nodes = Object.fromEntries(
		fs
			.readdirSync(clusterDir)
			.filter(file => file.endsWith(".pid"))
			.map(file => [file.slice(0, -4), Number(fs.readFileSync(path.join(clusterDir, file), "utf8"))])
	);
	const pidsOf = (service: string) => () => Object.entries(nodes).flatMap(([node, pid]) => (node.startsWith(`${service}-`) ? [pid] : []));
	const services = ["api", "videos", "users", "favorites", "relations", "comments", "messages", "transcoder"];
	const cpu: CpuGroups = Object.fromEntries([
		...services.map(service => [service, pidsOf(service)] as const),
		...(servers ? Object.entries(servers.cpu) : Object.entries(INFRA).map(([group, comm]) => [group, () => pidsByName(comm)] as const))
	]);
	const bases = Array.from({ length: replicasApi }, (_, i) => `http://127.0.0.1:${base + i}`);
	log(`cluster: up (${bases.join(", ")}), logs in ${clusterDir}`);
	return { name: "cluster", bases, cpu, processes: () => ({ ...nodes }), stop, cleanUp };
}

