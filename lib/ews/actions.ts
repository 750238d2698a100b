/**
 * The Mailbox node's operations over Exchange Web Services: folders (list with roles and counts,
 * create with nested paths) and messages addressed by their EWS item id (move, copy, delete,
 * mark read/unread, spam and ham, get with the MIME content). The connection check is
 * lib/ews/check.ts. No n8n imports: the node builds the client (lib/ews/client.ts) and hands the results on.
 *
 * Bulk operations send one request for all item ids (EWS takes lists: MoveItem, CopyItem,
 * DeleteItem, GetItem, UpdateItem) and answer per id: each id gets its own result or its own error
 * (ErrorItemNotFound for a message moved or deleted meanwhile), in the order given. An id given
 * twice is sent once and its outcome reported for each.
 */
import {
	BasePropertySet,
	ConflictResolutionMode,
	DeleteMode,
	EmailMessage,
	EmailMessageSchema,
	Folder,
	FolderId,
	FolderSchema,
	FolderTraversal,
	FolderView,
	GetFolderRequest,
	ItemId,
	ItemSchema,
	MessageDisposition,
	PropertySet,
	ServiceError,
	ServiceErrorHandling,
	ServiceResponse,
	ServiceResponseException,
	ServiceResult,
	WellKnownFolderName,
	type ExchangeService,
	type Item,
} from 'ews-javascript-api';
import { configError, detailsOf, MailboxError } from '../errors';
import { distinguishedFolder, splitFolderPath, type EwsClient, type EwsFolderRef } from './client';
import { read } from './items';

// --- folders ------------------------------------------------------------------------------------

/** The IMAP folder roles (SPECIAL-USE) of Exchange's distinguished folders, so both protocols name roles alike. */
export const FOLDER_ROLES: ReadonlyArray<{ distinguished: string; specialUse?: 'inbox' | 'sent' | 'drafts' | 'junk' | 'trash' | 'archive' }> = [
	{ distinguished: 'inbox', specialUse: 'inbox' },
	{ distinguished: 'sentitems', specialUse: 'sent' },
	{ distinguished: 'drafts', specialUse: 'drafts' },
	{ distinguished: 'junkemail', specialUse: 'junk' },
	{ distinguished: 'deleteditems', specialUse: 'trash' },
	{ distinguished: 'outbox' },
];

export interface EwsFolderInfo {
	/** The display path under the top of the mailbox, levels separated by "/" ("Inbox/Projects"); a "/" in a name is written "\/". */
	path: string;
	name: string;
	/** The parent's path, "" at the top. */
	parentPath: string;
	/** The role in IMAP's words (inbox, sent, drafts, junk, trash), for folders that have one. */
	specialUse: string | null;
	/** Exchange's distinguished folder name (inbox, sentitems, drafts, junkemail, deleteditems, outbox), if it is one. */
	distinguishedFolderId: string | null;
	folderId: string;
	parentFolderId: string | null;
	/** IPF.Note for mail folders; IPF.Appointment, IPF.Contact... for others. */
	folderClass: string | null;
	totalCount: number | null;
	unreadCount: number | null;
	childFolderCount: number | null;
}


