import { detailsOf, lookup, MailboxError } from '../errors';
import type { GraphClient, GraphFolder } from '../graph/client';
import { identityOf, type CopyResult, type DeliveryResult, type MasterAction, type MasterRef, type MasterResult, type MessageIdentity } from './deliver';

/**
 * Delivery of routed messages into the folders of a Microsoft 365 mailbox over Microsoft Graph,
 * the counterpart of the ImapDeliverer (lib/router/deliver.ts) with the same results.
 *
 * - A copy is created from the raw message by mailFolder: importMime (POST
 *   .../mailFolders/{id}/importMime, base64 MIME as text/plain): a message as delivered, not a
 *   draft, unread, with its MIME kept. Graph v1.0 has no request for this: a message created
 *   there from MIME (POST .../mailFolders/{id}/messages, text/plain) is always a draft, and the
 *   extended property that would make it a sent item (PR_MESSAGE_FLAGS, Integer 0x0E07) can only
 *   be given with a JSON body, not with MIME, and not changed afterwards. importMime is in Graph's
 *   beta and needs Mail-Advanced.ReadWrite.All (app) or Mail-Advanced.ReadWrite (delegated).
 * - Folders ("Inboxes/Sales") are found by display path as in Outlook (levels under the top of
 *   the mailbox, or under a well-known folder such as Inbox) and created level by level when
 *   missing.
 * - Idempotent by Message-ID: before each import the folder is searched by internetMessageId, so a
 *   re-run after a crash finds its copy. Exchange keeps no byte size of the MIME it was given (it
 *   converts MIME to MAPI), so unlike IMAP the size is not compared; a message without Message-ID
 *   is imported every time.
 * - The master copy (the catch-all mailbox, reached over Graph too) is found by Message-ID in the
 *   trigger item's folder ("INBOX" is Graph's inbox) and deleted (to Deleted Items: recoverable) or
 *   moved, one message, only after every copy is in place.
 */
export class GraphDeliverer {
	/** lower-case display path -> the folder, once found or created. */
	private readonly folders = new Map<string, GraphFolder>();

	constructor(
		private readonly target: GraphClient,
		private readonly master: GraphClient = target,
		private readonly field = 'inboxRoot',
	) {}

