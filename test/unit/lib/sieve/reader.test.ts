/**
 * The ManageSieve response reader must give the same answers however the bytes are split into
 * reads: a literal's length line, its octets, a quoted string with escapes, a response code.
 */
import { MAX_BUFFERED, parseLine, SieveResponseReader, statusOf, type SieveStatus, type SieveToken } from '../../../../lib/sieve/reader';

interface Answer {
	data: SieveToken[][];
	status?: SieveStatus;
	error?: string;
}

const SCRIPT = 'require "vacation";\r\nvacation text:\r\nOK "not a status"\r\n..\r\n.\r\n;\r\n';

/** greeting, LISTSCRIPTS, GETSCRIPT (literal), PUTSCRIPT refused with a literal reason, NO with code, SASL challenge, BYE. */
const TRANSCRIPT = Buffer.from(
	[
		'"IMPLEMENTATION" "Dovecot Pigeonhole"\r\n"SASL" "PLAIN OAUTHBEARER"\r\n"SIEVE" "vacation date relational include"\r\n"STARTTLS"\r\n"VERSION" "1.0"\r\nOK "Dovecot ready."\r\n',
		'"n8n-out-of-office" ACTIVE\r\n"my \\"filters\\" \\\\ x"\r\nOK "Listscripts completed."\r\n',
		`{${Buffer.byteLength(SCRIPT)}}\r\n${SCRIPT}\r\nOK "Getscript completed."\r\n`,
		'NO {52}\r\nline 1: error: unknown command\r\nvalidation failed.\r\n\r\n',
		'NO (NONEXISTENT) "Script does not exist."\r\n',
		'"eyJzdGF0dXMiOiI0MDEifQ=="\r\n',
		'OK (SASL "c2VydmVyLWZpbmFs") "Logged in."\r\n',
		'BYE (TRYLATER) "Server shutting down."\r\n',
	].join(''),
);
const CHALLENGE_AT = 5;

function run(chunks: Buffer[]): Answer[] {
	const reader = new SieveResponseReader();
	const answers: Answer[] = [];
	for (let i = 0; i < 8; i++) {
		const answer: Answer = { data: [] };
		answers.push(answer);
		reader.expect({
			onData: (tokens) => answer.data.push(tokens),
			onStatus: (status) => (answer.status = status),
			onError: (error) => (answer.error = error.message),
			endsOnData: i === CHALLENGE_AT ? (tokens) => tokens.length === 1 && tokens[0].kind === 'string' : undefined,
		});
	}
	for (const chunk of chunks) reader.push(chunk);
	return answers;
}

