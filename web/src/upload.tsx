/**
 * Upload: pick a video, give it a title, watch the bytes go up, then see the outcome: the
 * video published, or the server's reason in words (too large, not a video, …).
 *
 * The server answers once the video is stored and checked. A server that answers earlier
 * (the video still being processed) is handled too: the page waits, briefly, until the
 * video is in the author's list before it says "published".
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, type UploadHandle, upload, type Video } from "./api";
import { resetFeed } from "./feed";
import { useSession } from "./session";
import { formatBytes, Icon, LoginFirst } from "./ui";

const MAX_TITLE = 100;
/** How long to wait for an accepted upload to appear in the author's list. */
const APPEAR_WITHIN_MS = 60_000;

type State =
	| { step: "pick" }
	| { step: "sending"; sent: number; total: number }
	| { step: "checking" }
	| { step: "published"; video: Video | null; stillProcessing: boolean }
	| { step: "failed"; message: string; percent: number };

async function waitUntilListed(userId: number, token: string, videoId: number | undefined): Promise<{ video: Video | null; stillProcessing: boolean }> {
	const deadline = Date.now() + APPEAR_WITHIN_MS;
	for (let delay = 300; ; delay = Math.min(delay * 1.5, 2000)) {
		const { video_list } = await api.publishList(userId, token);
		const video = videoId === undefined ? (video_list[0] ?? null) : video_list.find(item => item.id === videoId);
		if (video) return { video, stillProcessing: false };
		if (Date.now() > deadline) return { video: null, stillProcessing: true };
		await new Promise(resolve => setTimeout(resolve, delay));
	}
}

