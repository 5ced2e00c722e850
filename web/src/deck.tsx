/**
 * The video deck: a vertical, swipeable list of full-height videos (CSS scroll snapping),
 * one playing at a time, the next ones preloaded. Used by the feed and by a profile's
 * videos. Keyboard: ↑/↓ (or K/J) move, Space pauses, M toggles sound, L likes, C opens the
 * comments, Esc closes them.
 */
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { api, type Video } from "./api";
import { CommentsSheet } from "./comments";
import { notifyError } from "./notices";
import { useRequireLogin, useSession } from "./session";
import { Avatar, formatCount, Icon } from "./ui";

/** Videos within this distance of the active one get a <video> element; the next ones load ahead. */
const PRELOAD_AHEAD = 2;

/** Sound stays on or off across screens, as the person left it. Browsers only autoplay muted. */
let soundOn = false;

export type VideoPatch = (video: Video) => Video;

/** A list of videos with the two updates the deck makes: one video, or every video of an author. */
export function useVideoList(initial: Video[] = []) {
	const [videos, setVideos] = useState<Video[]>(initial);
	const patchVideo = useCallback((id: number, patch: VideoPatch) => setVideos(list => list.map(video => (video.id === id ? patch(video) : video))), []);
	const patchAuthor = useCallback(
		(authorId: number, patch: (author: Video["author"]) => Video["author"]) =>
			setVideos(list => list.map(video => (video.author.id === authorId ? { ...video, author: patch(video.author) } : video))),
		[]
	);
	return { videos, setVideos, patchVideo, patchAuthor };
}

interface DeckProps {
	videos: Video[];
	patchVideo(id: number, patch: VideoPatch): void;
	patchAuthor(authorId: number, patch: (author: Video["author"]) => Video["author"]): void;
	/** Called when the person is a few videos from the end (load the next page). */
	onNearEnd?: () => void;
	/** The last slide: loading, the end of the feed, … */
	tail?: ComponentChildren;
	startIndex?: number;
	onIndexChange?: (index: number) => void;
	/** A deck shown over another screen (a profile's videos) takes the keys only while open. */
	label: string;
}

