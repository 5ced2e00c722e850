/**
 * What the transcoder asks of ffmpeg and ffprobe: describe an upload and hold it to the
 * limits (before anything decodes it), read it through (a cut file fails here), cut a
 * JPEG cover, make an MP4 streamable (moov first) without re-encoding, or re-encode
 * anything else to H.264/AAC MP4 within the same limits.
 *
 * Every run is a child process with a wall-clock budget: past it, it is killed (SIGKILL)
 * and the run fails saying so. Where util-linux's `setpriv` exists (every Debian), the
 * child is started through it with a parent-death signal (prctl PR_SET_PDEATHSIG, which
 * Node cannot set itself), so the kernel kills ffmpeg when this process dies, even by kill -9.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** The upload cannot become a video: retrying cannot help. `code` is the envelope's status code. */
export class NotAVideoError extends Error {
	override name = "NotAVideoError";
	constructor(
		message: string,
		readonly code: 400 | 413 = 400
	) {
		super(message);
	}
}

/** An ffmpeg or ffprobe run that failed: its exit, its signal, or its budget running out. */
export class FfmpegRunError extends Error {
	override name = "FfmpegRunError";
	constructor(
		message: string,
		readonly timedOut: boolean
	) {
		super(message);
	}
}

export interface Binaries {
	ffmpeg: string;
	ffprobe: string;
}

export interface VideoLimits {
	maxSeconds: number;
	maxSide: number;
	maxFps: number;
	maxFrames: number;
}

export interface Budgets {
	/** Each probe, read-through, cover and remux run, ms. */
	checkMs: number;
	/** Each re-encoding run, ms. */
	encodeMs: number;
}

export interface Probe {
	durationSeconds: number;
	/** ffprobe's format name, e.g. "mov,mp4,m4a,3gp,3g2,mj2". */
	format: string;
	videoCodec: string;
	audioCodec: string | null;
	width: number;
	height: number;
	fps: number;
	/** The container's frame count, else duration × frame rate. */
	frames: number;
}

/** Longest side of a re-encoded video and of a cover: 1080p-class output whatever comes in. */
export const OUTPUT_MAX_SIDE = 1920;
const COVER_MAX_SIDE = 720;
/** What a child may print before the rest is dropped (ffprobe's JSON of a sane file is a few kB). */
const OUTPUT_LIMIT = 1024 * 1024;

function onPath(name: string): string | null {
	for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
		const candidate = path.join(dir, name);
		try {
			fs.accessSync(candidate, fs.constants.X_OK);
			return candidate;
		} catch {
			// not here
		}
	}
	return null;
}

/** The newest build of scripts/ffmpeg.sh in the cache, for runs that did not go through the scripts. */
function cachedBuild(name: string): string | null {
	const root = path.join(process.env.MOLETOK_CACHE ?? path.join(os.homedir(), ".cache", "moletok"), "ffmpeg");
	const builds = fs.existsSync(root) ? fs.readdirSync(root).filter(dir => fs.existsSync(path.join(root, dir, "bin", name))) : [];
	const newest = builds.sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).at(-1);
	return newest ? path.join(root, newest, "bin", name) : null;
}

/** FFMPEG_PATH / FFPROBE_PATH, else the ones on PATH, else scripts/ffmpeg.sh's build. */
export function resolveBinaries(configured: { ffmpegPath: string | null; ffprobePath: string | null }): Binaries {
	const find = (name: "ffmpeg" | "ffprobe", given: string | null) => {
		const found = given ?? onPath(name) ?? cachedBuild(name);
		if (!found) throw new Error(`no ${name} found: run \`bash scripts/ffmpeg.sh install\` or set ${name.toUpperCase()}_PATH`);
		return found;
	};
	return { ffmpeg: find("ffmpeg", configured.ffmpegPath), ffprobe: find("ffprobe", configured.ffprobePath) };
}

/** util-linux's setpriv, when this system has it (Linux only: prctl). */
const SETPRIV = process.platform === "linux" ? onPath("setpriv") : null;

/** Whether children die with this process (see the module comment). */
export const childrenDieWithParent = SETPRIV !== null;

/** The children running now, so a stopping worker can end them. */
const running = new Set<ChildProcess>();

/** Kills (SIGKILL) every ffmpeg/ffprobe this process runs; their runs fail. */
export function killRunning(): void {
	for (const child of running) child.kill("SIGKILL");
}

/**
 * Runs a binary with a wall-clock budget; resolves with its stdout, rejects with a
 * FfmpegRunError (the last line of stderr, or the budget) when it fails.
 */
