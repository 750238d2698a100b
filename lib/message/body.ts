/**
 * The "AI-ready text" of a message: its own new text, without the quoted reply chain and the
 * signature, as Markdown when the mail has HTML (links and lists kept) and as plain text
 * otherwise, capped at a number of characters.
 *
 * Mail from strangers is hostile input, so every step is linear in the input and reads at most
 * {@link INPUT_LIMIT} characters of it: HTML through a bounded tree (`body-html.ts`), text through
 * line patterns that look at a bounded prefix of each line (`body-text.ts`).
 */
import { FORWARD_SENTINEL, htmlToMarkdown, type Converted, type Removal } from './body-html';
import { stripText } from './body-text';

export interface BodyOptions {
	/** At most this many characters of body text (a note on the cut is added after them); default 4000, 0 for no cap. */
	maxChars?: number;
}

export interface MessageBody {
	/** The message's own new text: no quoted reply chain, no signature; Markdown when the mail has HTML, plain text otherwise. */
	body: string;
	format: 'markdown' | 'text';
	/** True when the body was cut at `maxChars`, or the message was longer than the part that is read. */
	truncated: boolean;
	/** What was taken out. */
	removed: Removal[];
}

export const DEFAULT_MAX_CHARS = 4000;
/** Characters of the HTML or of the text that are read at most (1 MiB). */
export const INPUT_LIMIT = 1024 * 1024;

const ORDER: Removal[] = ['quote', 'signature', 'forward-header'];

/** Trailing spaces off each line, at most one empty line in a row, the forward sentinel gone. */
function tidy(text: string): string {
	return text
		.split('\n')
		.filter((line) => line !== FORWARD_SENTINEL)
		.map((line) => line.trimEnd())
		.join('\n')
		.replace(/\n{3,}/g, '\n\n')
		.trim();
}

interface Stripped {
	body: string;
	removed: Set<Removal>;
	/** Characters of the body's source that were not converted (past the budget). */
	unconverted: number;
}

interface Source {
	text: string;
	unconverted: number;
}

/**
 * Own text, from the most that can be taken out to nothing taken out: never an empty body for a
 * message that has text. Text past the budget counts as the body's unless a reply header was
 * found before it (then it is the quoted chain).
 */
function strip(source: Source, quotedLines: boolean, structural: Set<Removal>, whole: () => Source): Stripped {
	const untilQuote = (removed: Set<Removal>) => (removed.has('quote') ? 0 : source.unconverted);
	const full = stripText(source.text, { quotedLines, signatures: true });
	let body = tidy(full.text);
	if (body) return { body, removed: new Set([...structural, ...full.removed]), unconverted: untilQuote(full.removed) };
	if (full.removed.has('signature')) {
		const kept = stripText(source.text, { quotedLines, signatures: false });
		body = tidy(kept.text);
		if (body) return { body, removed: new Set([...structural, ...kept.removed]), unconverted: untilQuote(kept.removed) };
	}
	const all = whole();
	return { body: tidy(all.text), removed: new Set(), unconverted: all.unconverted };
}

/** Characters of text converted from HTML at most: what the cap shows, with room for a signature taken off the end. */
const budgetFor = (maxChars: number) => (maxChars > 0 ? 2 * maxChars + 64 * 1024 : Infinity);

function fromHtml(html: string, maxChars: number): Stripped {
	const result = htmlToMarkdown(html, budgetFor(maxChars));
	const source = (c: Converted): Source => ({ text: c.markdown, unconverted: c.unconverted });
	return strip(source(result), false, result.removed, () => source(result.whole()));
}

function fromText(text: string): Stripped {
	const normalized = text.replace(/\r\n?/g, '\n').replace(/\uE000/g, '');
	return strip({ text: normalized, unconverted: 0 }, true, new Set(), () => ({ text: normalized, unconverted: 0 }));
}

/** Where to cut `text` to at most `max` characters: a paragraph end, else a sentence end, else a space, in the last 40%. */
function cutPoint(text: string, max: number): number {
	const min = Math.floor(max * 0.6);
	const paragraph = text.lastIndexOf('\n\n', max);
	if (paragraph >= min) return paragraph;
	for (let i = max - 1; i >= min; i--) {
		const c = text[i];
		if ((c === '.' || c === '!' || c === '?' || c === '…' || c === '。') && (i + 1 >= text.length || /\s/.test(text[i + 1]))) return i + 1;
	}
	for (let i = max; i >= min; i--) if (/\s/.test(text[i])) return i;
	// no boundary: cut between characters, not inside a surrogate pair
	const code = text.charCodeAt(max - 1);
	return code >= 0xd800 && code <= 0xdbff ? max - 1 : max;
}

/**
 * The message's own text for an AI model or a person in a hurry.
 *
 * @param input the message's text and HTML bodies (as mailparser gives them); HTML wins when it has text.
 */
export function messageBody(input: { text?: string; html?: string }, options: BodyOptions = {}): MessageBody {
	const maxChars = Math.max(0, Math.floor(options.maxChars ?? DEFAULT_MAX_CHARS));
	let format: MessageBody['format'] = 'text';
	let unread = 0;
	let result: Stripped = { body: '', removed: new Set(), unconverted: 0 };
	const html = input.html ?? '';
	if (/\S/.test(html.slice(0, INPUT_LIMIT))) {
		result = fromHtml(html.slice(0, INPUT_LIMIT), maxChars);
		format = 'markdown';
		unread = Math.max(0, html.length - INPUT_LIMIT);
	}
	if (!result.body && input.text) {
		result = fromText(input.text.slice(0, INPUT_LIMIT));
		format = 'text';
		unread = Math.max(0, input.text.length - INPUT_LIMIT);
	}
	let body = result.body;
	let truncated = unread > 0 || result.unconverted > 0;
	let more = unread + result.unconverted;
	if (maxChars > 0 && body.length > maxChars) {
		const kept = body.slice(0, cutPoint(body, maxChars)).trimEnd();
		more += body.length - kept.length;
		body = kept;
		truncated = true;
	}
	if (truncated) body += `${body ? '\n\n' : ''}[… cut: ${more.toLocaleString('en-US')} more characters]`;
	return { body, format, truncated, removed: ORDER.filter((r) => result.removed.has(r)) };
}
