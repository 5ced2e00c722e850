/**
 * docs/openapi.json: a valid OpenAPI 3.1 document of exactly the gateway's routes, and the
 * checker the HTTP suites run every answer through (helpers/openapi.ts) really rejects what
 * the document does not allow.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { ROUTES } from "../../lib/http";
import { checkAnswer, OPENAPI_FILE, type OpenApiDocument } from "../helpers/openapi";

const doc = JSON.parse(fs.readFileSync(OPENAPI_FILE, "utf8")) as OpenApiDocument & { openapi: string };
const VALIDATOR = path.join(__dirname, "..", "..", "node_modules", "@seriousme", "openapi-schema-validator", "bin", "validate-api-cli.js");

const user = (id: number) => ({
	id,
	name: `user${id}`,
	follow_count: 0,
	follower_count: 1,
	is_follow: false,
	avatar: "",
	background_image: "",
	signature: "",
	total_favorited: 3,
	work_count: 1,
	favorite_count: 0
});
const video = {
	id: 7,
	author: user(1),
	play_url: "http://127.0.0.1:8080/media/videos/a.mp4",
	cover_url: "http://127.0.0.1:8080/media/covers/a.jpg",
	favorite_count: 3,
	comment_count: 0,
	is_favorite: true,
	title: "Bear"
};

test("it is a valid OpenAPI 3.1 document", () => {
	expect(doc.openapi).toBe("3.1.0");
	const run = spawnSync(process.execPath, [VALIDATOR, OPENAPI_FILE], { encoding: "utf8" });
	expect(JSON.parse(run.stdout)).toEqual({ valid: true });
	expect(run.status).toBe(0);
});

test("it documents exactly the gateway's routes (the camp's 16 and MoleTok's publish/status), with their methods", () => {
	const documented = Object.entries(doc.paths).flatMap(([pathname, operations]) => Object.keys(operations).map(method => `${method.toUpperCase()} ${pathname}`));
	const served = ROUTES.map(route => `${route.method} /douyin${route.path}/`);
	expect(documented).toHaveLength(17);
	expect(documented.sort()).toEqual(served.sort());
});

test("every answer is a success or an error with the envelope's codes", () => {
	const codes = (doc.components.schemas.ErrorCode as unknown as { enum: number[] }).enum;
	expect(codes).toEqual([400, 401, 403, 404, 405, 409, 413, 429, 500, 503]);
	for (const [pathname, operations] of Object.entries(doc.paths))
		for (const operation of Object.values(operations)) {
			const answer = operation.responses["200"].content["application/json"].schema.$ref.split("/").pop()!;
			const branches = doc.components.schemas[answer].oneOf?.map(branch => branch.$ref.split("/").pop());
			expect([pathname, branches?.length]).toEqual([pathname, 2]);
			const failure = doc.components.schemas[branches![1]!] as unknown as { properties: Record<string, { $ref?: string }> };
			expect([pathname, failure.properties.status_code.$ref]).toEqual([pathname, "#/components/schemas/ErrorCode"]);
		}
});

test("every operation shows a success and a failure example, and both match its schemas", () => {
	type Examples = Record<string, { value: { status_code: number } }>;
	for (const [pathname, operations] of Object.entries(doc.paths))
		for (const [method, operation] of Object.entries(operations)) {
			const examples = (operation.responses["200"].content["application/json"] as unknown as { examples: Examples }).examples;
			expect(Object.keys(examples)).toEqual(["success", "failure"]);
			expect(examples.success.value.status_code).toBe(0);
			expect(examples.failure.value.status_code).not.toBe(0);
			for (const example of Object.values(examples)) expect(() => checkAnswer(method.toUpperCase(), `http://h${pathname}`, example.value)).not.toThrow();
		}
});

describe("the checker", () => {
	test("accepts answers that match", () => {
		expect(() => checkAnswer("GET", "http://h/douyin/feed/?token=x", { status_code: 0, status_msg: "success", video_list: [video], next_time: 1 })).not.toThrow();
		expect(() => checkAnswer("GET", "http://h/douyin/feed", { status_code: 400, status_msg: "bad latest_time", video_list: [], next_time: 0 })).not.toThrow();
		expect(() =>
			checkAnswer("GET", "http://h/douyin/relation/friend/list/", { status_code: 0, status_msg: "success", user_list: [{ ...user(2), message: "hi", msgType: 1 }] })
		).not.toThrow();
		expect(() => checkAnswer("POST", "http://h/douyin/publish/action/", { status_code: 0, status_msg: "success", video_id: 3 })).not.toThrow();
		expect(() => checkAnswer("GET", "http://h/douyin/nope/", { status_code: 404, status_msg: "no such endpoint: GET /douyin/nope/" })).not.toThrow();
		expect(() =>
			checkAnswer("POST", "http://h/douyin/feed/", { status_code: 405, status_msg: "POST is not allowed on /douyin/feed/: use GET", video_list: [], next_time: 0 })
		).not.toThrow();
	});

	test.each<[string, string, string, object, RegExp]>([
		["an undocumented field", "GET", "/douyin/feed/", { status_code: 0, status_msg: "success", video_list: [], next_time: 1, debug: 1 }, /\(the answer\): field 'debug' is not in the document/],
		["a missing nested field", "GET", "/douyin/feed/", { status_code: 0, status_msg: "success", video_list: [{ ...video, title: undefined }], next_time: 1 }, /\/video_list\/0: field 'title' is missing/],
		["a wrong type", "GET", "/douyin/user/", { status_code: 0, status_msg: "success", user: { ...user(1), is_follow: "no" } }, /\/user\/is_follow must be boolean/],
		["an extra field in a User", "GET", "/douyin/relation/follow/list/", { status_code: 0, status_msg: "success", user_list: [{ ...user(1), message: "x" }] }, /\/user_list\/0: field 'message' is not in the document/],
		["a FriendUser without msgType", "GET", "/douyin/relation/friend/list/", { status_code: 0, status_msg: "success", user_list: [{ ...user(1), message: "x" }] }, /\/user_list\/0: field 'msgType' is missing/],
		["an error without the zero-valued fields", "POST", "/douyin/user/register/", { status_code: 409, status_msg: "taken" }, /field 'user_id' is missing[\s\S]*field 'token' is missing/],
		["an error with non-zero fields", "POST", "/douyin/user/login/", { status_code: 401, status_msg: "wrong", user_id: 3, token: "" }, /\/user_id must be equal to constant/],
		["a code outside the list", "POST", "/douyin/favorite/action/", { status_code: 422, status_msg: "bad" }, /\/status_code must be equal to one of the allowed values/],
		["an error without a message", "POST", "/douyin/favorite/action/", { status_code: 400, status_msg: "" }, /\/status_msg must NOT have fewer than 1 characters/],
		["a relative media URL", "GET", "/douyin/publish/list/", { status_code: 0, status_msg: "success", video_list: [{ ...video, play_url: "/media/a.mp4" }] }, /\/video_list\/0\/play_url/],
		["a comment date that is not mm-dd", "GET", "/douyin/comment/list/", { status_code: 0, status_msg: "success", comment_list: [{ id: 1, user: user(1), content: "hi", create_date: "2026-05-01" }] }, /\/comment_list\/0\/create_date must match pattern/],
		["an unknown route answering success", "GET", "/douyin/nope/", { status_code: 0, status_msg: "success" }, /a route the document does not know answers 404/],
		["a wrong method answering success", "GET", "/douyin/user/register/", { status_code: 0, status_msg: "success", user_id: 1, token: "t" }, /GET is not this route's method: 405/],
		["a wrong method without the route's zero fields", "GET", "/douyin/user/login/", { status_code: 405, status_msg: "use POST" }, /field 'user_id' is missing/]
	])("rejects %s, naming the request and the field", (_what, method, pathname, body, message) => {
		expect(() => checkAnswer(method, `http://h${pathname}`, body)).toThrow(message);
		expect(() => checkAnswer(method, `http://h${pathname}`, body)).toThrow(`answer of ${method} ${pathname} does not match docs/openapi.json`);
	});
});
