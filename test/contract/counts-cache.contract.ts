/**
 * The count cache, on any CountStore: counts come from the owner's data, are cached per
 * id, are read in one batch, and an invalidation by one replica is seen by every other.
 */
import { CountsCache, type CountStore } from "../../lib/counts-cache";

export function describeCountsCacheContract(name: string, open: () => CountStore, close: () => Promise<void> = async () => {}) {
	describe(`CountsCache on ${name}`, () => {
		let truth: Map<number, number>;
		let computed: number[][];
		let storeA: CountStore;
		let storeB: CountStore;
		const prefix = `test${Math.random().toString(36).slice(2, 8)}.likes`;
		const cacheOn = (store: CountStore) =>
			new CountsCache<{ likes: number }>(
				prefix,
				async ids => {
					computed.push([...ids]);
					return new Map(ids.map(id => [id, { likes: truth.get(id) ?? 0 }]));
				},
				store,
				60
			);

		beforeEach(() => {
			truth = new Map([
				[1, 10],
				[2, 20]
			]);
			computed = [];
			storeA = open();
			storeB = open();
		});
		afterAll(close);

		test("a miss is computed once for all missing ids, then served from the cache", async () => {
			const cache = cacheOn(storeA);
			expect(await cache.get([1, 2, 3])).toEqual(new Map([[1, { likes: 10 }], [2, { likes: 20 }], [3, { likes: 0 }]]));
			expect(computed).toEqual([[1, 2, 3]]);
			truth.set(1, 11);
			expect((await cache.get([1, 2])).get(1)).toEqual({ likes: 10 });
			expect(computed).toHaveLength(1);
			expect((await cache.get([2, 4])).get(4)).toEqual({ likes: 0 });
			expect(computed).toEqual([[1, 2, 3], [4]]);
		});

		test("an invalidation through one replica is seen at once by another", async () => {
			const replicaA = cacheOn(storeA);
			const replicaB = cacheOn(storeB);
			await replicaA.get([1, 2]);
			expect((await replicaB.get([1])).get(1)).toEqual({ likes: 10 });
			truth.set(1, 12);
			await replicaA.invalidate([1]);
			expect((await replicaB.get([1, 2])).get(1)).toEqual({ likes: 12 });
			expect(computed.at(-1)).toEqual([1]);
		});

		test("a stale count stored by a racing reader is gone after the second delete", async () => {
			const cache = cacheOn(storeA);
			await cache.invalidate([2]);
			// A reader that counted before the write stores its old count after the first delete.
			await storeA.setMany([[`${prefix}:2`, { likes: 20 }]], 60);
			truth.set(2, 21);
			await new Promise(resolve => setTimeout(resolve, 1200));
			expect((await cache.get([2])).get(2)).toEqual({ likes: 21 });
		});
	});
}
