/**
 * Broker middlewares for the house keys on action schemas.
 */
import type { ActionSchema, Context, Middleware, Service } from "moleculer";
import { unauthorized } from "./errors";
import type { AppMeta } from "./meta";
import type { AppActionSchema } from "./service";

/**
 * Enforces `auth: "required"` on every call, local or remote: the gateway resolves the
 * token into ctx.meta.userId, and an action that needs a user is refused without one.
 */
export const AuthMiddleware: Middleware = {
	name: "Auth",
	localAction(next: (ctx: Context) => Promise<unknown>, action: ActionSchema) {
		if ((action as AppActionSchema<Service>).auth !== "required") return next;
		return (ctx: Context<unknown, AppMeta>) => {
			if (!ctx.meta.userId) return Promise.reject(unauthorized("token is required: log in and send the token parameter"));
			return next(ctx);
		};
	}
};
