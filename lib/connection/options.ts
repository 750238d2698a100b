import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { isIP } from 'node:net';
import { configError } from '../errors';

export type Protocol = 'imap' | 'pop3' | 'smtp';

/**
 * - `tls`: TLS from the first byte (IMAPS 993, POP3S 995, SMTPS 465)
 * - `starttls`: plain connection upgraded by STARTTLS/STLS, required (143, 110, 587)
 * - `starttls-optional`: upgraded if the server offers STARTTLS/STLS, plain otherwise
 * - `none`: no encryption at all
 */
export type Security = 'tls' | 'starttls' | 'starttls-optional' | 'none';

export const SECURITY_VALUES: readonly Security[] = ['tls', 'starttls', 'starttls-optional', 'none'];

export const DEFAULT_PORTS: Record<Protocol, Record<Security, number>> = {
	imap: { tls: 993, starttls: 143, 'starttls-optional': 143, none: 143 },
	pop3: { tls: 995, starttls: 110, 'starttls-optional': 110, none: 110 },
	smtp: { tls: 465, starttls: 587, 'starttls-optional': 587, none: 25 },
};

/**
 * The TLS version rule: `auto` lets client and server agree (TLS 1.2 or 1.3 with Node's
 * defaults); "1.2" means exactly TLS 1.2; "min-1.2" at least TLS 1.2.
 */
export type TlsVersionRule = 'auto' | '1.0' | '1.1' | '1.2' | '1.3' | 'min-1.0' | 'min-1.1' | 'min-1.2' | 'min-1.3';

export const TLS_VERSION_RULES: readonly TlsVersionRule[] = ['auto', '1.0', '1.1', '1.2', '1.3', 'min-1.0', 'min-1.1', 'min-1.2', 'min-1.3'];

const TLS_NAMES = { '1.0': 'TLSv1', '1.1': 'TLSv1.1', '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' } as const;

function tlsVersionOptions(rule: TlsVersionRule): TlsOptions {
	if (rule === 'auto') return {};
	const exact = !rule.startsWith('min-');
	const version = TLS_NAMES[rule.replace('min-', '') as keyof typeof TLS_NAMES];
	const options: TlsOptions = { minVersion: version, maxVersion: exact ? version : 'TLSv1.3' };
	// OpenSSL 3 refuses TLS 1.0/1.1 at its default security level; a user who asks for them
	// talks to an old server and needs the old ciphers too.
	if (version === 'TLSv1' || version === 'TLSv1.1') options.ciphers = 'DEFAULT@SECLEVEL=0';
	return options;
}

export type ProxyType = 'socks5' | 'http';

/** A SOCKS5 or HTTP CONNECT proxy the connection goes through. */
export interface ProxySettings {
	type: ProxyType;
	host: string;
	port?: number | string | null;
	user?: string;
	password?: string;
}

export interface ResolvedProxy {
	type: ProxyType;
	host: string;
	port: number;
	user?: string;
	password?: string;
	/** The form imapflow and nodemailer take, credentials percent-encoded. */
	url: string;
}

/** What a user enters for a mail server (the credential's fields). */
export interface ServerSettings {
	/** Host name or address; "host:port" is accepted and wins over `port`. */
	host: string;
	/** Empty, undefined or 0 means the protocol's default for the chosen security. */
	port?: number | string | null;
	security: Security;
	/** Explicit opt-out of certificate verification. Off unless the user switches it on. */
	allowUnauthorizedCerts?: boolean;
	/** TLS version rule; `auto` when empty. */
	tlsVersion?: TlsVersionRule;
	/** Extra trusted certificate authority (PEM), e.g. a company CA. */
	ca?: string | Buffer;
	/** Milliseconds to wait for the connection and for the server's greeting. */
	timeoutMs?: number;
	proxy?: ProxySettings;
}

export interface PasswordLogin {
	user: string;
	password: string;
}

/** An OAuth2 access token (XOAUTH2 / OAUTHBEARER), e.g. from Microsoft 365 or Google. */
export interface TokenLogin {
	user: string;
	accessToken: string;
}

export type Login = PasswordLogin | TokenLogin;

export function isTokenLogin(login: Partial<Login>): login is TokenLogin {
	return 'accessToken' in login && typeof login.accessToken === 'string';
}

/** The secrets of a login, for redaction. */
export function secretsOf(login: Partial<Login> | undefined): string[] {
	if (!login) return [];
	return [isTokenLogin(login) ? login.accessToken : (login as Partial<PasswordLogin>).password].filter((s): s is string => !!s);
}

