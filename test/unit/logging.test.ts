/**
 * The logger each mode gets from moleculer.config: JSON lines (Pino) in cluster mode,
 * Moleculer's readable "short" lines embedded; in both, tokens and passwords are masked
 * wherever they appear in a log call (URLs, objects, errors).
 */
import { Loggers, ServiceBroker } from "moleculer";
import { brokerOptions } from "../../moleculer.config";
import { type Env, loadConfig } from "../../lib/config";
import { loggerOptions } from "../../lib/logging";

const TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlLXNlY3JldA";
const QUIET: Env = { HEALTH_PORT: "off", METRICS_PORT: "off", LOG_LEVEL: "info" };
const CLUSTER: Env = { ...QUIET, TRANSPORTER: "nats://127.0.0.1:4222", REDIS_URL: "redis://127.0.0.1:6379", JWT_SECRET: "x".repeat(32) };

/** A service that logs what MoleTok's code and moleculer-web log. */
const chatty = {
	name: "chatty",
	actions: {
		speak(this: { logger: ServiceBroker["logger"] }) {
			this.logger.info("hello", { videoId: 7, ids: [1, 2] });
			this.logger.debug(`=> GET /douyin/feed/?token=${TOKEN}`);
			this.logger.warn("request failed", "POST", `/douyin/favorite/action/?video_id=1&token=${TOKEN}&action_type=1`);
			this.logger.info("params", { username: "alice", password: "secret123", nested: { token: TOKEN } });
			this.logger.error("call failed", Object.assign(new Error(`upstream said token=${TOKEN}`), { code: 503, type: "UPSTREAM", data: { password: "secret123" } }));
			return true;
		}
	}
};

describe("cluster mode: one JSON object per line", () => {
	const lines: string[] = [];
	let broker: ServiceBroker;

	beforeAll(async () => {
		const cfg = loadConfig({ ...CLUSTER, LOG_LEVEL: "debug" });
		const options = brokerOptions(cfg);
		expect(options.logger).toMatchObject({ type: "Pino", options: { level: "debug" } });
		// The same options with a transporter-less broker, writing to this test instead of stdout.
		broker = new ServiceBroker({ ...options, nodeID: "chatty-1", transporter: null, logger: loggerOptions(cfg, { write: (line: string) => void lines.push(line) }) });
		broker.createService(chatty);
		await broker.start();
		await broker.call("chatty.speak");
	});
	afterAll(() => broker.stop());

	const entries = () => lines.map(line => JSON.parse(line) as Record<string, unknown>);
	const byMsg = (prefix: string) => entries().find(entry => String(entry.msg).startsWith(prefix))!;

	it("writes every event as exactly one line of JSON with level, time, node and module", () => {
		expect(lines.length).toBeGreaterThan(5);
		for (const line of lines) {
			expect(line.endsWith("\n")).toBe(true);
			expect(line.slice(0, -1)).not.toContain("\n");
		}
		const hello = byMsg("hello");
		expect(hello).toMatchObject({ level: "info", nodeID: "chatty-1", ns: "moletok", mod: "chatty", svc: "chatty", msg: "hello { videoId: 7, ids: [ 1, 2 ] }" });
		expect(new Date(hello.time as string).toISOString()).toBe(hello.time);
		expect(entries().find(entry => entry.mod === "broker" && /is starting/.test(String(entry.msg)))).toMatchObject({ level: "info" });
	});

	it("puts an error into an err field with its Moleculer fields", () => {
		const failed = byMsg("call failed");
		expect(failed).toMatchObject({ level: "error", err: { name: "Error", code: 503, type: "UPSTREAM", message: "upstream said token=***", data: { password: "***" } } });
		expect(String((failed.err as { stack: string }).stack)).toMatch(/^Error: upstream said token=\*\*\*/);
	});

	it("masks tokens and passwords in URLs, objects and errors", () => {
		expect(lines.join("")).not.toContain(TOKEN);
		expect(lines.join("")).not.toContain("secret123");
		expect(byMsg("=> GET").msg).toBe("=> GET /douyin/feed/?token=***");
		expect(byMsg("request failed").msg).toBe("request failed POST /douyin/favorite/action/?video_id=1&token=***&action_type=1");
		expect(byMsg("params").msg).toBe("params { username: 'alice', password: '***', nested: { token: '***' } }");
	});
});

describe("embedded mode: readable lines", () => {
	it("uses Moleculer's Console logger in the short format, and masks secrets there too", async () => {
		const cfg = loadConfig({ ...QUIET, LOG_LEVEL: "debug" });
		const logger = brokerOptions(cfg).logger as InstanceType<typeof Loggers.Console>;
		expect(logger).toBeInstanceOf(Loggers.Console);
		expect(logger.opts).toMatchObject({ formatter: "short", level: "debug" });

		const printed: string[] = [];
		const capture = (...args: unknown[]) => void printed.push(args.join(" "));
		const spies = (["log", "info", "warn", "error"] as const).map(method => jest.spyOn(console, method).mockImplementation(capture));
		const broker = new ServiceBroker({ ...brokerOptions(cfg), nodeID: "chatty-1" });
		try {
			broker.createService(chatty);
			await broker.start();
			await broker.call("chatty.speak");
		} finally {
			await broker.stop();
			for (const spy of spies) spy.mockRestore();
		}
		const text = printed.join("\n");
		// eslint-disable-next-line no-control-regex
		const plain = text.replace(/\u001b\[[0-9;]*m/g, "");
		expect(plain).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}Z\] INFO {2}CHATTY: hello \{ videoId: 7, ids: \[ 1, 2 \] \}$/m);
		expect(plain).toContain("=> GET /douyin/feed/?token=***");
		expect(plain).toContain("password: '***'");
		expect(plain).not.toContain(TOKEN);
		expect(plain).not.toContain("secret123");
	});

	it("LOG_FORMAT picks the format in either mode", () => {
		expect(loadConfig({ ...CLUSTER }).logFormat).toBe("json");
		expect(loadConfig({ ...CLUSTER, LOG_FORMAT: "text" }).logFormat).toBe("text");
		expect(loadConfig({ ...QUIET }).logFormat).toBe("text");
		expect(loadConfig({ ...QUIET, LOG_FORMAT: "json" }).logFormat).toBe("json");
		expect(() => loadConfig({ ...QUIET, LOG_FORMAT: "xml" })).toThrow(/LOG_FORMAT must be json or text/);
	});
});
