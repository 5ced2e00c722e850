/**
 * `defineService`: a ServiceSchema whose actions may carry the house keys (`auth`),
 * enforced by lib/middlewares.ts and the gateway. Moleculer 0.15's typings cannot be
 * augmented for them, so the schema is typed here once.
 */
import type { ActionHandler, ActionSchema, ServiceSchema } from "moleculer";

export type AuthMode = "required" | "optional";

export type AppActionSchema<TThis> = ActionSchema<TThis> & {
	/**
	 * "required": the caller must be a logged-in user (ctx.meta.userId);
	 * "optional": a valid token personalises the answer, a bad one means anonymous.
	 * Absent: the action takes no token.
	 */
	auth?: AuthMode;
	/**
	 * The client's message when the action's bulkhead queue is full (503), e.g. "too many
	 * logins at once: try again in a moment"; without it, a generic one.
	 */
	busy?: string;
};

export type AppServiceSchema<TSettings, TMethods, TThis> = Omit<ServiceSchema<TSettings, TMethods, TThis>, "actions"> & {
	actions?: Record<string, AppActionSchema<TThis> | ActionHandler<TThis>>;
};

export function defineService<TSettings, TMethods, TThis>(
	schema: AppServiceSchema<TSettings, TMethods, TThis>
): ServiceSchema<TSettings, TMethods, TThis> {
	return schema as ServiceSchema<TSettings, TMethods, TThis>;
}
