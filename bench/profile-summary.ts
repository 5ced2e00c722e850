/**
 * Where the CPU went: summarises the V8 CPU profiles a benchmark run wrote with
 * BENCH_CPU_PROF=<dir> (one .cpuprofile per server process), over the measured window of
 * one target × endpoint of that run's results file, so seeding and idle time do not count.
 *
 *   node dist/bench/profile-summary.js <profile dir> <results.json> <target> <endpoint> [top]
 *
 * Prints, per process: sampled busy time per request, the share by package (moleculer,
 * moleculer-web, mongodb, nats, …, app code, GC), and the top functions by self time.
 */
import fs from "node:fs";
import path from "node:path";

interface ProfileNode {
	id: number;
	callFrame: { functionName: string; url: string; lineNumber: number };
	children?: number[];
}
interface Profile {
	nodes: ProfileNode[];
	startTime: number;
	endTime: number;
	samples: number[];
	timeDeltas: number[];
}

function files(dir: string): string[] {
	return fs.readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
		const full = path.join(dir, entry.name);
		return entry.isDirectory() ? files(full) : entry.name.endsWith(".cpuprofile") ? [full] : [];
	});
}

/** The package (or kind of code) a frame belongs to. */
function category(url: string, functionName: string): string {
	if (!url) return functionName.startsWith("(") ? functionName : "(native)";
	if (url.startsWith("node:")) return "node core";
	const modules = url.lastIndexOf("node_modules/");
	if (modules >= 0) {
		const rest = url.slice(modules + "node_modules/".length).split("/");
		return rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
	}
	const dist = url.indexOf("/dist/");
	if (dist >= 0) return `app ${url.slice(dist + 6).split("/")[0]}`;
	return "other";
}

function summarise(file: string, label: string, windowUs: [number, number], requests: number, top: number): void {
	const profile = JSON.parse(fs.readFileSync(file, "utf8")) as Profile;
	const byId = new Map(profile.nodes.map(node => [node.id, node]));
	// Weighted by sample count, not by the time between samples: under CPU contention a process
	// descheduled mid-call gets one late sample with a long delta, which would charge wall time
	// spent waiting for a CPU to whatever it was doing (often a socket write that woke the reader).
	const sorted = [...profile.timeDeltas].sort((a, b) => a - b);
	const interval = sorted[Math.floor(sorted.length / 2)] ?? 1000;
	const self = new Map<number, number>();
	let time = profile.startTime;
	let busy = 0;
	for (let i = 0; i < profile.samples.length; i++) {
		time += profile.timeDeltas[i];
		if (time < windowUs[0] || time > windowUs[1]) continue;
		const node = byId.get(profile.samples[i])!;
		if (node.callFrame.functionName === "(idle)") continue;
		self.set(node.id, (self.get(node.id) ?? 0) + interval);
		busy += interval;
	}
	if (busy === 0) return;
	const byCategory = new Map<string, number>();
	const byFunction = new Map<string, number>();
	for (const [id, us] of self) {
		const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
		const cat = category(url, functionName);
		byCategory.set(cat, (byCategory.get(cat) ?? 0) + us);
		const where = url ? `${url.replace(/^.*node_modules\//, "").replace(/^.*\/dist\//, "dist/")}:${lineNumber + 1}` : "";
		const key = `${functionName || "(anonymous)"} ${where}`.trim();
		byFunction.set(key, (byFunction.get(key) ?? 0) + us);
	}
	const share = (us: number) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
	const perRequest = requests > 0 ? ` = ${(busy / requests).toFixed(0)} µs/request` : "";
	console.log(`\n${label} (${path.basename(file)}): ${(busy / 1000).toFixed(0)} ms sampled on the JS thread in the window${perRequest}`);
	console.log(
		`  by package: ${[...byCategory]
			.sort((a, b) => b[1] - a[1])
			.slice(0, 12)
			.map(([cat, us]) => `${cat} ${share(us).trim()}`)
			.join(", ")}`
	);
	for (const [key, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${share(us)}  ${key}`);
}

function main(): void {
	const [dir, resultsFile, target, endpoint, top = "15"] = process.argv.slice(2);
	if (!dir || !resultsFile || !target || !endpoint) {
		console.error("usage: profile-summary <profile dir> <results.json> <target> <endpoint> [top]");
		process.exit(2);
	}
	const results = JSON.parse(fs.readFileSync(resultsFile, "utf8")) as {
		processes: Record<string, Record<string, number>>;
		results: { target: string; endpoint: string; requests: number; monotonicWindowUs: [number, number] }[];
	};
	const names = new Map(Object.entries(results.processes[target] ?? {}).map(([name, pid]) => [pid, name]));
	const row = results.results.find(r => r.target === target && r.endpoint === endpoint);
	if (!row) throw new Error(`no ${target} × ${endpoint} in ${resultsFile}`);
	console.log(`${target} × ${endpoint}: ${row.requests} requests in the window`);
	for (const file of files(dir)) {
		// CPU.<date>.<time>.<pid>.<thread>.<sequence>.cpuprofile
		const pid = Number(path.basename(file).split(".")[3]);
		const name = names.get(pid);
		if (name) summarise(file, name, row.monotonicWindowUs, row.requests, Number(top));
	}
}

main();
