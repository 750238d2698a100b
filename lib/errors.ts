/**
 * One error type for everything in lib/, with a closed set of codes. Every message names the
 * cause and, where the user can act, the field to change and how. Secrets never reach a message:
 * callers pass them to {@link redact} or to the error mappers, which strip them.
 *
 * A MailboxError made from a lower-level failure (imapflow, nodemailer, a socket, an HTTP answer,
 * the POP3 and ManageSieve clients, ews-javascript-api) keeps it as the standard `cause`, with its
 * stack; it is for debugging, never shown to the user (it can hold server text), and where the
 * lower layer keeps what it was called with (a proxy client its password, an HTTP client its
 * request) it is kept as a {@link scrubbedCause} without it. What the
 * lower layer knew is kept in fields: the `command` that failed, the numeric `responseCode`, and
 * the codes, split by who named them: `reason` (this package, from {@link MAILBOX_REASONS}),
 * `serverCode` (the server) and `systemCode` (Node, OpenSSL or the client library).
 *
 * Whether a failure goes away by itself, and which failures mean "rejected token" or "not found",
 * is decided here only: {@link isPermanent}, {@link isRejectedToken}, {@link isNotFound},
 * {@link isItemGone}, {@link isResyncRequired}. Where a "not found" steers normal flow (a folder
 * that is created when missing, a message that is gone), it is awaited through {@link lookup},
 * which makes it a value; every other failure is thrown.
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

/** The package's own markers for a failure no server or library code names. */
export const MAILBOX_REASONS = {
	STUCK: 'a watcher saw no progress for too long and gave the connection up',
	BAD_BATCH: 'Microsoft Graph answered a batch without (some of) its responses',
	TOO_LARGE: 'an answer larger than any the protocol sends, or than the limit',
	NO_MIME: 'Exchange returned a message without its MIME content',
	NOT_JSON: 'Microsoft Graph answered with something other than JSON',
	BAD_LINK: 'Microsoft Graph gave a link that is not a URL',
	FOREIGN_LINK: 'a link to another host than the Graph URL\'s was refused (the token goes nowhere else)',
	TooManyRequests: 'Microsoft Graph throttled the requests (HTTP 429/503), whatever code it gave',
	STARTTLS: 'STARTTLS was required but the server does not offer it (no code of the library)',
	STLS: 'STLS (POP3 STARTTLS) was required but the POP3 server does not offer it',
	NO_AUTH: 'the SMTP server offers no login (no AUTH in its EHLO answer)',
	NO_PLAIN: 'the ManageSieve server offers no PLAIN login',
	NO_OAUTH_MECHANISM: 'the ManageSieve server offers neither XOAUTH2 nor OAUTHBEARER',
	NO_APOP: 'APOP was required but the POP3 greeting has no timestamp',
	PROXY_AUTH: 'the proxy refused the proxy login, without a code of its own',
	EPROXY: 'the proxy did not open the tunnel, without a code of its own',
	FOREIGN_SCRIPT: 'the active Sieve script was not written by this package',
	NO_VACATION: 'the ManageSieve server does not support the vacation extension',
	NO_INCLUDE: 'the active Sieve script cannot include the out-of-office script (no include extension)',
	OTHER_VACATION: 'the active Sieve script already has a vacation action of its own',
} as const;

/** One of the {@link MAILBOX_REASONS}. */
export type MailboxReason = keyof typeof MAILBOX_REASONS;

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
	/** The protocol command or API operation that failed (LOGIN, AUTH PLAIN, RETR, GetItem...), never its arguments. */
	command?: string;
	/** The server's numeric answer: SMTP reply code (535, 550), HTTP status (401, 429). */
	responseCode?: number;
	/** The package's own marker, when neither the server nor a library named the failure. */
	reason?: MailboxReason;
	/** The server's code (AUTHENTICATIONFAILED, ErrorItemNotFound, InvalidAuthenticationToken, HTTP_401, -ERR PASS...). */
	serverCode?: string;
	/** Node's, OpenSSL's or the client library's code (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT, EAUTH, NoConnection...). */
	systemCode?: string;
	/** The lower-level error this one was made from. */
	cause?: unknown;
}

export class MailboxError extends Error {
	readonly code: MailboxErrorCode;
	readonly field?: string;
	readonly step?: ConnectionStep;
	readonly hint?: string;
	readonly serverResponse?: string;
	readonly command?: string;
	readonly responseCode?: number;
	readonly reason?: MailboxReason;
	readonly serverCode?: string;
	readonly systemCode?: string;

	constructor(code: MailboxErrorCode, message: string, details: MailboxErrorDetails = {}) {
		super(message, details.cause === undefined ? undefined : { cause: details.cause });
		this.name = 'MailboxError';
		this.code = code;
		this.field = details.field;
		this.step = details.step;
		this.hint = details.hint;
		this.serverResponse = details.serverResponse;
		this.command = details.command;
		this.responseCode = details.responseCode;
		this.reason = details.reason;
		this.serverCode = details.serverCode;
		this.systemCode = details.systemCode;
	}

