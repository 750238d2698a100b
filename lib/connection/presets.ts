import { configError } from '../errors';
import { SECURITY_VALUES, type Protocol, type Security } from './options';

export interface Endpoint {
	host: string;
	port: number;
	security: Security;
}

export interface Provider {
	name: string;
	imap: Endpoint;
	pop3: Endpoint;
	smtp: Endpoint;
}

/** The servers the providers publish for mail clients. */
export const PROVIDERS = {
	office365: {
		name: 'Microsoft 365 / Outlook.com',
		imap: { host: 'outlook.office365.com', port: 993, security: 'tls' },
		pop3: { host: 'outlook.office365.com', port: 995, security: 'tls' },
		smtp: { host: 'smtp.office365.com', port: 587, security: 'starttls' },
	},
	gmail: {
		name: 'Gmail / Google Workspace',
		imap: { host: 'imap.gmail.com', port: 993, security: 'tls' },
		pop3: { host: 'pop.gmail.com', port: 995, security: 'tls' },
		smtp: { host: 'smtp.gmail.com', port: 465, security: 'tls' },
	},
	ionos: {
		name: 'IONOS',
		imap: { host: 'imap.ionos.de', port: 993, security: 'tls' },
		pop3: { host: 'pop.ionos.de', port: 995, security: 'tls' },
		smtp: { host: 'smtp.ionos.de', port: 465, security: 'tls' },
	},
	strato: {
		name: 'Strato',
		imap: { host: 'imap.strato.de', port: 993, security: 'tls' },
		pop3: { host: 'pop3.strato.de', port: 995, security: 'tls' },
		smtp: { host: 'smtp.strato.de', port: 465, security: 'tls' },
	},
	tonline: {
		name: 'Telekom T-Online',
		imap: { host: 'secureimap.t-online.de', port: 993, security: 'tls' },
		pop3: { host: 'securepop.t-online.de', port: 995, security: 'tls' },
		smtp: { host: 'securesmtp.t-online.de', port: 465, security: 'tls' },
	},
	gmx: {
		name: 'GMX',
		imap: { host: 'imap.gmx.net', port: 993, security: 'tls' },
		pop3: { host: 'pop.gmx.net', port: 995, security: 'tls' },
		smtp: { host: 'mail.gmx.net', port: 465, security: 'tls' },
	},
	webde: {
		name: 'WEB.DE',
		imap: { host: 'imap.web.de', port: 993, security: 'tls' },
		pop3: { host: 'pop3.web.de', port: 995, security: 'tls' },
		smtp: { host: 'smtp.web.de', port: 587, security: 'starttls' },
	},
} as const satisfies Record<string, Provider>;

export type ProviderId = keyof typeof PROVIDERS;

/** `custom`: the user's own host; `instance`: the server the n8n admin set in the environment. */
export type ServerChoice = 'custom' | 'instance' | ProviderId;

/**
 * The environment variables an n8n admin sets for the instance default server of a protocol:
 * MAILBOX_DEFAULT_IMAP_HOST, MAILBOX_DEFAULT_IMAP_PORT, MAILBOX_DEFAULT_IMAP_SECURITY (and POP3, SMTP).
 */
export function instanceVariables(protocol: Protocol): { host: string; port: string; security: string } {
	const prefix = `MAILBOX_DEFAULT_${protocol.toUpperCase()}`;
	return { host: `${prefix}_HOST`, port: `${prefix}_PORT`, security: `${prefix}_SECURITY` };
}

/**
 * The last step of the SMTP server order (own server, credential, instance default, this): the
 * mail server of the machine n8n runs on, as business software does when nothing is configured.
 * No TLS: the connection does not leave the machine, and a local MTA's certificate is rarely one
 * a client can verify.
 */
export const LOCAL_SMTP_SERVER = { host: 'localhost', port: 25, security: 'none' } as const satisfies Endpoint;

/** Whether the n8n admin set the instance default server of a protocol. */
export function hasInstanceServer(protocol: Protocol, env: NodeJS.ProcessEnv = process.env): boolean {
	return !!env[instanceVariables(protocol).host]?.trim();
}

/**
 * The server a choice stands for; undefined for `custom`. The instance default without its
 * variables is an error for IMAP and POP3 and the local mail server (LOCAL_SMTP_SERVER) for SMTP.
 */
export function serverFor(protocol: Protocol, choice: ServerChoice, env: NodeJS.ProcessEnv = process.env): Partial<Endpoint> | undefined {
	if (choice === 'custom') return undefined;
	if (choice === 'instance') {
		const names = instanceVariables(protocol);
		const host = env[names.host]?.trim();
		if (!host && protocol === 'smtp') return { ...LOCAL_SMTP_SERVER };
		if (!host) {
			throw configError('server', `This n8n instance has no default ${protocol.toUpperCase()} server.`, `Ask the n8n admin to set ${names.host} (and ${names.port}, ${names.security}), or choose another Server.`);
		}
		const security = (env[names.security]?.trim() || 'tls') as Security;
		if (!SECURITY_VALUES.includes(security)) {
			throw configError('server', `${names.security}="${security}" is not a security mode.`, `The n8n admin must set it to one of: ${SECURITY_VALUES.join(', ')}.`);
		}
		return { host, port: env[names.port] ? Number(env[names.port]) : undefined, security };
	}
	const provider: Provider | undefined = (PROVIDERS as Record<string, Provider>)[choice];
	if (!provider) throw configError('server', `Server "${String(choice)}" is unknown.`, 'Choose a provider from the list, or Custom.');
	return provider[protocol];
}
