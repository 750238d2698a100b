/**
 * Polls Exchange folders by SyncFolderItems and hands every new message to `deliver` exactly once,
 * acknowledged. No n8n imports: the node layer creates the watcher with the state it persisted,
 * calls start() on activation and stop() on deactivation, and persists every state `onState`
 * reports (see watch-state.ts for what is kept and why that makes delivery exactly once).
 *
 * Every poll, per folder (Inbox first, then the chosen ones, found by path or distinguished name):
 * 1. the after-processing actions of messages whose runs succeeded (mark read, move, delete);
 * 2. messages taken in before and not finished (a failed run to retry, or after a restart) are
 *    read again (GetItem with MIME content) and delivered;
 * 3. SyncFolderItems from the saved sync state, a page at a time while fewer than `maxInFlight`
 *    runs are going: new messages are recorded as pending together with the new sync state, then
 *    read and handed to `deliver`, without waiting for their runs.
 *
 * A run that succeeded leads to the action (soon, on a follow-up poll); a failed run leaves the
 * message pending, to be delivered again on the next poll (or skipped, with retryFailed off).
 * ErrorInvalidSyncStateData, or a folder that was recreated, makes the folder sync from scratch:
 * what Exchange received well before the last good sync is known, the rest is compared with the
 * finished and pending messages by Message-ID — nothing floods, nothing runs twice.
 */
import { SyncFolderItemsScope, ChangeType, type ItemChange } from 'ews-javascript-api';
import { MailboxError } from '../errors';
import { silentLogger, type Logger } from '../logger';
import { Backoff, guard, Sleeper, systemClock, type BackoffOptions, type Clock } from '../imap/watch/clock';
import type { EwsClient, EwsFolderRef } from './client';
import { deleteMessages, getMessage, itemInfo, markRead, moveMessages, SYNC_PROPERTIES, type EwsMessage } from './items';
import {
	cloneEwsState,
	decideCreate,
	emptyFolderState,
	finish,
	loadEwsState,
	remember,
	RESYNC_MARGIN_MS,
	type EwsFolderState,
	type EwsWatchState,
	type FirstActivation,
} from './watch-state';

export type EwsAfterProcessing = 'none' | 'markRead' | 'move' | 'delete';

/** What `deliver` gets for each message. */
export interface EwsWatchedMessage extends EwsMessage {
	/** The mailbox as named in the options. */
	mailbox: string;
	/** The folder as configured ("Inbox", "Inbox/Projects"). */
	folder: string;
	folderId: string;
	/** 1 on the first delivery in this process, 2 on the retry after a failed run, ... */
	attempt: number;
	/** Deterministic per mailbox, folder and message (Message-ID, else item id), for a deduplication key. */
	key: string;
}

export type EwsWatchEvent =
	| { type: 'failing' | 'updated'; error: MailboxError; message: string; firstFailureAt: Date; lastFailureAt: Date; count: number }
	| { type: 'recovered'; firstFailureAt: Date; lastFailureAt: Date; recoveredAt: Date; count: number }
	| { type: 'fetched'; startedAt: Date; durationMs: number; delivered: number; skipped: number }
	| { type: 'skipped'; folder: string; itemId: string; size: number; reason: 'oversized' }
	| { type: 'deliveryFailed'; folder: string; itemId: string; error: string; retry: boolean }
	/** The folder is synced from scratch: Exchange refused the saved sync state, or the folder was recreated. */
	| { type: 'syncReset'; folder: string; reason: 'invalidSyncState' | 'folderRecreated' }
	/** A message taken in was moved or deleted before it could be delivered or acted on. */
	| { type: 'gone'; folder: string; itemId: string }
	| { type: 'actionFailed'; folder: string; itemId: string; error: MailboxError };

export interface EwsWatchStats {
	polls: number;
	lastPollAt?: Date;
	lastPollMs?: number;
	delivered: number;
	acknowledged: number;
	failed: number;
	skipped: number;
	oversized: number;
	resets: number;
	/** Delivered, run not finished yet. */
	inFlight: number;
	failing: boolean;
}

