import type { ImapFlow } from 'imapflow';
import { configError, MailboxError } from '../errors';
import { imapCommand } from './connect';

export type SpecialUse = 'inbox' | 'sent' | 'drafts' | 'junk' | 'trash' | 'archive' | 'all' | 'flagged';

export interface FolderInfo {
	/** Full path as the server names it, e.g. "INBOX" or "Projects/2026". */
	path: string;
	/** Last part of the path, decoded. */
	name: string;
	/** Path of the parent folder, "" at the top. */
	parentPath: string;
	delimiter: string;
	/** The folder's role from SPECIAL-USE (RFC 6154), if the server announces one. */
	specialUse?: SpecialUse;
	subscribed: boolean;
	/** False for folders that only hold other folders (\Noselect). */
	selectable: boolean;
	messages?: number;
	unseen?: number;
	uidValidity?: string;
	uidNext?: number;
}

function roleOf(specialUse: string | undefined): SpecialUse | undefined {
	if (!specialUse) return undefined;
	const role = specialUse.replace(/^\\/, '').toLowerCase();
	return (['inbox', 'sent', 'drafts', 'junk', 'trash', 'archive', 'all', 'flagged'] as const).find((r) => r === role);
}

/** The paths of the folders with the \Sent role (RFC 6154): mail there is outbound. */
export async function sentFolderPaths(client: ImapFlow): Promise<string[]> {
	return sentPathsOf(await listFolders(client, { counts: false }));
}

/** The paths of the listed folders with the \Sent role. */
export function sentPathsOf(folders: FolderInfo[]): string[] {
	return folders.filter((f) => f.specialUse === 'sent').map((f) => f.path);
}

/**
 * The listed folders a watch of "all folders" takes: INBOX always, every other one unless
 * `excluded` by its path or its role is one of `notRoles`.
 */
export function watchableFolders(folders: FolderInfo[], excluded: (path: string) => boolean, notRoles: readonly SpecialUse[] = []): FolderInfo[] {
	return folders.filter((f) => f.path === 'INBOX' || !(excluded(f.path) || (f.specialUse !== undefined && notRoles.includes(f.specialUse))));
}

/**
 * Lists every folder with its role; with `counts`, also the number of messages and unseen
 * messages (LIST-STATUS where the server has it, otherwise one STATUS per folder).
 */
export async function listFolders(client: ImapFlow, options: { counts?: boolean } = {}): Promise<FolderInfo[]> {
	return (await readFolders(client, options)).map((listed) => {
		const info: FolderInfo & { placeholder?: boolean } = { ...listed };
		delete info.placeholder;
		return info;
	});
}

type ListedFolder = FolderInfo & {
	/** Listed only because it has children; the folder itself does not exist (\NonExistent). */
	placeholder: boolean;
};

async function readFolders(client: ImapFlow, options: { counts?: boolean } = {}): Promise<ListedFolder[]> {
	const list = await client.list(options.counts ? { statusQuery: { messages: true, unseen: true, uidValidity: true, uidNext: true } } : {});
	return list.map((entry) => {
		const flags = entry.flags instanceof Set ? entry.flags : new Set<string>();
		const info: ListedFolder = {
			path: entry.path,
			name: entry.name,
			parentPath: entry.parentPath ?? '',
			delimiter: entry.delimiter ?? '/',
			specialUse: roleOf(entry.specialUse),
			subscribed: entry.subscribed === true,
			selectable: !flags.has('\\Noselect') && !flags.has('\\NonExistent'),
			placeholder: flags.has('\\NonExistent'),
		};
		if (entry.status) {
			info.messages = entry.status.messages;
			info.unseen = entry.status.unseen;
			info.uidValidity = entry.status.uidValidity !== undefined ? String(entry.status.uidValidity) : undefined;
			info.uidNext = entry.status.uidNext;
		}
		return info;
	});
}

/** The server's hierarchy: the delimiter between levels and the personal namespace's prefix ("" or e.g. "INBOX."). */
export interface Hierarchy {
	delimiter: string;
	prefix: string;
}

export function hierarchyOf(client: ImapFlow): Hierarchy {
	return { delimiter: client.namespace?.delimiter || '/', prefix: client.namespace?.prefix ?? '' };
}

/** How the caller names a folder parameter in messages: the parameter's name and its label. */
export interface PathField {
	/** The parameter name (MailboxError.field). */
	field: string;
	/** The label the user sees, used in messages. */
	label: string;
}

const DEFAULT_PATH_FIELD: PathField = { field: 'folderPath', label: 'Folder Path' };

function isInbox(path: string): boolean {
	return path.toUpperCase() === 'INBOX';
}

