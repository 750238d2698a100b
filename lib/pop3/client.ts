/**
 * A small POP3 client (RFC 1939, CAPA and response codes from RFC 2449, STLS from RFC 2595,
 * AUTH from RFC 5034): one command at a time, answers read by {@link Pop3ResponseReader} so
 * that any chunking is handled and bodies arrive byte-exact, RETR as a Buffer or a stream with
 * backpressure. DELE only marks messages; the server removes them when QUIT ends the session,
 * and not at all when the connection just drops.
 *
 * Login commands (USER, PASS, APOP, AUTH) throw Pop3CommandError so the login logic in
 * connect.ts can tell the mechanisms apart; every other command throws a MailboxError.
 */
import { createHash } from 'node:crypto';
import type net from 'node:net';
import { Readable } from 'node:stream';
import { redact, type MailboxError } from '../errors';
import { LineClient, type LineClientOptions } from '../connection/line-client';
import type { ResolvedServer } from '../connection/options';
import { CLOSED_BY_SERVER, fromPop3Error, Pop3CommandError } from './errors';
import { Pop3ProtocolError, Pop3ResponseReader, type Pop3Status } from './reader';

export interface Pop3Response {
	status: Pop3Status;
	/** The body of a multi-line response, unless it was streamed to a sink. */
	body?: Buffer;
}

export interface Pop3ListEntry {
	/** Message number in this session (1-based). */
	msg: number;
	/** Size in octets as the server counts it (with CRLF line ends). */
	size: number;
}

export interface Pop3UidlEntry {
	msg: number;
	/** The server's unique id, stable across sessions. */
	uid: string;
}

export type Pop3ClientOptions = LineClientOptions;

interface Exchange {
	/** The command line without CRLF; undefined for the greeting, which comes unasked. */
	line?: string;
	/** The command as logged (secrets replaced). */
	logAs: string;
	multiline?: boolean;
	/** Streams the body instead of collecting it. */
	sink?: (chunk: Buffer) => void;
	/** A collected body larger than this fails the connection (a server, or whoever sits before STLS, flooding it). */
	limit?: number;
}

/** Collected answers at most: capabilities are a few lines; a listing holds a line per message. */
const CAPA_LIMIT = 64 * 1024;
const LISTING_LIMIT = 128 * 1024 * 1024;
const HEADERS_LIMIT = 16 * 1024 * 1024;

/** The APOP timestamp ("<...>") of a greeting, if it has one. */
export function apopTimestamp(greeting: string): string | undefined {
	return /<[^<>\s]+>/.exec(greeting)?.[0];
}

/** RFC 1939 APOP digest: MD5 of timestamp + password, lower-case hex. */
export function apopDigest(timestamp: string, password: string): string {
	return createHash('md5').update(timestamp + password, 'utf8').digest('hex');
}

export class Pop3Client extends LineClient<Pop3ResponseReader> {
	/** The greeting's text after +OK. */
	greeting = '';

	private constructor(socket: net.Socket, server: ResolvedServer, options: Pop3ClientOptions) {
		super(socket, server, new Pop3ResponseReader(), CLOSED_BY_SERVER, options);
	}

	/**
	 * Takes over a connected socket (see openSocket) and reads the greeting, which must come within
	 * the greeting timeout (see {@link LineClient}). Throws a MailboxError.
	 */
	static async start(socket: net.Socket, server: ResolvedServer, options: Pop3ClientOptions = {}): Promise<Pop3Client> {
		const client = new Pop3Client(socket, server, options);
		try {
			const greeting = await client.withinGreetingTimeout(client.exchange({ logAs: 'GREETING' }));
			client.greeting = greeting.status.text;
			client.logger.debug(`pop3: S: +OK ${redact(client.greeting, client.secrets)}`);
			return client;
		} catch (error) {
			client.close();
			throw client.mapError(error);
		}
	}

	/** The APOP timestamp of the greeting; undefined when the server offers no APOP. */
	get apopTimestamp(): string | undefined {
		return apopTimestamp(this.greeting);
	}

	mapError(error: unknown): MailboxError {
		return fromPop3Error(error, this.server, { secrets: this.secrets });
	}

