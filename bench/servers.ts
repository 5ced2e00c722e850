/**
 * The cluster target's own servers: NATS, Redis and FerretDB started for the run on free
 * loopback ports, stopped with it. On a machine shared with other work, the shared servers'
 * CPU is everyone's; these serve the benchmark alone, so their CPU per request is ours, to
 * the PostgreSQL backends of this FerretDB (found through its sockets). The S3 gateway stays shared:
 * the measured requests do not touch it.
 */
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { Child, type CpuGroups, freePorts, log, until } from "./procs";

/** The binaries and the PostgreSQL database that scripts/servers.sh uses. */
const NATS_SERVER = process.env.NATS_SERVER_BIN ?? "/usr/sbin/nats-server";
const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? "/usr/bin/redis-server";
const FERRETDB = path.join(process.env.MOLETOK_CACHE ?? path.join(process.env.HOME ?? "/root", ".cache", "moletok"), "bin", "ferretdb");
const FERRETDB_PG_URL = process.env.FERRETDB_PG_URL ?? "postgres://postgres@127.0.0.1:5432/ferretdb";
const POSTGRES_PORT = Number(new URL(FERRETDB_PG_URL).port || 5432);

function answers(port: number): Promise<boolean> {
	return new Promise(resolve => {
		const socket = net.connect(port, "127.0.0.1");
		socket.once("connect", () => {
			socket.destroy();
			resolve(true);
		});
		socket.once("error", () => resolve(false));
	});
}

/** Inodes of the sockets a process holds open. */
function socketInodes(pid: number): Set<string> {
	const inodes = new Set<string>();
	try {
		for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
			try {
				const match = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
				if (match) inodes.add(match[1]);
			} catch {
				// closed meanwhile
			}
		}
	} catch {
		// gone
	}
	return inodes;
}

interface TcpRow {
	localPort: number;
	remotePort: number;
	inode: string;
}

function tcpRows(): TcpRow[] {
	const rows: TcpRow[] = [];
	for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
		if (!fs.existsSync(file)) continue;
		for (const line of fs.readFileSync(file, "utf8").split("\n").slice(1)) {
			const fields = line.trim().split(/\s+/);
			if (fields.length < 10) continue;
			rows.push({ localPort: parseInt(fields[1].split(":")[1], 16), remotePort: parseInt(fields[2].split(":")[1], 16), inode: fields[9] });
		}
	}
	return rows;
}

/** The PostgreSQL backends serving the connections `clientPid` holds to PostgreSQL. */
export function postgresBackendsOf(clientPid: number): number[] {
	const mine = socketInodes(clientPid);
	const rows = tcpRows();
	const clientPorts = new Set(rows.filter(row => mine.has(row.inode) && row.remotePort === POSTGRES_PORT).map(row => row.localPort));
	const serverInodes = new Set(rows.filter(row => row.localPort === POSTGRES_PORT && clientPorts.has(row.remotePort)).map(row => row.inode));
	if (serverInodes.size === 0) return [];
	const backends: number[] = [];
	for (const entry of fs.readdirSync("/proc")) {
		if (!/^\d+$/.test(entry)) continue;
		const pid = Number(entry);
		try {
			if (fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "postgres") continue;
		} catch {
			continue;
		}
		for (const inode of socketInodes(pid))
			if (serverInodes.has(inode)) {
				backends.push(pid);
				break;
			}
	}
	return backends;
}

export interface PrivateServers {
	env: { TRANSPORTER: string; MONGO_URI: string; REDIS_URL: string };
	/** CPU groups: nats-server, redis, ferretdb and its postgres backends. */
	cpu: CpuGroups;
	stop(): Promise<void>;
}

/** Starts NATS (JetStream), Redis and FerretDB (on the shared PostgreSQL) for this run only. */
export async function startPrivateServers(workDir: string, logDir: string): Promise<PrivateServers> {
	for (const binary of [NATS_SERVER, REDIS_SERVER, FERRETDB])
		if (!fs.existsSync(binary)) throw new Error(`${binary} is missing: run \`bash scripts/servers.sh install\` (or BENCH_SHARED_SERVERS=1)`);
	const base = await freePorts(3);
	const [natsPort, redisPort, mongoPort] = [base, base + 1, base + 2];
	const dir = path.join(workDir, "servers");
	for (const name of ["nats", "redis", "ferretdb"]) fs.mkdirSync(path.join(dir, name), { recursive: true });
	const env = { PATH: process.env.PATH, HOME: process.env.HOME };
	const children = [
		new Child("nats", NATS_SERVER, ["-a", "127.0.0.1", "-p", String(natsPort), "-js", "-sd", path.join(dir, "nats")], {
			cwd: dir,
			env,
			logFile: path.join(logDir, "nats.log")
		}),
		new Child("redis", REDIS_SERVER, ["--bind", "127.0.0.1", "--port", String(redisPort), "--dir", path.join(dir, "redis"), "--save", "", "--appendonly", "no"], {
			cwd: dir,
			env,
			logFile: path.join(logDir, "redis.log")
		}),
		new Child(
			"ferretdb",
			FERRETDB,
			[
				"--handler=pg",
				`--postgresql-url=${FERRETDB_PG_URL}`,
				`--state-dir=${path.join(dir, "ferretdb")}`,
				`--listen-addr=127.0.0.1:${mongoPort}`,
				"--telemetry=disable",
				"--debug-addr=-",
				"--log-level=WARN"
			],
			{ cwd: dir, env, logFile: path.join(logDir, "ferretdb.log") }
		)
	];
	const [nats, redis, ferretdb] = children;
	const stop = async () => {
		await Promise.all(children.map(child => child.stop(10000)));
	};
	try {
		for (const [child, port] of [
			[nats, natsPort],
			[redis, redisPort],
			[ferretdb, mongoPort]
		] as const)
			await until(
				`${child.name} on :${port}`,
				async () => {
					if (!child.running) throw new Error(`${child.name} exited; log in ${logDir}/${child.name}.log`);
					return (await answers(port)) || undefined;
				},
				30000,
				100
			);
	} catch (err) {
		await stop();
		throw err;
	}
	log(`servers of this run: NATS :${natsPort}, Redis :${redisPort}, FerretDB :${mongoPort} (on ${new URL(FERRETDB_PG_URL).host})`);
	return {
		env: { TRANSPORTER: `nats://127.0.0.1:${natsPort}`, MONGO_URI: `mongodb://127.0.0.1:${mongoPort}`, REDIS_URL: `redis://127.0.0.1:${redisPort}` },
		cpu: {
			"nats-server": () => [nats.pid],
			redis: () => [redis.pid],
			ferretdb: () => [ferretdb.pid],
			postgres: () => postgresBackendsOf(ferretdb.pid)
		},
		stop
	};
}
