/**
 * The document-store contract every service uses, with two implementations:
 * `NedbStore` (embedded, on disk under DATA_DIR) and `MongoStore` (the official driver).
 * The query and update language is the subset of MongoDB's both speak:
 * equality, $in, $nin, $ne, $lt, $lte, $gt, $gte, $or, $exists; updates $set, $unset, $inc.
 * The same contract suite (test/contract/store.contract.ts) runs on both.
 */

export type Id = number | string;

export interface BaseDoc {
	_id: Id;
}

export type Filter = Record<string, unknown>;

export interface Update {
	$set?: Record<string, unknown>;
	$unset?: Record<string, true | 1 | "">;
	$inc?: Record<string, number>;
}

export type Sort = Record<string, 1 | -1>;

export interface FindOptions {
	sort?: Sort;
	limit?: number;
	skip?: number;
}

/** An index over one or more fields (ascending), optionally unique. */
export interface IndexSpec {
	fields: string[];
	unique?: boolean;
}

export interface Collection<T extends BaseDoc> {
	readonly name: string;
	/** Inserts one document; throws DuplicateKeyError when a unique index refuses it. */
	insert(doc: T): Promise<T>;
	findOne(filter: Filter): Promise<T | null>;
	find(filter: Filter, options?: FindOptions): Promise<T[]>;
	/** The documents with these ids, in no particular order; missing ids are absent. */
	findByIds(ids: readonly Id[]): Promise<T[]>;
	count(filter: Filter): Promise<number>;
	/** How many documents match `filter` for each value of `field` in `values` (0 when none). */
	countBy(field: string, values: readonly Id[], filter?: Filter): Promise<Map<Id, number>>;
	/** Atomically applies `update` to one matching document; true when one was changed. */
	updateOne(filter: Filter, update: Update): Promise<boolean>;
	/**
	 * Atomically updates the first document matching `filter` in `sort` order and returns
	 * it as it is after the update, or null when none matched. With `upsert`, a missing
	 * document is created from the filter's equalities and the update.
	 */
	findOneAndUpdate(filter: Filter, update: Update, options?: { sort?: Sort; upsert?: boolean }): Promise<T | null>;
	/** Deletes one matching document; true when one was deleted. */
	deleteOne(filter: Filter): Promise<boolean>;
	deleteMany(filter: Filter): Promise<number>;
}

export interface DocumentStore {
	/** Opens (creating when missing) a collection with these indexes. */
	collection<T extends BaseDoc>(name: string, indexes?: IndexSpec[]): Promise<Collection<T>>;
	/**
	 * The next value of a named sequence: 1, 2, 3, … unique across processes sharing the store.
	 * With `block` > 1 a process takes that many values from the store at once and hands them
	 * out in order (one store update per block; values left when it stops are skipped).
	 */
	nextId(sequence: string, block?: number): Promise<number>;
	/** Throws when the store cannot be reached (readiness probes). */
	ping(): Promise<void>;
	close(): Promise<void>;
}

/** A unique index refused a write. */
export class DuplicateKeyError extends Error {
	override name = "DuplicateKeyError";
	constructor(
		readonly collection: string,
		cause?: unknown
	) {
		super(`duplicate key in ${collection}`, { cause });
	}
}
