/**
 * The IMAP trigger's persisted state: plain JSON, small, one entry per folder, bound to the
 * account. In memory each folder is a FolderCursor whose operations are constant or linear in
 * what is in flight, whatever the size of the folder; the watcher writes it out after changes.
 *
 * Per folder the meaning is:
 * - every UID at or below `lastUid` is settled (its run succeeded, was refused as a duplicate,
 *   waits, failed for the last time, or the message was skipped on purpose or is not one to
 *   deliver), except the UIDs in `pending`: failed runs waiting for their retry (and, in states
 *   saved by version 1, the backlog of a first activation); after a reload by date `pending` may
 *   also hold UIDs above `lastUid` (retries received before that date), open whatever the filter;
 * - `done` lists UIDs above `lastUid` settled already (out of order, while an earlier one is in
 *   flight): at most about as many as run at once;
 * - between `lastUid` and `filterTo` only messages that match `filter` are to deliver: `unseen`
 *   (first activation "unread mail"), `since:MS` (reload from a date), `match:MS` (after a
 *   UIDVALIDITY change: received at or after MS and not recently delivered by Message-ID);
 *   above `filterTo`, every message is new mail;
 * - a UID delivered and not settled is in none of these, so it is delivered again after a
 *   restart, with the same deduplication key: the state holds settlements, and
 * - `runs`: the runs of several messages handed to n8n and not settled, each with the UID and
 *   attempt its key was made of and its members, so that after a restart the same run is
 *   formed again (and refused by n8n) instead of its messages going into other runs;
 * - `several`: written by a watcher whose runs carry several messages (every run recorded). A
 *   state without it was written by one that ran a message per run without recording it; a
 *   watcher that groups starts by handing `singles` messages alone (recorded), as many as those
 *   runs could have been under way, so that one of them is refused with the key it had instead
 *   of taking other messages down with it.
 *
 * Version 1 (before the delivery core) kept the whole backlog as a UID set and whole Message-IDs;
 * it loads: its backlog as `pending`, its Message-ID matching as a `match` filter, its IDs as
 * fingerprints.
 */
import { asFingerprint } from '../../delivery/keys';
import { formatUidSet, parseUidSet, rangesOf } from '../uid-set';

export const STATE_VERSION = 2;

export type FirstActivation = 'new' | 'unseen' | 'all';

export interface FolderState {
	/** UIDVALIDITY the UIDs below belong to (decimal string: it can exceed 2^53 in theory). */
	uidValidity: string;
	lastUid: number;
	/** UID set (IMAP syntax) above `lastUid` settled already. */
	done?: string;
	/** UID set at or below `lastUid` still to deliver. */
	pending?: string;
	/** Up to this UID only messages matching `filter` are delivered. */
	filterTo?: number;
	filter?: string;
	/** UID set of messages whose after-processing action (mark read, move, delete) is still to do. */
	actions?: string;
	/**
	 * Recently delivered messages, newest last, as one string (see formatRecent); states saved by
	 * earlier releases hold a list of [fingerprint of the Message-ID (or date/size), INTERNALDATE in ms].
	 */
	recent?: string | Array<[string, number]>;
	/** Runs of several messages not settled: [UID of the run's key, its attempt, UID set of its members]. */
	runs?: Array<[number, number, string]>;
	/** Written by a watcher whose runs carry several messages. */
	several?: boolean;
	/** Messages still to hand over alone after a change from one message per run. */
	singles?: number;
}

/** A run of several messages handed to n8n and not settled yet. */
export interface RecordedRun {
	/** The attempt of the message whose key the run's key is (the map's key is its UID). */
	attempt: number;
	uids: number[];
}

/** Members a recorded run may have (a run carries at most a few dozen). */
const MAX_RUN_MEMBERS = 1000;
/** Recorded runs a folder keeps at most (runs in flight are bounded by a small number). */
const MAX_RUNS = 1000;

export interface WatchState {
	version: typeof STATE_VERSION;
	/** The account the state belongs to (a fingerprint of host, user and mailbox). */
	account?: string;
	folders: Record<string, FolderState>;
}

export function emptyState(account?: string): WatchState {
	return { version: STATE_VERSION, ...(account ? { account } : {}), folders: {} };
}

export type Filter = { kind: 'unseen' } | { kind: 'since'; at: number } | { kind: 'match'; at: number };

function parseFilter(text: unknown): Filter | undefined {
	if (text === 'unseen') return { kind: 'unseen' };
	const m = typeof text === 'string' ? /^(since|match):(\d+)$/.exec(text) : null;
	return m ? { kind: m[1] as 'since' | 'match', at: Number(m[2]) } : undefined;
}

