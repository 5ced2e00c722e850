/**
 * The one typed configuration of MoleTok, read once from the environment.
 *
 * The run mode follows from what is set: no TRANSPORTER means embedded mode (every
 * service in one process, on-disk store under DATA_DIR, in-memory cache, local media
 * directory); TRANSPORTER=nats://… plus MONGO_URI / REDIS_URL / S3_ENDPOINT means
 * cluster mode. Every variable is listed in the README's table.
 */
import os from "node:os";
import path from "node:path";
import proxyaddr from "proxy-addr";

/** The repository root, both from the sources (lib/) and from the build (dist/lib/). */
export const ROOT_DIR = path.resolve(__dirname, path.basename(path.dirname(__dirname)) === "dist" ? "../.." : "..");

export type Env = Record<string, string | undefined>;

export interface Config {
	/** "embedded" when no transporter is configured, else "cluster". */
	mode: "embedded" | "cluster";
	/** HTTP port of the `api` gateway. */
	port: number;
	/** Address the gateway binds to. */
	host: string;
	/** Port of /live and /ready (every process); null = not served. */
	healthPort: number | null;
	/** Port of the Prometheus /metrics endpoint (every process); null = no metrics. */
	metricsPort: number | null;
	/** Moleculer's per-call metrics (moleculer_request_*): about a quarter of a feed request's CPU. */
	metricsActions: boolean;
	/** On SIGTERM: how long the process keeps serving after readiness failed, before it stops, ms. */
	shutdownDelayMs: number;
	/** On SIGTERM: how long in-flight requests may take to finish, ms. */
	shutdownTimeoutMs: number;
	/** Directory for the embedded store, the JWT secret and the local media. */
	dataDir: string;
	/** Moleculer transporter connection string (NATS in cluster mode); null in embedded mode. */
	transporter: string | null;
	/** Node id of this process; Moleculer generates one when null. */
	nodeId: string | null;
	/** Namespace, so several MoleTok installations can share one NATS. */
	namespace: string;
	logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace";
	/** "json": one JSON object per line (Pino; cluster default); "text": readable lines (embedded default). */
	logFormat: "json" | "text";
	/** Where spans go: "jaeger" (JAEGER_ENDPOINT), "console" (printed), or "off". */
	tracing: "off" | "console" | "jaeger";
	/** Jaeger collector's HTTP endpoint for thrift batches (…:14268/api/traces); null = none. */
	jaegerEndpoint: string | null;
	/** Share of requests traced, 0…1. */
	tracingSampleRate: number;
	/** MongoDB connection string; null selects the embedded store. */
	mongoUri: string | null;
	/** Prefix of every per-service MongoDB database name (`<prefix>-<service>`). */
	mongoDbPrefix: string;
	/** Redis URL; null selects the in-memory cache. */
	redisUrl: string | null;
	/** S3/MinIO settings; null selects the local media directory. */
	s3: S3Config | null;
	/** Absolute base URL clients use to reach media (play_url / cover_url). */
	publicBaseUrl: string;
	jwt: {
		/** HS256 secret; in embedded mode generated once into DATA_DIR when unset. */
		secret: string | null;
		/** Token lifetime in seconds. */
		ttlSeconds: number;
	};
	bcryptCost: number;
	/** Threads hashing passwords in each users process (bcrypt never runs on the event loop). */
	passwordHashThreads: number;
	/** Logins, and apart from them registrations, that may wait for a hashing thread per users process; more are refused (503). */
	passwordHashQueue: number;
	limits: {
		/** Largest accepted upload, in bytes. */
		uploadBytes: number;
		/** Longest video title, in characters. */
		titleChars: number;
		/** Longest comment, in characters. */
		commentChars: number;
		/** Longest chat message, in characters. */
		messageChars: number;
		/** Videos per feed page. */
		feedPageSize: number;
		/** The most of an upload's file the gateway keeps before it knows the user (file part before the token), bytes. */
		uploadSpoolBytes: number;
	};
	/** What an upload may be, from ffprobe's data, enforced again while encoding. */
	video: {
		/** Longest video, seconds. */
		maxSeconds: number;
		/** Largest width or height, pixels. */
		maxSide: number;
		/** Highest frame rate, frames per second. */
		maxFps: number;
		/** Most frames. */
		maxFrames: number;
	};
	/** How long publish/action waits for the transcode before it answers; the rest continues in the job, ms. */
	publishWaitMs: number;
	/** Timeout of the streaming publish call, in milliseconds. */
	uploadTimeoutMs: number;
	/** Default timeout of every other call, in milliseconds. */
	requestTimeoutMs: number;
	/** Per-attempt timeout of an idempotent read the gateway calls (then retried on another replica); reads between services get a half or a quarter, ms. */
	readTimeoutMs: number;
	transcode: {
		/** Attempts before a job ends `failed`. */
		maxAttempts: number;
		/** How long a claimed job stays leased to one worker without a heartbeat, ms. */
		leaseMs: number;
		/** First retry delay; doubles with every attempt. */
		backoffMs: number;
		/** How often an idle worker looks for due jobs, ms. */
		pollMs: number;
		/** On shutdown, how long running jobs may take before they are handed back, ms. */
		shutdownGraceMs: number;
		/** Re-encodes one worker runs at once (an upload's check never waits for them). */
		concurrency: number;
		/** Wall-clock budget of each ffprobe / ffmpeg run that checks an upload (probe, read, cover, remux), ms. */
		checkTimeoutMs: number;
		/** Wall-clock budget of each re-encoding ffmpeg run, ms. */
		encodeTimeoutMs: number;
		/** ffmpeg / ffprobe binaries; null = the ones on PATH. */
		ffmpegPath: string | null;
		ffprobePath: string | null;
	};
	/** File of words the comment and message filter masks, one per line. */
	sensitiveWordsFile: string;
	/** Cache lifetime of derived counts, seconds (entries are also invalidated on change). */
	countsCacheTtl: number;
	/** The gateway's rate limits; a null limit is off. */
	rateLimits: {
		/** Failed logins per username (a successful login gives its attempt back). */
		loginPerUsername: RateLimit | null;
		/** Failed logins per client address. */
		loginPerAddress: RateLimit | null;
		/** Registration attempts per client address. */
		registerPerAddress: RateLimit | null;
		/** Writes (likes, comments, follows, messages, uploads) per user. */
		writesPerUser: RateLimit | null;
	};
	/**
	 * Proxies whose X-Forwarded-For the gateway believes, as proxy-addr takes them: addresses,
	 * CIDR ranges, or `loopback`, `linklocal`, `uniquelocal`. Empty: the client address is the
	 * connection's peer.
	 */
	trustedProxies: string[];
	/** Origins a browser may call the API from besides its own: exact origins, `*` wildcards, or just `*` (any). */
	corsOrigins: string[];
	/** Messages message/chat returns at most: the newest ones without pre_msg_time, the oldest newer ones with it. */
	chatPageSize: number;
}

