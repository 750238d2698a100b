/**
 * Connecting and logging in to a ManageSieve server: the host, TLS rules (certificate checks,
 * TLS version) and proxy of the mailbox's IMAP settings, with the ManageSieve port and security.
 * STARTTLS is required unless the caller chooses otherwise; the login is SASL PLAIN with a
 * password, or OAUTHBEARER/XOAUTH2 with an access token when the server offers one.
 */
import { configError, MailboxError } from '../errors';
import { describeServer, isTokenLogin, secretsOf, type Login, type ResolvedServer, type Security } from '../connection/options';
import { openSocket, upgradeToTls } from '../connection/socket';
import { silentLogger, type Logger } from '../logger';
import { ManageSieveClient } from './managesieve';
import { fromSieveError, MANAGESIEVE_PORT, SIEVE_FIELDS, type SieveMechanism } from './errors';

export interface SieveEndpoint {
	/** Default {@link MANAGESIEVE_PORT}. */
	port?: number | string | null;
	/** Default `starttls` (required). */
	security?: Security;
}

/**
 * The ManageSieve server next to an IMAP server: same host, TLS options and proxy; the port and
 * security of `endpoint`. The IMAP host's own port (from "host:port") plays no part.
 */
export function sieveServerFrom(imap: ResolvedServer, endpoint: SieveEndpoint = {}): ResolvedServer {
	const raw = endpoint.port;
	let port = MANAGESIEVE_PORT;
	if (raw !== undefined && raw !== null && raw !== '' && raw !== 0 && raw !== '0') {
		port = typeof raw === 'number' ? raw : Number(String(raw).trim());
		if (!Number.isInteger(port) || port < 1 || port > 65535) {
			throw configError(SIEVE_FIELDS.port, `ManageSieve Port "${String(raw)}" is not a valid port.`, `Enter a number from 1 to 65535, or leave it empty for ${MANAGESIEVE_PORT}.`);
		}
	}
	const security = endpoint.security ?? 'starttls';
	if (!['tls', 'starttls', 'starttls-optional', 'none'].includes(security)) {
		throw configError(SIEVE_FIELDS.security, `ManageSieve Security "${String(security)}" is unknown.`, 'Choose STARTTLS, STARTTLS if offered, SSL/TLS or None.');
	}
	return { ...imap, port, security };
}

export interface SieveConnectOptions {
	logger?: Logger;
	/** Added to the hint when no ManageSieve server answers (e.g. for providers without it). */
	noSieveHint?: string;
}

export interface SieveSession {
	client: ManageSieveClient;
	mechanism: SieveMechanism;
	/** The connection is encrypted (SSL/TLS or STARTTLS). */
	encrypted: boolean;
}

/** Connects and logs in; the caller must `logout()` (see {@link withManageSieve}). Throws a MailboxError. */
export async function connectManageSieve(server: ResolvedServer, login: Login, options: SieveConnectOptions = {}): Promise<SieveSession> {
	const secrets = [...secretsOf(login), server.proxy?.password];
	const context = { secrets, user: login.user, noSieveHint: options.noSieveHint };
	let client: ManageSieveClient | undefined;
	try {
		const socket = await openSocket(server, secrets, { tls: false });
		client = await ManageSieveClient.start(server.security === 'tls' ? await upgradeToTls(socket, server, secrets) : socket, server, { logger: options.logger ?? silentLogger, secrets });
		if (server.security === 'starttls' || server.security === 'starttls-optional') {
			if (client.capabilities.starttls) await client.startTls();
			else if (server.security === 'starttls') {
				throw new MailboxError('STARTTLS_UNAVAILABLE', `${describeServer(server)} does not offer STARTTLS for ManageSieve, and the login would be sent unencrypted.`, {
					field: SIEVE_FIELDS.security,
					step: 'tls',
					reason: 'STARTTLS',
					hint: 'Set ManageSieve Security to "STARTTLS if offered" or None only on a trusted network, or ask the provider to enable TLS for ManageSieve.',
				});
			}
		}
		const mechanism = await logIn(client, server, login);
		return { client, mechanism, encrypted: !!client.tlsSocket };
	} catch (error) {
		client?.close();
		throw fromSieveError(error, server, context);
	}
}

async function logIn(client: ManageSieveClient, server: ResolvedServer, login: Login): Promise<SieveMechanism> {
	const secrets = [...secretsOf(login), server.proxy?.password];
	const offered = client.capabilities.sasl;
	const attempt = async (mechanism: SieveMechanism, run: () => Promise<void>) => {
		try {
			await run();
		} catch (error) {
			throw fromSieveError(error, server, { secrets, user: login.user, mechanism });
		}
		return mechanism;
	};
	if (isTokenLogin(login)) {
		// After a failed OAUTHBEARER/XOAUTH2 the server sends its reason as a challenge and waits
		// for a dummy reply ("\x01" for OAUTHBEARER per RFC 7628, empty for XOAUTH2).
		if (offered.includes('OAUTHBEARER')) {
			return attempt('OAUTHBEARER', () => client.authenticate('OAUTHBEARER', `n,a=${login.user},\x01auth=Bearer ${login.accessToken}\x01\x01`, () => '\x01'));
		}
		if (offered.includes('XOAUTH2')) {
			return attempt('XOAUTH2', () => client.authenticate('XOAUTH2', `user=${login.user}\x01auth=Bearer ${login.accessToken}\x01\x01`, () => ''));
		}
		throw new MailboxError('AUTH', `${server.host} offers no OAuth2 login for ManageSieve (it offers ${offered.join(', ') || 'no SASL mechanism'}).`, {
			field: 'authentication',
			step: 'login',
			reason: 'NO_OAUTH_MECHANISM',
			hint: 'Use the password credential for this server, or ask the provider whether ManageSieve accepts OAuth2 tokens.',
		});
	}
	if (offered.length && !offered.includes('PLAIN')) {
		throw new MailboxError('AUTH', `${server.host} offers no PLAIN login for ManageSieve (it offers ${offered.join(', ')}).`, {
			field: SIEVE_FIELDS.security,
			step: 'login',
			reason: 'NO_PLAIN',
			hint: 'Servers often offer PLAIN only over TLS: set ManageSieve Security to STARTTLS.',
		});
	}
	return attempt('PLAIN', () => client.authenticate('PLAIN', `\0${login.user}\0${login.password}`));
}

/** Runs `work` on a logged-in session and always ends it with LOGOUT. Errors are MailboxErrors. */
export async function withManageSieve<T>(server: ResolvedServer, login: Login, work: (session: SieveSession) => Promise<T>, options: SieveConnectOptions = {}): Promise<T> {
	const session = await connectManageSieve(server, login, options);
	try {
		return await work(session);
	} catch (error) {
		throw fromSieveError(error, server, { secrets: secretsOf(login), user: login.user, noSieveHint: options.noSieveHint });
	} finally {
		await session.client.logout();
	}
}
