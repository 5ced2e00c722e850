/** Log in or sign up; afterwards back to where the person was (?next=…), else the feed. */
import { useEffect, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, ApiError } from "./api";
import { resetFeed } from "./feed";
import { session } from "./session";
import { Icon, Logo } from "./ui";

/** Only paths of this app, so a crafted ?next= cannot send the person elsewhere. */
function safeNext(next: string | undefined): string {
	return next && /^\/(?!\/)/.test(next) && !next.startsWith("/login") ? next : "/";
}

export function Login() {
	const { query, route } = useLocation();
	const [mode, setMode] = useState<"login" | "register">(query.mode === "register" ? "register" : "login");
	const [username, setUsername] = useState("");
	const [password, setPassword] = useState("");
	const [showPassword, setShowPassword] = useState(false);
	const [busy, setBusy] = useState(false);
	const [error, setError] = useState<string | null>(null);
	const nameField = useRef<HTMLInputElement>(null);
	const reason = query.expired ? "Your session has expired. Log in again to continue." : query.why;

	useEffect(() => nameField.current?.focus(), [mode]);

	const submit = async (event: Event) => {
		event.preventDefault();
		if (busy) return;
		const name = username.trim();
		if (!name) return setError("Enter a username.");
		if (mode === "register" && (password.length < 6 || password.length > 32)) return setError("Choose a password of 6 to 32 characters.");
		if (!password) return setError("Enter your password.");
		setBusy(true);
		setError(null);
		try {
			const body = mode === "login" ? await api.login(name, password) : await api.register(name, password);
			session.logIn({ token: body.token, userId: body.user_id, username: name });
			resetFeed();
			route(safeNext(query.next), true);
		} catch (err) {
			setError(err instanceof ApiError ? err.message : "Something went wrong. Try again.");
		} finally {
			setBusy(false);
		}
	};

	const switchTo = (next: "login" | "register") => {
		setMode(next);
		setError(null);
	};

	return (
		<div class="page page-center">
			<form class="card auth" onSubmit={submit} noValidate>
				<div class="auth-brand">
					<Logo size={44} />
					<h1>MoleTok</h1>
				</div>
				<p class="auth-lead">{mode === "login" ? "Welcome back. Log in to like, comment, follow and chat." : "Create an account: it takes ten seconds."}</p>
				{reason && (
					<p class="banner" role="status">
						<Icon.Alert size={18} /> {reason}
					</p>
				)}
				<div class="tabs" role="tablist">
					<button type="button" role="tab" aria-selected={mode === "login"} class={`tab${mode === "login" ? " is-on" : ""}`} onClick={() => switchTo("login")}>
						Log in
					</button>
					<button type="button" role="tab" aria-selected={mode === "register"} class={`tab${mode === "register" ? " is-on" : ""}`} onClick={() => switchTo("register")}>
						Sign up
					</button>
				</div>
				<label class="field">
					<span>Username</span>
					<input
						ref={nameField}
						name="username"
						autocomplete="username"
						autocapitalize="none"
						spellcheck={false}
						maxLength={32}
						value={username}
						onInput={event => setUsername(event.currentTarget.value)}
					/>
					{mode === "register" && <small>1 to 32 characters.</small>}
				</label>
				<label class="field">
					<span>Password</span>
					<span class="field-row">
						<input
							name="password"
							type={showPassword ? "text" : "password"}
							autocomplete={mode === "login" ? "current-password" : "new-password"}
							maxLength={32}
							value={password}
							onInput={event => setPassword(event.currentTarget.value)}
						/>
						<button type="button" class="btn btn-ghost btn-small" onClick={() => setShowPassword(value => !value)} aria-pressed={showPassword}>
							{showPassword ? "Hide" : "Show"}
						</button>
					</span>
					{mode === "register" && <small>6 to 32 characters.</small>}
				</label>
				{error && (
					<p class="form-error" role="alert">
						{error}
					</p>
				)}
				<button type="submit" class="btn btn-primary btn-block" disabled={busy}>
					{busy ? "One moment…" : mode === "login" ? "Log in" : "Create account"}
				</button>
				<p class="auth-switch">
					{mode === "login" ? (
						<>
							New to MoleTok?{" "}
							<button type="button" class="link" onClick={() => switchTo("register")}>
								Create an account
							</button>
						</>
					) : (
						<>
							Already have an account?{" "}
							<button type="button" class="link" onClick={() => switchTo("login")}>
								Log in
							</button>
						</>
					)}
				</p>
				<a href="/" class="auth-skip">
					Just watch for now
				</a>
			</form>
		</div>
	);
}