export interface EwsWatcherOptions {
	/** A client; called again after a poll failed (a new token, a new connection). */
	connect: () => Promise<EwsClient>;
	/** The mailbox's name in messages and keys (its address). */
	mailbox: string;
	/** Folder paths or distinguished names (default Inbox). */
	folders?: string[];
	/** What the node persisted before (anything: unusable parts are dropped). */
	state?: unknown;
	/** What a folder the trigger has not synced before starts with (default 'new'). */
	firstActivation?: FirstActivation;
	/** Time between polls (default 1 min). */
	pollIntervalMs?: number;
	afterProcessing?: EwsAfterProcessing;
	/** The folder for `move` (path or distinguished name). */
	moveTo?: string;
	/** `delete`: to Deleted Items (default) or permanently. */
	deleteMode?: 'trash' | 'hard';
	/** Messages larger than this (bytes, Exchange's size) are skipped and reported; 0 = no limit. */
	maxSizeBytes?: number;
	/** A failed run: deliver again on the next poll (default true), or skip the message. */
	retryFailed?: boolean;
	/** Runs going at most (default 100); further changes wait for a later poll. */
	maxInFlight?: number;
	/** MaxChangesReturned per SyncFolderItems (1..512, default 100). */
	pageSize?: number;
	/** Delay of the poll after acknowledgements (default 1 s; coalesced). */
	followUpDelayMs?: number;
	/** A poll running longer is abandoned (default 30 min). */
	stuckAfterMs?: number;
	backoff?: BackoffOptions;
	/** Resolves true when the run succeeded, false when n8n refused it as a duplicate; rejects when it failed. */
	deliver: (message: EwsWatchedMessage) => Promise<boolean>;
	onState?: (state: EwsWatchState) => void;
	onEvent?: (event: EwsWatchEvent) => void;
	logger?: Logger;
	clock?: Clock;
}

export interface EwsStartResult {
	/** Set when the first poll failed; the watcher keeps retrying with backoff. */
	error?: MailboxError;
}

interface Settings {
	folders: string[];
	firstActivation: FirstActivation;
	pollIntervalMs: number;
	afterProcessing: EwsAfterProcessing;
	moveTo?: string;
	deleteMode: 'trash' | 'hard';
	maxSizeBytes: number;
	retryFailed: boolean;
	maxInFlight: number;
	pageSize: number;
	followUpDelayMs: number;
	stuckAfterMs: number;
	logger: Logger;
	clock: Clock;
}

/** The key of a folder in the state: the configured path, lower case, without surrounding slashes and spaces. */
export function folderKey(path: string): string {
	return path.trim().replace(/^\/+|\/+$/g, '').toLowerCase();
}

function defaults(options: EwsWatcherOptions): Settings {
	const positive = (value: number | undefined, fallback: number) => (typeof value === 'number' && value > 0 && Number.isFinite(value) ? value : fallback);
	const seen = new Set<string>();
	const folders: string[] = [];
	for (const f of options.folders?.length ? options.folders : ['Inbox']) {
		const key = folderKey(f);
		if (!key || seen.has(key)) continue;
		seen.add(key);
		folders.push(f.trim());
	}
	return {
		folders,
		firstActivation: options.firstActivation ?? 'new',
		pollIntervalMs: positive(options.pollIntervalMs, 60_000),
		afterProcessing: options.afterProcessing ?? 'none',
		moveTo: options.moveTo?.trim() || undefined,
		deleteMode: options.deleteMode ?? 'trash',
		maxSizeBytes: positive(options.maxSizeBytes, 0),
		retryFailed: options.retryFailed ?? true,
		maxInFlight: Math.floor(positive(options.maxInFlight, 100)),
		pageSize: Math.min(512, Math.floor(positive(options.pageSize, 100))),
		followUpDelayMs: typeof options.followUpDelayMs === 'number' && options.followUpDelayMs >= 0 ? options.followUpDelayMs : 1_000,
		stuckAfterMs: positive(options.stuckAfterMs, 30 * 60_000),
		logger: options.logger ?? silentLogger,
		clock: options.clock ?? systemClock,
	};
}

class Deferred<T> {
	promise: Promise<T>;
	resolve!: (value: T) => void;
	constructor() {
		this.promise = new Promise<T>((resolve) => (this.resolve = resolve));
	}
}

interface PollCounters {
	delivered: number;
	skipped: number;
}

/**
 * The engine of the EWS trigger. Create it with the persisted state, `start()` it, persist what
 * `onState` reports, `stop()` it. Never throws from its background work: failures are reported
 * through `onEvent` (failing / updated / recovered) and retried with backoff.
 */
