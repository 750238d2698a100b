/**
 * The linear address finder gives what the regular expression it replaced gave (checked on
 * generated text rich in the characters that matter), and finds addresses in garbled headers.
 */
import { findEmails } from '../../../../lib/message/emails';

const EMAIL = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*/g;

/** A small seeded generator, so every run checks the same texts. */
function random(seed: number): () => number {
	let s = seed >>> 0;
	return () => {
		s = (s * 1664525 + 1013904223) >>> 0;
		return s / 2 ** 32;
	};
}

describe('finding addresses in free text', () => {
	it('finds what the regular expression found, on 20,000 generated texts', () => {
		const next = random(7);
		const alphabet = ['a', 'b', 'Z', '0', '9', '.', '-', '@', '@', '_', '+', ' ', ',', ';', '<', '>', '"', '(', ')', '..', '.-', '-.', 'ä', '\t'];
		for (let n = 0; n < 20_000; n++) {
			let text = '';
			const length = Math.floor(next() * 40);
			for (let i = 0; i < length; i++) text += alphabet[Math.floor(next() * alphabet.length)];
			const expected = [...text.matchAll(EMAIL)].map((m) => ({ index: m.index, address: m[0] }));
			expect({ text, found: findEmails(text) }).toEqual({ text, found: expected });
		}
	});

	it('finds the addresses of a header with unbalanced quotes and brackets', () => {
		expect(findEmails('"Anna <anna@firma.example>, Bob" <bob.b@sub.firma-x.example>; (x) carl+tag@example.com.')).toEqual([
			{ index: 7, address: 'anna@firma.example' },
			{ index: 34, address: 'bob.b@sub.firma-x.example' },
			{ index: 66, address: 'carl+tag@example.com' },
		]);
		expect(findEmails('no address @ here, nor a@-b or @x.y')).toEqual([]);
	});
});
