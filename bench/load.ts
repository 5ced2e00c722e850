/**
 * One load run: autocannon with a fixed number of connections for a fixed time after a
 * warm-up, every connection looping over its own list of requests. Latencies are kept
 * exactly (every response's time, not autocannon's 1 ms histogram); every answer's
 * envelope is checked, so a fast stream of `status_code != 0` cannot pass for throughput.
 */
import autocannon from "autocannon";
import { type CpuGroups, type CpuSample, cpuWindow } from "./procs";

export interface BenchRequest {
	method: "GET" | "POST";
	/** Path with query string, e.g. /douyin/feed/?token=… */
	path: string;
	/** Reads what a later request of the same connection needs from this answer (e.g. a new comment's id). */
	remember?: (body: string, context: Record<string, unknown>) => void;
	/** The path, from what earlier answers of the connection left in `context`. */
	pathFrom?: (context: Record<string, unknown>) => string;
}

export interface LoadSpec {
	/** Base URLs (http://127.0.0.1:port); connections are spread over them round-robin. */
	bases: string[];
	/** The request list of connection `i` (it loops over it). */
	requestsFor: (connection: number) => BenchRequest[];
	connections: number;
	durationS: number;
	warmupS: number;
	/** The processes whose CPU is accounted to this run. */
	cpu: CpuGroups;
}

export interface LoadResult {
	requests: number;
	durationS: number;
	reqPerSec: number;
	latencyMs: { mean: number; p50: number; p90: number; p99: number; p999: number; max: number };
	/** Connection errors and timeouts (autocannon counts timeouts as errors too). */
	errors: number;
	timeouts: number;
	non2xx: number;
	/** Answers with HTTP 200 whose `status_code` is not 0 (the API's failures). */
	apiErrors: number;
	apiErrorShare: number;
	/** A few distinct failure answers, for diagnosis. */
	apiErrorSamples: string[];
	bytesPerResponse: number;
	/** CPU per request in µs, per process group, plus the load generator and everything else. */
	cpuUsPerRequest: Record<string, number>;
	machineBusyShare: number;
	/** The measured window on the monotonic clock in µs (the clock of V8 CPU profiles: see profile-summary.ts). */
	monotonicWindowUs: [number, number];
}

const OK_PREFIX = '{"status_code":0,';

function percentile(sorted: Float64Array, q: number): number {
	if (sorted.length === 0) return NaN;
	return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

function runOnce(spec: LoadSpec, durationS: number, onAnswer?: (status: number, body: string) => void, onLatency?: (ms: number) => void) {
	let next = 0;
	return new Promise<autocannon.Result>((resolve, reject) => {
		const instance = autocannon(
			{
				// autocannon spreads connections over several URLs; its typings only know one.
				url: spec.bases as unknown as string,
				connections: spec.connections,
				duration: durationS,
				timeout: 10,
				// Every connection its own requests; onResponse sees each body (autocannon buffers it anyway).
				setupClient(client) {
					const connection = next++;
					client.setRequests(
						spec.requestsFor(connection).map(request => ({
							method: request.method,
							path: request.path,
							...(request.pathFrom
								? { setupRequest: (req: autocannon.Request, context: object) => ({ ...req, path: request.pathFrom!(context as Record<string, unknown>) }) }
								: {}),
							onResponse: (status: number, body: string, context: object) => {
								request.remember?.(body, context as Record<string, unknown>);
								onAnswer?.(status, body);
							}
						}))
					);
				}
			},
			(err, result) => (err ? reject(err) : resolve(result))
		);
		if (onLatency) instance.on("response", (_client, _status, _bytes, responseTime) => onLatency(responseTime));
	});
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
	if (spec.warmupS > 0) await runOnce(spec, spec.warmupS);

	let latencies = new Float64Array(1 << 16);
	let count = 0;
	let apiErrors = 0;
	const apiErrorSamples = new Set<string>();
	const onAnswer = (status: number, body: string) => {
		if (status !== 200 || body.startsWith(OK_PREFIX)) return;
		// Not the gateway's usual key order: parse to be sure.
		let code: unknown;
		try {
			code = (JSON.parse(body) as { status_code?: unknown }).status_code;
		} catch {
			code = undefined;
		}
		if (code !== 0) {
			apiErrors++;
			if (apiErrorSamples.size < 5) apiErrorSamples.add(body.slice(0, 200));
		}
	};
	const onLatency = (ms: number) => {
		if (count === latencies.length) {
			const bigger = new Float64Array(latencies.length * 2);
			bigger.set(latencies);
			latencies = bigger;
		}
		latencies[count++] = ms;
	};

	const endCpu = cpuWindow(spec.cpu);
	const windowStart = Number(process.hrtime.bigint() / 1000n);
	const result = await runOnce(spec, spec.durationS, onAnswer, onLatency);
	const windowEnd = Number(process.hrtime.bigint() / 1000n);
	const cpu: CpuSample = endCpu();

	const sorted = latencies.slice(0, count).sort();
	const mean = sorted.reduce((sum, value) => sum + value, 0) / Math.max(1, count);
	const durationS = result.duration;
	const perRequest = (ms: number) => round((ms * 1000) / Math.max(1, count), 1);
	return {
		requests: count,
		durationS,
		reqPerSec: round(count / durationS, 1),
		latencyMs: {
			mean: round(mean),
			p50: round(percentile(sorted, 0.5)),
			p90: round(percentile(sorted, 0.9)),
			p99: round(percentile(sorted, 0.99)),
			p999: round(percentile(sorted, 0.999)),
			max: round(sorted[count - 1] ?? NaN)
		},
		errors: result.errors,
		timeouts: result.timeouts,
		non2xx: result.non2xx,
		apiErrors,
		apiErrorShare: round(apiErrors / Math.max(1, count), 6),
		apiErrorSamples: [...apiErrorSamples],
		bytesPerResponse: Math.round(result.throughput.total / Math.max(1, count)),
		cpuUsPerRequest: {
			...Object.fromEntries(Object.entries(cpu.groups).map(([name, ms]) => [name, perRequest(ms)])),
			"load generator": perRequest(cpu.loadGenerator),
			other: perRequest(cpu.other)
		},
		machineBusyShare: round(cpu.machineBusy, 3),
		monotonicWindowUs: [windowStart, windowEnd]
	};
}
