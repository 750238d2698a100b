/**
 * The ManageSieve response reader (RFC 5804 section 4): the server sends lines of tokens
 * (atoms, quoted strings, literals "{n}" CRLF <n octets>, and parenthesised response codes), and
 * every answer ends with a line starting OK, NO or BYE, optionally followed by a response code
 * and a human-readable string. Data lines come before it: capabilities, LISTSCRIPTS entries,
 * GETSCRIPT's script as a literal, and during AUTHENTICATE the server's challenges (a line that
 * is a single string).
 *
 * It is fed the socket's chunks as they come and is correct for any chunking: a line, a quoted
 * string with escapes or a literal may be split anywhere. A literal's octets are taken as they
 * are, so a script containing CRLF, quotes or "OK" lines arrives byte-exact.
 */

/** A quoted string or a literal, decoded (UTF-8). */
export interface SieveString {
	kind: 'string';
	value: string;
	/** Sent as a literal ({n} CRLF ...) rather than quoted. */
	literal: boolean;
}

export interface SieveAtom {
	kind: 'atom';
	/** As sent (OK, NO, BYE, ACTIVE, QUOTA/MAXSIZE...). */
	value: string;
}

export interface SieveList {
	kind: 'list';
	items: SieveToken[];
}

export type SieveToken = SieveString | SieveAtom | SieveList;

/** The response code of an OK/NO/BYE line: "(QUOTA/MAXSIZE)", "(SASL "...")", "(TAG "x")". */
export interface SieveResponseCode {
	/** Upper case: NONEXISTENT, ACTIVE, QUOTA/MAXSIZE, WARNINGS, SASL, TAG, TRYLATER... */
	name: string;
	/** The code's arguments as strings (e.g. the SASL server data, the REFERRAL URL). */
	args: string[];
}

/** The line that ends an answer. */
export interface SieveStatus {
	status: 'OK' | 'NO' | 'BYE';
	code?: SieveResponseCode;
	/** The server's explanation (may be empty; may span lines when sent as a literal). */
	text: string;
}

/** What one command (or the greeting) expects back. */
export interface SieveResponseHandler {
	/** A line before the status line (capabilities, a script name, a challenge...). */
	onData(tokens: SieveToken[]): void;
	/** The answer is complete. */
	onStatus(status: SieveStatus): void;
	onError(error: Error): void;
	/**
	 * Whether a data line ends the answer as well: AUTHENTICATE's challenges are a string on a line
	 * of its own, to which the client must reply before the server goes on.
	 */
	endsOnData?(tokens: SieveToken[]): boolean;
}

/** A line of tokens longer than this (outside literals) is not ManageSieve. */
const MAX_LINE = 64 * 1024;
/** The largest literal accepted: scripts are small (servers limit them to a few hundred KiB). */
export const MAX_LITERAL = 16 * 1024 * 1024;
/** Literals on one line at most: ManageSieve's answers carry one or two (GETSCRIPT, a NO's reason). */
const MAX_LITERALS_PER_LINE = 8;
/** What one line may span, its literals included; more unread bytes than this are not ManageSieve. */
export const MAX_BUFFERED = MAX_LITERAL + 2 * MAX_LINE;
const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const LPAREN = 0x28;
const RPAREN = 0x29;
const LBRACE = 0x7b;

export class SieveProtocolError extends Error {
	readonly code = 'ESIEVEPROTOCOL';
	constructor(
		message: string,
		/** The start of what the server sent instead. */
		readonly received: string,
	) {
		super(message);
		this.name = 'SieveProtocolError';
	}
}

type Parsed = { tokens: SieveToken[]; next: number } | { need: number } | { error: string };

/**
 * Parses one line of tokens starting at `start`. Returns the tokens and where the next line
 * begins, or how many bytes the buffer must hold before trying again, or what is wrong.
 */