export function runBudgeted(binary: string, args: string[], budgetMs: number): Promise<string> {
	return new Promise((resolve, reject) => {
		const [command, argv] = SETPRIV ? [SETPRIV, ["--pdeathsig", "KILL", "--", binary, ...args]] : [binary, args];
		const child = spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"] });
		running.add(child);
		let stdout = "";
		let stderr = "";
		child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
			if (stdout.length < OUTPUT_LIMIT) stdout += chunk;
		});
		child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
			stderr = (stderr + chunk).slice(-8192);
		});
		let timedOut = false;
		const timer = setTimeout(() => {
			timedOut = true;
			child.kill("SIGKILL");
		}, budgetMs);
		const name = path.basename(binary);
		child.once("error", err => {
			clearTimeout(timer);
			running.delete(child);
			reject(err);
		});
		child.once("close", (code, signal) => {
			clearTimeout(timer);
			running.delete(child);
			if (timedOut) return reject(new FfmpegRunError(`${name} was stopped after its budget of ${budgetMs / 1000} s`, true));
			if (code === 0) return resolve(stdout);
			// Messages reach clients: the scratch paths in ffmpeg's own lines are named by their file name only.
			const why = withoutPaths(lastLine(stderr), args) || (signal ? `killed by ${signal}` : `exit code ${code}`);
			reject(new FfmpegRunError(`${name} failed: ${why}`, false));
		});
	});
}

/** `text` with every absolute path among `args` shortened to its file name. */
function withoutPaths(text: string, args: readonly string[]): string {
	let result = text;
	for (const arg of args) if (path.isAbsolute(arg)) result = result.split(arg).join(path.basename(arg));
	return result;
}

function lastLine(text: string): string {
	return text.trim().split("\n").at(-1)?.trim().slice(0, 300) ?? "";
}

/** "30000/1001" → 29.97; 0 for "0/0" and anything unreadable. */
function rate(text: string | undefined): number {
	const [num, den] = (text ?? "").split("/").map(Number);
	return num > 0 && den > 0 ? num / den : 0;
}

interface FfprobeStream {
	codec_type?: string;
	codec_name?: string;
	width?: number;
	height?: number;
	r_frame_rate?: string;
	avg_frame_rate?: string;
	nb_frames?: string;
	duration?: string;
	disposition?: { attached_pic?: number };
}

export class Ffmpeg {
	constructor(
		private readonly binaries: Binaries,
		private readonly limits: VideoLimits,
		private readonly budgets: Budgets
	) {}

	/** "7.1.5" (from `ffmpeg -version`). */
	async version(): Promise<string> {
		const out = await runBudgeted(this.binaries.ffmpeg, ["-hide_banner", "-version"], 5000);
		return /version (\S+)/.exec(out)?.[1] ?? "unknown";
	}

	/** Describes a video file and holds it to the limits; NotAVideoError when it is not one or breaks a limit. */
	async probe(file: string): Promise<Probe> {
		let json: string;
		try {
			json = await runBudgeted(
				this.binaries.ffprobe,
				["-v", "error", "-hide_banner", "-print_format", "json", "-show_format", "-show_streams", file],
				this.budgets.checkMs
			);
		} catch (err) {
			throw new NotAVideoError(`the file is not a video ffmpeg can read (${(err as Error).message})`);
		}
		const data = JSON.parse(json) as { format?: { format_name?: string; duration?: string }; streams?: FfprobeStream[] };
		const streams = data.streams ?? [];
		const video = streams.find(stream => stream.codec_type === "video" && !stream.disposition?.attached_pic);
		if (!video) throw new NotAVideoError("the file is not a video ffmpeg can read (it has no video stream)");
		const audio = streams.find(stream => stream.codec_type === "audio");
		const duration = Number(data.format?.duration ?? video.duration ?? 0);
		if (!(duration > 0)) throw new NotAVideoError("the file is not a video ffmpeg can read (it has no duration)");
		const fps = rate(video.r_frame_rate) || rate(video.avg_frame_rate);
		const probe: Probe = {
			durationSeconds: duration,
			format: data.format?.format_name ?? "",
			videoCodec: video.codec_name ?? "",
			audioCodec: audio?.codec_name ?? null,
			width: video.width ?? 0,
			height: video.height ?? 0,
			fps,
			frames: Number(video.nb_frames) || Math.ceil(duration * fps)
		};
		this.holdToLimits(probe);
		return probe;
	}

	private holdToLimits(probe: Probe): void {
		const { maxSeconds, maxSide, maxFps, maxFrames } = this.limits;
		const refuse = (what: string) => {
			throw new NotAVideoError(`the video is too large: ${what}`, 413);
		};
		if (probe.width <= 0 || probe.height <= 0) throw new NotAVideoError("the file is not a video ffmpeg can read (no frame size)");
		if (probe.durationSeconds > maxSeconds) refuse(`it lasts ${Math.round(probe.durationSeconds)} s, at most ${maxSeconds} s are accepted`);
		if (probe.width > maxSide || probe.height > maxSide) refuse(`its frames are ${probe.width}×${probe.height}, at most ${maxSide} pixels a side are accepted`);
		if (probe.fps > maxFps) refuse(`it has ${Math.round(probe.fps)} frames per second, at most ${maxFps} are accepted`);
		if (probe.frames > maxFrames) refuse(`it has ${probe.frames} frames, at most ${maxFrames} are accepted`);
	}