export class EwsWatcher {
	private readonly stats: EwsWatchStats = { polls: 0, delivered: 0, acknowledged: 0, failed: 0, skipped: 0, oversized: 0, resets: 0, inFlight: 0, failing: false };
	private readonly s: Settings;
	private readonly state: EwsWatchState;
	private readonly sleeper: Sleeper;
	private readonly backoff: Backoff;
	/** "folderKey\nitemId" of messages delivered and not yet acknowledged. */
	private readonly inflight = new Set<string>();
	private readonly attempts = new Map<string, number>();
	private client?: EwsClient;
	private loop?: Promise<void>;
	private running = false;
	private stopped = false;
	private pollRequested = true;
	private nextDelay = 0;
	private pollToken = 0;
	private backlog = false;
	private followUpTimer?: unknown;
	private failure?: { error: MailboxError; first: Date; last: Date; count: number };
	private stateScheduled = false;
	private readonly firstAttempt = new Deferred<MailboxError | undefined>();
	private firstAttemptDone = false;

	constructor(private readonly options: EwsWatcherOptions) {
		this.s = defaults(options);
		this.state = loadEwsState(options.state);
		this.sleeper = new Sleeper(this.s.clock);
		this.backoff = new Backoff(options.backoff ?? {}, this.s.clock);
	}

	private get log(): Logger {
		return this.s.logger;
	}

	/** The folders watched, as configured (Inbox first unless configured otherwise). */
	get folders(): readonly string[] {
		return this.s.folders;
	}

	/**
	 * Starts polling; the first poll runs at once. Resolves when the first poll has synced every
	 * folder (deliveries go on in the background), or failed (then `error` is set and the watcher
	 * keeps retrying with backoff). Never rejects.
	 */
	async start(): Promise<EwsStartResult> {
		if (this.running || this.stopped) return {};
		if (this.s.afterProcessing === 'move' && !this.s.moveTo) {
			return { error: new MailboxError('CONFIG', 'Move To is empty.', { field: 'moveTo', step: 'config', hint: 'Enter the folder the messages go to after the workflow succeeded, e.g. Archive or Inbox/Done.' }) };
		}
		this.running = true;
		this.loop = this.run().catch((error: unknown) => {
			this.log.error(`mailbox watcher: EWS "${this.options.mailbox}" stopped unexpectedly: ${String(error)}`);
		});
		const error = await this.firstAttempt.promise;
		if (this.stateScheduled) this.flushState();
		return error ? { error } : {};
	}

	/** Stops polling. Acknowledgements of runs still going update the state (and call onState) when they arrive. */
	async stop(): Promise<void> {
		this.stopped = true;
		this.running = false;
		this.pollToken++;
		if (this.followUpTimer !== undefined) this.s.clock.clearTimeout(this.followUpTimer);
		this.followUpTimer = undefined;
		this.sleeper.wake();
		await this.loop;
		this.client?.close();
		this.client = undefined;
		this.settleFirstAttempt(undefined);
		this.flushState();
	}

	/** Poll now (after the poll running now, if one is). */
	fetchNow(): void {
		if (this.stopped) return;
		this.pollRequested = true;
		this.sleeper.wake();
	}

	getState(): EwsWatchState {
		return cloneEwsState(this.state);
	}

	getStats(): EwsWatchStats {
		return { ...this.stats, inFlight: this.inflight.size, failing: !!this.failure };
	}

	private async run(): Promise<void> {
		while (!this.stopped) {
			if (!this.pollRequested) await this.sleeper.sleep(this.nextDelay);
			if (this.stopped) break;
			this.pollRequested = false;
			if (this.followUpTimer !== undefined) this.s.clock.clearTimeout(this.followUpTimer);
			this.followUpTimer = undefined;
			const token = ++this.pollToken;
			try {
				await guard(
					this.poll(token),
					this.s.stuckAfterMs,
					() => {
						this.pollToken++;
					},
					() => new MailboxError('TIMEOUT', `Fetching the mailbox "${this.options.mailbox}" by EWS took longer than ${Math.round(this.s.stuckAfterMs / 1000)} s and was abandoned.`, { step: 'command', causeCode: 'STUCK' }),
					this.s.clock,
				);
				this.recordSuccess();
				this.nextDelay = this.s.pollIntervalMs;
			} catch (error) {
				if (this.stopped) break;
				// the next poll starts with a new client: a new token, new connections
				this.client?.close();
				this.client = undefined;
				this.recordFailure(error instanceof MailboxError ? error : new MailboxError('PROTOCOL', `Unexpected failure: ${error instanceof Error ? error.message : String(error)}`));
				this.nextDelay = this.backoff.next();
			}
		}
	}

