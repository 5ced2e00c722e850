/** Accounts of earlier versions in MongoDB (FerretDB from scripts/servers.sh; test/contract/users-migration.contract.ts). */
import crypto from "node:crypto";
import { MongoClient } from "mongodb";
import { MongoStore } from "../../lib/store/mongo";
import { describeUsersMigration } from "../contract/users-migration.contract";

const uri = process.env.MONGO_URI || "mongodb://127.0.0.1:27017";
const prefix = `moletok-test-${crypto.randomBytes(4).toString("hex")}`;
// A broker of its own on the test's database: no transporter, no shared cache.
delete process.env.TRANSPORTER;
delete process.env.REDIS_URL;
process.env.JWT_SECRET = crypto.randomBytes(32).toString("hex");
process.env.MONGO_URI = uri;
process.env.MONGO_DB_PREFIX = prefix;
process.env.HEALTH_PORT = "off";
process.env.METRICS_PORT = "off";
process.env.PASSWORD_HASH_THREADS = "1";
jest.setTimeout(60000);

afterAll(async () => {
	const client = await MongoClient.connect(uri, { serverSelectionTimeoutMS: 3000 });
	try {
		await client.db(`${prefix}-users`).dropDatabase();
	} finally {
		await client.close();
	}
});

describeUsersMigration(`MongoDB at ${uri}`, () => MongoStore.connect(uri, `${prefix}-users`, { connectTimeoutMs: 4000 }));
