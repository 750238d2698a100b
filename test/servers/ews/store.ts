/** The mailbox store of the local EWS endpoint: mailboxes, folders, items, opaque ids and who may open what. */
import crypto from 'node:crypto';
import { EwsError } from './soap';

export type WellKnownFolder = 'inbox' | 'junkemail' | 'deleteditems' | 'sentitems' | 'drafts';

export interface EwsFolderItem {
	itemId: string;
	changeKey: string;
	isRead: boolean;
	subject: string;
	messageId: string;
	raw: Buffer;
}

export interface Folder {
	id: string;
	version: number;
	displayName: string;
	parentId?: string;
	distinguished?: string;
	/** Hidden folders (root, Recoverable Items) are not under msgfolderroot. */
	folderClass: string;
}

export interface Item {
	id: string;
	version: number;
	folderId: string;
	raw: Buffer;
	isRead: boolean;
	received: Date;
	subject: string;
	messageId: string;
	from?: { name?: string; address: string };
	sent?: Date;
	hasAttachments: boolean;
	/** Change number of the last change (creation, move or update). */
	changeNumber: number;
	/** The version of the last change to anything but IsRead (later versions only changed IsRead). */
	contentVersion: number;
}

export interface Mailbox {
	address: string;
	folders: Map<string, Folder>;
	items: Map<string, Item>;
	nextId: number;
}

/** What one client was told about a folder: itemId -> [version, isRead]. */
export interface SyncSnapshot {
	mailbox: string;
	folderId: string;
	generation: number;
	changeNumber: number;
	known: Map<string, { version: number; isRead: boolean }>;
}

const DISTINGUISHED: Array<{ id: string; name: string; parent?: string; folderClass?: string }> = [
	{ id: 'root', name: 'Root', folderClass: '' },
	{ id: 'msgfolderroot', name: 'Top of Information Store', parent: 'root' },
	{ id: 'inbox', name: 'Inbox', parent: 'msgfolderroot' },
	{ id: 'drafts', name: 'Drafts', parent: 'msgfolderroot' },
	{ id: 'sentitems', name: 'Sent Items', parent: 'msgfolderroot' },
	{ id: 'deleteditems', name: 'Deleted Items', parent: 'msgfolderroot' },
	{ id: 'junkemail', name: 'Junk Email', parent: 'msgfolderroot' },
	{ id: 'outbox', name: 'Outbox', parent: 'msgfolderroot' },
	{ id: 'recoverableitemsroot', name: 'Recoverable Items', parent: 'root' },
	{ id: 'recoverableitemsdeletions', name: 'Deletions', parent: 'recoverableitemsroot' },
];

/** The mailboxes, their folders and items, and the change numbers that SyncFolderItems reports by. */
export class EwsStore {
	readonly mailboxes = new Map<string, Mailbox>();
	private readonly access = new Map<string, Set<string>>();
	changeNumber = 0;
	/** itemId -> the change number at which it left its folder (moved or deleted). */
	readonly tombstones = new Map<string, number>();

	constructor(mailboxes: string[], access: Record<string, string[]> = {}) {
		for (const address of mailboxes) this.mailboxes.set(address.toLowerCase(), this.newMailbox(address));
		for (const [principal, list] of Object.entries(access)) this.access.set(principal.toLowerCase(), new Set(list.map((a) => a.toLowerCase())));
	}

	private newMailbox(address: string): Mailbox {
		const mbx: Mailbox = { address, folders: new Map(), items: new Map(), nextId: 1 };
		const byName = new Map<string, Folder>();
		for (const d of DISTINGUISHED) {
			const folder: Folder = { id: this.newId(mbx, 'F'), version: 1, displayName: d.name, parentId: d.parent ? byName.get(d.parent)?.id : undefined, distinguished: d.id, folderClass: d.folderClass ?? 'IPF.Note' };
			byName.set(d.id, folder);
			mbx.folders.set(folder.id, folder);
		}
		return mbx;
	}

	newId(mbx: Mailbox, kind: 'F' | 'I'): string {
		return Buffer.from(`${kind}\u0001${mbx.address.toLowerCase()}\u0001${mbx.nextId++}\u0001${crypto.randomBytes(6).toString('hex')}`, 'utf8').toString('base64');
	}

