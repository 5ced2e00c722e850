/**
 * Moleculer's JSONExt serializer (Buffers, Dates and stream chunks survive the wire),
 * with fast paths both ways. JSONExt's reviver runs on every value of every packet, and
 * its replacer on every key, each about 5× the cost of plain JSON for a feed page. Every
 * value JSONExt encodes specially, and every string it escapes, starts with "[[", so:
 * - a packet without `"[[` is plain JSON and is parsed as such;
 * - a payload of plain objects, arrays and primitives, with no string starting with
 *   "[[", is written as plain JSON; anything else (a Date, a Buffer, a Map, a class
 *   instance, …) goes through JSONExt.
 */
import { Serializers } from "moleculer";

const MARKER = '"[[';
const BRACKET = 91; // "["

/** True when plain JSON.stringify writes exactly what JSONExt would. */
function isPlain(value: unknown, depth: number): boolean {
	switch (typeof value) {
		case "string":
			return !(value.charCodeAt(0) === BRACKET && value.charCodeAt(1) === BRACKET);
		case "number":
		case "boolean":
		case "undefined":
			return true;
		case "object": {
			if (value === null) return true;
			if (depth > 32) return false;
			if (Array.isArray(value)) {
				for (let i = 0; i < value.length; i++) if (!isPlain(value[i], depth + 1)) return false;
				return true;
			}
			const proto = Object.getPrototypeOf(value);
			if (proto !== Object.prototype && proto !== null) return false;
			for (const key in value) if (!isPlain((value as Record<string, unknown>)[key], depth + 1)) return false;
			return true;
		}
		default:
			return false;
	}
}

export class FastJSONExtSerializer extends Serializers.JSONExt {
	override serialize(obj: unknown): Buffer {
		return isPlain(obj, 0) ? Buffer.from(JSON.stringify(obj)) : super.serialize(obj as object);
	}

	override deserialize(buf: Buffer | string): unknown {
		return buf.includes(MARKER) ? super.deserialize(buf as Buffer) : JSON.parse(buf.toString());
	}
}
