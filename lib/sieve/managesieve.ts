/**
 * A ManageSieve client (RFC 5804): the greeting's capabilities, STARTTLS (capabilities read again
 * afterwards, as the RFC requires), AUTHENTICATE with an initial response (PLAIN, XOAUTH2,
 * OAUTHBEARER), and the script commands LISTSCRIPTS, GETSCRIPT, PUTSCRIPT, CHECKSCRIPT,
 * SETACTIVE, DELETESCRIPT, HAVESPACE, LOGOUT. One command at a time; answers are read by
 * {@link SieveResponseReader}, so any chunking is handled.
 *
 * Scripts are sent as non-synchronizing literals "{n+}" CRLF <n octets>: RFC 5804's grammar
 * defines only that form for client-to-server literals (the synchronizing "{n}" is IMAP's; some
 * servers, Dovecot among them, accept it too, but waiting for a continuation that a conforming
 * server never sends would hang). Names and short arguments go as quoted strings with '"' and
 * '\' escaped; a name with a line break or NUL is refused before anything is sent.
 *
 * A NO or BYE answer throws {@link SieveCommandError} with the server's response code and text;
 * the caller maps it (errors.ts). Secrets (the SASL initial response) are never logged.
 */
import type net from 'node:net';
import { redact } from '../errors';
import { LineClient, type LineClientOptions } from '../connection/line-client';
import type { ResolvedServer } from '../connection/options';
import { SieveResponseReader, tokenText, type SieveStatus, type SieveToken } from './reader';

/** The server closed the connection while the client waited for an answer. */
export const SIEVE_CLOSED = 'ESIEVECLOSED';

/** What the server says it supports (greeting, CAPABILITY, after STARTTLS and after login). */
export interface SieveCapabilities {
	/** IMPLEMENTATION: the server's name and version, e.g. "Dovecot Pigeonhole". */
	implementation?: string;
	/** SASL mechanisms, upper case; empty after login (the server no longer lists them). */
	sasl: string[];
	/** Sieve extensions the server supports (SIEVE), lower case: vacation, date, relational, include... */
	sieve: string[];
	starttls: boolean;
	/** VERSION: "1.0" for RFC 5804 servers; absent for older (draft) servers. */
	version?: string;
	/** MAXREDIRECTS, NOTIFY, OWNER, LANGUAGE and any other as sent. */
	other: Record<string, string>;
}

export interface SieveScriptEntry {
	name: string;
	active: boolean;
}

/** A NO or BYE answer. `command` is the verb only: arguments may be secret. */
export class SieveCommandError extends Error {
	readonly code = 'ESIEVENO';
	constructor(
		readonly command: string,
		readonly status: SieveStatus,
	) {
		super(`${command} was refused: ${status.status}${status.code ? ` (${status.code.name}${status.code.args.length ? ` ${status.code.args.join(' ')}` : ''})` : ''} ${status.text}`.trimEnd());
		this.name = 'SieveCommandError';
	}
}

export type SieveClientOptions = LineClientOptions;

export interface SieveAnswer {
	status: SieveStatus;
	/** The data lines before the status line. */
	lines: SieveToken[][];
}

