/**
 * Publishing real videos in tests: the committed fixture (a 2 s H.264/AAC MP4 of 17 KB,
 * moov atom after mdat, made with ffmpeg's test source) uploaded over HTTP like the
 * APK does, ready when publish answers. And the videos tests make for themselves with
 * the project's ffmpeg (scripts/ffmpeg.sh): ones that need re-encoding, and hostile ones.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ServiceBroker } from "moleculer";
import { resolveBinaries } from "../../lib/ffmpeg";
import type { Client } from "./client";

export const FIXTURE_MP4 = path.join(__dirname, "..", "fixtures", "bear.mp4");

/** The ffmpeg and ffprobe the system under test uses. */
export const BINARIES = resolveBinaries({ ffmpegPath: process.env.FFMPEG_PATH ?? null, ffprobePath: process.env.FFPROBE_PATH ?? null });

/** A multipart body in the demo test's order: the file first, then token and title. */
export function uploadForm(fields: { token?: string; title?: string }, file: Buffer | null = fs.readFileSync(FIXTURE_MP4), name = "bear.mp4"): FormData {
	const form = new FormData();
	if (file) form.append("data", new Blob([new Uint8Array(file)], { type: "video/mp4" }), name);
	if (fields.token !== undefined) form.append("token", fields.token);
	if (fields.title !== undefined) form.append("title", fields.title);
	return form;
}

/** Waits until a video leaves `pending`; returns its final status. */
export async function waitForVideo(broker: ServiceBroker, id: number, timeoutMs = 20000): Promise<{ status: string; failReason: string | null; normalising: boolean }> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const video = await broker.call<{ status: string; failReason: string | null; normalising: boolean }, object>("videos.status", { id });
		if (video.status !== "pending" || Date.now() > deadline) return video;
		await new Promise(resolve => setTimeout(resolve, 50));
	}
}

/** Uploads `file` (the fixture by default) as `token`'s user; it is ready when publish answers. Returns the video id. */
export async function publishVideo(client: Client, broker: ServiceBroker, token: string, title = "Bear", file?: Buffer): Promise<number> {
	const body = await client.postMultipart<{ video_id: number }>("/publish/action/", uploadForm({ token, title }, file));
	expect(body).toMatchObject({ status_code: 0, status_msg: "success" });
	expect(await broker.call("videos.status", { id: body.video_id })).toMatchObject({ status: "ready" });
	return body.video_id;
}

/**
 * A stand-in ffmpeg of test/fixtures/bin with its environment baked in (in embedded mode
 * ffmpeg runs with the environment of the jest process, which a test cannot change):
 * `MOLETOK_TEST_MARKER` = `marker`, `MOLETOK_TEST_REAL_FFMPEG` = the project's ffmpeg.
 * Same name as the fixture, in a directory of its own.
 */
export function standIn(name: string, marker: string): string {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "moletok-standin-"));
	const file = path.join(dir, name);
	const fixture = path.join(__dirname, "..", "fixtures", "bin", name);
	fs.writeFileSync(
		file,
		`#!/bin/sh\nexport MOLETOK_TEST_MARKER='${marker}' MOLETOK_TEST_REAL_FFMPEG='${BINARIES.ffmpeg}'\nexec '${fixture}' "$@"\n`,
		{ mode: 0o755 }
	);
	return file;
}

/** Runs the project's ffmpeg on `input` (a buffer on stdin, or null) and returns the output file's bytes. */
export function ffmpegMake(args: string[], input: Buffer | null, ext: string): Buffer {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "moletok-fixture-"));
	try {
		const output = path.join(dir, `out.${ext}`);
		execFileSync(BINARIES.ffmpeg, ["-v", "error", "-nostdin", "-y", ...args, output], { input: input ?? undefined, stdio: [input ? "pipe" : "ignore", "ignore", "pipe"] });
		return fs.readFileSync(output);
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
}

/** Grey raw frames (yuv420p) of side × side for ffmpeg's rawvideo input. */
function rawFrames(side: number, count: number): Buffer {
	return Buffer.alloc(side * side * 1.5 * count, 0x80);
}

/** The fixture with its video in MPEG-4 Part 2 in Matroska: a playable upload that must be re-encoded. */
export function mpeg4Mkv(): Buffer {
	return ffmpegMake(["-i", FIXTURE_MP4, "-c:v", "mpeg4", "-q:v", "5", "-c:a", "copy", "-f", "matroska"], null, "mkv");
}

/** The fixture with moov first, cut at `fraction` of its length: probes fine, reads only partly. */
export function cutMp4(fraction = 0.7): Buffer {
	const whole = ffmpegMake(["-i", FIXTURE_MP4, "-c", "copy", "-movflags", "+faststart", "-f", "mp4"], null, "mp4");
	return whole.subarray(0, Math.floor(whole.length * fraction));
}

/** Two 64×64 frames in Matroska, the second stamped an hour after the first (the "one hour" bomb). */
export function hourGapMkv(): Buffer {
	return ffmpegMake(
		["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "64x64", "-r", "25", "-i", "pipe:0", "-vf", "setpts='if(eq(N,1),3600/TB,PTS)'", "-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "ultrafast", "-f", "matroska"],
		rawFrames(64, 2),
		"mkv"
	);
}

/** One 8192×8192 frame (JPEG in Matroska, a few hundred kB). */
export function hugeFrameMkv(): Buffer {
	return ffmpegMake(
		["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "16x16", "-r", "1", "-i", "pipe:0", "-vf", "scale=8192:8192", "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "31", "-f", "matroska"],
		rawFrames(16, 1),
		"mkv"
	);
}

/** What ffprobe says of a stored video's first video stream, and of its container. */
export function probeBytes(bytes: Buffer): { codec: string; format: string } {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "moletok-probe-"));
	try {
		const file = path.join(dir, "video");
		fs.writeFileSync(file, bytes);
		const out = execFileSync(BINARIES.ffprobe, ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_name:format=format_name", "-of", "json", file], { encoding: "utf8" });
		const data = JSON.parse(out) as { streams: { codec_name: string }[]; format: { format_name: string } };
		return { codec: data.streams[0]?.codec_name ?? "", format: data.format.format_name };
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
}
