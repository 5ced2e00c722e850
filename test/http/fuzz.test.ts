/**
 * Fuzzing every /douyin route (issue 12): random and boundary values for every parameter,
 * in every place a parameter travels (query string, urlencoded, multipart, JSON body;
 * repeated, empty, absent, JSON values of every type), with right and wrong methods.
 * Every answer must be HTTP 200 with the JSON envelope, never a server error (status_code
 * 500/503), always with the fields its route owes; the server answers normally afterwards.
 * fast-check with a fixed seed: the same cases on every run.
 */
import fc from "fast-check";
import jwt from "jsonwebtoken";
import { ROUTES, type RouteSpec } from "../../lib/http";
import { Client } from "../helpers/client";
import { type System, TARGET, startSystem } from "../helpers/system";
import { FIXTURE_MP4, publishVideo } from "../helpers/videos";
import fs from "node:fs";

const SEED = 1_204_2026;
const RUNS = TARGET === "cluster" ? 800 : 2500;
/** The codes of the README's table a fuzzed request may get: every one but the server's own. */
const CLIENT_CODES = [0, 400, 401, 403, 404, 405, 409, 413, 429];

let system: System;
let client: Client;
const known = { userIds: [] as number[], tokens: [] as string[], usernames: [] as string[], videoIds: [] as number[], commentIds: [] as number[] };
const tally = new Map<number, number>();

beforeAll(async () => {
	system = await startSystem({
		// Limits on (their code path runs) but out of reach; a fuzzed upload is tried once.
		env: {
			RATE_LIMIT_LOGIN_USERNAME: "100000/1m",
			RATE_LIMIT_LOGIN_ADDRESS: "100000/1m",
			RATE_LIMIT_REGISTER_ADDRESS: "100000/1m",
			RATE_LIMIT_WRITES: "100000/1m",
			TRANSCODE_MAX_ATTEMPTS: "1"
		}
	});
	client = new Client(system.url);
	for (let i = 0; i < 2; i++) {
		const account = await client.register();
		known.userIds.push(account.id);
		known.tokens.push(account.token);
		known.usernames.push(account.username);
	}
	known.videoIds.push(await publishVideo(client, system.broker, known.tokens[0]));
	const posted = await client.post<{ comment: { id: number } }>("/comment/action/", { token: known.tokens[1], video_id: known.videoIds[0], action_type: 1, comment_text: "seed" });
	known.commentIds.push(posted.comment.id);
	known.tokens.push(
		jwt.sign({}, system.jwtSecret(), { subject: "987654321", expiresIn: 600 }),
		jwt.sign({ sub: String(known.userIds[0]), exp: 1_000_000 }, system.jwtSecret())
	);
});
afterAll(() => system.stop());

const BOUNDARY_NUMBERS = ["0", "-1", "1", "2", "3", "007", "9007199254740991", "9007199254740992", "1e1", " 12", "12 ", "0x10", "+5", "1.0", "1.5", "-0", "٣", "NaN", "Infinity", "99999999999999999999999"];
const NASTY_TEXT = ["a\u0000b", "\u0007", "line\r\nbreak", "tab\there", "\u0085", "\ud800", "😀".repeat(600), "测".repeat(1200), "x".repeat(70_000), " ", "%00", "{\"$gt\":\"\"}", "__proto__", "constructor", "../../etc/passwd"];

/** Numbers as text: boundaries, small and large ones, and the ids that exist (known once the system is seeded). */
const numberText = () =>
	fc.oneof(
		fc.constantFrom(...BOUNDARY_NUMBERS),
		fc.integer({ min: -5, max: 1_000_000 }).map(String),
		fc.constantFrom(...known.userIds, ...known.videoIds, ...known.commentIds).map(String)
	);
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: "binary", maxLength: 40 }), fc.constantFrom(...NASTY_TEXT), fc.constant(""));

/** A wire value for a parameter, by what the parameter is. */
function valueFor(name: string): fc.Arbitrary<string> {
	if (name === "token") return fc.oneof(fc.constantFrom("", "garbage", "a.b.c"), fc.constantFrom(...known.tokens), text);
	if (name === "username") return fc.oneof(text, fc.constantFrom(...known.usernames));
	if (/_id$|_type$|_time$/.test(name)) return fc.oneof({ weight: 4, arbitrary: numberText() }, { weight: 1, arbitrary: text });
	return text;
}

/** A JSON value for a parameter: its text, or any JSON type. */
const jsonOther = fc.oneof(
	fc.integer(),
	fc.double(),
	fc.boolean(),
	fc.constant(null),
	fc.constantFrom({ toString: 1 }, [1, 2], { $gt: "" }, [[[[]]]], {}),
	fc.json().map(text => JSON.parse(text) as unknown)
);

