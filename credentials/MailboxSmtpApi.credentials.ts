import type { ICredentialType, INodeProperties } from 'n8n-workflow';

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
		{
			displayName: 'Server',
			name: 'server',
			type: 'options',
			default: 'custom',
			options: [
				{ name: 'Custom', value: 'custom', description: 'Enter host, security and port below' },
				{ name: 'Instance Default', value: 'instance', description: 'The server the n8n admin set with MAILBOX_DEFAULT_SMTP_HOST, _PORT and _SECURITY' },
				{ name: 'Microsoft 365 / Outlook.com', value: 'office365', description: 'smtp.office365.com, STARTTLS 587' },
				{ name: 'Gmail / Google Workspace', value: 'gmail', description: 'smtp.gmail.com, SSL/TLS 465' },
				{ name: 'IONOS', value: 'ionos', description: 'smtp.ionos.de, SSL/TLS 465' },
				{ name: 'Strato', value: 'strato', description: 'smtp.strato.de, SSL/TLS 465' },
				{ name: 'Telekom T-Online', value: 'tonline', description: 'securesmtp.t-online.de, SSL/TLS 465' },
				{ name: 'GMX', value: 'gmx', description: 'mail.gmx.net, SSL/TLS 465' },
				{ name: 'WEB.DE', value: 'webde', description: 'smtp.web.de, STARTTLS 587' },
			],
			description: 'A provider fills in host, security and port; fill in Host below to use your own values instead',
		},
		{
			displayName: 'Host',
			name: 'host',
			type: 'string',
			default: '',
			placeholder: 'smtp.example.com',
			description: 'The SMTP server name ("host:port" is accepted too). With a provider or the instance default chosen above, leave it empty to use theirs.',
		},
		{
			displayName: 'Security',
			name: 'security',
			type: 'options',
			default: 'starttls',
			options: [
				{ name: 'SSL/TLS', value: 'tls', description: 'Encrypted from the first byte (usually port 465)' },
				{ name: 'STARTTLS', value: 'starttls', description: 'Plain connection upgraded to TLS, required (usually port 587)' },
				{ name: 'STARTTLS If Offered', value: 'starttls-optional', description: 'Upgraded to TLS when the server offers it, plain otherwise (usually port 587)' },
				{ name: 'None', value: 'none', description: 'No encryption; a password travels in clear text. Only on a trusted network (usually port 25).' },
			],
			description: 'STARTTLS on port 587 often works where SSL/TLS on port 465 is blocked by a firewall',
		},
		{
			displayName: 'Port',
			name: 'port',
			type: 'number',
			default: 0,
			typeOptions: { minValue: 0, maxValue: 65535 },
			description: '0 uses the default port for the chosen security: 465 for SSL/TLS, 587 for STARTTLS, 25 for None',
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
		{
			displayName: 'Allow Self-Signed Certificates',
			name: 'allowSelfSigned',
			type: 'boolean',
			default: false,
			displayOptions: { hide: { security: ['none'] } },
			description: 'Whether to connect even if the server\'s TLS certificate cannot be verified. Only for servers you trust: anyone between n8n and the server could read the password and the mail.',
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
