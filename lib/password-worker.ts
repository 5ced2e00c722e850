/**
 * The body of a password-hashing thread (lib/passwords.ts runs it in a piscina pool):
 * bcrypt, whose rounds would otherwise hold the event loop for tens of milliseconds each.
 * Plain TypeScript without emitted constructs, so Node also runs it from the sources (tests).
 */
import crypto from "node:crypto";
import bcrypt from "bcryptjs";

/**
 * Key of the pre-hash. Not a secret: it only makes the pre-hash this application's own, so
 * that a bcrypt hash cannot be tested against unsalted SHA-256 hashes leaked elsewhere.
 */
const PREHASH_KEY = "moletok password v1";

export interface HashTask {
	password: string;
	cost: number;
}

export interface CompareTask {
	password: string;
	hash: string;
	/** true: the hash is of the pre-hash (scheme "hmac-sha256"); false: of the password itself (plain bcrypt). */
	prehashed: boolean;
}

/**
 * What bcrypt is given: 44 ASCII characters, HMAC-SHA256 of the whole password in base64,
 * so every character counts where bcrypt itself reads only the first 72 bytes.
 */
function prehash(password: string): string {
	return crypto.createHmac("sha256", PREHASH_KEY).update(password, "utf8").digest("base64");
}

export function hash(task: HashTask): string {
	return bcrypt.hashSync(prehash(task.password), task.cost);
}

export function compare(task: CompareTask): boolean {
	return bcrypt.compareSync(task.prehashed ? prehash(task.password) : task.password, task.hash);
}
