/**
 * Broker middlewares for the house keys on action schemas.
 */
import type { Context, Middleware } from "moleculer";
import type MoleculerService = require("moleculer/src/service");

/**
 * Moleculer's ActionSchema with MoleTok's keys (types/moleculer.d.ts). The augmentation merges
 * into the declaration in moleculer/src/service.d.ts, which service schemas use; the copy
 * "moleculer" re-exports through its `export =` namespace does not see it, so code that reads
 * the keys of a definition (middlewares, the gateway's req.$action) types it with this one.
 */
export type ActionSchema = MoleculerService.ActionSchema;
import { unauthorized } from "./errors";
import type { AppMeta } from "./meta";

/**
 * Enforces `auth: "required"` on every call, local or remote: the gateway resolves the
 * token into ctx.meta.userId, and an action that needs a user is refused without one.
 */
export const AuthMiddleware: Middleware = {
	name: "Auth",
	localAction(next: (ctx: Context) => Promise<unknown>, action: ActionSchema) {
		if (action.auth !== "required") return next;
		return (ctx: Context<unknown, AppMeta>) => {
			if (!ctx.meta.userId) return Promise.reject(unauthorized("token is required: log in and send the token parameter"));
			return next(ctx);
		};
	}
};
