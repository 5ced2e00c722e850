/// <reference lib="dom" />
/**
 * The web client in a real browser (Debian's Chromium), against a whole MoleTok (embedded):
 * two people sign up, one uploads the test video and watches the progress bar, the other
 * watches it play, likes it, comments and follows; they become friends and chat, each
 * seeing the other's messages arrive without a reload; uploads the server refuses show its
 * reason. Screenshots of the main screens go to SCREENSHOT_DIR (README: "Screenshots").
 */
import crypto from "node:crypto";
import fs from "node:fs";
import jwt from "jsonwebtoken";
import type { Page } from "playwright-core";
import path from "node:path";
import { DESKTOP, openBrowser, PHONE, type Person, SCREENSHOT_DIR, screenshot } from "../helpers/browser";
import { Client } from "../helpers/client";
import { OPENAPI_FILE } from "../helpers/openapi";
import { until } from "../helpers/real-servers";
import { startSystem, type System } from "../helpers/system";
import { FIXTURE_MP4, uploadForm } from "../helpers/videos";

jest.setTimeout(60_000);

/** Small enough that a too-large upload is quick to make. */
const MAX_UPLOAD_BYTES = 400_000;

let system: System;
let client: Client;
let alice: Person;
let bob: Person;
const ids: { alice: number; bob: number; browserVideo: number; apiVideo: number } = { alice: 0, bob: 0, browserVideo: 0, apiVideo: 0 };

beforeAll(async () => {
	system = await startSystem({ env: { MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES) } });
	client = new Client(system.url);
	alice = await openBrowser("alice", PHONE);
	bob = await openBrowser("bob", DESKTOP);
}, 120_000);

afterAll(async () => {
	await alice?.close();
	await bob?.close();
	await system?.stop();
});

const url = (path: string) => `${system.url}${path}`;

async function sessionOf(page: Page): Promise<{ token: string; userId: number; username: string }> {
	return page.evaluate(() => JSON.parse(localStorage.getItem("moletok.session") ?? "null"));
}

async function signUp(person: Person, username: string): Promise<number> {
	const { page } = person;
	await page.goto(url("/login"));
	await page.getByRole("tab", { name: "Sign up" }).click();
	await page.getByLabel("Username").fill(username);
	await page.getByLabel("Password").fill("secret123");
	if (person === alice) await screenshot(page, "login-phone");
	await page.getByRole("button", { name: "Create account" }).click();
	await page.waitForURL(url("/"));
	const session = await sessionOf(page);
	expect(session).toMatchObject({ username, userId: expect.any(Number), token: expect.any(String) });
	return session.userId;
}

/** The <video> of the slide on screen. */
const activeVideo = (page: Page) => page.locator(".slide.is-active video");

/** Waits until the video on screen really plays: its time advances by more than `seconds`. */
async function playsFor(page: Page, seconds: number): Promise<void> {
	const start = await activeVideo(page).evaluate((video: HTMLVideoElement) => video.currentTime);
	await activeVideo(page).evaluate(
		(video: HTMLVideoElement, [from, span]) =>
			new Promise<void>(resolve => {
				const check = () => (!video.paused && video.currentTime > from + span ? resolve() : requestAnimationFrame(check));
				check();
			}),
		[start, seconds]
	);
}

/** Counts the requests a page makes to an API path from now on. */
function countRequests(page: Page, path: string): () => number {
	let count = 0;
	page.on("request", request => {
		if (new URL(request.url()).pathname.startsWith(path)) count++;
	});
	return () => count;
}

/** How the page shows the server's words: as a sentence (web/src/api.ts asSentence). */
const asSentence = (text: string) => text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?…]$/.test(text) ? "" : ".");

/** Waits for `count` answers to the chat's polling. */
async function nextPolls(page: Page, count: number): Promise<void> {
	for (let i = 0; i < count; i++) await page.waitForResponse(response => response.url().includes("/douyin/message/chat"));
}

