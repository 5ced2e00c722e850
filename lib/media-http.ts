/**
 * The gateway's two byte-moving handlers: the streaming upload of
 * POST /douyin/publish/action/ and GET /media/<key> with HTTP Range support.
 */
import fs from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import os from "node:os";
import path from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import busboy from "busboy";
import type { Context, Service } from "moleculer";
import rangeParser from "range-parser";
import { config } from "./config";
import { success } from "./http";
import { invalidParam, tooLarge as payloadTooLarge } from "./errors";
import { keepFirst, readParams } from "./params";
import type { AppMeta } from "./meta";
import { KEY_PATTERN, ObjectTooLargeError, type Storage } from "./storage";

export interface Gateway extends Service {
	storage: Storage;
	resolveUser(ctx: Context<unknown, AppMeta>, token: unknown, mode: "required"): void;
	/** The route's rate limit and, for a write, a user who exists (401/429); after resolveUser. */
	admit(req: IncomingMessage): Promise<void>;
	sendError(req: IncomingMessage, res: ServerResponse, err: unknown): void;
	sendResponse(req: IncomingMessage, res: ServerResponse, data: unknown): void;
}

type GatewayRequest = IncomingMessage & { $ctx: Context<unknown, AppMeta>; $params: Record<string, unknown> };

const UPLOAD_FIELD = "data";

/** The upload's text fields as every route reads parameters: query string first, multipart fields as fallback. */
function field(req: GatewayRequest, fields: Record<string, string>, name: string): string | undefined {
	return readParams([name], [req.$params, fields])[name];
}

/**
 * Streams the `data` part to `videos.publish` (Moleculer stream call). When the client
 * sends the file before `token`/`title` (Go's multipart writer does), the part is
 * spooled to a temporary file first, because the user must be known before anything is
 * stored. Either way the upload is never held whole in memory.
 */
export function handleUpload(service: Gateway, req: GatewayRequest, res: ServerResponse): Promise<void> {
	const cfg = config();
	const ctx = req.$ctx;
	return new Promise<void>(resolve => {
		let done = false;
		const finish = (err: unknown, data?: unknown) => {
			if (done) return;
			done = true;
			req.unpipe();
			req.resume(); // drain what the client still sends, so it reads our answer
			if (err) service.sendError(req, res, err);
			else service.sendResponse(req, res, success(data as object));
			resolve();
		};

		if (!/^multipart\/form-data/i.test(req.headers["content-type"] ?? ""))
			return finish(invalidParam("publish/action takes a multipart/form-data body with the video in a 'data' file part", "data"));

		let parser: busboy.Busboy;
		try {
			parser = busboy({
				headers: req.headers,
				limits: { files: 1, fileSize: cfg.limits.uploadBytes, fields: 20, fieldSize: 16 * 1024, parts: 30 }
			});
		} catch {
			return finish(invalidParam("malformed multipart body"));
		}

		const fields: Record<string, string> = {};
		let received = false;
		let tooLarge = false;
		let publishing: Promise<unknown> | null = null;
		let spool: { file: string; written: Promise<void> } | null = null;

		/** Resolves the token, then streams what `open` gives to videos.publish. */
		const publish = async (open: () => Readable) => {
			service.resolveUser(ctx, field(req, fields, "token"), "required");
			await service.admit(req);
			return ctx.call("videos.publish", { title: field(req, fields, "title") }, { stream: open(), timeout: cfg.uploadTimeoutMs });
		};

		parser.on("field", (name, value) => keepFirst(fields, name, value));

		parser.on("file", (name, file) => {
			if (name !== UPLOAD_FIELD || received) {
				file.resume();
				return;
			}
			received = true;
			// busboy stops at the cap and drops the rest of the part.
			file.on("limit", () => {
				tooLarge = true;
			});
			if (field(req, fields, "token") !== undefined && field(req, fields, "title") !== undefined) {
				const body = new PassThrough();
				// The consumer may attach after an early abandon; it then sees the stream errored.
				body.on("error", () => undefined);
				const abandon = (err?: Error) => {
					file.unpipe(body);
					file.resume();
					body.destroy(err);
				};
				file.on("limit", () => abandon(new ObjectTooLargeError(cfg.limits.uploadBytes)));
				file.pipe(body);
				publishing = Promise.resolve()
					.then(() => publish(() => body))
					.catch(err => {
						abandon();
						throw err;
					});
				publishing.catch(() => undefined);
			} else {
				const dir = fs.mkdtempSync(path.join(os.tmpdir(), "moletok-upload-"));
				const target = path.join(dir, "data");
				const written = pipeline(file, fs.createWriteStream(target));
				written.catch(() => undefined);
				spool = { file: target, written };
			}
		});

		parser.on("error", err => finish(invalidParam(`malformed multipart body: ${(err as Error).message}`)));

		parser.on("close", async () => {
			const spooled = spool as { file: string; written: Promise<void> } | null;
			let replay: Readable | null = null;
			try {
				if (!received) throw invalidParam("the video file is missing: send it as the 'data' part", "data");
				let data: unknown;
				if (spooled) {
					await spooled.written;
					if (tooLarge) throw new ObjectTooLargeError(cfg.limits.uploadBytes);
					// Opened before the call, so closing it unread (a refused call) cannot race the open.
					const handle = await fs.promises.open(spooled.file, "r");
					data = await publish(() => (replay = handle.createReadStream())).finally(() => replay ?? handle.close());
				} else data = await publishing;
				finish(null, data);
			} catch (err) {
				finish(tooLarge || err instanceof ObjectTooLargeError ? payloadTooLarge(`the video is larger than ${cfg.limits.uploadBytes} bytes`) : err);
			} finally {
				// A call refused before it read the file leaves the stream unread: close it first.
				(replay as Readable | null)?.destroy();
				if (spooled) fs.rmSync(path.dirname(spooled.file), { recursive: true, force: true });
			}
		});

		req.pipe(parser);
	});
}

