/**
 * The gateway's two byte-moving handlers: the streaming upload of
 * POST /douyin/publish/action/ and GET /media/<key> with HTTP Range support.
 */
import fs from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import busboy from "busboy";
import type { Context, Service } from "moleculer";
import type { IncomingRequest } from "moleculer-web";
import rangeParser from "range-parser";
import { config } from "./config";
import { success } from "./http";
import { invalidParam, tooLarge as payloadTooLarge } from "./errors";
import { readParams } from "./params";
import type { AppMeta } from "./meta";
import { removeScratch, scratchDir } from "./scratch";
import { KEY_PATTERN, ObjectTooLargeError, type Storage } from "./storage";
import { ByteCounter } from "./storage/limit";

export interface Gateway extends Service {
	storage: Storage;
	resolveUser(ctx: Context<unknown, AppMeta>, token: unknown, mode: "required"): void;
	/** The route's rate limit and, for a write, a user who exists (api.service.ts). */
	admit(req: IncomingMessage): Promise<void>;
	sendError(req: IncomingMessage, res: ServerResponse, err: unknown): void;
	sendResponse(req: IncomingMessage, res: ServerResponse, data: unknown): void;
}

/** moleculer-web's request, with MoleTok's context meta. */
type GatewayRequest = Omit<IncomingRequest, "$ctx"> & { $ctx: Context<unknown, AppMeta> };

const UPLOAD_FIELD = "data";

/**
 * An upload's text field, read like every other parameter of the gateway: the query
 * string first, then the multipart fields; a repeated one by its first value; an empty
 * one as absent.
 */
function uploadField(req: GatewayRequest, fields: Map<string, string>, name: string): string | undefined {
	return readParams([name], [req.$params, Object.fromEntries(fields)])[name];
}

/** The file part kept on local disk until the fields after it are read: bounded, removed on every outcome. */
interface Spool {
	file: string;
	written: Promise<void>;
	/** Stops writing (closing the file) and removes it; idempotent. */
	discard(): Promise<void>;
}

async function spoolTo(file: Readable, maxBytes: number, tooLarge: () => Error): Promise<Spool> {
	const dir = await scratchDir("upload");
	const target = path.join(dir, "data");
	const counter = new ByteCounter(maxBytes);
	const out = fs.createWriteStream(target);
	const written = pipeline(file, counter, out).catch(err => {
		throw err instanceof ObjectTooLargeError ? tooLarge() : err;
	});
	written.catch(() => undefined);
	let removed: Promise<void> | null = null;
	return {
		file: target,
		written,
		discard() {
			out.destroy();
			removed ??= written.catch(() => undefined).then(() => removeScratch(dir));
			return removed;
		}
	};
}

/**
 * Streams the `data` part to `videos.publish` (a Moleculer stream call), never holding it
 * whole in memory. The user must be known before anything is stored: with the token
 * before the file (query string or an earlier part) a bad one is refused at once and a
 * good one streams straight through; a file before its token is kept in a scratch file
 * of at most UPLOAD_SPOOL_BYTES until the token is read. A client that goes away at any
 * byte ends everything at once: the scratch file or the partly stored object is removed
 * and no descriptor stays open.
 */