describe("two people", () => {
	test("sign up in their own browsers", async () => {
		ids.alice = await signUp(alice, "alice");
		ids.bob = await signUp(bob, "bob");
		expect(ids.bob).not.toBe(ids.alice);
		expect(await alice.page.locator(".tabbar").getByRole("link", { name: "Me", exact: true }).count()).toBe(1);
		expect(await bob.page.locator(".sidebar .me-chip").innerText()).toBe("B\nbob");
	});

	test("alice uploads the test video, watches the progress bar reach the end, and finds it in the feed", async () => {
		// One earlier video, published through the API, so the feed has somewhere to move to.
		const earlier = await client.postMultipart<{ video_id: number }>("/publish/action/", uploadForm({ token: (await sessionOf(alice.page)).token, title: "An earlier bear" }));
		expect(earlier.status_code).toBe(0);
		ids.apiVideo = earlier.video_id;

		const { page } = alice;
		await page.goto(url("/upload"));
		await page.locator("#video-file").setInputFiles(FIXTURE_MP4);
		await page.getByLabel("Title").fill("Bear from the browser");
		// A slow uplink (6 KB/s for a 17 KB file) so the bar visibly moves; every value it shows is recorded.
		const cdp = await alice.context.newCDPSession(page);
		await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 6 * 1024 });
		await page.evaluate(() => {
			const seen: number[] = [];
			(window as unknown as { progressSeen: number[] }).progressSeen = seen;
			new MutationObserver(() => {
				const bar = document.querySelector('[role="progressbar"]');
				if (bar) seen.push(Number(bar.getAttribute("aria-valuenow")));
			}).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["aria-valuenow"] });
		});
		await page.getByRole("button", { name: "Post" }).click();
		await page.waitForFunction(() => {
			const value = Number(document.querySelector('[role="progressbar"]')?.getAttribute("aria-valuenow"));
			return value >= 25 && value < 100;
		});
		await screenshot(page, "upload-progress-phone");
		await page.getByText("Published!").waitFor({ timeout: 30_000 });
		await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });

		const seen = await page.evaluate(() => (window as unknown as { progressSeen: number[] }).progressSeen);
		expect(seen.some(value => value > 0 && value < 100)).toBe(true);
		expect(seen.at(-1)).toBe(100);
		expect(seen).toEqual([...seen].sort((a, b) => a - b)); // it only moves forward
		expect(await page.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("100");
		await screenshot(page, "upload-done-phone");

		const listed = await client.get<{ video_list: { id: number; title: string }[] }>("/publish/list/", { user_id: ids.alice });
		expect(listed.video_list.map(video => video.title)).toEqual(["Bear from the browser", "An earlier bear"]);
		ids.browserVideo = listed.video_list[0].id;

		await page.getByRole("link", { name: "Watch in the feed" }).click();
		await page.waitForURL(url("/"));
		const first = page.locator('.slide[data-index="0"]');
		await expect(first.getAttribute("data-video-id")).resolves.toBe(String(ids.browserVideo));
		expect(await first.locator(".caption-title").innerText()).toBe("Bear from the browser");
		await playsFor(page, 0.3);
		await screenshot(page, "feed-phone");
	});

	test("bob watches it play, moves through the feed with the keyboard and pauses with space", async () => {
		const { page } = bob;
		await page.goto(url("/"));
		await expect(page.locator(".slide.is-active").getAttribute("data-video-id")).resolves.toBe(String(ids.browserVideo));
		await playsFor(page, 0.5);
		expect(await activeVideo(page).evaluate((video: HTMLVideoElement) => ({ poster: video.poster, src: video.currentSrc }))).toEqual({
			poster: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/media\/.+\.jpg$/),
			src: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/media\/.+\.mp4$/)
		});
		await screenshot(page, "feed-desktop");

		await page.keyboard.press("ArrowDown");
		await page.locator(`.slide.is-active[data-video-id="${ids.apiVideo}"]`).waitFor();
		await playsFor(page, 0.3);
		// Only one video plays at a time.
		expect(await page.locator(`.slide[data-video-id="${ids.browserVideo}"] video`).evaluate((video: HTMLVideoElement) => video.paused)).toBe(true);

		await page.keyboard.press(" ");
		await page.getByRole("button", { name: "Play (Space)" }).waitFor();
		expect(await activeVideo(page).evaluate((video: HTMLVideoElement) => video.paused)).toBe(true);
		await page.keyboard.press(" ");
		await playsFor(page, 0.2);

		await page.keyboard.press("ArrowUp");
		await page.locator(`.slide.is-active[data-video-id="${ids.browserVideo}"]`).waitFor();
		await playsFor(page, 0.2);
	});

	test("bob likes it: the heart and the count change at once and stay after a reload", async () => {
		const { page } = bob;
		const like = page.locator(".slide.is-active .rail-btn").first();
		expect(await like.getAttribute("aria-pressed")).toBe("false");
		const stored = page.waitForResponse(response => response.url().includes("/douyin/favorite/action/"));
		await like.click();
		expect(await like.getAttribute("aria-pressed")).toBe("true");
		expect(await page.locator(".slide.is-active .like-count").innerText()).toBe("1");

		await stored;
		await page.reload();
		await page.locator(`.slide.is-active[data-video-id="${ids.browserVideo}"]`).waitFor();
		expect(await page.locator(".slide.is-active .rail-btn").first().getAttribute("aria-pressed")).toBe("true");
		expect(await page.locator(".slide.is-active .like-count").innerText()).toBe("1");
		const liked = await client.get<{ video_list: { id: number }[] }>("/favorite/list/", { user_id: ids.bob });
		expect(liked.video_list.map(video => video.id)).toEqual([ids.browserVideo]);

		// Unlike and like again with the keyboard (L): each shows at once and is what the server keeps.
		const unliked = page.waitForResponse(response => response.url().includes("/douyin/favorite/action/"));
		await page.keyboard.press("l");
		expect(await page.locator(".slide.is-active .rail-btn").first().getAttribute("aria-pressed")).toBe("false");
		expect(await page.locator(".slide.is-active .like-count").innerText()).toBe("0");
		await unliked;
		await page.reload();
		await page.locator(`.slide.is-active[data-video-id="${ids.browserVideo}"]`).waitFor();
		expect(await page.locator(".slide.is-active .like-count").innerText()).toBe("0");
		await page.keyboard.press("l");
		expect(await page.locator(".slide.is-active .like-count").innerText()).toBe("1");
		await until("the like to be stored", async () => {
			const again = await client.get<{ video_list: { id: number }[] }>("/favorite/list/", { user_id: ids.bob });
			return again.video_list.length === 1 || undefined;
		});
	});

	test("bob comments, sees his comment at once, and can delete only his own", async () => {
		const { page } = bob;
		await page.locator(".slide.is-active").getByRole("button", { name: /^Comments/ }).click();
		const sheet = page.getByRole("dialog", { name: "Comments" });
		await sheet.getByText("No comments yet").waitFor();
		await sheet.getByLabel("Your comment").fill("What a lovely bear");
		await sheet.getByLabel("Your comment").press("Enter");
		await sheet.locator(".comment-text", { hasText: "What a lovely bear" }).waitFor();
		expect(await sheet.locator(".comment").count()).toBe(1);
		expect(await sheet.getByRole("heading").innerText()).toBe("1 comment");
		expect(await sheet.getByRole("button", { name: "Delete my comment" }).count()).toBe(1);

		// A second one, deleted again (after a confirmation).
		await sheet.getByLabel("Your comment").fill("Oops, wrong video");
		await sheet.getByRole("button", { name: "Post" }).click();
		await sheet.locator(".comment-text", { hasText: "Oops, wrong video" }).waitFor();
		expect(await sheet.getByRole("heading").innerText()).toBe("2 comments");
		await sheet.locator(".comment", { hasText: "Oops, wrong video" }).getByRole("button", { name: "Delete my comment" }).click();
		await sheet.getByRole("button", { name: "Delete", exact: true }).click();
		await sheet.locator(".comment-text", { hasText: "Oops, wrong video" }).waitFor({ state: "detached" });
		expect(await sheet.locator(".comment-text").allInnerTexts()).toEqual(["What a lovely bear"]);
		expect(await sheet.getByRole("heading").innerText()).toBe("1 comment");
		await screenshot(page, "comments-desktop");
		await page.keyboard.press("Escape");
		await sheet.waitFor({ state: "detached" });
		expect(await page.locator(".slide.is-active .comment-count").innerText()).toBe("1");

		const listed = await client.get<{ comment_list: { content: string; user: { id: number } }[] }>("/comment/list/", { video_id: ids.browserVideo });
		expect(listed.comment_list).toEqual([expect.objectContaining({ content: "What a lovely bear", user: expect.objectContaining({ id: ids.bob }) })]);
	});

	test("bob follows the author from the feed, and it stays after a reload", async () => {
		const { page } = bob;
		const follow = page.locator(".slide.is-active .caption .pill");
		expect(await follow.innerText()).toBe("Follow");
		const stored = page.waitForResponse(response => response.url().includes("/douyin/relation/action/"));
		await follow.click();
		expect(await follow.innerText()).toBe("Following");
		await stored;
		await page.reload();
		await page.locator(`.slide.is-active[data-video-id="${ids.browserVideo}"]`).waitFor();
		expect(await page.locator(".slide.is-active .caption .pill").innerText()).toBe("Following");
		const following = await client.get<{ user_list: { id: number }[] }>("/relation/follow/list/", { user_id: ids.bob });
		expect(following.user_list.map(user => user.id)).toEqual([ids.alice]);
	});

	test("alice sees bob among her followers, follows back, and they are friends", async () => {
		const { page } = alice;
		await page.goto(url(`/u/${ids.alice}`));
		await page.getByRole("tab", { name: "Followers" }).click();
		await page.locator(".person", { hasText: "bob" }).waitFor();
		await page.goto(url(`/u/${ids.bob}`));
		await page.getByRole("button", { name: "Follow", exact: true }).click();
		await page.getByRole("link", { name: "Message" }).waitFor();
		expect(await page.locator(".profile-stats").innerText()).toContain("1 Follower");
		await screenshot(page, "profile-phone");

		await bob.page.goto(url(`/u/${ids.bob}`));
		await bob.page.getByRole("tab", { name: "Friends" }).click();
		await bob.page.locator(".person", { hasText: "alice" }).waitFor();
		await bob.page.getByRole("tab", { name: "Liked" }).click();
		await bob.page.locator(".grid-item").first().waitFor();
		await screenshot(bob.page, "profile-desktop");
	});

	test("they chat: each sees the other's message appear without a reload, once", async () => {
		await alice.page.goto(url("/inbox"));
		await alice.page.locator(".thread", { hasText: "bob" }).click();
		await alice.page.waitForURL(url(`/chat/${ids.bob}`));
		await bob.page.goto(url(`/chat/${ids.alice}`));
		await bob.page.getByText("Say hi to alice").waitFor();

		const reloads = { alice: 0, bob: 0 };
		alice.page.on("framenavigated", () => reloads.alice++);
		bob.page.on("framenavigated", () => reloads.bob++);
		const bobPolls = countRequests(bob.page, "/douyin/message/chat");
		const alicePolls = countRequests(alice.page, "/douyin/message/chat");

		await alice.page.getByLabel("Your message").fill("Hi Bob! Thanks for the like");
		await alice.page.getByLabel("Your message").press("Enter");
		await alice.page.locator(".bubble-row.mine .bubble", { hasText: "Hi Bob! Thanks for the like" }).waitFor();
		await bob.page.locator(".bubble-row:not(.mine) .bubble", { hasText: "Hi Bob! Thanks for the like" }).waitFor();

		await bob.page.getByLabel("Your message").fill("Hi Alice, great bear video!");
		await bob.page.getByRole("button", { name: "Send" }).click();
		await alice.page.locator(".bubble-row:not(.mine) .bubble", { hasText: "Hi Alice, great bear video!" }).waitFor();

		// Two more polls on both sides: still every message exactly once.
		const [a, b] = [alicePolls(), bobPolls()];
		await Promise.all([nextPolls(alice.page, 2), nextPolls(bob.page, 2)]);
		expect(alicePolls()).toBeGreaterThanOrEqual(a + 2);
		expect(bobPolls()).toBeGreaterThanOrEqual(b + 2);
		for (const person of [alice, bob]) {
			const texts = await person.page.locator(".bubble").allInnerTexts();
			expect(texts).toEqual(["Hi Bob! Thanks for the like", "Hi Alice, great bear video!"]);
		}
		expect(reloads).toEqual({ alice: 0, bob: 0 });
		await screenshot(alice.page, "chat-phone");
		await screenshot(bob.page, "chat-desktop");

		await alice.page.goto(url("/inbox"));
		expect(await alice.page.locator(".thread", { hasText: "bob" }).innerText()).toContain("Hi Alice, great bear video!");
		await screenshot(alice.page, "inbox-phone");
	});
});

