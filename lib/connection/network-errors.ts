import { MailboxError, redact, scrubbedCause } from '../errors';
import { DEFAULT_PORTS, describeProxy, describeServer, type ResolvedServer } from './options';

interface ErrorLike {
	code?: unknown;
	message?: unknown;
	reason?: unknown;
}

const CERTIFICATE_CODES = new Set([
	'DEPTH_ZERO_SELF_SIGNED_CERT',
	'SELF_SIGNED_CERT_IN_CHAIN',
	'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
	'UNABLE_TO_GET_ISSUER_CERT',
	'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
	'CERT_HAS_EXPIRED',
	'CERT_NOT_YET_VALID',
	'CERT_REVOKED',
	'CERT_UNTRUSTED',
	'CERT_REJECTED',
	'ERR_TLS_CERT_ALTNAME_INVALID',
	'HOSTNAME_MISMATCH',
]);

/** Why a certificate was rejected, in words, by Node's error code. */
export const CERTIFICATE_REASONS: Record<string, string> = {
	DEPTH_ZERO_SELF_SIGNED_CERT: 'it is self-signed',
	SELF_SIGNED_CERT_IN_CHAIN: 'its chain ends in a self-signed certificate that is not trusted',
	UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its issuer is not trusted',
	UNABLE_TO_GET_ISSUER_CERT: 'its issuer is not trusted',
	UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'its issuer is not trusted',
	CERT_HAS_EXPIRED: 'it has expired',
	CERT_NOT_YET_VALID: 'it is not valid yet',
	CERT_REVOKED: 'it was revoked',
	CERT_UNTRUSTED: 'it is not trusted',
	CERT_REJECTED: 'it was rejected',
	ERR_TLS_CERT_ALTNAME_INVALID: 'it was issued for another host name',
	HOSTNAME_MISMATCH: 'it was issued for another host name',
};

const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ETIMEOUT', 'CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'UPGRADE_TIMEOUT', 'ESOCKETTIMEDOUT']);
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL']);
const CLOSED_CODES = new Set(['ECONNRESET', 'EPIPE', 'NoConnection', 'EConnectionClosed', 'ClosedAfterConnectText', 'ClosedAfterConnectTLS']);

function stringCode(err: ErrorLike): string | undefined {
	return typeof err.code === 'string' ? err.code : undefined;
}

function text(err: ErrorLike): string {
	return typeof err.message === 'string' ? err.message : String(err);
}

/**
 * Translates socket, DNS and TLS failures, which look the same for every protocol, into a
 * MailboxError naming the cause and the fix. Returns undefined for anything else, so the
 * protocol's own mapper can handle it. `cause` is the error the MailboxError keeps (by default
 * `error`; a mapper that passes a reading of the library's error passes the library's error);
 * through a proxy it is scrubbed, since the proxy client's errors keep the proxy password.
 */
