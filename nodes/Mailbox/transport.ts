import type { ImapFlow } from 'imapflow';
import type { IExecuteFunctions } from 'n8n-workflow';
import { connectImap, fromImapError } from '../../lib/imap/connect';
import { checkLogin, resolveServer, type Login, type ResolvedServer } from '../../lib/connection/options';
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
		private readonly login: Login,
	) {}

	static async open(ctx: IExecuteFunctions, itemIndex = 0): Promise<ImapSession> {
		const authentication = ctx.getNodeParameter('authentication', itemIndex, 'password') as Authentication;
		const { settings, login, sharedMailboxes } = await imapConnectionOf(authentication, (name) => ctx.getCredentials(name, itemIndex), n8nLogger(ctx.logger));
		const mailbox = ctx.getNodeParameter('mailbox', itemIndex, '') as string;
		return new ImapSession(ctx, resolveServer('imap', settings), loginForMailbox(checkLogin(login), sharedMailboxes, mailbox));
	}

	async run<T>(work: (client: ImapFlow) => Promise<T>): Promise<T> {
		if (!this.client || !this.client.usable) {
			this.client = await connectImap(this.server, this.login, n8nLogger(this.ctx.logger));
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
