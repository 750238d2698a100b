/**
 * The out-of-office auto-reply as a Sieve script (RFC 5228) with the "vacation" action (RFC 5230),
 * and reading such a script back.
 *
 * The script the Mailbox node writes:
 * - starts with the marker comment {@link MARKER}: only scripts with it are read back or replaced;
 * - replies only to personal mail: not to mailing lists (List-Id, List-Unsubscribe), bulk or junk
 *   mail (Precedence), automatic messages (Auto-Submitted other than "no") or messages asking for
 *   no auto-reply (Microsoft's X-Auto-Response-Suppress: OOF/All). The server's vacation action
 *   adds its own rules: no reply to a null sender, to MAILER-DAEMON and the like, or to mail not
 *   addressed to one of the account's addresses in To/Cc (so no reply to Bcc or list copies);
 * - replies during an optional period: "currentdate" tests (RFC 5260 "date" plus RFC 5231
 *   "relational") against UTC timestamps, start inclusive, end exclusive. Without these
 *   extensions on the server a period is refused (it would otherwise reply forever);
 * - replies to the same sender at most once per `days` (the server keeps track);
 * - reply text is plain text (UTF-8), sent in the "text:" multi-line form so any line breaks,
 *   quotes and backslashes stay as written (a line starting with "." is doubled, as the form
 *   requires). HTML replies (vacation :mime) are not offered: the server would send the HTML
 *   unchanged as the whole reply, without a text part for clients that show plain text;
 * - ends with `include :personal :optional "<script>"` when another script was active before:
 *   ManageSieve allows one active script, so the user's own filters keep running through this
 *   include after the vacation test (":optional": deleting that script later does not break ours).
 */
import { configError } from '../errors';

/** The first line of every script this package writes; how it recognises its own scripts. */
export const MARKER = '# n8n-nodes-mailbox:out-of-office v1';

export const DEFAULT_DAYS = 7;
export const MAX_DAYS = 365;

/** What the auto-reply does. */
export interface VacationSettings {
	/** Subject of the reply; empty: the server's default ("Auto: <original subject>"). */
	subject?: string;
	/** The reply's text (plain text). */
	text: string;
	/** Reply from this moment on (inclusive); none: at once. */
	start?: Date;
	/** Reply until this moment (exclusive); none: until cleared. */
	end?: Date;
	/** Reply to the same sender at most once in this many days. */
	days: number;
	/** The account's addresses and aliases: mail to them gets a reply. */
	addresses: string[];
	/** The reply's From (an address, optionally with a display name); none: the recipient address. */
	from?: string;
}

/** A script's settings plus the script it runs afterwards. */
export interface VacationScript extends VacationSettings {
	/** The script that was active before, included after the auto-reply. */
	includeScript?: string;
}

/** A Sieve quoted string: '"' and '\' escaped; line breaks are refused (callers check first). */
export function sieveString(value: string): string {
	return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function sieveList(values: readonly string[]): string {
	return `[${values.map(sieveString).join(', ')}]`;
}

/**
 * A "text:" multi-line string (RFC 5228 2.4.2): CRLF line ends, a leading "." doubled, ended by a
 * line holding only ".". Nothing inside is an escape.
 */
export function sieveMultiline(value: string): string {
	const lines = value.replace(/\r\n?/g, '\n').split('\n');
	return `text:\r\n${lines.map((line) => (line.startsWith('.') ? `.${line}` : line)).join('\r\n')}\r\n.\r\n`;
}

/** "2026-03-01T10:00:00" in UTC, the form compared against currentdate's "iso8601". */
function utcStamp(date: Date): string {
	return date.toISOString().slice(0, 19);
}

const ADDRESS = /^[^\s@<>",;]+@[^\s@<>",;]+$/;

/** Checks and normalises settings; throws CONFIG errors naming the node's field. */
export function checkVacationSettings(input: VacationSettings): VacationSettings {
	const text = input.text ?? '';
	if (!text.trim()) throw configError('text', 'Text is empty.', 'Enter the text of the auto-reply.');
	const subject = (input.subject ?? '').trim();
	if (/[\r\n]/.test(subject)) throw configError('subject', 'Subject contains a line break.', 'Write the subject on one line.');
	const days = input.days;
	if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) {
		throw configError('days', `Reply Interval (Days) "${String(days)}" is not a whole number from 1 to ${MAX_DAYS}.`, 'Enter how many days pass before the same sender gets the reply again, e.g. 7.');
	}
	for (const [field, date] of [
		['startDate', input.start],
		['endDate', input.end],
	] as const) {
		if (date !== undefined && Number.isNaN(date.getTime())) throw configError(field, `${field === 'startDate' ? 'Start' : 'End'} is not a valid date.`, 'Enter a date and time, e.g. 2026-03-01T08:00:00.');
	}
	if (input.start && input.end && input.end.getTime() <= input.start.getTime()) {
		throw configError('endDate', `End (${input.end.toISOString()}) is not after Start (${input.start.toISOString()}).`, 'Enter an end after the start, or leave End empty.');
	}
	const addresses = [...new Set(input.addresses.map((a) => a.trim()).filter(Boolean))];
	const bad = addresses.find((a) => !ADDRESS.test(a));
	if (bad) throw configError('addresses', `"${bad}" is not an e-mail address.`, 'List the addresses of this mailbox (and its aliases), separated by commas, e.g. anna@example.com, sales@example.com.');
	const from = (input.from ?? '').trim();
	if (from && (/[\r\n]/.test(from) || !/@/.test(from))) throw configError('from', `From "${from}" is not an address.`, 'Enter an address, e.g. anna@example.com or "Anna Müller <anna@example.com>", or leave it empty.');
	return { subject: subject || undefined, text, start: input.start, end: input.end, days, addresses, from: from || undefined };
}