	/** Throws when the poll with `token` was stopped or abandoned. */
	private check(token: number): void {
		if (this.stopped || token !== this.pollToken) throw new MailboxError('CONNECTION_CLOSED', 'The poll was stopped.', { step: 'command', causeCode: 'STOPPED' });
	}

	private folderState(key: string): EwsFolderState {
		let folder = this.state.folders[key];
		if (!folder) {
			folder = emptyFolderState();
			this.state.folders[key] = folder;
		}
		return folder;
	}

	private async poll(token: number): Promise<void> {
		const startedAt = this.s.clock.now();
		this.client ??= await this.options.connect();
		const client = this.client;
		this.check(token);
		const counters: PollCounters = { delivered: 0, skipped: 0 };
		this.backlog = false;
		for (const path of this.s.folders) {
			this.check(token);
			const key = folderKey(path);
			const fs = this.folderState(key);
			const ref = await client.resolveFolder(path);
			if (fs.folderId && fs.folderId !== ref.id) {
				this.reset(path, fs, 'folderRecreated');
			}
			if (fs.folderId !== ref.id) {
				fs.folderId = ref.id;
				this.stateChanged();
			}
			await this.act(client, path, fs, token);
			await this.redeliver(client, path, ref, fs, token, counters);
			await this.sync(client, path, ref, fs, token, counters);
		}
		this.settleFirstAttempt(undefined);
		if (this.stateScheduled) this.flushState();
		const durationMs = this.s.clock.now() - startedAt;
		this.stats.polls++;
		this.stats.lastPollAt = new Date(startedAt);
		this.stats.lastPollMs = durationMs;
		this.emit({ type: 'fetched', startedAt: new Date(startedAt), durationMs, delivered: counters.delivered, skipped: counters.skipped });
	}

	/** Starts a sync from scratch for the folder, remembering the last good sync to tell old mail from new. */
	private reset(path: string, fs: EwsFolderState, reason: 'invalidSyncState' | 'folderRecreated'): void {
		const since = fs.resyncSince ?? fs.lastSyncAt ?? fs.activatedAt ?? this.s.clock.now();
		fs.syncState = undefined;
		if (fs.activatedAt !== undefined) fs.resyncSince = since;
		this.stats.resets++;
		this.stateChanged();
		this.log.warn(`mailbox watcher: EWS "${this.options.mailbox}" folder "${path}": ${reason === 'folderRecreated' ? 'the folder was recreated' : 'Exchange no longer accepts the sync state'}; syncing it from scratch (messages already received are recognised)`);
		this.emit({ type: 'syncReset', folder: path, reason });
	}

	/** The after-processing actions of messages whose runs succeeded. */
	private async act(client: EwsClient, path: string, fs: EwsFolderState, token: number): Promise<void> {
		const ids = Object.keys(fs.pending).filter((id) => fs.pending[id].s === 'act');
		if (!ids.length) return;
		const target = this.s.afterProcessing === 'move' ? await client.resolveFolder(this.s.moveTo!) : undefined;
		for (const id of ids) {
			this.check(token);
			try {
				if (this.s.afterProcessing === 'markRead') await markRead(client, [id]);
				else if (this.s.afterProcessing === 'move') await moveMessages(client, [id], target!);
				else if (this.s.afterProcessing === 'delete') await deleteMessages(client, [id], this.s.deleteMode);
			} catch (error) {
				const e = client.toMailboxError(error);
				if (e.code === 'NOT_FOUND' && e.causeCode === 'ErrorItemNotFound') {
					this.log.info(`mailbox watcher: EWS "${this.options.mailbox}" folder "${path}": message ${id} is gone; nothing left to do for it`);
					this.emit({ type: 'gone', folder: path, itemId: id });
				} else {
					this.emit({ type: 'actionFailed', folder: path, itemId: id, error: e });
					throw e;
				}
			}
			finish(fs, id);
			this.stateChanged();
		}
	}

