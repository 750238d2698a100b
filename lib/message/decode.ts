/**
 * Lenient decoding of header text: raw 8-bit bytes and RFC 2047 encoded-words in any charset the
 * platform's TextDecoder knows (WHATWG labels, including the Japanese, Chinese and Korean ones).
 * Nothing here throws: what cannot be decoded exactly is decoded as well as possible and a
 * warning says so.
 */

export type Warn = (message: string) => void;

const noWarn: Warn = () => undefined;

const decoders = new Map<string, Decoder | null>();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Windows-1252's characters at 0x80-0x9F (Node 20's TextDecoder drops them); the rest is Latin-1. */
const CP1252_HIGH = '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

/** Windows-1252, which WHATWG also uses for the labels ISO-8859-1, Latin-1 and US-ASCII. */
function decodeWindows1252(bytes: Uint8Array): string {
	const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
	return /[\x80-\x9f]/.test(text) ? text.replace(/[\x80-\x9f]/g, (c) => CP1252_HIGH[c.charCodeAt(0) - 0x80]) : text;
}

interface Decoder {
	decode(bytes: Uint8Array): string;
	/** Stateful (ISO-2022): adjacent encoded-words are decoded one by one, not joined as bytes. */
	stateful: boolean;
}

/** UTF-7 would turn `+ADw-script+AD4-` into markup; it is refused like an unknown charset. */
const REFUSED = /^(?:(?:cs)?unicode11)?utf7(?:imap)?$/;

function decoderFor(charset: string): Decoder | null {
	// RFC 2231 allows a language after the charset: `utf-8*de`.
	const label = charset.replace(/\*.*$/, '').trim().toLowerCase();
	let decoder = decoders.get(label);
	if (decoder !== undefined) return decoder;
	decoder = null;
	if (label && !REFUSED.test(label.replace(/[^a-z0-9]/g, ''))) {
		try {
			const textDecoder = new TextDecoder(label);
			const stateful = textDecoder.encoding.startsWith('iso-2022');
			decoder = textDecoder.encoding === 'windows-1252' ? { decode: decodeWindows1252, stateful } : { decode: (bytes) => textDecoder.decode(bytes), stateful };
		} catch {
			decoder = null;
		}
	}
	if (decoders.size < 256) decoders.set(label, decoder);
	return decoder;
}

/** Whether `charset` is one this decoder knows. */
export function isKnownCharset(charset: string): boolean {
	return decoderFor(charset) !== null;
}

/** Bytes of unknown charset: UTF-8 when they are valid UTF-8, otherwise Windows-1252 (a superset of Latin-1). */
export function decodeUnknown(bytes: Uint8Array): string {
	try {
		return strictUtf8.decode(bytes);
	} catch {
		return decodeWindows1252(bytes);
	}
}

/** Bytes in `charset`; an unknown charset is read as {@link decodeUnknown} and reported. */
export function decodeCharset(bytes: Uint8Array, charset: string, warn: Warn = noWarn): string {
	const decoder = decoderFor(charset);
	if (decoder) return decoder.decode(bytes);
	warn(`unknown charset "${charset}", read as UTF-8 or Windows-1252`);
	return decodeUnknown(bytes);
}

/** A header value held as a binary string (one char per byte): raw 8-bit bytes become text. */
export function fixEightBit(binary: string, warn: Warn = noWarn, where = 'header'): string {
	// eslint-disable-next-line no-control-regex
	if (!/[^\x00-\x7f]/.test(binary)) return binary;
	warn(`${where} contains raw 8-bit bytes (not MIME-encoded), read as UTF-8 or Windows-1252`);
	return decodeUnknown(Buffer.from(binary, 'latin1'));
}

const HEX = /^[0-9A-Fa-f]{2}$/;

function qBytes(text: string, warn: Warn): Buffer {
	const out: number[] = [];
	let bad = false;
	for (let i = 0; i < text.length; i++) {
		const c = text[i];
		if (c === '_') out.push(0x20);
		else if (c === '=' && HEX.test(text.slice(i + 1, i + 3))) {
			out.push(parseInt(text.slice(i + 1, i + 3), 16));
			i += 2;
		} else {
			if (c === '=') bad = true;
			const code = c.charCodeAt(0);
			if (code < 0x80) out.push(code);
			else out.push(...Buffer.from(c, 'utf8'));
		}
	}
	if (bad) warn('encoded-word with invalid Q encoding, kept as written');
	return Buffer.from(out);
}

function bBytes(text: string, warn: Warn): Buffer {
	if (/[^A-Za-z0-9+/=]/.test(text) || /=[^=]/.test(text)) warn('encoded-word with invalid base64, decoded what could be read');
	return Buffer.from(text.replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
}

// An encoded-word; the closing `?=` may be missing at the end of the value or before white space.
const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)(\?=|(?=\s|$))/g;

/**
 * Decodes the RFC 2047 encoded-words in `value` (already free of raw 8-bit bytes). White space
 * between two encoded-words is dropped; adjacent words in the same charset are joined as bytes
 * before decoding, so a character split across two words survives.
 */
export function decodeWords(value: string, warn: Warn = noWarn): string {
	if (!value.includes('=?')) return value;
	let out = '';
	let last = 0;
	let pending: { charset: string; bytes: Buffer[] } | undefined;
	const flush = () => {
		if (pending) out += decodeCharset(Buffer.concat(pending.bytes), pending.charset, warn);
		pending = undefined;
	};
	ENCODED_WORD.lastIndex = 0;
	for (let m = ENCODED_WORD.exec(value); m; m = ENCODED_WORD.exec(value)) {
		const between = value.slice(last, m.index);
		if (!(pending && /^\s*$/.test(between))) {
			flush();
			out += between;
		}
		if (m[4] !== '?=') warn('encoded-word without its closing "?="');
		const charset = m[1];
		const bytes = m[2].toUpperCase() === 'B' ? bBytes(m[3], warn) : qBytes(m[3], warn);
		if (pending && (pending.charset.toLowerCase() !== charset.toLowerCase() || decoderFor(charset)?.stateful)) flush();
		if (pending) pending.bytes.push(bytes);
		else pending = { charset, bytes: [bytes] };
		last = m.index + m[0].length;
	}
	flush();
	return out + value.slice(last);
}

/** A raw header value (binary string) as readable text: 8-bit bytes and encoded-words decoded. */
export function decodeHeaderValue(binary: string, warn: Warn = noWarn, where = 'header'): string {
	return decodeWords(fixEightBit(binary, warn, where), (message) => warn(`${where}: ${message}`));
}
