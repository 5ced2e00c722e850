/**
 * Videos over HTTP: publish is read-your-writes (the next publish/list, feed and like see
 * the video, streamable, with its cover), in both multipart field orders; uploads that
 * need re-encoding; every bad upload refused in the answer, leaving no record, object or
 * job; hostile videos refused before anything decodes them; aborted uploads that leave
 * nothing behind; the author's upload status; media with Range; the feed's paging.
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { JSON_TEXT_HEADER } from "../../lib/json-text";
import { Client } from "../helpers/client";
import { until } from "../helpers/real-servers";
import { TARGET, startSystem, type System } from "../helpers/system";
import { FIXTURE_MP4, cutMp4, hourGapMkv, hugeFrameMkv, mpeg4Mkv, probeBytes, publishVideo, standIn, uploadForm } from "../helpers/videos";

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

interface Job {
	_id: number;
	status: string;
	stage: string;
	attempts: number;
	lastError: string | null;
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

async function bytesOf(url: string): Promise<{ status: number; type: string | null; bytes: Buffer }> {
	const res = await fetch(url);
	return { status: res.status, type: res.headers.get("content-type"), bytes: Buffer.from(await res.arrayBuffer()) };
}

/** Every transcode job of the system. */
async function jobs(system: System): Promise<Job[]> {
	return (await system.broker.call<{ jobs: Job[] }, object>("transcoder.list", { limit: 1000 })).jobs;
}

/** Whether a video record exists (any status). */
async function recordExists(system: System, id: number): Promise<boolean> {
	return system.broker.call("videos.status", { id }).then(
		() => true,
		(err: { type?: string }) => {
			if (err.type === "NOT_FOUND") return false;
			throw err;
		}
	);
}

