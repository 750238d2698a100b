import crypto from 'node:crypto';
import { simpleParser, type AddressObject } from 'mailparser';
import { CHARSETS, EPOCH, MALFORMED_INDEX, MAX_ATTACHMENT_INDEX, generateMessage, generateMessages, type GeneratedMessage } from '../servers/mailgen';

const squash = (text: string) => text.replace(/\s+/g, ' ').trim();
const sha256 = (data: Buffer) => crypto.createHash('sha256').update(data).digest('hex');
const MAX = 48 * 1024;

describe('test mail generator', () => {
	const sample: GeneratedMessage[] = [...generateMessages({ seed: 42, count: 2000, maxAttachmentBytes: MAX })];
	const ofKind = (kind: GeneratedMessage['kind']) => sample.filter((m) => m.kind === kind);

	it('is deterministic: same seed and index give the same bytes, from the generator or alone; another seed gives other mail', () => {
		for (const i of [0, 1, MALFORMED_INDEX, 123, 1999, ofKind('attachments')[0].index, ofKind('related')[0].index, ofKind('charset')[0].index]) {
			const alone = generateMessage(42, i, { maxAttachmentBytes: MAX });
			expect(alone.raw.equals(sample[i].raw)).toBe(true);
			expect(generateMessage(42, i, { maxAttachmentBytes: MAX }).raw.equals(alone.raw)).toBe(true);
			expect(alone.date.getTime()).toBe(sample[i].date.getTime());
			expect(alone.flags).toEqual(sample[i].flags);
		}
		const chunk = [...generateMessages({ seed: 42, startIndex: 1500, count: 20, maxAttachmentBytes: MAX })];
		expect(chunk.map((m) => m.index)).toEqual(sample.slice(1500, 1520).map((m) => m.index));
		expect(chunk.every((m, k) => m.raw.equals(sample[1500 + k].raw))).toBe(true);

		const other = [...generateMessages({ seed: 43, count: 50, maxAttachmentBytes: MAX })];
		expect(other.filter((m, k) => m.raw.equals(sample[k].raw))).toHaveLength(0);
		expect(other.map((m) => m.subject)).not.toEqual(sample.slice(0, 50).map((m) => m.subject));
		expect(other[3].messageId).toBe('<gen-43-3@example.test>');
		const elsewhere = generateMessage(42, 3, { domain: 'mail.test', to: 'bob@mail.test' }).raw.toString('latin1');
		expect(elsewhere).toContain('\r\nMessage-ID: <gen-42-3@mail.test>\r\n');
		expect(elsewhere).toContain('\r\nTo: bob@mail.test\r\n');
	});

	it('has every kind in 2000 messages, in roughly the intended shares, with unique Message-IDs', () => {
		const count = (kind: GeneratedMessage['kind']) => ofKind(kind).length / sample.length;
		expect([...new Set(sample.map((m) => m.kind))].sort()).toEqual(['alternative', 'attachments', 'charset', 'malformed', 'plain', 'related']);
		expect(count('plain')).toBeGreaterThan(0.66);
		expect(count('plain')).toBeLessThan(0.78);
		expect(count('alternative') + count('related')).toBeGreaterThan(0.16);
		expect(count('alternative') + count('related')).toBeLessThan(0.24);
		expect(count('related') / (count('alternative') + count('related'))).toBeGreaterThan(0.15);
		expect(count('related') / (count('alternative') + count('related'))).toBeLessThan(0.35);
		expect(count('charset')).toBeGreaterThan(0.035);
		expect(count('charset')).toBeLessThan(0.08);
		expect(count('attachments')).toBeGreaterThan(0.01);
		expect(count('attachments')).toBeLessThan(0.035);
		expect(new Set(ofKind('charset').map((m) => m.charset))).toEqual(new Set(CHARSETS));
		expect(new Set(sample.map((m) => m.messageId)).size).toBe(sample.length);
		expect(sample.filter((m) => m.kind !== 'malformed' && m.messageId !== `<gen-42-${m.index}@example.test>`)).toEqual([]);

		const fresh = [...generateMessages({ seed: 42, count: 300, attachPct: 0 })];
		expect(fresh.filter((m) => m.kind === 'attachments')).toHaveLength(0);
		const many = [...generateMessages({ seed: 42, count: 300, attachPct: 50, maxAttachmentBytes: 16 * 1024 })].filter((m) => m.kind === 'attachments').length;
		expect(many).toBeGreaterThan(120);
		expect(many).toBeLessThan(180);
	});

	it('spreads flags and dates (two years before the epoch, whole seconds)', () => {
		const share = (flag: string) => sample.filter((m) => m.flags.includes(flag)).length / sample.length;
		expect(share('\\Seen')).toBeGreaterThan(0.55);
		expect(share('\\Seen')).toBeLessThan(0.65);
		expect(share('\\Flagged')).toBeGreaterThan(0.02);
		expect(share('\\Answered')).toBeGreaterThan(0.03);
		const times = sample.map((m) => m.date.getTime());
		expect(Math.max(...times)).toBeLessThan(EPOCH.getTime());
		expect(Math.min(...times)).toBeGreaterThanOrEqual(EPOCH.getTime() - 730 * 86_400_000);
		expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(700 * 86_400_000);
		expect(times.every((t) => t % 1000 === 0)).toBe(true);
	});

	it('uses CRLF line ends only, with lines under 998 characters', () => {
		const tooLong: number[] = [];
		for (const m of sample) {
			let lineStart = 0;
			for (let i = m.raw.indexOf(10); i !== -1; i = m.raw.indexOf(10, i + 1)) {
				if (m.raw[i - 1] !== 13) throw new Error(`bare LF in message ${m.index} at ${i}`);
				if (i - 1 - lineStart > 998) tooLong.push(m.index);
				lineStart = i + 1;
			}
			for (let i = m.raw.indexOf(13); i !== -1; i = m.raw.indexOf(13, i + 1)) if (m.raw[i + 1] !== 10) throw new Error(`bare CR in message ${m.index} at ${i}`);
			if (m.raw[m.raw.length - 2] !== 13 || m.raw[m.raw.length - 1] !== 10) throw new Error(`message ${m.index} does not end in CRLF`);
		}
		expect(tooLong).toEqual([]);
	});

	it('decodes with mailparser to exactly what was meant: subjects, names, bodies, attachments, in every charset', async () => {
		const picked = [...ofKind('charset'), ...ofKind('attachments'), ...ofKind('related').slice(0, 30), ...ofKind('alternative').slice(0, 40), ...ofKind('plain').slice(0, 60)];
		expect(picked.length).toBeGreaterThan(250);
		for (const m of picked) {
			const parsed = await simpleParser(m.raw, { keepCidLinks: true });
			const where = `message ${m.index} (${m.kind}, ${m.charset})`;
			expect([where, parsed.messageId]).toEqual([where, m.messageId]);
			expect([where, parsed.subject]).toEqual([where, m.subject]);
			expect([where, squash(parsed.text ?? '')]).toEqual([where, squash(m.text)]);
			expect([where, (parsed.from as AddressObject).value[0].address]).toEqual([where, m.from]);
			expect(parsed.date?.getTime()).toBe(m.date.getTime());
			const files = parsed.attachments.filter((a) => a.contentDisposition === 'attachment');
			expect([where, files.map((a) => ({ filename: a.filename, contentType: a.contentType, size: a.content.length, sha256: sha256(a.content) }))]).toEqual([where, m.attachments]);
			if (m.kind === 'alternative' || m.kind === 'related') expect(parsed.html).toContain('<p>');
			if (m.kind === 'related') {
				const image = parsed.attachments.find((a) => a.contentType === 'image/png');
				expect(image?.related).toBe(true);
				expect(image?.content.subarray(0, 8).toString('latin1')).toBe('\x89PNG\r\n\x1a\n');
				expect(parsed.html).toContain(`src="cid:${image?.cid}"`);
			}
		}
		const names = ofKind('attachments').flatMap((m) => m.attachments.map((a) => a.filename));
		expect(names.some((n) => /[\u0080-\u024f]/.test(n))).toBe(true); // Latin with diacritics
		expect(names.some((n) => /[\u3040-\u30ff\u4e00-\u9fff]/.test(n))).toBe(true); // Japanese
		expect(names.some((n) => /[\u0400-\u04ff]/.test(n))).toBe(true); // Cyrillic
		expect(ofKind('attachments').some((m) => m.raw.includes("filename*0*=utf-8''"))).toBe(true); // RFC 2231 continuations
		expect(new Set(ofKind('attachments').flatMap((m) => m.attachments.map((a) => a.filename.replace(/.*\./, ''))))).toEqual(new Set(['pdf', 'zip', 'jpg', 'png', 'xlsx', 'csv', 'bin']));
	});

	it('writes each non-UTF-8 charset for real: koi8-r Russian, ISO-2022-JP escapes, 8bit/QP/base64 bodies', async () => {
		const koi = ofKind('charset').find((m) => m.charset === 'koi8-r') as GeneratedMessage;
		const parsedKoi = await simpleParser(koi.raw);
		expect(parsedKoi.subject).toBe(koi.subject);
		expect(koi.subject).toMatch(/^(Re: |RE: |AW: |Re: Re: |Fwd: )?[А-яЁё ]+$/);
		expect(koi.raw.toString('latin1')).toMatch(/^Subject: =\?koi8-r\?[BQ]\?/im);
		expect(parsedKoi.text).toMatch(/[А-яЁё]{5}/);

		const jis = ofKind('charset').find((m) => m.charset === 'iso-2022-jp') as GeneratedMessage;
		expect(jis.raw.includes(Buffer.from('\x1b$B', 'latin1'))).toBe(true);
		expect((await simpleParser(jis.raw)).subject).toMatch(/[\u3040-\u30ff\u4e00-\u9fff]/);

		const encodings = new Set(ofKind('charset').map((m) => /Content-Transfer-Encoding: (\S+)/.exec(m.raw.toString('latin1'))?.[1]));
		expect(encodings).toEqual(new Set(['7bit', '8bit', 'quoted-printable', 'base64']));
		const plainEncodings = new Set(ofKind('plain').map((m) => /Content-Transfer-Encoding: (\S+)/.exec(m.raw.toString('latin1'))?.[1]));
		expect(plainEncodings).toEqual(new Set(['7bit', '8bit', 'quoted-printable', 'base64']));
		expect(ofKind('plain').some((m) => /^Subject: =\?UTF-8\?Q\?/m.test(m.raw.toString('latin1')))).toBe(true);
		expect(ofKind('plain').some((m) => /^From: =\?UTF-8\?[BQ]\?/m.test(m.raw.toString('latin1')))).toBe(true);
		for (const header of ['Cc', 'Reply-To', 'In-Reply-To', 'References', 'List-Id', 'X-Priority']) {
			expect([header, sample.some((m) => new RegExp(`^${header}: `, 'm').test(m.raw.toString('latin1')))]).toEqual([header, true]);
		}
	});

	it('caps attachments at maxAttachmentBytes, with one of exactly that size at the fixed index', async () => {
		const sizes = ofKind('attachments').flatMap((m) => m.attachments.map((a) => a.size));
		expect(Math.min(...sizes)).toBeGreaterThanOrEqual(10 * 1024);
		expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX);
		expect(new Set(ofKind('attachments').map((m) => m.attachments.length))).toEqual(new Set([1, 2, 3]));

		const big = generateMessage(42, MAX_ATTACHMENT_INDEX, { maxAttachmentBytes: 300 * 1024 });
		expect(big.kind).toBe('attachments');
		expect(big.attachments[0].size).toBe(300 * 1024);
		const parsed = await simpleParser(big.raw);
		const first = parsed.attachments.find((a) => a.filename === big.attachments[0].filename) ?? parsed.attachments[0];
		expect(first.content.length).toBe(300 * 1024);
		expect(sha256(first.content)).toBe(big.attachments[0].sha256);
		expect(generateMessage(42, MAX_ATTACHMENT_INDEX + 5000, { maxAttachmentBytes: 20 * 1024 }).attachments[0].size).toBe(20 * 1024);
	});

	it('makes exactly one malformed message per set, and mailparser survives it', async () => {
		expect(ofKind('malformed')).toHaveLength(1);
		expect([...generateMessages({ seed: 5, count: 12 })].filter((m) => m.kind === 'malformed').map((m) => m.messageId)).toEqual(['<malformed-5@example.test>']);
		const bad = sample[MALFORMED_INDEX];
		expect(bad.kind).toBe('malformed');
		expect(bad.messageId).toBe('<malformed-42@example.test>');

		const raw = bad.raw.toString('latin1');
		const head = raw.slice(0, raw.indexOf('\r\n\r\n'));
		expect(head).toMatch(/^From: "[^"]*$/m); // unbalanced quote
		expect(head.split('\r\n').some((line) => !/^[\t ]/.test(line) && !line.includes(':'))).toBe(true); // a header line without a colon
		expect(head).toMatch(/[\x80-\xff]/); // raw 8-bit header bytes
		expect(head.match(/^Content-Type:/gim)).toHaveLength(2);
		expect(head).toMatch(/=\?[^?]+\?B\?[^?]*[^A-Za-z0-9+/=?][^?]*\?=/); // broken encoded-word
		expect(raw).toMatch(/=G7|=ZZ/); // bad quoted-printable
		expect(raw).toContain('--=_inner_42\r\n');
		expect(raw).not.toContain('--=_inner_42--');
		expect(raw).not.toContain('--=_outer_42--');

		const parsed = await simpleParser(bad.raw);
		expect(parsed.messageId).toBe(bad.messageId);
		expect(parsed.text).toContain('Bad quoted-printable');
	});

	it('seeds a catch-all mailbox: Delivered-To the catch-all, X-Original-To and To the recipient, round robin; otherwise the same message kinds', async () => {
		const recipients = ['info@firma.test', 'Sys.Admin@firma.test', 'ghost@old-firma.test'];
		const seeded = [0, 1, 2, 3, 8].map((i) => generateMessage(7, i, { catchAll: { mailbox: 'catchall@firma.test', recipients } }));
		expect(seeded.map((m) => m.envelopeTo)).toEqual([recipients[0], recipients[1], recipients[2], recipients[0], recipients[2]]);
		for (const m of seeded) {
			const parsed = await simpleParser(m.raw);
			const header = (name: string) => {
				const value = parsed.headers.get(name);
				return typeof value === 'string' ? value : (value as AddressObject).text;
			};
			expect(header('delivered-to')).toBe('catchall@firma.test');
			expect(header('x-original-to')).toBe(m.envelopeTo);
			expect((parsed.to as AddressObject).value.map((a) => a.address)).toEqual([m.envelopeTo]);
			expect(parsed.messageId).toBe(m.messageId);
			// the subject is that of the plain generator's message at that index (the greeting follows the recipient)
			const plain = generateMessage(7, m.index);
			expect(m.subject).toBe(plain.subject);
			expect(plain.envelopeTo).toBeUndefined();
		}
	});
});
