/**
 * The Mailbox node's operations over Microsoft Graph (Access Via: Microsoft Graph), on top of the
 * Graph client (lib/graph/client.ts). No n8n imports: the node builds the client and hands the
 * results on as items.
 *
 * - Folders: list with roles and counts (recursive), create with nested paths, rename in place,
 *   delete (Graph moves a deleted folder with its contents to Deleted Items).
 * - Messages are addressed by their Graph message id (immutable: a moved message keeps it). Bulk
 *   actions go out in JSON batches of 20 and answer per id, in the order given; an id given twice
 *   is sent once and its outcome reported for each.
 * - Search: `$search` (KQL) or `$filter` built from the node's filters; Graph does not combine
 *   `$search` with `$filter` or `$orderby` on messages, so asking for both is an error naming the
 *   fields.
 * - Out of office: mailboxSettings automaticRepliesSetting.
 * - Retention: per folder, the messages received before the cut-off (`$filter=receivedDateTime lt
 *   ...`, all pages), listed in a dry run, else deleted in batches.
 *
 * Every error names the node's field and the fix.
 */
import { splitFolderPath } from '../connection/folder-path';
import { configError, detailsOf, lookup, MailboxError } from '../errors';
import type { GraphAutomaticReplies, GraphClient, GraphDateTimeTimeZone, GraphFlagStatus, GraphFolder, GraphItemResult, GraphMessage, GraphMessageChanges } from './client';
import { wellKnownFolder } from './client';

/** A node field: its name and its label as the user sees it. */
export interface GraphField {
	field: string;
	label: string;
}

// --- folders ------------------------------------------------------------------------------------

/** The IMAP folder roles (SPECIAL-USE) of Graph's well-known folders, so all protocols name roles alike. */
export const GRAPH_FOLDER_ROLES: ReadonlyArray<{ wellKnownName: string; specialUse: string | null }> = [
	{ wellKnownName: 'inbox', specialUse: 'inbox' },
	{ wellKnownName: 'sentitems', specialUse: 'sent' },
	{ wellKnownName: 'drafts', specialUse: 'drafts' },
	{ wellKnownName: 'junkemail', specialUse: 'junk' },
	{ wellKnownName: 'deleteditems', specialUse: 'trash' },
	{ wellKnownName: 'archive', specialUse: 'archive' },
	{ wellKnownName: 'outbox', specialUse: null },
];

export interface GraphFolderInfo {
	/** The display path from the top of the mailbox ("Inbox/Projects"; a "/" in a name as "\/"). */
	path: string;
	name: string;
	/** The parent's path, "" at the top. */
	parentPath: string;
	/** The role in IMAP's words (inbox, sent, drafts, junk, trash, archive), for folders that have one. */
	specialUse: string | null;
	/** Graph's well-known name (inbox, sentitems, drafts, junkemail, deleteditems, archive, outbox), if it is one. */
	wellKnownName: string | null;
	folderId: string;
	parentFolderId: string;
	totalCount: number;
	unreadCount: number;
	childFolderCount: number;
}

