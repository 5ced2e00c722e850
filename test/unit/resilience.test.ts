/** The pieces of lib/resilience.ts that are MoleTok's own: the retry budget and the retry strategy. */
import { ServiceBroker } from "moleculer";
import { RetryBudget, RetryElsewhere } from "../../lib/resilience";

test("the retry budget allows a burst, then the refill rate, and nothing beyond", () => {
	const budget = new RetryBudget(10, 3);
	expect([budget.take(), budget.take(), budget.take(), budget.take()]).toEqual([true, true, true, false]);
});

test("a retry goes to another node than the one that failed; a first call and a lone node as round robin does", () => {
	const broker = new ServiceBroker({ logger: false });
	const strategy = new RetryElsewhere(broker.registry, broker);
	const endpoints = ["a", "b", "c"].map(id => ({ id })) as never[];
	const firsts = Array.from({ length: 6 }, () => (strategy.select(endpoints) as { id: string }).id);
	expect(new Set(firsts)).toEqual(new Set(["a", "b", "c"]));
	for (let i = 0; i < 12; i++) {
		const retry = { _retryAttempts: 1, nodeID: "b" } as never;
		expect((strategy.select(endpoints, retry) as { id: string }).id).not.toBe("b");
	}
	expect((strategy.select([{ id: "b" }] as never[], { _retryAttempts: 1, nodeID: "b" } as never) as { id: string }).id).toBe("b");
});
