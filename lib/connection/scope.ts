import { isIP } from 'node:net';
import { configError } from '../errors';
import type { ResolvedServer, Security } from './options';

/**
 * Where a node field may send what a credential holds. A credential names its server and how it
 * is reached; a node field that picks another server (Send Email's Server, the ManageSieve
 * security, an EWS URL or SMTP host for a Microsoft 365 token) stays within that:
 * - a login (user and password) goes only to the credential's own host, over a connection at least
 *   as protected as the credential's;
 * - "allow self-signed certificates" is the credential's choice for its own host only;
 * - a Microsoft 365 token goes only to Exchange Online's hosts and to the hosts its credential names.
 * Anything else fails naming the field, before a connection is opened.
 */

/** How much a security setting protects what is sent: none and "if offered" can both end in clear text. */
const PROTECTION: Record<Security, number> = { none: 0, 'starttls-optional': 1, starttls: 2, tls: 2 };

const SECURITY_NAMES: Record<Security, string> = { none: 'None', 'starttls-optional': 'STARTTLS if Offered', starttls: 'STARTTLS', tls: 'SSL/TLS' };

/** Whether `chosen` protects the connection at least as well as `required`. */
export function atLeastAsProtected(chosen: Security, required: Security): boolean {
	return PROTECTION[chosen] >= PROTECTION[required];
}

/** Host names compared as DNS does (no case, no trailing dot); IPv6 addresses without brackets. */
export function normalizeHost(host: string): string {
	const bare = host.trim().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
	return isIP(bare) ? bare : bare.toLowerCase();
}

export function sameHost(a: string, b: string): boolean {
	return normalizeHost(a) === normalizeHost(b);
}

export interface ServerChoice {
	/** The server the credential names. */
	credential: ResolvedServer;
	/** The server the node field chose. */
	chosen: ResolvedServer;
	/** Whether the connection carries the credential's login. */
	carriesLogin: boolean;
	/** The node field that chose the server, and its name as the user sees it. */
	field: string;
	label: string;
}

/**
 * The chosen server, within what its credential allows: with a login, the same host and at least
 * the credential's protection; certificate checks relaxed only for the credential's own host.
 */
export function withinCredential(choice: ServerChoice): ResolvedServer {
	const { credential, chosen, carriesLogin, field, label } = choice;
	const same = sameHost(chosen.host, credential.host);
	if (carriesLogin && !same) {
		throw configError(
			field,
			`${label}: the credential's user and password go only to its own server ${credential.host}, not to ${chosen.host}.`,
			`Leave ${label} empty, enter ${credential.host} with another port or security, or create a credential for ${chosen.host}.`,
		);
	}
	if (carriesLogin && !atLeastAsProtected(chosen.security, credential.security)) {
		throw configError(
			field,
			`${label}: ${SECURITY_NAMES[chosen.security]} could send the credential's password unencrypted, while the credential asks for ${SECURITY_NAMES[credential.security]}.`,
			`Choose ${credential.security === 'tls' ? 'SSL/TLS or STARTTLS' : SECURITY_NAMES[credential.security]}, or change Security in the credential if this server is on a trusted network.`,
		);
	}
	if (same || chosen.tls.rejectUnauthorized !== false) return chosen;
	return { ...chosen, tls: { ...chosen.tls, rejectUnauthorized: true } };
}

/** The domains of Exchange Online (worldwide, US government, China): a Microsoft 365 token may go to their hosts. */
export const MICROSOFT_EXCHANGE_DOMAINS = ['office365.com', 'outlook.com', 'office.com', 'office365.us', 'outlook.cn'] as const;

/** The hosts of Microsoft Graph (worldwide, US government, China): a token for Graph may go to them. */
export const MICROSOFT_GRAPH_HOSTS = ['graph.microsoft.com', 'graph.microsoft.us', 'dod-graph.microsoft.us', 'microsoftgraph.chinacloudapi.cn'] as const;

/**
 * Whether a Microsoft 365 token may go to `host`: Exchange Online's hosts (a token for Graph:
 * Graph's hosts) and those its credential names (IMAP, POP3, Exchange host).
 */
export function tokenMayGoTo(host: string, credentialHosts: readonly string[], resource: 'exchange' | 'graph' = 'exchange'): boolean {
	const h = normalizeHost(host);
	if (resource === 'exchange' && MICROSOFT_EXCHANGE_DOMAINS.some((d) => h === d || h.endsWith(`.${d}`))) return true;
	if (resource === 'graph' && (MICROSOFT_GRAPH_HOSTS as readonly string[]).includes(h)) return true;
	return credentialHosts.some((c) => c.trim() !== '' && normalizeHost(hostOnly(c)) === h);
}

/** "host:port" or "[v6]:port" -> host. */
function hostOnly(value: string): string {
	const v = value.trim();
	const bracketed = /^\[([^\]]+)\]/.exec(v);
	if (bracketed) return bracketed[1];
	if (isIP(v) === 6) return v;
	const colon = v.lastIndexOf(':');
	return colon > 0 && v.indexOf(':') === colon ? v.slice(0, colon) : v;
}

/** Refuses a host a Microsoft 365 token must not go to, naming the field. */
export function checkTokenHost(host: string, credentialHosts: readonly string[], field: string, label: string, resource: 'exchange' | 'graph' = 'exchange'): void {
	if (tokenMayGoTo(host, credentialHosts, resource)) return;
	const named = credentialHosts.map((c) => hostOnly(c)).filter(Boolean);
	if (resource === 'graph') {
		throw configError(
			field,
			`${label}: the Microsoft 365 access token for Graph goes only to Microsoft Graph (${MICROSOFT_GRAPH_HOSTS.join(', ')}) and to the hosts the credential names${named.length ? ` (${[...new Set(named)].join(', ')})` : ''}, not to ${host}.`,
			'Use https://graph.microsoft.com/v1.0, or a national cloud\'s Graph URL (e.g. https://graph.microsoft.us/v1.0).',
		);
	}
	throw configError(
		field,
		`${label}: the Microsoft 365 access token goes only to Exchange Online (${MICROSOFT_EXCHANGE_DOMAINS.join(', ')}) and to the hosts the credential names${named.length ? ` (${[...new Set(named)].join(', ')})` : ''}, not to ${host}.`,
		`Use Exchange Online's host (e.g. outlook.office365.com), or enter ${host} as a host of the credential if it is your Exchange.`,
	);
}
