/**
 * The HTTP layer of the Microsoft Graph client: JSON over HTTPS (lib/connection/https.ts: kept-alive
 * connections, certificate verification on, an extra trusted CA or the explicit opt-out, a
 * timeout, compressed answers, a bound on the answer's size), one per client.
 *
 * Every request carries `Authorization: Bearer`, a fresh `client-request-id` (with
 * `return-client-request-id: true`, so Graph's logs and ours can be matched) and
 * `Prefer: IdType="ImmutableId"`: ids that survive a move between folders, so a message acted on
 * after a run keeps the id it was delivered with.
 *
 * Around each request, in one place:
 * - a 401 renews the token once (the renew callback) and sends the request again;
 * - 429 and 503 are waited out for Retry-After (bounded: at most maxRetries waits of at most
 *   maxWaitMs each; defaultWaitMs without the header) and the same request sent again;
 * - a kept-alive connection the server closed as the request went out is replaced once;
 * - the outcome of the request is reported to onExchange (method, path without query secrets,
 *   status, waits, renewal, client-request-id).
 *
 * JSON batching ($batch, at most 20 requests a batch) runs here too, with the same waits for the
 * requests Graph throttled inside a batch: only those are sent again, in a new batch.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { headerValue, HttpsAgent, isStaleConnection, type HttpsResponse } from '../connection/https';
import { MailboxError } from '../errors';
import type { Logger } from '../logger';
import { fromGraphNetworkError, fromGraphResponse, graphErrorOf, type GraphErrorContext } from './errors';

/** One request as sent (after its waits and renewal), for logs and tests. */
export interface GraphExchange {
	method: string;
	/** The URL's path, with the values of token-like query parameters ($skiptoken, $deltatoken...) hidden. */
	path: string;
	status: number;
	durationMs: number;
	/** A renewed token was used after a 401. */
	renewed: boolean;
	/** Waits for throttling before this answer, in ms (a $batch: also the waits for throttled requests inside it). */
	waits: number[];
	clientRequestId: string;
	/** For a $batch: the status of each request inside it, in the order sent. */
	batch?: number[];
}

export interface GraphThrottleOptions {
	/** Waits per request (default 4). */
	maxRetries?: number;
	/** Longest wait (default 60 s); a longer Retry-After is cut to it. */
	maxWaitMs?: number;
	/** Wait when Graph gives no Retry-After (default 5 s). */
	defaultWaitMs?: number;
}

export interface GraphTransportOptions {
	/** The Graph URL, e.g. https://graph.microsoft.com/v1.0 (no trailing slash). */
	baseUrl: string;
	context: GraphErrorContext;
	/** The access token for the next request (an app's comes from MSAL's cache, renewed before it expires). */
	token: () => Promise<string>;
	/** Gets a new token after a 401; false when there is nothing new to try. Called at most once per request. */
	renew?: () => Promise<boolean>;
	/** Trusted CA certificates in addition to Node's (PEM). */
	ca?: string | Buffer | Array<string | Buffer>;
	/** Accept any certificate. Off unless the user switches it on. */
	allowUnauthorizedCerts?: boolean;
	/** Per request (default 120 s). */
	timeoutMs?: number;
	throttle?: GraphThrottleOptions;
	sleep?: (ms: number) => Promise<void>;
	logger?: Logger;
	onExchange?: (exchange: GraphExchange) => void;
}

export interface GraphRequest {
	method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
	/** A path under the Graph URL ("/me/mailFolders/inbox"), or an absolute link Graph gave (a nextLink) on the same host. */
	path: string;
	/** Sent as JSON. */
	json?: unknown;
	/** Sent as it is, with its type (e.g. base64 MIME as text/plain). */
	raw?: { contentType: string; data: Buffer };
	/** More headers (Prefer values are added to IdType="ImmutableId"). */
	headers?: Record<string, string>;
	/** Names the request in messages ("move", "delta of Inbox"). */
	operation?: string;
}

export interface GraphResponse {
	status: number;
	headers: IncomingHttpHeaders;
	body: Buffer;
}

/** One request inside a $batch: its URL is relative to the Graph URL ("/me/messages/{id}"). */
export interface GraphBatchRequest {
	method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
	url: string;
	body?: unknown;
	headers?: Record<string, string>;
}

