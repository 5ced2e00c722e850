/**
 * Several replicas of a service, as Kubernetes runs them (cluster target only):
 * - the shared Redis cache: a like through one api replica shows at once through the other;
 * - transcode jobs: a job never runs on two replicas at once, and a replica that dies in
 *   the middle of one leaves a job that another replica finishes;
 * - graceful shutdown: under a steady stream of requests, SIGTERM one of two `api` and one
 *   of two `videos` replicas; a client that, like a Kubernetes Service, sends only to
 *   ready api replicas sees no request fail, and both processes exit 0.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "../helpers/client";
import { type ClusterProcess, type System, TARGET, startSystem } from "../helpers/system";
import { until } from "../helpers/real-servers";
import { BINARIES, publishVideo, uploadForm, waitForVideo } from "../helpers/videos";

const BIN = path.join(__dirname, "..", "fixtures", "bin");

test("runs against a cluster", () => {
	expect(TARGET).toBe("cluster");
});

function processOf(system: System, prefix: string): [string, ClusterProcess] {
	const found = [...system.processes].find(([name]) => name.startsWith(prefix));
	if (!found) throw new Error(`no process ${prefix}`);
	return found;
}

/** The exit code, or "still running" after `timeoutMs`. */
function exited(child: ClusterProcess["child"], timeoutMs = 30000): Promise<number | null | "still running"> {
	if (child.exitCode !== null) return Promise.resolve(child.exitCode);
	return new Promise(resolve => {
		const timer = setTimeout(() => resolve("still running"), timeoutMs);
		child.once("exit", code => {
			clearTimeout(timer);
			resolve(code);
		});
	});
}

describe("the shared cache", () => {
	let system: System;
	beforeAll(async () => {
		system = await startSystem();
	});
	afterAll(() => system.stop());

	test("a like through one api replica is visible at once through the other", async () => {
		const [one, two] = system.urls.map(url => new Client(url));
		const author = await one.register();
		const fan = await one.register();
		const videoId = await publishVideo(one, system.broker, author.token);
		const countVia = async (client: Client) => {
			const body = await client.get<{ video_list: { id: number; favorite_count: number; is_favorite: boolean }[] }>("/publish/list/", {
				user_id: author.id,
				token: fan.token
			});
			return body.video_list.find(video => video.id === videoId)!;
		};
		// Both replicas have the count cached before the like.
		expect(await countVia(one)).toMatchObject({ favorite_count: 0, is_favorite: false });
		expect(await countVia(two)).toMatchObject({ favorite_count: 0, is_favorite: false });
		for (let round = 0; round < 3; round++) {
			expect(await one.post("/favorite/action/", { token: fan.token, video_id: videoId, action_type: 1 })).toMatchObject({ status_code: 0 });
			expect(await countVia(two)).toMatchObject({ favorite_count: 1, is_favorite: true });
			const { user } = await two.get<{ user: { total_favorited: number } }>("/user/", { user_id: author.id, token: fan.token });
			expect(user.total_favorited).toBe(1);
			expect(await two.post("/favorite/action/", { token: fan.token, video_id: videoId, action_type: 2 })).toMatchObject({ status_code: 0 });
			expect(await countVia(one)).toMatchObject({ favorite_count: 0, is_favorite: false });
		}
	});
});

describe("transcoder replicas", () => {
	let system: System;
	const marker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "moletok-replica-")), "ffmpeg-started");

	beforeAll(async () => {
		system = await startSystem({
			replicas: { transcoder: 2 },
			env: { TRANSCODE_LEASE_MS: "2000", PUBLISH_WAIT_MS: "1000" },
			processEnv: (service): Record<string, string> =>
				service === "transcoder"
					? {
							FFMPEG_PATH: path.join(BIN, "ffmpeg-hangs-once"),
							MOLETOK_TEST_MARKER: marker,
							MOLETOK_TEST_REAL_FFMPEG: BINARIES.ffmpeg
						}
					: {}
		});
	});
	afterAll(async () => {
		const [, pid] = fs.existsSync(marker) ? fs.readFileSync(marker, "utf8").trim().split(" ") : [];
		if (pid) {
			try {
				process.kill(Number(pid), "SIGKILL");
			} catch {
				// already gone
			}
		}
		await system.stop();
	});

	test("a job is never run twice at once, and a replica's death mid-job loses nothing", async () => {
		const client = new Client(system.url);
		const author = await client.register();
		const body = await client.postMultipart<{ video_id: number }>("/publish/action/", uploadForm({ token: author.token, title: "resilient" }));
		expect(body.status_code).toBe(0);
		for (let i = 0; i < 200 && !fs.existsSync(marker); i++) await new Promise(resolve => setTimeout(resolve, 100));
		const [holder] = fs.readFileSync(marker, "utf8").trim().split(" ");

		// The holder keeps its lease while it works: for three lease periods the other
		// replica does not take the job.
		await new Promise(resolve => setTimeout(resolve, 6000));
		const held = await system.broker.call<{ status: string; owner: string; attempts: number }, object>("transcoder.job", { videoId: body.video_id });
		expect(held).toMatchObject({ status: "running", owner: holder, attempts: 1 });

		const { child } = system.processes.get(holder)!;
		child.kill("SIGKILL");
		await exited(child);

		const video = await waitForVideo(system.broker, body.video_id, 30000);
		expect(video.status).toBe("ready");
		// Asked of the survivor: the client only forgets the killed node when its heartbeats stop.
		const survivor = [...system.processes.keys()].find(name => name.startsWith("transcoder-") && name !== holder)!;
		// The job is marked done just after the video is marked ready.
		const job = await until("the job to be done", async () => {
			const state = await system.broker.call<{ status: string; owner: string; attempts: number }, object>(
				"transcoder.job",
				{ videoId: body.video_id },
				{ nodeID: survivor }
			);
			return state.status === "running" ? undefined : state;
		}, 10000, 100);
		expect(job.status).toBe("done");
		expect(job.attempts).toBe(2);
		expect(job.owner).toBe(survivor);
	});
});

