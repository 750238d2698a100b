/**
 * Hostile mail (test/fixtures/hostile-mail.ts) through parseMessage to the item a trigger emits:
 * no kind throws, each gives the fields a reader expects and says in parseWarnings what it had to
 * do. Time and memory are measured by the benchmark (bench/hostile-mail.ts), not here.
 */
import { parseMessage, type ParsedMessage } from '../../../../lib/message/parse';
import { messageBinaries, messageItemJson } from '../../../../nodes/shared/message-item';
import { DEEP_LEVELS, HOSTILE_KINDS, HOSTILE_TEXT, SCRIPT_FLOOD_TEXT, deepNesting, hostileMessage, longLine, manyHeaders, type HostileKind } from '../../../fixtures/hostile-mail';

const MIB = 1024 * 1024;
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const TOO_MANY_PARTS = 'the message has more than 1000 MIME parts and was read only up to there: its text and attachments may be missing';

/** The item the IMAP trigger makes of it (without n8n: its JSON and the binaries it would prepare). */
function item(parsed: ParsedMessage, raw: Buffer) {
	const meta = { mailbox: 'alice', folder: 'INBOX', uid: 1, size: raw.length };
	const binaries = messageBinaries(meta, parsed, raw);
	return { json: messageItemJson(meta, parsed, binaries), binaries };
}

function expectHeaderFields(parsed: ParsedMessage, kind: HostileKind, bytes: number): void {
	expect(parsed.json.subject).toBe(`Hostile mail: ${kind}, ${bytes} bytes`);
	expect(parsed.json.messageId).toBe(`<hostile-${kind}-${bytes}-42@example.test>`);
	expect(parsed.json.date).toBe('2026-11-24T09:00:00.000Z');
}

