/**
 * The read model (lib/read-model.ts) on a broker with Moleculer's MemoryLRU cacher and small
 * stub providers: what is kept while the stamps hold, what a write ends, and the feed's
 * pages (objects, or ready JSON bytes for a caller that asks) as a viewer sees them.
 */
import { type Context, ServiceBroker } from "moleculer";
import { STAMP, invalidate, readStamps } from "../../lib/counts-cache";
import { type FactsParams, gatherFacts } from "../../lib/facts";
import { JSON_TEXT_HEADER, type JsonText } from "../../lib/json-text";
import { FeedAnswers, FlagsCopy, Snapshot, StampedCopies, UsersCopy, type VideoRecord, VideosReadModel, feedBefore } from "../../lib/read-model";
import type { User, Video } from "../../lib/wire";

const broker = new ServiceBroker({ logger: false, metrics: false, cacher: { type: "MemoryLRU", options: { max: 10_000, clone: false } } });
/** Calls per provider action, and what the providers answer. */
const calls: Record<string, number> = {};
const likes = new Map<number, number>([[1, 5]]);
const liked = new Set<string>(["7:2"]);
const followed = new Set<string>(["7:100"]);
let favoritesDown = false;
let flagsDown = false;

const count = (name: string) => void (calls[name] = (calls[name] ?? 0) + 1);
broker.createService({
	name: "likes",
	actions: {
		videoFacts(ctx: Context<FactsParams>) {
			count("likes.videoFacts");
			if (favoritesDown) throw Object.assign(new Error("down"), { code: 503, retryable: true });
			return Object.fromEntries(ctx.params.ids.map(id => [id, { favorite_count: likes.get(id) ?? 0 }]));
		},
		videoFlags(ctx: Context<Required<FactsParams>>) {
			count("likes.videoFlags");
			if (flagsDown) throw Object.assign(new Error("down"), { code: 503, retryable: true });
			return Object.fromEntries(ctx.params.ids.map(id => [id, { is_favorite: liked.has(`${ctx.params.viewerId}:${id}`) }]));
		},
		userFlags(ctx: Context<Required<FactsParams>>) {
			count("likes.userFlags");
			return Object.fromEntries(ctx.params.ids.map(id => [id, { is_follow: followed.has(`${ctx.params.viewerId}:${id}`) }]));
		}
	}
});
/** users.getMany as the users service answers it: counts per user, `stale` when a provider did not answer. */
const followers = new Map<number, number>([[100, 3]]);
let usersStale = false;
broker.createService({
	name: "users",
	actions: {
		getMany(ctx: Context<{ ids: number[] }>) {
			count("users.getMany");
			const users = Object.fromEntries(ctx.params.ids.filter(id => id < 1000).map(id => [id, { id, name: `user ${id}`, follower_count: followers.get(id) ?? 0 }]));
			return usersStale ? { users, stale: true } : { users };
		}
	}
});
/** A caller with a context of its own, as a service's action is. */
broker.createService({
	name: "probe",
	actions: {
		run(ctx: Context<{ job: string }>) {
			return jobs.get(ctx.params.job)!(ctx);
		}
	}
});
const jobs = new Map<string, (ctx: Context) => Promise<unknown>>();
let jobId = 0;
/** Runs `job` inside an action call (with `headers`), as a service would. */
function within<T>(job: (ctx: Context) => Promise<T>, headers?: Record<string, unknown>): Promise<T> {
	const name = `job${++jobId}`;
	jobs.set(name, job as (ctx: Context) => Promise<unknown>);
	return broker.call("probe.run", { job: name }, headers ? { headers } : {});
}

beforeAll(() => broker.start());
afterAll(() => broker.stop());
beforeEach(() => {
	for (const key of Object.keys(calls)) delete calls[key];
	favoritesDown = false;
	flagsDown = false;
	usersStale = false;
});

describe("Snapshot", () => {
	test("one value per stamps, built once for every concurrent request, kept until a stamp changes", async () => {
		const snapshot = new Snapshot<number>(60_000);
		let builds = 0;
		const build = async () => ({ value: ++builds, stale: false });
		const fresh = (value: number) => ({ value, fresh: true });
		expect(await Promise.all([snapshot.get(["a", "b"], build), snapshot.get(["a", "b"], build)])).toEqual([fresh(1), fresh(1)]);
		expect(await snapshot.get(["a", "b"], build)).toEqual(fresh(1));
		expect(await snapshot.get(["a", "c"], build)).toEqual(fresh(2));
		expect(builds).toBe(2);
	});

	test("an unknown stamp keeps nothing; a stale build is kept for a moment only; a failed build leaves the last value; none of them is fresh", async () => {
		const snapshot = new Snapshot<string>(60_000);
		let next = "first";
		const build = async () => ({ value: next, stale: false });
		expect(await snapshot.get(["a", null], build)).toEqual({ value: "first", fresh: false });
		expect(snapshot.peek()).toBeUndefined();
		expect(await snapshot.get(["a"], build)).toEqual({ value: "first", fresh: true });
		next = "second";
		await expect(snapshot.get(["b"], async () => Promise.reject(new Error("owner down")))).resolves.toEqual({ value: "first", fresh: false });
		expect(await snapshot.get(["c"], async () => ({ value: "stale", stale: true }))).toEqual({ value: "stale", fresh: false });
		expect(await snapshot.get(["c"], build)).toEqual({ value: "stale", fresh: false });
		await new Promise(resolve => setTimeout(resolve, 1100));
		expect(await snapshot.get(["c"], build)).toEqual({ value: "second", fresh: true });
	});
});