function samePath(a: string, b: string): boolean {
	return a === b || (isInbox(a) && isInbox(b));
}

function showChar(char: string): string {
	return `"${char}"`;
}

/**
 * Splits a folder path the user typed with `separator` ("/" unless they chose another) into its
 * levels and checks each one: no empty level (a leading, trailing or doubled separator), no
 * spaces at either end, no control characters, no LIST wildcards (* %), and, when the server's
 * delimiter differs from the separator, not the server's delimiter inside a level (it would
 * silently become one more level).
 */
export function folderPathLevels(text: string, separator: string, hierarchy: Hierarchy, at: PathField = DEFAULT_PATH_FIELD): string[] {
	const sep = separator || '/';
	const quoted = JSON.stringify(text);
	if (typeof text !== 'string' || text.trim() === '') {
		throw configError(at.field, `${at.label} is empty.`, `Enter the folder's path with ${showChar(sep)} between the levels, e.g. "Projects${sep}2026${sep}Q1".`);
	}
	const levels = text.split(sep);
	for (const level of levels) {
		if (level === '') {
			throw configError(
				at.field,
				`${at.label} ${quoted} has an empty level (a ${showChar(sep)} at the start or end, or two in a row).`,
				`Write the levels with one ${showChar(sep)} between them and none at the ends, e.g. "Projects${sep}2026".`,
			);
		}
		// eslint-disable-next-line no-control-regex
		if (/[\x00-\x1f\x7f]/.test(level)) {
			throw configError(at.field, `${at.label} ${quoted} contains a control character (such as a line break).`, 'Folder names cannot contain line breaks or tabs; check the expression that builds the path.');
		}
		if (level.trim() !== level) {
			throw configError(at.field, `${at.label} ${quoted}: the level ${JSON.stringify(level)} starts or ends with a space.`, 'Remove the spaces around the folder names (spaces inside a name are fine).');
		}
		if (/[*%]/.test(level)) {
			throw configError(at.field, `${at.label} ${quoted} contains "*" or "%", which IMAP reserves as wildcards.`, 'Choose a folder name without "*" and "%".');
		}
		if (hierarchy.delimiter && hierarchy.delimiter !== sep && level.includes(hierarchy.delimiter)) {
			throw configError(
				at.field,
				`${at.label} ${quoted}: the name ${JSON.stringify(level)} contains ${showChar(hierarchy.delimiter)}, which this server uses between folder levels, so it would become a subfolder.`,
				`Use ${showChar(sep)} between levels and choose a name without ${showChar(hierarchy.delimiter)}, or set Path Separator to ${showChar(hierarchy.delimiter)} if you meant the levels.`,
			);
		}
	}
	return levels;
}

/**
 * The server's path of the given levels: joined with the server's delimiter, INBOX in the form
 * the server lists it, and inside the personal namespace (servers like Courier keep every folder
 * under "INBOX.").
 */
export function serverPathOf(levels: string[], hierarchy: Hierarchy): string {
	const joined = levels.join(hierarchy.delimiter);
	if (levels.length === 1 && isInbox(levels[0])) return 'INBOX';
	if (hierarchy.prefix && !joined.startsWith(hierarchy.prefix) && !isInbox(levels[0])) return hierarchy.prefix + joined;
	return joined;
}

/** The folder itself and every ancestor, top first: "A/B/C" → ["A", "A/B", "A/B/C"] (server paths). */
function ancestorsOf(levels: string[], hierarchy: Hierarchy): string[] {
	const prefixLevels = hierarchy.prefix ? hierarchy.prefix.split(hierarchy.delimiter).filter(Boolean).length : 0;
	const paths: string[] = [];
	for (let n = 1; n <= levels.length; n++) {
		const path = serverPathOf(levels.slice(0, n), hierarchy);
		// the namespace prefix itself ("INBOX" of "INBOX.") is not created
		if (hierarchy.prefix && path.split(hierarchy.delimiter).length <= prefixLevels) continue;
		paths.push(path);
	}
	return paths;
}

function isDescendant(path: string, of: string, delimiter: string): boolean {
	return path.startsWith(of + delimiter) || (isInbox(of) && path.toUpperCase().startsWith(`INBOX${delimiter}`));
}

interface ServerRefusal {
	responseText?: unknown;
	responseStatus?: unknown;
	serverResponseCode?: unknown;
}

