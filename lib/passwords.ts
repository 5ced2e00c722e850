/**
 * Password hashes, made and checked off the event loop.
 *
 * bcrypt (bcryptjs, as before, so every stored hash stays valid) runs in a pool of worker
 * threads (piscina) at a lower OS priority than the thread that answers requests: a flood
 * of logins then costs hashing threads, never the event loop, and while the machine is
 * short of CPU the hashing waits, not every other request. The number of hashes waiting
 * is bounded by the callers (users.login/register have Moleculer bulkheads).
 *
 * Schemes. New hashes are bcrypt over a pre-hash of the password (HMAC-SHA256, 44 ASCII
 * characters; see password-worker.ts), so every character counts: bcrypt itself reads only
 * the first 72 bytes, which 25 CJK characters already fill. Accounts from before keep
 * their plain bcrypt hash (no `passwordScheme`) and still log in; a successful login
 * rehashes them under the current scheme and cost, except when the password is longer than
 * 72 bytes (the suffix typed then need not be the one registered, so it cannot be kept).
 */
import path from "node:path";
import bcrypt from "bcryptjs";
import { Piscina } from "piscina";
import type { CompareTask, HashTask } from "./password-worker";

/** How a stored hash was made; absent on accounts from before: bcrypt of the password itself. */
export type PasswordScheme = "hmac-sha256";

const CURRENT_SCHEME: PasswordScheme = "hmac-sha256";

export interface StoredPassword {
	passwordHash: string;
	passwordScheme?: PasswordScheme;
}

/** bcrypt reads at most this many bytes of what it is given. */
const BCRYPT_MAX_BYTES = 72;

/** Added to the hashing threads' nice value (lower priority than the event loop's thread). */
const NICE_INCREMENT = 5;

/** The worker module beside this one: .ts from the sources (Node strips the types), .js from dist/. */
const WORKER_FILE = path.join(__dirname, `password-worker${path.extname(__filename)}`);

export class PasswordHasher {
	private readonly pool: Piscina;
	/** What unknown usernames are checked against, so that a miss costs as long as a wrong password. */
	private readonly dummy: Promise<StoredPassword>;

	constructor(private readonly options: { threads: number; cost: number }) {
		if (WORKER_FILE.endsWith(".ts") && !(process.features as { typescript?: string | false }).typescript)
			throw new Error(`running from the TypeScript sources needs a Node that strips types (22.18 or later) for ${WORKER_FILE}`);
		this.pool = new Piscina({
			filename: WORKER_FILE,
			minThreads: options.threads,
			maxThreads: options.threads,
			idleTimeout: 60_000,
			niceIncrement: NICE_INCREMENT
		});
		this.dummy = this.hash(`no such user ${Math.random()}`);
		// Checked on first use; an unhandled rejection here would end the process.
		this.dummy.catch(() => undefined);
	}

	/** A new hash of `password` under the current scheme and cost. */
	async hash(password: string): Promise<StoredPassword> {
		const task: HashTask = { password, cost: this.options.cost };
		return { passwordHash: (await this.pool.run(task, { name: "hash" })) as string, passwordScheme: CURRENT_SCHEME };
	}

	/** Whether `password` matches `stored`; with no stored hash (unknown user), false after as much work as a real check. */
	async verify(password: string, stored: StoredPassword | null): Promise<boolean> {
		const against = stored ?? (await this.dummy);
		const task: CompareTask = { password, hash: against.passwordHash, prehashed: against.passwordScheme === CURRENT_SCHEME };
		const matches = (await this.pool.run(task, { name: "compare" })) as boolean;
		return matches && stored !== null;
	}

	/** Whether a hash that `password` just matched should be made anew (older scheme or lower cost). */
	needsRehash(password: string, stored: StoredPassword): boolean {
		if (stored.passwordScheme !== CURRENT_SCHEME) return Buffer.byteLength(password, "utf8") <= BCRYPT_MAX_BYTES;
		return bcrypt.getRounds(stored.passwordHash) < this.options.cost;
	}

	/** Ends the threads once the hashes under way are done. */
	async close(): Promise<void> {
		await this.pool.close();
	}
}
