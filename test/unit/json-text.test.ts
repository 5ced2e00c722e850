/** The gateway's encoding of answers that hold ready JSON bytes. */
import { encodeAnswer, jsonArray, jsonBytes } from "../../lib/json-text";

const videos = [{ id: 1, title: "熊猫" }, { id: 2, title: 'say "hi"' }];

test.each([
	["first", (list: unknown) => ({ video_list: list, status_code: 0, next_time: 9 })],
	["in the middle", (list: unknown) => ({ status_code: 0, video_list: list, next_time: 9 })],
	["last", (list: unknown) => ({ status_code: 0, status_msg: "success", video_list: list })],
	["alone", (list: unknown) => ({ video_list: list })]
])("an answer with the JSON bytes %s reads as the same answer with objects", (_where, answer) => {
	const encoded = encodeAnswer({ ...answer(jsonArray(videos.map(jsonBytes))), skipped: undefined });
	expect(Buffer.isBuffer(encoded)).toBe(true);
	expect(encoded.toString()).toBe(JSON.stringify(answer(videos)));
});

test("an empty list and answers without JSON bytes", () => {
	expect(encodeAnswer({ video_list: jsonArray([]) }).toString()).toBe('{"video_list":[]}');
	expect(encodeAnswer({ status_code: 0, user: { id: 1 } })).toBe('{"status_code":0,"user":{"id":1}}');
	expect(encodeAnswer([1, 2])).toBe("[1,2]");
});
