import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { NedbStore } from "../../lib/store/nedb";
import { describeStoreContract } from "../contract/store.contract";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "moletok-nedb-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describeStoreContract("NedbStore on disk", async () => new NedbStore(dir), { persistent: true });
describeStoreContract("NedbStore in memory", async () => new NedbStore(null));
