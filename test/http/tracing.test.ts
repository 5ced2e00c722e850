/**
 * Tracing end to end: the system runs with JAEGER_ENDPOINT pointing at a collector served
 * by this test, which decodes the thrift Batches that Moleculer's Jaeger exporter
 * (jaeger-client's HTTPSender) posts, with jaeger-client's own jaeger.thrift IDL. Checked:
 * one HTTP request is one trace, rooted at the gateway's span, with every service call
 * a child of its caller (across processes in the cluster target); a client's
 * X-Request-ID becomes the trace; no token or password leaves a process in any span.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { Client } from "../helpers/client";
import { type System, startSystem } from "../helpers/system";
import { publishVideo } from "../helpers/videos";

jest.setTimeout(60000);

interface ThriftTag {
	key: string;
	vType: "STRING" | "DOUBLE" | "BOOL" | "LONG" | "BINARY";
	vStr?: string | null;
	vDouble?: number | null;
	vBool?: boolean | null;
	vLong?: Buffer | null;
	vBinary?: Buffer | null;
}
interface ThriftSpan {
	traceIdLow: Buffer;
	traceIdHigh: Buffer;
	spanId: Buffer;
	parentSpanId: Buffer;
	operationName: string;
	tags: ThriftTag[] | null;
	logs: { fields: ThriftTag[] }[] | null;
}
interface ThriftBatch {
	process: { serviceName: string; tags: ThriftTag[] | null };
	spans: ThriftSpan[];
}

interface ReceivedSpan {
	traceId: string;
	spanId: string;
	parentSpanId: string;
	name: string;
	service: string;
	tags: Record<string, unknown>;
}

/** jaeger-client's thrift definitions and its thriftrw, so the test reads exactly what it sends. */
const jaegerDir = path.dirname(require.resolve("jaeger-client/package.json"));
const { Thrift } = require(require.resolve("thriftrw", { paths: [jaegerDir] })) as {
	Thrift: new (options: object) => { Batch: { rw: { fromBuffer(buffer: Buffer): { err: Error | null; value: ThriftBatch } } } };
};
const jaegerThrift = new Thrift({
	source: fs.readFileSync(path.join(jaegerDir, "dist/src/jaeger-idl/thrift/jaeger.thrift"), "ascii"),
	allowOptionalArguments: true
});

const hex = (id: Buffer) => id.toString("hex");
/** jaeger-client fills every value field; vType says which one holds the value. */
const tagValue = (tag: ThriftTag): unknown =>
	({ STRING: tag.vStr, DOUBLE: tag.vDouble, BOOL: tag.vBool, LONG: tag.vLong?.readBigInt64BE().toString(), BINARY: tag.vBinary })[tag.vType];

/** A Jaeger collector's /api/traces: keeps every body as it came, and the decoded spans. */
function startCollector(): Promise<{ url: string; bodies: Buffer[]; spans: ReceivedSpan[]; close(): Promise<void> }> {
	const bodies: Buffer[] = [];
	const spans: ReceivedSpan[] = [];
	const server = http.createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on("data", chunk => chunks.push(chunk));
		req.on("end", () => {
			const body = Buffer.concat(chunks);
			if (req.method !== "POST" || req.url !== "/api/traces" || req.headers["content-type"] !== "application/x-thrift") {
				res.writeHead(400).end();
				return;
			}
			const { err, value } = jaegerThrift.Batch.rw.fromBuffer(body);
			if (err) {
				res.writeHead(400).end(err.message);
				return;
			}
			bodies.push(body);
			for (const span of value.spans)
				spans.push({
					traceId: hex(span.traceIdHigh) + hex(span.traceIdLow),
					spanId: hex(span.spanId),
					parentSpanId: hex(span.parentSpanId),
					name: span.operationName,
					service: value.process.serviceName,
					tags: Object.fromEntries((span.tags ?? []).map(tag => [tag.key, tagValue(tag)]))
				});
			res.writeHead(202).end();
		});
	});
	return new Promise(resolve =>
		server.listen(0, "127.0.0.1", () => {
			const { port } = server.address() as AddressInfo;
			resolve({
				url: `http://127.0.0.1:${port}/api/traces`,
				bodies,
				spans,
				close: () => new Promise<void>(done => server.close(() => done()))
			});
		})
	);
}

let collector: Awaited<ReturnType<typeof startCollector>>;
let system: System;
let client: Client;
let alice: { id: number; token: string; password: string };
let bob: { id: number; token: string; password: string };

