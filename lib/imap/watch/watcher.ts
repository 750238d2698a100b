/**
 * Watches IMAP folders and hands every new message to `deliver` exactly once, acknowledged.
 *
 * One connection per folder: each folder has its own loop (connect, SELECT, catch up, then IDLE
 * or poll), its own lock (commands of a folder never overlap: one fetch at a time), its own
 * backoff and its own health. IDLE on every folder keeps the latency of each at the server's
 * notification delay; the price is one connection per folder (servers allow 10-20 per user).
 *
 * The node layer creates the watcher with the state it persisted, calls start() on activation
 * and stop() on deactivation, and persists every state `onState` reports.
 */
import { ImapFlow, type FetchMessageObject, type MessageStructureObject } from 'imapflow';
import { MailboxError } from '../../errors';
import type { ResolvedServer } from '../../connection/options';
import { silentLogger, type Logger } from '../../logger';
import { fromImapError, imapOptions, type ImapLogin } from '../connect';
import { Backoff, guard, Sleeper, systemClock, type BackoffOptions, type Clock } from './clock';
import {
	addAction,
	addRecent,
	afterUidValidityChange,
	clearActions,
	cloneState,
	initialFolderState,
	isDone,
	loadState,
	markDone,
	messageKey,
	pendingUids,
	prunePending,
	redeliver,
	resetFromUid,
	skipGaps,
	type FirstActivation,
	type FolderState,
	type WatchState,
} from './state';
import { expand } from './state';
import { parseUidSet, uidSetOf } from './uid-set';

export type AfterProcessing = 'none' | 'markRead' | 'move' | 'delete';

/** What a delivery may report besides success: UIDs to count as done without touching them on the server. */
export interface DeliveryOutcome {
	untouched?: number[];
}

/** What `deliver` gets for each message. */
export interface WatchedMessage {
	folder: string;
	uid: number;
	uidValidity: string;
	flags: string[];
	/** RFC822.SIZE (with "fetch unchecked": the downloaded size). */
	size: number;
	internalDate?: Date;
	/** From the envelope, with the angle brackets. */
	messageId?: string;
	/** Over the size limit: `headers` instead of `source`. */
	oversized: boolean;
	/** The raw message; absent when oversized. */
	source?: Buffer;
	/** The raw header block; only when oversized. */
	headers?: Buffer;
	/** A delivery status report (multipart/report; report-type=delivery-status). */
	bounce: boolean;
	/** 1 on the first delivery in this process, 2 on the retry after a failed run, ... */
	attempt: number;
	/** Deterministic per message: folder, UIDVALIDITY and UID, e.g. for a deduplication key. */
	key: string;
}

export type WatchEvent =
	| {
			type: 'failing' | 'updated';
			folder: string;
			error: MailboxError;
			message: string;
			firstFailureAt: Date;
			lastFailureAt: Date;
			count: number;
	  }
	| { type: 'recovered'; folder: string; firstFailureAt: Date; lastFailureAt: Date; recoveredAt: Date; count: number }
	| { type: 'uidValidityChanged'; folder: string; previous: string; current: string; handling: 'matchByMessageId' | 'firstActivation' }
	| { type: 'fetched'; folder: string; startedAt: Date; durationMs: number; delivered: number; skipped: number }
	| { type: 'skipped'; folder: string; uid: number; messageId?: string; size: number; reason: 'oversized' | 'alreadyDelivered' }
	| { type: 'deliveryFailed'; folder: string; uids: number[]; error: string; retry: boolean }
	| { type: 'connected'; folder: string; push: boolean };

export interface FolderStats {
	/** Completed fetches (catch-up runs). */
	fetches: number;
	lastFetchAt?: Date;
	/** Duration of the last completed fetch (the IMAP part; runs of the workflow are not waited for). */
	lastFetchMs?: number;
	delivered: number;
	acknowledged: number;
	failed: number;
	skipped: number;
	oversized: number;
	bounces: number;
	connects: number;
	failing: boolean;
	/** Push by IDLE (false: polling). */
	push: boolean;
}

export type ResetPoint = { fromUid: number } | { since: Date } | { mode: FirstActivation };

