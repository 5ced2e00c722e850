/** Small shared pieces: icons, avatars, counts, loading and empty states. */
import type { ComponentChildren, JSX } from "preact";
import { useLocation } from "preact-iso";
import type { User } from "./api";

type IconProps = { size?: number; filled?: boolean; class?: string };

function svg(path: JSX.Element | JSX.Element[], { size = 24, class: className }: IconProps, viewBox = "0 0 24 24") {
	return (
		<svg class={className} width={size} height={size} viewBox={viewBox} aria-hidden="true" focusable="false">
			{path}
		</svg>
	);
}

const stroke = { fill: "none", stroke: "currentColor", "stroke-width": 2, "stroke-linecap": "round", "stroke-linejoin": "round" } as const;

export const Icon = {
	Heart: (p: IconProps) =>
		svg(
			<path
				d="M12 20.5s-7.5-4.6-9.3-9.2C1.5 8 3.6 4.5 7.1 4.5c2 0 3.4 1.1 4.9 2.9 1.5-1.8 2.9-2.9 4.9-2.9 3.5 0 5.6 3.5 4.4 6.8-1.8 4.6-9.3 9.2-9.3 9.2z"
				{...(p.filled ? { fill: "currentColor" } : stroke)}
			/>,
			p
		),
	Comment: (p: IconProps) =>
		svg(<path d="M4 5.5h16a1.5 1.5 0 0 1 1.5 1.5v9A1.5 1.5 0 0 1 20 17.5h-8.5L7 21v-3.5H4A1.5 1.5 0 0 1 2.5 16V7A1.5 1.5 0 0 1 4 5.5z" {...(p.filled ? { fill: "currentColor" } : stroke)} />, p),
	SoundOn: (p: IconProps) =>
		svg(
			[
				<path key="a" d="M4 9.5h3.5L12 5.5v13l-4.5-4H4z" fill="currentColor" />,
				<path key="b" d="M15.5 9a4 4 0 0 1 0 6M18 6.5a7.5 7.5 0 0 1 0 11" {...stroke} />
			],
			p
		),
	SoundOff: (p: IconProps) =>
		svg(
			[
				<path key="a" d="M4 9.5h3.5L12 5.5v13l-4.5-4H4z" fill="currentColor" />,
				<path key="b" d="M16 9.5l5 5M21 9.5l-5 5" {...stroke} />
			],
			p
		),
	Play: (p: IconProps) => svg(<path d="M8 5.5v13l11-6.5z" fill="currentColor" />, p),
	Plus: (p: IconProps) => svg(<path d="M12 5v14M5 12h14" {...stroke} />, p),
	Home: (p: IconProps) => svg(<path d="M3.5 11 12 4l8.5 7v8.5a1 1 0 0 1-1 1h-5v-6h-5v6h-5a1 1 0 0 1-1-1z" {...(p.filled ? { fill: "currentColor" } : stroke)} />, p),
	Inbox: (p: IconProps) =>
		svg(<path d="M12 3.5c5 0 9 3.4 9 7.6s-4 7.6-9 7.6c-1 0-2-.1-2.9-.4L4.5 20.5l1.2-3.7C4 15.4 3 13.4 3 11.1 3 6.9 7 3.5 12 3.5z" {...(p.filled ? { fill: "currentColor" } : stroke)} />, p),
	User: (p: IconProps) =>
		svg(
			[<circle key="a" cx="12" cy="8" r="4" {...(p.filled ? { fill: "currentColor" } : stroke)} />, <path key="b" d="M4 20.5c1.2-4 4.3-6 8-6s6.8 2 8 6" {...stroke} />],
			p
		),
	Up: (p: IconProps) => svg(<path d="M6 15l6-6 6 6" {...stroke} />, p),
	Down: (p: IconProps) => svg(<path d="M6 9l6 6 6-6" {...stroke} />, p),
	Back: (p: IconProps) => svg(<path d="M15 5l-7 7 7 7" {...stroke} />, p),
	Close: (p: IconProps) => svg(<path d="M6 6l12 12M18 6 6 18" {...stroke} />, p),
	Send: (p: IconProps) => svg(<path d="M4 12 20 4l-5 16-3.5-6.5z" {...stroke} />, p),
	Trash: (p: IconProps) => svg(<path d="M4.5 7h15M9.5 7V4.5h5V7M6.5 7l1 13h9l1-13" {...stroke} />, p),
	Upload: (p: IconProps) => svg(<path d="M12 16V4M7 9l5-5 5 5M4.5 15.5V20h15v-4.5" {...stroke} />, p),
	Logout: (p: IconProps) => svg(<path d="M14.5 4.5H19v15h-4.5M10 8l-4 4 4 4M6 12h10" {...stroke} />, p),
	Docs: (p: IconProps) => svg(<path d="M6 3.5h8.5L19 8v12.5H6zM14 3.5V8.5h5M9 12.5h7M9 16h7" {...stroke} />, p),
	Check: (p: IconProps) => svg(<path d="M5 12.5l4.5 4.5L19 7.5" {...stroke} />, p),
	Alert: (p: IconProps) => svg([<circle key="a" cx="12" cy="12" r="9" {...stroke} />, <path key="b" d="M12 7.5v5.5M12 16.5v.01" {...stroke} />], p),
	Film: (p: IconProps) => svg(<path d="M4 4.5h16v15H4zM8 4.5v15M16 4.5v15M4 9h4M4 15h4M16 9h4M16 15h4" {...stroke} />, p)
};

