/**
 * The object-storage contract for media (videos, covers), with two implementations:
 * `LocalStorage` (a directory under DATA_DIR, served by the gateway's /media route) and
 * `MinioStorage` (MinIO or any S3). The storage contract suite runs on both.
 */
import type { Readable } from "node:stream";

export interface ObjectInfo {
	size: number;
	contentType: string;
}

/** An inclusive byte range, as HTTP Range requests give it. */
export interface ByteRange {
	start: number;
	end: number;
}

export interface Storage {
	/**
	 * Stores a stream under `key`, never holding it whole in memory. With `maxBytes`, a
	 * longer stream fails with ObjectTooLargeError. On any failure nothing is left behind.
	 */
	put(key: string, body: Readable, options: { contentType: string; maxBytes?: number }): Promise<ObjectInfo>;
	/** Stores a local file under `key`. */
	putFile(key: string, file: string, contentType: string): Promise<ObjectInfo>;
	/** The object's bytes, or the bytes of `range`; throws ObjectNotFoundError. */
	get(key: string, range?: ByteRange): Promise<Readable>;
	/** Size and type, or null when there is no such object. */
	stat(key: string): Promise<ObjectInfo | null>;
	/** Removes the object; removing a missing object is not an error. */
	delete(key: string): Promise<void>;
	/** The absolute URL a client (a phone) uses to fetch the object. */
	url(key: string): Promise<string>;
	/** Throws when the storage cannot be reached (readiness probes). */
	ping(): Promise<void>;
}

export class ObjectTooLargeError extends Error {
	override name = "ObjectTooLargeError";
	constructor(readonly maxBytes: number) {
		super(`object is larger than ${maxBytes} bytes`);
	}
}

export class ObjectNotFoundError extends Error {
	override name = "ObjectNotFoundError";
	constructor(readonly key: string) {
		super(`no object ${key}`);
	}
}

const CONTENT_TYPES: Record<string, string> = { mp4: "video/mp4", jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png" };

/** The content type of a generated key, from its extension. */
export function contentTypeOf(key: string): string {
	return CONTENT_TYPES[key.slice(key.lastIndexOf(".") + 1).toLowerCase()] ?? "application/octet-stream";
}

/** Keys are generated (never the client's file name): `<kind>/<yyyy-mm>/<uuid>.<ext>`. */
export const KEY_PATTERN = /^(videos|covers)\/\d{4}-\d{2}\/[0-9a-f-]{36}\.(mp4|jpg)$/;
