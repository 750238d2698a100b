/**
 * The watcher's persisted state: plain JSON, small, one entry per folder. Pure functions only;
 * the watcher applies them and reports the new state after every change.
 *
 * Per folder the meaning is:
 * - every UID at or below `lastUid` is done (acknowledged by a successful run, or deliberately
 *   skipped), except the UIDs listed in `pending`, which still have to be delivered (the unseen
 *   backlog of a first activation, a reset by date, the candidates after a UIDVALIDITY change);
 * - `done` lists UIDs above `lastUid` that are done already (acknowledged out of order, while an
 *   earlier one is still being processed or failed and waits for its retry); as soon as the UIDs
 *   right after `lastUid` are done, `lastUid` moves up over them;
 * - a UID that was delivered and not acknowledged is in none of these, so it is delivered again
 *   after a restart: the state holds acknowledgements only.
 */
import { above, addUid, atOrBelow, formatUidSet, hasUid, parseUidSet, rangesOf, removeUid } from './uid-set';

export const STATE_VERSION = 1;

export interface FolderState {
	/** UIDVALIDITY the UIDs below belong to (decimal string: it can exceed 2^53 in theory). */
	uidValidity: string;
	/** Every UID up to here is done, except those in `pending`. */
	lastUid: number;
	/** UID set (IMAP syntax) of UIDs above `lastUid` that are done already. */
	done?: string;
	/** UID set of UIDs at or below `lastUid` still to deliver. */
	pending?: string;
	/** UID set of acknowledged messages whose after-processing action (mark read, move, delete) is still to do. */
	actions?: string;
	/** Recently acknowledged messages, newest last: [Message-ID (or date/size key), INTERNALDATE in ms]. */
	recent?: Array<[string, number]>;
	/**
	 * Set after a UIDVALIDITY change handled by Message-ID: the `pending` candidates whose key is
	 * in `recent`, or whose INTERNALDATE is before this time (ms), are not delivered again.
	 */
	matchSince?: number;
}

export interface WatchState {
	version: typeof STATE_VERSION;
	folders: Record<string, FolderState>;
}

export type FirstActivation = 'new' | 'unseen' | 'all';

export function emptyState(): WatchState {
	return { version: STATE_VERSION, folders: {} };
}

/** Accepts what the node loaded from static data; anything unusable is dropped, never thrown on. */
export function loadState(raw: unknown): WatchState {
	const state = emptyState();
	if (!raw || typeof raw !== 'object') return state;
	const folders = (raw as { folders?: unknown }).folders;
	if (!folders || typeof folders !== 'object') return state;
	for (const [name, value] of Object.entries(folders as Record<string, unknown>)) {
		if (!value || typeof value !== 'object') continue;
		const f = value as Partial<FolderState>;
		if (typeof f.uidValidity !== 'string' || typeof f.lastUid !== 'number' || !Number.isInteger(f.lastUid) || f.lastUid < 0) continue;
		const clean: FolderState = { uidValidity: f.uidValidity, lastUid: f.lastUid };
		for (const key of ['done', 'pending', 'actions'] as const) {
			if (typeof f[key] === 'string' && f[key]) clean[key] = formatUidSet(parseUidSet(f[key]));
		}
		if (Array.isArray(f.recent)) {
			clean.recent = f.recent.filter((e): e is [string, number] => Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'number');
		}
		if (typeof f.matchSince === 'number') clean.matchSince = f.matchSince;
		state.folders[name] = clean;
	}
	return state;
}

export function cloneState(state: WatchState): WatchState {
	return JSON.parse(JSON.stringify(state)) as WatchState;
}

/**
 * The state of a folder seen for the first time (or again after a UIDVALIDITY change without
 * Message-ID matching): 'new' starts at UIDNEXT-1, 'all' at 0, 'unseen' at UIDNEXT-1 with the
 * unseen messages as `pending`.
 */
export function initialFolderState(uidValidity: string, uidNext: number, mode: FirstActivation, unseen: readonly number[] = []): FolderState {
	const top = Math.max(0, uidNext - 1);
	if (mode === 'all') return { uidValidity, lastUid: 0 };
	const state: FolderState = { uidValidity, lastUid: top };
	if (mode === 'unseen') {
		const pending = formatUidSet(atOrBelow(rangesOf(unseen), top));
		if (pending) state.pending = pending;
	}
	return state;
}

/** Done: acknowledged, or skipped on purpose. */
export function isDone(state: FolderState, uid: number): boolean {
	if (uid <= state.lastUid) return !hasUid(parseUidSet(state.pending), uid);
	return hasUid(parseUidSet(state.done), uid);
}

function setField(state: FolderState, key: 'done' | 'pending' | 'actions', value: string): void {
	if (value) state[key] = value;
	else delete state[key];
}

/** Moves `lastUid` up over the done UIDs right after it. */
function compact(state: FolderState): void {
	let done = parseUidSet(state.done);
	while (done.length && done[0][0] <= state.lastUid + 1) {
		state.lastUid = Math.max(state.lastUid, done[0][1]);
		done = done.slice(1);
	}
	setField(state, 'done', formatUidSet(above(done, state.lastUid)));
}

