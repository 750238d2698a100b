import type { ICredentialType, INodeProperties } from 'n8n-workflow';

/**
 * A POP3 mailbox signed in with user name and password, by USER/PASS or APOP. The connection
 * check (lib/pop3/check.ts) connects, negotiates TLS, reads CAPA, logs in with the Login Method
 * and counts the maildrop; nodes/shared/pop3-credentials.ts turns these fields into its settings.
 */
export class MailboxPop3Api implements ICredentialType {
	name = 'mailboxPop3Api';

	// A mail protocol, not a web API, named like Mailbox IMAP (which the rule exempts by file name).
	// eslint-disable-next-line n8n-nodes-base/cred-class-field-display-name-missing-api
	displayName = 'Mailbox POP3';

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
				{ name: 'Instance Default', value: 'instance', description: 'The server the n8n admin set with MAILBOX_DEFAULT_POP3_HOST, _PORT and _SECURITY' },
				{ name: 'Microsoft 365 / Outlook.com', value: 'office365', description: 'outlook.office365.com, SSL/TLS 995' },
				{ name: 'Gmail / Google Workspace', value: 'gmail', description: 'pop.gmail.com, SSL/TLS 995' },
				{ name: 'IONOS', value: 'ionos', description: 'pop.ionos.de, SSL/TLS 995' },
				{ name: 'Strato', value: 'strato', description: 'pop3.strato.de, SSL/TLS 995' },
				{ name: 'Telekom T-Online', value: 'tonline', description: 'securepop.t-online.de, SSL/TLS 995' },
				{ name: 'GMX', value: 'gmx', description: 'pop.gmx.net, SSL/TLS 995' },
				{ name: 'WEB.DE', value: 'webde', description: 'pop3.web.de, SSL/TLS 995' },
			],
			description: 'A provider fills in host, security and port; fill in Host below to use your own values instead',
		},
		{
			displayName: 'Host',
			name: 'host',
			type: 'string',
			default: '',
			placeholder: 'pop.example.com',
			description: 'The POP3 server name ("host:port" is accepted too). With a provider or the instance default chosen above, leave it empty to use theirs.',
		},
		{
			displayName: 'Security',
			name: 'security',
			type: 'options',
			default: 'tls',
			options: [
				{ name: 'SSL/TLS', value: 'tls', description: 'Encrypted from the first byte (POP3S, usually port 995)' },
				{ name: 'STARTTLS', value: 'starttls', description: 'Plain connection upgraded to TLS with STLS, required (usually port 110)' },
				{ name: 'STARTTLS If Offered', value: 'starttls-optional', description: 'Upgraded to TLS when the server offers STLS, plain otherwise (usually port 110)' },
				{ name: 'None', value: 'none', description: 'No encryption; the password travels in clear text. Only on a trusted network.' },
			],
		},
		{
			displayName: 'Port',
			name: 'port',
			type: 'number',
			default: 0,
			typeOptions: { minValue: 0, maxValue: 65535 },
			description: '0 uses the default port for the chosen security: 995 for SSL/TLS, 110 for STARTTLS and None',
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
			displayName: 'Login Method',
			name: 'loginMethod',
			type: 'options',
			default: 'password',
			options: [
				{ name: 'Password', value: 'password', description: 'USER and PASS (or AUTH PLAIN where the server wants it); use it with SSL/TLS or STARTTLS' },
				{ name: 'APOP', value: 'apop', description: 'Proves the password with a digest and never sends it; fails if the server offers no APOP' },
				{ name: 'APOP If Offered, Else Password', value: 'apop-or-password', description: 'APOP when the server\'s greeting offers it, USER and PASS otherwise' },
			],
			description: 'How to log in. APOP keeps the password off the wire even without encryption, but few servers still offer it.',
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
