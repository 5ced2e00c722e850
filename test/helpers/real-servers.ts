/**
 * Shared by the real-server tests, the cluster test harness and the benchmark: free
 * loopback ports, polling with a deadline, and the data a throw-away cluster leaves on the
 * servers (its `<namespace>-<service>` databases and its bucket), from the environment
 * that `scripts/servers.sh env` prints. No jest here: bench/ uses it too.
 */
import net from "node:net";
import type { Client as MinioClient } from "minio";

function portFree(port: number): Promise<boolean> {
	return new Promise(resolve => {
		const server = net.createServer();
		server.once("error", () => resolve(false));
		server.listen(port, "0.0.0.0", () => server.close(() => resolve(true)));
	});
}

/** The first of `count` consecutive free ports (20000–50000). */
export async function freePorts(count: number): Promise<number> {
	for (;;) {
		const base = 20000 + Math.floor(Math.random() * 30000);
		let free = true;
		for (let port = base; port < base + count && free; port++) free = await portFree(port);
		if (free) return base;
	}
}

/** Polls `probe` until it returns a value, or fails after `timeoutMs` with the last error. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60000, everyMs = 250): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	let last: unknown;
	for (;;) {
		try {
			const value = await probe();
			if (value !== undefined) return value;
		} catch (err) {
			last = err;
		}
		if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
		await new Promise(resolve => setTimeout(resolve, everyMs));
	}
}

/** An S3 client (the `minio` package) for S3_ENDPOINT / S3_ACCESS_KEY / S3_SECRET_KEY. */
export function minioFromEnv(): MinioClient {
	const { Client } = require("minio") as typeof import("minio");
	const endpoint = new URL(process.env.S3_ENDPOINT!);
	return new Client({
		endPoint: endpoint.hostname,
		port: Number(endpoint.port || 80),
		useSSL: endpoint.protocol === "https:",
		accessKey: process.env.S3_ACCESS_KEY!,
		secretKey: process.env.S3_SECRET_KEY!
	});
}

/** Every object key of a bucket ([] when there is no such bucket). */
export async function bucketKeys(minio: MinioClient, bucket: string): Promise<string[]> {
	if (!(await minio.bucketExists(bucket))) return [];
	const keys: string[] = [];
	for await (const item of minio.listObjectsV2(bucket, "", true)) if ((item as { name?: string }).name) keys.push((item as { name: string }).name);
	return keys;
}

/** Drops the databases `<prefix>-*` (at `mongoUri`, default MONGO_URI) and the bucket `<prefix>` of a throw-away cluster. */
export async function dropClusterData(prefix: string, mongoUri = process.env.MONGO_URI!): Promise<void> {
	const { MongoClient } = require("mongodb") as typeof import("mongodb");
	const mongo = await MongoClient.connect(mongoUri, { serverSelectionTimeoutMS: 10000 });
	try {
		for (const { name } of (await mongo.db("admin").admin().listDatabases()).databases)
			if (name.startsWith(`${prefix}-`)) await mongo.db(name).dropDatabase();
	} finally {
		await mongo.close();
	}
	const minio = minioFromEnv();
	const keys = await bucketKeys(minio, prefix);
	if (keys.length > 0) await minio.removeObjects(prefix, keys);
	if (await minio.bucketExists(prefix)) await minio.removeBucket(prefix);
}
