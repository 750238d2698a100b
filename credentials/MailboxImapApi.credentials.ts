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
			displayName: 'Server',
			name: 'server',
			type: 'options',
			default: 'custom',
			options: [
				{ name: 'Custom', value: 'custom', description: 'Enter host, security and port below' },
				{ name: 'Instance Default', value: 'instance', description: 'The server the n8n admin set with MAILBOX_DEFAULT_IMAP_HOST, _PORT and _SECURITY' },
				{ name: 'Microsoft 365 / Outlook.com', value: 'office365', description: 'outlook.office365.com, SSL/TLS 993' },
				{ name: 'Gmail / Google Workspace', value: 'gmail', description: 'imap.gmail.com, SSL/TLS 993' },
				{ name: 'IONOS', value: 'ionos', description: 'imap.ionos.de, SSL/TLS 993' },
				{ name: 'Strato', value: 'strato', description: 'imap.strato.de, SSL/TLS 993' },
				{ name: 'Telekom T-Online', value: 'tonline', description: 'secureimap.t-online.de, SSL/TLS 993' },
				{ name: 'GMX', value: 'gmx', description: 'imap.gmx.net, SSL/TLS 993' },
				{ name: 'WEB.DE', value: 'webde', description: 'imap.web.de, SSL/TLS 993' },
			],
			description: 'A provider fills in host, security and port; fill in Host below to use your own values instead',
		},
		{
			displayName: 'Host',
			name: 'host',
			type: 'string',
			default: '',
			placeholder: 'imap.example.com',
			description: 'The IMAP server name ("host:port" is accepted too). With a provider or the instance default chosen above, leave it empty to use theirs.',
		},
		{
			displayName: 'Security',
			name: 'security',
			type: 'options',
			default: 'tls',
			options: [
				{ name: 'SSL/TLS', value: 'tls', description: 'Encrypted from the first byte (usually port 993)' },
				{ name: 'STARTTLS', value: 'starttls', description: 'Plain connection upgraded to TLS, required (usually port 143)' },
				{ name: 'STARTTLS If Offered', value: 'starttls-optional', description: 'Upgraded to TLS when the server offers it, plain otherwise (usually port 143)' },
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
			displayName: 'TLS Version',
			name: 'tlsVersion',
			type: 'options',
			default: 'auto',
			displayOptions: { hide: { security: ['none'] } },
			options: [
				{ name: 'Let the Server Decide', value: 'auto' },
				{ name: 'Exactly TLS 1.0 (Old Servers)', value: '1.0' },
				{ name: 'Exactly TLS 1.1 (Old Servers)', value: '1.1' },
				{ name: 'Exactly TLS 1.2', value: '1.2' },
				{ name: 'Exactly TLS 1.3', value: '1.3' },
				{ name: 'At Least TLS 1.0', value: 'min-1.0' },
				{ name: 'At Least TLS 1.1', value: 'min-1.1' },
				{ name: 'At Least TLS 1.2', value: 'min-1.2' },
				{ name: 'At Least TLS 1.3', value: 'min-1.3' },
			],
			description: 'Which TLS versions to accept. Change it only for servers that need an old version, or to insist on a new one.',
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
			displayName: 'Shared Mailboxes',
			name: 'sharedMailboxes',
			type: 'string',
			default: '',
			placeholder: 'info@example.com; sales@example.com',
			description: 'Other mailboxes this account may open, separated by semicolons (Microsoft 365: mailboxes it has Full Access to). Each is opened with the login "User\\mailbox" and this password; the Test opens each one. To sign in to only one shared mailbox, enter "you@example.com\\info@example.com" as User instead.',
		},
		{
			displayName: 'Allow Self-Signed Certificates',
			name: 'allowSelfSigned',
			type: 'boolean',
			default: false,
			description: 'Whether to connect even if the server\'s TLS certificate cannot be verified. Only for servers you trust: anyone between n8n and the server could read the password.',
		},
		{
			displayName: 'Proxy',
			name: 'proxy',
			type: 'options',
			default: 'none',
			options: [
				{ name: 'None', value: 'none' },
				{ name: 'SOCKS5', value: 'socks5' },
				{ name: 'HTTP CONNECT', value: 'http' },
			],
			description: 'Reach the mail server through a proxy, e.g. where a firewall allows outgoing connections only through one',
		},
		{
			displayName: 'Proxy Host',
			name: 'proxyHost',
			type: 'string',
			default: '',
			placeholder: 'proxy.example.com',
			displayOptions: { hide: { proxy: ['none'] } },
		},
		{
			displayName: 'Proxy Port',
			name: 'proxyPort',
			type: 'number',
			default: 0,
			typeOptions: { minValue: 0, maxValue: 65535 },
			description: '0 uses 1080 for SOCKS5 and 8080 for HTTP CONNECT',
			displayOptions: { hide: { proxy: ['none'] } },
		},
		{
			displayName: 'Proxy User',
			name: 'proxyUser',
			type: 'string',
			default: '',
			description: 'Leave empty if the proxy needs no login',
			displayOptions: { hide: { proxy: ['none'] } },
		},
		{
			displayName: 'Proxy Password',
			name: 'proxyPassword',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			displayOptions: { hide: { proxy: ['none'] } },
		},
	];
}