export interface ImapWatcherOptions {
	server: ResolvedServer;
	/** A login, or a function giving one for each connection (renewed OAuth2 tokens). */
	login: ImapLogin | (() => Promise<ImapLogin>);
	/** Folder paths; default ['INBOX']. */
	folders?: string[];
	/** What the node persisted before (anything: unusable parts are dropped). */
	state?: unknown;
	/** For folders without state; default 'new'. */
	firstActivation?: FirstActivation;
	/** Done on the server only after the run succeeded; default 'none'. */
	afterProcessing?: AfterProcessing;
	/** Target folder of 'move'. */
	moveTo?: string;
	/** A failed run: deliver again on the next fetch (default true), or skip the message. */
	retryFailed?: boolean;
	/** After a UIDVALIDITY change: recognise recently delivered messages by Message-ID (default true). */
	matchByMessageId?: boolean;
	/** How many recent Message-IDs each folder keeps (default 500). */
	recentLimit?: number;
	/** Messages larger than this (bytes) are oversized; 0 = no limit (default). */
	maxSizeBytes?: number;
	/** Oversized: delivered with headers only and `oversized: true` (default), or skipped (reported as an event). */
	oversized?: 'headers' | 'skip';
	/** Download first, check the size after (for servers whose RFC822.SIZE is wrong). */
	fetchUnchecked?: boolean;
	/** 'idle' (default; polls when the server has no IDLE) or 'poll'. */
	mode?: 'idle' | 'poll';
	/** Polling interval (default 60 s). */
	pollIntervalMs?: number;
	/** IDLE is ended, the folder re-checked and IDLE restarted after this long (default 5 min). */
	maxIdleMs?: number;
	/** UIDs per FETCH (default 100). */
	fetchBatchSize?: number;
	/** Messages per `deliver` call (default 1). */
	deliveryBatchSize?: number;
	/** Messages delivered and not yet acknowledged, at most (default 100); more waits. */
	maxInFlight?: number;
	/**
	 * Bytes of the messages delivered and not yet acknowledged, at most (default 16 MiB); more waits.
	 * With nothing in flight a message is delivered whatever its size. Keeps memory independent of
	 * how many large messages a backlog holds.
	 */
	maxInFlightBytes?: number;
	/** An IMAP step of a fetch running longer than this is abandoned: the connection is dropped (default 30 min). */
	stuckAfterMs?: number;
	/** Short commands (SELECT, SEARCH, NOOP, STORE) without an answer in this time drop the connection (default 60 s). */
	responseTimeoutMs?: number;
	backoff?: BackoffOptions;
	/** Resolves when the run that got the messages succeeded, rejects when it failed. */
	/**
	 * Resolves when the run that got the messages succeeded (optionally naming UIDs whose run is
	 * not known to have succeeded, e.g. refused as a duplicate of an earlier run: they count as
	 * done but their after-processing action is not done), rejects when it failed.
	 */
	deliver: (messages: WatchedMessage[]) => Promise<void | DeliveryOutcome>;
	/** The state to persist, after every change (coalesced). */
	onState?: (state: WatchState) => void;
	onEvent?: (event: WatchEvent) => void;
	logger?: Logger;
	clock?: Clock;
}

export interface StartResult {
	folder: string;
	/** Set when the first connection of the folder failed; the watcher keeps retrying. */
	error?: MailboxError;
}

type Settings = Required<Omit<ImapWatcherOptions, 'state' | 'onState' | 'onEvent' | 'moveTo' | 'backoff' | 'login' | 'server'>> & {
	moveTo?: string;
};

const MIN = 60_000;

function defaults(options: ImapWatcherOptions): Settings {
	const positive = (value: number | undefined, fallback: number) => (typeof value === 'number' && value > 0 ? value : fallback);
	return {
		folders: options.folders?.length ? [...new Set(options.folders)] : ['INBOX'],
		firstActivation: options.firstActivation ?? 'new',
		afterProcessing: options.afterProcessing ?? 'none',
		moveTo: options.moveTo,
		retryFailed: options.retryFailed ?? true,
		matchByMessageId: options.matchByMessageId ?? true,
		recentLimit: options.recentLimit ?? 500,
		maxSizeBytes: options.maxSizeBytes && options.maxSizeBytes > 0 ? options.maxSizeBytes : 0,
		oversized: options.oversized ?? 'headers',
		fetchUnchecked: options.fetchUnchecked ?? false,
		mode: options.mode ?? 'idle',
		pollIntervalMs: positive(options.pollIntervalMs, MIN),
		maxIdleMs: positive(options.maxIdleMs, 5 * MIN),
		fetchBatchSize: Math.floor(positive(options.fetchBatchSize, 100)),
		deliveryBatchSize: Math.floor(positive(options.deliveryBatchSize, 1)),
		maxInFlight: Math.floor(positive(options.maxInFlight, 100)),
		maxInFlightBytes: Math.floor(positive(options.maxInFlightBytes, 16 * 1024 * 1024)),
		stuckAfterMs: positive(options.stuckAfterMs, 30 * MIN),
		responseTimeoutMs: positive(options.responseTimeoutMs, MIN),
		deliver: options.deliver,
		logger: options.logger ?? silentLogger,
		clock: options.clock ?? systemClock,
	};
}

/** Top-level multipart/report; report-type=delivery-status. */
export function isDeliveryStatusReport(structure: MessageStructureObject | undefined): boolean {
	if (!structure) return false;
	return structure.type?.toLowerCase() === 'multipart/report' && String(structure.parameters?.['report-type'] ?? '').toLowerCase() === 'delivery-status';
}

/** The header block of a raw message, with the blank line that ends it. */
export function headerBlock(source: Buffer): Buffer {
	const crlf = source.indexOf('\r\n\r\n');
	const lf = source.indexOf('\n\n');
	if (crlf !== -1 && (lf === -1 || crlf < lf)) return source.subarray(0, crlf + 4);
	if (lf !== -1) return source.subarray(0, lf + 2);
	return source;
}

class Deferred<T> {
	promise: Promise<T>;
	resolve!: (value: T) => void;
	constructor() {
		this.promise = new Promise<T>((resolve) => (this.resolve = resolve));
	}
}

/** Raised to leave a session quietly (abandoned by hand, connection closed while waiting). */
class Reconnect extends Error {}

