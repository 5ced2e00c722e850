/** The app's frame: a sidebar on a desktop, a tab bar on a phone, and the screens. */
import { useEffect } from "preact/hooks";
import { LocationProvider, Route, Router, useLocation } from "preact-iso";
import { api, whenUnauthorized } from "./api";
import { Chat, Inbox } from "./chat";
import { Feed, resetFeed } from "./feed";
import { Login } from "./login";
import { Notices } from "./notices";
import { Profile } from "./profile";
import { PATHS } from "./routes";
import { session, useSession } from "./session";
import { Avatar, Empty, Icon, Logo } from "./ui";
import { Upload } from "./upload";

function NotFound() {
	return (
		<div class="page page-center">
			<Empty icon={<Icon.Alert size={44} />} title="This page does not exist">
				<a class="btn btn-primary" href="/">
					Back to the feed
				</a>
			</Empty>
		</div>
	);
}

/** A refused token (expired, or the server's secret changed) ends the session, with a reason. */
function SessionGuard() {
	const { route } = useLocation();
	const current = useSession();
	useEffect(() => {
		whenUnauthorized(() => {
			if (!session.get()) return;
			session.logOut();
			resetFeed();
			const here = window.location.pathname + window.location.search;
			if (!here.startsWith("/login")) route(`/login?expired=1&next=${encodeURIComponent(here)}`, true);
		});
	}, [route]);
	// Check the stored token once per page load, so an expired one is noticed at once.
	useEffect(() => {
		if (current) api.user(current.userId, current.token).catch(() => undefined);
	}, [current?.token]);
	return null;
}

const KEYS: [string[], string][] = [
	[["↑", "↓"], "Previous / next"],
	[["Space"], "Pause"],
	[["M"], "Sound"],
	[["L"], "Like"],
	[["C"], "Comments"]
];

function NavLink({ href, label, icon, active }: { href: string; label: string; icon: preact.ComponentChildren; active: boolean }) {
	return (
		<a href={href} class={`nav-link${active ? " is-on" : ""}`} aria-current={active ? "page" : undefined}>
			{icon}
			<span>{label}</span>
		</a>
	);
}

function Frame() {
	const { path } = useLocation();
	const current = useSession();
	const me = current ? `/u/${current.userId}` : "/login";
	const onFeed = path === "/";
	const onMe = current ? path === me : path === "/login";
	return (
		<div class={`app${onFeed ? " on-feed" : ""}`}>
			<nav class="sidebar" aria-label="Main">
				<a href="/" class="brand" aria-label="MoleTok home">
					<Logo size={36} />
					<span>MoleTok</span>
				</a>
				<NavLink href="/" label="For you" icon={<Icon.Home filled={onFeed} />} active={onFeed} />
				<NavLink href="/upload" label="Upload" icon={<Icon.Upload />} active={path === "/upload"} />
				<NavLink href="/inbox" label="Messages" icon={<Icon.Inbox filled={path.startsWith("/inbox") || path.startsWith("/chat")} />} active={path === "/inbox" || path.startsWith("/chat/")} />
				<NavLink href={me} label="Profile" icon={<Icon.User filled={onMe} />} active={Boolean(current) && onMe} />
				<div class="sidebar-foot">
					{current ? (
						<a href={me} class="me-chip">
							<Avatar user={{ id: current.userId, name: current.username, avatar: "" }} size={32} />
							<span>{current.username}</span>
						</a>
					) : (
						<a href="/login" class="btn btn-primary btn-block">
							Log in
						</a>
					)}
					{onFeed && (
						<dl class="keys" aria-label="Keyboard shortcuts">
							{KEYS.map(([keys, what]) => (
								<div key={what}>
									<dt>
										{keys.map(key => (
											<kbd key={key}>{key}</kbd>
										))}
									</dt>
									<dd>{what}</dd>
								</div>
							))}
						</dl>
					)}
					<a href="/docs/" class="docs-link" target="_blank" rel="noopener">
						<Icon.Docs size={16} /> API reference
					</a>
				</div>
			</nav>
			<main class="main" id="main">
				<Router>
					<Route path={PATHS.feed} component={Feed} />
					<Route path={PATHS.login} component={Login} />
					<Route path={PATHS.upload} component={Upload} />
					<Route path={PATHS.inbox} component={Inbox} />
					<Route path={PATHS.profile} component={Profile} />
					<Route path={PATHS.chat} component={Chat} />
					<Route default component={NotFound} />
				</Router>
			</main>
			<nav class="tabbar" aria-label="Main">
				<NavLink href="/" label="Home" icon={<Icon.Home filled={onFeed} />} active={onFeed} />
				<a href="/upload" class="tab-upload" aria-label="Upload">
					<Icon.Plus size={22} />
				</a>
				<NavLink href="/inbox" label="Inbox" icon={<Icon.Inbox filled={path === "/inbox"} />} active={path === "/inbox" || path.startsWith("/chat/")} />
				<NavLink href={me} label={current ? "Me" : "Log in"} icon={<Icon.User filled={onMe} />} active={onMe} />
			</nav>
			<Notices />
		</div>
	);
}

export function App() {
	return (
		<LocationProvider scope={/^\/(?!docs\/|openapi\.json)/}>
			<SessionGuard />
			<Frame />
		</LocationProvider>
	);
}