function formatFilter(filter: Filter): string {
	return filter.kind === 'unseen' ? 'unseen' : `${filter.kind}:${filter.at}`;
}

const uid = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** UIDs a loaded set may hold at most; the rest of a corrupt or hand-made state is dropped, never thrown on. */
const MAX_LOADED = 1_000_000;

function setOf(text: unknown, above = 0): Set<number> {
	const out = new Set<number>();
	if (typeof text !== 'string') return out;
	for (const [a, b] of parseUidSet(text)) {
		for (let u = Math.max(a, above + 1); u <= b; u++) {
			if (out.size >= MAX_LOADED) return out;
			out.add(u);
		}
	}
	return out;
}

/** `lastUid` moved over the settled ranges right after it, at the range level (a wide range costs nothing). */
function absorb(lastUid: number, done: unknown): number {
	if (typeof done !== 'string') return lastUid;
	for (const [a, b] of parseUidSet(done)) {
		if (a > lastUid + 1) break;
		lastUid = Math.max(lastUid, b);
	}
	return lastUid;
}

function smallest(set: Iterable<number>): number | undefined {
	let min: number | undefined;
	for (const u of set) if (min === undefined || u < min) min = u;
	return min;
}

/** The key a message is recognised by after a UIDVALIDITY change: the fingerprint of its Message-ID, else of its date and size. */
export function messageKey(messageId: string | undefined, internalDate: Date | undefined, size: number): string {
	return asFingerprint(messageId && messageId.trim() ? messageId.trim() : `${internalDate ? internalDate.getTime() : 0}/${size}`);
}

/**
 * Characters of a fingerprint that `recent` keeps: 60 bits. After a UIDVALIDITY change a message
 * is taken for one of the recent deliveries when its first 60 bits match one of theirs; for 500
 * recent deliveries and 100,000 messages to compare that is by chance about once in 10^10 changes.
 */
const RECENT_KEY_CHARS = 10;
/** Entries of `recent` loaded at most. */
const MAX_RECENT = 100_000;

const recentKey = (key: string): string => key.slice(0, RECENT_KEY_CHARS);

/**
 * `recent` as saved: small, because n8n writes the whole state with every run that changes it.
 * Entries are separated by commas; each is the first 10 characters of the fingerprint (base64url)
 * followed by its INTERNALDATE in seconds (IMAP's resolution), base 36, as the difference to the
 * entry before it (the first: to 0). 500 entries take about 6.5 KB instead of 17.5 KB as a list.
 */
export function formatRecent(recent: ReadonlyArray<readonly [string, number]>): string {
	let before = 0;
	return recent
		.map(([key, ms]) => {
			const seconds = Math.floor(ms / 1000);
			const entry = `${recentKey(key)}${(seconds - before).toString(36)}`;
			before = seconds;
			return entry;
		})
		.join(',');
}

const RECENT_ENTRY = new RegExp(`^([A-Za-z0-9_-]{${RECENT_KEY_CHARS}})(-?[0-9a-z]{1,12})$`);

/** `recent` as loaded: the string of formatRecent, or the list of earlier releases; what is unusable is dropped. */
export function parseRecent(raw: unknown): Array<[string, number]> {
	const out: Array<[string, number]> = [];
	if (typeof raw === 'string') {
		let seconds = 0;
		for (const entry of raw.split(',', MAX_RECENT)) {
			const m = RECENT_ENTRY.exec(entry);
			if (!m) continue;
			seconds += parseInt(m[2], 36);
			out.push([m[1], seconds * 1000]);
		}
	} else if (Array.isArray(raw)) {
		for (const e of raw.slice(-MAX_RECENT)) if (Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'number') out.push([recentKey(asFingerprint(e[0])), e[1]]);
	}
	return out;
}

export class FolderCursor {
	lastUid: number;
	readonly done: Set<number>;
	readonly pending: Set<number>;
	readonly actions: Set<number>;
	filterTo: number;
	filter?: Filter;
	recent: Array<[string, number]>;
	/** Runs of several messages not settled: UID of the run's key -> its attempt and members. */
	readonly runs = new Map<number, RecordedRun>();
	several: boolean;
	singles: number;
	private recentKeys?: Set<string>;

