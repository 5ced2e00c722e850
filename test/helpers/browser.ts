/**
 * A real browser for the web client's tests: Debian's Chromium (scripts/browser.sh install),
 * driven by playwright-core. Each person gets their own browser profile (a fresh
 * --user-data-dir), so two people are as separate as two phones. A missing Chromium fails
 * the suite; it is never skipped.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Where the run saves its screenshots (README: "Screenshots"); docs/screenshots holds a committed set. */
export const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR ?? path.join(__dirname, "..", "..", "dist", "screenshots");

const FLAGS = [
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--disable-dev-shm-usage",
	"--mute-audio"
];

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };

export interface Person {
	name: string;
	context: BrowserContext;
	page: Page;
	/** What the page wrote to its console as errors, and uncaught exceptions. */
	errors: string[];
	close(): Promise<void>;
}

export async function openBrowser(name: string, viewport: { width: number; height: number }): Promise<Person> {
	if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run \`bash scripts/browser.sh install\` (Debian's chromium package)`);
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), `moletok-browser-${name}-`));
	const context = await chromium.launchPersistentContext(profile, {
		executablePath: CHROMIUM,
		headless: true,
		args: FLAGS,
		viewport,
		deviceScaleFactor: 1,
		locale: "en-US",
		timezoneId: "UTC"
	});
	const page = context.pages()[0] ?? (await context.newPage());
	const errors: string[] = [];
	page.on("pageerror", err => errors.push(`uncaught: ${err.message}`));
	page.on("console", message => {
		if (message.type() === "error") errors.push(message.text());
	});
	return {
		name,
		context,
		page,
		errors,
		async close() {
			await context.close();
			fs.rmSync(profile, { recursive: true, force: true });
		}
	};
}

export async function screenshot(page: Page, name: string): Promise<void> {
	fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
	// Wait for the fonts and for animations to settle, so the picture shows the screen at rest.
	await page.evaluate(() => document.fonts.ready);
	await page.waitForTimeout(350);
	await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`) });
}
