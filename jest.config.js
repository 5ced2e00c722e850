/** Two projects: `unit` needs no external server; `servers` needs the real ones (scripts/servers.sh). */
const transform = { "^.+\\.ts$": ["@swc/jest"] };
const common = { testEnvironment: "node", transform, moduleFileExtensions: ["ts", "js", "json"] };
module.exports = {
	projects: [
		{ ...common, displayName: "unit", testMatch: ["<rootDir>/test/{unit,http}/**/*.test.ts"] },
		{ ...common, displayName: "servers", testMatch: ["<rootDir>/test/servers/**/*.test.ts"] }
	]
};