/** GET/HEAD /media/<key>: the object with Content-Type and Content-Length, 206 for a Range. */
export async function serveMedia(service: Gateway, req: GatewayRequest, res: ServerResponse): Promise<void> {
	const rawKey = req.$params.key;
	const key = Array.isArray(rawKey) ? rawKey.join("/") : String(rawKey ?? "");
	const notFound = () => {
		res.writeHead(404, { "Content-Type": "application/json; charset=utf-8" });
		res.end(JSON.stringify({ status_code: 404, status_msg: `no media at /media/${key}` }));
	};
	if (!KEY_PATTERN.test(key)) return notFound();
	const info = await service.storage.stat(key);
	if (!info) return notFound();

	const headers: Record<string, string | number> = {
		"Content-Type": info.contentType,
		"Accept-Ranges": "bytes",
		// Keys are never reused, so an object never changes.
		"Cache-Control": "public, max-age=31536000, immutable"
	};
	let status = 200;
	let range: { start: number; end: number } | undefined;
	const header = req.headers.range;
	if (header) {
		const ranges = rangeParser(info.size, header, { combine: true });
		if (ranges === -1) {
			res.writeHead(416, { "Content-Range": `bytes */${info.size}`, "Content-Type": "application/json; charset=utf-8" });
			res.end(JSON.stringify({ status_code: 416, status_msg: `range not satisfiable: the object has ${info.size} bytes` }));
			return;
		}
		// Malformed (-2) or multi-range requests get the whole object, as RFC 9110 allows.
		if (Array.isArray(ranges) && ranges.length === 1 && ranges.type === "bytes") {
			range = { start: ranges[0].start, end: ranges[0].end };
			status = 206;
			headers["Content-Range"] = `bytes ${range.start}-${range.end}/${info.size}`;
		}
	}
	headers["Content-Length"] = range ? range.end - range.start + 1 : info.size;
	res.writeHead(status, headers);
	if (req.method === "HEAD" || info.size === 0) return void res.end();
	try {
		await pipeline(await service.storage.get(key, range), res);
	} catch (err) {
		service.logger.debug("media stream ended early", key, (err as Error).message);
		res.destroy();
	}
}