/** The spans of one request (by its request id) once every expected span name has arrived. */
async function traceOf(requestID: string, expected: string[], timeoutMs = 20000): Promise<ReceivedSpan[]> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const spans = collector.spans.filter(span => span.tags.requestID === requestID);
		if (expected.every(name => spans.some(span => span.name === name))) return spans;
		if (Date.now() > deadline) throw new Error(`trace ${requestID}: got [${spans.map(span => span.name).join(", ")}], expected [${expected.join(", ")}]`);
		await new Promise(resolve => setTimeout(resolve, 100));
	}
}

const byName = (spans: ReceivedSpan[], name: string) => {
	const found = spans.filter(span => span.name === name);
	expect(found).toHaveLength(1);
	return found[0];
};

let tracedVideo: number;

beforeAll(async () => {
	collector = await startCollector();
	system = await startSystem({ env: { JAEGER_ENDPOINT: collector.url } });
	client = new Client(system.url);
	[alice, bob] = await Promise.all([client.register(), client.register()]);
	tracedVideo = await publishVideo(client, system.broker, alice.token, "traced");
});
afterAll(async () => {
	await system?.stop();
	await collector?.close();
});

const FEED_SPANS = [
	"action 'videos.feed'",
	"action 'users.getMany'",
	"action 'favorites.videoFacts'",
	"action 'comments.videoFacts'",
	"action 'videos.userFacts'",
	"action 'favorites.userFacts'",
	"action 'relations.userFacts'",
	"action 'favorites.videoFlags'",
	"action 'relations.userFlags'"
];

describe("one request, one trace", () => {
	let spans: ReceivedSpan[];
	let requestID: string;

	beforeAll(async () => {
		// Bob's like renews the counts stamp and his own: his next feed is assembled anew,
		// with every call of a cold feed in its trace.
		expect((await client.post("/favorite/action/", { token: bob.token, video_id: tracedVideo, action_type: 1 })).status_code).toBe(0);
		const res = await client.raw(`/douyin/feed/?token=${encodeURIComponent(bob.token)}`);
		expect(((await res.json()) as { status_code: number }).status_code).toBe(0);
		requestID = res.headers.get("x-request-id")!;
		expect(requestID).toMatch(/^[0-9a-f-]{36}$/);
		spans = await traceOf(requestID, ["GET /douyin/feed/?token=***", ...FEED_SPANS]);
	});

	it("shares one trace id, the request id, across every span", () => {
		expect(new Set(spans.map(span => span.traceId))).toEqual(new Set([requestID.replace(/-/g, "")]));
	});

	it("is rooted at the gateway's span, and every service call is a child of its caller", () => {
		const root = byName(spans, "GET /douyin/feed/?token=***");
		expect(root.service).toBe("api");
		expect(root.parentSpanId).toBe("0000000000000000");
		const feed = byName(spans, "action 'videos.feed'");
		expect(feed.parentSpanId).toBe(root.spanId);
		const getMany = byName(spans, "action 'users.getMany'");
		for (const name of [
			"action 'users.getMany'",
			"action 'favorites.videoFacts'",
			"action 'comments.videoFacts'",
			"action 'favorites.videoFlags'",
			"action 'relations.userFlags'"
		])
			expect(byName(spans, name).parentSpanId).toBe(feed.spanId);
		for (const name of ["action 'videos.userFacts'", "action 'favorites.userFacts'", "action 'relations.userFacts'"])
			expect(byName(spans, name).parentSpanId).toBe(getMany.spanId);
		// Nothing dangles: every parent is a span of this trace.
		const ids = new Set(spans.map(span => span.spanId));
		for (const span of spans) if (span !== root) expect(ids.has(span.parentSpanId)).toBe(true);
	});

	it("reports each span under the service that ran it", () => {
		expect(byName(spans, "action 'videos.feed'").service).toBe("videos");
		expect(byName(spans, "action 'users.getMany'").service).toBe("users");
		expect(byName(spans, "action 'favorites.videoFacts'").service).toBe("favorites");
		expect(byName(spans, "action 'comments.videoFacts'").service).toBe("comments");
		expect(byName(spans, "action 'relations.userFacts'").service).toBe("relations");
	});

	it("tags the gateway span with the redacted URL and the action spans with their params", () => {
		const root = byName(spans, "GET /douyin/feed/?token=***");
		expect(root.tags["params.req.url"]).toBe("/douyin/feed/?token=***");
		expect(root.tags["params.req.method"]).toBe("GET");
		expect(byName(spans, "action 'favorites.videoFlags'").tags["params.viewerId"]).toBe(bob.id);
	});
});