describe("graceful shutdown under load", () => {
	let system: System;
	beforeAll(async () => {
		// The load likes as one user as fast as it can: far past the writes limit a person has.
		system = await startSystem({ env: { SHUTDOWN_DELAY_MS: "1500", RATE_LIMIT_WRITES: "1000000/1m" } });
	});
	afterAll(() => system.stop());

	test("SIGTERM to one of two api and one of two videos replicas fails no request", async () => {
		const seed = new Client(system.url);
		const viewer = await seed.register();
		const author = await seed.register();
		const videoId = await publishVideo(seed, system.broker, author.token);

		// Like a Kubernetes Service: only api replicas whose /ready answers 200 get requests.
		const apis = [...system.processes].filter(([name]) => name.startsWith("api-")).map(([, p]) => p);
		let ready = apis.map(api => api.url!);
		let polling = true;
		const poller = (async () => {
			while (polling) {
				const states = await Promise.all(apis.map(api => fetch(`${api.healthUrl}/ready`).then(r => r.ok, () => false)));
				ready = apis.filter((_, i) => states[i]).map(api => api.url!);
				await new Promise(resolve => setTimeout(resolve, 50));
			}
		})();

		const failures: string[] = [];
		let done = 0;
		let running = true;
		const worker = async (n: number) => {
			for (let i = 0; running; i++) {
				const base = ready[(n + i) % ready.length];
				if (!base) {
					failures.push("no ready api replica");
					break;
				}
				const path = i % 3 === 2 ? "/favorite/action/" : "/feed/";
				const params = i % 3 === 2 ? { token: viewer.token, video_id: videoId, action_type: (i % 2) + 1 } : { token: viewer.token };
				try {
					const res = await fetch(`${base}/douyin${path}?${new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]))}`, {
						method: path === "/feed/" ? "GET" : "POST",
						// A request that hangs is a failure too, reported as such.
						signal: AbortSignal.timeout(5000)
					});
					const body = (await res.json()) as { status_code: number; status_msg?: string };
					if (res.status !== 200 || body.status_code !== 0) failures.push(`${path} on ${base}: ${res.status} ${JSON.stringify(body)}`);
				} catch (err) {
					failures.push(`${path} on ${base}: ${(err as Error).message}`);
				}
				done++;
			}
		};
		const workers = Array.from({ length: 8 }, (_, n) => worker(n));

		await new Promise(resolve => setTimeout(resolve, 1500));
		const [, api1] = processOf(system, "api-1-");
		const [, videos2] = processOf(system, "videos-2-");
		const before = done;
		api1.child.kill("SIGTERM");
		videos2.child.kill("SIGTERM");
		const codes = await Promise.all([exited(api1.child), exited(videos2.child)]);
		await new Promise(resolve => setTimeout(resolve, 1000));
		running = false;
		await Promise.all(workers);
		polling = false;
		await poller;

		expect(failures).toEqual([]);
		expect(codes).toEqual([0, 0]);
		// Requests kept flowing through the shutdown.
		expect(done - before).toBeGreaterThan(50);
	});
});