describe("uploads the server refuses show its reason", () => {
	/** Uploads `bytes` as `name` from alice's browser and returns the reason the page shows. */
	async function refusedUpload(name: string, bytes: Buffer): Promise<string> {
		const { page } = alice;
		await page.goto(url("/upload"));
		await page.locator("#video-file").setInputFiles({ name, mimeType: "video/mp4", buffer: bytes });
		await page.getByLabel("Title").fill("Not what it seems");
		await page.getByRole("button", { name: "Post" }).click();
		const reason = page.locator(".outcome-error .outcome-reason");
		await reason.waitFor({ timeout: 30_000 });
		expect(await page.getByRole("progressbar").getAttribute("class")).toContain("is-failed");
		return reason.innerText();
	}

	test("too large: the server's limit, in words", async () => {
		const shown = await refusedUpload("huge.mp4", crypto.randomBytes(MAX_UPLOAD_BYTES + 50_000));
		expect(shown).toBe(`The video is larger than ${MAX_UPLOAD_BYTES} bytes.`);
		await screenshot(alice.page, "upload-error-phone");
		await alice.page.getByRole("button", { name: "Try again" }).waitFor();
	});

	test("not a video: the server's reason, in words", async () => {
		const text = Buffer.from("these are my shopping notes, not a video\n".repeat(20));
		const { token } = await sessionOf(alice.page);
		const direct = await client.postMultipart("/publish/action/", uploadForm({ token, title: "notes" }, text, "notes.mp4"));
		// The answer itself must refuse it (publish is read-your-writes), so the page can say why.
		expect(direct.status_code).toBe(400);
		// The words are the server's, the same for every upload of these bytes.
		expect(await refusedUpload("notes.mp4", text)).toBe(asSentence(String(direct.status_msg)));
	});
});