export function handleUpload(service: Gateway, req: GatewayRequest, res: ServerResponse): Promise<void> {
	const cfg = config();
	const ctx = req.$ctx;
	return new Promise<void>(resolve => {
		const fields = new Map<string, string>();
		let done = false;
		let received = false;
		let tooLarge = false;
		let publishing: Promise<unknown> | null = null;
		let spool: Promise<Spool> | null = null;
		/** Ends the streamed call's body; set while a file streams straight through. */
		let abandon: ((err: Error) => void) | null = null;

		const finish = (err: unknown, data?: unknown) => {
			if (done) return;
			done = true;
			req.unpipe();
			req.resume(); // drain what the client still sends, so it reads our answer
			if (err) abandon?.(err instanceof Error ? err : new Error("the upload was refused"));
			// The scratch file is gone before the answer.
			const removed = spool ? spool.then(s => s.discard()).catch(() => undefined) : Promise.resolve();
			void removed.then(() => {
				if (err) service.sendError(req, res, err);
				else service.sendResponse(req, res, success(data as object));
				resolve();
			});
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

		// The client went away before the whole body came: nothing of it stays.
		const gone = () => {
			if (done || req.complete) return;
			const err = new Error("the client closed the connection during the upload");
			parser.destroy(err);
			finish(err);
		};
		req.once("close", gone);
		req.once("error", gone);

		const field = (name: string) => uploadField(req, fields, name);
		const authenticate = () => service.resolveUser(ctx, field("token"), "required");
		const sizeError = () => payloadTooLarge(`the video is larger than ${cfg.limits.uploadBytes} bytes`);
		const publish = async (body: Readable) => {
			await service.admit(req);
			return ctx.call("videos.publish", { title: field("title") }, { stream: body, timeout: cfg.uploadTimeoutMs });
		};

		parser.on("field", (name, value) => {
			if (fields.has(name)) return;
			fields.set(name, value);
			// A bad token is refused as soon as it is read, before a file that follows is stored.
			if (name === "token" && field("token") === value) {
				try {
					authenticate();
				} catch (err) {
					finish(err);
				}
			}
		});

		parser.on("file", (name, file) => {
			if (name !== UPLOAD_FIELD || received || done) {
				file.resume();
				return;
			}
			received = true;
			// Its errors are handled where it is piped; this covers the moment before that (the spool's mkdtemp).
			file.on("error", () => undefined);
			// busboy stops at the cap and drops the rest of the part.
			file.on("limit", () => {
				tooLarge = true;
				abandon?.(new ObjectTooLargeError(cfg.limits.uploadBytes));
			});
			const tokenKnown = field("token") !== undefined;
			if (tokenKnown) {
				try {
					authenticate();
				} catch (err) {
					file.resume();
					return finish(err);
				}
			}
			if (tokenKnown && field("title") !== undefined) {
				const body = new PassThrough();
				body.on("error", () => undefined);
				// Ended with an error only once the call reads it: over a transporter, an error before
				// Moleculer listens would never reach the other side, which would wait for the rest forever.
				abandon = err => {
					if (body.readableFlowing === null) body.once("resume", () => body.destroy(err));
					else body.destroy(err);
				};
				pipeline(file, body).catch(() => undefined);
				publishing = publish(body);
				// Refused before the whole file came (e.g. a bad title): answer now, drain the rest.
				publishing.catch(err => finish(tooLarge ? sizeError() : err));
				return;
			}
			// Before its token, only a small file may wait; after it, the upload's own cap holds.
			const spoolBound = !tokenKnown && cfg.limits.uploadSpoolBytes < cfg.limits.uploadBytes;
			const bound = spoolBound ? cfg.limits.uploadSpoolBytes : cfg.limits.uploadBytes;
			const boundError = spoolBound
				? () =>
						payloadTooLarge(
							`the video came before the token and is larger than ${bound} bytes: send the token first (in the query string or before the 'data' part)`
						)
				: sizeError;
			spool = spoolTo(file, bound, boundError);
			spool.then(
				s => s.written.catch(err => finish(err)),
				err => finish(err)
			);
		});

		parser.on("error", err => finish(invalidParam(`malformed multipart body: ${(err as Error).message}`)));

		parser.on("close", async () => {
			if (done) return;
			try {
				if (!received) throw invalidParam("the video file is missing: send it as the 'data' part", "data");
				let data: unknown;
				if (spool) {
					const spooled = await spool;
					await spooled.written;
					if (tooLarge) throw sizeError();
					authenticate();
					if (done) return;
					const replay = fs.createReadStream(spooled.file);
					// An error before the call reads it (the client gone meanwhile) reaches the call when it does.
					replay.on("error", () => undefined);
					// A call refused before it read the file leaves it unread: close it either way.
					data = await publish(replay).finally(() => replay.destroy());
				} else data = await publishing;
				finish(null, data);
			} catch (err) {
				finish(tooLarge || err instanceof ObjectTooLargeError ? sizeError() : err);
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