export function parseLine(data: Buffer, start = 0): Parsed {
	const stack: SieveToken[][] = [[]];
	let i = start;
	let literals = 0;
	const push = (token: SieveToken) => stack[stack.length - 1].push(token);
	while (i < data.length) {
		const byte = data[i];
		if (byte === CR || byte === LF) {
			if (byte === CR) {
				if (i + 1 >= data.length) return { need: i + 2 };
				if (data[i + 1] !== LF) return { error: 'a CR without LF' };
				i += 2;
			} else i += 1;
			if (stack.length > 1) return { error: 'a line ended inside parentheses' };
			return { tokens: stack[0], next: i };
		}
		if (byte === SP) {
			i++;
			continue;
		}
		if (byte === LPAREN) {
			stack.push([]);
			i++;
			continue;
		}
		if (byte === RPAREN) {
			if (stack.length < 2) return { error: 'an unexpected ")"' };
			const items = stack.pop()!;
			push({ kind: 'list', items });
			i++;
			continue;
		}
		if (byte === DQUOTE) {
			const parts: number[] = [];
			let j = i + 1;
			let closed = false;
			while (j < data.length) {
				const c = data[j];
				if (c === BACKSLASH) {
					if (j + 1 >= data.length) break;
					parts.push(data[j + 1]);
					j += 2;
					continue;
				}
				if (c === DQUOTE) {
					closed = true;
					break;
				}
				if (c === CR || c === LF) return { error: 'a quoted string with a line break' };
				parts.push(c);
				j++;
			}
			if (!closed) {
				if (j - start > MAX_LINE) return { error: 'a line too long' };
				return { need: j + 1 };
			}
			push({ kind: 'string', value: Buffer.from(parts).toString('utf8'), literal: false });
			i = j + 1;
			continue;
		}
		if (byte === LBRACE) {
			const close = data.indexOf('}', i);
			if (close < 0) {
				if (data.length - i > 32) return { error: 'a malformed literal' };
				return { need: data.length + 1 };
			}
			const match = /^\{(\d{1,10})\+?\}$/.exec(data.subarray(i, close + 1).toString('latin1'));
			if (!match) return { error: 'a malformed literal' };
			const size = Number(match[1]);
			if (size > MAX_LITERAL) return { error: `a literal of ${size} bytes (more than ${MAX_LITERAL})` };
			if (++literals > MAX_LITERALS_PER_LINE) return { error: `more than ${MAX_LITERALS_PER_LINE} literals on one line` };
			let body = close + 1;
			if (body >= data.length) return { need: body + 2 + size };
			if (data[body] === CR) {
				if (body + 1 >= data.length) return { need: body + 2 + size };
				if (data[body + 1] !== LF) return { error: 'a literal without CRLF' };
				body += 2;
			} else if (data[body] === LF) body += 1;
			else return { error: 'a literal without CRLF' };
			if (body + size > data.length) return { need: body + size };
			push({ kind: 'string', value: data.subarray(body, body + size).toString('utf8'), literal: true });
			i = body + size;
			continue;
		}
		// An atom: anything up to a space, a line end, or a parenthesis.
		let j = i;
		while (j < data.length && data[j] !== SP && data[j] !== CR && data[j] !== LF && data[j] !== LPAREN && data[j] !== RPAREN && data[j] !== DQUOTE) {
			if (data[j] < 0x20 || data[j] === 0x7f) return { error: 'a control character' };
			j++;
		}
		if (j >= data.length) {
			if (j - start > MAX_LINE) return { error: 'a line too long' };
			return { need: j + 1 };
		}
		push({ kind: 'atom', value: data.subarray(i, j).toString('latin1') });
		i = j;
	}
	if (i - start > MAX_LINE) return { error: 'a line too long' };
	return { need: i + 1 };
}

/** The text of a token (strings and atoms), '' for lists. */
export function tokenText(token: SieveToken | undefined): string {
	return token && token.kind !== 'list' ? token.value : '';
}

/** The status line's parts, or undefined when the line is a data line. */
export function statusOf(tokens: SieveToken[]): SieveStatus | undefined {
	const first = tokens[0];
	if (first?.kind !== 'atom') return undefined;
	const status = first.value.toUpperCase();
	if (status !== 'OK' && status !== 'NO' && status !== 'BYE') return undefined;
	let rest = tokens.slice(1);
	let code: SieveResponseCode | undefined;
	if (rest[0]?.kind === 'list') {
		const [name, ...args] = rest[0].items;
		code = { name: tokenText(name).toUpperCase(), args: args.map(tokenText) };
		rest = rest.slice(1);
	}
	return { status, code, text: rest.map(tokenText).join(' ') };
}

export class SieveResponseReader {
	private readonly handlers: SieveResponseHandler[] = [];
	private buffer: Buffer = Buffer.alloc(0);
	/** Chunks come in while a literal is on its way: joined once it is complete (not at every read). */
	private chunks: Buffer[] = [];
	private chunkBytes = 0;
	/** Bytes the buffer must hold before a parse can succeed (a literal on its way). */
	private needed = 0;
	/** The line so far is incomplete outside a literal: only a line end can complete it. */
	private awaitLineEnd = false;
	private failed?: Error;
	private processing = false;