/** Settings checked and completed: a port is always set, TLS options are ready for node:tls. */
export interface ResolvedServer {
	protocol: Protocol;
	host: string;
	port: number;
	security: Security;
	tls: TlsOptions;
	timeoutMs: number;
	proxy?: ResolvedProxy;
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
		throw configError('security', `Security "${String(settings.security)}" is unknown.`, 'Choose SSL/TLS, STARTTLS, STARTTLS if offered, or None.');
	}
	const tlsVersion = settings.tlsVersion || 'auto';
	if (!TLS_VERSION_RULES.includes(tlsVersion)) {
		throw configError('tlsVersion', `TLS version "${String(tlsVersion)}" is unknown.`, 'Choose "Let the server decide", an exact version, or a minimum version.');
	}
	const port = parsePort(portInHost, 'host') ?? parsePort(settings.port, 'port') ?? DEFAULT_PORTS[protocol][settings.security];
	const tls: TlsOptions = {
		servername: isIP(host) ? undefined : host,
		rejectUnauthorized: settings.allowUnauthorizedCerts !== true,
		...tlsVersionOptions(tlsVersion),
	};
	if (settings.ca) tls.ca = settings.ca;
	const timeoutMs = settings.timeoutMs && settings.timeoutMs > 0 ? settings.timeoutMs : DEFAULT_TIMEOUT_MS;
	return { protocol, host, port, security: settings.security, tls, timeoutMs, proxy: settings.proxy ? resolveProxy(settings.proxy) : undefined };
}

const PROXY_DEFAULT_PORTS: Record<ProxyType, number> = { socks5: 1080, http: 8080 };

function resolveProxy(proxy: ProxySettings): ResolvedProxy {
	if (proxy.type !== 'socks5' && proxy.type !== 'http') {
		throw configError('proxyType', `Proxy type "${String(proxy.type)}" is unknown.`, 'Choose SOCKS5 or HTTP CONNECT.');
	}
	const { host, port: portInHost } = splitHostPort((proxy.host ?? '').trim());
	if (!host) throw configError('proxyHost', 'Proxy Host is empty.', 'Enter the proxy server name or address, or set Proxy to None.');
	if (!isIP(host) && !HOST_PATTERN.test(host)) throw configError('proxyHost', `Proxy Host "${host}" is not a valid host name.`, 'Enter only the proxy name or address, for example proxy.example.com.');
	const port = parsePort(portInHost, 'proxyHost') ?? parsePort(proxy.port, 'proxyPort') ?? PROXY_DEFAULT_PORTS[proxy.type];
	const user = proxy.user?.trim() || undefined;
	const auth = user ? `${encodeURIComponent(user)}${proxy.password ? `:${encodeURIComponent(proxy.password)}` : ''}@` : '';
	const hostPart = isIP(host) === 6 ? `[${host}]` : host;
	return { type: proxy.type, host, port, user, password: user ? proxy.password : undefined, url: `${proxy.type}://${auth}${hostPart}:${port}` };
}

export function checkPasswordLogin(login: Partial<PasswordLogin>): PasswordLogin {
	const user = (login.user ?? '').trim();
	if (!user) throw configError('user', 'User is empty.', 'Enter the mailbox login, usually the e-mail address.');
	if (!login.password) throw configError('password', 'Password is empty.', 'Enter the mailbox password (or an app password where the provider requires one).');
	return { user, password: login.password };
}

/** Checks either kind of login: a password or an access token. */
export function checkLogin(login: Partial<PasswordLogin> | Partial<TokenLogin>): Login {
	if (!isTokenLogin(login)) return checkPasswordLogin(login as Partial<PasswordLogin>);
	const user = (login.user ?? '').trim();
	if (!user) throw configError('user', 'User is empty.', 'Enter the mailbox address the token is for.');
	if (!login.accessToken.trim()) throw configError('accessToken', 'The access token is empty.', 'Sign in again to get a new token.');
	return { user, accessToken: login.accessToken.trim() };
}

export function describeServer(server: ResolvedServer): string {
	const how = { tls: 'SSL/TLS', starttls: 'STARTTLS', 'starttls-optional': 'STARTTLS if offered', none: 'no encryption' }[server.security];
	return `${server.host}:${server.port} (${how})`;
}

export function describeProxy(proxy: ResolvedProxy): string {
	return `${proxy.type === 'socks5' ? 'SOCKS5' : 'HTTP CONNECT'} proxy ${proxy.host}:${proxy.port}`;
}
