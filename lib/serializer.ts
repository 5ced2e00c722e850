/**
 * Moleculer's JSONExt serializer (Buffers, Dates and stream chunks survive the wire),
 * with fast paths both ways. JSONExt's reviver runs on every value of every packet, and
 * its replacer on every key, each about 5× the cost of plain JSON for a feed page. Every
 * value JSONExt encodes specially, and every string it escapes, starts with "[[", so:
 * - a packet without `"[[` is plain JSON and is parsed as such;
 * - a payload of plain objects, arrays and primitives, with no string starting with
 *   "[[", is written as plain JSON; anything else (a Date, a Buffer, a Map, a class
 *   instance, …) goes through JSONExt.
 *
 * A response whose data holds JsonText values (lib/json-text.ts: ready JSON bytes, such
 * as the feed's list for the gateway) is framed: a zero byte (JSON never starts with
 * one), the length of the packet's own encoding, that encoding with each JsonText's bytes
 * replaced by their length, then the bytes themselves. They cross the wire as they are:
 * not escaped into a string, re-encoded or scanned.
 */
import { Serializers } from "moleculer";
import { isJsonText, type JsonText } from "./json-text";

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

const FRAMED = 0;
const HEADER = 5; // FRAMED, then the packet encoding's length (UInt32BE)

/** A JsonText on the wire, inside the framed packet: the length of its bytes, which follow the packet. */
interface RawSlot {
	$jsonText: { bytes: number };
}

function isRawSlot(value: unknown): value is RawSlot {
	return typeof value === "object" && value !== null && typeof (value as RawSlot).$jsonText?.bytes === "number";
}

/** The JsonText values among the packet's data, or null when there are none. */
function rawValues(packet: { data?: unknown }): [string, JsonText][] | null {
	const data = packet.data;
	if (typeof data !== "object" || data === null || Array.isArray(data) || Buffer.isBuffer(data)) return null;
	let raws: [string, JsonText][] | null = null;
	for (const key in data) {
		const value = (data as Record<string, unknown>)[key];
		if (isJsonText(value)) (raws ??= []).push([key, value]);
	}
	return raws;
}

export class FastJSONExtSerializer extends Serializers.JSONExt {
	override serialize(obj: unknown): Buffer {
		const raws = rawValues(obj as { data?: unknown });
		if (!raws) return this.encode(obj);
		const data: Record<string, unknown> = { ...(obj as { data: object }).data };
		for (const [key, text] of raws) data[key] = { $jsonText: { bytes: text.$jsonText.length } } satisfies RawSlot;
		const packet = this.encode({ ...(obj as object), data });
		const header = Buffer.allocUnsafe(HEADER);
		header[0] = FRAMED;
		header.writeUInt32BE(packet.length, 1);
		return Buffer.concat([header, packet, ...raws.map(([, text]) => text.$jsonText)]);
	}

	override deserialize(buf: Buffer | string): unknown {
		if (typeof buf === "string" || buf[0] !== FRAMED) return this.decode(buf);
		let offset = HEADER + buf.readUInt32BE(1);
		const packet = this.decode(buf.subarray(HEADER, offset)) as { data: Record<string, unknown> };
		for (const key in packet.data) {
			const slot = packet.data[key];
			if (!isRawSlot(slot)) continue;
			const end = offset + slot.$jsonText.bytes;
			packet.data[key] = { $jsonText: buf.subarray(offset, end) } satisfies JsonText;
			offset = end;
		}
		return packet;
	}

	private encode(obj: unknown): Buffer {
		return isPlain(obj, 0) ? Buffer.from(JSON.stringify(obj)) : super.serialize(obj as object);
	}

	private decode(buf: Buffer | string): unknown {
		return buf.includes(MARKER) ? super.deserialize(buf as Buffer) : JSON.parse(buf.toString());
	}
}