	constructor(
		readonly uidValidity: string,
		state: Partial<FolderState> = {},
	) {
		this.lastUid = absorb(uid(state.lastUid) ? state.lastUid : 0, state.done);
		this.done = setOf(state.done, this.lastUid);
		this.pending = setOf(state.pending);
		this.actions = setOf(state.actions);
		this.filter = parseFilter(state.filter);
		this.filterTo = this.filter && uid(state.filterTo) ? state.filterTo : 0;
		this.recent = parseRecent(state.recent);
		this.several = state.several === true;
		this.singles = this.several && uid(state.singles) ? state.singles : 0;
		if (Array.isArray(state.runs)) {
			for (const entry of state.runs.slice(0, MAX_RUNS)) {
				if (!Array.isArray(entry) || !uid(entry[0]) || !uid(entry[1]) || typeof entry[2] !== 'string') continue;
				const uids: number[] = [];
				for (const [a, b] of parseUidSet(entry[2])) for (let u = a; u <= b && uids.length < MAX_RUN_MEMBERS; u++) uids.push(u);
				if (uids.length) this.runs.set(entry[0], { attempt: Math.max(1, entry[1]), uids });
			}
		}
		this.dropFilterIfPassed();
	}

	/** A folder seen for the first time: 'new' from UIDNEXT on, 'all' from UID 1, 'unseen' the unseen below UIDNEXT, then new. */
	static initial(uidValidity: string, uidNext: number, mode: FirstActivation, recent: Array<[string, number]> = []): FolderCursor {
		const top = Math.max(0, uidNext - 1);
		const state: Partial<FolderState> = mode === 'new' ? { lastUid: top } : mode === 'all' || top === 0 ? { lastUid: 0 } : { lastUid: 0, filterTo: top, filter: 'unseen' };
		return new FolderCursor(uidValidity, state).keeping(recent);
	}

	/**
	 * After a UIDVALIDITY change, with recently delivered messages to match: everything below
	 * UIDNEXT received at or after the oldest of them is compared by Message-ID.
	 */
	static matching(uidValidity: string, uidNext: number, recent: Array<[string, number]>): FolderCursor {
		let oldest = Infinity;
		for (const [, t] of recent) if (t < oldest) oldest = t;
		const top = Math.max(0, uidNext - 1);
		return new FolderCursor(uidValidity, { lastUid: 0, filterTo: top, filter: `match:${Number.isFinite(oldest) ? oldest : 0}` }).keeping(recent);
	}

	/** This cursor with a folder's recent deliveries (as held in memory: short keys). */
	private keeping(recent: ReadonlyArray<[string, number]>): this {
		this.recent = recent.map(([k, t]) => [recentKey(k), t]);
		this.recentKeys = undefined;
		return this;
	}

	/** A reload: every message from `fromUid` on again; or, with `since`, those received since then. */
	reloaded(point: { fromUid: number } | { since: Date; top: number }): FolderCursor {
		const next =
			'fromUid' in point
				? new FolderCursor(this.uidValidity, { lastUid: Math.max(0, Math.floor(point.fromUid) - 1) })
				: new FolderCursor(this.uidValidity, { lastUid: 0, filterTo: point.top, filter: `since:${point.since.getTime()}` });
		// failed runs waiting for their retry stay, also those received before a reload's date
		for (const u of this.pending) if (u <= next.lastUid || 'since' in point) next.pending.add(u);
		for (const u of this.actions) next.actions.add(u);
		return next.keeping(this.recent);
	}

	toState(): FolderState {
		const out: FolderState = { uidValidity: this.uidValidity, lastUid: this.lastUid };
		if (this.done.size) out.done = formatUidSet(rangesOf(this.done));
		if (this.pending.size) out.pending = formatUidSet(rangesOf(this.pending));
		if (this.filter) {
			out.filterTo = this.filterTo;
			out.filter = formatFilter(this.filter);
		}
		if (this.actions.size) out.actions = formatUidSet(rangesOf(this.actions));
		if (this.recent.length) out.recent = formatRecent(this.recent);
		if (this.runs.size) out.runs = [...this.runs].map(([u, run]) => [u, run.attempt, formatUidSet(rangesOf(run.uids))]);
		if (this.several) out.several = true;
		if (this.singles) out.singles = this.singles;
		return out;
	}

	/**
	 * The watcher's runs carry several messages (`several`) or one (`window`: how many one-message
	 * runs could be under way at once). Coming from one message per run, the next `window`
	 * messages go alone first; going back, recorded runs are still formed again.
	 */
	runsCarry(several: boolean, window: number): boolean {
		if (several === this.several) return false;
		this.several = several;
		this.singles = several ? window : 0;
		return true;
	}

