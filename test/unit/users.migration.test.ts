/** Accounts of earlier versions in the embedded store (test/contract/users-migration.contract.ts). */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { NedbStore } from "../../lib/store/nedb";
import { describeUsersMigration } from "../contract/users-migration.contract";

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "moletok-users-migration-"));
process.env.DATA_DIR = dataDir;
process.env.HEALTH_PORT = "off";
process.env.METRICS_PORT = "off";
process.env.PASSWORD_HASH_THREADS = "1";
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

describeUsersMigration("embedded store", async () => new NedbStore(path.join(dataDir, "db", "users")));
