/**
 * The gateway's web route (lib/web-static.ts): the web client, /openapi.json and /docs/ from
 * the build (dist/web), with their caching, the app's paths answering index.html, and every
 * other miss left to the API's JSON envelope.
 */
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { Client } from "../helpers/client";
import { OPENAPI_FILE } from "../helpers/openapi";
import { startSystem, type System } from "../helpers/system";

const WEB_DIR = path.join(__dirname, "..", "..", "dist", "web");

let system: System;
let client: Client;

beforeAll(async () => {
	if (!fs.existsSync(path.join(WEB_DIR, "index.html"))) throw new Error("dist/web is missing: build the web client first (npm run build)");
	system = await startSystem();
	client = new Client(system.url);
});

afterAll(() => system?.stop());

/**
 * A request exactly as written: fetch would normalise the path, and it adds
 * `Cache-Control: no-cache` to a conditional request, which forbids a 304.
 */
function rawGet(base: string, target: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
	const { hostname, port } = new URL(base);
	return new Promise((resolve, reject) => {
		http
			.get({ hostname, port, path: target, headers }, res => {
				let body = "";
				res.setEncoding("utf8");
				res.on("data", chunk => (body += chunk));
				res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
			})
			.on("error", reject);
	});
}

describe("the web client", () => {
	test("/ is index.html, revalidated with its ETag", async () => {
		const res = await client.raw("/");
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
		expect(res.headers.get("cache-control")).toBe("no-cache");
		const etag = res.headers.get("etag");
		expect(etag).toMatch(/^W\/".+"$/);
		const html = await res.text();
		expect(html).toBe(fs.readFileSync(path.join(WEB_DIR, "index.html"), "utf8"));
		expect(html).toContain('<div id="app">');

		expect(await rawGet(system.url, "/", { "If-None-Match": etag! })).toEqual({ status: 304, body: "" });
		expect((await rawGet(system.url, "/", { "If-None-Match": 'W/"other"' })).status).toBe(200);
	});

	test("the app's content-hashed files are cached for a year as immutable", async () => {
		const html = await (await client.raw("/")).text();
		const scripts = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map(match => match[1]);
		expect(scripts.length).toBeGreaterThanOrEqual(2); // the app's script and its stylesheet
		for (const asset of scripts) {
			const res = await client.raw(asset);
			expect(res.status).toBe(200);
			expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
			expect(res.headers.get("content-type")).toMatch(asset.endsWith(".js") ? /^text\/javascript/ : /^text\/css/);
			expect(Buffer.from(await res.arrayBuffer()).equals(fs.readFileSync(path.join(WEB_DIR, asset)))).toBe(true);
		}
	});

	test("HEAD answers the headers without a body", async () => {
		const res = await client.raw("/", { method: "HEAD" });
		expect(res.status).toBe(200);
		expect(Number(res.headers.get("content-length"))).toBe(fs.statSync(path.join(WEB_DIR, "index.html")).size);
		expect(await res.text()).toBe("");
	});

	test.each(["/login", "/upload", "/inbox", "/u/12", "/chat/3", "/u/12/"])("the app's path %s opens the app", async appPath => {
		const res = await client.raw(appPath);
		expect(res.status).toBe(200);
		expect(res.headers.get("cache-control")).toBe("no-cache");
		expect(await res.text()).toBe(fs.readFileSync(path.join(WEB_DIR, "index.html"), "utf8"));
	});

	test.each(["/nope", "/u/abc", "/u/0", "/assets/nope.js", "/index.htm"])("%s is the API's JSON 404", async missing => {
		const res = await client.raw(missing);
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toMatch(/^application\/json/);
		expect(await res.json()).toEqual({ status_code: 404, status_msg: `no such endpoint: GET ${missing.replace(/\/$/, "")}/` });
	});

	test("/douyin and /media keep their own answers", async () => {
		expect(await (await client.raw("/douyin/nope/")).json()).toEqual({ status_code: 404, status_msg: "no such endpoint: GET /douyin/nope/" });
		expect(await (await client.raw("/douyin/user/register/")).json()).toMatchObject({
			status_code: 405,
			status_msg: "GET is not allowed on /douyin/user/register/: use POST"
		});
		expect(await (await client.raw("/douyin")).json()).toMatchObject({ status_code: 404 });
		const feed = await client.get("/feed/");
		expect(feed.status_code).toBe(0);
	});

	test("nothing outside the build is reachable", async () => {
		for (const target of ["/../package.json", "/%2e%2e/package.json", "/..%2fpackage.json", "/%2e%2e%2f.web-sources", "/.web-sources"]) {
			const res = await rawGet(system.url, target);
			expect(res.body).not.toContain('"name": "moletok"');
			expect(JSON.parse(res.body)).toMatchObject({ status_code: 404 });
		}
	});
});

describe("the API reference", () => {
	test("/openapi.json is docs/openapi.json, revalidated", async () => {
		const res = await client.raw("/openapi.json");
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
		expect(res.headers.get("cache-control")).toBe("no-cache");
		expect(await res.json()).toEqual(JSON.parse(fs.readFileSync(OPENAPI_FILE, "utf8")));
	});

	test("/docs/ is the reference page with Swagger UI served from here", async () => {
		const redirect = await client.raw("/docs", { redirect: "manual" });
		expect(redirect.status).toBe(301);
		expect(redirect.headers.get("location")).toBe("/docs/");

		const page = await client.raw("/docs/");
		expect(page.status).toBe(200);
		const html = await page.text();
		expect(html).toContain("<title>MoleTok API reference</title>");
		const local = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map(match => match[1]);
		expect(local).toEqual(expect.arrayContaining(["/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/docs.js", "/openapi.json"]));
		// No CDN: every script and stylesheet comes from this server.
		for (const url of local) {
			expect(url.startsWith("/")).toBe(true);
			expect((await client.raw(url)).status).toBe(200);
		}
		const bundle = await client.raw("/docs/swagger-ui-bundle.js");
		expect(bundle.headers.get("content-type")).toMatch(/^text\/javascript/);
		expect((await bundle.text()).length).toBeGreaterThan(100_000);
	});
});
