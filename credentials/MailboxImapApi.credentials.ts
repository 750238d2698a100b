import type { ICredentialType, INodeProperties } from 'n8n-workflow';

/**
 * An IMAP account signed in with user name and password. Tested by the Mailbox node's
 * `mailboxImapConnectionTest`, which connects, negotiates TLS, logs in and lists the folders.
 */
export class MailboxImapApi implements ICredentialType {
	name = 'mailboxImapApi';

	displayName = 'Mailbox IMAP';

	icon = { light: 'file:mailbox.svg', dark: 'file:mailbox.dark.svg' } as const;

	documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-mailbox#credentials';

	properties: INodeProperties[] = [
		{
			displayName: 'Host',
			name: 'host',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'imap.example.com',
			description: 'The IMAP server name. "host:port" is accepted too.',
		},
		{
			displayName: 'Security',
			name: 'security',
			type: 'options',
			default: 'tls',
			options: [
				{ name: 'SSL/TLS', value: 'tls', description: 'Encrypted from the first byte (usually port 993)' },
				{ name: 'STARTTLS', value: 'starttls', description: 'Plain connection upgraded to TLS, required (usually port 143)' },
				{ name: 'None', value: 'none', description: 'No encryption; the password travels in clear text. Only on a trusted network.' },
			],
		},
		{
			displayName: 'Port',
			name: 'port',
			type: 'number',
			default: 0,
			typeOptions: { minValue: 0, maxValue: 65535 },
			description: '0 uses the default port for the chosen security: 993 for SSL/TLS, 143 for STARTTLS and None',
		},
		{
			displayName: 'User',
			name: 'user',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'name@example.com',
		},
		{
			displayName: 'Password',
			name: 'password',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
		},
		{
			displayName: 'Allow Self-Signed Certificates',
			name: 'allowSelfSigned',
			type: 'boolean',
			default: false,
			description: 'Whether to connect even if the server\'s TLS certificate cannot be verified. Only for servers you trust: anyone between n8n and the server could read the password.',
		},
	];
}
