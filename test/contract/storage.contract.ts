/**
 * The Storage contract, run on every implementation (test/unit/storage.local.test.ts,
 * test/servers/storage.minio.test.ts). Every test uses fresh keys.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { newKey } from "../../lib/storage";
import { ObjectNotFoundError, ObjectTooLargeError, type Storage, contentTypeOf } from "../../lib/storage/types";

/** `size` deterministic bytes (a function of `seed` and the offset), made as they are read. */
export function generated(size: number, seed = 1, chunkSize = 64 * 1024): Readable {
	return Readable.from(
		(function* () {
			for (let offset = 0; offset < size; offset += chunkSize)
				yield bytesAt(offset, Math.min(chunkSize, size - offset), seed);
		})()
	);
}

function bytesAt(offset: number, length: number, seed: number): Buffer {
	const chunk = Buffer.allocUnsafe(length);
	for (let i = 0; i < length; i++) chunk[i] = (offset + i) * 31 + seed;
	return chunk;
}

/** A stream that yields `size` bytes, then fails with `error`. */
function failingAfter(size: number, error: Error): Readable {
	return Readable.from(
		(function* () {
			yield bytesAt(0, size, 7);
			throw error;
		})()
	);
}

async function sha256(stream: Readable): Promise<string> {
	const hash = crypto.createHash("sha256");
	for await (const chunk of stream) hash.update(chunk);
	return hash.digest("hex");
}

export function describeStorageContract(name: string, open: () => Promise<Storage>): void {
	describe(`Storage contract: ${name}`, () => {
		let storage: Storage;

		beforeAll(async () => {
			storage = await open();
		});

		it("stores a stream and gives it back, whole or as a byte range", async () => {
			const key = newKey("videos", "mp4");
			const original = await buffer(generated(300_000));
			const info = await storage.put(key, generated(300_000), { contentType: "video/mp4" });
			expect(info).toEqual({ size: 300_000, contentType: "video/mp4" });
			expect((await buffer(await storage.get(key))).equals(original)).toBe(true);
			const range = await buffer(await storage.get(key, { start: 1000, end: 1999 }));
			expect(range.equals(original.subarray(1000, 2000))).toBe(true);
			const tail = await buffer(await storage.get(key, { start: 299_990, end: 299_999 }));
			expect(tail.equals(original.subarray(299_990))).toBe(true);
		});

		it("stores an empty stream", async () => {
			const key = newKey("covers", "jpg");
			const info = await storage.put(key, Readable.from([]), { contentType: "image/jpeg" });
			expect(info).toEqual({ size: 0, contentType: "image/jpeg" });
			expect(await storage.stat(key)).toEqual({ size: 0, contentType: "image/jpeg" });
			expect((await buffer(await storage.get(key))).length).toBe(0);
		});

		it("stats an object with its size and the content type of its extension", async () => {
			const video = newKey("videos", "mp4");
			const cover = newKey("covers", "jpg");
			await storage.put(video, generated(1234), { contentType: contentTypeOf(video) });
			await storage.put(cover, generated(10), { contentType: contentTypeOf(cover) });
			expect(await storage.stat(video)).toEqual({ size: 1234, contentType: "video/mp4" });
			expect(await storage.stat(cover)).toEqual({ size: 10, contentType: "image/jpeg" });
		});

		it("stats a missing object as null and refuses to get it", async () => {
			const key = newKey("videos", "mp4");
			expect(await storage.stat(key)).toBeNull();
			await expect(storage.get(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
			await expect(storage.get(key, { start: 0, end: 9 })).rejects.toMatchObject({ name: "ObjectNotFoundError", key });
		});

		it("deletes an object, and deleting it again is fine", async () => {
			const key = newKey("covers", "jpg");
			await storage.put(key, generated(100), { contentType: "image/jpeg" });
			await storage.delete(key);
			expect(await storage.stat(key)).toBeNull();
			await expect(storage.delete(key)).resolves.toBeUndefined();
		});

		it("refuses a stream longer than maxBytes and leaves nothing behind", async () => {
			const key = newKey("videos", "mp4");
			const put = storage.put(key, generated(3000), { contentType: "video/mp4", maxBytes: 1000 });
			await expect(put).rejects.toBeInstanceOf(ObjectTooLargeError);
			await expect(put).rejects.toMatchObject({ maxBytes: 1000 });
			expect(await storage.stat(key)).toBeNull();
		});

		it("accepts a stream of exactly maxBytes", async () => {
			const key = newKey("videos", "mp4");
			await expect(storage.put(key, generated(1000), { contentType: "video/mp4", maxBytes: 1000 })).resolves.toEqual({
				size: 1000,
				contentType: "video/mp4"
			});
		});

		it("fails with the error of a failing stream and leaves nothing behind", async () => {
			const key = newKey("videos", "mp4");
			const cause = new Error("client went away");
			await expect(storage.put(key, failingAfter(5000, cause), { contentType: "video/mp4" })).rejects.toBe(cause);
			expect(await storage.stat(key)).toBeNull();
		});

		it("stores a local file", async () => {
			const key = newKey("covers", "jpg");
			const dir = fs.mkdtempSync(path.join(os.tmpdir(), "moletok-file-"));
			try {
				const file = path.join(dir, "cover.jpg");
				fs.writeFileSync(file, await buffer(generated(4321, 3)));
				expect(await storage.putFile(key, file, "image/jpeg")).toEqual({ size: 4321, contentType: "image/jpeg" });
				expect(await sha256(await storage.get(key))).toBe(await sha256(fs.createReadStream(file)));
			} finally {
				fs.rmSync(dir, { recursive: true, force: true });
			}
		});

		it("gives an absolute http(s) URL for a key", async () => {
			const key = newKey("videos", "mp4");
			const url = new URL(await storage.url(key));
			expect(url.protocol).toMatch(/^https?:$/);
			expect(url.pathname).toContain(key);
		});

		it("streams a 20 MB object in and out", async () => {
			const key = newKey("videos", "mp4");
			const size = 20 * 1024 * 1024;
			const info = await storage.put(key, generated(size, 5, 1024 * 1024), { contentType: "video/mp4" });
			expect(info.size).toBe(size);
			expect((await storage.stat(key))?.size).toBe(size);
			expect(await sha256(await storage.get(key))).toBe(await sha256(generated(size, 5)));
		}, 60_000);

		it("answers ping", async () => {
			await expect(storage.ping()).resolves.toBeUndefined();
		});
	});
}
