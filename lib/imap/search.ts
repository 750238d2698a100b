/**
 * IMAP SEARCH criteria: the common ones as fields, and the raw RFC 3501 / RFC 9051 search-key
 * syntax ("OR FROM a@x.test SUBJECT invoice SINCE 1-Jan-2026") for experts, both turned into
 * imapflow's search object. Raw text is parsed here, so a malformed query is refused before
 * anything is sent, with the position of the problem, and nothing unknown is silently dropped
 * (a dropped criterion would widen the search).
 */
import type { SearchObject } from 'imapflow';
import { configError } from '../errors';

/** The common criteria; every set one must match. */
export interface SearchCriteria {
	from?: string;
	to?: string;
	subject?: string;
	/** Received (INTERNALDATE) on or after. */
	since?: Date;
	/** Received before. */
	before?: Date;
	seen?: boolean;
	flagged?: boolean;
	/** RFC822.SIZE larger than this many bytes. */
	larger?: number;
	/** RFC822.SIZE smaller than this many bytes. */
	smaller?: number;
	header?: { name: string; value: string };
	/** Raw IMAP search keys, ANDed with the rest. */
	raw?: string;
}

/** One criterion as an imapflow search object with a single key. */
type Criterion = SearchObject;

const HEADER_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

/** A search object matching all of `criteria` (each a single-key object, or any object). */
export function allOf(criteria: Criterion[]): SearchObject {
	const flat = criteria.flatMap(splitKeys);
	if (flat.length === 0) return { all: true };
	// Layers of criteria with distinct keys merge into one object; the same key twice (two FROM,
	// two HEADER Message-ID) cannot, so layers are joined as NOT (OR (NOT a) (NOT b) ...).
	const layers: Array<Record<string, unknown>> = [];
	for (const c of flat) {
		const key = keyOf(c);
		let layer = layers.find((l) => !(key in l));
		if (!layer) layers.push((layer = {}));
		layer[key] = c;
	}
	const merged = layers.map((layer) => mergeLayer(Object.values(layer) as Criterion[]));
	if (merged.length === 1) return merged[0];
	return { not: { or: merged.map((m) => ({ not: m })) } };
}

function splitKeys(c: Criterion): Criterion[] {
	const out: Criterion[] = [];
	for (const [k, v] of Object.entries(c)) {
		if (v === undefined) continue;
		if (k === 'header' && v && typeof v === 'object') {
			for (const [name, value] of Object.entries(v as Record<string, unknown>)) out.push({ header: { [name]: value as string } });
		} else out.push({ [k]: v } as Criterion);
	}
	return out;
}

function keyOf(c: Criterion): string {
	// One HEADER per object: imapflow puts parentheses around a NOT/OR operand only when it has
	// several keys, so two headers in one header object would lose their grouping there.
	return Object.keys(c)[0].toLowerCase();
}

function mergeLayer(list: Criterion[]): SearchObject {
	const out: Record<string, unknown> = {};
	for (const c of list) {
		const [[k, v]] = Object.entries(c);
		if (k === 'header') out.header = { ...((out.header as object) ?? {}), ...(v as object) };
		else out[k] = v;
	}
	return out as SearchObject;
}

