/**
 * Messages in IMAP folders, addressed the way the trigger hands them out: folder + UID +
 * UIDVALIDITY (a UID alone means nothing once a folder was recreated). Before anything is touched
 * the folder's current UIDVALIDITY is compared with the item's; on a mismatch the message is left
 * alone, or, when asked, found again by its Message-ID.
 *
 * Bulk work (move, copy, delete, flags) runs as one UID command per folder with a compressed UID
 * set ("1:500,502"), split only where a command line would grow past {@link DEFAULT_MAX_SET_CHARS}.
 * Each message still gets its own outcome: done (with its new UID where the server reports
 * COPYUID), or its own error (gone meanwhile, renumbered folder, refused by the server).
 */
import type { FetchMessageObject, ImapFlow, MailboxObject, SearchObject } from 'imapflow';
import { MailboxError, configError, lookup } from '../errors';
import { listFolders, type FolderInfo, type SpecialUse } from './folders';
import { expungesWholeFolder, othersMarkedDeleted } from './expunge';
import { isGmail, trashFolderOf } from './gmail';
import { rangesOf, formatUidSet } from './uid-set';
import { usesAge } from './search';

/** Keeps a UID MOVE/COPY/STORE command line well under the 8 KB many servers accept. */
export const DEFAULT_MAX_SET_CHARS = 7000;

/** Where a message is: what a trigger or Search item carries. */
export interface MessageAddress {
	folder: string;
	uid: number;
	uidValidity: string;
	/** With angle brackets; used only to find the message again after a UIDVALIDITY change. */
	messageId?: string;
}

export interface LocateOptions {
	/** On a UIDVALIDITY mismatch, look the message up by its Message-ID (HEADER Message-ID) instead of refusing. */
	findByMessageId?: boolean;
}

/** A message found where the item says, or by its Message-ID. */
export interface Located {
	uid: number;
	uidValidity: string;
	foundByMessageId: boolean;
	/** The item's UID and UIDVALIDITY, when it was found by Message-ID. */
	previousUid?: number;
	previousUidValidity?: string;
}

/** The UID set split into pieces of at most `maxChars` characters each (whole ranges, never a broken one). */
export function uidSetChunks(uids: Iterable<number>, maxChars = DEFAULT_MAX_SET_CHARS): string[] {
	const chunks: string[] = [];
	let current = '';
	for (const range of rangesOf(uids)) {
		const part = formatUidSet([range]);
		if (current && current.length + 1 + part.length > maxChars) {
			chunks.push(current);
			current = '';
		}
		current = current ? `${current},${part}` : part;
	}
	if (current) chunks.push(current);
	return chunks;
}

/** Checks and normalises a message address; errors name the node field (folder, uid, uidValidity). */
export function checkAddress(address: { folder?: unknown; uid?: unknown; uidValidity?: unknown; messageId?: unknown }): MessageAddress {
	const folder = typeof address.folder === 'string' ? address.folder.trim() : '';
	if (!folder) throw configError('folder', 'Folder is empty: it is not known where the message is.', 'Map the folder of a trigger or Search item ({{ $json.folder }}), or enter a folder such as INBOX.');
	const uidText = address.uid === undefined || address.uid === null ? '' : String(address.uid).trim();
	if (!uidText) throw configError('uid', 'UID is empty: it is not known which message to act on.', 'Map the uid of a trigger or Search item ({{ $json.uid }}).');
	const uid = Number(uidText);
	if (!/^\d+$/.test(uidText) || !Number.isSafeInteger(uid) || uid < 1 || uid > 0xffffffff) throw configError('uid', `UID "${uidText}" is not a message UID (a whole number from 1).`, 'Map the uid of a trigger or Search item ({{ $json.uid }}).');
	const uvText = address.uidValidity === undefined || address.uidValidity === null ? '' : String(address.uidValidity).trim();
	if (!uvText) {
		throw configError('uidValidity', 'UIDVALIDITY is empty: a UID alone could name another message once the folder was recreated.', 'Map the uidValidity of a trigger or Search item ({{ $json.uidValidity }}); Search returns it for every message.');
	}
	if (!/^\d{1,20}$/.test(uvText) || BigInt(uvText) < 1n) throw configError('uidValidity', `UIDVALIDITY "${uvText}" is not a UIDVALIDITY value (a whole number from 1).`, 'Map the uidValidity of a trigger or Search item ({{ $json.uidValidity }}).');
	const messageId = typeof address.messageId === 'string' && address.messageId.trim() ? address.messageId.trim() : undefined;
	return { folder, uid, uidValidity: BigInt(uvText).toString(), messageId };
}