export function VideoDeck({ videos, patchVideo, patchAuthor, onNearEnd, tail, startIndex = 0, onIndexChange, label }: DeckProps) {
	const current = useSession();
	const requireLogin = useRequireLogin();
	const deck = useRef<HTMLDivElement>(null);
	const [active, setActive] = useState(startIndex);
	const [sound, setSound] = useState(soundOn);
	const [commentsFor, setCommentsFor] = useState<Video | null>(null);
	const slideCount = videos.length + (tail ? 1 : 0);

	// Start where we left off (back from a profile, or a profile's video picked from its grid).
	useLayoutEffect(() => {
		const element = deck.current;
		if (element && startIndex > 0) element.scrollTop = startIndex * element.clientHeight;
	}, []);

	// The slide that fills most of the deck is the active one.
	useEffect(() => {
		const element = deck.current;
		if (!element) return;
		const observer = new IntersectionObserver(
			entries => {
				for (const entry of entries) if (entry.isIntersecting) setActive(Number((entry.target as HTMLElement).dataset.index));
			},
			{ root: element, threshold: 0.6 }
		);
		for (const slide of Array.from(element.children)) observer.observe(slide);
		return () => observer.disconnect();
	}, [slideCount]);

	useEffect(() => {
		onIndexChange?.(active);
		if (onNearEnd && active >= videos.length - 3) onNearEnd();
	}, [active, videos.length]);

	const go = useCallback(
		(index: number) => {
			const element = deck.current;
			if (!element) return;
			const target = Math.max(0, Math.min(slideCount - 1, index));
			element.scrollTo({ top: target * element.clientHeight, behavior: "smooth" });
		},
		[slideCount]
	);

	const toggleSound = useCallback(() => {
		soundOn = !soundOn;
		setSound(soundOn);
	}, []);

	const like = useCallback(
		async (video: Video, only?: "like") => {
			const who = requireLogin("Log in to like videos.");
			if (!who) return;
			const liked = only === "like" ? true : !video.is_favorite;
			if (liked === video.is_favorite) return;
			const apply = (on: boolean) => (v: Video) => (v.is_favorite === on ? v : { ...v, is_favorite: on, favorite_count: Math.max(0, v.favorite_count + (on ? 1 : -1)) });
			patchVideo(video.id, apply(liked));
			try {
				await api.favorite(who.token, video.id, liked);
			} catch (err) {
				patchVideo(video.id, apply(!liked));
				notifyError(err);
			}
		},
		[patchVideo, requireLogin]
	);

	const follow = useCallback(
		async (video: Video) => {
			const who = requireLogin("Log in to follow people.");
			if (!who) return;
			const on = !video.author.is_follow;
			const apply = (value: boolean) => (author: Video["author"]) =>
				author.is_follow === value ? author : { ...author, is_follow: value, follower_count: Math.max(0, author.follower_count + (value ? 1 : -1)) };
			patchAuthor(video.author.id, apply(on));
			try {
				await api.follow(who.token, video.author.id, on);
			} catch (err) {
				patchAuthor(video.author.id, apply(!on));
				notifyError(err);
			}
		},
		[patchAuthor, requireLogin]
	);

	const openComments = useCallback((video: Video) => setCommentsFor(video), []);

	// Keys, while no field has the focus and the comments are closed.
	useEffect(() => {
		const onKey = (event: KeyboardEvent) => {
			const target = event.target as HTMLElement | null;
			if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
			if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
			if (commentsFor) return;
			const video = videos[active];
			switch (event.key) {
				case "ArrowDown":
				case "j":
				case "PageDown":
					go(active + 1);
					break;
				case "ArrowUp":
				case "k":
				case "PageUp":
					go(active - 1);
					break;
				case "m":
				case "M":
					toggleSound();
					break;
				case "l":
				case "L":
					if (video) void like(video);
					break;
				case "c":
				case "C":
					if (video) openComments(video);
					break;
				case " ":
					// Space pauses the active video (the slide listens for this event).
					if (target?.tagName === "BUTTON" || target?.tagName === "A") return;
					deck.current?.querySelector<HTMLElement>(`[data-index="${active}"]`)?.dispatchEvent(new CustomEvent("moletok:toggle"));
					break;
				default:
					return;
			}
			event.preventDefault();
		};
		window.addEventListener("keydown", onKey);
		return () => window.removeEventListener("keydown", onKey);
	}, [active, videos, commentsFor, go, like, toggleSound, openComments]);

	return (
		<div class="deck-wrap">
			<div class="deck" ref={deck} aria-label={label} tabIndex={-1}>
				{videos.map((video, index) => (
					<Slide
						key={video.id}
						index={index}
						video={video}
						active={index === active}
						near={index >= active - 1 && index <= active + PRELOAD_AHEAD}
						preload={index === active ? "auto" : index > active && index <= active + PRELOAD_AHEAD ? "auto" : "metadata"}
						sound={sound}
						self={current?.userId === video.author.id}
						onLike={like}
						onFollow={follow}
						onComments={openComments}
						onSound={toggleSound}
					/>
				))}
				{tail && (
					<section class="slide slide-tail" data-index={videos.length}>
						{tail}
					</section>
				)}
			</div>
			<div class="deck-nav">
				<button type="button" class="round-btn" aria-label="Previous video (↑)" title="Previous video (↑)" disabled={active === 0} onClick={() => go(active - 1)}>
					<Icon.Up />
				</button>
				<button type="button" class="round-btn" aria-label="Next video (↓)" title="Next video (↓)" disabled={active >= slideCount - 1} onClick={() => go(active + 1)}>
					<Icon.Down />
				</button>
			</div>
			{commentsFor && (
				<CommentsSheet
					video={commentsFor}
					onClose={() => {
						setCommentsFor(null);
						deck.current?.focus({ preventScroll: true });
					}}
					onCount={delta => patchVideo(commentsFor.id, v => ({ ...v, comment_count: Math.max(0, v.comment_count + delta) }))}
				/>
			)}
		</div>
	);
}

interface SlideProps {
	index: number;
	video: Video;
	active: boolean;
	near: boolean;
	preload: "auto" | "metadata";
	sound: boolean;
	self: boolean;
	onLike(video: Video, only?: "like"): void;
	onFollow(video: Video): void;
	onComments(video: Video): void;
	onSound(): void;
}

