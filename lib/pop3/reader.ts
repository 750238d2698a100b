/**
 * The POP3 response reader (RFC 1939 section 3): status lines, and multi-line bodies that end
 * with a line holding only "." and in which the server doubled every leading ".".
 *
 * It is fed the socket's chunks as they come and is correct for any chunking: the terminator
 * "\r\n.\r\n" may be split across reads (TLS records do that), a body line may start in one
 * chunk and end in another, and a leading "." is removed exactly once ("..", ".foo" arrive as
 * ".", "foo" was ".foo"). Bodies are handed on chunk by chunk without being collected, so a
 * large message is streamed; only the one or two bytes after a line break that starts with "."
 * are held back until the next chunk shows whether they end the body.
 */

/** One status line: "+OK text", "-ERR [CODE] text", or a SASL continuation "+ challenge". */
export interface Pop3Status {
	ok: boolean;
	/** "+ ..." during AUTH: the server waits for the next client line. */
	continuation: boolean;
	/** The text after +OK / -ERR / + (without a response code). */
	text: string;
	/** The RFC 2449 response code in brackets, upper case: AUTH, IN-USE, SYS/TEMP, LOGIN-DELAY... */
	code?: string;
}

/** What one command expects back. */
export interface ResponseHandler {
	/** true: a body follows a positive status line (CAPA, LIST, UIDL, TOP, RETR without argument). */
	multiline: boolean;
	onStatus(status: Pop3Status): void;
	/** Body bytes, dot-unstuffed, line ends as sent (CRLF), without the terminator. */
	onBody?(chunk: Buffer): void;
	/** The response is complete. */
	onEnd(): void;
	onError(error: Error): void;
}

/** A status line longer than this is not POP3 (RFC 2449 allows 512 bytes; leave room). */
const MAX_STATUS_LINE = 8 * 1024;
const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const LF_DOT = Buffer.from('\n.');

export function parseStatus(line: string): Pop3Status | undefined {
	const match = /^(\+OK|-ERR)(?:\s(.*))?$/i.exec(line);
	if (match) {
		const rest = (match[2] ?? '').trim();
		const code = /^\[([^\]]+)\]\s*/.exec(rest);
		return { ok: match[1].toUpperCase() === '+OK', continuation: false, text: code ? rest.slice(code[0].length) : rest, code: code?.[1].toUpperCase() };
	}
	if (line === '+' || line.startsWith('+ ')) return { ok: true, continuation: true, text: line.slice(2) };
	return undefined;
}

export class Pop3ProtocolError extends Error {
	readonly code = 'EPOP3PROTOCOL';
	constructor(
		message: string,
		/** The start of what the server sent instead. */
		readonly received: string,
		/** An answer longer than any POP3 server sends (not another protocol). */
		readonly tooLong = false,
	) {
		super(message);
		this.name = 'Pop3ProtocolError';
	}
}

export class Pop3ResponseReader {
	private readonly handlers: ResponseHandler[] = [];
	private buffer: Buffer = Buffer.alloc(0);
	private inBody = false;
	private lineStart = true;
	private failed?: Error;

	/** Queues the handler of the next response; responses come in the order of the commands. */
	expect(handler: ResponseHandler): void {
		if (this.failed) {
			handler.onError(this.failed);
			return;
		}
		this.handlers.push(handler);
		if (this.buffer.length) this.process(Buffer.alloc(0));
	}

	/** Feeds bytes from the socket. */
	push(chunk: Buffer): void {
		if (this.failed) return;
		this.process(chunk);
	}

	/** True when a response is awaited. */
	get busy(): boolean {
		return this.handlers.length > 0;
	}

	/** Drops bytes nobody asked for yet, e.g. before a TLS upgrade (they would be unencrypted). */
	discard(): number {
		const dropped = this.buffer.length;
		this.buffer = Buffer.alloc(0);
		return dropped;
	}

	/** Fails every awaited response and all later ones (the connection is gone). */
	fail(error: Error): void {
		if (this.failed) return;
		this.failed = error;
		for (const handler of this.handlers.splice(0)) handler.onError(error);
	}

	private process(chunk: Buffer): void {
		let data = this.buffer.length ? (chunk.length ? Buffer.concat([this.buffer, chunk]) : this.buffer) : chunk;
		this.buffer = Buffer.alloc(0);
		while (data.length && this.handlers.length) {
			data = this.inBody ? this.readBody(data) : this.readStatus(data);
			if (this.failed) return;
		}
		// Bytes nobody waits for yet (pipelined answers, a greeting before expect()) are kept.
		if (data.length) this.buffer = Buffer.from(data);
	}

	/** Reads one status line; returns what follows it, or `data` unchanged when incomplete. */
	private readStatus(data: Buffer): Buffer {
		const handler = this.handlers[0];
		const end = data.indexOf(LF);
		if (end < 0) {
			if (data.length > MAX_STATUS_LINE) this.fail(new Pop3ProtocolError(`a status line longer than ${MAX_STATUS_LINE} bytes`, data.subarray(0, 80).toString('latin1'), true));
			this.buffer = Buffer.from(data);
			return Buffer.alloc(0);
		}
		const line = data.subarray(0, end > 0 && data[end - 1] === CR ? end - 1 : end).toString('utf8');
		const status = parseStatus(line);
		if (!status) {
			this.fail(new Pop3ProtocolError('the server did not answer like a POP3 server', line.slice(0, 80)));
			return Buffer.alloc(0);
		}
		handler.onStatus(status);
		if (handler.multiline && status.ok && !status.continuation) {
			this.inBody = true;
			this.lineStart = true;
		} else {
			this.handlers.shift();
			handler.onEnd();
		}
		return data.subarray(end + 1);
	}

	/** Passes body bytes on; returns the bytes after the terminator (empty while the body goes on). */
	private readBody(data: Buffer): Buffer {
		const handler = this.handlers[0];
		const out: Buffer[] = [];
		let i = 0;
		let ended = false;
		while (i < data.length) {
			if (this.lineStart && data[i] === DOT) {
				// "." + CRLF (or a bare LF) ends the body; any other leading dot was doubled by the server.
				if (i + 1 >= data.length) break;
				if (data[i + 1] === LF) {
					i += 2;
					ended = true;
					break;
				}
				if (data[i + 1] === CR) {
					if (i + 2 >= data.length) break;
					if (data[i + 2] === LF) {
						i += 3;
						ended = true;
						break;
					}
				}
				i += 1;
			}
			this.lineStart = false;
			// Everything up to the next line that starts with "." passes unchanged.
			const next = data.indexOf(LF_DOT, i);
			if (next < 0) {
				out.push(data.subarray(i));
				this.lineStart = data[data.length - 1] === LF;
				i = data.length;
			} else {
				out.push(data.subarray(i, next + 1));
				i = next + 1;
				this.lineStart = true;
			}
		}
		if (out.length) handler.onBody?.(out.length === 1 ? out[0] : Buffer.concat(out));
		if (ended) {
			this.inBody = false;
			this.handlers.shift();
			handler.onEnd();
			return data.subarray(i);
		}
		// Held back: the "." (or ".\r") at the start of a line, until the next chunk decides.
		if (i < data.length) this.buffer = Buffer.from(data.subarray(i));
		return Buffer.alloc(0);
	}
}
