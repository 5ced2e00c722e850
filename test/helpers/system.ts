/**
 * Starts MoleTok in embedded mode inside the test process: a fresh module graph (so
 * each system reads its own environment), a temporary DATA_DIR, the gateway on a
 * random port. Returns the broker, the base URL and a stop() that cleans up.
 */
import fs from "node:fs";
import net, { type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import type { ServiceBroker } from "moleculer";

export const ALL_SERVICES = ["api", "users", "videos", "transcoder", "favorites", "comments", "relations", "messages"];

export interface System {
	broker: ServiceBroker;
	/** http://127.0.0.1:<port> */
	url: string;
	/** http://127.0.0.1:<health port> (/live, /ready) */
	healthUrl: string;
	dataDir: string;
	stop(options?: { keepData?: boolean }): Promise<void>;
}

export interface SystemOptions {
	env?: Record<string, string>;
	services?: string[];
	/** Reuse a data directory (restart tests). */
	dataDir?: string;
	/** Extra broker middlewares (e.g. a call counter). */
	middlewares?: unknown[];
	/** Extra service schemas (stubs) started with the system. */
	extraServices?: object[];
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

export async function startSystem(options: SystemOptions = {}): Promise<System> {
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
	const saved = { ...process.env };
	for (const key of ["TRANSPORTER", "MONGO_URI", "REDIS_URL", "S3_ENDPOINT", "JWT_SECRET", "PUBLIC_BASE_URL", "NODE_ID"]) delete process.env[key];
	Object.assign(process.env, env);
	jest.resetModules();
	try {
		const { ServiceBroker: Broker } = require("moleculer") as typeof import("moleculer");
		const { brokerOptions } = require("../../moleculer.config") as typeof import("../../moleculer.config");
		const base = brokerOptions();
		const broker = new Broker({ ...base, logger: false, middlewares: [...(base.middlewares ?? []), ...((options.middlewares ?? []) as never[])] });
		for (const name of options.services ?? ALL_SERVICES) broker.createService(require(`../../services/${name}.service`).default);
		for (const schema of options.extraServices ?? []) broker.createService(schema as never);
		await broker.start();
		return {
			broker,
			url: `http://127.0.0.1:${port}`,
			healthUrl: `http://127.0.0.1:${healthPort}`,
			dataDir,
			async stop(stopOptions = {}) {
				await broker.stop();
				if (!stopOptions.keepData && !options.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
			}
		};
	} finally {
		process.env = saved;
	}
}