describe("a dead replica never takes the feed down", () => {
	let system: System;
	beforeAll(async () => {
		system = await startSystem();
	});
	afterAll(() => system.stop());

	/**
	 * Under a steady load of feed and profile reads (and comments, which renew the stamps so
	 * the feed is assembled anew while processes die), kill -9 one process of each service in
	 * turn: the second `videos` replica (another one answers), then the only `favorites`,
	 * `relations` and `comments` (their counts come from the cache), then one of the two
	 * `api` replicas (the client, like an ingress, sends a GET that met a closed connection
	 * to the other). Every read must answer status_code 0, with the counts the cache holds.
	 */
	test("kill -9 of videos, favorites, relations, comments and api, one by one, fails no feed or profile request", async () => {
		const client = new Client(system.url);
		const viewer = await client.register();
		const author = await client.register();
		const fan = await client.register();
		const videoId = await publishVideo(client, system.broker, author.token);
		expect(await client.post("/favorite/action/", { token: fan.token, video_id: videoId, action_type: 1 })).toMatchObject({ status_code: 0 });
		expect(await client.post("/relation/action/", { token: viewer.token, to_user_id: author.id, action_type: 1 })).toMatchObject({ status_code: 0 });
		const feedVideo = async (base: string) => {
			const body = await new Client(base).get<{ video_list: { id: number; favorite_count: number; author: { follower_count: number; is_follow: boolean } }[] }>(
				"/feed/",
				{ token: viewer.token }
			);
			return body.video_list.find(video => video.id === videoId);
		};
		expect(await feedVideo(system.url)).toMatchObject({ favorite_count: 1, author: { follower_count: 1, is_follow: true } });

		const apis = [...system.processes].filter(([name]) => name.startsWith("api-")).map(([name, p]) => ({ name, url: p.url! }));
		const dead = new Set<string>();
		const live = () => apis.filter(api => !dead.has(api.name));
		const failures: string[] = [];
		const degraded: string[] = [];
		let answered = 0;
		let phase = "before any kill";
		let running = true;

		/** One GET as an ingress sends it: to a live api, once more to the next one when the connection fails. */
		const read = async (path: string, params: Record<string, string | number>, n: number) => {
			const query = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]));
			const targets = live();
			for (let attempt = 0; attempt < 2; attempt++) {
				const { url } = targets[(n + attempt) % targets.length];
				let res: Response;
				try {
					res = await fetch(`${url}/douyin${path}?${query}`, { signal: AbortSignal.timeout(5000) });
				} catch (err) {
					if (attempt === 0 && (err as Error).name !== "TimeoutError") continue;
					return failures.push(`${phase}: ${path} via ${url}: ${(err as Error).message}`);
				}
				const body = (await res.json()) as { status_code: number; status_msg?: string; video_list?: { id: number; favorite_count: number }[] };
				if (res.status !== 200 || body.status_code !== 0) return failures.push(`${phase}: ${path} via ${url}: ${res.status} ${JSON.stringify(body)}`);
				const video = body.video_list?.find(item => item.id === videoId);
				if (body.video_list && video?.favorite_count !== 1) degraded.push(`${phase}: favorite_count ${video?.favorite_count}`);
				answered++;
				return;
			}
		};
		const reader = async (n: number) => {
			for (let i = 0; running; i++)
				await (i % 4 === 3 ? read("/user/", { user_id: author.id, token: viewer.token }, n + i) : read("/feed/", { token: viewer.token }, n + i));
		};
		// Comments renew the videos stamp: the feed head is assembled anew while processes die.
		const commenter = async () => {
			while (running) {
				await client.post("/comment/action/", { token: fan.token, video_id: videoId, action_type: 1, comment_text: "still here?" }).catch(() => undefined);
				await new Promise(resolve => setTimeout(resolve, 100));
			}
		};
		const load = [...Array.from({ length: 6 }, (_, n) => reader(n)), commenter()];

		const phases: { kill: string; answered: number }[] = [];
		try {
			for (const prefix of ["videos-2-", "favorites-1-", "relations-1-", "comments-1-", "api-2-"]) {
				await new Promise(resolve => setTimeout(resolve, 1500));
				const [name, process] = processOf(system, prefix);
				const before = answered;
				phase = `after kill -9 of ${name}`;
				process.child.kill("SIGKILL");
				await exited(process.child);
				if (name.startsWith("api-")) dead.add(name);
				// Long enough for the heartbeats to forget the node.
				await new Promise(resolve => setTimeout(resolve, 7000));
				phases.push({ kill: name, answered: answered - before });
			}
		} finally {
			running = false;
			await Promise.all(load);
		}

		// One line per phase and kind of failure, with how often.
		const tally = new Map<string, number>();
		for (const failure of failures) tally.set(failure, (tally.get(failure) ?? 0) + 1);
		expect([...tally].map(([failure, times]) => `${times} × ${failure}`)).toEqual([]);
		// Reads kept being answered through every death.
		for (const phase of phases) expect(phase).toEqual({ kill: phase.kill, answered: expect.any(Number) });
		expect(Math.min(...phases.map(phase => phase.answered))).toBeGreaterThan(20);
		// The like's count came from the cache while its owner was dead.
		expect(degraded).toEqual([]);
		expect(await feedVideo(live()[0].url)).toMatchObject({ favorite_count: 1, author: { follower_count: 1, is_follow: true } });
	});
});
