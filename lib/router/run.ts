import type { MailboxError } from '../errors';
import type { RecipientDecision } from './decide';
import type { CopyResult, ImapDeliverer, MasterAction, MasterRef, MasterResult } from './deliver';
import type { Target } from './directory';
import type { GraphDeliverer } from './graph-deliver';
import type { IgnoredAddress, MessageFields, MessageRouter } from './route';

/**
 * One message of a catch-all (master) mailbox routed and, when delivering, stored: the routing
 * decision, the raw message (the item's own, else read from the master mailbox), a copy into each
 * target's folder, then the master action. What comes back is plain data; a failed copy or master
 * action is reported (and named as the error that stops the run), never thrown.
 */

/** What a message is delivered with: the ImapDeliverer, or the GraphDeliverer (Microsoft Graph). */
export type MessageDeliverer = Pick<ImapDeliverer, 'deliverMessage' | 'fetchFromMaster'> | GraphDeliverer;

/** A Mailbox trigger item's JSON: the message's fields, and where it is in the master mailbox. */
export interface MessageItem extends MessageFields {
	/** The mailbox the trigger read it from (its address, when it is one). */
	mailbox?: unknown;
	/** IMAP items: folder, UID and UIDVALIDITY in the master mailbox; POP3 items have none. */
	folder?: unknown;
	uid?: unknown;
	uidValidity?: unknown;
	messageId?: unknown;
}

const text = (value: unknown): string => (typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value));

/** Where the item's message is in the master mailbox: IMAP items name folder and UID; others (POP3) are found in INBOX by Message-ID. */
export function masterRefOf(item: MessageItem): MasterRef {
	const folder = text(item.folder);
	if (!folder) return { folder: 'INBOX' };
	return { folder, uid: typeof item.uid === 'number' ? item.uid : null, uidValidity: item.uidValidity === null || item.uidValidity === undefined ? null : text(item.uidValidity) };
}

export interface RouteAndDeliverInput {
	/** The message: a trigger item's JSON. */
	item: MessageItem;
	messageRouter: MessageRouter;
	/** Whether routed messages are stored in their folders (Deliver Into Folders). */
	deliver: boolean;
	/** What happens to the master copy once every copy is stored. */
	masterAction: MasterAction;
	/** The deliverer, opened on the first call (only when there is something to deliver). */
	deliverer: () => Promise<MessageDeliverer>;
	/** The item's own raw message; undefined when it has none, then it is read from the master mailbox. */
	raw: () => Promise<Buffer | undefined>;
}

export interface RoutedCopyOutcome {
	target: Target;
	/** The recipients that lead to this target. */
	recipients: RecipientDecision[];
	/** How the copy was stored; undefined when not delivering. */
	delivery?: CopyResult;
}

export interface RouteAndDeliverResult {
	/** One per target inbox. */
	routed: RoutedCopyOutcome[];
	/** Unknown recipients the message stays in the master mailbox for. */
	kept: RecipientDecision[];
	/** Unknown recipients that are dropped. */
	dropped: RecipientDecision[];
	/** What happened to the master copy; undefined when not delivering. */
	master?: MasterResult;
	/** Addresses found but not treated as recipients, and why. */
	ignored: IgnoredAddress[];
	/** The first failure (a copy's, else the master action's): it stops the run unless the node continues on fail. */
	stopError?: MailboxError;
}

/** The master result of a message whose raw message could not be read: gone from the master mailbox. */
function goneFromMaster(ref: MasterRef): MasterResult {
	// an earlier run delivered and removed it (or someone moved it)
	return {
		status: 'notFound',
		reason: `the message is no longer in "${ref.folder}" of the master mailbox, so nothing was delivered (an earlier run delivered and removed it, or it was moved). For items that never were in the master mailbox, turn on "Include Raw Message" in the trigger.`,
	};
}

/** Routes one message and, when delivering, stores its copies and settles the master copy. */
export async function routeAndDeliver(input: RouteAndDeliverInput): Promise<RouteAndDeliverResult> {
	const { item, messageRouter, deliver, masterAction } = input;
	const ownMailbox = text(item.mailbox).includes('@') ? [text(item.mailbox)] : [];
	const routing = messageRouter.route(item, ownMailbox);
	let copies: CopyResult[] | undefined;
	let master: MasterResult | undefined;
	let stopError: MailboxError | undefined;
	if (deliver && (routing.routed.length > 0 || (routing.removable && routing.dropped.length > 0))) {
		const deliverer = await input.deliverer();
		const ref = masterRefOf(item);
		const messageId = typeof item.messageId === 'string' ? item.messageId : null;
		const raw = (await input.raw()) ?? (await deliverer.fetchFromMaster(ref, messageId));
		if (!raw) {
			copies = routing.routed.map((c) => ({ folder: c.target.folder, status: 'skipped', uid: null, folderCreated: false }));
			master = goneFromMaster(ref);
		} else {
			const result = await deliverer.deliverMessage(
				raw,
				routing.routed.map((c) => c.target.folderParts),
				{ ref, action: masterAction, removable: routing.removable },
			);
			copies = result.copies;
			master = result.master;
		}
		const failed = copies.find((c) => c.status === 'failed') ?? (master.status === 'failed' ? master : undefined);
		stopError = failed?.error;
	} else if (deliver) {
		master = { status: 'kept', reason: routing.kept.length ? 'an unknown recipient keeps the message in the master mailbox' : 'nothing to deliver' };
	}
	return {
		routed: routing.routed.map((copy, k) => ({ target: copy.target, recipients: copy.recipients, delivery: copies?.[k] })),
		kept: routing.kept,
		dropped: routing.dropped,
		master,
		ignored: routing.ignored,
		stopError,
	};
}
