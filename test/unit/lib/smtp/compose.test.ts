import crypto from 'node:crypto';
import { htmlToText } from '../../../../lib/message/html';
import { appendHtmlSignature, appendTextSignature, composeMessage, messageIds, parseAllowedSenders, replySubject, senderAllowed } from '../../../../lib/smtp/compose';

describe('composing mail', () => {
	it('puts one "Re:" before a subject, keeping existing reply prefixes', () => {
		expect(replySubject('Hello')).toBe('Re: Hello');
		expect(replySubject('Re: Hello')).toBe('Re: Hello');
		expect(replySubject('RE:Hello')).toBe('RE:Hello');
		expect(replySubject('AW: Angebot')).toBe('AW: Angebot');
		expect(replySubject('Re[2]: Hello')).toBe('Re[2]: Hello');
		expect(replySubject('Fwd: Hello')).toBe('Re: Fwd: Hello');
		expect(replySubject('Results: 3')).toBe('Re: Results: 3');
	});

	it('reads message ids from References lines and lists', () => {
		expect(messageIds(['<a@x> <b@x>', '<c@x>'])).toEqual(['<a@x>', '<b@x>', '<c@x>']);
		expect(messageIds('<a@x>\r\n <b@x>')).toEqual(['<a@x>', '<b@x>']);
		expect(messageIds('bare@x')).toEqual(['<bare@x>']);
		expect(messageIds(null)).toEqual([]);
	});

	it('appends signatures after "-- " in text and before </body> in HTML', () => {
		expect(appendTextSignature('Hi\n\n', 'Anna')).toBe('Hi\n\n-- \nAnna\n');
		expect(appendTextSignature('', 'Anna')).toBe('-- \nAnna\n');
		expect(appendHtmlSignature('<html><body><p>Hi</p></body></html>', '<b>Anna</b>')).toBe('<html><body><p>Hi</p><div class="signature">-- <br>\n<b>Anna</b></div>\n</body></html>');
		expect(appendHtmlSignature('<p>Hi</p>', 'Anna')).toBe('<p>Hi</p>\n<div class="signature">-- <br>\nAnna</div>');
		expect(htmlToText('<p>A &amp; B</p><p>C<br>D</p>')).toBe('A & B\nC\nD');
	});

	it('checks senders against exact addresses and @domain rules, case-insensitively', () => {
		const allowed = parseAllowedSenders('info@example.com; @Sales.example.com\nceo@example.com');
		expect(allowed).toEqual(['info@example.com', '@Sales.example.com', 'ceo@example.com']);
		expect(senderAllowed('INFO@example.com', allowed)).toBe(true);
		expect(senderAllowed('anna@sales.example.com', allowed)).toBe(true);
		expect(senderAllowed('anna@example.com', allowed)).toBe(false);
		expect(senderAllowed('anna@notsales.example.com', allowed)).toBe(false);
		expect(senderAllowed('anyone@anywhere.test', [])).toBe(true);
	});

	it('builds CRLF-only bytes whose hash is the one reported, BCC in the envelope only', async () => {
		const message = await composeMessage({
			fromEmail: 'a@example.com',
			to: 'b@example.com',
			bcc: 'c@example.com',
			text: 'line 1\nline 2\r\nline 3',
			account: { bccAll: 'archive@example.com' },
		});
		expect(message.raw.includes('\n')).toBe(true);
		expect(/(^|[^\r])\n/.test(message.raw.toString('latin1'))).toBe(false);
		expect(message.sha256).toBe(crypto.createHash('sha256').update(message.raw).digest('hex'));
		expect(message.envelope).toEqual({ from: 'a@example.com', to: ['b@example.com', 'c@example.com', 'archive@example.com'] });
		expect(message.raw.toString()).not.toMatch(/^bcc:/im);
		expect(message.raw.toString()).toContain('line 1\r\nline 2\r\nline 3');
	});

	it('refuses a message without recipients and addresses that are none', async () => {
		await expect(composeMessage({ fromEmail: 'a@example.com', text: 'x' })).rejects.toMatchObject({ code: 'CONFIG', field: 'toEmail' });
		await expect(composeMessage({ fromEmail: 'a@example.com', to: 'not an address', text: 'x' })).rejects.toMatchObject({ code: 'CONFIG', field: 'toEmail' });
		await expect(composeMessage({ fromEmail: 'Anna <a@example.com>', to: 'b@example.com', text: 'x' })).rejects.toMatchObject({ code: 'CONFIG', field: 'fromEmail' });
		await expect(composeMessage({ fromEmail: 'a@example.com', to: 'b@example.com', text: 'x', headers: [{ name: 'Subject', value: 'y' }] })).rejects.toMatchObject({ code: 'CONFIG', field: 'headers' });
		const content = Buffer.from('hi');
		await expect(composeMessage({ fromEmail: 'a@example.com', to: 'b@example.com', text: 'x', attachments: [{ filename: 'a\r\nBcc: e@evil.test', content }] })).rejects.toMatchObject({
			code: 'CONFIG',
			field: 'attachments',
			message: 'The file name "a Bcc: e@evil.test" of an attachment contains a line break (CR or LF); nothing was sent.',
		});
		await expect(composeMessage({ fromEmail: 'a@example.com', to: 'b@example.com', text: 'x', attachments: [{ filename: 'a.txt', contentType: 'text/plain\r\nBcc: e@evil.test', content }] })).rejects.toMatchObject({
			code: 'CONFIG',
			field: 'attachments',
		});
		await expect(composeMessage({ fromEmail: 'a@example.com', to: 'b@example.com', text: 'x', attachments: [{ filename: 'a.txt', contentType: 'text/plain; charset=utf-8', content }] })).resolves.toBeDefined();
	});
});
