/**
 * The Mailbox Send Email node in a real n8n 2.41.1: a published workflow "IMAP trigger -> Send
 * Email (reply)" answers a message that arrives in alice's INBOX. The reply reaches the SMTP
 * capture server with the threading headers, the original's attachment and the account's BCC in
 * the envelope only; the copy in Dovecot's Sent folder has the same bytes; and a manual workflow
 * refuses a header injection with a clear error, sending nothing.
 */
import crypto from 'node:crypto';
import { simpleParser } from 'mailparser';
import type { MailServers } from '../servers';
import type { MicrosoftAuthority } from '../servers/microsoft';
import { startPackagedN8n, Teardown } from './harness';
import { withImap } from './imap-folder';
import { startMicrosoftApp } from './microsoft-app';
import { type N8n, waitFor } from './n8n';

const REPLY_WORKFLOW = 'mbxE2eSendReply';
const MANUAL_WORKFLOW = 'mbxE2eSendManual';
const APP_WORKFLOW = 'mbxE2eSendMsApp';
const TRIGGER = 'New mail';
const SEND = 'Send reply';

const QUESTION = [
	'From: "Kundin Müller" <kundin@example.test>',
	'Reply-To: anfragen@example.test',
	'To: alice@example.test',
	'Subject: Frage zu Auftrag 77',
	'Message-ID: <question-77@example.test>',
	'References: <thread-start@example.test>',
	'Date: Tue, 24 Nov 2026 10:00:00 +0100',
	'MIME-Version: 1.0',
	'Content-Type: multipart/mixed; boundary="b1"',
	'',
	'--b1',
	'Content-Type: text/plain; charset=utf-8',
	'Content-Transfer-Encoding: 8bit',
	'',
	'Guten Tag, anbei die Liste.',
	'--b1',
	'Content-Type: text/csv; name="liste.csv"',
	'Content-Disposition: attachment; filename="liste.csv"',
	'',
	'nr;wert\r\n77;770',
	'--b1--',
	'',
].join('\r\n');

