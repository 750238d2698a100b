/**
 * The Mailbox SMTP credential: its fields, safe defaults, and its data turned into connection
 * settings that the SMTP check takes to the real capture server (custom host, instance default,
 * no login, proxy).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MailboxSmtpApi } from '../../credentials/MailboxSmtpApi.credentials';
import { checkSmtpConnection } from '../../lib/smtp/check';
import { SMTP_CREDENTIAL, smtpSettingsFromCredential } from '../../nodes/shared/smtp-credentials';
import { Socks5Proxy } from '../servers/proxy';
import { SmtpCapture } from '../servers/smtp';
import { makeSelfSignedCertificate } from '../servers/tls';

describe('Mailbox SMTP credential', () => {
	const credential = new MailboxSmtpApi();
	const byName = Object.fromEntries(credential.properties.map((p) => [p.name, p]));

	it('has the fields a business SMTP dialog has, with safe defaults', () => {
		expect(credential.name).toBe(SMTP_CREDENTIAL);
		expect(credential.displayName).toBe('Mailbox SMTP');
		expect(credential.properties.map((p) => p.name).sort()).toEqual(
			['allowSelfSigned', 'authentication', 'host', 'password', 'port', 'proxy', 'proxyHost', 'proxyPassword', 'proxyPort', 'proxyUser', 'security', 'server', 'tlsVersion', 'user'].sort(),
		);
		expect(byName.security.default).toBe('starttls');
		expect(String(byName.security.description)).toContain('587');
		expect(byName.allowSelfSigned.default).toBe(false);
		expect(byName.password.typeOptions?.password).toBe(true);
		expect(byName.proxyPassword.typeOptions?.password).toBe(true);
		expect(byName.proxy.default).toBe('none');
		expect(byName.authentication.default).toBe('password');
	});

	it('maps every field to the connection settings; a provider fills in an empty Host', () => {
		const data = { server: 'custom', host: 'smtp.example.com', port: 2525, security: 'tls', tlsVersion: 'min-1.2', authentication: 'password', user: 'u', password: 'p', allowSelfSigned: true, proxy: 'http', proxyHost: 'proxy.example.com', proxyPort: 3128, proxyUser: 'pu', proxyPassword: 'pp' };
		expect(smtpSettingsFromCredential(data)).toEqual({
			settings: {
				host: 'smtp.example.com',
				port: 2525,
				security: 'tls',
				tlsVersion: 'min-1.2',
				allowUnauthorizedCerts: true,
				proxy: { type: 'http', host: 'proxy.example.com', port: 3128, user: 'pu', password: 'pp' },
			},
			login: { user: 'u', password: 'p' },
		});
		expect(smtpSettingsFromCredential({ ...data, authentication: 'none' }).login).toBeUndefined();
		expect(smtpSettingsFromCredential({ ...data, server: 'office365', host: '' }).settings).toMatchObject({ host: 'smtp.office365.com', port: 587, security: 'starttls' });
		expect(smtpSettingsFromCredential({ ...data, server: 'gmail', host: '' }).settings).toMatchObject({ host: 'smtp.gmail.com', port: 465, security: 'tls' });
		const host = process.env.MAILBOX_DEFAULT_SMTP_HOST;
		delete process.env.MAILBOX_DEFAULT_SMTP_HOST;
		try {
			// no instance default set: the mail server of the machine n8n runs on
			expect(smtpSettingsFromCredential({ server: 'instance', host: '' }).settings).toMatchObject({ host: 'localhost', port: 25, security: 'none' });
		} finally {
			if (host !== undefined) process.env.MAILBOX_DEFAULT_SMTP_HOST = host;
		}
	});

	describe('checked against the SMTP capture server', () => {
		let dir: string;
		let smtp: SmtpCapture;
		let proxy: Socks5Proxy;
		const saved = { ...process.env };

		beforeAll(async () => {
			dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-credential-'));
			makeSelfSignedCertificate(dir);
			smtp = await SmtpCapture.start({
				users: { alice: 'alice-pw' },
				tokenUser: () => undefined,
				key: fs.readFileSync(path.join(dir, 'key.pem')),
				cert: fs.readFileSync(path.join(dir, 'cert.pem')),
				outDir: path.join(dir, 'out'),
			});
			proxy = await new Socks5Proxy().listen();
		});
		afterAll(async () => {
			process.env = saved;
			await proxy?.stop();
			await smtp?.stop();
			fs.rmSync(dir, { recursive: true, force: true });
		});

		const checkData = (data: Record<string, string | number | boolean>) => {
			const { settings, login } = smtpSettingsFromCredential(data);
			return checkSmtpConnection(settings, login);
		};

		it('a custom host with a password logs in; without the opt-in the self-signed certificate is named', async () => {
			const data = { server: 'custom', host: `127.0.0.1:${smtp.ports.smtp}`, security: 'starttls', authentication: 'password', user: 'alice', password: 'alice-pw', allowSelfSigned: true };
			const ok = await checkData(data);
			expect(ok.message).toContain('logged in as "alice" with PLAIN');
			const untrusted = await checkData({ ...data, allowSelfSigned: false });
			expect(untrusted.error).toMatchObject({ code: 'TLS_CERTIFICATE', field: 'allowSelfSigned' });
			expect(untrusted.message).not.toContain('alice-pw');
		});

		it('the instance default server from the environment, without a login, through a proxy', async () => {
			process.env.MAILBOX_DEFAULT_SMTP_HOST = '127.0.0.1';
			process.env.MAILBOX_DEFAULT_SMTP_PORT = String(smtp.ports.smtps);
			process.env.MAILBOX_DEFAULT_SMTP_SECURITY = 'tls';
			const result = await checkData({ server: 'instance', host: '', authentication: 'none', allowSelfSigned: true, proxy: 'socks5', proxyHost: '127.0.0.1', proxyPort: proxy.port });
			expect(result.ok).toBe(true);
			expect(result.message).toMatch(new RegExp(`^through the SOCKS5 proxy .*; Connected to 127\\.0\\.0\\.1:${smtp.ports.smtps} \\(SSL/TLS\\); .*; no login configured: mail is sent without authentication`));
			expect(proxy.tunnels).toEqual([{ target: `127.0.0.1:${smtp.ports.smtps}`, allowed: true }]);
		});

		it('an empty password names the field before connecting', async () => {
			const result = await checkData({ server: 'custom', host: '127.0.0.1', authentication: 'password', user: 'alice', password: '' });
			expect(result.error).toMatchObject({ code: 'CONFIG', field: 'password' });
			expect(result.steps).toEqual([{ step: 'config', ok: false, detail: result.message }]);
		});
	});
});