describe("videos over HTTP", () => {
	let system: System;
	let client: Client;

	beforeAll(async () => {
		system = await startSystem();
		client = new Client(system.url);
	});
	afterAll(() => system.stop());

	test("publish is read-your-writes: the demo's file-first upload is listed, in the feed and likeable at once, streamable, with a JPEG cover", async () => {
		const author = await client.register();
		const viewer = await client.register();
		// As the official demo test does: publish, then publish/list straight away.
		const published = await client.postMultipart<{ video_id: number }>("/publish/action/", uploadForm({ token: author.token, title: "Bear" }));
		expect(published).toMatchObject({ status_code: 0, status_msg: "success" });
		const id = published.video_id;
		const list = await client.get<{ video_list: WireVideo[] }>("/publish/list/", { user_id: author.id, token: author.token });
		expect(list.status_code).toBe(0);
		expect(list.video_list).toHaveLength(1);
		const feed = await client.get<{ video_list: WireVideo[] }>("/feed/");
		expect(feed.video_list.map(v => v.id)).toContain(id);
		expect(await client.post("/favorite/action/", { token: viewer.token, video_id: id, action_type: 1 })).toMatchObject({ status_code: 0 });

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
		// The fixture has moov after mdat; the stored video has it first (faststart), the same H.264.
		expect(boxes(fs.readFileSync(FIXTURE_MP4)).indexOf("moov")).toBeGreaterThan(boxes(fs.readFileSync(FIXTURE_MP4)).indexOf("mdat"));
		expect(boxes(bytes).indexOf("moov")).toBeLessThan(boxes(bytes).indexOf("mdat"));
		expect(probeBytes(bytes).codec).toBe("h264");

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

		const cover = await bytesOf(video.cover_url);
		expect(cover).toMatchObject({ status: 200, type: "image/jpeg" });
		expect([...cover.bytes.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);

		// The upload itself is gone: only the streamable copy and the cover are stored.
		expect((await system.objectKeys()).filter(key => !key.startsWith(".")).sort()).toEqual(
			[video.play_url, video.cover_url].map(url => url.slice(url.search(/(videos|covers)\//))).sort()
		);
		expect((await jobs(system)).find(job => job._id === id)).toMatchObject({ status: "done", stage: "check", attempts: 1 });
	});

	test("fields before the file stream straight through; the title may come in the query, repeated parameters count once", async () => {
		const author = await client.register();
		const form = new FormData();
		form.append("token", author.token);
		form.append("token", "a-second-token-is-ignored");
		form.append("data", new Blob([new Uint8Array(fs.readFileSync(FIXTURE_MP4))], { type: "video/mp4" }), "clip.mp4");
		const body = await client.postMultipart<{ video_id: number }>("/publish/action/", form, { title: "From the query" });
		expect(body).toMatchObject({ status_code: 0, status_msg: "success" });
		const list = await client.get<{ video_list: WireVideo[] }>("/publish/list/", { user_id: author.id });
		expect(list.video_list.map(v => v.title)).toEqual(["From the query"]);
	});

	test("an upload that needs re-encoding is ready in the answer as an H.264 MP4", async () => {
		const author = await client.register();
		const mkv = mpeg4Mkv();
		expect(probeBytes(mkv)).toMatchObject({ codec: "mpeg4", format: "matroska,webm" });
		const id = await publishVideo(client, system.broker, author.token, "Re-encoded", mkv);
		const [video] = (await client.get<{ video_list: WireVideo[] }>("/publish/list/", { user_id: author.id })).video_list;
		expect(video.id).toBe(id);
		const play = await bytesOf(video.play_url);
		expect(play).toMatchObject({ status: 200, type: "video/mp4" });
		expect(probeBytes(play.bytes)).toMatchObject({ codec: "h264", format: expect.stringMatching(/mp4/) });
		expect(boxes(play.bytes).indexOf("moov")).toBeLessThan(boxes(play.bytes).indexOf("mdat"));
		expect((await bytesOf(video.cover_url)).status).toBe(200);
		expect(await system.broker.call("videos.status", { id })).toMatchObject({ status: "ready", normalising: false });
		expect((await jobs(system)).find(job => job._id === id)).toMatchObject({ status: "done", stage: "encode" });
	});

	test("every bad upload is refused in the answer with its reason and leaves no record, object or job", async () => {
		const author = await client.register();
		const cases: [string, Buffer, number, RegExp][] = [
			[
				"a text file named .mp4",
				Buffer.from("this is just text, not a video\n".repeat(20)),
				400,
				// ffmpeg's own words, with no scratch path of the server's in them.
				/^the file is not a video ffmpeg can read \(ffprobe failed: input: Invalid data found when processing input\)$/
			],
			["an empty file", Buffer.alloc(0), 400, /^the video file is empty$/],
			["an MP4 cut short", cutMp4(), 400, /^the video is damaged or cut short \(/],
			["an MP4 cut before its moov atom", fs.readFileSync(FIXTURE_MP4).subarray(0, 9000), 400, /^the file is not a video ffmpeg can read \(/],
			["a Matroska whose second frame comes an hour later", hourGapMkv(), 413, /^the video is too large: it lasts 3600 s, at most 300 s are accepted$/],
			["an 8192×8192 frame", hugeFrameMkv(), 413, /^the video is too large: its frames are 8192×8192, at most 4096 pixels a side are accepted$/]
		];
		const good: number[] = [await publishVideo(client, system.broker, author.token, "first")];
		const keysBefore = (await system.objectKeys()).length;
		const jobsBefore = (await jobs(system)).length;
		for (const [name, file, code, message] of cases) {
			const body = await client.postMultipart("/publish/action/", uploadForm({ token: author.token, title: name }, file, "upload.mp4"));
			expect({ name, status_code: body.status_code }).toEqual({ name, status_code: code });
			expect(body.status_msg).toMatch(message);
			good.push(await publishVideo(client, system.broker, author.token, `after ${name}`));
		}
		// No record between the good ones (ids come from one sequence), no object or job but theirs.
		for (let i = 1; i < good.length; i++)
			for (let id = good[i - 1] + 1; id < good[i]; id++) expect({ id, exists: await recordExists(system, id) }).toEqual({ id, exists: false });
		expect((await system.objectKeys()).length).toBe(keysBefore + 2 * cases.length);
		const after = await jobs(system);
		expect(after.length).toBe(jobsBefore + cases.length);
		expect(after.filter(job => job.status !== "done")).toEqual([]);
		const list = await client.get<{ video_list: WireVideo[] }>("/publish/list/", { user_id: author.id });
		expect(list.video_list.map(video => video.id).sort((a, b) => a - b)).toEqual(good);
		const { user } = await client.get<{ user: { work_count: number } }>("/user/", { token: author.token, user_id: author.id });
		expect(user.work_count).toBe(good.length);
	});

	test.each([
		["no token", () => uploadForm({ title: "t" }), 401, /token is required/],
		["a forged token", () => uploadForm({ token: "forged.token.value", title: "t" }), 401, /token is invalid/],
		["no title", (token: string) => uploadForm({ token }), 400, /title/],
		["an empty title", (token: string) => uploadForm({ token, title: "   " }), 400, /title/],
		["a title of 101 characters", (token: string) => uploadForm({ token, title: "x".repeat(101) }), 400, /title/],
		["no file", (token: string) => uploadForm({ token, title: "t" }, null), 400, /file is missing/]
	])("an upload with %s is refused and leaves nothing behind", async (_name, form, code, message) => {
		const author = await client.register();
		const before = (await system.objectKeys()).length;
		const jobsBefore = (await jobs(system)).length;
		const body = await client.postMultipart("/publish/action/", form(author.token));
		expect(body.status_code).toBe(code);
		expect(body.status_msg).toMatch(message);
		expect((await system.objectKeys()).length).toBe(before);
		expect((await jobs(system)).length).toBe(jobsBefore);
		const list = await client.get<{ video_list: WireVideo[] }>("/publish/list/", { user_id: author.id });
		expect(list.video_list).toEqual([]);
	});

	test("an upload that is not multipart is refused clearly", async () => {
		const author = await client.register();
		const body = await client.post("/publish/action/", { token: author.token, title: "t" });
		expect(body).toMatchObject({ status_code: 400, status_msg: expect.stringMatching(/multipart/) });
	});

	test("the author, and only the author, sees where an upload stands", async () => {
		const author = await client.register();
		const other = await client.register();
		const id = await publishVideo(client, system.broker, author.token, "mine");
		expect(await client.get("/publish/status/", { token: author.token, video_id: id })).toEqual({
			status_code: 0,
			status_msg: "success",
			video_id: id,
			state: "ready",
			normalising: false,
			reason: ""
		});
		expect(await client.get("/publish/status/", { token: other.token, video_id: id })).toMatchObject({
			status_code: 403,
			status_msg: `only the author of video ${id} may see where its upload stands`
		});
		expect(await client.get("/publish/status/", { token: author.token, video_id: 987654 })).toMatchObject({ status_code: 404, status_msg: "video 987654 does not exist" });
		expect((await client.get("/publish/status/", { video_id: id })).status_code).toBe(401);
	});

	test("unknown media answer 404", async () => {
		expect((await fetch(`${system.url}/media/videos/2026-01/00000000-0000-0000-0000-000000000000.mp4`)).status).toBe(404);
		expect((await fetch(`${system.url}/media/videos%2F..%2F..%2Fjwt-secret`)).status).toBe(404);
		expect((await fetch(`${system.url}/media/jwt-secret`)).status).toBe(404);
	});

	test("publish/list of an unknown user is a clear error; a bad user_id too", async () => {
		expect(await client.get("/publish/list/", { user_id: 987654 })).toMatchObject({ status_code: 404, status_msg: "user 987654 does not exist" });
		const bad = await client.get("/publish/list/", { user_id: "abc" });
		expect(bad.status_code).toBe(400);
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
	])("an oversize upload, %s, ends with a clear error and leaves no object, record or job", async (_name, form) => {
		const author = await client.register();
		const body = await client.postMultipart("/publish/action/", form(author.token));
		expect(body).toEqual({ status_code: 413, status_msg: "the video is larger than 10000 bytes" });
		expect(await system.objectKeys()).toEqual([]);
		expect(await jobs(system)).toEqual([]);
		const list = await client.get<{ video_list: WireVideo[] }>("/publish/list/", { user_id: author.id });
		expect(list.video_list).toEqual([]);
		// In a cluster the gateway may answer as soon as its side of the stream fails, while the
		// videos replica is still removing the record it began: gone within a bounded wait.
		for (const id of [1, 2]) await until(`record ${id} to be gone`, async () => ((await recordExists(system, id)) ? undefined : true), 10000, 50);
	});
});

/** Open descriptors of the processes that take uploads: this one (embedded), or the api and videos processes (cluster). */
function uploadPids(system: System): number[] {
	if (TARGET === "embedded") return [process.pid];
	return [...system.processes].filter(([name]) => /^(api|videos)-/.test(name)).map(([, p]) => p.child.pid!);
}

function openFds(pids: number[]): number {
	return pids.reduce((sum, pid) => sum + fs.readdirSync(`/proc/${pid}/fd`).length, 0);
}

/** The upload scratch directories of these processes. */
function uploadScratch(pids: number[]): string[] {
	return fs.readdirSync(os.tmpdir()).filter(name => pids.some(pid => name.startsWith(`moletok-upload-${pid}.`)));
}

type Part = { name: string; value: string } | { name: string; filename: string; bytes: Buffer };

function multipart(boundary: string, parts: Part[]): Buffer {
	const chunks: Buffer[] = [];
	for (const part of parts) {
		const disposition = "filename" in part ? `form-data; name="${part.name}"; filename="${part.filename}"` : `form-data; name="${part.name}"`;
		const type = "filename" in part ? "Content-Type: video/mp4\r\n" : "";
		chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type}\r\n`));
		chunks.push("filename" in part ? part.bytes : Buffer.from(part.value), Buffer.from("\r\n"));
	}
	chunks.push(Buffer.from(`--${boundary}--\r\n`));
	return Buffer.concat(chunks);
}

/**
 * Starts an upload on a raw socket and sends the body up to the start of the file part plus
 * `fileBytes` of it; `sent` resolves then. `reset()` resets the connection (RST); `answer`
 * is whatever the server wrote back.
 */
function rawUpload(base: string, parts: Part[], fileBytes: number, query = "") {
	const boundary = `moletok${Math.random().toString(16).slice(2)}`;
	const body = multipart(boundary, parts);
	const fileStart = body.indexOf(Buffer.from('filename="')) + 200;
	const { hostname, port } = new URL(base);
	const socket = net.connect(Number(port), hostname);
	let answer = "";
	socket.on("data", chunk => (answer += chunk.toString("latin1")));
	socket.on("error", () => undefined);
	const sent = new Promise<void>(resolve =>
		socket.once("connect", () => {
			socket.write(
				`POST /douyin/publish/action/${query} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${body.length}\r\n\r\n`
			);
			socket.write(body.subarray(0, Math.min(body.length, fileStart + fileBytes)), () => resolve());
		})
	);
	return { sent, reset: () => socket.resetAndDestroy(), answer: () => answer };
}

describe("aborted uploads", () => {
	let system: System;
	let client: Client;
	let author: { id: number; token: string };
	const big = Buffer.alloc(3 * 1024 * 1024, 7);

	beforeAll(async () => {
		system = await startSystem({ env: { UPLOAD_SPOOL_BYTES: String(4 * 1024 * 1024) } });
		client = new Client(system.url);
		author = await client.register();
		// Warm up: the first upload opens what every later one shares (store files, connections).
		await publishVideo(client, system.broker, author.token);
	});
	afterAll(() => system.stop());

	/** Runs `abort` between two good uploads and checks that it left nothing: no descriptor, scratch file, object or record. */
	async function leavesNothing(abort: (lastId: number) => Promise<void>) {
		const pids = uploadPids(system);
		const before = await publishVideo(client, system.broker, author.token, "before");
		const fds = openFds(pids);
		const keys = (await system.objectKeys()).sort();
		await abort(before);
		await until("the aborted upload to be cleaned up", async () => (openFds(pids) <= fds && uploadScratch(pids).length === 0 ? true : undefined), 10000, 50);
		const after = await publishVideo(client, system.broker, author.token, "after");
		// In a cluster the stored part is another process's to remove: it learns of the abort a moment later.
		for (let id = before + 1; id < after; id++)
			await until(`the record of aborted upload ${id} to go`, async () => ((await recordExists(system, id)) ? undefined : true), 10000, 50);
		expect((await system.objectKeys()).length).toBe(keys.length + 2);
		expect((await system.objectKeys()).filter(key => !keys.includes(key) && key.startsWith("."))).toEqual([]);
		return after - before;
	}

	test("a reset in the middle of a file that came after a valid token ends the stored part at once", async () => {
		await leavesNothing(async lastId => {
			const upload = rawUpload(system.url, [{ name: "token", value: author.token }, { name: "title", value: "cut" }, { name: "data", filename: "a.mp4", bytes: big }], 1024 * 1024);
			await upload.sent;
			// The server is storing it: its record exists while the file streams in.
			await until("the upload to be storing", async () => {
				const video = await system.broker.call<{ status: string }, object>("videos.status", { id: lastId + 1 }).catch(() => null);
				return video?.status === "uploading" ? true : undefined;
			}, 10000, 20);
			upload.reset();
		});
	});

	test.each([
		["a valid token", () => author.token],
		["a bogus token", () => "bogus.token.value"]
	])("a reset in the middle of a file that came before %s removes its scratch file at once", async (_name, token) => {
		const gap = await leavesNothing(async () => {
			const upload = rawUpload(system.url, [{ name: "data", filename: "a.mp4", bytes: big }, { name: "token", value: token() }, { name: "title", value: "cut" }], 1024 * 1024);
			await upload.sent;
			await until("the file to be spooled", async () => (uploadScratch(uploadPids(system)).length > 0 ? true : undefined), 10000, 20);
			upload.reset();
		});
		// Nothing reached videos.publish: no id was even taken.
		expect(gap).toBe(1);
	});

	test("a bogus token before the file is refused at once, before any of the file is stored", async () => {
		const gap = await leavesNothing(async () => {
			const upload = rawUpload(system.url, [{ name: "token", value: "bogus.token.value" }, { name: "data", filename: "a.mp4", bytes: big }], 64 * 1024);
			await upload.sent;
			const answer = await until("the refusal", async () => (upload.answer().includes("status_code") ? upload.answer() : undefined), 10000, 20);
			expect(JSON.parse(answer.slice(answer.indexOf("{")))).toEqual({ status_code: 401, status_msg: "token is invalid: log in again" });
			expect(uploadScratch(uploadPids(system))).toEqual([]);
			upload.reset();
		});
		expect(gap).toBe(1);
	});

	test("a bogus token in the query is refused before a file is stored, even when the file comes first", async () => {
		const body = await client.postMultipart("/publish/action/", uploadForm({ title: "t" }, big), { token: "bogus.token.value" });
		expect(body).toEqual({ status_code: 401, status_msg: "token is invalid: log in again" });
	});

	test("a file before its token may be at most UPLOAD_SPOOL_BYTES; with the token first the upload's own cap holds", async () => {
		const large = Buffer.alloc(5 * 1024 * 1024, 1);
		const body = await client.postMultipart("/publish/action/", uploadForm({ token: author.token, title: "t" }, large));
		expect(body).toEqual({
			status_code: 413,
			status_msg: `the video came before the token and is larger than ${4 * 1024 * 1024} bytes: send the token first (in the query string or before the 'data' part)`
		});
		expect(uploadScratch(uploadPids(system))).toEqual([]);
		// Token first: the same bytes are taken (and refused only because they are not a video).
		const form = new FormData();
		form.append("token", author.token);
		form.append("title", "t");
		form.append("data", new Blob([new Uint8Array(large)]), "large.mp4");
		const tokenFirst = await client.postMultipart("/publish/action/", form);
		expect(tokenFirst).toMatchObject({ status_code: 400, status_msg: expect.stringMatching(/^the file is not a video ffmpeg can read/) });
	});
});

describe("uploads whose transcode outlasts PUBLISH_WAIT_MS", () => {
	let system: System;
	let client: Client;
	const marker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "moletok-slow-")), "encoders");

	beforeAll(async () => {
		system = await startSystem({
			env: {
				// Long enough for a check under load; the hung re-encodes answer when it is over.
				PUBLISH_WAIT_MS: "3000",
				TRANSCODE_CONCURRENCY: "1",
				TRANSCODE_SHUTDOWN_GRACE_MS: "0",
				FFMPEG_PATH: standIn("ffmpeg-encodes-slowly", marker)
			}
		});
		client = new Client(system.url);
	});
	afterAll(async () => {
		await system.stop();
		fs.rmSync(path.dirname(marker), { recursive: true, force: true });
	});

	test("are visible at once with their original file while re-encoding, and never hold up other uploads", async () => {
		const author = await client.register();
		const mkv = mpeg4Mkv();
		const first = await client.postMultipart<{ video_id: number }>("/publish/action/", uploadForm({ token: author.token, title: "slow" }, mkv));
		expect(first).toMatchObject({ status_code: 0, status_msg: "success" });
		expect(await client.get("/publish/status/", { token: author.token, video_id: first.video_id })).toMatchObject({
			status_code: 0,
			state: "ready",
			normalising: true,
			reason: ""
		});
		const [shown] = (await client.get<{ video_list: WireVideo[] }>("/publish/list/", { user_id: author.id })).video_list;
		expect(shown.id).toBe(first.video_id);
		const original = await bytesOf(shown.play_url);
		expect(original.status).toBe(200);
		expect(original.bytes).toEqual(mkv);
		expect((await bytesOf(shown.cover_url)).status).toBe(200);

		// The re-encode runs (and hangs); an ordinary upload is ready at once all the same.
		await until("the re-encode to run", async () => (fs.existsSync(marker) ? true : undefined), 10000, 50);
		const bear = await publishVideo(client, system.broker, author.token, "quick");
		// A second re-encode waits for the only slot, its original visible meanwhile.
		const second = await client.postMultipart<{ video_id: number }>("/publish/action/", uploadForm({ token: author.token, title: "waits" }, mkv));
		expect(second.status_code).toBe(0);
		expect(await system.broker.call("videos.status", { id: second.video_id })).toMatchObject({ status: "ready", normalising: true });
		const list = await client.get<{ video_list: WireVideo[] }>("/publish/list/", { user_id: author.id });
		expect(list.video_list.map(video => video.id).sort((a, b) => a - b)).toEqual([first.video_id, bear, second.video_id]);

		const running = (await system.broker.call<{ jobs: Job[] }, object>("transcoder.list", { status: "running" })).jobs;
		expect(running.map(job => [job._id, job.stage])).toEqual([[first.video_id, "encode"]]);
		const queued = (await system.broker.call<{ jobs: Job[] }, object>("transcoder.list", { status: "queued" })).jobs;
		expect(queued.map(job => [job._id, job.stage])).toEqual([[second.video_id, "encode"]]);
		const all = (await system.broker.call<{ jobs: Job[] }, object>("transcoder.list", { limit: 2 })).jobs;
		expect(all.map(job => job._id)).toEqual([second.video_id, bear]);
		expect(await system.broker.call("transcoder.retry", { videoId: first.video_id })).toEqual({ retried: false });
	});
});

describe("feed paging", () => {
	let system: System;
	let client: Client;
	// In embedded mode every video is made ready while Date.now() says T; a cluster's
	// processes keep their own clocks, so there the times are merely close together.
	let T: number;
	let LATER: number;
	const ids: number[] = [];

	beforeAll(async () => {
		T = Date.now();
		LATER = T + 60_000;
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
			await Promise.all(ids.map(id => system.broker.call("videos.markReady", { id, videoKey: `videos/2026-01/${id}.mp4`, coverKey: `covers/2026-01/${id}.jpg` })));
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
