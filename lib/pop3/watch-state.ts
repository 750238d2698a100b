/**
 * The POP3 watcher's persisted state: plain JSON, one short entry per message still on the server.
 * Pure functions only; the watcher applies them and reports the new state after every change.
 *
 * POP3 has no folders, flags or UIDs in order, only the server's unique id (UIDL) of every message
 * in the maildrop. So the state keeps, per UIDL, when the trigger first saw the message and what
 * became of it. Entries of messages that are no longer on the server are dropped at every poll, so
 * the state never grows beyond the maildrop.
 *
 * The state holds acknowledgements only: a message handed to the workflow whose run has not
 * finished successfully is still `new`, so after a restart it is delivered again (with the same
 * deduplication key, which n8n refuses if that run already happened). A message whose run n8n
 * refuses that way becomes `untouched`: it is not delivered again, and since no run was confirmed
 * to have finished with it (the earlier one may have been cut off by a crash), the trigger never
 * deletes it.
 *
 * Runs of several messages (node version 1.2): a run's members and the UIDL and attempt its key
 * was made of are recorded (`runs`) before it is handed over, so that after a restart the same run
 * is formed again (and refused by n8n) instead of its messages going into other runs; the record
 * goes when the run settles. `several` marks a state written by such a watcher; coming from one
 * message per run (runs not recorded), the next `singles` messages go alone first, so that one
 * whose run was cut off is refused with the key it had instead of taking other messages with it.
 *
 * Versions: 1 had no `untouched`; a version 1 state loads unchanged (every one of its statuses
 * means the same in version 2). A version 1 `done-delete` cannot tell whether its run was refused
 * as a duplicate, so it is taken as it was recorded.
 */

export const POP3_STATE_VERSION = 2;

/**
 * - `new`: to deliver (never acknowledged; also while its run is going, and a failed run to retry)
 * - `known`: was on the server when the trigger was first activated with "new mail only"; never
 *   delivered, never deleted by the trigger
 * - `done`: delivered whole, the run succeeded
 * - `done-delete`: as `done`, acknowledged while "delete after fetch" was on: DELE on a later session
 * - `headers`: oversized, delivered with its headers only, the run succeeded; never deleted by the
 *   trigger (its body was never downloaded)
 * - `skipped`: oversized and skipped, or its run failed and "retry failed runs" is off; never
 *   deleted by the trigger
 * - `untouched` (since version 2): n8n refused its run as a duplicate of one before a restart,
 *   whose end is not known (it may have crashed); never delivered again, never deleted by the
 *   trigger (neither "after fetch" nor "after N days": it was never confirmed processed)
 */
export type Pop3MessageStatus = 'new' | 'known' | 'done' | 'done-delete' | 'headers' | 'skipped' | 'untouched';

const STATUSES: ReadonlySet<string> = new Set<Pop3MessageStatus>(['new', 'known', 'done', 'done-delete', 'headers', 'skipped', 'untouched']);

/** [first seen (ms since 1970), status]: a tuple, as the state holds one per message in the maildrop. */
export type Pop3MessageEntry = [firstSeen: number, status: Pop3MessageStatus];

export interface Pop3WatchState {
	version: typeof POP3_STATE_VERSION;
	/** The account the state belongs to (a fingerprint of host and user); another account's state is not used. */
	account?: string;
	/** When the first poll recorded the maildrop (ms); absent until then (first activation pending). */
	activatedAt?: number;
	/** UIDL -> entry, for every message on the server at the last poll. */
	messages: Record<string, Pop3MessageEntry>;
	/** Runs of several messages handed over and not settled: [UIDL of the run's key, its attempt, the members' UIDLs]. */
	runs?: Array<[string, number, string[]]>;
	/** Written by a watcher whose runs carry several messages (every run recorded). */
	several?: boolean;
	/** Messages still to hand over alone (recorded) after a change from one message per run. */
	singles?: number;
}

/** Recorded runs a state keeps at most, and members per run (runs in flight are bounded by a small number). */
const MAX_RUNS = 1000;
const MAX_RUN_MEMBERS = 1000;

export type Pop3FirstActivation = 'new' | 'all';

const DAY_MS = 24 * 60 * 60 * 1000;

