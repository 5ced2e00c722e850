/**
 * Counts, flags and change stamps on a broker's cacher (Moleculer's MemoryLRU embedded,
 * its Redis cacher in a cluster): counts come from the owner's data, are cached per id
 * and read in one batch; an invalidation by one replica is seen by every other, and so is
 * the change stamp it renews.
 */
import { ServiceBroker } from "moleculer";
import { CountsCache, RECOUNT_GRACE_MS, STAMP, ViewerFlags, invalidate, readStamps } from "../../lib/counts-cache";

/** `replica()` gives a broker as one more process would have it (its own connection to a shared cache, or the same process). */
export function describeCountsCacheContract(name: string, replica: () => ServiceBroker) {
	describe(`counts on ${name}`, () => {
		let truth: Map<number, number>;
		let computed: number[][];
		const brokers: ServiceBroker[] = [];
		const prefix = `test${Math.random().toString(36).slice(2, 8)}.likeFacts`;
		const open = () => {
			const broker = replica();
			brokers.push(broker);
			return broker;
		};
		const cacheOn = (broker: ServiceBroker) =>
			new CountsCache<{ likes: number }>(
				broker.cacher!,
				prefix,
				async ids => {
					computed.push([...ids]);
					return new Map(ids.flatMap(id => (truth.has(id) ? [[id, { likes: truth.get(id)! }] as const] : [])));
				},
				{ likes: 0 },
				60
			);

		beforeEach(() => {
			truth = new Map([
				[1, 10],
				[2, 20]
			]);
			computed = [];
		});
		afterAll(() => Promise.all(brokers.map(broker => broker.stop())));

		test("a miss is computed once for all missing ids (an id the owner does not count is empty), then served from the cache", async () => {
			const cache = cacheOn(open());
			expect(await cache.facts([1, 2, 3])).toEqual({ 1: { likes: 10 }, 2: { likes: 20 }, 3: { likes: 0 } });
			expect(computed).toEqual([[1, 2, 3]]);
			truth.set(1, 11);
			// The cache's writes are not awaited by the reader: let them land.
			await new Promise(resolve => setTimeout(resolve, 20));
			expect((await cache.get([1, 2])).get(1)).toEqual({ likes: 10 });
			expect(computed).toHaveLength(1);
			expect((await cache.get([2, 4])).get(4)).toEqual({ likes: 0 });
			expect(computed).toEqual([[1, 2, 3], [4]]);
		});

		test("an invalidation through one replica is seen at once by another, with the stamps it renews", async () => {
			const [a, b] = [open(), open()];
			const replicaA = cacheOn(a);
			const replicaB = cacheOn(b);
			await replicaA.get([1, 2]);
			await new Promise(resolve => setTimeout(resolve, 20));
			expect((await replicaB.get([1])).get(1)).toEqual({ likes: 10 });
			await readStamps(b.cacher!, [STAMP.videos, STAMP.users]);
			await new Promise(resolve => setTimeout(resolve, 20));
			const before = await readStamps(b.cacher!, [STAMP.videos, STAMP.users]);
			truth.set(1, 12);
			await invalidate(a, [replicaA.key(1)], [STAMP.videos]);
			expect((await replicaB.get([1, 2])).get(1)).toEqual({ likes: 12 });
			expect(computed.at(-1)).toEqual([1]);
			const after = await readStamps(b.cacher!, [STAMP.videos, STAMP.users]);
			expect(after[0]).not.toBe(before[0]);
			expect(after[1]).toBe(before[1]);
		});

		test("a stamp never renewed reads as unknown once, then as one value for every replica until it changes", async () => {
			const [a, b] = [open(), open()];
			const stamp = `stamp:test:${Math.random()}`;
			expect(await readStamps(a.cacher!, [stamp])).toEqual([null]);
			await new Promise(resolve => setTimeout(resolve, 20));
			const [first] = await readStamps(a.cacher!, [stamp]);
			expect(first).toEqual(expect.any(String));
			expect(await readStamps(b.cacher!, [stamp])).toEqual([first]);
			await invalidate(b, [], [stamp]);
			const [renewed] = await readStamps(a.cacher!, [stamp]);
			expect(renewed).not.toBe(first);
		});

		test("a viewer's flag change renews that viewer's stamp and no other, and the flag is recounted", async () => {
			const [a, b] = [open(), open()];
			let liked: number[] = [];
			const flagsOn = (broker: ServiceBroker) => new ViewerFlags(broker.cacher!, `${prefix}-liked`, "is_liked", async () => liked, 60);
			const viewer = 1_000_000 + Math.floor(Math.random() * 1_000_000);
			expect(await flagsOn(a).facts(viewer, [5, 6])).toEqual({ 5: { is_liked: false }, 6: { is_liked: false } });
			await readStamps(b.cacher!, [STAMP.viewer(viewer), STAMP.viewer(viewer + 1)]);
			await new Promise(resolve => setTimeout(resolve, 20));
			const [mine, other] = await readStamps(b.cacher!, [STAMP.viewer(viewer), STAMP.viewer(viewer + 1)]);
			expect([mine, other]).toEqual([expect.any(String), expect.any(String)]);
			liked = [5];
			await invalidate(a, [flagsOn(a).key(viewer, 5)], [STAMP.viewer(viewer)]);
			const [mineAfter, otherAfter] = await readStamps(b.cacher!, [STAMP.viewer(viewer), STAMP.viewer(viewer + 1)]);
			expect(mineAfter).not.toBe(mine);
			expect(otherAfter).toBe(other);
			expect(await flagsOn(b).facts(viewer, [5, 6])).toEqual({ 5: { is_liked: true }, 6: { is_liked: false } });
		});

		test("a stale count stored by a racing reader is gone after the second invalidation, and the stamp renewed again", async () => {
			const broker = open();
			const cache = cacheOn(broker);
			await invalidate(broker, [cache.key(2)], [STAMP.videos]);
			const [renewed] = await readStamps(broker.cacher!, [STAMP.videos]);
			// A reader that counted before the write stores its old count after the first delete.
			await broker.cacher!.set(cache.key(2), { likes: 20 }, 60);
			truth.set(2, 21);
			await new Promise(resolve => setTimeout(resolve, 2 * RECOUNT_GRACE_MS + 300));
			expect((await cache.get([2])).get(2)).toEqual({ likes: 21 });
			const [again] = await readStamps(broker.cacher!, [STAMP.videos]);
			expect(again).not.toBe(renewed);
		});
	});
}
