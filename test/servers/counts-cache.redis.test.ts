import { Redis } from "ioredis";
import { RedisCountStore } from "../../lib/counts-cache";
import { describeCountsCacheContract } from "../contract/counts-cache.contract";

// Each "replica" has its own connection to the one Redis, as separate processes do.
const connections: Redis[] = [];
describeCountsCacheContract(
	`Redis at ${process.env.REDIS_URL ?? "redis://127.0.0.1:6379"}`,
	() => {
		const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", { maxRetriesPerRequest: 1 });
		connections.push(redis);
		return new RedisCountStore(redis, "moletok-test-counts:");
	},
	async () => {
		await Promise.all(connections.map(redis => redis.quit()));
	}
);
