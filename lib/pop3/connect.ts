/**
 * Connecting and logging in to a POP3 server, the way every POP3 node does it: open the
 * connection (proxy, implicit TLS), read the greeting, CAPA, STLS by the security setting, then
 * log in with the chosen method. Reports what it did through `progress`, which the connection
 * check turns into its steps.
 */
import { describeProxy, describeServer, isTokenLogin, secretsOf, type Login, type ResolvedServer } from '../connection/options';
import { openSocket, upgradeToTls } from '../connection/socket';
import { silentLogger, type Logger } from '../logger';
import { isRejectedToken, MailboxError } from '../errors';
import { Pop3Client } from './client';
import { fromPop3Error, noApopError, noStlsError, Pop3CommandError, type Pop3Mechanism } from './errors';

/**
 * - `password`: USER/PASS (AUTH PLAIN when the server refuses USER)
 * - `apop`: APOP only; fails when the greeting has no timestamp
 * - `apop-or-password`: APOP when the greeting has a timestamp, else as `password`
 */
export type Pop3LoginMethod = 'password' | 'apop' | 'apop-or-password';

export const POP3_LOGIN_METHODS: readonly Pop3LoginMethod[] = ['password', 'apop', 'apop-or-password'];

export interface Pop3ConnectOptions {
	/** How a password login is done; default `password`. Ignored for token logins. */
	loginMethod?: Pop3LoginMethod;
	logger?: Logger;
	/** Called as each stage succeeds, in order: proxy, connect (greeted), tls, capabilities, login. */
	progress?: (stage: 'proxy' | 'connect' | 'tls' | 'capabilities' | 'login', detail: string) => void;
}

export interface Pop3Session {
	client: Pop3Client;
	/** CAPA lines the login was based on (after STLS); undefined when the server refuses CAPA. */
	capabilities?: string[];
	mechanism: Pop3Mechanism;
	/** `apop-or-password` found no APOP timestamp and logged in with the password instead. */
	apopFallback: boolean;
	/** Encrypted by STLS (rather than from the first byte, or not at all). */
	stls: boolean;
}

/** The mechanisms after "SASL" in CAPA, upper case. */
export function saslMechanisms(capabilities: readonly string[] | undefined): string[] {
	const line = capabilities?.find((c) => /^SASL\b/i.test(c));
	return line ? line.split(/\s+/).slice(1).map((m) => m.toUpperCase()) : [];
}

function has(capabilities: readonly string[] | undefined, name: string): boolean {
	return !!capabilities?.some((c) => c.split(/\s+/)[0].toUpperCase() === name);
}

/**
 * Connects and logs in; the caller must `quit()` (see {@link withPop3}). Throws a MailboxError
 * naming the step, the cause and the field to fix; never a secret.
 */
export async function connectPop3(server: ResolvedServer, login: Login, options: Pop3ConnectOptions = {}): Promise<Pop3Session> {
	const secrets = [...secretsOf(login), server.proxy?.password];
	const logger = options.logger ?? silentLogger;
	const progress = options.progress ?? (() => undefined);
	const socket = await openSocket(server, secrets, { tls: false });
	if (server.proxy) progress('proxy', `through the ${describeProxy(server.proxy)}`);
	const client = await Pop3Client.start(server.security === 'tls' ? await upgradeToTls(socket, server, secrets) : socket, server, { logger, secrets });
	// Connected means greeted: a port that accepts but stays silent is a failed connect.
	progress('connect', `Connected to ${describeServer(server)}`);
	try {
		let capabilities = await client.capa();
		let stls = false;
		if (server.security === 'starttls' || server.security === 'starttls-optional') {
			if (has(capabilities, 'STLS') || (capabilities === undefined && server.security === 'starttls')) {
				try {
					await client.stls();
					stls = true;
				} catch (error) {
					if (!(error instanceof Pop3CommandError)) throw fromPop3Error(error, server, { secrets });
					if (server.security === 'starttls') throw noStlsError(server, error.status.text, error);
				}
				// RFC 2595: capabilities may differ after TLS, and those from before must be forgotten.
				if (stls) capabilities = await client.capa();
			} else if (server.security === 'starttls') {
				throw noStlsError(server);
			}
		}
		const tls = client.tlsSocket;
		progress('tls', tls ? 'encrypted' : server.security === 'none' ? 'NOT encrypted' : `NOT encrypted: the server offers no STLS`);
		progress('capabilities', capabilities ? `server supports ${describeCapabilities(capabilities, client.apopTimestamp !== undefined)}` : 'server does not answer CAPA');
		const { mechanism, apopFallback } = await logIn(client, server, login, capabilities, options.loginMethod ?? 'password');
		progress('login', `logged in as "${login.user}" with ${mechanism}${apopFallback ? ' (the server offers no APOP, so Login Method "APOP if offered" fell back to the password)' : ''}`);
		return { client, capabilities, mechanism, apopFallback, stls };
	} catch (error) {
		client.close();
		throw fromPop3Error(error, server, { secrets });
	}
}