function escapeName(name: string): string {
	return name.replace(/\//g, '\\/');
}

function parentPathOf(path: string): string {
	const segments = splitFolderPath(path);
	return segments.slice(0, -1).map(escapeName).join('/');
}

/** A path typed with another separator ("Projects.2026") in the "/" form the client takes. */
function normalizePath(path: string, separator = '/'): string {
	return separator === '/' ? path : path.split('/').join('\\/').split(separator).join('/');
}

/**
 * The folders at the top of the mailbox (or under `under`), with `recursive` all levels below:
 * path, role, ids and counts. The roles come from one $batch of the well-known folders.
 */
export async function listGraphFolders(client: GraphClient, options: { recursive?: boolean; under?: string } = {}): Promise<GraphFolderInfo[]> {
	const folders = await client.listFolders({ recursive: options.recursive, under: options.under?.trim() || undefined });
	const roles = await client.wellKnownFolderIds(GRAPH_FOLDER_ROLES.map((r) => r.wellKnownName));
	const roleById = new Map<string, (typeof GRAPH_FOLDER_ROLES)[number]>();
	for (const role of GRAPH_FOLDER_ROLES) {
		const id = roles.get(role.wellKnownName);
		if (id) roleById.set(id, role);
	}
	return folders.map((f) => {
		const role = roleById.get(f.id);
		return {
			path: f.path,
			name: f.displayName,
			parentPath: parentPathOf(f.path),
			specialUse: role?.specialUse ?? null,
			wellKnownName: role?.wellKnownName ?? null,
			folderId: f.id,
			parentFolderId: f.parentFolderId,
			totalCount: f.totalItemCount,
			unreadCount: f.unreadItemCount,
			childFolderCount: f.childFolderCount,
		};
	});
}

/**
 * A folder by path ("Inbox/Projects", "Archive") or well-known name (inbox, junkemail,
 * deleteditems, sentitems, drafts, archive); a missing one is an error naming the node's field.
 */
export async function resolveGraphFolder(client: GraphClient, path: string, at: GraphField): Promise<GraphFolder> {
	if (!path.trim()) throw configError(at.field, `${at.label} is empty.`, 'Enter a folder path such as Archive or Inbox/Projects, or a standard folder: inbox, junkemail, deleteditems, sentitems, drafts, archive.');
	// errors are inspected outside a catch block (the lint rule reads a throw there as a raw re-throw)
	const found = await client.resolveFolder(path).then(
		(folder) => ({ folder }),
		(error: unknown) => ({ error }),
	);
	if ('folder' in found) return found.folder;
	const error = found.error;
	if (error instanceof MailboxError && error.field === 'folders') {
		throw new MailboxError(error.code, `${at.label}: ${error.message}`, { ...detailsOf(error), field: at.field });
	}
	throw error instanceof Error ? error : new MailboxError('PROTOCOL', String(error));
}

/** The folder at a path, or undefined when a level of it does not exist. */
async function findFolder(client: GraphClient, path: string): Promise<GraphFolder | undefined> {
	return (await lookup(client.resolveFolder(path), 'folders')).value;
}

export interface GraphCreateFolderResult {
	/** The path as given, levels joined with "/". */
	path: string;
	folderId: string;
	created: boolean;
	/** Parent folders created on the way, top first. */
	parentsCreated: string[];
}

/**
 * Creates a folder by path ("Projects/2026/Q1" at the top of the mailbox, "Inbox/Projects" under
 * the Inbox), missing parents first. An existing folder is an error naming the field, or (ifExists
 * 'return') returned with created: false.
 */
export async function createGraphFolder(
	client: GraphClient,
	path: string,
	options: { ifExists?: 'error' | 'return'; separator?: string; at?: GraphField } = {},
): Promise<GraphCreateFolderResult> {
	const at = options.at ?? { field: 'folderPath', label: 'Folder Path' };
	const segments = splitFolderPath(normalizePath(path, options.separator));
	if (!segments.length) throw configError(at.field, `${at.label} is empty.`, 'Enter the folder to create, levels separated by "/", e.g. Projects/2026/Q1.');
	const display = segments.map(escapeName).join('/');
	const fixed = wellKnownFolder(segments[0]) ? 1 : 0;
	if (fixed === segments.length) {
		if (options.ifExists === 'return') {
			const folder = await resolveGraphFolder(client, display, at);
			return { path: display, folderId: folder.id, created: false, parentsCreated: [] };
		}
		throw configError(at.field, `${at.label}: "${path}" is one of the mailbox's standard folders, which always exists.`, 'Enter the path of a new folder, e.g. Inbox/Projects.');
	}
	const parentsCreated: string[] = [];
	for (let level = fixed + 1; level <= segments.length; level++) {
		const here = segments.slice(0, level).map(escapeName).join('/');
		const isLast = level === segments.length;
		const existing = await findFolder(client, here);
		if (existing) {
			if (!isLast) continue;
			if (options.ifExists === 'return') return { path: display, folderId: existing.id, created: false, parentsCreated };
			throw configError(at.field, `${at.label}: the folder "${here}" already exists${client.mailbox ? ` in ${client.mailbox}` : ''}.`, 'Enter another path, or set "If the Folder Exists" to Return It.');
		}
		const parent = level > 1 ? segments.slice(0, level - 1).map(escapeName).join('/') : undefined;
		const folder = await client.createFolder(parent, segments[level - 1]);
		if (isLast) return { path: display, folderId: folder.id, created: true, parentsCreated };
		parentsCreated.push(here);
	}
	/* c8 ignore next */
	throw new MailboxError('PROTOCOL', `Creating "${display}" ended without a folder.`, { step: 'command' });
}

export interface GraphRenameFolderResult {
	from: string;
	to: string;
	folderId: string;
}

/**
 * Renames a folder in place (its id, messages and subfolders stay). The new path may be a name or
 * a path under the same parent; moving a folder elsewhere is refused naming New Path.
 */
export async function renameGraphFolder(
	client: GraphClient,
	fromText: string,
	toText: string,
	options: { separator?: string; from?: GraphField; to?: GraphField } = {},
): Promise<GraphRenameFolderResult> {
	const fromAt = options.from ?? { field: 'folderPath', label: 'Folder Path' };
	const toAt = options.to ?? { field: 'newPath', label: 'New Path' };
	const from = normalizePath(fromText, options.separator);
	const to = splitFolderPath(normalizePath(toText, options.separator));
	if (!to.length) throw configError(toAt.field, `${toAt.label} is empty.`, 'Enter the new name of the folder, or its path under the same parent (e.g. Inbox/Projects 2026).');
	const folder = await resolveGraphFolder(client, from, fromAt);
	if (folder.wellKnownName) {
		throw configError(fromAt.field, `${fromAt.label}: "${folder.path}" is one of the mailbox's standard folders, which Exchange does not let rename.`, 'Choose a folder you created.');
	}
	const sameParent = parentPathOf(folder.path).toLowerCase();
	if (to.length > 1) {
		const parent = await findFolder(client, to.slice(0, -1).map(escapeName).join('/'));
		if (!parent || parent.id !== folder.parentFolderId) {
			throw configError(
				toAt.field,
				`${toAt.label}: "${toText}" would move the folder out of "${sameParent || 'the top of the mailbox'}", which is not available with Access Via: Microsoft Graph (rename only).`,
				`Enter the new name only, or a path under the same parent (e.g. ${sameParent ? `${parentPathOf(folder.path)}/New name` : 'New name'}); set Access Via to IMAP to move folders.`,
			);
		}
	}
	const renamed = await client.renameFolder(from, to[to.length - 1]);
	return { from: folder.path, to: renamed.path, folderId: renamed.id };
}

export interface GraphDeleteFolderResult {
	path: string;
	folderId: string;
	/** Messages in the folder itself when it was deleted. */
	messages: number;
	/** Its direct subfolders, deleted with it. */
	subfolders: number;
	/** Where Graph put it: Deleted Items, or null when it was already there (then it is gone for good). */
	movedTo: string | null;
}

/**
 * Deletes a folder. Standard folders are refused; without `force` a folder with messages or
 * subfolders is too. Graph moves a deleted folder with everything in it to Deleted Items (one in
 * Deleted Items is removed).
 */
export async function deleteGraphFolder(client: GraphClient, path: string, options: { force?: boolean; separator?: string; at?: GraphField } = {}): Promise<GraphDeleteFolderResult> {
	const at = options.at ?? { field: 'folderPath', label: 'Folder Path' };
	const folder = await resolveGraphFolder(client, normalizePath(path, options.separator), at);
	if (folder.wellKnownName) throw configError(at.field, `${at.label}: "${folder.path}" is one of the mailbox's standard folders, which cannot be deleted.`, 'Choose a folder you created.');
	if (!options.force && (folder.totalItemCount > 0 || folder.childFolderCount > 0)) {
		const what = [folder.totalItemCount ? `${folder.totalItemCount} message${folder.totalItemCount === 1 ? '' : 's'}` : '', folder.childFolderCount ? `${folder.childFolderCount} subfolder${folder.childFolderCount === 1 ? '' : 's'}` : ''].filter(Boolean).join(' and ');
		throw configError('force', `${at.label}: "${folder.path}" holds ${what}; nothing was deleted.`, 'Switch on Force to delete it with everything in it (Graph moves it to Deleted Items), or empty it first.');
	}
	const deletedItems = (await client.wellKnownFolderIds(['deleteditems'])).get('deleteditems');
	const inDeletedItems = folder.parentFolderId === deletedItems || /^deleted items\//i.test(folder.path);
	await client.deleteFolder(folder.path);
	return { path: folder.path, folderId: folder.id, messages: folder.totalItemCount, subfolders: folder.childFolderCount, movedTo: inDeletedItems ? null : 'Deleted Items' };
}

// --- messages: ids and per-id outcomes -------------------------------------------------------

/** One id's outcome of a bulk operation. */
export type GraphOutcome<T extends object = object> = ({ ok: true } & T) | { ok: false; error: MailboxError };

/** What a Graph message id looks like: URL-safe base64 with "=" padding (or standard base64). */
const GRAPH_ID = /^[A-Za-z0-9+/_=-]+$/;

/** A message id from an input, checked (trimmed; an empty or malformed one is a CONFIG error naming the field). */
export function checkGraphId(value: unknown, at: GraphField = { field: 'itemId', label: 'Message ID' }): string {
	const text = typeof value === 'string' ? value.trim() : typeof value === 'number' ? String(value) : '';
	if (!text) throw configError(at.field, `${at.label} is empty.`, 'Map the id of a message from Message → Search or the Graph trigger (a Graph message id), e.g. {{ $json.itemId }}.');
	if (!GRAPH_ID.test(text) || /^\d+$/.test(text)) {
		throw configError(
			at.field,
			`${at.label} "${text.length > 40 ? `${text.slice(0, 40)}…` : text}" is not a Microsoft Graph message id.`,
			'Graph addresses a message by its id (a long base64 string, "itemId" in the output of Message → Search), not by an IMAP UID or a Message-ID header.',
		);
	}
	return text;
}

function short(id: string): string {
	return id.length > 24 ? `${id.slice(0, 24)}…` : id;
}

/** A message's own failure, naming the Message ID field when Graph no longer has it. */
function itemError(client: GraphClient, error: MailboxError | undefined, id: string, operation: string): MailboxError {
	if (!error) return new MailboxError('PROTOCOL', `Microsoft Graph did not answer for message ${short(id)} (${operation}).`, { step: 'command' });
	if (error.code !== 'NOT_FOUND' || error.field === 'mailbox') return error;
	return new MailboxError('NOT_FOUND', `Message ${short(id)} was not found${client.mailbox ? ` in ${client.mailbox}` : ''} (${operation}: ${error.causeCode ?? 'ErrorItemNotFound'}): it was deleted meanwhile, or the id is of another mailbox.`, {
		...detailsOf(error),
		field: 'itemId',
		step: 'command',
		hint: 'Map the itemId of a message from Message → Search or the Graph trigger in the same mailbox.',
	});
}

function unique(ids: readonly string[]): string[] {
	return [...new Set(ids)];
}

/** The outcomes of the unique ids, fanned out to the ids as given. */
function fanOut<T extends object>(ids: readonly string[], outcomes: Map<string, GraphOutcome<T>>): Array<GraphOutcome<T>> {
	return ids.map((id) => outcomes.get(id) ?? { ok: false, error: new MailboxError('PROTOCOL', `Microsoft Graph did not answer for message ${short(id)}.`, { step: 'command' }) });
}

function outcomesOf<T extends object>(client: GraphClient, results: GraphItemResult[], operation: string, value: (r: GraphItemResult) => T): Map<string, GraphOutcome<T>> {
	const out = new Map<string, GraphOutcome<T>>();
	for (const r of results) out.set(r.id, r.ok ? { ok: true, ...value(r) } : { ok: false, error: itemError(client, r.error, r.id, operation) });
	return out;
}

// --- messages: actions -------------------------------------------------------------------------

/** Moves or copies the messages to a folder (one $batch of up to 20 per 20 messages); the id of each in the destination. */
export async function moveOrCopyGraphMessages(client: GraphClient, ids: readonly string[], target: GraphFolder, kind: 'move' | 'copy'): Promise<Array<GraphOutcome<{ newItemId: string | null }>>> {
	const list = unique(ids);
	if (!list.length) return [];
	const results = kind === 'move' ? await client.move(list, target.id) : await client.copy(list, target.id);
	return fanOut(ids, outcomesOf(client, results, kind, (r) => ({ newItemId: r.newId ?? null })));
}

/** Deletes the messages: to Deleted Items ('trash') or permanently ('hard'). */
export async function deleteGraphMessages(client: GraphClient, ids: readonly string[], mode: 'trash' | 'hard'): Promise<Array<GraphOutcome>> {
	const list = unique(ids);
	if (!list.length) return [];
	return fanOut(ids, outcomesOf(client, await client.delete(list, mode), mode === 'hard' ? 'permanentDelete' : 'delete', () => ({})));
}

/** What Set Flags / Clear Flags change on a message over Graph. */
export interface GraphFlagChange {
	/** isRead. */
	read?: boolean;
	/** flag.flagStatus. */
	flagStatus?: GraphFlagStatus;
	/** Categories: set (replace all), add or remove these. */
	categories?: { mode: 'set' | 'add' | 'remove'; names: string[] };
}

export interface GraphFlagOutcome {
	isRead?: boolean;
	flagStatus?: GraphFlagStatus;
	categories?: string[];
}

/**
 * Changes read state, follow-up flag and categories of the messages. Read and flag go in one PATCH
 * per message; adding or removing categories first reads each message's categories (one $batch),
 * then writes the result with the same PATCH.
 */
export async function setGraphFlags(client: GraphClient, ids: readonly string[], change: GraphFlagChange): Promise<Array<GraphOutcome<GraphFlagOutcome>>> {
	const list = unique(ids);
	const outcomes = new Map<string, GraphOutcome<GraphFlagOutcome>>();
	if (!list.length) return [];
	const bodies = new Map<string, GraphMessageChanges>();
	const base: GraphMessageChanges = {};
	if (change.read !== undefined) base.isRead = change.read;
	if (change.flagStatus !== undefined) base.flag = { flagStatus: change.flagStatus };
	const cats = change.categories;
	if (cats && cats.mode !== 'set') {
		const current = await client.getMessages(list, ['categories']);
		for (const r of current) {
			if (!r.ok) {
				outcomes.set(r.id, { ok: false, error: itemError(client, r.error, r.id, 'get categories') });
				continue;
			}
			const had = Array.isArray(r.message?.categories) ? (r.message.categories as unknown[]).map(String) : [];
			const lower = new Set(cats.names.map((n) => n.toLowerCase()));
			const next = cats.mode === 'add' ? [...had, ...cats.names.filter((n) => !had.some((h) => h.toLowerCase() === n.toLowerCase()))] : had.filter((h) => !lower.has(h.toLowerCase()));
			bodies.set(r.id, { ...base, categories: next });
		}
	} else {
		for (const id of list) bodies.set(id, cats ? { ...base, categories: [...cats.names] } : base);
	}
	// one PATCH per message, all in $batch requests of 20 (each message may have its own categories)
	const targets = [...bodies.keys()];
	const results = targets.length ? await client.updateMessages(targets, (id) => bodies.get(id)!) : [];
	for (const [id, outcome] of outcomesOf(client, results, 'update', (r) => {
		const body = bodies.get(r.id)!;
		return {
			...(body.isRead !== undefined ? { isRead: body.isRead } : {}),
			...(body.flag ? { flagStatus: body.flag.flagStatus } : {}),
			...(body.categories ? { categories: body.categories } : {}),
		};
	})) {
		outcomes.set(id, outcome);
	}
	return fanOut(ids, outcomes);
}

export interface GraphSpamOutcome {
	moved: boolean;
	newItemId: string | null;
	/** Why a message was left where it is. */
	note?: string;
}

/**
 * Mark as Spam: moves the messages to Junk Email (or `junkFolder`), except those already there.
 * Mark as Not Spam: moves the messages in Junk Email (or `junkFolder`) to the Inbox (or `moveTo`);
 * messages not in the junk folder stay. One $batch for where each message is, one for the moves.
 */
export async function markGraphJunk(
	client: GraphClient,
	ids: readonly string[],
	options: { isJunk: boolean; junkFolder?: string; moveTo?: string },
): Promise<Array<GraphOutcome<GraphSpamOutcome>> & { destination: string }> {
	const junk = await resolveGraphFolder(client, options.junkFolder?.trim() || 'junkemail', { field: 'junkFolder', label: 'Junk Folder' });
	const target = options.isJunk ? junk : await resolveGraphFolder(client, options.moveTo?.trim() || 'inbox', { field: 'moveTo', label: 'Move To' });
	const list = unique(ids);
	const outcomes = new Map<string, GraphOutcome<GraphSpamOutcome>>();
	const toMove: string[] = [];
	if (list.length) {
		for (const r of await client.getMessages(list, ['parentFolderId'])) {
			if (!r.ok) {
				outcomes.set(r.id, { ok: false, error: itemError(client, r.error, r.id, 'get message') });
				continue;
			}
			const inJunk = r.message?.parentFolderId === junk.id;
			if (options.isJunk ? !inJunk : inJunk) toMove.push(r.id);
			else outcomes.set(r.id, { ok: true, moved: false, newItemId: null, note: options.isJunk ? `already in the junk folder "${junk.path}"` : `not in the junk folder "${junk.path}"` });
		}
	}
	if (toMove.length) {
		const moved = await client.move(toMove, target.id);
		for (const [id, outcome] of outcomesOf(client, moved, 'move', (r) => ({ moved: true, newItemId: r.newId ?? null }))) outcomes.set(id, outcome);
	}
	return Object.assign(fanOut(ids, outcomes), { destination: target.path });
}

/** The properties Get and Search read of a message. */
export const GRAPH_MESSAGE_SELECT = ['subject', 'from', 'toRecipients', 'ccRecipients', 'receivedDateTime', 'sentDateTime', 'internetMessageId', 'isRead', 'flag', 'categories', 'parentFolderId', 'conversationId', 'hasAttachments', 'webLink'];

export interface GraphMessageContent {
	itemId: string;
	/** The properties as Graph gave them (GRAPH_MESSAGE_SELECT). */
	properties: GraphMessage;
	/** The message as Exchange keeps it (MIME, /$value). */
	source: Buffer;
}

/** One message: its properties and its MIME content (does not mark it read). */
export async function getGraphMessage(client: GraphClient, itemId: string): Promise<GraphMessageContent> {
	const got = await client.getMessage(itemId, GRAPH_MESSAGE_SELECT).then(
		(message) => ({ message }),
		(error: unknown) => ({ error }),
	);
	if ('error' in got) throw got.error instanceof MailboxError ? itemError(client, got.error, itemId, 'get message') : got.error;
	const properties = got.message;
	const source = await client.getMime(itemId);
	return { itemId: properties.id || itemId, properties, source };
}

/** IMAP's flags of a Graph message: \Seen for read, \Flagged for flagged. */
export function graphFlags(message: GraphMessage): string[] {
	const flags: string[] = [];
	if (message.isRead === true) flags.push('\\Seen');
	if ((message.flag as { flagStatus?: unknown } | undefined)?.flagStatus === 'flagged') flags.push('\\Flagged');
	return flags;
}

// --- search --------------------------------------------------------------------------------------

export interface GraphSearchCriteria {
	/** KQL for $search ("from:alice subject:invoice"). */
	text?: string;
	/** isRead eq true|false. */
	read?: boolean;
	/** The sender's address (from/emailAddress/address eq). */
	from?: string;
	since?: Date;
	before?: Date;
	/** flag/flagStatus eq 'flagged' (true) or ne 'flagged' (false). */
	flagged?: boolean;
	/** categories/any(c:c eq '...'). */
	category?: string;
	/** Newest (default) or oldest first ($orderby receivedDateTime). */
	order?: 'newestFirst' | 'oldestFirst';
}

/** The node's fields of the criteria, for errors. */
export const GRAPH_SEARCH_FIELDS: Record<Exclude<keyof GraphSearchCriteria, 'order'> | 'order', GraphField> = {
	text: { field: 'searchText', label: 'Search Text' },
	read: { field: 'seen', label: 'Read Status' },
	from: { field: 'from', label: 'From' },
	since: { field: 'since', label: 'Received Since' },
	before: { field: 'before', label: 'Received Before' },
	flagged: { field: 'flagged', label: 'Flagged' },
	category: { field: 'category', label: 'Category' },
	order: { field: 'sort', label: 'Sort: Oldest First' },
};

function literal(text: string): string {
	return `'${text.replace(/'/g, "''")}'`;
}

function isoSeconds(date: Date): string {
	return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The $search, $filter and $orderby of the criteria. The order needs receivedDateTime first in
 * $filter (Graph refuses other filters with $orderby as InefficientFilter), so a filter without a
 * date starts with receivedDateTime ge 1900-01-01. Search Text with a filter or Oldest First is an
 * error naming the fields: Graph does not combine $search with $filter or $orderby on messages.
 */
export function graphQueryOf(c: GraphSearchCriteria): { search?: string; filter?: string; orderBy?: string } {
	const text = c.text?.trim();
	const filterFields = (['read', 'from', 'since', 'before', 'flagged', 'category'] as const).filter((k) => c[k] !== undefined && c[k] !== '');
	if (text) {
		const clashing = [...filterFields.map((k) => GRAPH_SEARCH_FIELDS[k].label), ...(c.order === 'oldestFirst' ? [GRAPH_SEARCH_FIELDS.order.label] : [])];
		if (clashing.length) {
			throw configError(
				'searchText',
				`Microsoft Graph does not combine $search (Search Text) with $filter or $orderby on messages: Search Text cannot be used together with ${clashing.join(', ')}.`,
				`Remove ${clashing.join(', ')} and write them into Search Text as KQL (e.g. from:alice@example.com received>=2026-03-01 subject:invoice), or empty Search Text to use the filters.`,
			);
		}
		return { search: text };
	}
	const terms: string[] = [];
	if (c.since) terms.push(`receivedDateTime ge ${isoSeconds(c.since)}`);
	if (c.before) terms.push(`receivedDateTime lt ${isoSeconds(c.before)}`);
	if (!terms.length && filterFields.length) terms.push('receivedDateTime ge 1900-01-01T00:00:00Z');
	if (c.read !== undefined) terms.push(`isRead eq ${c.read}`);
	if (c.from?.trim()) {
		const from = c.from.trim();
		if (!/^[^\s@]+@[^\s@]+$/.test(from)) {
			throw configError('from', `From "${from}" is not an email address: with Access Via: Microsoft Graph the sender is matched by address.`, 'Enter the sender\'s full address (alice@example.com), or search by name with Search Text: from:Alice.');
		}
		terms.push(`from/emailAddress/address eq ${literal(from)}`);
	}
	if (c.flagged !== undefined) terms.push(`flag/flagStatus ${c.flagged ? 'eq' : 'ne'} 'flagged'`);
	if (c.category?.trim()) terms.push(`categories/any(c:c eq ${literal(c.category.trim())})`);
	return { filter: terms.length ? terms.join(' and ') : undefined, orderBy: `receivedDateTime ${c.order === 'oldestFirst' ? 'asc' : 'desc'}` };
}

/** Messages of a folder that match the criteria (GRAPH_MESSAGE_SELECT), at most `limit` (0: all). */
export async function searchGraphMessages(client: GraphClient, folderPath: string, criteria: GraphSearchCriteria, options: { limit?: number } = {}): Promise<{ folder: GraphFolder; messages: GraphMessage[]; query: ReturnType<typeof graphQueryOf> }> {
	const query = graphQueryOf(criteria);
	const folder = await resolveGraphFolder(client, folderPath, { field: 'folder', label: 'Folder' });
	const limit = options.limit && options.limit > 0 ? options.limit : undefined;
	const messages = await client.listMessages(folder.path, { ...query, select: GRAPH_MESSAGE_SELECT, top: limit ? Math.min(limit, 100) : 100, limit });
	return { folder, messages, query };
}

// --- out of office ------------------------------------------------------------------------------

export interface GraphOutOfOffice {
	enabled: boolean;
	/** disabled, alwaysEnabled or scheduled. */
	status: GraphAutomaticReplies['status'];
	/** The reply to senders inside the organisation (HTML or text, as Exchange keeps it). */
	internalText: string | null;
	/** The reply to senders outside it. */
	externalText: string | null;
	externalAudience: string | null;
	/** Scheduled: start and end, ISO in UTC (when the time zone is one Exchange or the IANA list knows as UTC) or as Graph gave them. */
	startDate: string | null;
	endDate: string | null;
	timeZone: string | null;
}

/** A dateTimeTimeZone as ISO text: UTC ones as "...Z", others as the local time Graph gave. */
function isoOf(value: GraphDateTimeTimeZone | undefined): string | null {
	if (!value?.dateTime) return null;
	const trimmed = value.dateTime.replace(/(\.\d{3})\d*$/, '$1');
	if (/^(utc|etc\/utc|gmt)$/i.test(value.timeZone ?? '')) {
		const date = new Date(`${trimmed.replace(/Z$/, '')}Z`);
		return Number.isNaN(date.getTime()) ? value.dateTime : date.toISOString();
	}
	return trimmed;
}

export function outOfOfficeOf(setting: GraphAutomaticReplies): GraphOutOfOffice {
	const scheduled = setting.status === 'scheduled';
	return {
		enabled: setting.status !== 'disabled',
		status: setting.status,
		internalText: setting.internalReplyMessage ?? null,
		externalText: setting.externalReplyMessage ?? null,
		externalAudience: setting.externalAudience ?? null,
		startDate: scheduled ? isoOf(setting.scheduledStartDateTime) : null,
		endDate: scheduled ? isoOf(setting.scheduledEndDateTime) : null,
		timeZone: scheduled ? (setting.scheduledStartDateTime?.timeZone ?? null) : null,
	};
}

export async function getGraphOutOfOffice(client: GraphClient): Promise<GraphOutOfOffice> {
	return outOfOfficeOf(await client.getAutomaticReplies());
}

export interface GraphOutOfOfficeSettings {
	/** The reply to senders inside the organisation. */
	internalText: string;
	/** The reply to senders outside it (default: the internal one). */
	externalText?: string;
	externalAudience?: 'none' | 'contactsOnly' | 'all';
	/** Both set: scheduled; neither: on until cleared. */
	start?: Date;
	end?: Date;
}

function utc(date: Date): GraphDateTimeTimeZone {
	return { dateTime: date.toISOString().replace(/Z$/, ''), timeZone: 'UTC' };
}

/** Turns the automatic replies on: scheduled between start and end, or always until cleared. */
export async function setGraphOutOfOffice(client: GraphClient, settings: GraphOutOfOfficeSettings): Promise<GraphOutOfOffice> {
	if (!settings.internalText.trim()) throw configError('text', 'Text is empty: there is no reply to send.', 'Enter the text of the automatic reply.');
	for (const [value, field, label] of [[settings.start, 'startDate', 'Start'], [settings.end, 'endDate', 'End']] as const) {
		if (value && Number.isNaN(value.getTime())) throw configError(field, `${label} is not a date and time.`, 'Enter an ISO date such as 2026-03-01T08:00:00Z.');
	}
	if ((settings.start === undefined) !== (settings.end === undefined)) {
		const missing = settings.start === undefined ? { field: 'startDate', label: 'Start' } : { field: 'endDate', label: 'End' };
		throw configError(missing.field, `${missing.label} is empty: Microsoft Graph schedules automatic replies only with both Start and End.`, 'Enter both Start and End for a scheduled reply, or neither for a reply that stays on until cleared.');
	}
	if (settings.start && settings.end && settings.end.getTime() <= settings.start.getTime()) {
		throw configError('endDate', `End (${settings.end.toISOString()}) is not after Start (${settings.start.toISOString()}).`, 'Enter an End later than Start.');
	}
	const setting: Partial<GraphAutomaticReplies> = {
		status: settings.start ? 'scheduled' : 'alwaysEnabled',
		internalReplyMessage: settings.internalText,
		externalReplyMessage: settings.externalText?.trim() ? settings.externalText : settings.internalText,
		externalAudience: settings.externalAudience ?? 'all',
		...(settings.start && settings.end ? { scheduledStartDateTime: utc(settings.start), scheduledEndDateTime: utc(settings.end) } : {}),
	};
	return outOfOfficeOf(await client.setAutomaticReplies(setting));
}

/** Turns the automatic replies off (their texts stay for the next time). */
export async function clearGraphOutOfOffice(client: GraphClient): Promise<GraphOutOfOffice> {
	return outOfOfficeOf(await client.setAutomaticReplies({ status: 'disabled' }));
}

// --- retention -----------------------------------------------------------------------------------

const DAY_MS = 24 * 60 * 60 * 1000;

export interface GraphRetentionRule {
	/** A folder path or well-known name. */
	folder: string;
	days: number;
	/** Where the rule came from (inbox, junk, sent, extra). */
	role?: string;
	/** The node's field, for errors about the folder. */
	at: GraphField;
}

export interface GraphRetainedMessage {
	itemId: string;
	messageId: string | null;
	subject: string | null;
	/** When it was sent (the Date header as Exchange read it), ISO. */
	date: string | null;
	/** When it arrived in the mailbox, ISO. */
	internalDate: string | null;
}

export interface GraphRetentionResult {
	folder: string;
	role?: string;
	days: number;
	cutoff: string | null;
	ageBy: 'arrival' | 'dateHeader';
	dryRun: boolean;
	/** 'delete' (permanently), 'move' (to Deleted Items) or 'none' (days 0). */
	action: 'delete' | 'move' | 'none';
	movedTo?: string;
	matched: number;
	/** Messages removed from the folder (0 in a dry run). */
	deleted: number;
	/** Messages that could not be removed, each with its error (the rest were). */
	failed: Array<{ itemId: string; error: string; code: string }>;
	messages: GraphRetainedMessage[];
	messagesTruncated: boolean;
}

export interface GraphRetentionOptions {
	now?: Date;
	dryRun?: boolean;
	ageBy?: 'arrival' | 'dateHeader';
	/** To Deleted Items instead of deleting permanently (messages in Deleted Items are always deleted). */
	moveToTrash?: boolean;
	listLimit?: number;
}

/**
 * Applies each rule to its folder: the messages received (or sent, ageBy 'dateHeader') before
 * now minus `days` days, found with $filter ... lt <cut-off> over all pages; listed in a dry run,
 * else deleted in JSON batches of 20. All folders are resolved before anything is deleted.
 */
export async function runGraphRetention(client: GraphClient, rules: GraphRetentionRule[], options: GraphRetentionOptions = {}): Promise<GraphRetentionResult[]> {
	const now = options.now ?? new Date();
	const dryRun = options.dryRun === true;
	const ageBy = options.ageBy ?? 'arrival';
	const listLimit = Math.max(0, Math.floor(options.listLimit ?? 100));
	const property = ageBy === 'dateHeader' ? 'sentDateTime' : 'receivedDateTime';
	const folders: GraphFolder[] = [];
	for (const rule of rules) folders.push(await resolveGraphFolder(client, rule.folder, rule.at));
	const deletedItems = options.moveToTrash ? (await client.wellKnownFolderIds(['deleteditems'])).get('deleteditems') : undefined;
	const results: GraphRetentionResult[] = [];
	for (const [i, rule] of rules.entries()) {
		const folder = folders[i];
		const moving = options.moveToTrash === true && folder.id !== deletedItems;
		const result: GraphRetentionResult = {
			folder: folder.path,
			...(rule.role ? { role: rule.role } : {}),
			days: rule.days,
			cutoff: null,
			ageBy,
			dryRun,
			action: 'none',
			matched: 0,
			deleted: 0,
			failed: [],
			messages: [],
			messagesTruncated: false,
		};
		results.push(result);
		if (!(rule.days > 0)) continue;
		const cutoff = new Date(now.getTime() - rule.days * DAY_MS);
		result.cutoff = cutoff.toISOString();
		result.action = moving ? 'move' : 'delete';
		if (moving) result.movedTo = 'Deleted Items';
		const old = await client.listMessages(folder.path, { filter: `${property} lt ${isoSeconds(cutoff)}`, select: ['internetMessageId', 'subject', 'receivedDateTime', 'sentDateTime'], top: 100 });
		result.matched = old.length;
		result.messages = old.slice(0, listLimit).map((m) => ({
			itemId: m.id,
			messageId: typeof m.internetMessageId === 'string' ? m.internetMessageId : null,
			subject: typeof m.subject === 'string' ? m.subject : null,
			date: typeof m.sentDateTime === 'string' ? m.sentDateTime : null,
			internalDate: typeof m.receivedDateTime === 'string' ? m.receivedDateTime : null,
		}));
		result.messagesTruncated = old.length > listLimit;
		if (dryRun || !old.length) continue;
		const outcomes = await client.delete(
			old.map((m) => m.id),
			moving ? 'trash' : 'hard',
		);
		for (const o of outcomes) {
			if (o.ok) result.deleted++;
			else {
				const error = itemError(client, o.error, o.id, moving ? 'delete' : 'permanentDelete');
				result.failed.push({ itemId: o.id, error: error.message, code: error.code });
			}
		}
	}
	return results;
}
