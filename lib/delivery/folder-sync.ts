/**
 * The watcher of servers that report a folder's changes from a saved position: Exchange Web
 * Services (SyncFolderItems and its SyncState) and Microsoft Graph (delta query and its delta
 * link). It hands every new message to `deliver` exactly once, acknowledged. No n8n imports: the
 * node layer creates a source's watcher with the state it persisted, calls start() on activation
 * and stop() on deactivation, and persists every state `onState` reports (see
 * folder-sync-state.ts for what is kept and why that makes delivery exactly once). A source
 * supplies a session (FolderSyncSession: resolve a folder, a page of changes, a message with its
 * MIME content, the actions) and tells two of its errors apart (a sync position the server no
 * longer accepts, a message that is gone).
 *
 * Every poll, per folder (Inbox first, then the chosen ones, found by path or well-known name):
 * 1. the after-processing actions of messages whose runs succeeded (mark read, move, delete);
 * 2. messages taken in before and not finished (a failed run to retry, or after a restart) are
 *    read again and delivered;
 * 3. the changes from the saved position, a page at a time while fewer than `maxInFlight` runs
 *    are going: new messages are recorded as pending together with the new position, then read
 *    and handed to `deliver`, without waiting for their runs.
 * With Messages per Run over 1, messages go into runs of several, each recorded in the folder's
 * state before it starts (its key, attempt and members); after a restart a recorded run is formed
 * again first, with the key it had.
 *
 * A run that succeeded leads to the action (soon, on a follow-up poll); a failed run leaves the
 * message pending, to be delivered again on the next poll (or skipped, with retryFailed off).
 * A position the server refuses, or a folder that was recreated, makes the folder sync from
 * scratch: what the server received well before the last good sync is known, the rest is compared
 * with the finished and pending messages by Message-ID — nothing floods, nothing runs twice.
 *
 * Servers that report a changed message like a new one (Graph's delta query does not say whether a
 * message was created or updated: a flag set, a category added) report it as `seen`: it is new
 * unless it is pending or finished, or the server received it well before the last good sync (an
 * older message that changed).
 */
import { MailboxError } from '../errors';
import type { DeliveryEvent, Settlement } from './dispatcher';
import type { HealthEvent } from './health';
import { fingerprint } from './keys';
import type { Delivered } from './message';
import { abortable, Reconnect, type Stream } from './stream';
import { positive, StreamWatcher, type DeliveryStats, type StartResult, type WatcherOptions } from './watcher';
import {
	cloneSyncState,
	decideCreate,
	dropRun,
	emptyFolderState,
	finish,
	isKnown,
	loadSyncState,
	newRunNumber,
	recordRun,
	remember,
	RESYNC_MARGIN_MS,
	type SyncFolderState,
	type SyncPendingEntry,
	type SyncWatchState,
	type FirstActivation,
} from './folder-sync-state';

export type FolderSyncAfterProcessing = 'none' | 'markRead' | 'move' | 'delete';

/** What a page of changes tells of a message, enough to decide without downloading it. */
export interface FolderSyncItem {
	itemId: string;
	/** The Message-ID header, with angle brackets. */
	messageId?: string;
	isRead?: boolean;
	/** When the server received it. */
	received?: Date;
	/** Size in bytes, where the server reports it. */
	size?: number;
}

export type FolderSyncChange =
	/** A message the server reports as created in the folder. */
	| { type: 'created'; item: FolderSyncItem }
	/** A message created or changed (the server does not say which). */
	| { type: 'seen'; item: FolderSyncItem }
	/** A message deleted or moved out of the folder. */
	| { type: 'removed'; itemId: string };

export interface FolderSyncPage {
	changes: FolderSyncChange[];
	/** The position after this page. */
	syncState: string;
	/** More changes wait after this page. */
	more: boolean;
}

/** A folder found by path or well-known name. */
export interface FolderSyncRef {
	id: string;
}

/** A message read with its MIME content, byte for byte. */
export interface FolderSyncFetched extends FolderSyncItem {
	source: Buffer;
}

