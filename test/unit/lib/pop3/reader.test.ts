/**
 * The POP3 response reader must give the same answers however the bytes are split into reads:
 * TLS records split "\r\n.\r\n" anywhere, and a line starting with "." may be cut after the dot.
 */
import { parseStatus, Pop3ResponseReader, type Pop3Status } from '../../../../lib/pop3/reader';

interface Answer {
	status?: Pop3Status;
	body?: string;
	error?: string;
}

const BODY = ['Subject: dots', '', '.', '..', '.foo', '...bar', 'a line . with dots.', '.\r', 'x', ''].join('\r\n');
const stuffed = (body: string) => body.replace(/^\./gm, '..');

/** greeting, STAT, RETR (multi-line), LIST with -ERR (no body), a SASL continuation, an empty RETR. */
const TRANSCRIPT = Buffer.from(
	[
		'+OK Dovecot ready. <1f3d.4.6b0ca4a0@vm>\r\n',
		'+OK 2 320\r\n',
		`+OK 120 octets\r\n${stuffed(BODY)}.\r\n`,
		'-ERR [IN-USE] Mailbox is locked\r\n',
		'+ eyJzdGF0dXMiOiI0MDEifQ==\r\n',
		'+OK\r\n.\r\n',
	].join(''),
);
const MULTILINE = [false, false, true, true, false, true];

function run(chunks: Buffer[]): Answer[] {
	const reader = new Pop3ResponseReader();
	const answers: Answer[] = [];
	for (const multiline of MULTILINE) {
		const answer: Answer = {};
		const parts: Buffer[] = [];
		answers.push(answer);
		reader.expect({
			multiline,
			onStatus: (status) => (answer.status = status),
			onBody: (chunk) => parts.push(Buffer.from(chunk)),
			onEnd: () => (answer.body = multiline && answer.status?.ok ? Buffer.concat(parts).toString('latin1') : undefined),
			onError: (error) => (answer.error = error.message),
		});
	}
	for (const chunk of chunks) reader.push(chunk);
	return answers;
}

describe('POP3 response reader', () => {
	const whole = run([TRANSCRIPT]);

	it('parses status lines, response codes, continuations and un-stuffs the body', () => {
		expect(whole[0].status).toEqual({ ok: true, continuation: false, text: 'Dovecot ready. <1f3d.4.6b0ca4a0@vm>', code: undefined });
		expect(whole[1].status?.text).toBe('2 320');
		expect(whole[2].body).toBe(BODY);
		expect(whole[2].body).toContain('\r\n.\r\n..\r\n.foo\r\n');
		expect(whole[3]).toEqual({ status: { ok: false, continuation: false, text: 'Mailbox is locked', code: 'IN-USE' }, body: undefined });
		expect(whole[4].status).toEqual({ ok: true, continuation: true, text: 'eyJzdGF0dXMiOiI0MDEifQ==' });
		expect(whole[5].body).toBe('');
		expect(whole.every((a) => !a.error)).toBe(true);
	});

	it('gives the same answers when the bytes are split in two at every position', () => {
		for (let at = 0; at <= TRANSCRIPT.length; at++) {
			expect(run([TRANSCRIPT.subarray(0, at), TRANSCRIPT.subarray(at)])).toEqual(whole);
		}
	});

	it('gives the same answers byte by byte, and in three pieces at every pair of positions', () => {
		expect(run([...TRANSCRIPT].map((b) => Buffer.from([b])))).toEqual(whole);
		for (let a = 0; a <= TRANSCRIPT.length; a += 3) {
			for (let b = a; b <= TRANSCRIPT.length; b += 5) {
				expect(run([TRANSCRIPT.subarray(0, a), TRANSCRIPT.subarray(a, b), TRANSCRIPT.subarray(b)])).toEqual(whole);
			}
		}
	});

	it('keeps bytes that arrive before anyone asks (a greeting, pipelined answers)', () => {
		const reader = new Pop3ResponseReader();
		reader.push(Buffer.from('+OK hi\r\n+OK 0 0\r\n'));
		const texts: string[] = [];
		for (let i = 0; i < 2; i++) reader.expect({ multiline: false, onStatus: (s) => texts.push(s.text), onEnd: () => undefined, onError: () => undefined });
		expect(texts).toEqual(['hi', '0 0']);
	});

	it('fails on a server that is not POP3, and fails later commands too', () => {
		const reader = new Pop3ResponseReader();
		const errors: string[] = [];
		for (let i = 0; i < 2; i++) reader.expect({ multiline: false, onStatus: () => undefined, onEnd: () => undefined, onError: (e) => errors.push(e.message) });
		reader.push(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'));
		expect(errors).toEqual(['the server did not answer like a POP3 server', 'the server did not answer like a POP3 server']);
	});

	it('reads +OK/-ERR case-insensitively and without text', () => {
		expect(parseStatus('+ok')).toEqual({ ok: true, continuation: false, text: '', code: undefined });
		expect(parseStatus('-ERR [SYS/TEMP] try later')).toMatchObject({ ok: false, code: 'SYS/TEMP', text: 'try later' });
		expect(parseStatus('+')).toEqual({ ok: true, continuation: true, text: '' });
		expect(parseStatus('* OK IMAP')).toBeUndefined();
	});
});