	/** A folder by its parts (created level by level when missing, `created` when any level was). */
	async ensureFolder(parts: readonly string[], client: GraphClient = this.target, field = this.field): Promise<{ folder: GraphFolder; created: boolean }> {
		const path = parts.map((p) => p.trim().replace(/\//g, '\\/')).join('/');
		const key = `${client === this.target ? 't' : 'm'}:${path.toLowerCase()}`;
		const known = this.folders.get(key);
		if (known) return { folder: known, created: false };
		let current = '';
		let folder: GraphFolder | undefined;
		let created = false;
		for (const part of parts.map((p) => p.trim())) {
			const next = current ? `${current}/${part.replace(/\//g, '\\/')}` : part.replace(/\//g, '\\/');
			const found = await lookup(client.resolveFolder(next), 'folders').catch((error: unknown) => Promise.reject(withField(error, field, `The folder "${next}" could not be found`)));
			folder = found.value;
			if (found.missing) {
				try {
					folder = await client.createFolder(current || undefined, part);
				} catch (createError) {
					throw withField(createError, field, `The folder "${next}" could not be created`);
				}
				created = true;
			}
			current = next;
		}
		if (!folder) throw new MailboxError('CONFIG', 'The folder path is empty.', { field, step: 'config', hint: 'Enter a folder such as Inboxes.' });
		this.folders.set(key, folder);
		return { folder, created };
	}

	/** Puts one copy into a folder, unless the folder already holds the message (same Message-ID). */
	async deliverCopy(raw: Buffer, folderParts: readonly string[], identity: MessageIdentity = identityOf(raw)): Promise<CopyResult> {
		let folder = folderParts.join('/');
		let folderCreated = false;
		try {
			const ensured = await this.ensureFolder(folderParts);
			folder = ensured.folder.path;
			folderCreated = ensured.created;
			if (!folderCreated && identity.messageId) {
				const present = await this.target.findByInternetMessageId(ensured.folder.id, identity.messageId);
				const same = present.find((m) => m.internetMessageId === identity.messageId);
				if (same) return { folder, status: 'alreadyPresent', uid: null, id: same.id, folderCreated };
			}
			let created;
			try {
				created = await this.target.importMime(ensured.folder.id, raw);
			} catch (error) {
				throw importFailure(error, this.field, this.target.mailbox);
			}
			return { folder, status: 'appended', uid: null, id: created.id, folderCreated };
		} catch (error) {
			return { folder, status: 'failed', uid: null, folderCreated, error: withField(error, this.field, `The message could not be stored in "${folder}"`) };
		}
	}

	/** The master copy's id: by Message-ID in the item's folder (undefined when it is not there). */
	private async findInMaster(ref: MasterRef, messageId: string): Promise<string | undefined> {
		const folder = await this.master.resolveFolder(ref.folder);
		const found = await this.master.findByInternetMessageId(folder.id, messageId);
		return found.find((m) => m.internetMessageId === messageId)?.id;
	}

	/** The whole message from the master mailbox (for items without the raw message): by Message-ID; undefined when gone. */
	async fetchFromMaster(ref: MasterRef, messageId: string | null | undefined): Promise<Buffer | undefined> {
		if (!messageId?.trim()) {
			throw new MailboxError('CONFIG', 'The item has neither the raw message nor a Message-ID to find it in the master mailbox over Microsoft Graph, so it cannot be delivered.', {
				field: 'rawProperty',
				step: 'config',
				hint: 'Turn on "Include Raw Message" in the trigger, or set "Raw Message Property" (Options) to the binary property that holds the .eml.',
			});
		}
		const id = await this.findInMaster(ref, messageId.trim());
		return id ? this.master.getMime(id) : undefined;
	}

	/** Deletes (to Deleted Items) or moves the master copy, found by Message-ID in the item's folder. */
	async settleMaster(ref: MasterRef, action: MasterAction, identity: MessageIdentity): Promise<MasterResult> {
		if (action.action === 'keep') return { status: 'kept', reason: 'the node keeps delivered messages in the master mailbox' };
		if (!identity.messageId) return { status: 'kept', reason: 'the message has no Message-ID to find it by in the master mailbox over Microsoft Graph: it stays there' };
		try {
			const destination = action.action === 'move' ? (await this.ensureFolder(action.folder.split('/').map((s) => s.trim()).filter(Boolean), this.master, 'moveToFolder')).folder : undefined;
			const id = await this.findInMaster(ref, identity.messageId);
			if (!id) return { status: 'notFound', reason: `the message is no longer in "${ref.folder}" of the master mailbox (removed before)` };
			const [result] = destination ? await this.master.move([id], destination.id) : await this.master.delete([id], 'trash');
			if (!result.ok) throw result.error ?? new MailboxError('SERVER', 'Microsoft Graph did not say why.', { field: 'afterDelivery', step: 'command' });
			if (destination) return { status: 'moved', reason: `moved to "${destination.path}" after every copy was delivered`, id };
			return { status: 'deleted', reason: 'deleted from the master mailbox (to Deleted Items) after every copy was delivered', id };
		} catch (error) {
			return { status: 'failed', reason: 'the copies were delivered, but the message could not be removed from the master mailbox', error: withField(error, 'afterDelivery', `"${ref.folder}" of the master mailbox`) };
		}
	}

	/** Every copy, then — only when all are in place and `removable` — the master action. */
	async deliverMessage(raw: Buffer, copies: ReadonlyArray<readonly string[]>, master: { ref: MasterRef; action: MasterAction; removable: boolean } | undefined): Promise<DeliveryResult> {
		const identity = identityOf(raw);
		const results: CopyResult[] = [];
		for (const parts of copies) results.push(await this.deliverCopy(raw, parts, identity));
		if (!master) return { copies: results, master: { status: 'kept', reason: 'the message came without a place in the master mailbox (no folder)' } };
		if (results.some((r) => r.status === 'failed')) return { copies: results, master: { status: 'skipped', reason: 'not every copy could be delivered: the message stays in the master mailbox' } };
		if (!master.removable) return { copies: results, master: { status: 'kept', reason: 'an unknown recipient keeps the message in the master mailbox' } };
		return { copies: results, master: await this.settleMaster(master.ref, master.action, identity) };
	}
}

/** A failure as a MailboxError naming `field` (Graph's own errors keep theirs when they name one). */
function withField(error: unknown, field: string, what: string): MailboxError {
	if (error instanceof MailboxError) return error;
	const text = error instanceof Error ? error.message : String(error);
	return new MailboxError('SERVER', `${what}: ${text}`, { field, step: 'command', cause: error });
}

/** importMime refused for want of permission: the permission it needs, which the others do not give. */
function importFailure(error: unknown, field: string, mailbox: string | undefined): unknown {
	if (!(error instanceof MailboxError) || !/accessdenied|http_403/i.test(error.causeCode ?? '')) return error;
	return new MailboxError('SERVER', `Microsoft Graph refused to create the message in${mailbox ? ` ${mailbox}` : ' the mailbox'} (mailFolder: importMime, ${error.causeCode}).`, {
		...detailsOf(error),
		field,
		step: 'command',
		hint: 'Creating a delivered (non-draft) message from MIME needs the Microsoft Graph permission Mail-Advanced.ReadWrite.All (application; delegated: Mail-Advanced.ReadWrite) with admin consent, besides Mail.ReadWrite.',
	});
}
