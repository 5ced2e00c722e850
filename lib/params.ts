/**
 * Parameters, read and checked the same way everywhere.
 *
 * Reading (the gateway, and the upload handler for its text fields): `readParams` takes each
 * parameter the way gin's `c.Query` / `c.PostForm` do — the query string first, then the
 * body; the first value of a repeated parameter; an empty value counts as absent.
 *
 * Checking (every service's `params`): fastest-validator rules whose numbers are strict
 * decimal integers (no "1e1", " 12", "0x10", "+5", "1.0", nothing beyond 2^53−1) and whose
 * text holds no control characters, with one message per rule.
 */
import { invalidParam } from "./errors";

/** Where a parameter may come from: the query string or a body, name → value(s). */
export type ParamSource = Record<string, unknown> | null | undefined;

/**
 * The named parameters as text, from the first source that has a non-empty value for each
 * (pass the query string first). A repeated parameter gives its first value; a JSON number
 * or boolean counts as its text; null counts as absent. A value that is an object or an
 * array in a JSON body is refused with a 400 that names the parameter.
 */
export function readParams(names: readonly string[], sources: readonly ParamSource[]): Record<string, string> {
	const params: Record<string, string> = {};
	for (const name of names)
		for (const source of sources) {
			if (!source || !Object.hasOwn(source, name)) continue;
			const value = scalar(source[name], name);
			if (value !== undefined && value !== "") {
				params[name] = value;
				break;
			}
		}
	return params;
}

function scalar(value: unknown, name: string): string | undefined {
	if (typeof value === "string") return value;
	if (value == null) return undefined;
	if (typeof value === "number" && Number.isFinite(value)) return String(value);
	if (typeof value === "boolean") return String(value);
	throw invalidParam(`The '${name}' parameter must be a single value (text or a number), not ${Array.isArray(value) ? "a list" : "an object"}.`, name);
}

/** Name → first value of urlencoded text (a query string or an urlencoded body), decoded as Go's net/url does. */
export function firstValues(urlencoded: string): Record<string, string> {
	const values: Record<string, string> = {};
	for (const [name, value] of new URLSearchParams(urlencoded)) keepFirst(values, name, value);
	return values;
}

/** Records a field unless it was seen already: a repeated field keeps its first value (multipart bodies). */
export function keepFirst(fields: Record<string, string>, name: string, value: string): void {
	if (!Object.hasOwn(fields, name)) fields[name] = value;
}

/** A whole number in decimal digits (optionally negative), as the wire and Go's strconv.ParseInt write it. */
const DECIMAL_INTEGER = /^-?[0-9]+$/;

/** The integer a wire value stands for, or undefined when it is not a safe decimal integer. */
export function parseWireInteger(value: unknown): number | undefined {
	if (typeof value === "number") return Number.isSafeInteger(value) ? value : undefined;
	if (typeof value !== "string" || !DECIMAL_INTEGER.test(value)) return undefined;
	const number = Number(value);
	return Number.isSafeInteger(number) ? number : undefined;
}

type CustomErrors = { type: string; actual: unknown }[];

/** What is wrong with a value of an integer parameter in [min, max], as fastest-validator words it; null when nothing. */
function integerProblem(value: unknown, min: number, max: number): string | null {
	const number = parseWireInteger(value);
	if (number === undefined) {
		if (typeof value === "number") return Number.isInteger(value) ? "wireSafe" : Number.isFinite(value) ? "numberInteger" : "wireNumber";
		if (typeof value === "string" && /^-?[0-9]+\.[0-9]+$/.test(value)) return "numberInteger";
		if (typeof value === "string" && DECIMAL_INTEGER.test(value)) return "wireSafe";
		return "wireNumber";
	}
	if (number < min) return "numberMin";
	if (number > max) return "numberMax";
	return null;
}

/**
 * A fastest-validator rule for an integer parameter in [min, max], written in decimal digits
 * (a number from an in-process caller is taken as it is). `message` replaces the message of
 * every way the value can be wrong, missing included.
 */
export function integerParam(options: { min: number; max?: number; optional?: boolean; message?: string }) {
	const { min, max = Number.MAX_SAFE_INTEGER, optional = false, message } = options;
	const messages = {
		wireNumber: "The '{field}' field must be a number written in decimal digits, like 42.",
		wireSafe: `The '{field}' field must be at most ${Number.MAX_SAFE_INTEGER}.`,
		numberInteger: "The '{field}' field must be an integer.",
		numberMin: min === 1 ? "The '{field}' field must be a positive number." : `The '{field}' field must be greater than or equal to ${min}.`,
		numberMax: `The '{field}' field must be less than or equal to ${max}.`
	};
	return {
		type: "any",
		optional,
		custom(value: unknown, errors: CustomErrors) {
			// Missing: the `required` rule has said so already.
			if (value == null) return value;
			const problem = integerProblem(value, min, max);
			if (!problem) return parseWireInteger(value);
			errors.push({ type: problem, actual: value });
			return value;
		},
		messages: message ? { ...Object.fromEntries(Object.keys(messages).map(key => [key, message])), required: message } : messages
	} as const;
}

/** An id on the wire: a positive integer, sent as decimal digits. */
export const wireId = integerParam({ min: 1 });

/** An id the caller may leave out. */
export const optionalWireId = integerParam({ min: 1, optional: true });

/** A time (epoch, ms or s) the caller may leave out; 0 means "none". */
export const optionalWireTime = integerParam({ min: 0, optional: true });

/**
 * `action_type`: 1…n, each with its meaning, e.g. `actionType("like", "unlike")`. Any other
 * value (missing, not a number, out of range) gets one message that lists the choices.
 */
export function actionType(...meanings: string[]) {
	return integerParam({
		min: 1,
		max: meanings.length,
		message: `The 'action_type' field must be ${meanings.map((meaning, i) => `${i + 1} (${meaning})`).join(" or ")}.`
	});
}

/** Control characters other than line feed and tab (C0, DEL, C1), and halves of surrogate pairs. */
const CONTROL_IN_TEXT = /[^\P{Cc}\n\t]|\p{Cs}/u;
/** Every control character, line breaks and tabs included, and halves of surrogate pairs. */
const CONTROL_IN_LINE = /\p{Cc}|\p{Cs}/u;

/**
 * A string rule (fastest-validator) that also refuses control characters: NUL and the
 * other C0/C1 characters never belong in text people write, and the MongoDB wire refuses
 * NUL. `multiline` text (comments, messages) may hold line feeds and tabs; a CR LF becomes
 * a line feed. One-line text (titles, names) holds none of them.
 */
export function textParam<R extends { type: "string"; messages?: Record<string, string> }>(rule: R, options: { multiline: boolean }) {
	const forbidden = options.multiline ? CONTROL_IN_TEXT : CONTROL_IN_LINE;
	const message = options.multiline
		? "The '{field}' field must not contain control characters such as NUL: only line breaks and tabs are allowed."
		: "The '{field}' field must not contain control characters such as NUL, line breaks or tabs.";
	return {
		...rule,
		custom(value: unknown, errors: CustomErrors) {
			if (typeof value !== "string") return value;
			const text = options.multiline ? value.replace(/\r\n/g, "\n") : value;
			if (forbidden.test(text)) errors.push({ type: "textControl", actual: text });
			return text;
		},
		messages: { ...rule.messages, textControl: message }
	};
}
