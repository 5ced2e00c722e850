/** What travels in ctx.meta between MoleTok services: the resolved user id, and how the gateway wants big answers. */
export interface AppMeta {
	/** The logged-in user of this request; absent for anonymous requests. */
	userId?: number;
	/** Set by the gateway: it only writes the answer out, so a service may answer with JsonText (lib/json-text). */
	$jsonText?: boolean;
}
