/**
 * transcoder: a durable job queue in its own collection. `enqueue` records a job
 * (idempotent per video); workers claim due jobs atomically with a lease they keep
 * extending while they work, so several replicas never run one job at once and a job
 * whose worker died is claimed again when its lease runs out. A job probes the upload
 * (not a video → the video fails at once, its object removed), cuts a JPEG cover, makes
 * the MP4 streamable, and marks the video ready. Other failures retry with exponential
 * backoff and end `failed` with their reason after TRANSCODE_MAX_ATTEMPTS.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Context, Service } from "moleculer";
import { config } from "../lib/config";
import { Ffmpeg, NotAVideoError, isFaststart, isMp4Family, resolveBinaries } from "../lib/ffmpeg";
import { notFound } from "../lib/errors";
import { METRIC } from "../lib/metrics";
import { wireId } from "../lib/params";
import { defineService } from "../lib/service";
import { newKey } from "../lib/storage";
import { type Collection, DuplicateKeyError } from "../lib/store";
import { StorageMixin, type StorageVars } from "../mixins/storage.mixin";
import { StoreMixin, type StoreVars } from "../mixins/store.mixin";

export type JobStatus = "queued" | "running" | "done" | "failed";

export interface JobDoc {
	/** The video id: one job per video. */
	_id: number;
	videoKey: string;
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

interface TranscoderMethods {
	claim(): Promise<JobDoc | null>;
	run(job: JobDoc): Promise<void>;
	transcode(job: JobDoc): Promise<void>;
	settle(job: JobDoc, error: Error): Promise<void>;
	poll(): Promise<void>;
	wake(): void;
}

type TranscoderThis = Service &
	TranscoderMethods &
	StoreVars<{ jobs: Collection<JobDoc> }> &
	StorageVars & {
		ffmpeg: Ffmpeg;
		active: Map<number, Promise<void>>;
		stopping: boolean;
		timer: NodeJS.Timeout | null;
		heartbeat: NodeJS.Timeout | null;
	};

export interface EnqueueParams {
	videoId: number;
	videoKey: string;
}

/** Where in the video the cover is cut: early, but past a black first frame. */
function coverTime(durationSeconds: number): number {
	return Math.min(1, durationSeconds * 0.1);
}

