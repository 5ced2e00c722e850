/**
 * Embedded document store: @seald-io/nedb datastores (MongoDB query language, unique and
 * compound indexes, append-only files compacted on load) under one directory per service.
 * Nedb runs every operation of a datastore through one queue, so single operations are
 * atomic; `findOneAndUpdate` adds a compare-and-set loop on top of that. A process holds its
 * directory alone (lib/store/lock.ts): a second one on the same directory refuses to start.
 */
import fs from "node:fs";
import path from "node:path";
import Datastore from "@seald-io/nedb";
import { type DirectoryLock, lockDirectory } from "./lock";
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

/** How often each datafile is compacted while running (nedb appends every change). */
const COMPACTION_INTERVAL_MS = 10 * 60 * 1000;

function isUniqueViolation(err: unknown): boolean {
	return (err as { errorType?: string } | null)?.errorType === "uniqueViolated";
}

class NedbCollection<T extends BaseDoc> implements Collection<T> {
	constructor(
		readonly name: string,
		private readonly db: Datastore<T>
	) {}

	async insert(doc: T): Promise<T> {
		try {
			return (await this.db.insertAsync(doc)) as T;
		} catch (err) {
			if (isUniqueViolation(err)) throw new DuplicateKeyError(this.name, err);
			throw err;
		}
	}

	async findOne(filter: Filter): Promise<T | null> {
		return ((await this.db.findOneAsync(filter)) as T | null) ?? null;
	}

	async find(filter: Filter, options: FindOptions = {}): Promise<T[]> {
		let cursor = this.db.findAsync(filter);
		if (options.sort) cursor = cursor.sort(options.sort);
		if (options.skip) cursor = cursor.skip(options.skip);
		if (options.limit) cursor = cursor.limit(options.limit);
		return (await cursor) as T[];
	}

	async findByIds(ids: readonly Id[]): Promise<T[]> {
		if (ids.length === 0) return [];
		return (await this.db.findAsync({ _id: { $in: [...ids] } })) as T[];
	}

	count(filter: Filter): Promise<number> {
		return this.db.countAsync(filter);
	}

	async countBy(field: string, values: readonly Id[], filter: Filter = {}): Promise<Map<Id, number>> {
		const counts = new Map<Id, number>(values.map(value => [value, 0]));
		if (values.length === 0) return counts;
		const docs = await this.db.findAsync({ ...filter, [field]: { $in: [...values] } }, { [field]: 1, _id: 0 });
		for (const doc of docs as unknown as Record<string, Id>[]) counts.set(doc[field], (counts.get(doc[field]) ?? 0) + 1);
		return counts;
	}

	async updateOne(filter: Filter, update: Update): Promise<boolean> {
		try {
			const { numAffected } = await this.db.updateAsync(filter, update as never, { multi: false });
			return numAffected > 0;
		} catch (err) {
			if (isUniqueViolation(err)) throw new DuplicateKeyError(this.name, err);
			throw err;
		}
	}

	async findOneAndUpdate(filter: Filter, update: Update, options: { sort?: Sort; upsert?: boolean } = {}): Promise<T | null> {
		for (;;) {
			const [candidate] = await this.find(filter, { sort: options.sort, limit: 1 });
			if (!candidate) {
				if (!options.upsert) return null;
				try {
					const result = await this.db.updateAsync(filter, update as never, { upsert: true, returnUpdatedDocs: true });
					return (result.affectedDocuments as T | null) ?? null;
				} catch (err) {
					// Another caller created it first: update that one instead.
					if (isUniqueViolation(err)) continue;
					throw err;
				}
			}
			const result = await this.db.updateAsync({ ...filter, _id: candidate._id }, update as never, {
				multi: false,
				returnUpdatedDocs: true
			});
			// Zero means a concurrent update made the candidate stop matching: pick again.
			if (result.numAffected > 0) return result.affectedDocuments as T;
		}
	}

	async deleteOne(filter: Filter): Promise<boolean> {
		return (await this.db.removeAsync(filter, { multi: false })) > 0;
	}

	deleteMany(filter: Filter): Promise<number> {
		return this.db.removeAsync(filter, { multi: true });
	}
}

export class NedbStore implements DocumentStore {
	/**
	 * Open datastores by collection name (the promise, so that concurrent first calls share one
	 * open): a collection opened again shares its datastore, as there must be one per file.
	 */
	private readonly datastores = new Map<string, Promise<Datastore>>();
	private lock: DirectoryLock | null = null;

	/**
	 * A store without the directory lock (tests that open one directory twice on purpose);
	 * processes use `NedbStore.open`.
	 * @param dir directory holding this store's datafiles; null keeps everything in memory
	 */
	constructor(private readonly dir: string | null) {}

	/** The store of `dir`, locked for this process until `close` (lib/store/lock.ts). */
	static async open(dir: string): Promise<NedbStore> {
		const store = new NedbStore(dir);
		store.lock = await lockDirectory(dir);
		return store;
	}

	private open<T>(name: string): Promise<Datastore<T>> {
		let opening = this.datastores.get(name);
		if (!opening) {
			opening = (async () => {
				if (this.dir) fs.mkdirSync(this.dir, { recursive: true });
				const db = new Datastore(this.dir ? { filename: path.join(this.dir, `${name}.db`) } : { inMemoryOnly: true });
				await db.loadDatabaseAsync();
				if (this.dir) db.setAutocompactionInterval(COMPACTION_INTERVAL_MS);
				return db;
			})();
			this.datastores.set(name, opening);
		}
		return opening as Promise<Datastore<T>>;
	}

	async collection<T extends BaseDoc>(name: string, indexes: IndexSpec[] = []): Promise<Collection<T>> {
		const db = await this.open<T>(name);
		for (const index of indexes)
			await db.ensureIndexAsync({
				fieldName: index.fields.length === 1 ? index.fields[0] : index.fields,
				unique: index.unique ?? false
			});
		return new NedbCollection<T>(name, db);
	}

	async nextId(sequence: string): Promise<number> {
		const sequences = await this.open<{ _id: string; value: number }>("_sequences");
		const { affectedDocuments } = await sequences.updateAsync(
			{ _id: sequence },
			{ $inc: { value: 1 } },
			{ upsert: true, returnUpdatedDocs: true }
		);
		return (affectedDocuments as { value: number }).value;
	}

	async ping(): Promise<void> {
		if (this.dir) await fs.promises.access(this.dir, fs.constants.W_OK);
	}

	async close(): Promise<void> {
		const opened = [...this.datastores.values()];
		this.datastores.clear();
		try {
			for (const opening of await Promise.allSettled(opened)) {
				if (opening.status === "rejected") continue;
				const db = opening.value;
				db.stopAutocompaction();
				if (this.dir) await db.compactDatafileAsync();
			}
		} finally {
			await this.lock?.release();
			this.lock = null;
		}
	}
}
