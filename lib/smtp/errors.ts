import { MailboxError, redact } from '../errors';
import { fromNetworkError } from '../connection/network-errors';
import { DEFAULT_PORTS, describeServer, isTokenLogin, type Login, type ResolvedServer } from '../connection/options';
import { smtpSecrets } from './secrets';

/** What nodemailer's SMTP errors carry (smtp-connection `_formatError`). */
interface SmtpErrorLike {
	code?: unknown;
	/** Node's code (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT...) when nodemailer replaced it with its own. */
	originalCode?: unknown;
	/** CONNECT_TIMEOUT, GREETING_TIMEOUT, UPGRADE_TIMEOUT or SOCKET_TIMEOUT, for ETIMEDOUT. */
	timeoutType?: unknown;
	message?: unknown;
	response?: unknown;
	responseCode?: unknown;
	command?: unknown;
}

const str = (value: unknown): string | undefined => (typeof value === 'string' && value ? value : undefined);

/**
 * nodemailer replaces Node's error codes by its own (ESOCKET, ECONNECTION, ETLS, ETIMEDOUT) and
 * keeps the original in `originalCode`; fromNetworkError needs the original, or for timeouts
 * which phase ran out (a missing greeting points at a TLS port).
 */
function networkCode(err: SmtpErrorLike, message: string): string | undefined {
	const timeout = str(err.timeoutType);
	if (timeout) return timeout === 'GREETING_TIMEOUT' || timeout === 'UPGRADE_TIMEOUT' ? timeout : 'ETIMEDOUT';
	const original = str(err.originalCode);
	if (original) return original;
	const code = str(err.code);
	if ((code === 'ECONNECTION' || code === 'ETLS') && /closed unexpectedly/i.test(message)) return 'EConnectionClosed';
	return code;
}

/**
 * Maps anything nodemailer (or the proxy tunnel) throws to a MailboxError that names the cause
 * and the credential field to change, never a secret: socket, DNS, TLS and proxy failures through
 * fromNetworkError, then STARTTLS, AUTH and the server's refusals.
 */
