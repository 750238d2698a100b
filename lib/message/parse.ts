/**
 * A raw message (RFC 5322) to the fields a workflow works with, with mailparser's streaming
 * parser. Attachment content is collected once, straight from the parser's decoder, or not kept at
 * all; the message itself is never copied. Header text (subject, display names, every header
 * value) is decoded here, leniently: raw 8-bit bytes, encoded-words in charsets mailparser leaves
 * alone, broken encoded-words and unbalanced quotes come out readable, and each repair is named
 * in `parseWarnings`. Bad input never throws; only a failing source stream rejects.
 */
import type { Readable } from 'node:stream';
import { MailParser, type AttachmentStream, type HeaderLines, type Headers, type MessageText, type StructuredHeader } from 'mailparser';
import addressparser from 'nodemailer/lib/addressparser';
import { parseDeliveryStatus, type BounceReport } from './bounce';
import { decodeWords, fixEightBit, type Warn } from './decode';
import { attachmentType, SNIFF_BYTES } from './content-type';
import { cleanFilename, generatedName, hasBidiControls } from './filename';
import { findEmails } from './emails';
import { htmlToText } from './html';

export type { BounceRecipient, BounceReport } from './bounce';

export type MailAddress = { address: string; name: string };

/** An address header: every address with its display name, and the whole list as one line of text. */
export type AddressList = { value: MailAddress[]; text: string };

export type AttachmentInfo = {
	filename: string;
	/** The type the content is: the sender's, unless the content or a runnable extension says otherwise (see lib/message/content-type.ts). */
	contentType: string;
	/** The type the sender declared, only when contentType differs from it (parseWarnings says why). */
	declaredContentType?: string;
	/** Decoded size in bytes. */
	size: number;
	/** The Content-ID without angle brackets, as HTML refers to it (`cid:...`); null when there is none. */
	contentId: string | null;
	/** inline: shown in the body (an image referenced by the HTML); attachment: a file. */
	disposition: 'inline' | 'attachment';
	/** Hex digest of the content, with the `checksum` option only. */
	checksum?: string;
};

export type ParsedMessageJson = {
	from: AddressList;
	to: AddressList;
	cc: AddressList;
	bcc: AddressList;
	replyTo: AddressList;
	subject: string;
	/** ISO 8601, or null when the message has no readable Date header. */
	date: string | null;
	messageId: string | null;
	inReplyTo: string | null;
	references: string[];
	/** The plain text; generated from the HTML when the message has only HTML (option textFromHtml). */
	text: string | null;
	html: string | null;
	/** The text as HTML, with the textAsHtml option only. */
	textAsHtml?: string;
	/** Lower-case header name -> decoded value; a list for headers that occur more than once. */
	headers: Record<string, string | string[]>;
	priority: 'high' | 'normal' | 'low';
	attachments: AttachmentInfo[];
	/** A delivery status notification (multipart/report; report-type=delivery-status). */
	isBounce: boolean;
	/** The recipients and status codes of a bounce; null for other mail. */
	bounce: BounceReport | null;
	/** What was wrong with the message and how it was read anyway; empty for well-formed mail. */
	parseWarnings: string[];
};

export interface ParsedAttachment {
	filename: string;
	contentType: string;
	size: number;
	content: Buffer;
	contentId?: string;
	inline: boolean;
}

export interface ParsedMessage {
	json: ParsedMessageJson;
	/** The attachments' content in the order of json.attachments; empty unless includeAttachments. */
	attachments: ParsedAttachment[];
}

export interface ParseOptions {
	/** Keep attachment content (default true). False: metadata only, content is read and dropped. */
	includeAttachments?: boolean;
	/** Generate `text` from the HTML when the message has no plain text (default true). */
	textFromHtml?: boolean;
	/** Also produce `textAsHtml` (default false; it costs time). */
	textAsHtml?: boolean;
	/** Read only the header block (for mail too large to download, or when only headers were fetched). */
	headersOnly?: boolean;
	/** Digest for attachments' `checksum`, e.g. 'md5' or 'sha256' (default none). */
	checksum?: string | false;
	/** HTML longer than this is not converted to text (mailparser's maxHtmlLengthToParse). */
	maxHtmlLengthToParse?: number;
	/** In headersOnly mode, stop looking for the end of the header block after this many bytes (default 1 MiB). */
	maxHeaderBytes?: number;
}