/** The search object for the fields and the raw query; field names in errors as the node calls them. */
export function buildSearch(criteria: SearchCriteria): SearchObject {
	const list: Criterion[] = [];
	const text = (value: string | undefined) => (value ?? '').trim();
	if (text(criteria.from)) list.push({ from: text(criteria.from) });
	if (text(criteria.to)) list.push({ to: text(criteria.to) });
	if (text(criteria.subject)) list.push({ subject: text(criteria.subject) });
	if (criteria.since) list.push({ since: validDate('since', criteria.since) });
	if (criteria.before) list.push({ before: validDate('before', criteria.before) });
	if (criteria.since && criteria.before && criteria.since.getTime() >= criteria.before.getTime()) {
		throw configError('before', `Received Before (${criteria.before.toISOString()}) is not after Received Since (${criteria.since.toISOString()}): no message can match.`, 'Swap the two dates, or clear one of them.');
	}
	if (criteria.seen !== undefined) list.push({ seen: criteria.seen });
	if (criteria.flagged !== undefined) list.push({ flagged: criteria.flagged });
	if (criteria.larger !== undefined && criteria.larger > 0) list.push({ larger: size('largerThan', criteria.larger) });
	if (criteria.smaller !== undefined && criteria.smaller > 0) list.push({ smaller: size('smallerThan', criteria.smaller) });
	if (criteria.header && (criteria.header.name.trim() || criteria.header.value.trim())) {
		const name = criteria.header.name.trim();
		if (!name) throw configError('headerName', 'Header Value is set but Header Name is empty.', 'Enter the header to search in, e.g. X-Ticket-Id.');
		if (!HEADER_NAME.test(name)) throw configError('headerName', `Header Name "${name}" is not a header field name.`, 'Use only the name, e.g. X-Ticket-Id, without a colon or spaces.');
		list.push({ header: { [name]: criteria.header.value } });
	}
	if (criteria.raw?.trim()) list.push(parseRawSearch(criteria.raw));
	return allOf(list);
}

function validDate(field: string, date: Date): Date {
	if (Number.isNaN(date.getTime())) throw configError(field, `The date of ${field === 'since' ? 'Received Since' : 'Received Before'} is not a valid date.`);
	return date;
}

function size(field: string, n: number): number {
	if (!Number.isInteger(n) || n < 0) throw configError(field, `${field === 'largerThan' ? 'Larger Than' : 'Smaller Than'} must be a whole number of bytes, not ${n}.`);
	return n;
}

// ---------------------------------------------------------------------------------------------
// Raw search keys

type Token = { kind: 'atom' | 'string' | 'open' | 'close'; value: string; pos: number };

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const SEQUENCE_SET = /^(\d+|\*)(:(\d+|\*))?(,(\d+|\*)(:(\d+|\*))?)*$/;

const FIELD = 'rawSearch';
const HINT = 'Write IMAP search keys as in RFC 3501, e.g. OR FROM alice@example.com SUBJECT "invoice 4711" SINCE 1-Jan-2026 UNSEEN; strings with spaces in double quotes, dates as d-Mon-yyyy.';

function rawError(message: string): never {
	throw configError(FIELD, `Raw IMAP Search: ${message}.`, HINT);
}