/** A record without a prototype, so that any UIDL ("__proto__" too) is an ordinary key. */
function record(): Record<string, Pop3MessageEntry> {
	return Object.create(null) as Record<string, Pop3MessageEntry>;
}

export function emptyPop3State(): Pop3WatchState {
	return { version: POP3_STATE_VERSION, messages: record() };
}

/**
 * Accepts what the node loaded from static data, of this version or an older one (version 1, or
 * no version); anything unusable is dropped, never thrown on. The result is always of this version.
 */
export function loadPop3State(raw: unknown): Pop3WatchState {
	const state = emptyPop3State();
	if (!raw || typeof raw !== 'object') return state;
	const r = raw as { activatedAt?: unknown; messages?: unknown };
	if (typeof r.activatedAt === 'number' && Number.isFinite(r.activatedAt)) state.activatedAt = r.activatedAt;
	if (!r.messages || typeof r.messages !== 'object') return state;
	for (const [uidl, value] of Object.entries(r.messages as Record<string, unknown>)) {
		if (!uidl || !Array.isArray(value)) continue;
		const [firstSeen, status] = value as unknown[];
		if (typeof firstSeen !== 'number' || !Number.isFinite(firstSeen) || typeof status !== 'string' || !STATUSES.has(status)) continue;
		state.messages[uidl] = [firstSeen, status as Pop3MessageStatus];
	}
	// Entries without an activation time can only come from a hand-edited state: keep them, as activated.
	if (state.activatedAt === undefined && Object.keys(state.messages).length) {
		let first = Infinity;
		for (const [seen] of Object.values(state.messages)) if (seen < first) first = seen;
		state.activatedAt = first;
	}
	if (typeof (raw as { account?: unknown }).account === 'string') state.account = (raw as { account: string }).account;
	const { runs, several, singles } = raw as { runs?: unknown; several?: unknown; singles?: unknown };
	if (Array.isArray(runs)) {
		const kept: Array<[string, number, string[]]> = [];
		for (const entry of runs.slice(0, MAX_RUNS)) {
			if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !entry[0] || !Number.isInteger(entry[1]) || !Array.isArray(entry[2])) continue;
			const members = (entry[2] as unknown[]).filter((u): u is string => typeof u === 'string' && u.length > 0).slice(0, MAX_RUN_MEMBERS);
			if (members.length) kept.push([entry[0], Math.max(1, entry[1] as number), members]);
		}
		if (kept.length) state.runs = kept;
	}
	if (several === true) {
		state.several = true;
		if (Number.isInteger(singles) && (singles as number) > 0) state.singles = singles as number;
	}
	return state;
}

/**
 * Whether runs carry several messages (`several`) or one; `window`: how many one-message runs
 * could be under way at once. Coming from one message per run, the next `window` messages go
 * alone first (see `singles`); a state of a first activation starts as it is. True when changed.
 */
export function runsCarry(state: Pop3WatchState, several: boolean, window: number, fresh: boolean): boolean {
	if (several === !!state.several) return false;
	if (several) {
		state.several = true;
		if (!fresh && window > 0) state.singles = window;
	} else {
		delete state.several;
		delete state.singles;
	}
	return true;
}

/** Records a run of several messages (or a recorded one formed again) before it is handed over. */
export function recordRun(state: Pop3WatchState, keyUidl: string, attempt: number, members: string[]): void {
	const runs = (state.runs ??= []);
	const at = runs.findIndex(([uidl]) => uidl === keyUidl);
	if (at >= 0) runs[at] = [keyUidl, attempt, members];
	else runs.push([keyUidl, attempt, members]);
}

/** Drops a run's record (it settled, or none of its members is left to form it again). */
export function dropRun(state: Pop3WatchState, keyUidl: string): boolean {
	const at = state.runs?.findIndex(([uidl]) => uidl === keyUidl) ?? -1;
	if (at < 0) return false;
	state.runs!.splice(at, 1);
	if (!state.runs!.length) delete state.runs;
	return true;
}

/** A plain-object copy (JSON), for persisting. */
export function clonePop3State(state: Pop3WatchState): Pop3WatchState {
	return JSON.parse(JSON.stringify(state)) as Pop3WatchState;
}

