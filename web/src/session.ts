/**
 * Who is logged in: the token and the user, kept in localStorage so a reload or a new tab
 * stays logged in. A token the server refuses (expired, signed with another secret) ends the
 * session; the app then asks to log in again and says why.
 */
import { useCallback, useEffect, useState } from "preact/hooks";
import { useLocation } from "preact-iso";

export interface Session {
	token: string;
	userId: number;
	username: string;
}

const KEY = "moletok.session";

function read(): Session | null {
	try {
		const value = JSON.parse(localStorage.getItem(KEY) ?? "null") as Session | null;
		return value && typeof value.token === "string" && Number.isInteger(value.userId) ? value : null;
	} catch {
		return null;
	}
}

let current: Session | null = read();
const listeners = new Set<() => void>();

function publish(next: Session | null): void {
	current = next;
	try {
		if (next) localStorage.setItem(KEY, JSON.stringify(next));
		else localStorage.removeItem(KEY);
	} catch {
		// Private mode without storage: the session lasts as long as the page.
	}
	for (const listener of listeners) listener();
}

export const session = {
	get: () => current,
	logIn: (value: Session) => publish(value),
	logOut: () => publish(null)
};

// Another tab logged in or out.
window.addEventListener("storage", event => {
	if (event.key === KEY) {
		current = read();
		for (const listener of listeners) listener();
	}
});

/** The current session, re-rendering the component when it changes. */
export function useSession(): Session | null {
	const [value, setValue] = useState(current);
	useEffect(() => {
		const listener = () => setValue(current);
		listeners.add(listener);
		listener();
		return () => void listeners.delete(listener);
	}, []);
	return value;
}

/**
 * For actions that need an account: returns the session, or sends the person to the login
 * page (saying why) and returns null. After logging in they come back where they were.
 */
export function useRequireLogin(): (why: string) => Session | null {
	const { route, url } = useLocation();
	return useCallback(
		(why: string) => {
			if (!current) route(`/login?next=${encodeURIComponent(url)}&why=${encodeURIComponent(why)}`);
			return current;
		},
		[route, url]
	);
}
