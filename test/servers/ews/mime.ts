/** MIME header reading for the local EWS endpoint: Subject, Message-ID, From, Date and whether there are attachments. */
import iconv from 'iconv-lite';
import type { Item } from './store';

function headerBlock(raw: Buffer): string {
	const text = raw.toString('latin1');
	const end = text.search(/\r?\n\r?\n/);
	return (end === -1 ? text : text.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
}
function header(block: string, name: string): string | undefined {
	const match = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(block);
	return match ? match[1].trim() : undefined;
}
function decodeCharset(bytes: Buffer, charset: string): string {
	try {
		return iconv.decode(bytes, iconv.encodingExists(charset) ? charset : 'utf-8');
	} catch {
		return bytes.toString('utf8');
	}
}
/** RFC 2047 encoded words; raw 8-bit header bytes are taken as UTF-8. */
function decodeHeader(value: string): string {
	const utf8 = Buffer.from(value, 'latin1').toString('utf8');
	return utf8
		.replace(/(=\?[^?]+\?[BbQq]\?[^?]*\?=)\s+(?==\?)/g, '$1')
		.replace(/=\?([^?*]+)(?:\*[^?]*)?\?([BbQq])\?([^?]*)\?=/g, (_, charset: string, enc: string, data: string) => {
			const bytes = enc.toUpperCase() === 'B' ? Buffer.from(data, 'base64') : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (__, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
			return decodeCharset(bytes, charset);
		});
}
export function readMime(raw: Buffer): Pick<Item, 'subject' | 'messageId' | 'from' | 'sent' | 'hasAttachments'> {
	const block = headerBlock(raw);
	const fromValue = header(block, 'From');
	const address = fromValue ? (/<([^>]+)>/.exec(fromValue)?.[1] ?? fromValue.trim()) : undefined;
	const name = fromValue && /<[^>]+>/.test(fromValue) ? decodeHeader(fromValue.replace(/<[^>]+>/, '').trim().replace(/^"|"$/g, '')) : undefined;
	const date = header(block, 'Date');
	const sent = date ? new Date(date) : undefined;
	return {
		subject: decodeHeader(header(block, 'Subject') ?? ''),
		messageId: header(block, 'Message-ID') ?? '',
		from: address ? { name: name || undefined, address } : undefined,
		sent: sent && !Number.isNaN(sent.getTime()) ? sent : undefined,
		hasAttachments: /^content-disposition:\s*attachment/im.test(raw.toString('latin1')),
	};
}
