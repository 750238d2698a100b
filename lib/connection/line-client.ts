/**
 * The connection half of this package's own line-based protocol clients (POP3, ManageSieve):
 * owning the socket, feeding what arrives to the protocol's response reader, failing the reader
 * when the connection errs or closes, the idle timeout while an answer is due, one command at a
 * time, the greeting timeout, and swapping the socket for a TLS one after STARTTLS/STLS.
 *
 * What the lines mean stays with each protocol: its reader parses the answers, its client sends
 * the commands, logs them and maps the errors.
 */
import type net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { silentLogger, type Logger } from '../logger';
import type { ResolvedServer } from './options';
import { codedError, greetingTimeoutMs, upgradeToTls } from './socket';

/** Commands wait this long for an answer that has started arriving or is due (idle time). */
const MIN_COMMAND_TIMEOUT_MS = 60_000;

/** What the client needs of a protocol's response reader. */
export interface LineReader {
	/** Feeds bytes from the socket. */
	push(chunk: Buffer): void;
	/** Fails every awaited answer and all later ones (the connection is gone). */
	fail(error: Error): void;
	/** True when an answer is awaited. */
	readonly busy: boolean;
	/** Drops bytes nobody asked for yet; returns how many. */
	discard(): number;
}

export interface LineClientOptions {
	logger?: Logger;
	/** Removed from every log line and message. */
	secrets?: ReadonlyArray<string | undefined>;
}

export abstract class LineClient<R extends LineReader> {
	protected closed = false;
	protected readonly logger: Logger;
	protected readonly secrets: ReadonlyArray<string | undefined>;
	private queue: Promise<unknown> = Promise.resolve();
	private received = 0;
	private readonly onData = (chunk: Buffer) => {
		this.received += chunk.length;
		this.reader.push(chunk);
	};
	private readonly onError = (error: Error) => this.reader.fail(error);
	private readonly onClose = () => {
		this.closed = true;
		this.reader.fail(codedError(this.closedCode, 'the server closed the connection'));
	};
	private readonly onTimeout = () => {
		// Idle while an answer is due; a paused socket waits for a slow reader of a stream instead.
		if (this.reader.busy && !this.socket.isPaused()) this.socket.destroy(codedError('ETIMEDOUT', 'no answer in time'));
	};

	/**
	 * @param reader the protocol's response reader, fed everything the socket receives
	 * @param closedCode the error code the reader fails with when the server closes the connection
	 */
	protected constructor(
		protected socket: net.Socket,
		readonly server: ResolvedServer,
		protected readonly reader: R,
		private readonly closedCode: string,
		options: LineClientOptions,
	) {
		this.logger = options.logger ?? silentLogger;
		this.secrets = [...(options.secrets ?? []), server.proxy?.password];
		this.attach(socket);
	}

	/** The TLS socket when the connection is encrypted. */
	get tlsSocket(): TLSSocket | undefined {
		return 'encrypted' in this.socket && (this.socket as TLSSocket).encrypted ? (this.socket as TLSSocket) : undefined;
	}

	/** Bytes received from the server so far (after STARTTLS/STLS or over TLS: decrypted bytes). */
	get bytesReceived(): number {
		return this.received;
	}

	get isClosed(): boolean {
		return this.closed;
	}

	/** Drops the connection at once, without the protocol's goodbye. */
	close(): void {
		this.closed = true;
		this.socket.destroy();
	}

	/** Runs `task` after every earlier command has finished. */
	protected enqueue<T>(task: () => Promise<T>): Promise<T> {
		const run = this.queue.then(task, task);
		this.queue = run.catch(() => undefined);
		return run;
	}

	/** Writes to the server, unless the connection is closed (the reader has failed the answer then). */
	protected send(data: Buffer | string): void {
		if (this.closed) return;
		this.socket.write(data);
	}

	/** `greeting`, or a GREETING_TIMEOUT error when it has not come within {@link greetingTimeoutMs}. */
	protected withinGreetingTimeout<T>(greeting: Promise<T>): Promise<T> {
		let timer: NodeJS.Timeout | undefined;
		const timeout = new Promise<never>((_resolve, reject) => {
			timer = setTimeout(() => reject(codedError('GREETING_TIMEOUT', 'no greeting')), greetingTimeoutMs(this.server));
		});
		return Promise.race([greeting, timeout]).finally(() => clearTimeout(timer));
	}

	/**
	 * After the server agreed to STARTTLS/STLS: upgrades the connection with the server's TLS
	 * options. When the handshake fails the connection is closed, the reader failed, and what
	 * {@link upgradeToTls} threw is thrown.
	 */
	protected async upgradeConnection(): Promise<void> {
		// Anything already received came unencrypted and unasked: never treat it as an answer.
		this.reader.discard();
		const plain = this.socket;
		this.detach(plain);
		// The TLS socket reports failures of the connection underneath; this only keeps a late
		// error of the plain socket from going unhandled.
		plain.on('error', () => undefined);
		this.socket = await upgradeToTls(plain, this.server, this.secrets).catch((error: Error) => {
			this.closed = true;
			this.reader.fail(error);
			throw error;
		});
		this.attach(this.socket);
	}

	private attach(socket: net.Socket): void {
		socket.on('data', this.onData);
		socket.on('error', this.onError);
		socket.on('close', this.onClose);
		socket.on('timeout', this.onTimeout);
		socket.setTimeout(Math.max(this.server.timeoutMs, MIN_COMMAND_TIMEOUT_MS));
		// a tunnel is handed over paused (its first bytes kept for us): a 'data' listener alone does not resume it
		if (socket.isPaused()) socket.resume();
	}

	private detach(socket: net.Socket): void {
		socket.removeListener('data', this.onData);
		socket.removeListener('error', this.onError);
		socket.removeListener('close', this.onClose);
		socket.removeListener('timeout', this.onTimeout);
		socket.setTimeout(0);
	}
}
