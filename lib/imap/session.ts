/**
 * One IMAP connection that a node run (or a router run, or the Sent copies of a send run) shares:
 * opened on first use, opened again when the server dropped it, closed when the run ends. A token
 * login the server rejects is renewed once and tried again (the same rule as the triggers').
 */
import type { ImapFlow } from 'imapflow';
import { withLoginRenewal } from '../auth/oauth2-token';
import type { Login, ResolvedServer } from '../connection/options';
import { silentLogger, type Logger } from '../logger';
import { connectImap, fromImapError } from './connect';

/** The logged-in IMAP client that lib/imap's functions take; nodes name it by this type. */
export type ImapClient = ImapFlow;

/** The user a client logged in as (the login's user, also for a token login). */
export function loggedInUser(client: ImapClient): string | undefined {
	return client.options.auth?.user;
}

/** Where and as whom to connect; `renewToken` renews a rejected access token (token logins). */
export interface ImapConnection {
	server: ResolvedServer;
	login: Login;
	renewToken?: () => Promise<string>;
}

/**
 * Connects and logs in; with `renewToken` and a token login, a token the server rejects is renewed
 * once and the login tried once more. Returns the client and the login that worked.
 */
async function connectImapRenewing(connection: ImapConnection, logger: Logger = silentLogger): Promise<{ client: ImapFlow; login: Login }> {
	const { value, login } = await withLoginRenewal(connection.login, connection.renewToken, (current) => connectImap(connection.server, current, logger));
	return { client: value, login };
}

export class ImapSession {
	private client?: ImapFlow;
	private login: Login;
	private queue: Promise<unknown> = Promise.resolve();

	constructor(
		private readonly connection: ImapConnection,
		private readonly logger: Logger = silentLogger,
	) {
		this.login = connection.login;
	}

	get server(): ResolvedServer {
		return this.connection.server;
	}

	/** The connected client: the open one, or a new connection when there is none or it was dropped. */
	async open(): Promise<ImapFlow> {
		if (this.client?.usable) return this.client;
		const { client, login } = await connectImapRenewing({ ...this.connection, login: this.login }, this.logger);
		this.client = client;
		this.login = login;
		return client;
	}

	/** Runs `work` on the connection; its errors come back as MailboxErrors naming the server. */
	async run<T>(work: (client: ImapFlow) => Promise<T>): Promise<T> {
		const client = await this.open();
		try {
			return await work(client);
		} catch (error) {
			throw fromImapError(error, this.connection.server, this.login);
		}
	}

	/** Like {@link run}, but one call after the other: for commands that must not interleave (APPEND of Sent copies). */
	serial<T>(work: (client: ImapFlow) => Promise<T>): Promise<T> {
		const next = this.queue.then(() => this.run(work));
		this.queue = next.catch(() => undefined);
		return next;
	}

	/** Waits for queued work, then logs out (or closes a connection that cannot). */
	async close(): Promise<void> {
		await this.queue;
		const client = this.client;
		this.client = undefined;
		if (client) await client.logout().catch(() => client.close());
	}
}
