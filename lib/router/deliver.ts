import type { ImapFlow } from 'imapflow';
import { MailboxError } from '../errors';
import { expungesWholeFolder, othersMarkedDeleted } from '../imap/expunge';
import { imapCommand } from '../imap/connect';
import { headersFromRaw } from './route';

/**
 * Delivery of routed messages by IMAP: the raw message APPENDed into each target's folder
 * (created when missing), then removed from the master mailbox (deleted or moved), and that only
 * after every copy of the message is in place.
 *
 * Idempotent: before each APPEND the target folder is searched for the message (by Message-ID
 * and size, confirmed by the fetched envelope; a message without Message-ID by its exact bytes),
 * so a run repeated after a crash between APPEND and removal finds its copies and does not add
 * them again; another message with the same Message-ID is not taken for it. The master copy is
 * removed only when the UID still holds the same message (same UIDVALIDITY, Message-ID and size);
 * otherwise one message found by Message-ID and size is removed, by its UID.
 */

/**
 * The message's identity in folders: its Message-ID and its size (a sender can give another
 * message the same Message-ID), or without a Message-ID its bytes. Servers report the size with
 * CRLF line ends, whatever the stored bytes use.
 */
export interface MessageIdentity {
	messageId: string | null;
	size: number;
	/** The size with every bare LF counted as CRLF. */
	crlfSize?: number;
}

export function identityOf(raw: Buffer): MessageIdentity {
	const id = headersFromRaw(raw)['message-id']?.[0]?.trim();
	let bareLf = 0;
	for (let i = raw.indexOf(10); i !== -1; i = raw.indexOf(10, i + 1)) if (i === 0 || raw[i - 1] !== 13) bareLf++;
	return { messageId: id || null, size: raw.length, crlfSize: raw.length + bareLf };
}

/** Whether a stored message's size is this one's (any size when it is not known: 0). */
function sameSize(size: number | undefined, identity: MessageIdentity): boolean {
	return identity.size <= 0 || size === identity.size || size === identity.crlfSize;
}

export interface CopyResult {
	/** The folder as the server names it. */
	folder: string;
	/** skipped: the message was no longer in the master mailbox to read it from. */
	status: 'appended' | 'alreadyPresent' | 'failed' | 'skipped';
	/** UID in the target folder (APPENDUID, or the one found); null when the server does not say. */
	uid: number | null;
	/** Delivery over Microsoft Graph: the message's (immutable) id in the target folder. */
	id?: string;
	/** The folder did not exist and was created. */
	folderCreated: boolean;
	error?: MailboxError;
}

/** Where the message is in the master mailbox: a trigger item's folder, uid and uidValidity. */
export interface MasterRef {
	folder: string;
	uid?: number | null;
	uidValidity?: string | null;
}

export type MasterAction = { action: 'delete' } | { action: 'move'; folder: string } | { action: 'keep' };

export interface MasterResult {
	status: 'deleted' | 'moved' | 'kept' | 'notFound' | 'skipped' | 'failed';
	/** Why, in words. */
	reason: string;
	/** The UID it had in the master folder. */
	uid?: number;
	/** Over Microsoft Graph: the message's (immutable) id in the master mailbox. */
	id?: string;
	error?: MailboxError;
}

export interface DeliveryResult {
	copies: CopyResult[];
	master: MasterResult;
}

function asMailboxError(error: unknown, field: string, what: string): MailboxError {
	if (error instanceof MailboxError) return error;
	const e = error as { responseText?: unknown; message?: unknown; serverResponseCode?: unknown };
	const text = typeof e?.responseText === 'string' ? e.responseText : typeof e?.message === 'string' ? e.message : String(error);
	return new MailboxError('SERVER', `${what}: ${text}`, {
		field,
		step: 'command',
		serverResponse: typeof e?.responseText === 'string' ? e.responseText : undefined,
		serverCode: typeof e?.serverResponseCode === 'string' ? e.serverResponseCode : undefined,
		command: imapCommand(e ?? {}),
		cause: error,
		hint: 'Check that the account may create and write these folders (for a shared tree: its ACL rights).',
	});
}

/** One delivery connection (the target account) and, when messages are removed, the master's connection (may be the same). */
export class ImapDeliverer {
	/** folder key -> the server's path, once created or found. */
	private readonly folders = new Map<string, { path: string; created: boolean }>();

	constructor(
		private readonly target: ImapFlow,
		private readonly master: ImapFlow = target,
		private readonly field = 'inboxRoot',
	) {}