/** One connection (client) to the server, for one poll or longer. Failures are MailboxErrors. */
export interface FolderSyncSession<F extends FolderSyncFetched> {
	resolveFolder(path: string): Promise<FolderSyncRef>;
	/** The changes after `syncState` (undefined: from the start), at most `max`. */
	syncPage(folder: FolderSyncRef, syncState: string | undefined, max: number): Promise<FolderSyncPage>;
	/**
	 * The message with its MIME content. `maxBytes`: the size limit; a session whose pages of changes
	 * do not tell sizes gives a larger message with its size and without its content.
	 */
	fetch(itemId: string, maxBytes?: number): Promise<F>;
	/**
	 * The after-processing actions: each message's own failure in its place (undefined: done; a
	 * message that is gone fails as the protocol's isGone says); fewer results than messages: the
	 * rest was not attempted; a failure of all is thrown.
	 */
	markRead(itemIds: string[]): Promise<Array<MailboxError | undefined>>;
	move(itemIds: string[], target: FolderSyncRef): Promise<Array<MailboxError | undefined>>;
	delete(itemIds: string[], mode: 'trash' | 'hard'): Promise<Array<MailboxError | undefined>>;
	close(): void;
}

/** What `deliver` gets for each message (`key`: mailbox, folder and item id). */
export type FolderSyncMessage<F extends FolderSyncFetched> = F &
	Delivered & {
		/** The mailbox as named in the options. */
		mailbox: string;
		/** The folder as configured ("Inbox", "Inbox/Projects"). */
		folder: string;
		folderId: string;
		source: Buffer;
	};

export type FolderSyncEvent<M> =
	| HealthEvent
	| { type: 'fetched'; startedAt: Date; durationMs: number; delivered: number; skipped: number }
	| { type: 'skipped'; folder: string; itemId: string; size: number; reason: 'oversized' }
	| DeliveryEvent<M>
	/** The saved state belonged to another account: every folder starts as on first activation. */
	| { type: 'accountChanged' }
	/** The folder is synced from scratch: the server refused the saved position, or the folder was recreated. */
	| { type: 'syncReset'; folder: string; reason: 'invalidSyncState' | 'folderRecreated' }
	/** A message taken in was moved or deleted before it could be delivered or acted on. */
	| { type: 'gone'; folder: string; itemId: string }
	| { type: 'actionFailed'; folder: string; itemId: string; error: MailboxError };

export interface FolderSyncStats extends DeliveryStats {
	/** Folders synced again from scratch. */
	resets: number;
	/** Delivered, run not finished yet. */
	inFlight: number;
}

export interface FolderSyncOptions<F extends FolderSyncFetched> extends WatcherOptions<FolderSyncMessage<F>, FolderSyncEvent<FolderSyncMessage<F>>, SyncWatchState> {
	/** A session; called again after a poll failed (a new token, a new connection). */
	connect: () => Promise<FolderSyncSession<F>>;
	/** The mailbox's name in messages and keys (its address). */
	mailbox: string;
	/** Folder paths or well-known names (default Inbox). */
	folders?: string[];
	/** What a folder the trigger has not synced before starts with (default 'new'). */
	firstActivation?: FirstActivation;
	afterProcessing?: FolderSyncAfterProcessing;
	/** The folder for `move` (path or well-known name). */
	moveTo?: string;
	/** `delete`: to Deleted Items (default) or permanently. */
	deleteMode?: 'trash' | 'hard';
	/** Changes per page (1..512, default 100). */
	pageSize?: number;
}

/** How a source names itself and tells its errors apart. */
export interface FolderSyncProtocol {
	/** In logs and the stream's name: "EWS", "Graph". */
	label: string;
	/** The logger's name. */
	loggerName: string;
	/** The largest page a first activation asks for. */
	largestPage: number;
	/** The server no longer accepts the saved position. */
	isResync(error: MailboxError): boolean;
	/** The message is no longer there (moved or deleted). */
	isGone(error: MailboxError): boolean;
}

/** Messages acted on (marked read, moved, deleted) in one call of the session. */
const ACT_CHUNK = 20;

/** The key of a folder in the state: the configured path, lower case, without surrounding slashes and spaces. */
export function folderKey(path: string): string {
	return path.trim().replace(/^\/+|\/+$/g, '').toLowerCase();
}

function defaults<F extends FolderSyncFetched>(options: FolderSyncOptions<F>) {
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
		afterProcessing: options.afterProcessing ?? 'none',
		moveTo: options.moveTo?.trim() || undefined,
		deleteMode: options.deleteMode ?? 'trash',
		pageSize: Math.min(512, Math.floor(positive(options.pageSize, 100))),
	};
}