	/** Reads every packet of the video and audio (no decoding): a cut or damaged file fails with NotAVideoError. */
	async readThrough(file: string): Promise<void> {
		await this.checkRun(["-i", file, "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", "-f", "null", "-"], "the video is damaged or cut short");
	}

	/** Writes a JPEG of the frame at `atSeconds` to `output`. */
	async cover(input: string, output: string, atSeconds: number): Promise<void> {
		await this.checkRun(
			["-ss", String(atSeconds), "-i", input, "-map", "0:v:0", "-frames:v", "1", "-vf", boxed(COVER_MAX_SIDE), "-q:v", "3", "-c:v", "mjpeg", "-f", "image2", "-update", "1", output],
			"no frame of the video could be decoded for its cover"
		);
		if (!fs.existsSync(output) || fs.statSync(output).size === 0) throw new NotAVideoError("no frame of the video could be decoded for its cover");
	}

	/** Copies the video and audio into an MP4 with the moov atom first (no re-encoding). */
	async remux(input: string, output: string, probe: Probe): Promise<void> {
		const tag = probe.videoCodec === "hevc" ? ["-tag:v", "hvc1"] : [];
		await this.checkRun(
			["-i", input, "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", ...tag, "-movflags", "+faststart", "-f", "mp4", output],
			"the video could not be copied into an MP4"
		);
	}

	/**
	 * Re-encodes to a streamable H.264/AAC MP4, within the limits again whatever the probe
	 * said: at most maxSeconds and maxFrames, frames scaled into OUTPUT_MAX_SIDE, timestamps
	 * kept (no frames invented to fill gaps), the output no larger than `maxBytes`.
	 */
	async encode(input: string, output: string, maxBytes: number): Promise<void> {
		const { maxSeconds, maxFrames } = this.limits;
		const args = [
			"-v", "error", "-nostdin", "-y", "-xerror",
			"-i", input,
			"-map", "0:v:0", "-map", "0:a:0?",
			"-t", String(maxSeconds), "-frames:v", String(maxFrames),
			"-vf", `${boxed(OUTPUT_MAX_SIDE)},format=yuv420p`, "-fps_mode", "vfr",
			"-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
			"-c:a", "aac", "-b:a", "128k", "-ac", "2",
			"-movflags", "+faststart", "-fs", String(maxBytes), "-f", "mp4", output
		];
		await runBudgeted(this.binaries.ffmpeg, args, this.budgets.encodeMs);
		// -fs ends the output quietly at the cap: a file that reached it is cut short.
		if (fs.statSync(output).size >= maxBytes) throw new FfmpegRunError(`the re-encoded video exceeded ${maxBytes} bytes`, false);
	}

	/** An ffmpeg run of the check: any failure of ffmpeg is the file's (NotAVideoError), other errors pass through. */
	private async checkRun(args: string[], what: string): Promise<void> {
		try {
			await runBudgeted(this.binaries.ffmpeg, ["-v", "error", "-nostdin", "-y", "-xerror", ...args], this.budgets.checkMs);
		} catch (err) {
			if (err instanceof FfmpegRunError) throw new NotAVideoError(`${err.timedOut ? "the video could not be checked in time" : what} (${err.message})`);
			throw err;
		}
	}
}

/** A scale filter that fits frames into side × side, keeping the aspect ratio and even sizes. */
function boxed(side: number): string {
	return `scale=w='min(${side},iw)':h='min(${side},ih)':force_original_aspect_ratio=decrease:force_divisible_by=2`;
}

/** Whether an MP4/MOV file has its moov atom before mdat (playable while downloading). */
export async function isFaststart(file: string): Promise<boolean> {
	const handle = await fs.promises.open(file, "r");
	try {
		const { size } = await handle.stat();
		const header = Buffer.alloc(16);
		let offset = 0;
		while (offset + 8 <= size) {
			await handle.read(header, 0, 16, offset);
			let boxSize = header.readUInt32BE(0);
			const type = header.toString("latin1", 4, 8);
			if (type === "moov") return true;
			if (type === "mdat") return false;
			if (boxSize === 1) boxSize = Number(header.readBigUInt64BE(8));
			else if (boxSize === 0) return false;
			if (boxSize < 8) return false;
			offset += boxSize;
		}
		return false;
	} finally {
		await handle.close();
	}
}

/** How an upload becomes the stored MP4: kept as it is, copied into an MP4, or re-encoded. */
export async function planFor(file: string, probe: Probe): Promise<"keep" | "remux" | "encode"> {
	const copyable = ["h264", "hevc"].includes(probe.videoCodec) && [null, "aac", "mp3"].includes(probe.audioCodec);
	if (!copyable) return "encode";
	const mp4 = /(^|,)(mov|mp4)(,|$)/.test(probe.format);
	return mp4 && (await isFaststart(file)) ? "keep" : "remux";
}