test("StampedCopies keep values per id while the stamp holds, and only complete ones", async () => {
	const copies = new StampedCopies<{ n: number }>(100);
	const built: number[][] = [];
	const build = (stale: boolean) => async (ids: number[]) => {
		built.push(ids);
		return { values: new Map(ids.map(id => [id, { n: id * 10 }])), stale };
	};
	expect(await copies.get("s1", [1, 2], build(false))).toEqual(new Map([[1, { n: 10 }], [2, { n: 20 }]]));
	expect(await copies.get("s1", [2, 3], build(false))).toEqual(new Map([[2, { n: 20 }], [3, { n: 30 }]]));
	expect(built).toEqual([[1, 2], [3]]);
	await copies.get("s2", [1], build(true));
	await copies.get("s2", [1], build(false));
	expect(built).toEqual([[1, 2], [3], [1], [1]]);
});

test("UsersCopy asks users.getMany only for users not seen since stamp:users changed, keeps no stale answer, leaves unknown ids out", async () => {
	const copy = new UsersCopy(broker.cacher!);
	await invalidate(broker, [], [STAMP.users]);
	const first = await within(ctx => copy.get(ctx, [100, 101, 5000]));
	expect([...first.keys()]).toEqual([100, 101]);
	expect(first.get(100)).toMatchObject({ id: 100, follower_count: 3 });
	await within(ctx => copy.get(ctx, [100, 101]));
	expect(calls["users.getMany"]).toBe(1);
	followers.set(100, 4);
	await invalidate(broker, [], [STAMP.users]);
	expect((await within(ctx => copy.get(ctx, [100]))).get(100)).toMatchObject({ follower_count: 4 });
	expect(calls["users.getMany"]).toBe(2);
	usersStale = true;
	await invalidate(broker, [], [STAMP.users]);
	await within(ctx => copy.get(ctx, [100]));
	usersStale = false;
	await within(ctx => copy.get(ctx, [100]));
	expect(calls["users.getMany"]).toBe(4);
});

test("FlagsCopy asks the providers only for ids it has not seen under the viewer's stamp, and numbers equal flag sets alike", async () => {
	const copy = new FlagsCopy<Video>(["likes.videoFlags"]);
	const { flags: first, stale } = await within(ctx => copy.get(ctx, 7, "v1", [1, 2, 3]));
	expect(stale).toBe(false);
	expect([...first].map(([id, set]) => [id, set.values])).toEqual([
		[1, { is_favorite: false }],
		[2, { is_favorite: true }],
		[3, { is_favorite: false }]
	]);
	expect(first.get(1)!.code).toBe(first.get(3)!.code);
	expect(first.get(1)!.code).not.toBe(first.get(2)!.code);
	expect(copy.known(7, "v1", [1, 2, 3])).toBe(first);
	await within(ctx => copy.get(ctx, 7, "v1", [3, 4]));
	expect(calls["likes.videoFlags"]).toBe(2);
	expect(copy.known(7, "v2", [1])).toBeUndefined();
	expect(copy.known(7, null, [1])).toBeUndefined();
});

test("gatherFacts serves a provider's cached answers when it cannot answer, and says so", async () => {
	await broker.cacher!.set("likes.videoFacts:1", { favorite_count: 4 }, 60);
	favoritesDown = true;
	const gathered = await within(ctx => gatherFacts<Video>(ctx, ["likes.videoFacts"], { ids: [1, 2] }));
	expect(gathered).toEqual({ facts: { 1: { favorite_count: 4 } }, stale: true });
});