	/** Still to deliver (as far as the state knows: the filter is applied when the folder is searched). */
	isOpen(u: number): boolean {
		return u <= this.lastUid ? this.pending.has(u) : !this.done.has(u);
	}

	/** Settled: delivered and its run is over, or skipped on purpose. False when it was settled before. */
	settle(u: number): boolean {
		if (u <= this.lastUid) return this.pending.delete(u);
		this.pending.delete(u);
		if (this.done.has(u)) return false;
		this.done.add(u);
		return true;
	}

	/**
	 * Moves `lastUid` up to `to`: every UID up to there is settled or not one to deliver, except
	 * those `waiting` says wait for a retry, which go to `pending`. The caller makes sure none in
	 * between is in flight.
	 */
	advance(to: number, waiting: Iterable<number>): boolean {
		if (to <= this.lastUid) return false;
		for (const u of waiting) if (u > this.lastUid && u <= to && !this.done.has(u)) this.pending.add(u);
		for (const u of this.done) if (u <= to) this.done.delete(u);
		this.lastUid = to;
		// the UIDs right after `to` settled already
		while (this.done.delete(this.lastUid + 1)) this.lastUid++;
		this.dropFilterIfPassed();
		return true;
	}

	/** The smallest UID above `lastUid` settled already, if any (advancing stops before unsettled ones only). */
	firstDone(): number | undefined {
		return smallest(this.done);
	}

	/** Keeps only the pending UIDs that still exist; true when some were gone. */
	prunePending(existing: Iterable<number>): boolean {
		const keep = new Set(existing);
		let changed = false;
		for (const u of this.pending) {
			if (!keep.has(u)) {
				this.pending.delete(u);
				changed = true;
			}
		}
		return changed;
	}

	/** Whether a message (its messageKey) is one of the recent deliveries. */
	isRecent(key: string): boolean {
		this.recentKeys ??= new Set(this.recent.map(([k]) => k));
		return this.recentKeys.has(recentKey(key));
	}

	addRecent(key: string, internalDate: number, limit: number): void {
		if (limit <= 0) return;
		const short = recentKey(key);
		this.recent.push([short, internalDate]);
		this.recentKeys?.add(short);
		if (this.recent.length > limit) {
			this.recent.splice(0, this.recent.length - limit);
			this.recentKeys = undefined;
		}
	}

	private dropFilterIfPassed(): void {
		if (this.filter && this.lastUid >= this.filterTo) {
			this.filter = undefined;
			this.filterTo = 0;
		}
	}
}

/** Loads what the node saved (version 1 or 2; anything unusable is dropped, never thrown on); another account's state is not loaded. */
export function loadState(raw: unknown, account?: string): { folders: Map<string, FolderCursor>; accountChanged: boolean } {
	const folders = new Map<string, FolderCursor>();
	if (!raw || typeof raw !== 'object') return { folders, accountChanged: false };
	const r = raw as { version?: unknown; account?: unknown; folders?: unknown };
	if (account && typeof r.account === 'string' && r.account !== account) return { folders, accountChanged: true };
	if (!r.folders || typeof r.folders !== 'object') return { folders, accountChanged: false };
	for (const [name, value] of Object.entries(r.folders as Record<string, unknown>)) {
		if (!value || typeof value !== 'object') continue;
		const f = value as Partial<FolderState> & { matchSince?: unknown };
		if (typeof f.uidValidity !== 'string' || !uid(f.lastUid)) continue;
		if (r.version !== 1) {
			folders.set(name, new FolderCursor(f.uidValidity, f));
			continue;
		}
		// version 1
		const pending = setOf(f.pending);
		if (typeof f.matchSince === 'number' && pending.size) {
			// the candidates after a UIDVALIDITY change: compared by Message-ID again from the first one on
			const first = smallest(pending)!;
			folders.set(name, new FolderCursor(f.uidValidity, { lastUid: first - 1, filterTo: f.lastUid, filter: `match:${f.matchSince}`, done: f.done, actions: f.actions, recent: f.recent }));
		} else {
			folders.set(name, new FolderCursor(f.uidValidity, { lastUid: f.lastUid, done: f.done, pending: f.pending, actions: f.actions, recent: f.recent }));
		}
	}
	return { folders, accountChanged: false };
}

export function saveState(folders: Map<string, FolderCursor>, account?: string): WatchState {
	const state = emptyState(account);
	for (const [name, cursor] of folders) state.folders[name] = cursor.toState();
	return state;
}
