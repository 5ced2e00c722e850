/**
 * Logging: readable lines in embedded mode (Moleculer's Console logger, "short" format)
 * and one JSON object per line in cluster mode (Pino), which log collectors read without
 * parsing rules. Both mask tokens and passwords (lib/tracing.ts): moleculer-web logs
 * request URLs, and tokens travel in query strings.
 *
 * A JSON line: {"level":"warn","time":"2025-…Z","pid":1,"hostname":"videos-7d…","nodeID":
 * "videos-1","ns":"moletok","mod":"videos","svc":"videos","msg":"…","err":{…}}.
 */
import util from "node:util";
import { type LoggerConfig, Loggers } from "moleculer";
import { type DestinationStream, pino } from "pino";
import type { Config } from "./config";
import { redact, redactText } from "./tracing";

/** Objects in log arguments, on one line (Moleculer's Console default, minus the secrets). */
function printObject(value: unknown, colors: boolean): string {
	// An error prints its message and stack, which redact() does not reach: mask the text (uncoloured, so the patterns match).
	if (value instanceof Error) return redactText(util.inspect(value, { depth: 2, breakLength: Number.POSITIVE_INFINITY }));
	return util.inspect(redact(value), { depth: 2, colors, breakLength: Number.POSITIVE_INFINITY });
}

/** An error as the JSON line's `err` field, redacted. */
function errorFields(err: Error & Record<string, unknown>): Record<string, unknown> {
	return redact({ name: err.name, message: err.message, code: err.code, type: err.type, data: err.data, stack: err.stack });
}

/** The Console logger in Moleculer's "short" format, with secrets masked in every argument. */
class RedactingConsoleLogger extends Loggers.Console {
	override getFormatter(bindings: Parameters<InstanceType<typeof Loggers.Console>["getFormatter"]>[0]) {
		const format = super.getFormatter(bindings);
		return (type: string, args: unknown[]) => format(type, args.map(arg => (typeof arg === "string" ? redactText(arg) : arg)));
	}
}

/**
 * Pino options that turn Moleculer's log calls (any number of strings, objects and an
 * error) into one message plus an `err` field, as Moleculer's own formatters would.
 */
function pinoOptions(level: Config["logLevel"]) {
	return {
		level,
		timestamp: pino.stdTimeFunctions.isoTime,
		formatters: { level: (label: string) => ({ level: label }) },
		// Moleculer errors carry code, type and data; pino's own serializer would put the class name in `type`.
		serializers: { err: errorFields },
		hooks: {
			logMethod(this: unknown, args: unknown[], method: (...args: unknown[]) => void) {
				const err = args.find((arg): arg is Error & Record<string, unknown> => arg instanceof Error);
				const msg = redactText(
					args
						.filter(arg => arg !== err)
						.map(arg => (typeof arg === "string" ? arg : arg instanceof Error ? arg.message : printObject(arg, false)))
						.join(" ")
				);
				if (err) method.call(this, { err }, msg || redactText(err.message));
				else method.call(this, msg);
			}
		}
	};
}

/**
 * The broker's `logger` option: JSON lines (Pino) or the readable Console format,
 * per LOG_FORMAT. `destination` is where JSON lines go (default: stdout, synchronously).
 */
export function loggerOptions(cfg: Config, destination?: DestinationStream): LoggerConfig | InstanceType<typeof Loggers.Base> {
	if (cfg.logFormat === "json") return { type: "Pino", options: { level: cfg.logLevel, pino: { options: pinoOptions(cfg.logLevel), destination } } };
	return new RedactingConsoleLogger({
		level: cfg.logLevel,
		formatter: "short",
		colors: true,
		moduleColors: true,
		// Moleculer's colours switch themselves off when stdout is not a terminal; so do these.
		objectPrinter: (value: unknown) => printObject(value, process.stdout.isTTY === true)
	});
}