/** How much of the end of the message is kept to check that the MIME structure was closed. */
const TAIL_BYTES = 64 * 1024;
/** Delivery-status reports are read for the bounce fields up to this size. */
const MAX_REPORT_BYTES = 1024 * 1024;
const MAX_WARNINGS = 50;
/**
 * The largest header block of one MIME part, in mailparser's splitter's measure (every line counts
 * as at least 64 bytes): 8 MiB is 131,072 short lines or 8 MB of long ones. Its own 1 MiB (16,384
 * short lines, or a To: of 1 MB) made it give up without reading a single header, so a sender could
 * hide the From and Subject of a message behind header lines. Reading them is linear in their
 * size; a bound stays because each line costs some hundred bytes of memory.
 */
const MAX_HEAD_SIZE = 8 * 1024 * 1024;
/**
 * The most MIME parts the splitter reads (its own default, stated here on purpose). Its work per
 * part, and per line starting with `--`, grows with the nesting depth, which only the number of
 * parts bounds: nested as deep as the size allows, 1 MB (12,700 levels) took 7 s and 2 MB (25,400)
 * 46 s. With 1,000 parts the worst found takes 1 to 2 s per MB (900 levels, then lines that look
 * like delimiters); a message with more parts is read up to there.
 */
const MAX_PARTS = 1000;

interface Collected {
	info: AttachmentStream;
	size: number;
	/** The first bytes, for what the content is (kept also when the content is not). */
	head?: Buffer;
	content?: Buffer;
	checksum?: string;
}

interface RawParse {
	headers?: Headers;
	headerLines?: HeaderLines;
	text?: MessageText;
	attachments: Collected[];
	tail: Buffer;
}

export async function parseMessage(source: Buffer | Readable, options: ParseOptions = {}): Promise<ParsedMessage> {
	const warnings: string[] = [];
	const warn: Warn = (message) => {
		if (warnings.length < MAX_WARNINGS && !warnings.includes(message)) warnings.push(message);
	};
	const input = options.headersOnly ? await headerBlock(source, options.maxHeaderBytes ?? 1024 * 1024, warn) : source;
	const raw = await runParser(input, options, warn);
	return assemble(raw, options, warn, warnings);
}

function isReport(contentType: string): boolean {
	return /^message\/(global-)?delivery-status$/i.test(contentType);
}

/** Feeds mailparser and collects what it emits. Resolves on its end or its first error (with what was read). */
function runParser(input: Buffer | Readable, options: ParseOptions, warn: Warn): Promise<RawParse> {
	const keepAll = options.includeAttachments !== false;
	return new Promise<RawParse>((resolve, reject) => {
		const result: RawParse = { attachments: [], tail: Buffer.alloc(0) };
		let settled = false;
		const settle = (error?: Error) => {
			if (settled) return;
			settled = true;
			if (error) reject(error);
			else resolve(result);
		};
		let parser: MailParser;
		try {
			parser = new MailParser({
				skipHtmlToText: options.textFromHtml === false,
				skipTextToHtml: !options.textAsHtml,
				skipImageLinks: true,
				keepDeliveryStatus: true,
				checksumAlgo: options.checksum || false,
				maxHeadSize: MAX_HEAD_SIZE,
				maxChildNodes: MAX_PARTS,
				...(options.maxHtmlLengthToParse !== undefined ? { maxHtmlLengthToParse: options.maxHtmlLengthToParse } : {}),
			});
		} catch (error) {
			warn(`the message could not be parsed: ${(error as Error).message}`);
			settle();
			return;
		}
		parser.on('headers', (headers: Headers) => {
			result.headers = headers;
		});
		parser.on('headerLines', (lines: HeaderLines) => {
			result.headerLines = lines;
		});
		parser.on('error', (error: Error & { code?: string }) => {
			if (error.code === 'EMAXLEN' && /child nodes/i.test(error.message)) {
				warn(`the message has more than ${MAX_PARTS} MIME parts and was read only up to there: its text and attachments may be missing`);
			} else if (error.code === 'EMAXLEN' && /header size/i.test(error.message)) {
				warn(`a header block of the message is larger than is read (${MAX_HEAD_SIZE / 64} short lines or ${MAX_HEAD_SIZE / 1024 / 1024} MiB); the message was read only up to there`);
			} else {
				warn(`the MIME structure could not be read to the end (${error.message}); what was read is kept`);
			}
			if (!Buffer.isBuffer(input)) {
				// The rest of the source is read and dropped, so that its connection is not left stalled.
				input.unpipe(parser);
				input.resume();
			}
			settle();
		});
		parser.on('end', () => settle());

		let reading = false;
		const read = (): void => {
			reading = true;
			for (;;) {
				if (settled) return;
				const data = parser.read();
				if (data === null) {
					reading = false;
					return;
				}
				if (data.type === 'text') {
					result.text = data;
					continue;
				}
				collect(data, () => read());
				return;
			}
		};
		const collect = (attachment: AttachmentStream, next: () => void) => {
			const report = isReport(attachment.contentType);
			const keep = keepAll || report;
			const entry: Collected = { info: attachment, size: 0 };
			const chunks: Buffer[] = [];
			let kept = 0;
			let done = false;
			const finish = () => {
				if (done) return;
				done = true;
				if (keep) entry.content = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, kept);
				entry.checksum = attachment.checksum;
				result.attachments.push(entry);
				attachment.release?.();
				next();
			};
			attachment.content.on('data', (chunk: Buffer) => {
				if (entry.size < SNIFF_BYTES) entry.head = entry.head ? Buffer.concat([entry.head, chunk.subarray(0, SNIFF_BYTES - entry.size)]) : Buffer.from(chunk.subarray(0, SNIFF_BYTES));
				entry.size += chunk.length;
				if (keep && (!report || keepAll || kept + chunk.length <= MAX_REPORT_BYTES)) {
					chunks.push(chunk);
					kept += chunk.length;
				}
			});
			attachment.content.once('end', finish);
			attachment.content.once('error', (error: Error) => {
				warn(`an attachment could not be decoded completely (${error.message})`);
				finish();
			});
		};
		parser.on('readable', () => {
			if (!reading) read();
		});

		if (Buffer.isBuffer(input)) {
			result.tail = input.subarray(Math.max(0, input.length - TAIL_BYTES));
			parser.end(input);
		} else {
			input.on('data', (chunk: Buffer) => {
				result.tail = chunk.length >= TAIL_BYTES ? chunk.subarray(chunk.length - TAIL_BYTES) : Buffer.concat([result.tail, chunk]).subarray(-TAIL_BYTES);
			});
			input.once('error', (error: Error) => {
				parser.destroy();
				settle(error);
			});
			input.pipe(parser);
		}
	});
}

