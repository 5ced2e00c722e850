/**
 * Scratch directories for work on local disk (an upload spooled before its token, a
 * transcode's input and outputs): `$TMPDIR/moletok-<kind>-<owner>-XXXXXX`, where <owner>
 * names the process (its pid and its start time, so a new process that got a dead one's
 * pid, e.g. PID 1 in a restarted container, is not taken for it). A process removes its
 * own directories when the work ends, also when it fails; `sweepScratch` at start removes
 * the ones whose process is gone (killed with no chance to clean up).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export type ScratchKind = "upload" | "transcode";

const NAME = /^moletok-(upload|transcode)-(\d+)\.(\d+)-/;

const PROCFS = fs.existsSync("/proc/self/stat");

/** A process's start time in clock ticks since boot: null when there is no such process, 0 without /proc. */
function startTicks(pid: number | "self"): number | null {
	if (!PROCFS) return 0;
	try {
		const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
		// Field 22; the command name (field 2) may hold spaces and parentheses, so count from its end.
		return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
	} catch {
		return null;
	}
}

const OWNER = `${process.pid}.${startTicks("self") ?? 0}`;

/** Whether the process that made a directory named for (pid, start ticks) still runs. */
function alive(pid: number, ticks: number): boolean {
	const now = startTicks(pid);
	if (now !== 0) return now === ticks;
	try {
		process.kill(pid, 0);
		return true;
	} catch (err) {
		return (err as NodeJS.ErrnoException).code === "EPERM";
	}
}

/** A fresh scratch directory of this process. */
export function scratchDir(kind: ScratchKind): Promise<string> {
	return fs.promises.mkdtemp(path.join(os.tmpdir(), `moletok-${kind}-${OWNER}-`));
}

/** Removes a scratch directory and everything in it; a missing one is fine. */
export function removeScratch(dir: string): Promise<void> {
	return fs.promises.rm(dir, { recursive: true, force: true });
}

/** Removes the scratch directories of processes that are gone; returns their names. */
export async function sweepScratch(): Promise<string[]> {
	const removed: string[] = [];
	for (const name of await fs.promises.readdir(os.tmpdir()).catch(() => [] as string[])) {
		const match = NAME.exec(name);
		if (!match || alive(Number(match[2]), Number(match[3]))) continue;
		await removeScratch(path.join(os.tmpdir(), name));
		removed.push(name);
	}
	return removed;
}