describe("VideosReadModel", () => {
	interface Doc extends VideoRecord {
		title: string;
	}
	const docs: Doc[] = Array.from({ length: 5 }, (_, i) => ({ _id: i + 1, authorId: 100 + (i % 2), publishedAt: 1000 + i, title: `video ${i + 1}` }));
	const newestFirst = () => [...docs].sort((a, b) => b.publishedAt! - a.publishedAt!);
	const author = (id: number): User => ({
		id,
		name: `author ${id}`,
		follow_count: 0,
		follower_count: 0,
		is_follow: false,
		avatar: "",
		background_image: "",
		signature: "",
		total_favorited: 0,
		work_count: 0,
		favorite_count: 0
	});
	let assembled = 0;
	const model = new VideosReadModel<Doc>(
		broker.cacher!,
		{
			newest: async limit => newestFirst().slice(0, limit),
			before: async (time, limit) => newestFirst().filter(doc => doc.publishedAt! < time).slice(0, limit),
			async assemble(ctx, list) {
				assembled++;
				const { facts, stale } = await gatherFacts<Video>(ctx, ["likes.videoFacts"], { ids: list.map(doc => doc._id) });
				return {
					stale,
					videos: list.map(doc => ({
						id: doc._id,
						author: author(doc.authorId),
						play_url: `http://media/${doc._id}.mp4`,
						cover_url: `http://media/${doc._id}.jpg`,
						favorite_count: 0,
						comment_count: 0,
						is_favorite: false,
						title: doc.title,
						...facts[doc._id]
					}))
				};
			}
		},
		{ pageSize: 2, headPages: 2, headTtlMs: 60_000, videoFlagProviders: ["likes.videoFlags"], authorFlagProviders: ["likes.userFlags"] }
	);
	const page = (before: number, viewerId?: number, headers?: Record<string, unknown>) => within(ctx => model.feed(ctx, before, viewerId), headers);

	test("pages of the head as the viewer sees them, with no call while nothing changes; older pages by query", async () => {
		await invalidate(broker, [], [STAMP.videos, STAMP.users, STAMP.viewer(7)]);
		const first = await page(Date.now(), 7);
		expect((first.video_list as Video[]).map(video => [video.id, video.is_favorite, video.author.is_follow, video.favorite_count])).toEqual([
			[5, false, true, 0],
			[4, false, false, 0]
		]);
		expect(first.next_time).toBe(1003);
		const second = await page(first.next_time, 7);
		expect((second.video_list as Video[]).map(video => [video.id, video.is_favorite])).toEqual([
			[3, false],
			[2, true]
		]);
		expect(assembled).toBe(1);
		const callsBefore = { ...calls };
		await page(Date.now(), 7);
		expect(calls).toEqual(callsBefore);
		// Older than the head's four: assembled for that request.
		const last = await page(1001, 7);
		expect((last.video_list as Video[]).map(video => [video.id, video.favorite_count])).toEqual([[1, 5]]);
		expect(assembled).toBe(2);
		expect(await page(1000, 7)).toEqual({ video_list: [], next_time: expect.any(Number) });
	});

	test("a count change ends the head; a viewer's own change ends only that viewer's flags", async () => {
		likes.set(5, 9);
		await invalidate(broker, ["likes.videoFacts:5"], [STAMP.videos]);
		const after = await page(Date.now(), 7);
		expect((after.video_list as Video[])[0]).toMatchObject({ id: 5, favorite_count: 9 });
		expect(calls["likes.videoFlags"]).toBeUndefined();
		liked.add("7:5");
		await invalidate(broker, [], [STAMP.viewer(7)]);
		expect(((await page(Date.now(), 7)).video_list as Video[])[0]).toMatchObject({ id: 5, is_favorite: true });
		expect(((await page(Date.now(), 8)).video_list as Video[])[0]).toMatchObject({ id: 5, is_favorite: false });
	});

	test("a caller that asks for JSON text gets the same page as bytes", async () => {
		for (const viewer of [7, 8, undefined]) {
			const objects = await page(Date.now(), viewer);
			const text = await page(Date.now(), viewer, { [JSON_TEXT_HEADER]: true });
			expect(Buffer.isBuffer((text.video_list as JsonText).$jsonText)).toBe(true);
			expect(JSON.parse((text.video_list as JsonText).$jsonText.toString())).toEqual(objects.video_list);
			expect(text.next_time).toBe(objects.next_time);
		}
	});

	test("a page of the head as JSON text says which feed bounds it answers; older, empty and incomplete pages say nothing", async () => {
		const asText = { [JSON_TEXT_HEADER]: true };
		await invalidate(broker, [], [STAMP.videos, STAMP.viewer(7)]);
		await page(Date.now(), 7, asText);
		// The head holds 1004…1001 (two pages of two).
		expect((await page(Date.now(), 7, asText)).span).toEqual({ after: 1004, upTo: null });
		expect((await page(1004, 7, asText)).span).toEqual({ after: 1003, upTo: 1004 });
		expect((await page(1003, undefined, asText)).span).toEqual({ after: 1002, upTo: 1003 });
		// Past the head: a query, not kept.
		expect((await page(1002, 7, asText)).span).toBeUndefined();
		expect(await page(1000, 7, asText)).toEqual({ video_list: [], next_time: expect.any(Number) });
		// Objects for other callers never carry a span.
		expect((await page(Date.now(), 7)).span).toBeUndefined();
		// A provider down: the page is served with the cached counts (or flags), and not kept.
		favoritesDown = true;
		await invalidate(broker, [], [STAMP.videos]);
		const stale = await page(Date.now(), 7, asText);
		expect(stale.span).toBeUndefined();
		expect(JSON.parse((stale.video_list as JsonText).$jsonText.toString())).toHaveLength(2);
		favoritesDown = false;
		flagsDown = true;
		await invalidate(broker, [], [STAMP.videos, STAMP.viewer(7)]);
		expect((await page(Date.now(), 7, asText)).span).toBeUndefined();
		expect((await page(Date.now(), undefined, asText)).span).toEqual({ after: 1004, upTo: null });
	});

	test("stamps read as unknown once are kept against nothing, then hold", async () => {
		const key = `stamp:test:${Math.random()}`;
		expect(await readStamps(broker.cacher!, [key])).toEqual([null]);
		expect(await readStamps(broker.cacher!, [key])).toEqual([expect.any(String)]);
	});
});

