/**
 * Messages: the friend list with each conversation's latest message, and a conversation that
 * shows new messages as they arrive. The conversation polls message/chat with pre_msg_time =
 * the newest create_time shown, so only newer messages come back; messages are kept by id,
 * so none is ever shown twice.
 */
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { useRoute } from "preact-iso";
import { api, ApiError, type FriendUser, type Message, type User } from "./api";
import { useSession } from "./session";
import { Avatar, Empty, Failure, Icon, LoginFirst, Spinner } from "./ui";

/** How often an open conversation asks for new messages (the Android app: about every second). */
const POLL_MS = 1500;
const MAX_MESSAGE = 1000;

export function Inbox() {
	const current = useSession();
	const [friends, setFriends] = useState<FriendUser[] | null>(null);
	const [error, setError] = useState<string | null>(null);

	const load = useCallback(() => {
		if (!current) return;
		setError(null);
		api.friends(current.userId, current.token).then(
			body => setFriends(body.user_list),
			err => setError(err instanceof ApiError ? err.message : "Your friends could not be loaded.")
		);
	}, [current?.token]);
	useEffect(load, [load]);

	if (!current) return <LoginFirst icon={<Icon.Inbox size={44} />} title="Log in to chat with your friends" />;
	return (
		<div class="page inbox">
			<h1 class="page-title">Messages</h1>
			{error ? (
				<Failure message={error} retry={load} />
			) : !friends ? (
				<Spinner />
			) : friends.length === 0 ? (
				<Empty icon={<Icon.Inbox size={44} />} title="No friends yet">
					<p>Friends are people you follow who follow you back. Follow someone from the feed to get started.</p>
					<a class="btn btn-primary" href="/">
						Explore the feed
					</a>
				</Empty>
			) : (
				<ul class="threads">
					{friends.map(friend => (
						<li key={friend.id}>
							<a class="thread" href={`/chat/${friend.id}`}>
								<Avatar user={friend} size={52} />
								<span class="thread-text">
									<strong>{friend.name}</strong>
									<small class={friend.message ? "" : "muted"}>
										{friend.message ? `${friend.msgType === 1 ? "You: " : ""}${friend.message}` : "No messages yet: say hi"}
									</small>
								</span>
								<Icon.Back size={18} class="thread-go" />
							</a>
						</li>
					))}
				</ul>
			)}
		</div>
	);
}