/** The header block of the source (up to and including the blank line); the rest is read and dropped. */
function headerBlock(source: Buffer | Readable, maxBytes: number, warn: Warn): Promise<Buffer> {
	const cut = (buffer: Buffer): Buffer | undefined => {
		const crlf = buffer.indexOf('\r\n\r\n');
		const lf = buffer.indexOf('\n\n');
		if (crlf < 0 && lf < 0) return undefined;
		return crlf >= 0 && (lf < 0 || crlf < lf) ? buffer.subarray(0, crlf + 4) : buffer.subarray(0, lf + 2);
	};
	const complete = (buffer: Buffer): Buffer => {
		const block = cut(buffer);
		if (block) return block;
		if (buffer.length >= maxBytes) warn(`no end of the header block within ${maxBytes} bytes; the headers are read up to there`);
		return Buffer.concat([buffer, Buffer.from('\r\n\r\n')]);
	};
	if (Buffer.isBuffer(source)) return Promise.resolve(complete(source.subarray(0, maxBytes)));
	return new Promise<Buffer>((resolve, reject) => {
		const chunks: Buffer[] = [];
		let length = 0;
		let found = false;
		const done = () => {
			if (found) return;
			found = true;
			resolve(complete(Buffer.concat(chunks, length).subarray(0, maxBytes)));
		};
		source.on('data', (chunk: Buffer) => {
			if (found) return;
			chunks.push(chunk);
			length += chunk.length;
			// Only the newest chunk (with a few bytes before it) can hold the blank line.
			const look = Buffer.concat(chunks.length > 1 ? [chunks[chunks.length - 2].subarray(-3), chunk] : [chunk]);
			if (look.includes('\n\n') || look.includes('\r\n\r\n') || length >= maxBytes) done();
		});
		source.once('end', done);
		source.once('error', (error: Error) => {
			if (!found) {
				found = true;
				reject(error);
			}
		});
	});
}

// --- from what mailparser emitted to the item ------------------------------------------------

