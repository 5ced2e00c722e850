/**
 * api: the /douyin/… HTTP gateway (moleculer-web). It owns no data. Here and only here:
 * the contract's envelope ({status_code, status_msg}, always HTTP 200), token
 * resolution (once per request, into ctx.meta.userId), the streaming upload and the
 * media files with Range support.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context, ServiceSchema } from "moleculer";
import ApiGateway from "moleculer-web";
import { tokenSigner } from "../lib/auth";
import { config } from "../lib/config";
import { unauthorized } from "../lib/errors";
import { ROUTES, envelopeOf, multipartFields, success } from "../lib/http";
import { JSON_TEXT_HEADER, encodeAnswer } from "../lib/json-text";
import type { AppMeta } from "../lib/meta";
import { type Gateway, handleUpload, serveMedia } from "../lib/media-http";
import { StorageMixin, type StorageVars } from "../mixins/storage.mixin";

type Req = IncomingMessage & {
	$action?: { auth?: "required" | "optional" };
	$params: Record<string, unknown>;
	$ctx: Context<unknown, AppMeta>;
	originalUrl?: string;
};

interface ApiMethods {
	encodeResponse(req: Req, res: ServerResponse, data: unknown): string | Buffer;
	errorHandler(req: Req, res: ServerResponse, err: Error): void;
	resolveUser(ctx: Context<unknown, AppMeta>, token: unknown, mode: "required" | "optional" | undefined): void;
	authenticate(ctx: Context<unknown, AppMeta>, route: unknown, req: Req): Promise<null>;
}

type ApiThis = Gateway & ApiMethods & StorageVars;

const cfg = config();

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
				bodyParsers: { json: { limit: "64kb" }, urlencoded: { extended: false, limit: "64kb" } },
				use: [multipartFields],
				aliases: Object.fromEntries(ROUTES.filter(route => route.action !== "upload").map(route => [`${route.method} ${route.path}`, route.action])),
				// This gateway only writes answers out: an action may answer with ready JSON bytes
				// (lib/json-text.ts; the feed does). A call header reaches the called action only.
				// No timeout here: each action's own (a read's is short, and it is retried) or REQUEST_TIMEOUT_MS.
				callOptions: { headers: { [JSON_TEXT_HEADER]: true } },
				onAfterCall(_ctx: Context, _route: unknown, _req: Req, _res: ServerResponse, data: object) {
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
			}
		],
		onError(this: ApiThis, req: Req, res: ServerResponse, err: Error) {
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
			res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(body) });
			res.end(body);
		}
	},

	methods: {
		/** The answer's JSON; a JsonText in it (see the route's callOptions) is written as it is. */
		encodeResponse(_req: Req, _res: ServerResponse, data: unknown) {
			return encodeAnswer(data);
		},

		/** moleculer-web's own handler logs 5xx errors too; onError above is the one place. */
		errorHandler(this: ApiThis, req: Req, res: ServerResponse, err: Error) {
			this.sendError(req, res, err);
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
		}
	}
};

export default ApiService;
