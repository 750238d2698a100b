/**
 * ManageSieve failures as MailboxErrors that name the cause and the field to fix. The server's
 * NO answers carry RFC 5804 response codes (AUTH-TOO-WEAK, ENCRYPT-NEEDED, QUOTA, NONEXISTENT,
 * ACTIVE, TRYLATER...) and, for a script that does not compile, the compiler's messages. The
 * most common failure is a server without ManageSieve: the port is closed, or something else
 * (IMAP, a firewall) answers there.
 */
import { detailsOf, MailboxError, redact, type MailboxReason } from '../errors';
import { toConnectionError } from '../connection/socket';
import { fromNetworkError } from '../connection/network-errors';
import { describeServer, type ResolvedServer } from '../connection/options';
import { SIEVE_CLOSED, SieveCommandError } from './managesieve';
import { SieveProtocolError } from './reader';

/** The ManageSieve port registered with IANA (RFC 5804); the old port 2000 is still seen. */
export const MANAGESIEVE_PORT = 4190;

/** The node parameters these errors name. */
export const SIEVE_FIELDS = { port: 'sievePort', security: 'sieveSecurity' } as const;

export type SieveMechanism = 'PLAIN' | 'XOAUTH2' | 'OAUTHBEARER';

export interface SieveErrorContext {
	/** Passwords, tokens: removed from every message. */
	secrets: ReadonlyArray<string | undefined>;
	user?: string;
	/** Set while logging in: a NO then means a refused login. */
	mechanism?: SieveMechanism;
	/** Added to the hint of a "no ManageSieve here" error (e.g. a provider without ManageSieve). */
	noSieveHint?: string;
}

function serverSaid(error: SieveCommandError, secrets: ReadonlyArray<string | undefined>): string {
	const code = error.status.code ? `(${error.status.code.name}) ` : '';
	return redact(`${code}${error.status.text}`.trim(), secrets);
}

/** Nothing (or no ManageSieve server) answers on the port. */
export function noManageSieveError(server: ResolvedServer, reason: string, code: { reason?: MailboxReason; systemCode?: string; cause?: unknown }, extraHint?: string): MailboxError {
	return new MailboxError('CONNECTION_REFUSED', `${server.host} offers no ManageSieve on port ${server.port}: ${reason}. Out-of-office replies are set through ManageSieve (RFC 5804), so the server may not offer it, or on another port.`, {
		field: SIEVE_FIELDS.port,
		step: 'connect',
		...code,
		hint: `Check "ManageSieve Port" (usually ${MANAGESIEVE_PORT}, on older servers 2000), or ask the mail provider whether ManageSieve is enabled.${extraHint ? ` ${extraHint}` : ''}`,
	});
}

/** Maps anything the ManageSieve client throws to a MailboxError; never contains a secret. */
export function fromSieveError(error: unknown, server: ResolvedServer, context: SieveErrorContext): MailboxError {
	if (error instanceof MailboxError) return forManageSieve(error, server, context);
	const where = describeServer(server);
	const secrets = [...context.secrets, server.proxy?.password];
	const user = context.user ? ` for user "${context.user}"` : '';

	if (error instanceof SieveCommandError) {
		const said = serverSaid(error, secrets);
		const code = error.status.code?.name;
		const command = error.command === 'GREETING' ? undefined : error.command === 'AUTHENTICATE' && context.mechanism ? `AUTHENTICATE ${context.mechanism}` : error.command;
		const details = { serverResponse: said, serverCode: code ?? `${error.status.status} ${error.command}`, command, cause: error };
		if (error.command === 'GREETING') {
			return new MailboxError('SERVER', `${where} refused the ManageSieve connection (server said: ${said || error.status.status}).`, {
				...details,
				step: 'greeting',
				hint: 'The server may limit connections per user or address, or be in maintenance; try again later.',
			});
		}
		if (error.command === 'STARTTLS') {
			return new MailboxError('STARTTLS_UNAVAILABLE', `${where} refused STARTTLS for ManageSieve (server said: ${said}).`, { ...details, field: SIEVE_FIELDS.security, step: 'tls', hint: 'Choose another ManageSieve Security, or ask the provider.' });
		}
		if (code === 'TRYLATER') {
			return new MailboxError('SERVER', `${server.host} has a temporary problem with ManageSieve${user} (server said: ${said}).`, { ...details, step: context.mechanism ? 'login' : 'command', hint: 'Try again later.' });
		}
		if (context.mechanism || error.command === 'AUTHENTICATE') return loginError(server, context, said, details, code);
		if (code?.startsWith('QUOTA')) {
			return new MailboxError('SERVER', `${server.host} refused ${error.command}${user}: the Sieve script quota is exhausted (server said: ${said}).`, {
				...details,
				step: 'command',
				hint: 'Delete Sieve scripts you no longer need (e.g. in the webmail filter settings), or ask the administrator for more space.',
			});
		}
		return new MailboxError('SERVER', `${server.host} refused ${error.command}${user}: ${said || error.status.status}.`, { ...details, step: 'command' });
	}
	if (error instanceof SieveProtocolError) {
		return noManageSieveError(server, `the server there did not answer like a ManageSieve server ("${redact(error.received, secrets)}")`, { systemCode: error.code, cause: error }, context.noSieveHint);
	}
	const code = (error as { code?: unknown } | undefined)?.code;
	if (code === SIEVE_CLOSED) {
		return new MailboxError('CONNECTION_CLOSED', `${where} closed the ManageSieve connection unexpectedly${context.mechanism ? ' during the login' : ''}.`, {
			step: context.mechanism ? 'login' : 'command',
			systemCode: SIEVE_CLOSED,
			cause: error,
			hint: 'Check ManageSieve Port and ManageSieve Security; the server may also limit connections per user or address.',
		});
	}
	const mapped = fromNetworkError(error, server, secrets);
	return forManageSieve(mapped ?? toConnectionError(error, server, secrets, 'command'), server, context);
}

