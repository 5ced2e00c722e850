/**
 * The gateway's web route: the web client (web/, built into dist/web by Vite), the OpenAPI
 * document at /openapi.json and its reference page at /docs/, all plain files served with
 * serve-static (ETag, Last-Modified, 304 on revalidation, HEAD, Range).
 *
 * Caching: Vite names the app's files by their content (dist/web/assets/…-<hash>.js), so they
 * are cached for a year as immutable; everything else (index.html, /openapi.json, /docs/…)
 * is revalidated on every use, so a new build is picked up at once.
 *
 * The app's own paths (/login, /u/12, /chat/12, …: web/src/routes.ts) answer index.html, so a
 * reload or a shared link opens the right screen. Every other miss is left to the gateway's
 * JSON 404 envelope.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import serveStatic from "serve-static";
import { ROOT_DIR } from "./config";

/** Where the build puts the web client (web/vite.config.ts). */
export const WEB_DIR = path.join(ROOT_DIR, "dist", "web");

/** Paths of the app's screens (web/src/routes.ts): they all load index.html. */
export const APP_PATHS = /^\/(?:login|upload|inbox|(?:u|chat)\/[1-9]\d{0,15})\/?$/;

const IMMUTABLE = "public, max-age=31536000, immutable";
const REVALIDATE = "no-cache";

/**
 * The moleculer-web route of the web client. It has no aliases: the gateway tries it only
 * when no alias of any route matched and no longer route's path (/douyin, /media) is a
 * prefix, so it costs the API's requests nothing. A file it does not have falls through to
 * the route's "restrict" policy: the gateway's JSON 404.
 */
export function webRoute(dir: string = WEB_DIR) {
	const serve = serveStatic(dir, {
		index: ["index.html"],
		cacheControl: false,
		dotfiles: "ignore",
		setHeaders(res, file) {
			res.setHeader("Cache-Control", path.relative(dir, file).startsWith(`assets${path.sep}`) ? IMMUTABLE : REVALIDATE);
			res.setHeader("X-Content-Type-Options", "nosniff");
		}
	});
	const files = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => {
		if (APP_PATHS.test((req.url ?? "/").split("?")[0])) req.url = "/index.html";
		serve(req, res, next);
	};
	return { path: "/", whitelist: [], mappingPolicy: "restrict", autoAliases: false, bodyParsers: false, use: [files] };
}