export function fromNetworkError(error: unknown, server: ResolvedServer, secrets: ReadonlyArray<string | undefined> = [], cause: unknown = error): MailboxError | undefined {
	if (!error || typeof error !== 'object') return undefined;
	if (server.proxy && !(cause instanceof MailboxError)) cause = scrubbedCause(cause, [...secrets, server.proxy.password]);
	const err = error as ErrorLike;
	// Some wrappers (the socks client) keep Node's code only in the message text.
	const code = stringCode(err) ?? /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ECONNRESET|ETIMEDOUT)\b/.exec(text(err))?.[1];
	const where = describeServer(server);
	const raw = redact(text(err), [...secrets, server.proxy?.password]);

	const proxy = server.proxy;
	if (proxy && (code === 'ProxyError' || code === 'EPROXY')) {
		// imapflow wraps the proxy's own failure ("Socks5 Authentication failed", "Invalid response
		// from proxy: 407", ECONNREFUSED...) in a generic error and keeps it as `_err`.
		const inner = (err as { _err?: ErrorLike })._err;
		if (inner) return fromNetworkError(inner, server, secrets, cause) ?? proxyTunnelError(server, redact(text(inner), [...secrets, proxy.password]), stringCode(inner), cause);
	}
	if (proxy) {
		const via = describeProxy(proxy);
		if (code && (DNS_CODES.has(code) || code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH')) {
			// With a proxy, the only connection this machine opens itself is the one to the proxy.
			return new MailboxError('PROXY', `The ${via} cannot be reached (${code}).`, {
				field: 'proxyHost',
				step: 'proxy',
				systemCode: code,
				cause,
				hint: 'Check Proxy Host and Proxy Port, or set Proxy to None.',
			});
		}
		if (/authentication failed|\b407\b|proxy auth/i.test(raw)) {
			return new MailboxError('PROXY', `The ${via} refused the proxy login${proxy.user ? ` for "${proxy.user}"` : ''}.`, {
				field: 'proxyPassword',
				step: 'proxy',
				...(code ? { systemCode: code } : { reason: 'PROXY_AUTH' as const }),
				cause,
				hint: 'Check Proxy User and Proxy Password.',
			});
		}
		if (code === 'EPROXY' || code === 'ProxyError' || /socks|proxy/i.test(raw)) return proxyTunnelError(server, raw, code, cause);
	}

	if (code && DNS_CODES.has(code)) {
		return new MailboxError('DNS', `Host "${server.host}" was not found (DNS lookup failed).`, {
			field: 'host',
			step: 'dns',
			systemCode: code,
			cause,
			hint: 'Check the spelling of Host, and that this n8n instance can resolve it.',
		});
	}
	if (code === 'ECONNREFUSED') {
		return new MailboxError('CONNECTION_REFUSED', `Connection refused by ${server.host}:${server.port}: no ${server.protocol.toUpperCase()} server is listening on that port.`, {
			field: 'port',
			step: 'connect',
			systemCode: code,
			cause,
			hint: `Check Port and Security: the usual ports are ${portHint(server)}.`,
		});
	}
	if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
		return new MailboxError('CONNECTION_REFUSED', `${server.host} cannot be reached from this n8n instance (${code}).`, {
			field: 'host',
			step: 'connect',
			systemCode: code,
			cause,
			hint: 'Check Host, and any firewall between n8n and the mail server.',
		});
	}
	if (code && CERTIFICATE_CODES.has(code)) {
		const reason = CERTIFICATE_REASONS[code] ?? 'it could not be verified';
		return new MailboxError('TLS_CERTIFICATE', `The TLS certificate of ${server.host}:${server.port} was rejected: ${reason} (${code}).`, {
			field: 'allowSelfSigned',
			step: 'tls',
			systemCode: code,
			cause,
			hint: 'Use the host name the certificate was issued for, or, only if you trust this server, switch on "Allow Self-Signed Certificates".',
		});
	}
	const wanted = server.tls.minVersion && server.tls.minVersion === server.tls.maxVersion ? `exactly ${server.tls.minVersion}` : server.tls.minVersion ? `at least ${server.tls.minVersion}` : 'TLS 1.2 or 1.3';
	if (code && CLOSED_CODES.has(code) && server.tls.minVersion && server.security !== 'none') {
		// Some servers (Dovecot among them) drop the connection on a ClientHello with a version they
		// refuse instead of answering with a TLS alert; with an explicit version rule that is the likely cause.
		return new MailboxError('TLS', `${where} closed the connection at the TLS handshake: it probably does not accept ${wanted} (${code}).`, {
			field: 'tlsVersion',
			step: 'tls',
			systemCode: code,
			cause,
			hint: 'Set TLS Version to "Let the server decide", or to a version the server supports.',
		});
	}
	if (isTlsVersionError(code, raw)) {
		return new MailboxError('TLS', `TLS handshake with ${where} failed: the server does not accept ${wanted} (${code ?? 'protocol version'}).`, {
			field: 'tlsVersion',
			step: 'tls',
			systemCode: code,
			cause,
			hint: 'Set TLS Version to "Let the server decide", or to a version the server supports.',
		});
	}
	if (isTlsProtocolError(code, raw)) {
		const plainOnTlsPort = /wrong version number|packet length too long|unknown protocol|http request/i.test(raw);
		return new MailboxError(
			'TLS',
			plainOnTlsPort
				? `TLS handshake with ${where} failed: the server does not speak TLS on port ${server.port}.`
				: `TLS handshake with ${where} failed (${code ?? 'TLS error'}).`,
			{
				field: 'security',
				step: 'tls',
				systemCode: code,
				cause,
				hint: plainOnTlsPort
					? `Choose STARTTLS for a plain port such as ${DEFAULT_PORTS[server.protocol].starttls}, or the SSL/TLS port ${DEFAULT_PORTS[server.protocol].tls}.`
					: 'Check Security and Port; the server may require a TLS version this client does not offer.',
			},
		);
	}
	if (code && TIMEOUT_CODES.has(code)) {
		const greeting = code === 'GREETING_TIMEOUT';
		return new MailboxError('TIMEOUT', greeting ? `${where} accepted the connection but sent no greeting in time.` : `No answer from ${where} in time.`, {
			field: greeting ? 'security' : 'host',
			step: greeting ? 'greeting' : 'connect',
			systemCode: code,
			cause,
			hint: greeting
				? `The port may expect TLS from the start: choose SSL/TLS (port ${DEFAULT_PORTS[server.protocol].tls}), or check Port.`
				: 'Check Host and Port, and any firewall between n8n and the mail server.',
		});
	}
	if (code && CLOSED_CODES.has(code)) {
		return new MailboxError('CONNECTION_CLOSED', `${where} closed the connection unexpectedly.`, {
			step: 'connect',
			systemCode: code,
			cause,
			hint: 'Check Security and Port; the server may also limit connections per user or address.',
		});
	}
	return undefined;
}

function proxyTunnelError(server: ResolvedServer, reason: string, code: string | undefined, cause: unknown): MailboxError {
	const via = server.proxy ? describeProxy(server.proxy) : 'proxy';
	return new MailboxError('PROXY', `The ${via} did not open a tunnel to ${server.host}:${server.port}: ${reason}.`, {
		field: 'proxyHost',
		step: 'proxy',
		...(code ? { systemCode: code } : { reason: 'EPROXY' as const }),
		cause,
		hint: 'The proxy may not allow this destination or port, or nothing listens there; check Host and Port, or ask the proxy administrator.',
	});
}


function portHint(server: ResolvedServer): string {
	const p = server.protocol;
	return `${DEFAULT_PORTS[p].tls} for SSL/TLS and ${DEFAULT_PORTS[p].starttls} for STARTTLS`;
}

function isTlsVersionError(code: string | undefined, message: string): boolean {
	if (code && /UNSUPPORTED_PROTOCOL|NO_PROTOCOLS_AVAILABLE|ALERT_PROTOCOL_VERSION|VERSION_TOO_LOW|VERSION_TOO_HIGH/.test(code)) return true;
	return /unsupported protocol|protocol version|no protocols available|version too (low|high)/i.test(message);
}

function isTlsProtocolError(code: string | undefined, message: string): boolean {
	if (code && /^ERR_SSL_|^ERR_TLS_|^EPROTO$/.test(code)) return true;
	return /SSL routines|wrong version number|tlsv1 alert|handshake failure/i.test(message);
}