/** A NO/BAD answer of the server to a folder command, as a MailboxError; anything else unchanged. */
function refusal(error: unknown, what: string, at: PathField, hint: string): Error {
	const e = (error && typeof error === 'object' ? error : {}) as ServerRefusal;
	if (typeof e.responseText !== 'string' && e.responseStatus !== 'NO' && e.responseStatus !== 'BAD') return error instanceof Error ? error : new Error(String(error));
	const text = typeof e.responseText === 'string' ? e.responseText : String((error as Error)?.message ?? error);
	return new MailboxError('SERVER', `The server refused to ${what}: ${text}`, {
		field: at.field,
		step: 'command',
		hint,
		serverResponse: text,
		serverCode: typeof e.serverResponseCode === 'string' ? e.serverResponseCode : undefined,
		command: imapCommand(e),
		cause: error,
	});
}

/** The folder at `path`, if it exists (a \\NonExistent placeholder listed for its children does not count). */
function findFolder(folders: ListedFolder[], path: string): ListedFolder | undefined {
	return folders.find((f) => samePath(f.path, path) && !f.placeholder);
}

/**
 * Resolves a path the user gave for an existing folder: the exact path as the server lists it
 * (as copied from Folder → List) when such a folder exists, otherwise the levels of `text` split
 * at `separator` and joined with the server's delimiter.
 */
function existingPath(text: string, separator: string, hierarchy: Hierarchy, folders: ListedFolder[], at: PathField): string {
	const exact = typeof text === 'string' ? findFolder(folders, text) : undefined;
	if (exact) return exact.path;
	return serverPathOf(folderPathLevels(text, separator, hierarchy, at), hierarchy);
}

function alreadyExists(path: string, at: PathField, hint: string): MailboxError {
	return new MailboxError('CONFIG', `${at.label}: the folder "${path}" already exists.`, { field: at.field, step: 'config', hint });
}

function notFound(path: string, at: PathField): MailboxError {
	return new MailboxError('NOT_FOUND', `${at.label}: the folder "${path}" does not exist.`, {
		field: at.field,
		hint: 'Check the spelling (names are case-sensitive) and the levels; Folder → List shows every folder with its path.',
	});
}

export interface CreateFolderOptions {
	/** What separates the levels in the path the user typed (default "/"). */
	separator?: string;
	/** Subscribe the new folder (and parents created for it) so mail clients show it (default true). */
	subscribe?: boolean;
	/** An existing folder: 'error' (default) or 'return' it with created: false. */
	ifExists?: 'error' | 'return';
	at?: PathField;
}

export interface CreateFolderResult {
	/** The folder's path as the server names it. */
	path: string;
	created: boolean;
	/** Parent folders created on the way, top first. */
	parentsCreated: string[];
	subscribed: boolean;
	delimiter: string;
}

/**
 * Creates a folder, nested paths included: the levels the user separated with `separator` are
 * joined with the server's delimiter, missing parents are created first (top down), and the new
 * folders are subscribed unless `subscribe` is false. An existing folder is an error naming the
 * field, or (ifExists 'return') returned with created: false; never created twice.
 */
export async function createFolder(client: ImapFlow, text: string, options: CreateFolderOptions = {}): Promise<CreateFolderResult> {
	const at = options.at ?? DEFAULT_PATH_FIELD;
	const hierarchy = hierarchyOf(client);
	const levels = folderPathLevels(text, options.separator ?? '/', hierarchy, at);
	const chain = ancestorsOf(levels, hierarchy);
	const path = serverPathOf(levels, hierarchy);
	const folders = await readFolders(client);
	const existing = findFolder(folders, path);
	if (existing) {
		if (options.ifExists === 'return') {
			return { path: existing.path, created: false, parentsCreated: [], subscribed: existing.subscribed, delimiter: hierarchy.delimiter };
		}
		throw alreadyExists(existing.path, at, 'Choose another name, or set "If the Folder Exists" to "Return It" to get the existing folder instead of an error.');
	}
	const subscribe = options.subscribe !== false;
	const parentsCreated: string[] = [];
	for (const step of chain) {
		const isTarget = step === path;
		if (!isTarget && findFolder(folders, step)) continue;
		let created: boolean;
		try {
			created = (await client.mailboxCreate(step)).created;
		} catch (error) {
			throw refusal(error, `create the folder "${step}"`, at, `Check the folder name: servers refuse some characters (Dovecot with Maildir storage refuses "."), and the account may not be allowed to create folders there.`);
		}
		if (!created && isTarget) {
			// created by another client between our LIST and CREATE
			if (options.ifExists === 'return') return { path, created: false, parentsCreated, subscribed: false, delimiter: hierarchy.delimiter };
			throw alreadyExists(path, at, 'Another client created it a moment ago; choose another name.');
		}
		if (!created) continue; // a parent another client created meanwhile: left as it is
		if (!isTarget) parentsCreated.push(step);
		// imapflow subscribes every folder it creates
		if (!subscribe) await client.mailboxUnsubscribe(step);
	}
	return { path, created: true, parentsCreated, subscribed: subscribe, delimiter: hierarchy.delimiter };
}

