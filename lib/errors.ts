/**
 * One error type for everything in lib/, with a closed set of codes. Every message names the
 * cause and, where the user can act, the field to change and how. Secrets never reach a message:
 * callers pass them to {@link redact} or to the error mappers, which strip them.
 */
export type MailboxErrorCode =
	| 'CONFIG' // a setting is missing or invalid; `field` names it
	| 'DNS' // the host name does not resolve
	| 'PROXY' // the proxy could not be reached, refused the login, or refused the tunnel
	| 'CONNECTION_REFUSED' // nothing listens on host:port
	| 'CONNECTION_CLOSED' // the server closed the connection unexpectedly
	| 'TIMEOUT' // no answer in time (connect, greeting, command)
	| 'TLS' // the TLS handshake failed (protocol mismatch, version)
	| 'TLS_CERTIFICATE' // the server's certificate was not accepted
	| 'STARTTLS_UNAVAILABLE' // STARTTLS was required but the server does not offer it
	| 'AUTH' // the server rejected the login
	| 'PROTOCOL' // the server answered something the client did not expect
	| 'NOT_FOUND' // a folder or message does not exist
	| 'SERVER'; // the server refused a command for another reason

export type ConnectionStep = 'config' | 'dns' | 'proxy' | 'connect' | 'tls' | 'greeting' | 'login' | 'command';

export interface MailboxErrorDetails {
	/** The setting the user has to change (CONFIG errors, and some others). */
	field?: string;
	/** Where in the connection it failed. */
	step?: ConnectionStep;
	/** What the user can do about it. */
	hint?: string;
	/** The server's own words, with secrets removed. */
	serverResponse?: string;
	/** The low-level code (ECONNREFUSED, AUTHENTICATIONFAILED, DEPTH_ZERO_SELF_SIGNED_CERT...). */
	causeCode?: string;
}

export class MailboxError extends Error {
	readonly code: MailboxErrorCode;
	readonly field?: string;
	readonly step?: ConnectionStep;
	readonly hint?: string;
	readonly serverResponse?: string;
	readonly causeCode?: string;

	constructor(code: MailboxErrorCode, message: string, details: MailboxErrorDetails = {}) {
		super(message);
		this.name = 'MailboxError';
		this.code = code;
		this.field = details.field;
		this.step = details.step;
		this.hint = details.hint;
		this.serverResponse = details.serverResponse;
		this.causeCode = details.causeCode;
	}

	/** The message followed by the hint, for places that show one line of text. */
	get fullMessage(): string {
		return this.hint ? `${this.message} ${this.hint}` : this.message;
	}
}

export function configError(field: string, message: string, hint?: string): MailboxError {
	return new MailboxError('CONFIG', message, { field, step: 'config', hint });
}

/** A run of base64 long enough to carry a secret (SASL PLAIN, XOAUTH2, OAUTHBEARER, Basic). */
const BASE64_RUN = /[A-Za-z0-9+/]{8,}={0,2}/g;

/**
 * Replaces every occurrence of each secret with "[hidden]": the secret itself, its base64 form,
 * and any base64 run that decodes to text containing it (the SASL PLAIN response
 * "\0user\0password", XOAUTH2 "user=...\x01auth=Bearer <token>", OAUTHBEARER, HTTP Basic
 * "user:password", whatever the protocol put around the secret). Linear in the text. Secrets
 * shorter than 3 characters are left alone: replacing them would mangle ordinary text without
 * protecting anything.
 */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
	const list = secrets.filter((s): s is string => !!s && s.length >= 3);
	if (!list.length) return text;
	let out = text;
	for (const secret of list) {
		for (const form of [secret, Buffer.from(secret).toString('base64')]) {
			out = out.split(form).join('[hidden]');
		}
	}
	const shortest = Math.min(...list.map((s) => Buffer.byteLength(s)));
	return out.replace(BASE64_RUN, (run) => {
		if ((run.length * 3) / 4 < shortest) return run;
		// a run glued to a word before it is tried from each of the next three characters too
		const decoded = [0, 1, 2, 3].map((skip) => Buffer.from(run.slice(skip), 'base64').toString('latin1'));
		return list.some((s) => decoded.some((d) => d.includes(Buffer.from(s).toString('latin1')))) ? '[hidden]' : run;
	});
}