/** A run of several messages recorded in a folder's state: its number there, key and attempt. */
interface RecordedRun {
	n: number;
	key: string;
	attempt: number;
}

interface PollCounters {
	delivered: number;
	skipped: number;
}

/**
 * The engine of the EWS and Graph triggers. Create a source's subclass with the persisted state,
 * `start()` it, persist what `onState` and `onLedger` report, `stop()` it. Never throws from its
 * background work.
 */
export abstract class FolderSyncWatcher<F extends FolderSyncFetched> extends StreamWatcher<FolderSyncMessage<F>, FolderSyncEvent<FolderSyncMessage<F>>, SyncWatchState> {
	private readonly stats: FolderSyncStats = { fetches: 0, delivered: 0, acknowledged: 0, failed: 0, skipped: 0, oversized: 0, resets: 0, inFlight: 0, failing: false };
	private readonly s: ReturnType<typeof defaults>;
	private readonly state: SyncWatchState;
	protected readonly stream: Stream;
	/** "folderKey\nitemId" of messages delivered and not settled. */
	private readonly inflight = new Set<string>();
	private client?: FolderSyncSession<F>;
	private backlog = false;

	constructor(
		private readonly options: FolderSyncOptions<F>,
		private readonly protocol: FolderSyncProtocol,
	) {
		super(options, protocol.loggerName);
		this.s = defaults(options);
		this.state = loadSyncState(options.state, options.account);
		this.stream = this.newStream(options, {
			name: `Mailbox "${options.mailbox}" (${protocol.label})`,
			intervalMs: 60_000,
			pass: (signal) => this.poll(signal),
			toError: (error) => {
				// the next poll starts with a new client: a new token, new connections
				this.client?.close();
				this.client = undefined;
				return this.mailboxError(error);
			},
			pending: () => this.backlog || this.actionsDue(),
		});
	}

