/**
 * The ceiling of the benchmark: a bare Node `http` server, no framework, no data store,
 * answering the three benchmarked endpoints with bodies of the real API's size and shape
 * (PERFORMANCE.md's "bare" row). The feed is joined from in-memory records (videos, users,
 * counts, the viewer's flags) and stringified on every request, as a handler that assembles
 * a page from data it holds would; no answer is precomputed.
 *
 * Run as its own process by bench/run.ts: `node dist/bench/bare-server.js <port> <templates.json>`,
 * where templates.json holds the real answers ({ feed, user, favorite }) captured from MoleTok.
 * Prints "listening" on stdout once it accepts connections.
 */
import fs from "node:fs";
import http from "node:http";
import type { User as WireUser, Video as WireVideo } from "../lib/wire";

interface Templates {
	feed: { video_list: Record<string, unknown>[] } & Record<string, unknown>;
	user: { user: Record<string, unknown> } & Record<string, unknown>;
	favorite: Record<string, unknown>;
}

const [port, file] = process.argv.slice(2);
const templates = JSON.parse(fs.readFileSync(file, "utf8")) as Templates;


// The feed's data as a service would hold it: video and user records, counts and the
// viewer's flags in maps; every request joins them into wire objects and stringifies.
const feedVideos = templates.feed.video_list as unknown as WireVideo[];
const videoDocs = feedVideos.map(video => ({ _id: video.id, authorId: video.author.id, title: video.title, videoKey: video.play_url, coverKey: video.cover_url }));
const userDocs = new Map(feedVideos.map(({ author }) => [author.id, { _id: author.id, name: author.name, avatar: author.avatar, background_image: author.background_image, signature: author.signature }]));
const userCounts = new Map(feedVideos.map(({ author }) => [author.id, { ...author }]));
const videoCounts = new Map(feedVideos.map(video => [video.id, { favorite_count: video.favorite_count, comment_count: video.comment_count }]));
const liked = new Set(feedVideos.filter(video => video.is_favorite).map(video => video.id));
const followed = new Set(feedVideos.filter(video => video.author.is_follow).map(video => video.author.id));

function wireUser(id: number): WireUser {
	const doc = userDocs.get(id)!;
	const counts = userCounts.get(id)!;
	return {
		id: doc._id,
		name: doc.name,
		follow_count: counts.follow_count,
		follower_count: counts.follower_count,
		is_follow: followed.has(id),
		avatar: doc.avatar,
		background_image: doc.background_image,
		signature: doc.signature,
		total_favorited: counts.total_favorited,
		work_count: counts.work_count,
		favorite_count: counts.favorite_count
	};
}

function feedBody(): string {
	const video_list: WireVideo[] = videoDocs.map(doc => {
		const counts = videoCounts.get(doc._id)!;
		return {
			id: doc._id,
			author: wireUser(doc.authorId),
			play_url: `${doc.videoKey}`,
			cover_url: `${doc.coverKey}`,
			favorite_count: counts.favorite_count,
			comment_count: counts.comment_count,
			is_favorite: liked.has(doc._id),
			title: doc.title
		};
	});
	return JSON.stringify({ status_code: 0, status_msg: templates.feed.status_msg, video_list, next_time: Date.now() });
}

const userRest = { status_code: 0, status_msg: templates.user.status_msg };
const userId = (templates.user.user as unknown as WireUser).id;
userDocs.set(userId, { _id: userId, ...(templates.user.user as unknown as WireUser) });
userCounts.set(userId, templates.user.user as unknown as WireUser);

function send(res: http.ServerResponse, body: string): void {
	res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(body) });
	res.end(body);
}

const server = http.createServer((req, res) => {
	const path = (req.url ?? "/").split("?")[0];
	if (path.startsWith("/douyin/feed")) send(res, feedBody());
	else if (path.startsWith("/douyin/user")) send(res, JSON.stringify({ ...userRest, user: wireUser(userId) }));
	else if (path.startsWith("/douyin/favorite/action")) {
		// Like the gateway, read (and drop) the request body before answering.
		req.resume();
		req.on("end", () => send(res, JSON.stringify({ ...templates.favorite })));
	} else send(res, JSON.stringify({ status_code: 404, status_msg: "no such endpoint" }));
});
server.keepAliveTimeout = 60000;
server.listen(Number(port), "127.0.0.1", () => console.log("listening"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