const TranscoderService = defineService<object, TranscoderMethods, TranscoderThis>({
	name: "transcoder",
	mixins: [StoreMixin<{ jobs: Collection<JobDoc> }>({ jobs: [{ fields: ["status"] }, { fields: ["runAt"] }] }), StorageMixin],

	actions: {
		/** Queues the transcode of an uploaded video; queuing it again changes nothing. Params: videoId, videoKey. Returns { queued }. */
		enqueue: {
			visibility: "public",
			params: { videoId: { type: "number", integer: true, positive: true }, videoKey: { type: "string", min: 1, max: 200 } },
			async handler(this: TranscoderThis, ctx: Context<EnqueueParams>) {
				const now = Date.now();
				try {
					await this.collections.jobs.insert({
						_id: ctx.params.videoId,
						videoKey: ctx.params.videoKey,
						status: "queued",
						attempts: 0,
						runAt: now,
						leaseUntil: 0,
						owner: null,
						lastError: null,
						createdAt: now,
						updatedAt: now
					});
				} catch (err) {
					if (!(err instanceof DuplicateKeyError)) throw err;
				}
				this.wake();
				return { queued: true };
			}
		},

		/** A job's state, for developers and tests. Params: videoId. Returns the job. */
		job: {
			visibility: "public",
			params: { videoId: wireId },
			async handler(this: TranscoderThis, ctx: Context<{ videoId: number }>) {
				const job = await this.collections.jobs.findOne({ _id: ctx.params.videoId });
				if (!job) throw notFound(`no transcode job for video ${ctx.params.videoId}`);
				return job;
			}
		}
	},

	methods: {
		/** Atomically takes the next due job, or one whose worker's lease ran out. */
		claim(this: TranscoderThis) {
			const now = Date.now();
			return this.collections.jobs.findOneAndUpdate(
				{ $or: [{ status: "queued", runAt: { $lte: now } }, { status: "running", leaseUntil: { $lt: now } }] },
				{ $set: { status: "running", leaseUntil: now + config().transcode.leaseMs, owner: this.broker.nodeID, updatedAt: now }, $inc: { attempts: 1 } },
				{ sort: { runAt: 1 } }
			);
		},

		async run(this: TranscoderThis, job: JobDoc) {
			try {
				// A job whose workers kept dying (lease expired every time) ends here.
				if (job.attempts > config().transcode.maxAttempts) throw new Error(job.lastError ?? "the worker stopped before it finished");
				const started = performance.now();
				await this.transcode(job);
				this.broker.metrics.observe(METRIC.TRANSCODE_SECONDS, (performance.now() - started) / 1000);
				await this.collections.jobs.updateOne(
					{ _id: job._id, owner: this.broker.nodeID },
					{ $set: { status: "done", lastError: null, updatedAt: Date.now() } }
				);
				this.broker.emit("video.transcoded", { videoId: job._id });
			} catch (err) {
				await this.settle(job, err as Error).catch(settleErr => this.logger.warn(`job ${job._id}: could not record the failure`, settleErr));
			}
		},

		async transcode(this: TranscoderThis, job: JobDoc) {
			const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), `moletok-transcode-${job._id}-`));
			try {
				const input = path.join(dir, "input");
				await pipeline(await this.storage.get(job.videoKey), fs.createWriteStream(input)).catch(err => {
					throw err.name === "ObjectNotFoundError" ? new NotAVideoError("the uploaded file is gone") : err;
				});
				const probe = await this.ffmpeg.probe(input);
				const cover = path.join(dir, "cover.jpg");
				await this.ffmpeg.cover(input, cover, coverTime(probe.durationSeconds));
				if (!isMp4Family(probe) || !(await isFaststart(input))) {
					const output = path.join(dir, "output.mp4");
					if (isMp4Family(probe)) await this.ffmpeg.faststart(input, output);
					else await this.ffmpeg.toMp4(input, output);
					// Same key: objects are replaced whole, so a reader sees the old or the new file.
					await this.storage.putFile(job.videoKey, output, "video/mp4");
				}
				const coverKey = newKey("covers", "jpg");
				await this.storage.putFile(coverKey, cover, "image/jpeg");
				const { updated } = await this.broker.call<{ updated: boolean }, object>("videos.markReady", { id: job._id, coverKey });
				// Already settled by an earlier run of this job: this cover is not needed.
				if (!updated) await this.storage.delete(coverKey);
			} finally {
				await fs.promises.rm(dir, { recursive: true, force: true });
			}
		},

		/** Records a failure: final for a non-video or the last attempt, else queued again after a backoff. */
		async settle(this: TranscoderThis, job: JobDoc, error: Error) {
			const { maxAttempts, backoffMs } = config().transcode;
			const final = error instanceof NotAVideoError || job.attempts >= maxAttempts;
			const reason = error instanceof NotAVideoError ? error.message : `transcoding failed after ${job.attempts} attempt(s): ${error.message}`;
			this.logger.warn(`job ${job._id} attempt ${job.attempts} failed${final ? " (final)" : ""}: ${error.message}`);
			this.broker.metrics.increment(METRIC.TRANSCODE_FAILURES, { final: String(final) });
			if (final) {
				await this.broker.call("videos.markFailed", { id: job._id, reason });
				await this.collections.jobs.updateOne(
					{ _id: job._id, owner: this.broker.nodeID },
					{ $set: { status: "failed", lastError: reason, updatedAt: Date.now() } }
				);
				this.broker.emit("video.failed", { videoId: job._id, reason });
			} else {
				await this.collections.jobs.updateOne(
					{ _id: job._id, owner: this.broker.nodeID },
					{ $set: { status: "queued", owner: null, lastError: error.message, runAt: Date.now() + backoffMs * 2 ** (job.attempts - 1), updatedAt: Date.now() } }
				);
			}
		},

		/** Claims jobs while there is room, then sleeps until the next poll or a local enqueue. */
		async poll(this: TranscoderThis) {
			this.timer = null;
			try {
				while (!this.stopping && this.active.size < config().transcode.concurrency) {
					const job = await this.claim();
					if (!job) break;
					const running = this.run(job).finally(() => {
						this.active.delete(job._id);
						this.wake();
					});
					this.active.set(job._id, running);
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
		this.ffmpeg = new Ffmpeg(resolveBinaries(config().transcode));
		this.active = new Map();
		this.stopping = false;
		this.timer = null;
		this.heartbeat = null;
	},

	started(this: TranscoderThis) {
		const { leaseMs } = config().transcode;
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
		for (const videoId of this.active.keys())
			await this.collections.jobs.updateOne(
				{ _id: videoId, owner: this.broker.nodeID, status: "running" },
				{ $set: { status: "queued", owner: null, runAt: Date.now(), updatedAt: Date.now() }, $inc: { attempts: -1 } }
			);
	}
});

export default TranscoderService;
