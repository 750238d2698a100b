import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { isIP } from 'node:net';
import { configError } from '../errors';

export type Protocol = 'imap' | 'pop3' | 'smtp';

/**
 * - `tls`: TLS from the first byte (IMAPS 993, POP3S 995, SMTPS 465)
 * - `starttls`: plain connection upgraded by STARTTLS/STLS, required (143, 110, 587)
 * - `none`: no encryption at all
 */
export type Security = 'tls' | 'starttls' | 'none';

export const SECURITY_VALUES: readonly Security[] = ['tls', 'starttls', 'none'];

export const DEFAULT_PORTS: Record<Protocol, Record<Security, number>> = {
	imap: { tls: 993, starttls: 143, none: 143 },
	pop3: { tls: 995, starttls: 110, none: 110 },
	smtp: { tls: 465, starttls: 587, none: 25 },
};

/** What a user enters for a mail server (the credential's fields). */
export interface ServerSettings {
	/** Host name or address; "host:port" is accepted and wins over `port`. */
	host: string;
	/** Empty, undefined or 0 means the protocol's default for the chosen security. */
	port?: number | string | null;
	security: Security;
	/** Explicit opt-out of certificate verification. Off unless the user switches it on. */
	allowUnauthorizedCerts?: boolean;
	/** Extra trusted certificate authority (PEM), e.g. a company CA. */
	ca?: string | Buffer;
	/** Milliseconds to wait for the connection and for the server's greeting. */
	timeoutMs?: number;
}

export interface PasswordLogin {
	user: string;
	password: string;
}

/** Settings checked and completed: a port is always set, TLS options are ready for node:tls. */
export interface ResolvedServer {
	protocol: Protocol;
	host: string;
	port: number;
	security: Security;
	tls: TlsOptions;
	timeoutMs: number;
}

export const DEFAULT_TIMEOUT_MS = 20_000;

const HOST_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/;

function parsePort(value: unknown, field: string): number | undefined {
	if (value === undefined || value === null || value === '' || value === 0 || value === '0') return undefined;
	const n = typeof value === 'number' ? value : Number(String(value).trim());
	if (!Number.isInteger(n) || n < 1 || n > 65535) {
		throw configError(field, `Port "${String(value)}" is not a valid port.`, 'Enter a number from 1 to 65535, or leave it empty for the default port.');
	}
	return n;
}

/** Splits "host:port" and "[v6]:port"; a bare IPv6 address stays whole. */
function splitHostPort(raw: string): { host: string; port?: string } {
	const bracketed = /^\[([^\]]+)\](?::(\d*))?$/.exec(raw);
	if (bracketed) return { host: bracketed[1], port: bracketed[2] };
	if (isIP(raw) === 6) return { host: raw };
	const colon = raw.lastIndexOf(':');
	if (colon > 0 && raw.indexOf(':') === colon) return { host: raw.slice(0, colon), port: raw.slice(colon + 1) };
	return { host: raw };
}

export function resolveServer(protocol: Protocol, settings: ServerSettings): ResolvedServer {
	const rawHost = (settings.host ?? '').trim();
	if (!rawHost) {
		throw configError('host', 'Host is empty.', `Enter the ${protocol.toUpperCase()} server's name, for example ${protocol}.example.com.`);
	}
	if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rawHost)) {
		throw configError('host', `Host "${rawHost}" looks like a URL.`, `Enter only the server name, for example ${protocol}.example.com, without "${rawHost.split('://')[0]}://".`);
	}
	const { host, port: portInHost } = splitHostPort(rawHost);
	if (!isIP(host) && !HOST_PATTERN.test(host)) {
		throw configError('host', `Host "${host}" is not a valid host name.`, 'Use letters, digits, dots and hyphens only, for example mail.example.com, or an IP address.');
	}
	if (!SECURITY_VALUES.includes(settings.security)) {
		throw configError('security', `Security "${String(settings.security)}" is unknown.`, 'Choose SSL/TLS, STARTTLS or None.');
	}
	const port = parsePort(portInHost, 'host') ?? parsePort(settings.port, 'port') ?? DEFAULT_PORTS[protocol][settings.security];
	const tls: TlsOptions = {
		servername: isIP(host) ? undefined : host,
		rejectUnauthorized: settings.allowUnauthorizedCerts !== true,
	};
	if (settings.ca) tls.ca = settings.ca;
	const timeoutMs = settings.timeoutMs && settings.timeoutMs > 0 ? settings.timeoutMs : DEFAULT_TIMEOUT_MS;
	return { protocol, host, port, security: settings.security, tls, timeoutMs };
}

export function checkPasswordLogin(login: Partial<PasswordLogin>): PasswordLogin {
	const user = (login.user ?? '').trim();
	if (!user) throw configError('user', 'User is empty.', 'Enter the mailbox login, usually the e-mail address.');
	if (!login.password) throw configError('password', 'Password is empty.', 'Enter the mailbox password (or an app password where the provider requires one).');
	return { user, password: login.password };
}

export function describeServer(server: ResolvedServer): string {
	const how = server.security === 'tls' ? 'SSL/TLS' : server.security === 'starttls' ? 'STARTTLS' : 'no encryption';
	return `${server.host}:${server.port} (${how})`;
}
