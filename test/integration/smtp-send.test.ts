/**
 * Sending mail: the composed message against the SMTP capture server (bytes and envelope), the
 * Sent copy in Dovecot, and the Mailbox Send Email node run with an n8n-like execute context.
 * Needs root (Dovecot is installed with apt-get when missing).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { INodeExecutionData } from 'n8n-workflow';
import { simpleParser } from 'mailparser';
import { resolveServer } from '../../lib/connection/options';
import { MailboxError } from '../../lib/errors';
import { withImap } from '../../lib/imap/connect';
import { composeMessage, type ComposeInput } from '../../lib/smtp/compose';
import { saveSentCopy } from '../../lib/imap/sent-copy';
import { SmtpSender } from '../../lib/smtp/send';
import { MailboxSend } from '../../nodes/MailboxSend/MailboxSend.node';
import { SmtpCapture } from '../servers/smtp';
import { executeContext as baseContext, failure, type ExecuteContextOptions } from './helpers/execute-context';
import { useMailServers } from './helpers/mail-servers';

const executeContext = (options: ExecuteContextOptions) => baseContext({ node: { name: 'Mailbox Send Email', type: 'n8n-nodes-mailbox.mailboxSend' }, ...options });

const FIXED_DATE = new Date('2026-03-01T10:00:00Z');

describe('sending mail (SMTP capture server and Dovecot)', () => {
	const env = useMailServers();

	const smtpServer = (security: 'starttls' | 'tls' = 'starttls') => resolveServer('smtp', { host: '127.0.0.1', port: security === 'tls' ? env.servers.ports.smtps : env.servers.ports.smtp, security, ca: env.ca });

	/** Sends one composed message on its own sender; returns what the capture server got. */
	async function sendOne(input: ComposeInput, login: { user: string; password: string } | { user: string; accessToken: string } = { user: 'alice', password: 'alice-pw' }) {
		const message = await composeMessage({ date: FIXED_DATE, ...input });
		const sender = new SmtpSender(smtpServer(), login);
		try {
			const before = env.servers.received.length;
			const result = await sender.send(message);
			const [received] = (await env.servers.waitForMail(before + 1)).slice(before);
			return { message, result, received };
		} finally {
			sender.close();
		}
	}

	it('sends the composed bytes unchanged with their envelope: display name, reply-to, BCC-all only in the envelope, signatures, attachments, threading', async () => {
		const pdf = crypto.randomBytes(70_000);
		const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), crypto.randomBytes(3000)]);
		const { message, result, received } = await sendOne({
			fromEmail: 'alice@mailbox.test',
			fromName: 'Müller, Anna (Sales)',
			to: 'bob@mailbox.test, "Carol C." <carol@mailbox.test>',
			cc: 'dave@mailbox.test',
			bcc: 'erin@mailbox.test',
			replyTo: 'sales@mailbox.test',
			subject: 'AW: Angebot 4711',
			html: '<html><body><p>Guten Tag,</p><p>anbei das Angebot.</p></body></html>',
			attachments: [
				{ filename: 'Angebot 4711.pdf', contentType: 'application/pdf', content: pdf },
				{ filename: 'logo.png', contentType: 'image/png', content: png },
			],
			headers: [{ name: 'X-Ticket-Id', value: 'T-4711' }],
			inReplyTo: { messageId: '<orig-3@customer.test>', references: ['<orig-1@customer.test> <orig-2@customer.test>'], subject: 'Angebot 4711' },
			account: { bccAll: 'archive@mailbox.test', signatureText: 'Anna Müller\nACME GmbH', signatureHtml: '<b>Anna Müller</b><br>ACME GmbH' },
		});

		// the exact bytes and their hash
		expect(received.raw.equals(message.raw)).toBe(true);
		expect(result.sha256).toBe(crypto.createHash('sha256').update(received.raw).digest('hex'));
		expect(result.size).toBe(received.raw.length);
		expect(result.server).toBe(`127.0.0.1:${env.servers.ports.smtp}`);
		expect(result.security).toBe('starttls');
		expect(result.response).toMatch(/^250 /);
		expect(received.secure).toBe(true);
		expect(received.authUser).toBe('alice');

		// envelope: every recipient, plus the account's BCC
		expect(received.mailFrom).toBe('alice@mailbox.test');
		expect([...received.rcptTo].sort()).toEqual(['archive@mailbox.test', 'bob@mailbox.test', 'carol@mailbox.test', 'dave@mailbox.test', 'erin@mailbox.test']);
		expect([...result.accepted].sort()).toEqual([...received.rcptTo].sort());
		expect(result.rejected).toEqual([]);

		// headers: BCC and the archive address nowhere
		const head = received.raw.toString('utf8').split('\r\n\r\n')[0];
		expect(head).not.toMatch(/^bcc:/im);
		expect(head).not.toContain('archive@mailbox.test');
		expect(head).not.toContain('erin@mailbox.test');

		const parsed = await simpleParser(received.raw);
		expect(parsed.from?.value).toEqual([{ address: 'alice@mailbox.test', name: 'Müller, Anna (Sales)' }]);
		expect(parsed.replyTo?.value).toEqual([{ address: 'sales@mailbox.test', name: '' }]);
		expect(parsed.messageId).toBe(result.messageId);
		expect(parsed.inReplyTo).toBe('<orig-3@customer.test>');
		expect(parsed.references).toEqual(['<orig-1@customer.test>', '<orig-2@customer.test>', '<orig-3@customer.test>']);
		expect(parsed.subject).toBe('AW: Angebot 4711');
		expect(parsed.headers.get('x-ticket-id')).toBe('T-4711');
		expect(parsed.date?.toISOString()).toBe(FIXED_DATE.toISOString());

		// signatures: text after "-- ", HTML inside the body
		expect(parsed.text).toBe('Guten Tag,\nanbei das Angebot.\n\n-- \nAnna Müller\nACME GmbH\n');
		expect(parsed.html).toBe('<html><body><p>Guten Tag,</p><p>anbei das Angebot.</p><div class="signature">-- <br>\n<b>Anna Müller</b><br>ACME GmbH</div>\n</body></html>');

		// attachments byte-identical with names and types
		expect(parsed.attachments.map((a) => [a.filename, a.contentType])).toEqual([
			['Angebot 4711.pdf', 'application/pdf'],
			['logo.png', 'image/png'],
		]);
		expect(parsed.attachments[0].content.equals(pdf)).toBe(true);
		expect(parsed.attachments[1].content.equals(png)).toBe(true);
	});

	it('puts "Re:" before a subject once only, and a text signature into HTML mail when there is no HTML one', async () => {
		const { received } = await sendOne({
			fromEmail: 'alice@mailbox.test',
			to: 'bob@mailbox.test',
			html: '<p>Hello</p>',
			inReplyTo: { messageId: '<a@customer.test>', references: [], subject: 'Re: Hello' },
			account: { signatureText: 'Alice & Co <team>' },
		});
		const parsed = await simpleParser(received.raw);
		expect(parsed.subject).toBe('Re: Hello');
		expect(parsed.references).toBe('<a@customer.test>');
		expect(parsed.text).toBe('Hello\n\n-- \nAlice & Co <team>\n');
		expect(parsed.html).toBe('<p>Hello</p>\n<div class="signature">-- <br>\nAlice &amp; Co &lt;team&gt;</div>');

		const second = await sendOne({ fromEmail: 'alice@mailbox.test', to: 'bob@mailbox.test', text: 'x', inReplyTo: { messageId: '<b@customer.test>', subject: 'Hello' } });
		expect((await simpleParser(second.received.raw)).subject).toBe('Re: Hello');
	});

	it('refuses CR/LF in any header value before anything is sent', async () => {
		const before = env.servers.received.length;
		const base: ComposeInput = { fromEmail: 'alice@mailbox.test', to: 'bob@mailbox.test', subject: 'ok', text: 'x' };
		const attempts: Array<[Partial<ComposeInput>, string]> = [
			[{ subject: 'Hello\r\nBcc: victim@evil.test' }, 'subject'],
			[{ subject: 'Hello\nX-Evil: 1' }, 'subject'],
			[{ fromName: 'Anna\r\nBcc: victim@evil.test' }, 'fromName'],
			[{ to: 'bob@mailbox.test\r\nBcc: victim@evil.test' }, 'toEmail'],
			[{ replyTo: 'a@b.test\nX: y' }, 'replyTo'],
			[{ headers: [{ name: 'X-Ticket', value: '1\r\nBcc: victim@evil.test' }] }, 'headers'],
			[{ headers: [{ name: 'X-Ticket\r\nBcc', value: '1' }] }, 'headers'],
			[{ inReplyTo: { messageId: '<a@b>\r\nBcc: victim@evil.test' } }, 'inReplyTo'],
		];
		for (const [change, field] of attempts) {
			const error = await composeMessage({ ...base, ...change }).catch((e: unknown) => e);
			expect(error).toBeInstanceOf(MailboxError);
			expect(error).toMatchObject({ code: 'CONFIG', field });
			expect((error as MailboxError).message).toMatch(/contains a line break \(CR or LF\); nothing was sent\./);
		}
		expect(env.servers.received.length).toBe(before);
	});

	it('refuses a From that the account does not allow, naming the field', async () => {
		const account = { allowedSenders: ['info@mailbox.test', '@sales.mailbox.test'] };
		await expect(composeMessage({ fromEmail: 'Info@Mailbox.test', to: 'bob@mailbox.test', text: 'x', account })).resolves.toBeDefined();
		await expect(composeMessage({ fromEmail: 'anna@sales.mailbox.test', to: 'bob@mailbox.test', text: 'x', account })).resolves.toBeDefined();
		const error = (await composeMessage({ fromEmail: 'ceo@mailbox.test', to: 'bob@mailbox.test', text: 'x', account }).catch((e: unknown) => e)) as MailboxError;
		expect(error).toMatchObject({ code: 'CONFIG', field: 'fromEmail' });
		expect(error.fullMessage).toBe(
			'From Email "ceo@mailbox.test" is not allowed to send with this account; nothing was sent. Use one of the allowed sender addresses (info@mailbox.test, @sales.mailbox.test), or add this address to "Allowed Sender Addresses".',
		);
	});

	it('gives clear errors for a wrong password and a bad token, without the secret', async () => {
		const message = await composeMessage({ fromEmail: 'alice@mailbox.test', to: 'bob@mailbox.test', text: 'x' });
		const wrong = new SmtpSender(smtpServer(), { user: 'alice', password: 'not-the-password' });
		const passwordError = (await wrong.send(message).catch((e: unknown) => e)) as MailboxError;
		wrong.close();
		expect(passwordError).toBeInstanceOf(MailboxError);
		expect(passwordError).toMatchObject({ code: 'AUTH', field: 'password' });
		expect(passwordError.message).toMatch(/^Authentication failed: 127\.0\.0\.1 rejected the login for user "alice" \(server said: 535 /);
		expect(passwordError.fullMessage).not.toContain('not-the-password');

		const badToken = new SmtpSender(smtpServer('tls'), { user: 'alice', accessToken: 'expired-token-123' });
		const tokenError = (await badToken.send(message).catch((e: unknown) => e)) as MailboxError;
		badToken.close();
		expect(tokenError).toMatchObject({ code: 'AUTH', field: 'accessToken' });
		expect(tokenError.message).toMatch(/^Authentication failed: 127\.0\.0\.1 rejected the access token for user "alice"/);
		expect(tokenError.fullMessage).not.toContain('expired-token-123');

		// and a good token is accepted by XOAUTH2
		const { received } = await sendOne({ fromEmail: 'alice@mailbox.test', to: 'bob@mailbox.test', text: 'token' }, { user: 'alice', accessToken: 'valid-token-alice' });
		expect(received.authMethod).toBe('XOAUTH2');
	});

	it('renews a rejected access token once and sends every waiting message with the new one', async () => {
		const before = env.servers.received.length;
		let renewals = 0;
		const sender = new SmtpSender(smtpServer(), { user: 'alice', accessToken: 'expired-token-456' }, {
			maxConnections: 3,
			renewToken: async () => {
				renewals++;
				return 'valid-token-alice';
			},
		});
		try {
			const messages = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => composeMessage({ fromEmail: 'alice@mailbox.test', to: `bob+${n}@mailbox.test`, subject: `renewed ${n}`, text: 'x' })));
			const results = await Promise.all(messages.map((m) => sender.send(m)));
			expect(results.map((r) => r.accepted)).toEqual([1, 2, 3, 4, 5, 6].map((n) => [`bob+${n}@mailbox.test`]));
		} finally {
			sender.close();
		}
		expect(renewals).toBe(1);
		const received = (await env.servers.waitForMail(before + 6)).slice(before);
		expect(received.every((r) => r.authMethod === 'XOAUTH2' && r.authUser === 'alice')).toBe(true);

		// a token that is still refused after the renewal is the clear error, not a loop
		const stuck = new SmtpSender(smtpServer(), { user: 'alice', accessToken: 'expired-token-789' }, { renewToken: async () => 'still-bad-token' });
		const message = await composeMessage({ fromEmail: 'alice@mailbox.test', to: 'bob@mailbox.test', text: 'x' });
		await expect(stuck.send(message)).rejects.toMatchObject({ code: 'AUTH', field: 'accessToken' });
		stuck.close();
	});

	it('saves the sent bytes into the Sent folder found by SPECIAL-USE, marked \\Seen', async () => {
		const { message } = await sendOne({ fromEmail: 'alice@mailbox.test', to: 'bob@mailbox.test', subject: 'Copy me', text: 'kept' });
		const saved = await withImap(env.imapServer(), { user: 'alice', password: 'alice-pw' }, (client) => saveSentCopy(client, message.raw));
		expect(saved.folder).toBe('Sent');
		const found = await withImap(env.imapServer(), { user: 'alice', password: 'alice-pw' }, async (client) => {
			const lock = await client.getMailboxLock('Sent');
			try {
				const uids = (await client.search({ header: { 'message-id': message.messageId } }, { uid: true })) || [];
				const fetched = await client.fetchOne(String(uids[0]), { source: true, flags: true }, { uid: true });
				return { uids, fetched };
			} finally {
				lock.release();
			}
		});
		expect(found.uids).toEqual([saved.uid]);
		expect(found.fetched && found.fetched.flags?.has('\\Seen')).toBe(true);
		expect(found.fetched && found.fetched.source?.equals(message.raw)).toBe(true);
	});

	describe('the Mailbox Send Email node', () => {
		const credentials = () => ({
			mailboxSmtpApi: { host: '127.0.0.1', port: env.servers.ports.smtp, security: 'starttls', allowSelfSigned: true, authentication: 'password', user: 'alice', password: 'alice-pw' },
			mailboxImapApi: env.imapCredential('alice'),
		});

		async function run(items: INodeExecutionData[], params: Record<string, unknown | ((i: number) => unknown)>, continueOnFail = false) {
			const ctx = executeContext({ items, params: { authentication: 'password', emailFormat: 'text', ...params }, credentials: credentials(), continueOnFail });
			return (await new MailboxSend().execute.call(ctx))[0];
		}

		it('replies to a trigger item: to its Reply-To, "Re:" subject, threading headers, attachments from binary properties, a Sent copy; output per mail', async () => {
			const before = env.servers.received.length;
			const triggerItem: INodeExecutionData = {
				json: {
					messageId: '<question-2@customer.test>',
					references: ['<question-1@customer.test>'],
					subject: 'Question about order 12',
					from: { value: [{ address: 'customer@customer.test', name: 'Cus Tomer' }], text: 'Cus Tomer <customer@customer.test>' },
					replyTo: { value: [{ address: 'orders@customer.test', name: '' }], text: 'orders@customer.test' },
				},
				binary: {
					invoice: { data: Buffer.from('%PDF-1.4 invoice').toString('base64'), mimeType: 'application/pdf', fileName: 'invoice-12.pdf' },
					note: { data: Buffer.from('a note\n').toString('base64'), mimeType: 'text/plain', fileName: 'note.txt' },
				},
			};
			const output = await run([triggerItem], {
				fromEmail: 'alice@mailbox.test',
				fromName: 'Alice Support',
				toEmail: '',
				subject: '',
				text: 'Here you are.',
				reply: true,
				saveToSent: true,
				sentFolder: '',
				options: { attachments: '*' },
				account: { bccAll: 'archive@mailbox.test', allowedSenders: 'alice@mailbox.test' },
			});
			expect(output).toHaveLength(1);
			const json = output[0].json;
			const [received] = (await env.servers.waitForMail(before + 1)).slice(before);
			expect(json).toMatchObject({
				accepted: ['orders@customer.test', 'archive@mailbox.test'],
				rejected: [],
				server: `127.0.0.1:${env.servers.ports.smtp}`,
				security: 'starttls',
				serverSource: 'credential',
				subject: 'Re: Question about order 12',
				sha256: crypto.createHash('sha256').update(received.raw).digest('hex'),
				sentCopy: { folder: 'Sent' },
			});
			expect(String(json.response)).toMatch(/^250 /);
			expect(received.rcptTo).toEqual(['orders@customer.test', 'archive@mailbox.test']);
			const parsed = await simpleParser(received.raw);
			expect(parsed.messageId).toBe(json.messageId);
			expect(parsed.inReplyTo).toBe('<question-2@customer.test>');
			expect(parsed.references).toEqual(['<question-1@customer.test>', '<question-2@customer.test>']);
			expect(parsed.attachments.map((a) => [a.filename, a.contentType, a.content.toString()])).toEqual([
				['invoice-12.pdf', 'application/pdf', '%PDF-1.4 invoice'],
				['note.txt', 'text/plain', 'a note\n'],
			]);
			const copy = await withImap(env.imapServer(), { user: 'alice', password: 'alice-pw' }, async (client) => {
				const lock = await client.getMailboxLock('Sent');
				try {
					const uids = (await client.search({ header: { 'message-id': String(json.messageId) } }, { uid: true })) || [];
					return uids.length ? await client.fetchOne(String(uids[0]), { source: true, flags: true }, { uid: true }) : false;
				} finally {
					lock.release();
				}
			});
			expect(copy && copy.source?.equals(received.raw)).toBe(true);
			expect(copy && copy.flags?.has('\\Seen')).toBe(true);
		});

		it('sends many items on one pooled transport and reports each failure on its item (continue on fail)', async () => {
			const before = env.servers.received.length;
			const items: INodeExecutionData[] = Array.from({ length: 12 }, (_, k) => ({ json: { k } }));
			const output = await run(
				items,
				{
					fromEmail: (i: number) => (i === 3 ? 'ceo@mailbox.test' : 'alice@mailbox.test'),
					toEmail: (i: number) => `bob+${i}@mailbox.test`,
					subject: (i: number) => (i === 7 ? 'bad\r\nBcc: x@evil.test' : `item ${i}`),
					text: (i: number) => `body ${i}`,
					saveToSent: false,
					account: { allowedSenders: 'alice@mailbox.test' },
				},
				true,
			);
			expect(output).toHaveLength(12);
			expect(output.map((o) => o.pairedItem)).toEqual(items.map((_, i) => ({ item: i })));
			expect(output[3].json.error).toBe('From Email "ceo@mailbox.test" is not allowed to send with this account; nothing was sent.');
			expect(output[7].json.error).toBe('Subject contains a line break (CR or LF); nothing was sent.');
			const ok = output.filter((o) => !o.json.error);
			expect(ok).toHaveLength(10);
			const received = (await env.servers.waitForMail(before + 10)).slice(before);
			expect(received.map((r) => r.rcptTo[0]).sort()).toEqual(ok.map((o) => (o.json.accepted as string[])[0]).sort());
			expect(env.servers.received.length).toBe(before + 10);
		});

		it('uses the node\'s own server, else the credential\'s, else the instance default, and says which', async () => {
			const base = { fromEmail: 'alice@mailbox.test', toEmail: 'bob@mailbox.test', subject: 'which server', text: 'x', reply: false, saveToSent: false };
			const [own] = await run([{ json: {} }], { ...base, serverOverride: `127.0.0.1:${env.servers.ports.smtps}`, serverOverrideSecurity: 'tls' });
			expect(own.json).toMatchObject({ server: `127.0.0.1:${env.servers.ports.smtps}`, security: 'tls', serverSource: 'node' });
			expect(env.servers.received[env.servers.received.length - 1]).toMatchObject({ port: env.servers.ports.smtps, secure: true, authUser: 'alice' });

			const [fromCredential] = await run([{ json: {} }], { ...base, serverOverride: '' });
			expect(fromCredential.json).toMatchObject({ server: `127.0.0.1:${env.servers.ports.smtp}`, security: 'starttls', serverSource: 'credential' });

			const saved = { ...process.env };
			Object.assign(process.env, { MAILBOX_DEFAULT_SMTP_HOST: '127.0.0.1', MAILBOX_DEFAULT_SMTP_PORT: String(env.servers.ports.smtps), MAILBOX_DEFAULT_SMTP_SECURITY: 'tls' });
			try {
				const ctx = executeContext({
					items: [{ json: {} }],
					params: { authentication: 'password', emailFormat: 'text', ...base },
					credentials: { mailboxSmtpApi: { ...credentials().mailboxSmtpApi, server: 'instance', host: '', port: 0 } },
				});
				const [[instance]] = await new MailboxSend().execute.call(ctx);
				expect(instance.json).toMatchObject({ server: `127.0.0.1:${env.servers.ports.smtps}`, security: 'tls', serverSource: 'instance default' });
			} finally {
				for (const key of ['MAILBOX_DEFAULT_SMTP_HOST', 'MAILBOX_DEFAULT_SMTP_PORT', 'MAILBOX_DEFAULT_SMTP_SECURITY']) {
					if (saved[key] === undefined) delete process.env[key];
					else process.env[key] = saved[key];
				}
			}
		});

		describe("the node's Server stays within the credential", () => {
			/** Another SMTP server, on a loopback address that is not the credential's host: it records every login it is given. */
			let elsewhere: SmtpCapture;
			beforeAll(async () => {
				elsewhere = await SmtpCapture.start({ users: { alice: 'alice-pw' }, tokenUser: () => undefined, key: fs.readFileSync(env.servers.dovecot.keyPath), cert: env.ca, outDir: path.join(env.servers.stateDir, 'smtp-elsewhere'), host: '127.0.0.2' });
			});
			afterAll(async () => {
				await elsewhere?.stop();
			});
			const base = { fromEmail: 'alice@mailbox.test', toEmail: 'bob@mailbox.test', subject: 'elsewhere', text: 'x', reply: false, saveToSent: false };

			it('another host: the credential\'s user and password are not sent there; the error names Server', async () => {
				for (const security of ['none', 'starttls', 'tls'] as const) {
					const port = security === 'tls' ? elsewhere.ports.smtps : elsewhere.ports.smtp;
					const error = await failure(run([{ json: {} }], { ...base, serverOverride: `127.0.0.2:${port}`, serverOverrideSecurity: security }));
					expect(error.message).toContain("Server: the credential's user and password go only to its own server 127.0.0.1, not to 127.0.0.2");
					expect(error.description).toContain('create a credential for 127.0.0.2');
				}
				expect(elsewhere.received).toHaveLength(0);
			});

			it('a Microsoft 365 token: SMTP Server on a host that is neither Exchange Online nor named by the credential is refused, nothing sent', async () => {
				const before = env.servers.received.length;
				const ctx = executeContext({
					items: [{ json: {} }],
					params: { authentication: 'microsoftOAuth2', emailFormat: 'text', ...base, smtpHost: `127.0.0.1:${env.servers.ports.smtp}` },
					credentials: { mailboxMicrosoftOAuth2Api: { mailbox: 'alice@mailbox.test', oauthTokenData: { access_token: 'delegated-token-1', token_type: 'Bearer' } } },
				});
				const error = await failure(new MailboxSend().execute.call(ctx));
				expect(error.message).toContain('SMTP Server: the Microsoft 365 access token goes only to Exchange Online (office365.com, outlook.com, office.com, office365.us, outlook.cn) and to the hosts the credential names (outlook.office365.com), not to 127.0.0.1');
				expect(env.servers.received.length).toBe(before);
			});

			it('the same host with less protection than the credential asks for: refused, naming Server', async () => {
				const before = env.servers.received.length;
				for (const security of ['none', 'starttls-optional'] as const) {
					const error = await failure(run([{ json: {} }], { ...base, serverOverride: `127.0.0.1:${env.servers.ports.smtp}`, serverOverrideSecurity: security }));
					expect(error.message).toContain('could send the credential\'s password unencrypted, while the credential asks for STARTTLS');
				}
				expect(env.servers.received.length).toBe(before);
			});

			it('without a login another host may be used, but the credential\'s "allow self-signed" does not go with it', async () => {
				const ctx = (security: string, port: number) =>
					executeContext({
						items: [{ json: {} }],
						params: { authentication: 'password', emailFormat: 'text', ...base, serverOverride: `127.0.0.2:${port}`, serverOverrideSecurity: security },
						credentials: { mailboxSmtpApi: { host: '127.0.0.1', port: env.servers.ports.smtp, security: 'starttls', allowSelfSigned: true, authentication: 'none' } },
					});
				// the test certificate is not trusted by this process and does not name 127.0.0.2
				const error = await failure(new MailboxSend().execute.call(ctx('tls', elsewhere.ports.smtps)));
				expect(`${error.message} ${error.description ?? ''}`).toMatch(/certificate/i);
				expect(elsewhere.received).toHaveLength(0);
				// in clear text (the user's explicit choice) it is sent, without a login
				const [[item]] = await new MailboxSend().execute.call(ctx('none', elsewhere.ports.smtp));
				expect(item.json).toMatchObject({ server: `127.0.0.2:${elsewhere.ports.smtp}`, serverSource: 'node' });
				const [mail] = await elsewhere.waitFor(1);
				expect(mail).toMatchObject({ authUser: null, secure: false });
			});
		});

		it('falls back to the mail server of this machine (localhost:25) when the instance default is not set, and says so', async () => {
			for (const key of ['MAILBOX_DEFAULT_SMTP_HOST', 'MAILBOX_DEFAULT_SMTP_PORT', 'MAILBOX_DEFAULT_SMTP_SECURITY']) expect(process.env[key]).toBeUndefined();
			// a stand-in for the local MTA on the real port 25 (the suite runs as root, loopback only)
			let local: SmtpCapture;
			try {
				local = await SmtpCapture.start({ users: {}, tokenUser: () => undefined, key: fs.readFileSync(env.servers.dovecot.keyPath), cert: env.ca, outDir: path.join(env.servers.stateDir, 'smtp-local'), plainPort: 25, disableAuth: true });
			} catch (error) {
				throw new Error(`This test needs 127.0.0.1:25 free (a local MTA stand-in): ${(error as Error).message}`);
			}
			try {
				const ctx = executeContext({
					items: [{ json: {} }],
					params: { authentication: 'password', emailFormat: 'text', fromEmail: 'alice@mailbox.test', toEmail: 'bob@mailbox.test', subject: 'via the local MTA', text: 'x', reply: false, saveToSent: false },
					credentials: { mailboxSmtpApi: { server: 'instance', host: '', port: 0, authentication: 'none' } },
				});
				const [[item]] = await new MailboxSend().execute.call(ctx);
				expect(item.json).toMatchObject({ server: 'localhost:25', security: 'none', serverSource: 'local mail server', accepted: ['bob@mailbox.test'] });
				const [mail] = await local.waitFor(1);
				expect(mail).toMatchObject({ port: 25, secure: false, mailFrom: 'alice@mailbox.test', rcptTo: ['bob@mailbox.test'] });
				expect(crypto.createHash('sha256').update(mail.raw).digest('hex')).toBe(item.json.sha256);
			} finally {
				await local.stop();
			}
		});

		it('reports a Sent copy that could not be saved on its item, saying that the mail was sent', async () => {
			const before = env.servers.received.length;
			const [item] = await run(
				[{ json: {} }],
				{ fromEmail: 'alice@mailbox.test', toEmail: 'bob@mailbox.test', subject: 'no copy', text: 'x', reply: false, saveToSent: true, sentFolder: 'No Such Folder' },
				true,
			);
			const [received] = (await env.servers.waitForMail(before + 1)).slice(before);
			const messageId = (await simpleParser(received.raw)).messageId;
			expect(item.json).toMatchObject({ messageId, accepted: ['bob@mailbox.test'], sentCopy: null });
			expect(item.json.error).toMatch(new RegExp(`^The message was sent \\(Message-ID ${messageId}\\), but the copy could not be saved into the Sent folder: `));
			expect(item.json.description).toBe('Do not send it again. Check the IMAP credential and "Sent Folder".');
		});

		it('without continue on fail stops with the clear error and sends nothing for a refused item', async () => {
			const before = env.servers.received.length;
			await expect(run([{ json: {} }], { fromEmail: 'alice@mailbox.test', toEmail: 'bob@mailbox.test', subject: 'x', text: 'y', options: { headers: { header: [{ name: 'X-A', value: 'a\nb' }] } } })).rejects.toThrow(
				'The value of header "X-A" contains a line break (CR or LF); nothing was sent.',
			);
			expect(env.servers.received.length).toBe(before);
		});
	});
});
