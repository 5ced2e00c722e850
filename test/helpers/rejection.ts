import type { Errors } from "moleculer";

/** The error a call rejects with; fails the test when it resolves. */
export function rejection(promise: Promise<unknown>): Promise<Errors.MoleculerError> {
	return promise.then(
		value => {
			throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
		},
		err => err as Errors.MoleculerError
	);
}