interface Fetched {
	uid: number;
	flags: string[];
	size: number;
	internalDate?: Date;
	messageId?: string;
	bounce: boolean;
	oversized: boolean;
	source?: Buffer;
	headers?: Buffer;
}

class FolderWatcher {
	stats: FolderStats = { fetches: 0, delivered: 0, acknowledged: 0, failed: 0, skipped: 0, oversized: 0, bounces: 0, connects: 0, failing: false, push: false };
	private client?: ImapFlow;
	private stopped = false;
	private fetchRequested = true;
	private flushRequested = false;
	private idling = false;
	private resetRequest?: ResetPoint;
	/** Delivered, not yet acknowledged: uid -> key, for the current UIDVALIDITY. */
	private readonly inflight = new Map<number, string>();
	/** Bytes of every delivery not yet settled (also those of an earlier UIDVALIDITY). */
	private inflightBytes = 0;
	/** Keys of deliveries of an earlier UIDVALIDITY still in flight. */
	private readonly staleKeys = new Set<string>();
	private readonly attempts = new Map<number, number>();
	private windowWaiters: Array<() => void> = [];
	private readonly pollSleeper: Sleeper;
	private readonly backoffSleeper: Sleeper;
	private readonly backoff: Backoff;
	private failure?: { error: MailboxError; first: Date; last: Date; count: number };
	private uidNext = 0;
	private loop?: Promise<void>;
	private idleTimer?: unknown;
	private breakTimer?: unknown;
	private readonly firstAttempt = new Deferred<MailboxError | undefined>();
	private firstAttemptDone = false;
	private abandoned = false;

	constructor(
		private readonly owner: ImapWatcher,
		readonly folder: string,
	) {
		const clock = owner.settings.clock;
		this.pollSleeper = new Sleeper(clock);
		this.backoffSleeper = new Sleeper(clock);
		this.backoff = new Backoff(owner.backoffOptions, clock);
	}

	private get s(): Settings {
		return this.owner.settings;
	}
	private get log(): Logger {
		return this.s.logger;
	}
	private get state(): FolderState | undefined {
		return this.owner.state.folders[this.folder];
	}

	start(): Promise<MailboxError | undefined> {
		this.loop = this.run().catch((error: unknown) => {
			// run() handles every error itself; this is the last guard against an unhandled rejection
			this.log.error(`mailbox watcher: folder "${this.folder}" stopped unexpectedly: ${String(error)}`);
		});
		return this.firstAttempt.promise;
	}

	async stop(): Promise<void> {
		this.stopped = true;
		this.pollSleeper.wake();
		this.backoffSleeper.wake();
		this.releaseWindow();
		this.clearIdleTimer();
		const client = this.client;
		if (client) {
			if (this.idling) {
				await guard(client.logout(), 2_000, () => client.close(), () => new Error('logout timed out'), this.s.clock).catch(() => client.close());
			} else {
				client.close();
			}
		}
		await this.loop;
		this.settleFirstAttempt(undefined);
	}

	/** Ask for a fetch (new mail, manual), an action flush, or a re-check. */
	request(kind: 'fetch' | 'flush'): void {
		if (this.stopped) return;
		if (kind === 'fetch') this.fetchRequested = true;
		else this.flushRequested = true;
		this.breakWait();
	}

	reset(point: ResetPoint): void {
		this.resetRequest = point;
		this.request('fetch');
	}

	/** Drops the connection of whatever runs now; the next fetch starts on a new connection at once. */
	abandon(): void {
		const client = this.client;
		if (!client) return;
		this.abandoned = true;
		client.close();
		this.pollSleeper.wake();
	}

	private breakWait(): void {
		const client = this.client;
		if (this.idling && client) {
			client.noop().catch(() => undefined);
			// a dead connection never answers DONE: dropped, so the loop reconnects instead of waiting
			if (this.breakTimer === undefined) {
				this.breakTimer = this.s.clock.setTimeout(() => {
					this.breakTimer = undefined;
					if (this.idling && this.client === client) {
						this.log.warn(`mailbox watcher: folder "${this.folder}": no answer to ending IDLE within ${Math.round(this.s.responseTimeoutMs / 1000)} s; reconnecting`);
						client.close();
					}
				}, this.s.responseTimeoutMs);
			}
		}
		this.pollSleeper.wake();
	}

	private settleFirstAttempt(error: MailboxError | undefined): void {
		if (this.firstAttemptDone) return;
		this.firstAttemptDone = true;
		this.firstAttempt.resolve(error);
	}

	private toError(error: unknown): MailboxError {
		return fromImapError(error, this.owner.server);
	}