describe("span tags", () => {
	it("summarise a long id list in one tag instead of one tag per element", async () => {
		const ids = Array.from({ length: 25 }, (_, i) => i + 1);
		await system.broker.call("users.getMany", { ids });
		const deadline = Date.now() + 20000;
		let span: ReceivedSpan | undefined;
		while (!(span = collector.spans.find(s => s.name === "action 'users.getMany'" && String(s.tags["params.ids"]).endsWith("(25 items)"))) && Date.now() < deadline)
			await new Promise(resolve => setTimeout(resolve, 100));
		expect(span?.tags["params.ids"]).toBe("1,2,3,4,5,6,7,8,9,10,… (25 items)");
		expect(Object.keys(span!.tags).filter(key => key.startsWith("params.ids."))).toEqual([]);
	});
});

describe("a client's X-Request-ID", () => {
	it("becomes the trace id when it is a UUID", async () => {
		const requestID = "0f8fad5b-d9cb-469f-a165-70867728950e";
		const res = await client.raw("/douyin/feed/", { headers: { "X-Request-ID": requestID } });
		expect(res.headers.get("x-request-id")).toBe(requestID);
		// The gateway's span alone: the anonymous feed may come from the gateway's copy, without a call.
		const spans = await traceOf(requestID, ["GET /douyin/feed/"]);
		expect(new Set(spans.map(span => span.traceId))).toEqual(new Set(["0f8fad5bd9cb469fa16570867728950e"]));
	});

	it("is hashed into a trace id of its own when it is not hex, and kept in the requestID tag", async () => {
		const traceIds: string[] = [];
		for (const requestID of ["req-42", "req-43"]) {
			const res = await client.raw("/douyin/feed/", { headers: { "X-Request-ID": requestID } });
			expect(((await res.json()) as { status_code: number }).status_code).toBe(0);
			const ids = new Set((await traceOf(requestID, ["GET /douyin/feed/"])).map(span => span.traceId));
			expect(ids.size).toBe(1);
			traceIds.push(...ids);
		}
		// Jaeger would read "req-42" as an all-zero (or clipped) id, the same for every such request.
		for (const id of traceIds) expect(id).toMatch(/^(?!0+$)[0-9a-f]{32}$/);
		expect(traceIds[0]).not.toBe(traceIds[1]);
	});
});

describe("secrets", () => {
	it("no span carries a token or a password; URLs, params and validation errors show *** instead", async () => {
		expect((await client.post("/user/login/", { username: `nobody-${Date.now()}`, password: "wrong-password-1" })).status_code).toBe(401);
		expect((await client.post("/user/register/", { username: "someone", password: "abc" })).status_code).toBe(400);
		expect((await client.post("/favorite/action/", { token: bob.token, video_id: 1, action_type: 1 })).status_code).toBe(0);
		expect((await client.get("/user/", { token: alice.token, user_id: bob.id })).status_code).toBe(0);
		const last = await client.raw(`/douyin/user/?token=${encodeURIComponent(bob.token)}&user_id=${alice.id}`);
		await traceOf(last.headers.get("x-request-id")!, ["GET /douyin/user/?token=***&user_id=" + alice.id, "action 'users.get'"]);

		const everything = Buffer.concat(collector.bodies);
		for (const secret of [alice.token, bob.token, alice.token.split(".")[2], bob.token.split(".")[2], alice.password, "wrong-password-1"])
			expect(everything.includes(secret)).toBe(false);

		const register = collector.spans.find(span => span.name === "action 'users.register'")!;
		expect(register.tags["params.password"]).toBe("***");
		expect(register.tags["params.username"]).toEqual(expect.any(String));
		const wrong = collector.spans.find(span => span.name === "action 'users.login'" && span.tags["error.code"] === 401)!;
		expect(wrong.tags).toMatchObject({ error: true, "params.password": "***", "error.type": "UNAUTHORIZED" });
		const invalid = collector.spans.find(span => span.name === "action 'users.register'" && span.tags["error.name"] === "ValidationError")!;
		expect(invalid.tags).toMatchObject({ "params.password": "***", "error.data.0.field": "password", "error.data.0.actual": "***" });
		expect(collector.spans.some(span => span.name.startsWith("POST /douyin/publish/action"))).toBe(true);
		const withToken = collector.spans.filter(span => /token=/.test(span.name));
		expect(withToken.length).toBeGreaterThan(0);
		for (const span of withToken) expect(span.name).toMatch(/token=\*\*\*(&|$)/);
	});
});
