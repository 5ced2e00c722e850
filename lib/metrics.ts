/**
 * MoleTok's domain metrics, declared in this one place and registered on every broker
 * whose metrics are on (METRICS_PORT set). Services count with
 * `this.broker.metrics.increment(METRIC.x, labels)` / `observe(...)`; with metrics off
 * those calls return at once. Moleculer's Prometheus reporter serves them on /metrics
 * next to its own `moleculer_*` series, each with the `namespace` and `nodeID` labels.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { MetricRegistry, Middleware, ServiceBroker } from "moleculer";

/** The metric names; Prometheus sees them unchanged. */
export const METRIC = {
	UPLOADS: "moletok_uploads_total",
	TRANSCODE_SECONDS: "moletok_transcode_duration_seconds",
	TRANSCODE_FAILURES: "moletok_transcode_failures_total",
	LIKES: "moletok_likes_total",
	COMMENTS: "moletok_comments_total",
	MESSAGES: "moletok_messages_total",
	LOGINS: "moletok_logins_total",
	EVENT_LOOP_LAG: "moletok_event_loop_lag_seconds"
} as const;

type MetricOptions = MetricRegistry.CounterMetricOptions | MetricRegistry.GaugeMetricOptions | MetricRegistry.HistogramMetricOptions;

/** What each metric means and which labels it takes. */
export const DOMAIN_METRICS: readonly MetricOptions[] = [
	{
		name: METRIC.UPLOADS,
		type: "counter",
		labelNames: ["outcome"],
		description: "Video uploads received by videos.publish, by outcome: ok, rejected (the client's fault: too large, empty, no file), error"
	},
	{
		name: METRIC.TRANSCODE_SECONDS,
		type: "histogram",
		// Seconds: a 2 s clip takes well under one, a long one minutes.
		buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
		// Also gives _sum and _count, which the reporter writes only for histograms with quantiles.
		quantiles: [0.5, 0.9, 0.99],
		description: "Duration of successful transcode jobs (probe, cover, faststart, upload of the results), seconds"
	},
	{
		name: METRIC.TRANSCODE_FAILURES,
		type: "counter",
		labelNames: ["final"],
		description: "Failed transcode attempts; final=\"true\" when the video ended failed, \"false\" when the job is retried"
	},
	{ name: METRIC.LIKES, type: "counter", labelNames: ["action"], description: "Likes that changed something, by action: like, unlike" },
	{ name: METRIC.COMMENTS, type: "counter", labelNames: ["action"], description: "Comments by action: add, remove" },
	{ name: METRIC.MESSAGES, type: "counter", description: "Chat messages sent" },
	{ name: METRIC.LOGINS, type: "counter", labelNames: ["outcome"], description: "Login attempts by outcome: ok, failed (wrong username or password)" },
	{
		name: METRIC.EVENT_LOOP_LAG,
		type: "gauge",
		labelNames: ["stat"],
		description: "Event-loop delay of this process over the last sampling window, seconds (stat: mean, p50, p99, max)"
	}
];

/** How often the event-loop gauge is refreshed (and its window restarted), ms. */
const EVENT_LOOP_WINDOW_MS = 5000;
/** The sampling timer's interval, ms; the histogram records it along with the delay. */
const EVENT_LOOP_RESOLUTION_MS = 10;

/** Counts an action's calls by `outcome` label: ok, rejected (a 4xx client error) or error. As action `hooks`. */
export function countOutcomes(metric: string) {
	return {
		after(this: unknown, ctx: { broker: ServiceBroker }, res: unknown) {
			ctx.broker.metrics.increment(metric, { outcome: "ok" });
			return res;
		},
		error(this: unknown, ctx: { broker: ServiceBroker }, err: Error & { code?: unknown }): never {
			const code = typeof err.code === "number" ? err.code : 500;
			ctx.broker.metrics.increment(metric, { outcome: code >= 400 && code < 500 ? "rejected" : "error" });
			throw err;
		}
	};
}

/** The broker middleware that registers DOMAIN_METRICS and samples the event-loop delay. */
export function DomainMetricsMiddleware(): Middleware & { name: string } {
	let histogram: ReturnType<typeof monitorEventLoopDelay> | null = null;
	let timer: NodeJS.Timeout | null = null;
	return {
		name: "DomainMetrics",
		created(broker: ServiceBroker) {
			if (!broker.isMetricsEnabled()) return;
			for (const metric of DOMAIN_METRICS) broker.metrics.register({ ...metric } as MetricRegistry.CounterMetricOptions);
		},
		async started(broker: ServiceBroker) {
			if (!broker.isMetricsEnabled()) return;
			histogram = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
			histogram.enable();
			const sample = () => {
				const h = histogram;
				if (!h || h.count === 0) return;
				// What the timer waited beyond its own interval: the delay.
				const seconds = (ns: number) => Math.max(0, ns / 1e6 - EVENT_LOOP_RESOLUTION_MS) / 1000;
				broker.metrics.set(METRIC.EVENT_LOOP_LAG, seconds(h.mean), { stat: "mean" });
				broker.metrics.set(METRIC.EVENT_LOOP_LAG, seconds(h.percentile(50)), { stat: "p50" });
				broker.metrics.set(METRIC.EVENT_LOOP_LAG, seconds(h.percentile(99)), { stat: "p99" });
				broker.metrics.set(METRIC.EVENT_LOOP_LAG, seconds(h.max), { stat: "max" });
				h.reset();
			};
			timer = setInterval(sample, EVENT_LOOP_WINDOW_MS);
			timer.unref();
			// A first value soon after start, so a scrape never finds the gauge empty for long.
			setTimeout(sample, 1000).unref();
		},
		async stopped() {
			if (timer) clearInterval(timer);
			histogram?.disable();
			timer = null;
			histogram = null;
		}
	};
}
