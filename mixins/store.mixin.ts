/**
 * Gives a service its own document store and opens its collections with their indexes
 * before the service starts: `this.collections.<name>` in every action.
 */
import type { Logger, ServiceSchema } from "moleculer";
import { healthOf } from "../lib/health";
import { type BaseDoc, type Collection, type DocumentStore, type IndexSpec, openStore } from "../lib/store";

export interface StoreVars<C> {
	store: DocumentStore;
	collections: C;
}

export interface StoreMixinOptions {
	/**
	 * Runs once the store is open, before the indexes are made: brings documents written by
	 * an earlier version to what the indexes need (e.g. fills a new unique field). Must be
	 * idempotent: every replica runs it when it starts.
	 */
	migrate?: (store: DocumentStore, logger: Logger) => Promise<void>;
}

/** @param indexes the collections this service owns, each with its indexes */
export function StoreMixin<C extends Record<string, Collection<BaseDoc>>>(
	indexes: Record<keyof C, IndexSpec[]>,
	options: StoreMixinOptions = {}
): Partial<ServiceSchema> {
	return {
		async started() {
			const store = await openStore(this.name);
			try {
				await options.migrate?.(store, this.logger);
				const collections: Record<string, Collection<BaseDoc>> = {};
				for (const [name, specs] of Object.entries<IndexSpec[]>(indexes)) collections[name] = await store.collection(name, specs);
				Object.assign(this, { store, collections });
			} catch (err) {
				await store.close().catch(() => undefined);
				throw err;
			}
			healthOf(this.broker).register(`store:${this.name}`, () => store.ping());
		},
		async stopped() {
			await (this as unknown as StoreVars<C>).store?.close();
		}
	};
}
