/**
 * The HTTP side of the contract: the route table (with each route's parameters, the answer
 * it owes even on failure, and its rate limit), the error → envelope mapping, the body
 * reader of the ordinary routes, and the answer to requests Node's HTTP parser refuses.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import busboy from "busboy";
import proxyaddr from "proxy-addr";
import { firstValues, keepFirst, readParams } from "./params";
import type { User } from "./wire";

/** A rate limit a route is subject to (lib/rate-limits.ts). */
export type LimitName = "login" | "register" | "writes";

export interface RouteSpec {
	method: "GET" | "POST";
	/** Path under /douyin, without the trailing slash (both forms are served). */
	path: string;
	/** The action the route calls; "upload" is the gateway's own streaming handler. */
	action: string;
	/** The parameters it reads besides `token`; nothing else reaches the action. */
	params: readonly string[];
	/**
	 * Every field the IDL marks required in its answer, besides status_code and status_msg,
	 * zero-valued: what a failure answers with (a success has them filled in).
	 */
	zero: Readonly<Record<string, unknown>>;
	/**
	 * "writes": a write on behalf of the token's user, who must exist, limited per user;
	 * "login" / "register": limited per username and client address.
	 */
	limit?: LimitName;
}

/** A User with every field zero-valued: the `user` of a failed GET /douyin/user/. */
export const ZERO_USER: Readonly<User> = Object.freeze({
	id: 0,
	name: "",
	follow_count: 0,
	follower_count: 0,
	is_follow: false,
	avatar: "",
	background_image: "",
	signature: "",
	total_favorited: 0,
	work_count: 0,
	favorite_count: 0
});

const NONE = Object.freeze({});
const VIDEOS = Object.freeze({ video_list: Object.freeze([]) });
const USERS = Object.freeze({ user_list: Object.freeze([]) });
const CREDENTIALS = Object.freeze({ user_id: 0, token: "" });

/**
 * Every /douyin route of the contract (docs/API.md, docs/openapi.json). `comment/action` owes no field:
 * its `comment` is optional in the IDL, sent only when a comment was posted.
 */
export const ROUTES: readonly RouteSpec[] = [
	{ method: "GET", path: "/feed", action: "videos.feed", params: ["latest_time"], zero: { video_list: [], next_time: 0 } },
	{ method: "POST", path: "/user/register", action: "users.register", params: ["username", "password"], zero: CREDENTIALS, limit: "register" },
	{ method: "POST", path: "/user/login", action: "users.login", params: ["username", "password"], zero: CREDENTIALS, limit: "login" },
	{ method: "GET", path: "/user", action: "users.get", params: ["user_id"], zero: { user: ZERO_USER } },
	{ method: "POST", path: "/publish/action", action: "upload", params: ["title"], zero: NONE, limit: "writes" },
	{ method: "GET", path: "/publish/list", action: "videos.listByAuthor", params: ["user_id"], zero: VIDEOS },
	// MoleTok's own (not in the contract): where the author's upload stands.
	{ method: "GET", path: "/publish/status", action: "videos.publishStatus", params: ["video_id"], zero: NONE },
	{ method: "POST", path: "/favorite/action", action: "favorites.action", params: ["video_id", "action_type"], zero: NONE, limit: "writes" },
	{ method: "GET", path: "/favorite/list", action: "favorites.list", params: ["user_id"], zero: VIDEOS },
	{
		method: "POST",
		path: "/comment/action",
		action: "comments.action",
		params: ["video_id", "action_type", "comment_text", "comment_id"],
		zero: NONE,
		limit: "writes"
	},
	{ method: "GET", path: "/comment/list", action: "comments.list", params: ["video_id"], zero: { comment_list: [] } },
	{ method: "POST", path: "/relation/action", action: "relations.action", params: ["to_user_id", "action_type"], zero: NONE, limit: "writes" },
	{ method: "GET", path: "/relation/follow/list", action: "relations.followList", params: ["user_id"], zero: USERS },
	{ method: "GET", path: "/relation/follower/list", action: "relations.followerList", params: ["user_id"], zero: USERS },
	{ method: "GET", path: "/relation/friend/list", action: "relations.friendList", params: ["user_id"], zero: USERS },
	{ method: "POST", path: "/message/action", action: "messages.action", params: ["to_user_id", "action_type", "content"], zero: NONE, limit: "writes" },
	{ method: "GET", path: "/message/chat", action: "messages.chat", params: ["to_user_id", "pre_msg_time"], zero: { message_list: [] } }
];

const BY_PATH = new Map(ROUTES.map(route => [`/douyin${route.path}`, route]));

