/**
 * The HTTP layer under ews-javascript-api (its IXHRApi), one per client: HTTPS with certificate
 * verification on (an extra trusted CA, or an explicit opt-out), a timeout per request, the
 * Authorization and X-AnchorMailbox headers, one token renewal after a 401, and waiting out
 * throttling (ErrorServerBusy with BackOffMilliseconds, HTTP 503/429 with Retry-After) before the
 * same request is sent again.
 *
 * HTTP and network failures are mapped to MailboxError here, where the status, the headers and
 * Node's error code are still known. ews-javascript-api turns every rejection into a SoapFault of
 * its own; the transport therefore keeps the mapped error and rejects with a marker in the message,
 * by which the client finds it again (see takeFailure).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { headerValue, HttpsAgent, isStaleConnection } from '../connection/https';
import { MailboxError } from '../errors';
import type { Logger } from '../logger';
import { fromEwsHttpStatus, fromEwsNetworkError, type EwsErrorContext } from './errors';

/** The request ews-javascript-api hands over (IXHROptions). */
export interface EwsXhrOptions {
	type?: string;
	url: string;
	headers?: Record<string, string>;
	data?: string;
}

/** What ews-javascript-api expects back (a subset of XMLHttpRequest). */
export interface EwsXhrResponse {
	status: number;
	statusText: string;
	responseText: string;
	headers: IncomingHttpHeaders;
	message?: string;
	getAllResponseHeaders(): string;
	getResponseHeader(name: string): string | null;
}

/** One request as sent, for logs, tests and the connection check. */
export interface EwsExchange {
	/** The SOAP operation (SyncFolderItems, GetItem...). */
	operation: string;
	status: number;
	durationMs: number;
	/** Renewed token used for a repeat after a 401. */
	renewed: boolean;
	/** Waits for throttling before this answer, in ms. */
	waits: number[];
	clientRequestId: string;
}

export interface EwsTransportOptions {
	context: EwsErrorContext;
	/** The Authorization header's value for the next request. */
	authorization: () => string;
	/** Gets a new credential after a 401; false when there is none (a password). Called at most once per request. */
	renew?: () => Promise<boolean>;
	/** X-AnchorMailbox: the mailbox the requests are for, so Exchange routes them to its server. */
	anchorMailbox?: string;
	/** Trusted CA certificates in addition to Node's (PEM). */
	ca?: string | Buffer | Array<string | Buffer>;
	/** Accept any certificate (self-signed, wrong host). Off unless the user switches it on. */
	allowUnauthorizedCerts?: boolean;
	/** Per request (default 120 s). */
	timeoutMs?: number;
	/** Throttling: at most this many waits per request (default 4), each at most maxWaitMs (default 60 s). */
	throttle?: { maxRetries?: number; maxWaitMs?: number; defaultWaitMs?: number };
	sleep?: (ms: number) => Promise<void>;
	logger?: Logger;
	onExchange?: (exchange: EwsExchange) => void;
}

const FAILURE_MARKER = 'ews-transport-failure:';
/** Largest answer accepted (a message's MIME content is base64 in the XML). */
const MAX_RESPONSE_BYTES = 512 * 1024 * 1024;

interface RawResponse {
	status: number;
	statusText: string;
	headers: IncomingHttpHeaders;
	body: string;
	tls?: string;
}

function xhrResponse(raw: RawResponse, message?: string): EwsXhrResponse {
	return {
		status: raw.status,
		statusText: raw.statusText,
		responseText: raw.body,
		headers: raw.headers,
		message,
		getAllResponseHeaders: () =>
			Object.entries(raw.headers)
				.map(([k, v]) => `${k} : ${Array.isArray(v) ? v.join(', ') : (v ?? '')}\r\n`)
				.join(''),
		getResponseHeader: (name: string) => headerValue(raw.headers, name) ?? null,
	};
}

/** The SOAP operation of a request body: the first element of the SOAP body. */
export function soapOperation(body: string | undefined): string {
	const match = /<(?:[\w-]+:)?Body[^>]*>\s*<(?:[\w-]+:)?([A-Za-z]+)/.exec(body ?? '');
	return match?.[1] ?? 'request';
}

/** The throttling hint of an answer: ErrorServerBusy with BackOffMilliseconds, or 503/429 with Retry-After. undefined: not throttled. */
export function throttleHint(status: number, headers: IncomingHttpHeaders, body: string): { waitMs?: number } | undefined {
	if (/ErrorServerBusy/.test(body)) {
		const ms = /Name="BackOffMilliseconds"\s*>\s*(\d+)\s*</.exec(body)?.[1];
		return { waitMs: ms ? Number(ms) : undefined };
	}
	if (status === 503 || status === 429) {
		const retryAfter = headerValue(headers, 'retry-after');
		const seconds = retryAfter && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : undefined;
		return { waitMs: seconds !== undefined ? seconds * 1000 : undefined };
	}
	return undefined;
}

export class EwsTransport {
	readonly apiName = 'mailbox-ews';
	private readonly agent: HttpsAgent;
	private readonly failures = new Map<string, MailboxError>();
	private readonly sleep: (ms: number) => Promise<void>;
	/** The TLS connection of the last answer, in words (for the connection check). */
	lastTls?: string;