describe('Mailbox Send Email in real n8n', () => {
	const teardown = new Teardown();
	let servers: MailServers;
	let n8n: N8n;
	let authority: MicrosoftAuthority;

	const credentials = { mailboxSmtpApi: { id: 'mbxE2eSendSmtp', name: 'alice (SMTP)' }, mailboxImapApi: { id: 'mbxE2eSendImap', name: 'alice (IMAP)' } };
	const sendParameters = {
		authentication: 'password',
		fromEmail: 'alice@example.test',
		fromName: 'Alice vom Vertrieb',
		toEmail: '',
		subject: '',
		emailFormat: 'text',
		text: 'Danke, wir melden uns.',
		reply: true,
		saveToSent: true,
		sentFolder: '',
		options: { attachments: 'attachment_0' },
		account: { bccAll: 'archiv@example.test', allowedSenders: 'alice@example.test', signatureText: 'Alice\nBeispiel GmbH' },
	};

	beforeAll(async () => {
		// with a Microsoft-style sign-in authority whose app tokens the SMTP capture server accepts for XOAUTH2 as alice
		({ servers, authority } = await startMicrosoftApp(teardown, { clientId: 'smtp-app', clientSecret: 'Smtp-App-Secret-1' }));

		({ n8n } = await startPackagedN8n(teardown, 'send', { env: { NODE_EXTRA_CA_CERTS: servers.certPath } }));
		await n8n.importCredentials([
			{ id: 'mbxE2eSendImap', name: 'alice (IMAP)', type: 'mailboxImapApi', data: { host: '127.0.0.1', port: servers.ports.imaps, security: 'tls', user: 'alice', password: 'alice-pw' } },
			{
				id: 'mbxE2eSendSmtp',
				name: 'alice (SMTP)',
				type: 'mailboxSmtpApi',
				data: { host: '127.0.0.1', port: servers.ports.smtp, security: 'starttls', authentication: 'password', user: 'alice', password: 'alice-pw' },
			},
			{
				id: 'mbxE2eSendMsApp',
				name: 'Microsoft 365 app (alice)',
				type: 'mailboxMicrosoftAppApi',
				data: { tenantId: 'contoso', clientId: 'smtp-app', clientSecret: 'Smtp-App-Secret-1', mailbox: 'alice', authorityHost: authority.host, imapHost: '127.0.0.1' },
			},
		]);
		await n8n.importWorkflow({
			id: APP_WORKFLOW,
			name: 'Send with a Microsoft 365 app token e2e',
			active: false,
			nodes: [
				{ id: '7e2c3d1f-2a60-4f1e-8d4c-3a2e8f1b0021', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				{
					id: '7e2c3d1f-2a60-4f1e-8d4c-3a2e8f1b0022',
					name: SEND,
					type: 'n8n-nodes-mailbox.mailboxSend',
					typeVersion: 1,
					position: [300, 0],
					parameters: {
						authentication: 'microsoftApp',
						smtpHost: `127.0.0.1:${servers.ports.smtp}`,
						fromEmail: 'alice@example.test',
						toEmail: 'bob@example.test',
						subject: 'Sent with an app token',
						emailFormat: 'html',
						html: '<p>Hallo <b>Bob</b></p>',
						reply: false,
						saveToSent: false,
						options: {},
						account: {},
					},
					credentials: { mailboxMicrosoftAppApi: { id: 'mbxE2eSendMsApp', name: 'Microsoft 365 app (alice)' } },
				},
			],
			connections: { Start: { main: [[{ node: SEND, type: 'main', index: 0 }]] } },
			settings: { executionOrder: 'v1' },
		});
		await n8n.importWorkflow({
			id: REPLY_WORKFLOW,
			name: 'Reply to new mail e2e',
			active: false,
			nodes: [
				{
					id: '7e2c3d1f-2a60-4f1e-8d4c-3a2e8f1b0001',
					name: TRIGGER,
					type: 'n8n-nodes-mailbox.mailboxImapTrigger',
					typeVersion: 1,
					position: [0, 0],
					parameters: { authentication: 'password', watch: 'selected', folders: ['INBOX'], firstActivation: 'new', afterProcessing: 'markRead', mode: 'idle', pollMinutes: 15, options: {} },
					credentials: { mailboxImapApi: credentials.mailboxImapApi },
				},
				{
					id: '7e2c3d1f-2a60-4f1e-8d4c-3a2e8f1b0002',
					name: SEND,
					type: 'n8n-nodes-mailbox.mailboxSend',
					typeVersion: 1,
					position: [300, 0],
					parameters: sendParameters,
					credentials,
				},
			],
			connections: { [TRIGGER]: { main: [[{ node: SEND, type: 'main', index: 0 }], []] } },
			settings: { executionOrder: 'v1' },
		});
		await n8n.importWorkflow({
			id: MANUAL_WORKFLOW,
			name: 'Send with an injected header e2e',
			active: false,
			nodes: [
				{ id: '7e2c3d1f-2a60-4f1e-8d4c-3a2e8f1b0011', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				{
					id: '7e2c3d1f-2a60-4f1e-8d4c-3a2e8f1b0012',
					name: SEND,
					type: 'n8n-nodes-mailbox.mailboxSend',
					typeVersion: 1,
					position: [300, 0],
					parameters: { ...sendParameters, reply: false, saveToSent: false, toEmail: 'bob@example.test', subject: '={{ "Hallo\\r\\nBcc: opfer@evil.test" }}', options: {} },
					credentials: { mailboxSmtpApi: credentials.mailboxSmtpApi },
				},
			],
			connections: { Start: { main: [[{ node: SEND, type: 'main', index: 0 }]] } },
			settings: { executionOrder: 'v1' },
		});
		await n8n.publish(REPLY_WORKFLOW);
	});

	afterAll(() => teardown.run());

	it('replies to a received message: threads, carries the attachment, BCC in the envelope only, copy in Sent', async () => {
		await n8n.start();
		await n8n.waitForTriggerState(REPLY_WORKFLOW, 'INBOX');
		await withImap(servers, 'alice', (imap) => imap.append('INBOX', QUESTION, []));
		const [reply] = await servers.waitForMail(1, 300_000);

		expect(reply.mailFrom).toBe('alice@example.test');
		expect(reply.rcptTo).toEqual(['anfragen@example.test', 'archiv@example.test']);
		expect(reply.authUser).toBe('alice');
		expect(reply.secure).toBe(true);
		const head = reply.raw.toString('utf8').split('\r\n\r\n')[0];
		expect(head).not.toContain('archiv@example.test');
		const parsed = await simpleParser(reply.raw);
		expect(parsed.from?.value).toEqual([{ address: 'alice@example.test', name: 'Alice vom Vertrieb' }]);
		expect(parsed.to).toMatchObject({ value: [{ address: 'anfragen@example.test', name: '' }] });
		expect(parsed.subject).toBe('Re: Frage zu Auftrag 77');
		expect(parsed.inReplyTo).toBe('<question-77@example.test>');
		expect(parsed.references).toEqual(['<thread-start@example.test>', '<question-77@example.test>']);
		expect(parsed.text).toBe('Danke, wir melden uns.\n\n-- \nAlice\nBeispiel GmbH\n');
		expect(parsed.attachments.map((a) => [a.filename, a.contentType, a.content.toString()])).toEqual([['liste.csv', 'text/csv', 'nr;wert\r\n77;770']]);

		const run = await waitFor('the successful run', async () => {
			const done = (await n8n.executions(REPLY_WORKFLOW)).executions.filter((e) => e.status === 'success' && (e.output[SEND] ?? []).length > 0);
			return done.length ? done[0] : undefined;
		});
		const out = run.output[SEND][0];
		expect(out).toMatchObject({
			messageId: parsed.messageId,
			accepted: ['anfragen@example.test', 'archiv@example.test'],
			rejected: [],
			server: `127.0.0.1:${servers.ports.smtp}`,
			security: 'starttls',
			sha256: crypto.createHash('sha256').update(reply.raw).digest('hex'),
			sentCopy: { folder: 'Sent' },
		});

		const copy = await withImap(servers, 'alice', async (imap) => {
			const lock = await imap.getMailboxLock('Sent');
			try {
				const uids = (await imap.search({ header: { 'message-id': String(parsed.messageId) } }, { uid: true })) || [];
				return uids.length === 1 ? await imap.fetchOne(String(uids[0]), { source: true, flags: true }, { uid: true }) : false;
			} finally {
				lock.release();
			}
		});
		expect(copy && copy.source?.equals(reply.raw)).toBe(true);
		expect(copy && copy.flags?.has('\\Seen')).toBe(true);
	});

	it('refuses a line break in the subject with a clear error and sends nothing', async () => {
		await n8n.stop(); // the CLI run needs the ports of the server
		const before = servers.received.length;
		const result = await n8n.execute(MANUAL_WORKFLOW);
		expect(result.status).not.toBe('success');
		expect(result.error).toContain('Subject contains a line break (CR or LF); nothing was sent.');
		expect(servers.received.length).toBe(before);
	});

	it('signs in to SMTP with a Microsoft 365 app token (XOAUTH2) fetched by MSAL inside n8n', async () => {
		const before = servers.received.length;
		const result = await n8n.execute(APP_WORKFLOW);
		expect(result.error).toBeUndefined();
		expect(result.status).toBe('success');
		// the run has ended, so the mail is there already: the bound only ends a hang
		const [mail] = (await servers.waitForMail(before + 1, 120_000)).slice(before);
		expect(mail).toMatchObject({ authUser: 'alice', authMethod: 'XOAUTH2', secure: true, mailFrom: 'alice@example.test', rcptTo: ['bob@example.test'] });
		const parsed = await simpleParser(mail.raw);
		expect(parsed.subject).toBe('Sent with an app token');
		expect(parsed.text).toBe('Hallo Bob');
		expect(result.output[SEND][0]).toMatchObject({ server: `127.0.0.1:${servers.ports.smtp}`, security: 'starttls', sha256: crypto.createHash('sha256').update(mail.raw).digest('hex') });
		expect(authority.requests.some((r) => r.method === 'POST' && r.clientId === 'smtp-app')).toBe(true);
	});
});