	/** The most specific code in one string: the package's reason, else the server's, else the system's. */
	get causeCode(): string | undefined {
		return this.reason ?? this.serverCode ?? this.systemCode;
	}

	/** A failure that may go away by itself (a timeout, a busy server); the opposite of {@link isPermanent}. */
	get transient(): boolean {
		return !isPermanent(this);
	}

	/** The message followed by the hint, for places that show one line of text. */
	get fullMessage(): string {
		return this.hint ? `${this.message} ${this.hint}` : this.message;
	}
}

/**
 * Everything an error carries besides code and message, cause included: for an error reworded
 * for the place it happened (`new MailboxError(e.code, \`${label}: ${e.message}\`, { ...detailsOf(e), field })`).
 * The new error stands in for the old one, so it keeps the old one's cause.
 */
export function detailsOf(error: MailboxError): MailboxErrorDetails {
	const { field, step, hint, serverResponse, command, responseCode, reason, serverCode, systemCode, cause } = error;
	return { field, step, hint, serverResponse, command, responseCode, reason, serverCode, systemCode, cause };
}

/**
 * A lower-level error as a cause that can hold no secret, for libraries whose errors keep what
 * they were called with (the socks client keeps its options, proxy password included; an HTTP
 * client its request, refresh token included): an Error of the same name with the message, code
 * and stack redacted, and nothing else.
 */
export function scrubbedCause(error: unknown, secrets: ReadonlyArray<string | undefined>): Error {
	const original = error instanceof Error ? error : undefined;
	const copy = new Error(redact(original ? original.message : String(error), secrets));
	copy.name = original?.name ?? 'Error';
	copy.stack = original?.stack === undefined ? undefined : redact(original.stack, secrets);
	const code = systemCodeOf(error);
	if (code !== undefined) Object.assign(copy, { code });
	return copy;
}

/** `code` as the systemCode of a failure, for mappers that read it from a lower-level error. */
export function systemCodeOf(error: unknown): string | undefined {
	const code = (error as { code?: unknown } | null | undefined)?.code;
	return typeof code === 'string' ? code : undefined;
}

const PERMANENT_CODES: ReadonlySet<MailboxErrorCode> = new Set<MailboxErrorCode>(['AUTH', 'CONFIG', 'TLS_CERTIFICATE', 'STARTTLS_UNAVAILABLE', 'NOT_FOUND']);

/** A failure that will not go away by itself: the user has to change something (a login, a setting, a folder). */
export function isPermanent(error: MailboxError): boolean {
	return PERMANENT_CODES.has(error.code);
}

/** The server rejected the access token: renewing it (once) may help, a password would not. */
export function isRejectedToken(error: unknown): error is MailboxError {
	return error instanceof MailboxError && error.code === 'AUTH' && error.field === 'accessToken';
}

/** Something asked for does not exist; with `field`, only when the error names that field (e.g. "folders"). */
export function isNotFound(error: unknown, field?: string): error is MailboxError {
	return error instanceof MailboxError && error.code === 'NOT_FOUND' && (field === undefined || error.field === field);
}

/** A message (or item) that was deleted or moved meanwhile (EWS and Graph ErrorItemNotFound, Graph ResourceNotFound). */
export function isItemGone(error: unknown): error is MailboxError {
	return isNotFound(error) && /^(ErrorItemNotFound|ResourceNotFound)$/i.test(error.serverCode ?? '');
}

/** Server codes (lower case) that mean a saved sync state or delta link is no longer accepted. */
export const RESYNC_SERVER_CODES: ReadonlySet<string> = new Set(['syncstatenotfound', 'resyncrequired', 'syncstateinvalid', 'invalidsyncstate', 'errorinvalidsyncstatedata', 'http_410']);

/**
 * The server no longer accepts a saved sync state (EWS ErrorInvalidSyncStateData) or delta link
 * (Graph HTTP 410, SyncStateNotFound, resyncRequired...): the caller drops it and reads the
 * folder from the start, it is no failure to report.
 */
export function isResyncRequired(error: unknown): error is MailboxError {
	return error instanceof MailboxError && error.code === 'PROTOCOL' && RESYNC_SERVER_CODES.has((error.serverCode ?? '').toLowerCase());
}

/** The answer of a {@link lookup}: the value, or the NOT_FOUND error saying what is missing. */
export type Lookup<T> = { value: T; missing?: undefined } | { value?: undefined; missing: MailboxError };

/**
 * Awaits a lookup whose "not found" is an answer, not a failure: resolves to `{ value }`, or to
 * `{ missing }` when it fails with NOT_FOUND (naming `field`, if given); any other failure rejects
 * as it is. The one way errors steer normal flow in lib/.
 */
export function lookup<T>(promise: Promise<T>, field?: string): Promise<Lookup<T>> {
	return promise.then(
		(value): Lookup<T> => ({ value }),
		(error: unknown) => (isNotFound(error, field) ? { missing: error } : Promise.reject(error)),
	);
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
