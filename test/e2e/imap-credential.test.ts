/**
 * The package in a real n8n 2.41.1: packed, installed like a community package, its credential
 * tested through n8n's REST API, and its node run in workflows by `n8n execute`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startMailServers, type MailServers } from '../servers';
import { MicrosoftAuthority } from '../servers/microsoft';
import { freePort } from '../servers/ports';
import { startPackagedN8n, Teardown } from './harness';
import type { N8n } from './n8n';

const root = path.resolve(__dirname, '..', '..');
const exampleWorkflow = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'workflows', 'list-folders.json'), 'utf8')) as Record<string, unknown>;

describe('in real n8n', () => {
	const teardown = new Teardown();
	let servers: MailServers;
	let authority: MicrosoftAuthority;
	let n8n: N8n;
	const msAppCredential = (data: Record<string, unknown>) => ({
		id: 'mbxE2eMicrosoftApp',
		name: 'Microsoft 365 app',
		type: 'mailboxMicrosoftAppApi',
		data: {
			tenantId: 'contoso',
			clientId: 'mailbox-app',
			clientSecret: 'App-Secret-Value-1',
			mailbox: 'alice',
			authorityHost: authority.host,
			imapHost: '127.0.0.1',
			imapPort: servers.ports.imaps,
			...data,
		},
	});
	const pop3Credential = (data: Record<string, unknown>) => ({
		id: 'mbxE2ePop3Alice',
		name: 'POP3 (alice)',
		type: 'mailboxPop3Api',
		data: { host: '127.0.0.1', port: servers.ports.pop3s, security: 'tls', user: 'alice', password: 'alice-pw', loginMethod: 'password', allowSelfSigned: false, ...data },
	});
	const smtpCredential = (data: Record<string, unknown>) => ({
		id: 'mbxE2eSmtpAlice',
		name: 'SMTP (alice)',
		type: 'mailboxSmtpApi',
		data: { host: '127.0.0.1', port: servers.ports.smtp, security: 'starttls', authentication: 'password', user: 'alice', password: 'alice-pw', allowSelfSigned: false, ...data },
	});
	const imapCredential = (data: Record<string, unknown>) => ({
		id: 'mbxDemoImapAlice',
		name: 'Demo mailbox (alice)',
		type: 'mailboxImapApi',
		data: { host: '127.0.0.1', port: servers.ports.imaps, security: 'tls', user: 'alice', password: 'alice-pw', allowSelfSigned: false, ...data },
	});

	beforeAll(async () => {
		servers = teardown.add(await startMailServers({ sharedMailboxes: { alice: ['catchall'] } }), (s) => s.stop());
		// A Microsoft-style sign-in authority over HTTPS with the test certificate, which n8n trusts
		// through NODE_EXTRA_CA_CERTS like a company CA.
		authority = teardown.add(
			await new MicrosoftAuthority({ key: fs.readFileSync(servers.dovecot.keyPath), cert: fs.readFileSync(servers.certPath) }, (user, lifetime) => servers.oauth.issueToken(user, lifetime)).start(),
			(a) => a.stop(),
		);
		authority.register({ tenant: 'contoso', clientId: 'mailbox-app', clientSecret: 'App-Secret-Value-1', user: 'alice' });
		// n8n trusts the test server's self-signed certificate the way a company CA is trusted.
		({ n8n } = await startPackagedN8n(teardown, 'credential', {
			env: {
				NODE_EXTRA_CA_CERTS: servers.certPath,
				// the admin's default server, for credentials that choose "Instance Default"
				MAILBOX_DEFAULT_IMAP_HOST: '127.0.0.1',
				MAILBOX_DEFAULT_IMAP_PORT: String(servers.ports.imaps),
				MAILBOX_DEFAULT_IMAP_SECURITY: 'tls',
			},
		}));
		await n8n.importCredentials([
			imapCredential({}),
			{ ...imapCredential({ password: 'not-alices-pw' }), id: 'mbxE2eWrongPass1', name: 'Wrong password' },
			msAppCredential({}),
			pop3Credential({ loginMethod: 'apop' }),
			smtpCredential({}),
		]);
	});

	afterAll(() => teardown.run());

	it('runs the example workflow: the Mailbox node lists the folders with their roles', async () => {
		const id = await n8n.importWorkflow(exampleWorkflow);
		const run = await n8n.execute(id);
		expect(run.error).toBeUndefined();
		expect(run.status).toBe('success');
		const folders = run.output['List folders'];
		const byPath = Object.fromEntries(folders.map((f) => [f.path, f]));
		expect(Object.keys(byPath)).toEqual(expect.arrayContaining(['INBOX', 'Sent', 'Drafts', 'Junk', 'Trash', 'Archive']));
		expect(byPath.Junk).toMatchObject({ specialUse: 'junk', subscribed: true, messages: 0 });
		expect(byPath.Sent).toMatchObject({ specialUse: 'sent' });
	});

	it('fails a workflow whose credential has a wrong password with the cause, not a stack trace', async () => {
		const workflow = JSON.parse(JSON.stringify(exampleWorkflow)) as { id: string; nodes: { credentials?: Record<string, unknown> }[] };
		workflow.id = 'mbxE2eWrongPassWf';
		workflow.nodes[1].credentials = { mailboxImapApi: { id: 'mbxE2eWrongPass1', name: 'Wrong password' } };
		const run = await n8n.execute(await n8n.importWorkflow(workflow));
		expect(run.status).toBe('error');
		expect(run.error).toMatch(/Authentication failed: 127\.0\.0\.1 rejected the login for user "alice"/);
		expect(JSON.stringify(run.raw)).not.toContain('not-alices-pw');
	});

	it('runs the Check Connection example: each step as data, and a failed login as ok = false without failing the run', async () => {
		const checkWorkflow = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'workflows', 'check-connection.json'), 'utf8')) as { id: string; nodes: { credentials?: Record<string, unknown> }[] };
		const good = await n8n.execute(await n8n.importWorkflow(checkWorkflow));
		expect(good.status).toBe('success');
		const [report] = good.output['Check connection'];
		expect(report).toMatchObject({ ok: true, failedStep: null });
		expect((report.steps as { step: string }[]).map((s) => s.step)).toEqual(['connect', 'tls', 'login', 'capabilities', 'inbox']);

		checkWorkflow.id = 'mbxE2eCheckWrongPw';
		checkWorkflow.nodes[1].credentials = { mailboxImapApi: { id: 'mbxE2eWrongPass1', name: 'Wrong password' } };
		const bad = await n8n.execute(await n8n.importWorkflow(checkWorkflow));
		expect(bad.status).toBe('success');
		expect(bad.output['Check connection'][0]).toMatchObject({ ok: false, failedStep: 'login', errorCode: 'AUTH', field: 'password' });
		expect(JSON.stringify(bad.raw)).not.toContain('not-alices-pw');
	});

	it('checks POP3 and SMTP servers in a workflow (Connection → Check with Server POP3 / SMTP)', async () => {
		const base = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'workflows', 'check-connection.json'), 'utf8')) as { id: string; nodes: { parameters: Record<string, unknown>; credentials?: Record<string, unknown> }[] };
		const pop3 = JSON.parse(JSON.stringify(base)) as typeof base;
		pop3.id = 'mbxE2eCheckPop3';
		pop3.nodes[1].parameters.protocol = 'pop3';
		pop3.nodes[1].credentials = { mailboxPop3Api: { id: 'mbxE2ePop3Alice', name: 'POP3 (alice)' } };
		const pop3Run = await n8n.execute(await n8n.importWorkflow(pop3));
		expect(pop3Run.error).toBeUndefined();
		const [pop3Report] = pop3Run.output['Check connection'];
		expect(pop3Report).toMatchObject({ ok: true, failedStep: null });
		expect(pop3Report.message).toMatch(/logged in as "alice" with APOP.*maildrop has 0 messages/);

		const smtp = JSON.parse(JSON.stringify(base)) as typeof base;
		smtp.id = 'mbxE2eCheckSmtp';
		smtp.nodes[1].parameters.protocol = 'smtp';
		smtp.nodes[1].credentials = { mailboxSmtpApi: { id: 'mbxE2eSmtpAlice', name: 'SMTP (alice)' } };
		const smtpRun = await n8n.execute(await n8n.importWorkflow(smtp));
		expect(smtpRun.error).toBeUndefined();
		const [smtpReport] = smtpRun.output['Check connection'];
		expect(smtpReport).toMatchObject({ ok: true, failedStep: null });
		expect((smtpReport.steps as { step: string }[]).map((st) => st.step)).toEqual(['connect', 'tls', 'capabilities', 'login']);
		expect(smtpReport.message).toMatch(/encrypted with TLSv1\.3 after STARTTLS.*logged in as "alice" with PLAIN/);
	});

	it('lists folders signed in as a Microsoft 365 app (token from MSAL inside n8n)', async () => {
		const workflow = JSON.parse(JSON.stringify(exampleWorkflow)) as { id: string; nodes: { parameters: Record<string, unknown>; credentials?: Record<string, unknown> }[] };
		workflow.id = 'mbxE2eMsAppList';
		workflow.nodes[1].parameters.authentication = 'microsoftApp';
		workflow.nodes[1].credentials = { mailboxMicrosoftAppApi: { id: 'mbxE2eMicrosoftApp', name: 'Microsoft 365 app' } };
		const run = await n8n.execute(await n8n.importWorkflow(workflow));
		expect(run.error).toBeUndefined();
		expect(run.output['List folders'].map((f) => f.path)).toEqual(expect.arrayContaining(['INBOX', 'Junk', 'Sent']));
	});

	describe('with n8n started', () => {
		beforeAll(async () => {
			await n8n.start();
			await n8n.setupOwner();
		});

		it('loads the package: its node and credential are in the editor', async () => {
			const types = await n8n.loadedTypes();
			expect(types.nodes).toContain('n8n-nodes-mailbox.mailbox');
			expect(types.credentials).toContain('mailboxImapApi');
			expect(n8n.logs()).not.toMatch(/error[^\n]*n8n-nodes-mailbox/i);
		});

		it('answers the credential Test with OK for the right password', async () => {
			const result = await n8n.testCredential(imapCredential({}));
			expect(result.status).toBe('OK');
			expect(result.message).toMatch(/^Connected to 127\.0\.0\.1:\d+ \(SSL\/TLS\); encrypted with TLSv1\.3, certificate for localhost \(self-signed\), valid until [\d-]+; logged in as "alice" with PLAIN; server supports IDLE, MOVE[^;]*; INBOX has 0 messages, 0 unseen\.$/);
		});

		it('takes the instance default server from n8n\'s environment when the credential chooses it', async () => {
			const result = await n8n.testCredential(imapCredential({ server: 'instance', host: '', port: 0 }));
			expect(result.status).toBe('OK');
			expect(result.message).toMatch(new RegExp(`^Connected to 127\\.0\\.0\\.1:${servers.ports.imaps} \\(SSL/TLS\\)`));
		});

		it('tests the Microsoft 365 app credential: MSAL token from the authority, IMAP login with it', async () => {
			const ok = await n8n.testCredential(msAppCredential({}));
			expect(ok.status).toBe('OK');
			expect(ok.message).toContain('logged in as "alice" with OAUTHBEARER');
			expect(authority.requests.some((r) => r.method === 'POST' && r.clientId === 'mailbox-app')).toBe(true);
			const wrong = await n8n.testCredential(msAppCredential({ clientSecret: 'Wrong-Secret-9' }));
			expect(wrong.status).toBe('Error');
			expect(wrong.message).toMatch(/^Microsoft rejected the client secret/);
			expect(wrong.message).not.toContain('Wrong-Secret-9');
		});

		it('tests the POP3 credential: APOP, USER/PASS, and a wrong password named without showing it', async () => {
			const apop = await n8n.testCredential(pop3Credential({ loginMethod: 'apop' }));
			expect(apop.status).toBe('OK');
			expect(apop.message).toMatch(/^Connected to 127\.0\.0\.1:\d+ \(SSL\/TLS\); encrypted with TLSv1\.3.*logged in as "alice" with APOP.*maildrop has 0 messages, 0 bytes\.$/);
			const plain = await n8n.testCredential(pop3Credential({ security: 'starttls', port: servers.ports.pop3 }));
			expect(plain.status).toBe('OK');
			expect(plain.message).toMatch(/STARTTLS.*logged in as "alice" with USER\/PASS/);
			const wrong = await n8n.testCredential(pop3Credential({ password: 'Wr0ng-pop-secret' }));
			expect(wrong.status).toBe('Error');
			expect(wrong.message).toMatch(/Check User and Password/);
			expect(wrong.message).not.toContain('Wr0ng-pop-secret');
		});

		it('tests the SMTP credential: EHLO, STARTTLS and AUTH, and a wrong password named without showing it', async () => {
			const ok = await n8n.testCredential(smtpCredential({}));
			expect(ok.status).toBe('OK');
			expect(ok.message).toMatch(/^Connected to 127\.0\.0\.1:\d+ \(STARTTLS\); encrypted with TLSv1\.3 after STARTTLS.*EHLO: server offers .*logged in as "alice" with PLAIN\.$/);
			const wrong = await n8n.testCredential(smtpCredential({ password: 'Wr0ng-smtp-secret' }));
			expect(wrong.status).toBe('Error');
			expect(wrong.message).toMatch(/Check User and Password/);
			expect(wrong.message).not.toContain('Wr0ng-smtp-secret');
		});

		it('tests an IMAP credential with shared mailboxes: each is opened, a forbidden one is named', async () => {
			const ok = await n8n.testCredential(imapCredential({ sharedMailboxes: 'catchall' }));
			expect(ok.status).toBe('OK');
			expect(ok.message).toMatch(/shared mailbox catchall opened as "alice\\catchall": INBOX has 0 messages, 0 unseen\.$/);
			const forbidden = await n8n.testCredential(imapCredential({ sharedMailboxes: 'catchall; bob' }));
			expect(forbidden.status).toBe('Error');
			expect(forbidden.message).toMatch(/^Shared mailbox bob: 127\.0\.0\.1 refused the login as "alice\\bob"/);
		});

		it('answers the credential Test with the clear cause for a wrong password, never the password', async () => {
			const result = await n8n.testCredential(imapCredential({ password: 'Wr0ng-secret' }));
			expect(result.status).toBe('Error');
			expect(result.message).toMatch(/^Authentication failed: 127\.0\.0\.1 rejected the login for user "alice".*Check User and Password/);
			expect(result.message).not.toContain('Wr0ng-secret');
		});

		it('names a closed port, and SSL/TLS chosen for a plain-text port', async () => {
			const closed = await freePort();
			const refused = await n8n.testCredential(imapCredential({ port: closed }));
			expect(refused).toMatchObject({ status: 'Error' });
			expect(refused.message).toContain(`Connection refused by 127.0.0.1:${closed}`);
			const tlsOnPlain = await n8n.testCredential(imapCredential({ port: servers.ports.imap }));
			expect(tlsOnPlain.status).toBe('Error');
			expect(tlsOnPlain.message).toMatch(/does not speak TLS on port \d+/);
		});
	});
});
