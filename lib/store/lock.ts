/**
 * One process per embedded store directory. Two processes on one DATA_DIR would each keep
 * their own copy of the data in memory and overwrite the other's files, losing writes, so
 * the store takes a lock file in its directory (`LOCK`: pid, host and start time of the
 * holder) and a second process refuses to start, naming the holder.
 *
 * A lock left by a process that died (kill -9, a crash, a power cut) does not block: when the
 * holder was on this host and its pid is gone, or is this very process (a container that
 * restarted keeps pid 1), the lock is taken over. A holder on another host (a shared network
 * directory) cannot be checked from here: the message says which file to delete once it is gone.
 *
 * Why not a lock library such as proper-lockfile: it judges a lock stale by the age of its
 * mtime, which its holder refreshes on a timer. That lets a live process whose event loop
 * stalls past the limit lose its lock to a second process (the very data loss this prevents),
 * makes the start after a kill -9 wait out the limit, and records no holder to name.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface LockHolder {
	pid: number;
	host: string;
	/** When the holding process started (ISO 8601). */
	startedAt: string;
}

export class DirectoryLockedError extends Error {
	override name = "DirectoryLockedError";
	constructor(
		readonly dir: string,
		readonly holder: LockHolder | null,
		lockFile: string
	) {
		const who = holder
			? `process ${holder.pid} on host ${holder.host} (started ${holder.startedAt})`
			: "another process that is starting (its lock file is not written yet)";
		const local = holder?.host === os.hostname();
		super(
			`the embedded store ${dir} is in use by ${who}: two processes on one DATA_DIR overwrite each other's data. ` +
				`Stop that process first, or give this one another DATA_DIR` +
				(local ? "" : ` (once that process is gone, delete ${lockFile})`)
		);
	}
}

export interface DirectoryLock {
	release(): Promise<void>;
}

const LOCK_FILE = "LOCK";
/** A lock file this young that holds no complete record is another process's, being written. */
const WRITING_GRACE_MS = 2000;
const MAX_ATTEMPTS = 10;

/** Directories this process holds. */
const held = new Set<string>();

const self = (): LockHolder => ({
	pid: process.pid,
	host: os.hostname(),
	startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString()
});

function readHolder(file: string): { holder: LockHolder | null; text: string; ageMs: number } | null {
	try {
		const text = fs.readFileSync(file, "utf8");
		const ageMs = Date.now() - fs.statSync(file).mtimeMs;
		try {
			const parsed = JSON.parse(text) as Partial<LockHolder>;
			const valid = Number.isSafeInteger(parsed.pid) && typeof parsed.host === "string" && typeof parsed.startedAt === "string";
			return { holder: valid ? (parsed as LockHolder) : null, text, ageMs };
		} catch {
			return { holder: null, text, ageMs };
		}
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
		throw err;
	}
}

/** Whether the holder may still be running. */
function alive(holder: LockHolder, dir: string): boolean {
	if (holder.host !== os.hostname()) return true;
	if (holder.pid === process.pid) return held.has(dir);
	try {
		process.kill(holder.pid, 0);
		return true;
	} catch (err) {
		return (err as NodeJS.ErrnoException).code === "EPERM";
	}
}

/**
 * Moves a stale lock out of the way, unless another process replaced it meanwhile (then it
 * is put back). Renaming is atomic, so of two processes taking over one stale lock, one does.
 */
function removeStale(file: string, staleText: string): void {
	const aside = `${file}.stale-${process.pid}-${Date.now()}`;
	try {
		fs.renameSync(file, aside);
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
		throw err;
	}
	if (fs.readFileSync(aside, "utf8") !== staleText) {
		// A live lock was taken between our read and the rename: give it back.
		try {
			fs.linkSync(aside, file);
		} catch {
			// Its holder lost the file; the next attempt refuses or takes whatever is there now.
		}
	}
	fs.rmSync(aside, { force: true });
}

/** Takes the lock of `dir` (created when missing) or throws DirectoryLockedError naming its holder. */
export async function lockDirectory(dir: string): Promise<DirectoryLock> {
	fs.mkdirSync(dir, { recursive: true });
	const file = path.join(dir, LOCK_FILE);
	const record = JSON.stringify(self());
	for (let attempt = 0; attempt <= MAX_ATTEMPTS; attempt++) {
		try {
			fs.writeFileSync(file, record, { flag: "wx", mode: 0o644 });
			held.add(dir);
			return {
				async release() {
					held.delete(dir);
					if (readHolder(file)?.text === record) fs.rmSync(file, { force: true });
				}
			};
		} catch (err) {
			if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
		}
		const current = readHolder(file);
		if (!current) continue;
		if (!current.holder && current.ageMs <= WRITING_GRACE_MS && attempt < MAX_ATTEMPTS) {
			await new Promise(resolve => setTimeout(resolve, WRITING_GRACE_MS / 8));
			continue;
		}
		if ((current.holder && alive(current.holder, dir)) || attempt >= MAX_ATTEMPTS) throw new DirectoryLockedError(dir, current.holder, file);
		removeStale(file, current.text);
	}
	throw new DirectoryLockedError(dir, readHolder(file)?.holder ?? null, file);
}
