/**
 * All test servers together: Dovecot (IMAP, POP3, ManageSieve), the SMTP capture server and the
 * OAuth2 endpoint, on free 127.0.0.1 ports, with all state in one temp folder under /tmp.
 *
 *   const servers = await startMailServers();   // needs root and Dovecot (npm run test:setup)
 *   ...servers.ports.imaps, servers.certPath, servers.users...
 *   await servers.stop();                       // ends everything, removes the state dir
 */
import fs from 'node:fs';
import path from 'node:path';
import { Dovecot, HOST, type MaildirMessage } from './dovecot';
import { OAuthServer, type OAuthClient, type OAuthRequest } from './oauth';
import { SmtpCapture, type ReceivedMessage } from './smtp';

export { startDovecot, Dovecot } from './dovecot';
export type { DovecotOptions, DovecotPorts, MaildirMessage } from './dovecot';
export { OAuthServer } from './oauth';
export type { OAuthClient, OAuthRequest, OAuthServerOptions } from './oauth';
export { SmtpCapture } from './smtp';
export type { ReceivedMessage, SmtpCaptureOptions } from './smtp';
export { freePort, freePorts, waitForPort } from './ports';

export const DEFAULT_USERS: Readonly<Record<string, string>> = { alice: 'alice-pw', bob: 'bob-pw', catchall: 'catchall-pw' };
/** The app the token endpoint knows by default (client credentials); its tokens act as the first user (alice by default). */
export const DEFAULT_OAUTH_CLIENT: Readonly<OAuthClient> = { tenant: 'test-tenant', clientId: 'test-client-id', clientSecret: 'test-client-secret', user: 'alice' };

export interface MailServersOptions {
	/** user -> password; default alice/alice-pw, bob/bob-pw, catchall/catchall-pw. */
	users?: Record<string, string>;
	/** Apps for the client-credentials token endpoint; default DEFAULT_OAUTH_CLIENT acting as the first user. */
	oauthClients?: OAuthClient[];
	/** Keep Dovecot's delay after failed logins (default off). */
	authPenalty?: boolean;
	/** Dovecot auth_debug and mail_debug. */
	debug?: boolean;
	/** SMTP: MAIL FROM needs AUTH first. */
	smtpAuthRequired?: boolean;
	/**
	 * account -> users whose mailboxes it may open, Microsoft 365 style: IMAP/POP3 login
	 * "account\\mailbox" with the account's password opens that mailbox.
	 */
	sharedMailboxes?: Record<string, readonly string[]>;
	/** The capabilities Dovecot's IMAP announces after login instead of its own (e.g. a server without UIDPLUS). */
	imapCapability?: string;
	/** Dovecot shaped like Gmail's IMAP: [Gmail]/… folders with their roles (not X-GM-EXT-1, see DovecotOptions.gmail). */
	gmail?: boolean;
}

export interface MailServerPorts {
	imap: number;
	imaps: number;
	pop3: number;
	pop3s: number;
	sieve: number;
	smtp: number;
	smtps: number;
	oauth: number;
}

/** Everything a client or a human needs, as plain JSON. */
export interface MailServersInfo {
	host: string;
	ports: MailServerPorts;
	/** Trust it with `tls: { ca: fs.readFileSync(certPath) }` or NODE_EXTRA_CA_CERTS. */
	certPath: string;
	users: Array<{ user: string; password: string; token: string }>;
	oauth: {
		url: string;
		introspectionUrl: string;
		clients: Array<OAuthClient & { tokenUrl: string; authority: string }>;
	};
	stateDir: string;
	learnLogPath: string;
	dovecotLogPath: string;
	dovecotConfigPath: string;
	smtpOutDir: string;
	/** The Maildir of a user's INBOX: replace %u. */
	maildir: string;
}

export class MailServers {
	readonly host = HOST;
	private stopped = false;

	private constructor(
		readonly dovecot: Dovecot,
		readonly oauth: OAuthServer,
		readonly smtp: SmtpCapture,
		readonly users: Readonly<Record<string, string>>,
	) {}

