import { atLeastAsProtected, checkTokenHost, sameHost, tokenMayGoTo, withinCredential } from '../../../../lib/connection/scope';
import { resolveServer } from '../../../../lib/connection/options';
import { MailboxError } from '../../../../lib/errors';

describe('where a node field may send what a credential holds', () => {
	it('protection: none < STARTTLS if offered < STARTTLS = SSL/TLS', () => {
		expect(atLeastAsProtected('tls', 'starttls')).toBe(true);
		expect(atLeastAsProtected('starttls', 'tls')).toBe(true);
		expect(atLeastAsProtected('starttls-optional', 'starttls')).toBe(false);
		expect(atLeastAsProtected('none', 'starttls-optional')).toBe(false);
		expect(atLeastAsProtected('none', 'none')).toBe(true);
	});

	it('hosts compare without case and trailing dot; IPv6 with or without brackets', () => {
		expect(sameHost('Mail.Example.COM.', 'mail.example.com')).toBe(true);
		expect(sameHost('[::1]', '::1')).toBe(true);
		expect(sameHost('127.0.0.1', '127.0.0.2')).toBe(false);
	});

	it('a Microsoft 365 token: Exchange Online domains and their subdomains, the credential\'s hosts, nothing that only looks alike', () => {
		const named = ['outlook.office365.com', 'mail.contoso.test:993'];
		for (const host of ['outlook.office365.com', 'smtp.office365.com', 'SMTP-MAIL.OUTLOOK.COM', 'outlook.office365.us', 'partner.outlook.cn', 'mail.contoso.test']) expect(tokenMayGoTo(host, named)).toBe(true);
		for (const host of ['evil-office365.com', 'office365.com.evil.test', 'outlook.office365.com.evil.test', 'contoso.test', '127.0.0.1']) expect(tokenMayGoTo(host, named)).toBe(false);
		expect(() => checkTokenHost('evil.test', named, 'ewsUrl', 'EWS URL')).toThrow(MailboxError);
		try {
			checkTokenHost('evil.test', named, 'ewsUrl', 'EWS URL');
		} catch (error) {
			expect((error as MailboxError).field).toBe('ewsUrl');
			expect((error as MailboxError).message).toContain('(outlook.office365.com, mail.contoso.test), not to evil.test');
		}
	});

	it('a chosen server: with a login only the credential\'s host, at its protection; self-signed only for that host', () => {
		const credential = resolveServer('smtp', { host: 'mail.example.com', port: 587, security: 'starttls', allowUnauthorizedCerts: true });
		const chosen = (host: string, security: 'tls' | 'starttls' | 'none') => resolveServer('smtp', { host, security, allowUnauthorizedCerts: true });
		const choice = { credential, carriesLogin: true, field: 'serverOverride', label: 'Server' };
		expect(withinCredential({ ...choice, chosen: chosen('MAIL.example.com', 'tls') }).tls.rejectUnauthorized).toBe(false);
		expect(() => withinCredential({ ...choice, chosen: chosen('relay.example.com', 'tls') })).toThrow(/go only to its own server mail\.example\.com, not to relay\.example\.com/);
		expect(() => withinCredential({ ...choice, chosen: chosen('mail.example.com', 'none') })).toThrow(/None could send the credential's password unencrypted/);
		const relay = withinCredential({ ...choice, carriesLogin: false, chosen: chosen('relay.example.com', 'tls') });
		expect(relay.host).toBe('relay.example.com');
		expect(relay.tls.rejectUnauthorized).toBe(true);
	});
});