/** At most `points` in any `seconds`-long window. */
export interface RateLimit {
	points: number;
	seconds: number;
}

export interface S3Config {
	endPoint: string;
	port: number;
	useSSL: boolean;
	accessKey: string;
	secretKey: string;
	bucket: string;
	region: string;
	/** When true, media URLs are presigned GET URLs instead of `publicBaseUrl/<key>`. */
	presign: boolean;
}

class ConfigError extends Error {
	override name = "ConfigError";
}

function int(env: Env, name: string, fallback: number, min = 0): number {
	const raw = env[name];
	if (raw == null || raw === "") return fallback;
	const value = Number(raw);
	if (!Number.isSafeInteger(value) || value < min)
		throw new ConfigError(`${name} must be an integer >= ${min}, got "${raw}"`);
	return value;
}

/** A port number, or null when the variable is "off". */
function optionalPort(env: Env, name: string, fallback: number): number | null {
	return /^off$/i.test(env[name]?.trim() ?? "") ? null : int(env, name, fallback, 0);
}

/** A number in [0, 1]. */
function fraction(env: Env, name: string, fallback: number): number {
	const raw = env[name];
	if (raw == null || raw.trim() === "") return fallback;
	const value = Number(raw);
	if (!Number.isFinite(value) || value < 0 || value > 1) throw new ConfigError(`${name} must be a number from 0 to 1, got "${raw}"`);
	return value;
}