function timeOf(createTime: number): string {
	const date = new Date(createTime);
	const sameDay = date.toDateString() === new Date().toDateString();
	return sameDay ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : date.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

export function Chat() {
	const { params } = useRoute();
	const current = useSession();
	const peerId = Number(params.id);
	const [peer, setPeer] = useState<User | null>(null);
	const [messages, setMessages] = useState<Message[]>([]);
	const [loaded, setLoaded] = useState(false);
	const [error, setError] = useState<string | null>(null);
	const [text, setText] = useState("");
	const [sending, setSending] = useState(false);
	const [sendError, setSendError] = useState<string | null>(null);
	const list = useRef<HTMLDivElement>(null);
	const stickToBottom = useRef(true);
	const newest = useRef(0);
	const known = useRef(new Set<number>());
	const pollNow = useRef<() => void>(() => undefined);

	useEffect(() => {
		if (!current) return;
		api.user(peerId, current.token).then(
			body => setPeer(body.user),
			err => setError(err instanceof ApiError ? err.message : "This conversation could not be opened.")
		);
	}, [peerId, current?.token]);

	// Poll for what is new; one request at a time, paused while the tab is hidden.
	useEffect(() => {
		if (!current) return;
		let stopped = false;
		let timer: number | undefined;
		let inFlight = false;
		newest.current = 0;
		known.current = new Set();
		setMessages([]);
		setLoaded(false);
		const poll = async () => {
			window.clearTimeout(timer);
			if (stopped || inFlight) return;
			inFlight = true;
			try {
				const { message_list } = await api.chat(current.token, peerId, newest.current);
				if (stopped) return;
				const fresh = message_list.filter(message => !known.current.has(message.id));
				for (const message of fresh) {
					known.current.add(message.id);
					newest.current = Math.max(newest.current, message.create_time);
				}
				if (fresh.length > 0) setMessages(shown => [...shown, ...fresh]);
				setLoaded(true);
				setError(null);
			} catch (err) {
				if (!stopped) setError(err instanceof ApiError ? err.message : "New messages could not be loaded.");
			} finally {
				inFlight = false;
				if (!stopped && !document.hidden) timer = window.setTimeout(poll, POLL_MS);
			}
		};
		const onVisible = () => {
			if (!document.hidden) void poll();
		};
		pollNow.current = () => void poll();
		void poll();
		document.addEventListener("visibilitychange", onVisible);
		return () => {
			stopped = true;
			window.clearTimeout(timer);
			document.removeEventListener("visibilitychange", onVisible);
		};
	}, [peerId, current?.token]);

	// New messages scroll into view, unless the person scrolled up to read.
	useLayoutEffect(() => {
		const element = list.current;
		if (element && stickToBottom.current) element.scrollTop = element.scrollHeight;
	}, [messages.length, loaded]);

	if (!current) return <LoginFirst icon={<Icon.Inbox size={44} />} title="Log in to chat" />;

	const send = async (event: Event) => {
		event.preventDefault();
		const content = text.trim();
		if (!content || sending) return;
		setSending(true);
		setSendError(null);
		try {
			await api.send(current.token, peerId, content);
			setText("");
			stickToBottom.current = true;
			pollNow.current();
		} catch (err) {
			setSendError(err instanceof ApiError ? err.message : "The message could not be sent.");
		} finally {
			setSending(false);
		}
	};

	return (
		<div class="page chat">
			<header class="chat-head">
				<a href="/inbox" class="icon-btn" aria-label="Back to messages">
					<Icon.Back />
				</a>
				{peer ? (
					<a href={`/u/${peer.id}`} class="chat-peer">
						<Avatar user={peer} size={40} />
						<strong>{peer.name}</strong>
					</a>
				) : (
					<span class="chat-peer muted">…</span>
				)}
			</header>
			<div
				class="chat-list"
				ref={list}
				aria-live="polite"
				aria-label="Conversation"
				onScroll={event => {
					const element = event.currentTarget;
					stickToBottom.current = element.scrollHeight - element.scrollTop - element.clientHeight < 80;
				}}
			>
				{error && !loaded ? (
					<Failure message={error} retry={() => pollNow.current()} />
				) : !loaded ? (
					<Spinner label="Loading the conversation…" />
				) : messages.length === 0 ? (
					<Empty icon={<Icon.Inbox size={40} />} title={peer ? `Say hi to ${peer.name}` : "No messages yet"}>
						Messages appear here as soon as they are sent.
					</Empty>
				) : (
					<ol class="bubbles">
						{messages.map((message, index) => {
							const mine = message.from_user_id === current.userId;
							const previous = messages[index - 1];
							const gap = !previous || message.create_time - previous.create_time > 5 * 60 * 1000;
							return (
								<li key={message.id} class={`bubble-row${mine ? " mine" : ""}`} data-message-id={message.id}>
									{gap && <time class="bubble-time">{timeOf(message.create_time)}</time>}
									<p class="bubble">{message.content}</p>
								</li>
							);
						})}
					</ol>
				)}
				{error && loaded && <p class="chat-warning">{error} Retrying…</p>}
			</div>
			<form class="composer chat-composer" onSubmit={send}>
				<textarea
					rows={1}
					value={text}
					maxLength={MAX_MESSAGE}
					placeholder={peer ? `Message ${peer.name}…` : "Message…"}
					aria-label="Your message"
					onInput={event => setText(event.currentTarget.value)}
					onKeyDown={event => {
						if (event.key === "Enter" && !event.shiftKey) void send(event);
					}}
				/>
				<button type="submit" class="btn btn-primary btn-icon" aria-label="Send" disabled={sending || !text.trim()}>
					<Icon.Send size={20} />
				</button>
			</form>
			{sendError && (
				<p class="form-error chat-send-error" role="alert">
					{sendError}
				</p>
			)}
		</div>
	);
}