/**
 * Opens a folder (SELECT, or EXAMINE for reading only), reusing the open one when it is the same;
 * a folder that does not exist is a NOT_FOUND error naming `field`.
 */
export async function openFolder(client: ImapFlow, folder: string, options: { write?: boolean; field?: string } = {}): Promise<MailboxObject> {
	const current = client.mailbox;
	if (current && current.path === folder && (!options.write || !current.readOnly)) return current;
	try {
		return await client.mailboxOpen(folder, { readOnly: !options.write });
	} catch (error) {
		throw missingFolderOr(error, folder, options.field ?? 'folder');
	}
}

/** A SELECT that failed because the folder does not exist as NOT_FOUND naming `field`; anything else as it is. */
function missingFolderOr(error: unknown, folder: string, field: string): unknown {
	if (!(error as { mailboxMissing?: boolean } | undefined)?.mailboxMissing) return error;
	return new MailboxError('NOT_FOUND', `Folder "${folder}" does not exist in this mailbox.`, {
		field,
		hint: 'Check the folder name (Folder → List shows every folder with its path), or whether it was renamed or deleted.',
	});
}

/**
 * Finds each message of one folder: by UID when the folder's UIDVALIDITY is still the item's,
 * else by Message-ID (with `findByMessageId`) or not at all. Returns one result per address, in
 * order: where the message is now, or why it cannot be acted on. Nothing is changed.
 */
export async function locate(client: ImapFlow, mailbox: MailboxObject, addresses: MessageAddress[], options: LocateOptions = {}): Promise<Array<Located | MailboxError>> {
	const current = mailbox.uidValidity.toString();
	const results: Array<Located | MailboxError> = new Array(addresses.length);
	const byUid: number[] = [];
	for (let k = 0; k < addresses.length; k++) {
		const a = addresses[k];
		if (a.uidValidity === current) {
			byUid.push(k);
			continue;
		}
		const changed = `UIDVALIDITY of folder "${mailbox.path}" is now ${current}, the item has ${a.uidValidity}: the folder was recreated or renumbered`;
		if (!options.findByMessageId) {
			results[k] = new MailboxError('NOT_FOUND', `${changed}; the message was not touched.`, {
				field: 'uidValidity',
				hint: 'Search the folder again for current UIDs, or turn on "Find by Message-ID if UIDVALIDITY Changed".',
			});
			continue;
		}
		if (!a.messageId) {
			results[k] = new MailboxError('NOT_FOUND', `${changed}, and the item has no Message-ID to find the message by; the message was not touched.`, {
				field: 'messageId',
				hint: 'Map the messageId of the trigger or Search item into the Message-ID option, or search the folder again.',
			});
			continue;
		}
		results[k] = await findByMessageId(client, mailbox, a, `${changed}`);
	}
	if (byUid.length) {
		const present = await existingUids(
			client,
			byUid.map((k) => addresses[k].uid),
		);
		for (const k of byUid) {
			const a = addresses[k];
			results[k] = present.has(a.uid)
				? { uid: a.uid, uidValidity: current, foundByMessageId: false }
				: new MailboxError('NOT_FOUND', `Message UID ${a.uid} no longer exists in folder "${mailbox.path}" (UIDVALIDITY ${current}): it was moved or deleted meanwhile.`, {
						field: 'uid',
						hint: 'Search the folder again for the message, or let the workflow skip items whose message is gone (Continue On Fail).',
					});
		}
	}
	return results;
}

