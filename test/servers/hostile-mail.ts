/**
 * Hostile mail, deterministic from a seed: messages built to make a parser slow or hungry, each
 * of a requested size, so that parsing time and memory can be compared across sizes.
 *
 * One function per kind, each taking the target size in bytes (and a seed, default 42) and giving
 * the raw message (RFC 5322, CRLF line ends). The same kind, size and seed always give the same
 * bytes, and the message is exactly the size asked for (a filler at the end of each takes up the
 * last bytes), for any size from {@link MIN_HOSTILE_BYTES} on. Every message has From, To,
 * Subject, Date and a Message-ID naming its kind, size and seed
 * (`<hostile-longLine-1048576-42@example.test>`).
 *
 * - deepNesting: multipart/mixed nested in multipart/mixed {@link DEEP_LEVELS} levels deep, with
 *   a text part at the bottom whose lines look like delimiter lines (`--` and the boundaries'
 *   prefix) without being one. A third parameter sets another depth.
 * - manyHeaders: header lines of 18 or 19 bytes (over 110,000 in 2 MiB), unique names and
 *   `Received` repeated, then a short body.
 * - longLine: a text/plain body that is one line of the whole size.
 * - scriptFlood: an HTML-only body of `<script` repeated, never closed, after one paragraph.
 * - addressFlood: a To: of addresses whose display names open quotes, comments and angle brackets
 *   they never close, and a Cc: of one address behind a flood of UTF-8 encoded-words (every
 *   seventh without its closing `?=`); half the size each.
 * - manyAttachments: thousands of tiny base64 attachments (about 190 bytes each).
 * - brokenBase64: one base64 attachment with characters outside the alphabet, lines of any
 *   length, padding in the middle and too much or none at the end.
 * - bidiNames: a From: and a To: (half the size) of display names, and attachments (about 3 KiB
 *   each) of file names, that hide what they are behind U+202E and its kin (the names as
 *   encoded-words, the file names also as RFC 2231 parameters).
 */
import { Random } from './mailgen';

export const HOSTILE_KINDS = ['deepNesting', 'manyHeaders', 'longLine', 'scriptFlood', 'addressFlood', 'manyAttachments', 'brokenBase64', 'bidiNames'] as const;
export type HostileKind = (typeof HOSTILE_KINDS)[number];

/** deepNesting's levels: deeper than any real mail, and within the 1,000 MIME parts the parser reads. */
export const DEEP_LEVELS = 900;
/** The smallest size every kind can be made in. */
export const MIN_HOSTILE_BYTES = 16 * 1024;
/** The text of the paragraph before scriptFlood's flood (the text a reader gets from the HTML). */
export const SCRIPT_FLOOD_TEXT = 'Hostile markup: script tags that never close.';
/** The text part of the multipart kinds (deepNesting: at the bottom). */
export const HOSTILE_TEXT = 'This message was made to be hard to read.';

const CRLF = '\r\n';
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** Bidirectional controls: RLO, LRO, RLE, RLM, ALM and the isolates. */
const BIDI = ['\u202e', '\u202d', '\u202b', '\u200f', '\u061c', '\u2066', '\u2067', '\u2068', '\u2069'];

function letters(random: Random, n: number): string {
	let out = '';
	for (let i = 0; i < n; i++) out += LETTERS[random.int(0, 25)];
	return out;
}

function pad(n: number, width = 6): string {
	return String(n).padStart(width, '0');
}

function b64(text: string): string {
	return Buffer.from(text, 'utf8').toString('base64');
}

/**
 * `n` bytes of lowercase words, repeated from a 64 KiB pattern (fast at 10 MB): lines of
 * `width` bytes with CRLF, or, with width 0, one line of words without any line break.
 */
function filler(random: Random, n: number, width: number): Buffer {
	let pattern = '';
	while (pattern.length < 64 * 1024) {
		let line = '';
		while (line.length < (width || 64 * 1024)) line += `${letters(random, random.int(2, 9))} `;
		pattern += width ? `${line.slice(0, width - 2)}${CRLF}` : line;
	}
	const out = Buffer.alloc(n);
	if (n) out.fill(pattern, 'latin1');
	return out;
}

function checkSize(bytes: number): void {
	if (!Number.isInteger(bytes) || bytes < MIN_HOSTILE_BYTES) throw new Error(`hostile mail: a size of at least ${MIN_HOSTILE_BYTES} bytes is needed, not ${bytes}`);
}