/**
 * The socket layer's errors speak of the IMAP server and its Port and Security fields; for
 * ManageSieve a refused port means "no ManageSieve here", and the fields are the node's own.
 */
function forManageSieve(error: MailboxError, server: ResolvedServer, context: SieveErrorContext): MailboxError {
	if (error.code === 'CONNECTION_REFUSED' && error.causeCode === 'ECONNREFUSED' && !server.proxy) {
		return noManageSieveError(server, 'the connection was refused (nothing listens on that port)', { systemCode: 'ECONNREFUSED', cause: error.cause }, context.noSieveHint);
	}
	if (error.code === 'TIMEOUT' && error.causeCode === 'GREETING_TIMEOUT') {
		return noManageSieveError(server, 'a connection was accepted but no ManageSieve greeting came', { systemCode: 'GREETING_TIMEOUT', cause: error.cause }, context.noSieveHint);
	}
	if (error.field === 'port' || error.field === 'security') {
		const message = error.message.replace(/\bno IMAP server\b/, 'no ManageSieve server');
		return new MailboxError(error.code, message, {
			...detailsOf(error),
			field: error.field === 'port' ? SIEVE_FIELDS.port : SIEVE_FIELDS.security,
			hint: `Check "ManageSieve Port" and "ManageSieve Security" (ManageSieve usually runs on port ${MANAGESIEVE_PORT} with STARTTLS).`,
		});
	}
	return error;
}

function loginError(server: ResolvedServer, context: SieveErrorContext, said: string, origin: { serverCode: string; command?: string; cause: unknown }, code: string | undefined): MailboxError {
	const user = context.user ? ` for user "${context.user}"` : '';
	const saying = said ? ` (server said: ${said})` : '';
	if (code === 'ENCRYPT-NEEDED' || code === 'AUTH-TOO-WEAK') {
		return new MailboxError('AUTH', `${server.host} refused the ManageSieve login${user} without encryption${saying}.`, {
			field: SIEVE_FIELDS.security,
			step: 'login',
			...origin,
			serverResponse: said,
			hint: 'Set ManageSieve Security to STARTTLS.',
		});
	}
	if (context.mechanism === 'XOAUTH2' || context.mechanism === 'OAUTHBEARER') {
		return new MailboxError('AUTH', `Authentication failed: ${server.host} rejected the access token for ManageSieve${user}${saying}.`, {
			field: 'accessToken',
			step: 'login',
			...origin,
			serverResponse: said,
			hint: 'The token is expired, revoked, or was issued for another mailbox: sign in again (or renew the app token).',
		});
	}
	return new MailboxError('AUTH', `Authentication failed: ${server.host} rejected the ManageSieve login${user}${saying}.`, {
		field: 'password',
		step: 'login',
		...origin,
		serverResponse: said,
		hint: 'Check User and Password in the credential (ManageSieve uses the same login as IMAP). Some providers need an app password.',
	});
}