async function findByMessageId(client: ImapFlow, mailbox: MailboxObject, a: MessageAddress, changed: string): Promise<Located | MailboxError> {
	const messageId = a.messageId as string;
	const candidates = (await client.search({ header: { 'Message-ID': messageId } }, { uid: true })) || [];
	// HEADER matches substrings: keep only exact Message-IDs
	const exact: number[] = [];
	if (candidates.length) {
		for (const m of await client.fetchAll(formatUidSet(rangesOf(candidates)), { uid: true, envelope: true }, { uid: true })) {
			if (sameMessageId(m.envelope?.messageId, messageId)) exact.push(m.uid);
		}
	}
	if (exact.length === 1) {
		return { uid: exact[0], uidValidity: mailbox.uidValidity.toString(), foundByMessageId: true, previousUid: a.uid, previousUidValidity: a.uidValidity };
	}
	if (exact.length === 0) {
		return new MailboxError('NOT_FOUND', `${changed}, and no message with Message-ID ${messageId} is in it; nothing was touched.`, { field: 'messageId', hint: 'The message was moved or deleted: search for it in the other folders.' });
	}
	return new MailboxError('NOT_FOUND', `${changed}, and ${exact.length} messages (UIDs ${exact.join(', ')}) have Message-ID ${messageId}; none was touched, as it is not clear which one is meant.`, {
		field: 'messageId',
		hint: 'Search the folder again and act on the UID you mean.',
	});
}

function sameMessageId(a: string | undefined, b: string): boolean {
	const norm = (s: string) => s.trim().replace(/^<|>$/g, '').toLowerCase();
	return a !== undefined && norm(a) === norm(b);
}

/** Which of `uids` exist in the open folder (one UID SEARCH per chunk of the set). */
export async function existingUids(client: ImapFlow, uids: number[], maxSetChars = DEFAULT_MAX_SET_CHARS): Promise<Set<number>> {
	const present = new Set<number>();
	for (const set of uidSetChunks(uids, maxSetChars)) {
		const found = await client.search({ uid: set }, { uid: true });
		if (!Array.isArray(found)) throw new MailboxError('SERVER', `The server refused to search the UIDs ${abbreviate(set)} in folder "${client.mailbox ? client.mailbox.path : ''}".`);
		for (const uid of found) present.add(uid);
	}
	return present;
}

function abbreviate(set: string): string {
	return set.length > 60 ? `${set.slice(0, 57)}...` : set;
}

// ---------------------------------------------------------------------------------------------
// Folders by role

/** The folder with a SPECIAL-USE role (Junk, Trash, Drafts...), else undefined. */
export function folderWithRole(folders: FolderInfo[], role: SpecialUse): FolderInfo | undefined {
	return folders.find((f) => f.specialUse === role && f.selectable);
}

/**
 * The folder to use: the one named (checked to exist and be selectable; errors name `field`),
 * else the one with `role`, else an error naming `field`.
 */
export function resolveFolder(folders: FolderInfo[], named: string | undefined, role: SpecialUse | undefined, field: string, label: string): string {
	const name = (named ?? '').trim();
	if (name) {
		const found = folders.find((f) => f.path === name) ?? (name.toUpperCase() === 'INBOX' ? folders.find((f) => f.path.toUpperCase() === 'INBOX') : undefined);
		if (!found) {
			const near = folders.filter((f) => f.path.toLowerCase() === name.toLowerCase() || f.name.toLowerCase() === name.toLowerCase()).map((f) => f.path);
			throw configError(field, `${label} "${name}" does not exist in this mailbox.`, near.length ? `Did you mean ${near.map((p) => `"${p}"`).join(' or ')}? Folder names are case-sensitive.` : `Existing folders: ${folders.map((f) => f.path).slice(0, 30).join(', ')}.`);
		}
		if (!found.selectable) throw configError(field, `${label} "${name}" only holds other folders and cannot hold messages.`, 'Choose one of its subfolders.');
		return found.path;
	}
	if (role) {
		const byRole = folderWithRole(folders, role);
		if (byRole) return byRole.path;
		throw configError(field, `This mailbox names no ${role} folder (SPECIAL-USE \\${role[0].toUpperCase()}${role.slice(1)}).`, `Enter the ${role} folder's name in ${label}.`);
	}
	throw configError(field, `${label} is empty.`, 'Enter a folder such as INBOX or Archive.');
}

