import type { ImapFlow } from 'imapflow';
import type { IExecuteFunctions } from 'n8n-workflow';
import { withTokenRefresh } from '../../lib/auth/oauth2-token';
import { connectImap, fromImapError } from '../../lib/imap/connect';
import { checkLogin, isTokenLogin, resolveServer, type Login, type ResolvedServer } from '../../lib/connection/options';
import { loginForMailbox } from '../../lib/connection/shared-mailboxes';
import { imapConnectionOf, type Authentication } from '../shared/credentials';
import { n8nLogger } from '../shared/logger';

/**
 * One IMAP connection for a whole node run: opened on first use, shared by all items, closed
 * when the run ends.
 */
export class ImapSession {
	private client?: ImapFlow;

	private constructor(
		private readonly ctx: IExecuteFunctions,
		private readonly server: ResolvedServer,
		private login: Login,
		/** Renews the access token once (delegated OAuth2), when the server rejected it. */
		private readonly renewToken?: () => Promise<string>,
	) {}

	static async open(ctx: IExecuteFunctions, itemIndex = 0): Promise<ImapSession> {
		const authentication = ctx.getNodeParameter('authentication', itemIndex, 'password') as Authentication;
		const { settings, login, sharedMailboxes, renewToken } = await imapConnectionOf(authentication, (name) => ctx.getCredentials(name, itemIndex), n8nLogger(ctx.logger), { ctx, itemIndex });
		const mailbox = ctx.getNodeParameter('mailbox', itemIndex, '') as string;
		return new ImapSession(ctx, resolveServer('imap', settings), loginForMailbox(checkLogin(login), sharedMailboxes, mailbox), renewToken);
	}

	private async connect(): Promise<ImapFlow> {
		const logger = n8nLogger(this.ctx.logger);
		const login = this.login;
		if (!this.renewToken || !isTokenLogin(login)) return connectImap(this.server, login, logger);
		const outcome = await withTokenRefresh({
			accessToken: login.accessToken,
			expired: false,
			attempt: (accessToken) => connectImap(this.server, { ...login, accessToken }, logger),
			refresh: this.renewToken,
		});
		this.login = { ...login, accessToken: outcome.accessToken };
		return outcome.value;
	}

	async run<T>(work: (client: ImapFlow) => Promise<T>): Promise<T> {
		if (!this.client || !this.client.usable) {
			this.client = await this.connect();
		}
		try {
			return await work(this.client);
		} catch (error) {
			throw fromImapError(error, this.server, this.login);
		}
	}

	async close(): Promise<void> {
		const client = this.client;
		this.client = undefined;
		if (client) await client.logout().catch(() => client.close());
	}
}
