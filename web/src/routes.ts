/**
 * The app's screens. The gateway answers index.html for exactly these paths
 * (lib/web-static.ts APP_PATHS), so a reload or a shared link opens the right screen.
 */
export const PATHS = {
	feed: "/",
	login: "/login",
	upload: "/upload",
	inbox: "/inbox",
	profile: "/u/:id",
	chat: "/chat/:id"
} as const;