	private async run(): Promise<void> {
		while (!this.stopped) {
			let client: ImapFlow | undefined;
			let sessionStart = this.s.clock.now();
			let quiet = false;
			try {
				client = await this.connect();
				sessionStart = this.s.clock.now();
				await this.session(client);
			} catch (error) {
				if (this.stopped) break;
				if (error instanceof Reconnect || this.abandoned) {
					// abandoned by hand, or a connection that lived long and closed while waiting: not a failure
					quiet = true;
					this.log.info(`mailbox watcher: folder "${this.folder}": reconnecting (${error instanceof Error ? error.message : 'abandoned'})`);
				} else {
					this.recordFailure(this.toError(error));
				}
			} finally {
				this.clearIdleTimer();
				this.idling = false;
				this.client = undefined;
				client?.close();
			}
			if (this.stopped) break;
			if (quiet && this.abandoned) {
				this.abandoned = false;
				continue;
			}
			// a session that closed after running a good while reconnects at once, once
			const longLived = this.s.clock.now() - sessionStart > MIN;
			if (quiet && longLived) continue;
			const delay = this.backoff.next();
			this.log.debug(`mailbox watcher: folder "${this.folder}": next attempt in ${delay} ms`);
			await this.backoffSleeper.sleep(delay);
		}
	}

	private async connect(): Promise<ImapFlow> {
		const login = typeof this.owner.login === 'function' ? await this.owner.login() : this.owner.login;
		const client = new ImapFlow(imapOptions(this.owner.server, login, this.log));
		client.on('error', (err: unknown) => this.log.warn(`mailbox watcher: folder "${this.folder}": connection error: ${fromImapError(err, this.owner.server, login).message}`));
		client.on('exists', (data: { path?: string; count?: number; prevCount?: number }) => {
			if (this.client !== client) return;
			if ((data.count ?? 0) > (data.prevCount ?? 0)) this.request('fetch');
		});
		client.on('close', () => {
			if (this.client === client) this.pollSleeper.wake();
		});
		try {
			await client.connect();
		} catch (error) {
			client.close();
			throw fromImapError(error, this.owner.server, login);
		}
		return client;
	}

	/** Short commands: an answer within responseTimeoutMs, else the connection is dropped. */
	private quick<T>(client: ImapFlow, work: Promise<T>, what: string): Promise<T> {
		return this.guarded(client, work, this.s.responseTimeoutMs, what);
	}

	/** Fetch steps: abandoned after stuckAfterMs. */
	private slow<T>(client: ImapFlow, work: Promise<T>, what: string): Promise<T> {
		return this.guarded(client, work, this.s.stuckAfterMs, what);
	}

	private guarded<T>(client: ImapFlow, work: Promise<T>, ms: number, what: string): Promise<T> {
		return guard(
			work,
			ms,
			() => client.close(),
			() =>
				new MailboxError('TIMEOUT', `${what} in folder "${this.folder}" got no answer within ${Math.round(ms / 1000)} s and was abandoned; the connection was dropped and the next fetch starts on a new one.`, {
					step: 'command',
					causeCode: 'STUCK',
				}),
			this.s.clock,
		);
	}

	private async session(client: ImapFlow): Promise<void> {
		this.client = client;
		this.stats.connects++;
		const mailbox = await this.quick(client, client.mailboxOpen(this.folder), 'Opening the folder');
		this.uidNext = Number(mailbox.uidNext ?? 0);
		await this.checkState(client, String(mailbox.uidValidity));
		const push = this.s.mode === 'idle' && client.capabilities.has('IDLE');
		this.stats.push = push;
		this.owner.emit({ type: 'connected', folder: this.folder, push });
		this.settleFirstAttempt(undefined);
		this.log.info(`mailbox watcher: folder "${this.folder}" opened, ${push ? 'waiting for new mail by IDLE' : `polling every ${Math.round(this.s.pollIntervalMs / 1000)} s`}`);
		// a backlog fires no event: catch up explicitly after every (re)connect
		this.fetchRequested = true;
		while (!this.stopped) {
			if (!client.usable) throw new MailboxError('CONNECTION_CLOSED', `The server closed the connection of folder "${this.folder}".`, { step: 'command' });
			if (this.state?.actions) await this.flushActions(client);
			this.flushRequested = false;
			if (this.resetRequest) await this.applyReset(client);
			if (this.fetchRequested) {
				this.fetchRequested = false;
				await this.cycle(client);
				this.recordSuccess();
				continue;
			}
			if (this.stopped) break;
			if (push) {
				await this.idle(client);
			} else {
				const longWait = this.s.pollIntervalMs;
				await this.pollSleeper.sleep(longWait);
				if (!this.fetchRequested && !this.flushRequested && !this.stopped) {
					if (!client.usable) throw new Reconnect('the connection closed between two polls');
					this.fetchRequested = true;
				}
			}
		}
	}

	private clearIdleTimer(): void {
		if (this.idleTimer !== undefined) this.s.clock.clearTimeout(this.idleTimer);
		if (this.breakTimer !== undefined) this.s.clock.clearTimeout(this.breakTimer);
		this.idleTimer = undefined;
		this.breakTimer = undefined;
	}

	/** IDLE until new mail, a request, or maxIdleMs (then a re-check, which also proves the connection alive). */
	private async idle(client: ImapFlow): Promise<void> {
		let timedOut = false;
		this.idleTimer = this.s.clock.setTimeout(() => {
			timedOut = true;
			this.request('fetch');
		}, this.s.maxIdleMs);
		this.idling = true;
		let result: unknown;
		try {
			result = await client.idle();
		} finally {
			this.idling = false;
			this.clearIdleTimer();
		}
		if (this.stopped) return;
		if (!client.usable) throw new MailboxError('CONNECTION_CLOSED', `The connection of folder "${this.folder}" closed while waiting for new mail.`, { step: 'command' });
		if (result === false) throw new MailboxError('PROTOCOL', `The server refused IDLE on folder "${this.folder}".`, { step: 'command' });
		if (timedOut) this.log.debug(`mailbox watcher: folder "${this.folder}": re-checking after ${Math.round(this.s.maxIdleMs / 1000)} s of IDLE`);
	}

