import crypto from 'node:crypto';
import { simpleParser } from 'mailparser';
import { generateMessage, generateMessages, MALFORMED_INDEX, type GeneratedMessage } from '../servers/mailgen';

const squash = (text: string) => text.replace(/\s+/g, ' ').trim();

describe('test mail generator', () => {
	const sample: GeneratedMessage[] = [...generateMessages({ seed: 42, count: 2000, maxAttachmentBytes: 64 * 1024 })];

	it('is deterministic: the same seed and index give the same bytes, another seed other mail', () => {
		expect(generateMessage(42, 123).raw.equals(generateMessage(42, 123).raw)).toBe(true);
		expect(generateMessage(42, 123, { maxAttachmentBytes: 64 * 1024 }).raw.equals(sample[123].raw)).toBe(true);
		expect(generateMessage(43, 123).raw.equals(generateMessage(42, 123).raw)).toBe(false);
		expect(new Set(sample.map((m) => m.messageId)).size).toBe(sample.length);
	});

	it('produces every kind, many charsets and the usual flags', () => {
		const kinds = new Set(sample.map((m) => m.kind));
		expect([...kinds].sort()).toEqual(['alternative', 'attachments', 'charset', 'malformed', 'plain', 'related']);
		expect(sample.filter((m) => m.kind === 'malformed')).toHaveLength(1);
		expect(new Set(sample.filter((m) => m.kind === 'charset').map((m) => m.charset)).size).toBeGreaterThanOrEqual(10);
		const seen = sample.filter((m) => m.flags.includes('\\Seen')).length / sample.length;
		expect(seen).toBeGreaterThan(0.5);
		expect(seen).toBeLessThan(0.7);
	});

	it('uses CRLF line ends only', () => {
		for (const m of sample.slice(0, 300)) {
			const text = m.raw.toString('latin1');
			expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
		}
	});

	it('decodes with mailparser to exactly what was meant, in every charset', async () => {
		const charsets = new Map<string, GeneratedMessage>();
		for (const m of sample) if (m.kind === 'charset' && !charsets.has(m.charset)) charsets.set(m.charset, m);
		const picked = [...charsets.values(), ...sample.filter((m) => m.kind !== 'malformed').slice(0, 150)];
		for (const m of picked) {
			const parsed = await simpleParser(m.raw);
			expect(parsed.messageId).toBe(m.messageId);
			expect(parsed.subject).toBe(m.subject);
			expect(squash(parsed.text ?? '')).toBe(squash(m.text));
			expect(parsed.date?.getTime()).toBe(Math.floor(m.date.getTime() / 1000) * 1000);
		}
		expect(charsets.has('koi8-r')).toBe(true);
		const koi = await simpleParser(charsets.get('koi8-r')!.raw);
		expect(koi.subject).toMatch(/[А-яЁё]/);
	});

	it('carries attachments with non-ASCII names, byte for byte', async () => {
		const withFiles = sample.filter((m) => m.kind === 'attachments').slice(0, 10);
		expect(withFiles.length).toBeGreaterThan(5);
		for (const m of withFiles) {
			const parsed = await simpleParser(m.raw);
			const files = parsed.attachments.filter((a) => a.contentDisposition === 'attachment');
			expect(files.map((a) => a.filename)).toEqual(m.attachments.map((a) => a.filename));
			expect(files.map((a) => crypto.createHash('sha256').update(a.content).digest('hex'))).toEqual(m.attachments.map((a) => a.sha256));
		}
		expect(withFiles.flatMap((m) => m.attachments.map((a) => a.filename)).some((name) => /[^\x20-\x7e]/.test(name))).toBe(true);
	});

	it('has one attachment of exactly the maximum size in every 5,000 messages', () => {
		const big = generateMessage(42, 4321, { maxAttachmentBytes: 1024 * 1024 });
		expect(big.attachments.map((a) => a.size)).toContain(1024 * 1024);
	});

	it('makes a malformed message that parsers survive', async () => {
		const bad = sample[MALFORMED_INDEX];
		expect(bad.messageId).toBe('<malformed-42@example.test>');
		expect(bad.raw.includes(Buffer.from('This header line has no colon'))).toBe(true);
		const parsed = await simpleParser(bad.raw);
		expect(parsed.messageId).toBe(bad.messageId);
	});
});
