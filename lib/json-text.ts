/**
 * JSON text made once and written many times. A caller that will only write an answer out
 * (the gateway) asks for it with `ctx.meta.$jsonText`; a service may then put a JsonText
 * where a large value of its answer goes (the feed's video list, from texts its feed head
 * keeps). The gateway writes the text as it is instead of encoding a structure, and over
 * NATS it travels as one string instead of being parsed and encoded again at every hop.
 * Every other caller (the REPL, other services) gets plain objects.
 */
export interface JsonText {
	$jsonText: string;
}

export function jsonText(text: string): JsonText {
	return { $jsonText: text };
}

export function isJsonText(value: unknown): value is JsonText {
	return typeof value === "object" && value !== null && typeof (value as JsonText).$jsonText === "string";
}

/** JSON.stringify of an answer whose top-level values may be JsonText (written as they are). */
export function encodeAnswer(data: unknown): string {
	if (typeof data !== "object" || data === null || Array.isArray(data)) return JSON.stringify(data);
	const record = data as Record<string, unknown>;
	let raw = false;
	for (const key in record) if (isJsonText(record[key])) raw = true;
	if (!raw) return JSON.stringify(data);
	const parts: string[] = [];
	for (const key in record) {
		const value = record[key];
		if (value === undefined || typeof value === "function") continue;
		parts.push(`${JSON.stringify(key)}:${isJsonText(value) ? value.$jsonText : JSON.stringify(value)}`);
	}
	return `{${parts.join(",")}}`;
}