	/** The mailbox an id belongs to, or undefined when the id is malformed or of the other kind. */
	parseId(id: string, kind: 'F' | 'I'): Mailbox | null | undefined {
		if (!/^[A-Za-z0-9+/]+=*$/.test(id)) return undefined;
		const decoded = Buffer.from(id, 'base64').toString('utf8');
		if (Buffer.from(decoded, 'utf8').toString('base64') !== id) return undefined;
		const parts = decoded.split('\u0001');
		if (parts.length !== 4 || parts[0] !== kind) return undefined;
		return this.mailboxes.get(parts[1]) ?? null;
	}

	mailboxOrThrow(address: string): Mailbox {
		const mbx = this.mailboxes.get(address.toLowerCase());
		if (!mbx) throw new Error(`no mailbox ${address} (known: ${[...this.mailboxes.keys()].join(', ')})`);
		return mbx;
	}

	distinguished(mbx: Mailbox, name: string): Folder | undefined {
		for (const f of mbx.folders.values()) if (f.distinguished === name.toLowerCase()) return f;
		return undefined;
	}

	folderByRef(mbx: Mailbox, ref: string): Folder {
		const found = this.distinguished(mbx, ref) ?? mbx.folders.get(ref) ?? this.folderByPath(mbx, ref);
		if (!found) throw new Error(`no folder ${ref} in ${mbx.address}`);
		return found;
	}

	private folderByPath(mbx: Mailbox, ref: string): Folder | undefined {
		let at = this.distinguished(mbx, 'msgfolderroot');
		for (const part of ref.split('/').filter(Boolean)) {
			at = [...mbx.folders.values()].find((f) => f.parentId === at?.id && f.displayName.toLowerCase() === part.toLowerCase());
			if (!at) return undefined;
		}
		return at;
	}

	makeFolder(mbx: Mailbox, parent: Folder, displayName: string, folderClass = 'IPF.Note'): Folder {
		if ([...mbx.folders.values()].some((f) => f.parentId === parent.id && f.displayName.toLowerCase() === displayName.toLowerCase())) throw new EwsError('ErrorFolderExists');
		const folder: Folder = { id: this.newId(mbx, 'F'), version: 1, displayName, parentId: parent.id, folderClass };
		mbx.folders.set(folder.id, folder);
		parent.version++;
		return folder;
	}

	ownMailbox(principal: string): Mailbox | undefined {
		const p = principal.toLowerCase();
		const exact = this.mailboxes.get(p);
		if (exact) return exact;
		if (p.includes('@')) return undefined;
		for (const mbx of this.mailboxes.values()) if (mbx.address.toLowerCase().split('@')[0] === p) return mbx;
		return undefined;
	}

	mayOpen(principal: string, mbx: Mailbox): boolean {
		if (this.ownMailbox(principal) === mbx) return true;
		return this.access.get(principal.toLowerCase())?.has(mbx.address.toLowerCase()) ?? false;
	}

	/** Moves an item: a new id in the target folder (as Exchange gives on a move). */
	moveItem(from: Mailbox, item: Item, to: Mailbox, folder: Folder): Item {
		from.items.delete(item.id);
		const moved: Item = { ...item, id: this.newId(to, 'I'), folderId: folder.id, version: 1, contentVersion: 1, changeNumber: ++this.changeNumber };
		to.items.set(moved.id, moved);
		// Clients syncing the source folder see a Delete at this change number.
		this.tombstones.set(item.id, this.changeNumber);
		return moved;
	}

	copyItem(item: Item, to: Mailbox, folder: Folder): Item {
		const copy: Item = { ...item, raw: Buffer.from(item.raw), id: this.newId(to, 'I'), folderId: folder.id, version: 1, contentVersion: 1, changeNumber: ++this.changeNumber };
		to.items.set(copy.id, copy);
		return copy;
	}

	folderOf(item: Item): Folder | undefined {
		for (const mbx of this.mailboxes.values()) {
			const folder = mbx.folders.get(item.folderId);
			if (folder) return folder;
		}
		return undefined;
	}
}
