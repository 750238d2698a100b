import { DEEP_LEVELS, HOSTILE_KINDS, MIN_HOSTILE_BYTES, hostileMessage, longLine, manyHeaders } from '../servers/hostile-mail';

const MIB = 1024 * 1024;

/** The header block (up to the blank line) as text. */
const headerBlock = (raw: Buffer) => raw.subarray(0, raw.indexOf('\r\n\r\n')).toString('latin1');

describe('hostile mail generator', () => {
	it.each(HOSTILE_KINDS)('%s: the same bytes for the same size and seed, other bytes for another seed, exactly the size asked for', (kind) => {
		for (const bytes of [MIN_HOSTILE_BYTES, 100_003, MIB]) {
			const raw = hostileMessage(kind, bytes);
			expect(raw.length).toBe(bytes);
			expect(hostileMessage(kind, bytes).equals(raw)).toBe(true);
			expect(hostileMessage(kind, bytes, 7).equals(raw)).toBe(false);
			// CRLF line ends only
			expect(/[^\r]\n|\r[^\n]/.exec(raw.toString('latin1'))?.index).toBeUndefined();
			const head = headerBlock(raw);
			expect(head).toContain(`\r\nMessage-ID: <hostile-${kind}-${bytes}-42@example.test>`);
			expect(head).toMatch(/^From: .+\r\nTo: /);
		}
		expect(() => hostileMessage(kind, MIN_HOSTILE_BYTES - 1)).toThrow(/at least/);
	});

	it('makes what each kind is named for', () => {
		const text = (kind: (typeof HOSTILE_KINDS)[number], bytes = MIB) => hostileMessage(kind, bytes).toString('latin1');
		// deepNesting: DEEP_LEVELS multiparts inside each other, all closed at the end
		expect(text('deepNesting').match(/Content-Type: multipart\/mixed/g)).toHaveLength(DEEP_LEVELS + 1);
		expect(text('deepNesting').match(/^--\w+--\r$/gm)).toHaveLength(DEEP_LEVELS + 1);
		// manyHeaders: over 100,000 header lines at 2 MiB
		expect(headerBlock(manyHeaders(2 * MIB)).split('\r\n').length).toBeGreaterThan(100_000);
		// longLine: a 10 MB message is one line after its header
		const ten = longLine(10 * 1000 * 1000);
		expect(ten.length - ten.indexOf('\r\n\r\n') - 6).toBeGreaterThan(10_000_000 - 400);
		expect(ten.indexOf('\r\n', ten.indexOf('\r\n\r\n') + 4)).toBe(ten.length - 2);
		// scriptFlood: tens of thousands of <script, no > after the paragraph
		const flood = text('scriptFlood');
		expect(flood.match(/<script/gi)?.length).toBeGreaterThan(50_000);
		expect(flood.slice(flood.indexOf('</p>') + 4)).not.toContain('>');
		// addressFlood: thousands of addresses in To:, thousands of encoded-words in Cc:
		const addresses = headerBlock(hostileMessage('addressFlood', MIB));
		expect(addresses.match(/@example\.test/g)?.length).toBeGreaterThan(10_000);
		expect(addresses.match(/=\?utf-8\?B\?/g)?.length).toBeGreaterThan(10_000);
		// manyAttachments: thousands of them
		expect(text('manyAttachments').match(/Content-Disposition: attachment/g)?.length).toBeGreaterThan(4000);
		// brokenBase64: characters outside the alphabet in the encoded attachment
		const broken = text('brokenBase64');
		expect(broken.slice(broken.indexOf('JVBERi0xLjcK'))).toMatch(/[!*%~]/);
		// bidiNames: U+202E (RLO) in the file names, as RFC 2231 and in encoded-words
		const bidi = text('bidiNames');
		expect(bidi).toContain("filename*=utf-8''invoice-000010%E2%80%AEfdp.exe");
		expect(bidi).toContain(`filename="=?utf-8?B?${Buffer.from('invoice-000001\u202efdp.exe').toString('base64')}?="`);
	});
});
