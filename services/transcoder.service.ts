/**
 * transcoder: turns stored uploads into playable videos, as durable jobs in its own
 * collection. A job has two stages:
 *
 * - check: probe the upload and hold it to the limits, read it through (a cut file fails),
 *   cut its cover, and copy it into a streamable MP4 when it is H.264/HEVC but not one
 *   yet; then the video is ready. An upload that is no video, or breaks a limit, is refused.
 * - encode (only for other codecs): re-encode to H.264/AAC MP4; the video is visible with
 *   its original file meanwhile, and switches to the new one when it is done.
 *
 * `enqueue` with `waitMs` (videos.publish) runs the new job here at once and answers when
 * it is done, or when the wait is over: publish is read-your-writes for everything that
 * fits in the wait, while an upload's check never waits for other jobs. Other jobs are
 * claimed by the workers of every replica (a lease they keep extending, so a job whose
 * worker died is claimed again), re-encodes up to TRANSCODE_CONCURRENCY at once. Failures
 * retry with exponential backoff and end `failed` with their reason after
 * TRANSCODE_MAX_ATTEMPTS; every ffmpeg run has a wall-clock budget (lib/ffmpeg.ts).
 */
import fs from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Context, Service, ServiceSchema } from "moleculer";
import { config } from "../lib/config";
import { Ffmpeg, NotAVideoError, childrenDieWithParent, killRunning, planFor, resolveBinaries } from "../lib/ffmpeg";
import { notFound } from "../lib/errors";
import { healthOf } from "../lib/health";
import { METRIC } from "../lib/metrics";
import { wireId } from "../lib/params";
import { removeScratch, scratchDir, sweepScratch } from "../lib/scratch";
import { newKey } from "../lib/storage";
import { type Collection, DuplicateKeyError } from "../lib/store";
import { StorageMixin, type StorageVars } from "../mixins/storage.mixin";
import { StoreMixin, type StoreVars } from "../mixins/store.mixin";

export type JobStatus = "queued" | "running" | "done" | "failed";
export type JobStage = "check" | "encode";

export interface JobDoc {
	/** The video id: one job per video. */
	_id: number;
	/** The upload as stored. */
	sourceKey: string;
	/** Where the copied or re-encoded MP4 goes (written only then). */
	outputKey: string;
	coverKey: string;
	stage: JobStage;
	status: JobStatus;
	/** Claims so far (a claim whose worker died counts too). */
	attempts: number;
	/** Not claimable before this time (backoff). */
	runAt: number;
	/** While running: the claim expires at this time unless the worker extends it. */
	leaseUntil: number;
	owner: string | null;
	lastError: string | null;
	createdAt: number;
	updatedAt: number;
}

/**
 * What `enqueue` with a wait tells publish: ready (visible; `normalising` while it shows
 * its original), processing (the check outlasted the wait: it goes on in the job),
 * refused (no video, or over a limit: `code`, `reason`; the job is gone), unavailable
 * (the check failed for another reason: the job is gone, try again), queued (no wait).
 */
export interface EnqueueAnswer {
	state: "queued" | "ready" | "processing" | "refused" | "unavailable";
	normalising?: boolean;
	code?: number;
	reason?: string;
}

/** How a run ended: done, handed back for a free slot (encode), or failed (retried or final). */
type RunOutcome = "done" | "yielded" | "failed";

/** How a job's check ended, for the one who waits on it. */
type Checked = { kind: "ready" | "encode" } | { kind: "refused"; error: NotAVideoError } | { kind: "error"; error: Error };

/** Tells the waiting publish how the check ended; true while it still waits (then it shows the original itself). */
type OnChecked = (checked: Checked) => boolean;

interface TranscoderMethods {
	claim(filter: object): Promise<JobDoc | null>;
	start(job: JobDoc, onChecked?: OnChecked): Promise<RunOutcome>;
	run(job: JobDoc, onChecked?: OnChecked): Promise<RunOutcome>;
	check(job: JobDoc, input: string, dir: string): Promise<"ready" | "encode">;
	encode(job: JobDoc, input: string, dir: string): Promise<void>;
	makeReady(job: JobDoc, videoKey: string, interim: boolean): Promise<void>;
	settle(job: JobDoc, error: Error): Promise<void>;
	discard(job: JobDoc): Promise<void>;
	waitFor(job: JobDoc, waitMs: number): Promise<EnqueueAnswer>;
	poll(): Promise<void>;
	wake(): void;
}

