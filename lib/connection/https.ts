/**
 * HTTPS for the web-service clients (EWS, Microsoft Graph): one kept-alive agent per client with
 * certificate verification on (extra trusted CAs added to Node's, or the explicit opt-out), one
 * request at a time with a timeout, compressed answers unpacked, and a bound on the size of an
 * answer. What the requests mean (headers, retries, throttling, error wording) is the caller's;
 * this module only moves bytes and reports Node's failures as they are, with `reusedSocket` set when
 * the request went out on a kept-alive connection (see {@link isStaleConnection}).
 */
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { rootCertificates, type TLSSocket } from 'node:tls';
import zlib from 'node:zlib';
import { MailboxError } from '../errors';
import { tlsDetail } from './check-steps';

/** The TLS connection in words, once per kept-alive socket (reading the certificate costs as much as a small request). */
const tlsDetails = new WeakMap<TLSSocket, string>();
function tlsOf(socket: TLSSocket): string {
	let detail = tlsDetails.get(socket);
	if (detail === undefined) {
		detail = tlsDetail(socket);
		tlsDetails.set(socket, detail);
	}
	return detail;
}

export interface HttpsAgentOptions {
	/** Trusted CA certificates in addition to Node's (PEM). */
	ca?: string | Buffer | Array<string | Buffer>;
	/** Accept any certificate (self-signed, wrong host). Off unless the user switches it on. */
	allowUnauthorizedCerts?: boolean;
	/** Connections kept per host (default 8). */
	maxSockets?: number;
}

export interface HttpsRequest {
	method: string;
	url: string | URL;
	headers: Record<string, string>;
	body?: Buffer;
	/** Silence longer than this ends the request with ETIMEDOUT. */
	timeoutMs: number;
	/** Largest answer accepted, after decompression. */
	maxResponseBytes: number;
	/** The error for an answer past maxResponseBytes (its wording names the server). */
	tooLarge: () => MailboxError;
}

export interface HttpsResponse {
	status: number;
	statusText: string;
	headers: IncomingHttpHeaders;
	body: Buffer;
	/** The TLS connection in words ("TLSv1.3, certificate for ... issued by ..."). */
	tls?: string;
}

/** A header's value, several joined with ", ". */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
	const value = headers[name.toLowerCase()];
	return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * Whether a failure is a kept-alive connection the server had closed as the request went out on
 * it (ECONNRESET or EPIPE on a reused socket): the request never reached the server, so it may be
 * sent again, once, on a new connection. Web servers (IIS among them) end idle connections.
 */
export function isStaleConnection(error: unknown): boolean {
	const e = (error ?? {}) as { reusedSocket?: boolean; code?: string };
	return e.reusedSocket === true && ['ECONNRESET', 'EPIPE'].includes(e.code ?? '');
}

/** One client's connections: create it with the client, close() it with the client. */
export class HttpsAgent {
	private readonly agent: https.Agent;

	constructor(options: HttpsAgentOptions) {
		const extra = options.ca === undefined ? [] : Array.isArray(options.ca) ? options.ca : [options.ca];
		this.agent = new https.Agent({
			keepAlive: true,
			maxSockets: options.maxSockets ?? 8,
			rejectUnauthorized: options.allowUnauthorizedCerts !== true,
			...(extra.length ? { ca: [...rootCertificates, ...extra] } : {}),
		});
	}

	/** Sends one request and reads the whole answer. Node's errors reject as they are (with `reusedSocket`). */
	send(request: HttpsRequest): Promise<HttpsResponse> {
		const { timeoutMs, maxResponseBytes } = request;
		return new Promise<HttpsResponse>((resolve, reject) => {
			const body = request.body ?? Buffer.alloc(0);
			const req = https.request(request.url, { method: request.method, agent: this.agent, headers: { ...request.headers, 'Content-Length': String(body.length) } }, (res) => {
				const chunks: Buffer[] = [];
				let size = 0;
				const socket = res.socket as TLSSocket;
				const tls = typeof socket?.getProtocol === 'function' ? tlsOf(socket) : undefined;
				const encoding = String(res.headers['content-encoding'] ?? '').toLowerCase();
				const stream = encoding === 'gzip' ? res.pipe(zlib.createGunzip()) : encoding === 'deflate' ? res.pipe(zlib.createInflate()) : encoding === 'br' ? res.pipe(zlib.createBrotliDecompress()) : res;
				stream.on('data', (chunk: Buffer) => {
					size += chunk.length;
					if (size > maxResponseBytes) {
						req.destroy(request.tooLarge());
						return;
					}
					chunks.push(chunk);
				});
				stream.on('error', reject);
				stream.on('end', () => resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: res.headers, body: Buffer.concat(chunks), tls }));
			});
			req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer in ${Math.round(timeoutMs / 1000)} s`), { code: 'ETIMEDOUT' })));
			req.on('error', (error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
			req.end(body);
		});
	}

	/** Closes the kept-alive connections. */
	close(): void {
		this.agent.destroy();
	}
}
