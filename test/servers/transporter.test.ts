/**
 * Two brokers with MoleTok's broker options over the real NATS (TRANSPORTER): packets
 * arrive in order, a packet NATS refuses fails its call at once instead of timing out, and
 * a stopping node's goodbye reaches the others before its connection closes.
 */
import { randomUUID } from "node:crypto";
import { ServiceBroker } from "moleculer";
import { loadConfig } from "../../lib/config";
import { until } from "../helpers/real-servers";

const env = {
	TRANSPORTER: process.env.TRANSPORTER ?? "nats://127.0.0.1:4222",
	REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
	JWT_SECRET: randomUUID() + randomUUID(),
	NAMESPACE: `transporter-${randomUUID().slice(0, 8)}`,
	HEALTH_PORT: "off",
	METRICS_PORT: "off",
	LOG_LEVEL: "fatal"
};
// moleculer.config reads the process environment when loaded.
Object.assign(process.env, env);
const { brokerOptions } = require("../../moleculer.config") as typeof import("../../moleculer.config");

function broker(nodeID: string) {
	return new ServiceBroker({ ...brokerOptions(loadConfig(env)), nodeID, requestTimeout: 20_000 });
}

const caller = broker("caller");
const callee = broker("callee");
const received: number[] = [];
callee.createService({
	name: "sink",
	actions: { echo: (ctx: { params: { n: number } }) => ctx.params.n },
	events: { "sink.numbered": (ctx: { params: { n: number } }) => void received.push(ctx.params.n) }
});

beforeAll(async () => {
	await Promise.all([callee.start(), caller.start()]);
	await caller.waitForServices("sink", 20_000);
});
afterAll(() => Promise.all([caller.stop(), callee.stop()]));

test("events emitted in one turn arrive in the order they were emitted; calls made together all answer", async () => {
	for (let n = 0; n < 200; n++) caller.emit("sink.numbered", { n });
	const answers = await Promise.all(Array.from({ length: 200 }, (_, n) => caller.call("sink.echo", { n })));
	expect(answers).toEqual(Array.from({ length: 200 }, (_, n) => n));
	expect(received).toEqual(Array.from({ length: 200 }, (_, n) => n));
});

test("a request larger than NATS accepts fails at once with NATS's error, not after the request timeout", async () => {
	const started = Date.now();
	await expect(caller.call("sink.echo", { n: 1, padding: "x".repeat(2 * 1024 * 1024) })).rejects.toThrow(/MAX_PAYLOAD|payload/i);
	// The timeout is 20 s: a lost packet would only fail then.
	expect(Date.now() - started).toBeLessThan(10_000);
	expect(await caller.call("sink.echo", { n: 2 })).toBe(2);
});

test("a node that stops says goodbye before it closes its connection", async () => {
	const leaving = broker("leaving");
	await leaving.start();
	await until("the caller to know the leaving node", async () => caller.registry.nodes.get("leaving")?.available || undefined, 20_000, 50);
	const gone = new Promise<{ unexpected: boolean }>(resolve =>
		caller.localBus.on("$node.disconnected", (payload: { node: { id: string }; unexpected: boolean }) => {
			if (payload.node.id === "leaving") resolve(payload);
		})
	);
	await leaving.stop();
	// Unexpected would mean the DISCONNECT packet was lost and only the heartbeat timeout told.
	expect(await gone).toMatchObject({ unexpected: false });
});