// ---------------------------------------------------------------------------------------------
// Bulk operations

export type BulkAction =
	| { type: 'move' | 'copy'; destination: string }
	/** Permanently: \Deleted + UID EXPUNGE of exactly these UIDs; else move to `trash` (in Trash itself: permanently). */
	| { type: 'delete'; permanently: boolean; trash?: string }
	| { type: 'addFlags' | 'removeFlags'; flags: string[] }
	/** Leave the message as it is (and say why); for spam/ham of a message already where it belongs. */
	| { type: 'none'; reason: string };

export interface BulkDone extends Located {
	ok: true;
	folder: string;
	messageId?: string;
	/** move/copy/delete to Trash: where the message is now. */
	destination?: string;
	/** Its UID there (COPYUID/MOVE); null when the server does not report it (no UIDPLUS). */
	destinationUid?: number | null;
	destinationUidValidity?: string | null;
	/** delete: 'trash' or 'permanently'. */
	deleted?: 'trash' | 'permanently';
	/** 'none': why nothing was done. */
	unchanged?: string;
}

export interface BulkFailed {
	ok: false;
	error: MailboxError;
}

export type BulkOutcome = BulkDone | BulkFailed;

export interface BulkOptions extends LocateOptions {
	maxSetChars?: number;
	/** The server is Gmail (known from the sign-in; Gmail also says so with X-GM-EXT-1): expunging outside Trash only removes a label. */
	gmail?: boolean;
}

/**
 * One action for many messages: `actions[k]` for `addresses[k]` (messages of a folder with the
 * same action share a command). Returns one outcome per address, in order. Errors that concern
 * the whole run (connection lost) are thrown; everything about one message is its outcome.
 */
export async function runBulk(client: ImapFlow, addresses: MessageAddress[], actions: BulkAction[] | BulkAction, options: BulkOptions = {}): Promise<BulkOutcome[]> {
	const actionOf = (k: number) => (Array.isArray(actions) ? actions[k] : actions);
	const outcomes: BulkOutcome[] = new Array(addresses.length);
	// groups: folder -> action key -> indices, in order of first appearance
	const groups = new Map<string, Map<string, number[]>>();
	for (let k = 0; k < addresses.length; k++) {
		const folder = addresses[k].folder;
		const key = JSON.stringify(actionOf(k));
		let byAction = groups.get(folder);
		if (!byAction) groups.set(folder, (byAction = new Map()));
		const list = byAction.get(key);
		if (list) list.push(k);
		else byAction.set(key, [k]);
	}
	// Gmail's Trash, looked up (LIST) at most once per call, when a group needs it
	let trash: Promise<string | undefined> | undefined;
	const trashFolder = () => (trash ??= trashFolderOf(client));
	for (const [folder, byAction] of groups) {
		const all = [...byAction.values()].flat();
		const write = [...byAction.keys()].some((key) => (JSON.parse(key) as BulkAction).type !== 'copy' && (JSON.parse(key) as BulkAction).type !== 'none');
		const opened = await lookup(openFolder(client, folder, { write }));
		if (opened.missing) {
			for (const k of all) outcomes[k] = { ok: false, error: opened.missing };
			continue;
		}
		const mailbox = opened.value;
		for (const [key, indices] of byAction) {
			const action = JSON.parse(key) as BulkAction;
			const located = await locate(
				client,
				mailbox,
				indices.map((k) => addresses[k]),
				options,
			);
			const targets: Array<{ k: number; at: Located }> = [];
			located.forEach((at, j) => {
				if (at instanceof MailboxError) outcomes[indices[j]] = { ok: false, error: at };
				else targets.push({ k: indices[j], at });
			});
			if (targets.length === 0) continue;
			await apply(client, mailbox, action, targets, addresses, outcomes, options.maxSetChars ?? DEFAULT_MAX_SET_CHARS, options.gmail === true, trashFolder);
		}
	}
	return outcomes;
}