/** The common header lines, each with its CRLF (the blank line after them is not included). */
function topHeaders(kind: HostileKind, bytes: number, seed: number, extra: { from?: string; to?: string; contentType?: string; more?: string[] } = {}): string {
	return [
		`From: ${extra.from ?? '"Hostile Sender" <hostile@example.test>'}`,
		`To: ${extra.to ?? 'alice@example.test'}`,
		`Subject: Hostile mail: ${kind}, ${bytes} bytes`,
		`Message-ID: <hostile-${kind}-${bytes}-${seed}@example.test>`,
		'Date: Tue, 24 Nov 2026 10:00:00 +0100',
		'MIME-Version: 1.0',
		...(extra.contentType ? [`Content-Type: ${extra.contentType}`] : []),
		...(extra.more ?? []),
	]
		.map((line) => line + CRLF)
		.join('');
}

/** Units from `unit(i)` for as long as they fit into `budget` bytes. */
function repeated(budget: number, unit: (i: number) => string): { text: string; size: number; count: number } {
	const parts: string[] = [];
	let size = 0;
	for (let i = 0; ; i++) {
		const u = unit(i);
		const length = Buffer.byteLength(u);
		if (size + length > budget) return { text: parts.join(''), size, count: i };
		parts.push(u);
		size += length;
	}
}

/** `before`, the filler, `after`: exactly `bytes` long. */
function exact(bytes: number, before: string, after: string, fill: (n: number) => Buffer): Buffer {
	const head = Buffer.from(before, 'utf8');
	const tail = Buffer.from(after, 'utf8');
	const left = bytes - head.length - tail.length;
	if (left < 0) throw new Error(`hostile mail: ${bytes} bytes is too small for this kind`);
	const middle = fill(left);
	// a filler cut after the CR of a line end would leave a bare CR
	if (middle.length && middle[middle.length - 1] === 0x0d) middle[middle.length - 1] = 0x78;
	return Buffer.concat([head, middle, tail], bytes);
}

/**
 * multipart/mixed nested `levels` deep (fewer when the size does not allow as many), a text part
 * at the bottom whose lines start like delimiter lines (`--` and the boundaries' common prefix)
 * without being one: a parser that checks a line against every enclosing boundary does the most
 * work on these.
 */
export function deepNesting(bytes: number, seed = 42, levels = DEEP_LEVELS): Buffer {
	checkSize(bytes);
	const random = new Random(seed, bytes, 1);
	const tag = letters(random, 4);
	const boundary = (i: number) => `${tag}${pad(i)}`;
	const open = (i: number) => `--${boundary(i)}${CRLF}Content-Type: multipart/mixed; boundary="${boundary(i + 1)}"${CRLF}${CRLF}`;
	const close = (i: number) => `${CRLF}--${boundary(i)}--`;
	const head = `${topHeaders('deepNesting', bytes, seed, { contentType: `multipart/mixed; boundary="${boundary(0)}"` })}${CRLF}`;
	const bottom = (depth: number) => `--${boundary(depth)}${CRLF}Content-Type: text/plain; charset=us-ascii${CRLF}${CRLF}${HOSTILE_TEXT}${CRLF}`;
	// every level costs the same (the boundaries have a fixed width): one opening and one closing
	const perLevel = open(0).length + close(1).length;
	const fixed = head.length + bottom(0).length + close(0).length + CRLF.length;
	const depth = Math.min(levels, Math.floor((bytes - fixed) / perLevel));
	let before = head;
	for (let i = 0; i < depth; i++) before += open(i);
	before += bottom(depth);
	let after = '';
	for (let i = depth; i >= 0; i--) after += close(i);
	// `--abcd12345x`: the boundaries' prefix, then a character none of them has
	const lookalike = `--${tag}${'1'.repeat(5)}x${CRLF}`;
	return exact(bytes, before, after + CRLF, (n) => Buffer.from(lookalike.repeat(Math.ceil(n / lookalike.length)).slice(0, n), 'latin1'));
}

/** Header lines of 18 or 19 bytes until the size is nearly reached, then a short body. */
export function manyHeaders(bytes: number, seed = 42): Buffer {
	checkSize(bytes);
	const random = new Random(seed, bytes, 2);
	const head = topHeaders('manyHeaders', bytes, seed, { contentType: 'text/plain; charset=us-ascii' });
	const body = `${CRLF}${HOSTILE_TEXT}${CRLF}`;
	// unique names and one name repeated, alternating: `X-F0001a: abcdef`, `Received: h000001`
	const lines = repeated(bytes - head.length - body.length - 100, (i) => (i % 2 ? `Received: h${pad(i)}${CRLF}` : `X-F${i.toString(36).padStart(5, '0')}: ${letters(random, 6)}${CRLF}`));
	return exact(bytes, head + lines.text + body, CRLF, (n) => filler(random, n, 76));
}

