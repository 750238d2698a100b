import { connectGraph, type GraphClient, type GraphClientOptions } from '../graph/client';
import { ImapSession, type ImapConnection } from '../imap/session';
import { silentLogger, type Logger } from '../logger';
import { ImapDeliverer } from './deliver';
import { GraphDeliverer } from './graph-deliver';
import type { MessageDeliverer } from './run';

/**
 * The connections of a router run that delivers: opened on the first message to deliver, to the
 * target mailbox (that holds the inbox folders) and to the master mailbox (the same connection
 * when both are the same mailbox), over IMAP or Microsoft Graph; all closed when the run ends.
 */

/** Where the run delivers, read when the first message is delivered. */
export interface DeliveryMailboxes {
	via: 'imap' | 'graph';
	/** The mailbox with the inbox folders: empty for the account's own. */
	targetMailbox: string;
	/** The mailbox the messages come from: empty for the account's own. */
	masterMailbox: string;
}

/** How to reach a mailbox: IMAP resolved for it (with token renewal), or the Graph client's options. */
export interface MailboxConnectors {
	imap: (mailbox: string) => Promise<ImapConnection>;
	graph: (mailbox: string) => Promise<GraphClientOptions>;
}

export class DeliveryConnections {
	private deliverer?: MessageDeliverer;
	private readonly imapSessions: ImapSession[] = [];
	private readonly graphClients: GraphClient[] = [];

	constructor(
		private readonly mailboxes: () => DeliveryMailboxes,
		private readonly connectors: MailboxConnectors,
		private readonly field = 'inboxRoot',
		private readonly logger: Logger = silentLogger,
	) {}

	/** The deliverer, connected on the first call; a failed connection is tried again on the next. */
	async open(): Promise<MessageDeliverer> {
		if (this.deliverer) return this.deliverer;
		const { via, targetMailbox, masterMailbox } = this.mailboxes();
		const same = masterMailbox.toLowerCase() === targetMailbox.toLowerCase();
		if (via === 'graph') {
			const target = await this.openGraph(targetMailbox);
			const master = same ? target : await this.openGraph(masterMailbox);
			this.deliverer = new GraphDeliverer(target, master, this.field);
			return this.deliverer;
		}
		const target = await this.openImap(targetMailbox);
		const master = same ? target : await this.openImap(masterMailbox);
		this.deliverer = new ImapDeliverer(target, master, this.field);
		return this.deliverer;
	}

	private async openGraph(mailbox: string): Promise<GraphClient> {
		const client = await connectGraph(await this.connectors.graph(mailbox));
		this.graphClients.push(client);
		return client;
	}

	private async openImap(mailbox: string) {
		const session = new ImapSession(await this.connectors.imap(mailbox), this.logger);
		this.imapSessions.push(session);
		return session.open();
	}

	/** Closes every connection opened: Graph clients, then the IMAP connections (the master's before the target's). */
	async close(): Promise<void> {
		for (const client of this.graphClients.splice(0)) client.close();
		for (const session of this.imapSessions.splice(0).reverse()) await session.close();
	}
}
