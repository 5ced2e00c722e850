/**
 * The client address the rate limits count by: X-Forwarded-For is believed only from the
 * proxies TRUSTED_PROXIES names (lib/http.ts clientAddress).
 */
import type { IncomingMessage } from "node:http";
import { clientAddress, proxyTrust } from "../../lib/http";

function request(peer: string, forwardedFor?: string): IncomingMessage {
	return { socket: { remoteAddress: peer }, connection: { remoteAddress: peer }, headers: forwardedFor ? { "x-forwarded-for": forwardedFor } : {} } as unknown as IncomingMessage;
}

test("without trusted proxies the peer is the client, whatever X-Forwarded-For says", () => {
	expect(clientAddress(request("127.0.0.1", "1.2.3.4"), proxyTrust([]))).toBe("127.0.0.1");
	expect(clientAddress(request("10.0.0.7", "1.2.3.4"), proxyTrust([]))).toBe("10.0.0.7");
});

test("behind trusted proxies the client is the nearest address they do not cover", () => {
	const trust = proxyTrust(["10.0.0.0/8"]);
	expect(clientAddress(request("10.0.0.7", "198.51.100.9"), trust)).toBe("198.51.100.9");
	// A client's own (spoofed) entries come first in the header and are not reached.
	expect(clientAddress(request("10.0.0.7", "6.6.6.6, 198.51.100.9, 10.0.0.3"), trust)).toBe("198.51.100.9");
	// A request that did not come through a trusted proxy is its peer.
	expect(clientAddress(request("192.0.2.1", "198.51.100.9"), trust)).toBe("192.0.2.1");
});
