import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_MAX_CHARS, INPUT_LIMIT, messageBody, type MessageBody } from '../../../../lib/message/body';
import { BODY_KINDS, bodySample, sampleSize } from '../../../fixtures/hostile-bodies';

const MIB = 1024 * 1024;
const FIXTURES = path.join(__dirname, '..', '..', '..', 'fixtures', 'bodies');

interface Case {
	name: string;
	input: string;
	format: MessageBody['format'];
	removed: MessageBody['removed'];
}

const cases = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'cases.json'), 'utf8')) as Case[];
const read = (file: string) => fs.readFileSync(path.join(FIXTURES, file), 'utf8');
const bodyOf = (c: Case) => messageBody(c.input.endsWith('.html') ? { html: read(c.input) } : { text: read(c.input) });

/** The note the cap appends. */
const NOTE = /\n\n\[… cut: [\d,]+ more characters\]$/;

describe('messageBody on the sample mails (test/fixtures/bodies)', () => {
	it('has a sample for every client and language the README names', () => {
		const names = cases.map((c) => c.name).join(' ');
		for (const kind of ['outlook-desktop', 'outlook-web', 'outlook-plain', 'outlook-mac', 'outlook-mobile', 'gmail', 'apple-mail', 'thunderbird', 'iphone', 'forwarded', 'top-posting', 'inline-reply', 'signature-contact', 'newsletter', 'no-quotes', 'reply-fr', 'reply-es', 'reply-it', 'reply-nl', 'new-outlook', 'yahoo', 'protonmail']) {
			expect(names).toContain(kind);
		}
		expect(cases.length).toBe(43);
	});

	it.each(cases.map((c) => [c.name, c] as const))('%s: the expected body, format and removals', (_name, c) => {
		const result = bodyOf(c);
		expect(result.body).toBe(read(`${c.name}.expected.md`).trim());
		expect(result.format).toBe(c.format);
		expect(result.removed).toEqual(c.removed);
		expect(result.truncated).toBe(false);
	});

	it('gives the same body for CRLF line ends', () => {
		for (const c of cases.filter((x) => x.format === 'text')) {
			const crlf = messageBody({ text: read(c.input).replace(/\n/g, '\r\n') });
			expect(crlf.body).toBe(bodyOf(c).body);
		}
	});

	it('prefers the HTML when a mail has both, and the text when the HTML has none', () => {
		const html = read('gmail-reply-en.html');
		const text = read('gmail-plain-reply-en.txt');
		expect(messageBody({ html, text }).format).toBe('markdown');
		expect(messageBody({ html, text }).body).toBe(read('gmail-reply-en.expected.md').trim());
		const onlyImage = messageBody({ html: '<div><img src="cid:logo"></div>', text });
		expect(onlyImage.format).toBe('text');
		expect(onlyImage.body).toBe(read('gmail-plain-reply-en.expected.md').trim());
	});
});

// planer (a port of Mailgun's talon) ships three real Outlook/Office 365 mails with the text each
// reply must keep and the quoted text it must lose; they are read from the installed package.
// planer is a dev dependency, so they are always there.
const planerExamples = path.join(path.dirname(require.resolve('planer/package.json')), 'test', 'examples', 'html');
describe("messageBody on planer's example mails", () => {
	it.each([
		['microsoft-namespaces.html', 'Lorem ipsum dolor sit amet', 'Odio et pretium rutrum neque'],
		['office-365.html', "I really hope that you're doing well!", 'Do you like the holidays?'],
		['outlook-mixed.html', 'This is how it looks on my emails', "We'd love to set up a quick phone call with you"],
	])('%s: keeps the reply, drops the quoted message', (file, reply, quoted) => {
		const html = fs.readFileSync(path.join(planerExamples, file), 'utf8');
		const result = messageBody({ html }, { maxChars: 0 });
		expect(result.body).toContain(reply);
		expect(result.body).not.toContain(quoted);
		expect(result.removed).toContain('quote');
	});
});

