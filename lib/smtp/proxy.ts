import net from 'node:net';
import { SocksClient } from 'socks';
import type { ResolvedProxy, ResolvedServer } from '../connection/options';

/**
 * Opens a TCP tunnel to the mail server through the server's SOCKS5 or HTTP CONNECT proxy and
 * resolves with the connected socket, ready for SMTP (or for TLS on top of it).
 *
 * Why not nodemailer's `proxy` URL option: it needs the socks module registered on every
 * transporter (`transporter.set('proxy_socks_module', ...)`), which a caller can forget, and the
 * connection check, which talks to SMTPConnection directly, could not use it at all. One tunnel
 * function serves both the transport (through its `getSocket` option) and the check.
 *
 * Failures keep what fromNetworkError needs: Node's code (ECONNREFUSED when the proxy is not
 * there), the socks client's own words ("Socks5 Authentication failed"), or for HTTP CONNECT the
 * proxy's status line with code EPROXY (a 407 is read as a refused proxy login).
 */
export function openProxyTunnel(server: ResolvedServer, timeoutMs = server.timeoutMs): Promise<net.Socket> {
	const proxy = server.proxy;
	if (!proxy) return Promise.reject(Object.assign(new Error('No proxy configured'), { code: 'EPROXY' }));
	return proxy.type === 'socks5' ? socksTunnel(proxy, server, timeoutMs) : httpConnectTunnel(proxy, server, timeoutMs);
}

async function socksTunnel(proxy: ResolvedProxy, server: ResolvedServer, timeoutMs: number): Promise<net.Socket> {
	// The destination goes to the proxy by name: it resolves it (like socks5h://), so a host this
	// machine cannot resolve still works through a proxy that can.
	try {
		const { socket } = await SocksClient.createConnection({
			command: 'connect',
			proxy: { host: proxy.host, port: proxy.port, type: 5, userId: proxy.user, password: proxy.user ? (proxy.password ?? '') : undefined },
			destination: { host: server.host, port: server.port },
			timeout: timeoutMs,
		});
		return socket;
	} catch (error) {
		// The socks client's errors have no code, and a proxy that refuses the tunnel may just
		// close ("Socket closed"); EPROXY tells the mapper that the proxy step failed. A Node code
		// in the text (ECONNREFUSED: no proxy there) is left for the mapper to find.
		const err = error instanceof Error ? error : new Error(String(error));
		if (!(err as { code?: unknown }).code && !/\bE[A-Z]{4,}\b/.test(err.message)) Object.assign(err, { code: 'EPROXY' });
		throw err;
	}
}

const MAX_HEADER_BYTES = 16 * 1024;

function httpConnectTunnel(proxy: ResolvedProxy, server: ResolvedServer, timeoutMs: number): Promise<net.Socket> {
	return new Promise((resolve, reject) => {
		const authority = `${net.isIPv6(server.host) ? `[${server.host}]` : server.host}:${server.port}`;
		const socket = net.connect({ host: proxy.host, port: proxy.port });
		let received = Buffer.alloc(0);
		let settled = false;
		const timer = setTimeout(() => fail(Object.assign(new Error(`The HTTP CONNECT proxy did not answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);

		function cleanup(): void {
			clearTimeout(timer);
			socket.removeListener('data', onData);
			socket.removeListener('error', fail);
			socket.removeListener('close', onClose);
		}
		function fail(error: Error): void {
			if (settled) return;
			settled = true;
			cleanup();
			socket.destroy();
			reject(error);
		}
		function onClose(): void {
			fail(Object.assign(new Error('The HTTP CONNECT proxy closed the connection before the tunnel was open'), { code: 'EPROXY' }));
		}
		function onData(chunk: Buffer): void {
			received = Buffer.concat([received, chunk]);
			const end = received.indexOf('\r\n\r\n');
			if (end < 0) {
				if (received.length > MAX_HEADER_BYTES) fail(Object.assign(new Error('The HTTP CONNECT proxy sent an oversized answer'), { code: 'EPROXY' }));
				return;
			}
			const statusLine = received.subarray(0, received.indexOf('\r\n')).toString('latin1');
			const status = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(statusLine)?.[1];
			if (!status || !status.startsWith('2')) {
				fail(Object.assign(new Error(`HTTP CONNECT proxy answered "${statusLine.slice(0, 200)}"`), { code: 'EPROXY' }));
				return;
			}
			settled = true;
			cleanup();
			// The server may greet in the same packet as the proxy's answer: keep those bytes.
			const rest = received.subarray(end + 4);
			// Paused until the SMTP client listens, so nothing is emitted to no one; a socket
			// explicitly paused would not resume by itself when a 'data' listener is added.
			socket.pause();
			if (rest.length) socket.unshift(rest);
			const resumeOnData = (event: string | symbol) => {
				if (event !== 'data') return;
				socket.removeListener('newListener', resumeOnData);
				process.nextTick(() => socket.resume());
			};
			socket.on('newListener', resumeOnData);
			resolve(socket);
		}

		socket.once('connect', () => {
			const headers = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
			if (proxy.user) headers.push(`Proxy-Authorization: Basic ${Buffer.from(`${proxy.user}:${proxy.password ?? ''}`).toString('base64')}`);
			socket.write(`${headers.join('\r\n')}\r\n\r\n`);
		});
		socket.on('data', onData);
		socket.once('error', fail);
		socket.once('close', onClose);
	});
}

/**
 * The proxy's Basic credentials as sent on the wire, for redaction: `user:password` and its
 * base64 form.
 */
export function proxySecrets(proxy: ResolvedProxy | undefined): string[] {
	if (!proxy?.password) return [];
	const pair = `${proxy.user ?? ''}:${proxy.password}`;
	return [proxy.password, pair, Buffer.from(pair).toString('base64')];
}
