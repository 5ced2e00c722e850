/**
 * Document store on MongoDB, or FerretDB (which speaks its wire protocol), through the
 * official driver.
 *
 * MongoDB applies each single-document update atomically, so `updateOne`,
 * `findOneAndUpdate` and the `$inc` of `nextId` are single commands. FerretDB 1.x does not:
 * it reads the matching document, updates it in memory and writes it back, so two
 * concurrent updates can both match and one silently overwrites the other. Against
 * FerretDB 1.x every update therefore runs under a per-document lock (`DocumentLocks`).
 * Inserts (unique indexes) and deletes are atomic on both.
 *
 * Inserts into one collection are grouped (`InsertBatches`): while one is on its way, the
 * next ones wait and then go together in one unordered insertMany, each caller getting its
 * own outcome. Alone, an insert goes at once; under load, one command carries many (on
 * FerretDB a command costs far more than a document in it).
 */
import crypto from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
	type Db,
	type Document,
	MongoClient,
	type Collection as MongoCollection,
	MongoServerError,
	MongoServerSelectionError
} from "mongodb";
import {
	type BaseDoc,
	type Collection,
	type DocumentStore,
	DuplicateKeyError,
	type Filter,
	type FindOptions,
	type Id,
	type IndexSpec,
	type Sort,
	type Update
} from "./types";

/** How long `connect` waits for the server by default, ms. */
const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
/** After this long a document lock is taken to belong to a dead process and may be taken over, ms. */
const LOCK_TTL_MS = 10_000;
/** MongoDB's error code for "collection already exists". */
const NAMESPACE_EXISTS = 48;

/** A stored document: our own `_id` (never an ObjectId), any other fields. */
interface Doc extends Document {
	_id: Id;
}

interface LockDoc {
	_id: string;
	owner: string;
	expiresAt: number;
}

function isDuplicateKey(err: unknown): boolean {
	if (!(err instanceof MongoServerError)) return false;
	// FerretDB 1.x reports a unique violation on update as code 1 with the backend's text
	// (SQLite: "UNIQUE constraint failed"; PostgreSQL: "duplicate key value violates unique constraint").
	return err.code === 11000 || /UNIQUE constraint failed|duplicate key value violates unique constraint/.test(err.message);
}

/** The hosts of a connection string, without credentials or options. */
function hostsOf(uri: string): string {
	return uri.replace(/^[a-z+]+:\/\/([^@/]*@)?/i, "").split(/[/?]/)[0];
}

/**
 * Per-document locks for servers without atomic updates: a lock is a document in
 * `_locks`, taken by inserting it (the unique `_id` makes that atomic everywhere) and
 * released by deleting it. Callers in one process queue locally instead of polling.
 */
class DocumentLocks {
	private readonly queues = new Map<string, Promise<unknown>>();

	constructor(private readonly locks: MongoCollection<LockDoc>) {}

	async hold<R>(key: string, fn: () => Promise<R>): Promise<R> {
		const previous = this.queues.get(key);
		const turn = (async () => {
			await previous?.catch(() => {});
			const owner = crypto.randomUUID();
			await this.acquire(key, owner);
			try {
				return await fn();
			} finally {
				await this.locks.deleteOne({ _id: key, owner });
			}
		})();
		this.queues.set(key, turn);
		try {
			return await turn;
		} finally {
			if (this.queues.get(key) === turn) this.queues.delete(key);
		}
	}

	private async acquire(key: string, owner: string): Promise<void> {
		for (let attempt = 1; ; attempt++) {
			try {
				await this.locks.insertOne({ _id: key, owner, expiresAt: Date.now() + LOCK_TTL_MS });
				return;
			} catch (err) {
				if (!isDuplicateKey(err)) throw err;
			}
			await this.locks.deleteOne({ _id: key, expiresAt: { $lt: Date.now() } });
			await sleep(Math.random() * Math.min(attempt, 20));
		}
	}
}

/** The most documents one grouped insert carries. */
const MAX_INSERT_BATCH = 256;

interface PendingInsert {
	doc: Doc;
	settle: (err: unknown) => void;
}

/** A write error of one document of an insertMany, with its index in the batch. */
interface WriteError {
	index: number;
	code?: number;
	errmsg?: string;
}

/** The per-document write errors of a failed insertMany (empty: the whole command failed). */
function writeErrorsOf(err: unknown): WriteError[] {
	const raw = (err as { writeErrors?: WriteError | WriteError[] }).writeErrors;
	return raw == null ? [] : Array.isArray(raw) ? raw : [raw];
}

/** One collection's inserts, at most one command on its way; the rest wait and go together. */
class InsertBatches {
	private waiting: PendingInsert[] = [];
	private sending = false;

	constructor(private readonly coll: MongoCollection<Doc>) {}

