/**
 * What the transcoder asks of ffmpeg, through fluent-ffmpeg: probe an upload, cut a
 * JPEG cover from early in the video, and make an MP4 streamable (moov atom first) or
 * convert other containers to H.264/AAC MP4. Binaries: FFMPEG_PATH / FFPROBE_PATH, else
 * the system's, else the ones shipped in @ffmpeg-installer / @ffprobe-installer (so
 * embedded mode needs nothing installed).
 */
import fs from "node:fs";
import path from "node:path";
import ffmpeg, { type FfprobeData } from "fluent-ffmpeg";

/** The upload is not a video ffmpeg can decode: retrying cannot help. */
export class NotAVideoError extends Error {
	override name = "NotAVideoError";
}

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

export interface Binaries {
	ffmpeg: string;
	ffprobe: string;
}

export function resolveBinaries(configured: { ffmpegPath: string | null; ffprobePath: string | null }): Binaries {
	return {
		ffmpeg: configured.ffmpegPath ?? onPath("ffmpeg") ?? (require("@ffmpeg-installer/ffmpeg") as { path: string }).path,
		ffprobe: configured.ffprobePath ?? onPath("ffprobe") ?? (require("@ffprobe-installer/ffprobe") as { path: string }).path
	};
}

export interface Probe {
	durationSeconds: number;
	/** ffprobe's format name, e.g. "mov,mp4,m4a,3gp,3g2,mj2". */
	format: string;
	videoCodec: string;
	audioCodec: string | null;
	width: number;
	height: number;
}

export class Ffmpeg {
	constructor(private readonly binaries: Binaries) {}

	private command(input: string) {
		return ffmpeg(input).setFfmpegPath(this.binaries.ffmpeg).setFfprobePath(this.binaries.ffprobe);
	}

	/** Describes a video file; NotAVideoError when it has no decodable video stream. */
	probe(file: string): Promise<Probe> {
		return new Promise((resolve, reject) => {
			this.command(file).ffprobe((err: Error | null, data: FfprobeData) => {
				if (err) return reject(new NotAVideoError(`not a video file ffmpeg can read (${firstLine(err.message)})`));
				const video = data.streams.find(stream => stream.codec_type === "video" && stream.codec_name !== "mjpeg" && stream.codec_name !== "png");
				if (!video) return reject(new NotAVideoError("the file has no video stream"));
				const audio = data.streams.find(stream => stream.codec_type === "audio");
				const duration = Number(data.format.duration ?? video.duration ?? 0);
				if (!(duration > 0)) return reject(new NotAVideoError("the video has no duration"));
				resolve({
					durationSeconds: duration,
					format: data.format.format_name ?? "",
					videoCodec: video.codec_name ?? "",
					audioCodec: audio?.codec_name ?? null,
					width: video.width ?? 0,
					height: video.height ?? 0
				});
			});
		});
	}

	/** Writes a JPEG of the frame at `atSeconds` to `output`. */
	cover(input: string, output: string, atSeconds: number): Promise<void> {
		return this.run(
			this.command(input)
				.seekInput(atSeconds)
				.outputOptions(["-frames:v 1", "-q:v 3", "-f image2", "-vcodec mjpeg"])
				.output(output)
		).then(() => {
			if (!fs.existsSync(output) || fs.statSync(output).size === 0) throw new NotAVideoError("no frame could be decoded for the cover");
		});
	}

	/** Copies the streams into an MP4 with the moov atom first (no re-encoding). */
	faststart(input: string, output: string): Promise<void> {
		return this.run(this.command(input).outputOptions(["-c copy", "-map 0", "-movflags +faststart", "-f mp4"]).output(output));
	}

	/** Re-encodes any container ffmpeg reads into a streamable H.264/AAC MP4. */
	toMp4(input: string, output: string): Promise<void> {
		return this.run(
			this.command(input)
				.outputOptions(["-c:v libx264", "-preset veryfast", "-crf 23", "-pix_fmt yuv420p", "-c:a aac", "-b:a 128k", "-movflags +faststart", "-f mp4"])
				.output(output)
		);
	}

	private run(command: ffmpeg.FfmpegCommand): Promise<void> {
		return new Promise((resolve, reject) => {
			command.on("error", (err: Error, _stdout: string | null, stderr: string | null) =>
				reject(new Error(`ffmpeg failed: ${firstLine(err.message)} ${lastLine(stderr ?? "")}`.trim()))
			);
			command.on("end", () => resolve());
			command.run();
		});
	}
}

function firstLine(text: string): string {
	return text.split("\n")[0].trim().slice(0, 300);
}

function lastLine(text: string | undefined): string {
	return (text ?? "").trim().split("\n").at(-1)?.slice(0, 300) ?? "";
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

/** Whether ffprobe's format name says MP4/MOV family (remux suffices) or something else (re-encode). */
export function isMp4Family(probe: Probe): boolean {
	return /(^|,)(mov|mp4)(,|$)/.test(probe.format) && ["h264", "hevc", "mpeg4"].includes(probe.videoCodec);
}