export interface RenameFolderOptions {
	/** What separates the levels in the paths the user typed (default "/"). */
	separator?: string;
	from?: PathField;
	to?: PathField;
}

export interface RenameFolderResult {
	from: string;
	to: string;
	/** Subfolders that moved along, with their old and new paths. */
	subfolders: Array<{ from: string; to: string }>;
	/** Parent folders created for the new path, top first. */
	parentsCreated: string[];
	/** Folders (the renamed one and its subfolders) whose subscription moved to the new path. */
	subscribed: string[];
	delimiter: string;
}

/**
 * Renames (or moves) a folder with its subfolders. INBOX cannot be renamed; the new path must
 * not exist and must not lie inside the folder itself. Missing parents of the new path are
 * created first; subscriptions of the folder and its subfolders follow them to the new paths.
 */
export async function renameFolder(client: ImapFlow, fromText: string, toText: string, options: RenameFolderOptions = {}): Promise<RenameFolderResult> {
	const fromAt = options.from ?? DEFAULT_PATH_FIELD;
	const toAt = options.to ?? { field: 'newPath', label: 'New Path' };
	const separator = options.separator ?? '/';
	const hierarchy = hierarchyOf(client);
	const { delimiter } = hierarchy;
	const folders = await readFolders(client);
	const from = existingPath(fromText, separator, hierarchy, folders, fromAt);
	if (isInbox(from)) {
		throw configError(fromAt.field, `${fromAt.label}: INBOX cannot be renamed.`, 'INBOX is where new mail arrives; to keep its messages elsewhere, create a folder and move them there.');
	}
	const source = findFolder(folders, from);
	if (!source) throw notFound(from, fromAt);
	const toLevels = folderPathLevels(toText, separator, hierarchy, toAt);
	const to = serverPathOf(toLevels, hierarchy);
	if (isInbox(to)) throw configError(toAt.field, `${toAt.label}: a folder cannot be renamed to INBOX.`, 'Choose another name.');
	if (samePath(to, from)) throw configError(toAt.field, `${toAt.label} is the folder's current path "${from}".`, 'Enter the new path.');
	if (isDescendant(to, from, delimiter)) {
		throw configError(toAt.field, `${toAt.label}: "${to}" lies inside the folder "${from}" itself.`, 'A folder cannot be moved into its own subfolder; choose a path outside it.');
	}
	const target = findFolder(folders, to);
	if (target) throw alreadyExists(target.path, toAt, 'Choose another name, or delete or rename the existing folder first.');

	const moving = folders.filter((f) => !f.placeholder && (samePath(f.path, from) || isDescendant(f.path, from, delimiter)));
	const newPathOf = (path: string) => to + path.slice(from.length);
	const parentsCreated: string[] = [];
	for (const parent of ancestorsOf(toLevels, hierarchy).slice(0, -1)) {
		if (findFolder(folders, parent)) continue;
		try {
			await client.mailboxCreate(parent);
		} catch (error) {
			throw refusal(error, `create the folder "${parent}" for the new path`, toAt, 'Check the new path.');
		}
		parentsCreated.push(parent);
	}
	try {
		await client.mailboxRename(from, to);
	} catch (error) {
		throw refusal(error, `rename "${from}" to "${to}"`, toAt, 'Check the new path: servers refuse some characters (Dovecot with Maildir storage refuses "."), and the folder may be in use or protected.');
	}
	// Servers differ in whether subscriptions follow a RENAME (RFC 3501 leaves it open): move them.
	const subscribed: string[] = [];
	for (const folder of moving) {
		if (!folder.subscribed) continue;
		await client.mailboxUnsubscribe(folder.path);
		await client.mailboxSubscribe(newPathOf(folder.path));
		subscribed.push(newPathOf(folder.path));
	}
	return {
		from,
		to,
		subfolders: moving.filter((f) => !samePath(f.path, from)).map((f) => ({ from: f.path, to: newPathOf(f.path) })),
		parentsCreated,
		subscribed,
		delimiter,
	};
}

export interface DeleteFolderOptions {
	separator?: string;
	/** Also delete a folder with messages or subfolders (subfolders first, deepest first), or with a role such as Sent or Junk. */
	force?: boolean;
	at?: PathField;
}