/** A text/plain body that is a single line of words of the whole size. */
export function longLine(bytes: number, seed = 42): Buffer {
	checkSize(bytes);
	const random = new Random(seed, bytes, 3);
	const head = `${topHeaders('longLine', bytes, seed, { contentType: 'text/plain; charset=us-ascii', more: ['Content-Transfer-Encoding: 7bit'] })}${CRLF}`;
	return exact(bytes, head, CRLF, (n) => filler(random, n, 0));
}

/** An HTML-only body: one paragraph, then `<script` repeated in several spellings, never closed. */
export function scriptFlood(bytes: number, seed = 42): Buffer {
	checkSize(bytes);
	const random = new Random(seed, bytes, 4);
	const head = `${topHeaders('scriptFlood', bytes, seed, { contentType: 'text/html; charset=utf-8' })}${CRLF}<!DOCTYPE html><html><body><p>${SCRIPT_FLOOD_TEXT}</p>${CRLF}`;
	const spellings = ['<script ', '<script', '<SCRIPT src="', "<script type='text/javascript' ", '<script\t'];
	const flood = repeated(bytes - head.length - 200, () => {
		let line = '';
		while (line.length < 70) line += spellings[random.int(0, spellings.length - 1)];
		return line + CRLF;
	});
	return exact(bytes, head + flood.text, CRLF, (n) => Buffer.from('<script '.repeat(Math.ceil(n / 8)).slice(0, n), 'latin1'));
}

/**
 * To: addresses with unbalanced quotes, comments and brackets; Cc: one address behind a flood of
 * encoded-words (one in seven unterminated). Folded at about 76 bytes; a text body fills the rest.
 */
export function addressFlood(bytes: number, seed = 42): Buffer {
	checkSize(bytes);
	const random = new Random(seed, bytes, 5);
	// raw 8-bit bytes stay out (Mueller, not Müller): this kind is about quotes, not charsets
	const unbalanced = [
		(i: number) => `"Mueller, Anna <anna.${i}@example.test>,`,
		(i: number) => `Bob (the builder <bob.${i}@example.test>,`,
		(i: number) => `<<carol.${i}@example.test>,`,
		(i: number) => `=?utf-8?B?${b64(`Zoë "${letters(random, 5)}`)}?= <zoe.${i}@example.test>,`,
		(i: number) => `"Dan\\" <dan.${i}@example.test>>,`,
		(i: number) => `Eve" <eve.${i}@example.test>;`,
	];
	const to = repeated(Math.floor(bytes / 2) - 500, (i) => `${CRLF} ${unbalanced[i % unbalanced.length](i)}`);
	const words = ['Grüße', 'Übersicht', '日本語', 'Привет', '“quoted”', '✓', 'café', '"', '<', ','];
	const cc = repeated(bytes - to.size - 1500, (i) => `${CRLF} =?utf-8?B?${b64(words[i % words.length] + letters(random, 3))}${i % 7 === 6 ? '' : '?='}`);
	const head = topHeaders('addressFlood', bytes, seed, { to: `first.reader@example.test,${to.text}`, contentType: 'text/plain; charset=us-ascii', more: [`Cc:${cc.text} <cc.flood@example.test>`] });
	return exact(bytes, `${head}${CRLF}${HOSTILE_TEXT}${CRLF}`, CRLF, (n) => filler(random, n, 76));
}

/** multipart/mixed: a text part and tiny base64 attachments for as many as fit. */
export function manyAttachments(bytes: number, seed = 42): Buffer {
	checkSize(bytes);
	const random = new Random(seed, bytes, 6);
	const boundary = `many-${letters(random, 8)}`;
	const head = `${topHeaders('manyAttachments', bytes, seed, { contentType: `multipart/mixed; boundary="${boundary}"` })}${CRLF}--${boundary}${CRLF}Content-Type: text/plain; charset=us-ascii${CRLF}${CRLF}${HOSTILE_TEXT}${CRLF}`;
	const types = [
		['application/octet-stream', 'bin'],
		['text/plain', 'txt'],
		['image/png', 'png'],
		['application/pdf', 'pdf'],
	];
	const parts = repeated(bytes - head.length - 400, (i) => {
		const [type, ext] = types[i % types.length];
		const name = `file-${pad(i + 1)}.${ext}`;
		const content = Buffer.from(letters(random, 12 + (i % 5)), 'latin1').toString('base64');
		return `--${boundary}${CRLF}Content-Type: ${type}; name="${name}"${CRLF}Content-Disposition: attachment; filename="${name}"${CRLF}Content-Transfer-Encoding: base64${CRLF}${CRLF}${content}${CRLF}`;
	});
	// the filler is the text of a last text part
	const last = `--${boundary}${CRLF}Content-Type: text/plain; charset=us-ascii${CRLF}${CRLF}`;
	return exact(bytes, head + parts.text + last, `${CRLF}--${boundary}--${CRLF}`, (n) => filler(random, n, 76));
}

