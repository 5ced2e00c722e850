/**
 * A broker middleware that records every call (`call` hook: every broker.call and
 * ctx.call, before balancing) and every action run (`localAction` hook), each with the
 * requestID of its request tree. An HTTP request sent with an `X-Request-ID` header
 * (moleculer-web uses it as the root requestID) can then be measured on its own,
 * whatever timers and background workers do meanwhile.
 */
import type { ActionSchema, CallingOptions, Context } from "moleculer";

export interface CallRecord {
	hook: "call" | "localAction";
	action: string;
	requestID: string | null;
}

/** broker.call takes an action name or, from moleculer-web, an already resolved endpoint. */
type CallTarget = string | { action?: { name?: string }; name?: string };

function actionNameOf(target: CallTarget): string {
	return typeof target === "string" ? target : String(target.action?.name ?? target.name);
}

export class CallCounter {
	readonly records: CallRecord[] = [];

	/** Pass in startSystem({ middlewares: [counter.middleware] }). */
	readonly middleware = {
		name: "CallCounter",
		call: (next: (target: CallTarget, params: unknown, opts?: CallingOptions) => Promise<unknown>) => {
			return (target: CallTarget, params: unknown, opts?: CallingOptions) => {
				const requestID = opts?.parentCtx?.requestID ?? opts?.requestID ?? null;
				this.records.push({ hook: "call", action: actionNameOf(target), requestID });
				return next(target, params, opts);
			};
		},
		localAction: (next: (ctx: Context) => Promise<unknown>, action: ActionSchema) => {
			return (ctx: Context) => {
				this.records.push({ hook: "localAction", action: String(action.name), requestID: ctx.requestID ?? null });
				return next(ctx);
			};
		}
	};

	/** The records of one request tree. */
	of(requestID: string, hook?: CallRecord["hook"]): CallRecord[] {
		return this.records.filter(record => record.requestID === requestID && (!hook || record.hook === hook));
	}

	/** How many times each action was called within one request tree, e.g. { "users.getMany": 1 }. */
	tally(requestID: string, hook: CallRecord["hook"] = "call"): Record<string, number> {
		const tally: Record<string, number> = {};
		for (const record of this.of(requestID, hook)) tally[record.action] = (tally[record.action] ?? 0) + 1;
		return tally;
	}
}
