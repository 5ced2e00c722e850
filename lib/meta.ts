/** What travels in ctx.meta between MoleTok services: the resolved user id. */
export interface AppMeta {
	/** The logged-in user of this request; absent for anonymous requests. */
	userId?: number;
}