	/** Queues the handler of the next answer; answers come in the order of the commands. */
	expect(handler: SieveResponseHandler): void {
		if (this.failed) {
			handler.onError(this.failed);
			return;
		}
		this.handlers.push(handler);
		if (this.buffer.length || this.chunkBytes) this.flush();
	}

	/** Feeds bytes from the socket. */
	push(chunk: Buffer): void {
		if (this.failed || !chunk.length) return;
		this.chunks.push(Buffer.from(chunk));
		this.chunkBytes += chunk.length;
		const total = this.buffer.length + this.chunkBytes;
		if (total > MAX_BUFFERED) {
			// no answer line is that long: a server (or whoever sits before STARTTLS) flooding us
			this.fail(new SieveProtocolError(`the server sent more than ${MAX_BUFFERED} bytes without ending an answer`, this.peek()));
			this.discard();
			return;
		}
		// parsing again at every read would make a long line cost its length squared
		if (total < this.needed || (this.awaitLineEnd && !chunk.includes(LF))) return;
		this.buffer = Buffer.concat([this.buffer, ...this.chunks]);
		this.chunks = [];
		this.chunkBytes = 0;
		this.process();
	}

	/** The start of what is buffered, for an error message. */
	private peek(): string {
		return Buffer.concat([this.buffer.subarray(0, 80), ...this.chunks.slice(0, 2)]).subarray(0, 80).toString('latin1').split(/\r?\n/)[0];
	}

	/** True when an answer is awaited. */
	get busy(): boolean {
		return this.handlers.length > 0;
	}

	/** Drops bytes nobody asked for yet, e.g. before a TLS upgrade (they came unencrypted). */
	discard(): number {
		const dropped = this.buffer.length + this.chunkBytes;
		this.buffer = Buffer.alloc(0);
		this.chunks = [];
		this.chunkBytes = 0;
		this.needed = 0;
		this.awaitLineEnd = false;
		return dropped;
	}

	/** Joins what came in and parses it. */
	private flush(): void {
		if (this.chunkBytes) {
			this.buffer = Buffer.concat([this.buffer, ...this.chunks]);
			this.chunks = [];
			this.chunkBytes = 0;
		}
		this.process();
	}

	/** Fails every awaited answer and all later ones (the connection is gone). */
	fail(error: Error): void {
		if (this.failed) return;
		this.failed = error;
		for (const handler of this.handlers.splice(0)) handler.onError(error);
	}

	private process(): void {
		// A handler may queue the next one (AUTHENTICATE answering a challenge): the loop below
		// picks it up, so expect() must not start a second pass over the same bytes.
		if (this.processing) return;
		this.processing = true;
		try {
			while (this.handlers.length && this.buffer.length) {
				const parsed = parseLine(this.buffer);
				if ('need' in parsed) {
					this.needed = parsed.need;
					this.awaitLineEnd = parsed.need <= this.buffer.length + 1;
					return;
				}
				if ('error' in parsed) {
					this.fail(new SieveProtocolError(`the server did not answer like a ManageSieve server (${parsed.error})`, this.buffer.subarray(0, 80).toString('latin1').split(/\r?\n/)[0]));
					return;
				}
				const line = this.buffer.subarray(0, parsed.next);
				// Consumed before any handler runs.
				this.buffer = parsed.next >= this.buffer.length ? Buffer.alloc(0) : Buffer.from(this.buffer.subarray(parsed.next));
				this.needed = 0;
				this.awaitLineEnd = false;
				const handler = this.handlers[0];
				const status = statusOf(parsed.tokens);
				if (status) {
					this.handlers.shift();
					handler.onStatus(status);
					continue;
				}
				// A data line must begin with a string (capabilities, script names, challenges, GETSCRIPT).
				if (parsed.tokens[0]?.kind !== 'string') {
					this.fail(new SieveProtocolError('the server did not answer like a ManageSieve server', line.toString('latin1').replace(/\r?\n$/, '').slice(0, 80)));
					return;
				}
				if (handler.endsOnData?.(parsed.tokens)) this.handlers.shift();
				handler.onData(parsed.tokens);
			}
		} finally {
			this.processing = false;
			if (!this.handlers.length) {
				this.needed = 0;
				this.awaitLineEnd = false;
			}
		}
	}
}
