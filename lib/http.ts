/**
 * The HTTP side of the contract: the route table, the error → envelope mapping, and
 * the multipart field parser for the ordinary POST routes.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import busboy from "busboy";

export interface RouteSpec {
	method: "GET" | "POST";
	/** Path under /douyin, without the trailing slash (both forms are served). */
	path: string;
	/** The action the route calls; "upload" is the gateway's own streaming handler. */
	action: string;
}

/** Every /douyin route of docs/API.md (and docs/openapi.json). */
export const ROUTES: readonly RouteSpec[] = [
	{ method: "GET", path: "/feed", action: "videos.feed" },
	{ method: "POST", path: "/user/register", action: "users.register" },
	{ method: "POST", path: "/user/login", action: "users.login" },
	{ method: "GET", path: "/user", action: "users.get" },
	{ method: "POST", path: "/publish/action", action: "upload" },
	{ method: "GET", path: "/publish/list", action: "videos.listByAuthor" },
	{ method: "POST", path: "/favorite/action", action: "favorites.action" },
	{ method: "GET", path: "/favorite/list", action: "favorites.list" },
	{ method: "POST", path: "/comment/action", action: "comments.action" },
	{ method: "GET", path: "/comment/list", action: "comments.list" },
	{ method: "POST", path: "/relation/action", action: "relations.action" },
	{ method: "GET", path: "/relation/follow/list", action: "relations.followList" },
	{ method: "GET", path: "/relation/follower/list", action: "relations.followerList" },
	{ method: "GET", path: "/relation/friend/list", action: "relations.friendList" },
	{ method: "POST", path: "/message/action", action: "messages.action" },
	{ method: "GET", path: "/message/chat", action: "messages.chat" }
];

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

function pathOf(req: IncomingMessage & { originalUrl?: string }): string {
	return (req.originalUrl ?? req.url ?? "/").split("?")[0].replace(/\/+$/, "") || "/";
}

/** Why no route matched: a wrong method on a known path, or no such path. */
function routeMiss(req: IncomingMessage): Envelope {
	const path = pathOf(req);
	const known = ROUTES.find(route => `/douyin${route.path}` === path);
	if (known) return { status_code: 405, status_msg: `${req.method} is not allowed on /douyin${known.path}/: use ${known.method}` };
	return { status_code: 404, status_msg: `no such endpoint: ${req.method} ${path}/` };
}

/** The contract's envelope for a success, around the action's answer. */
export function success(data: object | undefined): Envelope {
	return { status_code: 0, status_msg: "success", ...data };
}

/**
 * The contract's envelope for an error. Client errors keep their message (it says what
 * to fix); anything else becomes a generic message, never a stack or internal detail.
 */
export function envelopeOf(raw: unknown, req: IncomingMessage): Envelope {
	const err = (raw ?? {}) as ErrorLike;
	const code = typeof err.code === "number" ? err.code : typeof err.status === "number" ? err.status : 500;
	if (err.name === "ValidationError" && Array.isArray(err.data)) {
		const messages = (err.data as { message?: string }[]).map(item => item.message).filter(Boolean);
		return { status_code: 400, status_msg: messages.join(" ") || "invalid parameters" };
	}
	if (err.name === "NotFoundError") return routeMiss(req);
	switch (err.type) {
		case "entity.parse.failed":
		case "encoding.unsupported":
		case "charset.unsupported":
			return { status_code: 400, status_msg: "malformed request body: send the parameters in the query string, urlencoded or multipart" };
		case "entity.too.large":
			return { status_code: 413, status_msg: "request body is too large" };
		case "SERVICE_NOT_FOUND":
		case "SERVICE_NOT_AVAILABLE":
		case "REQUEST_TIMEOUT":
		case "REQUEST_SKIPPED":
		case "REQUEST_REJECTED":
			return { status_code: 503, status_msg: "the service is temporarily unavailable: try again shortly" };
	}
	if (code >= 400 && code < 500 && err.message) return { status_code: code, status_msg: err.message };
	return { status_code: 500, status_msg: "internal error: try again later" };
}

const FIELD_LIMITS = { fields: 50, fieldSize: 64 * 1024, files: 0, parts: 60 };

/**
 * Route middleware: reads the text fields of a multipart/form-data body into req.body,
 * so every POST takes its parameters from the query, urlencoded or multipart alike.
 * File parts are not accepted here (only the upload route takes files).
 */
export function multipartFields(req: IncomingMessage & { body?: unknown }, _res: ServerResponse, next: (err?: unknown) => void): void {
	if (!/^multipart\/form-data/i.test(req.headers["content-type"] ?? "")) return next();
	let parser: busboy.Busboy;
	try {
		parser = busboy({ headers: req.headers, limits: FIELD_LIMITS });
	} catch {
		return next(Object.assign(new Error("malformed multipart body"), { type: "entity.parse.failed", status: 400 }));
	}
	const fields: Record<string, string> = {};
	let failed = false;
	const fail = () => {
		if (failed) return;
		failed = true;
		req.unpipe(parser);
		req.resume();
		next(Object.assign(new Error("malformed multipart body"), { type: "entity.parse.failed", status: 400 }));
	};
	parser.on("field", (name, value) => {
		fields[name] = value;
	});
	parser.on("file", (_name, stream) => stream.resume());
	parser.on("error", fail);
	parser.on("close", () => {
		if (failed) return;
		req.body = fields;
		next();
	});
	req.pipe(parser);
}