describe('messageBody: the cap', () => {
	const paragraphs = Array.from({ length: 200 }, (_, i) => `Paragraph ${i + 1}: the delivery schedule changes for the northern region, see the attached plan.`).join('\n\n');

	it(`caps at ${DEFAULT_MAX_CHARS} characters by default, at a paragraph end, and says how much is left`, () => {
		const result = messageBody({ text: paragraphs });
		expect(result.truncated).toBe(true);
		expect(result.body).toMatch(NOTE);
		const kept = result.body.replace(NOTE, '');
		expect(kept.length).toBeLessThanOrEqual(DEFAULT_MAX_CHARS);
		expect(kept.length).toBeGreaterThan(DEFAULT_MAX_CHARS * 0.9);
		expect(paragraphs.startsWith(kept)).toBe(true);
		expect(paragraphs.slice(kept.length, kept.length + 2)).toBe('\n\n');
		const more = Number(/cut: ([\d,]+) more/.exec(result.body)?.[1].replace(/,/g, ''));
		expect(more).toBe(paragraphs.length - kept.length);
		expect(result.body).toMatch(/cut: \d{1,3}(,\d{3})+ more characters/); // 12,345
	});

	it('cuts at a sentence end when there is no paragraph end, else at a space, else anywhere', () => {
		const sentences = 'The order shipped today. '.repeat(40).trim();
		const bySentence = messageBody({ text: sentences }, { maxChars: 500 }).body.replace(NOTE, '');
		expect(bySentence).toMatch(/today\.$/);
		expect(bySentence.length).toBeLessThanOrEqual(500);
		const words = 'word '.repeat(300).trim();
		const byWord = messageBody({ text: words }, { maxChars: 500 }).body.replace(NOTE, '');
		expect(byWord).toMatch(/^(word )*word$/);
		const blob = 'x'.repeat(1000);
		expect(messageBody({ text: blob }, { maxChars: 500 }).body.replace(NOTE, '')).toBe('x'.repeat(500));
		// never half a surrogate pair
		const emoji = '😀'.repeat(400);
		const cut = messageBody({ text: emoji }, { maxChars: 301 }).body.replace(NOTE, '');
		expect(cut).toBe('😀'.repeat(150));
	});

	it('maxChars 0 is no cap; a short body is not truncated', () => {
		const result = messageBody({ text: paragraphs }, { maxChars: 0 });
		expect(result).toEqual({ body: paragraphs, format: 'text', truncated: false, removed: [] });
		expect(messageBody({ text: 'Hi' }, { maxChars: 10 })).toEqual({ body: 'Hi', format: 'text', truncated: false, removed: [] });
		expect(messageBody({})).toEqual({ body: '', format: 'text', truncated: false, removed: [] });
	});

	it(`reads at most ${INPUT_LIMIT} characters of a longer message, and says so`, () => {
		const text = `Start\n\n${'a'.repeat(2 * MIB)}`;
		const result = messageBody({ text }, { maxChars: 0 });
		expect(result.truncated).toBe(true);
		expect(result.body).toMatch(NOTE);
		expect(result.body.replace(NOTE, '').length).toBe(INPUT_LIMIT);
		expect(result.body).toContain(`cut: ${(text.length - INPUT_LIMIT).toLocaleString('en-US')} more characters`);
	});

	it('converts no more HTML than the cap needs, and counts the rest', () => {
		const paragraphs = Array.from({ length: 5000 }, (_, i) => `Paragraph ${i}: the schedule for the northern region changes next week.`);
		const html = paragraphs.map((p) => `<p>${p}</p>`).join('');
		const total = paragraphs.join('\n\n').length;
		const capped = messageBody({ html });
		expect(capped.truncated).toBe(true);
		const kept = capped.body.replace(NOTE, '');
		expect(kept.startsWith('Paragraph 0: the schedule')).toBe(true);
		expect(kept.length).toBeLessThanOrEqual(DEFAULT_MAX_CHARS);
		const more = Number(/cut: ([\d,]+) more/.exec(capped.body)?.[1].replace(/,/g, ''));
		expect(Math.abs(more - (total - kept.length)) / total).toBeLessThan(0.05);
		const whole = messageBody({ html }, { maxChars: 0 });
		expect(whole.truncated).toBe(false);
		expect(whole.body).toBe(paragraphs.join('\n\n'));
		// a reply above a long quote: the quote past the budget is not counted
		const reply = messageBody({ html: `<p>Agreed.</p><div style="border:none;border-top:solid #E1E1E1 1.0pt"><p>From: Anna</p></div>${html}` });
		expect(reply).toEqual({ body: 'Agreed.', format: 'markdown', truncated: false, removed: ['quote'] });
	});
});

