/**
 * The feed: every published video, newest first, paged with next_time. The list and the
 * position survive a visit to another screen; a new upload or another user starts afresh.
 */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, type Video } from "./api";
import { useVideoList, VideoDeck } from "./deck";
import { useSession } from "./session";
import { Empty, Failure, Icon, Logo, Spinner } from "./ui";

interface FeedState {
	viewer: number | null;
	videos: Video[];
	nextTime: number | undefined;
	done: boolean;
	index: number;
}

let saved: FeedState | null = null;

/** The next visit to the feed loads it anew (after an upload, a login or a logout). */
export function resetFeed(): void {
	saved = null;
}

export function Feed() {
	const current = useSession();
	const viewer = current?.userId ?? null;
	const restored = saved?.viewer === viewer ? saved : null;
	const { videos, setVideos, patchVideo, patchAuthor } = useVideoList(restored?.videos ?? []);
	const [nextTime, setNextTime] = useState<number | undefined>(restored?.nextTime);
	const [done, setDone] = useState(restored?.done ?? false);
	const [loading, setLoading] = useState(false);
	const [error, setError] = useState<string | null>(null);
	const [loaded, setLoaded] = useState(Boolean(restored));
	const index = useRef(restored?.index ?? 0);
	const busy = useRef(false);

	const loadPage = useCallback(
		async (from: number | undefined, replace: boolean) => {
			if (busy.current) return;
			busy.current = true;
			setLoading(true);
			setError(null);
			try {
				const page = await api.feed(from, current?.token);
				setVideos(list => {
					if (replace) return page.video_list;
					const seen = new Set(list.map(video => video.id));
					return [...list, ...page.video_list.filter(video => !seen.has(video.id))];
				});
				setNextTime(page.next_time);
				setDone(page.video_list.length === 0);
			} catch (err) {
				setError(err instanceof ApiError ? err.message : "The feed could not be loaded.");
			} finally {
				busy.current = false;
				setLoading(false);
				setLoaded(true);
			}
		},
		[current?.token]
	);

	useEffect(() => {
		if (!restored) void loadPage(undefined, true);
	}, [viewer]);

	// Keep the list and the position for the next visit.
	useEffect(() => {
		saved = { viewer, videos, nextTime, done, index: index.current };
	});

	const onNearEnd = useCallback(() => {
		if (!done && !loading && !error && nextTime !== undefined) void loadPage(nextTime, false);
	}, [done, loading, error, nextTime, loadPage]);

	if (!loaded) return <Spinner label="Loading the feed…" />;
	if (videos.length === 0) {
		if (error) return <Failure message={error} retry={() => loadPage(undefined, true)} />;
		return (
			<Empty icon={<Icon.Film size={44} />} title="No videos yet">
				<p>Be the first: share a short video.</p>
				<a class="btn btn-primary" href="/upload">
					Upload a video
				</a>
			</Empty>
		);
	}

	const tail = error ? (
		<Failure message={error} retry={() => loadPage(nextTime, false)} />
	) : done ? (
		<Empty icon={<Icon.Check size={40} />} title="You're all caught up">
			<p>That was every video on MoleTok so far.</p>
			<a class="btn btn-primary" href="/upload">
				Upload yours
			</a>
		</Empty>
	) : (
		<Spinner label="Loading more videos…" />
	);

	return (
		<>
			<header class="feed-top" aria-hidden="true">
				<Logo size={26} />
				<span>For you</span>
			</header>
				<VideoDeck
				label="Feed"
				videos={videos}
				patchVideo={patchVideo}
				patchAuthor={patchAuthor}
				onNearEnd={onNearEnd}
				tail={tail}
				startIndex={restored?.index ?? 0}
				onIndexChange={value => {
					index.current = value;
				}}
			/>
		</>
	);
}
