/**
 * api: the /douyin/… HTTP gateway (moleculer-web). It owns no data. Here and only here:
 * the contract's envelope ({status_code, status_msg} and every field the route owes,
 * always HTTP 200), parameters read as gin reads them (lib/params.ts), token resolution
 * (once per request, into ctx.meta.userId), rate limits, CORS, the streaming upload and
 * the media files with Range support.
 */
import http, { type ServerResponse } from "node:http";
import type { Redis } from "ioredis";
import type { Context, ServiceSchema } from "moleculer";
import ApiGateway, { type IncomingRequest } from "moleculer-web";
import { tokenSigner } from "../lib/auth";
import { config } from "../lib/config";
import { unauthorized } from "../lib/errors";
import {
	BODY_LIMIT,
	ROUTES,
	type RouteSpec,
	answerClientError,
	bodyErrors,
	bodyFields,
	clientAddress,
	envelopeOf,
	proxyTrust,
	routeOf,
	routeParams,
	success
} from "../lib/http";
import { JSON_TEXT_HEADER, type JsonText, encodeAnswer } from "../lib/json-text";
import type { AppMeta } from "../lib/meta";
import type { ActionSchema } from "../lib/middlewares";
import { type Gateway, handleUpload, serveMedia } from "../lib/media-http";
import { type Known, knownUsers } from "../lib/known";
import { firstValues, parseWireInteger } from "../lib/params";
import { FeedAnswers, type FeedPage, feedBefore } from "../lib/read-model";
import { RateLimits } from "../lib/rate-limits";
import { webRoute } from "../lib/web-static";
import { StorageMixin, type StorageVars } from "../mixins/storage.mixin";

/** moleculer-web's request, with MoleTok's context meta and the parsed body. */
type Req = Omit<IncomingRequest, "$ctx" | "$action"> & { $ctx: Context<unknown, AppMeta>; $action: ActionSchema; body?: unknown };

interface ApiMethods {
	encodeResponse(req: Req, res: ServerResponse, data: unknown): string | Buffer;
	errorHandler(req: Req, res: ServerResponse, err: Error): void;
	parseQueryString(req: Req): { query: Record<string, string>; url: string };
	createServer(): void;
	writeCorsHeaders(route: unknown, req: Req, res: ServerResponse, isPreFlight: boolean): void;
	resolveUser(ctx: Context<unknown, AppMeta>, token: unknown, mode: "required" | "optional" | undefined): void;
	authenticate(ctx: Context<unknown, AppMeta>, route: unknown, req: Req): Promise<null>;
	authorize(ctx: Context<unknown, AppMeta>, route: unknown, req: Req): Promise<void>;
	admit(req: Req): Promise<void>;
	assertUserExists(ctx: Context<unknown, AppMeta>, userId: number): Promise<void>;
	serveFeed(req: Req, res: ServerResponse): Promise<void>;
}

type ApiThis = Gateway &
	ApiMethods &
	StorageVars & {
		server: http.Server;
		isHTTPS: boolean;
		httpHandler: http.RequestListener;
		limits: RateLimits;
		trust: (address: string, hop: number) => boolean;
		/** Users known to exist: the API never deletes one, so a yes is kept. */
		knownUsers: Known<object>;
		/** Feed answers kept while the stamps they depend on hold (serveFeed). */
		feedAnswers: FeedAnswers;
	};

const cfg = config();

/**
 * Largest request line + headers: enough for the longest text a client may put in the query
 * string (the APK does), each character percent-encoded (up to 12 bytes), plus a token.
 */
const MAX_HEADER_BYTES = Math.max(16 * 1024, 12 * Math.max(cfg.limits.messageChars, cfg.limits.commentChars, cfg.limits.titleChars) + 8192);

/** Origins (besides the API's own) a browser may call from: CORS_ORIGINS. */
const CORS = {
	origin: cfg.corsOrigins.includes("*") ? "*" : cfg.corsOrigins,
	methods: ["GET", "POST"],
	exposedHeaders: ["X-Request-ID", "Retry-After"],
	maxAge: 600
};

const ROUTE_BY_ACTION = new Map(ROUTES.map(route => [route.action, route]));

/** The route spec of a /douyin request (undefined for others). */
function specOf(req: Req): RouteSpec | undefined {
	return routeOf(req.originalUrl ?? req.url);
}