async function apply(
	client: ImapFlow,
	mailbox: MailboxObject,
	action: BulkAction,
	targets: Array<{ k: number; at: Located }>,
	addresses: MessageAddress[],
	outcomes: BulkOutcome[],
	maxSetChars: number,
	gmail: boolean,
	/** The Trash folder by its role, looked up once per runBulk. */
	trashFolder: () => Promise<string | undefined>,
): Promise<void> {
	const folder = mailbox.path;
	const done = (k: number, at: Located, extra: Partial<BulkDone> = {}): BulkDone => ({ ok: true, folder, ...at, messageId: addresses[k].messageId, ...extra });
	const uids = [...new Set(targets.map((t) => t.at.uid))];
	const fail = (error: MailboxError, set?: Set<number>) => {
		for (const t of targets) if (!set || set.has(t.at.uid)) outcomes[t.k] = { ok: false, error };
	};

	if (action.type === 'none') {
		for (const t of targets) outcomes[t.k] = done(t.k, t.at, { unchanged: action.reason });
		return;
	}

	if (action.type === 'addFlags' || action.type === 'removeFlags') {
		if (action.type === 'addFlags') {
			const refused = action.flags.filter((f) => !flagAllowed(mailbox, f));
			if (refused.length) {
				fail(
					configError(
						refused.some((f) => !f.startsWith('\\')) ? 'keywords' : 'flags',
						`Folder "${folder}" does not allow the flag${refused.length > 1 ? 's' : ''} ${refused.join(', ')} (its PERMANENTFLAGS are ${[...(mailbox.permanentFlags ?? [])].join(' ') || 'empty'}); no message was changed.`,
						'Use only flags the folder allows; some servers allow no custom keywords.',
					),
				);
				return;
			}
		}
		for (const set of uidSetChunks(uids, maxSetChars)) {
			const ok = action.type === 'addFlags' ? await client.messageFlagsAdd(set, action.flags, { uid: true }) : await client.messageFlagsRemove(set, action.flags, { uid: true });
			if (!ok) fail(new MailboxError('SERVER', `The server refused to ${action.type === 'addFlags' ? 'set' : 'clear'} ${action.flags.join(' ')} on UIDs ${abbreviate(set)} in folder "${folder}".`), new Set(expand(set)));
		}
		for (const t of targets) if (!outcomes[t.k]) outcomes[t.k] = done(t.k, t.at);
		return;
	}

	const expungeHere = action.type === 'delete' && (action.permanently || (action.trash !== undefined && action.trash === folder));
	if (expungeHere && (gmail || isGmail(client.capabilities)) && (await trashFolder()) !== folder) {
		fail(
			new MailboxError('CONFIG', `Gmail does not delete by expunging: in folder "${folder}" that only removes the folder's label, and the message stays in All Mail.`, {
				field: 'deletePermanently',
				step: 'config',
				hint: "Turn off Delete Permanently: the message goes to Gmail's Trash, which Gmail empties after 30 days. To delete it at once, delete it permanently in the Trash folder.",
			}),
		);
		return;
	}
	const removal = expungeHere ? 'delete' : action.type === 'copy' ? undefined : 'move';
	if (removal && expungesWholeFolder(client.capabilities, removal)) {
		const others = await othersMarkedDeleted(client, uids);
		if (others) {
			const verb = removal === 'delete' ? 'deleting' : 'moving';
			fail(
				new MailboxError('SERVER', `The server cannot expunge single messages (no UIDPLUS${removal === 'move' ? ', no MOVE' : ''}), and ${others} other message(s) in folder "${folder}" are marked as deleted: ${verb} would remove them too, so nothing was done.`, {
					field: removal === 'delete' ? 'deletePermanently' : undefined,
					hint: 'Undelete or expunge those messages in the mail client that marked them, then run again.',
				}),
			);
			return;
		}
	}
	if (action.type === 'delete' && expungeHere) {
		for (const set of uidSetChunks(uids, maxSetChars)) {
			const ok = await client.messageDelete(set, { uid: true });
			if (!ok) fail(new MailboxError('SERVER', `The server refused to delete UIDs ${abbreviate(set)} in folder "${folder}".`), new Set(expand(set)));
		}
		for (const t of targets) if (!outcomes[t.k]) outcomes[t.k] = done(t.k, t.at, { deleted: 'permanently' });
		return;
	}

	const destination = action.type === 'delete' ? (action.trash as string) : (action as { destination: string }).destination;
	const copy = action.type === 'copy';
	const verb = copy ? 'copy' : 'move';
	const mapped = new Map<number, number>();
	let uidValidity: string | null = null;
	let reported = true;
	const refusedUids = new Set<number>();
	for (const set of uidSetChunks(uids, maxSetChars)) {
		const result = copy ? await client.messageCopy(set, destination, { uid: true }) : await client.messageMove(set, destination, { uid: true });
		if (!result) {
			for (const uid of expand(set)) refusedUids.add(uid);
			fail(new MailboxError('SERVER', `The server refused to ${verb} UIDs ${abbreviate(set)} from "${folder}" to "${destination}"; they were not ${copy ? 'copied' : 'moved'}.`, { field: 'destination' }), new Set(expand(set)));
			continue;
		}
		if (result.uidMap) for (const [from, to] of result.uidMap) mapped.set(from, to);
		else reported = false;
		if (result.uidValidity !== undefined) uidValidity = result.uidValidity.toString();
	}
	for (const t of targets) {
		if (refusedUids.has(t.at.uid)) continue;
		const newUid = mapped.get(t.at.uid);
		if (reported && newUid === undefined) {
			// COPYUID names every message copied; one missing was expunged between the check and the command
			outcomes[t.k] = { ok: false, error: new MailboxError('NOT_FOUND', `Message UID ${t.at.uid} no longer exists in folder "${folder}": it was moved or deleted meanwhile.`, { field: 'uid' }) };
			continue;
		}
		outcomes[t.k] = done(t.k, t.at, {
			destination,
			destinationUid: newUid ?? null,
			destinationUidValidity: uidValidity,
			...(action.type === 'delete' ? { deleted: 'trash' as const } : {}),
		});
	}
}