describe("sessions", () => {
	test("a refused token sends the person to log in again, saying why", async () => {
		const carol = await openBrowser("carol", PHONE);
		try {
			const forged = jwt.sign({ sub: String(ids.alice) }, crypto.randomBytes(32), { algorithm: "HS256", expiresIn: 3600 });
			await carol.page.goto(url("/login"));
			await carol.page.evaluate(token => localStorage.setItem("moletok.session", JSON.stringify({ token, userId: 1, username: "alice" })), forged);
			await carol.page.goto(url("/upload"));
			await carol.page.waitForURL(/\/login\?expired=1/);
			await carol.page.getByText("Your session has expired. Log in again to continue.").waitFor();
			expect(await sessionOf(carol.page)).toBeNull();
			await screenshot(carol.page, "session-expired-phone");
		} finally {
			await carol.close();
		}
	});

	test("wrong credentials are shown in the server's words", async () => {
		const { page } = bob;
		await page.goto(url(`/u/${ids.bob}`));
		await page.getByRole("button", { name: "Log out" }).click();
		await page.waitForURL(url("/"));
		expect(await sessionOf(page)).toBeNull();
		await page.goto(url("/login"));
		await page.getByLabel("Username").fill("bob");
		await page.getByLabel("Password").fill("not-his-password");
		await page.getByRole("button", { name: "Log in", exact: true }).click();
		await page.getByRole("alert").filter({ hasText: "Wrong username or password." }).waitFor();
		await screenshot(page, "login-error-desktop");
	});

	test("no page reported an error", () => {
		// Media requests cut short by moving through the feed are not errors of the app.
		expect([...alice.errors, ...bob.errors].filter(message => !/net::ERR_ABORTED/.test(message))).toEqual([]);
	});
});