/** The Sieve extensions a script with these settings needs. */
export function requiredExtensions(settings: VacationScript): string[] {
	const needed = ['vacation'];
	if (settings.start || settings.end) needed.push('date', 'relational');
	if (settings.includeScript) needed.push('include');
	return needed;
}

/**
 * The script for `settings`. `available` are the server's Sieve extensions (SIEVE capability);
 * a period without "date"/"relational" is refused with a CONFIG error naming the field.
 */
export function buildVacationScript(input: VacationScript, available?: readonly string[]): string {
	const settings = { ...checkVacationSettings(input), includeScript: input.includeScript };
	if (available) {
		for (const ext of requiredExtensions(settings)) {
			if (available.includes(ext)) continue;
			if (ext === 'date' || ext === 'relational') {
				throw configError(
					settings.start ? 'startDate' : 'endDate',
					`The server's Sieve has no "${ext}" extension, so it cannot limit the auto-reply to a period.`,
					'Leave Start and End empty, and run this operation again (Set when the period starts, Clear when it ends), e.g. from a scheduled workflow.',
				);
			}
		}
	}
	const out: string[] = [MARKER, '# The out-of-office auto-reply of this mailbox, written by the Mailbox node of n8n.', '# Changes made here are replaced the next time the node sets the auto-reply.'];
	out.push(`require ${sieveList(requiredExtensions(settings))};`, '');
	const conditions: string[] = [];
	if (settings.start) conditions.push(`currentdate :zone "+0000" :value "ge" "iso8601" ${sieveString(utcStamp(settings.start))}`);
	if (settings.end) conditions.push(`currentdate :zone "+0000" :value "lt" "iso8601" ${sieveString(utcStamp(settings.end))}`);
	conditions.push(
		'not exists ["List-Id", "List-Unsubscribe"]',
		'not header :comparator "i;ascii-casemap" :is "Precedence" ["bulk", "list", "junk"]',
		'not header :comparator "i;ascii-casemap" :contains "X-Auto-Response-Suppress" ["OOF", "All"]',
		'anyof (not exists "Auto-Submitted", header :comparator "i;ascii-casemap" :is "Auto-Submitted" "no")',
	);
	const args = [`:days ${settings.days}`];
	if (settings.subject) args.push(`:subject ${sieveString(settings.subject)}`);
	if (settings.from) args.push(`:from ${sieveString(settings.from)}`);
	if (settings.addresses.length) args.push(`:addresses ${sieveList(settings.addresses)}`);
	out.push('# Personal mail only: no replies to mailing lists, bulk mail or automatic messages.');
	out.push(`if allof (${conditions.map((c) => `\r\n    ${c}`).join(',')}\r\n) {`);
	out.push(`    vacation ${args.join(' ')} ${sieveMultiline(settings.text)};`);
	out.push('}');
	if (settings.includeScript) {
		out.push('', '# The script that was active before: its filters keep working.', `include :personal :optional ${sieveString(settings.includeScript)};`);
	}
	return `${out.join('\r\n')}\r\n`;
}

type Token =
	| { type: 'string'; value: string }
	| { type: 'number'; value: number }
	| { type: 'tag'; value: string }
	| { type: 'identifier'; value: string }
	| { type: 'special'; value: string };

