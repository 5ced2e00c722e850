import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { LocalStorage } from "../../lib/storage/local";
import { describeStorageContract } from "../contract/storage.contract";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "moletok-media-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describeStorageContract("LocalStorage", async () => new LocalStorage(dir, "http://localhost:8080/media"));
