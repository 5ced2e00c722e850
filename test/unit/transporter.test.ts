/** BatchedSendsMiddleware: what a transporter is handed, and when (the real NATS run is test/servers/transporter.test.ts). */
import { BatchedSendsMiddleware } from "../../lib/transporter";

type Send = (topic: string, data: Buffer, meta: object) => Promise<void>;
const wrap = (next: Send) => (BatchedSendsMiddleware as unknown as { transporterSend(next: Send): Send }).transporterSend(next);

test("the packets of one turn are handed over together, in order, after the turn", async () => {
	const handed: { topic: string; turn: number }[] = [];
	let turn = 0;
	const send = wrap(async topic => void handed.push({ topic, turn }));
	const sent = ["a", "b", "c"].map(topic => send(topic, Buffer.from(topic), {}));
	expect(handed).toEqual([]);
	turn = 1;
	await Promise.all(sent);
	expect(handed).toEqual(["a", "b", "c"].map(topic => ({ topic, turn: 1 })));
	turn = 2;
	await send("d", Buffer.from("d"), {});
	expect(handed.at(-1)).toEqual({ topic: "d", turn: 2 });
});

test("a packet the transporter refuses rejects its own send with that error, and only its own", async () => {
	const send = wrap((topic: string) => {
		if (topic === "too-big") throw new Error("MAX_PAYLOAD_EXCEEDED");
		return Promise.resolve();
	});
	const results = await Promise.allSettled([send("ok", Buffer.alloc(1), {}), send("too-big", Buffer.alloc(1), {}), send("ok", Buffer.alloc(1), {})]);
	expect(results.map(result => result.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
	expect((results[1] as PromiseRejectedResult).reason.message).toBe("MAX_PAYLOAD_EXCEEDED");
});