const SINGLE = new Set(['from', 'sender', 'reply-to', 'subject', 'date', 'message-id', 'in-reply-to', 'references', 'content-type', 'content-transfer-encoding', 'mime-version']);
const GARBLED_ADDRESS = /["<>\s()]/;

/** Header name -> its values with raw 8-bit bytes decoded (encoded-words still in place), in order. */
function headerValues(lines: HeaderLines, warn: Warn): Map<string, string[]> {
	const values = new Map<string, string[]>();
	for (const { key, line } of lines) {
		const colon = line.indexOf(':');
		if (!key || colon < 0) {
			warn('a header line without a colon was skipped');
			continue;
		}
		// (only what is needed is made: a message may have 100,000 header lines)
		let value = line.slice(colon + 1);
		if (value.includes('\n')) value = value.replace(/\r?\n(?=[ \t])/g, '');
		// eslint-disable-next-line no-control-regex
		if (/[^\x00-\x7f]/.test(value)) value = fixEightBit(value, warn, line.slice(0, colon).trim());
		value = value.trim();
		const list = values.get(key);
		if (list) list.push(value);
		else values.set(key, [value]);
	}
	for (const [key, list] of values) if (list.length > 1 && SINGLE.has(key)) warn(`the ${key} header occurs ${list.length} times; the first one is used`);
	return values;
}

function quoteName(name: string): string {
	return /[",;:<>@()[\]\\]/.test(name) ? `"${name.replace(/(["\\])/g, '\\$1')}"` : name;
}

function addressText(list: MailAddress[]): string {
	return list.map((a) => (a.name ? (a.address ? `${quoteName(a.name)} <${a.address}>` : a.name) : a.address)).join(', ');
}

/** Addresses of a header whose quotes or brackets are unbalanced: every address found, the text before it as the name. */
function recoverAddresses(value: string): MailAddress[] {
	const out: MailAddress[] = [];
	let last = 0;
	for (const m of findEmails(value)) {
		const before = value.slice(last, m.index).split(/[,;]/).pop() ?? '';
		out.push({ address: m.address, name: before.replace(/["<>()]/g, ' ').replace(/\s+/g, ' ').trim() });
		last = m.index + m.address.length;
	}
	return out;
}

function addressList(values: string[] | undefined, which: string, warn: Warn): AddressList {
	if (!values?.length) return { value: [], text: '' };
	const where = (message: string) => warn(`${which}: ${message}`);
	const list: MailAddress[] = [];
	for (const value of SINGLE.has(which) ? values.slice(0, 1) : values) {
		let parsed: MailAddress[];
		try {
			parsed = addressparser(value, { flatten: true }).map((a) => ({ address: a.address ?? '', name: decodeWords(a.name ?? '', where).trim() }));
		} catch {
			parsed = [];
		}
		if (parsed.some((a) => GARBLED_ADDRESS.test(a.address))) {
			const recovered = recoverAddresses(decodeWords(value));
			if (recovered.length) {
				where('unbalanced quotes or brackets; the addresses were read from the text');
				parsed = recovered;
			}
		}
		list.push(...parsed.filter((a) => a.address || a.name));
	}
	return { value: list, text: addressText(list) };
}

function first(headers: Headers | undefined, key: string): string | null {
	const value = headers?.get(key);
	if (typeof value === 'string') return value;
	if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
	return null;
}

/** "attachments 1, 2, 3, 4, 5 and 12 more" */
function attachmentList(numbers: number[]): string {
	const shown = numbers.slice(0, 5).join(', ');
	return numbers.length > 5 ? `attachments ${shown} and ${numbers.length - 5} more` : `attachments ${shown}`;
}

function assemble(raw: RawParse, options: ParseOptions, warn: Warn, warnings: string[]): ParsedMessage {
	if (!raw.headerLines) warn('no message headers could be read');
	const values = headerValues(raw.headerLines ?? [], warn);
	const headers: Record<string, string | string[]> = {};
	for (const [key, list] of values) {
		const decode = (v: string) => (v.includes('=?') ? decodeWords(v, (m) => warn(`${key}: ${m}`)) : v);
		// defined, not assigned: a sender's "__proto__" header is a header like any other
		Object.defineProperty(headers, key, { value: list.length === 1 ? decode(list[0]) : list.map(decode), enumerable: true, writable: true, configurable: true });
	}
	const one = (key: string): string | undefined => {
		const v = headers[key];
		return Array.isArray(v) ? v[0] : v;
	};

	let date: string | null = null;
	const dateHeader = one('date');
	if (dateHeader) {
		const parsed = new Date(dateHeader.replace(/\s*\([^)]*\)\s*$/, ''));
		if (Number.isNaN(parsed.getTime())) warn(`the Date header "${dateHeader}" is not a date`);
		else date = parsed.toISOString();
	}

	const references = raw.headers?.get('references');
	const contentType = raw.headers?.get('content-type') as StructuredHeader | undefined;
	const isBounce = contentType?.value === 'multipart/report' && /^delivery-status$/i.test(contentType.params?.['report-type'] ?? '');
	const rootBoundary = contentType?.value?.startsWith('multipart/') ? contentType.params?.boundary : undefined;
	if (rootBoundary && !options.headersOnly && !raw.tail.includes(`--${rootBoundary}--`)) warn('the message ends without its closing MIME boundary (it may be cut off)');

	const text = raw.text;
	if (text?.textConversionError) warn(`the HTML could not be converted to text (${text.textConversionError.message})`);
	const html = typeof text?.html === 'string' ? text.html : null;
	let plain: string | null = typeof text?.text === 'string' ? text.text : null;
	if ((plain === null || (plain === '' && !text?.textConversionError)) && html !== null && options.textFromHtml !== false) plain = htmlToText(html);

	const keep = options.includeAttachments !== false;
	const attachments: AttachmentInfo[] = [];
	const contents: ParsedAttachment[] = [];
	let bounce: BounceReport | null = null;
	// attachments with the same trouble in one warning each, so that thousands do not crowd out the rest
	const bidiNames: number[] = [];
	/** Attachments whose type was corrected, by the reason: one warning per reason, however many there are. */
	const retyped = new Map<string, Array<{ number: number; filename: string }>>();
	const undecodableNames: number[] = [];
	raw.attachments.forEach((entry, k) => {
		const a = entry.info;
		const given = a.filename ? decodeWords(a.filename, (m) => warn(`attachment ${k + 1} file name: ${m}`)) : '';
		if (hasBidiControls(given)) bidiNames.push(k + 1);
		let filename = given ? cleanFilename(given) : '';
		if (filename.includes('\ufffd')) undecodableNames.push(k + 1);
		if (!filename) filename = generatedName(a.contentType, k + 1);
		const inline = a.contentDisposition === 'inline' || (a.contentDisposition !== 'attachment' && a.related === true);
		const contentId = a.cid || null;
		const type = attachmentType(a.contentType, filename, entry.head);
		if (type.warning) retyped.set(type.warning, [...(retyped.get(type.warning) ?? []), { number: k + 1, filename }]);
		const declared = type.contentType !== a.contentType ? { declaredContentType: a.contentType } : {};
		attachments.push({ filename, contentType: type.contentType, ...declared, size: entry.size, contentId, disposition: inline ? 'inline' : 'attachment', ...(entry.checksum ? { checksum: entry.checksum } : {}) });
		if (isReport(a.contentType) && entry.content && !bounce) bounce = parseDeliveryStatus(entry.content.toString('utf8'));
		if (keep && entry.content) contents.push({ filename, contentType: type.contentType, size: entry.size, content: entry.content, ...(contentId ? { contentId } : {}), inline });
	});
	for (const [reason, which] of retyped) warn(which.length === 1 ? `attachment ${which[0].number} (${which[0].filename}): ${reason}` : `${attachmentList(which.map((w) => w.number))}: ${reason}`);
	if (bidiNames.length === 1) warn(`attachment ${bidiNames[0]}: the file name had right-to-left controls, which can disguise its extension; they were removed`);
	else if (bidiNames.length) warn(`${attachmentList(bidiNames)}: the file names had right-to-left controls, which can disguise their extensions; they were removed`);
	if (undecodableNames.length === 1) warn(`attachment ${undecodableNames[0]}: the file name has bytes that could not be decoded`);
	else if (undecodableNames.length) warn(`${attachmentList(undecodableNames)}: the file names have bytes that could not be decoded`);

	const priority = first(raw.headers, 'priority');
	const json: ParsedMessageJson = {
		from: addressList(values.get('from'), 'from', warn),
		to: addressList(values.get('to'), 'to', warn),
		cc: addressList(values.get('cc'), 'cc', warn),
		bcc: addressList(values.get('bcc'), 'bcc', warn),
		replyTo: addressList(values.get('reply-to'), 'reply-to', warn),
		subject: one('subject') ?? '',
		date,
		messageId: first(raw.headers, 'message-id'),
		inReplyTo: first(raw.headers, 'in-reply-to'),
		references: typeof references === 'string' ? [references] : Array.isArray(references) ? references.filter((r): r is string => typeof r === 'string') : [],
		text: plain,
		html,
		...(options.textAsHtml ? { textAsHtml: typeof text?.textAsHtml === 'string' ? text.textAsHtml : '' } : {}),
		headers,
		priority: priority === 'high' || priority === 'low' ? priority : 'normal',
		attachments,
		isBounce,
		bounce: isBounce ? (bounce ?? { reportingMta: null, recipients: [], failedRecipients: [] }) : null,
		parseWarnings: warnings,
	};
	return { json, attachments: contents };
}