/** Records that `uid` is done. Returns false when it was done already. */
export function markDone(state: FolderState, uid: number): boolean {
	if (isDone(state, uid)) return false;
	if (uid <= state.lastUid) {
		setField(state, 'pending', formatUidSet(removeUid(parseUidSet(state.pending), uid)));
		if (!state.pending) delete state.matchSince;
	} else {
		setField(state, 'done', formatUidSet(addUid(parseUidSet(state.done), uid)));
		compact(state);
	}
	return true;
}

/**
 * After a search: `existing` are all UIDs above `lastUid` the folder holds (ascending or not),
 * found after the folder was opened with `uidNext`. UIDs that don't exist (expunged, or never
 * used) are passed over, up to the first UID still to deliver.
 */
export function skipGaps(state: FolderState, existing: readonly number[], uidNext: number): boolean {
	let target = Math.max(uidNext - 1, ...existing, 0);
	for (const uid of [...existing].sort((a, b) => a - b)) {
		if (uid > state.lastUid && !isDone(state, uid)) {
			target = uid - 1;
			break;
		}
	}
	if (target <= state.lastUid) return false;
	state.lastUid = target;
	compact(state);
	return true;
}

/** Keeps only the pending UIDs that still exist. */
export function prunePending(state: FolderState, existing: readonly number[]): boolean {
	const before = state.pending ?? '';
	const keep = new Set(existing);
	const kept = rangesOf([...expand(parseUidSet(state.pending))].filter((u) => keep.has(u)));
	setField(state, 'pending', formatUidSet(kept));
	if (!state.pending) delete state.matchSince;
	return (state.pending ?? '') !== before;
}

export function* expand(ranges: Array<[number, number]>): Generator<number> {
	for (const [a, b] of ranges) for (let u = a; u <= b; u++) yield u;
}

export function pendingUids(state: FolderState): number[] {
	return [...expand(parseUidSet(state.pending))];
}

export function addAction(state: FolderState, uid: number): void {
	setField(state, 'actions', formatUidSet(addUid(parseUidSet(state.actions), uid)));
}

export function clearActions(state: FolderState, uids: readonly number[]): void {
	let ranges = parseUidSet(state.actions);
	for (const uid of uids) ranges = removeUid(ranges, uid);
	setField(state, 'actions', formatUidSet(ranges));
}

/** The key a message is recognised by after a UIDVALIDITY change. */
export function messageKey(messageId: string | undefined, internalDate: Date | undefined, size: number): string {
	if (messageId && messageId.trim()) return messageId.trim();
	return `${internalDate ? internalDate.getTime() : 0}/${size}`;
}

export function addRecent(state: FolderState, key: string, internalDate: number, limit: number): void {
	if (limit <= 0) return;
	const recent = state.recent ?? [];
	recent.push([key, internalDate]);
	if (recent.length > limit) recent.splice(0, recent.length - limit);
	state.recent = recent;
}

/**
 * The state after the folder's UIDVALIDITY changed. With `matchByMessageId` and a non-empty recent
 * list: everything from UIDNEXT-1 on is new, and the older messages with an INTERNALDATE at or
 * after the oldest recent one (found by `candidates`) are pending; those whose key is recent are
 * skipped when fetched. Otherwise: the first-activation state for `mode`.
 */
export function afterUidValidityChange(
	previous: FolderState,
	uidValidity: string,
	uidNext: number,
	options: { matchByMessageId: boolean; mode: FirstActivation; candidates: readonly number[]; unseen: readonly number[] },
): FolderState {
	const recent = previous.recent ?? [];
	if (options.matchByMessageId && recent.length) {
		const state: FolderState = { uidValidity, lastUid: Math.max(0, uidNext - 1), recent: [...recent] };
		const pending = formatUidSet(atOrBelow(rangesOf(options.candidates), state.lastUid));
		if (pending) {
			state.pending = pending;
			state.matchSince = Math.min(...recent.map((r) => r[1]));
		}
		return state;
	}
	const state = initialFolderState(uidValidity, uidNext, options.mode, options.unseen);
	if (recent.length) state.recent = [...recent];
	return state;
}

/** Reset to re-deliver everything from `fromUid` on (a user "reloading mail"). */
export function resetFromUid(state: FolderState, fromUid: number): FolderState {
	const next: FolderState = { uidValidity: state.uidValidity, lastUid: Math.max(0, Math.floor(fromUid) - 1) };
	const pending = formatUidSet(atOrBelow(parseUidSet(state.pending), next.lastUid));
	if (pending) next.pending = pending;
	if (state.actions) next.actions = state.actions;
	if (state.recent) next.recent = [...state.recent];
	return next;
}

/** Reset so that exactly these UIDs are delivered again (e.g. those found by a date). */
export function redeliver(state: FolderState, uids: readonly number[]): void {
	let pending = parseUidSet(state.pending);
	let done = parseUidSet(state.done);
	for (const uid of uids) {
		if (uid <= state.lastUid) pending = addUid(pending, uid);
		else done = removeUid(done, uid);
	}
	setField(state, 'pending', formatUidSet(pending));
	setField(state, 'done', formatUidSet(done));
}
