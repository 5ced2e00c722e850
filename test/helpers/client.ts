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