	static async start(options: MailServersOptions = {}): Promise<MailServers> {
		const users = { ...(options.users ?? DEFAULT_USERS) };
		const oauth = await OAuthServer.start({ users: Object.keys(users), clients: options.oauthClients ?? [{ ...DEFAULT_OAUTH_CLIENT, user: Object.keys(users)[0] ?? DEFAULT_OAUTH_CLIENT.user }] });
		let dovecot: Dovecot | undefined;
		try {
			dovecot = await Dovecot.start({ users, introspectionUrl: oauth.introspectionUrl, authPenalty: options.authPenalty, debug: options.debug, sharedMailboxes: options.sharedMailboxes, imapCapability: options.imapCapability, gmail: options.gmail });
			const smtp = await SmtpCapture.start({
				users,
				tokenUser: (token) => oauth.tokenUser(token),
				key: fs.readFileSync(dovecot.keyPath),
				cert: fs.readFileSync(dovecot.certPath),
				outDir: path.join(dovecot.stateDir, 'smtp-out'),
				authRequired: options.smtpAuthRequired,
			});
			return new MailServers(dovecot, oauth, smtp, users);
		} catch (error) {
			await dovecot?.stop().catch(() => undefined);
			await oauth.stop();
			throw error;
		}
	}

	get ports(): MailServerPorts {
		return { ...this.dovecot.ports, ...this.smtp.ports, oauth: this.oauth.port };
	}
	/** The self-signed certificate (CN=localhost, SAN localhost and 127.0.0.1) every TLS port uses. */
	get certPath(): string {
		return this.dovecot.certPath;
	}
	get stateDir(): string {
		return this.dovecot.stateDir;
	}
	get learnLogPath(): string {
		return this.dovecot.learnLogPath;
	}

	/** Messages the SMTP servers received so far. */
	get received(): readonly ReceivedMessage[] {
		return this.smtp.received;
	}
	/** Requests the OAuth2 server got so far (secrets redacted). */
	get oauthRequests(): readonly OAuthRequest[] {
		return this.oauth.requests;
	}

	/** The Maildir directory of a user's folder (INBOX is the root). */
	maildir(user: string, folder = 'INBOX'): string {
		return this.dovecot.maildir(user, folder);
	}
	/** Writes messages straight into a folder's Maildir; see Dovecot.writeMaildir. */
	writeMaildir(user: string, folder: string, messages: Iterable<MaildirMessage>): Promise<number> {
		return this.dovecot.writeMaildir(user, folder, messages);
	}
	/** Dovecot's log once it matches every pattern (see Dovecot.logMatching). */
	dovecotLogMatching(patterns: RegExp[], timeoutMs?: number): Promise<string> {
		return this.dovecot.logMatching(patterns, timeoutMs);
	}
	/** Lines of the IMAPSieve learn log: `<time> spam|ham user=… mailbox=… cause=… message-id=…`. */
	learnLog(): Promise<string[]> {
		return this.dovecot.learnLog();
	}
	/** Resolves with the first `count` SMTP messages once that many arrived. */
	waitForMail(count: number, timeoutMs?: number): Promise<ReceivedMessage[]> {
		return this.smtp.waitFor(count, timeoutMs);
	}

	info(): MailServersInfo {
		return {
			host: this.host,
			ports: this.ports,
			certPath: this.certPath,
			users: Object.entries(this.users).map(([user, password]) => ({ user, password, token: `valid-token-${user}` })),
			oauth: {
				url: this.oauth.url,
				introspectionUrl: this.oauth.introspectionUrl,
				clients: this.oauth.listClients().map((c) => ({ ...c, tokenUrl: this.oauth.tokenUrl(c.tenant), authority: this.oauth.authority(c.tenant) })),
			},
			stateDir: this.stateDir,
			learnLogPath: this.dovecot.learnLogPath,
			dovecotLogPath: this.dovecot.logPath,
			dovecotConfigPath: this.dovecot.configPath,
			smtpOutDir: path.join(this.stateDir, 'smtp-out'),
			maildir: path.join(this.stateDir, 'mail', '%u', 'Maildir'),
		};
	}

	/** Stops all servers (each even if another fails) and removes the state dir unless `keepState`. */
	async stop(options: { keepState?: boolean } = {}): Promise<void> {
		if (this.stopped) return;
		this.stopped = true;
		const results = await Promise.allSettled([this.smtp.stop(), this.oauth.stop()]);
		results.push(...(await Promise.allSettled([this.dovecot.stop(options)])));
		const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
		if (failed) throw failed.reason;
	}
}

export function startMailServers(options: MailServersOptions = {}): Promise<MailServers> {
	return MailServers.start(options);
}
