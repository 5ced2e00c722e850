/**
 * The OpenAPI document (docs/openapi.json) as a test oracle: every answer the HTTP suites
 * read goes through `checkAnswer`, so the document cannot drift from what the server says.
 *
 * The answer schema of an operation is `oneOf: [<X>Success, <X>Error]`; the check picks the
 * branch by `status_code` (0: success) so that a mismatch names the one field that is
 * wrong, not both branches. A documented path asked with another method must answer that
 * route's failure (405, with its zero-valued fields); a /douyin path the document does not
 * know, the plain error envelope with 404.
 */
import fs from "node:fs";
import path from "node:path";
import Ajv2020, { type ErrorObject, type ValidateFunction } from "ajv/dist/2020";
import addFormats from "ajv-formats";

export const OPENAPI_FILE = path.join(__dirname, "..", "..", "docs", "openapi.json");

interface Operation {
	responses: { "200": { content: { "application/json": { schema: { $ref: string } } } } };
}
export interface OpenApiDocument {
	paths: Record<string, Record<string, Operation>>;
	components: { schemas: Record<string, { oneOf?: { $ref: string }[] }> };
}

const SCHEMA_ID = "moletok-openapi";

let compiled: { doc: OpenApiDocument; validator: (name: string) => ValidateFunction } | null = null;

/** The document's schemas, compiled once per test file (Ajv for JSON Schema 2020-12, as OpenAPI 3.1 uses). */
function load() {
	if (compiled) return compiled;
	const doc = JSON.parse(fs.readFileSync(OPENAPI_FILE, "utf8")) as OpenApiDocument;
	const ajv = new Ajv2020({ allErrors: true, strict: true });
	addFormats(ajv);
	// The components as one schema resource, its refs pointing into it.
	const text = JSON.stringify(doc.components.schemas).replaceAll('"#/components/schemas/', `"${SCHEMA_ID}#/$defs/`);
	ajv.addSchema({ $id: SCHEMA_ID, $defs: JSON.parse(text) });
	const cache = new Map<string, ValidateFunction>();
	const validator = (name: string) => {
		let validate = cache.get(name);
		if (!validate) {
			validate = ajv.getSchema(`${SCHEMA_ID}#/$defs/${name}`);
			if (!validate) throw new Error(`docs/openapi.json has no schema ${name}`);
			cache.set(name, validate);
		}
		return validate;
	};
	compiled = { doc, validator };
	return compiled;
}

const schemaName = (ref: string) => ref.replace("#/components/schemas/", "");

/**
 * The operation of a request, by the document's path template (every path ends with a
 * slash): the one asked for, or, for another method on a documented path, that path's own
 * (`wrongMethod`).
 */
export function operationOf(method: string, url: string): { path: string; operation: Operation | undefined; wrongMethod: boolean } {
	const { doc } = load();
	const pathname = new URL(url, "http://x").pathname.replace(/\/*$/, "/");
	const item = doc.paths[pathname];
	const asked = item?.[method.toLowerCase()];
	return { path: pathname, operation: asked ?? (item && Object.values(item)[0]), wrongMethod: Boolean(item && !asked) };
}

function describe(error: ErrorObject): string {
	const where = error.instancePath || "(the answer)";
	switch (error.keyword) {
		case "required":
			return `${where}: field '${(error.params as { missingProperty: string }).missingProperty}' is missing`;
		case "additionalProperties":
			return `${where}: field '${(error.params as { additionalProperty: string }).additionalProperty}' is not in the document`;
		case "unevaluatedProperties":
			return `${where}: field '${(error.params as { unevaluatedProperty: string }).unevaluatedProperty}' is not in the document`;
		default:
			return `${where} ${error.message} (${JSON.stringify(error.params)})`;
	}
}

/**
 * Throws when `body`, the answer to `method url`, does not match the document; the message
 * names the request, the schema and every wrong field.
 */
export function checkAnswer(method: string, url: string, body: unknown): void {
	const { validator, doc } = load();
	const { path: pathname, operation, wrongMethod } = operationOf(method, url);
	const statusCode = (body as { status_code?: unknown })?.status_code;
	let name: string;
	if (operation) {
		const answer = schemaName(operation.responses["200"].content["application/json"].schema.$ref);
		const [success, failure] = doc.components.schemas[answer].oneOf ?? [];
		name = schemaName(statusCode === 0 && !wrongMethod ? success.$ref : failure.$ref);
	} else name = "ErrorEnvelope";
	const validate = validator(name);
	const problems = validate(body) ? [] : (validate.errors ?? []).map(describe);
	if (wrongMethod && statusCode !== 405) problems.push(`/status_code: ${String(statusCode)}, but ${method} is not this route's method: 405`);
	if (!operation && pathname.startsWith("/douyin/") && statusCode !== 404)
		problems.push(`/status_code: ${String(statusCode)}, but a route the document does not know answers 404`);
	if (problems.length > 0)
		throw new Error(
			`answer of ${method} ${pathname} does not match docs/openapi.json (${name}, status_code ${String(statusCode)}):\n  ${problems.join("\n  ")}\n  answer: ${JSON.stringify(body).slice(0, 500)}`
		);
}
