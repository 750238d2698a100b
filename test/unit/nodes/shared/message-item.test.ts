/**
 * The pure part of the trigger's item: its JSON and the binary properties it gets. The step that
 * stores each binary (n8n's prepareBinaryData) needs a running n8n and is covered by the
 * end-to-end trigger tests in real n8n, not here.
 */
import crypto from 'node:crypto';
import { fileTypeFromMimeType, type IDataObject } from 'n8n-workflow';
import { parseMessage } from '../../../../lib/message/parse';
import { messageBinaries, messageItemJson, rawFileName, type MessageMeta } from '../../../../nodes/shared/message-item';
import { generateMessages, type GeneratedMessage } from '../../../fixtures/mailgen';

const sha256 = (data: Buffer) => crypto.createHash('sha256').update(data).digest('hex');
const MAX = 64 * 1024;

const imapMeta: MessageMeta = { mailbox: 'info@example.test', folder: 'INBOX', uid: 4711, uidValidity: '1700000000', flags: ['\\Seen'], size: 1234, internalDate: new Date('2025-03-01T10:00:00Z') };
const pop3Meta: MessageMeta = { mailbox: 'info@example.test', uidl: '000012ab', size: 1234 };

describe('the trigger item of a message', () => {
	const sample = [...generateMessages({ seed: 42, count: 400, maxAttachmentBytes: MAX })];
	const withFiles = sample.find((m) => m.attachments.length >= 2 && m.attachments.some((a) => /[^\x00-\x7f]/.test(a.filename))) as GeneratedMessage;
	const related = sample.find((m) => m.kind === 'related') as GeneratedMessage;

	it('has the same keys from IMAP and POP3, survives a JSON round trip, and says where it came from', async () => {
		const parsed = await parseMessage(withFiles.raw);
		const imap = messageItemJson(imapMeta, parsed);
		const pop3 = messageItemJson(pop3Meta, parsed);
		expect(Object.keys(pop3).sort()).toEqual(Object.keys(imap).sort());
		expect(Object.keys((pop3.attachments as IDataObject[])[0]).sort()).toEqual(Object.keys((imap.attachments as IDataObject[])[0]).sort());
		expect(JSON.parse(JSON.stringify(imap))).toEqual(imap);
		expect(imap).toMatchObject({ subject: withFiles.subject, mailbox: 'info@example.test', folder: 'INBOX', uid: 4711, uidValidity: '1700000000', uidl: null, flags: ['\\Seen'], size: 1234, internalDate: '2025-03-01T10:00:00.000Z', oversized: false });
		expect(pop3).toMatchObject({ folder: null, uid: null, uidValidity: null, uidl: '000012ab', flags: [], internalDate: null, oversized: false });
	});

	it('gives each attachment a binary property with its file name, type and exact bytes, named in the JSON', async () => {
		const parsed = await parseMessage(withFiles.raw);
		const binaries = messageBinaries(imapMeta, parsed, withFiles.raw, { includeRaw: false });
		expect(binaries.map((b) => [b.property, b.fileName, b.mimeType, sha256(b.data)])).toEqual(withFiles.attachments.map((a, k) => [`attachment_${k}`, a.filename, a.contentType, a.sha256]));
		const json = messageItemJson(imapMeta, parsed, binaries);
		expect((json.attachments as IDataObject[]).map((a) => a.binaryProperty)).toEqual(withFiles.attachments.map((_, k) => `attachment_${k}`));

		const prefixed = messageBinaries(imapMeta, parsed, undefined, { attachmentsPrefix: 'file' });
		expect(prefixed.map((b) => b.property)).toEqual(withFiles.attachments.map((_, k) => `file${k}`));
		const none = messageBinaries(imapMeta, parsed, withFiles.raw, { includeAttachments: false });
		expect(none).toEqual([]);
		expect((messageItemJson(imapMeta, parsed, none).attachments as IDataObject[]).map((a) => a.binaryProperty)).toEqual(withFiles.attachments.map(() => null));
	});

	it('gives the inline image as a binary too, an image to n8n, with its Content-ID in the JSON', async () => {
		const parsed = await parseMessage(related.raw);
		const [image] = messageBinaries(imapMeta, parsed, undefined);
		expect([image.property, image.fileName, image.mimeType, fileTypeFromMimeType(image.mimeType)]).toEqual(['attachment_0', 'logo.png', 'image/png', 'image']);
		const [meta] = messageItemJson(imapMeta, parsed, [image]).attachments as IDataObject[];
		expect(meta).toMatchObject({ disposition: 'inline', binaryProperty: 'attachment_0', contentId: expect.stringMatching(/^part1\./) });
	});

	it('adds the raw message as "raw" (message/rfc822) named after the subject, else the UID or UIDL', async () => {
		const parsed = await parseMessage(withFiles.raw);
		const binaries = messageBinaries(imapMeta, parsed, withFiles.raw, { includeRaw: true });
		const raw = binaries[binaries.length - 1];
		expect([raw.property, raw.mimeType, raw.fileName, raw.data.equals(withFiles.raw)]).toEqual(['raw', 'message/rfc822', `${withFiles.subject}.eml`, true]);
		expect(rawFileName(imapMeta, 'Re: Invoice 3/2025 <urgent>?')).toBe('Re_ Invoice 3_2025 _urgent__.eml');
		expect(rawFileName(imapMeta, '')).toBe('4711.eml');
		expect(rawFileName(pop3Meta, '  ')).toBe('000012ab.eml');
		expect(rawFileName({}, '')).toBe('message.eml');
	});

	it('marks an oversized message read from its headers only', async () => {
		const parsed = await parseMessage(withFiles.raw, { headersOnly: true });
		const json = messageItemJson({ ...imapMeta, oversized: true, size: withFiles.raw.length }, parsed, messageBinaries(imapMeta, parsed, undefined));
		expect(json).toMatchObject({ oversized: true, size: withFiles.raw.length, subject: withFiles.subject, text: null, html: null, attachments: [] });
	});
});
