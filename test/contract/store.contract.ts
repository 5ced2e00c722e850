/**
 * The DocumentStore contract, run on every implementation (test/unit/store.nedb.test.ts,
 * test/servers/store.mongo.test.ts). Every test uses its own collection (random suffix),
 * so runs sharing one server do not collide.
 */
import crypto from "node:crypto";
import { type BaseDoc, type Collection, type DocumentStore, DuplicateKeyError } from "../../lib/store/types";

interface Item extends BaseDoc {
	_id: number;
	group: string;
	n: number;
	tag?: string;
}

interface Like extends BaseDoc {
	_id: string;
	userId: number;
	videoId: number;
	count?: number;
}

interface Job extends BaseDoc {
	_id: number;
	status: "queued" | "claimed";
	worker?: number;
}

function unique(prefix: string): string {
	return `${prefix}_${crypto.randomBytes(4).toString("hex")}`;
}

const ids = (docs: BaseDoc[]) => docs.map(doc => doc._id);

export interface StoreContractOptions {
	/** `open` returns a store over the same data each time: check it survives close/reopen. */
	persistent?: boolean;
}

export function describeStoreContract(
	name: string,
	open: () => Promise<DocumentStore>,
	options: StoreContractOptions = {}
): void {
	describe(`DocumentStore contract: ${name}`, () => {
		let store: DocumentStore;

		beforeAll(async () => {
			store = await open();
		});

		afterAll(async () => {
			await store?.close();
		});

		/** A fresh collection holding items n = 0..9 in groups "even" and "odd". */
		async function items(): Promise<Collection<Item>> {
			const coll = await store.collection<Item>(unique("items"), [{ fields: ["group"] }]);
			for (let n = 0; n < 10; n++)
				await coll.insert({ _id: n + 1, group: n % 2 === 0 ? "even" : "odd", n, ...(n < 3 ? { tag: "low" } : {}) });
			return coll;
		}

		describe("unique indexes", () => {
			it("refuse a duplicate of a single-field unique key and of an _id", async () => {
				const users = await store.collection<{ _id: number; name: string }>(unique("users"), [
					{ fields: ["name"], unique: true }
				]);
				await expect(users.insert({ _id: 1, name: "ada" })).resolves.toEqual({ _id: 1, name: "ada" });
				const duplicate = users.insert({ _id: 2, name: "ada" });
				await expect(duplicate).rejects.toBeInstanceOf(DuplicateKeyError);
				await expect(duplicate).rejects.toMatchObject({ name: "DuplicateKeyError", collection: users.name });
				await expect(users.insert({ _id: 1, name: "bob" })).rejects.toBeInstanceOf(DuplicateKeyError);
				expect(await users.find({})).toEqual([{ _id: 1, name: "ada" }]);
			});

			it("refuse a duplicate of a compound unique key", async () => {
				const likes = await store.collection<Like>(unique("likes"), [{ fields: ["userId", "videoId"], unique: true }]);
				await likes.insert({ _id: "a", userId: 1, videoId: 1 });
				await likes.insert({ _id: "b", userId: 1, videoId: 2 });
				await likes.insert({ _id: "c", userId: 2, videoId: 1 });
				await expect(likes.insert({ _id: "d", userId: 1, videoId: 1 })).rejects.toBeInstanceOf(DuplicateKeyError);
				expect(await likes.count({})).toBe(3);
			});

			it("let exactly one of 20 concurrent inserts of the same key win", async () => {
				const users = await store.collection<{ _id: number; name: string }>(unique("users"), [
					{ fields: ["name"], unique: true }
				]);
				const results = await Promise.allSettled(
					Array.from({ length: 20 }, (_, i) => users.insert({ _id: i + 1, name: "same" }))
				);
				expect(results.filter(result => result.status === "fulfilled")).toHaveLength(1);
				for (const result of results.filter(result => result.status === "rejected"))
					expect((result as PromiseRejectedResult).reason).toBeInstanceOf(DuplicateKeyError);
				expect(await users.count({ name: "same" })).toBe(1);
			});

			it("give each of many concurrent inserts its own outcome, duplicates and new ones mixed", async () => {
				const likes = await store.collection<Like>(unique("likes"), [{ fields: ["userId"] }]);
				for (let i = 0; i < 10; i += 2) await likes.insert({ _id: `k${i}`, userId: i, videoId: 1 });
				const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => likes.insert({ _id: `k${i}`, userId: i, videoId: 2 })));
				results.forEach((result, i) => {
					if (i % 2 === 0) expect((result as PromiseRejectedResult).reason).toBeInstanceOf(DuplicateKeyError);
					else expect(result).toEqual({ status: "fulfilled", value: { _id: `k${i}`, userId: i, videoId: 2 } });
				});
				expect(await likes.count({})).toBe(10);
				expect(await likes.count({ videoId: 1 })).toBe(5);
			});

			it("refuse an update that would duplicate a unique key", async () => {
				const users = await store.collection<{ _id: number; name: string }>(unique("users"), [
					{ fields: ["name"], unique: true }
				]);
				await users.insert({ _id: 1, name: "ada" });
				await users.insert({ _id: 2, name: "bob" });
				await expect(users.updateOne({ _id: 2 }, { $set: { name: "ada" } })).rejects.toBeInstanceOf(DuplicateKeyError);
				expect(await users.findOne({ _id: 2 })).toEqual({ _id: 2, name: "bob" });
			});
		});

		describe("queries", () => {
			it("find with a filter, sort, skip and limit", async () => {
				const coll = await items();
				expect(ids(await coll.find({ group: "even" }, { sort: { n: -1 } }))).toEqual([9, 7, 5, 3, 1]);
				expect(ids(await coll.find({ group: "even" }, { sort: { n: -1 }, skip: 1, limit: 2 }))).toEqual([7, 5]);
				expect(ids(await coll.find({}, { sort: { group: 1, n: 1 }, limit: 3 }))).toEqual([1, 3, 5]);
				expect(await coll.find({ group: "none" })).toEqual([]);
				expect(await coll.findOne({ n: 4 })).toEqual({ _id: 5, group: "even", n: 4 });
				expect(await coll.findOne({ n: 99 })).toBeNull();
			});

			it("understand $in, $nin, $ne, $lt, $lte, $gt, $gte, $or and $exists", async () => {
				const coll = await items();
				const sorted = async (filter: Record<string, unknown>) => ids(await coll.find(filter, { sort: { _id: 1 } }));
				expect(await sorted({ n: { $in: [1, 4, 42] } })).toEqual([2, 5]);
				expect(await sorted({ n: { $nin: [0, 1, 2, 3, 4, 5, 6] } })).toEqual([8, 9, 10]);
				expect(await sorted({ group: "odd", n: { $ne: 1 } })).toEqual([4, 6, 8, 10]);
				expect(await sorted({ n: { $lt: 2 } })).toEqual([1, 2]);
				expect(await sorted({ n: { $lte: 2 } })).toEqual([1, 2, 3]);
				expect(await sorted({ n: { $gt: 7 } })).toEqual([9, 10]);
				expect(await sorted({ n: { $gte: 3, $lt: 5 } })).toEqual([4, 5]);
				expect(await sorted({ $or: [{ n: 0 }, { n: { $gt: 8 } }] })).toEqual([1, 10]);
				expect(await sorted({ tag: { $exists: true } })).toEqual([1, 2, 3]);
				expect(await sorted({ tag: { $exists: false }, n: { $lt: 5 } })).toEqual([4, 5]);
			});

			it("findByIds returns the existing documents and skips missing ids", async () => {
				const coll = await items();
				const found = await coll.findByIds([3, 1, 42]);
				expect(ids(found).sort()).toEqual([1, 3]);
				expect(found.find(doc => doc._id === 3)).toEqual({ _id: 3, group: "even", n: 2, tag: "low" });
				expect(await coll.findByIds([])).toEqual([]);
			});

			it("findByIds works with string ids", async () => {
				const likes = await store.collection<Like>(unique("likes"));
				await likes.insert({ _id: "1:2", userId: 1, videoId: 2 });
				expect(await likes.findByIds(["1:2", "9:9"])).toEqual([{ _id: "1:2", userId: 1, videoId: 2 }]);
			});

			it("count and countBy, with 0 for values nothing matches", async () => {
				const coll = await items();
				expect(await coll.count({})).toBe(10);
				expect(await coll.count({ group: "odd", n: { $gt: 4 } })).toBe(3);
				const byGroup = await coll.countBy("group", ["even", "odd", "none"]);
				expect([...byGroup.entries()].sort()).toEqual([
					["even", 5],
					["none", 0],
					["odd", 5]
				]);
				const filtered = await coll.countBy("n", [0, 1, 2, 3], { tag: "low" });
				expect([...filtered.entries()].sort()).toEqual([
					[0, 1],
					[1, 1],
					[2, 1],
					[3, 0]
				]);
				expect((await coll.countBy("group", [])).size).toBe(0);
			});
		});

		describe("updates", () => {
			it("updateOne applies $set, $inc and $unset, and says whether a document matched", async () => {
				const coll = await items();
				expect(await coll.updateOne({ _id: 1 }, { $set: { group: "first" }, $inc: { n: 5 } })).toBe(true);
				expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, group: "first", n: 5, tag: "low" });
				expect(await coll.updateOne({ _id: 1 }, { $unset: { tag: true } })).toBe(true);
				expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, group: "first", n: 5 });
				expect(await coll.updateOne({ _id: 1 }, { $inc: { n: -5 } })).toBe(true);
				expect((await coll.findOne({ _id: 1 }))?.n).toBe(0);
				expect(await coll.updateOne({ _id: 42 }, { $set: { n: 1 } })).toBe(false);
				expect(await coll.updateOne({ group: "odd" }, { $inc: { n: 100 } })).toBe(true);
				expect(await coll.count({ n: { $gte: 100 } })).toBe(1);
			});

			it("updateOne is atomic: 50 concurrent $inc all count", async () => {
				const coll = await items();
				await Promise.all(Array.from({ length: 50 }, () => coll.updateOne({ _id: 1 }, { $inc: { n: 1 } })));
				expect((await coll.findOne({ _id: 1 }))?.n).toBe(50);
			});

			it("findOneAndUpdate updates the first match in sort order and returns it after the update", async () => {
				const coll = await items();
				const updated = await coll.findOneAndUpdate(
					{ group: "odd" },
					{ $set: { tag: "picked" }, $inc: { n: 10 } },
					{ sort: { n: -1 } }
				);
				expect(updated).toEqual({ _id: 10, group: "odd", n: 19, tag: "picked" });
				expect(await coll.findOne({ _id: 10 })).toEqual(updated);
				expect(await coll.findOneAndUpdate({ group: "none" }, { $set: { n: 0 } })).toBeNull();
			});

			it("findOneAndUpdate hands each of 5 queued jobs to exactly one of 20 concurrent claimers", async () => {
				const jobs = await store.collection<Job>(unique("jobs"), [{ fields: ["status"] }]);
				for (let id = 1; id <= 5; id++) await jobs.insert({ _id: id, status: "queued" });
				const claims = await Promise.all(
					Array.from({ length: 20 }, (_, worker) =>
						jobs.findOneAndUpdate({ status: "queued" }, { $set: { status: "claimed", worker } }, { sort: { _id: 1 } })
					)
				);
				const won = claims.filter(claim => claim !== null);
				expect(won).toHaveLength(5);
				expect(ids(won).sort()).toEqual([1, 2, 3, 4, 5]);
				for (const claim of won) expect(claim).toMatchObject({ status: "claimed" });
				const stored = await jobs.find({}, { sort: { _id: 1 } });
				expect(stored.map(job => job.status)).toEqual(Array(5).fill("claimed"));
				expect(stored.map(job => job.worker).sort()).toEqual(won.map(job => job.worker).sort());
			});

			it("findOneAndUpdate with upsert creates the document from the filter, then updates it", async () => {
				const counters = await store.collection<{ _id: string; value: number }>(unique("counters"));
				expect(await counters.findOneAndUpdate({ _id: "views" }, { $inc: { value: 1 } }, { upsert: true })).toEqual({
					_id: "views",
					value: 1
				});
				expect(await counters.findOneAndUpdate({ _id: "views" }, { $inc: { value: 2 } }, { upsert: true })).toEqual({
					_id: "views",
					value: 3
				});
				const likes = await store.collection<Like>(unique("likes"), [{ fields: ["userId", "videoId"], unique: true }]);
				const created = await likes.findOneAndUpdate(
					{ _id: "7:8", userId: 7, videoId: 8 },
					{ $inc: { count: 1 } },
					{ upsert: true }
				);
				expect(created).toEqual({ _id: "7:8", userId: 7, videoId: 8, count: 1 });
			});

			it("findOneAndUpdate with upsert: 10 concurrent upserts of one key make one document", async () => {
				const likes = await store.collection<Like>(unique("likes"), [{ fields: ["userId", "videoId"], unique: true }]);
				const results = await Promise.all(
					Array.from({ length: 10 }, () =>
						likes.findOneAndUpdate({ _id: "1:1", userId: 1, videoId: 1 }, { $inc: { count: 1 } }, { upsert: true })
					)
				);
				const counts = results.map(doc => doc?.count ?? 0);
				expect(counts.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
				expect(await likes.find({})).toEqual([{ _id: "1:1", userId: 1, videoId: 1, count: 10 }]);
			});
		});

		describe("deletes", () => {
			it("deleteOne removes one match and says whether there was one", async () => {
				const coll = await items();
				expect(await coll.deleteOne({ group: "odd" })).toBe(true);
				expect(await coll.count({ group: "odd" })).toBe(4);
				expect(await coll.deleteOne({ _id: 42 })).toBe(false);
			});

			it("deleteMany removes every match and returns how many", async () => {
				const coll = await items();
				expect(await coll.deleteMany({ n: { $lt: 4 } })).toBe(4);
				expect(await coll.deleteMany({ n: { $lt: 4 } })).toBe(0);
				expect(await coll.count({})).toBe(6);
			});
		});

		describe("sequences", () => {
			it("nextId counts 1, 2, 3, … per sequence", async () => {
				const users = unique("users");
				const videos = unique("videos");
				expect(await store.nextId(users)).toBe(1);
				expect(await store.nextId(users)).toBe(2);
				expect(await store.nextId(videos)).toBe(1);
				expect(await store.nextId(users)).toBe(3);
			});

			it("nextId in blocks hands out unique values in order, under concurrent calls", async () => {
				const sequence = unique("blocks");
				const values = await Promise.all(Array.from({ length: 25 }, () => store.nextId(sequence, 10)));
				expect(new Set(values).size).toBe(25);
				expect(values).toEqual([...values].sort((a, b) => a - b));
				expect(Math.min(...values)).toBeGreaterThanOrEqual(1);
			});

			it("nextId is unique under 50 concurrent calls", async () => {
				const sequence = unique("seq");
				const values = await Promise.all(Array.from({ length: 50 }, () => store.nextId(sequence)));
				expect([...values].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
				expect(await store.nextId(sequence)).toBe(51);
			});
		});

		it("ping resolves while the store is reachable", async () => {
			await expect(store.ping()).resolves.toBeUndefined();
		});

		if (options.persistent)
			it("keeps documents, indexes and sequences across close and reopen", async () => {
				const name = unique("kept");
				const sequence = unique("seq");
				const first = await open();
				const coll = await first.collection<{ _id: number; name: string }>(name, [{ fields: ["name"], unique: true }]);
				await coll.insert({ _id: 1, name: "ada" });
				await coll.updateOne({ _id: 1 }, { $set: { name: "ada lovelace" } });
				await coll.insert({ _id: 2, name: "bob" });
				await coll.deleteOne({ _id: 2 });
				expect(await first.nextId(sequence)).toBe(1);
				await first.close();

				const second = await open();
				try {
					const reopened = await second.collection<{ _id: number; name: string }>(name, [
						{ fields: ["name"], unique: true }
					]);
					expect(await reopened.find({})).toEqual([{ _id: 1, name: "ada lovelace" }]);
					await expect(reopened.insert({ _id: 3, name: "ada lovelace" })).rejects.toBeInstanceOf(DuplicateKeyError);
					expect(await second.nextId(sequence)).toBe(2);
				} finally {
					await second.close();
				}
			});
	});
}