function str(env: Env, name: string): string | null {
	const raw = env[name];
	return raw == null || raw.trim() === "" ? null : raw.trim();
}

function bool(env: Env, name: string, fallback: boolean): boolean {
	const raw = str(env, name);
	if (raw == null) return fallback;
	if (/^(1|true|yes|on)$/i.test(raw)) return true;
	if (/^(0|false|no|off)$/i.test(raw)) return false;
	throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** "10/15m": 10 in 15 minutes (units s, m, h; none = seconds); "off": no limit. */
function rateLimit(env: Env, name: string, fallback: string): RateLimit | null {
	const raw = str(env, name) ?? fallback;
	if (/^off$/i.test(raw)) return null;
	const match = /^(\d+)\s*\/\s*(\d+)\s*([smh]?)$/.exec(raw);
	const points = Number(match?.[1]);
	const seconds = Number(match?.[2]) * DURATION_UNITS[match?.[3] || "s"];
	if (!match || points < 1 || seconds < 1 || !Number.isSafeInteger(points) || !Number.isSafeInteger(seconds))
		throw new ConfigError(`${name} must be <count>/<duration> like 10/15m (units s, m, h) or off, got "${raw}"`);
	return { points, seconds };
}

/** A comma-separated list, blanks dropped. */
function list(env: Env, name: string): string[] {
	return (env[name] ?? "")
		.split(",")
		.map(item => item.trim())
		.filter(Boolean);
}

function s3Config(env: Env): S3Config | null {
	const endpoint = str(env, "S3_ENDPOINT");
	if (!endpoint) return null;
	const url = new URL(endpoint.includes("://") ? endpoint : `http://${endpoint}`);
	const accessKey = str(env, "S3_ACCESS_KEY");
	const secretKey = str(env, "S3_SECRET_KEY");
	if (!accessKey || !secretKey)
		throw new ConfigError("S3_ENDPOINT is set, so S3_ACCESS_KEY and S3_SECRET_KEY are required");
	const useSSL = url.protocol === "https:";
	return {
		endPoint: url.hostname,
		port: url.port ? Number(url.port) : useSSL ? 443 : 80,
		useSSL,
		accessKey,
		secretKey,
		bucket: str(env, "S3_BUCKET") ?? "moletok",
		region: str(env, "S3_REGION") ?? "us-east-1",
		presign: bool(env, "S3_PRESIGN", false)
	};
}

/** Reads the configuration from `env`; throws a ConfigError that says what to fix. */
export function loadConfig(env: Env = process.env): Config {
	const transporter = str(env, "TRANSPORTER");
	const port = int(env, "PORT", 8080, 0);
	const dataDir = path.resolve(str(env, "DATA_DIR") ?? "./data");
	const logLevel = (str(env, "LOG_LEVEL") ?? "info") as Config["logLevel"];
	if (!["fatal", "error", "warn", "info", "debug", "trace"].includes(logLevel))
		throw new ConfigError(`LOG_LEVEL must be one of fatal, error, warn, info, debug, trace`);
	const s3 = s3Config(env);
	const publicBaseUrl = (
		str(env, "PUBLIC_BASE_URL") ??
		(s3 ? `${s3.useSSL ? "https" : "http"}://${s3.endPoint}:${s3.port}/${s3.bucket}` : `http://localhost:${port}/media`)
	).replace(/\/+$/, "");
	if (!/^https?:\/\//.test(publicBaseUrl))
		throw new ConfigError(`PUBLIC_BASE_URL must be an absolute http(s) URL, got "${publicBaseUrl}"`);
	const logFormat = (str(env, "LOG_FORMAT") ?? (transporter ? "json" : "text")) as Config["logFormat"];
	if (!["json", "text"].includes(logFormat)) throw new ConfigError(`LOG_FORMAT must be json or text, got "${logFormat}"`);
	let jaegerEndpoint = str(env, "JAEGER_ENDPOINT");
	if (jaegerEndpoint) {
		let url: URL;
		try {
			url = new URL(/^https?:\/\//.test(jaegerEndpoint) ? jaegerEndpoint : `http://${jaegerEndpoint}`);
		} catch {
			throw new ConfigError(`JAEGER_ENDPOINT must be a URL like http://jaeger-collector:14268/api/traces, got "${jaegerEndpoint}"`);
		}
		// The collector's thrift-over-HTTP path, when only host:port is given.
		if (url.pathname === "/") url.pathname = "/api/traces";
		jaegerEndpoint = url.toString();
	}
	// Not TRACING / TRACING_*: moleculer-runner copies env variables named like broker options over them.
	const tracing = (str(env, "TRACE_EXPORTER") ?? (jaegerEndpoint ? "jaeger" : "off")) as Config["tracing"];
	if (!["off", "console", "jaeger"].includes(tracing)) throw new ConfigError(`TRACE_EXPORTER must be off, console or jaeger, got "${tracing}"`);
	if (tracing === "jaeger" && !jaegerEndpoint)
		throw new ConfigError("TRACE_EXPORTER=jaeger needs JAEGER_ENDPOINT (e.g. http://jaeger-collector:14268/api/traces)");
	if (transporter && !str(env, "REDIS_URL"))
		throw new ConfigError(
			"REDIS_URL is required in cluster mode (TRANSPORTER is set): every replica must share one cache, or each would serve what it alone remembers"
		);
	const secret = str(env, "JWT_SECRET");
	if (transporter && !secret)
		throw new ConfigError("JWT_SECRET is required in cluster mode (TRANSPORTER is set): every replica must share it");
	if (secret && secret.length < 32) throw new ConfigError("JWT_SECRET must be at least 32 characters");
	const trustedProxies = list(env, "TRUSTED_PROXIES");
	try {
		proxyaddr.compile(trustedProxies);
	} catch (err) {
		throw new ConfigError(`TRUSTED_PROXIES must list addresses, CIDR ranges, loopback, linklocal or uniquelocal: ${(err as Error).message}`);
	}

	return {
		mode: transporter ? "cluster" : "embedded",
		port,
		host: str(env, "HOST") ?? "0.0.0.0",
		healthPort: optionalPort(env, "HEALTH_PORT", 3001),
		metricsPort: optionalPort(env, "METRICS_PORT", 3030),
		metricsActions: bool(env, "METRICS_ACTIONS", false),
		shutdownDelayMs: int(env, "SHUTDOWN_DELAY_MS", transporter ? 2000 : 0, 0),
		shutdownTimeoutMs: int(env, "SHUTDOWN_TIMEOUT_MS", 20 * 1000, 0),
		dataDir,
		transporter,
		nodeId: str(env, "NODE_ID"),
		namespace: str(env, "NAMESPACE") ?? "moletok",
		logLevel,
		logFormat,
		tracing,
		jaegerEndpoint,
		tracingSampleRate: fraction(env, "TRACE_SAMPLE_RATE", 1),
		mongoUri: str(env, "MONGO_URI"),
		mongoDbPrefix: str(env, "MONGO_DB_PREFIX") ?? "moletok",
		redisUrl: str(env, "REDIS_URL"),
		s3,
		publicBaseUrl,
		jwt: { secret, ttlSeconds: int(env, "JWT_TTL_SECONDS", 7 * 24 * 3600, 60) },
		bcryptCost: int(env, "BCRYPT_COST", 10, 10),
		// Half the CPUs by default: the other half keeps answering requests during a login flood.
		passwordHashThreads: int(env, "PASSWORD_HASH_THREADS", Math.max(1, Math.floor(os.availableParallelism() / 2)), 1),
		passwordHashQueue: int(env, "PASSWORD_HASH_QUEUE", 30, 1),
		limits: {
			uploadBytes: int(env, "MAX_UPLOAD_BYTES", 100 * 1024 * 1024, 1),
			titleChars: int(env, "MAX_TITLE_CHARS", 100, 1),
			commentChars: int(env, "MAX_COMMENT_CHARS", 500, 1),
			messageChars: int(env, "MAX_MESSAGE_CHARS", 1000, 1),
			feedPageSize: 30,
			uploadSpoolBytes: int(env, "UPLOAD_SPOOL_BYTES", 16 * 1024 * 1024, 0)
		},
		video: {
			maxSeconds: int(env, "VIDEO_MAX_SECONDS", 300, 1),
			maxSide: int(env, "VIDEO_MAX_SIDE", 4096, 16),
			maxFps: int(env, "VIDEO_MAX_FPS", 120, 1),
			maxFrames: int(env, "VIDEO_MAX_FRAMES", 36000, 1)
		},
		publishWaitMs: int(env, "PUBLISH_WAIT_MS", 10 * 1000, 0),
		uploadTimeoutMs: int(env, "UPLOAD_TIMEOUT_MS", 10 * 60 * 1000, 1000),
		requestTimeoutMs: int(env, "REQUEST_TIMEOUT_MS", 10 * 1000, 100),
		readTimeoutMs: int(env, "READ_TIMEOUT_MS", 3000, 200),
		transcode: {
			maxAttempts: int(env, "TRANSCODE_MAX_ATTEMPTS", 5, 1),
			leaseMs: int(env, "TRANSCODE_LEASE_MS", 60 * 1000, 1000),
			backoffMs: int(env, "TRANSCODE_BACKOFF_MS", 2000, 0),
			pollMs: int(env, "TRANSCODE_POLL_MS", 1000, 10),
			shutdownGraceMs: int(env, "TRANSCODE_SHUTDOWN_GRACE_MS", 15 * 1000, 0),
			concurrency: int(env, "TRANSCODE_CONCURRENCY", 2, 1),
			checkTimeoutMs: int(env, "FFMPEG_TIMEOUT_MS", 30 * 1000, 100),
			encodeTimeoutMs: int(env, "TRANSCODE_TIMEOUT_MS", 10 * 60 * 1000, 100),
			ffmpegPath: str(env, "FFMPEG_PATH"),
			ffprobePath: str(env, "FFPROBE_PATH")
		},
		sensitiveWordsFile: path.resolve(
			str(env, "SENSITIVE_WORDS_FILE") ?? path.join(ROOT_DIR, "config", "sensitive-words.txt")
		),
		countsCacheTtl: int(env, "COUNTS_CACHE_TTL", 300, 1),
		rateLimits: {
			loginPerUsername: rateLimit(env, "RATE_LIMIT_LOGIN_USERNAME", "10/15m"),
			loginPerAddress: rateLimit(env, "RATE_LIMIT_LOGIN_ADDRESS", "100/15m"),
			registerPerAddress: rateLimit(env, "RATE_LIMIT_REGISTER_ADDRESS", "100/1h"),
			writesPerUser: rateLimit(env, "RATE_LIMIT_WRITES", "300/1m")
		},
		trustedProxies,
		corsOrigins: list(env, "CORS_ORIGINS"),
		chatPageSize: int(env, "MAX_CHAT_MESSAGES", 100, 1)
	};
}

let current: Config | null = null;

/** The process-wide configuration (loaded on first use). */
export function config(): Config {
	if (!current) current = loadConfig();
	return current;
}

/** Replaces the process-wide configuration; for tests that start brokers with other settings. */
export function setConfig(next: Config): Config {
	current = next;
	return next;
}
