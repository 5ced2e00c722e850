import { ServiceBroker } from "moleculer";
import { describeCountsCacheContract } from "../contract/counts-cache.contract";

// Each "replica" is a broker of its own with its own connection to the one Redis, as separate processes are.
const prefix = `moletok-test-${Math.random().toString(36).slice(2, 8)}`;
describeCountsCacheContract(
	`the Redis cacher at ${process.env.REDIS_URL ?? "redis://127.0.0.1:6379"}`,
	() =>
		new ServiceBroker({
			logger: false,
			metrics: false,
			cacher: { type: "Redis", options: { prefix, redis: { url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379", enableAutoPipelining: true } } }
		})
);