describe('messageBody: conservative', () => {
	it('keeps the whole text when taking out quotes and signature would leave nothing', () => {
		const onlyQuote = '> Can you send the report?\n> Thanks';
		expect(messageBody({ text: onlyQuote })).toEqual({ body: onlyQuote, format: 'text', truncated: false, removed: [] });
		const onlyAttribution = 'On Mon, Nov 3, 2025 at 4:05 PM Anna <anna@example.com> wrote:\n> Hello';
		expect(messageBody({ text: onlyAttribution }).body).toBe(onlyAttribution);
		const onlyCite = '<blockquote type="cite">On 4 Nov 2025, at 18:20, Ben wrote:<br>We closed the round.</blockquote>';
		expect(messageBody({ html: onlyCite }).body).toBe('> On 4 Nov 2025, at 18:20, Ben wrote:\n> We closed the round.');
	});

	it('keeps a closing that is all the reply there is', () => {
		const result = messageBody({ text: 'Thanks, Bob\n\nOn Mon, Nov 3, 2025 at 4:05 PM Anna <anna@example.com> wrote:\n> Here is the file.' });
		expect(result).toEqual({ body: 'Thanks, Bob', format: 'text', truncated: false, removed: ['quote'] });
	});

	it('does not take a closing for a signature when prose follows it', () => {
		const text = 'Hi Sam,\n\nsee below.\n\nBest regards,\nKim\n\nOne more thing: the meeting moved to room 4 because the projector in room 2 is broken and will not be fixed this week.';
		expect(messageBody({ text }).body).toBe(text);
	});

	it('does not cut at "On …" or "From:" lines that are not a reply header', () => {
		const text = 'On Monday we ship version 2.\nFrom: the release notes, the fix for #42 is in.\n\nOn reflection, we should also wrote: tests.';
		expect(messageBody({ text })).toEqual({ body: text, format: 'text', truncated: false, removed: [] });
	});

	it('keeps a short last line that is an answer, not a name', () => {
		const text = 'Can we ship on Friday?\n\nYes';
		expect(messageBody({ text: `${text}\n\nOn Mon, Nov 3, 2025 at 4:05 PM Anna <a@example.com> wrote:\n> Ship?` }).body).toBe(text);
	});

	it('keeps a "--" line followed by more than a signature', () => {
		const text = `Intro\n--\n${Array.from({ length: 30 }, (_, i) => `Line ${i} of the report text`).join('\n')}`;
		expect(messageBody({ text }).body).toBe(text);
	});
});

describe('messageBody: HTML to Markdown', () => {
	const md = (html: string) => messageBody({ html }).body;

	it('writes a data table as a Markdown table and a layout table as blocks', () => {
		expect(md('<p>Prices:</p><table><thead><tr><th>Item</th><th>Price</th></tr></thead><tbody><tr><td>Chair</td><td>120 €</td></tr><tr><td>Desk | big</td><td>340 €</td></tr></tbody></table>')).toBe(
			'Prices:\n\n| Item | Price |\n| --- | --- |\n| Chair | 120 € |\n| Desk \\| big | 340 € |',
		);
		expect(md('<table><tr><td><p>Hello</p></td></tr><tr><td><p>World</p></td></tr></table>')).toBe('Hello\n\nWorld');
	});

	it('keeps nested lists, numbered lists and quotes that are not replies', () => {
		expect(md('<ul><li>One<ul><li>One.a</li><li>One.b</li></ul></li><li>Two</li></ul><ol start="3"><li>three</li><li>four</li></ol>')).toBe('- One\n  - One.a\n  - One.b\n- Two\n\n3. three\n4. four');
		expect(md('<p>My view:</p><blockquote><p>Level 1</p><blockquote><p>Level 2</p></blockquote></blockquote><p>End.</p>')).toBe('My view:\n\n> Level 1\n>\n> > Level 2\n\nEnd.');
	});

	it('writes links as [text](url), a link whose text is its address as the address, and drops images and hidden text', () => {
		expect(md('<p>Mail <a href="mailto:a@b.example">a@b.example</a>, see <a href="https://x.example/a b">the docs</a> or <a href="https://x.example/">https://x.example/</a><a href="https://t.example/"><img src="x.png" alt="logo"></a></p>')).toBe(
			'Mail a@b.example, see [the docs](https://x.example/a%20b) or https://x.example/',
		);
		expect(md('<div style="display:none">preview text</div><p>Visible</p><script>alert(1)</script><style>p{}</style>')).toBe('Visible');
	});

	it('decodes entities, drops zero-width characters and keeps words apart', () => {
		expect(md('<p>Fish &amp; Chips &lt;3&nbsp;&euro;</p><p>a&zwnj;b&#8203;c</p><p><b>Hello</b><span> </span><i>world</i></p>')).toBe('Fish & Chips <3 €\n\nabc\n\n**Hello** *world*');
	});
});

