/**
 * The domain metrics on an embedded system with METRICS_PORT set, read from its /metrics
 * endpoint in Prometheus' text format: registered once, counted where the services act,
 * labelled as lib/metrics.ts declares; upload outcomes through countOutcomes.
 */
import type { Context } from "moleculer";
import { Errors } from "moleculer";
import { METRIC, countOutcomes } from "../../lib/metrics";
import { Client } from "../helpers/client";
import { type System, freePort, startSystem } from "../helpers/system";
import { uploadForm } from "../helpers/videos";

jest.setTimeout(60000);

let system: System;
let client: Client;
let metricsUrl: string;

/** Every sample line of the exposition as "name{labels}" → value (labels without namespace and nodeID). */
async function scrape(): Promise<Map<string, number>> {
	const res = await fetch(metricsUrl);
	expect(res.status).toBe(200);
	expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
	const samples = new Map<string, number>();
	for (const line of (await res.text()).split("\n")) {
		const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
		if (!match) continue;
		const labels = (match[2] ?? "")
			.split(/,(?=[a-zA-Z_]\w*=")/)
			.filter(label => label && !/^(namespace|nodeID)=/.test(label))
			.join(",");
		samples.set(labels ? `${match[1]}{${labels}}` : match[1], Number(match[3]));
	}
	return samples;
}

beforeAll(async () => {
	const port = await freePort();
	metricsUrl = `http://127.0.0.1:${port}/metrics`;
	system = await startSystem({
		env: { METRICS_PORT: String(port), METRICS_ACTIONS: "on" },
		extraServices: [
			{
				name: "outcomes",
				actions: {
					check: {
						hooks: countOutcomes(METRIC.UPLOADS),
						handler(ctx: Context<{ fail?: "client" | "server" }>) {
							if (ctx.params.fail === "client") throw new Errors.MoleculerClientError("no", 422, "INVALID_PARAM");
							if (ctx.params.fail === "server") throw new Errors.MoleculerError("down", 500, "DOWN");
							return { ok: true };
						}
					}
				}
			}
		]
	});
	client = new Client(system.url);
});
afterAll(() => system?.stop());

it("serves the domain metrics with their help text, counted where the services act", async () => {
	const alice = await client.register();
	const bob = await client.register();
	expect((await client.post("/user/login/", { username: alice.username, password: "not-the-password" })).status_code).toBe(401);
	expect((await client.post("/user/login/", { username: alice.username, password: alice.password })).status_code).toBe(0);
	expect((await client.post("/user/login/", { username: bob.username, password: bob.password })).status_code).toBe(0);
	expect((await client.post("/message/action/", { token: alice.token, to_user_id: bob.id, action_type: 1, content: "hi" })).status_code).toBe(0);
	expect((await client.postMultipart("/publish/action/", uploadForm({ token: alice.token, title: "empty" }, Buffer.alloc(0)))).status_code).not.toBe(0);

	const samples = await scrape();
	expect(samples.get('moletok_logins_total{outcome="ok"}')).toBe(2);
	expect(samples.get('moletok_logins_total{outcome="failed"}')).toBe(1);
	expect(samples.get("moletok_messages_total")).toBe(1);
	expect(samples.get('moletok_uploads_total{outcome="rejected"}')).toBe(1);
	const text = await (await fetch(metricsUrl)).text();
	expect(text).toContain("# TYPE moletok_logins_total counter");
	expect(text).toMatch(/# HELP moletok_logins_total Login attempts by outcome/);
	// Moleculer's own series are there too, with this node's labels.
	expect(text).toMatch(/^moleculer_request_total\{namespace="moletok",nodeID="[^"]+",service="users",action="users.login"/m);
});

it("counts an action's outcomes as ok, rejected (4xx) and error", async () => {
	const before = await scrape();
	const count = (samples: Map<string, number>, outcome: string) => samples.get(`moletok_uploads_total{outcome="${outcome}"}`) ?? 0;
	await system.broker.call("outcomes.check", {});
	await expect(system.broker.call("outcomes.check", { fail: "client" })).rejects.toMatchObject({ code: 422, type: "INVALID_PARAM" });
	await expect(system.broker.call("outcomes.check", { fail: "server" })).rejects.toMatchObject({ code: 500, type: "DOWN" });
	const after = await scrape();
	expect(count(after, "ok") - count(before, "ok")).toBe(1);
	expect(count(after, "rejected") - count(before, "rejected")).toBe(1);
	expect(count(after, "error") - count(before, "error")).toBe(1);
});

it("samples the event-loop delay of the process", async () => {
	const deadline = Date.now() + 10000;
	let samples = await scrape();
	while (!samples.has('moletok_event_loop_lag_seconds{stat="p99"}') && Date.now() < deadline) {
		await new Promise(resolve => setTimeout(resolve, 200));
		samples = await scrape();
	}
	for (const stat of ["mean", "p50", "p99", "max"]) {
		const value = samples.get(`moletok_event_loop_lag_seconds{stat="${stat}"}`);
		expect(value).toBeGreaterThanOrEqual(0);
		expect(value).toBeLessThan(1);
	}
});

it("leaves out Moleculer's per-call metrics unless METRICS_ACTIONS is on", async () => {
	const port = await freePort();
	const plain = await startSystem({ services: ["users"], env: { METRICS_PORT: String(port) } });
	try {
		await plain.broker.call("users.register", { username: "counted", password: "secret123" });
		await plain.broker.call("users.login", { username: "counted", password: "secret123" });
		const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
		expect(text).toContain("# TYPE moletok_logins_total counter");
		expect(text).toMatch(/^moleculer_node_type/m);
		expect(text).not.toMatch(/^moleculer_request_total/m);
	} finally {
		await plain.stop();
	}
});
