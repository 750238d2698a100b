import { ImapFlow, type ImapFlowOptions, type Logger as ImapLogger } from 'imapflow';
import { MailboxError, redact, systemCodeOf } from '../errors';
import { fromNetworkError } from '../connection/network-errors';
import { describeServer, isTokenLogin, secretsOf, type Login, type ResolvedServer } from '../connection/options';
import { silentLogger, type Logger } from '../logger';

export const GREETING_TIMEOUT_MS = 8_000;

/** A password (AUTHENTICATE PLAIN, or LOGIN) or an OAuth2 access token (OAUTHBEARER or XOAUTH2). */
export type ImapLogin = Login;

export interface ImapErrorLike {
	code?: unknown;
	message?: unknown;
	authenticationFailed?: boolean;
	serverResponseCode?: unknown;
	responseText?: unknown;
	response?: unknown;
	tlsFailed?: boolean;
	/** The command as sent, for logging: "<tag> LOGIN ..." (arguments may be secret). */
	executedCommand?: unknown;
	/** The verb of the command a lost connection interrupted. */
	command?: unknown;
}

/**
 * The IMAP command that failed, without its arguments (they may hold the password): the verb,
 * with the second word for UID commands (UID MOVE) and the mechanism for AUTHENTICATE.
 */
export function imapCommand(err: ImapErrorLike): string | undefined {
	const executed = typeof err.executedCommand === 'string' ? err.executedCommand.trim().split(/\s+/).slice(1) : [];
	const words = executed.length ? executed : typeof err.command === 'string' ? err.command.trim().split(/\s+/) : [];
	const verb = words[0]?.toUpperCase();
	if (!verb || !/^[A-Z]+$/.test(verb)) return undefined;
	const second = words[1]?.toUpperCase();
	if ((verb === 'UID' || verb === 'AUTHENTICATE') && second && /^[A-Z0-9-]+$/.test(second)) return `${verb} ${second}`;
	return verb;
}

/**
 * imapflow logs objects ({msg, cid, ...}). Only the message and a few harmless fields are passed
 * on, with the password removed; raw protocol data is never forwarded.
 */
function imapLogger(logger: Logger, secrets: string[]): ImapLogger {
	const forward = (level: keyof Logger) => (entry: unknown) => {
		if (!entry || typeof entry !== 'object') return;
		const e = entry as Record<string, unknown>;
		if (typeof e.msg !== 'string') return;
		const meta: Record<string, unknown> = {};
		for (const key of ['cid', 'host', 'port', 'code']) if (e[key] !== undefined) meta[key] = e[key];
		logger[level](`imap: ${redact(e.msg, secrets)}`, meta);
	};
	return { debug: forward('debug'), info: forward('debug'), warn: forward('warn'), error: forward('error') };
}

export function imapOptions(server: ResolvedServer, login: ImapLogin, logger: Logger = silentLogger): ImapFlowOptions {
	return {
		host: server.host,
		port: server.port,
		secure: server.security === 'tls',
		// true: STARTTLS required; false: never; undefined: used when offered
		doSTARTTLS: server.security === 'starttls' ? true : server.security === 'none' ? false : undefined,
		servername: server.tls.servername,
		tls: { ...server.tls },
		auth: isTokenLogin(login) ? { user: login.user, accessToken: login.accessToken } : { user: login.user, pass: login.password },
		logger: imapLogger(logger, [...secretsOf(login), ...(server.proxy?.password ? [server.proxy.password] : [])]),
		emitLogs: false,
		disableAutoIdle: true,
		connectionTimeout: server.timeoutMs,
		// A server greets at once; silence means a plain connection to a TLS port (or the reverse), so
		// that mistake is reported within seconds instead of after the full connection timeout.
		greetingTimeout: Math.min(server.timeoutMs, GREETING_TIMEOUT_MS),
		socketTimeout: Math.max(server.timeoutMs, 5 * 60_000),
		clientInfo: { name: 'n8n-nodes-mailbox' },
		proxy: server.proxy?.url,
	};
}