	insert(doc: Doc): Promise<void> {
		return new Promise((resolve, reject) => {
			this.waiting.push({ doc, settle: err => (err ? reject(err) : resolve()) });
			if (!this.sending) void this.send();
		});
	}

	private async send(): Promise<void> {
		this.sending = true;
		while (this.waiting.length > 0) {
			const batch = this.waiting.splice(0, MAX_INSERT_BATCH);
			try {
				if (batch.length === 1) await this.coll.insertOne(batch[0].doc);
				else await this.coll.insertMany(batch.map(item => item.doc), { ordered: false });
				for (const item of batch) item.settle(null);
			} catch (err) {
				const failed = batch.length === 1 ? [] : writeErrorsOf(err);
				if (failed.length === 0) {
					// The command as a whole failed (or the single insert did): every caller gets its error.
					for (const item of batch) item.settle(err);
					continue;
				}
				const byIndex = new Map(failed.map(error => [error.index, error]));
				batch.forEach((item, i) => {
					const error = byIndex.get(i);
					item.settle(error ? new MongoServerError({ message: error.errmsg ?? "write error", code: error.code, errmsg: error.errmsg }) : null);
				});
			}
		}
		this.sending = false;
	}
}

class MongoStoreCollection<T extends BaseDoc> implements Collection<T> {
	private readonly inserts: InsertBatches;

	constructor(
		readonly name: string,
		private readonly coll: MongoCollection<Doc>,
		private readonly locks: DocumentLocks | null
	) {
		this.inserts = new InsertBatches(coll);
	}

	private duplicate(err: unknown): unknown {
		return isDuplicateKey(err) ? new DuplicateKeyError(this.name, err) : err;
	}

	async insert(doc: T): Promise<T> {
		try {
			await this.inserts.insert(doc as Doc);
			return doc;
		} catch (err) {
			throw this.duplicate(err);
		}
	}

	async findOne(filter: Filter): Promise<T | null> {
		return (await this.coll.findOne(filter)) as T | null;
	}

	async find(filter: Filter, options: FindOptions = {}): Promise<T[]> {
		return (await this.coll.find(filter, options).toArray()) as T[];
	}

	async findByIds(ids: readonly Id[]): Promise<T[]> {
		if (ids.length === 0) return [];
		// One id as an equality: FerretDB 1.24 answers an `_id: {$in: […]}` with a full scan.
		const filter = ids.length === 1 ? { _id: ids[0] } : { _id: { $in: [...ids] } };
		return (await this.coll.find(filter).toArray()) as T[];
	}

	count(filter: Filter): Promise<number> {
		return this.coll.countDocuments(filter);
	}

	async countBy(field: string, values: readonly Id[], filter: Filter = {}): Promise<Map<Id, number>> {
		const counts = new Map<Id, number>(values.map(value => [value, 0]));
		if (values.length === 0) return counts;
		const groups = this.coll.aggregate<{ _id: Id; count: number }>([
			{ $match: { ...filter, [field]: { $in: [...values] } } },
			{ $group: { _id: `$${field}`, count: { $sum: 1 } } }
		]);
		for await (const group of groups) counts.set(group._id, group.count);
		return counts;
	}

	async updateOne(filter: Filter, update: Update): Promise<boolean> {
		try {
			return (await this.updateFirst(filter, update, {})) !== null;
		} catch (err) {
			throw this.duplicate(err);
		}
	}

	async findOneAndUpdate(filter: Filter, update: Update, options: { sort?: Sort; upsert?: boolean } = {}): Promise<T | null> {
		try {
			return await this.updateFirst(filter, update, options);
		} catch (err) {
			// Two upserts raced and the other one inserted first: now there is a document to update.
			if (!options.upsert || !isDuplicateKey(err)) throw this.duplicate(err);
			try {
				return await this.updateFirst(filter, update, options);
			} catch (retryErr) {
				throw this.duplicate(retryErr);
			}
		}
	}

	async deleteOne(filter: Filter): Promise<boolean> {
		return (await this.coll.deleteOne(filter)).deletedCount > 0;
	}

	async deleteMany(filter: Filter): Promise<number> {
		return (await this.coll.deleteMany(filter)).deletedCount;
	}

	/** Updates the first match in `sort` order and returns it after the update, or null. */
	private async updateFirst(filter: Filter, update: Update, options: { sort?: Sort; upsert?: boolean }): Promise<T | null> {
		const run = (match: Filter, upsert = options.upsert) =>
			this.coll.findOneAndUpdate(match, update, { sort: options.sort, upsert, returnDocument: "after" }) as Promise<T | null>;
		if (!this.locks) return run(filter);
		for (;;) {
			const [candidate] = await this.coll.find(filter, { sort: options.sort, limit: 1, projection: { _id: 1 } }).toArray();
			// An upsert that names its _id locks that _id, so it cannot race an update of the document it creates.
			const filterId = typeof filter._id === "number" || typeof filter._id === "string" ? filter._id : undefined;
			const id = candidate?._id ?? (options.upsert ? filterId : undefined);
			if (id === undefined) return options.upsert ? run(filter) : null;
			const updated = await this.locks.hold(`${this.name}/${JSON.stringify(id)}`, () =>
				candidate ? run({ $and: [filter, { _id: id }] }, false) : run(filter)
			);
			// Null: between the find and the lock, a concurrent update made the candidate stop matching.
			if (updated || !candidate) return updated;
		}
	}
}

