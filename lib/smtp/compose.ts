import crypto from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import addressparser from 'nodemailer/lib/addressparser';
import type Mail from 'nodemailer/lib/mailer';
import { configError } from '../errors';
import { htmlToText } from '../message/html';

/** One file to attach: its bytes, name and type. */
export interface ComposeAttachment {
	filename: string;
	contentType?: string;
	content: Buffer;
}

/** The message a reply answers: what the trigger nodes output as messageId, references and subject. */
export interface ReplyTarget {
	messageId?: string | null;
	/** The original's References, as a list of ids or of header lines (each may hold several ids). */
	references?: string[] | string | null;
	subject?: string | null;
}

/** What an account adds to or allows for every message sent with it. */
export interface AccountRules {
	/** Every message also goes to this address, in the envelope only (no Bcc header). */
	bccAll?: string;
	/** Appended to the plain-text body after the "-- " separator. */
	signatureText?: string;
	/** Appended to the HTML body (before </body> when there is one). */
	signatureHtml?: string;
	/** Addresses allowed as From; "@example.com" allows the whole domain. Empty: any. */
	allowedSenders?: string[];
}

export interface ComposeInput {
	fromEmail: string;
	fromName?: string;
	/** Comma-separated lists or lists of addresses ("Name <a@b>" allowed). */
	to?: string | string[];
	cc?: string | string[];
	bcc?: string | string[];
	replyTo?: string | string[];
	subject?: string;
	text?: string;
	html?: string;
	/** With HTML and no text: generate the plain-text part from the HTML (default on). */
	textFromHtml?: boolean;
	attachments?: ComposeAttachment[];
	/** Extra header lines, in order. */
	headers?: Array<{ name: string; value: string }>;
	/** Makes the message a reply: In-Reply-To, References and a "Re:" subject. */
	inReplyTo?: ReplyTarget;
	account?: AccountRules;
	/**
	 * Keep BCC (and the account's BCC) in a Bcc header instead of the envelope only: for Microsoft
	 * Graph's MIME send, which takes the recipients from the headers and, as Exchange's MIME writer
	 * does for every message it sends over SMTP, leaves the Bcc header out of what it transmits
	 * ([MS-OXCMAIL] 2.1.3.1.1.2). The sender's Sent Items copy keeps the BCC recipients.
	 */
	bccHeader?: boolean;
	/** For tests: a fixed Date header. */
	date?: Date;
	/** For tests: a fixed Message-ID (with angle brackets). */
	messageId?: string;
	/** For tests: the fixed part of the multipart boundaries (MailComposer's baseBoundary). */
	baseBoundary?: string;
}

export interface ComposedMessage {
	/** The message exactly as it is sent (CRLF line ends). */
	raw: Buffer;
	/** SMTP envelope: MAIL FROM and every RCPT TO (To, Cc, Bcc and the account's BCC). */
	envelope: { from: string; to: string[] };
	/** With angle brackets. */
	messageId: string;
	subject: string;
	/** Hex SHA-256 of `raw`. */
	sha256: string;
}

/** Field names as the node calls them, so that an error points at the right input. */
const FIELD = {
	fromEmail: 'fromEmail',
	fromName: 'fromName',
	to: 'toEmail',
	cc: 'ccEmail',
	bcc: 'bccEmail',
	replyTo: 'replyTo',
	subject: 'subject',
	headers: 'headers',
	inReplyTo: 'inReplyTo',
	bccAll: 'bccAll',
	attachments: 'attachments',
} as const;

const LINE_BREAK = /[\r\n]/;
const ADDRESS = /^[^\s@<>(),;:"[\]\\]+@[^\s@<>(),;:"[\]\\]+$/;
const HEADER_NAME = /^[!-9;-~]+$/;
/** type/subtype with optional parameters, all on one line. */
const MIME_TYPE = /^[\w.+-]+\/[\w.+-]+(\s*;[^\r\n]*)?$/;
/** Headers the message builds itself; a custom header of these names would contradict them. */
const RESERVED_HEADERS = new Set(['from', 'to', 'cc', 'bcc', 'reply-to', 'subject', 'message-id', 'date', 'mime-version', 'content-type', 'content-transfer-encoding', 'in-reply-to', 'references']);

