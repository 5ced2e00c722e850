/**
 * The web client's build: web/ → dist/web, served by the gateway at / (lib/web-static.ts).
 * Vite bundles the app (Preact, TSX) into content-hashed files under assets/ (cached
 * forever); index.html stays unhashed (revalidated). The API reference goes beside it:
 * docs/openapi.json as /openapi.json and Swagger UI's prebuilt files (swagger-ui-dist) with
 * our page as /docs/, copied as they are, since they are already minified.
 */
import fs from "node:fs";
import path from "node:path";
import { defineConfig, type Plugin } from "vite";

const ROOT = path.resolve(__dirname, "..");
const SWAGGER_UI = path.dirname(require.resolve("swagger-ui-dist/package.json", { paths: [ROOT] }));

/** Emits the OpenAPI document and the reference page's files into the build. */
function apiReference(): Plugin {
	const files: Record<string, string> = {
		"openapi.json": path.join(ROOT, "docs", "openapi.json"),
		"docs/index.html": path.join(__dirname, "docs", "index.html"),
		"docs/docs.css": path.join(__dirname, "docs", "docs.css"),
		"docs/docs.js": path.join(__dirname, "docs", "docs.js"),
		"docs/swagger-ui.css": path.join(SWAGGER_UI, "swagger-ui.css"),
		"docs/swagger-ui-bundle.js": path.join(SWAGGER_UI, "swagger-ui-bundle.js")
	};
	return {
		name: "moletok-api-reference",
		buildStart() {
			for (const file of Object.values(files)) this.addWatchFile(file);
			// A document that is not JSON must fail the build, not the page.
			JSON.parse(fs.readFileSync(files["openapi.json"], "utf8"));
		},
		generateBundle() {
			for (const [fileName, source] of Object.entries(files)) this.emitFile({ type: "asset", fileName, source: fs.readFileSync(source) });
		}
	};
}

export default defineConfig({
	root: __dirname,
	base: "/",
	publicDir: path.join(__dirname, "public"),
	esbuild: { jsx: "automatic", jsxImportSource: "preact" },
	resolve: { alias: { react: "preact/compat", "react-dom": "preact/compat" } },
	build: {
		outDir: path.join(ROOT, "dist", "web"),
		emptyOutDir: true,
		target: "es2022",
		assetsDir: "assets",
		// The largest chunk is the app itself (about 20 kB gzipped); warn well above it.
		chunkSizeWarningLimit: 200,
		reportCompressedSize: false
	},
	// `npm run dev:web`: the client with hot reload, the API from a running MoleTok (npm start).
	// The proxy drops the browser's Origin: to MoleTok it is the page's own server calling.
	server: {
		proxy: Object.fromEntries(
			["/douyin", "/media", "/openapi.json"].map(prefix => [
				prefix,
				{ target: process.env.MOLETOK_URL ?? "http://127.0.0.1:8080", configure: proxy => proxy.on("proxyReq", request => request.removeHeader("origin")) }
			])
		)
	},
	plugins: [apiReference()],
	logLevel: "warn"
});