describe('ManageSieve response reader', () => {
	const whole = run([TRANSCRIPT]);

	it('parses capabilities, script lists, literals, response codes and challenges', () => {
		expect(whole.every((a) => !a.error)).toBe(true);
		expect(whole[0].data.map((line) => line.map((t) => (t.kind === 'list' ? '' : t.value)))).toEqual([
			['IMPLEMENTATION', 'Dovecot Pigeonhole'],
			['SASL', 'PLAIN OAUTHBEARER'],
			['SIEVE', 'vacation date relational include'],
			['STARTTLS'],
			['VERSION', '1.0'],
		]);
		expect(whole[0].status).toEqual({ status: 'OK', code: undefined, text: 'Dovecot ready.' });
		expect(whole[1].data).toEqual([
			[
				{ kind: 'string', value: 'n8n-out-of-office', literal: false },
				{ kind: 'atom', value: 'ACTIVE' },
			],
			[{ kind: 'string', value: 'my "filters" \\ x', literal: false }],
		]);
		// the literal's octets exactly, though they hold CRLF, a quoted "OK" line and a lone "."
		expect(whole[2].data).toEqual([[{ kind: 'string', value: SCRIPT, literal: true }]]);
		expect(whole[3].status).toEqual({ status: 'NO', code: undefined, text: 'line 1: error: unknown command\r\nvalidation failed.\r\n' });
		expect(whole[4].status).toEqual({ status: 'NO', code: { name: 'NONEXISTENT', args: [] }, text: 'Script does not exist.' });
		expect(whole[5]).toEqual({ data: [[{ kind: 'string', value: 'eyJzdGF0dXMiOiI0MDEifQ==', literal: false }]] });
		expect(whole[6].status).toEqual({ status: 'OK', code: { name: 'SASL', args: ['c2VydmVyLWZpbmFs'] }, text: 'Logged in.' });
		expect(whole[7].status).toEqual({ status: 'BYE', code: { name: 'TRYLATER', args: [] }, text: 'Server shutting down.' });
	});

	it('gives the same answers when the bytes are split in two at every position', () => {
		for (let at = 0; at <= TRANSCRIPT.length; at++) {
			expect(run([TRANSCRIPT.subarray(0, at), TRANSCRIPT.subarray(at)])).toEqual(whole);
		}
	});

	it('gives the same answers byte by byte, and in three pieces at many pairs of positions', () => {
		expect(run([...TRANSCRIPT].map((b) => Buffer.from([b])))).toEqual(whole);
		for (let a = 0; a <= TRANSCRIPT.length; a += 7) {
			for (let b = a; b <= TRANSCRIPT.length; b += 11) {
				expect(run([TRANSCRIPT.subarray(0, a), TRANSCRIPT.subarray(a, b), TRANSCRIPT.subarray(b)])).toEqual(whole);
			}
		}
	});

	it('decodes UTF-8 split inside a character, in quoted strings and literals', () => {
		const bytes = Buffer.from('"Grüße ☀"\r\n{8}\r\nÄrger\r\n\r\nOK\r\n');
		for (let at = 0; at <= bytes.length; at++) {
			const [answer] = (() => {
				const reader = new SieveResponseReader();
				const a: Answer = { data: [] };
				reader.expect({ onData: (t) => a.data.push(t), onStatus: (s) => (a.status = s), onError: (e) => (a.error = e.message) });
				reader.push(bytes.subarray(0, at));
				reader.push(bytes.subarray(at));
				return [a];
			})();
			expect(answer.data.map((l) => (l[0].kind === 'string' ? l[0].value : ''))).toEqual(['Grüße ☀', 'Ärger\r\n']);
			expect(answer.status?.status).toBe('OK');
		}
	});

	it('fails on a server that is not ManageSieve (IMAP, SMTP), and fails later commands too', () => {
		for (const greeting of ['* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n', '220 mail.example.com ESMTP\r\n']) {
			const reader = new SieveResponseReader();
			const errors: string[] = [];
			for (let i = 0; i < 2; i++) reader.expect({ onData: () => undefined, onStatus: () => undefined, onError: (e) => errors.push(e.message) });
			reader.push(Buffer.from(greeting));
			expect(errors).toHaveLength(2);
			expect(errors[0]).toMatch(/did not answer like a ManageSieve server/);
		}
	});

	it('keeps bytes that arrive before anyone asks, and refuses absurd literals', () => {
		const reader = new SieveResponseReader();
		reader.push(Buffer.from('OK "one"\r\nOK "two"\r\n'));
		const texts: string[] = [];
		for (let i = 0; i < 2; i++) reader.expect({ onData: () => undefined, onStatus: (s) => texts.push(s.text), onError: () => undefined });
		expect(texts).toEqual(['one', 'two']);
		expect(parseLine(Buffer.from('{99999999999}\r\n'))).toEqual({ error: expect.stringMatching(/malformed literal|more than/) });
		expect(parseLine(Buffer.from('{20000000}\r\n'))).toEqual({ error: expect.stringMatching(/more than/) });
	});

	it('refuses a line of endless literals and a flood nobody asked for, holding no more than one answer can take', () => {
		// literals on one line: ManageSieve answers carry one or two
		const literals = Buffer.from(`"x" ${'{3}\r\nabc '.repeat(20)}\r\n`);
		const errors: string[] = [];
		const reader = new SieveResponseReader();
		reader.expect({ onData: () => undefined, onStatus: () => undefined, onError: (e) => errors.push(e.message) });
		for (let i = 0; i < literals.length; i += 7) reader.push(literals.subarray(i, i + 7));
		expect(errors).toEqual([expect.stringMatching(/did not answer like a ManageSieve server \(more than 8 literals on one line\)/)]);

		// bytes without a line end before anyone asks (e.g. before STARTTLS): refused past the limit
		const flood = new SieveResponseReader();
		const chunk = Buffer.alloc(1024 * 1024, 'A');
		let pushed = 0;
		while (pushed <= MAX_BUFFERED) {
			flood.push(chunk);
			pushed += chunk.length;
		}
		const later: string[] = [];
		flood.expect({ onData: () => undefined, onStatus: () => undefined, onError: (e) => later.push(e.message) });
		expect(later).toEqual([expect.stringMatching(/more than \d+ bytes without ending an answer/)]);
		// nothing of it is held any more
		expect(flood.discard()).toBe(0);

		// a literal as large as allowed, arriving in small reads, still comes whole
		const script = 'x'.repeat(3 * 1024 * 1024);
		const big = Buffer.from(`{${script.length}}\r\n${script}\r\nOK "done"\r\n`);
		const got: string[] = [];
		const whole = new SieveResponseReader();
		whole.expect({ onData: (tokens) => got.push(tokens[0].kind === 'string' ? tokens[0].value : ''), onStatus: (st) => got.push(st.text), onError: (e) => got.push(e.message) });
		for (let i = 0; i < big.length; i += 1500) whole.push(big.subarray(i, i + 1500));
		expect(got.map((g) => g.length)).toEqual([script.length, 4]);
	});

	it('reads status words case-insensitively; a data line is no status', () => {
		expect(statusOf([{ kind: 'atom', value: 'ok' }])).toEqual({ status: 'OK', code: undefined, text: '' });
		expect(statusOf([{ kind: 'string', value: 'OK', literal: false }])).toBeUndefined();
	});
});
