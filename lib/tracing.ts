/**
 * Tracing: Moleculer's tracer, exporting to Jaeger (JAEGER_ENDPOINT, thrift over HTTP) or
 * to the console, and the redaction that keeps secrets out of every exported span.
 *
 * Tokens travel in query strings (the client's contract) and passwords in params, and
 * Moleculer puts both into spans: action spans carry their params as tags, the gateway's
 * `api.rest` span is named after, and tagged with, the request URL. Every span passes
 * through `RedactingExporter` before an exporter sees it; the same functions redact logs
 * (lib/logging.ts).
 */
import crypto from "node:crypto";
import { type Span, type Tracer, type TracerOptions, TracerExporters } from "moleculer";
import type { Config } from "./config";

/** Parameter and field names whose values never leave the process. */
const SECRET_KEY = /^(token|password)$/i;
const MASK = "***";

/** `token=…` in a query string or form body. */
const SECRET_IN_QUERY = /\b(token|password)=[^&#\s"']*/gi;
/** `token: 'abc'`, `"password":"abc"` (util.inspect and JSON). */
const SECRET_IN_OBJECT_TEXT = /(["']?)\b(token|password)\1(\s*:\s*)(["'])(?:\\.|(?!\4)[^\\])*\4/gi;

/** The text with every token and password value replaced by `***`. */
export function redactText(text: string): string {
	if (!/token|password/i.test(text)) return text;
	return text.replace(SECRET_IN_QUERY, (_match, key: string) => `${key}=${MASK}`).replace(SECRET_IN_OBJECT_TEXT, `$1$2$1$3$4${MASK}$4`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
	if (value == null || typeof value !== "object") return false;
	const proto = Object.getPrototypeOf(value);
	return proto === Object.prototype || proto === null;
}

/**
 * A copy of `value` with secrets masked: values under a secret key, a validation error's
 * `actual` for a secret field, and secrets inside strings. Other objects (streams,
 * requests) are kept as they are.
 */
export function redact<T>(value: T, depth = 0): T {
	if (typeof value === "string") return redactText(value) as T;
	if (depth > 8) return value;
	if (Array.isArray(value)) return value.map(item => redact(item, depth + 1)) as T;
	if (!isPlainObject(value)) return value;
	const secretField = typeof value.field === "string" && SECRET_KEY.test(value.field);
	const copy: Record<string, unknown> = {};
	for (const [key, item] of Object.entries(value))
		copy[key] = SECRET_KEY.test(key) || (secretField && key === "actual") ? MASK : redact(item, depth + 1);
	return copy as T;
}

/** An error as the fields an exporter reads, redacted. */
function redactError(error: Error | boolean | null): Error | boolean | null {
	if (!error || typeof error !== "object") return error;
	const fields = error as Error & Record<string, unknown>;
	return redact({
		name: fields.name,
		message: fields.message,
		code: fields.code,
		type: fields.type,
		data: fields.data,
		stack: fields.stack
	}) as unknown as Error;
}

/** 16 or 32 hex digits (a UUID without dashes): what Jaeger takes as a trace id. */
const HEX_ID = /^([0-9a-f]{16}|[0-9a-f]{32})$/i;

/**
 * Redacts the span in place, and maps a trace id that is not hex (a client's own
 * X-Request-ID, e.g. "req-42") to one that is: the same on every node, and the original
 * stays in the `requestID` tag.
 */
function scrub(span: Span): void {
	span.name = redactText(span.name);
	span.tags = redact(span.tags);
	if (span.logs.length > 0) span.logs = redact(span.logs);
	if (span.error) span.error = redactError(span.error);
	if (span.traceID && !HEX_ID.test(span.traceID.replace(/-/g, "")))
		span.traceID = crypto.createHash("sha256").update(span.traceID).digest("hex").slice(0, 32);
}

/** Longer arrays in params are tagged as a summary: each element would be a tag of its own. */
const MAX_ARRAY_TAGS = 10;

/**
 * The params of an action span, redacted, with long arrays (the id lists of the batched
 * calls) summarised as "1,2,…,10,… (30 items)". Called when the span starts and again
 * with the response when it ends; responses are not tagged.
 */
function actionTags(ctx: { params: unknown }, ...response: unknown[]): Record<string, unknown> | null {
	if (response.length > 0 || !isPlainObject(ctx.params)) return null;
	const params: Record<string, unknown> = {};
	for (const [key, value] of Object.entries(redact(ctx.params)))
		params[key] =
			Array.isArray(value) && value.length > MAX_ARRAY_TAGS ? `${value.slice(0, MAX_ARRAY_TAGS).join(",")},… (${value.length} items)` : value;
	return { params };
}

type ExporterSpec = string | Record<string, unknown>;

/** Hands every span, redacted, to the exporters it wraps. */
export class RedactingExporter extends TracerExporters.Base {
	private readonly exporters: InstanceType<typeof TracerExporters.Base>[];

	constructor(exporters: ExporterSpec[]) {
		super({});
		this.exporters = exporters.map(spec => TracerExporters.resolve(spec));
	}

	override init(tracer: Tracer): void {
		super.init(tracer);
		for (const exporter of this.exporters) exporter.init(tracer);
	}

	override stop(): Promise<unknown> {
		return Promise.all(this.exporters.map(exporter => exporter.stop()));
	}

	override spanStarted(span: Span): void {
		scrub(span);
		for (const exporter of this.exporters) exporter.spanStarted(span);
	}

	override spanFinished(span: Span): void {
		scrub(span);
		for (const exporter of this.exporters) exporter.spanFinished(span);
	}
}

/** The broker's `tracing` options for this configuration. */
export function tracingOptions(cfg: Config): TracerOptions {
	if (cfg.tracing === "off") return { enabled: false };
	const exporter: ExporterSpec =
		cfg.tracing === "jaeger"
			? {
					type: "Jaeger",
					options: {
						endpoint: cfg.jaegerEndpoint,
						// Moleculer samples (sampling.rate); Jaeger keeps whatever it is given.
						sampler: { type: "Const", options: { decision: 1 } },
						// 128-bit trace ids: the whole request id, not its first half.
						legacyMode: false
					}
				}
			: { type: "Console", options: { width: 100, colors: cfg.mode === "embedded" } };
	return {
		enabled: true,
		// Moleculer takes exporter instances (TracerExporters.resolve); its typings list only specs.
		exporter: new RedactingExporter([exporter]) as unknown as TracerOptions["exporter"],
		sampling: { rate: cfg.tracingSampleRate },
		actions: true,
		events: false,
		tags: { action: actionTags as unknown as NonNullable<TracerOptions["tags"]>["action"] },
		errorFields: ["name", "message", "code", "type", "data"],
		stackTrace: false
	};
}