	private async search(client: ImapFlow, query: Parameters<ImapFlow['search']>[0], what: string): Promise<number[]> {
		const found = await this.quick(client, client.search(query, { uid: true }), what);
		return Array.isArray(found) ? found : [];
	}

	private async checkState(client: ImapFlow, uidValidity: string): Promise<void> {
		const previous = this.state;
		const mode = this.s.firstActivation;
		if (!previous) {
			const unseen = mode === 'unseen' ? await this.search(client, { seen: false }, 'Searching unseen mail') : [];
			this.owner.setFolderState(this.folder, initialFolderState(uidValidity, this.uidNext, mode, unseen));
			this.log.info(`mailbox watcher: folder "${this.folder}" starts with ${mode === 'new' ? 'new mail only' : mode === 'unseen' ? `${unseen.length} unseen messages, then new mail` : 'every message'}`);
			return;
		}
		if (previous.uidValidity === uidValidity) return;
		const matching = this.s.matchByMessageId && !!previous.recent?.length;
		let candidates: number[] = [];
		if (matching) {
			const oldest = Math.min(...(previous.recent ?? []).map((r) => r[1]));
			// SEARCH SINCE is by day in the server's time zone: one day earlier, the exact time is checked per message
			candidates = await this.search(client, { since: new Date(oldest - 24 * 60 * MIN) }, 'Searching messages after the UIDVALIDITY change');
		}
		const unseen = !matching && mode === 'unseen' ? await this.search(client, { seen: false }, 'Searching unseen mail') : [];
		for (const key of this.inflight.values()) this.staleKeys.add(key);
		this.inflight.clear();
		this.attempts.clear();
		this.owner.setFolderState(this.folder, afterUidValidityChange(previous, uidValidity, this.uidNext, { matchByMessageId: this.s.matchByMessageId, mode, candidates, unseen }));
		const handling = matching ? 'matchByMessageId' : 'firstActivation';
		this.log.warn(`mailbox watcher: folder "${this.folder}": UIDVALIDITY changed from ${previous.uidValidity} to ${uidValidity}; ${matching ? 'recently delivered messages are recognised by Message-ID' : `starting again as on first activation (${mode})`}`);
		this.owner.emit({ type: 'uidValidityChanged', folder: this.folder, previous: previous.uidValidity, current: uidValidity, handling });
	}

	private async applyReset(client: ImapFlow): Promise<void> {
		const point = this.resetRequest;
		this.resetRequest = undefined;
		const state = this.state;
		if (!point || !state) return;
		if ('fromUid' in point) {
			this.owner.setFolderState(this.folder, resetFromUid(state, point.fromUid));
		} else if ('since' in point) {
			const uids = await this.search(client, { since: point.since }, 'Searching messages to deliver again');
			redeliver(state, uids);
			this.owner.stateChanged();
		} else {
			const unseen = point.mode === 'unseen' ? await this.search(client, { seen: false }, 'Searching unseen mail') : [];
			const next = initialFolderState(state.uidValidity, this.uidNext, point.mode, unseen);
			if (state.actions) next.actions = state.actions;
			if (state.recent) next.recent = state.recent;
			this.owner.setFolderState(this.folder, next);
		}
		this.fetchRequested = true;
	}

	private async flushActions(client: ImapFlow): Promise<void> {
		const state = this.state;
		if (!state?.actions) return;
		const uids = [...expand(parseUidSet(state.actions))];
		const set = uidSetOf(uids);
		const action = this.s.afterProcessing;
		if (action === 'markRead') {
			await this.quick(client, client.messageFlagsAdd(set, ['\\Seen'], { uid: true }), 'Marking messages as read');
		} else if (action === 'move') {
			if (!this.s.moveTo) throw new MailboxError('CONFIG', 'After processing is "move", but no target folder is set.', { field: 'moveTo', step: 'config' });
			const moved = await this.quick(client, client.messageMove(set, this.s.moveTo, { uid: true }), 'Moving messages');
			if (moved === false) throw new MailboxError('SERVER', `Moving messages from "${this.folder}" to "${this.s.moveTo}" failed. Check that the folder "${this.s.moveTo}" exists.`, { field: 'moveTo', step: 'command' });
		} else if (action === 'delete') {
			// \Deleted, then UID EXPUNGE of exactly these messages where the server has UIDPLUS
			await this.quick(client, client.messageDelete(set, { uid: true }), 'Deleting messages');
		}
		const current = this.state;
		if (current && current.uidValidity === state.uidValidity) {
			clearActions(current, uids);
			this.owner.stateChanged();
		}
	}

