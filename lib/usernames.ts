/**
 * Usernames: what a name may hold, and the key two names are compared by.
 *
 * A name is shown as it was registered (trimmed). Uniqueness and login go by its key: NFKC
 * (full-width "Ａｌｉｃｅ" is "Alice", "ﬁ" is "fi"), case-folded (upper- then lower-case, so
 * "ß" meets "SS" and "ς" meets "Σ"), runs of white space as one space. "Alice", "alice"
 * and "Ａｌｉｃｅ" are one name: the second to come is refused, and any spelling logs in.
 */

/** Longest username, in characters (UTF-16 code units, as the validator counts). */
export const USERNAME_MAX_CHARS = 32;

/**
 * What a username must match: no control or format (invisible) characters, surrogates,
 * private-use or unassigned code points (Unicode category C), nor line or paragraph separators.
 */
export const USERNAME_PATTERN = /^[^\p{C}\p{Zl}\p{Zp}]*$/u;

/** The key a username is compared by (unique across accounts). */
export function usernameKey(name: string): string {
	return name.normalize("NFKC").toUpperCase().toLowerCase().normalize("NFKC").replace(/\s+/gu, " ").trim();
}

/**
 * Keys of accounts registered before names were compared by key whose key an older account
 * already had: the exact name after this prefix. No registrable name has such a key (the
 * prefix is a control character), so those accounts keep logging in with their exact spelling.
 */
export const LEGACY_KEY_PREFIX = "\u0001";