const ApiService: ServiceSchema<Record<string, unknown>, ApiMethods, ApiThis> = {
	name: "api",
	mixins: [ApiGateway as Partial<ServiceSchema>, StorageMixin],

	settings: {
		port: cfg.port,
		ip: cfg.host,
		// Per-request logging at info costs ~20% throughput (PERFORMANCE.md): debug only.
		logRequest: "debug",
		logResponse: "debug",
		logRequestParams: null,
		logResponseData: null,
		log4XXResponses: false,
		cors: CORS,
		routes: [
			{
				// The upload reads its own multipart body (streaming), so no body parser runs here.
				path: "/douyin/publish/action",
				whitelist: [],
				mappingPolicy: "restrict",
				autoAliases: false,
				bodyParsers: false,
				aliases: {
					"POST /"(this: ApiThis, req: Req, res: ServerResponse) {
						return handleUpload(this, req, res);
					}
				}
			},
			{
				path: "/douyin",
				whitelist: ["**"],
				mappingPolicy: "restrict",
				autoAliases: false,
				authentication: true,
				authorization: true,
				// JSON as an object; any other body as bytes (bodyFields reads urlencoded and multipart
				// from them); every body, decoded, at most BODY_LIMIT.
				bodyParsers: { json: { limit: BODY_LIMIT }, raw: { type: () => true, limit: BODY_LIMIT } },
				use: [bodyFields, bodyErrors],
				aliases: Object.fromEntries(
					ROUTES.filter(route => route.action !== "upload").map(route => [
						`${route.method} ${route.path}`,
						// The feed, once the route's hooks have run: from this gateway's copy while it holds (serveFeed).
						route.action === "videos.feed"
							? [
									function keptFeed(this: ApiThis, req: Req, res: ServerResponse, next: (err?: unknown) => void) {
										this.serveFeed(req, res).catch(next);
									},
									route.action
								]
							: route.action
					])
				),
				/** Only the route's own parameters reach the action, read as gin reads them. */
				onBeforeCall(this: ApiThis, _ctx: Context, _route: unknown, req: Req, _res: ServerResponse, alias: { action?: string }) {
					const spec = ROUTE_BY_ACTION.get(alias.action ?? "");
					// OPTIONS without a preflight header is routed as GET by moleculer-web.
					if (!spec || req.method !== spec.method) throw Object.assign(new Error("wrong method"), { name: "NotFoundError" });
					req.$params = routeParams(spec, req.query, req.body);
				},
				async onAfterCall(this: ApiThis, _ctx: Context, _route: unknown, req: Req, _res: ServerResponse, data: object) {
					if (specOf(req)?.limit === "login")
						await this.limits.loggedIn({ address: clientAddress(req, this.trust), username: String(req.$params.username) });
					return success(data);
				}
			},
			{
				path: "/media",
				whitelist: [],
				mappingPolicy: "restrict",
				autoAliases: false,
				bodyParsers: false,
				aliases: {
					"GET /*key"(this: ApiThis, req: Req & { $params: { key: string[] | string } }, res: ServerResponse) {
						return serveMedia(this, req, res);
					},
					"HEAD /*key"(this: ApiThis, req: Req & { $params: { key: string[] | string } }, res: ServerResponse) {
						return serveMedia(this, req, res);
					}
				}
			},
			webRoute()
		],
		onError(this: ApiThis, req: Req, res: ServerResponse, err: Error & { data?: { retryAfterSeconds?: number } }) {
			const envelope = envelopeOf(err, req);
			// The one log line of a failed request: server-side failures only, with the request
			// id (X-Request-ID / X-Correlation-ID) and the token redacted.
			if (envelope.status_code >= 500)
				this.logger.error(
					`request ${req.$ctx?.requestID ?? "-"} failed: ${req.method} ${(req.originalUrl ?? req.url ?? "").replace(/token=[^&]*/g, "token=***")}`,
					err
				);
			if (res.headersSent) {
				res.destroy();
				return;
			}
			const body = JSON.stringify(envelope);
			const headers: Record<string, string | number> = { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(body) };
			if (envelope.status_code === 429 && err.data?.retryAfterSeconds) headers["Retry-After"] = err.data.retryAfterSeconds;
			res.writeHead(200, headers);
			res.end(body);
		}
	},

	methods: {
		/** The answer's JSON; a JsonText in it (the feed's: serveFeed) is written as it is. */
		encodeResponse(_req: Req, _res: ServerResponse, data: unknown) {
			return encodeAnswer(data);
		},

		/** moleculer-web's own handler logs 5xx errors too; onError above is the one place. */
		errorHandler(this: ApiThis, req: Req, res: ServerResponse, err: Error) {
			this.sendError(req, res, err);
		},

		/** The query string as gin reads it (Go's net/url): names as they are, first value of each. */
		parseQueryString(req: Req) {
			const url = req.url ?? "/";
			const mark = url.indexOf("?", 1);
			return mark === -1 ? { query: {}, url } : { query: firstValues(url.slice(mark + 1)), url: url.slice(0, mark) };
		},

		/**
		 * moleculer-web's server, with room for the longest text parameter in the query string,
		 * and the envelope for requests Node's parser refuses (lib/http.ts answerClientError).
		 */
		createServer(this: ApiThis) {
			if (this.server) return;
			this.server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES }, this.httpHandler);
			this.server.requestTimeout = (this.settings as { requestTimeout: number }).requestTimeout;
			this.server.on("clientError", answerClientError);
			this.isHTTPS = false;
		},

		/**
		 * A browser calling from the API's own origin needs no CORS headers; every other origin
		 * must be one of CORS_ORIGINS (moleculer-web refuses the rest with 403).
		 */
		writeCorsHeaders(this: ApiThis, route: unknown, req: Req, res: ServerResponse, isPreFlight: boolean) {
			const origin = req.headers.origin;
			if (origin && req.headers.host && origin.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "") === req.headers.host) return;
			(ApiGateway.methods as unknown as ApiMethods).writeCorsHeaders.call(this, route, req, res, isPreFlight);
		},

		/**
		 * Reads the request's token into ctx.meta.userId according to the action's `auth`:
		 * "required" refuses a missing, expired or forged token; "optional" treats a bad
		 * one as anonymous. The token never reaches a service's params.
		 */
		async authenticate(this: ApiThis, ctx: Context<unknown, AppMeta>, _route: unknown, req: Req) {
			const token = req.$params.token;
			delete req.$params.token;
			this.resolveUser(ctx, token, req.$action?.auth);
			return null;
		},

		/** The route's rate limit, and for writes a user who exists. */
		authorize(this: ApiThis, _ctx: Context<unknown, AppMeta>, _route: unknown, req: Req) {
			return this.admit(req);
		},

		resolveUser(ctx: Context<unknown, AppMeta>, token: unknown, mode: "required" | "optional" | undefined) {
			if (!mode) return;
			if (token == null || token === "") {
				if (mode === "required") throw unauthorized("token is required: log in and send the token parameter");
				return;
			}
			const check = typeof token === "string" ? tokenSigner(cfg).verify(token) : { error: "invalid" as const };
			if ("userId" in check) ctx.meta.userId = check.userId;
			else if (mode === "required")
				throw unauthorized(check.error === "expired" ? "token has expired: log in again" : "token is invalid: log in again");
		},

		/**
		 * What a route asks before its call (ROUTES' `limit`): a write needs a user who exists
		 * and counts against the user's write limit; a login or a registration counts against
		 * the client address (and a login against the username). Refuses with 401 or 429. The
		 * upload handler calls it once it knows the user.
		 */
		async admit(this: ApiThis, req: Req) {
			const limit = specOf(req)?.limit;
			if (limit === "login") return this.limits.login({ address: clientAddress(req, this.trust), username: String(req.$params.username ?? "") });
			if (limit === "register") return this.limits.register({ address: clientAddress(req, this.trust) });
			if (limit !== "writes") return;
			const userId = req.$ctx.meta.userId!;
			await this.assertUserExists(req.$ctx, userId);
			await this.limits.write(userId);
		},

		/**
		 * GET /douyin/feed/, after the route's hooks (token, parameters): the answer this gateway
		 * kept while the stamps it depends on hold (lib/read-model.ts FeedAnswers: one stamp
		 * lookup, no call), else videos.feed's, asked for as ready JSON and kept when it may be.
		 */
		async serveFeed(this: ApiThis, req: Req, res: ServerResponse) {
			const ctx = req.$ctx;
			const latest = req.$params.latest_time;
			// A latest_time the action refuses is left to it (400).
			const time = latest === undefined ? 0 : parseWireInteger(latest);
			const before = time !== undefined && time >= 0 ? feedBefore(time) : undefined;
			const key = before === undefined ? null : await this.feedAnswers.keyOf(ctx.meta.userId);
			const kept = key === null ? undefined : this.feedAnswers.find(key, before!);
			if (kept) return this.sendResponse(req, res, { $jsonText: kept } satisfies JsonText);
			const { span, ...page } = await ctx.call<FeedPage, object>("videos.feed", req.$params, { headers: { [JSON_TEXT_HEADER]: true } });
			const answer = encodeAnswer(success(page));
			const bytes = Buffer.isBuffer(answer) ? answer : Buffer.from(answer);
			if (key !== null && span) this.feedAnswers.keep(key, span, bytes);
			this.sendResponse(req, res, { $jsonText: bytes } satisfies JsonText);
		},

		/** A validly signed token of a user who does not exist (any more) may not write. */
		async assertUserExists(this: ApiThis, ctx: Context<unknown, AppMeta>, userId: number) {
			try {
				await this.knownUsers.get(ctx, userId);
			} catch (err) {
				if ((err as { type?: string }).type === "NOT_FOUND") throw unauthorized("the token's user does not exist: log in again");
				throw err;
			}
		}
	},

	created(this: ApiThis) {
		const cacher = this.broker.cacher as unknown as { client?: Redis } | null;
		// One cache stack: the broker cacher's Redis connection when there is one (cluster).
		this.limits = new RateLimits(cfg, cacher?.client && typeof cacher.client.defineCommand === "function" ? cacher.client : null);
		this.trust = proxyTrust(cfg.trustedProxies);
		this.knownUsers = knownUsers();
		this.feedAnswers = new FeedAnswers(this.broker.cacher!);
	}
};

export default ApiService;