describe('messageBody: hostile input (outcome only; the time is measured by the bench)', () => {
	it('a 2 MB line of ">" after a reply', () => {
		const result = messageBody({ text: `Hello\n${'>'.repeat(2_000_000)}` });
		expect(result.body).toMatch(/^Hello\n\n\[… cut: [\d,]+ more characters\]$/);
		expect(result.removed).toEqual(['quote']);
		expect(result.truncated).toBe(true);
	});

	it('100,000 "On … wrote:" lines, after a reply and alone', () => {
		const flood = 'On Mon, Nov 3, 2025 at 4:05 PM Anna <anna@example.com> wrote:\n'.repeat(100_000);
		const after = messageBody({ text: `Reply\n${flood}` });
		expect(after.body.replace(NOTE, '')).toBe('Reply');
		expect(after.removed).toEqual(['quote']);
		const alone = messageBody({ text: flood });
		expect(alone.body.startsWith('On Mon, Nov 3, 2025')).toBe(true);
		expect(alone.truncated).toBe(true);
		expect(alone.removed).toEqual([]);
	});

	it('200,000 nested blockquotes, divs, list items and inline tags', () => {
		for (const open of ['<blockquote>', '<div>', '<ul><li>', '<b><i><span>']) {
			const html = `before ${open.repeat(Math.floor(200_000 / open.length) * 4).slice(0, 800_000)}deep text`;
			const result = messageBody({ html }, { maxChars: 0 });
			expect(result.body).toContain('before');
			expect(result.body).toContain('deep text');
			expect(result.body.split('\n').length).toBeLessThan(100);
		}
	});

	it('a flood of unclosed tags', () => {
		for (const unit of ['<a href="x', '<div', '<script', '<p class="', '<!--', '<table><tr><td>']) {
			const result = messageBody({ html: `first ${unit.repeat(Math.floor(MIB / unit.length))}` });
			expect(result.body.startsWith('first')).toBe(true);
			expect(result.body).not.toContain('<script');
		}
	});

	it('a MiB of lines built to make the line patterns backtrack, kept as they are', () => {
		for (const line of ['['.repeat(399), '[a]('.repeat(99), `From: ${'['.repeat(393)}`, `<${'@'.repeat(399)}`, `On 1 ${'@'.repeat(395)}`, `Zitat von ${':'.repeat(390)}`, '-'.repeat(399), `Best${' '.repeat(395)}x`, `A${' A'.repeat(199)}`]) {
			const text = `${line}\n`.repeat(Math.floor(MIB / (line.length + 1)));
			const result = messageBody({ text }, { maxChars: 0 });
			expect(result.body.length).toBeGreaterThan(text.length * 0.99);
			expect(result.truncated).toBe(false);
		}
	});

	it('tag and attribute names that are names of object properties', () => {
		expect(messageBody({ html: '<constructor>a</constructor><toString __proto__="x" constructor="y">b</toString><hasOwnProperty>c' }).body).toBe('abc');
	});

	it.each(BODY_KINDS.map((k) => [k]))('%s at 1 MiB: read whole, a body with the own text', (kind) => {
		const sample = bodySample(kind, MIB);
		expect(sampleSize(sample)).toBe(MIB);
		const result = messageBody(sample);
		const expected: Record<typeof kind, string | RegExp> = {
			outlookThread: 'Hallo Frau Schmidt,\n\ndie Lieferung kommt am Freitag.',
			gmailThread: 'Sounds good, thanks.',
			plainThread: 'Sounds good.',
			newsletter: /^## Weekly tip\n\nRead the \[full guide\]\(https:\/\/news\.example\.com\/articles\/tip\?utm_source=newsletter\) on our website\.\n\n- Plant bulbs\n- Cut back perennials\n\n## Weekly tip/,
			quoteLine: 'Hello',
			attributionFlood: 'Reply',
			headerFlood: /^From: a@example\.com\nSent: Monday\nTo: b@example\.com\nSubject: x\n/,
			nestedBlockquotes: /deep text$/,
			nestedInline: /^start .*deep text/s,
			unclosedTags: 'start',
			nbspFlood: 'start end',
			preWhitespace: /^start\s+end$/,
			breakFlood: 'start\n\nend',
			wideTable: /^\| a \| b \|\n\| --- \| --- \|\n\| 1 \| 2 \|\n/,
		};
		const want = expected[kind];
		if (typeof want === 'string') expect(result.body).toBe(want);
		else expect(result.body).toMatch(want);
	});

	it.each(BODY_KINDS.map((k) => [k]))('%s at 2 MiB: the first 1 MiB read, truncated', (kind) => {
		const result = messageBody(bodySample(kind, 2 * MIB), { maxChars: 0 });
		expect(result.truncated).toBe(true);
		expect(result.body).toMatch(/\[… cut: [\d,]+ more characters\]$/);
	});
});
