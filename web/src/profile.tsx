/** A user's profile: counts, published and liked videos, following, followers and friends. */
import { useEffect, useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { api, ApiError, type User, type Video } from "./api";
import { useVideoList, VideoDeck } from "./deck";
import { resetFeed } from "./feed";
import { notifyError } from "./notices";
import { session, useRequireLogin, useSession } from "./session";
import { Avatar, Empty, Failure, formatCount, Icon, LoginFirst, Spinner } from "./ui";

type Tab = "videos" | "liked" | "following" | "followers" | "friends";

const TABS: { id: Tab; label: string }[] = [
	{ id: "videos", label: "Videos" },
	{ id: "liked", label: "Liked" },
	{ id: "following", label: "Following" },
	{ id: "followers", label: "Followers" },
	{ id: "friends", label: "Friends" }
];

export function Profile() {
	const { params } = useRoute();
	const { route } = useLocation();
	const current = useSession();
	const userId = Number(params.id);
	const [user, setUser] = useState<User | null>(null);
	const [error, setError] = useState<string | null>(null);
	const [tab, setTab] = useState<Tab>("videos");
	const [isFriend, setIsFriend] = useState(false);
	const self = current?.userId === userId;

	const load = () => {
		if (!current) return;
		setError(null);
		api.user(userId, current.token).then(
			body => setUser(body.user),
			err => setError(err instanceof ApiError ? err.message : "This profile could not be loaded.")
		);
		if (!self)
			api.friends(current.userId, current.token).then(
				body => setIsFriend(body.user_list.some(friend => friend.id === userId)),
				() => setIsFriend(false)
			);
	};
	useEffect(() => {
		setUser(null);
		setTab("videos");
		load();
	}, [userId, current?.token]);

	if (!current) return <LoginFirst icon={<Icon.User size={44} />} title="Log in to see profiles" />;
	if (error)
		return (
			<div class="page">
				<Failure message={error} retry={load} />
			</div>
		);
	if (!user) return <Spinner label="Loading the profile…" />;

	const follow = async () => {
		const on = !user.is_follow;
		const apply = (value: boolean) => (u: User | null) => (u ? { ...u, is_follow: value, follower_count: Math.max(0, u.follower_count + (value ? 1 : -1)) } : u);
		setUser(apply(on));
		try {
			await api.follow(current.token, user.id, on);
			resetFeed();
			// A follow back makes a friend; an unfollow ends the friendship.
			const friends = await api.friends(current.userId, current.token);
			setIsFriend(friends.user_list.some(friend => friend.id === user.id));
		} catch (err) {
			setUser(apply(!on));
			notifyError(err);
		}
	};

	const logOut = () => {
		session.logOut();
		resetFeed();
		route("/");
	};

	const stats: { tab: Tab; value: number; label: string }[] = [
		{ tab: "following", value: user.follow_count, label: "Following" },
		{ tab: "followers", value: user.follower_count, label: user.follower_count === 1 ? "Follower" : "Followers" },
		{ tab: "videos", value: user.total_favorited, label: "Likes" }
	];

	return (
		<div class="page profile">
			<header class="profile-head">
				<Avatar user={user} size={96} />
				<div class="profile-id">
					<h1 class="profile-name">{user.name}</h1>
					<p class="profile-sub">{user.signature || (self ? "This is you." : `${formatCount(user.work_count)} videos · ${formatCount(user.favorite_count)} liked`)}</p>
					<div class="profile-stats">
						{stats.map(stat => (
							<button type="button" key={stat.label} class="stat" onClick={() => setTab(stat.tab)}>
								<strong>{formatCount(stat.value)}</strong> <span>{stat.label}</span>
							</button>
						))}
					</div>
					<div class="profile-actions">
						{self ? (
							<>
								<a class="btn btn-primary" href="/upload">
									<Icon.Upload size={18} /> Upload
								</a>
								<a class="btn btn-secondary" href="/inbox">
									<Icon.Inbox size={18} /> Messages
								</a>
								<button type="button" class="btn btn-ghost" onClick={logOut}>
									<Icon.Logout size={18} /> Log out
								</button>
							</>
						) : (
							<>
								<button type="button" class={`btn ${user.is_follow ? "btn-secondary" : "btn-primary"}`} aria-pressed={user.is_follow} onClick={follow}>
									{user.is_follow ? "Following" : "Follow"}
								</button>
								{isFriend && (
									<a class="btn btn-secondary" href={`/chat/${user.id}`}>
										<Icon.Inbox size={18} /> Message
									</a>
								)}
							</>
						)}
					</div>
					{!self && !isFriend && user.is_follow && <p class="hint">When {user.name} follows you back, you can chat.</p>}
				</div>
			</header>
			<nav class="tabs tabs-wide" role="tablist" aria-label="Profile sections">
				{TABS.map(item => (
					<button type="button" role="tab" key={item.id} aria-selected={tab === item.id} class={`tab${tab === item.id ? " is-on" : ""}`} onClick={() => setTab(item.id)}>
						{item.label}
						{item.id === "videos" && <span class="tab-count">{formatCount(user.work_count)}</span>}
						{item.id === "liked" && <span class="tab-count">{formatCount(user.favorite_count)}</span>}
					</button>
				))}
			</nav>
			<div class="tab-panel" role="tabpanel">
				{tab === "videos" || tab === "liked" ? (
					<VideoGrid key={`${tab}-${user.id}`} userId={user.id} kind={tab} self={self} name={user.name} />
				) : (
					<UserList key={`${tab}-${user.id}`} userId={user.id} kind={tab} self={self} name={user.name} />
				)}
			</div>
		</div>
	);
}

function VideoGrid({ userId, kind, self, name }: { userId: number; kind: "videos" | "liked"; self: boolean; name: string }) {
	const current = useSession();
	const { videos, setVideos, patchVideo, patchAuthor } = useVideoList();
	const [loaded, setLoaded] = useState(false);
	const [error, setError] = useState<string | null>(null);
	const [playing, setPlaying] = useState<number | null>(null);

	const load = () => {
		setError(null);
		(kind === "videos" ? api.publishList(userId, current?.token) : api.favoriteList(userId, current?.token)).then(
			body => {
				setVideos(body.video_list);
				setLoaded(true);
			},
			err => setError(err instanceof ApiError ? err.message : "The videos could not be loaded.")
		);
	};
	useEffect(load, [userId, kind]);

	useEffect(() => {
		if (playing === null) return;
		const onKey = (event: KeyboardEvent) => {
			if (event.key === "Escape" && !document.querySelector(".sheet")) setPlaying(null);
		};
		window.addEventListener("keydown", onKey);
		return () => window.removeEventListener("keydown", onKey);
	}, [playing]);

	if (error) return <Failure message={error} retry={load} />;
	if (!loaded) return <Spinner />;
	if (videos.length === 0)
		return kind === "videos" ? (
			<Empty icon={<Icon.Film size={40} />} title={self ? "You have not posted yet" : `${name} has not posted yet`}>
				{self && (
					<a class="btn btn-primary" href="/upload">
						Upload your first video
					</a>
				)}
			</Empty>
		) : (
			<Empty icon={<Icon.Heart size={40} />} title={self ? "Videos you like appear here" : `${name} has not liked anything yet`} />
		);

	return (
		<>
			<ul class="grid">
				{videos.map((video: Video, index) => (
					<li key={video.id}>
						<button type="button" class="grid-item" onClick={() => setPlaying(index)} aria-label={`Play ${video.title}`}>
							<img src={video.cover_url} alt="" loading="lazy" />
							<span class="grid-title">{video.title}</span>
							<span class="grid-likes">
								<Icon.Heart filled size={14} /> {formatCount(video.favorite_count)}
							</span>
						</button>
					</li>
				))}
			</ul>
			{playing !== null && (
				<div class="overlay" role="dialog" aria-modal="true" aria-label={kind === "videos" ? `${name}'s videos` : `Videos ${name} likes`}>
					<button type="button" class="round-btn overlay-close" aria-label="Close (Esc)" onClick={() => setPlaying(null)}>
						<Icon.Close />
					</button>
					<VideoDeck label={`${name}'s videos`} videos={videos} patchVideo={patchVideo} patchAuthor={patchAuthor} startIndex={playing} />
				</div>
			)}
		</>
	);
}

function UserList({ userId, kind, self, name }: { userId: number; kind: "following" | "followers" | "friends"; self: boolean; name: string }) {
	const current = useSession()!;
	const [users, setUsers] = useState<User[] | null>(null);
	const [error, setError] = useState<string | null>(null);

	const load = () => {
		setError(null);
		const request =
			kind === "following" ? api.following(userId, current.token) : kind === "followers" ? api.followers(userId, current.token) : api.friends(userId, current.token);
		request.then(
			body => setUsers(body.user_list),
			err => setError(err instanceof ApiError ? err.message : "The list could not be loaded.")
		);
	};
	useEffect(load, [userId, kind]);

	if (error) return <Failure message={error} retry={load} />;
	if (!users) return <Spinner />;
	if (users.length === 0) {
		const who = self ? "You" : name;
		const title =
			kind === "following" ? `${who} ${self ? "do" : "does"} not follow anyone yet` : kind === "followers" ? `No followers yet` : `No friends yet`;
		return (
			<Empty icon={<Icon.User size={40} />} title={title}>
				{kind === "friends" && "Friends are people who follow each other."}
			</Empty>
		);
	}
	return (
		<ul class="people">
			{users.map(user => (
				<PersonRow key={user.id} user={user} chat={kind === "friends" && self} />
			))}
		</ul>
	);
}

export function PersonRow({ user, chat }: { user: User; chat?: boolean }) {
	const current = useSession();
	const requireLogin = useRequireLogin();
	const [following, setFollowing] = useState(user.is_follow);
	const follow = async () => {
		const who = requireLogin("Log in to follow people.");
		if (!who) return;
		const on = !following;
		setFollowing(on);
		try {
			await api.follow(who.token, user.id, on);
			resetFeed();
		} catch (err) {
			setFollowing(!on);
			notifyError(err);
		}
	};
	return (
		<li class="person">
			<a href={`/u/${user.id}`} class="person-link">
				<Avatar user={user} size={48} />
				<span class="person-text">
					<strong>{user.name}</strong>
					<small>
						{formatCount(user.follower_count)} followers · {formatCount(user.work_count)} videos
					</small>
				</span>
			</a>
			{chat && (
				<a class="btn btn-secondary btn-small" href={`/chat/${user.id}`}>
					Message
				</a>
			)}
			{current?.userId !== user.id && (
				<button type="button" class={`btn btn-small ${following ? "btn-secondary" : "btn-primary"}`} aria-pressed={following} onClick={follow}>
					{following ? "Following" : "Follow"}
				</button>
			)}
		</li>
	);
}
