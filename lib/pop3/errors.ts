/**
 * POP3 failures as MailboxErrors that name the cause and the field to fix. The server's -ERR
 * answers carry RFC 2449/3206 response codes ([AUTH], [IN-USE], [SYS/TEMP], [SYS/PERM],
 * [LOGIN-DELAY]) that say whether the login was wrong or the server has a problem; without a
 * code, a refused login command still means the login was wrong.
 */
import { MailboxError, redact } from '../errors';
import { toConnectionError } from '../connection/socket';
import { DEFAULT_PORTS, describeServer, type ResolvedServer } from '../connection/options';
import { Pop3ProtocolError, type Pop3Status } from './reader';

/** How the client logged in (or tried to). */
export type Pop3Mechanism = 'USER/PASS' | 'APOP' | 'PLAIN' | 'XOAUTH2' | 'OAUTHBEARER';

/** A -ERR answer to a command. `command` is the verb only: arguments may be secret. */
export class Pop3CommandError extends Error {
	readonly code = 'EPOP3ERR';
	constructor(
		readonly command: string,
		readonly status: Pop3Status,
	) {
		super(`${command} was refused: -ERR ${status.code ? `[${status.code}] ` : ''}${status.text}`);
		this.name = 'Pop3CommandError';
	}
}

/** The server closed the connection while the client waited for an answer. */
export const CLOSED_BY_SERVER = 'EPOP3CLOSED';

export interface Pop3ErrorContext {
	/** Passwords, tokens, proxy password: removed from every message. */
	secrets: ReadonlyArray<string | undefined>;
	user?: string;
	/** Set while logging in: a refused command then means a refused login. */
	mechanism?: Pop3Mechanism;
}

function serverSaid(status: Pop3Status, secrets: ReadonlyArray<string | undefined>): string {
	return redact(`${status.code ? `[${status.code}] ` : ''}${status.text}`.trim(), secrets);
}

/**
 * The command a -ERR answered, as the client named it (the verb only); AUTH with its mechanism.
 * The greeting is no command.
 */
function pop3Command(verb: string, mechanism: Pop3Mechanism | undefined): string | undefined {
	if (verb === 'GREETING') return undefined;
	if (verb === 'AUTH' && mechanism && mechanism !== 'USER/PASS' && mechanism !== 'APOP') return `AUTH ${mechanism}`;
	return verb;
}

/** Maps anything the POP3 client throws to a MailboxError; never contains a secret. */
export function fromPop3Error(error: unknown, server: ResolvedServer, context: Pop3ErrorContext): MailboxError {
	if (error instanceof MailboxError) return error;
	const where = describeServer(server);
	const secrets = [...context.secrets, server.proxy?.password];
	const user = context.user ? ` for user "${context.user}"` : '';

	if (error instanceof Pop3CommandError) {
		const said = serverSaid(error.status, secrets);
		const details = { serverResponse: said, serverCode: error.status.code ?? `-ERR ${error.command}`, command: pop3Command(error.command, context.mechanism), cause: error };
		switch (error.status.code) {
			case 'IN-USE':
				return new MailboxError('SERVER', `${server.host} refused the POP3 session${user}: the maildrop is locked by another POP3 session (server said: ${said}).`, {
					...details,
					step: context.mechanism ? 'login' : 'command',
					hint: 'Another mail program is fetching this mailbox by POP3; wait until it has finished, or stop it, then try again.',
				});
			case 'SYS/TEMP':
				return new MailboxError('SERVER', `${server.host} has a temporary problem${user} (server said: ${said}).`, { ...details, step: context.mechanism ? 'login' : 'command', hint: 'Try again later.' });
			case 'SYS/PERM':
				return new MailboxError('SERVER', `${server.host} refused the mailbox${user} for a reason on its side (server said: ${said}).`, {
					...details,
					step: context.mechanism ? 'login' : 'command',
					hint: 'Ask the mail server administrator; the login itself may be fine.',
				});
			case 'LOGIN-DELAY':
				return new MailboxError('SERVER', `${server.host} allows POP3 logins${user} only at longer intervals (server said: ${said}).`, {
					...details,
					step: 'login',
					hint: 'Fetch this mailbox less often.',
				});
		}
		if (error.command === 'GREETING') {
			return new MailboxError('SERVER', `${where} refused the connection (server said: ${said || '-ERR'}).`, { ...details, step: 'greeting', hint: 'The server may limit connections per user or address, or be in maintenance; try again later.' });
		}
		if (context.mechanism) return loginError(server, context, said, details);
		return new MailboxError('SERVER', `${where} refused ${error.command}: ${said || '-ERR'}.`, { ...details, step: 'command' });
	}
	if (error instanceof Pop3ProtocolError && error.tooLong) {
		return new MailboxError('PROTOCOL', `${where} sent ${error.message}, which no POP3 server does ("${redact(error.received, secrets)}"); the connection was given up.`, {
			step: 'command',
			reason: 'TOO_LARGE',
			cause: error,
			hint: 'Check that Host and Port name your POP3 server, and that nothing between (a proxy, a firewall) alters the connection.',
		});
	}
	if (error instanceof Pop3ProtocolError) {
		return new MailboxError('PROTOCOL', `${where} did not answer like a POP3 server ("${redact(error.received, secrets)}").`, {
			field: 'port',
			step: 'greeting',
			systemCode: error.code,
			cause: error,
			hint: `Check Port and Security: the usual POP3 ports are ${DEFAULT_PORTS.pop3.tls} for SSL/TLS and ${DEFAULT_PORTS.pop3.starttls} for STARTTLS.`,
		});
	}
	if ((error as { code?: unknown } | undefined)?.code === CLOSED_BY_SERVER) {
		return new MailboxError('CONNECTION_CLOSED', `${where} closed the connection unexpectedly${context.mechanism ? ' during the login' : ''}.`, {
			step: context.mechanism ? 'login' : 'command',
			systemCode: CLOSED_BY_SERVER,
			cause: error,
			hint: 'Check Security and Port; the server may also limit connections per user or address.',
		});
	}
	return toConnectionError(error, server, secrets, 'command');
}

