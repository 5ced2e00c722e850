/**
 * Login flood (issue 12.1): how the feed and the event loop fare while clients keep sending
 * wrong passwords. A measurement, not a test. Against a MoleTok that is already running:
 *
 *   npx tsc -p bench/tsconfig.json
 *   FLOOD_URL=http://127.0.0.1:18200 FLOOD_METRICS=embedded=http://127.0.0.1:18202/metrics node dist/bench/login-flood.js
 *
 * It seeds FLOOD_AUTHORS authors with a video each (bench/seed.ts), then for each flood size
 * in FLOOD_CONCURRENCY runs that many clients, each sending wrong-password logins one after
 * the other, beside FLOOD_READ_CONNECTIONS clients reading the feed and as many reading
 * authors' profiles (GET /douyin/user/, answered by the users process), for FLOOD_SECONDS. It
 * prints, per size: feed and profile answers, their p50/p99/max latency and errors; login answers by
 * status_code; and every FLOOD_METRICS process's event-loop lag (moletok_event_loop_lag_seconds,
 * the window of 5 s that ended last, so FLOOD_SECONDS must be ≥ 10).
 *
 * Env: FLOOD_URL (comma-separated api bases), FLOOD_METRICS (name=url,… of /metrics),
 * FLOOD_CONCURRENCY (0,20,50), FLOOD_SECONDS (12), FLOOD_AUTHORS (10), FLOOD_READ_CONNECTIONS (2).
 */
import { type Seeded, api, seed } from "./seed";
import { log, sleep } from "./procs";

const bases = (process.env.FLOOD_URL ?? "http://127.0.0.1:8080").split(",");
const metricsTargets = (process.env.FLOOD_METRICS ?? "")
	.split(",")
	.filter(Boolean)
	.map(entry => entry.split("=") as [string, string]);
const sizes = (process.env.FLOOD_CONCURRENCY ?? "0,20,50").split(",").map(Number);
const seconds = Number(process.env.FLOOD_SECONDS ?? 12);
const readConnections = Number(process.env.FLOOD_READ_CONNECTIONS ?? 2);

function percentile(sorted: number[], p: number): number {
	if (sorted.length === 0) return NaN;
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function lagOf(url: string): Promise<Record<string, number>> {
	const text = await (await fetch(url)).text();
	const lag: Record<string, number> = {};
	for (const match of text.matchAll(/^moletok_event_loop_lag_seconds\{[^}]*stat="(\w+)"[^}]*\} ([0-9.e+-]+)/gm)) lag[match[1]] = Number(match[2]) * 1000;
	return lag;
}

async function round(seeded: Seeded, size: number) {
	let stop = false;
	const reads = {
		feed: { ms: [] as number[], errors: 0 },
		user: { ms: [] as number[], errors: 0 }
	};
	const logins: Record<string, number> = {};
	const flood = Array.from({ length: size }, async (_, i) => {
		const base = bases[i % bases.length];
		while (!stop) {
			try {
				const answer = await api.call(base, "POST", "/user/login/", { username: seeded.viewer.name, password: "wrong-password" });
				const key = `${answer.status_code} ${answer.status_msg}`;
				logins[key] = (logins[key] ?? 0) + 1;
			} catch (err) {
				logins[`failed: ${(err as Error).message}`] = (logins[`failed: ${(err as Error).message}`] ?? 0) + 1;
			}
		}
	});
	// Feed readers, and readers of authors' profiles (users.get: the users process itself).
	const readers = Array.from({ length: 2 * readConnections }, async (_, i) => {
		const base = bases[i % bases.length];
		const kind = i % 2 === 0 ? "feed" : "user";
		for (let n = 0; !stop; n++) {
			const started = performance.now();
			const params: Record<string, string | number> = { token: seeded.viewer.token };
			if (kind === "user") params.user_id = seeded.authors[n % seeded.authors.length].id;
			try {
				const answer = await api.call(base, "GET", kind === "feed" ? "/feed/" : "/user/", params);
				if (answer.status_code === 0) reads[kind].ms.push(performance.now() - started);
				else reads[kind].errors++;
			} catch {
				reads[kind].errors++;
			}
		}
	});
	await sleep(seconds * 1000);
	const lag: Record<string, Record<string, number>> = {};
	for (const [name, url] of metricsTargets) lag[name] = await lagOf(url).catch(() => ({}));
	stop = true;
	await Promise.all([...flood, ...readers]);
	const summary = ({ ms, errors }: { ms: number[]; errors: number }) => {
		ms.sort((a, b) => a - b);
		return { answers: ms.length, errors, p50: percentile(ms, 50), p99: percentile(ms, 99), max: ms.at(-1) ?? NaN };
	};
	return { flood: size, feed: summary(reads.feed), user: summary(reads.user), logins, lagMs: lag };
}

async function main() {
	const runId = Date.now().toString(36);
	const seeded = await seed(bases[0], runId, { authors: Number(process.env.FLOOD_AUTHORS ?? 10), timeoutMs: 300_000 });
	const results = [];
	for (const size of sizes) {
		log(`flood of ${size} wrong logins for ${seconds} s`);
		const result = await round(seeded, size);
		results.push(result);
		const lag = Object.entries(result.lagMs)
			.map(([name, stats]) => `${name} lag p50 ${stats.p50?.toFixed(1)} p99 ${stats.p99?.toFixed(1)} max ${stats.max?.toFixed(1)} ms`)
			.join("; ");
		const reads = (["feed", "user"] as const)
			.map(kind => {
				const r = result[kind];
				return `${kind} ${r.answers} answers (${r.errors} errors) p50 ${r.p50.toFixed(1)} p99 ${r.p99.toFixed(1)} max ${r.max.toFixed(0)} ms`;
			})
			.join("; ");
		log(`flood ${size}: ${reads}; ${lag}; logins ${JSON.stringify(result.logins)}`);
		// Let queued logins drain before the next round.
		await sleep(5000);
	}
	process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

main().catch(err => {
	console.error(err);
	process.exit(1);
});
