/**
 * A small client that drives the API the way the camp's APK does: parameters in the
 * query string, answers checked against the envelope and against the OpenAPI document
 * (docs/openapi.json, helpers/openapi.ts), so the document cannot drift from the server.
 */
import { checkAnswer } from "./openapi";

export interface Envelope {
	status_code: number;
	status_msg?: string;
	[field: string]: unknown;
}

export type Params = Record<string, string | number | undefined>;

export type Pairs = [string, string][];

export interface SendOptions {
	query?: Pairs;
	form?: Pairs;
	multipart?: Pairs;
	/** A JSON body: a value to stringify, or the exact text. */
	json?: unknown;
	headers?: Record<string, string>;
}

function query(params: Params): string {
	const search = new URLSearchParams();
	for (const [key, value] of Object.entries(params)) if (value !== undefined) search.set(key, String(value));
	const text = search.toString();
	return text ? `?${text}` : "";
}

export class Client {
	constructor(readonly base: string) {}

	async get<T = Envelope>(path: string, params: Params = {}): Promise<T & Envelope> {
		return this.read("GET", await fetch(`${this.base}/douyin${path}${query(params)}`));
	}

	/** POST with the parameters in the query string and an empty body, as the APK does. */
	async post<T = Envelope>(path: string, params: Params = {}): Promise<T & Envelope> {
		return this.read("POST", await fetch(`${this.base}/douyin${path}${query(params)}`, { method: "POST" }));
	}

	/** POST with the parameters as an urlencoded body. */
	async postForm<T = Envelope>(path: string, params: Params): Promise<T & Envelope> {
		const body = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)] as [string, string]));
		return this.read("POST", await fetch(`${this.base}/douyin${path}`, { method: "POST", body }));
	}

	/** POST with the parameters as a multipart/form-data body. */
	async postMultipart<T = Envelope>(path: string, form: FormData, params: Params = {}): Promise<T & Envelope> {
		return this.read("POST", await fetch(`${this.base}/douyin${path}${query(params)}`, { method: "POST", body: form }));
	}

	/**
	 * Any request to a /douyin route, parameters wherever a client may put them: `query` and
	 * `form` / `multipart` as name-value pairs (repeat a name to repeat the parameter), `json`
	 * as the body itself. Checks the envelope like every other call.
	 */
	async send<T = Envelope>(method: string, path: string, options: SendOptions = {}): Promise<T & Envelope> {
		const search = new URLSearchParams(options.query ?? []).toString();
		const headers: Record<string, string> = { ...options.headers };
		let body: RequestInit["body"];
		if (options.form) body = new URLSearchParams(options.form);
		else if (options.multipart) {
			const form = new FormData();
			for (const [name, value] of options.multipart) form.append(name, value);
			body = form;
		} else if (options.json !== undefined) {
			headers["Content-Type"] = "application/json";
			body = typeof options.json === "string" ? options.json : JSON.stringify(options.json);
		}
		return this.read(method, await fetch(`${this.base}/douyin${path}${search ? `?${search}` : ""}`, { method, headers, body }));
	}


	/** Any request; a JSON answer of a /douyin route is checked against the document too. */
	async raw(path: string, init?: RequestInit): Promise<Response> {
		const res = await fetch(`${this.base}${path}`, init);
		if (path.startsWith("/douyin") && /^application\/json/.test(res.headers.get("content-type") ?? ""))
			checkAnswer(init?.method ?? "GET", res.url, await res.clone().json());
		return res;
	}

	private async read<T>(method: string, res: Response): Promise<T & Envelope> {
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toMatch(/^application\/json/);
		const body = (await res.json()) as T & Envelope;
		expect(typeof body.status_code).toBe("number");
		checkAnswer(method, res.url, body);
		return body;
	}

	/** Registers a fresh user; returns its id and token. */
	async register(username = `u${Math.random().toString(36).slice(2, 10)}`, password = "secret123") {
		const body = await this.post<{ user_id: number; token: string }>("/user/register/", { username, password });
		expect(body).toMatchObject({ status_code: 0 });
		return { id: body.user_id, token: body.token, username, password };
	}
}

/**
 * The status code that goes with an error message (README, "Status codes"): failure tables
 * that name the message a client must see also pin its code by it.
 */
export function codeOf(message: RegExp | string): number {
	const text = typeof message === "string" ? message : message.source;
	if (/token is|token has|wrong username|log in again/.test(text)) return 401;
	if (/not yours|not allowed to/.test(text)) return 403;
	if (/does not exist|no such endpoint/.test(text)) return 404;
	if (/use (GET|POST)/.test(text)) return 405;
	if (/already taken/.test(text)) return 409;
	if (/too large|larger than/.test(text)) return 413;
	if (/try again in/.test(text)) return 429;
	return 400;
}