function flagAllowed(mailbox: MailboxObject, flag: string): boolean {
	const permanent = mailbox.permanentFlags;
	if (!permanent || permanent.has('\\*')) return true;
	const lower = flag.toLowerCase();
	return [...permanent].some((f) => f.toLowerCase() === lower);
}

/** The UIDs of a set ("1:3,7" -> 1, 2, 3, 7). */
function* expand(set: string): Generator<number> {
	for (const part of set.split(',')) {
		const [a, b] = part.split(':').map(Number);
		for (let u = a; u <= (b ?? a); u++) yield u;
	}
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface FetchedMessage {
	uid: number;
	flags: string[];
	size: number;
	internalDate?: Date;
	/** The whole message (BODY.PEEK[], \Seen is not set). */
	source?: Buffer;
	/** The header block only (BODY.PEEK[HEADER]). */
	headers?: Buffer;
}

function toFetched(m: FetchMessageObject): FetchedMessage {
	const date = m.internalDate instanceof Date ? m.internalDate : m.internalDate ? new Date(m.internalDate) : undefined;
	return { uid: m.uid, flags: [...(m.flags ?? [])], size: m.size ?? m.source?.length ?? 0, internalDate: date, source: m.source, headers: m.headers };
}

/**
 * Fetches messages of the open folder by UID, in the order of `uids`, without setting \Seen;
 * `part` 'source' for the whole message, 'headers' for the header block. UIDs that no longer
 * exist are missing from the result.
 */
export async function fetchMessages(client: ImapFlow, uids: number[], part: 'source' | 'headers', batch = 100): Promise<FetchedMessage[]> {
	const byUid = new Map<number, FetchedMessage>();
	for (let i = 0; i < uids.length; i += batch) {
		const slice = uids.slice(i, i + batch);
		const query = { uid: true, flags: true, size: true, internalDate: true, ...(part === 'source' ? { source: true } : { headers: true }) };
		for (const m of await client.fetchAll(formatUidSet(rangesOf(slice)), query, { uid: true })) byUid.set(m.uid, toFetched(m));
	}
	return uids.map((uid) => byUid.get(uid)).filter((m): m is FetchedMessage => m !== undefined);
}

/** An addressed message, whole: the folder's path as the server names it, where the message was found, and the message. */
export interface AddressedMessage {
	folder: string;
	where: Located;
	message: FetchedMessage;
}

/**
 * The whole message at `address` (BODY.PEEK[]: \Seen stays as it is), checked against the folder's
 * UIDVALIDITY (or found by Message-ID, when asked); a message that is not there is a NOT_FOUND
 * MailboxError (or the error of the mismatch).
 */
export async function fetchAddressed(client: ImapFlow, address: MessageAddress, options: LocateOptions = {}): Promise<AddressedMessage> {
	const mailbox = await openFolder(client, address.folder);
	const [where] = await locate(client, mailbox, [address], options);
	if (where instanceof MailboxError) throw where;
	const [message] = await fetchMessages(client, [where.uid], 'source');
	if (!message) throw new MailboxError('NOT_FOUND', `Message UID ${where.uid} no longer exists in folder "${mailbox.path}": it was moved or deleted meanwhile.`, { field: 'uid' });
	return { folder: mailbox.path, where, message };
}

export interface SearchResult {
	folder: string;
	uidValidity: string;
	/** Matching UIDs, sorted as asked and cut to the limit. */
	uids: number[];
	/** How many matched before the limit. */
	total: number;
}

/** UID SEARCH in `folder` (opened read-only); newest first means highest UID first (latest to arrive in the folder). */
export async function searchFolder(client: ImapFlow, folder: string, query: SearchObject, options: { limit?: number; order?: 'newestFirst' | 'oldestFirst' } = {}): Promise<SearchResult> {
	if (usesAge(query) && !client.capabilities.has('WITHIN')) {
		// BEFORE/SINCE instead would count whole days: a Search then Delete would take younger mail
		throw configError('rawSearch', 'Raw IMAP Search: this server does not support WITHIN (RFC 5032), so OLDER and YOUNGER could only be rounded to whole days; nothing was searched.', 'Use BEFORE or SINCE with a date (d-Mon-yyyy), or the Received Before/After filters.');
	}
	const mailbox = await openFolder(client, folder);
	const found = await client.search(query, { uid: true });
	if (!Array.isArray(found)) throw new MailboxError('SERVER', `The server refused the search in folder "${folder}".`, { field: 'rawSearch', hint: 'Check the search criteria; a server may not support every search key (e.g. X-GM-RAW is Gmail only).' });
	const sorted = [...found].sort((a, b) => (options.order === 'oldestFirst' ? a - b : b - a));
	const limit = options.limit && options.limit > 0 ? options.limit : sorted.length;
	return { folder: mailbox.path, uidValidity: mailbox.uidValidity.toString(), uids: sorted.slice(0, limit), total: sorted.length };
}

// ---------------------------------------------------------------------------------------------
// Appending

export interface AppendResult {
	folder: string;
	/** From APPENDUID (UIDPLUS); null when the server does not say. */
	uid: number | null;
	uidValidity: string | null;
}

/** Stores a raw message in `folder` with `flags` (APPEND); its new UID from APPENDUID. */
export async function appendMessage(client: ImapFlow, folder: string, raw: Buffer, flags: string[], internalDate?: Date): Promise<AppendResult> {
	const result = await client.append(folder, raw, flags, internalDate);
	if (!result) throw new MailboxError('SERVER', `The server refused to store the message in folder "${folder}".`, { field: 'folder', hint: 'Check that the folder exists and that the message is not larger than the server accepts.' });
	return { folder: result.destination, uid: result.uid ?? null, uidValidity: result.uidValidity !== undefined ? result.uidValidity.toString() : null };
}

/** Every folder (without counts), for resolving destinations and roles once per run. */
export function foldersOf(client: ImapFlow): Promise<FolderInfo[]> {
	return listFolders(client, { counts: false });
}