/** Maps anything imapflow throws to a MailboxError that names the cause and never a secret. */
export function fromImapError(error: unknown, server: ResolvedServer, login?: Partial<ImapLogin>): MailboxError {
	if (error instanceof MailboxError) return error;
	const secrets = [...secretsOf(login), server.proxy?.password];
	const network = fromNetworkError(error, server, secrets);
	if (network) return network;
	const err = (error && typeof error === 'object' ? error : { message: String(error) }) as ImapErrorLike;
	const serverCode = typeof err.serverResponseCode === 'string' ? err.serverResponseCode : undefined;
	const responseText = typeof err.responseText === 'string' ? redact(err.responseText, secrets) : undefined;
	const message = redact(typeof err.message === 'string' ? err.message : String(error), secrets);
	const where = describeServer(server);
	const origin = { cause: error, command: imapCommand(err) };

	if (err.authenticationFailed || serverCode === 'AUTHENTICATIONFAILED' || serverCode === 'AUTHORIZATIONFAILED') {
		const user = login?.user ? ` for user "${login.user}"` : '';
		if (login && isTokenLogin(login)) {
			return new MailboxError('AUTH', `Authentication failed: ${server.host} rejected the access token${user}${responseText ? ` (server said: ${responseText})` : ''}.`, {
				field: 'accessToken',
				step: 'login',
				serverCode: serverCode ?? 'AUTHENTICATIONFAILED',
				...origin,
				serverResponse: responseText,
				hint: 'The token is expired, revoked, or was issued for another mailbox: sign in again (or renew the app token), and check that the user is the mailbox the token is for.',
			});
		}
		return new MailboxError('AUTH', `Authentication failed: ${server.host} rejected the login${user}${responseText ? ` (server said: ${responseText})` : ''}.`, {
			field: 'password',
			step: 'login',
			serverCode: serverCode ?? 'AUTHENTICATIONFAILED',
			...origin,
			serverResponse: responseText,
			hint: 'Check User and Password. Providers with two-factor sign-in need an app password, and some require IMAP to be enabled for the account.',
		});
	}
	if (err.tlsFailed) {
		return new MailboxError('STARTTLS_UNAVAILABLE', `${where}: ${message}.`, {
			field: 'security',
			step: 'tls',
			...(typeof err.code === 'string' ? { systemCode: err.code } : { reason: 'STARTTLS' as const }),
			...origin,
			hint: 'The server does not offer STARTTLS on this port: choose SSL/TLS with its port (usually 993), or None only on a trusted network.',
		});
	}
	return new MailboxError('PROTOCOL', `IMAP error from ${where}: ${responseText ?? message}`, {
		step: 'command',
		serverCode,
		systemCode: systemCodeOf(err),
		serverResponse: responseText,
		...origin,
	});
}

/** Connects and logs in; the caller must `logout()` (see {@link withImap}). */
export async function connectImap(server: ResolvedServer, login: ImapLogin, logger: Logger = silentLogger): Promise<ImapFlow> {
	const client = new ImapFlow(imapOptions(server, login, logger));
	// Errors after connect (socket dropped) are reported on the pending command; without a listener
	// an 'error' event would crash the process.
	client.on('error', (err: unknown) => logger.warn(`imap: connection error: ${fromImapError(err, server, login).message}`));
	try {
		await client.connect();
	} catch (error) {
		client.close();
		throw fromImapError(error, server, login);
	}
	return client;
}

/** Runs `work` on a logged-in connection and always logs out, also when `work` throws. */
export async function withImap<T>(server: ResolvedServer, login: ImapLogin, work: (client: ImapFlow) => Promise<T>, logger: Logger = silentLogger): Promise<T> {
	const client = await connectImap(server, login, logger);
	try {
		return await work(client);
	} catch (error) {
		throw fromImapError(error, server, login);
	} finally {
		await client.logout().catch(() => client.close());
	}
}