	/** The server's path of a folder (its parts joined with the server's delimiter), created when missing. */
	async ensureFolder(parts: readonly string[]): Promise<{ path: string; created: boolean }> {
		const key = parts.join('\u0000').toLowerCase();
		const known = this.folders.get(key);
		if (known) return { path: known.path, created: false };
		const delimiter = this.target.namespace?.delimiter || '/';
		// a name may not contain the delimiter: "J. Smith" stays one folder on a server that uses "."
		const clean = parts.map((p) => p.split(delimiter).join('_'));
		let result: { path: string; created: boolean };
		try {
			const created = await this.target.mailboxCreate(clean);
			result = { path: created.path, created: created.created };
		} catch (error) {
			throw asMailboxError(error, this.field, `The folder "${clean.join(delimiter)}" could not be created`);
		}
		this.folders.set(key, result);
		return result;
	}

	/** UIDs in the selected folder that hold this message. */
	private async find(client: ImapFlow, raw: Buffer, identity: MessageIdentity): Promise<number[]> {
		if (identity.messageId) {
			const uids = (await client.search({ header: { 'message-id': identity.messageId } }, { uid: true })) || [];
			if (uids.length === 0) return [];
			// SEARCH HEADER matches substrings: confirm the exact Message-ID, and the size
			const found: number[] = [];
			for await (const m of client.fetch(uids, { envelope: true, size: true }, { uid: true })) {
				if (m.envelope?.messageId?.trim() === identity.messageId && sameSize(m.size, identity)) found.push(m.uid);
			}
			return found.sort((a, b) => a - b);
		}
		// without a Message-ID: the same size, then the same bytes
		const uids = (await client.search({ larger: identity.size - 1, smaller: identity.size + 1 }, { uid: true })) || [];
		const found: number[] = [];
		for (const uid of uids.slice(0, 50)) {
			const m = await client.fetchOne(String(uid), { source: true }, { uid: true });
			if (m && m.source && Buffer.compare(m.source, raw) === 0) found.push(uid);
		}
		return found;
	}

	/** Puts one copy into a folder, unless the folder already holds the message. */
	async deliverCopy(raw: Buffer, folderParts: readonly string[], identity: MessageIdentity = identityOf(raw), flags: string[] = []): Promise<CopyResult> {
		let folder = folderParts.join('/');
		let folderCreated = false;
		try {
			const ensured = await this.ensureFolder(folderParts);
			folder = ensured.path;
			folderCreated = ensured.created;
			if (!folderCreated) {
				const lock = await this.target.getMailboxLock(folder, { readOnly: true });
				try {
					const present = await this.find(this.target, raw, identity);
					if (present.length) return { folder, status: 'alreadyPresent', uid: present[0], folderCreated };
				} finally {
					lock.release();
				}
			}
			const appended = await this.target.append(folder, raw, flags);
			if (!appended) throw new MailboxError('SERVER', `The message could not be stored in "${folder}".`, { field: this.field, step: 'command' });
			return { folder, status: 'appended', uid: typeof appended.uid === 'number' ? appended.uid : null, folderCreated };
		} catch (error) {
			return { folder, status: 'failed', uid: null, folderCreated, error: asMailboxError(error, this.field, `The message could not be stored in "${folder}"`) };
		}
	}

	/**
	 * The whole message from the master mailbox (for items without the raw message, or with headers
	 * only): by its UID while the folder keeps its numbering, else by Message-ID. Undefined when it
	 * is no longer there (an earlier run delivered and removed it, or someone moved it).
	 */
	async fetchFromMaster(ref: MasterRef, messageId: string | null | undefined): Promise<Buffer | undefined> {
		if (!ref.uid && !messageId) {
			throw new MailboxError('CONFIG', 'The item has neither the raw message nor a UID or Message-ID to find it in the master mailbox, so it cannot be delivered.', {
				field: 'rawProperty',
				step: 'config',
				hint: 'Turn on "Include Raw Message" in the trigger, or set "Raw Message Property" (Options) to the binary property that holds the .eml.',
			});
		}
		const lock = await this.master.getMailboxLock(ref.folder, { readOnly: true });
		try {
			const mailbox = this.master.mailbox;
			const sameNumbering = !ref.uidValidity || (mailbox && String(mailbox.uidValidity) === String(ref.uidValidity));
			if (ref.uid && sameNumbering) {
				const m = await this.master.fetchOne(String(ref.uid), { source: true, envelope: true }, { uid: true });
				if (m && m.source && (!messageId || m.envelope?.messageId?.trim() === messageId.trim())) return m.source;
			}
			if (!messageId) return undefined;
			const uids = await this.find(this.master, Buffer.alloc(0), { messageId: messageId.trim(), size: 0 });
			if (uids.length === 0) return undefined;
			const m = await this.master.fetchOne(String(uids[0]), { source: true }, { uid: true });
			return m && m.source ? m.source : undefined;
		} finally {
			lock.release();
		}
	}

