/**
 * The project's NATS (scripts/servers.sh, TRANSPORTER with a user and a generated password)
 * refuses clients without those credentials, so nothing outside MoleTok can call its actions;
 * MoleTok's own brokers log in with them. The chart's NATS configuration is checked against
 * the same nats-server in test/servers/deploy.test.ts.
 */
import { randomUUID } from "node:crypto";
import { ServiceBroker } from "moleculer";
import { connect } from "nats";
import { loadConfig } from "../../lib/config";
import { natsProblem } from "../../lib/repl-attach";

const transporter = process.env.TRANSPORTER;
if (!transporter) throw new Error('TRANSPORTER is not set: run `eval "$(bash scripts/servers.sh start)"` first');
const url = new URL(transporter);

/** The error code NATS answers a connection with, or "connected". */
async function outcome(options: { user?: string; pass?: string }): Promise<string> {
	try {
		const connection = await connect({ servers: url.host, reconnect: false, timeout: 5000, ...options });
		await connection.close();
		return "connected";
	} catch (err) {
		return (err as { code?: string }).code ?? (err as Error).message;
	}
}

test("TRANSPORTER carries a user and a password", () => {
	expect(url.protocol).toBe("nats:");
	expect(url.username).toBe("moletok");
	expect(url.password).toMatch(/^[A-Za-z0-9]{32}$/);
});

test("a client without the credentials, or with a wrong password, is refused; with them it connects", async () => {
	expect(await outcome({})).toBe("AUTHORIZATION_VIOLATION");
	expect(await outcome({ user: url.username, pass: `${url.password}x` })).toBe("AUTHORIZATION_VIOLATION");
	expect(await outcome({ user: "intruder", pass: url.password })).toBe("AUTHORIZATION_VIOLATION");
	expect(await outcome({ user: url.username, pass: url.password })).toBe("connected");
});

test("the attached REPL tells a refused login in one line", async () => {
	expect(await natsProblem(transporter)).toBeNull();
	expect(await natsProblem(`nats://${url.host}`)).toBe(`NATS at ${url.host} refused a client without credentials (TRANSPORTER has none)`);
	expect(await natsProblem(`nats://moletok:wrong-password@${url.host}`)).toBe(`NATS at ${url.host} refused the user "moletok" and the password in TRANSPORTER`);
});

test("MoleTok's brokers log in with TRANSPORTER and call each other", async () => {
	// A cluster needs its Redis too (the shared cacher): the one scripts/servers.sh started.
	const env = { TRANSPORTER: transporter, REDIS_URL: process.env.REDIS_URL!, JWT_SECRET: randomUUID() + randomUUID(), NAMESPACE: `auth-${randomUUID().slice(0, 8)}`, HEALTH_PORT: "off", METRICS_PORT: "off", LOG_LEVEL: "fatal" };
	Object.assign(process.env, env);
	const { brokerOptions } = require("../../moleculer.config") as typeof import("../../moleculer.config");
	const [caller, callee] = ["caller", "callee"].map(nodeID => new ServiceBroker({ ...brokerOptions(loadConfig(env)), nodeID }));
	callee.createService({ name: "echo", actions: { say: (ctx: { params: { text: string } }) => ctx.params.text } });
	try {
		await Promise.all([caller.start(), callee.start()]);
		await caller.waitForServices("echo", 20_000);
		expect(await caller.call("echo.say", { text: "over an authenticated NATS" })).toBe("over an authenticated NATS");
	} finally {
		await Promise.all([caller.stop(), callee.stop()]);
	}
});
