/**
 * Opening the TCP (and TLS) connection to a mail server, for the protocols whose clients this
 * package writes itself (POP3, and any other that needs a raw socket): directly or through a
 * SOCKS5 or HTTP CONNECT proxy, with TLS from the first byte or upgraded later by
 * STARTTLS/STLS. Every failure is a MailboxError from {@link fromNetworkError}, so a refused port,
 * a proxy that says no, or TLS spoken to a plain port read the same as for IMAP.
 */
import net from 'node:net';
import tls from 'node:tls';
import { SocksClient } from 'socks';
import { MailboxError, redact, scrubbedCause, systemCodeOf, type ConnectionStep } from '../errors';
import { fromNetworkError } from './network-errors';
import { describeServer, type ResolvedServer } from './options';

/**
 * A server greets at once; silence means a plain connection to a TLS port (or the reverse), so
 * that mistake is reported within seconds instead of after the full connection timeout.
 */
export const GREETING_TIMEOUT_MS = 8_000;

/** How long to wait for the greeting: the connection timeout, but at most {@link GREETING_TIMEOUT_MS}. */
export function greetingTimeoutMs(server: ResolvedServer): number {
	return Math.min(server.timeoutMs, GREETING_TIMEOUT_MS);
}

/** The largest HTTP CONNECT answer header read; a proxy sends a few hundred bytes. */
const MAX_PROXY_HEADER = 16 * 1024;

/** An error carrying a code fromNetworkError knows, for failures this module detects itself. */
export function codedError(code: string, message: string): Error & { code: string } {
	return Object.assign(new Error(message), { code });
}

/**
 * Any failure as a MailboxError: network, DNS, TLS and proxy failures through
 * {@link fromNetworkError}; anything else as CONNECTION_CLOSED at `step`, without secrets.
 */
export function toConnectionError(error: unknown, server: ResolvedServer, secrets: ReadonlyArray<string | undefined>, step: ConnectionStep = 'connect'): MailboxError {
	if (error instanceof MailboxError) return error;
	const mapped = fromNetworkError(error, server, secrets);
	if (mapped) return mapped;
	const text = redact(error instanceof Error ? error.message : String(error), [...secrets, server.proxy?.password]);
	return new MailboxError('CONNECTION_CLOSED', `The connection to ${describeServer(server)} failed: ${text}.`, {
		step,
		systemCode: systemCodeOf(error),
		cause: server.proxy ? scrubbedCause(error, [...secrets, server.proxy.password]) : error,
		hint: 'Check Host, Port and Security.',
	});
}

/** Resolves when `socket` is connected; rejects on error or after `timeoutMs` of silence. */
function connected(socket: net.Socket, timeoutMs: number): Promise<void> {
	return new Promise<void>((resolve, reject) => {
		const done = (error?: Error) => {
			socket.removeListener('connect', onConnect);
			socket.removeListener('error', done);
			socket.removeListener('timeout', onTimeout);
			socket.setTimeout(0);
			if (error) {
				socket.destroy();
				reject(error);
			} else resolve();
		};
		const onConnect = () => done();
		const onTimeout = () => done(codedError('ETIMEDOUT', `no connection within ${timeoutMs} ms`));
		socket.once('connect', onConnect);
		socket.once('error', done);
		socket.once('timeout', onTimeout);
		socket.setTimeout(timeoutMs);
	});
}

async function connectDirect(server: ResolvedServer): Promise<net.Socket> {
	const socket = net.connect({ host: server.host, port: server.port });
	await connected(socket, server.timeoutMs);
	return socket;
}

async function connectSocks5(server: ResolvedServer): Promise<net.Socket> {
	const proxy = server.proxy!;
	try {
		const { socket } = await SocksClient.createConnection({
			proxy: { host: proxy.host, port: proxy.port, type: 5, userId: proxy.user, password: proxy.password },
			command: 'connect',
			// The proxy resolves the name: the destination may only be known on its side of a firewall.
			destination: { host: server.host, port: server.port },
			timeout: server.timeoutMs,
		});
		return socket;
	} catch (error) {
		// Failures reaching the proxy keep Node's code (in the text); the rest happened in the
		// SOCKS exchange, e.g. a proxy that hangs up instead of answering "connection refused".
		const message = error instanceof Error ? error.message : String(error);
		if (typeof (error as { code?: unknown }).code === 'string' || /\bE[A-Z]{4,}\b/.test(message)) throw toConnectionError(error, server, [], 'proxy');
		throw codedError('EPROXY', /^socket closed$/i.test(message) ? 'the proxy closed the connection' : message);
	}
}

