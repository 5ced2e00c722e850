/**
 * The count cache, on any CountStore: counts come from the owner's data, are cached per
 * id, are read in one batch, and an invalidation by one replica is seen by every other,
 * as is the change stamp it renews.
 */
import { CountsCache, type CountStore, STAMP, ViewerFlags } from "../../lib/counts-cache";

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

		test("every invalidation renews its stamp to a value never seen before, seen at once through another replica", async () => {
			const seen = new Set((await storeB.stamps([STAMP.counts])).filter(Boolean));
			for (let i = 0; i < 3; i++) {
				await cacheOn(storeA).invalidate([1]);
				const [stamp] = await storeB.stamps([STAMP.counts]);
				expect(stamp).toEqual(expect.any(String));
				expect(seen.has(stamp)).toBe(false);
				seen.add(stamp);
			}
		});

		test("a viewer's flag change renews that viewer's stamp and no other", async () => {
			const flags = new ViewerFlags(`${prefix}-liked`, async () => [], storeA, 60);
			const viewer = 1_000_000 + Math.floor(Math.random() * 1_000_000);
			const [mine, other] = await storeB.stamps([STAMP.viewer(viewer), STAMP.viewer(viewer + 1)]);
			await flags.invalidate(viewer, [5]);
			const [mineAfter, otherAfter] = await storeB.stamps([STAMP.viewer(viewer), STAMP.viewer(viewer + 1)]);
			expect(mineAfter).toEqual(expect.any(String));
			expect(mineAfter).not.toBe(mine);
			expect(otherAfter).toBe(other);
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
