import type { Socket } from 'node:net';
import { format } from 'node:util';
import nodemailer, { type Transporter } from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer';
import type SMTPConnection from 'nodemailer/lib/smtp-connection';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import { redact } from '../errors';
import { isTokenLogin, type Login, type ResolvedServer } from '../connection/options';
import { greetingTimeoutMs } from '../connection/socket';
import { silentLogger, type Logger } from '../logger';
import { openProxyTunnel } from './proxy';
import { smtpSecrets } from './secrets';
import { fromSmtpError } from './errors';

/** Transaction entries of nodemailer's logger: protocol lines, which are never passed on. */
const TRAFFIC = new Set(['client', 'server']);

/**
 * nodemailer logs bunyan style: `(entry, format, ...args)`. Only the formatted message and a few
 * harmless fields go on to our logger, with every secret removed; SMTP traffic (where AUTH lines
 * would be) is dropped even if a caller switched nodemailer's debug on.
 */
export function smtpLogger(logger: Logger, secrets: ReadonlyArray<string | undefined>): SMTPConnection.Options['logger'] {
	const forward =
		(level: keyof Logger) =>
		(...params: unknown[]) => {
			const entry = params[0] && typeof params[0] === 'object' ? (params.shift() as Record<string, unknown>) : {};
			if (typeof entry.tnx === 'string' && TRAFFIC.has(entry.tnx)) return;
			if (typeof params[0] !== 'string') return;
			const meta: Record<string, unknown> = {};
			for (const key of ['tnx', 'sid', 'action', 'method']) if (typeof entry[key] === 'string') meta[key] = entry[key];
			logger[level](`smtp: ${redact(format(...(params as [string, ...unknown[]])), secrets)}`, meta);
		};
	return {
		trace: forward('debug'),
		debug: forward('debug'),
		info: forward('debug'),
		warn: forward('warn'),
		error: forward('error'),
		fatal: forward('error'),
	};
}

/**
 * The connection part of the options, shared by the transport and the connection check:
 * security mode, TLS rules, timeouts and the redacting logger. No auth, no proxy.
 */
export function smtpConnectionOptions(server: ResolvedServer, logger: Logger = silentLogger, secrets: ReadonlyArray<string | undefined> = []): SMTPConnection.Options {
	return {
		host: server.host,
		port: server.port,
		// tls: TLS from the first byte; starttls: the upgrade is required (a server without
		// STARTTLS fails instead of receiving the password in clear); starttls-optional: upgraded
		// when offered, plain otherwise; none: never upgraded, even when offered.
		secure: server.security === 'tls',
		requireTLS: server.security === 'starttls',
		opportunisticTLS: server.security === 'starttls-optional',
		ignoreTLS: server.security === 'none',
		tls: { ...server.tls },
		connectionTimeout: server.timeoutMs,
		// A server greets at once; silence means a plain connection to a TLS port, reported
		// within seconds instead of after the full connection timeout (as for IMAP and POP3).
		greetingTimeout: greetingTimeoutMs(server),
		socketTimeout: Math.max(server.timeoutMs, 5 * 60_000),
		dnsTimeout: server.timeoutMs,
		logger: smtpLogger(logger, secrets),
		debug: false,
		transactionLog: false,
	};
}

/** nodemailer's auth block for a login: a password (PLAIN or LOGIN, as offered) or an XOAUTH2 token. */
export function smtpAuth(login: Login): NonNullable<SMTPTransport.Options['auth']> {
	return isTokenLogin(login) ? { type: 'OAuth2', user: login.user, accessToken: login.accessToken } : { type: 'login', user: login.user, pass: login.password };
}

type SocketCallback = (err: Error | null, socketOptions: { connection: Socket } | false) => void;

/** nodemailer's `getSocket` hook: hands it the proxy tunnel instead of letting it connect directly. */
function proxySocketGetter(server: ResolvedServer, secrets: ReadonlyArray<string | undefined>): (options: SMTPTransport.Options, callback: SocketCallback) => void {
	return (_options, callback) => {
		openProxyTunnel(server, secrets).then(
			(connection) => callback(null, { connection }),
			(error: Error) => callback(error, false),
		);
	};
}

/**
 * nodemailer SMTP transport options for a resolved server: `nodemailer.createTransport(options)`
 * sends with them, through the proxy if one is set (no further set-up needed). Without a login
 * nothing is authenticated; with one, nodemailer authenticates when the server offers AUTH.
 */
export function smtpTransportOptions(server: ResolvedServer, login?: Login, logger: Logger = silentLogger): SMTPTransport.Options {
	const secrets = smtpSecrets(login, server);
	const options: SMTPTransport.Options = { ...smtpConnectionOptions(server, logger, secrets) };
	if (login) options.auth = smtpAuth(login);
	if (server.proxy) options.getSocket = proxySocketGetter(server, secrets);
	return options;
}

/** A nodemailer transporter for the server; the caller closes it (`transporter.close()`). */
export function createSmtpTransport(server: ResolvedServer, login?: Login, logger: Logger = silentLogger): Transporter<SMTPTransport.SentMessageInfo> {
	return nodemailer.createTransport(smtpTransportOptions(server, login, logger));
}

/**
 * Sends one message on a fresh connection and closes it. Failures are MailboxErrors naming the
 * cause and the setting to change, never a secret.
 */
export async function sendSmtpMessage(server: ResolvedServer, login: Login | undefined, message: Mail.Options, logger: Logger = silentLogger): Promise<SMTPTransport.SentMessageInfo> {
	const transporter = createSmtpTransport(server, login, logger);
	try {
		return await transporter.sendMail(message);
	} catch (error) {
		throw fromSmtpError(error, server, login);
	} finally {
		transporter.close();
	}
}
