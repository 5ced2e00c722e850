/**
 * Gives a service its own document store and opens its collections with their indexes
 * before the service starts: `this.collections.<name>` in every action.
 */
import type { ServiceSchema } from "moleculer";
import { healthOf } from "../lib/health";
import { type BaseDoc, type Collection, type DocumentStore, type IndexSpec, openStore } from "../lib/store";

export interface StoreVars<C> {
	store: DocumentStore;
	collections: C;
}

/** @param indexes the collections this service owns, each with its indexes */
export function StoreMixin<C extends Record<string, Collection<BaseDoc>>>(
	indexes: Record<keyof C, IndexSpec[]>
): Partial<ServiceSchema> {
	return {
		async started() {
			const store = await openStore(this.name);
			const collections: Record<string, Collection<BaseDoc>> = {};
			for (const [name, specs] of Object.entries<IndexSpec[]>(indexes)) collections[name] = await store.collection(name, specs);
			Object.assign(this, { store, collections });
			healthOf(this.broker).register(`store:${this.name}`, () => store.ping());
		},
		async stopped() {
			await (this as unknown as StoreVars<C>).store?.close();
		}
	};
}