/** Its answer: status and parsed body (JSON), or a MailboxError for a status other than 2xx. */
export interface GraphBatchResponse {
	status: number;
	body?: unknown;
	error?: MailboxError;
}

/** Graph takes at most this many requests in one $batch. */
export const MAX_BATCH = 20;
/** Largest answer accepted (a message's MIME, a page of messages). */
const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;
const IMMUTABLE_IDS = 'IdType="ImmutableId"';

/** Retry-After as ms: seconds, or an HTTP date. undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
	const text = value?.trim();
	if (!text) return undefined;
	if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
	const date = Date.parse(text);
	return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Query parameters whose values are state or secrets: hidden in logs ($skiptoken, $deltatoken, sig, code...). */
const SECRET_PARAMS = /token|sig|secret|code|key|password/i;

/** The path and query of a URL for logs, with secret-looking parameter values hidden. */
export function loggedPath(url: URL): string {
	const params = [...url.searchParams.entries()].map(([name, value]) => `${name}=${SECRET_PARAMS.test(name) ? '[hidden]' : value}`);
	return params.length ? `${url.pathname}?${params.join('&')}` : url.pathname;
}

/** A parsed JSON body, or undefined for an empty or non-JSON one. */
export function jsonOf(body: Buffer): unknown {
	if (!body.length) return undefined;
	try {
		return JSON.parse(body.toString('utf8')) as unknown;
	} catch {
		return undefined;
	}
}

export class GraphTransport {
	private readonly agent: HttpsAgent;
	private readonly sleep: (ms: number) => Promise<void>;
	private readonly base: URL;
	/** The TLS connection of the last answer, in words (for the connection check). */
	lastTls?: string;

	constructor(private readonly options: GraphTransportOptions) {
		this.agent = new HttpsAgent({ ca: options.ca, allowUnauthorizedCerts: options.allowUnauthorizedCerts });
		this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
		this.base = new URL(options.baseUrl);
	}

	private get throttle(): Required<GraphThrottleOptions> {
		const t = this.options.throttle ?? {};
		return { maxRetries: t.maxRetries ?? 4, maxWaitMs: t.maxWaitMs ?? 60_000, defaultWaitMs: t.defaultWaitMs ?? 5_000 };
	}

	/** A wait for a Retry-After (ms or undefined), within the bounds. */
	private waitFor(ms: number | undefined): number {
		const { maxWaitMs, defaultWaitMs } = this.throttle;
		return Math.min(maxWaitMs, Math.max(0, ms ?? defaultWaitMs));
	}

	/**
	 * The URL of a request: a path under the Graph URL, or an absolute link Graph gave. A link is
	 * followed only on the Graph URL's own host over HTTPS: the token goes nowhere else.
	 */
	urlOf(path: string): URL {
		if (/^[a-z][a-z0-9+.-]*:/i.test(path)) {
			const url = URL.canParse(path) ? new URL(path) : undefined;
			if (!url) throw new MailboxError('PROTOCOL', 'Microsoft Graph gave a link that is not a URL.', { step: 'command', reason: 'BAD_LINK' });
			if (url.protocol !== 'https:' || url.host.toLowerCase() !== this.base.host.toLowerCase()) {
				throw new MailboxError('PROTOCOL', `A link to ${url.protocol}//${url.host} was refused: the access token goes only to the Graph URL's host ${this.base.host}.`, {
					field: 'baseUrl',
					step: 'command',
					reason: 'FOREIGN_LINK',
					hint: 'A saved delta link from another Graph URL (a national cloud, a test endpoint) cannot be used: the folder is read again from the start when the link is dropped.',
				});
			}
			return url;
		}
		const base = this.options.baseUrl.replace(/\/+$/, '');
		return new URL(`${base}${path.startsWith('/') ? '' : '/'}${path}`);
	}

	/** A request whose answer must be 2xx; anything else is thrown as a MailboxError. */
	async request(request: GraphRequest): Promise<GraphResponse> {
		const { response, exchange } = await this.send(request);
		this.options.onExchange?.(exchange);
		if (response.status >= 200 && response.status < 300) return response;
		throw fromGraphResponse(response.status, graphErrorOf(response.body), this.options.context, {
			operation: request.operation,
			renewed: exchange.renewed,
			waits: exchange.waits,
			location: headerValue(response.headers, 'location'),
		});
	}

