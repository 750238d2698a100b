/**
 * All test servers together: Dovecot (IMAP, POP3, ManageSieve), the SMTP capture server and the
 * OAuth2 endpoint, on free 127.0.0.1 ports with all state in one temp folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Dovecot, HOST, type StoredMessage } from './dovecot';
import { OAuthServer } from './oauth';
import { SmtpCapture } from './smtp';

export { ensureDovecot } from './dovecot';
export type { StoredMessage } from './dovecot';
export type { ReceivedMessage } from './smtp';

export const DEFAULT_USERS: Record<string, string> = { alice: 'alice-pw', bob: 'bob-pw', catchall: 'catchall-pw' };

export interface MailServersInfo {
	host: string;
	ports: MailServers['ports'];
	users: { user: string; password: string; token: string }[];
	certPath: string;
	stateDir: string;
	learnLog: string;
	dovecotLog: string;
	oauthUrl: string;
	smtpOutDir: string;
}

export class MailServers {
	readonly host = HOST;

	private constructor(
		readonly dovecot: Dovecot,
		readonly oauth: OAuthServer,
		readonly smtp: SmtpCapture,
		readonly users: Record<string, string>,
	) {}

	static async start(options: { users?: Record<string, string> } = {}): Promise<MailServers> {
		const users = options.users ?? DEFAULT_USERS;
		const oauth = await OAuthServer.start(Object.keys(users));
		let dovecot: Dovecot | undefined;
		try {
			dovecot = await Dovecot.start({ users, introspectionUrl: oauth.introspectionUrl });
			const smtp = await SmtpCapture.start({
				users,
				tokenUser: (token) => oauth.tokenUser(token),
				key: fs.readFileSync(dovecot.keyPath),
				cert: fs.readFileSync(dovecot.certPath),
				outDir: path.join(dovecot.stateDir, 'smtp-out'),
			});
			return new MailServers(dovecot, oauth, smtp, users);
		} catch (error) {
			await dovecot?.stop();
			await oauth.stop();
			throw error;
		}
	}

	get ports() {
		return { ...this.dovecot.ports, ...this.smtp.ports, oauth: this.oauth.port };
	}
	get certPath(): string {
		return this.dovecot.certPath;
	}
	get stateDir(): string {
		return this.dovecot.stateDir;
	}

	maildir(user: string, folder = 'INBOX'): string {
		return this.dovecot.maildir(user, folder);
	}
	writeMaildir(user: string, folder: string, messages: Iterable<StoredMessage>): Promise<number> {
		return this.dovecot.writeMaildir(user, folder, messages);
	}
	learnLog(): string[] {
		return this.dovecot.learnLog();
	}

	info(): MailServersInfo {
		return {
			host: this.host,
			ports: this.ports,
			users: Object.entries(this.users).map(([user, password]) => ({ user, password, token: `valid-token-${user}` })),
			certPath: this.certPath,
			stateDir: this.stateDir,
			learnLog: this.dovecot.learnLogPath,
			dovecotLog: this.dovecot.logPath,
			oauthUrl: this.oauth.url,
			smtpOutDir: path.join(this.stateDir, 'smtp-out'),
		};
	}

	async stop(options: { keepState?: boolean } = {}): Promise<void> {
		await this.smtp.stop();
		await this.oauth.stop();
		await this.dovecot.stop(options);
	}
}

export function startMailServers(options: { users?: Record<string, string> } = {}): Promise<MailServers> {
	return MailServers.start(options);
}