/**
 * Creates a collection and the indexes it lacks, at start, so that no request ever creates
 * one implicitly. Only missing indexes are created: FerretDB 1.24 panics (and drops the
 * connection) on a createIndexes that repeats existing ones, and it corrupts a collection
 * two clients create at the same moment, so a local cluster starts the first replica of
 * a service before the others.
 */
async function ensureCollection(db: Db, name: string, indexes: IndexSpec[]): Promise<MongoCollection<Doc>> {
	if (!(await db.listCollections({ name }, { nameOnly: true }).hasNext()))
		await db.createCollection(name).catch(err => {
			if ((err as { code?: number }).code !== NAMESPACE_EXISTS) throw err;
		});
	const coll = db.collection<Doc>(name);
	const keyOf = (fields: string[]) => fields.join(",");
	const existing = new Set((await coll.listIndexes().toArray()).map(index => keyOf(Object.keys(index.key))));
	const missing = indexes.filter(index => !existing.has(keyOf(index.fields)));
	if (missing.length > 0)
		await coll.createIndexes(
			missing.map(index => ({ key: Object.fromEntries(index.fields.map(field => [field, 1 as const])), unique: index.unique ?? false }))
		);
	return coll;
}

export class MongoStore implements DocumentStore {
	private sequences: MongoStoreCollection<{ _id: string; value: number }> | null = null;
	/** Values of block sequences taken and not handed out yet, and the reservation on its way. */
	private readonly blocks = new Map<string, { next: number; end: number; taking: Promise<void> | null }>();

	private constructor(
		private readonly client: MongoClient,
		private readonly db: Db,
		private readonly locks: DocumentLocks | null
	) {}

	/**
	 * Connects to database `dbName` at `uri`, waiting up to `connectTimeoutMs` for the
	 * server (the driver keeps retrying meanwhile); then fails naming the host, never the
	 * credentials. Detects FerretDB 1.x, whose updates need `DocumentLocks`.
	 */
	static async connect(
		uri: string,
		dbName: string,
		{ connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS }: { connectTimeoutMs?: number } = {}
	): Promise<MongoStore> {
		const client = new MongoClient(uri, { serverSelectionTimeoutMS: connectTimeoutMs });
		try {
			await client.connect();
			const db = client.db(dbName);
			const { ferretdbVersion } = await db.command({ buildInfo: 1 });
			const atomicUpdates = !(typeof ferretdbVersion === "string" && ferretdbVersion.startsWith("v1."));
			await ensureCollection(db, "_sequences", []);
			if (!atomicUpdates) await ensureCollection(db, "_locks", []);
			return new MongoStore(client, db, atomicUpdates ? null : new DocumentLocks(db.collection<LockDoc>("_locks")));
		} catch (err) {
			await client.close().catch(() => {});
			const problem = err instanceof MongoServerSelectionError ? `did not answer within ${connectTimeoutMs} ms` : "could not be used";
			throw new Error(`MongoDB at ${hostsOf(uri)} ${problem}: ${(err as Error).message}`, { cause: err });
		}
	}

	async collection<T extends BaseDoc>(name: string, indexes: IndexSpec[] = []): Promise<Collection<T>> {
		const coll = await ensureCollection(this.db, name, indexes);
		return new MongoStoreCollection<T>(name, coll, this.locks);
	}

	async nextId(sequence: string, block = 1): Promise<number> {
		if (block <= 1) return this.take(sequence, 1);
		let state = this.blocks.get(sequence);
		if (!state) this.blocks.set(sequence, (state = { next: 1, end: 0, taking: null }));
		while (state.next > state.end) {
			state.taking ??= this.take(sequence, block).then(
				last => {
					state!.next = last - block + 1;
					state!.end = last;
					state!.taking = null;
				},
				err => {
					state!.taking = null;
					throw err;
				}
			);
			await state.taking;
		}
		return state.next++;
	}

	/** Advances the sequence by `count`; the last value taken. */
	private async take(sequence: string, count: number): Promise<number> {
		this.sequences ??= new MongoStoreCollection("_sequences", this.db.collection<Doc>("_sequences"), this.locks);
		const doc = await this.sequences.findOneAndUpdate({ _id: sequence }, { $inc: { value: count } }, { upsert: true });
		return (doc as { value: number }).value;
	}

	async ping(): Promise<void> {
		await this.db.command({ ping: 1 });
	}

	async close(): Promise<void> {
		await this.client.close();
	}
}