/** Sieve's lexical tokens (RFC 5228 section 8.1), comments dropped. Throws on malformed input. */
export function tokenizeSieve(script: string): Token[] {
	const tokens: Token[] = [];
	const s = script;
	let i = 0;
	while (i < s.length) {
		const c = s[i];
		if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
			i++;
		} else if (c === '#') {
			const end = s.indexOf('\n', i);
			i = end < 0 ? s.length : end + 1;
		} else if (c === '/' && s[i + 1] === '*') {
			const end = s.indexOf('*/', i + 2);
			if (end < 0) throw new SyntaxError('unterminated comment');
			i = end + 2;
		} else if (c === '"') {
			let value = '';
			let j = i + 1;
			for (; j < s.length && s[j] !== '"'; j++) {
				if (s[j] === '\\' && j + 1 < s.length) j++;
				value += s[j];
			}
			if (j >= s.length) throw new SyntaxError('unterminated string');
			tokens.push({ type: 'string', value });
			i = j + 1;
		} else if (s.startsWith('text:', i)) {
			// text: [spaces] [#comment] CRLF, then lines up to one holding only "."
			let j = i + 5;
			const eol = s.indexOf('\n', j);
			if (eol < 0) throw new SyntaxError('unterminated text:');
			j = eol + 1;
			const lines: string[] = [];
			for (;;) {
				const next = s.indexOf('\n', j);
				if (next < 0) throw new SyntaxError('unterminated text:');
				const line = s.slice(j, next).replace(/\r$/, '');
				j = next + 1;
				if (line === '.') break;
				lines.push(line.startsWith('..') ? line.slice(1) : line);
			}
			tokens.push({ type: 'string', value: lines.join('\n') });
			i = j;
		} else if (/[0-9]/.test(c)) {
			const m = /^([0-9]+)([KMG]?)/i.exec(s.slice(i, i + 24))!;
			const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
			tokens.push({ type: 'number', value: Number(m[1]) * unit });
			i += m[0].length;
		} else if (c === ':') {
			const m = /^:[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i, i + 128));
			if (!m) throw new SyntaxError(`unexpected ":" at ${i}`);
			tokens.push({ type: 'tag', value: m[0].slice(1).toLowerCase() });
			i += m[0].length;
		} else if (/[A-Za-z_]/.test(c)) {
			const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i, i + 128))!;
			tokens.push({ type: 'identifier', value: m[0].toLowerCase() });
			i += m[0].length;
		} else if ('[](),;{}'.includes(c)) {
			tokens.push({ type: 'special', value: c });
			i++;
		} else {
			throw new SyntaxError(`unexpected "${c}" at ${i}`);
		}
	}
	return tokens;
}

/** Reads a string or a string list at `i`; returns the values and the index after them. */
function stringsAt(tokens: Token[], i: number): { values: string[]; next: number } | undefined {
	const t = tokens[i];
	if (t?.type === 'string') return { values: [t.value], next: i + 1 };
	if (t?.type !== 'special' || t.value !== '[') return undefined;
	const values: string[] = [];
	let j = i + 1;
	while (j < tokens.length) {
		const u = tokens[j];
		if (u.type === 'string') values.push(u.value);
		else if (u.type === 'special' && u.value === ']') return { values, next: j + 1 };
		else if (!(u.type === 'special' && u.value === ',')) return undefined;
		j++;
	}
	return undefined;
}

/** Whether a script was written by this package (its first line is the marker). */
export function isOwnScript(script: string): boolean {
	return script.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0].trim() === MARKER;
}

