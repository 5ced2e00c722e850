/**
 * Tokens: signed, verified, refused once expired, even when they were verified (and so
 * remembered) before; a forged or foreign token is never accepted.
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
