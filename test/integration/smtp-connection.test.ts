/**
 * The SMTP connection check and the nodemailer transport against the real SMTP capture server:
 * every security mode with PLAIN, LOGIN, XOAUTH2 and without login, and one clear message for
 * each mistake a user makes (wrong password or token, wrong port, TLS to a plain port and the
 * reverse, untrusted certificate, TLS version, missing STARTTLS). No secret in any message.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveServer, type Login, type ServerSettings } from '../../lib/connection/options';
import { MailboxError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { checkSmtpConnection } from '../../lib/smtp/check';
import { sendSmtpMessage } from '../../lib/smtp/transport';
import { OAuthServer } from '../servers/oauth';
import { closedPort } from '../servers/ports';
import { SmtpCapture, type SmtpCaptureOptions } from '../servers/smtp';
import { makeSelfSignedCertificate } from '../servers/tls';

const USERS = { alice: 'alice-pw', bob: 'bob-pw' };
const DATE = '\\d{4}-\\d\\d-\\d\\d';

describe('SMTP connection check and transport against the SMTP capture server', () => {
	let dir: string;
	let ca: string;
	let oauth: OAuthServer;
	/** STARTTLS on .smtp, SSL/TLS on .smtps, AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2. */
	let main: SmtpCapture;
	/** AUTH LOGIN only. */
	let loginOnly: SmtpCapture;
	/** No STARTTLS on the plain port. */
	let noStartTls: SmtpCapture;
	/** TLS 1.3 and nothing else. */
	let tls13Only: SmtpCapture;
	/** No AUTH, like a relay. */
	let noAuth: SmtpCapture;
	const messages: string[] = [];
	const secrets: string[] = [...Object.values(USERS), 'wrong-Secret-1', 'made-up-token'];

	const start = (name: string, extra: Partial<SmtpCaptureOptions> = {}) =>
		SmtpCapture.start({
			users: USERS,
			tokenUser: (token) => oauth.tokenUser(token),
			key: fs.readFileSync(path.join(dir, 'key.pem')),
			cert: ca,
			outDir: path.join(dir, name),
			...extra,
		});

	/** `login` null: no login configured (Authentication: None). */
	const check = async (settings: Partial<ServerSettings>, login: Partial<Login> | null = { user: 'alice', password: 'alice-pw' }) => {
		const result = await checkSmtpConnection({ host: '127.0.0.1', security: 'starttls', port: main.ports.smtp, ca, ...settings } as ServerSettings, login ?? undefined);
		messages.push(result.message, ...result.steps.map((s) => s.detail));
		return result;
	};

	beforeAll(async () => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-connection-'));
		makeSelfSignedCertificate(dir);
		ca = fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8');
		oauth = await OAuthServer.start({ users: Object.keys(USERS) });
		[main, loginOnly, noStartTls, tls13Only, noAuth] = await Promise.all([
			start('main'),
			start('login-only', { authMethods: ['LOGIN'] }),
			start('no-starttls', { disableStartTls: true }),
			start('tls13', { minTlsVersion: 'TLSv1.3' }),
			start('no-auth', { disableAuth: true }),
		]);
	});
	afterAll(async () => {
		await Promise.all([main, loginOnly, noStartTls, tls13Only, noAuth].map((s) => s?.stop()));
		await oauth?.stop();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	describe('logs in and reports each step', () => {
		it('STARTTLS with PLAIN: TLS version and certificate, EHLO keywords, mechanism', async () => {
			const result = await check({});
			expect(result.ok).toBe(true);
			expect(result.steps.map((s) => s.step)).toEqual(['connect', 'tls', 'capabilities', 'login']);
			expect(result.message).toMatch(
				new RegExp(
					`^Connected to 127\\.0\\.0\\.1:${main.ports.smtp} \\(STARTTLS\\); encrypted with TLSv1\\.3 after STARTTLS, certificate for localhost \\(self-signed\\), valid until ${DATE}; ` +
						'EHLO: server offers STARTTLS, PIPELINING, 8BITMIME, SMTPUTF8, AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2, SIZE 67108864 \\(64 MB\\); ' +
						'logged in as "alice" with PLAIN\\.$',
				),
			);
		});

		it('STARTTLS with LOGIN where the server offers only LOGIN', async () => {
			const result = await check({ port: loginOnly.ports.smtp });
			expect(result.ok).toBe(true);
			expect(result.steps.find((s) => s.step === 'capabilities')?.detail).toContain('AUTH LOGIN,');
			expect(result.message).toContain('logged in as "alice" with LOGIN.');
		});

		it('SSL/TLS with XOAUTH2 and a token from the authorization server', async () => {
			const token = oauth.issueToken('bob');
			secrets.push(token);
			const result = await check({ security: 'tls', port: main.ports.smtps }, { user: 'bob', accessToken: token });
			expect(result.ok).toBe(true);
			expect(result.message).toMatch(new RegExp(`^Connected to 127\\.0\\.0\\.1:${main.ports.smtps} \\(SSL/TLS\\); encrypted with TLSv1\\.3, certificate for localhost`));
			expect(result.message).not.toContain('STARTTLS');
			expect(result.message).toContain('logged in as "bob" with XOAUTH2.');
		});

		it('without a login: says so and what the server offers', async () => {
			const result = await check({ security: 'tls', port: main.ports.smtps }, null);
			expect(result.ok).toBe(true);
			expect(result.steps.map((s) => s.step)).toEqual(['connect', 'tls', 'capabilities', 'login']);
			expect(result.message).toMatch(/; no login configured: mail is sent without authentication \(the server offers AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2\)\.$/);
		});

		it('STARTTLS if offered: encrypted where offered, plain where not; None stays plain', async () => {
			expect((await check({ security: 'starttls-optional' })).message).toContain('(STARTTLS if offered); encrypted with TLSv1.3 after STARTTLS');
			const plain = await check({ security: 'starttls-optional', port: noStartTls.ports.smtp });
			expect(plain.ok).toBe(true);
			expect(plain.message).toContain('(STARTTLS if offered); NOT encrypted: the server does not offer STARTTLS; EHLO: server offers PIPELINING');
			const none = await check({ security: 'none' });
			expect(none.message).toContain('(no encryption); NOT encrypted (the server offers STARTTLS: choose STARTTLS to encrypt); EHLO: server offers PIPELINING');
			expect(none.message).toContain('logged in as "alice" with PLAIN');
		});

		it('resolves a host name first and reports it', async () => {
			const result = await check({ host: 'localhost' });
			expect(result.ok).toBe(true);
			expect(result.steps[0]).toEqual({ step: 'resolve', ok: true, detail: expect.stringMatching(/^localhost is (127\.0\.0\.1|::1)$/) });
		});
	});

	describe('names each mistake with its field and fix', () => {
		it('wrong password', async () => {
			const result = await check({}, { user: 'alice', password: 'wrong-Secret-1' });
			expect(result.error).toMatchObject({ code: 'AUTH', field: 'password', step: 'login' });
			expect(result.steps.at(-1)).toEqual({ step: 'login', ok: false, detail: result.message });
			expect(result.message).toMatch(/^Authentication failed: 127\.0\.0\.1 rejected the login for user "alice" \(server said: 535 .*\)\. Check User and Password\./);
		});

		it('made-up, revoked, expired and another user\'s token', async () => {
			const revoked = oauth.issueToken('alice');
			expect((await check({ security: 'tls', port: main.ports.smtps }, { user: 'alice', accessToken: revoked })).ok).toBe(true);
			oauth.revoke(revoked);
			const expired = oauth.issueToken('alice', -60);
			secrets.push(revoked, expired);
			for (const accessToken of ['made-up-token', revoked, expired, 'valid-token-bob']) {
				const result = await check({ security: 'tls', port: main.ports.smtps }, { user: 'alice', accessToken });
				expect(result.error).toMatchObject({ code: 'AUTH', field: 'accessToken', step: 'login' });
				expect(result.message).toMatch(/^Authentication failed: 127\.0\.0\.1 rejected the access token for user "alice".*sign in again/);
			}
		});

		it('closed port', async () => {
			const port = await closedPort();
			const result = await check({ port });
			expect(result.error).toMatchObject({ code: 'CONNECTION_REFUSED', field: 'port', step: 'connect' });
			expect(result.steps).toEqual([{ step: 'connect', ok: false, detail: result.message }]);
			expect(result.message).toBe(
				`Connection refused by 127.0.0.1:${port}: no SMTP server is listening on that port. Check Port and Security: the usual ports are 465 for SSL/TLS and 587 for STARTTLS.`,
			);
		});

		it('SSL/TLS to the STARTTLS port: choose STARTTLS (587)', async () => {
			const result = await check({ security: 'tls', port: main.ports.smtp });
			expect(result.error).toMatchObject({ code: 'TLS', field: 'security', step: 'tls' });
			expect(result.message).toContain(`the server does not speak TLS on port ${main.ports.smtp}. Choose STARTTLS for a plain port such as 587`);
		});

		it('plain connection to the SSL/TLS port: choose SSL/TLS (465)', async () => {
			const result = await check({ security: 'starttls', port: main.ports.smtps, timeoutMs: 2000 });
			expect(result.error).toMatchObject({ code: 'TIMEOUT', field: 'security', step: 'greeting' });
			expect(result.message).toMatch(/accepted the connection but sent no greeting in time\. The port may expect TLS from the start: choose SSL\/TLS \(port 465\)/);
		});

		it('untrusted certificate: names the opt-in, which then works', async () => {
			for (const settings of [{ security: 'tls' as const, port: main.ports.smtps }, { security: 'starttls' as const }]) {
				const untrusted = await check({ ...settings, ca: undefined });
				expect(untrusted.error).toMatchObject({ code: 'TLS_CERTIFICATE', field: 'allowSelfSigned', step: 'tls', causeCode: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
				expect(untrusted.message).toMatch(/was rejected: it is self-signed \(DEPTH_ZERO_SELF_SIGNED_CERT\)\..*switch on "Allow Self-Signed Certificates"/);
				const allowed = await check({ ...settings, ca: undefined, allowUnauthorizedCerts: true });
				expect(allowed.ok).toBe(true);
				expect(allowed.message).toContain('NOT verified ("Allow Self-Signed Certificates" is on)');
			}
		});

		it('exactly TLS 1.2 against a TLS 1.3-only server fails clearly; the reverse works', async () => {
			for (const settings of [{ security: 'tls' as const, port: tls13Only.ports.smtps }, { security: 'starttls' as const, port: tls13Only.ports.smtp }]) {
				const refused = await check({ ...settings, tlsVersion: '1.2' });
				expect(refused.error).toMatchObject({ code: 'TLS', field: 'tlsVersion', step: 'tls' });
				expect(refused.message).toMatch(/the server does not accept exactly TLSv1\.2 .*Set TLS Version to "Let the server decide"/);
				expect((await check({ ...settings, tlsVersion: 'min-1.2' })).message).toContain('encrypted with TLSv1.3');
			}
			expect((await check({ security: 'tls', port: main.ports.smtps, tlsVersion: '1.2' })).message).toContain('encrypted with TLSv1.2,');
		});

		it('STARTTLS required where the server offers none', async () => {
			const result = await check({ port: noStartTls.ports.smtp });
			expect(result.error).toMatchObject({ code: 'STARTTLS_UNAVAILABLE', field: 'security', step: 'tls' });
			expect(result.message).toMatch(new RegExp(`^127\\.0\\.0\\.1:${noStartTls.ports.smtp} \\(STARTTLS\\) does not offer STARTTLS \\(server said: 5\\d\\d .*\\)\\. Choose SSL/TLS with its port \\(usually 465\\)`));
		});

		it('a login configured for a server that offers none', async () => {
			const result = await check({ port: noAuth.ports.smtp });
			expect(result.error).toMatchObject({ code: 'AUTH', field: 'authentication', step: 'login', causeCode: 'NO_AUTH' });
			expect(result.steps.map((s) => `${s.step}:${s.ok}`)).toEqual(['connect:true', 'tls:true', 'capabilities:true', 'login:false']);
			expect(result.message).toMatch(/offers no login \(AUTH\) on this connection\. Set Authentication to None if the server accepts mail/);
			expect((await check({ port: noAuth.ports.smtp }, null)).message).toMatch(/; no login configured: mail is sent without authentication\.$/);
		});

		it('configuration mistakes name the field before connecting', async () => {
			expect((await check({ host: '' })).error).toMatchObject({ code: 'CONFIG', field: 'host' });
			expect((await check({ port: 70000 })).error).toMatchObject({ code: 'CONFIG', field: 'port' });
			expect((await check({}, { user: 'alice', password: '' })).error).toMatchObject({ code: 'CONFIG', field: 'password' });
			expect((await check({}, { user: '', password: 'x' })).error).toMatchObject({ code: 'CONFIG', field: 'user' });
		});
	});

	describe('sends with the transport options', () => {
		const mail = (subject: string) => ({ from: 'alice@example.test', to: 'bob@example.test', subject, text: `${subject}\n` });

		it('STARTTLS with PLAIN, SSL/TLS with XOAUTH2, and without login, each as captured', async () => {
			const logged: string[] = [];
			const logger: Logger = { debug: (m) => logged.push(m), info: (m) => logged.push(m), warn: (m) => logged.push(m), error: (m) => logged.push(m) };
			const token = oauth.issueToken('bob');
			secrets.push(token);
			await sendSmtpMessage(resolveServer('smtp', { host: '127.0.0.1', port: main.ports.smtp, security: 'starttls', ca }), { user: 'alice', password: 'alice-pw' }, mail('by PLAIN'), logger);
			await sendSmtpMessage(resolveServer('smtp', { host: '127.0.0.1', port: main.ports.smtps, security: 'tls', ca }), { user: 'bob', accessToken: token }, mail('by XOAUTH2'), logger);
			await sendSmtpMessage(resolveServer('smtp', { host: '127.0.0.1', port: main.ports.smtp, security: 'none' }), undefined, mail('no login'), logger);
			const find = (subject: string) => main.waitForMessage((m) => m.raw.toString().includes(`Subject: ${subject}`));
			expect(await find('by PLAIN')).toMatchObject({ authUser: 'alice', authMethod: 'PLAIN', secure: true, tlsVersion: 'TLSv1.3', port: main.ports.smtp, rcptTo: ['bob@example.test'] });
			expect(await find('by XOAUTH2')).toMatchObject({ authUser: 'bob', authMethod: 'XOAUTH2', secure: true, port: main.ports.smtps });
			expect(await find('no login')).toMatchObject({ authUser: null, secure: false });
			expect(logged.length).toBeGreaterThan(0);
			messages.push(...logged);
		});

		it('a failed send is a MailboxError naming the field', async () => {
			const error = await sendSmtpMessage(resolveServer('smtp', { host: '127.0.0.1', port: main.ports.smtp, security: 'starttls', ca }), { user: 'alice', password: 'wrong-Secret-1' }, mail('never')).catch((e: unknown) => e);
			expect(error).toBeInstanceOf(MailboxError);
			expect(error).toMatchObject({ code: 'AUTH', field: 'password' });
			messages.push((error as MailboxError).fullMessage);
		});
	});

	it('never shows a password or token, plain or base64, in any message or log line', () => {
		expect(messages.length).toBeGreaterThan(30);
		const forms = secrets.flatMap((s) => [s, Buffer.from(s).toString('base64')]);
		forms.push(Buffer.from('\0alice\0alice-pw').toString('base64'));
		for (const message of messages) for (const form of forms) expect(message).not.toContain(form);
	});
});
