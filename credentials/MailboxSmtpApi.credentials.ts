import type { ICredentialType, INodeProperties } from 'n8n-workflow';
import { allowSelfSignedField, proxyFields, serverFields } from './common/mail-server-fields';

/**
 * An SMTP account for sending, with or without a login. Tested by the node that registers it
 * (testedBy), through the SMTP connection check: connect, TLS, EHLO, AUTH; nothing is sent.
 */
export class MailboxSmtpApi implements ICredentialType {
	name = 'mailboxSmtpApi';

	displayName = 'Mailbox SMTP';

	icon = { light: 'file:mailbox.svg', dark: 'file:mailbox.dark.svg' } as const;

	documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-mailbox#credentials';

	properties: INodeProperties[] = [
		...serverFields('smtp', { defaultSecurity: 'starttls', securityHint: 'STARTTLS on port 587 often works where SSL/TLS on port 465 is blocked by a firewall' }),
		{
			displayName: 'Authentication',
			name: 'authentication',
			type: 'options',
			default: 'password',
			options: [
				{ name: 'User and Password', value: 'password', description: 'Log in with AUTH PLAIN or LOGIN, as the server offers' },
				{ name: 'None', value: 'none', description: 'Send without logging in, e.g. through a relay that trusts this n8n by its address' },
			],
		},
		{
			displayName: 'User',
			name: 'user',
			type: 'string',
			default: '',
			placeholder: 'name@example.com',
			displayOptions: { show: { authentication: ['password'] } },
		},
		{
			displayName: 'Password',
			name: 'password',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			displayOptions: { show: { authentication: ['password'] } },
		},
		allowSelfSignedField,
		...proxyFields,
	];
}