describe("FeedAnswers (the gateway's copy)", () => {
	const bytes = (text: string) => Buffer.from(text);

	test("the key is the stamps a viewer's feed depends on: the viewer's own writes change only theirs, any count change everyone's", async () => {
		const answers = new FeedAnswers(broker.cacher!);
		await readStamps(broker.cacher!, [STAMP.videos, STAMP.viewer(7), STAMP.viewer(8)]);
		const [seven, eight, anonymous] = [await answers.keyOf(7), await answers.keyOf(8), await answers.keyOf(undefined)];
		expect(new Set([seven, eight, anonymous]).size).toBe(3);
		expect(await answers.keyOf(7)).toBe(seven);
		await invalidate(broker, [], [STAMP.viewer(7)]);
		expect(await answers.keyOf(7)).not.toBe(seven);
		expect(await answers.keyOf(8)).toBe(eight);
		expect(await answers.keyOf(undefined)).toBe(anonymous);
		await invalidate(broker, [], [STAMP.videos]);
		expect(await answers.keyOf(8)).not.toBe(eight);
		expect(await answers.keyOf(undefined)).not.toBe(anonymous);
		// A stamp never read before is unknown: nothing is kept against it.
		const stranger = 1_000_000 + Math.floor(Math.random() * 1_000_000);
		expect(await answers.keyOf(stranger)).toBeNull();
		expect(await answers.keyOf(stranger)).toEqual(expect.any(String));
	});

	test("an answer is found for every bound of its span, under its key only", () => {
		const answers = new FeedAnswers(broker.cacher!);
		answers.keep("k", { after: 1004, upTo: null }, bytes("newest"));
		answers.keep("k", { after: 1002, upTo: 1004 }, bytes("second"));
		expect(answers.find("k", Date.now())?.toString()).toBe("newest");
		expect(answers.find("k", 1005)?.toString()).toBe("newest");
		expect(answers.find("k", 1004)?.toString()).toBe("second");
		expect(answers.find("k", 1003)?.toString()).toBe("second");
		expect(answers.find("k", 1002)).toBeUndefined();
		expect(answers.find("other", Date.now())).toBeUndefined();
		// The same page again replaces the one kept.
		answers.keep("k", { after: 1004, upTo: null }, bytes("newest again"));
		expect(answers.find("k", 2000)?.toString()).toBe("newest again");
	});

	test("answers go when their time is up, and the least recently used when the bytes run out", async () => {
		const answers = new FeedAnswers(broker.cacher!, { maxBytes: 10, ttlMs: 5 });
		answers.keep("a", { after: 1, upTo: null }, bytes("aaaa"));
		answers.keep("b", { after: 1, upTo: null }, bytes("bbbb"));
		expect(answers.find("a", 2)?.toString()).toBe("aaaa");
		answers.keep("c", { after: 1, upTo: null }, bytes("cccc"));
		expect(answers.find("b", 2)).toBeUndefined();
		expect(answers.find("a", 2)?.toString()).toBe("aaaa");
		await new Promise(resolve => setTimeout(resolve, 20));
		expect(answers.find("a", 2)).toBeUndefined();
	});

	test("latest_time is read in ms or s, absent or 0 meaning now", () => {
		expect(feedBefore(1_700_000_000_000)).toBe(1_700_000_000_000);
		expect(feedBefore(1_700_000_000)).toBe(1_700_000_000_000);
		const now = Date.now();
		expect(feedBefore(0)).toBeGreaterThanOrEqual(now);
		expect(feedBefore(undefined)).toBeGreaterThanOrEqual(now);
	});
});
