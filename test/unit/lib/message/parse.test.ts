import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { parseMessage, type ParsedMessage } from '../../../../lib/message/parse';
import { CHARSETS, MALFORMED_INDEX, generateMessage, generateMessages, type GeneratedMessage } from '../../../fixtures/mailgen';

const sha256 = (data: Buffer) => crypto.createHash('sha256').update(data).digest('hex');
const MAX = 64 * 1024;
const CRLF = '\r\n';
/** What a reader would call garbage: replacement characters, undecoded encoded-words, UTF-8 read as Latin-1. */
const MOJIBAKE = /\ufffd|=\?[^?]+\?[BbQq]\?|Ã.|Â./;

/** The message in chunks of `size` bytes, as a socket would deliver it. */
function streamOf(raw: Buffer, size: number): Readable {
	const chunks: Buffer[] = [];
	for (let i = 0; i < raw.length; i += size) chunks.push(raw.subarray(i, i + size));
	return Readable.from(chunks);
}

function mail(headers: string[], body: string | Buffer): Buffer {
	return Buffer.concat([Buffer.from(headers.join(CRLF) + CRLF + CRLF, 'latin1'), typeof body === 'string' ? Buffer.from(body.replace(/\r?\n/g, CRLF), 'utf8') : body]);
}

describe('parseMessage over generated mail', () => {
	const sample: GeneratedMessage[] = [...generateMessages({ seed: 42, count: 1500, maxAttachmentBytes: MAX })];
	const ofKind = (kind: GeneratedMessage['kind']) => sample.filter((m) => m.kind === kind);

	function expectAsGenerated(parsed: ParsedMessage, g: GeneratedMessage): void {
		const { json } = parsed;
		expect({ index: g.index, subject: json.subject, from: json.from.value[0]?.address, date: json.date, messageId: json.messageId }).toEqual({
			index: g.index,
			subject: g.subject,
			from: g.from,
			date: g.date.toISOString(),
			messageId: g.messageId,
		});
		// A multipart's last line break belongs to the boundary that follows it.
		expect(json.text?.trimEnd()).toBe(g.text.trimEnd());
		expect(json.to.value.map((a) => a.address)).toEqual(['alice@example.test']);
		expect(json.parseWarnings).toEqual([]);
		expect(`${json.subject} ${json.from.text} ${json.text}`).not.toMatch(MOJIBAKE);
		expect(json.attachments.filter((a) => a.disposition === 'attachment').map((a) => [a.filename, a.contentType, a.size])).toEqual(g.attachments.map((a) => [a.filename, a.contentType, a.size]));
	}

	it.each(['plain', 'alternative', 'related', 'attachments', 'charset'] as const)('reads %s messages as they were written', async (kind) => {
		const messages = ofKind(kind).slice(0, 12);
		expect(messages.length).toBeGreaterThan(3);
		for (const g of messages) expectAsGenerated(await parseMessage(g.raw), g);
	});

	it('reads every charset: subject, sender name and body without mojibake', async () => {
		for (const charset of CHARSETS) {
			const g = sample.find((m) => m.charset === charset) ?? [...generateMessages({ seed: 42, startIndex: 1500, count: 3000 })].find((m) => m.charset === charset);
			if (!g) throw new Error(`no ${charset} message generated`);
			const parsed = await parseMessage(g.raw);
			expectAsGenerated(parsed, g);
			expect(parsed.json.from.value[0].name).not.toBe('');
			expect(parsed.json.headers.subject).toBe(g.subject);
		}
	});

	it('reads replies: In-Reply-To and References as lists of Message-IDs', async () => {
		const reply = sample.find((m) => /^(Re|RE|AW): /.test(m.subject) && m.raw.includes('References:'));
		if (!reply) throw new Error('no reply generated');
		const { json } = await parseMessage(reply.raw);
		expect(json.inReplyTo).toMatch(/^<gen-42-\d+@example\.test>$/);
		expect(json.references.length).toBeGreaterThan(0);
		expect(json.references[json.references.length - 1]).toBe(json.inReplyTo);
		expect(json.references.every((r) => /^<gen-42-\d+@example\.test>$/.test(r))).toBe(true);
	});

	it('gives attachments byte for byte, with their non-ASCII names, and only metadata when asked', async () => {
		const withNonAscii = ofKind('attachments').filter((m) => m.attachments.some((a) => /[^\x00-\x7f]/.test(a.filename)));
		expect(withNonAscii.length).toBeGreaterThan(2);
		for (const g of withNonAscii.slice(0, 6)) {
			const parsed = await parseMessage(g.raw);
			const files = parsed.attachments.filter((a) => !a.inline);
			expect(files.map((a) => [a.filename, a.contentType, a.size, sha256(a.content)])).toEqual(g.attachments.map((a) => [a.filename, a.contentType, a.size, a.sha256]));
			const light = await parseMessage(g.raw, { includeAttachments: false });
			expect(light.attachments).toEqual([]);
			expect(light.json).toEqual(parsed.json);
		}
	});

	it('carries the attachment of exactly the maximum size (index 999, 5 MiB) intact, also from a stream', async () => {
		const g = generateMessage(42, 999);
		expect(g.attachments[0].size).toBe(5 * 1024 * 1024);
		for (const source of [g.raw, streamOf(g.raw, 65_536)]) {
			const parsed = await parseMessage(source, { checksum: 'sha256' });
			expect(parsed.attachments.map((a) => [a.filename, a.size, sha256(a.content)])).toEqual(g.attachments.map((a) => [a.filename, a.size, a.sha256]));
			expect(parsed.json.attachments.map((a) => a.checksum)).toEqual(g.attachments.map((a) => a.sha256));
		}
	});

	it('marks the inline image of multipart/related as inline, with the Content-ID the HTML refers to', async () => {
		for (const g of ofKind('related').slice(0, 4)) {
			const parsed = await parseMessage(g.raw);
			expect(parsed.json.attachments).toEqual([{ filename: 'logo.png', contentType: 'image/png', size: parsed.attachments[0].size, contentId: expect.stringMatching(/^part1\./), disposition: 'inline' }]);
			const [image] = parsed.attachments;
			expect(image.inline).toBe(true);
			expect(image.content.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
			expect(parsed.json.html).toContain(`src="cid:${image.contentId}"`);
		}
	});

	it('gives the same result from a stream, in any chunk size, as from a buffer', async () => {
		for (const g of [ofKind('attachments')[0], ofKind('related')[0], ofKind('charset')[0], sample[MALFORMED_INDEX]]) {
			const whole = await parseMessage(g.raw);
			for (const size of [1, 7, 4096]) {
				if (size === 1 && g.kind !== 'malformed') continue;
				const streamed = await parseMessage(streamOf(g.raw, size));
				expect(streamed.json).toEqual(whole.json);
				expect(streamed.attachments.map((a) => sha256(a.content))).toEqual(whole.attachments.map((a) => sha256(a.content)));
			}
		}
	});
});

describe('parseMessage on broken mail', () => {
	const bad = generateMessage(42, MALFORMED_INDEX);

	it('reads the malformed message: readable fields, each repair named in parseWarnings, no throw', async () => {
		const { json, attachments } = await parseMessage(bad.raw);
		expect(json.messageId).toBe(bad.messageId);
		expect(json.date).toBe(bad.date.toISOString());
		expect(json.from.value).toEqual([{ address: 'broken.sender@example.test', name: 'Broken Sender' }]);
		expect(json.subject).toMatch(/^Broken über/);
		expect(json.subject).toContain('café');
		expect(json.subject).toContain('unterminated');
		expect(json.subject).not.toMatch(/\ufffd|=\?/);
		expect(json.headers['x-raw-latin1']).toBe('Grüße aus Köln');
		expect(json.headers['x-raw-utf8']).toBe('Grüße — 日本語');
		expect(json.text).toContain('lower-case €');
		expect(json.text).toContain('Hello world');
		expect(attachments.map((a) => a.filename)).toEqual(['truncated.pdf']);
		expect(attachments[0].content.subarray(0, 8).toString('latin1')).toBe('%PDF-1.7');
		expect(json.parseWarnings).toEqual(
			expect.arrayContaining([
				'a header line without a colon was skipped',
				'the content-type header occurs 2 times; the first one is used',
				'the message ends without its closing MIME boundary (it may be cut off)',
				'from: unbalanced quotes or brackets; the addresses were read from the text',
				'subject: unknown charset "x-no-such-charset", read as UTF-8 or Windows-1252',
				'subject: encoded-word without its closing "?="',
				expect.stringMatching(/^X-Raw-Latin1 contains raw 8-bit bytes/),
			]),
		);
	});

	it('never throws for garbage; an empty message gives empty fields and a warning', async () => {
		const garbage = [Buffer.alloc(0), Buffer.from('\r\n'), Buffer.from('no headers at all, just text'), crypto.createHash('sha512').update('x').digest(), Buffer.from('Content-Type: multipart/mixed; boundary=""\r\n\r\n--\r\n--\r\n')];
		for (const raw of garbage) {
			const { json } = await parseMessage(raw);
			expect(json.subject).toBe('');
			expect(json.from).toEqual({ value: [], text: '' });
			expect(json.date).toBeNull();
		}
		expect((await parseMessage(Buffer.alloc(0))).json.parseWarnings.length).toBeGreaterThan(0);
	});

	it('reads raw 8-bit headers in Latin-1 or UTF-8 and says so; an unreadable Date is null, not "now"', async () => {
		const raw = Buffer.concat([
			Buffer.from('From: J\xfcrgen M\xfcller <jm@example.test>\r\nSubject: Gr\xfc\xdfe aus K\xf6ln\r\n', 'latin1'),
			Buffer.from('To: "Zoë Dupré" <zoe@example.test>, bob@example.test\r\nDate: someday soon\r\n\r\nbody\r\n', 'utf8'),
		]);
		const { json } = await parseMessage(raw);
		expect(json.subject).toBe('Grüße aus Köln');
		expect(json.from.value).toEqual([{ name: 'Jürgen Müller', address: 'jm@example.test' }]);
		expect(json.to.value).toEqual([{ name: 'Zoë Dupré', address: 'zoe@example.test' }, { name: '', address: 'bob@example.test' }]);
		expect(json.to.text).toBe('Zoë Dupré <zoe@example.test>, bob@example.test');
		expect(json.date).toBeNull();
		expect(json.parseWarnings).toEqual(expect.arrayContaining(['the Date header "someday soon" is not a date', expect.stringMatching(/^Subject contains raw 8-bit bytes/)]));
		expect(json.text).toBe('body\n');
	});

	it('rejects when the source stream fails (the message was not received), not for what it contains', async () => {
		const source = new Readable({ read() {} });
		source.push(Buffer.from('Subject: half\r\n'));
		const parsing = parseMessage(source);
		source.destroy(new Error('connection reset'));
		await expect(parsing).rejects.toThrow('connection reset');
	});
});

describe('parseMessage options and special messages', () => {
	it('headersOnly: reads the header block only, from a buffer or a stream, and drops the rest', async () => {
		const g = generateMessage(42, 999, { maxAttachmentBytes: MAX });
		for (const source of [g.raw, streamOf(g.raw, 1000)]) {
			const { json, attachments } = await parseMessage(source, { headersOnly: true });
			expect([json.subject, json.from.value[0].address, json.messageId, json.date]).toEqual([g.subject, g.from, g.messageId, g.date.toISOString()]);
			expect([json.text, json.html, json.attachments, attachments, json.parseWarnings]).toEqual([null, null, [], [], []]);
			expect(json.headers['content-type']).toMatch(/^multipart\/mixed; boundary=/);
		}
		// A header block that was fetched alone (no blank line after it) is read as well.
		const headerOnly = g.raw.subarray(0, g.raw.indexOf('\r\n\r\n') + 2);
		expect((await parseMessage(headerOnly, { headersOnly: true })).json.subject).toBe(g.subject);
	});

	it('makes text from an HTML-only message (also inside multipart/mixed), unless switched off', async () => {
		const html = '<html><head><style>p { color: red }</style></head><body><p>Hello <b>Anna</b>,</p><p>your order &amp; invoice are ready.</p></body></html>';
		const single = mail(['From: shop@example.test', 'Subject: Order', 'Content-Type: text/html; charset=utf-8'], html);
		const mixed = mail(
			['From: shop@example.test', 'Subject: Order', 'Content-Type: multipart/mixed; boundary="b1"'],
			`--b1\nContent-Type: text/html; charset=utf-8\n\n${html}\n--b1\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjcK\n--b1--\n`,
		);
		for (const raw of [single, mixed]) {
			const { json } = await parseMessage(raw);
			expect(json.html).toContain('<b>Anna</b>');
			expect(json.text).toMatch(/Hello Anna,\s+your order & invoice are ready\./);
			expect(json.text).not.toContain('color');
			expect((await parseMessage(raw, { textFromHtml: false })).json.text ?? '').toBe('');
		}
		const withText = await parseMessage(single, { textAsHtml: true });
		expect(withText.json.textAsHtml).toContain('Hello Anna');
	});

	it('names attachments without a file name by their type', async () => {
		const raw = mail(
			['From: a@example.test', 'Subject: files', 'Content-Type: multipart/mixed; boundary="b"'],
			'--b\nContent-Type: text/plain\n\nsee files\n--b\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjcK\n--b\nContent-Type: image/jpeg\nContent-Disposition: attachment\nContent-Transfer-Encoding: base64\n\n/9j/4AAQ\n--b\nContent-Type: message/rfc822\nContent-Disposition: attachment\n\nSubject: inner\n\ninner body\n--b\nContent-Type: application/x-unknown-thing\nContent-Disposition: attachment; filename="../../etc/pass\twd"\n\nxyz\n--b--\n',
		);
		const { json } = await parseMessage(raw);
		expect(json.attachments.map((a) => a.filename)).toEqual(['attachment-1.pdf', 'image-2.jpg', 'message-3.eml', 'pass wd']);
	});

	it('removes right-to-left controls from file names (they disguise "invoice<RLO>fdp.exe" as "invoiceexe.pdf") and says so', async () => {
		const raw = mail(
			['From: a@example.test', 'Subject: invoice', 'Content-Type: multipart/mixed; boundary="b"'],
			`--b\nContent-Type: text/plain\n\nsee file\n--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename*=utf-8''invoice%E2%80%AEfdp.exe\nContent-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA\n--b--\n`,
		);
		const { json } = await parseMessage(raw);
		expect(json.attachments.map((a) => a.filename)).toEqual(['invoicefdp.exe']);
		expect(json.parseWarnings).toContain('attachment 1: the file name had right-to-left controls, which can disguise its extension; they were removed');
	});

	it("types an attachment by what it is where the sender's type or a runnable name disagree, says so and keeps the sender's type; agreeing types stay as they were", async () => {
		const b64 = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64');
		const part = (type: string, name: string, content: Buffer | string) => `--b\nContent-Type: ${type}\nContent-Disposition: attachment; filename="${name}"\nContent-Transfer-Encoding: base64\n\n${b64(content)}\n`;
		const program = Buffer.from('MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff', 'latin1');
		const raw = mail(
			['From: a@example.test', 'Subject: files', 'Content-Type: multipart/mixed; boundary="b"'],
			[
				'--b\nContent-Type: text/plain\n\nsee files\n',
				part('image/jpeg', 'photo.jpg', program),
				part('application/pdf', 'invoice.pdf.exe', 'not even a program'),
				part('application/octet-stream', 'scan.pdf', '%PDF-1.7\n%'),
				part('application/octet-stream', 'update.dat', program),
				part('application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'offer.docx', 'PK\x03\x04\x14\x00\x06\x00'),
				part('text/plain', 'notes.txt', 'PK\x03\x04\x14\x00\x06\x00'),
				part('image/png; name="a.png"', 'a.png', '\x89PNG\r\n\x1a\n\x00\x00'),
				'--b--\n',
			].join(''),
		);
		const parsed = await parseMessage(raw);
		expect(parsed.json.attachments.map((a) => [a.filename, a.contentType, a.declaredContentType])).toEqual([
			['photo.jpg', 'application/x-msdownload', 'image/jpeg'],
			['invoice.pdf.exe', 'application/x-msdos-program', 'application/pdf'],
			// mailparser types a generic attachment by its name, as before
			['scan.pdf', 'application/pdf', undefined],
			['update.dat', 'application/x-msdownload', 'application/octet-stream'],
			['offer.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', undefined],
			['notes.txt', 'application/zip', 'text/plain'],
			['a.png', 'image/png', undefined],
		]);
		expect(parsed.json.parseWarnings).toEqual(
			expect.arrayContaining([
				"attachment 1 (photo.jpg): declared image/jpeg, but its content is a Windows program: contentType is application/x-msdownload (declaredContentType keeps the sender's)",
				"attachment 2 (invoice.pdf.exe): declared application/pdf, but the name ends in .exe, which runs as a program or script: contentType is application/x-msdos-program (declaredContentType keeps the sender's)",
				"attachment 4 (update.dat): declared application/octet-stream, but its content is a Windows program: contentType is application/x-msdownload (declaredContentType keeps the sender's)",
				"attachment 6 (notes.txt): declared text/plain, but its content is a ZIP archive: contentType is application/zip (declaredContentType keeps the sender's)",
			]),
		);
		expect(parsed.json.parseWarnings.filter((w) => w.startsWith('attachment '))).toHaveLength(4);
		// the attachments' content (binary data in the triggers) carries the same type
		expect(parsed.attachments.map((a) => a.contentType)).toEqual(parsed.json.attachments.map((a) => a.contentType));
		// only metadata: the type is still known from the first bytes
		const light = await parseMessage(raw, { includeAttachments: false });
		expect(light.json.attachments.map((a) => a.contentType)).toEqual(parsed.json.attachments.map((a) => a.contentType));
	});

	it('recognises a bounce (multipart/report; report-type=delivery-status) with the failed recipients and their status', async () => {
		const raw = mail(
			['From: Mail Delivery System <MAILER-DAEMON@mx.example.test>', 'To: alice@example.test', 'Subject: Undelivered Mail Returned to Sender', 'Date: Mon, 3 Feb 2025 10:00:00 +0100', 'Content-Type: multipart/report; report-type=delivery-status; boundary="rep"'],
			[
				'--rep',
				'Content-Type: text/plain; charset=us-ascii',
				'',
				'I am sorry to have to inform you that your message could not be delivered.',
				'--rep',
				'Content-Type: message/delivery-status',
				'',
				'Reporting-MTA: dns; mx.example.test',
				'Arrival-Date: Mon, 3 Feb 2025 09:59:58 +0100',
				'',
				'Final-Recipient: rfc822; nobody@example.org',
				'Original-Recipient: rfc822;nobody@example.org',
				'Action: failed',
				'Status: 5.1.1',
				'Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.org>: Recipient address',
				'    rejected: User unknown',
				'',
				'Final-Recipient: rfc822; slow@example.org',
				'Action: delayed',
				'Status: 4.4.1',
				'',
				'--rep',
				'Content-Type: text/rfc822-headers',
				'',
				'Subject: Invoice 42',
				'Message-ID: <orig@example.test>',
				'--rep--',
				'',
			].join('\n'),
		);
		const { json } = await parseMessage(raw);
		expect(json.isBounce).toBe(true);
		expect(json.bounce).toEqual({
			reportingMta: 'mx.example.test',
			failedRecipients: ['nobody@example.org'],
			recipients: [
				{ recipient: 'nobody@example.org', action: 'failed', status: '5.1.1', diagnosticCode: '550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown' },
				{ recipient: 'slow@example.org', action: 'delayed', status: '4.4.1', diagnosticCode: null },
			],
		});
		expect(json.text).toContain('could not be delivered');
		expect(json.parseWarnings).toEqual([]);
		const plain = await parseMessage(generateMessage(42, 0).raw);
		expect([plain.json.isBounce, plain.json.bounce]).toEqual([false, null]);
	});

	it('keeps repeated headers as lists and reads the priority', async () => {
		const raw = mail(['Received: from a', 'Received: from b', 'X-Priority: 1 (Highest)', 'Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= =?UTF-8?B?IOKAkyDwn46J?=', 'From: a@example.test'], 'x\n');
		const { json } = await parseMessage(raw);
		expect(json.headers.received).toEqual(['from a', 'from b']);
		expect(json.priority).toBe('high');
		expect(json.subject).toBe('Grüße – 🎉');
	});

	it('keeps a sender\'s "__proto__" and "constructor" headers as headers; the headers object stays a plain object', async () => {
		const raw = mail(['From: a@example.test', '__proto__: x', '__proto__: y', 'Constructor: z', 'Subject: s'], 'x\n');
		const { json } = await parseMessage(raw);
		expect(Object.getPrototypeOf(json.headers)).toBe(Object.prototype);
		expect(Object.keys(json.headers)).toEqual(['from', '__proto__', 'constructor', 'subject']);
		expect(JSON.parse(JSON.stringify(json.headers))).toMatchObject({ __proto__: ['x', 'y'], constructor: 'z' });
	});
});