/** The route of a request path (query, trailing slashes ignored), if it is one of the contract's. */
export function routeOf(url: string | undefined): RouteSpec | undefined {
	const path = (url ?? "/").split("?")[0].replace(/\/+$/, "");
	return BY_PATH.get(path);
}

export interface Envelope {
	status_code: number;
	status_msg: string;
}

interface ErrorLike {
	name?: string;
	message?: string;
	code?: unknown;
	status?: unknown;
	type?: unknown;
	data?: unknown;
}

type Request = IncomingMessage & { originalUrl?: string };

/** The status codes a client sees (README): every other client error is reported as a bad parameter. */
const CLIENT_CODES = new Set([400, 401, 403, 404, 405, 409, 413, 429]);

const UNAVAILABLE = { status_code: 503, status_msg: "the service is temporarily unavailable: try again shortly" };

/** Why no route matched: a wrong method on a known path, or no such path. */
export function routeMiss(req: Request): Envelope {
	const url = req.originalUrl ?? req.url;
	const known = routeOf(url);
	if (known) return { status_code: 405, status_msg: `${req.method} is not allowed on /douyin${known.path}/: use ${known.method}` };
	const path = (url ?? "/").split("?")[0].replace(/\/+$/, "");
	return { status_code: 404, status_msg: `no such endpoint: ${req.method} ${path}/` };
}

/** The contract's envelope for a success, around the action's answer. */
export function success(data: object | undefined): Envelope {
	return { status_code: 0, status_msg: "success", ...data };
}

/**
 * The contract's envelope for an error: the code of its kind (README's table) and, on a
 * route of the contract, every field its answer owes, zero-valued. Client errors keep their
 * message (it says what to fix); anything else becomes a generic message, never a stack or
 * an internal detail.
 */
export function envelopeOf(raw: unknown, req: Request): Envelope {
	return { ...classify(raw, req), ...routeOf(req.originalUrl ?? req.url)?.zero };
}

function classify(raw: unknown, req: Request): Envelope {
	const err = (raw ?? {}) as ErrorLike;
	const code = typeof err.code === "number" ? err.code : typeof err.status === "number" ? err.status : 500;
	if (err.name === "ValidationError" && Array.isArray(err.data)) {
		const messages = (err.data as { message?: string }[]).map(item => item.message).filter(Boolean);
		return { status_code: 400, status_msg: messages.join(" ") || "invalid parameters" };
	}
	if (err.name === "NotFoundError") return routeMiss(req);
	switch (err.type) {
		case "entity.parse.failed":
		case "entity.verify.failed":
		case "encoding.unsupported":
		case "charset.unsupported":
			return { status_code: 400, status_msg: `malformed request body (${err.message}): send the parameters in the query string, urlencoded, multipart or JSON` };
		case "entity.too.large":
			return { status_code: 413, status_msg: "request body is too large" };
		case "ORIGIN_NOT_ALLOWED":
			return { status_code: 403, status_msg: "this origin may not call the API (CORS_ORIGINS)" };
		case "SERVICE_NOT_FOUND":
		case "SERVICE_NOT_AVAILABLE":
		case "REQUEST_TIMEOUT":
		case "REQUEST_SKIPPED":
		case "REQUEST_REJECTED":
			return UNAVAILABLE;
		// A bulkhead's queue is full: the service is busy, the request itself is fine.
		case "QUEUE_FULL":
			return { status_code: 503, status_msg: (req as { $action?: { busy?: string } }).$action?.busy ?? "too many requests at once: try again in a moment" };
	}
	if (code === 503) return UNAVAILABLE;
	if (code >= 400 && code < 500 && err.message) return { status_code: CLIENT_CODES.has(code) ? code : 400, status_msg: err.message };
	return { status_code: 500, status_msg: "internal error: try again later" };
}

/** Largest body of an ordinary (non-upload) route, any content type. */
export const BODY_LIMIT = 64 * 1024;

const MULTIPART_LIMITS = { fields: 50, fieldSize: BODY_LIMIT, files: 0, parts: 60 };

const malformed = (what: string) => Object.assign(new Error(what), { type: "entity.parse.failed", status: 400 });

/**
 * Route middleware after the body parsers (JSON as an object, anything else as raw bytes of
 * at most BODY_LIMIT): turns an urlencoded or multipart body into its fields (first value of
 * a repeated one), so `routeParams` reads every kind of body alike. A JSON body must be an
 * object; any other body type is ignored, as gin ignores it.
 */
