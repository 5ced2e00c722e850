/**
 * `unit`: everything that needs no external server (embedded mode, in-process).
 * `browser`: the web client in Debian's Chromium (scripts/browser.sh), against an embedded system.
 * `servers`: the real-server suites, plus the HTTP suites again with every service as its
 * own process over NATS, FerretDB, Redis and MinIO (test/helpers/system.ts, target cluster).
 */
const transform = { "^.+\\.ts$": ["@swc/jest"] };
const common = { testEnvironment: "node", transform, moduleFileExtensions: ["ts", "js", "json"] };
/** HTTP suites that need the embedded target (in-process middlewares, their own processes). */
const EMBEDDED_ONLY = ["call-count", "transcoder", "errors"];
module.exports = {
	projects: [
		{ ...common, displayName: "unit", testMatch: ["<rootDir>/test/{unit,http}/**/*.test.ts"] },
		{ ...common, displayName: "browser", testMatch: ["<rootDir>/test/browser/**/*.test.ts"] },
		{
			...common,
			displayName: "servers",
			setupFilesAfterEnv: ["<rootDir>/test/helpers/cluster-target.ts"],
			testMatch: ["<rootDir>/test/servers/**/*.test.ts", "<rootDir>/test/http/**/*.test.ts"],
			testPathIgnorePatterns: EMBEDDED_ONLY.map(name => `/test/http/${name}\\.test\\.ts$`)
		}
	]
};
