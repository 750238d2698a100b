/**
 * An SMTP server that keeps what it receives: npm smtp-server on two free ports, one offering
 * STARTTLS and one with TLS from the start; AUTH PLAIN, LOGIN and XOAUTH2 with the test users.
 * Every message is kept with its envelope, in memory and as .eml/.json files.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { SMTPServer, type SMTPServerAuthentication, type SMTPServerSession } from 'smtp-server';
import { freePorts } from './ports';

export interface ReceivedMessage {
	raw: Buffer;
	mailFrom: string | null;
	rcptTo: string[];
	authUser: string | null;
	authMethod: string | null;
	secure: boolean;
	tlsVersion: string | null;
	port: number;
	receivedAt: string;
}

export interface SmtpOptions {
	users: Record<string, string>;
	/** Answers whether an OAuth2 access token belongs to the user. */
	tokenUser: (token: string) => string | undefined;
	key: Buffer;
	cert: Buffer;
	outDir: string;
	authRequired?: boolean;
}

export class SmtpCapture {
	readonly received: ReceivedMessage[] = [];
	private waiters: Array<() => void> = [];

	private constructor(
		private readonly servers: SMTPServer[],
		readonly ports: { smtp: number; smtps: number },
		private readonly outDir: string,
	) {}

	static async start(options: SmtpOptions): Promise<SmtpCapture> {
		const [smtp, smtps] = await freePorts(2);
		fs.mkdirSync(options.outDir, { recursive: true });
		const capture: { instance?: SmtpCapture } = {};
		const make = (secure: boolean, port: number) =>
			new SMTPServer({
				secure,
				key: options.key,
				cert: options.cert,
				name: 'smtp.mailbox.test',
				authMethods: ['PLAIN', 'LOGIN', 'XOAUTH2'],
				authOptional: !options.authRequired,
				allowInsecureAuth: true,
				size: 64 * 1024 * 1024,
				logger: false,
				onAuth(auth: SMTPServerAuthentication, _session: SMTPServerSession, callback) {
					if (auth.method === 'XOAUTH2') {
						const user = auth.accessToken ? options.tokenUser(auth.accessToken) : undefined;
						if (user && user === auth.username) return callback(null, { user });
						return callback(null, { data: { status: '401', schemes: 'bearer', scope: 'https://outlook.office365.com/.default' } });
					}
					if (auth.username && options.users[auth.username] !== undefined && options.users[auth.username] === auth.password) {
						return callback(null, { user: auth.username });
					}
					const error = new Error('Authentication credentials invalid') as Error & { responseCode: number };
					error.responseCode = 535;
					return callback(error);
				},
				onData(stream, session, callback) {
					const chunks: Buffer[] = [];
					stream.on('data', (chunk: Buffer) => chunks.push(chunk));
					stream.on('end', () => {
						const socket = (session as unknown as { socket?: TLSSocket }).socket;
						capture.instance?.store({
							raw: Buffer.concat(chunks),
							mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
							rcptTo: session.envelope.rcptTo.map((r) => r.address),
							authUser: typeof session.user === 'string' ? session.user : null,
							authMethod: (session as unknown as { authMethod?: string }).authMethod ?? null,
							secure: session.secure,
							tlsVersion: typeof socket?.getProtocol === 'function' ? socket.getProtocol() : null,
							port,
							receivedAt: new Date().toISOString(),
						});
						callback(null, 'Message stored');
					});
				},
			});
		const servers = [make(false, smtp), make(true, smtps)];
		await Promise.all(servers.map((server, i) => new Promise<void>((resolve) => server.listen(i === 0 ? smtp : smtps, '127.0.0.1', resolve))));
		for (const server of servers) server.on('error', () => undefined);
		capture.instance = new SmtpCapture(servers, { smtp, smtps }, options.outDir);
		return capture.instance;
	}

	private store(message: ReceivedMessage): void {
		this.received.push(message);
		const base = path.join(this.outDir, String(this.received.length).padStart(6, '0'));
		fs.writeFileSync(`${base}.eml`, message.raw);
		const { raw, ...meta } = message;
		fs.writeFileSync(`${base}.json`, JSON.stringify({ ...meta, size: raw.length }, null, 2));
		const waiters = this.waiters;
		this.waiters = [];
		for (const wake of waiters) wake();
	}

	/** Resolves once at least `count` messages have arrived in total. */
	async waitFor(count: number, timeoutMs = 10_000): Promise<ReceivedMessage[]> {
		const deadline = Date.now() + timeoutMs;
		while (this.received.length < count) {
			const left = deadline - Date.now();
			if (left <= 0) throw new Error(`SMTP capture: ${this.received.length} of ${count} messages after ${timeoutMs} ms`);
			await new Promise<void>((resolve) => {
				const timer = setTimeout(resolve, left);
				this.waiters.push(() => {
					clearTimeout(timer);
					resolve();
				});
			});
		}
		return this.received.slice(0, count);
	}

	async stop(): Promise<void> {
		await Promise.all(this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
	}
}