test("the API reference renders every endpoint of docs/openapi.json from this server, no CDN", async () => {
	const { page } = bob;
	const documented = Object.values((JSON.parse(fs.readFileSync(OPENAPI_FILE, "utf8")) as { paths: Record<string, object> }).paths).flatMap(Object.keys).length;
	const foreign: string[] = [];
	page.on("request", request => {
		if (!request.url().startsWith(system.url)) foreign.push(request.url());
	});
	await page.goto(url("/docs/"));
	await page.locator(".opblock").nth(documented - 1).waitFor();
	expect(await page.locator(".opblock").count()).toBe(documented);
	expect(await page.locator(".opblock-summary-path").allInnerTexts()).toContain("/douyin/message/chat/");
	expect(foreign).toEqual([]);
	await screenshot(page, "api-reference-desktop");
});

describe("the feed", () => {
	test("pages with next_time, newest first, and says when there is nothing more", async () => {
		// 30 more videos: with alice's two, the feed has a full page of 30 and a second one.
		const { token } = await sessionOf(alice.page);
		const published = await Promise.all(Array.from({ length: 30 }, (_, i) => client.postMultipart("/publish/action/", uploadForm({ token, title: `Bear number ${i + 1}` }))));
		expect(published.map(answer => answer.status_code)).toEqual(Array(30).fill(0));
		// Publish may answer before a video is ready: wait until every one is listed.
		await until("32 videos in alice's list", async () => {
			const listed = await client.get<{ video_list: unknown[] }>("/publish/list/", { user_id: ids.alice });
			return listed.video_list.length === 32 || undefined;
		});
		const first = await client.get<{ video_list: { id: number }[]; next_time: number }>("/feed/");
		const second = await client.get<{ video_list: { id: number }[]; next_time: number }>("/feed/", { latest_time: first.next_time });
		const newestFirst = [...first.video_list, ...second.video_list].map(video => String(video.id));
		expect(newestFirst).toHaveLength(32);

		const { page } = bob;
		const asked: string[] = [];
		page.on("request", request => {
			const requested = new URL(request.url());
			if (requested.pathname === "/douyin/feed/") asked.push(requested.searchParams.get("latest_time") ?? "");
		});
		await page.goto(url("/"));
		await page.locator('.slide[data-index="29"]').waitFor({ state: "attached" });
		expect(await page.locator(".slide[data-video-id]").count()).toBe(30);
		expect(asked).toEqual([""]);

		// A swipe to the end of the first page loads the next one, from next_time.
		await page.locator(".deck").evaluate((deck: HTMLElement) => (deck.scrollTop = 28 * deck.clientHeight));
		await page.locator('.slide[data-index="31"]').waitFor({ state: "attached" });
		expect(asked.slice(0, 2)).toEqual(["", String(first.next_time)]);
		expect(await page.locator(".slide[data-video-id]").evaluateAll(slides => slides.map(slide => (slide as HTMLElement).dataset.videoId))).toEqual(newestFirst);

		await page.locator(".deck").evaluate((deck: HTMLElement) => (deck.scrollTop = deck.scrollHeight));
		await page.getByText("You're all caught up").waitFor();
		expect(asked).toEqual(["", String(first.next_time), String(second.next_time)]);
		// With the end on screen, no video plays.
		await page.waitForFunction(() => Array.from(document.querySelectorAll("video")).every(video => video.paused));
	});
});

test("the screenshots are there", () => {
	for (const name of ["login-phone", "feed-phone", "feed-desktop", "upload-progress-phone", "comments-desktop", "profile-phone", "chat-phone", "upload-error-phone"])
		expect(fs.existsSync(path.join(SCREENSHOT_DIR, `${name}.png`))).toBe(true);
});