export function bodyFields(req: IncomingMessage & { body?: unknown }, _res: ServerResponse, next: (err?: unknown) => void): void {
	const body = req.body;
	if (!Buffer.isBuffer(body)) {
		if (body !== undefined && (typeof body !== "object" || body === null || Array.isArray(body)))
			return next(malformed("a JSON body must be an object of parameters"));
		return next();
	}
	const type = req.headers["content-type"] ?? "";
	if (/^application\/x-www-form-urlencoded/i.test(type)) {
		req.body = firstValues(body.toString("utf8"));
		return next();
	}
	if (!/^multipart\/form-data/i.test(type)) {
		req.body = undefined;
		return next();
	}
	let parser: busboy.Busboy;
	try {
		parser = busboy({ headers: req.headers, limits: MULTIPART_LIMITS });
	} catch {
		return next(malformed("malformed multipart body"));
	}
	const fields: Record<string, string> = {};
	let failed = false;
	parser.on("field", (name, value) => keepFirst(fields, name, value));
	parser.on("file", (_name, stream) => stream.resume());
	parser.on("error", () => {
		failed = true;
		next(malformed("malformed multipart body"));
	});
	parser.on("close", () => {
		if (failed) return;
		req.body = fields;
		next();
	});
	parser.end(body);
}

/**
 * Error middleware after the body parsers: a body that failed to decompress (a broken gzip,
 * deflate or br Content-Encoding) leaves body-parser with a bare zlib error of status 400,
 * whose string `code` moleculer-web would take for the status; it becomes a malformed body.
 */
export function bodyErrors(err: Error & { status?: number; type?: string }, req: IncomingMessage, _res: ServerResponse, next: (err?: unknown) => void): void {
	if (err.type === undefined && err.status === 400)
		return next(malformed(`the body could not be decoded as Content-Encoding ${req.headers["content-encoding"] ?? "identity"}`));
	next(err);
}

/** The parameters of a route call: its own and `token`, from the query string first, then the body. */
export function routeParams(route: RouteSpec, query: unknown, body: unknown): Record<string, string> {
	return readParams([...route.params, "token"], [query as Record<string, unknown>, body as Record<string, unknown>]);
}

/** A trust function for X-Forwarded-For: only the listed proxies (TRUSTED_PROXIES) are believed. */
export function proxyTrust(trustedProxies: readonly string[]): (address: string, hop: number) => boolean {
	return proxyaddr.compile([...trustedProxies]);
}

/** The client's address: the peer, or what trusted proxies say in X-Forwarded-For about whom they serve. */
export function clientAddress(req: IncomingMessage, trust: (address: string, hop: number) => boolean): string {
	return proxyaddr(req, trust);
}

/** The raw HTTP/1.1 answer for a request Node's parser refused (no route, no context). */
function rawAnswer(envelope: Envelope): string {
	const body = JSON.stringify(envelope);
	return `HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/**
 * The http server's `clientError` handler: a request line or headers Node's parser refuses
 * (too large, an unknown method, malformed) get the envelope as long as the socket can
 * still take an answer, instead of Node's bare 400/431 or a reset.
 */
export function answerClientError(err: Error & { code?: string; rawPacket?: Buffer }, socket: Socket): void {
	// Node reports the rest of the refused request again as it arrives: answered once is enough.
	if (answered.has(socket)) return;
	answered.add(socket);
	if (err.code === "ECONNRESET" || !socket.writable) {
		socket.destroy();
		return;
	}
	let envelope: Envelope;
	switch (err.code) {
		case "HPE_HEADER_OVERFLOW":
			envelope = { status_code: 413, status_msg: "the request line or headers are too large: send long parameters in the body" };
			break;
		case "HPE_INVALID_METHOD":
			envelope = { status_code: 405, status_msg: "unknown HTTP method: use GET or POST" };
			break;
		case "ERR_HTTP_REQUEST_TIMEOUT":
			envelope = { status_code: 400, status_msg: "the request took too long to arrive" };
			break;
		default:
			envelope = { status_code: 400, status_msg: `malformed HTTP request (${err.code ?? "unreadable"})` };
	}
	// The route's owed fields, when what arrived names one (a request line cut by the size limit still starts with its path).
	const requestLine = /^[A-Z]+ (\/[^\s?]*)/.exec(err.rawPacket?.subarray(0, 512).toString("latin1") ?? "");
	envelope = { ...envelope, ...routeOf(requestLine?.[1])?.zero };
	// Read on (and drop) what the client still sends, a bounded while: closing with unread
	// bytes would reset the connection and could lose the answer on the client's side.
	socket.end(rawAnswer(envelope));
	socket.resume();
	setTimeout(() => socket.destroy(), CLIENT_ERROR_DRAIN_MS).unref();
}

/** Connections refused with an answer. */
const answered = new WeakSet<Socket>();

/** How long a refused connection may go on sending before it is closed. */
const CLIENT_ERROR_DRAIN_MS = 5000;