function Slide({ index, video, active, near, preload, sound, self, onLike, onFollow, onComments, onSound }: SlideProps) {
	const element = useRef<HTMLElement>(null);
	const player = useRef<HTMLVideoElement>(null);
	const [paused, setPaused] = useState(false);
	const [progress, setProgress] = useState(0);
	const [burst, setBurst] = useState(0);
	const [failed, setFailed] = useState(false);
	const clickTimer = useRef<number | undefined>(undefined);

	// Only the active video plays; it starts from the top each time it becomes active.
	useEffect(() => {
		const media = player.current;
		if (!media) return;
		if (active) {
			setPaused(false);
			media.play().catch(err => {
				// Autoplay with sound refused: play muted; the sound button stays visible.
				if ((err as DOMException).name === "NotAllowedError" && !media.muted) {
					media.muted = true;
					void media.play().catch(() => setPaused(true));
				}
			});
		} else {
			media.pause();
			if (media.currentTime > 0 && media.readyState > 0) media.currentTime = 0;
		}
	}, [active, near]);

	useEffect(() => {
		if (player.current) player.current.muted = !sound;
	}, [sound, near]);

	const togglePause = useCallback(() => {
		const media = player.current;
		if (!media) return;
		if (media.paused) {
			void media.play().catch(() => undefined);
			setPaused(false);
		} else {
			media.pause();
			setPaused(true);
		}
	}, []);

	useEffect(() => {
		const node = element.current;
		node?.addEventListener("moletok:toggle", togglePause);
		return () => node?.removeEventListener("moletok:toggle", togglePause);
	}, [togglePause]);

	// A click pauses; a double click likes (the click waits to see whether a second follows).
	const onClick = () => {
		window.clearTimeout(clickTimer.current);
		clickTimer.current = window.setTimeout(togglePause, 220);
	};
	const onDoubleClick = () => {
		window.clearTimeout(clickTimer.current);
		setBurst(value => value + 1);
		onLike(video, "like");
	};

	const author = video.author;
	return (
		<section class={`slide${active ? " is-active" : ""}`} data-index={index} ref={element} aria-label={`${video.title} by ${author.name}`} data-video-id={video.id}>
			<div class="stage">
				<img class="backdrop" src={video.cover_url} alt="" aria-hidden="true" loading="lazy" />
				{near ? (
					<video
						ref={player}
						class="player"
						src={video.play_url}
						poster={video.cover_url}
						preload={preload}
						playsInline
						loop
						muted={!sound}
						onClick={onClick}
						onDblClick={onDoubleClick}
						onTimeUpdate={event => {
							const media = event.currentTarget;
							if (media.duration) setProgress(media.currentTime / media.duration);
						}}
						onPlaying={() => setFailed(false)}
						onError={() => setFailed(true)}
					/>
				) : (
					<img class="player" src={video.cover_url} alt="" loading="lazy" />
				)}
				{burst > 0 && <Icon.Heart key={burst} filled size={96} class="burst" />}
				{paused && active && (
					<button type="button" class="paused-badge" aria-label="Play (Space)" onClick={togglePause}>
						<Icon.Play size={44} />
					</button>
				)}
				{failed && <p class="stage-error">This video cannot be played right now.</p>}
				<div class="caption">
					<div class="caption-author">
						<a href={`/u/${author.id}`} class="caption-name">
							@{author.name}
						</a>
						{!self && (
							<button type="button" class={`pill${author.is_follow ? " pill-quiet" : ""}`} onClick={() => onFollow(video)} aria-pressed={author.is_follow}>
								{author.is_follow ? "Following" : "Follow"}
							</button>
						)}
					</div>
					<p class="caption-title">{video.title}</p>
				</div>
				<div class="progress" aria-hidden="true">
					<span style={{ transform: `scaleX(${progress})` }} />
				</div>
			</div>
			<aside class="rail">
				<a href={`/u/${author.id}`} class="rail-avatar" aria-label={`${author.name}'s profile`}>
					<Avatar user={author} size={48} />
				</a>
				<button
					type="button"
					class={`rail-btn${video.is_favorite ? " is-on" : ""}`}
					aria-pressed={video.is_favorite}
					aria-label={`${video.is_favorite ? "Unlike" : "Like"} (L), ${video.favorite_count} likes`}
					onClick={() => onLike(video)}
				>
					<span class="rail-icon">
						<Icon.Heart filled size={28} />
					</span>
					<span class="rail-count like-count">{formatCount(video.favorite_count)}</span>
				</button>
				<button type="button" class="rail-btn" aria-label={`Comments (C), ${video.comment_count} comments`} onClick={() => onComments(video)}>
					<span class="rail-icon">
						<Icon.Comment filled size={26} />
					</span>
					<span class="rail-count comment-count">{formatCount(video.comment_count)}</span>
				</button>
				<button type="button" class="rail-btn" aria-label={sound ? "Sound off (M)" : "Sound on (M)"} aria-pressed={sound} onClick={onSound}>
					<span class="rail-icon">{sound ? <Icon.SoundOn size={26} /> : <Icon.SoundOff size={26} />}</span>
					<span class="rail-count">{sound ? "Sound" : "Muted"}</span>
				</button>
			</aside>
		</section>
	);
}
