/**
 * Small SOCKS5 (RFC 1928, user/password per RFC 1929) and HTTP CONNECT proxies for tests. They
 * only open tunnels to loopback names (all leading to 127.0.0.1) and record every tunnel they made
 * or refused.
 */
import http from 'node:http';
import net from 'node:net';
import { closeWhenFileEnds } from './lifetime';
import { listenOnLoopback } from './ports';
import { registerSecret } from '../canary';

export interface ProxyAuth {
	user: string;
	password: string;
}

export interface TunnelRecord {
	target: string;
	allowed: boolean;
	reason?: string;
}

abstract class TestProxy {
	readonly tunnels: TunnelRecord[] = [];
	protected abstract server: net.Server;
	private readonly sockets = new Set<net.Socket>();
	port = 0;

	async listen(): Promise<this> {
		this.server.on('connection', (socket: net.Socket) => {
			this.sockets.add(socket);
			socket.on('close', () => this.sockets.delete(socket));
		});
		closeWhenFileEnds('test proxy', this.server);
		await listenOnLoopback(this.server);
		this.port = (this.server.address() as net.AddressInfo).port;
		return this;
	}

	protected tunnel(client: net.Socket, host: string, port: number, onOpen: (upstream: net.Socket) => void, onFail: () => void): void {
		const target = `${host}:${port}`;
		// any loopback name leads to the servers on 127.0.0.1 (127.0.0.2 is another name for them,
		// one their certificate does not carry)
		if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) && host !== 'localhost') {
			this.tunnels.push({ target, allowed: false, reason: 'only loopback targets' });
			onFail();
			return;
		}
		const upstream = net.connect({ host: '127.0.0.1', port }, () => {
			this.tunnels.push({ target, allowed: true });
			onOpen(upstream);
			upstream.pipe(client);
			client.pipe(upstream);
		});
		upstream.on('error', () => {
			if (!upstream.readyState || upstream.connecting) {
				this.tunnels.push({ target, allowed: false, reason: 'target refused' });
				onFail();
			}
			client.destroy();
		});
		client.on('error', () => upstream.destroy());
		client.on('close', () => upstream.destroy());
	}

	stop(): Promise<void> {
		return new Promise((resolve) => {
			this.server.close(() => resolve());
			for (const socket of this.sockets) socket.destroy();
		});
	}
}

export class Socks5Proxy extends TestProxy {
	protected server: net.Server;

	constructor(private readonly auth?: ProxyAuth) {
		super();
		registerSecret(auth?.password);
		this.server = net.createServer((socket) => this.handle(socket));
	}

	private handle(socket: net.Socket): void {
		let buffer = Buffer.alloc(0);
		let stage: 'greeting' | 'auth' | 'request' = 'greeting';
		const onData = (chunk: Buffer) => {
			buffer = Buffer.concat([buffer, chunk]);
			for (;;) {
				if (stage === 'greeting') {
					if (buffer.length < 2 || buffer.length < 2 + buffer[1]) return;
					const methods = [...buffer.subarray(2, 2 + buffer[1])];
					buffer = buffer.subarray(2 + buffer[1]);
					const method = this.auth ? (methods.includes(2) ? 2 : 0xff) : methods.includes(0) ? 0 : 0xff;
					socket.write(Buffer.from([5, method]));
					if (method === 0xff) return void socket.end();
					stage = method === 2 ? 'auth' : 'request';
				} else if (stage === 'auth') {
					if (buffer.length < 2) return;
					const ulen = buffer[1];
					if (buffer.length < 3 + ulen) return;
					const plen = buffer[2 + ulen];
					if (buffer.length < 3 + ulen + plen) return;
					const user = buffer.subarray(2, 2 + ulen).toString();
					const password = buffer.subarray(3 + ulen, 3 + ulen + plen).toString();
					buffer = buffer.subarray(3 + ulen + plen);
					const ok = user === this.auth?.user && password === this.auth?.password;
					socket.write(Buffer.from([1, ok ? 0 : 1]));
					if (!ok) {
						this.tunnels.push({ target: '-', allowed: false, reason: 'authentication failed' });
						return void socket.end();
					}
					stage = 'request';
				} else {
					if (buffer.length < 5) return;
					const atyp = buffer[3];
					const addrLen = atyp === 1 ? 4 : atyp === 4 ? 16 : 1 + buffer[4];
					if (buffer.length < 4 + addrLen + 2) return;
					const host = atyp === 1 ? [...buffer.subarray(4, 8)].join('.') : atyp === 3 ? buffer.subarray(5, 5 + buffer[4]).toString() : 'ipv6';
					const port = buffer.readUInt16BE(4 + addrLen);
					socket.removeListener('data', onData);
					const reply = (code: number) => Buffer.from([5, code, 0, 1, 0, 0, 0, 0, 0, 0]);
					this.tunnel(
						socket,
						host,
						port,
						() => socket.write(reply(0)),
						() => socket.end(reply(host === '127.0.0.1' || host === 'localhost' ? 5 : 2)),
					);
					return;
				}
			}
		};
		socket.on('data', onData);
		socket.on('error', () => undefined);
	}
}

export class HttpConnectProxy extends TestProxy {
	protected server: http.Server;

	constructor(private readonly auth?: ProxyAuth) {
		super();
		registerSecret(auth?.password);
		this.server = http.createServer((_req, res) => {
			res.writeHead(405);
			res.end('CONNECT only');
		});
		this.server.on('connect', (req: http.IncomingMessage, socket: net.Socket) => {
			socket.on('error', () => undefined);
			if (this.auth) {
				const expected = `Basic ${Buffer.from(`${this.auth.user}:${this.auth.password}`).toString('base64')}`;
				if (req.headers['proxy-authorization'] !== expected) {
					this.tunnels.push({ target: req.url ?? '', allowed: false, reason: 'authentication failed' });
					socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n\r\n');
					return;
				}
			}
			const [host, port] = (req.url ?? '').split(':');
			this.tunnel(
				socket,
				host,
				Number(port),
				() => socket.write('HTTP/1.1 200 Connection Established\r\n\r\n'),
				() => socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n'),
			);
		});
	}
}