/** Refuses CR and LF: a line break in a header value would start a header (or the body) of the sender's choosing. */
function noLineBreak(field: string, label: string, value: string | undefined): void {
	if (value !== undefined && LINE_BREAK.test(value)) {
		throw configError(field, `${label} contains a line break (CR or LF); nothing was sent.`, 'Header values must be one line: remove the line breaks (a line break there could add headers of its own to the message).');
	}
}

function listOf(value: string | string[] | undefined): string[] {
	if (value === undefined || value === null) return [];
	return (Array.isArray(value) ? value : [value]).map((v) => String(v)).filter((v) => v.trim() !== '');
}

/** Parses an address field into { name, address } entries; every address must look like one. */
function addresses(field: string, label: string, value: string | string[] | undefined): Mail.Address[] {
	const out: Mail.Address[] = [];
	for (const entry of listOf(value)) {
		noLineBreak(field, label, entry);
		for (const parsed of addressparser(entry, { flatten: true })) {
			const address = (parsed.address ?? '').trim();
			if (!address && !parsed.name) continue;
			if (!ADDRESS.test(address)) {
				throw configError(field, `${label}: "${address || parsed.name}" is not an e-mail address.`, 'Enter addresses like name@example.com, several separated by commas; a display name goes before the address in angle brackets: Name <name@example.com>.');
			}
			out.push({ name: parsed.name ?? '', address });
		}
	}
	return out;
}

/** The ids of a References header (or of a list of them), each with its angle brackets. */
export function messageIds(value: string[] | string | null | undefined): string[] {
	const lines = Array.isArray(value) ? value : value ? [value] : [];
	const out: string[] = [];
	for (const line of lines) {
		const found = String(line).match(/<[^<>\s]+>/g);
		if (found) out.push(...found);
		else if (String(line).trim() && !/[\s<>]/.test(String(line).trim())) out.push(`<${String(line).trim()}>`);
	}
	return out;
}

