/** MongoStore against the MongoDB-wire server at MONGO_URI (FerretDB from scripts/servers.sh). */
import crypto from "node:crypto";
import net from "node:net";
import { MongoClient } from "mongodb";
import { MongoStore } from "../../lib/store/mongo";
import { describeStoreContract } from "../contract/store.contract";

const uri = process.env.MONGO_URI || "mongodb://127.0.0.1:27017";
const dbName = `moletok-test-${crypto.randomBytes(4).toString("hex")}`;

afterAll(async () => {
	const client = await MongoClient.connect(uri, { serverSelectionTimeoutMS: 3000 });
	try {
		await client.db(dbName).dropDatabase();
	} finally {
		await client.close();
	}
});

describeStoreContract(`MongoStore at ${uri}`, () => MongoStore.connect(uri, dbName, { connectTimeoutMs: 4000 }));

describe("MongoStore, two replicas on one database", () => {
	let replicas: MongoStore[];

	beforeAll(async () => {
		replicas = await Promise.all([1, 2].map(() => MongoStore.connect(uri, dbName, { connectTimeoutMs: 4000 })));
	});

	afterAll(async () => {
		await Promise.all(replicas.map(replica => replica.close()));
	});

	const onEach = <R>(count: number, fn: (replica: MongoStore, i: number) => Promise<R>) =>
		Promise.all(Array.from({ length: count }, (_, i) => fn(replicas[i % 2], i)));

	it("draw unique ids from one sequence", async () => {
		const sequence = `seq_${crypto.randomBytes(4).toString("hex")}`;
		const values = await onEach(50, replica => replica.nextId(sequence));
		expect(values.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
	});

	it("never lose a concurrent $inc of one document", async () => {
		const name = `counters_${crypto.randomBytes(4).toString("hex")}`;
		const counters = (replica: MongoStore) => replica.collection<{ _id: number; n: number }>(name);
		await (await counters(replicas[0])).insert({ _id: 1, n: 0 });
		await onEach(40, async replica => (await counters(replica)).updateOne({ _id: 1 }, { $inc: { n: 1 } }));
		expect(await (await counters(replicas[1])).findOne({ _id: 1 })).toEqual({ _id: 1, n: 40 });
	});

	it("hand each queued job to exactly one claimer", async () => {
		const name = `jobs_${crypto.randomBytes(4).toString("hex")}`;
		const jobs = await replicas[0].collection<{ _id: number; status: string; worker?: number }>(name);
		for (let id = 1; id <= 8; id++) await jobs.insert({ _id: id, status: "queued" });
		const claims = await onEach(24, async (replica, worker) =>
			(await replica.collection<{ _id: number; status: string; worker?: number }>(name)).findOneAndUpdate(
				{ status: "queued" },
				{ $set: { status: "running", worker } },
				{ sort: { _id: 1 } }
			)
		);
		const won = claims.filter(claim => claim !== null);
		expect(won.map(claim => claim._id).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
		const stored = await jobs.find({}, { sort: { _id: 1 } });
		expect(stored.map(job => job.worker)).toEqual(won.sort((a, b) => a._id - b._id).map(claim => claim.worker));
	});
});

describe("MongoStore.connect", () => {
	/** A loopback port nothing listens on. */
	async function closedPort(): Promise<number> {
		const server = net.createServer().listen(0, "127.0.0.1");
		await new Promise(resolve => server.once("listening", resolve));
		const { port } = server.address() as net.AddressInfo;
		await new Promise(resolve => server.close(resolve));
		return port;
	}

	it("fails within its bounded time, naming the host but not the password", async () => {
		const port = await closedPort();
		const started = Date.now();
		const connecting = MongoStore.connect(`mongodb://moletok:hunter2@127.0.0.1:${port}/?authSource=admin`, "x", {
			connectTimeoutMs: 1000
		});
		const err: Error = await connecting.then(
			() => {
				throw new Error("connected to a closed port");
			},
			(reason: Error) => reason
		);
		expect(Date.now() - started).toBeLessThan(5000);
		expect(err.message).toContain(`MongoDB at 127.0.0.1:${port} did not answer within 1000 ms`);
		expect(err.message).not.toContain("hunter2");
	});
});
