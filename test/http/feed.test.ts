/**
 * The feed answers a gateway keeps (lib/read-model.ts FeedAnswers) are never stale: after
 * every kind of write (like, unlike, follow, unfollow, a comment posted and deleted, a
 * publish), by the viewer or by anyone else, through any api replica, the very next feed
 * through every replica shows it, with exact counts and each viewer's own flags, asked for
 * as the web client (no latest_time) and the APK (latest_time: now, in ms) do. In a cluster
 * the system has two api replicas, and the writes alternate between them.
 */
import { Client } from "../helpers/client";
import { type System, TARGET, startSystem } from "../helpers/system";
import { publishVideo } from "../helpers/videos";

jest.setTimeout(180000);

interface FeedVideo {
	id: number;
	favorite_count: number;
	comment_count: number;
	is_favorite: boolean;
	author: { id: number; follower_count: number; total_favorited: number; work_count: number; is_follow: boolean };
}

let system: System;
let replicas: Client[];
let author: { id: number; token: string };
let fan: { id: number; token: string };
let other: { id: number; token: string };

/** What the feed must show, kept beside the writes. */
const likes = new Map<number, Set<number>>();
const comments = new Map<number, number>();
const followers = new Set<number>();
const videos: number[] = [];

beforeAll(async () => {
	system = await startSystem();
	replicas = system.urls.map(url => new Client(url));
	expect(replicas).toHaveLength(TARGET === "cluster" ? 2 : 1);
	[author, fan, other] = [await replicas[0].register(), await replicas[0].register(), await replicas[0].register()];
	for (const title of ["first", "second"]) videos.push(await publishVideo(replicas[0], system.broker, author.token, title));
});
afterAll(() => system.stop());

/** The author's videos in a feed as `viewerId` must see them, newest first. */
function expected(viewerId: number | undefined) {
	const liked = (id: number) => likes.get(id) ?? new Set<number>();
	const totalFavorited = videos.reduce((sum, id) => sum + liked(id).size, 0);
	return [...videos].reverse().map(id => ({
		id,
		favorite_count: liked(id).size,
		comment_count: comments.get(id) ?? 0,
		is_favorite: viewerId !== undefined && liked(id).has(viewerId),
		author: {
			id: author.id,
			follower_count: followers.size,
			total_favorited: totalFavorited,
			work_count: videos.length,
			is_follow: viewerId !== undefined && followers.has(viewerId)
		}
	}));
}

/** Reads the feed through every replica, as every viewer, without and with latest_time, each twice (the second may come from a copy), and checks each answer. */
async function everyFeedIsCurrent(): Promise<void> {
	for (const client of replicas)
		for (const viewer of [fan, other, undefined])
			for (let read = 0; read < 2; read++)
				for (const latest_time of [undefined, Date.now()]) {
					const body = await client.get<{ video_list: FeedVideo[] }>("/feed/", { token: viewer?.token, latest_time });
					expect(body.status_code).toBe(0);
					const shown = body.video_list.filter(video => video.author.id === author.id);
					expect(shown).toEqual(expected(viewer?.id).map(video => expect.objectContaining({ ...video, author: expect.objectContaining(video.author) })));
				}
}

let step = 0;
/** The next write goes through the next replica. */
const via = () => replicas[step++ % replicas.length];

test("every write is in the very next feed through every replica, for every viewer", async () => {
	await everyFeedIsCurrent();
	const [first, second] = videos;
	const like = async (user: { id: number; token: string }, video: number, action_type: 1 | 2) => {
		expect(await via().post("/favorite/action/", { token: user.token, video_id: video, action_type })).toMatchObject({ status_code: 0 });
		const set = likes.get(video) ?? new Set<number>();
		if (action_type === 1) set.add(user.id);
		else set.delete(user.id);
		likes.set(video, set);
	};
	const follow = async (user: { id: number; token: string }, action_type: 1 | 2) => {
		expect(await via().post("/relation/action/", { token: user.token, to_user_id: author.id, action_type })).toMatchObject({ status_code: 0 });
		if (action_type === 1) followers.add(user.id);
		else followers.delete(user.id);
	};

	await like(fan, first, 1);
	await everyFeedIsCurrent();
	await like(other, first, 1);
	await everyFeedIsCurrent();
	await follow(fan, 1);
	await everyFeedIsCurrent();
	const posted = await via().post<{ comment: { id: number } }>("/comment/action/", { token: other.token, video_id: second, action_type: 1, comment_text: "hello" });
	expect(posted.status_code).toBe(0);
	comments.set(second, 1);
	await everyFeedIsCurrent();
	expect(await via().post("/comment/action/", { token: other.token, video_id: second, action_type: 2, comment_id: posted.comment.id })).toMatchObject({ status_code: 0 });
	comments.set(second, 0);
	await everyFeedIsCurrent();
	await like(fan, first, 2);
	await everyFeedIsCurrent();
	await follow(fan, 2);
	await follow(other, 1);
	await everyFeedIsCurrent();
	videos.push(await publishVideo(via(), system.broker, author.token, "third"));
	await everyFeedIsCurrent();
});

test("a bad latest_time is refused, whatever the gateway keeps", async () => {
	for (const client of replicas) {
		for (const latest_time of ["yesterday", "-1", "1e3"]) {
			const body = await client.get("/feed/", { token: fan.token, latest_time });
			expect(body).toMatchObject({ status_code: 400, video_list: [], next_time: 0 });
			expect(body.status_msg).toMatch(/latest_time/);
		}
	}
});
