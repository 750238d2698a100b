/**
 * Socket, DNS and TLS failures of a request to a web service (EWS, Microsoft Graph) as
 * MailboxError. They read alike for every service; the wording names the service's URL setting
 * (the field the user changes), the server software and an example URL.
 */
import { MailboxError, redact } from '../errors';
import { CERTIFICATE_REASONS } from './network-errors';

/** How the user knows the endpoint: the setting, its name on screen, the server, the service. */
export interface HttpsEndpointNames {
	/** The field holding the URL ("url", "baseUrl"). */
	field: string;
	/** The field as the user sees it ("EWS URL", "Graph URL"). */
	label: string;
	/** An example value of the field. */
	example: string;
	/** Who answers there ("Exchange", "Microsoft Graph"). */
	server: string;
	/** What is served ("EWS", "the Graph API"). */
	service: string;
	/** Where a certificate opt-out lives (default "allowSelfSigned"). */
	certificateField?: string;
}

export function hostOf(url: string): string {
	try {
		return new URL(url).host;
	} catch {
		return url;
	}
}

/** A socket, DNS or TLS failure of a request to `url`, naming the URL setting and the fix. */
export function fromHttpsNetworkError(error: unknown, url: string, names: HttpsEndpointNames, secrets: ReadonlyArray<string | undefined>): MailboxError {
	const err = (error ?? {}) as { code?: unknown; message?: unknown };
	const message = redact(typeof err.message === 'string' ? err.message : String(error), secrets);
	const code = typeof err.code === 'string' ? err.code : /\b(E[A-Z_]{4,})\b/.exec(message)?.[1];
	const host = hostOf(url);
	const { field, label, example, server, service } = names;
	if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_FAIL') {
		return new MailboxError('DNS', `Host "${host}" of the ${label} was not found (DNS lookup failed).`, { field, step: 'dns', systemCode: code, cause: error, hint: `Check the ${label} (for example ${example}), and that this n8n instance can resolve the host.` });
	}
	if (code === 'ECONNREFUSED') {
		return new MailboxError('CONNECTION_REFUSED', `Connection refused by ${host}: no web server listens there.`, { field, step: 'connect', systemCode: code, cause: error, hint: `Check the ${label}, including its port; ${server} serves ${service} over HTTPS on port 443.` });
	}
	if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
		return new MailboxError('CONNECTION_REFUSED', `${host} cannot be reached from this n8n instance (${code}).`, { field, step: 'connect', systemCode: code, cause: error, hint: `Check the ${label} and any firewall between n8n and ${server}.` });
	}
	if (code && code in CERTIFICATE_REASONS) {
		return new MailboxError('TLS_CERTIFICATE', `The TLS certificate of ${host} was rejected: ${CERTIFICATE_REASONS[code]} (${code}).`, {
			field: names.certificateField ?? 'allowSelfSigned',
			step: 'tls',
			systemCode: code,
			cause: error,
			hint: `Use the host name the certificate was issued for in the ${label}, or, only if you trust this server, switch on "Allow Self-Signed Certificates".`,
		});
	}
	if (code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT' || code === 'TIMEOUT') {
		return new MailboxError('TIMEOUT', `No answer from ${host} in time.`, { field, step: 'connect', systemCode: code, cause: error, hint: `Check the ${label} and any firewall or proxy between n8n and ${server}; a very large message may also need longer.` });
	}
	if ((code && /^ERR_SSL_|^ERR_TLS_|^EPROTO$/.test(code)) || /SSL routines|wrong version number|tlsv1 alert|handshake failure/i.test(message)) {
		const plain = /wrong version number|packet length too long|unknown protocol|http request/i.test(message);
		return new MailboxError('TLS', plain ? `TLS handshake with ${host} failed: the server does not speak HTTPS on that port.` : `TLS handshake with ${host} failed (${code ?? 'TLS error'}).`, {
			field,
			step: 'tls',
			systemCode: code,
			cause: error,
			hint: plain ? `The ${label} must start with https:// and name the HTTPS port (443 unless the server uses another).` : `Check the ${label}; the server may require a TLS version this client does not offer.`,
		});
	}
	if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED') {
		return new MailboxError('CONNECTION_CLOSED', `${host} closed the connection unexpectedly (${code}).`, { field, step: 'connect', systemCode: code, cause: error, hint: `Check the ${label}; a proxy or load balancer in between may also have cut the request.` });
	}
	return new MailboxError('CONNECTION_CLOSED', `The request to ${host} failed: ${message}`, { field, step: 'connect', systemCode: code, cause: error });
}