	private async cycle(client: ImapFlow): Promise<void> {
		const state = this.state;
		if (!state) return;
		const startedAt = this.s.clock.now();
		let delivered = 0;
		let skipped = 0;
		const tail = (await this.search(client, { uid: `${state.lastUid + 1}:*` }, 'Searching new mail')).filter((u) => u > state.lastUid);
		let pending: number[] = [];
		if (state.pending) {
			const found = await this.search(client, { uid: state.pending }, 'Searching pending mail');
			if (prunePending(state, found)) this.owner.stateChanged();
			pending = pendingUids(state);
		}
		const candidates = [...new Set([...pending, ...tail])].filter((u) => !isDone(state, u) && !this.inflight.has(u)).sort((a, b) => a - b);
		const recentKeys = state.matchSince !== undefined ? new Set((state.recent ?? []).map((r) => r[0])) : undefined;
		const pendingSet = parseUidSet(state.pending);
		for (let i = 0; i < candidates.length && !this.stopped; i += this.s.fetchBatchSize) {
			const chunk = candidates.slice(i, i + this.s.fetchBatchSize);
			const fetched = await this.fetchChunk(client, chunk);
			let batch: WatchedMessage[] = [];
			for (const m of fetched) {
				if (this.stopped || this.state !== state) break;
				const key = messageKey(m.messageId, m.internalDate, m.size);
				if (recentKeys && state.matchSince !== undefined && m.uid <= state.lastUid && pendingSet.some(([a, b]) => m.uid >= a && m.uid <= b)) {
					const before = (m.internalDate?.getTime() ?? 0) < state.matchSince;
					if (before || recentKeys.has(key) || this.staleKeys.has(key)) {
						markDone(state, m.uid);
						this.owner.stateChanged();
						skipped++;
						if (!before) this.owner.emit({ type: 'skipped', folder: this.folder, uid: m.uid, messageId: m.messageId, size: m.size, reason: 'alreadyDelivered' });
						continue;
					}
				}
				if (m.oversized) {
					this.stats.oversized++;
					if (this.s.oversized === 'skip') {
						markDone(state, m.uid);
						this.owner.stateChanged();
						skipped++;
						this.stats.skipped++;
						this.owner.emit({ type: 'skipped', folder: this.folder, uid: m.uid, messageId: m.messageId, size: m.size, reason: 'oversized' });
						continue;
					}
				}
				if (m.bounce) this.stats.bounces++;
				const attempt = (this.attempts.get(m.uid) ?? 0) + 1;
				this.attempts.set(m.uid, attempt);
				batch.push({
					folder: this.folder,
					uid: m.uid,
					uidValidity: state.uidValidity,
					flags: m.flags,
					size: m.size,
					internalDate: m.internalDate,
					messageId: m.messageId,
					oversized: m.oversized,
					source: m.source,
					headers: m.headers,
					bounce: m.bounce,
					attempt,
					key: `${this.folder}/${state.uidValidity}/${m.uid}`,
				});
				if (batch.length >= this.s.deliveryBatchSize) {
					delivered += await this.dispatch(batch);
					batch = [];
				}
			}
			if (batch.length) delivered += await this.dispatch(batch);
		}
		if (this.state === state && !this.stopped && skipGaps(state, tail, this.uidNext)) this.owner.stateChanged();
		const durationMs = this.s.clock.now() - startedAt;
		this.stats.fetches++;
		this.stats.lastFetchAt = new Date(startedAt);
		this.stats.lastFetchMs = durationMs;
		this.owner.emit({ type: 'fetched', folder: this.folder, startedAt: new Date(startedAt), durationMs, delivered, skipped });
	}

	private toFetched(msg: FetchMessageObject): Fetched {
		return {
			uid: msg.uid,
			flags: msg.flags ? [...msg.flags] : [],
			size: msg.size ?? msg.source?.length ?? 0,
			internalDate: msg.internalDate ? new Date(msg.internalDate) : undefined,
			messageId: msg.envelope?.messageId || undefined,
			bounce: isDeliveryStatusReport(msg.bodyStructure),
			oversized: false,
		};
	}

	/** Metadata first, then bodies of the messages within the limit (or all at once without a limit / unchecked). */
	private async fetchChunk(client: ImapFlow, uids: number[]): Promise<Fetched[]> {
		const meta = { uid: true, flags: true, size: true, internalDate: true, envelope: true, bodyStructure: true } as const;
		const limit = this.s.maxSizeBytes;
		const range = uidSetOf(uids);
		const out: Fetched[] = [];
		if (!limit || this.s.fetchUnchecked) {
			const list = await this.slow(client, client.fetchAll(range, { ...meta, source: true }, { uid: true }), 'Fetching messages');
			for (const msg of list) {
				const item = this.toFetched(msg);
				const source = msg.source ?? Buffer.alloc(0);
				if (limit && source.length > limit) {
					item.oversized = true;
					item.size = source.length;
					if (this.s.oversized === 'headers') item.headers = Buffer.from(headerBlock(source));
				} else {
					item.source = source;
				}
				out.push(item);
			}
		} else {
			const list = await this.slow(client, client.fetchAll(range, meta, { uid: true }), 'Fetching message sizes');
			const small = list.filter((m) => (m.size ?? 0) <= limit).map((m) => m.uid);
			const big = list.filter((m) => (m.size ?? 0) > limit).map((m) => m.uid);
			const sources = new Map<number, Buffer>();
			const headers = new Map<number, Buffer>();
			if (small.length) {
				for (const m of await this.slow(client, client.fetchAll(uidSetOf(small), { uid: true, source: true }, { uid: true }), 'Fetching messages')) {
					if (m.source) sources.set(m.uid, m.source);
				}
			}
			if (big.length && this.s.oversized === 'headers') {
				for (const m of await this.slow(client, client.fetchAll(uidSetOf(big), { uid: true, headers: true }, { uid: true }), 'Fetching headers')) {
					if (m.headers) headers.set(m.uid, m.headers);
				}
			}
			for (const msg of list) {
				const item = this.toFetched(msg);
				if ((msg.size ?? 0) > limit) {
					item.oversized = true;
					item.headers = headers.get(msg.uid);
				} else {
					item.source = sources.get(msg.uid);
					// gone between the two FETCHes (expunged): left for the next fetch, which won't find it
					if (!item.source) continue;
				}
				out.push(item);
			}
		}
		return out.sort((a, b) => a.uid - b.uid);
	}

