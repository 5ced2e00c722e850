import { Transform, type TransformCallback } from "node:stream";
import { ObjectTooLargeError } from "./types";

/** Passes bytes through, counting them; fails with ObjectTooLargeError past `maxBytes`. */
export class ByteCounter extends Transform {
	bytes = 0;

	constructor(private readonly maxBytes = Number.POSITIVE_INFINITY) {
		super();
	}

	override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
		this.bytes += chunk.length;
		if (this.bytes > this.maxBytes) return callback(new ObjectTooLargeError(this.maxBytes));
		callback(null, chunk);
	}
}