	/** Pending messages not in flight: a failed run to retry, or taken in before a restart. */
	private async redeliver(client: EwsClient, path: string, ref: EwsFolderRef, fs: EwsFolderState, token: number, counters: PollCounters): Promise<void> {
		const key = folderKey(path);
		for (const id of Object.keys(fs.pending)) {
			const entry = fs.pending[id];
			if (!entry || entry.s !== 'new' || this.inflight.has(`${key}\n${id}`)) continue;
			if (this.inflight.size >= this.s.maxInFlight) {
				this.backlog = true;
				return;
			}
			this.check(token);
			await this.fetchAndDispatch(client, path, ref, fs, { itemId: id, size: entry.z }, token, counters);
		}
	}

	private async sync(client: EwsClient, path: string, ref: EwsFolderRef, fs: EwsFolderState, token: number, counters: PollCounters): Promise<void> {
		const key = folderKey(path);
		for (;;) {
			this.check(token);
			const firstActivation = fs.activatedAt === undefined ? this.s.firstActivation : undefined;
			const delivering = firstActivation !== 'new';
			const room = this.s.maxInFlight - this.inflight.size;
			if (delivering && room <= 0) {
				this.backlog = true;
				this.log.debug(`mailbox watcher: EWS "${this.options.mailbox}": ${this.s.maxInFlight} runs still going; further changes wait`);
				return;
			}
			const max = delivering ? Math.max(1, Math.min(this.s.pageSize, room)) : 512;
			const syncState = fs.syncState ?? '';
			let changes;
			try {
				changes = await client.call('SyncFolderItems', (service) => service.SyncFolderItems(client.folderIdOf(ref), SYNC_PROPERTIES, [], max, SyncFolderItemsScope.NormalItems, syncState));
			} catch (error) {
				const e = client.toMailboxError(error, 'SyncFolderItems');
				if (e.causeCode === 'ErrorInvalidSyncStateData' && fs.syncState) {
					this.reset(path, fs, 'invalidSyncState');
					continue;
				}
				throw e;
			}
			this.check(token);
			const now = this.s.clock.now();
			const fresh: Array<{ itemId: string; size?: number }> = [];
			for (const change of changes.GetEnumerator() as ItemChange[]) {
				if (change.ChangeType === ChangeType.Create && change.Item) {
					const info = itemInfo(change.Item);
					const decision = decideCreate(fs, { itemId: info.itemId, messageId: info.messageId, isRead: info.isRead, received: info.received?.getTime() }, { firstActivation, resyncSince: fs.resyncSince });
					if (decision === 'deliver') {
						fs.pending[info.itemId] = { s: 'new', ...(info.messageId ? { m: info.messageId } : {}), ...(info.received ? { r: info.received.getTime() } : {}), ...(info.size !== undefined ? { z: info.size } : {}) };
						fresh.push({ itemId: info.itemId, size: info.size });
					} else if (firstActivation && (info.received === undefined || info.received.getTime() >= now - RESYNC_MARGIN_MS)) {
						// known at first activation and recent: a reset soon after must not deliver it
						remember(fs, info.itemId, info.messageId);
					}
				} else if (change.ChangeType === ChangeType.Delete) {
					const id = change.ItemId?.UniqueId;
					// gone before it was delivered: nothing to deliver any more
					if (id && fs.pending[id]?.s === 'new' && !this.inflight.has(`${key}\n${id}`)) {
						delete fs.pending[id];
						this.emit({ type: 'gone', folder: path, itemId: id });
					}
				}
			}
			// the new position and the messages it covers are recorded together
			fs.syncState = changes.SyncState;
			const done = !changes.MoreChangesAvailable;
			if (done) {
				fs.lastSyncAt = now;
				if (fs.activatedAt === undefined) {
					fs.activatedAt = now;
					this.log.info(`mailbox watcher: EWS "${this.options.mailbox}" folder "${path}" starts with ${this.s.firstActivation === 'new' ? 'new mail only' : this.s.firstActivation === 'unread' ? 'its unread mail' : 'all its mail'}`);
				}
				fs.resyncSince = undefined;
			}
			this.stateChanged();
			this.flushState();
			for (const item of fresh) {
				this.check(token);
				await this.fetchAndDispatch(client, path, ref, fs, item, token, counters);
			}
			if (done) return;
		}
	}

