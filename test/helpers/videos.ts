/**
 * Publishing real videos in tests: the committed fixture (a 2 s H.264/AAC MP4 of 17 KB,
 * moov atom after mdat, made with ffmpeg's test source) uploaded over HTTP like the
 * APK does, then waited for until the transcoder has made it ready.
 */
import fs from "node:fs";
import path from "node:path";
import type { ServiceBroker } from "moleculer";
import type { Client } from "./client";

export const FIXTURE_MP4 = path.join(__dirname, "..", "fixtures", "bear.mp4");

/** A multipart body in the demo test's order: the file first, then token and title. */
export function uploadForm(fields: { token?: string; title?: string }, file: Buffer | null = fs.readFileSync(FIXTURE_MP4), name = "bear.mp4"): FormData {
	const form = new FormData();
	if (file) form.append("data", new Blob([new Uint8Array(file)], { type: "video/mp4" }), name);
	if (fields.token !== undefined) form.append("token", fields.token);
	if (fields.title !== undefined) form.append("title", fields.title);
	return form;
}

/** Waits until a video leaves `pending`; returns its final status. */
export async function waitForVideo(broker: ServiceBroker, id: number, timeoutMs = 20000): Promise<{ status: string; failReason: string | null }> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const video = await broker.call<{ status: string; failReason: string | null }, object>("videos.status", { id });
		if (video.status !== "pending" || Date.now() > deadline) return video;
		await new Promise(resolve => setTimeout(resolve, 50));
	}
}

/** Uploads the fixture as `token`'s user and waits until it is ready; returns the video id. */
export async function publishVideo(client: Client, broker: ServiceBroker, token: string, title = "Bear"): Promise<number> {
	const body = await client.postMultipart<{ video_id: number }>("/publish/action/", uploadForm({ token, title }));
	expect(body).toMatchObject({ status_code: 0 });
	const video = await waitForVideo(broker, body.video_id);
	expect(video.status).toBe("ready");
	return body.video_id;
}