describe('parseMessage on hostile mail', () => {
	it.each(HOSTILE_KINDS)('%s (1 MiB): an item with its headers, no throw, as JSON of bounded size', async (kind) => {
		const raw = hostileMessage(kind, MIB);
		const parsed = await parseMessage(raw);
		expectHeaderFields(parsed, kind, MIB);
		const { json } = item(parsed, raw);
		expect(json.parseWarnings).toBe(parsed.json.parseWarnings);
		// the item holds what the message holds, not a multiple of it
		expect(JSON.stringify(json).length).toBeLessThan(3 * MIB);
	});

	it('deepNesting: the text at the bottom of 900 levels is read; nested deeper than 1,000 parts the headers stay and a warning says why the rest is missing', async () => {
		const { json } = await parseMessage(deepNesting(MIB));
		expect(json.text).toMatch(new RegExp(`^${HOSTILE_TEXT}\\n--\\w+x\\n`));
		expect(json.parseWarnings).toEqual([]);
		expect(DEEP_LEVELS).toBeLessThan(1000);

		const deeper = await parseMessage(deepNesting(MIB, 42, 5000));
		expectHeaderFields(deeper, 'deepNesting', MIB);
		expect(deeper.json.from.value).toEqual([{ address: 'hostile@example.test', name: 'Hostile Sender' }]);
		expect(deeper.json.parseWarnings).toEqual([TOO_MANY_PARTS]);
	});

	it('manyHeaders: over 100,000 header lines (2 MiB) are all read, From and Subject too; past 131,072 lines a warning says none were', async () => {
		const raw = manyHeaders(2 * MIB);
		const lines = raw.subarray(0, raw.indexOf('\r\n\r\n')).toString('latin1').split('\r\n');
		expect(lines.length).toBeGreaterThan(100_000);
		const { json } = await parseMessage(raw);
		expectHeaderFields({ json } as ParsedMessage, 'manyHeaders', 2 * MIB);
		expect(json.from.value).toEqual([{ address: 'hostile@example.test', name: 'Hostile Sender' }]);
		expect(json.headers.received).toHaveLength(lines.filter((l) => l.startsWith('Received: ')).length);
		expect(Object.keys(json.headers).filter((k) => k.startsWith('x-f'))).toHaveLength(lines.filter((l) => l.startsWith('X-F')).length);
		expect(json.text).toMatch(new RegExp(`^${HOSTILE_TEXT}\\n`));
		expect(json.parseWarnings).toEqual([]);

		const tooMany = await parseMessage(manyHeaders(4 * MIB));
		expect(tooMany.json.subject).toBe('');
		expect(tooMany.json.parseWarnings).toEqual(['a header block of the message is larger than is read (131072 short lines or 8 MiB); the message was read only up to there', 'no message headers could be read']);
	});

	it('longLine: a body of one 10 MB line is the text, whole', async () => {
		const raw = longLine(10_000_000);
		const { json } = await parseMessage(raw);
		const body = raw.subarray(raw.indexOf('\r\n\r\n') + 4, raw.length - 2).toString('latin1');
		expect(json.text?.length).toBe(body.length + 1);
		expect(json.text === `${body}\n`).toBe(true);
		expect(json.parseWarnings).toEqual([]);
	});

	it('scriptFlood: the text is the paragraph before the unclosed <script flood; the HTML is kept as it came', async () => {
		const { json } = await parseMessage(hostileMessage('scriptFlood', MIB));
		expect(json.text).toBe(SCRIPT_FLOOD_TEXT);
		expect(json.html?.length).toBeGreaterThan(MIB - 20_000);
		expect(json.parseWarnings).toEqual([]);
	});

	it('addressFlood: every address of the unbalanced To: is found, the encoded-word flood of the Cc: is decoded, both said', async () => {
		const raw = hostileMessage('addressFlood', MIB);
		const head = raw.subarray(0, raw.indexOf('\r\n\r\n')).toString('latin1');
		const toHeader = head.slice(head.indexOf('\r\nTo:'), head.indexOf('\r\nSubject:'));
		const { json } = await parseMessage(raw);
		expect(json.to.value.map((a) => a.address)).toEqual(toHeader.match(/[\w.]+@example\.test/g));
		expect(json.to.value.slice(0, 4)).toEqual([
			{ address: 'first.reader@example.test', name: '' },
			{ address: 'anna.0@example.test', name: 'Anna' },
			{ address: 'bob.1@example.test', name: 'Bob the builder' },
			{ address: 'carol.2@example.test', name: '' },
		]);
		expect(json.cc.value).toHaveLength(1);
		expect(json.cc.value[0].address).toBe('cc.flood@example.test');
		expect(json.cc.value[0].name).toMatch(/^Grüße\w{3}Übersicht\w{3}日本語/);
		expect(json.cc.value[0].name).not.toContain('=?');
		expect(json.parseWarnings).toEqual(['cc: encoded-word without its closing "?="', 'to: unbalanced quotes or brackets; the addresses were read from the text']);
	});

	it('manyAttachments: thousands of parts are more than are read; the headers stay and a warning says why text and attachments are missing', async () => {
		const raw = hostileMessage('manyAttachments', MIB);
		const parsed = await parseMessage(raw);
		expect(parsed.json.from.value).toEqual([{ address: 'hostile@example.test', name: 'Hostile Sender' }]);
		expect(parsed.json.parseWarnings).toEqual([TOO_MANY_PARTS]);
		expect(item(parsed, raw).binaries.length).toBeLessThanOrEqual(1000);
	});

	it('brokenBase64: the attachment is decoded as far as it can be, its start intact', async () => {
		const raw = hostileMessage('brokenBase64', MIB);
		const parsed = await parseMessage(raw);
		expect(parsed.json.text).toBe(HOSTILE_TEXT);
		expect(parsed.json.attachments).toEqual([expect.objectContaining({ filename: 'broken.pdf', contentType: 'application/pdf', disposition: 'attachment' })]);
		expect(parsed.json.attachments[0].size).toBeGreaterThan(MIB / 2);
		expect(parsed.attachments[0].content.subarray(0, 8).toString('latin1')).toBe('%PDF-1.7');
		expect(item(parsed, raw).binaries.map((b) => [b.fileName, b.data.length])).toEqual([['broken.pdf', parsed.json.attachments[0].size]]);
	});

	it('bidiNames: every file name is freed of its right-to-left controls (one warning for all of them), the display names are read', async () => {
		const raw = hostileMessage('bidiNames', MIB);
		const parts = raw.toString('latin1').match(/Content-Disposition: attachment/g)?.length ?? 0;
		expect(parts).toBeGreaterThan(100);
		const parsed = await parseMessage(raw);
		const names = parsed.json.attachments.map((a) => a.filename);
		expect(names).toHaveLength(parts);
		expect(names.every((name, k) => name === `invoice-${String(k + 1).padStart(6, '0')}fdp.exe`)).toBe(true);
		expect(item(parsed, raw).binaries.some((b) => BIDI.test(b.fileName))).toBe(false);
		// one warning per reason however many attachments: the names, and the programs sent without a type
		expect(parsed.json.parseWarnings).toEqual([
			`attachments 1, 2, 3, 4, 5 and ${parts - 5} more: declared application/octet-stream, but its content is a Windows program: contentType is application/x-msdownload (declaredContentType keeps the sender's)`,
			`attachments 1, 2, 3, 4, 5 and ${parts - 5} more: the file names had right-to-left controls, which can disguise their extensions; they were removed`,
		]);
		expect(new Set(parsed.json.attachments.map((a) => a.contentType))).toEqual(new Set(['application/x-msdownload']));
		expect(parsed.json.from.value[0].address).toBe('support.0@example.test');
		expect(parsed.json.to.value.length).toBeGreaterThan(5000);
	});
});
