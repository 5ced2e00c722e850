/**
 * What a client sees when the server side fails: always HTTP 200 with the envelope, a
 * generic message for internal errors (no stack, no internal text), and a "try again"
 * for a service that is down.
 */
import { Client } from "../helpers/client";
import { ALL_SERVICES, type System, startSystem } from "../helpers/system";

let system: System;
let client: Client;

beforeAll(async () => {
	// A comments service that breaks in the worst way: a bare Error with internal details.
	const broken = {
		name: "comments",
		actions: {
			list() {
				throw new Error("connection to 10.0.0.7:27017 lost; password=hunter2");
			},
			videoFacts: () => ({})
		}
	};
	system = await startSystem({ services: ALL_SERVICES.filter(name => name !== "comments"), extraServices: [broken] });
	client = new Client(system.url);
});
afterAll(() => system.stop());

test("an internal error is an envelope with a generic message", async () => {
	const body = await client.get("/comment/list/", { video_id: 1 });
	expect(body).toEqual({ status_code: 500, status_msg: "internal error: try again later", comment_list: [] });
});

test("a service that is down answers 'try again', not an error page", async () => {
	await system.broker.destroyService(system.broker.getLocalService("messages")!);
	const { token } = await client.register();
	const body = await client.get("/message/chat/", { token, to_user_id: 1 });
	expect(body).toEqual({ status_code: 503, status_msg: "the service is temporarily unavailable: try again shortly", message_list: [] });
});

test.each([
	["a malformed JSON body", { "Content-Type": "application/json" }, "{not json"],
	["a malformed multipart body", { "Content-Type": "multipart/form-data; boundary=x" }, "--x\r\nContent-Disposition: form-data\r\n\r\nbroken"],
	["a multipart body without a boundary", { "Content-Type": "multipart/form-data" }, "whatever"]
])("%s gets the envelope", async (_name, headers, body) => {
	const res = await fetch(`${system.url}/douyin/user/login/`, { method: "POST", headers, body });
	expect(res.status).toBe(200);
	const envelope = (await res.json()) as { status_code: number; status_msg: string };
	expect(envelope.status_code).toBe(400);
	expect(envelope.status_msg).toMatch(/malformed/);
});

test("a body larger than the parsers take gets the envelope", async () => {
	const res = await fetch(`${system.url}/douyin/user/login/`, {
		method: "POST",
		headers: { "Content-Type": "application/x-www-form-urlencoded" },
		body: `username=${"x".repeat(200 * 1024)}`
	});
	expect(res.status).toBe(200);
	expect(await res.json()).toEqual({ status_code: 413, status_msg: "request body is too large", user_id: 0, token: "" });
});