/** The extensions a script's require commands name, lower case. */
export function requiredBy(script: string): string[] {
	let tokens: Token[];
	try {
		tokens = tokenizeSieve(script);
	} catch {
		// Not parseable here: look for the words themselves.
		const m = script.match(/require\s*(\[[^\]]*\]|"[^"]*")/gi) ?? [];
		return m.flatMap((r) => [...r.matchAll(/"([^"]*)"/g)].map((x) => x[1].toLowerCase()));
	}
	const out: string[] = [];
	tokens.forEach((t, i) => {
		if (t.type === 'identifier' && t.value === 'require') out.push(...(stringsAt(tokens, i + 1)?.values ?? []).map((v) => v.toLowerCase()));
	});
	return out;
}

/**
 * The settings of a script this package wrote (see {@link isOwnScript}); undefined for any other
 * script. Reads the commands themselves, so the result is what the server will do.
 */
export function parseVacationScript(script: string): VacationScript | undefined {
	if (!isOwnScript(script)) return undefined;
	let tokens: Token[];
	try {
		tokens = tokenizeSieve(script);
	} catch {
		return undefined;
	}
	const result: VacationScript = { text: '', days: DEFAULT_DAYS, addresses: [] };
	let found = false;
	for (let i = 0; i < tokens.length; i++) {
		const t = tokens[i];
		if (t.type !== 'identifier') continue;
		if (t.value === 'vacation') {
			found = true;
			let j = i + 1;
			while (j < tokens.length && !(tokens[j].type === 'special' && tokens[j].value === ';')) {
				const u = tokens[j];
				if (u.type === 'tag') {
					const arg = tokens[j + 1];
					if (u.value === 'days' && arg?.type === 'number') {
						result.days = arg.value;
						j += 2;
						continue;
					}
					const strings = stringsAt(tokens, j + 1);
					if (strings && ['subject', 'from', 'addresses', 'handle', 'fcc'].includes(u.value)) {
						if (u.value === 'subject') result.subject = strings.values[0];
						if (u.value === 'from') result.from = strings.values[0];
						if (u.value === 'addresses') result.addresses = strings.values;
						j = strings.next;
						continue;
					}
					j++;
					continue;
				}
				if (u.type === 'string') result.text = u.value;
				j++;
			}
			i = j;
		} else if (t.value === 'currentdate') {
			// currentdate :zone "+0000" :value "ge"|"lt" "iso8601" "<stamp>"
			let j = i + 1;
			let relation: string | undefined;
			const strings: string[] = [];
			while (j < tokens.length && strings.length < 2) {
				const u = tokens[j];
				if (u.type === 'tag' && (u.value === 'zone' || u.value === 'comparator')) j += 2;
				else if (u.type === 'tag' && u.value === 'value' && tokens[j + 1]?.type === 'string') {
					relation = (tokens[j + 1] as { value: string }).value.toLowerCase();
					j += 2;
				} else if (u.type === 'string') {
					strings.push(u.value);
					j++;
				} else break;
			}
			if (strings[0]?.toLowerCase() === 'iso8601' && strings[1]) {
				const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(strings[1]) ? strings[1] : `${strings[1]}Z`);
				if (!Number.isNaN(date.getTime())) {
					if (relation === 'ge') result.start = date;
					if (relation === 'lt') result.end = date;
				}
			}
			i = j - 1;
		} else if (t.value === 'include') {
			let j = i + 1;
			while (tokens[j]?.type === 'tag') j++;
			if (tokens[j]?.type === 'string') result.includeScript = (tokens[j] as { value: string }).value;
			i = j;
		}
	}
	if (!found) return undefined;
	result.text = result.text.replace(/\r\n/g, '\n');
	return result;
}

/**
 * A date the user entered as a moment: ISO 8601 with a zone ("Z", "+02:00") as given; without a
 * zone ("2026-03-01T08:00:00", "2026-03-01") as wall-clock time in `timeZone` (an IANA name such
 * as "Europe/Berlin", n8n's workflow time zone). Returns undefined for an empty value; an
 * invalid one gives an invalid Date (checkVacationSettings reports it).
 */
export function parseMoment(value: unknown, timeZone = 'UTC'): Date | undefined {
	if (value === undefined || value === null || value === '') return undefined;
	if (value instanceof Date) return value;
	if (typeof value === 'object' && typeof (value as { toISO?: unknown }).toISO === 'function') {
		return new Date(String((value as { toISO: () => string }).toISO()));
	}
	const text = String(value).trim();
	if (!text) return undefined;
	const local = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?)?$/.exec(text);
	if (!local) return new Date(text);
	const [, y, mo, d, h = '0', mi = '0', sec = '0', ms = '0'] = local;
	const wall = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), Number(ms.padEnd(3, '0')));
	// The zone's offset at that moment; twice, so a time next to a DST change settles.
	let guess = wall - zoneOffsetMs(wall, timeZone);
	guess = wall - zoneOffsetMs(guess, timeZone);
	return new Date(guess);
}

/** How far `timeZone`'s wall clock is ahead of UTC at `epochMs`. */
function zoneOffsetMs(epochMs: number, timeZone: string): number {
	let parts: Intl.DateTimeFormatPart[];
	try {
		parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(new Date(epochMs));
	} catch {
		return 0;
	}
	const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
	const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
	return asUtc - Math.floor(epochMs / 1000) * 1000;
}
