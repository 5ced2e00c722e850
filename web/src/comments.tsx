/** The comments of a video: a sheet from the bottom on a phone, a side panel on a desktop. */
import { useEffect, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, ApiError, type Comment, type Video } from "./api";
import { notifyError } from "./notices";
import { useSession } from "./session";
import { Avatar, Empty, Failure, Icon, Spinner } from "./ui";

const MAX_COMMENT = 500;

export function CommentsSheet({ video, onClose, onCount }: { video: Video; onClose(): void; onCount(delta: number): void }) {
	const current = useSession();
	const { url } = useLocation();
	const [comments, setComments] = useState<Comment[] | null>(null);
	const [error, setError] = useState<string | null>(null);
	const [text, setText] = useState("");
	const [posting, setPosting] = useState(false);
	const [postError, setPostError] = useState<string | null>(null);
	const [confirming, setConfirming] = useState<number | null>(null);
	const input = useRef<HTMLTextAreaElement>(null);
	const closeButton = useRef<HTMLButtonElement>(null);

	const load = () => {
		setError(null);
		setComments(null);
		api.comments(video.id, current?.token).then(
			body => setComments(body.comment_list),
			err => setError(err instanceof ApiError ? err.message : "The comments could not be loaded.")
		);
	};
	useEffect(load, [video.id]);

	useEffect(() => {
		(input.current ?? closeButton.current)?.focus();
		const onKey = (event: KeyboardEvent) => {
			if (event.key === "Escape") {
				event.preventDefault();
				onClose();
			}
		};
		window.addEventListener("keydown", onKey);
		return () => window.removeEventListener("keydown", onKey);
	}, []);

	const post = async (event: Event) => {
		event.preventDefault();
		if (!current || posting) return;
		const content = text.trim();
		if (!content) {
			setPostError("Write something first.");
			return;
		}
		setPosting(true);
		setPostError(null);
		try {
			const { comment } = await api.postComment(current.token, video.id, content);
			setComments(list => [comment, ...(list ?? [])]);
			setText("");
			onCount(1);
		} catch (err) {
			setPostError(err instanceof ApiError ? err.message : "The comment could not be posted.");
		} finally {
			setPosting(false);
		}
	};

	const remove = async (comment: Comment) => {
		if (!current) return;
		setConfirming(null);
		try {
			await api.deleteComment(current.token, video.id, comment.id);
			setComments(list => (list ?? []).filter(other => other.id !== comment.id));
			onCount(-1);
		} catch (err) {
			notifyError(err);
		}
	};

	const count = comments?.length ?? video.comment_count;
	return (
		<div class="sheet-backdrop" onClick={event => event.target === event.currentTarget && onClose()}>
			<section class="sheet" role="dialog" aria-modal="true" aria-label="Comments">
				<header class="sheet-head">
					<h2>
						{count} {count === 1 ? "comment" : "comments"}
					</h2>
					<button type="button" class="icon-btn" ref={closeButton} aria-label="Close comments (Esc)" onClick={onClose}>
						<Icon.Close />
					</button>
				</header>
				<div class="sheet-body">
					{error ? (
						<Failure message={error} retry={load} />
					) : !comments ? (
						<Spinner label="Loading comments…" />
					) : comments.length === 0 ? (
						<Empty icon={<Icon.Comment size={36} />} title="No comments yet">
							{current ? "Be the first to say something." : "Log in to start the conversation."}
						</Empty>
					) : (
						<ul class="comment-list">
							{comments.map(comment => (
								<li key={comment.id} class="comment">
									<a href={`/u/${comment.user.id}`} aria-label={`${comment.user.name}'s profile`}>
										<Avatar user={comment.user} size={36} />
									</a>
									<div class="comment-main">
										<div class="comment-meta">
											<a href={`/u/${comment.user.id}`} class="comment-name">
												{comment.user.name}
											</a>
											{comment.user.id === video.author.id && <span class="badge">Creator</span>}
											<span class="comment-date">{comment.create_date}</span>
										</div>
										<p class="comment-text">{comment.content}</p>
									</div>
									{current?.userId === comment.user.id &&
										(confirming === comment.id ? (
											<span class="confirm">
												<button type="button" class="btn btn-danger btn-small" onClick={() => remove(comment)}>
													Delete
												</button>
												<button type="button" class="btn btn-ghost btn-small" onClick={() => setConfirming(null)}>
													Keep
												</button>
											</span>
										) : (
											<button type="button" class="icon-btn icon-btn-quiet" aria-label="Delete my comment" onClick={() => setConfirming(comment.id)}>
												<Icon.Trash size={18} />
											</button>
										))}
								</li>
							))}
						</ul>
					)}
				</div>
				<footer class="sheet-foot">
					{current ? (
						<form class="composer" onSubmit={post}>
							<textarea
								ref={input}
								rows={1}
								value={text}
								maxLength={MAX_COMMENT}
								placeholder="Add a comment…"
								aria-label="Your comment"
								onInput={event => setText(event.currentTarget.value)}
								onKeyDown={event => {
									if (event.key === "Enter" && !event.shiftKey) void post(event);
								}}
							/>
							<button type="submit" class="btn btn-primary" disabled={posting || !text.trim()}>
								{posting ? "Posting…" : "Post"}
							</button>
						</form>
					) : (
						<a class="btn btn-primary btn-block" href={`/login?next=${encodeURIComponent(url)}&why=${encodeURIComponent("Log in to comment.")}`}>
							Log in to comment
						</a>
					)}
					{postError && (
						<p class="form-error" role="alert">
							{postError}
						</p>
					)}
				</footer>
			</section>
		</div>
	);
}
