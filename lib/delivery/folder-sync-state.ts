/**
 * The persisted state of the folder-sync watchers (Exchange Web Services by SyncFolderItems,
 * Microsoft Graph by delta query): plain JSON, per watched folder the server's sync position (the
 * SyncState, or the delta link) and the messages taken in but not finished. Pure functions only; the watcher applies them and
 * reports the new state after every change (the node keeps it in the workflow's static data).
 *
 * Exactly once: the sync state moves on as soon as a page of changes is taken in, and every new
 * message of that page is recorded in `pending` in the same step. A message leaves `pending` only
 * when the run that received it has succeeded (and the after-processing action is done), so a
 * restart delivers what is pending again, with the same deduplication key (n8n refuses a run
 * that already happened), and continues the sync where it stopped. Finished messages are kept in
 * `recent` (Message-ID, else item id; bounded): when the server no longer accepts a sync state
 * (EWS ErrorInvalidSyncStateData, Graph 410 Gone, or the folder was recreated) the folder is synced from scratch, and
 * what arrived before the last good sync is known, what is in `recent` or `pending` is not
 * delivered twice.
 */

import { asFingerprint, fingerprint } from './keys';

/**
 * Version 2: Message-IDs and recent keys are kept as fingerprints (a sender chooses a Message-ID,
 * of any length); the state is bound to the account; runs are keyed by item id, and the messages a
 * version 1 state left pending keep the Message-ID key they were delivered with (`l`).
 */
export const SYNC_STATE_VERSION = 2;

/** Finished message keys remembered per folder. */
export const MAX_RECENT = 1000;

/**
 * Characters of a key that `recent` keeps (60 bits of the fingerprint): n8n writes the whole state
 * with every run, and 1,000 keys take 10 KB this way instead of 19 KB as a JSON list. A message is
 * taken for a finished one by a chance match of 60 bits about once in 10^12 comparisons.
 */
export const RECENT_KEY_CHARS = 10;

/**
 * - `new`: to deliver (also while its run is going, and after a failed run that is retried)
 * - `act`: the run succeeded; the after-processing action (mark read, move, delete) is still to do
 */
export type SyncPendingStatus = 'new' | 'act';

export interface SyncPendingEntry {
	s: SyncPendingStatus;
	/** The fingerprint of the Message-ID (InternetMessageId), if the message has one. */
	m?: string;
	/** Taken in by version 1: the Message-ID (else item id) its run's key was made of. */
	l?: string;
	/** When Exchange received it (ms). */
	r?: number;
	/** Size in bytes, as Exchange reports it. */
	z?: number;
	/** Handed over in a run of several messages not settled yet: the run's number in the folder's `runs`. */
	u?: number;
}

export interface SyncFolderState {
	/** The server's id of the folder the sync state belongs to. */
	folderId?: string;
	/**
	 * The SyncFolderItems state after the last page taken in. Absent: nothing synced yet (first
	 * activation) or a reset. Present without activatedAt: the first activation is under way.
	 */
	syncState?: string;
	/** When the folder was first synced to its end (ms); absent until then. */
	activatedAt?: number;
	/** When the last sync reached the end of the changes (ms). */
	lastSyncAt?: number;
	/**
	 * Set while the folder is synced again from scratch after a reset: the last good sync before it
	 * (ms). Messages Exchange received well before it are known; the others are compared by key.
	 */
	resyncSince?: number;
	/** Item id -> entry, for messages taken in and not finished. */
	pending: Record<string, SyncPendingEntry>;
	/**
	 * Runs of several messages handed over and not settled: number -> [the run's key, its attempt];
	 * their members are the pending entries with that number (`u`). After a restart the same run is
	 * formed again with this key (n8n refuses it) instead of its messages going into other runs.
	 */
	runs?: Record<string, [string, number]>;
	/**
	 * Keys of finished messages, oldest first, at most MAX_RECENT: their first RECENT_KEY_CHARS
	 * characters, one after the other in one string (states saved before: a list of keys).
	 */
	recent: string;
}

export interface SyncWatchState {
	version: typeof SYNC_STATE_VERSION;
	/** The account the state belongs to (a fingerprint of the endpoint and mailbox). */
	account?: string;
	/** Folder key (the configured path, lower case) -> its state. */
	folders: Record<string, SyncFolderState>;
	/** Written by a watcher whose runs carry several messages (every run recorded). */
	several?: boolean;
	/** Messages still to hand over alone (recorded) after a change from one message per run. */
	singles?: number;
}

function record<T>(): Record<string, T> {
	return Object.create(null) as Record<string, T>;
}

export function emptySyncState(): SyncWatchState {
	return { version: SYNC_STATE_VERSION, folders: record() };
}

