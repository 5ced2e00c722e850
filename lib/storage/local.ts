/**
 * Media in a local directory. Writes go to a temporary file in `<dir>/.partial` and are
 * renamed into place when complete, so a reader never sees half an object; a failed write
 * removes its file at once, and what a killed process left there is removed when the next
 * one opens the directory (once per process: embedded mode is one process per DATA_DIR).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ByteCounter } from "./limit";
import { type ByteRange, type ObjectInfo, ObjectNotFoundError, type Storage, contentTypeOf } from "./types";

/** The directories whose leftovers this process removed already. */
const swept = new Set<string>();

export class LocalStorage implements Storage {
	private readonly partials: string;

	constructor(
		private readonly dir: string,
		private readonly publicBaseUrl: string
	) {
		this.partials = path.join(dir, ".partial");
		if (!swept.has(this.partials)) {
			fs.rmSync(this.partials, { recursive: true, force: true });
			swept.add(this.partials);
		}
		fs.mkdirSync(this.partials, { recursive: true });
	}

	private file(key: string): string {
		const file = path.resolve(this.dir, key);
		if (!file.startsWith(this.dir + path.sep)) throw new ObjectNotFoundError(key);
		return file;
	}

	async put(key: string, body: Readable, options: { contentType: string; maxBytes?: number }): Promise<ObjectInfo> {
		const file = this.file(key);
		const partial = path.join(this.partials, crypto.randomUUID());
		await fs.promises.mkdir(path.dirname(file), { recursive: true });
		const counter = new ByteCounter(options.maxBytes);
		try {
			await pipeline(body, counter, fs.createWriteStream(partial));
			await fs.promises.rename(partial, file);
		} catch (err) {
			await fs.promises.rm(partial, { force: true });
			throw err;
		}
		return { size: counter.bytes, contentType: options.contentType };
	}

	async putFile(key: string, source: string, contentType: string): Promise<ObjectInfo> {
		return this.put(key, fs.createReadStream(source), { contentType });
	}

	async get(key: string, range?: ByteRange): Promise<Readable> {
		const file = this.file(key);
		const handle = await fs.promises.open(file, "r").catch(err => {
			throw err.code === "ENOENT" ? new ObjectNotFoundError(key) : err;
		});
		return handle.createReadStream(range ? { start: range.start, end: range.end } : {});
	}

	async stat(key: string): Promise<ObjectInfo | null> {
		try {
			const stats = await fs.promises.stat(this.file(key));
			return stats.isFile() ? { size: stats.size, contentType: contentTypeOf(key) } : null;
		} catch {
			return null;
		}
	}

	async delete(key: string): Promise<void> {
		await fs.promises.rm(this.file(key), { force: true });
	}

	async url(key: string): Promise<string> {
		return `${this.publicBaseUrl}/${key}`;
	}

	async ping(): Promise<void> {
		await fs.promises.access(this.dir, fs.constants.W_OK);
	}
}