export function fromSmtpError(error: unknown, server: ResolvedServer, login?: Partial<Login>): MailboxError {
	if (error instanceof MailboxError) return error;
	const secrets = smtpSecrets(login, server);
	const err = (error && typeof error === 'object' ? error : { message: String(error) }) as SmtpErrorLike;
	const rawMessage = str(err.message) ?? String(error);
	const responseCode = typeof err.responseCode === 'number' ? err.responseCode : undefined;
	const response = str(err.response) ? redact(String(err.response).trim(), secrets) : undefined;
	const command = str(err.command);
	const code = str(err.code);
	const where = describeServer(server);
	const said = response ? ` (server said: ${response})` : '';
	const ports = DEFAULT_PORTS.smtp;
	// AUTH keeps its mechanism only: what follows it is the secret
	const origin = { cause: error, command: command && redact(command.startsWith('AUTH') ? command.split(/\s+/).slice(0, 2).join(' ') : command, secrets), responseCode };

	if (responseCode === undefined) {
		const network = fromNetworkError({ code: networkCode(err, rawMessage), message: rawMessage }, server, secrets, error);
		if (network) return network;
	}

	if ((code === 'ETLS' && command === 'STARTTLS') || /does not support required STARTTLS/i.test(rawMessage) || (responseCode === 530 && /STARTTLS/i.test(response ?? ''))) {
		return new MailboxError('STARTTLS_UNAVAILABLE', `${where} does not offer STARTTLS${said}.`, {
			field: 'security',
			step: 'tls',
			...(code ? { systemCode: code } : { reason: 'STARTTLS' as const }),
			...origin,
			serverResponse: response,
			hint: `Choose SSL/TLS with its port (usually ${ports.tls}) if the server has one; "STARTTLS If Offered" or None send the password unencrypted, so only on a trusted network.`,
		});
	}

	if (code === 'EAUTH' || code === 'EOAUTH2' || command?.startsWith('AUTH')) {
		const user = login?.user ? ` for user "${login.user}"` : '';
		const mechanism = command?.replace(/^AUTH\s*/, '') || undefined;
		if (!responseCode) {
			if (/missing credentials/i.test(rawMessage)) {
				return new MailboxError('CONFIG', 'The login is incomplete.', { field: 'password', step: 'config', systemCode: code, ...origin, hint: 'Enter User and Password, or set Authentication to None.' });
			}
		} else if (responseCode === 454 || responseCode === 432) {
			return new MailboxError('SERVER', `${server.host} could not check the login${user} just now${said}.`, {
				step: 'login',
				serverCode: String(responseCode),
				...origin,
				serverResponse: response,
				hint: 'This is a temporary failure on the server: try again in a few minutes.',
			});
		} else if (responseCode === 500 || responseCode === 502 || responseCode === 503 || responseCode === 504) {
			return new MailboxError('AUTH', `${where} does not accept the login method${mechanism ? ` ${mechanism}` : ''}${said}.`, {
				field: 'security',
				step: 'login',
				serverCode: String(responseCode),
				...origin,
				serverResponse: response,
				hint: `Many servers accept a login only over an encrypted connection: choose STARTTLS (port ${ports.starttls}) or SSL/TLS (port ${ports.tls}). Microsoft 365 also needs "Authenticated SMTP" enabled for the mailbox.`,
			});
		}
		if (login && isTokenLogin(login)) {
			return new MailboxError('AUTH', `Authentication failed: ${server.host} rejected the access token${user}${said}.`, {
				field: 'accessToken',
				step: 'login',
				...(responseCode ? { serverCode: String(responseCode) } : { systemCode: code ?? 'EAUTH' }),
				...origin,
				serverResponse: response,
				hint: 'The token is expired, revoked, or was issued for another mailbox: sign in again (or renew the app token), and check that the user is the mailbox the token is for and that the token allows sending mail (SMTP.Send).',
			});
		}
		return new MailboxError('AUTH', `Authentication failed: ${server.host} rejected the login${user}${said}.`, {
			field: 'password',
			step: 'login',
			...(responseCode ? { serverCode: String(responseCode) } : { systemCode: code ?? 'EAUTH' }),
			...origin,
			serverResponse: response,
			hint: 'Check User and Password. Providers with two-factor sign-in need an app password, and some (Microsoft 365) require SMTP login to be enabled for the account.',
		});
	}

	if (responseCode === 530 || (responseCode === 550 && /5\.7\.0|authentication required/i.test(response ?? ''))) {
		return new MailboxError('AUTH', `${where} accepts mail only after a login${said}.`, {
			field: 'authentication',
			step: 'login',
			serverCode: String(responseCode),
			...origin,
			serverResponse: response,
			hint: 'Set Authentication to Password and enter User and Password of a mailbox on this server.',
		});
	}

	if (code === 'EPROTOCOL' && /greeting/i.test(rawMessage)) {
		return new MailboxError('PROTOCOL', `${where} did not greet like an SMTP server${said}.`, {
			field: 'port',
			step: 'greeting',
			systemCode: code,
			...origin,
			serverResponse: response,
			hint: `Check Port: the usual SMTP ports are ${ports.tls} for SSL/TLS, ${ports.starttls} for STARTTLS and ${ports.none} for None.`,
		});
	}

	if (responseCode) {
		return new MailboxError('SERVER', `${where} refused ${command ?? 'the command'}${said}.`, {
			step: 'command',
			serverCode: String(responseCode),
			...origin,
			serverResponse: response,
		});
	}
	return new MailboxError('PROTOCOL', `SMTP error from ${where}: ${redact(rawMessage, secrets)}`, {
		step: 'command',
		systemCode: code,
		...origin,
		serverResponse: response,
	});
}
