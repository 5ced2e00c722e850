/**
 * Notices: every failure the API reports is shown in its own words, nothing fails silently.
 * `notify` can be called from anywhere; <Notices/> shows them for a few seconds each.
 */
import { useEffect, useState } from "preact/hooks";
import { ApiError } from "./api";

interface Notice {
	id: number;
	text: string;
	kind: "error" | "info";
}

let nextId = 1;
let notices: Notice[] = [];
const listeners = new Set<(list: Notice[]) => void>();

function set(list: Notice[]): void {
	notices = list;
	for (const listener of listeners) listener(list);
}

export function notify(text: string, kind: Notice["kind"] = "info"): void {
	const notice = { id: nextId++, text, kind };
	// The same words twice in a row (e.g. two failed likes) show once.
	set([...notices.filter(other => other.text !== text), notice].slice(-3));
	setTimeout(() => set(notices.filter(other => other.id !== notice.id)), kind === "error" ? 6000 : 3500);
}

/** Shows what went wrong: the server's message, or a plain one for anything else. */
export function notifyError(err: unknown): void {
	notify(err instanceof ApiError ? err.message : "Something went wrong. Try again.", "error");
}

export function Notices() {
	const [list, setList] = useState(notices);
	useEffect(() => {
		listeners.add(setList);
		return () => void listeners.delete(setList);
	}, []);
	return (
		<div class="notices" aria-live="assertive">
			{list.map(notice => (
				<div key={notice.id} class={`notice notice-${notice.kind}`} role={notice.kind === "error" ? "alert" : "status"}>
					<span>{notice.text}</span>
					<button type="button" class="notice-close" aria-label="Dismiss" onClick={() => set(notices.filter(other => other.id !== notice.id))}>
						×
					</button>
				</div>
			))}
		</div>
	);
}
