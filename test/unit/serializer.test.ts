/** The fast path of the JSONExt serializer changes nothing JSONExt itself would give. */
import { Serializers } from "moleculer";
import { type JsonText, jsonArray, jsonBytes } from "../../lib/json-text";
import { FastJSONExtSerializer } from "../../lib/serializer";

const fast = new FastJSONExtSerializer();
const plain = new Serializers.JSONExt();

test.each([
	["plain JSON", { video_list: [{ id: 1, title: "Bear", author: { name: "alice", is_follow: false } }], next_time: 1 }],
	["a Buffer (stream chunk)", { chunk: Buffer.from([0, 1, 2, 255]) }],
	["a Date", { at: new Date(1795239583395) }],
	["a string that starts with [[", { content: "[[not a marker]]", title: "[[BF]]AAAA" }],
	["a string with [[ inside", { content: 'say "[[hi" please' }],
	["a marker-like string deep in an array", { pages: [[{ title: "ok" }, { title: "[[x" }]] }],
	["undefined and null values", { a: undefined, b: null, list: [1, null] }],
	["a Map and a Set", { m: new Map([["a", 1]]), s: new Set([1, 2]) }],
	["a BigInt", { n: BigInt(2) ** BigInt(70) }],
	["a class instance", { when: new (class At { at = 1 })() }],
	["an object without prototype", { bare: Object.assign(Object.create(null), { x: 1 }) }]
])("%s round-trips exactly as with JSONExt", (_name, value) => {
	const wire = plain.serialize(value as never);
	expect(fast.serialize(value as never)).toEqual(wire);
	expect(fast.deserialize(wire)).toEqual(plain.deserialize(wire));
	expect(fast.deserialize(wire)).toEqual(value);
});

describe("a response carrying ready JSON bytes (JsonText)", () => {
	const list = [{ id: 1, title: "熊猫 \"quoted\" \\ back" }, { id: 2, title: "[[not a marker" }];
	const response = (data: unknown) => ({ ver: "5", sender: "videos-1", id: "r1", success: true, data, meta: { userId: 7, $jsonText: true } });

	test("its bytes cross as they are, after the packet, and come back as a Buffer", () => {
		const bytes = jsonArray(list.map(jsonBytes)).$jsonText;
		const wire = fast.serialize(response({ video_list: { $jsonText: bytes }, next_time: 5 }) as never);
		expect(wire[0]).toBe(0);
		expect(wire.subarray(wire.length - bytes.length).equals(bytes)).toBe(true);
		const back = fast.deserialize(wire) as ReturnType<typeof response>;
		expect(back).toEqual(response({ video_list: { $jsonText: bytes }, next_time: 5 }));
		expect(JSON.parse((back.data as { video_list: JsonText }).video_list.$jsonText.toString())).toEqual(list);
	});

	test("several of them keep their order, beside values JSONExt encodes", () => {
		const data = { a: { $jsonText: Buffer.from("[1]") }, at: new Date(1795239583395), b: { $jsonText: Buffer.from('{"x":"é"}') }, c: 3 };
		expect(fast.deserialize(fast.serialize(response(data) as never))).toEqual(response(data));
	});

	test("a Buffer that is the data itself (a stream chunk) is not framed", () => {
		const chunk = { ...response(Buffer.from("[1]")), stream: true, seq: 1 };
		const wire = fast.serialize(chunk as never);
		expect(wire).toEqual(plain.serialize(chunk as never));
		expect(fast.deserialize(wire)).toEqual(chunk);
	});
});
