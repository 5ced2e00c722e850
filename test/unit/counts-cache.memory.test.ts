import { ServiceBroker } from "moleculer";
import { describeCountsCacheContract } from "../contract/counts-cache.contract";

// Embedded mode: one process, so every "replica" is the one broker and its in-process LRU cacher.
const broker = new ServiceBroker({ logger: false, metrics: false, cacher: { type: "MemoryLRU", options: { max: 1000, clone: false } } });
describeCountsCacheContract("the in-process MemoryLRU cacher", () => broker);
