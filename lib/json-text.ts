/**
 * JSON made once and written many times, kept as UTF-8 bytes. A caller that will only
 * write an answer out (the gateway) says so with the JSON_TEXT_HEADER call header (a
 * Moleculer 0.15 context header: it reaches the called action only, never the calls that
 * action makes); a service may then put a JsonText where a large value of its answer goes
 * (the feed's video list, joined from bytes its read model keeps). The gateway writes the
 * bytes as they are instead of encoding a structure, and between processes they travel as
 * raw bytes after the packet (lib/serializer.ts), never parsed, escaped or encoded again on
 * the way. Every other caller (the REPL, other services) gets plain objects.
 */

/** The call header by which a caller accepts JsonText in the answer (`{ headers: { [JSON_TEXT_HEADER]: true } }`). */
export const JSON_TEXT_HEADER = "acceptJsonText";
export interface JsonText {
	$jsonText: Buffer;
}

export function isJsonText(value: unknown): value is JsonText {
	return typeof value === "object" && value !== null && Buffer.isBuffer((value as JsonText).$jsonText);
}

/** The bytes of one value's JSON. */
export function jsonBytes(value: unknown): Buffer {
	return Buffer.from(JSON.stringify(value));
}

const OPEN = Buffer.from("[");
const COMMA = Buffer.from(",");
const CLOSE = Buffer.from("]");

/** A JSON array of items that are already JSON. */
export function jsonArray(items: Buffer[]): JsonText {
	const parts: Buffer[] = [OPEN];
	for (const item of items) parts.push(item, COMMA);
	if (items.length > 0) parts.pop();
	parts.push(CLOSE);
	return { $jsonText: Buffer.concat(parts) };
}

/** The JSON of an answer that may be JsonText, or hold JsonText as top-level values (written as they are). */
export function encodeAnswer(data: unknown): string | Buffer {
	if (isJsonText(data)) return data.$jsonText;
	if (typeof data !== "object" || data === null || Array.isArray(data)) return JSON.stringify(data);
	const record = data as Record<string, unknown>;
	let raw = false;
	for (const key in record) if (isJsonText(record[key])) raw = true;
	if (!raw) return JSON.stringify(data);
	const parts: Buffer[] = [];
	let plain = "{";
	let first = true;
	for (const key in record) {
		const value = record[key];
		if (value === undefined || typeof value === "function") continue;
		plain += `${first ? "" : ","}${JSON.stringify(key)}:`;
		first = false;
		if (isJsonText(value)) {
			parts.push(Buffer.from(plain), value.$jsonText);
			plain = "";
		} else plain += JSON.stringify(value);
	}
	parts.push(Buffer.from(`${plain}}`));
	return Buffer.concat(parts);
}