type TranscoderThis = Service &
	TranscoderMethods &
	StoreVars<{ jobs: Collection<JobDoc> }> &
	StorageVars & {
		ffmpeg: Ffmpeg;
		/** Every run of this worker, by video id. */
		active: Map<number, Promise<RunOutcome>>;
		/** The runs in their encode stage. */
		encoding: Set<number>;
		stopping: boolean;
		timer: NodeJS.Timeout | null;
		heartbeat: NodeJS.Timeout | null;
	};

export interface EnqueueParams {
	videoId: number;
	videoKey: string;
	/** Run the job here at once and answer when it is done or after this long, ms. */
	waitMs?: number;
}
export interface ListParams {
	status?: JobStatus;
	limit?: number;
}

/** Where in the video the cover is cut: early, but past a black first frame. */
function coverTime(durationSeconds: number): number {
	return Math.min(1, durationSeconds * 0.1);
}

/** Whether the error is about the upload itself (refuse it) rather than about this moment (retry). */
function refusal(err: unknown): err is NotAVideoError {
	return err instanceof NotAVideoError;
}

const TranscoderService: ServiceSchema<object, TranscoderMethods, TranscoderThis> = {
	name: "transcoder",
	mixins: [StoreMixin<{ jobs: Collection<JobDoc> }>({ jobs: [{ fields: ["status"] }, { fields: ["runAt"] }, { fields: ["createdAt"] }] }), StorageMixin],

	actions: {
		/**
		 * Queues the transcode of a stored upload (queuing it again changes nothing, or
		 * restarts a settled job whose video is still pending). Params: videoId, videoKey,
		 * waitMs. Returns an EnqueueAnswer.
		 */
		enqueue: {
			visibility: "public",
			params: {
				videoId: { type: "number", integer: true, positive: true },
				videoKey: { type: "string", min: 1, max: 200 },
				waitMs: { type: "number", integer: true, min: 0, optional: true }
			},
			async handler(this: TranscoderThis, ctx: Context<EnqueueParams>): Promise<EnqueueAnswer> {
				const { videoId, videoKey, waitMs } = ctx.params;
				const now = Date.now();
				const inline = waitMs !== undefined;
				// Run here at once: the job is inserted claimed, so no worker's poll can take it first.
				const job: JobDoc = {
					_id: videoId,
					sourceKey: videoKey,
					outputKey: newKey("videos", "mp4"),
					coverKey: newKey("covers", "jpg"),
					stage: "check",
					status: inline ? "running" : "queued",
					attempts: inline ? 1 : 0,
					runAt: now,
					leaseUntil: inline ? now + config().transcode.leaseMs : 0,
					owner: inline ? this.broker.nodeID : null,
					lastError: null,
					createdAt: now,
					updatedAt: now
				};
				try {
					await this.collections.jobs.insert(job);
				} catch (err) {
					if (!(err instanceof DuplicateKeyError)) throw err;
					// A settled job of a video still pending (its settling was cut short): run it again.
					await this.collections.jobs.updateOne(
						{ _id: videoId, status: { $in: ["done", "failed"] } },
						{ $set: { status: "queued", attempts: 0, runAt: now, owner: null, updatedAt: now } }
					);
					this.wake();
					return { state: "queued" };
				}
				if (!inline) {
					this.wake();
					return { state: "queued" };
				}
				return this.waitFor(job, waitMs);
			}
		},

		/** A job's state, for developers and tests. Params: videoId. Returns the JobDoc. */
		job: {
			visibility: "public",
			params: { videoId: wireId },
			async handler(this: TranscoderThis, ctx: Context<{ videoId: number }>) {
				const job = await this.collections.jobs.findOne({ _id: ctx.params.videoId });
				if (!job) throw notFound(`no transcode job for video ${ctx.params.videoId}`);
				return job;
			}
		},

		/** Jobs, newest first, for developers. Params: status, limit (default 20). Returns { jobs }. */
		list: {
			visibility: "public",
			params: {
				status: { type: "enum", values: ["queued", "running", "done", "failed"], optional: true },
				limit: { type: "number", integer: true, min: 1, max: 1000, convert: true, optional: true }
			},
			async handler(this: TranscoderThis, ctx: Context<ListParams>) {
				const filter = ctx.params.status ? { status: ctx.params.status } : {};
				const jobs = await this.collections.jobs.find(filter, { sort: { createdAt: -1, _id: -1 }, limit: ctx.params.limit ?? 20 });
				return { jobs };
			}
		},

		/** Queues a failed job again with fresh attempts. Params: videoId. Returns { retried } (false: no failed job). */
		retry: {
			visibility: "public",
			params: { videoId: wireId },
			async handler(this: TranscoderThis, ctx: Context<{ videoId: number }>) {
				const now = Date.now();
				const retried = await this.collections.jobs.updateOne(
					{ _id: ctx.params.videoId, status: "failed" },
					{ $set: { status: "queued", attempts: 0, runAt: now, owner: null, updatedAt: now } }
				);
				if (retried) this.wake();
				return { retried };
			}
		},

		/** Forgets a video's job and deletes what it made (publish gave up on the upload). Params: videoId. Returns { discarded }. */
		discard: {
			visibility: "public",
			params: { videoId: wireId },
			async handler(this: TranscoderThis, ctx: Context<{ videoId: number }>) {
				const job = await this.collections.jobs.findOne({ _id: ctx.params.videoId });
				if (job) await this.discard(job);
				return { discarded: Boolean(job) };
			}
		}
	},

	methods: {
		/** Atomically takes a job matching `filter` (and due, or with an expired lease). */
		claim(this: TranscoderThis, filter: object) {
			const now = Date.now();
			return this.collections.jobs.findOneAndUpdate(
				{ ...filter, $or: [{ status: "queued", runAt: { $lte: now } }, { status: "running", leaseUntil: { $lt: now } }] },
				{ $set: { status: "running", leaseUntil: now + config().transcode.leaseMs, owner: this.broker.nodeID, updatedAt: now }, $inc: { attempts: 1 } },
				{ sort: { runAt: 1 } }
			);
		},

		/** Runs a claimed job as one of this worker's active runs. */
		start(this: TranscoderThis, job: JobDoc, onChecked?: OnChecked) {
			const running = this.run(job, onChecked).finally(() => {
				this.active.delete(job._id);
				this.encoding.delete(job._id);
				this.wake();
			});
			this.active.set(job._id, running);
			return running;
		},

		async run(this: TranscoderThis, job: JobDoc, onChecked?: (checked: Checked) => void): Promise<RunOutcome> {
			let checked = false;
			/** Whether a publish still waits for this job. */
			let waited = false;
			const tell = (outcome: Checked) => {
				if (!checked) waited = onChecked?.(outcome) ?? false;
				checked = true;
			};
			const dir = await scratchDir("transcode");
			try {
				// A job whose workers kept dying (lease expired every time) ends here.
				if (job.attempts > config().transcode.maxAttempts) throw new Error(job.lastError ?? "the worker stopped before it finished");
				const started = performance.now();
				const input = path.join(dir, "input");
				await pipeline(await this.storage.get(job.sourceKey), fs.createWriteStream(input)).catch(err => {
					throw err.name === "ObjectNotFoundError" ? new NotAVideoError("the uploaded file is gone") : err;
				});
				if (job.stage === "check") {
					const plan = await this.check(job, input, dir);
					tell({ kind: plan });
					if (plan === "encode") {
						const stage = { stage: "encode" as const, updatedAt: Date.now() };
						if (this.encoding.size >= config().transcode.concurrency) {
							// Every re-encoding slot is taken: the job waits for one, its original visible meanwhile.
							if (!waited) await this.makeReady(job, job.sourceKey, true);
							await this.collections.jobs.updateOne({ _id: job._id, owner: this.broker.nodeID }, { $set: { ...stage, status: "queued", owner: null, runAt: Date.now() }, $inc: { attempts: -1 } });
							return "yielded";
						}
						await this.collections.jobs.updateOne({ _id: job._id, owner: this.broker.nodeID }, { $set: stage });
						job = { ...job, ...stage };
						if (!waited) await this.makeReady(job, job.sourceKey, true);
					}
				}
				if (job.stage === "encode") {
					this.encoding.add(job._id);
					await this.encode(job, input, dir);
				}
				this.broker.metrics.observe(METRIC.TRANSCODE_SECONDS, (performance.now() - started) / 1000);
				await this.collections.jobs.updateOne(
					{ _id: job._id, owner: this.broker.nodeID },
					{ $set: { status: "done", lastError: null, updatedAt: Date.now() } }
				);
				this.broker.emit("video.transcoded", { videoId: job._id });
				return "done";
			} catch (err) {
				tell(refusal(err) ? { kind: "refused", error: err } : { kind: "error", error: err as Error });
				await this.settle(job, err as Error).catch(settleErr => this.logger.warn(`job ${job._id}: could not record the failure`, settleErr));
				return "failed";
			} finally {
				await removeScratch(dir);
			}
		},

		/** The check stage; the video is ready unless it needs re-encoding ("encode"). */
		async check(this: TranscoderThis, job: JobDoc, input: string, dir: string) {
			const probe = await this.ffmpeg.probe(input);
			await this.ffmpeg.readThrough(input);
			const cover = path.join(dir, "cover.jpg");
			await this.ffmpeg.cover(input, cover, coverTime(probe.durationSeconds));
			const plan = await planFor(input, probe);
			if (plan === "remux") {
				const output = path.join(dir, "output.mp4");
				await this.ffmpeg.remux(input, output, probe);
				await this.storage.putFile(job.outputKey, output, "video/mp4");
			}
			await this.storage.putFile(job.coverKey, cover, "image/jpeg");
			if (plan === "encode") return "encode";
			await this.makeReady(job, plan === "keep" ? job.sourceKey : job.outputKey, false);
			return "ready";
		},

		/** The encode stage: the limits again, then the H.264/AAC MP4 replaces the original. */
		async encode(this: TranscoderThis, job: JobDoc, input: string, dir: string) {
			await this.ffmpeg.probe(input);
			const output = path.join(dir, "output.mp4");
			await this.ffmpeg.encode(input, output, config().limits.uploadBytes);
			await this.storage.putFile(job.outputKey, output, "video/mp4");
			await this.makeReady(job, job.outputKey, false);
		},

		/**
		 * Makes the video ready with `videoKey` (interim: its original, only while still
		 * pending), then deletes what the record does not use; everything when the video is gone.
		 */
		async makeReady(this: TranscoderThis, job: JobDoc, videoKey: string, interim: boolean) {
			const { gone } = await this.broker.call<{ updated: boolean; gone: boolean }, object>("videos.markReady", {
				id: job._id,
				videoKey,
				coverKey: job.coverKey,
				interim
			});
			if (gone) {
				await this.discard(job);
				throw new NotAVideoError("the video was deleted while it was transcoded");
			}
			// The upload itself, replaced: its removal may fail without failing the job (the video is ready).
			if (!interim && videoKey !== job.sourceKey)
				await this.storage.delete(job.sourceKey).catch(err => this.logger.warn(`job ${job._id}: the replaced upload stays: ${(err as Error).message}`));
		},

		/**
		 * Records a failure. A refused upload fails at once: its video fails and its files go.
		 * Anything else is queued again after a backoff until the last attempt; a re-encode
		 * that never succeeds leaves the video with its original file.
		 */
		async settle(this: TranscoderThis, job: JobDoc, error: Error) {
			const { maxAttempts, backoffMs } = config().transcode;
			const final = refusal(error) || job.attempts >= maxAttempts;
			const reason = refusal(error) ? error.message : `transcoding failed after ${job.attempts} attempt(s): ${error.message}`;
			this.logger.warn(`job ${job._id} attempt ${job.attempts} failed${final ? " (final)" : ""}: ${error.message}`);
			this.broker.metrics.increment(METRIC.TRANSCODE_FAILURES, { final: String(final) });
			const now = Date.now();
			if (!final) {
				await this.collections.jobs.updateOne(
					{ _id: job._id, owner: this.broker.nodeID },
					{ $set: { status: "queued", owner: null, lastError: error.message, runAt: now + backoffMs * 2 ** (job.attempts - 1), updatedAt: now } }
				);
				return;
			}
			// A checked video is never lost: it stays (or becomes) ready with its original file.
			if (job.stage === "encode") await this.makeReady(job, job.sourceKey, false).catch(() => undefined);
			else {
				const { updated, gone } = await this.broker.call<{ updated: boolean; gone: boolean }, object>("videos.markFailed", { id: job._id, reason });
				// A video that made it (an earlier run of this job) keeps what it uses.
				if (gone) await this.discard(job);
				else if (updated) await Promise.all([this.storage.delete(job.coverKey), this.storage.delete(job.outputKey)]);
			}
			await this.collections.jobs.updateOne({ _id: job._id, owner: this.broker.nodeID }, { $set: { status: "failed", lastError: reason, updatedAt: now } });
			this.broker.emit("video.failed", { videoId: job._id, reason });
		},

		/** Deletes a job and every object it made or was given. */
		async discard(this: TranscoderThis, job: JobDoc) {
			await this.collections.jobs.deleteOne({ _id: job._id });
			await Promise.all([job.sourceKey, job.outputKey, job.coverKey].map(key => this.storage.delete(key)));
		},

		/** Runs a fresh job here and answers publish when it is done, or when `waitMs` is over. */
		async waitFor(this: TranscoderThis, job: JobDoc, waitMs: number): Promise<EnqueueAnswer> {
			let timer: NodeJS.Timeout | undefined;
			let waiting = true;
			const over = new Promise<"over">(resolve => {
				timer = setTimeout(() => {
					waiting = false;
					resolve("over");
				}, waitMs);
			});
			let onChecked!: OnChecked;
			const checked = new Promise<Checked>(resolve => {
				onChecked = outcome => {
					resolve(outcome);
					return waiting;
				};
			});
			const running = this.start(job, onChecked);
			try {
				const first = await Promise.race([checked, over]);
				if (first === "over") return { state: "processing" };
				if (first.kind === "refused" || first.kind === "error") {
					// Publish answers with the reason and removes the video: nothing of the upload stays.
					await this.collections.jobs.deleteOne({ _id: job._id });
					await Promise.all([this.storage.delete(job.coverKey), this.storage.delete(job.outputKey)]);
					return first.kind === "refused"
						? { state: "refused", code: first.error.code, reason: first.error.message }
						: { state: "unavailable", reason: first.error.message };
				}
				if (first.kind === "ready") return { state: "ready" };
				const outcome = await Promise.race([running, over]);
				if (outcome === "done") return { state: "ready" };
				// The re-encode goes on (or waits for a slot, or retries): the original meanwhile.
				await this.makeReady(job, job.sourceKey, true);
				return { state: "ready", normalising: true };
			} finally {
				clearTimeout(timer);
			}
		},

		/** Claims due jobs while there is room, then sleeps until the next poll or a local enqueue. */
		async poll(this: TranscoderThis) {
			this.timer = null;
			try {
				while (!this.stopping && this.active.size < config().transcode.concurrency) {
					const job = await this.claim({});
					if (!job) break;
					void this.start(job);
				}
			} catch (err) {
				this.logger.warn("could not claim transcode jobs:", (err as Error).message);
			}
			if (!this.stopping && !this.timer) this.timer = setTimeout(() => void this.poll(), config().transcode.pollMs);
		},

		wake(this: TranscoderThis) {
			if (this.stopping || !this.timer) return;
			clearTimeout(this.timer);
			this.timer = setTimeout(() => void this.poll(), 0);
		}
	},

	created(this: TranscoderThis) {
		const { transcode, video } = config();
		this.ffmpeg = new Ffmpeg(resolveBinaries(transcode), video, { checkMs: transcode.checkTimeoutMs, encodeMs: transcode.encodeTimeoutMs });
		this.active = new Map();
		this.encoding = new Set();
		this.stopping = false;
		this.timer = null;
		this.heartbeat = null;
	},

	async started(this: TranscoderThis) {
		const { leaseMs } = config().transcode;
		const health = healthOf(this.broker);
		const version = await this.ffmpeg.version().catch((err: Error) => {
			this.logger.error(`ffmpeg does not run: ${err.message}`);
			return null;
		});
		const binaries = resolveBinaries(config().transcode);
		if (version) {
			this.logger.info(`ffmpeg ${version} (${binaries.ffmpeg})${childrenDieWithParent ? "" : "; no setpriv here, so ffmpeg is not killed with this process"}`);
			health.describe("ffmpeg", `${version} (${binaries.ffmpeg})`);
		}
		health.register("ffmpeg", async () => {
			if (!version) throw new Error(`${binaries.ffmpeg} does not run`);
		});
		const swept = await sweepScratch();
		if (swept.length > 0) this.logger.info(`removed ${swept.length} scratch directories of stopped processes`);
		// Extends the lease of every running job well before it expires.
		this.heartbeat = setInterval(() => {
			for (const videoId of this.active.keys())
				void this.collections.jobs
					.updateOne({ _id: videoId, owner: this.broker.nodeID, status: "running" }, { $set: { leaseUntil: Date.now() + leaseMs } })
					.catch(err => this.logger.warn(`job ${videoId}: lease not extended:`, (err as Error).message));
		}, Math.max(100, Math.floor(leaseMs / 3)));
		this.timer = setTimeout(() => void this.poll(), 0);
	},

	async stopped(this: TranscoderThis) {
		this.stopping = true;
		if (this.timer) clearTimeout(this.timer);
		// In-flight jobs finish within the grace period; what is left is handed back at once.
		const grace = new Promise(resolve => setTimeout(resolve, config().transcode.shutdownGraceMs).unref());
		await Promise.race([Promise.all(this.active.values()), grace]);
		if (this.heartbeat) clearInterval(this.heartbeat);
		// What is still running is handed back, its ffmpeg killed: it must not outlive the worker.
		killRunning();
		for (const videoId of this.active.keys())
			await this.collections.jobs.updateOne(
				{ _id: videoId, owner: this.broker.nodeID, status: "running" },
				{ $set: { status: "queued", owner: null, runAt: Date.now(), updatedAt: Date.now() }, $inc: { attempts: -1 } }
			);
	}
};

export default TranscoderService;
