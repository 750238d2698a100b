import type { INodeProperties } from 'n8n-workflow';
import { DEFAULT_PORTS, type Protocol, type Security } from '../../lib/connection/options';
import { PROVIDERS } from '../../lib/connection/presets';

/**
 * The fields the IMAP, POP3 and SMTP credentials share, with the same names in each, so
 * nodes/shared/credentials.ts reads all three the same way. Only the words and port numbers
 * differ per protocol; they come from lib/ (the provider table and the default ports).
 */

const NAMES: Record<Protocol, string> = { imap: 'IMAP', pop3: 'POP3', smtp: 'SMTP' };
const UPGRADE: Record<Protocol, string> = { imap: 'STARTTLS', pop3: 'STLS', smtp: 'STARTTLS' };
const SECURITY_NAMES: Record<Security, string> = { tls: 'SSL/TLS', starttls: 'STARTTLS', 'starttls-optional': 'STARTTLS', none: 'None' };

function endpointText(endpoint: { host: string; port: number; security: Security }): string {
	return `${endpoint.host}, ${SECURITY_NAMES[endpoint.security]} ${endpoint.port}`;
}

/** Server (provider presets and the instance default), Host, Security, Port and TLS Version. */
export function serverFields(protocol: Protocol, options: { defaultSecurity?: Security; securityHint?: string } = {}): INodeProperties[] {
	const name = NAMES[protocol];
	const ports = DEFAULT_PORTS[protocol];
	const upgrade = UPGRADE[protocol];
	const security: INodeProperties = {
		displayName: 'Security',
		name: 'security',
		type: 'options',
		default: options.defaultSecurity ?? 'tls',
		options: [
			{ name: 'SSL/TLS', value: 'tls', description: `Encrypted from the first byte (usually port ${ports.tls})` },
			{ name: 'STARTTLS', value: 'starttls', description: `Plain connection upgraded to TLS with ${upgrade}, required (usually port ${ports.starttls})` },
			{ name: 'STARTTLS If Offered', value: 'starttls-optional', description: `Upgraded to TLS when the server offers ${upgrade}, plain otherwise (usually port ${ports['starttls-optional']})` },
			{ name: 'None', value: 'none', description: `No encryption; the password travels in clear text. Only on a trusted network (usually port ${ports.none}).` },
		],
	};
	if (options.securityHint) security.description = options.securityHint;
	const noneDefault = ports.none === ports.starttls ? `${ports.starttls} for STARTTLS and None` : `${ports.starttls} for STARTTLS, ${ports.none} for None`;
	return [
		{
			displayName: 'Server',
			name: 'server',
			type: 'options',
			default: 'custom',
			options: [
				{ name: 'Custom', value: 'custom', description: 'Enter host, security and port below' },
				{
					name: 'Instance Default',
					value: 'instance',
					description:
						protocol === 'smtp'
							? `The server the n8n admin set with MAILBOX_DEFAULT_${name}_HOST, _PORT and _SECURITY; without them the mail server of the machine n8n runs on (localhost:25, no TLS)`
							: `The server the n8n admin set with MAILBOX_DEFAULT_${name}_HOST, _PORT and _SECURITY`,
				},
				...Object.entries(PROVIDERS).map(([value, provider]) => ({ name: provider.name, value, description: endpointText(provider[protocol]) })),
			],
			description: 'A provider fills in host, security and port; fill in Host below to use your own values instead',
		},
		{
			displayName: 'Host',
			name: 'host',
			type: 'string',
			default: '',
			placeholder: `${protocol === 'pop3' ? 'pop' : protocol}.example.com`,
			description: `The ${name} server name ("host:port" is accepted too). With a provider or the instance default chosen above, leave it empty to use theirs.`,
		},
		security,
		{
			displayName: 'Port',
			name: 'port',
			type: 'number',
			default: 0,
			typeOptions: { minValue: 0, maxValue: 65535 },
			description: `0 uses the default port for the chosen security: ${ports.tls} for SSL/TLS, ${noneDefault}`,
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
	];
}

/** The explicit opt-out of certificate verification (off by default). */
export const allowSelfSignedField: INodeProperties = {
	displayName: 'Allow Self-Signed Certificates',
	name: 'allowSelfSigned',
	type: 'boolean',
	default: false,
	description: "Whether to connect even if the server's TLS certificate cannot be verified. Only for servers you trust: anyone between n8n and the server could read the password.",
};

/** Proxy (None, SOCKS5, HTTP CONNECT) with host, port and an optional login. */
export const proxyFields: INodeProperties[] = [
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

/** Exchange Online's IMAP and POP3 servers, for the Microsoft 365 credentials (national clouds differ). */
export const exchangeServerFields: INodeProperties[] = [
	{
		displayName: 'IMAP Host',
		name: 'imapHost',
		type: 'string',
		default: 'outlook.office365.com',
		description: 'Exchange Online\'s IMAP server; change only for a national cloud',
	},
	{
		displayName: 'IMAP Port',
		name: 'imapPort',
		type: 'number',
		default: 993,
		typeOptions: { minValue: 1, maxValue: 65535 },
	},
	{
		displayName: 'POP3 Host',
		name: 'pop3Host',
		type: 'string',
		default: 'outlook.office365.com',
		description: 'Exchange Online\'s POP3 server (SSL/TLS), for the POP3 trigger; change only for a national cloud',
	},
	{
		displayName: 'POP3 Port',
		name: 'pop3Port',
		type: 'number',
		default: 995,
		typeOptions: { minValue: 1, maxValue: 65535 },
	},
];