export interface DeletedFolder {
	path: string;
	/** Messages the folder held when it was deleted. */
	messages: number;
	specialUse?: SpecialUse;
}

export interface DeleteFolderResult {
	path: string;
	/** Every folder deleted, deepest first, the folder itself last. */
	deleted: DeletedFolder[];
	/** Messages in all of them. */
	messages: number;
}

/**
 * Deletes a folder. INBOX is never deleted. Without `force`, a folder with a role (Sent, Drafts,
 * Junk, Trash, Archive...), with messages, or with subfolders is refused; with `force`, its
 * subfolders are deleted first, deepest first, then the folder. Subscriptions are removed.
 */
export async function deleteFolder(client: ImapFlow, text: string, options: DeleteFolderOptions = {}): Promise<DeleteFolderResult> {
	const at = options.at ?? DEFAULT_PATH_FIELD;
	const hierarchy = hierarchyOf(client);
	const folders = await readFolders(client, { counts: true });
	const path = existingPath(text, options.separator ?? '/', hierarchy, folders, at);
	if (isInbox(path)) {
		throw configError(at.field, `${at.label}: INBOX cannot be deleted.`, 'INBOX is where new mail arrives. To empty it, delete or move its messages instead.');
	}
	const folder = findFolder(folders, path);
	if (!folder) throw notFound(path, at);
	const subfolders = folders.filter((f) => isDescendant(f.path, folder.path, hierarchy.delimiter));
	const messagesOf = (f: FolderInfo) => f.messages ?? 0;
	if (!options.force) {
		const roles = [folder, ...subfolders].filter((f) => f.specialUse);
		if (roles.length > 0) {
			const list = roles.map((f) => `"${f.path}" (${f.specialUse})`).join(', ');
			throw configError('force', `${at.label}: not deleted, ${roles.length === 1 && roles[0] === folder ? `it is the account's ${folder.specialUse} folder` : `it has a role: ${list}`}.`, 'Mail clients and the server use folders with a role (Sent, Drafts, Junk, Trash, Archive); turn on Force to delete it anyway.');
		}
		const messages = messagesOf(folder);
		if (messages > 0 || subfolders.length > 0) {
			const parts = [messages > 0 ? `${messages} message${messages === 1 ? '' : 's'}` : '', subfolders.length > 0 ? `${subfolders.length} subfolder${subfolders.length === 1 ? '' : 's'}` : ''].filter(Boolean);
			throw configError('force', `${at.label}: the folder "${folder.path}" is not empty: it holds ${parts.join(' and ')}.`, 'Move the messages and subfolders elsewhere, or turn on Force to delete the folder with everything in it.');
		}
	}
	const depth = (f: FolderInfo) => f.path.split(hierarchy.delimiter).length;
	const order = [...subfolders].sort((a, b) => depth(b) - depth(a) || b.path.localeCompare(a.path));
	const deleted: DeletedFolder[] = [];
	for (const f of [...order, folder]) {
		if (f.placeholder) continue;
		try {
			await client.mailboxDelete(f.path);
		} catch (error) {
			const done = deleted.length ? ` (already deleted: ${deleted.map((d) => `"${d.path}"`).join(', ')})` : '';
			throw refusal(error, `delete the folder "${f.path}"${done}`, at, 'The folder may be in use or protected by the server; try again, or delete it in a mail client.');
		}
		if (f.subscribed) await client.mailboxUnsubscribe(f.path);
		deleted.push({ path: f.path, messages: messagesOf(f), ...(f.specialUse ? { specialUse: f.specialUse } : {}) });
	}
	return { path: folder.path, deleted, messages: deleted.reduce((sum, d) => sum + d.messages, 0) };
}

/**
 * Finds an existing folder the user named, in the output of {@link listFolders}: by its exact
 * path as the server lists it, or by levels separated with `separator` ("/" by default). A
 * folder that exists only as a parent of others (\Noselect) is refused: it cannot hold messages.
 */
export function locateFolder(folders: FolderInfo[], text: string, hierarchy: Hierarchy, options: { separator?: string; at?: PathField } = {}): FolderInfo {
	const at = options.at ?? DEFAULT_PATH_FIELD;
	const listed = folders.map((f) => ({ ...f, placeholder: false }));
	const path = existingPath(text, options.separator ?? '/', hierarchy, listed, at);
	const folder = folders.find((f) => samePath(f.path, path));
	if (!folder) throw notFound(path, at);
	if (!folder.selectable) {
		throw configError(at.field, `${at.label}: "${folder.path}" only holds other folders and cannot contain messages.`, 'Choose one of its subfolders; Folder → List shows which folders can hold messages (selectable).');
	}
	return folder;
}
