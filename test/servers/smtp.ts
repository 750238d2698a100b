/**
 * An SMTP server that keeps what it receives: npm smtp-server on two 127.0.0.1 ports the kernel
 * picks, one offering STARTTLS (plain connection upgraded) and one with TLS from the start.
 * AUTH PLAIN, LOGIN, CRAM-MD5 and XOAUTH2 with the test users' passwords and tokens; AUTH is
 * optional unless `authRequired`, a failed AUTH is always 535. Every message is kept with its
 * envelope in memory and as NNNNNN.eml (the raw bytes) plus NNNNNN.json in `outDir`.
 */
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { SecureVersion } from 'node:tls';
import { SMTPServer, type SMTPServerAuthentication, type SMTPServerSession } from 'smtp-server';
import { LOOPBACK } from './ports';
import { closeWhenFileEnds } from './lifetime';
import { registerSecret } from '../canary';

export interface ReceivedMessage {
	/** 1, 2, 3… in arrival order. */
	seq: number;
	/** The message exactly as received (after dot-unstuffing). */
	raw: Buffer;
	size: number;
	mailFrom: string | null;
	rcptTo: string[];
	/** The user AUTH logged in, null without AUTH. */
	authUser: string | null;
	/** PLAIN, LOGIN, CRAM-MD5 or XOAUTH2; null without AUTH. */
	authMethod: string | null;
	/** TLS was on when the message was sent (implicit TLS or after STARTTLS). */
	secure: boolean;
	/** e.g. TLSv1.3; null without TLS. */
	tlsVersion: string | null;
	/** The server port it came in on (ports.smtp or ports.smtps). */
	port: number;
	/** EHLO/HELO name the client gave. */
	clientHostname: string;
	receivedAt: string;
	emlPath: string;
}

export interface SmtpCaptureOptions {
	/** user -> password. */
	users: Record<string, string>;
	/** The user an OAuth2 access token belongs to, if it is active. */
	tokenUser: (token: string) => string | undefined;
	key: Buffer | string;
	cert: Buffer | string;
	/** Where .eml/.json files go (made if missing). */
	outDir: string;
	/** Reject MAIL FROM before AUTH (530). Default: AUTH optional. */
	authRequired?: boolean;
	/** Largest message accepted, bytes (default 64 MiB). */
	maxSize?: number;
	/** SASL mechanisms offered, in this order (default PLAIN, LOGIN, CRAM-MD5, XOAUTH2). */
	authMethods?: string[];
	/** The plain port offers no STARTTLS and refuses the command (default: offered). */
	disableStartTls?: boolean;
	/** No AUTH at all, like a relay on port 25 (default: offered). */
	disableAuth?: boolean;
	/** TLS versions accepted on both ports, e.g. 'TLSv1.3' for both to allow only TLS 1.3 (default: smtp-server's). */
	minTlsVersion?: SecureVersion;
	maxTlsVersion?: SecureVersion;
	/** A fixed port for the plain server, e.g. 25 for "the machine's own mail server" (default: any free port). */
	plainPort?: number;
	/** The loopback address to listen on, e.g. 127.0.0.2 for a server that is not the credential's (default 127.0.0.1). */
	host?: string;
}

/** Test servers listen on loopback addresses only. */
function loopbackOnly(host: string): string {
	if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) throw new Error(`SMTP capture server: ${host} is not a loopback address`);
	return host;
}

export class SmtpCapture {
	private readonly messages: ReceivedMessage[] = [];
	private waiters: Array<() => void> = [];
	private readonly authMethods = new Map<string, string>();
	private count = 0;

	private constructor(
		private readonly servers: SMTPServer[],
		private readonly outDir: string,
	) {}

	/** smtp: STARTTLS offered; smtps: TLS from the start. */
	get ports(): { smtp: number; smtps: number } {
		const [plain, secure] = this.servers.map((s) => (s.server.address() as AddressInfo).port);
		return { smtp: plain, smtps: secure };
	}

	/** Messages received so far, oldest first. */
	get received(): readonly ReceivedMessage[] {
		return this.messages;
	}