/** "Re: " before the subject, unless it already starts with a reply prefix (Re:, AW:, SV:…). */
export function replySubject(subject: string): string {
	const trimmed = subject.trim();
	if (/^\s*(re|aw|sv|antw|vs)\s*(\[\d+\])?\s*:/i.test(trimmed)) return trimmed;
	return `Re: ${trimmed}`;
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');


/** The text body with the signature after the standard "-- " separator line. */
export function appendTextSignature(text: string, signature: string): string {
	const body = text.replace(/\s+$/, '');
	return `${body}${body ? '\n\n' : ''}-- \n${signature.replace(/\s+$/, '')}\n`;
}

/** The HTML body with the signature block before </body> (or at the end when there is none). */
export function appendHtmlSignature(html: string, signature: string): string {
	const block = `<div class="signature">-- <br>\n${signature}</div>`;
	const close = html.search(/<\/body\s*>/i);
	if (close >= 0) return `${html.slice(0, close)}${block}\n${html.slice(close)}`;
	return `${html}${html && !html.endsWith('\n') ? '\n' : ''}${block}`;
}

/** Whether `address` may be used as From under the account's list (exact addresses, or "@domain"). */
export function senderAllowed(address: string, allowed: string[] | undefined): boolean {
	const rules = (allowed ?? []).map((a) => a.trim().toLowerCase()).filter(Boolean);
	if (rules.length === 0) return true;
	const lower = address.toLowerCase();
	return rules.some((rule) => (rule.startsWith('@') ? lower.endsWith(rule) : lower === rule));
}

/** Splits a list of allowed senders as users type it: commas, semicolons, spaces or lines. */
export function parseAllowedSenders(value: string | undefined): string[] {
	return (value ?? '')
		.split(/[\s,;]+/)
		.map((s) => s.trim())
		.filter(Boolean);
}

/** Whether any LF in the bytes is not preceded by CR. */
function hasBareLineFeed(bytes: Buffer): boolean {
	for (let at = bytes.indexOf(10); at !== -1; at = bytes.indexOf(10, at + 1)) if (at === 0 || bytes[at - 1] !== 13) return true;
	return false;
}

const crlf = (body: string | undefined) => (body === undefined ? undefined : body.replace(/\r?\n/g, '\r\n'));

/**
 * Builds the message with nodemailer's MailComposer and returns its exact bytes, the envelope and
 * their SHA-256. Everything is checked first, so a refused input sends nothing: line breaks in
 * any header value (header injection), addresses that are not addresses, a From that the account
 * does not allow, no recipient. The account's BCC goes into the envelope only (with bccHeader:
 * into the Bcc header, for Microsoft Graph).
 */
export async function composeMessage(input: ComposeInput): Promise<ComposedMessage> {
	const account = input.account ?? {};
	const fromEmail = (input.fromEmail ?? '').trim();
	if (!fromEmail) throw configError(FIELD.fromEmail, 'From Email is empty.', 'Enter the sender address, e.g. info@example.com.');
	noLineBreak(FIELD.fromEmail, 'From Email', fromEmail);
	noLineBreak(FIELD.fromName, 'From Name', input.fromName);
	if (!ADDRESS.test(fromEmail)) throw configError(FIELD.fromEmail, `From Email "${fromEmail}" is not an e-mail address.`, 'Enter only the address, e.g. info@example.com; the display name goes into From Name.');
	if (!senderAllowed(fromEmail, account.allowedSenders)) {
		throw configError(
			FIELD.fromEmail,
			`From Email "${fromEmail}" is not allowed to send with this account; nothing was sent.`,
			`Use one of the allowed sender addresses (${(account.allowedSenders ?? []).join(', ')}), or add this address to "Allowed Sender Addresses".`,
		);
	}

	const to = addresses(FIELD.to, 'To', input.to);
	const cc = addresses(FIELD.cc, 'CC', input.cc);
	const bcc = addresses(FIELD.bcc, 'BCC', input.bcc);
	const replyTo = addresses(FIELD.replyTo, 'Reply-To', input.replyTo);
	const bccAll = account.bccAll?.trim() ? addresses(FIELD.bccAll, 'BCC of Every Message', account.bccAll) : [];
	if (to.length + cc.length + bcc.length === 0) throw configError(FIELD.to, 'There is no recipient: To, CC and BCC are all empty.', 'Enter at least one address in To.');

	let subject = input.subject ?? '';
	noLineBreak(FIELD.subject, 'Subject', subject);
	const headers: Array<{ key: string; value: string }> = [];
	for (const { name, value } of input.headers ?? []) {
		const key = String(name ?? '').trim();
		noLineBreak(FIELD.headers, `Custom header "${key}"`, key);
		noLineBreak(FIELD.headers, `The value of header "${key}"`, String(value ?? ''));
		if (!HEADER_NAME.test(key)) throw configError(FIELD.headers, `"${key}" is not a valid header name.`, 'Header names are letters, digits and hyphens, e.g. X-Ticket-Id.');
		if (RESERVED_HEADERS.has(key.toLowerCase())) throw configError(FIELD.headers, `The header "${key}" is set by the node itself and cannot be a custom header.`, 'Use the field of that name instead.');
		headers.push({ key, value: String(value ?? '') });
	}

	for (const attachment of input.attachments ?? []) {
		noLineBreak(FIELD.attachments, `The file name "${attachment.filename.replace(/[\r\n]+/g, ' ')}" of an attachment`, attachment.filename);
		if (attachment.contentType && !MIME_TYPE.test(attachment.contentType)) {
			throw configError(FIELD.attachments, `The type "${attachment.contentType.replace(/[\r\n]+/g, ' ')}" of the attachment "${attachment.filename}" is not a MIME type; nothing was sent.`, 'Set the binary data\'s MIME type to a type like application/pdf.');
		}
	}

	let inReplyTo: string | undefined;
	let references: string[] | undefined;
	if (input.inReplyTo) {
		const target = input.inReplyTo;
		noLineBreak(FIELD.inReplyTo, 'The original Message-ID', target.messageId ?? undefined);
		const original = messageIds(target.messageId ?? undefined)[0];
		if (!original) throw configError(FIELD.inReplyTo, 'The message to reply to has no Message-ID.', 'Map the messageId of a trigger item (e.g. {{ $json.messageId }}) into "Reply To Message ID".');
		const earlier = messageIds(target.references).filter((id) => id !== original);
		for (const id of earlier) noLineBreak(FIELD.inReplyTo, 'References', id);
		inReplyTo = original;
		references = [...new Set([...earlier, original])];
		subject = replySubject(subject || String(target.subject ?? '').replace(/[\r\n]+\s*/g, ' '));
	}

	let text = input.text || undefined;
	let html = input.html || undefined;
	if (html !== undefined && text === undefined && input.textFromHtml !== false) text = htmlToText(html);
	const sigText = account.signatureText?.trim() ? account.signatureText : account.signatureHtml?.trim() ? htmlToText(account.signatureHtml) : undefined;
	const sigHtml = account.signatureHtml?.trim() ? account.signatureHtml : account.signatureText?.trim() ? escapeHtml(account.signatureText.trim()).replace(/\r?\n/g, '<br>\n') : undefined;
	if (sigText !== undefined && (text !== undefined || html === undefined)) text = appendTextSignature(text ?? '', sigText);
	if (sigHtml !== undefined && html !== undefined) html = appendHtmlSignature(html, sigHtml);

	// with bccHeader the account's BCC joins the Bcc header (once), else it is added to the envelope below
	const headerBcc = input.bccHeader ? [...bcc, ...bccAll.filter((a) => ![...to, ...cc, ...bcc].some((r) => (r.address ?? '').toLowerCase() === (a.address ?? '').toLowerCase()))] : bcc;
	const mail: Mail.Options = {
		from: { name: input.fromName?.trim() ?? '', address: fromEmail },
		to: to.length ? to : undefined,
		cc: cc.length ? cc : undefined,
		bcc: headerBcc.length ? headerBcc : undefined,
		replyTo: replyTo.length ? replyTo : undefined,
		subject,
		text: crlf(text ?? (html === undefined ? '' : undefined)),
		html: crlf(html),
		inReplyTo,
		references,
		headers,
		attachments: (input.attachments ?? []).map((a) => ({ filename: a.filename, contentType: a.contentType || 'application/octet-stream', content: a.content })),
		date: input.date,
		messageId: input.messageId,
		baseBoundary: input.baseBoundary,
	};
	const node = new MailComposer(mail).compile();
	if (input.bccHeader) node.keepBcc = true;
	const envelope = node.getEnvelope() as { from: string | false; to: string[] };
	for (const { address } of bccAll) if (address && !envelope.to.some((r) => r.toLowerCase() === address.toLowerCase())) envelope.to.push(address);
	const built = await new Promise<Buffer>((resolve, reject) => node.build((error, message) => (error ? reject(error) : resolve(message))));
	// MailComposer leaves the line ends of 7bit bodies as given; SMTP sends every line end as CRLF.
	// Normalised here, the hash covers exactly the bytes on the wire (and in the Sent copy).
	const raw = hasBareLineFeed(built) ? Buffer.from(built.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1') : built;
	return {
		raw,
		envelope: { from: envelope.from || fromEmail, to: envelope.to },
		messageId: node.messageId(),
		subject,
		sha256: crypto.createHash('sha256').update(raw).digest('hex'),
	};
}