	/** Reads a pending message (size checked first) and hands it to deliver() without waiting for its run. */
	private async fetchAndDispatch(client: EwsClient, path: string, ref: EwsFolderRef, fs: EwsFolderState, item: { itemId: string; size?: number }, token: number, counters: PollCounters): Promise<void> {
		const limit = this.s.maxSizeBytes;
		if (limit && item.size !== undefined && item.size > limit) {
			this.stats.oversized++;
			this.stats.skipped++;
			counters.skipped++;
			finish(fs, item.itemId);
			this.stateChanged();
			this.log.info(`mailbox watcher: EWS "${this.options.mailbox}" folder "${path}": message ${item.itemId} (${item.size} bytes) is over the size limit of ${limit} bytes and was skipped`);
			this.emit({ type: 'skipped', folder: path, itemId: item.itemId, size: item.size, reason: 'oversized' });
			return;
		}
		let message: EwsMessage;
		try {
			message = await getMessage(client, item.itemId);
		} catch (error) {
			const e = client.toMailboxError(error, 'GetItem');
			if (e.causeCode === 'ErrorItemNotFound') {
				delete fs.pending[item.itemId];
				this.stateChanged();
				this.log.info(`mailbox watcher: EWS "${this.options.mailbox}" folder "${path}": message ${item.itemId} was moved or deleted before it could be delivered`);
				this.emit({ type: 'gone', folder: path, itemId: item.itemId });
				return;
			}
			throw e;
		}
		this.check(token);
		const key = folderKey(path);
		const attempt = (this.attempts.get(`${key}\n${item.itemId}`) ?? 0) + 1;
		this.attempts.set(`${key}\n${item.itemId}`, attempt);
		this.dispatch(path, fs, {
			...message,
			mailbox: this.options.mailbox,
			folder: path,
			folderId: ref.id,
			attempt,
			key: `${this.options.mailbox}/${key}/${message.messageId ?? fs.pending[item.itemId]?.m ?? item.itemId}`,
		});
		counters.delivered++;
	}

	private dispatch(path: string, fs: EwsFolderState, message: EwsWatchedMessage): void {
		const id = `${folderKey(path)}\n${message.itemId}`;
		this.inflight.add(id);
		this.stats.delivered++;
		let done: Promise<boolean>;
		try {
			done = Promise.resolve(this.options.deliver(message));
		} catch (error) {
			done = Promise.reject(error);
		}
		done
			.then(
				(ran) => this.acknowledged(path, fs, message, ran),
				(error: unknown) => this.failed(path, fs, message, error),
			)
			.catch((error: unknown) => this.log.error(`mailbox watcher: recording the outcome of message ${message.itemId} failed: ${String(error)}`));
	}

	private acknowledged(path: string, fs: EwsFolderState, message: EwsWatchedMessage, ran: boolean): void {
		const id = `${folderKey(path)}\n${message.itemId}`;
		this.inflight.delete(id);
		this.attempts.delete(id);
		this.stats.acknowledged++;
		const entry = fs.pending[message.itemId];
		if (!entry) return;
		// A run n8n refused as a duplicate happened before a restart: whether it finished cannot be
		// told, so the message is left as it is (no action), as the IMAP trigger does.
		if (ran && this.s.afterProcessing !== 'none') {
			entry.s = 'act';
			this.stateChanged();
			this.scheduleFollowUp();
		} else {
			finish(fs, message.itemId);
			this.stateChanged();
			if (this.backlog) this.scheduleFollowUp();
		}
	}

	private failed(path: string, fs: EwsFolderState, message: EwsWatchedMessage, error: unknown): void {
		const id = `${folderKey(path)}\n${message.itemId}`;
		this.inflight.delete(id);
		this.stats.failed++;
		const retry = this.s.retryFailed;
		if (!retry) {
			this.attempts.delete(id);
			if (fs.pending[message.itemId]) {
				finish(fs, message.itemId);
				this.stateChanged();
			}
		}
		const text = error instanceof Error ? error.message : String(error);
		this.log.warn(`mailbox watcher: EWS "${this.options.mailbox}" folder "${path}": the run for message ${message.itemId} failed (${text}); ${retry ? 'delivered again on the next poll' : 'skipped'}`);
		this.emit({ type: 'deliveryFailed', folder: path, itemId: message.itemId, error: text, retry });
		if (this.backlog) this.scheduleFollowUp();
	}

