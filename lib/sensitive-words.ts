/**
 * The sensitive-word filter of comments and chat messages: every listed word is
 * replaced by as many "*" as it has characters, case-insensitively. The list is a file
 * (SENSITIVE_WORDS_FILE, default config/sensitive-words.txt), one word per line.
 */
import fs from "node:fs";

export class SensitiveWordFilter {
	private readonly pattern: RegExp | null;

	constructor(words: readonly string[]) {
		const escaped = [...new Set(words.map(word => word.trim()).filter(Boolean))]
			// Longest first, so a word containing another is masked whole.
			.sort((a, b) => b.length - a.length)
			.map(word => word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
		this.pattern = escaped.length > 0 ? new RegExp(escaped.join("|"), "giu") : null;
	}

	static fromFile(file: string): SensitiveWordFilter {
		const lines = fs.readFileSync(file, "utf8").split(/\r?\n/);
		return new SensitiveWordFilter(lines.filter(line => !line.trimStart().startsWith("#")));
	}

	mask(text: string): string {
		return this.pattern ? text.replace(this.pattern, word => "*".repeat([...word].length)) : text;
	}
}