	/** Sends one line (none for the greeting) and reads the answer; not queued. -ERR rejects. */
	private exchange(ex: Exchange): Promise<Pop3Response> {
		return new Promise<Pop3Response>((resolve, reject) => {
			let status: Pop3Status | undefined;
			const parts: Buffer[] = [];
			let size = 0;
			this.reader.expect({
				multiline: ex.multiline ?? false,
				onStatus: (s) => {
					status = s;
					if (ex.line !== undefined) this.logger.debug(`pop3: S: ${s.continuation ? '+' : s.ok ? '+OK' : '-ERR'}${s.code ? ` [${s.code}]` : ''} ${redact(s.text, this.secrets)}`.trimEnd());
				},
				onBody: (chunk) => {
					if (ex.sink) return ex.sink(chunk);
					size += chunk.length;
					if (ex.limit && size > ex.limit) {
						this.reader.fail(new Pop3ProtocolError(`an answer to ${ex.logAs.split(' ')[0]} longer than ${ex.limit} bytes`, parts[0]?.subarray(0, 80).toString('latin1') ?? '', true));
						return;
					}
					parts.push(chunk);
				},
				onEnd: () => {
					if (!status?.ok) reject(new Pop3CommandError(ex.logAs.split(' ')[0], status!));
					else resolve({ status, body: ex.multiline && !ex.sink ? Buffer.concat(parts) : undefined });
				},
				onError: reject,
			});
			if (ex.line !== undefined) {
				this.logger.debug(`pop3: C: ${ex.logAs}`);
				this.send(`${ex.line}\r\n`);
			}
		});
	}

	/** A data command: queued, errors mapped to MailboxError. */
	private async command(line: string, multiline = false, limit?: number): Promise<Pop3Response> {
		return this.enqueue(() => this.exchange({ line, logAs: line, multiline, limit })).catch((error: unknown) => {
			throw this.mapError(error);
		});
	}

	/** RFC 2449 capabilities, one entry per line ("TOP", "SASL PLAIN LOGIN"...); undefined if CAPA is refused. */
	async capa(): Promise<string[] | undefined> {
		try {
			const { body } = await this.enqueue(() => this.exchange({ line: 'CAPA', logAs: 'CAPA', multiline: true, limit: CAPA_LIMIT }));
			return body!
				.toString('utf8')
				.split(/\r?\n/)
				.map((l) => l.trim())
				.filter(Boolean);
		} catch (error) {
			if (error instanceof Pop3CommandError) return undefined;
			throw this.mapError(error);
		}
	}

	/**
	 * STLS (RFC 2595): after +OK the connection is upgraded with the server's TLS options. Throws
	 * Pop3CommandError when refused, a MailboxError when the handshake fails.
	 */
	async stls(): Promise<void> {
		await this.enqueue(async () => {
			await this.exchange({ line: 'STLS', logAs: 'STLS' });
			await this.upgradeConnection().catch((error: unknown) => {
				throw this.mapError(error);
			});
		});
	}

	/** USER; throws Pop3CommandError when refused. */
	user(name: string): Promise<Pop3Response> {
		return this.enqueue(() => this.exchange({ line: `USER ${name}`, logAs: `USER ${name}` }));
	}

	/** PASS; throws Pop3CommandError when refused. */
	pass(password: string): Promise<Pop3Response> {
		return this.enqueue(() => this.exchange({ line: `PASS ${password}`, logAs: 'PASS [hidden]' }));
	}

	/** APOP with the digest of the greeting's timestamp; the password itself is never sent. */
	apop(name: string, password: string): Promise<Pop3Response> {
		const timestamp = this.apopTimestamp;
		if (!timestamp) return Promise.reject(new Error('the greeting has no APOP timestamp'));
		return this.enqueue(() => this.exchange({ line: `APOP ${name} ${apopDigest(timestamp, password)}`, logAs: `APOP ${name} [digest]` }));
	}

	/**
	 * AUTH with an initial response (RFC 5034). A challenge ("+ ...") is answered by `respond`,
	 * which gets the decoded challenge; throws Pop3CommandError when the server says -ERR.
	 */
	authenticate(mechanism: string, initialResponse: string, respond: (challenge: string) => string): Promise<Pop3Response> {
		return this.enqueue(async () => {
			let response = await this.exchange({ line: `AUTH ${mechanism} ${initialResponse}`, logAs: `AUTH ${mechanism} [hidden]` });
			for (let round = 0; response.status.continuation; round++) {
				if (round >= 3) throw new Pop3CommandError('AUTH', { ok: false, continuation: false, text: 'too many challenges' });
				const challenge = Buffer.from(response.status.text, 'base64').toString('utf8');
				response = await this.exchange({ line: respond(challenge), logAs: '[hidden]' }).catch((error: unknown) => {
					// The challenge is the server's explanation (e.g. {"status":"401"}): keep it.
					if (error instanceof Pop3CommandError && challenge) throw new Pop3CommandError('AUTH', { ...error.status, text: `${error.status.text} ${challenge}`.trim() });
					throw error;
				});
			}
			return response;
		});
	}