	private releaseWindow(): void {
		const waiters = this.windowWaiters;
		this.windowWaiters = [];
		for (const wake of waiters) wake();
	}

	private async waitForWindow(size: number, bytes: number): Promise<void> {
		const full = () =>
			(this.inflight.size > 0 && this.inflight.size + size > this.s.maxInFlight) || (this.inflightBytes > 0 && this.inflightBytes + bytes > this.s.maxInFlightBytes);
		while (!this.stopped && full()) {
			await new Promise<void>((resolve) => this.windowWaiters.push(resolve));
		}
	}

	/** Hands a batch to deliver() without waiting for the run; returns how many were handed over. */
	private async dispatch(batch: WatchedMessage[]): Promise<number> {
		const bytes = batch.reduce((sum, m) => sum + (m.source?.length ?? m.headers?.length ?? 0), 0);
		await this.waitForWindow(batch.length, bytes);
		if (this.stopped) return 0;
		for (const m of batch) this.inflight.set(m.uid, messageKey(m.messageId, m.internalDate, m.size));
		this.inflightBytes += bytes;
		this.stats.delivered += batch.length;
		let done: Promise<void | DeliveryOutcome>;
		try {
			done = Promise.resolve(this.s.deliver(batch));
		} catch (error) {
			done = Promise.reject(error);
		}
		done.then(
			(outcome) => {
				this.inflightBytes -= bytes;
				this.acknowledged(batch, outcome ? outcome.untouched : undefined);
			},
			(error: unknown) => {
				this.inflightBytes -= bytes;
				this.failed(batch, error);
			},
		);
		return batch.length;
	}

	private acknowledged(batch: WatchedMessage[], untouched: readonly number[] = []): void {
		try {
			const state = this.state;
			for (const m of batch) {
				const key = messageKey(m.messageId, m.internalDate, m.size);
				this.staleKeys.delete(key);
				this.stats.acknowledged++;
				if (!state) continue;
				if (state.uidValidity === m.uidValidity) {
					this.inflight.delete(m.uid);
					this.attempts.delete(m.uid);
					markDone(state, m.uid);
					if (this.s.afterProcessing !== 'none' && !untouched.includes(m.uid)) addAction(state, m.uid);
				}
				addRecent(state, key, m.internalDate?.getTime() ?? 0, this.s.recentLimit);
			}
			this.owner.stateChanged();
			if (this.s.afterProcessing !== 'none') this.request('flush');
		} finally {
			this.releaseWindow();
		}
	}

	private failed(batch: WatchedMessage[], error: unknown): void {
		try {
			const state = this.state;
			const retry = this.s.retryFailed;
			for (const m of batch) {
				const key = messageKey(m.messageId, m.internalDate, m.size);
				this.staleKeys.delete(key);
				this.stats.failed++;
				if (!state || state.uidValidity !== m.uidValidity) continue;
				this.inflight.delete(m.uid);
				if (!retry) {
					this.attempts.delete(m.uid);
					markDone(state, m.uid);
				}
			}
			if (!retry) this.owner.stateChanged();
			const message = error instanceof Error ? error.message : String(error);
			this.log.warn(`mailbox watcher: folder "${this.folder}": the run for UID ${batch.map((m) => m.uid).join(', ')} failed (${message}); ${retry ? 'delivered again on the next fetch' : 'skipped'}`);
			this.owner.emit({ type: 'deliveryFailed', folder: this.folder, uids: batch.map((m) => m.uid), error: message, retry });
		} finally {
			this.releaseWindow();
		}
	}

	private recordFailure(error: MailboxError): void {
		const now = new Date(this.s.clock.now());
		this.log.warn(`mailbox watcher: folder "${this.folder}" cannot be fetched: ${error.fullMessage}`);
		this.settleFirstAttempt(error);
		if (!this.failure) {
			this.failure = { error, first: now, last: now, count: 1 };
			this.stats.failing = true;
			this.owner.emit({ type: 'failing', folder: this.folder, error, message: `Mailbox folder "${this.folder}" cannot be fetched: ${error.fullMessage}`, firstFailureAt: now, lastFailureAt: now, count: 1 });
		} else {
			this.failure = { ...this.failure, error, last: now, count: this.failure.count + 1 };
			const f = this.failure;
			this.owner.emit({ type: 'updated', folder: this.folder, error, message: `Mailbox folder "${this.folder}" cannot be fetched: ${error.fullMessage}`, firstFailureAt: f.first, lastFailureAt: f.last, count: f.count });
		}
	}