function escapeName(name: string): string {
	return name.replace(/\//g, '\\/');
}

/**
 * The folder ids of distinguished folders, in one GetFolder request (one id per response message;
 * a folder the mailbox lacks, e.g. an archive, is left out).
 */
export async function distinguishedFolderIds(client: EwsClient, names: readonly string[]): Promise<Map<string, string>> {
	const found = new Map<string, string>();
	if (!names.length) return found;
	const responses = await client.call('GetFolder', async (service) => {
		const RequestClass = GetFolderRequest as unknown as new (service: ExchangeService, mode: ServiceErrorHandling) => {
			FolderIds: { Add(id: FolderId): void };
			PropertySet: PropertySet;
			Execute(): Promise<{ Responses: Array<ServiceResponse & { Folder?: Folder }> }>;
		};
		const request = new RequestClass(service, ServiceErrorHandling.ReturnErrors);
		for (const name of names) request.FolderIds.Add(client.folderId(name));
		request.PropertySet = new PropertySet(BasePropertySet.IdOnly);
		return request.Execute();
	});
	responses.Responses.forEach((response, i) => {
		if (response.Result === ServiceResult.Success && response.Folder) found.set(names[i], response.Folder.Id.UniqueId);
	});
	return found;
}

const LIST_PROPERTIES = () =>
	new PropertySet(BasePropertySet.IdOnly, [FolderSchema.DisplayName, FolderSchema.ParentFolderId, FolderSchema.FolderClass, FolderSchema.TotalCount, FolderSchema.UnreadCount, FolderSchema.ChildFolderCount]);

/**
 * Every folder under the top of the mailbox (FindFolder, deep traversal, paged), with its path,
 * role and counts. `mailOnly` (default true) leaves out calendars, contacts, tasks and notes.
 */
export async function listEwsFolders(client: EwsClient, options: { mailOnly?: boolean; pageSize?: number } = {}): Promise<EwsFolderInfo[]> {
	const root = client.folderId(WellKnownFolderName.MsgFolderRoot);
	const rootFolder = await client.call('GetFolder', (service) => Folder.Bind(service, root, new PropertySet(BasePropertySet.IdOnly)));
	const rootId = rootFolder.Id.UniqueId;
	const roles = await distinguishedFolderIds(
		client,
		FOLDER_ROLES.map((r) => r.distinguished),
	);
	const roleById = new Map([...roles.entries()].map(([name, id]) => [id, FOLDER_ROLES.find((r) => r.distinguished === name)!]));
	const folders: Folder[] = [];
	const pageSize = options.pageSize ?? 500;
	for (let offset = 0; ; ) {
		const view = new FolderView(pageSize, offset);
		view.PropertySet = LIST_PROPERTIES();
		view.Traversal = FolderTraversal.Deep;
		const page = await client.call('FindFolder', (service) => service.FindFolders(root, view));
		folders.push(...page.Folders);
		if (!page.MoreAvailable || page.Folders.length === 0) break;
		offset = page.NextPageOffset ?? offset + page.Folders.length;
	}
	const byId = new Map(folders.map((f) => [f.Id.UniqueId, f]));
	const paths = new Map<string, string>();
	const pathOf = (folder: Folder, depth = 0): string => {
		const id = folder.Id.UniqueId;
		const known = paths.get(id);
		if (known !== undefined) return known;
		const name = escapeName(read(() => folder.DisplayName) ?? '');
		const parentId = read(() => folder.ParentFolderId?.UniqueId);
		const parent = parentId && parentId !== rootId ? byId.get(parentId) : undefined;
		const path = parent && depth < 64 ? `${pathOf(parent, depth + 1)}/${name}` : name;
		paths.set(id, path);
		return path;
	};
	const out: EwsFolderInfo[] = [];
	for (const folder of folders) {
		const folderClass = read(() => folder.FolderClass) ?? null;
		if (options.mailOnly !== false && folderClass && !/^IPF\.Note(\.|$)/i.test(folderClass)) continue;
		const id = folder.Id.UniqueId;
		const parentId = read(() => folder.ParentFolderId?.UniqueId) ?? null;
		const parent = parentId && parentId !== rootId ? byId.get(parentId) : undefined;
		const role = roleById.get(id);
		out.push({
			path: pathOf(folder),
			name: read(() => folder.DisplayName) ?? '',
			parentPath: parent ? pathOf(parent) : '',
			specialUse: role?.specialUse ?? null,
			distinguishedFolderId: role?.distinguished ?? null,
			folderId: id,
			parentFolderId: parentId,
			folderClass,
			totalCount: read(() => folder.TotalCount) ?? null,
			unreadCount: read(() => folder.UnreadCount) ?? null,
			childFolderCount: read(() => folder.ChildFolderCount) ?? null,
		});
	}
	return out;
}

export interface EwsCreateFolderResult {
	/** The path as given, levels joined with "/". */
	path: string;
	folderId: string;
	created: boolean;
	/** Parent folders created on the way, top first. */
	parentsCreated: string[];
}

/**
 * Creates a folder by path ("Projects/2026/Q1" under the top of the mailbox, "Inbox/Projects"
 * under the Inbox), missing parents first. An existing folder is an error naming the field, or
 * (ifExists 'return') returned with created: false.
 */
export async function createEwsFolder(
	client: EwsClient,
	path: string,
	options: { ifExists?: 'error' | 'return'; separator?: string; field?: string; label?: string } = {},
): Promise<EwsCreateFolderResult> {
	const field = options.field ?? 'folderPath';
	const label = options.label ?? 'Folder Path';
	const separator = options.separator || '/';
	const normalized = separator === '/' ? path : path.split('/').join('\\/').split(separator).join('/');
	const segments = splitFolderPath(normalized);
	if (!segments.length) throw configError(field, `${label} is empty.`, 'Enter the folder to create, levels separated by "/", e.g. Projects/2026/Q1.');
	let parent: FolderId = client.folderId(WellKnownFolderName.MsgFolderRoot);
	let rest = segments;
	const first = distinguishedFolderOf(segments[0]);
	if (first) {
		parent = client.folderId(first);
		rest = segments.slice(1);
	}
	const display = segments.map(escapeName).join('/');
	if (!rest.length) {
		if (options.ifExists === 'return') {
			const folder = await client.call('GetFolder', (service) => Folder.Bind(service, parent, new PropertySet(BasePropertySet.IdOnly)));
			return { path: display, folderId: folder.Id.UniqueId, created: false, parentsCreated: [] };
		}
		throw configError(field, `${label}: "${path}" is one of the mailbox's standard folders, which always exists.`, 'Enter the path of a new folder, e.g. Inbox/Projects.');
	}
	const parentsCreated: string[] = [];
	let created = false;
	let id = '';
	for (const [i, name] of rest.entries()) {
		const isLast = i === rest.length - 1;
		const here = segments.slice(0, segments.length - rest.length + i + 1).map(escapeName).join('/');
		const existing = await findChild(client, parent, name);
		if (existing) {
			if (isLast) {
				if (options.ifExists !== 'return') {
					throw configError(field, `${label}: the folder "${here}" already exists${client.mailbox ? ` in ${client.mailbox}` : ''}.`, 'Enter another path, or set "If the Folder Exists" to Return It.');
				}
				id = existing;
			}
			parent = new FolderId(existing);
			continue;
		}
		const folder = await client.call('CreateFolder', async (service) => {
			const f = new Folder(service);
			f.DisplayName = name;
			f.FolderClass = 'IPF.Note';
			await f.Save(parent);
			return f;
		});
		id = folder.Id.UniqueId;
		parent = new FolderId(id);
		if (isLast) created = true;
		else parentsCreated.push(here);
	}
	return { path: display, folderId: id, created, parentsCreated };
}

/** Whether a path's first level is a distinguished folder as the client takes it (the mail folders of every version). */
function distinguishedFolderOf(name: string): WellKnownFolderName | undefined {
	const wk = distinguishedFolder(name);
	return wk === WellKnownFolderName.Root ? undefined : wk;
}

/**
 * A folder by path ("Inbox/Projects", "Archive/2026") or distinguished name (inbox, junkemail,
 * deleteditems, sentitems, drafts), as the client resolves it; errors name the node's field.
 */
export async function resolveFolderFor(client: EwsClient, path: string, field: string, label: string): Promise<EwsFolderRef> {
	if (!path.trim()) throw configError(field, `${label} is empty.`, 'Enter a folder path such as Archive or Inbox/Projects, or a standard folder: inbox, junkemail, deleteditems, sentitems, drafts.');
	const found = await client.resolveFolder(path).then(
		(ref) => ({ ref }),
		(error: unknown) => ({ error }),
	);
	if ('ref' in found) return found.ref;
	const error = found.error;
	if (error instanceof MailboxError && error.field === 'folders') {
		throw new MailboxError(error.code, `${label}: ${error.message}`, { ...detailsOf(error), field });
	}
	throw error instanceof Error ? error : new MailboxError('PROTOCOL', String(error));
}

async function findChild(client: EwsClient, parent: FolderId, name: string): Promise<string | undefined> {
	const wanted = name.toLowerCase();
	return (await client.childFolders(parent)).find((f) => f.displayName.toLowerCase() === wanted)?.id;
}

// --- messages -----------------------------------------------------------------------------------

/** One id's outcome of a bulk operation. */
export type EwsItemOutcome<T extends object = object> = ({ ok: true } & T) | { ok: false; error: MailboxError };

/** What an EWS item id looks like: base64 (Exchange's ids are 100-200 characters of it). */
const ITEM_ID = /^[A-Za-z0-9+/_=-]+$/;

/** The item id an input gives, checked (trimmed; an empty or malformed one is a CONFIG error naming the field). */
export function checkItemId(value: unknown, field = 'itemId', label = 'Item ID'): string {
	const text = typeof value === 'string' ? value.trim() : typeof value === 'number' ? String(value) : '';
	if (!text) throw configError(field, `${label} is empty.`, 'Map the itemId of an item from the EWS trigger or Folder → List … (an EWS item id), e.g. {{ $json.itemId }}.');
	if (!ITEM_ID.test(text)) {
		throw configError(field, `${label} "${text.length > 40 ? `${text.slice(0, 40)}…` : text}" is not an EWS item id.`, 'EWS addresses a message by its item id (a long base64 string, "itemId" in the EWS trigger\'s output), not by an IMAP UID or a Message-ID.');
	}
	return text;
}

/** The MailboxError of one failed response message. */
export function itemError(client: EwsClient, response: ServiceResponse, operation: string, itemId: string): MailboxError {
	const code = ServiceError[response.ErrorCode] ?? String(response.ErrorCode);
	const short = itemId.length > 24 ? `${itemId.slice(0, 24)}…` : itemId;
	const where = client.mailbox ? ` in ${client.mailbox}` : '';
	if (code === 'ErrorItemNotFound') {
		return new MailboxError('NOT_FOUND', `Message ${short} was not found${where} (${operation}: ErrorItemNotFound): it was moved or deleted meanwhile, or the id is of another mailbox.`, {
			field: 'itemId',
			step: 'command',
			serverCode: code,
			command: operation,
			serverResponse: `${code}: ${response.ErrorMessage ?? ''}`,
			hint: 'A message gets a new item id when it is moved; use the newItemId of the operation that moved it.',
		});
	}
	if (code === 'ErrorInvalidIdMalformed' || code === 'ErrorInvalidIdNotAnItemAttachmentId' || code === 'ErrorInvalidIdMonikerTooLong') {
		return new MailboxError('CONFIG', `Item ID ${short} is not a valid EWS item id (${operation}: ${code}).`, {
			field: 'itemId',
			step: 'config',
			serverCode: code,
			command: operation,
			serverResponse: `${code}: ${response.ErrorMessage ?? ''}`,
			hint: 'Map the itemId of an item from the EWS trigger, e.g. {{ $json.itemId }}.',
		});
	}
	const Exception = ServiceResponseException as unknown as new (response: ServiceResponse) => ServiceResponseException;
	return client.toMailboxError(new Exception(response), operation);
}

/** The unique ids, in order. */
function unique(ids: readonly string[]): string[] {
	return [...new Set(ids)];
}

/** Fans the outcomes of the unique ids out to the ids as given. */
function fanOut<T extends object>(ids: readonly string[], outcomes: Map<string, EwsItemOutcome<T>>): Array<EwsItemOutcome<T>> {
	return ids.map((id) => outcomes.get(id) ?? { ok: false, error: new MailboxError('PROTOCOL', `Exchange did not answer for message ${id.slice(0, 24)}….`, { step: 'command' }) });
}

/** MoveItem or CopyItem of all ids to one folder in one request; the new item id of each (Exchange gives moved and copied messages new ids). */
export async function moveOrCopyItems(client: EwsClient, ids: readonly string[], target: EwsFolderRef | FolderId, kind: 'move' | 'copy'): Promise<Array<EwsItemOutcome<{ newItemId: string | null }>>> {
	const list = unique(ids);
	const outcomes = new Map<string, EwsItemOutcome<{ newItemId: string | null }>>();
	if (!list.length) return [];
	const operation = kind === 'move' ? 'MoveItem' : 'CopyItem';
	const folderId = target instanceof FolderId ? target : client.folderIdOf(target);
	const responses = await client.call(operation, (service) =>
		kind === 'move' ? service.MoveItems(list.map((id) => new ItemId(id)), folderId, true) : service.CopyItems(list.map((id) => new ItemId(id)), folderId, true),
	);
	responses.Responses.forEach((response, i) => {
		const id = list[i];
		if (response.Result === ServiceResult.Error) outcomes.set(id, { ok: false, error: itemError(client, response, operation, id) });
		else outcomes.set(id, { ok: true, newItemId: read(() => response.Item?.Id?.UniqueId) ?? null });
	});
	return fanOut(ids, outcomes);
}

/** DeleteItem of all ids in one request: to Deleted Items (`trash`) or permanently (`hard`). */
export async function deleteItems(client: EwsClient, ids: readonly string[], mode: 'trash' | 'hard'): Promise<Array<EwsItemOutcome>> {
	const list = unique(ids);
	if (!list.length) return [];
	const responses = await client.call('DeleteItem', (service) =>
		service.DeleteItems(
			list.map((id) => new ItemId(id)),
			mode === 'hard' ? DeleteMode.HardDelete : DeleteMode.MoveToDeletedItems,
			null as never,
			null as never,
		),
	);
	const outcomes = new Map<string, EwsItemOutcome>();
	responses.Responses.forEach((response, i) => {
		const id = list[i];
		outcomes.set(id, response.Result === ServiceResult.Error ? { ok: false, error: itemError(client, response, 'DeleteItem', id) } : { ok: true });
	});
	return fanOut(ids, outcomes);
}

/** GetItem of all ids in one request with the given properties; each id's item or error. */
async function bindItems(client: EwsClient, ids: readonly string[], properties: PropertySet): Promise<Map<string, EwsItemOutcome<{ item: Item }>>> {
	const list = unique(ids);
	const outcomes = new Map<string, EwsItemOutcome<{ item: Item }>>();
	if (!list.length) return outcomes;
	const responses = await client.call('GetItem', (service) => service.BindToItems(list.map((id) => new ItemId(id)), properties));
	responses.Responses.forEach((response, i) => {
		const id = list[i];
		if (response.Result === ServiceResult.Error || !response.Item) outcomes.set(id, { ok: false, error: itemError(client, response, 'GetItem', id) });
		else outcomes.set(id, { ok: true, item: response.Item });
	});
	return outcomes;
}

/**
 * Marks messages read or unread: one GetItem for the current ChangeKeys, one UpdateItem for all
 * (IsRead only; read receipts are not sent where the server version allows suppressing them).
 */
export async function setReadState(client: EwsClient, ids: readonly string[], isRead: boolean): Promise<Array<EwsItemOutcome>> {
	const bound = await bindItems(client, ids, new PropertySet(BasePropertySet.IdOnly));
	const targets: Array<{ id: string; item: EmailMessage }> = [];
	for (const [id, outcome] of bound) if (outcome.ok) targets.push({ id, item: outcome.item as EmailMessage });
	const outcomes = new Map<string, EwsItemOutcome>();
	for (const [id, outcome] of bound) if (!outcome.ok) outcomes.set(id, outcome);
	if (targets.length) {
		for (const t of targets) t.item.IsRead = isRead;
		const suppress = isRead && client.serverVersion !== 'Exchange2010_SP2';
		const responses = await client.call('UpdateItem', (service) =>
			service.UpdateItems(
				targets.map((t) => t.item),
				null as never,
				ConflictResolutionMode.AutoResolve,
				MessageDisposition.SaveOnly,
				null as never,
				suppress,
			),
		);
		responses.Responses.forEach((response, i) => {
			const id = targets[i].id;
			outcomes.set(id, response.Result === ServiceResult.Error ? { ok: false, error: itemError(client, response, 'UpdateItem', id) } : { ok: true });
		});
	}
	return fanOut(ids, outcomes);
}

/** The folder each message is in (one GetItem with ParentFolderId). */
export async function itemFolders(client: EwsClient, ids: readonly string[]): Promise<Array<EwsItemOutcome<{ folderId: string }>>> {
	const bound = await bindItems(client, ids, new PropertySet(BasePropertySet.IdOnly, [ItemSchema.ParentFolderId]));
	const outcomes = new Map<string, EwsItemOutcome<{ folderId: string }>>();
	for (const [id, outcome] of bound) {
		if (!outcome.ok) outcomes.set(id, outcome);
		else outcomes.set(id, { ok: true, folderId: read(() => outcome.item.ParentFolderId.UniqueId) ?? '' });
	}
	return fanOut(ids, outcomes);
}

export interface EwsSpamOutcome {
	moved: boolean;
	newItemId: string | null;
	/** Why a message was left where it is. */
	note?: string;
}

/**
 * Mark as Spam: moves the messages to Junk Email (or `junkFolder`), except those already there.
 * Mark as Not Spam: moves the messages in Junk Email (or `junkFolder`) to the Inbox (or `moveTo`);
 * messages not in the junk folder stay where they are. One GetItem (where each message is) and one
 * MoveItem for all.
 */
export async function markJunk(
	client: EwsClient,
	ids: readonly string[],
	options: { isJunk: boolean; junkFolder?: string; moveTo?: string },
): Promise<Array<EwsItemOutcome<EwsSpamOutcome>>> {
	const junk = await resolveFolderFor(client, options.junkFolder?.trim() || 'junkemail', 'junkFolder', 'Junk Folder');
	const target = options.isJunk ? junk : await resolveFolderFor(client, options.moveTo?.trim() || 'inbox', 'moveTo', 'Move To');
	const junkName = junk.displayName || 'Junk Email';
	const where = await itemFolders(client, ids);
	const toMove: string[] = [];
	where.forEach((w, i) => {
		if (!w.ok) return;
		const inJunk = w.folderId === junk.id;
		if (options.isJunk ? !inJunk : inJunk) toMove.push(ids[i]);
	});
	const moved = new Map<string, EwsItemOutcome<{ newItemId: string | null }>>();
	const results = await moveOrCopyItems(client, toMove, target, 'move');
	toMove.forEach((id, i) => moved.set(id, results[i]));
	return ids.map((id, i) => {
		const w = where[i];
		if (!w.ok) return w;
		const m = moved.get(id);
		if (m) return m.ok ? { ok: true, moved: true, newItemId: m.newItemId } : m;
		return { ok: true, moved: false, newItemId: null, note: options.isJunk ? `already in the junk folder "${junkName}"` : `not in the junk folder "${junkName}"` };
	});
}

export interface EwsMessageContent {
	itemId: string;
	changeKey: string;
	folderId: string | null;
	isRead: boolean | null;
	received: Date | undefined;
	messageId: string | null;
	size: number | null;
	/** The message as Exchange exports it (MimeContent). */
	source: Buffer;
}

/** One message with its MIME content (GetItem; does not mark it read). */
export async function getEwsMessage(client: EwsClient, itemId: string): Promise<EwsMessageContent> {
	const properties = new PropertySet(BasePropertySet.IdOnly, [ItemSchema.MimeContent, ItemSchema.ParentFolderId, ItemSchema.DateTimeReceived, ItemSchema.Size, EmailMessageSchema.IsRead, EmailMessageSchema.InternetMessageId]);
	const outcome = (await bindItems(client, [itemId], properties)).get(itemId);
	if (!outcome) throw new MailboxError('PROTOCOL', 'Exchange returned no answer for the message.', { step: 'command' });
	if (!outcome.ok) throw outcome.error;
	const item = outcome.item;
	const content = read(() => item.MimeContent?.Content);
	if (!content) throw new MailboxError('PROTOCOL', 'Exchange returned the message without its MIME content.', { step: 'command', reason: 'NO_MIME' });
	const received = read(() => item.DateTimeReceived);
	const ms = received ? read(() => received.valueOf()) : undefined;
	return {
		itemId: item.Id.UniqueId,
		changeKey: item.Id.ChangeKey,
		folderId: read(() => item.ParentFolderId.UniqueId) ?? null,
		isRead: read(() => (item as EmailMessage).IsRead) ?? null,
		received: typeof ms === 'number' && Number.isFinite(ms) ? new Date(ms) : undefined,
		messageId: read(() => (item as EmailMessage).InternetMessageId) || null,
		size: read(() => item.Size) ?? null,
		source: Buffer.from(content, 'base64'),
	};
}
