/**
 * The errors a caller can fix, one constructor per kind. Their messages go to the client
 * verbatim as `status_msg`, so each says what is wrong and how to fix it. Every other
 * error is an internal one: the gateway logs it and answers a generic message.
 */
import { Errors } from "moleculer";

const { MoleculerClientError, MoleculerError } = Errors;

/** A parameter broke a rule: the message names the field and the rule. */
export const invalidParam = (message: string, field?: string) =>
	new MoleculerClientError(message, 400, "INVALID_PARAM", field ? { field } : undefined);

/** No or a bad token on an action that needs a logged-in user. */
export const unauthorized = (message: string) => new MoleculerClientError(message, 401, "UNAUTHORIZED");

/** The user is known but may not do this. */
export const forbidden = (message: string) => new MoleculerClientError(message, 403, "FORBIDDEN");

/** A referenced entity (user, video, comment) does not exist. */
export const notFound = (message: string) => new MoleculerClientError(message, 404, "NOT_FOUND");

/** The write conflicts with existing data (e.g. a taken username). */
export const conflict = (message: string) => new MoleculerClientError(message, 409, "CONFLICT");

/** The request body is larger than allowed. */
export const tooLarge = (message: string) => new MoleculerClientError(message, 413, "PAYLOAD_TOO_LARGE");

/** Too many requests of one kind: the message says when to try again. */
export const rateLimited = (message: string, retryAfterSeconds: number) =>
	new MoleculerClientError(message, 429, "RATE_LIMITED", { retryAfterSeconds });

/** Something the request needs is down for a moment: the client should try again (envelope 503). */
export const unavailable = (message: string) => new MoleculerError(message, 503, "SERVICE_NOT_AVAILABLE");