function loginError(server: ResolvedServer, context: Pop3ErrorContext, said: string, origin: { serverCode: string; command?: string; cause: unknown }): MailboxError {
	const user = context.user ? ` for user "${context.user}"` : '';
	const saying = said ? ` (server said: ${said})` : '';
	switch (context.mechanism) {
		case 'XOAUTH2':
		case 'OAUTHBEARER':
			return new MailboxError('AUTH', `Authentication failed: ${server.host} rejected the access token${user}${saying}.`, {
				field: 'accessToken',
				step: 'login',
				...origin,
				serverResponse: said,
				hint: 'The token is expired, revoked, or was issued for another mailbox: sign in again (or renew the app token), and check that the user is the mailbox the token is for.',
			});
		case 'APOP':
			return new MailboxError('AUTH', `Authentication failed: ${server.host} rejected the APOP login${user}${saying}.`, {
				field: 'password',
				step: 'login',
				...origin,
				serverResponse: said,
				hint: 'APOP proves the password with a digest, so a wrong password or user shows up here: check User and Password. Some servers keep a separate APOP password.',
			});
		default:
			return new MailboxError('AUTH', `Authentication failed: ${server.host} rejected the login${user}${saying}.`, {
				field: 'password',
				step: 'login',
				...origin,
				serverResponse: said,
				hint: 'Check User and Password. Providers with two-factor sign-in need an app password, and some require POP3 to be enabled for the account.',
			});
	}
}

/** The server's greeting has no APOP timestamp but the Login Method insists on APOP. */
export function noApopError(server: ResolvedServer): MailboxError {
	return new MailboxError('AUTH', `${server.host} offers no APOP: its greeting has no timestamp to compute the digest from.`, {
		field: 'loginMethod',
		step: 'login',
		reason: 'NO_APOP',
		hint: 'Choose Password as Login Method, or allow falling back with "APOP if offered, else password" (the password is then sent, so use SSL/TLS or STARTTLS).',
	});
}

/** STARTTLS was required but the server does not offer STLS, or refused it (`refusal`: its -ERR). */
export function noStlsError(server: ResolvedServer, said?: string, refusal?: unknown): MailboxError {
	return new MailboxError('STARTTLS_UNAVAILABLE', `${describeServer(server)} does not offer STLS (STARTTLS for POP3)${said ? ` (server said: ${said})` : ''}.`, {
		field: 'security',
		step: 'tls',
		reason: 'STLS',
		...(refusal === undefined ? {} : { command: 'STLS', cause: refusal }),
		hint: `Choose SSL/TLS with its port (usually ${DEFAULT_PORTS.pop3.tls}), or None only on a trusted network.`,
	});
}