	/** Deletes or moves the message in the master mailbox; checks that the UID still holds this message. */
	async settleMaster(ref: MasterRef, raw: Buffer, action: MasterAction, identity: MessageIdentity = identityOf(raw)): Promise<MasterResult> {
		if (action.action === 'keep') return { status: 'kept', reason: 'the node keeps delivered messages in the master mailbox' };
		try {
			let destination: string | undefined;
			if (action.action === 'move') destination = (await this.ensureFolderOn(this.master, action.folder)).path;
			const lock = await this.master.getMailboxLock(ref.folder);
			try {
				let uids: number[] = [];
				const mailbox = this.master.mailbox;
				const sameNumbering = !ref.uidValidity || (mailbox && String(mailbox.uidValidity) === String(ref.uidValidity));
				if (ref.uid && sameNumbering) {
					const m = await this.master.fetchOne(String(ref.uid), { envelope: true, size: true }, { uid: true });
					const same = m && sameSize(m.size, identity) && (!identity.messageId || m.envelope?.messageId?.trim() === identity.messageId);
					if (same) uids = [ref.uid];
				}
				// one message is removed, by its UID: never every message that looks like it
				if (uids.length === 0) uids = (await this.find(this.master, raw, identity)).slice(0, 1);
				if (uids.length === 0) return { status: 'notFound', reason: `the message is no longer in "${ref.folder}" of the master mailbox (removed before)` };
				if (expungesWholeFolder(this.master.capabilities, destination ? 'move' : 'delete')) {
					const others = await othersMarkedDeleted(this.master, uids);
					if (others) {
						const error = new MailboxError('SERVER', `The master mailbox's server cannot expunge single messages (no UIDPLUS), and ${others} other message(s) in "${ref.folder}" are marked as deleted: removing this one would remove them too, so it stays.`, {
							field: 'afterDelivery',
							hint: 'Undelete or expunge those messages in the mail client that marked them; the next run removes this one.',
						});
						return { status: 'failed', reason: 'the copies were delivered, but the message stays in the master mailbox: removing it would expunge other deleted mail', error };
					}
				}
				if (destination) {
					await this.master.messageMove(uids, destination, { uid: true });
					return { status: 'moved', reason: `moved to "${destination}" after every copy was delivered`, uid: uids[0] };
				}
				await this.master.messageDelete(uids, { uid: true });
				return { status: 'deleted', reason: 'deleted from the master mailbox after every copy was delivered', uid: uids[0] };
			} finally {
				lock.release();
			}
		} catch (error) {
			return { status: 'failed', reason: 'the copies were delivered, but the message could not be removed from the master mailbox', error: asMailboxError(error, 'afterDelivery', `"${ref.folder}" of the master mailbox`) };
		}
	}

	private async ensureFolderOn(client: ImapFlow, folder: string): Promise<{ path: string }> {
		const parts = folder.split('/').map((s) => s.trim()).filter(Boolean);
		if (client === this.target) return this.ensureFolder(parts);
		try {
			return await client.mailboxCreate(parts);
		} catch (error) {
			throw asMailboxError(error, 'moveToFolder', `The folder "${folder}" could not be created`);
		}
	}

	/**
	 * Delivers one message: every copy, then — only when all are in place and `removable` — the
	 * master action. A failed copy leaves the master copy untouched (a re-run delivers the rest).
	 */
	async deliverMessage(raw: Buffer, copies: ReadonlyArray<readonly string[]>, master: { ref: MasterRef; action: MasterAction; removable: boolean } | undefined): Promise<DeliveryResult> {
		const identity = identityOf(raw);
		const results: CopyResult[] = [];
		for (const parts of copies) results.push(await this.deliverCopy(raw, parts, identity));
		if (!master) return { copies: results, master: { status: 'kept', reason: 'the message came without a place in the master mailbox (no folder)' } };
		if (results.some((r) => r.status === 'failed')) return { copies: results, master: { status: 'skipped', reason: 'not every copy could be delivered: the message stays in the master mailbox' } };
		if (!master.removable) return { copies: results, master: { status: 'kept', reason: 'an unknown recipient keeps the message in the master mailbox' } };
		return { copies: results, master: await this.settleMaster(master.ref, raw, master.action, identity) };
	}
}