	static async start(options: SmtpCaptureOptions): Promise<SmtpCapture> {
		fs.mkdirSync(options.outDir, { recursive: true });
		for (const password of Object.values(options.users)) registerSecret(password);
		const holder: { instance?: SmtpCapture } = {};
		const make = (secure: boolean) => {
			const server: SMTPServer = new SMTPServer({
				secure,
				key: options.key,
				cert: options.cert,
				name: 'smtp.mailbox.test',
				banner: 'mailbox test SMTP capture',
				authMethods: options.authMethods ?? ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2'],
				disabledCommands: [...(options.disableStartTls ? ['STARTTLS'] : []), ...(options.disableAuth ? ['AUTH'] : [])],
				...(options.minTlsVersion ? { minVersion: options.minTlsVersion } : {}),
				...(options.maxTlsVersion ? { maxVersion: options.maxTlsVersion } : {}),
				authOptional: !options.authRequired,
				allowInsecureAuth: true, // AUTH before STARTTLS too: clients decide, tests check
				size: options.maxSize ?? 64 * 1024 * 1024,
				closeTimeout: 1000, // stop() should not wait 30 s for a client that hangs on
				logger: false,
				onAuth(auth: SMTPServerAuthentication, session: SMTPServerSession, callback) {
					const user = auth.username ?? '';
					const password = options.users[user];
					let ok = false;
					if (auth.method === 'XOAUTH2') {
						ok = !!auth.accessToken && options.tokenUser(auth.accessToken) === user;
						// RFC 7628 style: a JSON challenge, then 535 once the client answers it
						if (!ok) return callback(null, { data: { status: '401', schemes: 'bearer', scope: 'https://outlook.office.com/SMTP.Send' } });
					} else if (auth.method === 'CRAM-MD5') {
						ok = password !== undefined && auth.validatePassword(password);
					} else {
						ok = password !== undefined && auth.password === password;
					}
					if (!ok) return callback(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
					holder.instance?.authMethods.set(session.id, auth.method);
					callback(null, { user });
				},
				onData(stream, session, callback) {
					const chunks: Buffer[] = [];
					stream.on('data', (chunk: Buffer) => chunks.push(chunk));
					stream.on('error', (error) => callback(error));
					stream.on('end', () => {
						if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded) {
							return callback(Object.assign(new Error('Message exceeds fixed maximum message size'), { responseCode: 552 }));
						}
						const raw = Buffer.concat(chunks);
						const user = typeof session.user === 'string' ? session.user : null;
						const tlsOptions = (session as unknown as { tlsOptions?: { version?: string } | false }).tlsOptions;
						const message = holder.instance?.store({
							raw,
							size: raw.length,
							mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
							rcptTo: session.envelope.rcptTo.map((r) => r.address),
							authUser: user,
							authMethod: user ? (holder.instance.authMethods.get(session.id) ?? null) : null,
							secure: session.secure,
							tlsVersion: session.secure && tlsOptions ? (tlsOptions.version ?? null) : null,
							port: session.localPort,
							clientHostname: session.hostNameAppearsAs ?? session.clientHostname,
							receivedAt: new Date().toISOString(),
						});
						callback(null, `Message stored as ${message?.seq ?? '?'}`);
					});
				},
				onClose(session) {
					holder.instance?.authMethods.delete(session.id);
				},
			});
			// Connections that break off (port probes, clients giving up mid-TLS) are not our concern.
			server.on('error', () => undefined);
			return server;
		};
		const servers = [make(false), make(true)];
		for (const server of servers) closeWhenFileEnds('SMTP capture server', server.server);
		holder.instance = new SmtpCapture(servers, options.outDir);
		try {
			await Promise.all(
				servers.map(
					(server, i) =>
						new Promise<void>((resolve, reject) => {
							server.server.once('error', reject);
							server.listen(i === 0 ? (options.plainPort ?? 0) : 0, loopbackOnly(options.host ?? LOOPBACK), () => {
								server.server.off('error', reject);
								resolve();
							});
						}),
				),
			);
		} catch (error) {
			// e.g. a fixed port already taken: close whatever did start
			await Promise.all(servers.map((server) => new Promise<void>((resolve) => (server.server.listening ? server.close(() => resolve()) : resolve()))));
			throw error;
		}
		return holder.instance;
	}

	private store(fields: Omit<ReceivedMessage, 'seq' | 'emlPath'>): ReceivedMessage {
		const seq = ++this.count;
		const base = path.join(this.outDir, String(seq).padStart(6, '0'));
		const message: ReceivedMessage = { seq, ...fields, emlPath: `${base}.eml` };
		fs.writeFileSync(message.emlPath, message.raw);
		const { raw: _raw, ...meta } = message;
		fs.writeFileSync(`${base}.json`, `${JSON.stringify(meta, null, 2)}\n`);
		this.messages.push(message);
		const waiters = this.waiters;
		this.waiters = [];
		for (const wake of waiters) wake();
		return message;
	}

	/** Resolves with the first `count` messages once that many have arrived in total. */
	async waitFor(count: number, timeoutMs = 60_000): Promise<ReceivedMessage[]> {
		await this.until(() => this.messages.length >= count, timeoutMs, () => `${this.messages.length} of ${count} messages`);
		return this.messages.slice(0, count);
	}

	/** Resolves with the first message (already received or still to come) that `match` accepts. */
	async waitForMessage(match: (message: ReceivedMessage) => boolean, timeoutMs = 60_000): Promise<ReceivedMessage> {
		let found: ReceivedMessage | undefined;
		await this.until(() => (found = this.messages.find(match)) !== undefined, timeoutMs, () => `no matching message among ${this.messages.length}`);
		return found as ReceivedMessage;
	}

	/** Forgets the messages received so far (the files stay). */
	clear(): void {
		this.messages.length = 0;
	}

	private async until(done: () => boolean, timeoutMs: number, status: () => string): Promise<void> {
		const deadline = Date.now() + timeoutMs;
		while (!done()) {
			const left = deadline - Date.now();
			if (left <= 0) throw new Error(`SMTP capture: ${status()} after ${timeoutMs} ms`);
			await new Promise<void>((resolve) => {
				const wake = () => {
					clearTimeout(timer);
					resolve();
				};
				const timer = setTimeout(() => {
					this.waiters = this.waiters.filter((w) => w !== wake);
					resolve();
				}, left);
				this.waiters.push(wake);
			});
		}
	}

	async stop(): Promise<void> {
		await Promise.all(this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
	}
}