	private scheduleFollowUp(): void {
		if (this.stopped || !this.running || this.failure || this.followUpTimer !== undefined) return;
		this.followUpTimer = this.s.clock.setTimeout(() => {
			this.followUpTimer = undefined;
			this.fetchNow();
		}, this.s.followUpDelayMs);
	}

	private settleFirstAttempt(error: MailboxError | undefined): void {
		if (this.firstAttemptDone) return;
		this.firstAttemptDone = true;
		this.firstAttempt.resolve(error);
	}

	private recordFailure(error: MailboxError): void {
		const now = new Date(this.s.clock.now());
		const message = `Mailbox "${this.options.mailbox}" cannot be fetched by EWS: ${error.fullMessage}`;
		this.log.warn(`mailbox watcher: ${message}`);
		this.settleFirstAttempt(error);
		if (!this.failure) {
			this.failure = { error, first: now, last: now, count: 1 };
			this.emit({ type: 'failing', error, message, firstFailureAt: now, lastFailureAt: now, count: 1 });
		} else {
			const f = (this.failure = { ...this.failure, error, last: now, count: this.failure.count + 1 });
			this.emit({ type: 'updated', error, message, firstFailureAt: f.first, lastFailureAt: f.last, count: f.count });
		}
	}

	private recordSuccess(): void {
		this.backoff.reset();
		this.settleFirstAttempt(undefined);
		const f = this.failure;
		if (!f) return;
		this.failure = undefined;
		const recoveredAt = new Date(this.s.clock.now());
		this.log.info(`mailbox watcher: EWS "${this.options.mailbox}" is fetched again after ${f.count} failed attempt(s)`);
		this.emit({ type: 'recovered', firstFailureAt: f.first, lastFailureAt: f.last, recoveredAt, count: f.count });
		const actionsDue = Object.values(this.state.folders).some((fs) => Object.values(fs.pending).some((e) => e.s === 'act'));
		if (this.backlog || actionsDue) this.scheduleFollowUp();
	}

	private stateChanged(): void {
		if (this.stateScheduled) return;
		this.stateScheduled = true;
		setImmediate(() => this.flushState());
	}

	/** Reports the state now (coalesced changes of this tick included). */
	private flushState(): void {
		if (!this.stateScheduled) return;
		this.stateScheduled = false;
		if (!this.options.onState) return;
		try {
			this.options.onState(this.getState());
		} catch (error) {
			this.log.error(`mailbox watcher: saving the state failed: ${String(error)}`);
		}
	}

	private emit(event: EwsWatchEvent): void {
		if (!this.options.onEvent) return;
		try {
			this.options.onEvent(event);
		} catch (error) {
			this.log.error(`mailbox watcher: the event handler failed: ${String(error)}`);
		}
	}
}

/**
 * The newest message of a folder (by the time Exchange received it), for the editor's "Test step";
 * nothing is changed. Found by syncing the folder's items from scratch (ids and times only), at
 * most `maxPages` pages of 512.
 */
export async function newestMessage(client: EwsClient, path: string, maxPages = 20): Promise<(EwsMessage & { folderId: string }) | undefined> {
	const ref = await client.resolveFolder(path);
	let syncState = '';
	let newest: { itemId: string; received: number } | undefined;
	for (let page = 0; page < maxPages; page++) {
		const state = syncState;
		const changes = await client.call('SyncFolderItems', (service) => service.SyncFolderItems(client.folderIdOf(ref), SYNC_PROPERTIES, [], 512, SyncFolderItemsScope.NormalItems, state));
		for (const change of changes.GetEnumerator() as ItemChange[]) {
			if (change.ChangeType !== ChangeType.Create || !change.Item) continue;
			const info = itemInfo(change.Item);
			const received = info.received?.getTime() ?? 0;
			if (!newest || received >= newest.received) newest = { itemId: info.itemId, received };
		}
		syncState = changes.SyncState;
		if (!changes.MoreChangesAvailable) break;
	}
	if (!newest) return undefined;
	return { ...(await getMessage(client, newest.itemId)), folderId: ref.id };
}
