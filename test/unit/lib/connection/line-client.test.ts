/**
 * The connection half shared by the POP3 and ManageSieve clients, against a local TCP server:
 * bytes reach the reader, one command at a time, a closed or silent server fails what is
 * awaited, the idle timeout only while an answer is due, and the STARTTLS/STLS upgrade.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { LineClient, type LineReader } from '../../../../lib/connection/line-client';
import { resolveServer, type ResolvedServer } from '../../../../lib/connection/options';
import { makeSelfSignedCertificate } from '../../../servers/tls';

/** Answers are lines; `expect` waits for the next one. */
class LinesReader implements LineReader {
	received = '';
	failure?: Error;
	private waiting: Array<{ resolve: (line: string) => void; reject: (error: Error) => void }> = [];

	push(chunk: Buffer): void {
		this.received += chunk.toString('latin1');
		let end: number;
		while (this.waiting.length && (end = this.received.indexOf('\r\n')) >= 0) {
			const line = this.received.slice(0, end);
			this.received = this.received.slice(end + 2);
			this.waiting.shift()!.resolve(line);
		}
	}
	fail(error: Error): void {
		this.failure ??= error;
		for (const w of this.waiting.splice(0)) w.reject(error);
	}
	get busy(): boolean {
		return this.waiting.length > 0;
	}
	discard(): number {
		const dropped = this.received.length;
		this.received = '';
		return dropped;
	}
	expect(): Promise<string> {
		if (this.failure) return Promise.reject(this.failure);
		return new Promise((resolve, reject) => {
			this.waiting.push({ resolve, reject });
			this.push(Buffer.alloc(0));
		});
	}
}

class TestClient extends LineClient<LinesReader> {
	constructor(socket: net.Socket, server: ResolvedServer) {
		super(socket, server, new LinesReader(), 'ETESTCLOSED', {});
	}
	get raw(): net.Socket {
		return this.socket;
	}
	get lines(): LinesReader {
		return this.reader;
	}
	greeting(): Promise<string> {
		return this.withinGreetingTimeout(this.reader.expect());
	}
	command(line: string): Promise<string> {
		return this.enqueue(() => {
			const answer = this.reader.expect();
			this.send(`${line}\r\n`);
			return answer;
		});
	}
	startTls(): Promise<void> {
		return this.enqueue(async () => {
			const answer = this.reader.expect();
			this.send('STARTTLS\r\n');
			await answer;
			await this.upgradeConnection();
		});
	}
}

type Conversation = (socket: net.Socket) => void;

