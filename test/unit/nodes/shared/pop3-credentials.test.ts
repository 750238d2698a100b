import { MailboxPop3Api } from '../../../../credentials/MailboxPop3Api.credentials';
import { pop3SettingsFromCredential } from '../../../../nodes/shared/pop3-credentials';
import { apopDigest, apopTimestamp } from '../../../../lib/pop3/client';

describe('POP3 credential', () => {
	const credential = new MailboxPop3Api();
	const byName = Object.fromEntries(credential.properties.map((p) => [p.name, p]));

	it('has the fields a POP3 account needs, with safe defaults', () => {
		expect(credential.name).toBe('mailboxPop3Api');
		expect(credential.displayName).toBe('Mailbox POP3');
		expect(credential.properties.map((p) => p.name).sort()).toEqual(
			['allowSelfSigned', 'host', 'loginMethod', 'password', 'port', 'proxy', 'proxyHost', 'proxyPassword', 'proxyPort', 'proxyUser', 'security', 'server', 'tlsVersion', 'user'],
		);
		expect(byName.loginMethod.default).toBe('password');
		expect(byName.loginMethod.options?.map((o) => ('value' in o ? o.value : undefined))).toEqual(['password', 'apop', 'apop-or-password']);
		expect(byName.allowSelfSigned.default).toBe(false);
		expect(byName.password.typeOptions?.password).toBe(true);
		expect(byName.proxyPassword.typeOptions?.password).toBe(true);
		expect(JSON.stringify(credential.properties)).not.toMatch(/IMAP|993|143/);
	});

	it('turns the fields into settings, login and login method', () => {
		const data = { server: 'custom', host: 'pop.example.com', port: 1995, security: 'starttls', tlsVersion: 'min-1.2', user: 'u', password: 'p', allowSelfSigned: true, loginMethod: 'apop-or-password' };
		expect(pop3SettingsFromCredential(data)).toEqual({
			settings: { host: 'pop.example.com', port: 1995, security: 'starttls', tlsVersion: 'min-1.2', allowUnauthorizedCerts: true, proxy: undefined },
			login: { user: 'u', password: 'p' },
			apop: 'apop-or-password',
		});
		const viaProxy = pop3SettingsFromCredential({ ...data, proxy: 'http', proxyHost: 'proxy.example.com', proxyPort: 3128, proxyUser: 'pu', proxyPassword: 'pp' });
		expect(viaProxy.settings.proxy).toEqual({ type: 'http', host: 'proxy.example.com', port: 3128, user: 'pu', password: 'pp' });
		expect(pop3SettingsFromCredential({ ...data, loginMethod: 'kerberos' }).apop).toBe('password');
	});

	it('takes a provider or the instance default when Host is empty', () => {
		expect(pop3SettingsFromCredential({ server: 'gmail', host: '', user: 'u', password: 'p' }).settings).toMatchObject({ host: 'pop.gmail.com', port: 995, security: 'tls' });
		const env = { ...process.env };
		try {
			process.env.MAILBOX_DEFAULT_POP3_HOST = 'pop.company.example';
			process.env.MAILBOX_DEFAULT_POP3_SECURITY = 'starttls';
			delete process.env.MAILBOX_DEFAULT_POP3_PORT;
			expect(pop3SettingsFromCredential({ server: 'instance', user: 'u', password: 'p' }).settings).toMatchObject({ host: 'pop.company.example', port: undefined, security: 'starttls' });
			delete process.env.MAILBOX_DEFAULT_POP3_HOST;
			expect(() => pop3SettingsFromCredential({ server: 'instance', user: 'u', password: 'p' })).toThrow(expect.objectContaining({ field: 'server', hint: expect.stringContaining('MAILBOX_DEFAULT_POP3_HOST') }));
		} finally {
			process.env = env;
		}
	});
});

describe('APOP digest', () => {
	it('is the MD5 of the greeting timestamp and the password (RFC 1939 example)', () => {
		const timestamp = apopTimestamp('POP3 server ready <1896.697170952@dbc.mtview.ca.us>');
		expect(timestamp).toBe('<1896.697170952@dbc.mtview.ca.us>');
		expect(apopDigest(timestamp!, 'tanstaaf')).toBe('c4c9334bac560ecc979e58001b3e22fb');
		expect(apopTimestamp('Dovecot ready.')).toBeUndefined();
	});
});