type Place = "query" | "body";
interface Case {
	route: RouteSpec;
	method: string;
	body: "none" | "form" | "multipart" | "json";
	params: { name: string; values: unknown[]; place: Place }[];
	file: "none" | "fixture" | "junk";
}

const cases = (): fc.Arbitrary<Case> =>
	fc
	.record({
		route: fc.oneof(
			...ROUTES.map(route => ({ weight: route.limit === "login" || route.limit === "register" || route.action === "upload" ? 1 : 3, arbitrary: fc.constant(route) }))
		),
		wrongMethod: fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS") }),
		body: fc.constantFrom("none", "form", "multipart", "json") as fc.Arbitrary<Case["body"]>,
		file: fc.oneof({ weight: 6, arbitrary: fc.constant("none" as const) }, { weight: 1, arbitrary: fc.constantFrom("fixture" as const, "junk" as const) })
	})
	.chain(({ route, wrongMethod, body, file }) => {
		const names = [...route.params, "token", "extra"];
		return fc
			.tuple(
				...names.map(name =>
					fc.record({
						present: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
						values: fc.array(body === "json" ? fc.oneof({ weight: 3, arbitrary: valueFor(name) as fc.Arbitrary<unknown> }, jsonOther) : valueFor(name), { minLength: 1, maxLength: 3 }),
						place: fc.constantFrom<Place>("query", "body")
					})
				)
			)
			.map(parts => ({
				route,
				method: wrongMethod ?? (route.action === "upload" ? "POST" : route.method),
				body: route.action === "upload" ? "multipart" : body,
				file,
				params: parts.flatMap((part, i) => (part.present ? [{ name: names[i], values: part.values, place: part.place }] : []))
			}));
	});

function asText(value: unknown): string {
	return typeof value === "string" ? value : JSON.stringify(value) ?? "";
}

async function send(c: Case): Promise<Response> {
	const query = new URLSearchParams();
	const bodyPairs: [string, unknown][] = [];
	for (const { name, values, place } of c.params)
		for (const value of values) {
			if (place === "query" || c.body === "none") query.append(name, asText(value));
			else bodyPairs.push([name, value]);
		}
	let body: RequestInit["body"];
	const headers: Record<string, string> = {};
	if (c.method !== "GET" && c.method !== "OPTIONS") {
		if (c.body === "form") body = new URLSearchParams(bodyPairs.map(([name, value]): [string, string] => [name, asText(value)]));
		else if (c.body === "multipart") {
			const form = new FormData();
			if (c.file !== "none") {
				const bytes = c.file === "fixture" ? fs.readFileSync(FIXTURE_MP4) : Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7919) % 256));
				form.append("data", new Blob([new Uint8Array(bytes)]), "v.mp4");
			}
			for (const [name, value] of bodyPairs) form.append(name, asText(value));
			body = form;
		} else if (c.body === "json") {
			headers["Content-Type"] = "application/json";
			body = JSON.stringify(Object.fromEntries(bodyPairs));
		}
	}
	const search = query.toString();
	return fetch(`${system.url}/douyin${c.route.path}/${search ? `?${search}` : ""}`, { method: c.method, headers, body });
}

test(`${RUNS} fuzzed requests over all 16 routes: never a server error, never a non-JSON answer, every owed field present`, async () => {
	await fc.assert(
		fc.asyncProperty(cases(), async c => {
			const res = await send(c);
			expect(res.status).toBe(200);
			expect(res.headers.get("content-type")).toMatch(/^application\/json/);
			const answer = (await res.json()) as Record<string, unknown> & { status_code: number; status_msg: string };
			tally.set(answer.status_code, (tally.get(answer.status_code) ?? 0) + 1);
			expect(CLIENT_CODES).toContain(answer.status_code);
			expect(typeof answer.status_msg).toBe("string");
			for (const [field, zero] of Object.entries(c.route.zero)) {
				expect(answer).toHaveProperty([field]);
				expect(Array.isArray(answer[field])).toBe(Array.isArray(zero));
				expect(typeof answer[field]).toBe(typeof zero);
			}
		}),
		{ seed: SEED, numRuns: RUNS, endOnFailure: true }
	);
	// Every kind of answer was reached, not just refusals.
	expect(tally.get(0)).toBeGreaterThan(RUNS / 50);
	expect(tally.get(400)).toBeGreaterThan(RUNS / 10);
	expect(tally.get(401)).toBeGreaterThan(RUNS / 50);
	expect(tally.get(404)).toBeGreaterThan(0);
	expect(tally.get(405)).toBeGreaterThan(0);

	// The server answers normally afterwards.
	expect(await client.get("/feed/")).toMatchObject({ status_code: 0, video_list: expect.arrayContaining([expect.objectContaining({ id: known.videoIds[0] })]) });
	expect(await client.get("/user/", { token: known.tokens[0] })).toMatchObject({ status_code: 0, user: { id: known.userIds[0] } });
}, 180_000);
