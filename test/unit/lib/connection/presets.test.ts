import { MailboxError } from '../../../../lib/errors';
import { PROVIDERS, hasInstanceServer, instanceVariables, serverFor } from '../../../../lib/connection/presets';
import { imapSettingsFromCredential } from '../../../../nodes/shared/credentials';

describe('provider presets and the instance default server', () => {
	it('knows IMAP, POP3 and SMTP of every provider in the credential', () => {
		for (const id of Object.keys(PROVIDERS) as (keyof typeof PROVIDERS)[]) {
			for (const protocol of ['imap', 'pop3', 'smtp'] as const) {
				const endpoint = serverFor(protocol, id);
				expect(endpoint?.host).toMatch(/^[a-z0-9.-]+\.[a-z]+$/);
				expect([465, 587, 993, 995]).toContain(endpoint?.port);
			}
		}
		expect(serverFor('smtp', 'office365')).toEqual({ host: 'smtp.office365.com', port: 587, security: 'starttls' });
		expect(serverFor('imap', 'custom')).toBeUndefined();
	});

	it('fills host, port and security from the provider when Host is empty; a filled Host wins', () => {
		const base = { server: 'gmail', host: '', port: 0, security: 'none', user: 'u', password: 'p' };
		expect(imapSettingsFromCredential(base).settings).toMatchObject({ host: 'imap.gmail.com', port: 993, security: 'tls' });
		expect(imapSettingsFromCredential({ ...base, host: 'imap.corp.example', port: 10993 }).settings).toMatchObject({ host: 'imap.corp.example', port: 10993, security: 'none' });
	});

	it('takes the instance default from the environment and names the variables when they are missing', () => {
		expect(instanceVariables('smtp')).toEqual({ host: 'MAILBOX_DEFAULT_SMTP_HOST', port: 'MAILBOX_DEFAULT_SMTP_PORT', security: 'MAILBOX_DEFAULT_SMTP_SECURITY' });
		expect(serverFor('imap', 'instance', { MAILBOX_DEFAULT_IMAP_HOST: 'mail.corp.example', MAILBOX_DEFAULT_IMAP_PORT: '1143', MAILBOX_DEFAULT_IMAP_SECURITY: 'starttls' })).toEqual({
			host: 'mail.corp.example',
			port: 1143,
			security: 'starttls',
		});
		expect(() => serverFor('imap', 'instance', {})).toThrow(MailboxError);
		// SMTP ends with the mail server of the machine n8n runs on
		expect(serverFor('smtp', 'instance', {})).toEqual({ host: 'localhost', port: 25, security: 'none' });
		expect(serverFor('smtp', 'instance', { MAILBOX_DEFAULT_SMTP_HOST: 'relay.corp.example' })).toEqual({ host: 'relay.corp.example', port: undefined, security: 'tls' });
		expect(hasInstanceServer('smtp', {})).toBe(false);
		expect(hasInstanceServer('smtp', { MAILBOX_DEFAULT_SMTP_HOST: ' relay ' })).toBe(true);
		try {
			serverFor('pop3', 'instance', {});
		} catch (error) {
			expect((error as MailboxError).fullMessage).toMatch(/no default POP3 server.*MAILBOX_DEFAULT_POP3_HOST/);
			expect((error as MailboxError).field).toBe('server');
		}
		expect(() => serverFor('imap', 'instance', { MAILBOX_DEFAULT_IMAP_HOST: 'h', MAILBOX_DEFAULT_IMAP_SECURITY: 'ssl' })).toThrow(/MAILBOX_DEFAULT_IMAP_SECURITY="ssl"/);
	});
});
