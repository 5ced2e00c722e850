/** Configuration refusals that keep a cluster honest. */
import { loadConfig } from "../../lib/config";

const CLUSTER = { TRANSPORTER: "nats://127.0.0.1:4222", JWT_SECRET: "x".repeat(32), HEALTH_PORT: "off", METRICS_PORT: "off" };

test("a cluster start without Redis is refused with a message that says why", () => {
	expect(() => loadConfig(CLUSTER)).toThrow(
		"REDIS_URL is required in cluster mode (TRANSPORTER is set): every replica must share one cache, or each would serve what it alone remembers"
	);
	expect(loadConfig({ ...CLUSTER, REDIS_URL: "redis://127.0.0.1:6379" })).toMatchObject({ mode: "cluster", redisUrl: "redis://127.0.0.1:6379" });
	expect(loadConfig({ HEALTH_PORT: "off" })).toMatchObject({ mode: "embedded", redisUrl: null });
});

test("READ_TIMEOUT_MS: 3 s by default, at least 200 ms", () => {
	expect(loadConfig({}).readTimeoutMs).toBe(3000);
	expect(loadConfig({ READ_TIMEOUT_MS: "500" }).readTimeoutMs).toBe(500);
	expect(() => loadConfig({ READ_TIMEOUT_MS: "100" })).toThrow('READ_TIMEOUT_MS must be an integer >= 200, got "100"');
});
