import { lookup } from 'node:dns/promises';
import { isIP, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import XOAuth2 from 'nodemailer/lib/xoauth2';
import { MailboxError } from '../errors';
import { failureResult, tlsDetail as describeTls, type CheckStep, type ConnectionCheckResult } from '../connection/check-steps';
import { checkLogin, describeProxy, describeServer, isTokenLogin, resolveServer, type Login, type ResolvedServer, type ServerSettings } from '../connection/options';
import { silentLogger, type Logger } from '../logger';
import { fromSmtpError } from './errors';
import { openProxyTunnel } from './proxy';
import { smtpSecrets } from './secrets';
import { smtpConnectionOptions } from './transport';

/**
 * What SMTPConnection knows after EHLO and AUTH but does not declare in its types. Read
 * defensively: a missing field only makes the report shorter.
 */
interface ConnectionState {
	allowsAuth?: boolean;
	/** The EHLO keyword lines after the greeting line ("AUTH PLAIN LOGIN", "SIZE 10240000"). */
	_ehloLines?: string[];
	_supportedAuth?: string[];
	_supportedExtensions?: string[];
	_maxAllowedSize?: number;
	/** The SASL mechanism login() chose. */
	_authMethod?: string | false;
}

function state(connection: SMTPConnection): ConnectionState {
	return connection as unknown as ConnectionState;
}

/**
 * Runs one SMTPConnection operation as a promise. SMTPConnection reports most failures as an
 * 'error' event rather than through the callback (and then closes), so both are awaited.
 */
function operation(connection: SMTPConnection, run: (done: (err?: Error | null) => void) => void): Promise<void> {
	return new Promise((resolve, reject) => {
		const onError = (err: Error) => finish(err);
		const onEnd = () => finish(Object.assign(new Error('Connection closed unexpectedly'), { code: 'ECONNECTION' }));
		const finish = (err?: Error | null) => {
			connection.off('error', onError);
			connection.off('end', onEnd);
			if (err) reject(err);
			else resolve();
		};
		connection.once('error', onError);
		connection.once('end', onEnd);
		run(finish);
	});
}

/** The TLS line of the shared check, plus how TLS came about and whether the certificate was verified. */
function tlsDetail(socket: Socket | undefined, server: ResolvedServer): string | undefined {
	const tls = socket as TLSSocket | undefined;
	if (!tls || typeof tls.getProtocol !== 'function' || !tls.getProtocol()) return undefined;
	const [version, ...certificate] = describeTls(tls).split(',');
	const how = server.security === 'tls' ? '' : ' after STARTTLS';
	const unverified = server.tls.rejectUnauthorized === false && !tls.authorized ? ', NOT verified ("Allow Self-Signed Certificates" is on)' : '';
	return `encrypted with ${version}${how}${certificate.length ? `,${certificate.join(',')}` : ''}${unverified}`;
}

/** "SIZE 67108864" reads better with the size a user thinks in. */
function keyword(line: string): string {
	const size = /^SIZE\s+(\d+)$/i.exec(line);
	if (!size) return line;
	const bytes = Number(size[1]);
	return bytes >= 1024 * 1024 ? `SIZE ${bytes} (${Math.round(bytes / (1024 * 1024))} MB)` : line;
}

function capabilitiesDetail(connection: SMTPConnection, upgraded: boolean): string {
	const s = state(connection);
	let lines = Array.isArray(s._ehloLines) ? s._ehloLines.map((l) => l.trim()).filter(Boolean) : undefined;
	if (!lines) {
		lines = [...(s._supportedExtensions ?? [])];
		if (s._supportedAuth?.length) lines.push(`AUTH ${s._supportedAuth.join(' ')}`);
		if (s._maxAllowedSize) lines.push(`SIZE ${s._maxAllowedSize}`);
	}
	// After STARTTLS the server no longer lists it; it accepted it, so it offers it.
	if (upgraded && !lines.some((l) => /^STARTTLS$/i.test(l))) lines.unshift('STARTTLS');
	return `EHLO: server offers ${lines.length ? lines.map(keyword).join(', ') : 'no extensions'}`;
}

/** The auth data SMTPConnection.login() takes, the way nodemailer's transport builds it. */
function loginData(login: Login): SMTPConnection.AuthenticationType {
	if (isTokenLogin(login)) return { type: 'OAUTH2', user: login.user, method: 'XOAUTH2', oauth2: new XOAuth2({ user: login.user, accessToken: login.accessToken }) };
	return { type: 'LOGIN', user: login.user, method: false, credentials: { user: login.user, pass: login.password } };
}

/**
 * The SMTP connection check behind the credential Test button and the Check Connection
 * operation: resolve the host, go through the proxy, connect, negotiate TLS (SSL/TLS or
 * STARTTLS), read the EHLO keywords and log in, the same way sending does. Nothing is sent.
 * `login` undefined means the credential has no login (Authentication: None).
 * Reports each step; a failed step names the cause and the fix. Never throws, never shows a secret.
 */
export async function checkSmtpConnection(settings: ServerSettings, login: Partial<Login> | undefined, logger: Logger = silentLogger): Promise<ConnectionCheckResult> {
	const steps: CheckStep[] = [];
	let connection: SMTPConnection | undefined;
	let checked: Login | undefined;
	let done = false;
	try {
		const server = resolveServer('smtp', settings);
		checked = login ? checkLogin(login) : undefined;
		const mapError = (error: unknown) => {
			throw fromSmtpError(error, server, checked);
		};
		// Through a proxy the proxy resolves the name; looking it up here could fail for no reason.
		if (!isIP(server.host) && !server.proxy) {
			const { address } = await lookup(server.host).catch(mapError);
			steps.push({ step: 'resolve', ok: true, detail: `${server.host} is ${address}` });
		}
		let tunnel: Socket | undefined;
		if (server.proxy) {
			tunnel = await openProxyTunnel(server, smtpSecrets(checked, server)).catch(mapError);
			steps.push({ step: 'proxy', ok: true, detail: `through the ${describeProxy(server.proxy)}` });
		}
		const options = smtpConnectionOptions(server, logger, smtpSecrets(checked, server));
		const smtp = new SMTPConnection(tunnel ? { ...options, connection: tunnel } : options);
		connection = smtp;
		// After a failure SMTPConnection may still report the socket's end; nothing must crash then.
		smtp.on('error', () => undefined);
		await operation(smtp, (finish) => smtp.connect(finish)).catch(mapError);
		steps.push({ step: 'connect', ok: true, detail: `Connected to ${describeServer(server)}` });

		const encrypted = tlsDetail(smtp.secure && smtp._socket ? smtp._socket : undefined, server);
		const ehlo = state(smtp)._ehloLines ?? [];
		const offersStartTls = ehlo.some((l) => /^STARTTLS$/i.test(l.trim()));
		steps.push({
			step: 'tls',
			ok: true,
			detail:
				encrypted ??
				(server.security === 'none'
					? `NOT encrypted${offersStartTls ? ' (the server offers STARTTLS: choose STARTTLS to encrypt)' : ''}`
					: 'NOT encrypted: the server does not offer STARTTLS'),
		});
		steps.push({ step: 'capabilities', ok: true, detail: capabilitiesDetail(smtp, !!encrypted && server.security !== 'tls') });

		const offered = state(smtp)._supportedAuth ?? [];
		if (!checked) {
			steps.push({
				step: 'login',
				ok: true,
				detail: `no login configured: mail is sent without authentication${state(smtp).allowsAuth ? ` (the server offers AUTH${offered.length ? ` ${offered.join(' ')}` : ''})` : ''}`,
			});
		} else {
			if (!state(smtp).allowsAuth) {
				throw new MailboxError('AUTH', `${describeServer(server)} offers no login (AUTH) on this connection.`, {
					field: encrypted ? 'authentication' : 'security',
					step: 'login',
					reason: 'NO_AUTH',
					hint: encrypted
						? 'Set Authentication to None if the server accepts mail from this n8n without a login, or check Host and Port (a submission port, usually 587 or 465, offers AUTH).'
						: 'Many servers offer a login only over an encrypted connection: choose STARTTLS or SSL/TLS.',
				});
			}
			const user = checked;
			await operation(smtp, (finish) => smtp.login(loginData(user), (err) => finish(err))).catch(mapError);
			const mechanism = state(smtp)._authMethod || (isTokenLogin(checked) ? 'XOAUTH2' : (offered[0] ?? 'PLAIN'));
			steps.push({ step: 'login', ok: true, detail: `logged in as "${checked.user}" with ${mechanism}` });
		}
		done = true;
		return { ok: true, message: `${steps.map((s) => s.detail).join('; ')}.`, steps };
	} catch (error) {
		return failureResult(error, steps, smtpSecrets(checked ?? login, { proxy: settings.proxy ? { ...settings.proxy, port: 0, url: '' } : undefined }), 'capabilities');
	} finally {
		if (connection && !connection.destroyed) {
			if (done) connection.quit();
			else connection.close();
		}
	}
}
