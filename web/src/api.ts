/**
 * The MoleTok API as the Android app speaks it (docs/openapi.json): GETs and POSTs with the
 * parameters in the query string and an empty body, the upload as multipart/form-data with
 * `data`, `token` and `title`. Every answer is an envelope; a non-zero status_code becomes an
 * ApiError carrying the server's own words.
 */
import type { Comment, FriendUser, Message, User, Video } from "../../lib/wire";

/** The wire objects: the very types the services answer with (lib/wire.ts). */
export type { Comment, FriendUser, Message, User, Video };

interface Envelope {
	status_code: number;
	status_msg?: string;
}

/** The status_code of a failure the network caused (no answer from the server). */
export const NETWORK_ERROR = -1;

export class ApiError extends Error {
	constructor(
		readonly code: number,
		message: string
	) {
		super(message);
	}
}

type Params = Record<string, string | number | undefined | null>;

/** Called when a request that carried a token is refused with 401: the session is over. */
let onUnauthorized: (message: string) => void = () => undefined;
export function whenUnauthorized(handler: (message: string) => void): void {
	onUnauthorized = handler;
}

function url(path: string, params: Params): string {
	const search = new URLSearchParams();
	for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
	const query = search.toString();
	return `/douyin${path}${query ? `?${query}` : ""}`;
}

/** The server's words as a sentence: "wrong username or password" → "Wrong username or password." */
export function asSentence(text: string): string {
	const trimmed = text.trim();
	return trimmed.charAt(0).toUpperCase() + trimmed.slice(1) + (/[.!?…]$/.test(trimmed) ? "" : ".");
}

function check<T>(body: T & Envelope, sentToken: boolean): T {
	if (typeof body?.status_code !== "number") throw new ApiError(500, "The server sent an answer MoleTok does not understand. Try again later.");
	if (body.status_code !== 0) {
		const message = body.status_msg ? asSentence(body.status_msg) : `The request failed (code ${body.status_code}).`;
		if (body.status_code === 401 && sentToken) onUnauthorized(message);
		throw new ApiError(body.status_code, message);
	}
	return body;
}

async function request<T>(method: "GET" | "POST", path: string, params: Params): Promise<T> {
	let res: Response;
	try {
		res = await fetch(url(path, params), { method, headers: { Accept: "application/json" } });
	} catch {
		throw new ApiError(NETWORK_ERROR, "Cannot reach MoleTok. Check your connection and try again.");
	}
	let body: T & Envelope;
	try {
		body = (await res.json()) as T & Envelope;
	} catch {
		throw new ApiError(res.status || 500, `The server answered ${res.status} without the usual JSON. Try again in a moment.`);
	}
	return check(body, Boolean(params.token));
}

const get = <T>(path: string, params: Params = {}) => request<T>("GET", `${path}/`, params);
const post = <T>(path: string, params: Params = {}) => request<T>("POST", `${path}/`, params);

export interface FeedPage {
	video_list: Video[];
	next_time: number;
}

export const api = {
	feed: (latestTime: number | undefined, token?: string | null) => get<FeedPage>("/feed", { latest_time: latestTime, token }),
	register: (username: string, password: string) => post<{ user_id: number; token: string }>("/user/register", { username, password }),
	login: (username: string, password: string) => post<{ user_id: number; token: string }>("/user/login", { username, password }),
	user: (userId: number, token: string) => get<{ user: User }>("/user", { user_id: userId, token }),
	publishList: (userId: number, token?: string | null) => get<{ video_list: Video[] }>("/publish/list", { user_id: userId, token }),
	favorite: (token: string, videoId: number, like: boolean) => post<object>("/favorite/action", { token, video_id: videoId, action_type: like ? 1 : 2 }),
	favoriteList: (userId: number, token?: string | null) => get<{ video_list: Video[] }>("/favorite/list", { user_id: userId, token }),
	postComment: (token: string, videoId: number, text: string) => post<{ comment: Comment }>("/comment/action", { token, video_id: videoId, action_type: 1, comment_text: text }),
	deleteComment: (token: string, videoId: number, commentId: number) =>
		post<object>("/comment/action", { token, video_id: videoId, action_type: 2, comment_id: commentId }),
	comments: (videoId: number, token?: string | null) => get<{ comment_list: Comment[] }>("/comment/list", { video_id: videoId, token }),
	follow: (token: string, userId: number, follow: boolean) => post<object>("/relation/action", { token, to_user_id: userId, action_type: follow ? 1 : 2 }),
	following: (userId: number, token?: string | null) => get<{ user_list: User[] }>("/relation/follow/list", { user_id: userId, token }),
	followers: (userId: number, token?: string | null) => get<{ user_list: User[] }>("/relation/follower/list", { user_id: userId, token }),
	friends: (userId: number, token: string) => get<{ user_list: FriendUser[] }>("/relation/friend/list", { user_id: userId, token }),
	chat: (token: string, userId: number, preMsgTime: number) => get<{ message_list: Message[] }>("/message/chat", { token, to_user_id: userId, pre_msg_time: preMsgTime }),
	send: (token: string, userId: number, content: string) => post<object>("/message/action", { token, to_user_id: userId, action_type: 1, content })
};

export interface UploadHandle {
	/** Resolves with the new video's id (when the server says it), rejects with an ApiError. */
	done: Promise<number | undefined>;
	abort(): void;
}

/**
 * The upload, with XMLHttpRequest because fetch cannot report upload progress.
 * `onProgress` gets the bytes sent and the total; when everything is sent the server
 * still checks the video before it answers.
 */
export function upload(token: string, title: string, file: File, onProgress: (sent: number, total: number) => void): UploadHandle {
	const xhr = new XMLHttpRequest();
	const form = new FormData();
	form.append("token", token);
	form.append("title", title);
	form.append("data", file, file.name);
	const done = new Promise<number | undefined>((resolve, reject) => {
		xhr.upload.onprogress = event => onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
		xhr.upload.onload = () => onProgress(file.size, file.size);
		xhr.onerror = () => reject(new ApiError(NETWORK_ERROR, "The upload was interrupted. Check your connection and try again."));
		xhr.onabort = () => reject(new ApiError(NETWORK_ERROR, "Upload cancelled."));
		xhr.ontimeout = () => reject(new ApiError(NETWORK_ERROR, "The upload took too long. Try again, or try a shorter video."));
		xhr.onload = () => {
			try {
				const body = JSON.parse(xhr.responseText) as Envelope & { video_id?: number };
				resolve(check(body, true).video_id);
			} catch (err) {
				reject(err instanceof ApiError ? err : new ApiError(xhr.status || 500, `The server answered ${xhr.status} without the usual JSON. Try again in a moment.`));
			}
		};
	});
	xhr.open("POST", "/douyin/publish/action/");
	xhr.setRequestHeader("Accept", "application/json");
	xhr.send(form);
	return { done, abort: () => xhr.abort() };
}