/** The capability list for people: names without arguments except SASL's, and APOP if greeted with a timestamp. */
function describeCapabilities(capabilities: readonly string[], apop: boolean): string {
	const names = capabilities.map((c) => (/^SASL\b/i.test(c) ? c.replace(/^SASL/i, 'SASL') : c.split(/\s+/)[0].toUpperCase()));
	if (apop) names.push('APOP');
	return names.length ? names.join(', ') : 'no extensions';
}

async function logIn(
	client: Pop3Client,
	server: ResolvedServer,
	login: Login,
	capabilities: string[] | undefined,
	method: Pop3LoginMethod,
): Promise<{ mechanism: Pop3Mechanism; apopFallback: boolean }> {
	const secrets = [...secretsOf(login), server.proxy?.password];
	const sasl = saslMechanisms(capabilities);
	const attempt = async (mechanism: Pop3Mechanism, run: () => Promise<unknown>) => {
		try {
			await run();
		} catch (error) {
			throw fromPop3Error(error, server, { secrets, user: login.user, mechanism });
		}
		return mechanism;
	};

	if (isTokenLogin(login)) {
		// XOAUTH2 unless the server names only OAUTHBEARER (Gmail and Microsoft 365 offer XOAUTH2).
		if (sasl.includes('OAUTHBEARER') && !sasl.includes('XOAUTH2')) {
			const initial = Buffer.from(`n,a=${login.user},\x01auth=Bearer ${login.accessToken}\x01\x01`).toString('base64');
			return { mechanism: await attempt('OAUTHBEARER', () => client.authenticate('OAUTHBEARER', initial, () => 'AQ==')), apopFallback: false };
		}
		const initial = Buffer.from(`user=${login.user}\x01auth=Bearer ${login.accessToken}\x01\x01`).toString('base64');
		// After a failure the server sends its reason as a challenge and waits for an empty line.
		return { mechanism: await attempt('XOAUTH2', () => client.authenticate('XOAUTH2', initial, () => '')), apopFallback: false };
	}

	if (method === 'apop' || method === 'apop-or-password') {
		if (client.apopTimestamp) return { mechanism: await attempt('APOP', () => client.apop(login.user, login.password)), apopFallback: false };
		if (method === 'apop') throw noApopError(server);
	}
	const apopFallback = method === 'apop-or-password';
	const plain = () => {
		const initial = Buffer.from(`\0${login.user}\0${login.password}`).toString('base64');
		return client.authenticate('PLAIN', initial, () => initial);
	};
	// A server that lists SASL PLAIN but not USER wants AUTH.
	if (capabilities && !has(capabilities, 'USER') && sasl.includes('PLAIN')) return { mechanism: await attempt('PLAIN', plain), apopFallback };
	try {
		await client.user(login.user);
	} catch (error) {
		// USER refused outright (not a login failure): some servers allow only AUTH.
		const code = error instanceof Pop3CommandError ? error.status.code : undefined;
		if (!(error instanceof Pop3CommandError) || (code && code !== 'AUTH')) throw fromPop3Error(error, server, { secrets, user: login.user, mechanism: 'USER/PASS' });
		if (capabilities && !sasl.includes('PLAIN')) throw fromPop3Error(error, server, { secrets, user: login.user, mechanism: 'USER/PASS' });
		return { mechanism: await attempt('PLAIN', plain), apopFallback };
	}
	return { mechanism: await attempt('USER/PASS', () => client.pass(login.password)), apopFallback };
}

/** Runs `work` on a logged-in session and always ends it with QUIT (which commits DELE), also when `work` throws. */
export async function withPop3<T>(server: ResolvedServer, login: Login, work: (session: Pop3Session) => Promise<T>, options: Pop3ConnectOptions & { renewLogin?: (rejectedToken: string) => Promise<Login> } = {}): Promise<T> {
	let session: Pop3Session;
	try {
		session = await connectPop3(server, login, options);
	} catch (error) {
		const refused = error instanceof MailboxError ? error : fromPop3Error(error, server, { secrets: [...secretsOf(login), server.proxy?.password] });
		// an access token rejected before its known expiry (revoked): renewed once, logged in once more
		if (!options.renewLogin || !isTokenLogin(login) || !isRejectedToken(refused)) throw refused;
		options.logger?.debug(`pop3: ${server.host} rejected the access token; renewing it`);
		login = await options.renewLogin(login.accessToken);
		session = await connectPop3(server, login, options);
	}
	try {
		const result = await work(session);
		await session.client.quit();
		return result;
	} catch (error) {
		// Without QUIT the server keeps every message marked deleted in this session.
		session.client.close();
		throw fromPop3Error(error, server, { secrets: [...secretsOf(login), server.proxy?.password] });
	}
}