export function emptyFolderState(): SyncFolderState {
	return { pending: record(), recent: '' };
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Accepts what the node loaded from static data; anything unusable is dropped, never thrown on. */
export function loadSyncState(raw: unknown, account?: string): SyncWatchState {
	const state = emptySyncState();
	if (account) state.account = account;
	if (!raw || typeof raw !== 'object') return state;
	const savedAccount = (raw as { account?: unknown }).account;
	if (account && typeof savedAccount === 'string' && savedAccount !== account) return state;
	// version 1 (and hand-made states without a version) kept whole Message-IDs
	const v1 = (raw as { version?: unknown }).version !== SYNC_STATE_VERSION;
	const folders = (raw as { folders?: unknown }).folders;
	if (!folders || typeof folders !== 'object') return state;
	for (const [key, value] of Object.entries(folders as Record<string, unknown>)) {
		if (!key || !value || typeof value !== 'object') continue;
		const f = value as Record<string, unknown>;
		const folder = emptyFolderState();
		if (typeof f.folderId === 'string' && f.folderId) folder.folderId = f.folderId;
		if (typeof f.syncState === 'string' && f.syncState) folder.syncState = f.syncState;
		if (finite(f.activatedAt)) folder.activatedAt = f.activatedAt;
		if (finite(f.lastSyncAt)) folder.lastSyncAt = f.lastSyncAt;
		if (finite(f.resyncSince)) folder.resyncSince = f.resyncSince;
		if (f.pending && typeof f.pending === 'object') {
			for (const [id, entry] of Object.entries(f.pending as Record<string, unknown>)) {
				if (!id || !entry || typeof entry !== 'object') continue;
				const e = entry as Record<string, unknown>;
				if (e.s !== 'new' && e.s !== 'act') continue;
				const out: SyncPendingEntry = { s: e.s };
				if (typeof e.m === 'string' && e.m) out.m = asFingerprint(e.m);
				if (v1) out.l = typeof e.m === 'string' && e.m ? e.m : id;
				else if (typeof e.l === 'string' && e.l) out.l = e.l;
				if (finite(e.r)) out.r = e.r;
				if (finite(e.z)) out.z = e.z;
				if (Number.isInteger(e.u) && (e.u as number) >= 0) out.u = e.u as number;
				folder.pending[id] = out;
			}
		}
		if (typeof f.recent === 'string') {
			const whole = f.recent.length - (f.recent.length % RECENT_KEY_CHARS);
			folder.recent = /^[A-Za-z0-9_-]*$/.test(f.recent) ? f.recent.slice(Math.max(0, whole - MAX_RECENT * RECENT_KEY_CHARS), whole) : '';
		} else if (Array.isArray(f.recent)) {
			const keys = f.recent.filter((k): k is string => typeof k === 'string' && k.length > 0).slice(-MAX_RECENT);
			folder.recent = keys.map((k) => (v1 ? recentKeyOf(k) : asFingerprint(k)).slice(0, RECENT_KEY_CHARS)).join('');
		}
		if (f.runs && typeof f.runs === 'object') {
			for (const [n, run] of Object.entries(f.runs as Record<string, unknown>)) {
				if (!/^\d+$/.test(n) || !Array.isArray(run) || typeof run[0] !== 'string' || !run[0] || !Number.isInteger(run[1])) continue;
				(folder.runs ??= record())[n] = [run[0], Math.max(1, run[1] as number)];
			}
		}
		// a member of a run that is not recorded goes alone
		for (const entry of Object.values(folder.pending)) if (entry.u !== undefined && !folder.runs?.[entry.u]) delete entry.u;
		state.folders[key] = folder;
	}
	const { several, singles } = raw as { several?: unknown; singles?: unknown };
	if (several === true) {
		state.several = true;
		if (Number.isInteger(singles) && (singles as number) > 0) state.singles = singles as number;
	}
	return state;
}

/** Records a run of several messages before it is handed over (`n`: see newRunNumber), or a recorded one formed again. */
export function recordRun(folder: SyncFolderState, n: number, key: string, attempt: number, itemIds: string[]): void {
	(folder.runs ??= record())[n] = [key, attempt];
	for (const [id, entry] of Object.entries(folder.pending)) if (entry.u === n && !itemIds.includes(id)) delete entry.u;
	for (const id of itemIds) if (folder.pending[id]) folder.pending[id].u = n;
}

/** A number for a new run of the folder. */
export function newRunNumber(folder: SyncFolderState): number {
	let n = 0;
	for (const k of Object.keys(folder.runs ?? {})) n = Math.max(n, Number(k) + 1);
	return n;
}

/** Drops a run's record and its members' marks (it settled, or none of its members is left). */
export function dropRun(folder: SyncFolderState, n: number): void {
	if (folder.runs) {
		delete folder.runs[n];
		if (!Object.keys(folder.runs).length) delete folder.runs;
	}
	for (const entry of Object.values(folder.pending)) if (entry.u === n) delete entry.u;
}

/** A plain-object copy (JSON), for persisting. */
export function cloneSyncState(state: SyncWatchState): SyncWatchState {
	return JSON.parse(JSON.stringify(state)) as SyncWatchState;
}

/** The key a finished message is remembered by: the fingerprint of its Message-ID, else of its item id. */
export function messageKey(itemId: string, messageId: string | undefined): string {
	return messageId ? fingerprint(messageId) : fingerprint(`i:${itemId}`);
}

/** A recent key saved by version 1 ("m:<Message-ID>", "i:<item id>") as version 2 keeps it. */
function recentKeyOf(saved: string): string {
	if (saved.startsWith('m:')) return fingerprint(saved.slice(2));
	if (saved.startsWith('i:')) return fingerprint(saved);
	return asFingerprint(saved);
}

/** Records a finished message: out of `pending`, into `recent` (bounded). */
export function finish(folder: SyncFolderState, itemId: string): void {
	const entry = folder.pending[itemId];
	delete folder.pending[itemId];
	rememberKey(folder, entry?.m ?? fingerprint(`i:${itemId}`));
}

/** Adds a message's key to `recent` (bounded), e.g. one known at first activation that a reset soon after must not deliver. */
export function remember(folder: SyncFolderState, itemId: string, messageId: string | undefined): void {
	rememberKey(folder, messageKey(itemId, messageId));
}

/** Where a key is in `recent` (a multiple of RECENT_KEY_CHARS), else -1. */
function recentIndex(recent: string, key: string): number {
	const short = key.slice(0, RECENT_KEY_CHARS);
	for (let at = recent.indexOf(short); at >= 0; at = recent.indexOf(short, at + 1)) if (at % RECENT_KEY_CHARS === 0) return at;
	return -1;
}

/** Whether a message's key (see messageKey) is among the finished ones. */
export function isRecent(folder: SyncFolderState, key: string): boolean {
	return recentIndex(folder.recent, key) >= 0;
}

function rememberKey(folder: SyncFolderState, key: string): void {
	const at = recentIndex(folder.recent, key);
	const rest = at >= 0 ? folder.recent.slice(0, at) + folder.recent.slice(at + RECENT_KEY_CHARS) : folder.recent;
	const all = rest + key.slice(0, RECENT_KEY_CHARS);
	folder.recent = all.length > MAX_RECENT * RECENT_KEY_CHARS ? all.slice(all.length - MAX_RECENT * RECENT_KEY_CHARS) : all;
}

/** Whether a message is finished (by Message-ID or item id) or already pending (by item id or Message-ID). */
export function isKnown(folder: SyncFolderState, itemId: string, messageId: string | undefined): boolean {
	if (itemId in folder.pending) return true;
	if (isRecent(folder, messageKey(itemId, undefined))) return true;
	if (!messageId) return false;
	const key = fingerprint(messageId);
	if (isRecent(folder, key)) return true;
	return Object.values(folder.pending).some((e) => e.m === key);
}

export type FirstActivation = 'new' | 'unread' | 'all';

/** Time before the last good sync within which a resynced message is compared by key rather than taken as known. */
export const RESYNC_MARGIN_MS = 10 * 60_000;

/**
 * What to do with a message a sync reports as created:
 * - on first activation, per the mode (`new`: known; `unread`: deliver the unread; `all`: deliver);
 * - after a reset (`resyncSince` = the last good sync): known if Exchange received it well before
 *   that sync, else deliver unless it is finished or pending already;
 * - otherwise deliver unless already pending (a repeated page).
 */
export function decideCreate(
	folder: SyncFolderState,
	item: { itemId: string; messageId?: string; isRead?: boolean; received?: number },
	context: { firstActivation?: FirstActivation; resyncSince?: number },
): 'deliver' | 'known' {
	if (context.firstActivation) {
		if (context.firstActivation === 'all') return 'deliver';
		if (context.firstActivation === 'unread') return item.isRead ? 'known' : 'deliver';
		return 'known';
	}
	if (context.resyncSince !== undefined) {
		if (item.received !== undefined && item.received < context.resyncSince - RESYNC_MARGIN_MS) return 'known';
		return isKnown(folder, item.itemId, item.messageId) ? 'known' : 'deliver';
	}
	return item.itemId in folder.pending ? 'known' : 'deliver';
}
