/**
 * Broker configuration for every MoleTok process, derived from lib/config.ts (the
 * environment). moleculer-runner loads it; tests build brokers with `brokerOptions()`.
 */
import type { BrokerOptions } from "moleculer";
import { type Config, config } from "./lib/config";
import { InvalidationsMiddleware } from "./lib/counts-cache";
import { HealthMiddleware } from "./lib/health";
import { loggerOptions } from "./lib/logging";
import { DomainMetricsMiddleware } from "./lib/metrics";
import { AuthMiddleware } from "./lib/middlewares";
import { FastJSONExtSerializer } from "./lib/serializer";
import { replCommands } from "./lib/repl";
import { RetryElsewhere, retryable } from "./lib/resilience";
import { tracingOptions } from "./lib/tracing";

/** Moleculer 0.15's internal middlewares, in its own order (service-broker.js). */
const MOLECULER_MIDDLEWARES = [
	"ActionHook",
	"Validator",
	"Bulkhead",
	"Cacher",
	"ContextTracker",
	"CircuitBreaker",
	"Timeout",
	"Retry",
	"Fallback",
	"ErrorHandler",
	"Tracing",
	"Metrics",
	"Debounce",
	"Throttle"
];

export function brokerOptions(cfg: Config = config()): BrokerOptions {
	return {
		namespace: cfg.namespace,
		nodeID: cfg.nodeId ?? undefined,
		// Embedded mode: every service in this process, no transporter at all.
		transporter: cfg.transporter as BrokerOptions["transporter"],
		// JSONExt carries Buffers, Dates and stream chunks; plain JSON would corrupt them.
		serializer: new FastJSONExtSerializer(),
		// JSON lines (Pino) in cluster mode, readable "short" lines embedded; tokens masked in both.
		logger: loggerOptions(cfg),
		// Moleculer's Prometheus reporter on METRICS_PORT, with the domain metrics of lib/metrics.ts.
		metrics:
			cfg.metricsPort == null
				? { enabled: false }
				: { enabled: true, reporter: [{ type: "Prometheus", options: { port: cfg.metricsPort, host: cfg.host, path: "/metrics" } }] },
		// Jaeger (JAEGER_ENDPOINT) or console spans of every action, tokens and passwords redacted.
		tracing: tracingOptions(cfg),
		// The one cache of every process (lib/counts-cache.ts, lib/read-model.ts): counts, change
		// stamps, viewer flags, conversation clocks and send locks. Redis in a cluster (shared
		// by every replica; one connection, whose client pipelines the reads of one tick into
		// one round trip), an in-process LRU embedded.
		cacher: cfg.redisUrl
			? {
					type: "Redis",
					options: {
						prefix: `${cfg.namespace}-cache`,
						ttl: cfg.countsCacheTtl,
						redis: { url: cfg.redisUrl, enableAutoPipelining: true, maxRetriesPerRequest: 3 },
						// cacher.lock(): a busy lock is retried for up to about two seconds.
						redlock: { retryCount: 40, retryDelay: 50, retryJitter: 50 }
					}
				}
			: { type: "MemoryLRU", options: { ttl: cfg.countsCacheTtl, max: 200_000, clone: false } },
		requestTimeout: cfg.requestTimeoutMs,
		// A node that dies without saying goodbye (SIGKILL, OOM) is forgotten after 5 s instead
		// of Moleculer's 30 s; until then the circuit breaker and the reads' retries route around it.
		heartbeatInterval: 2,
		heartbeatTimeout: 5,
		// Off by default: only idempotent reads turn retries on (lib/resilience.ts), within a budget.
		retryPolicy: { enabled: false, retries: 2, delay: 10, maxDelay: 50, factor: 2, check: retryable },
		// On stop, other nodes are told first (empty INFO), then this node keeps serving for
		// stopDelay so in-flight routing settles, then services stop (tracking drains them).
		// Round robin; a retried read goes to another replica than the one that failed (lib/resilience.ts).
		registry: { strategy: RetryElsewhere, preferLocal: true, stopDelay: Math.max(100, cfg.shutdownDelayMs) },
		// An endpoint whose calls keep failing (timeouts, 5xx) is skipped for halfOpenTime, then tried
		// again. Cluster mode only: embedded, every endpoint is the only one, and an open breaker
		// would only turn a slow moment into refusals for everyone.
		circuitBreaker: { enabled: cfg.mode === "cluster", threshold: 0.5, minRequestCount: 5, windowTime: 5, halfOpenTime: 5000 },
		// Lets in-flight requests finish on shutdown (SIGTERM) before services stop.
		tracking: { enabled: true, shutdownTimeout: cfg.shutdownTimeoutMs },
		validator: true,
		// Moleculer's own middlewares are listed here (in its order) instead of added by
		// default, to leave out its per-call metrics unless METRICS_ACTIONS=on.
		internalMiddlewares: false,
		middlewares: [
			AuthMiddleware,
			HealthMiddleware(cfg.healthPort, cfg.host),
			InvalidationsMiddleware,
			DomainMetricsMiddleware(),
			...MOLECULER_MIDDLEWARES.filter(name => name !== "Metrics" || cfg.metricsActions)
		],
		// The developer commands of `npm run repl` (lib/repl.ts). The 0.15 typings give their
		// `action` a string[]; moleculer-repl passes the parsed arguments object.
		replOptions: { customCommands: replCommands as unknown as NonNullable<BrokerOptions["replOptions"]>["customCommands"] }
	};
}

export default brokerOptions();
