/**
 * fastest-validator rules shared by the services' wire parameters, so the same
 * parameter is checked the same way, with the same message, everywhere.
 */

/** An id on the wire: a positive integer, sent as a string. */
export const wireId = { type: "number", integer: true, positive: true, convert: true } as const;

/** An id the caller may leave out. */
export const optionalWireId = { ...wireId, optional: true } as const;

/**
 * `action_type`: 1…n, each with its meaning, e.g. `actionType("like", "unlike")`. Any other
 * value (missing, not a number, out of range) gets one message that lists the choices.
 */
export function actionType(...meanings: string[]) {
	const message = `The 'action_type' field must be ${meanings.map((meaning, i) => `${i + 1} (${meaning})`).join(" or ")}.`;
	return {
		type: "number",
		integer: true,
		min: 1,
		max: meanings.length,
		convert: true,
		messages: { required: message, number: message, numberInteger: message, numberMin: message, numberMax: message }
	} as const;
}
