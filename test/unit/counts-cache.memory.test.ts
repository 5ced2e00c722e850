import { MemoryCountStore } from "../../lib/counts-cache";
import { describeCountsCacheContract } from "../contract/counts-cache.contract";

// One process: both "replicas" share the process's store, as in embedded mode.
const shared = new MemoryCountStore();
describeCountsCacheContract("the in-process store", () => shared);
