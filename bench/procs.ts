/**
 * Process plumbing for the benchmark: free loopback ports, child processes that are
 * always stopped, waiting with deadlines, and CPU accounting from /proc (which process
 * spent how much CPU during a load run).
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";

export function log(message: string): void {
	process.stderr.write(`bench: ${message}\n`);
}

export const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

export { freePorts, until } from "../test/helpers/real-servers";

export class Child {
	readonly process: ChildProcess;
	private exited: Promise<void>;

	constructor(
		readonly name: string,
		command: string,
		args: string[],
		options: { cwd: string; env: NodeJS.ProcessEnv; logFile: string }
	) {
		const out = fs.openSync(options.logFile, "a");
		this.process = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", out, out] });
		fs.closeSync(out);
		this.exited = new Promise(resolve => this.process.once("exit", () => resolve()));
		children.add(this);
	}

	get pid(): number {
		return this.process.pid!;
	}

	get running(): boolean {
		return this.process.exitCode === null && this.process.signalCode === null;
	}

	async stop(graceMs = 20000): Promise<void> {
		if (this.running) {
			this.process.kill("SIGTERM");
			const killed = await Promise.race([this.exited.then(() => false), sleep(graceMs).then(() => true)]);
			if (killed && this.running) {
				this.process.kill("SIGKILL");
				await this.exited;
			}
		}
		children.delete(this);
	}
}

const children = new Set<Child>();

/** Stops every child still running (on the way out, also after a failure). */
export async function stopChildren(): Promise<void> {
	await Promise.all([...children].map(child => child.stop(5000)));
}

// --- CPU accounting ------------------------------------------------------------------------

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU time (user + system) of a process so far, in ms; null when it is gone. */
export function processCpuMs(pid: number): number | null {
	try {
		const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
		// Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
		const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
		return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
	} catch {
		return null;
	}
}

/** Pids of every process whose command name is `comm` (e.g. the PostgreSQL backends). */
export function pidsByName(comm: string): number[] {
	const pids: number[] = [];
	for (const entry of fs.readdirSync("/proc")) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			if (fs.readFileSync(`/proc/${entry}/comm`, "utf8").trim() === comm) pids.push(Number(entry));
		} catch {
			// gone meanwhile
		}
	}
	return pids;
}

/** Busy and total CPU time of the whole machine so far, in ms (all cores). */
function machineCpuMs(): { busy: number; total: number } {
	const [, ...values] = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/);
	const [user, nice, system, idle, iowait, irq, softirq, steal] = values.map(Number);
	const busy = user + nice + system + irq + softirq + (steal || 0);
	return { busy: busy * TICK_MS, total: (busy + idle + (iowait || 0)) * TICK_MS };
}

/** What to account for: named groups of pids (a group's pids are looked up again at the end). */
export type CpuGroups = Record<string, () => number[]>;

export interface CpuSample {
	/** CPU ms spent per group during the window. */
	groups: Record<string, number>;
	/** CPU ms spent by this (load generator) process. */
	loadGenerator: number;
	/** CPU ms of every other process on the machine (other work disturbing the measurement). */
	other: number;
	/** Busy share of the machine (all cores) during the window, 0…1. */
	machineBusy: number;
	/** Wall time of the window, ms. */
	wallMs: number;
}

/** Starts a CPU window; the returned function ends it. */
export function cpuWindow(groups: CpuGroups): () => CpuSample {
	const startPids = Object.fromEntries(Object.entries(groups).map(([name, pids]) => [name, new Map(pids().map(pid => [pid, processCpuMs(pid) ?? 0]))]));
	const startSelf = process.cpuUsage();
	const startMachine = machineCpuMs();
	const startWall = Date.now();
	return () => {
		const self = process.cpuUsage(startSelf);
		const machine = machineCpuMs();
		const result: Record<string, number> = {};
		for (const [name, pids] of Object.entries(groups)) {
			const before = startPids[name];
			let spent = 0;
			for (const pid of new Set([...before.keys(), ...pids()])) {
				const now = processCpuMs(pid);
				if (now != null) spent += now - (before.get(pid) ?? 0);
			}
			result[name] = spent;
		}
		const loadGenerator = (self.user + self.system) / 1000;
		const busy = machine.busy - startMachine.busy;
		const known = Object.values(result).reduce((a, b) => a + b, 0) + loadGenerator;
		return {
			groups: result,
			loadGenerator,
			other: Math.max(0, busy - known),
			machineBusy: busy / Math.max(1, machine.total - startMachine.total),
			wallMs: Date.now() - startWall
		};
	};
}