	/** Number of messages and their total size in octets. */
	async stat(): Promise<{ count: number; size: number }> {
		const { status } = await this.command('STAT');
		const match = /^(\d+)\s+(\d+)/.exec(status.text);
		if (!match) throw this.mapError(new Pop3CommandError('STAT', { ...status, ok: false, text: `unexpected answer "${status.text}"` }));
		return { count: Number(match[1]), size: Number(match[2]) };
	}

	/** Sizes of all messages not marked deleted. */
	async list(): Promise<Pop3ListEntry[]> {
		const { body } = await this.command('LIST', true, LISTING_LIMIT);
		return parseListing(body!).map(([msg, size]) => ({ msg, size: Number(size) }));
	}

	/** The size of one message. */
	async listOne(msg: number): Promise<Pop3ListEntry> {
		const { status } = await this.command(`LIST ${messageNumber(msg)}`);
		const [n, size] = status.text.split(/\s+/);
		return { msg: Number(n), size: Number(size) };
	}

	/** Unique ids of all messages not marked deleted. */
	async uidl(): Promise<Pop3UidlEntry[]> {
		const { body } = await this.command('UIDL', true, LISTING_LIMIT);
		return parseListing(body!).map(([msg, uid]) => ({ msg, uid }));
	}

	async uidlOne(msg: number): Promise<Pop3UidlEntry> {
		const { status } = await this.command(`UIDL ${messageNumber(msg)}`);
		const [n, uid] = status.text.split(/\s+/);
		return { msg: Number(n), uid };
	}

	/** The header and the first `lines` body lines of a message. */
	async top(msg: number, lines = 0): Promise<Buffer> {
		if (!Number.isInteger(lines) || lines < 0) throw new RangeError(`TOP needs a line count >= 0, got ${lines}`);
		return (await this.command(`TOP ${messageNumber(msg)} ${lines}`, true, lines === 0 ? HEADERS_LIMIT : undefined)).body!;
	}

	/** The whole message as stored (CRLF line ends), dot-unstuffed. */
	async retr(msg: number): Promise<Buffer> {
		return (await this.command(`RETR ${messageNumber(msg)}`, true)).body!;
	}

	/**
	 * The whole message as a stream. Reading slowly slows the connection down (backpressure);
	 * the next command starts when the stream has ended. Errors (-ERR, dropped connection) arrive
	 * as the stream's 'error', a MailboxError. Destroying the stream early drops the rest of the
	 * message and frees the connection for the next command.
	 */
	retrStream(msg: number): Readable {
		const line = `RETR ${messageNumber(msg)}`;
		const stream = new Readable({
			read: () => {
				if (this.socket.isPaused()) this.socket.resume();
			},
		});
		stream.once('close', () => {
			if (this.socket.isPaused()) this.socket.resume();
		});
		this.enqueue(() =>
			this.exchange({
				line,
				logAs: line,
				multiline: true,
				sink: (chunk) => {
					// A reader that gave up: the rest is read and dropped, so the next command can go on.
					if (stream.destroyed) return;
					if (!stream.push(chunk)) this.socket.pause();
				},
			}),
		).then(
			() => {
				if (this.socket.isPaused()) this.socket.resume();
				stream.push(null);
			},
			(error: unknown) => {
				if (this.socket.isPaused()) this.socket.resume();
				stream.destroy(this.mapError(error));
			},
		);
		return stream;
	}

	/** Marks a message deleted; it is removed only when QUIT ends the session. */
	async dele(msg: number): Promise<void> {
		await this.command(`DELE ${messageNumber(msg)}`);
	}

	/** Unmarks every message marked deleted in this session. */
	async rset(): Promise<void> {
		await this.command('RSET');
	}

	async noop(): Promise<void> {
		await this.command('NOOP');
	}

	/**
	 * Ends the session: the server now removes the messages marked deleted. Closes the connection.
	 * close() instead drops the connection without QUIT: nothing marked deleted is removed.
	 */
	async quit(): Promise<void> {
		if (this.closed) return;
		try {
			await this.command('QUIT');
		} finally {
			this.close();
		}
	}
}

function messageNumber(msg: number): number {
	if (!Number.isInteger(msg) || msg < 1) throw new RangeError(`POP3 message numbers start at 1, got ${msg}`);
	return msg;
}

/** "1 120\r\n2 4410\r\n" -> [[1, '120'], [2, '4410']]. */
function parseListing(body: Buffer): Array<[number, string]> {
	return body
		.toString('latin1')
		.split(/\r?\n/)
		.map((l) => l.trim().split(/\s+/))
		.filter((parts) => parts.length >= 2 && /^\d+$/.test(parts[0]))
		.map((parts) => [Number(parts[0]), parts[1]]);
}
