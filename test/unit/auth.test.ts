/**
 * Tokens: signed, verified, refused once expired, even when they were verified (and so
 * remembered) before; a forged or foreign token is never accepted, nor one our secret signed
 * without an exp or with a user id spelled any other way than the canonical one.
 */
import jwt from "jsonwebtoken";
import { TokenSigner } from "../../lib/auth";

const SECRET = "unit-test-secret-that-is-long-enough";

test("a token resolves to its user, again and again", () => {
	const signer = new TokenSigner(SECRET, 60);
	const token = signer.sign(42);
	expect(signer.verify(token)).toEqual({ userId: 42 });
	expect(signer.verify(token)).toEqual({ userId: 42 });
});

test("a remembered token is refused once it expires", async () => {
	const signer = new TokenSigner(SECRET, 1);
	const token = signer.sign(7);
	expect(signer.verify(token)).toEqual({ userId: 7 });
	const { exp } = jwt.decode(token) as { exp: number };
	await new Promise(resolve => setTimeout(resolve, exp * 1000 - Date.now() + 50));
	expect(signer.verify(token)).toEqual({ error: "expired" });
	expect(signer.verify(token)).toEqual({ error: "expired" });
});

test("a token signed with another secret, or tampered with, is invalid", () => {
	const signer = new TokenSigner(SECRET, 60);
	const foreign = new TokenSigner("another-secret-entirely-0123456789", 60).sign(1);
	expect(signer.verify(foreign)).toEqual({ error: "invalid" });
	const [head, body, signature] = signer.sign(1).split(".");
	const claims = JSON.parse(Buffer.from(body, "base64url").toString());
	const forged = `${head}.${Buffer.from(JSON.stringify({ ...claims, sub: "2" })).toString("base64url")}.${signature}`;
	expect(signer.verify(forged)).toEqual({ error: "invalid" });
	expect(signer.verify("not-a-token")).toEqual({ error: "invalid" });
});

describe("only what sign makes is accepted", () => {
	const signer = new TokenSigner(SECRET, 60);
	const key = Buffer.from(SECRET, "utf8");
	const exp = () => Math.floor(Date.now() / 1000) + 60;

	test("a validly signed token without exp is invalid, every time", () => {
		const forever = jwt.sign({ sub: "1" }, key, { algorithm: "HS256" });
		expect(signer.verify(forever)).toEqual({ error: "invalid" });
		expect(signer.verify(forever)).toEqual({ error: "invalid" });
	});

	test.each(["1e1", "010", "+10", " 10", "10 ", "10.0", "0x0a", "0", "-10", "", "9007199254740993", "1_0", "١٠"])(
		"a validly signed token with sub %j is invalid",
		sub => {
			const token = jwt.sign({ sub, exp: exp() }, key, { algorithm: "HS256" });
			expect(signer.verify(token)).toEqual({ error: "invalid" });
			expect(signer.verify(token)).toEqual({ error: "invalid" });
		}
	);

	test("a sub that is a number, not a string, is invalid", () => {
		expect(signer.verify(jwt.sign({ sub: 10, exp: exp() }, key, { algorithm: "HS256" }))).toEqual({ error: "invalid" });
	});

	test("the canonical spelling is accepted, and the remembered answer stays right for its neighbours", () => {
		const canonical = jwt.sign({ sub: "10", exp: exp() }, key, { algorithm: "HS256" });
		expect(signer.verify(canonical)).toEqual({ userId: 10 });
		expect(signer.verify(jwt.sign({ sub: "010", exp: exp() }, key, { algorithm: "HS256" }))).toEqual({ error: "invalid" });
		expect(signer.verify(jwt.sign({ sub: "10" }, key, { algorithm: "HS256" }))).toEqual({ error: "invalid" });
		expect(signer.verify(canonical)).toEqual({ userId: 10 });
		const largest = jwt.sign({ sub: "9007199254740991", exp: exp() }, key, { algorithm: "HS256" });
		expect(signer.verify(largest)).toEqual({ userId: Number.MAX_SAFE_INTEGER });
	});
});