	/** A failure as a MailboxError (sessions throw those; anything else is unexpected). */
	private mailboxError(error: unknown): MailboxError {
		return error instanceof MailboxError ? error : new MailboxError('PROTOCOL', `Unexpected failure: ${error instanceof Error ? error.message : String(error)}`);
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
	async start(): Promise<StartResult> {
		if (this.s.afterProcessing === 'move' && !this.s.moveTo) {
			return { error: new MailboxError('CONFIG', 'Move To is empty.', { field: 'moveTo', step: 'config', hint: 'Enter the folder the messages go to after the workflow succeeded, e.g. Archive or Inbox/Done.' }) };
		}
		return this.startStream(() => this.emit({ type: 'accountChanged' }));
	}

	/** Stops polling. Settlements of runs still going update the state (and call onState) when they arrive. */
	async stop(): Promise<void> {
		await this.end([this.stream], (signal) => this.lastActions(signal));
		this.client?.close();
		this.client = undefined;
	}

	/** At a stop: the after-processing actions of runs that succeeded since the last poll. */
	private async lastActions(signal: AbortSignal): Promise<void> {
		if (!this.actionsDue()) return;
		let client = this.client;
		const own = !client;
		if (!client) {
			const connecting = this.options.connect();
			void connecting.then((c) => signal.aborted && c.close(), () => undefined);
			client = await abortable(connecting, signal);
		}
		const drop = () => client.close();
		signal.addEventListener('abort', drop);
		try {
			for (const path of this.s.folders) {
				const fs = this.state.folders[folderKey(path)];
				if (fs) await this.act(client, path, fs, signal);
			}
		} finally {
			signal.removeEventListener('abort', drop);
			if (own) client.close();
		}
	}

	getState(): SyncWatchState {
		return cloneSyncState(this.state);
	}

	getStats(): FolderSyncStats {
		return { ...this.stats, inFlight: this.inflight.size, failing: this.stream.health.failing };
	}

	private actionsDue(): boolean {
		return Object.values(this.state.folders).some((fs) => Object.values(fs.pending).some((e) => e.s === 'act'));
	}

	private folderState(key: string): SyncFolderState {
		let folder = this.state.folders[key];
		if (!folder) {
			folder = emptyFolderState();
			this.state.folders[key] = folder;
		}
		return folder;
	}

	private async poll(signal: AbortSignal): Promise<void> {
		const startedAt = this.clock.now();
		if (!this.client) {
			const connecting = this.options.connect();
			// a client that arrives after the poll was given up is closed at once
			void connecting.then((c) => signal.aborted && c.close(), () => undefined);
			this.client = await abortable(connecting, signal);
		}
		const client = this.client;
		// stopped, abandoned or stuck: the requests under way end with the client
		signal.addEventListener('abort', () => {
			client.close();
			if (this.client === client) this.client = undefined;
		});
		signal.throwIfAborted();
		const counters: PollCounters = { delivered: 0, skipped: 0 };
		this.backlog = false;
		this.runsCarry();
		for (const path of this.s.folders) {
			signal.throwIfAborted();
			const key = folderKey(path);
			const fs = this.folderState(key);
			const ref = await client.resolveFolder(path);
			if (fs.folderId && fs.folderId !== ref.id) this.reset(path, fs, 'folderRecreated');
			if (fs.folderId !== ref.id) {
				fs.folderId = ref.id;
				this.stateChanged();
			}
			await this.act(client, path, fs, signal);
			await this.redeliver(client, path, ref, fs, signal, counters);
			await this.sync(client, path, ref, fs, signal, counters);
		}
		this.stream.health.settle();
		this.flushState(true);
		this.retryWhenDue(this.stream);
		this.emit({ type: 'fetched', ...this.fetched(this.stats, startedAt), delivered: counters.delivered, skipped: counters.skipped });
	}

	/**
	 * Whether runs carry several messages (Messages per Run) or one: coming from one message per
	 * run (runs not recorded), the next window's messages go alone first (as many as could have
	 * been under way), so that one whose run was cut off is refused with the key it had instead of
	 * taking other messages with it. A state of a first activation starts as it is.
	 */
	private runsCarry(): void {
		const several = this.messagesPerRun > 1;
		if (several === !!this.state.several) return;
		if (several) {
			this.state.several = true;
			const fresh = Object.values(this.state.folders).every((f) => f.activatedAt === undefined);
			if (!fresh) this.state.singles = this.window.maxCount;
		} else {
			delete this.state.several;
			delete this.state.singles;
		}
		this.stateChanged();
	}

	/** Starts a sync from scratch for the folder, remembering the last good sync to tell old mail from new. */
	private reset(path: string, fs: SyncFolderState, reason: 'invalidSyncState' | 'folderRecreated'): void {
		const since = fs.resyncSince ?? fs.lastSyncAt ?? fs.activatedAt ?? this.clock.now();
		fs.syncState = undefined;
		if (fs.activatedAt !== undefined) fs.resyncSince = since;
		this.stats.resets++;
		this.stateChanged();
		this.log.warn(`mailbox watcher: ${this.protocol.label} "${this.options.mailbox}" folder "${path}": ${reason === 'folderRecreated' ? 'the folder was recreated' : 'the server no longer accepts the sync position'}; syncing it from scratch (messages already received are recognised)`);
		this.emit({ type: 'syncReset', folder: path, reason });
	}

	/** The after-processing actions of messages whose runs succeeded. */
	private async act(client: FolderSyncSession<F>, path: string, fs: SyncFolderState, signal: AbortSignal): Promise<void> {
		const ids = Object.keys(fs.pending).filter((id) => fs.pending[id].s === 'act');
		if (!ids.length) return;
		const target = this.s.afterProcessing === 'move' ? await client.resolveFolder(this.s.moveTo!) : undefined;
		// a session acts on many at once where its server can (Graph: $batch), each message with its own result
		for (let start = 0; start < ids.length; start += ACT_CHUNK) {
			signal.throwIfAborted();
			const chunk = ids.slice(start, start + ACT_CHUNK);
			let results: Array<MailboxError | undefined>;
			try {
				if (this.s.afterProcessing === 'markRead') results = await client.markRead(chunk);
				else if (this.s.afterProcessing === 'move') results = await client.move(chunk, target!);
				else if (this.s.afterProcessing === 'delete') results = await client.delete(chunk, this.s.deleteMode);
				else results = [];
			} catch (error) {
				// a failure of all of them (sign-in, connection): the next poll tries again
				const e = this.mailboxError(error);
				this.emit({ type: 'actionFailed', folder: path, itemId: chunk[0], error: e });
				throw e;
			}
			let failure: MailboxError | undefined;
			// (a result missing: not attempted, left for the next poll)
			for (const [i, id] of chunk.slice(0, results.length).entries()) {
				const e = results[i];
				if (e && !this.protocol.isGone(e)) {
					// left for the next poll
					this.emit({ type: 'actionFailed', folder: path, itemId: id, error: e });
					failure ??= e;
					continue;
				}
				if (e) {
					this.log.info(`mailbox watcher: ${this.protocol.label} "${this.options.mailbox}" folder "${path}": message ${id} is gone; nothing left to do for it`);
					this.emit({ type: 'gone', folder: path, itemId: id });
				}
				finish(fs, id);
				this.stateChanged();
			}
			if (failure) throw failure;
		}
	}

	/**
	 * Pending messages not in flight: runs of several messages recorded before a restart first
	 * (formed again with the members left and the key they had, so n8n refuses a run it has seen),
	 * then failed runs to retry and messages taken in before a restart.
	 */
	private async redeliver(client: FolderSyncSession<F>, path: string, ref: FolderSyncRef, fs: SyncFolderState, signal: AbortSignal, counters: PollCounters): Promise<void> {
		const key = folderKey(path);
		const open = (id: string) => fs.pending[id]?.s === 'new' && !this.inflight.has(`${key}\n${id}`);
		const itemOf = (id: string) => ({ itemId: id, size: fs.pending[id].z });
		for (const [n, [runKey, attempt]] of Object.entries(fs.runs ?? {})) {
			const members = Object.keys(fs.pending).filter((id) => fs.pending[id].u === Number(n));
			const present = members.filter(open);
			if (!present.length) {
				if (!members.some((id) => this.inflight.has(`${key}\n${id}`))) {
					dropRun(fs, Number(n));
					this.stateChanged();
				}
				continue;
			}
			if (!(await this.dispatch(client, path, ref, fs, present.map(itemOf), signal, counters, { n: Number(n), key: runKey, attempt }))) return;
		}
		const due = Object.keys(fs.pending).filter((id) => open(id) && fs.pending[id].u === undefined && this.dispatcher.isDue(this.keyOf(path, id, fs.pending[id])));
		await this.dispatch(client, path, ref, fs, due.map(itemOf), signal, counters);
	}

	private async sync(client: FolderSyncSession<F>, path: string, ref: FolderSyncRef, fs: SyncFolderState, signal: AbortSignal, counters: PollCounters): Promise<void> {
		const key = folderKey(path);
		for (;;) {
			signal.throwIfAborted();
			const firstActivation = fs.activatedAt === undefined ? this.s.firstActivation : undefined;
			const delivering = firstActivation !== 'new';
			const room = this.window.maxCount - this.window.inFlight.count;
			// messages whose runs succeeded wait for their action (done at the start of the next poll):
			// while as many wait as the window holds, no more is taken in, so that the state stays small
			let acting = 0;
			for (const id in fs.pending) if (fs.pending[id].s === 'act') acting++;
			// the window is full (by count, or by bytes: a message taken in earlier found no room)
			if (delivering && (room <= 0 || this.backlog || acting >= this.window.maxCount)) {
				this.backlog = true;
				this.log.debug(`mailbox watcher: ${this.protocol.label} "${this.options.mailbox}": ${this.window.maxCount} runs still going; further changes wait`);
				return;
			}
			const max = delivering ? Math.max(1, Math.min(this.s.pageSize, room)) : this.protocol.largestPage;
			let page: FolderSyncPage;
			try {
				page = await client.syncPage(ref, fs.syncState, max);
			} catch (error) {
				const e = this.mailboxError(error);
				if (this.protocol.isResync(e) && fs.syncState) {
					this.reset(path, fs, 'invalidSyncState');
					continue;
				}
				throw e;
			}
			signal.throwIfAborted();
			const now = this.clock.now();
			const fresh: Array<{ itemId: string; size?: number }> = [];
			for (const change of page.changes) {
				if (change.type !== 'removed') {
					const info = change.item;
					// a message reported as seen may be an older one that changed: compared with what the last good sync knew
					const resyncSince = fs.resyncSince ?? (change.type === 'seen' ? fs.lastSyncAt : undefined);
					// (a message seen again, e.g. after its action, is known also during a first activation)
					const decision =
						change.type === 'seen' && isKnown(fs, info.itemId, info.messageId)
							? 'known'
							: decideCreate(fs, { itemId: info.itemId, messageId: info.messageId, isRead: info.isRead, received: info.received?.getTime() }, { firstActivation, resyncSince });
					if (decision === 'deliver') {
						fs.pending[info.itemId] = { s: 'new', ...(info.messageId ? { m: fingerprint(info.messageId) } : {}), ...(info.received ? { r: info.received.getTime() } : {}), ...(info.size !== undefined ? { z: info.size } : {}) };
						fresh.push({ itemId: info.itemId, size: info.size });
					} else if (firstActivation && (info.received === undefined || info.received.getTime() >= now - RESYNC_MARGIN_MS)) {
						// known at first activation and recent: a reset soon after must not deliver it
						remember(fs, info.itemId, info.messageId);
					}
				} else {
					const id = change.itemId;
					// gone before it was delivered: nothing to deliver any more
					if (fs.pending[id]?.s === 'new' && !this.inflight.has(`${key}\n${id}`)) {
						this.dispatcher.forget(this.keyOf(path, id, fs.pending[id]));
						delete fs.pending[id];
						this.emit({ type: 'gone', folder: path, itemId: id });
					}
				}
			}
			// the new position and the messages it covers are recorded together
			fs.syncState = page.syncState;
			const done = !page.more;
			if (done) {
				fs.lastSyncAt = now;
				if (fs.activatedAt === undefined) {
					fs.activatedAt = now;
					this.log.info(`mailbox watcher: ${this.protocol.label} "${this.options.mailbox}" folder "${path}" starts with ${this.s.firstActivation === 'new' ? 'new mail only' : this.s.firstActivation === 'unread' ? 'its unread mail' : 'all its mail'}`);
				}
				fs.resyncSince = undefined;
			}
			this.stateChanged();
			this.flushState();
			await this.dispatch(client, path, ref, fs, fresh, signal, counters);
			// the window is full (by count or bytes): further changes wait for a later poll
			if (done || this.backlog) return;
		}
	}

	/** Messages per run now: one while `singles` are left (or while runs carry one), else Messages per Run. */
	private perRun(): number {
		return this.state.several && !this.state.singles ? this.messagesPerRun : 1;
	}

	/**
	 * Reads pending messages (size checked first, room in the window first) and hands them over
	 * without waiting for their runs: a run per message, or (several per run) up to Messages per
	 * Run in one run recorded first; `recorded`: a run recorded before, formed again with its key.
	 * False when the window is full (the rest waits for a later poll).
	 */
	private async dispatch(client: FolderSyncSession<F>, path: string, ref: FolderSyncRef, fs: SyncFolderState, items: Array<{ itemId: string; size?: number }>, signal: AbortSignal, counters: PollCounters, recorded?: RecordedRun): Promise<boolean> {
		let group: Array<FolderSyncMessage<F>> = [];
		let room: { count: number; bytes: number } | undefined;
		const close = () => {
			if (!room) return;
			this.handOver(path, fs, group, room, counters, recorded);
			group = [];
			room = undefined;
		};
		if (recorded) {
			// a run formed again takes its room whole: it is never cut (its key must not lose members)
			room = { count: items.length, bytes: items.reduce((sum, i) => sum + (i.size ?? 0), 0) };
			if (!this.window.tryReserve(room.count, room.bytes, 1)) {
				this.backlog = true;
				return false;
			}
		}
		try {
			for (const item of items) {
				signal.throwIfAborted();
				const bytes = item.size ?? 0;
				// (neither EWS nor Graph gives the header block without the whole MIME content: oversized mail is skipped)
				const skip = (size: number) => {
					if (room && (recorded || fetched)) {
						this.window.release(1, bytes, 0);
						room.count--;
						room.bytes -= bytes;
					}
					this.stats.oversized++;
					this.stats.skipped++;
					counters.skipped++;
					finish(fs, item.itemId);
					this.stateChanged();
					this.log.info(`mailbox watcher: ${this.protocol.label} "${this.options.mailbox}" folder "${path}": message ${item.itemId} (${size} bytes) is over the size limit of ${this.maxSize} bytes and was skipped`);
					this.emit({ type: 'skipped', folder: path, itemId: item.itemId, size, reason: 'oversized' });
				};
				let fetched = false;
				if (this.maxSize && item.size !== undefined && item.size > this.maxSize) {
					skip(item.size);
					continue;
				}
				if (!recorded) {
					if (!this.window.tryReserve(1, bytes, room ? 0 : 1)) {
						close();
						this.backlog = true;
						return false;
					}
					room ??= { count: 0, bytes: 0 };
					room.count++;
					room.bytes += bytes;
				}
				let message: F;
				try {
					message = await client.fetch(item.itemId, this.maxSize || undefined);
					fetched = true;
					signal.throwIfAborted();
				} catch (error) {
					const e = error instanceof Reconnect ? error : this.mailboxError(error);
					if (e instanceof MailboxError && this.protocol.isGone(e)) {
						this.window.release(1, bytes, 0);
						room!.count--;
						room!.bytes -= bytes;
						this.dispatcher.forget(this.keyOf(path, item.itemId, fs.pending[item.itemId]));
						delete fs.pending[item.itemId];
						this.stateChanged();
						this.log.info(`mailbox watcher: ${this.protocol.label} "${this.options.mailbox}" folder "${path}": message ${item.itemId} was moved or deleted before it could be delivered`);
						this.emit({ type: 'gone', folder: path, itemId: item.itemId });
						continue;
					}
					throw e;
				}
				// a size the page of changes did not tell (Graph): known with the message, which came without its content
				if (this.maxSize && item.size === undefined && message.size !== undefined && message.size > this.maxSize) {
					skip(message.size);
					continue;
				}
				const key = this.keyOf(path, item.itemId, fs.pending[item.itemId]);
				group.push({ ...message, mailbox: this.options.mailbox, folder: path, folderId: ref.id, attempt: this.dispatcher.attemptOf(key), key, oversized: false } as FolderSyncMessage<F>);
				if (!recorded && group.length >= this.perRun()) close();
			}
			close();
			return true;
		} finally {
			// failed or stopped in the middle of a run: its room goes back (its messages are read again later)
			if (room) this.window.release(room.count, room.bytes, 1);
		}
	}

	/**
	 * Hands a group over (its room reserved, one run's included): one message per run (not
	 * recorded), or one run recorded in the state before it starts.
	 */
	private handOver(path: string, fs: SyncFolderState, group: Array<FolderSyncMessage<F>>, room: { count: number; bytes: number }, counters: PollCounters, recorded?: RecordedRun): void {
		if (!group.length) {
			this.window.release(room.count, room.bytes, 1);
			if (recorded) {
				dropRun(fs, recorded.n);
				this.stateChanged();
			}
			return;
		}
		for (const m of group) this.inflight.add(`${folderKey(path)}\n${m.itemId}`);
		counters.delivered += group.length;
		if (!recorded && !this.state.several) {
			this.send(this.stats, group, room.bytes, (message, settlement) => this.settled(path, fs, message, settlement));
			return;
		}
		const run = recorded ?? { n: newRunNumber(fs), key: group[0].key, attempt: group[0].attempt };
		recordRun(fs, run.n, run.key, run.attempt, group.map((m) => m.itemId));
		if (!recorded && this.state.singles) this.state.singles--;
		this.stateChanged();
		let open = true;
		this.send(
			this.stats,
			group,
			room.bytes,
			(message, settlement) => {
				if (open) {
					open = false;
					dropRun(fs, run.n);
				}
				this.settled(path, fs, message, settlement);
			},
			{ key: run.key, attempt: run.attempt },
		);
	}

	/** The run's key: mailbox, folder and item id (messages taken in by version 1: the Message-ID key they were delivered with). */
	private keyOf(path: string, itemId: string, entry: SyncPendingEntry | undefined): string {
		return `${this.options.mailbox}/${folderKey(path)}/${entry?.l ?? `i:${itemId}`}`;
	}

	private settled(path: string, fs: SyncFolderState, message: FolderSyncMessage<F>, settlement: Settlement): void {
		this.inflight.delete(`${folderKey(path)}\n${message.itemId}`);
		const entry = fs.pending[message.itemId];
		if (entry && settlement !== 'retry') {
			// a run refused as a duplicate, waiting, or failed for good: left as it is (no action)
			if (settlement === 'done' && this.s.afterProcessing !== 'none') {
				entry.s = 'act';
				this.stateChanged();
				this.stream.followUp();
				return;
			}
			finish(fs, message.itemId);
			this.stateChanged();
		}
		if (settlement === 'retry') this.retryWhenDue(this.stream);
		if (this.backlog) this.stream.followUp();
	}
}
