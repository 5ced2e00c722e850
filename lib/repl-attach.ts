/**
 * The developers' REPL attached to a running cluster: a Moleculer node with NO services of
 * its own that joins the cluster's NATS and namespace, so `call`, `services`, `nodes` and
 * the commands of lib/repl.ts reach the running services instead of new replicas.
 *
 *   npm run repl -- --attach                                  (a local scripts/cluster.sh)
 *   kubectl exec -it deploy/<release>-users -- node dist/lib/repl-attach.js   (in a pod)
 *
 * It takes the cluster's environment as it finds it (TRANSPORTER with its credentials,
 * NAMESPACE, JWT_SECRET… : a pod's own, or scripts/cluster.sh env), and overrides only what
 * would clash with the process it sits beside: no health or metrics port, its own node id,
 * readable log lines at `error` only (so an answer is not lost among warnings), and a
 * writable HOME for the REPL's history.
 */
import fs from "node:fs";
import os from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { Env } from "./config";

function writable(dir: string): boolean {
	try {
		fs.accessSync(dir, fs.constants.W_OK);
		return true;
	} catch {
		return false;
	}
}

/** The environment of the attached node, from the cluster's. */
export function attachEnv(env: Env): Env {
	return {
		...env,
		// The REPL keeps its history in $HOME, which a pod's read-only root filesystem refuses.
		HOME: writable(os.homedir()) ? os.homedir() : os.tmpdir(),
		HEALTH_PORT: "off",
		METRICS_PORT: "off",
		NODE_ID: `repl-${os.hostname()}-${process.pid}`,
		LOG_LEVEL: "error",
		LOG_FORMAT: "text",
		SERVICES: ""
	};
}

/**
 * Connects to NATS once, without retrying, so a wrong address or password is told in one line
 * instead of as the broker's endless reconnect attempts. Returns the problem, or null.
 */
export async function natsProblem(transporter: string): Promise<string | null> {
	const { connect } = await import("nats");
	const url = new URL(transporter.split(",")[0]);
	try {
		const connection = await connect({ servers: url.host, user: url.username || undefined, pass: url.password || undefined, reconnect: false, timeout: 5000 });
		await connection.close();
		return null;
	} catch (err) {
		const code = (err as { code?: string }).code;
		if (code === "AUTHORIZATION_VIOLATION") return `NATS at ${url.host} refused ${url.username ? `the user "${url.username}" and the password in TRANSPORTER` : "a client without credentials (TRANSPORTER has none)"}`;
		return `cannot reach NATS at ${url.host}: ${(err as Error).message}`;
	}
}

async function main(): Promise<void> {
	Object.assign(process.env, attachEnv(process.env));
	// Loaded after the environment is set: the configuration is read once, on first use.
	const { loadConfig } = await import("./config");
	const { brokerOptions } = await import("../moleculer.config");
	const { ServiceBroker } = await import("moleculer");
	let cfg: ReturnType<typeof loadConfig>;
	try {
		cfg = loadConfig();
	} catch (err) {
		console.error(`moletok repl --attach: ${(err as Error).message}`);
		process.exit(2);
	}
	if (cfg.mode !== "cluster") {
		console.error("moletok repl --attach: TRANSPORTER is not set, so there is no cluster to attach to (locally: bash scripts/cluster.sh start)");
		process.exit(2);
	}
	const problem = await natsProblem(cfg.transporter!);
	if (problem) {
		console.error(`moletok repl --attach: ${problem}`);
		process.exit(2);
	}
	const broker = new ServiceBroker(brokerOptions(cfg));
	await broker.start();
	// The running nodes answer the DISCOVER of start() within moments.
	const others = () => broker.registry.nodes.list({ onlyAvailable: true, withServices: false }).filter(node => !node.local).length;
	for (let waited = 0; others() === 0 && waited < 3000; waited += 100) await sleep(100);
	console.log(
		others() > 0
			? `attached to namespace "${cfg.namespace}" as ${broker.nodeID}, a node with no services; ${others()} other node(s). Try: nodes, services, jobs failed, counts <userId>, help`
			: `attached as ${broker.nodeID}, but no other node answers in namespace "${cfg.namespace}": is the cluster running, and is NAMESPACE the cluster's?`
	);
	broker.repl();
}

if (require.main === module) void main();