export function Upload() {
	const current = useSession();
	const [file, setFile] = useState<File | null>(null);
	const [preview, setPreview] = useState<string | null>(null);
	const [title, setTitle] = useState("");
	const [state, setState] = useState<State>({ step: "pick" });
	const [dragging, setDragging] = useState(false);
	const [fieldError, setFieldError] = useState<string | null>(null);
	const handle = useRef<UploadHandle | null>(null);
	const picker = useRef<HTMLInputElement>(null);

	useEffect(() => () => handle.current?.abort(), []);
	useEffect(() => () => void (preview && URL.revokeObjectURL(preview)), [preview]);

	if (!current) return <LoginFirst icon={<Icon.Upload size={44} />} title="Log in to upload videos" />;

	const choose = (chosen: File | null | undefined) => {
		if (!chosen) return;
		setFile(chosen);
		setPreview(chosen.type.startsWith("video/") ? URL.createObjectURL(chosen) : null);
		setFieldError(null);
		if (!title) setTitle(chosen.name.replace(/\.[^.]+$/, "").replace(/[_-]+/g, " ").slice(0, MAX_TITLE));
	};

	const start = async (event: Event) => {
		event.preventDefault();
		if (!file) return setFieldError("Choose a video first.");
		if (!title.trim()) return setFieldError("Give your video a title.");
		setFieldError(null);
		setState({ step: "sending", sent: 0, total: file.size });
		const task = upload(current.token, title.trim(), file, (sent, total) =>
			setState(previous => (previous.step !== "sending" ? previous : sent >= total ? { step: "checking" } : { step: "sending", sent, total }))
		);
		handle.current = task;
		try {
			const videoId = await task.done;
			setState({ step: "checking" });
			resetFeed();
			const outcome = await waitUntilListed(current.userId, current.token, videoId);
			setState({ step: "published", ...outcome });
		} catch (err) {
			const message = err instanceof ApiError ? err.message : "The upload failed. Try again.";
			setState(previous => ({ step: "failed", message, percent: previous.step === "sending" ? Math.floor((previous.sent / Math.max(1, previous.total)) * 100) : 100 }));
		} finally {
			handle.current = null;
		}
	};

	const again = (keepFile: boolean) => {
		setState({ step: "pick" });
		if (!keepFile) {
			setFile(null);
			setPreview(null);
			setTitle("");
		}
	};

	const busy = state.step === "sending" || state.step === "checking";
	const percent =
		state.step === "sending" ? Math.floor((state.sent / Math.max(1, state.total)) * 100) : state.step === "failed" ? state.percent : state.step === "pick" ? 0 : 100;

	return (
		<div class="page upload">
			<h1 class="page-title">Upload a video</h1>
			<div class="upload-layout">
				<form class="card upload-form" onSubmit={start} noValidate>
					<div
						class={`dropzone${dragging ? " is-dragging" : ""}${file ? " has-file" : ""}`}
						onDragOver={event => {
							event.preventDefault();
							setDragging(true);
						}}
						onDragLeave={() => setDragging(false)}
						onDrop={event => {
							event.preventDefault();
							setDragging(false);
							if (!busy) choose(event.dataTransfer?.files[0]);
						}}
					>
						{preview ? (
							<video class="dropzone-preview" src={preview} muted playsInline loop autoPlay onError={() => setPreview(null)} />
						) : (
							<div class="dropzone-empty">
								{file ? <Icon.Film size={40} /> : <Icon.Upload size={40} />}
								<p>{file ? <strong>This browser cannot preview it</strong> : <><strong>Choose a video</strong> or drop it here</>}</p>
								<small>{file ? "MoleTok will check it when you post." : "MP4, MOV or WebM, up to 100 MB"}</small>
							</div>
						)}
						<input
							ref={picker}
							id="video-file"
							type="file"
							accept="video/*"
							class="visually-hidden"
							disabled={busy}
							onChange={event => choose(event.currentTarget.files?.[0])}
						/>
						<label for="video-file" class="btn btn-secondary">
							{file ? "Choose another" : "Choose a file"}
						</label>
						{file && (
							<p class="file-name">
								<Icon.Film size={16} /> {file.name} · {formatBytes(file.size)}
							</p>
						)}
					</div>
					<label class="field">
						<span>Title</span>
						<input name="title" value={title} maxLength={MAX_TITLE} disabled={busy} placeholder="What is it about?" onInput={event => setTitle(event.currentTarget.value)} />
						<small class="counter">
							{title.trim().length}/{MAX_TITLE}
						</small>
					</label>
					{fieldError && (
						<p class="form-error" role="alert">
							{fieldError}
						</p>
					)}

					{state.step !== "pick" && (
						<div class="upload-status" aria-live="polite">
							<div
								class={`progress-bar${state.step === "failed" ? " is-failed" : ""}${state.step === "published" ? " is-done" : ""}`}
								role="progressbar"
								aria-label="Upload progress"
								aria-valuemin={0}
								aria-valuemax={100}
								aria-valuenow={percent}
							>
								<span style={{ width: `${percent}%` }} />
							</div>
							{state.step === "sending" && (
								<p class="status-line">
									Uploading… <strong>{percent}%</strong> · {formatBytes(state.sent)} of {formatBytes(state.total)}
								</p>
							)}
							{state.step === "checking" && <p class="status-line">Uploaded. Checking your video…</p>}
							{state.step === "published" && (
								<div class="outcome outcome-ok" role="status">
									<Icon.Check size={22} />
									<div>
										<strong>{state.stillProcessing ? "Uploaded: still processing" : "Published!"}</strong>
										<p>{state.stillProcessing ? "It will appear in the feed in a moment." : "Your video is in the feed now."}</p>
									</div>
									{state.video && <img class="outcome-cover" src={state.video.cover_url} alt="" />}
								</div>
							)}
							{state.step === "failed" && (
								<div class="outcome outcome-error" role="alert">
									<Icon.Alert size={22} />
									<div>
										<strong>The upload did not go through</strong>
										<p class="outcome-reason">{state.message}</p>
									</div>
								</div>
							)}
						</div>
					)}

					<div class="form-actions">
						{state.step === "pick" && (
							<button type="submit" class="btn btn-primary btn-block">
								Post
							</button>
						)}
						{state.step === "sending" && (
							<button type="button" class="btn btn-secondary btn-block" onClick={() => handle.current?.abort()}>
								Cancel
							</button>
						)}
						{state.step === "published" && (
							<>
								<a class="btn btn-primary" href="/">
									Watch in the feed
								</a>
								<a class="btn btn-secondary" href={`/u/${current.userId}`}>
									My profile
								</a>
								<button type="button" class="btn btn-ghost" onClick={() => again(false)}>
									Upload another
								</button>
							</>
						)}
						{state.step === "failed" && (
							<>
								<button type="button" class="btn btn-primary" onClick={() => again(true)}>
									Try again
								</button>
								<button type="button" class="btn btn-ghost" onClick={() => again(false)}>
									Choose another file
								</button>
							</>
						)}
					</div>
				</form>
				<aside class="upload-tips">
					<h2>Tips</h2>
					<ul>
						<li>Vertical videos fill the screen best.</li>
						<li>The first frame becomes the cover.</li>
						<li>Short titles are read; long ones are cut at {MAX_TITLE} characters.</li>
					</ul>
				</aside>
			</div>
		</div>
	);
}