/** The app's mark: a mole peeking out of its hill. */
export function Logo({ size = 32 }: { size?: number }) {
	return <img src="/favicon.svg" width={size} height={size} alt="" class="logo-mark" />;
}

const AVATAR_COLORS = ["#ff5a76", "#ff8a3d", "#f5b700", "#2ec4b6", "#3a86ff", "#8338ec", "#06d6a0", "#ef476f"];

/** A user's avatar: the picture when they have one, else their initial on their own colour. */
export function Avatar({ user, size = 40 }: { user: Pick<User, "id" | "name" | "avatar">; size?: number }) {
	const style = { width: `${size}px`, height: `${size}px`, fontSize: `${Math.round(size * 0.42)}px` };
	if (user.avatar) return <img class="avatar" src={user.avatar} alt="" style={style} loading="lazy" />;
	const initial = Array.from(user.name.trim())[0]?.toUpperCase() ?? "?";
	return (
		<span class="avatar" style={{ ...style, background: AVATAR_COLORS[user.id % AVATAR_COLORS.length] }} aria-hidden="true">
			{initial}
		</span>
	);
}

/** 1234 → "1.2K", as a person reads counts at a glance. */
export function formatCount(value: number): string {
	if (value < 1000) return String(value);
	if (value < 1_000_000) return `${(value / 1000).toFixed(value < 10_000 ? 1 : 0).replace(/\.0$/, "")}K`;
	return `${(value / 1_000_000).toFixed(value < 10_000_000 ? 1 : 0).replace(/\.0$/, "")}M`;
}

export function formatBytes(bytes: number): string {
	if (bytes < 1024) return `${bytes} B`;
	if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
	return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function Spinner({ label = "Loading…" }: { label?: string }) {
	return (
		<div class="spinner" role="status">
			<span class="spinner-ring" aria-hidden="true" />
			<span class="spinner-label">{label}</span>
		</div>
	);
}

export function Empty({ icon, title, children }: { icon?: ComponentChildren; title: string; children?: ComponentChildren }) {
	return (
		<div class="empty">
			{icon && <div class="empty-icon">{icon}</div>}
			<p class="empty-title">{title}</p>
			{children && <div class="empty-body">{children}</div>}
		</div>
	);
}

/** A failure shown in place of content, with a way to try again. */
export function Failure({ message, retry }: { message: string; retry?: () => void }) {
	return (
		<div class="failure" role="alert">
			<Icon.Alert size={28} />
			<p>{message}</p>
			{retry && (
				<button type="button" class="btn btn-secondary" onClick={retry}>
					Try again
				</button>
			)}
		</div>
	);
}

/** In place of a screen that needs an account: why, and the way to log in (and back here). */
export function LoginFirst({ icon, title }: { icon: ComponentChildren; title: string }) {
	const { url } = useLocation();
	return (
		<div class="page page-center">
			<Empty icon={icon} title={title}>
				<a class="btn btn-primary" href={`/login?next=${encodeURIComponent(url)}`}>
					Log in
				</a>
			</Empty>
		</div>
	);
}