/** One base64 attachment whose encoding is broken in every way a decoder meets. */
export function brokenBase64(bytes: number, seed = 42): Buffer {
	checkSize(bytes);
	const random = new Random(seed, bytes, 7);
	const boundary = `b64-${letters(random, 8)}`;
	const head =
		`${topHeaders('brokenBase64', bytes, seed, { contentType: `multipart/mixed; boundary="${boundary}"` })}${CRLF}` +
		`--${boundary}${CRLF}Content-Type: text/plain; charset=us-ascii${CRLF}${CRLF}${HOSTILE_TEXT}${CRLF}` +
		`--${boundary}${CRLF}Content-Type: application/pdf; name="broken.pdf"${CRLF}Content-Disposition: attachment; filename="broken.pdf"${CRLF}Content-Transfer-Encoding: base64${CRLF}${CRLF}` +
		`JVBERi0xLjcK${CRLF}`;
	const junk = ['!', '*', '.', '-', '_', ' ', '\t', '=', '==', '===', '%', '~', '"', '\\'];
	const lines = repeated(bytes - head.length - 200, (i) => {
		// a line of 1..120 alphabet characters (rarely a multiple of 4) with junk dropped in
		let line = '';
		const length = random.int(1, 120);
		for (let k = 0; k < length; k++) {
			line += random.chance(0.06) ? junk[random.int(0, junk.length - 1)] : BASE64[random.int(0, 63)];
		}
		if (i % 11 === 5) line += '====';
		return line + CRLF;
	});
	// the last line: alphabet characters to the end, without padding
	return exact(bytes, head + lines.text, `${CRLF}--${boundary}--${CRLF}`, (n) => Buffer.from('QUJD'.repeat(Math.ceil(n / 4)).slice(0, n), 'latin1'));
}

/**
 * File and display names that hide what they are behind bidirectional controls: a To: of such
 * display names (half the size), then attachments named so (about 3 KiB each).
 */
export function bidiNames(bytes: number, seed = 42): Buffer {
	checkSize(bytes);
	const random = new Random(seed, bytes, 8);
	const boundary = `bidi-${letters(random, 8)}`;
	const ew = (text: string) => `=?utf-8?B?${b64(text)}?=`;
	const display = (i: number) => `${ew(`${BIDI[i % BIDI.length]}Support ${BIDI[(i + 3) % BIDI.length]}gnp.exe`)} <support.${i}@example.test>`;
	const to = repeated(Math.floor(bytes / 2), (i) => `${i ? ',' : ''}${CRLF} ${display(i)}`);
	const head =
		`${topHeaders('bidiNames', bytes, seed, { from: display(0), to: to.text.slice(CRLF.length + 1), contentType: `multipart/mixed; boundary="${boundary}"` })}${CRLF}` +
		`--${boundary}${CRLF}Content-Type: text/plain; charset=us-ascii${CRLF}${CRLF}${HOSTILE_TEXT}${CRLF}`;
	// the same content for every attachment: an "MZ" header, then base64 lines
	const content = `TVqQAAMAAAAEAAAA${CRLF}${filler(random, 40 * 78, 78).toString('latin1').replace(/[^a-z\r\n]/g, 'A')}`;
	const parts = repeated(bytes - Buffer.byteLength(head) - 400, (i) => {
		const name = `invoice-${pad(i + 1)}${BIDI[i % BIDI.length]}fdp.exe`;
		const disposition = i % 2 ? `filename*=utf-8''${encodeURIComponent(name)}` : `filename="${ew(name)}"`;
		return `--${boundary}${CRLF}Content-Type: application/octet-stream; name="${ew(name)}"${CRLF}Content-Disposition: attachment; ${disposition}${CRLF}Content-Transfer-Encoding: base64${CRLF}${CRLF}${content}`;
	});
	const last = `--${boundary}${CRLF}Content-Type: text/plain; charset=us-ascii${CRLF}${CRLF}`;
	return exact(bytes, head + parts.text + last, `${CRLF}--${boundary}--${CRLF}`, (n) => filler(random, n, 76));
}

export const HOSTILE: Record<HostileKind, (bytes: number, seed?: number) => Buffer> = { deepNesting, manyHeaders, longLine, scriptFlood, addressFlood, manyAttachments, brokenBase64, bidiNames };

/** A hostile message of `kind`, exactly `bytes` long. */
export function hostileMessage(kind: HostileKind, bytes: number, seed = 42): Buffer {
	return HOSTILE[kind](bytes, seed);
}
