/** The fast path of the JSONExt serializer changes nothing JSONExt itself would give. */
import { Serializers } from "moleculer";
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