export interface ObserveResult {
	/** The state changed (persist it). */
	changed: boolean;
	/** UIDLs seen for the first time. */
	added: string[];
	/** UIDLs dropped because they are no longer on the server. */
	pruned: string[];
	/** This was the first poll: the maildrop was recorded as on first activation. */
	firstActivation: boolean;
}

/**
 * Takes in a UIDL listing made at the start of a session, before any DELE of that session (UIDL
 * leaves out messages marked deleted; a listing made after DELE would prune messages that come
 * back when the session is cut before QUIT). Entries not on the server are dropped; UIDLs seen for
 * the first time get `now` as first-seen time and become `new`, or `known` on the first poll with
 * first activation 'new'.
 */
export function observe(state: Pop3WatchState, uidls: readonly string[], now: number, firstActivation: Pop3FirstActivation): ObserveResult {
	const result: ObserveResult = { changed: false, added: [], pruned: [], firstActivation: false };
	const present = new Set(uidls);
	for (const uidl of Object.keys(state.messages)) {
		if (present.has(uidl)) continue;
		delete state.messages[uidl];
		result.pruned.push(uidl);
	}
	const first = state.activatedAt === undefined;
	if (first) {
		state.activatedAt = now;
		result.firstActivation = true;
		result.changed = true;
	}
	const status: Pop3MessageStatus = first && firstActivation === 'new' ? 'known' : 'new';
	for (const uidl of present) {
		if (uidl in state.messages) continue;
		state.messages[uidl] = [now, status];
		result.added.push(uidl);
	}
	if (result.added.length || result.pruned.length) result.changed = true;
	return result;
}

/** UIDLs to deliver, in the order of `uidls` (the maildrop's order). */
export function toDeliver(state: Pop3WatchState, uidls: readonly string[]): string[] {
	return uidls.filter((uidl) => state.messages[uidl]?.[1] === 'new');
}

export interface DeletePolicy {
	/** DELE what was acknowledged while this was on (status `done-delete`). */
	deleteAfterFetch: boolean;
	/** DELE acknowledged whole messages first seen at least this many days ago; 0 = never. */
	deleteAfterDays: number;
}

/**
 * The UIDLs (in the order of `uidls`) to DELE in this session.
 *
 * "Delete after fetch" deletes only messages acknowledged while it was on (`done-delete`): a
 * message fetched while the option was off stays on the server when it is switched on later, as
 * the business software this follows documents it ("does not apply to mail already fetched";
 * remove such mail by hand, or with "delete after N days"). A `done-delete` message is not deleted
 * if the option has been switched off again since.
 *
 * "Delete after N days" deletes messages acknowledged whole (`done`, `done-delete`) whose first
 * sighting is at least N days ago; mail that was only known (on the server at first activation),
 * skipped, delivered as headers only, or `untouched` (its run refused as a duplicate, never
 * confirmed processed) is never deleted by the trigger.
 */
export function dueForDeletion(state: Pop3WatchState, uidls: readonly string[], policy: DeletePolicy, now: number): string[] {
	const days = policy.deleteAfterDays > 0 ? policy.deleteAfterDays : 0;
	return uidls.filter((uidl) => {
		const entry = state.messages[uidl];
		if (!entry) return false;
		const [firstSeen, status] = entry;
		if (status === 'done-delete' && policy.deleteAfterFetch) return true;
		return days > 0 && (status === 'done' || status === 'done-delete') && now - firstSeen >= days * DAY_MS;
	});
}

/** Records the outcome of a message; false when the message is no longer in the state (gone from the server). */
export function setStatus(state: Pop3WatchState, uidl: string, status: Pop3MessageStatus): boolean {
	const entry = state.messages[uidl];
	if (!entry) return false;
	entry[1] = status;
	return true;
}

/**
 * The status for an acknowledged message; `ran` false: n8n refused the run as a duplicate, so the
 * message is done without any action on the server (`untouched`).
 */
export function acknowledgedStatus(oversized: boolean, deleteAfterFetch: boolean, ran = true): Pop3MessageStatus {
	if (!ran) return 'untouched';
	if (oversized) return 'headers';
	return deleteAfterFetch ? 'done-delete' : 'done';
}