/** A quoted string with '"' and '\' escaped; throws for a line break or NUL (not allowed in quoted strings). */
export function quoted(value: string): string {
	if (/[\r\n\0]/.test(value)) throw new RangeError('a ManageSieve string argument cannot contain a line break or NUL');
	return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A non-synchronizing literal: "{n+}" CRLF and the UTF-8 octets. */
export function literal(value: string): Buffer {
	const bytes = Buffer.from(value, 'utf8');
	return Buffer.concat([Buffer.from(`{${bytes.length}+}\r\n`, 'latin1'), bytes]);
}

/** The capabilities from the data lines of a greeting or CAPABILITY answer. */
export function parseCapabilities(lines: SieveToken[][]): SieveCapabilities {
	const caps: SieveCapabilities = { sasl: [], sieve: [], starttls: false, other: {} };
	for (const line of lines) {
		const name = tokenText(line[0]).toUpperCase();
		const value = tokenText(line[1]);
		switch (name) {
			case 'IMPLEMENTATION':
				caps.implementation = value;
				break;
			case 'SASL':
				caps.sasl = value.split(/\s+/).filter(Boolean).map((m) => m.toUpperCase());
				break;
			case 'SIEVE':
				caps.sieve = value.split(/\s+/).filter(Boolean).map((e) => e.toLowerCase());
				break;
			case 'STARTTLS':
				caps.starttls = true;
				break;
			case 'VERSION':
				caps.version = value;
				break;
			default:
				if (name) caps.other[name] = value;
		}
	}
	return caps;
}

export class ManageSieveClient extends LineClient<SieveResponseReader> {
	capabilities: SieveCapabilities = { sasl: [], sieve: [], starttls: false, other: {} };

	private constructor(socket: net.Socket, server: ResolvedServer, options: SieveClientOptions) {
		super(socket, server, new SieveResponseReader(), SIEVE_CLOSED, options);
	}

	/**
	 * Takes over a connected socket and reads the greeting (capabilities, then OK), which must come
	 * within the greeting timeout (see {@link LineClient}). Throws what the reader or socket threw;
	 * the caller maps it.
	 */
	static async start(socket: net.Socket, server: ResolvedServer, options: SieveClientOptions = {}): Promise<ManageSieveClient> {
		const client = new ManageSieveClient(socket, server, options);
		const greeting = await client.withinGreetingTimeout(client.exchange('GREETING')).catch((error: unknown) => {
			client.close();
			throw error;
		});
		client.capabilities = parseCapabilities(greeting.lines);
		client.logger.debug(`managesieve: S: greeting from ${client.capabilities.implementation ?? 'an unnamed server'}`);
		return client;
	}

	/**
	 * Sends `data` (nothing for the greeting) and reads the answer. NO and BYE reject with
	 * SieveCommandError. `onChallenge` turns AUTHENTICATE's challenge lines into the next client line.
	 */
	private exchange(verb: string, data?: Buffer | string, logAs?: string, onChallenge?: (challenge: string) => string): Promise<SieveAnswer> {
		return new Promise<SieveAnswer>((resolve, reject) => {
			const lines: SieveToken[][] = [];
			const isChallenge = (tokens: SieveToken[]) => !!onChallenge && tokens.length === 1 && tokens[0].kind === 'string';
			const expectAnswer = (): void =>
				this.reader.expect({
					onData: (tokens) => {
						if (!isChallenge(tokens)) {
							lines.push(tokens);
							return;
						}
						// A challenge ended this handler: reply, then wait for the next line.
						let reply: string;
						try {
							reply = onChallenge!((tokens[0] as { value: string }).value);
						} catch (error) {
							// "*" cancels the exchange (RFC 5804 2.1); the server's NO is read and dropped.
							const fail = () => reject(error);
							this.reader.expect({ onData: () => undefined, onStatus: fail, onError: fail });
							this.write('"*"\r\n', '"*"');
							return;
						}
						expectAnswer();
						this.write(`${quoted(reply)}\r\n`, '[hidden]');
					},
					endsOnData: isChallenge,
					onStatus: (status) => {
						this.logger.debug(`managesieve: S: ${status.status}${status.code ? ` (${status.code.name})` : ''} ${redact(status.text, this.secrets)}`.trimEnd());
						if (status.status === 'OK') resolve({ status, lines });
						else reject(new SieveCommandError(verb, status));
					},
					onError: reject,
				});
			expectAnswer();
			if (data !== undefined) this.write(data, logAs ?? verb);
		});
	}

	private write(data: Buffer | string, logAs: string): void {
		this.logger.debug(`managesieve: C: ${redact(logAs, this.secrets)}`);
		this.send(data);
	}

	/** A queued command. */
	private command(verb: string, args = '', extra?: Buffer, logAs?: string): Promise<SieveAnswer> {
		const head = `${verb}${args ? ` ${args}` : ''}`;
		const data = extra ? Buffer.concat([Buffer.from(head, 'utf8'), Buffer.from(' '), extra, Buffer.from('\r\n')]) : `${head}\r\n`;
		return this.enqueue(() => this.exchange(verb, data, logAs ?? head));
	}

	/** CAPABILITY: asks again (e.g. after login) and keeps the answer. */
	async capability(): Promise<SieveCapabilities> {
		const answer = await this.command('CAPABILITY');
		this.capabilities = parseCapabilities(answer.lines);
		return this.capabilities;
	}

	/**
	 * STARTTLS: after OK the connection is upgraded with the server's TLS options; the server then
	 * sends its capabilities again unasked (RFC 5804 2.2), which replace those from before.
	 */
	async startTls(): Promise<void> {
		await this.enqueue(async () => {
			await this.exchange('STARTTLS', 'STARTTLS\r\n');
			await this.upgradeConnection();
			const again = await this.exchange('STARTTLS');
			this.capabilities = parseCapabilities(again.lines);
		});
	}

	/**
	 * AUTHENTICATE with an initial response (base64 of `initial`). A challenge is answered with the
	 * base64 of what `respond` returns for the decoded challenge. After OK the capabilities are
	 * read again when the server sent none (some servers send them with the OK).
	 */
	async authenticate(mechanism: string, initial: string, respond: (challenge: string) => string = () => ''): Promise<void> {
		const line = `AUTHENTICATE ${quoted(mechanism)} ${quoted(Buffer.from(initial, 'utf8').toString('base64'))}\r\n`;
		let rounds = 0;
		await this.enqueue(() =>
			this.exchange('AUTHENTICATE', line, `AUTHENTICATE ${quoted(mechanism)} [hidden]`, (challenge) => {
				if (++rounds > 3) throw new Error('too many SASL challenges');
				return Buffer.from(respond(Buffer.from(challenge, 'base64').toString('utf8')), 'utf8').toString('base64');
			}),
		);
		await this.capability();
	}

	/** Every script with whether it is the active one (at most one is). */
	async listScripts(): Promise<SieveScriptEntry[]> {
		const { lines } = await this.command('LISTSCRIPTS');
		return lines.map((tokens) => ({ name: tokenText(tokens[0]), active: tokens.slice(1).some((t) => t.kind === 'atom' && t.value.toUpperCase() === 'ACTIVE') }));
	}

	/** The script's text; throws SieveCommandError (code NONEXISTENT) when there is none of that name. */
	async getScript(name: string): Promise<string> {
		const { lines } = await this.command('GETSCRIPT', quoted(name));
		return tokenText(lines[0]?.[0]);
	}

	/**
	 * Stores (or replaces) a script. The server compiles it first and refuses a broken one (NO with
	 * its error messages); an OK may carry WARNINGS, returned here.
	 */
	async putScript(name: string, content: string): Promise<{ warnings?: string }> {
		const { status } = await this.command('PUTSCRIPT', quoted(name), literal(content), `PUTSCRIPT ${quoted(name)} {${Buffer.byteLength(content)}+}`);
		return status.code?.name === 'WARNINGS' ? { warnings: status.text } : {};
	}

	/** Compiles a script without storing it (RFC 5804 2.12; VERSION 1.0 servers). */
	async checkScript(content: string): Promise<{ warnings?: string }> {
		const { status } = await this.command('CHECKSCRIPT', '', literal(content), `CHECKSCRIPT {${Buffer.byteLength(content)}+}`);
		return status.code?.name === 'WARNINGS' ? { warnings: status.text } : {};
	}

	/** Makes `name` the active script; "" deactivates every script. */
	async setActive(name: string): Promise<void> {
		await this.command('SETACTIVE', quoted(name));
	}

	/** Deletes a script; the server refuses the active one (code ACTIVE). */
	async deleteScript(name: string): Promise<void> {
		await this.command('DELETESCRIPT', quoted(name));
	}

	/** Whether a script of `size` octets may be stored under `name` (quota). */
	async haveSpace(name: string, size: number): Promise<boolean> {
		return this.command('HAVESPACE', `${quoted(name)} ${size}`).then(
			() => true,
			(error: unknown) => {
				if (error instanceof SieveCommandError && error.status.status === 'NO') return false;
				throw error;
			},
		);
	}

	/** Ends the session politely and closes the connection. */
	async logout(): Promise<void> {
		if (this.closed) return;
		try {
			await this.command('LOGOUT');
		} catch {
			// the server may close before or instead of answering
		} finally {
			this.close();
		}
	}
}

export type { SieveResponseCode, SieveStatus } from './reader';