	private recordSuccess(): void {
		this.backoff.reset();
		this.settleFirstAttempt(undefined);
		const f = this.failure;
		if (!f) return;
		this.failure = undefined;
		this.stats.failing = false;
		const recoveredAt = new Date(this.s.clock.now());
		this.log.info(`mailbox watcher: folder "${this.folder}" is fetched again after ${f.count} failed attempts`);
		this.owner.emit({ type: 'recovered', folder: this.folder, firstFailureAt: f.first, lastFailureAt: f.last, recoveredAt, count: f.count });
	}
}

/**
 * The engine of the IMAP trigger. Create it with the persisted state, `start()` it, persist what
 * `onState` reports, `stop()` it. Never throws from its background work: failures are reported
 * through `onEvent` (failing / updated / recovered) and retried with backoff.
 */
export class ImapWatcher {
	readonly settings: Settings;
	readonly server: ResolvedServer;
	readonly login: ImapLogin | (() => Promise<ImapLogin>);
	readonly backoffOptions: BackoffOptions;
	/** Live state; read it with getState(). */
	readonly state: WatchState;
	private readonly folders = new Map<string, FolderWatcher>();
	private readonly onState?: (state: WatchState) => void;
	private readonly onEvent?: (event: WatchEvent) => void;
	private stateScheduled = false;
	private running = false;

	constructor(options: ImapWatcherOptions) {
		this.settings = defaults(options);
		this.server = options.server;
		this.login = options.login;
		this.backoffOptions = options.backoff ?? {};
		this.state = loadState(options.state);
		this.onState = options.onState;
		this.onEvent = options.onEvent;
		if (this.settings.afterProcessing === 'move' && !this.settings.moveTo) {
			throw new MailboxError('CONFIG', 'After processing is "move", but no target folder is set.', { field: 'moveTo', step: 'config', hint: 'Choose the folder processed mail is moved to.' });
		}
		for (const folder of this.settings.folders) this.folders.set(folder, new FolderWatcher(this, folder));
	}

	/**
	 * Starts watching every folder. Resolves once each folder has connected and opened its folder
	 * (the catch-up runs on in the background), or failed its first attempt (then `error` is set and the watcher keeps retrying with backoff).
	 * Never rejects.
	 */
	async start(): Promise<StartResult[]> {
		if (this.running) return [...this.folders.keys()].map((folder) => ({ folder }));
		this.running = true;
		const results = await Promise.all([...this.folders.values()].map(async (f) => ({ folder: f.folder, error: await f.start() })));
		// the first cursors are reported before start() returns
		if (this.stateScheduled) this.flushState();
		return results.map((r) => (r.error ? r : { folder: r.folder }));
	}

	/** Stops every folder: connections closed, nothing more delivered. Acknowledgements arriving later still update the state. */
	async stop(): Promise<void> {
		this.running = false;
		await Promise.all([...this.folders.values()].map((f) => f.stop()));
		this.flushState();
	}

	/** A copy of the state, for persisting. */
	getState(): WatchState {
		return cloneState(this.state);
	}

	getStats(): Record<string, FolderStats> {
		const out: Record<string, FolderStats> = {};
		for (const [folder, f] of this.folders) out[folder] = { ...f.stats };
		return out;
	}

	/** Fetch now (a manual fetch), one folder or all. */
	fetchNow(folder?: string): void {
		for (const f of this.pick(folder)) f.request('fetch');
	}

	/** Deliver again from a UID, from a date (INTERNALDATE), or as on first activation in `mode`. */
	reset(folder: string, point: ResetPoint): void {
		for (const f of this.pick(folder)) f.reset(point);
	}

	/** Releases a stuck fetch: its connection is dropped and the next fetch starts at once. */
	abandon(folder?: string): void {
		for (const f of this.pick(folder)) f.abandon();
	}

	private pick(folder?: string): FolderWatcher[] {
		if (folder === undefined) return [...this.folders.values()];
		const f = this.folders.get(folder);
		return f ? [f] : [];
	}

	/** @internal */
	setFolderState(folder: string, state: FolderState): void {
		this.state.folders[folder] = state;
		this.stateChanged();
	}

	/** @internal Reports the state soon (changes of one tick are coalesced). */
	stateChanged(): void {
		if (this.stateScheduled) return;
		this.stateScheduled = true;
		setImmediate(() => this.flushState());
	}

	private flushState(): void {
		if (!this.stateScheduled && this.running) return;
		this.stateScheduled = false;
		if (!this.onState) return;
		try {
			this.onState(this.getState());
		} catch (error) {
			this.settings.logger.error(`mailbox watcher: saving the state failed: ${String(error)}`);
		}
	}

	/** @internal */
	emit(event: WatchEvent): void {
		if (!this.onEvent) return;
		try {
			this.onEvent(event);
		} catch (error) {
			this.settings.logger.error(`mailbox watcher: the event handler failed: ${String(error)}`);
		}
	}
}