function tokenize(text: string): Token[] {
	const tokens: Token[] = [];
	let i = 0;
	while (i < text.length) {
		const ch = text[i];
		if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') {
			i++;
		} else if (ch === '(' || ch === ')') {
			tokens.push({ kind: ch === '(' ? 'open' : 'close', value: ch, pos: i });
			i++;
		} else if (ch === '"') {
			const start = i;
			let value = '';
			i++;
			for (;;) {
				if (i >= text.length) rawError(`the quoted string at position ${start + 1} is not closed`);
				const c = text[i];
				if (c === '\\') {
					const next = text[i + 1];
					if (next !== '"' && next !== '\\') rawError(`a backslash inside quotes at position ${i + 1} must be followed by " or \\`);
					value += next;
					i += 2;
				} else if (c === '"') {
					i++;
					break;
				} else if (c === '\r' || c === '\n') {
					rawError(`the quoted string at position ${start + 1} contains a line break`);
				} else {
					value += c;
					i++;
				}
			}
			tokens.push({ kind: 'string', value, pos: start });
		} else if (ch === '{') {
			rawError(`literals ({n}) are not supported at position ${i + 1}; use a quoted string`);
		} else {
			const start = i;
			while (i < text.length && !/[\s()"]/.test(text[i])) i++;
			const value = text.slice(start, i);
			// eslint-disable-next-line no-control-regex
			if (/[\u0000-\u001f\u007f]/.test(value)) rawError(`control characters in "${value}" at position ${start + 1}`);
			tokens.push({ kind: 'atom', value, pos: start });
		}
	}
	return tokens;
}

/** A time from OLDER/YOUNGER (seconds, RFC 5032): exact only on servers with WITHIN, whole days elsewhere. */
export class AgeLimit extends Date {}

/** Whether the search holds OLDER or YOUNGER (see searchFolder: refused on servers without WITHIN). */
export function usesAge(query: unknown, depth = 0): boolean {
	if (query instanceof AgeLimit) return true;
	if (!query || typeof query !== 'object' || query instanceof Date || depth > 200) return false;
	return Object.values(query as Record<string, unknown>).some((v) => usesAge(v, depth + 1));
}

/** Nesting of parentheses, NOT and OR at most: deeper is no search a person writes, and would exhaust the stack. */
const MAX_DEPTH = 100;

class RawParser {
	private i = 0;
	private depth = 0;
	constructor(private readonly tokens: Token[]) {}

	parseAll(): SearchObject {
		const keys: Criterion[] = [];
		while (this.i < this.tokens.length) {
			if (this.tokens[this.i].kind === 'close') rawError(`an unmatched ")" at position ${this.tokens[this.i].pos + 1}`);
			keys.push(this.key());
		}
		if (keys.length === 0) rawError('no search key');
		return allOf(keys);
	}

	private next(what: string, after: Token): Token {
		const token = this.tokens[this.i++];
		if (!token) rawError(`${after.value.toUpperCase()} at position ${after.pos + 1} needs ${what}`);
		return token;
	}

	private string(after: Token): string {
		const token = this.next('a value', after);
		if (token.kind === 'open' || token.kind === 'close') rawError(`${after.value.toUpperCase()} at position ${after.pos + 1} needs a value, not "${token.value}"`);
		return token.value;
	}

	private number(after: Token): number {
		const token = this.next('a number', after);
		if (token.kind !== 'atom' || !/^\d{1,15}$/.test(token.value)) rawError(`${after.value.toUpperCase()} at position ${after.pos + 1} needs a number of bytes, not "${token.value}"`);
		return Number(token.value);
	}

	private date(after: Token): Date {
		const token = this.next('a date', after);
		const m = token.kind === 'atom' || token.kind === 'string' ? /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(token.value) : null;
		const month = m ? MONTHS.indexOf(m[2].toLowerCase()) : -1;
		const day = m ? Number(m[1]) : 0;
		const date = m && month >= 0 ? new Date(Date.UTC(Number(m[3]), month, day)) : undefined;
		if (!date || date.getUTCDate() !== day) rawError(`${after.value.toUpperCase()} at position ${after.pos + 1} needs a date such as 1-Jan-2026, not "${token.value}"`);
		return date;
	}

	private sequence(after: Token): string {
		const token = this.next('a UID set', after);
		if (token.kind !== 'atom' || !SEQUENCE_SET.test(token.value)) rawError(`${after.value.toUpperCase()} at position ${after.pos + 1} needs a set such as 1:100,205, not "${token.value}"`);
		return token.value;
	}

	private flag(after: Token): string {
		const token = this.next('a keyword', after);
		if (token.kind !== 'atom' || !isValidKeyword(token.value)) rawError(`${after.value.toUpperCase()} at position ${after.pos + 1} needs a keyword such as $Forwarded, not "${token.value}"`);
		return token.value;
	}

	private key(): Criterion {
		const token = this.tokens[this.i];
		if (this.depth >= MAX_DEPTH) rawError(`the search is nested more than ${MAX_DEPTH} levels deep at position ${token.pos + 1} (parentheses, NOT, OR)`);
		this.depth++;
		try {
			return this.keyAt();
		} finally {
			this.depth--;
		}
	}

	private keyAt(): Criterion {
		const token = this.tokens[this.i++];
		if (token.kind === 'open') {
			const keys: Criterion[] = [];
			while (this.tokens[this.i] && this.tokens[this.i].kind !== 'close') keys.push(this.key());
			if (!this.tokens[this.i]) rawError(`the "(" at position ${token.pos + 1} is not closed`);
			this.i++;
			if (keys.length === 0) rawError(`empty parentheses at position ${token.pos + 1}`);
			return allOf(keys);
		}
		if (token.kind === 'close') rawError(`an unexpected ")" at position ${token.pos + 1}`);
		if (token.kind === 'string') rawError(`"${token.value}" at position ${token.pos + 1} is a value without a search key in front of it`);
		const name = token.value.toUpperCase();
		switch (name) {
			case 'ALL':
				return { all: true };
			case 'ANSWERED':
			case 'DELETED':
			case 'DRAFT':
			case 'FLAGGED':
			case 'SEEN':
				return { [name.toLowerCase()]: true } as Criterion;
			case 'UNANSWERED':
			case 'UNDELETED':
			case 'UNDRAFT':
			case 'UNFLAGGED':
			case 'UNSEEN':
				return { [name.slice(2).toLowerCase()]: false } as Criterion;
			case 'NEW':
			case 'OLD':
			case 'RECENT':
				return { [name.toLowerCase()]: true } as Criterion;
			case 'BCC':
			case 'BODY':
			case 'CC':
			case 'FROM':
			case 'SUBJECT':
			case 'TEXT':
			case 'TO': {
				const value = this.string(token);
				return { [name.toLowerCase()]: value } as Criterion;
			}
			case 'BEFORE':
				return { before: this.date(token) };
			case 'SINCE':
				return { since: this.date(token) };
			case 'ON':
				return { on: this.date(token) };
			case 'SENTBEFORE':
				return { sentBefore: this.date(token) };
			case 'SENTON':
				return { sentOn: this.date(token) };
			case 'SENTSINCE':
				return { sentSince: this.date(token) };
			case 'LARGER':
				return { larger: this.number(token) };
			case 'SMALLER':
				return { smaller: this.number(token) };
			case 'OLDER':
				return { before: new AgeLimit(Date.now() - this.number(token) * 1000) };
			case 'YOUNGER':
				return { since: new AgeLimit(Date.now() - this.number(token) * 1000) };
			case 'MODSEQ':
				return { modseq: BigInt(this.number(token)) };
			case 'KEYWORD':
				return { keyword: this.flag(token) };
			case 'UNKEYWORD':
				return { unKeyword: this.flag(token) };
			case 'HEADER': {
				const field = this.string(token);
				if (!HEADER_NAME.test(field)) rawError(`HEADER at position ${token.pos + 1} needs a header name such as Message-ID, not "${field}"`);
				return { header: { [field]: this.string(token) } };
			}
			case 'UID':
				return { uid: this.sequence(token) };
			case 'NOT': {
				if (!this.tokens[this.i]) rawError(`NOT at position ${token.pos + 1} needs a search key`);
				return { not: this.key() };
			}
			case 'OR': {
				if (!this.tokens[this.i]) rawError(`OR at position ${token.pos + 1} needs two search keys`);
				const a = this.key();
				if (!this.tokens[this.i] || this.tokens[this.i].kind === 'close') rawError(`OR at position ${token.pos + 1} needs two search keys`);
				return { or: [a, this.key()] };
			}
			case 'X-GM-RAW':
				return { gmraw: this.string(token) };
			case 'EMAILID':
				return { emailId: this.string(token) };
			case 'THREADID':
				return { threadId: this.string(token) };
			case 'CHARSET':
				rawError(`CHARSET at position ${token.pos + 1} is chosen automatically (UTF-8 when a value needs it); leave it out`);
				break;
			default:
				if (SEQUENCE_SET.test(token.value)) return { seq: token.value };
				rawError(`unknown search key "${token.value}" at position ${token.pos + 1}`);
		}
		return rawError(`unknown search key "${token.value}"`);
	}
}

/** Raw IMAP search keys as an imapflow search object; throws a CONFIG error naming field rawSearch. */
export function parseRawSearch(text: string): SearchObject {
	return new RawParser(tokenize(text)).parseAll();
}

/**
 * A keyword (user flag) as IMAP allows it: an atom (no space, parentheses, braces, %, *, quotes,
 * backslash, ] or control characters), not a system flag.
 */
export function isValidKeyword(keyword: string): boolean {
	// eslint-disable-next-line no-control-regex
	return keyword.length > 0 && keyword.length <= 200 && !/[\u0000-\u0020\u007f-\uffff(){%*"\\\]]/.test(keyword);
}