	constructor(private readonly options: EwsTransportOptions) {
		this.agent = new HttpsAgent({ ca: options.ca, allowUnauthorizedCerts: options.allowUnauthorizedCerts });
		this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
	}

	/** The error a rejection of this transport stands for (once), found by the marker in a message. */
	takeFailure(message: string | undefined): MailboxError | undefined {
		const id = message ? new RegExp(`${FAILURE_MARKER}([\\w-]+)`).exec(message)?.[1] : undefined;
		if (!id) return undefined;
		const error = this.failures.get(id);
		this.failures.delete(id);
		return error;
	}

	private reject(error: MailboxError): EwsXhrResponse {
		const id = randomUUID();
		this.failures.set(id, error);
		// Failures nobody asked for (should not happen) must not pile up.
		if (this.failures.size > 100) this.failures.delete(this.failures.keys().next().value as string);
		return xhrResponse({ status: 0, statusText: error.message, headers: {}, body: '' }, `${error.message} [${FAILURE_MARKER}${id}]`);
	}

	async xhr(request: EwsXhrOptions): Promise<EwsXhrResponse> {
		const operation = soapOperation(request.data);
		const throttle = this.options.throttle ?? {};
		const maxRetries = throttle.maxRetries ?? 4;
		const maxWaitMs = throttle.maxWaitMs ?? 60_000;
		const defaultWaitMs = throttle.defaultWaitMs ?? 5_000;
		const waits: number[] = [];
		let renewed = false;
		let resent = false;
		const started = Date.now();
		const log = this.options.logger;
		for (;;) {
			const clientRequestId = randomUUID();
			const headers: Record<string, string> = {
				...(request.headers ?? {}),
				Authorization: this.options.authorization(),
				'client-request-id': clientRequestId,
				'return-client-request-id': 'true',
			};
			if (this.options.anchorMailbox) headers['X-AnchorMailbox'] = this.options.anchorMailbox;
			let raw: RawResponse;
			try {
				raw = await this.send(request, headers);
			} catch (error) {
				// a kept-alive connection the server closed as this request went out: sent again once, on a new one
				if (!resent && isStaleConnection(error)) {
					resent = true;
					log?.debug(`ews: the kept-alive connection was closed as ${operation} was sent; sending it again on a new one`);
					continue;
				}
				throw this.reject(error instanceof MailboxError ? error : fromEwsNetworkError(error, this.options.context));
			}
			if (raw.tls) this.lastTls = raw.tls;
			const exchange = (): EwsExchange => ({ operation, status: raw.status, durationMs: Date.now() - started, renewed, waits: [...waits], clientRequestId });
			if (raw.status === 401 && !renewed && this.options.renew) {
				renewed = true;
				log?.debug(`ews: ${operation} answered 401; renewing the credential once`);
				let fresh = false;
				try {
					fresh = await this.options.renew();
				} catch (error) {
					this.options.onExchange?.(exchange());
					throw this.reject(error instanceof MailboxError ? error : fromEwsHttpStatus(401, { diagnostics: headerValue(raw.headers, 'x-ms-diagnostics'), operation }, this.options.context));
				}
				if (fresh) continue;
			}
			const busy = raw.status === 200 ? undefined : throttleHint(raw.status, raw.headers, raw.body);
			if (busy && waits.length < maxRetries) {
				const wait = Math.min(maxWaitMs, Math.max(0, busy.waitMs ?? defaultWaitMs));
				waits.push(wait);
				log?.info(`ews: Exchange is throttling (${operation}); waiting ${wait} ms before sending it again (${waits.length}/${maxRetries})`);
				await this.sleep(wait);
				continue;
			}
			this.options.onExchange?.(exchange());
			if (raw.status === 200) return xhrResponse(raw);
			// SOAP faults (500 with a soap:Fault) are parsed by ews-javascript-api; everything else is mapped here.
			if (raw.status === 500 && /<(?:[\w-]+:)?Fault[\s>]/.test(raw.body)) throw xhrResponse(raw);
			throw this.reject(
				fromEwsHttpStatus(raw.status, { diagnostics: headerValue(raw.headers, 'x-ms-diagnostics'), location: headerValue(raw.headers, 'location'), body: raw.body, renewed, operation }, this.options.context),
			);
		}
	}

	xhrStream(): Promise<never> {
		return Promise.reject(new Error('Streaming notifications are not used by this client.'));
	}

	disconnect(): void {
		// one request at a time per call; nothing is streamed
	}

	/** Closes the kept-alive connections. */
	close(): void {
		this.agent.close();
	}

	private async send(request: EwsXhrOptions, headers: Record<string, string>): Promise<RawResponse> {
		const response = await this.agent.send({
			method: request.type ?? 'POST',
			url: request.url,
			headers,
			body: Buffer.from(request.data ?? '', 'utf8'),
			timeoutMs: this.options.timeoutMs ?? 120_000,
			maxResponseBytes: MAX_RESPONSE_BYTES,
			tooLarge: () => new MailboxError('PROTOCOL', `Exchange's answer is larger than ${MAX_RESPONSE_BYTES / 1024 / 1024} MB.`, { step: 'command', reason: 'TOO_LARGE' }),
		});
		return { ...response, body: response.body.toString('utf8') };
	}
}
