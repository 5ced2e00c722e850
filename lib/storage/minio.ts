/**
 * Media in MinIO or any S3 through the `minio` client. Uploads of unknown length go up as
 * multipart uploads of PART_SIZE parts, so at most about one part is held in memory.
 */
import fs from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "minio";
import type { S3Config } from "../config";
import { ByteCounter } from "./limit";
import { type ByteRange, type ObjectInfo, ObjectNotFoundError, type Storage, contentTypeOf } from "./types";

/** Multipart part size: the memory one upload holds at most (S3's minimum is 5 MiB). */
const PART_SIZE = 8 * 1024 * 1024;
/** Lifetime of presigned URLs: 7 days, the longest S3 signs. */
const PRESIGN_SECONDS = 7 * 24 * 3600;
/** How long `connect` waits for the server by default, ms. */
const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
const RETRY_DELAY_MS = 500;

function isMissing(err: unknown): boolean {
	const code = (err as { code?: string } | null)?.code;
	return code === "NoSuchKey" || code === "NotFound";
}

/** Anyone may read objects (not list them), so a phone can fetch `publicBaseUrl/<key>`. */
function publicReadPolicy(bucket: string): string {
	return JSON.stringify({
		Version: "2012-10-17",
		Statement: [
			{ Effect: "Allow", Principal: { AWS: ["*"] }, Action: ["s3:GetObject"], Resource: [`arn:aws:s3:::${bucket}/*`] }
		]
	});
}

export class MinioStorage implements Storage {
	private constructor(
		private readonly client: Client,
		private readonly s3: S3Config,
		private readonly publicBaseUrl: string
	) {}

	/**
	 * Connects and creates the bucket when missing (publicly readable unless URLs are
	 * presigned), retrying for up to `connectTimeoutMs` while the server is not up yet.
	 */
	static async connect(
		s3: S3Config,
		publicBaseUrl: string,
		{ connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS }: { connectTimeoutMs?: number } = {}
	): Promise<MinioStorage> {
		const { endPoint, port, useSSL, accessKey, secretKey, region, bucket } = s3;
		const client = new Client({ endPoint, port, useSSL, accessKey, secretKey, region, partSize: PART_SIZE });
		const deadline = Date.now() + connectTimeoutMs;
		for (;;) {
			try {
				if (!(await client.bucketExists(bucket))) {
					await client.makeBucket(bucket, region);
					if (!s3.presign) await client.setBucketPolicy(bucket, publicReadPolicy(bucket));
				}
				return new MinioStorage(client, s3, publicBaseUrl);
			} catch (err) {
				if (Date.now() + RETRY_DELAY_MS > deadline) {
					const problem = `S3 at ${endPoint}:${port} (bucket ${bucket}) was not usable within ${connectTimeoutMs} ms`;
					throw new Error(`${problem}: ${(err as Error).message}`, { cause: err });
				}
				await sleep(RETRY_DELAY_MS);
			}
		}
	}

	async put(key: string, body: Readable, options: { contentType: string; maxBytes?: number }): Promise<ObjectInfo> {
		const counter = new ByteCounter(options.maxBytes);
		const metaData = { "Content-Type": options.contentType };
		let failure: unknown = null;
		let ended = false;
		// Errors of `body` reach `counter`: pipeline destroys it with them.
		pipeline(body, counter).catch(() => {});
		// minio-js never settles when the stream it reads fails, so it reads one that just
		// ends at the first failure; whatever it stored then is removed below.
		const upload = Readable.from(
			(async function* () {
				try {
					yield* counter;
					ended = true;
				} catch (err) {
					failure = err;
				}
			})()
		);
		try {
			await this.client.putObject(this.s3.bucket, key, upload, undefined, metaData).catch(err => {
				// S3 has no multipart upload without parts: an empty stream becomes an empty object.
				if (!ended || counter.bytes > 0) throw err;
				return this.client.putObject(this.s3.bucket, key, Buffer.alloc(0), 0, metaData);
			});
		} catch (err) {
			failure ??= err;
			body.destroy();
		}
		if (failure) {
			await this.discard(key);
			throw failure;
		}
		return { size: counter.bytes, contentType: options.contentType };
	}

	async putFile(key: string, file: string, contentType: string): Promise<ObjectInfo> {
		const { size } = await fs.promises.stat(file);
		try {
			await this.client.fPutObject(this.s3.bucket, key, file, { "Content-Type": contentType });
		} catch (err) {
			await this.discard(key);
			throw err;
		}
		return { size, contentType };
	}

	async get(key: string, range?: ByteRange): Promise<Readable> {
		try {
			return range
				? await this.client.getPartialObject(this.s3.bucket, key, range.start, range.end - range.start + 1)
				: await this.client.getObject(this.s3.bucket, key);
		} catch (err) {
			throw isMissing(err) ? new ObjectNotFoundError(key) : err;
		}
	}

	async stat(key: string): Promise<ObjectInfo | null> {
		try {
			const { size } = await this.client.statObject(this.s3.bucket, key);
			return { size, contentType: contentTypeOf(key) };
		} catch (err) {
			if (isMissing(err)) return null;
			throw err;
		}
	}

	/** Also an unfinished multipart upload of the key (a process killed while storing it), when there is one. */
	async delete(key: string): Promise<void> {
		await Promise.all([this.client.removeObject(this.s3.bucket, key), this.client.removeIncompleteUpload(this.s3.bucket, key).catch(() => undefined)]);
	}

	async url(key: string): Promise<string> {
		if (this.s3.presign) return this.client.presignedGetObject(this.s3.bucket, key, PRESIGN_SECONDS);
		return `${this.publicBaseUrl}/${key}`;
	}

	async ping(): Promise<void> {
		if (!(await this.client.bucketExists(this.s3.bucket))) throw new Error(`bucket ${this.s3.bucket} does not exist`);
	}

	/** Removes whatever a failed upload left: a completed object or an unfinished multipart upload. */
	private async discard(key: string): Promise<void> {
		await Promise.allSettled([
			this.client.removeObject(this.s3.bucket, key),
			this.client.removeIncompleteUpload(this.s3.bucket, key)
		]);
	}
}
