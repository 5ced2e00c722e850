/**
 * Videos over HTTP: upload (both multipart field orders), transcoding into a ready,
 * streamable video with a JPEG cover, media with Range, the feed's paging, the publish
 * list, and every bad upload.
 */
import fs from "node:fs";
import { Readable } from "node:stream";
import { JSON_TEXT_HEADER } from "../../lib/json-text";
import { Client } from "../helpers/client";
import { startSystem, type System } from "../helpers/system";
import { FIXTURE_MP4, publishVideo, uploadForm, waitForVideo } from "../helpers/videos";

interface WireVideo {
	id: number;
	author: { id: number; work_count: number };
	play_url: string;
	cover_url: string;
	title: string;
	favorite_count: number;
	comment_count: number;
	is_favorite: boolean;
}

/** Top-level MP4 box types in file order. */
function boxes(bytes: Buffer): string[] {
	const types: string[] = [];
	for (let offset = 0; offset + 8 <= bytes.length; ) {
		const size = bytes.readUInt32BE(offset);
		types.push(bytes.toString("latin1", offset + 4, offset + 8));
		if (size < 8) break;
		offset += size;
	}
	return types;
}


describe("videos over HTTP", () => {
	let system: System;
	let client: Client;

	beforeAll(async () => {
		system = await startSystem();
		client = new Client(system.url);
	});
	afterAll(() => system.stop());

	test("an uploaded MP4 becomes ready: listed, streamable, with a JPEG cover, served with Range", async () => {
		const author = await client.register();
		const id = await publishVideo(client, system.broker, author.token, "Bear");

		const list = await client.get<{ video_list: WireVideo[] }>("/publish/list/", { user_id: author.id });
		expect(list.status_code).toBe(0);
		expect(list.video_list).toHaveLength(1);
		const video = list.video_list[0];
		expect(video).toMatchObject({ id, title: "Bear", favorite_count: 0, comment_count: 0, is_favorite: false });
		expect(video.author).toMatchObject({ id: author.id, work_count: 1 });
		// Absolute URLs on the public base: the gateway's /media (embedded) or the bucket (MinIO).
		expect(video.play_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/.+\/videos\/\d{4}-\d{2}\/[0-9a-f-]{36}\.mp4$/);
		expect(video.cover_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/.+\/covers\/\d{4}-\d{2}\/[0-9a-f-]{36}\.jpg$/);

		const play = await fetch(video.play_url);
		expect(play.status).toBe(200);
		expect(play.headers.get("content-type")).toBe("video/mp4");
		const bytes = Buffer.from(await play.arrayBuffer());
		expect(Number(play.headers.get("content-length"))).toBe(bytes.length);
		// The fixture has moov after mdat; the stored video has it first (faststart).
		expect(boxes(fs.readFileSync(FIXTURE_MP4)).indexOf("moov")).toBeGreaterThan(boxes(fs.readFileSync(FIXTURE_MP4)).indexOf("mdat"));
		expect(boxes(bytes).indexOf("moov")).toBeLessThan(boxes(bytes).indexOf("mdat"));

		const partial = await fetch(video.play_url, { headers: { Range: "bytes=100-199" } });
		expect(partial.status).toBe(206);
		expect(partial.headers.get("content-range")).toBe(`bytes 100-199/${bytes.length}`);
		expect(partial.headers.get("content-length")).toBe("100");
		expect(Buffer.from(await partial.arrayBuffer())).toEqual(bytes.subarray(100, 200));

		const tail = await fetch(video.play_url, { headers: { Range: "bytes=-10" } });
		expect(tail.status).toBe(206);
		expect(Buffer.from(await tail.arrayBuffer())).toEqual(bytes.subarray(bytes.length - 10));

		const beyond = await fetch(video.play_url, { headers: { Range: `bytes=${bytes.length + 10}-` } });
		expect(beyond.status).toBe(416);

		const cover = await fetch(video.cover_url);
		expect(cover.status).toBe(200);
		expect(cover.headers.get("content-type")).toBe("image/jpeg");
		const jpeg = Buffer.from(await cover.arrayBuffer());
		expect([...jpeg.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);

		const feed = await client.get<{ video_list: WireVideo[] }>("/feed/");
		expect(feed.video_list.map(v => v.id)).toContain(id);
	});

	test("fields before the file stream straight through; the title may come in the query", async () => {
		const author = await client.register();
		const form = new FormData();
		form.append("token", author.token);
		form.append("data", new Blob([new Uint8Array(fs.readFileSync(FIXTURE_MP4))], { type: "video/mp4" }), "clip.mp4");
		const body = await client.postMultipart<{ video_id: number }>("/publish/action/", form, { title: "From the query" });
		expect(body.status_code).toBe(0);
		expect((await waitForVideo(system.broker, body.video_id)).status).toBe("ready");
		const list = await client.get<{ video_list: WireVideo[] }>("/publish/list/", { user_id: author.id });
		expect(list.video_list.map(v => v.title)).toEqual(["From the query"]);
	});

	test("a text file named .mp4 fails with a reason, leaves no object, and never shows", async () => {
		const author = await client.register();
		const before = (await system.objectKeys()).length;
		const body = await client.postMultipart<{ video_id: number }>(
			"/publish/action/",
			uploadForm({ token: author.token, title: "fake" }, Buffer.from("this is just text, not a video\n".repeat(20)), "fake.mp4")
		);
		expect(body.status_code).toBe(0);
		const video = await waitForVideo(system.broker, body.video_id);
		expect(video.status).toBe("failed");
		expect(video.failReason).toMatch(/not a video/);
		expect((await system.objectKeys()).length).toBe(before);
		const list = await client.get<{ video_list: WireVideo[] }>("/publish/list/", { user_id: author.id });
		expect(list.video_list).toEqual([]);
		const { user } = await client.get<{ user: { work_count: number } }>("/user/", { token: author.token });
		expect(user.work_count).toBe(0);
		const feed = await client.get<{ video_list: WireVideo[] }>("/feed/");
		expect(feed.video_list.map(v => v.id)).not.toContain(body.video_id);
	});

	test.each([
		["no token", (token: string) => uploadForm({ title: "t" }), /token is required/],
		["a forged token", () => uploadForm({ token: "forged.token.value", title: "t" }), /token is invalid/],
		["no title", (token: string) => uploadForm({ token }), /title/],
		["an empty title", (token: string) => uploadForm({ token, title: "   " }), /title/],
		["a title of 101 characters", (token: string) => uploadForm({ token, title: "x".repeat(101) }), /title/],
		["no file", (token: string) => uploadForm({ token, title: "t" }, null), /file is missing/],
		["an empty file", (token: string) => uploadForm({ token, title: "t" }, Buffer.alloc(0)), /empty/]
	])("an upload with %s is refused and leaves nothing behind", async (_name, form, message) => {
		const author = await client.register();
		const before = (await system.objectKeys()).length;
		const body = await client.postMultipart("/publish/action/", form(author.token));
		expect(body.status_code).not.toBe(0);
		expect(body.status_msg).toMatch(message);
		expect((await system.objectKeys()).length).toBe(before);
		const list = await client.get<{ video_list: WireVideo[] }>("/publish/list/", { user_id: author.id });
		expect(list.video_list).toEqual([]);
	});

	test("an upload that is not multipart is refused clearly", async () => {
		const author = await client.register();
		const body = await client.post("/publish/action/", { token: author.token, title: "t" });
		expect(body.status_code).not.toBe(0);
		expect(body.status_msg).toMatch(/multipart/);
	});

	test("unknown media answer 404", async () => {
		expect((await fetch(`${system.url}/media/videos/2026-01/00000000-0000-0000-0000-000000000000.mp4`)).status).toBe(404);
		expect((await fetch(`${system.url}/media/videos%2F..%2F..%2Fjwt-secret`)).status).toBe(404);
		expect((await fetch(`${system.url}/media/jwt-secret`)).status).toBe(404);
	});

	test("publish/list of an unknown user is a clear error; a bad user_id too", async () => {
		expect(await client.get("/publish/list/", { user_id: 987654 })).toMatchObject({ status_code: 404, status_msg: "user 987654 does not exist" });
		const bad = await client.get("/publish/list/", { user_id: "abc" });
		expect(bad.status_code).not.toBe(0);
		expect(bad.status_msg).toMatch(/user_id/);
	});
});

describe("upload size cap", () => {
	let system: System;
	let client: Client;

	beforeAll(async () => {
		system = await startSystem({ env: { MAX_UPLOAD_BYTES: "10000" } });
		client = new Client(system.url);
	});
	afterAll(() => system.stop());

	test.each([
		["file first (spooled)", (token: string) => uploadForm({ token, title: "big" })],
		[
			"fields first (streamed)",
			(token: string) => {
				const form = new FormData();
				form.append("token", token);
				form.append("title", "big");
				form.append("data", new Blob([new Uint8Array(fs.readFileSync(FIXTURE_MP4))]), "big.mp4");
				return form;
			}
		]
	])("an oversize upload, %s, ends with a clear error and leaves no object and no record", async (_name, form) => {
		const author = await client.register();
		const body = await client.postMultipart("/publish/action/", form(author.token));
		expect(body).toEqual({ status_code: 413, status_msg: "the video is larger than 10000 bytes" });
		expect(await system.objectKeys()).toEqual([]);
		const list = await client.get<{ video_list: WireVideo[] }>("/publish/list/", { user_id: author.id });
		expect(list.video_list).toEqual([]);
		await expect(system.broker.call("videos.status", { id: 1 })).rejects.toMatchObject({ type: "NOT_FOUND" });
	});
});

describe("feed paging", () => {
	let system: System;
	let client: Client;
	// In embedded mode every video is made ready while Date.now() says T; a cluster's
	// processes keep their own clocks, so there the times are merely close together.
	const T = Date.now();
	const LATER = T + 60_000;
	const ids: number[] = [];

	beforeAll(async () => {
		// A transcoder that only records jobs: these videos are made ready below, all "at once".
		system = await startSystem({
			services: ["api", "users", "videos", "favorites", "comments", "relations", "messages"],
			extraServices: [{ name: "transcoder", actions: { enqueue: () => ({ queued: true }) } }]
		});
		client = new Client(system.url);
		const author = await client.register();
		for (let i = 0; i < 40; i++) {
			const { video_id } = await system.broker.call<{ video_id: number }, object>(
				"videos.publish",
				{ title: `v${i}` },
				{ stream: Readable.from([Buffer.from("bytes")]), meta: { userId: author.id } }
			);
			ids.push(video_id);
		}
		// Every video becomes ready in the same millisecond of the wall clock.
		const now = jest.spyOn(Date, "now").mockReturnValue(T);
		try {
			await Promise.all(ids.map(id => system.broker.call("videos.markReady", { id, coverKey: `covers/2026-01/${id}.jpg` })));
		} finally {
			now.mockRestore();
		}
	});
	afterAll(() => system.stop());

	async function pageThrough(first: number) {
		const seen: number[] = [];
		let latest: number | undefined = first;
		for (let page = 0; page < 10; page++) {
			const body: { video_list: WireVideo[]; next_time: number } & { status_code: number } = await client.get("/feed/", { latest_time: latest });
			expect(body.status_code).toBe(0);
			expect(body.video_list.length).toBeLessThanOrEqual(30);
			if (body.video_list.length === 0) break;
			seen.push(...body.video_list.map(v => v.id));
			expect(body.next_time).toBeGreaterThanOrEqual(T);
			latest = body.next_time;
		}
		return seen;
	}

	test("equal wall-clock times still page without repeats or skips (latest_time in ms)", async () => {
		const seen = await pageThrough(LATER);
		expect(seen).toHaveLength(40);
		expect(new Set(seen).size).toBe(40);
		expect([...seen].sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));
		// Newest first: the last one made ready comes first.
		const first = await client.get<{ video_list: WireVideo[]; next_time: number }>("/feed/", { latest_time: LATER });
		expect(first.video_list).toHaveLength(30);
	});

	test("latest_time in seconds pages the same way", async () => {
		const seen = await pageThrough(Math.floor(LATER / 1000));
		expect(seen).toHaveLength(40);
		expect(new Set(seen).size).toBe(40);
	});

	test("the gateway's ready-made feed text is the answer the service gives as objects", async () => {
		const viewer = await client.register();
		// The newest two: in a cluster the ready times follow the order the calls landed, not the ids.
		const head = await client.get<{ video_list: WireVideo[] }>("/feed/", { latest_time: LATER });
		const [liked, other] = head.video_list.slice(0, 2).map(video => video.id);
		expect(ids).toEqual(expect.arrayContaining([liked, other]));
		expect(await client.post("/favorite/action/", { token: viewer.token, video_id: liked, action_type: 1 })).toMatchObject({ status_code: 0 });
		for (const token of [viewer.token, undefined])
			for (const latest of [LATER, undefined]) {
				const params = { ...(token && { token }), ...(latest && { latest_time: latest }) };
				const { status_code, status_msg, ...answer } = await client.get<{ video_list: WireVideo[]; next_time: number }>("/feed/", params);
				expect({ status_code, status_msg }).toEqual({ status_code: 0, status_msg: "success" });
				const objects = await system.broker.call<{ video_list: WireVideo[] }, object>(
					"videos.feed",
					latest ? { latest_time: latest } : {},
					{ meta: token ? { userId: viewer.id } : {} }
				);
				const text = await system.broker.call<{ video_list: { $jsonText: Buffer } }, object>(
					"videos.feed",
					latest ? { latest_time: latest } : {},
					{ meta: token ? { userId: viewer.id } : {}, headers: { [JSON_TEXT_HEADER]: true } }
				);
				expect(Array.isArray(objects.video_list)).toBe(true);
				expect(JSON.parse(text.video_list.$jsonText.toString())).toEqual(objects.video_list);
				expect(answer.video_list).toEqual(objects.video_list);
				const byId = new Map(answer.video_list.map(video => [video.id, video]));
				expect(byId.get(liked)?.is_favorite).toBe(Boolean(token));
				expect(byId.get(other)?.is_favorite).toBe(false);
			}
	});

	test("nothing is older than the oldest video; a bad latest_time is a clear error", async () => {
		const empty = await client.get<{ video_list: WireVideo[] }>("/feed/", { latest_time: T - 1 });
		expect(empty).toMatchObject({ status_code: 0, video_list: [] });
		const bad = await client.get("/feed/", { latest_time: "yesterday" });
		expect(bad.status_code).not.toBe(0);
		expect(bad.status_msg).toMatch(/latest_time/);
	});

	test("the feed works anonymously and with a bad token (anonymous)", async () => {
		const body = await client.get<{ video_list: WireVideo[] }>("/feed/", { token: "not-a-token" });
		expect(body.status_code).toBe(0);
		expect(body.video_list.every(v => v.is_favorite === false)).toBe(true);
	});
});
