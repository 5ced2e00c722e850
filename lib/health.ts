/**
 * Liveness and readiness of a MoleTok process, served on HEALTH_PORT in every mode:
 *   GET /live   200 while the process answers at all;
 *   GET /ready  200 when the broker has started, the transporter is connected and every
 *               dependency registered by this process's services (store, storage, cache)
 *               answers; 503 with the failing checks otherwise, and from the moment a
 *               shutdown begins (SIGTERM), so load balancers stop sending work first.
 *               `details` says what the process runs with (e.g. the ffmpeg version).
 */
import http from "node:http";
import type { Middleware, ServiceBroker } from "moleculer";

export type HealthCheck = () => Promise<void>;

/** How long one readiness check may take before it counts as failed. */
const CHECK_TIMEOUT_MS = 2000;

export class Health {
	private readonly checks = new Map<string, HealthCheck>();
	private readonly details = new Map<string, string>();
	started = false;
	draining = false;

	constructor(private readonly broker: ServiceBroker) {}

	/** Adds a dependency check to /ready (same name again replaces it). */
	register(name: string, check: HealthCheck): void {
		this.checks.set(name, check);
	}

	/** Adds a fact to /ready's `details` (same name again replaces it). */
	describe(name: string, value: string): void {
		this.details.set(name, value);
	}

	async readiness(): Promise<{ ready: boolean; checks: Record<string, string>; details: Record<string, string> }> {
		const ownServices = this.broker.services.filter(service => !service.name.startsWith("$")).length;
		const checks: Record<string, string> = {
			broker: this.draining ? "shutting down" : !this.started ? "starting" : ownServices === 0 ? "no services loaded (check SERVICES)" : "ok"
		};
		const transit = (this.broker as unknown as { transit?: { connected: boolean } }).transit;
		if (transit) checks.transporter = transit.connected ? "ok" : "disconnected";
		await Promise.all(
			[...this.checks].map(async ([name, check]) => {
				let timer: NodeJS.Timeout | undefined;
				const timeout = new Promise<never>((_, reject) => {
					timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
				});
				try {
					await Promise.race([check(), timeout]);
					checks[name] = "ok";
				} catch (err) {
					checks[name] = (err as Error).message || "failed";
				} finally {
					clearTimeout(timer);
				}
			})
		);
		return { ready: Object.values(checks).every(state => state === "ok"), checks, details: Object.fromEntries(this.details) };
	}
}

/** Kept on the broker itself (a registered symbol), so every copy of this module finds it. */
const HEALTH = Symbol.for("moletok.health");

/** The health of this broker's process (created on first use). */
export function healthOf(broker: ServiceBroker): Health {
	const holder = broker as ServiceBroker & { [HEALTH]?: Health };
	holder[HEALTH] ??= new Health(broker);
	return holder[HEALTH];
}

/** The broker middleware that serves /live and /ready on `port` (null: no endpoint). */
export function HealthMiddleware(port: number | null, host: string): Middleware & { name: string } {
	let server: http.Server | null = null;
	let onSignal: (() => void) | null = null;
	return {
		name: "Health",
		created(broker: ServiceBroker) {
			const health = healthOf(broker);
			const cacher = broker.cacher as unknown as { client?: { ping(): Promise<unknown> } } | null;
			if (cacher?.client?.ping) health.register("cache", async () => void (await cacher.client!.ping()));
			if (port == null) return;
			server = http.createServer((req, res) => {
				const path = (req.url ?? "/").split("?")[0];
				if (path === "/live") return void res.writeHead(200, { "Content-Type": "text/plain" }).end("ok\n");
				if (path !== "/ready") return void res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
				void health.readiness().then(state => {
					res.writeHead(state.ready ? 200 : 503, { "Content-Type": "application/json" }).end(JSON.stringify(state));
				});
			});
		},
		async started(broker: ServiceBroker) {
			const health = healthOf(broker);
			health.started = true;
			// Readiness fails the moment a shutdown is asked for, before anything stops.
			onSignal = () => {
				health.draining = true;
			};
			process.once("SIGTERM", onSignal);
			process.once("SIGINT", onSignal);
			if (server) await new Promise<void>(resolve => server!.listen(port!, host, resolve));
		},
		async stopping(broker: ServiceBroker) {
			healthOf(broker).draining = true;
		},
		async stopped() {
			if (onSignal) {
				process.removeListener("SIGTERM", onSignal);
				process.removeListener("SIGINT", onSignal);
			}
			if (server) {
				const closed = new Promise<void>(resolve => server!.close(() => resolve()));
				// A prober polling on a kept-alive connection would otherwise hold the close (and
				// the process's exit) open for as long as it polls.
				server.closeAllConnections();
				await closed;
			}
		}
	};
}
