/**
 * MinioStorage (the `minio` S3 client) against the S3 server at S3_ENDPOINT: Versity S3
 * Gateway from scripts/servers.sh, the same server the chart installs. A bucket of its own.
 */
import crypto from "node:crypto";
import net from "node:net";
import { buffer } from "node:stream/consumers";
import { Client } from "minio";
import { type S3Config, loadConfig } from "../../lib/config";
import { newKey } from "../../lib/storage";
import { MinioStorage } from "../../lib/storage/minio";
import { describeStorageContract, generated } from "../contract/storage.contract";

const bucket = `moletok-test-${crypto.randomBytes(4).toString("hex")}`;
const { s3, publicBaseUrl } = loadConfig({
	S3_ENDPOINT: process.env.S3_ENDPOINT,
	S3_ACCESS_KEY: process.env.S3_ACCESS_KEY,
	S3_SECRET_KEY: process.env.S3_SECRET_KEY,
	S3_BUCKET: bucket
}) as { s3: S3Config | null; publicBaseUrl: string };
if (!s3) throw new Error('S3_ENDPOINT is not set: run `eval "$(bash scripts/servers.sh start)"` first');
const { endPoint, port, useSSL, accessKey, secretKey } = s3;
const admin = new Client({ endPoint, port, useSSL, accessKey, secretKey });

const connect = (config: S3Config = s3) => MinioStorage.connect(config, publicBaseUrl, { connectTimeoutMs: 4000 });

afterAll(async () => {
	for (const name of [bucket, `${bucket}-signed`]) {
		if (!(await admin.bucketExists(name))) continue;
		const keys: string[] = [];
		for await (const item of admin.listObjectsV2(name, "", true)) keys.push(item.name);
		await admin.removeObjects(name, keys);
		await admin.removeBucket(name);
	}
});

describeStorageContract(`MinioStorage at ${s3.endPoint}:${s3.port}`, () => connect());

describe("MinioStorage", () => {
	let storage: MinioStorage;

	beforeAll(async () => {
		storage = await connect();
	});

	it("serves url(key) to anyone, with HTTP Range support", async () => {
		const key = newKey("videos", "mp4");
		const original = await buffer(generated(50_000, 9));
		await storage.put(key, generated(50_000, 9), { contentType: "video/mp4" });
		const url = await storage.url(key);
		expect(url).toBe(`http://${s3.endPoint}:${s3.port}/${bucket}/${key}`);
		const whole = await fetch(url);
		expect(whole.status).toBe(200);
		expect(whole.headers.get("content-type")).toBe("video/mp4");
		expect(Buffer.from(await whole.arrayBuffer()).equals(original)).toBe(true);
		const partial = await fetch(url, { headers: { Range: "bytes=100-199" } });
		expect(partial.status).toBe(206);
		expect(partial.headers.get("content-range")).toBe("bytes 100-199/50000");
		expect(Buffer.from(await partial.arrayBuffer()).equals(original.subarray(100, 200))).toBe(true);
	});

	it("leaves no unfinished multipart upload behind when a stream is too large", async () => {
		const key = newKey("videos", "mp4");
		await expect(
			storage.put(key, generated(20 * 1024 * 1024, 2, 1024 * 1024), { contentType: "video/mp4", maxBytes: 10 * 1024 * 1024 })
		).rejects.toMatchObject({ name: "ObjectTooLargeError" });
		expect(await storage.stat(key)).toBeNull();
		const unfinished: unknown[] = [];
		for await (const upload of admin.listIncompleteUploads(bucket, key, true)) unfinished.push(upload);
		expect(unfinished).toEqual([]);
	}, 60_000);

	it("gives presigned URLs, valid for anyone, when presign is on (private bucket)", async () => {
		const signed = await connect({ ...s3, bucket: `${bucket}-signed`, presign: true });
		const key = newKey("covers", "jpg");
		await signed.put(key, generated(500, 4), { contentType: "image/jpeg" });
		const url = new URL(await signed.url(key));
		expect(url.searchParams.get("X-Amz-Expires")).toBe(String(7 * 24 * 3600));
		const response = await fetch(url);
		expect(response.status).toBe(200);
		expect(Buffer.from(await response.arrayBuffer()).equals(await buffer(generated(500, 4)))).toBe(true);
		const anonymous = await fetch(`http://${s3.endPoint}:${s3.port}/${bucket}-signed/${key}`);
		expect(anonymous.status).toBe(403);
	});

	it("fails to connect to a closed port within its bounded time, with a clear message", async () => {
		const server = net.createServer().listen(0, "127.0.0.1");
		await new Promise(resolve => server.once("listening", resolve));
		const { port } = server.address() as net.AddressInfo;
		await new Promise(resolve => server.close(resolve));
		const started = Date.now();
		const err: Error = await MinioStorage.connect({ ...s3, port }, publicBaseUrl, { connectTimeoutMs: 1000 }).then(
			() => {
				throw new Error("connected to a closed port");
			},
			(reason: Error) => reason
		);
		expect(Date.now() - started).toBeLessThan(5000);
		expect(err.message).toContain(`S3 at 127.0.0.1:${port} (bucket ${bucket}) was not usable within 1000 ms`);
		expect(err.message).not.toContain(s3.secretKey);
	});
});