/** Reads the proxy's answer header; resolves with the status line and any bytes after the header. */
function readConnectAnswer(socket: net.Socket, timeoutMs: number): Promise<{ status: number; statusLine: string; rest: Buffer }> {
	return new Promise((resolve, reject) => {
		let buffer = Buffer.alloc(0);
		const finish = (error?: Error, value?: { status: number; statusLine: string; rest: Buffer }) => {
			socket.removeListener('data', onData);
			socket.removeListener('error', finish);
			socket.removeListener('end', onEnd);
			socket.removeListener('timeout', onTimeout);
			socket.setTimeout(0);
			if (error) {
				socket.destroy();
				reject(error);
			} else resolve(value!);
		};
		const onData = (chunk: Buffer) => {
			buffer = Buffer.concat([buffer, chunk]);
			const end = buffer.indexOf('\r\n\r\n');
			if (end < 0) {
				if (buffer.length > MAX_PROXY_HEADER) finish(codedError('EPROXY', 'the proxy sent an oversized answer'));
				return;
			}
			socket.pause();
			const statusLine = buffer.subarray(0, buffer.indexOf('\r\n')).toString('latin1');
			const match = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(statusLine);
			if (!match) return finish(codedError('EPROXY', `the proxy did not answer like an HTTP proxy ("${statusLine.slice(0, 60)}")`));
			finish(undefined, { status: Number(match[1]), statusLine, rest: buffer.subarray(end + 4) });
		};
		const onEnd = () => finish(codedError('EPROXY', 'the proxy closed the connection without an answer'));
		const onTimeout = () => finish(codedError('EPROXY', `the proxy sent no answer within ${timeoutMs} ms`));
		socket.on('data', onData);
		socket.once('error', finish);
		socket.once('end', onEnd);
		socket.once('timeout', onTimeout);
		socket.setTimeout(timeoutMs);
	});
}

async function connectHttpProxy(server: ResolvedServer): Promise<net.Socket> {
	const proxy = server.proxy!;
	const socket = net.connect({ host: proxy.host, port: proxy.port });
	await connected(socket, server.timeoutMs);
	const target = `${net.isIP(server.host) === 6 ? `[${server.host}]` : server.host}:${server.port}`;
	const headers = [`CONNECT ${target} HTTP/1.1`, `Host: ${target}`];
	if (proxy.user) headers.push(`Proxy-Authorization: Basic ${Buffer.from(`${proxy.user}:${proxy.password ?? ''}`).toString('base64')}`);
	socket.write(`${headers.join('\r\n')}\r\n\r\n`);
	const answer = await readConnectAnswer(socket, server.timeoutMs);
	if (answer.status === 407) {
		socket.destroy();
		throw codedError('EPROXY', 'proxy authentication failed (407)');
	}
	if (answer.status < 200 || answer.status > 299) {
		socket.destroy();
		throw codedError('EPROXY', `the proxy answered "${answer.statusLine.replace(/^HTTP\/\S+ /, '')}"`);
	}
	// Bytes the server sent right behind the proxy's answer (its greeting) belong to the caller.
	if (answer.rest.length) socket.unshift(answer.rest);
	return socket;
}

/**
 * Upgrades a connected socket to TLS with the server's TLS options (version rule, certificate
 * checks, server name): for implicit TLS right after connecting, and for STARTTLS/STLS after the
 * server said go ahead. The caller must have removed its own 'data' listeners from `socket`.
 */
export function upgradeToTls(socket: net.Socket, server: ResolvedServer, secrets: ReadonlyArray<string | undefined> = []): Promise<tls.TLSSocket> {
	return new Promise<tls.TLSSocket>((resolve, reject) => {
		// the certificate is checked against the configured host: a socket through a proxy would
		// otherwise be checked against the proxy's name (Node takes the socket's own host)
		const secure = tls.connect({ ...server.tls, host: server.host, socket });
		const finish = (error?: Error) => {
			secure.removeListener('secureConnect', onSecure);
			secure.removeListener('error', finish);
			clearTimeout(timer);
			if (error) {
				secure.destroy();
				socket.destroy();
				reject(toConnectionError(error, server, secrets, 'tls'));
			} else resolve(secure);
		};
		const onSecure = () => finish();
		const timer = setTimeout(() => finish(codedError('UPGRADE_TIMEOUT', `no TLS handshake within ${server.timeoutMs} ms`)), server.timeoutMs);
		secure.once('secureConnect', onSecure);
		secure.once('error', finish);
	});
}

/**
 * Opens the connection to `server`: through its proxy when it has one, then TLS when its security
 * is `tls` (unless `options.tls` is false: a caller that reports the handshake as a step of its own
 * then calls {@link upgradeToTls}). STARTTLS is the protocol's business. `secrets` are kept out of
 * every message. Throws a MailboxError whose step says where it failed: 'proxy', 'connect', 'tls'.
 */
export async function openSocket(server: ResolvedServer, secrets: ReadonlyArray<string | undefined> = [], options: { tls?: boolean } = {}): Promise<net.Socket> {
	let socket: net.Socket;
	try {
		if (server.proxy?.type === 'socks5') socket = await connectSocks5(server);
		else if (server.proxy?.type === 'http') socket = await connectHttpProxy(server);
		else socket = await connectDirect(server);
	} catch (error) {
		throw toConnectionError(error, server, secrets, server.proxy ? 'proxy' : 'connect');
	}
	socket.setNoDelay(true);
	socket.setKeepAlive(true, 60_000);
	if (!(options.tls ?? server.security === 'tls')) return socket;
	return upgradeToTls(socket, server, secrets);
}