	/** A request with a JSON answer (undefined for 202/204 without a body). */
	async json<T>(request: GraphRequest): Promise<T> {
		const response = await this.request(request);
		const body = jsonOf(response.body);
		if (response.body.length && body === undefined) {
			throw new MailboxError('PROTOCOL', `Microsoft Graph answered ${request.operation ?? 'a request'} with something other than JSON.`, { step: 'command', reason: 'NOT_JSON', command: request.operation });
		}
		return body as T;
	}

	/**
	 * One request whose answer, whatever its status, is the caller's to judge (as a request inside a
	 * batch): a status other than 2xx comes back with its error. Only what concerns every request
	 * is thrown: a network failure, and a 401 after the renewal.
	 */
	async answer(request: GraphRequest): Promise<GraphBatchResponse> {
		const { response, exchange } = await this.send(request);
		this.options.onExchange?.(exchange);
		const body = jsonOf(response.body);
		if (response.status >= 200 && response.status < 300) return { status: response.status, body };
		const error = fromGraphResponse(response.status, graphErrorOf(response.body), this.options.context, { operation: request.operation, renewed: exchange.renewed, waits: exchange.waits });
		if (response.status === 401) throw error;
		return { status: response.status, body, error };
	}

	/**
	 * Requests in JSON batches of at most {@link MAX_BATCH}; answers in the order of the requests.
	 * Requests Graph throttled inside a batch (429/503) are sent again after their Retry-After
	 * (bounded as for any request); what is still throttled then comes back as its error.
	 */
	async batch(requests: GraphBatchRequest[], operation?: string): Promise<GraphBatchResponse[]> {
		const out: GraphBatchResponse[] = new Array<GraphBatchResponse>(requests.length);
		for (let start = 0; start < requests.length; start += MAX_BATCH) {
			let pending = requests.slice(start, start + MAX_BATCH).map((_, i) => start + i);
			const waits: number[] = [];
			while (pending.length) {
				const body = {
					requests: pending.map((index) => {
						const r = requests[index];
						const headers: Record<string, string> = { Prefer: IMMUTABLE_IDS, ...(r.headers ?? {}) };
						if (r.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
						return { id: String(index + 1), method: r.method, url: r.url, headers, ...(r.body !== undefined ? { body: r.body } : {}) };
					}),
				};
				const { response, exchange } = await this.send({ method: 'POST', path: '/$batch', json: body, operation });
				if (response.status < 200 || response.status >= 300) {
					this.options.onExchange?.(exchange);
					throw fromGraphResponse(response.status, graphErrorOf(response.body), this.options.context, { operation, renewed: exchange.renewed, waits: exchange.waits });
				}
				const answers = (jsonOf(response.body) as { responses?: Array<{ id?: unknown; status?: unknown; headers?: Record<string, string>; body?: unknown }> } | undefined)?.responses;
				if (!Array.isArray(answers)) {
					this.options.onExchange?.(exchange);
					throw new MailboxError('PROTOCOL', `Microsoft Graph answered a batch${operation ? ` (${operation})` : ''} without its responses.`, { step: 'command', reason: 'BAD_BATCH', command: operation });
				}
				const byId = new Map(answers.map((a) => [String(a.id), a]));
				const throttled: number[] = [];
				let retryAfter: number | undefined;
				for (const index of pending) {
					const answer = byId.get(String(index + 1));
					const status = typeof answer?.status === 'number' ? answer.status : 0;
					if ((status === 429 || status === 503) && waits.length < this.throttle.maxRetries) {
						throttled.push(index);
						const header = Object.entries(answer?.headers ?? {}).find(([k]) => k.toLowerCase() === 'retry-after')?.[1];
						const ms = retryAfterMs(header === undefined ? undefined : String(header));
						if (ms !== undefined) retryAfter = Math.max(retryAfter ?? 0, ms);
						continue;
					}
					if (!answer) {
						out[index] = { status: 0, error: new MailboxError('PROTOCOL', `Microsoft Graph left a request of a batch${operation ? ` (${operation})` : ''} unanswered.`, { step: 'command', reason: 'BAD_BATCH', command: operation }) };
					} else if (status >= 200 && status < 300) {
						out[index] = { status, body: answer.body };
					} else {
						out[index] = { status, body: answer.body, error: fromGraphResponse(status, graphErrorOf(answer.body), this.options.context, { operation, waits: [...waits] }) };
					}
				}
				this.options.onExchange?.({ ...exchange, waits: [...exchange.waits, ...waits], batch: pending.map((index) => Number(byId.get(String(index + 1))?.status ?? 0)) });
				pending = throttled;
				if (pending.length) {
					const wait = this.waitFor(retryAfter);
					waits.push(wait);
					this.options.logger?.info(`graph: Microsoft Graph throttled ${pending.length} request(s) of a batch${operation ? ` (${operation})` : ''}; waiting ${wait} ms before sending them again (${waits.length}/${this.throttle.maxRetries})`);
					await this.sleep(wait);
				}
			}
		}
		return out;
	}

	/**
	 * Sends a request until it has an answer to give: after at most one renewal, the throttling
	 * waits and one new connection. Network failures are thrown as MailboxError; HTTP statuses are
	 * returned with the exchange (not reported yet: the caller adds what it learnt).
	 */
	private async send(request: GraphRequest): Promise<{ response: HttpsResponse; exchange: GraphExchange }> {
		const url = this.urlOf(request.path);
		const path = loggedPath(url);
		const { maxRetries } = this.throttle;
		const waits: number[] = [];
		const log = this.options.logger;
		const started = Date.now();
		let renewed = false;
		let resent = false;
		const body = request.raw ? request.raw.data : request.json !== undefined ? Buffer.from(JSON.stringify(request.json), 'utf8') : undefined;
		for (;;) {
			const clientRequestId = randomUUID();
			const extraPrefer = request.headers?.Prefer;
			const headers: Record<string, string> = {
				Accept: 'application/json',
				'Accept-Encoding': 'gzip, deflate',
				...(request.headers ?? {}),
				Authorization: `Bearer ${await this.options.token()}`,
				'client-request-id': clientRequestId,
				'return-client-request-id': 'true',
				Prefer: extraPrefer ? `${IMMUTABLE_IDS}, ${extraPrefer}` : IMMUTABLE_IDS,
			};
			if (request.raw) headers['Content-Type'] = request.raw.contentType;
			else if (request.json !== undefined) headers['Content-Type'] = 'application/json';
			let response: HttpsResponse;
			try {
				response = await this.agent.send({
					method: request.method,
					url,
					headers,
					body,
					timeoutMs: this.options.timeoutMs ?? 120_000,
					maxResponseBytes: MAX_RESPONSE_BYTES,
					tooLarge: () => new MailboxError('PROTOCOL', `Microsoft Graph's answer is larger than ${MAX_RESPONSE_BYTES / 1024 / 1024} MB.`, { step: 'command', reason: 'TOO_LARGE' }),
				});
			} catch (error) {
				if (!resent && isStaleConnection(error)) {
					resent = true;
					log?.debug(`graph: the kept-alive connection was closed as ${request.method} ${path} was sent; sending it again on a new one`);
					continue;
				}
				throw error instanceof MailboxError ? error : fromGraphNetworkError(error, this.options.context);
			}
			if (response.tls) this.lastTls = response.tls;
			const exchange: GraphExchange = { method: request.method, path, status: response.status, durationMs: Date.now() - started, renewed, waits: [...waits], clientRequestId };
			if (response.status === 401 && !renewed && this.options.renew) {
				renewed = true;
				log?.debug(`graph: ${request.method} ${path} answered 401; renewing the token once`);
				let fresh: boolean;
				try {
					fresh = await this.options.renew();
				} catch (error) {
					this.options.onExchange?.(exchange);
					throw error instanceof MailboxError ? error : fromGraphResponse(401, graphErrorOf(response.body), this.options.context, { operation: request.operation });
				}
				if (fresh) continue;
			}
			if ((response.status === 429 || response.status === 503) && waits.length < maxRetries) {
				const wait = this.waitFor(retryAfterMs(headerValue(response.headers, 'retry-after')));
				waits.push(wait);
				log?.info(`graph: Microsoft Graph is throttling (${request.method} ${path}, HTTP ${response.status}); waiting ${wait} ms before sending it again (${waits.length}/${maxRetries})`);
				await this.sleep(wait);
				continue;
			}
			return { response, exchange };
		}
	}

	/** Closes the kept-alive connections. */
	close(): void {
		this.agent.close();
	}
}
