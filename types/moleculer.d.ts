/**
 * MoleTok's own action keys, declared on Moleculer's ActionSchema (module augmentation, as
 * the Moleculer TypeScript template does), so every service schema is a plain
 * `ServiceSchema` and the keys are checked where they are written.
 */
import "moleculer";

// ActionSchema is a member of moleculer/src/service.d.ts's `export =` namespace (re-exported by
// "moleculer"): declarations at the top of this augmentation merge into that namespace.
declare module "moleculer/src/service" {
	interface ActionSchema<TThis = Service> {
			/**
			 * "required": the caller must be a logged-in user (ctx.meta.userId), enforced on every
			 * call by lib/middlewares.ts; "optional": a valid token personalises the answer, a bad
			 * one means anonymous. Absent: the action takes no token. The gateway reads it to
			 * resolve the request's token.
			 */
			auth?: "required" | "optional";
			/**
			 * The client's message when the action's bulkhead queue is full (503), e.g. "too many
			 * logins at once: try again in a moment"; without it, a generic one.
			 */
			busy?: string;
	}
}
