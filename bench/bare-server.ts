/**
 * The ceiling of the benchmark: a bare Node `http` server, no framework, no data store,
 * answering the three benchmarked endpoints with bodies of the real API's size and shape
 * (PERFORMANCE.md's "bare" row). The feed is rebuilt object by object and stringified on
 * every request, as a handler that assembles a page would; nothing is precomputed.
 *
 * Run as its own process by bench/run.ts: `node dist/bench/bare-server.js <port> <templates.json>`,
 * where templates.json holds the real answers ({ feed, user, favorite }) captured from MoleTok.
 * Prints "listening" on stdout once it accepts connections.
 */
import fs from "node:fs";
import http from "node:http";

interface Templates {
	feed: { video_list: Record<string, unknown>[] } & Record<string, unknown>;
	user: { user: Record<string, unknown> } & Record<string, unknown>;
	favorite: Record<string, unknown>;
}

const [port, file] = process.argv.slice(2);
const templates = JSON.parse(fs.readFileSync(file, "utf8")) as Templates;
const { video_list: videos, ...feedRest } = templates.feed;
const { user, ...userRest } = templates.user;

function feedBody(): string {
	const video_list = videos.map(video => ({ ...video, author: { ...(video.author as object) } }));
	return JSON.stringify({ ...feedRest, video_list, next_time: Date.now() });
}

function send(res: http.ServerResponse, body: string): void {
	res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(body) });
	res.end(body);
}

const server = http.createServer((req, res) => {
	const path = (req.url ?? "/").split("?")[0];
	if (path.startsWith("/douyin/feed")) send(res, feedBody());
	else if (path.startsWith("/douyin/user")) send(res, JSON.stringify({ ...userRest, user: { ...user } }));
	else if (path.startsWith("/douyin/favorite/action")) {
		// Like the gateway, read (and drop) the request body before answering.
		req.resume();
		req.on("end", () => send(res, JSON.stringify({ ...templates.favorite })));
	} else send(res, JSON.stringify({ status_code: 404, status_msg: "no such endpoint" }));
});
server.keepAliveTimeout = 60000;
server.listen(Number(port), "127.0.0.1", () => console.log("listening"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