async function listen(conversation: Conversation): Promise<{ port: number; close: () => Promise<void> }> {
	const sockets = new Set<net.Socket>();
	const server = net.createServer((socket) => {
		sockets.add(socket);
		socket.on('close', () => sockets.delete(socket));
		socket.on('error', () => undefined);
		conversation(socket);
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return {
		port: (server.address() as net.AddressInfo).port,
		close: () => {
			for (const s of sockets) s.destroy();
			return new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
}

/** Answers every line "C n" with "S n", and "QUIT" by closing. */
const respond: Conversation = (socket) => {
	let buffer = '';
	socket.on('data', (chunk) => {
		buffer += chunk.toString('latin1');
		let end: number;
		while ((end = buffer.indexOf('\r\n')) >= 0) {
			const line = buffer.slice(0, end);
			buffer = buffer.slice(end + 2);
			if (line === 'QUIT') socket.end();
			else socket.write(`${line.replace(/^C/, 'S')}\r\n`);
		}
	});
};

/** Greets with HELLO, then {@link respond}. */
const echo: Conversation = (socket) => {
	socket.write('HELLO\r\n');
	respond(socket);
};

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
	for (const close of closers.splice(0)) await close();
});

async function connect(conversation: Conversation, settings: { timeoutMs?: number; ca?: string } = {}): Promise<TestClient> {
	const { port, close } = await listen(conversation);
	closers.push(close);
	const server = resolveServer('pop3', { host: '127.0.0.1', port, security: 'starttls', ...settings });
	const socket = net.connect(port, '127.0.0.1');
	await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
	const client = new TestClient(socket, server);
	closers.unshift(async () => client.close());
	return client;
}

describe('LineClient', () => {
	it('feeds the socket to the reader and runs commands one at a time, in order, also after a failed one', async () => {
		const client = await connect(echo);
		expect(await client.greeting()).toBe('HELLO');
		const failing = client.command('C 1').then(() => {
			throw new Error('the task failed');
		});
		const answers = await Promise.allSettled([failing, client.command('C 2'), client.command('C 3')]);
		expect(answers.map((a) => (a.status === 'fulfilled' ? a.value : (a.reason as Error).message))).toEqual(['the task failed', 'S 2', 'S 3']);
		expect(client.isClosed).toBe(false);
		expect(client.tlsSocket).toBeUndefined();
	});

	it('fails what is awaited with the closed code when the server closes, and sends nothing afterwards', async () => {
		const client = await connect(echo);
		await client.greeting();
		await expect(client.command('QUIT')).rejects.toMatchObject({ code: 'ETESTCLOSED', message: 'the server closed the connection' });
		expect(client.isClosed).toBe(true);
		const write = jest.spyOn(client.raw, 'write');
		await expect(client.command('C 4')).rejects.toMatchObject({ code: 'ETESTCLOSED' });
		expect(write).not.toHaveBeenCalled();
	});

	it('gives up on a greeting that does not come', async () => {
		const client = await connect(() => undefined, { timeoutMs: 200 });
		await expect(client.greeting()).rejects.toMatchObject({ code: 'GREETING_TIMEOUT' });
	});

	it('drops the connection on idle time only while an answer is due and the socket is not paused', async () => {
		const client = await connect((socket) => socket.write('HELLO\r\n'));
		await client.greeting();
		client.raw.emit('timeout');
		expect(client.raw.destroyed).toBe(false);

		const answer = client.command('C 5');
		await new Promise(setImmediate);
		expect(client.lines.busy).toBe(true);
		client.raw.pause();
		client.raw.emit('timeout');
		expect(client.raw.destroyed).toBe(false);
		client.raw.resume();

		client.raw.emit('timeout');
		await expect(answer).rejects.toMatchObject({ code: 'ETIMEDOUT', message: 'no answer in time' });
	});

	it('closes the connection and fails the reader when the TLS handshake fails', async () => {
		const client = await connect((socket) => {
			socket.write('HELLO\r\n');
			socket.once('data', () => {
				socket.write('GO AHEAD\r\n');
				// The client's TLS hello gets a plain-text answer.
				socket.once('data', () => socket.end('NOT TLS\r\n'));
			});
		});
		await client.greeting();
		await expect(client.startTls()).rejects.toMatchObject({ step: 'tls' });
		expect(client.isClosed).toBe(true);
		expect(client.lines.failure).toBeDefined();
		expect(client.tlsSocket).toBeUndefined();
	});

	describe('with a TLS certificate', () => {
		let dir: string;
		let cert: { key: Buffer; cert: Buffer };
		beforeAll(() => {
			dir = fs.mkdtempSync(path.join(os.tmpdir(), 'line-client-'));
			const files = makeSelfSignedCertificate(dir);
			cert = { key: fs.readFileSync(files.keyPath), cert: fs.readFileSync(files.certPath) };
		});
		afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

		it('upgrades to TLS after the server agreed, dropping what came unasked before', async () => {
			const client = await connect(
				(socket) => {
					socket.write('HELLO\r\n');
					socket.once('data', () => {
						// An answer smuggled in before the handshake must never be read as one.
						socket.write('GO AHEAD\r\nS injected\r\n');
						const secure = new tls.TLSSocket(socket, { isServer: true, ...cert });
						secure.on('error', () => undefined);
						respond(secure);
					});
				},
				{ ca: cert.cert.toString('utf8') },
			);
			await client.greeting();
			await client.startTls();
			expect(client.tlsSocket?.encrypted).toBe(true);
			expect(await client.command('C 6')).toBe('S 6');
		});
	});
});
