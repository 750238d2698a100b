/**
 * The IMAP source of the delivery core: watches IMAP folders and hands every new message to
 * `deliver` exactly once; acts on it (mark read, move, delete) only after its run succeeded.
 *
 * One stream per folder, on one connection each: connect, SELECT, catch up, then IDLE (or poll);
 * commands of a folder never overlap (one fetch at a time). The delivery core gives the rest: the
 * loop with backoff and health, the run ledger (attempts, retries with their delay, the limit),
 * the window that bounds messages and bytes in flight (reserved before a message is downloaded),
 * and the settlement of every run.
 *
 * The node layer creates the watcher with the state it persisted, calls start() on activation and
 * stop() on deactivation, and persists every state `onState` (and ledger `onLedger`) reports.
 */
import { ImapFlow, type FetchMessageObject, type MessageStructureObject } from 'imapflow';
import { isRejectedToken, MailboxError } from '../../errors';
import { silentLogger, type Logger } from '../../logger';
import { fromImapError, imapOptions, type ImapLogin } from '../connect';
import { guard, Sleeper, systemClock, type BackoffOptions, type Clock } from '../../delivery/clock';
import type { DeliveryEvent, Settlement } from '../../delivery/dispatcher';
import type { HealthEvent } from '../../delivery/health';
import { limitDownloaded, type Delivered } from '../../delivery/message';
import { abortable, Reconnect, Stream } from '../../delivery/stream';
import { DeliveryWatcher, positive, type DeliveryStats, type StartResult as Started, type WatcherOptions } from '../../delivery/watcher';
import { FolderCursor, loadState, messageKey, saveState, type FirstActivation, type WatchState } from './state';
import { expungesWholeFolder } from '../expunge';
import { isGmail, trashFolderOf } from '../gmail';
import { uidSetOf } from '../uid-set';
import { isTokenLogin, type ResolvedServer } from '../../connection/options';

export type AfterProcessing = 'none' | 'markRead' | 'move' | 'delete';

/** What `deliver` gets for each message (`key`: folder, UIDVALIDITY and UID). */
export interface WatchedMessage extends Delivered {
	folder: string;
	uid: number;
	uidValidity: string;
	flags: string[];
	/** RFC822.SIZE (with "fetch unchecked": the downloaded size). */
	size: number;
	internalDate?: Date;
	/** From the envelope, with the angle brackets. */
	messageId?: string;
	/** A delivery status report (multipart/report; report-type=delivery-status). */
	bounce: boolean;
}

export type WatchEvent =
	| ({ folder: string } & HealthEvent)
	| { type: 'uidValidityChanged'; folder: string; previous: string; current: string; handling: 'matchByMessageId' | 'firstActivation' }
	| { type: 'fetched'; folder: string; startedAt: Date; durationMs: number; delivered: number; skipped: number }
	| { type: 'skipped'; folder: string; uid: number; messageId?: string; size: number; reason: 'oversized' | 'alreadyDelivered' }
	| ({ folder: string } & DeliveryEvent<WatchedMessage>)
	| { type: 'accountChanged'; folder: string }
	| { type: 'connected'; folder: string; push: boolean };

export interface FolderStats extends DeliveryStats {
	bounces: number;
	connects: number;
	/** Push by IDLE (false: polling). */
	push: boolean;
}

export type ResetPoint = { fromUid: number } | { since: Date } | { mode: FirstActivation };

export interface ImapWatcherOptions extends WatcherOptions<WatchedMessage, WatchEvent, WatchState> {
	server: ResolvedServer;
	/**
	 * A login, or a function giving one for each connection (renewed OAuth2 tokens). Called with
	 * the access token the server has just rejected, it renews the token (once per rejection).
	 */
	login: ImapLogin | ((rejectedToken?: string) => Promise<ImapLogin>);
	/** Folder paths; default ['INBOX']. */
	folders?: string[];
	/** For folders without state; default 'new'. */
	firstActivation?: FirstActivation;
	/** Done on the server only after the run succeeded; default 'none'. */
	afterProcessing?: AfterProcessing;
	/** Target folder of 'move'. */
	moveTo?: string;
	/**
	 * The server is Gmail (known from the sign-in; Gmail also says so with X-GM-EXT-1): 'delete'
	 * moves to the \Trash folder, as expunging only removes a label there.
	 */
	gmail?: boolean;
	/** After a UIDVALIDITY change: recognise recently delivered messages by Message-ID (default true). */
	matchByMessageId?: boolean;
	/** How many recent Message-IDs each folder keeps (default 500). */
	recentLimit?: number;
	/** 'idle' (default; polls when the server has no IDLE) or 'poll' (every `pollIntervalMs`, default 60 s). */
	mode?: 'idle' | 'poll';
	/** IDLE is ended, the folder re-checked and IDLE restarted after this long (default 5 min). */
	maxIdleMs?: number;
	/** UIDs per FETCH of metadata (default 100). */
	fetchBatchSize?: number;
	/** Short commands (SELECT, SEARCH, NOOP, STORE) without an answer in this time drop the connection (default 60 s). */
	responseTimeoutMs?: number;
}

export interface StartResult extends Started {
	folder: string;
}

const MIN = 60_000;

type Settings = ReturnType<typeof defaults>;

function defaults(options: ImapWatcherOptions) {
	return {
		folders: options.folders?.length ? [...new Set(options.folders)] : ['INBOX'],
		firstActivation: options.firstActivation ?? 'new',
		afterProcessing: options.afterProcessing ?? 'none',
		moveTo: options.moveTo,
		gmail: options.gmail === true,
		matchByMessageId: options.matchByMessageId ?? true,
		recentLimit: options.recentLimit ?? 500,
		oversized: options.oversized ?? 'headers',
		mode: options.mode ?? 'idle',
		pollIntervalMs: positive(options.pollIntervalMs, MIN),
		maxIdleMs: positive(options.maxIdleMs, 5 * MIN),
		fetchBatchSize: Math.floor(positive(options.fetchBatchSize, 100)),
		stuckAfterMs: positive(options.stuckAfterMs, 30 * MIN),
		responseTimeoutMs: positive(options.responseTimeoutMs, MIN),
		logger: (options.logger ?? silentLogger) as Logger,
		clock: (options.clock ?? systemClock) as Clock,
	};
}

/** Top-level multipart/report; report-type=delivery-status. */
export function isDeliveryStatusReport(structure: MessageStructureObject | undefined): boolean {
	if (!structure) return false;
	return structure.type?.toLowerCase() === 'multipart/report' && String(structure.parameters?.['report-type'] ?? '').toLowerCase() === 'delivery-status';
}

interface Meta {
	uid: number;
	flags: string[];
	size: number;
	internalDate?: Date;
	messageId?: string;
	bounce: boolean;
}

function metaOf(msg: FetchMessageObject): Meta {
	return {
		uid: msg.uid,
		flags: msg.flags ? [...msg.flags] : [],
		size: msg.size ?? 0,
		internalDate: msg.internalDate ? new Date(msg.internalDate) : undefined,
		messageId: msg.envelope?.messageId || undefined,
		bounce: isDeliveryStatusReport(msg.bodyStructure),
	};
}

const SEARCH_DAY = 24 * 60 * MIN;

class FolderWatcher {
	stats: FolderStats = { fetches: 0, delivered: 0, acknowledged: 0, failed: 0, skipped: 0, oversized: 0, bounces: 0, connects: 0, failing: false, push: false };
	readonly stream: Stream;
	private client?: ImapFlow;
	private fetchRequested = true;
	private flushRequested = false;
	private idling = false;
	private resetRequest?: ResetPoint;
	/** Delivered, not settled: uid -> the message's recent key, for the current UIDVALIDITY. */
	private readonly inflight = new Map<number, string>();
	/** Keys of deliveries of an earlier UIDVALIDITY still in flight. */
	private readonly staleKeys = new Set<string>();
	/** UIDs of the current UIDVALIDITY whose message's run under the earlier one is still going: uid -> its recent key. */
	private readonly deferred = new Map<number, string>();
	/** UIDs whose failed run waits for its retry (above lastUid: they go to `pending` when the cursor passes them). */
	private readonly waiting = new Set<number>();
	/** The next candidate above the cursor not yet handled by the running fetch (Infinity: none running). */
	private frontier = Infinity;
	/** The highest UID the last search looked at. */
	private examined = 0;
	private readonly sleeper: Sleeper;
	private uidNext = 0;
	private idleTimer?: unknown;
	private breakTimer?: unknown;
	/** Gmail's Trash folder, where Delete moves messages (found once). */
	private gmailTrash?: string;

	constructor(
		private readonly owner: ImapWatcher,
		readonly folder: string,
	) {
		const s = owner.settings;
		this.sleeper = new Sleeper(s.clock);
		this.stream = new Stream({
			name: `Mailbox folder "${folder}"`,
			clock: s.clock,
			logger: s.logger,
			backoff: owner.backoffOptions,
			intervalMs: 0,
			followUpDelayMs: 0,
			stuckAfterMs: 0,
			pass: (signal) => this.pass(signal),
			toError: (error) => (error instanceof MailboxError ? error : fromImapError(error, owner.server)),
			report: (event) => {
				this.stats.failing = event.type !== 'recovered';
				owner.emit({ ...event, folder });
			},
		});
	}

	private get s(): Settings {
		return this.owner.settings;
	}
	private get log(): Logger {
		return this.s.logger;
	}
	private get cursor(): FolderCursor | undefined {
		return this.owner.cursors.get(this.folder);
	}

	async stop(): Promise<void> {
		this.clearTimers();
		const client = this.client;
		if (client && this.idling) {
			// runs that succeeded since the last flush: acted on before the session ends
			if (this.cursor?.actions.size) await this.owner.atStop(() => this.flushActions(client));
			await guard(client.logout(), 2_000, () => client.close(), () => new Error('logout timed out'), this.s.clock).catch(() => client.close());
		}
		this.sleeper.wake();
		await this.stream.stop();
	}

	/** Ask for a fetch (new mail, manual, a retry due), or an action flush. */
	request(kind: 'fetch' | 'flush'): void {
		if (this.stream.isStopped) return;
		if (kind === 'fetch') this.fetchRequested = true;
		else this.flushRequested = true;
		this.breakWait();
	}

	reset(point: ResetPoint): void {
		this.resetRequest = point;
		this.request('fetch');
	}

	abandon(): void {
		this.stream.abandon();
		this.sleeper.wake();
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
		this.sleeper.wake();
	}

	/** A fetch when the next failed run's retry is due (the ledger knows when). */
	private retryLater(): void {
		this.owner.retryWhenDue(this.stream, () => this.request('fetch'));
	}

	private clearTimers(): void {
		if (this.idleTimer !== undefined) this.s.clock.clearTimeout(this.idleTimer);
		if (this.breakTimer !== undefined) this.s.clock.clearTimeout(this.breakTimer);
		this.idleTimer = undefined;
		this.breakTimer = undefined;
	}

	/** A client for one connection, wired to this folder (not connected yet). */
	private connection(login: ImapLogin): ImapFlow {
		const client = new ImapFlow(imapOptions(this.owner.server, login, this.log));
		client.on('error', (err: unknown) => this.log.warn(`mailbox watcher: folder "${this.folder}": connection error: ${fromImapError(err, this.owner.server, login).message}`));
		client.on('exists', (data: { count?: number; prevCount?: number }) => {
			if (this.client === client && (data.count ?? 0) > (data.prevCount ?? 0)) this.request('fetch');
		});
		client.on('close', () => {
			if (this.client === client) this.sleeper.wake();
		});
		return client;
	}

	private async pass(signal: AbortSignal): Promise<void> {
		const loginOf = this.owner.login;
		let login = typeof loginOf === 'function' ? await abortable(loginOf(), signal) : loginOf;
		let client = this.connection(login);
		const drop = () => client.close();
		signal.addEventListener('abort', drop);
		try {
			try {
				await client.connect();
			} catch (error) {
				const refused = fromImapError(error, this.owner.server, login);
				// an access token the server rejected before its known expiry (revoked, or the
				// credential changed): renewed once, and the login tried once more at once
				if (typeof loginOf !== 'function' || !isTokenLogin(login) || !isRejectedToken(refused)) throw refused;
				this.log.debug(`mailbox watcher: folder "${this.folder}": the server rejected the access token; renewing it`);
				client.close();
				login = await abortable(loginOf(login.accessToken), signal);
				client = this.connection(login);
				try {
					await client.connect();
				} catch (again) {
					throw fromImapError(again, this.owner.server, login);
				}
			}
			if (signal.aborted) throw new Reconnect('stopped');
			await this.session(client, signal);
		} finally {
			signal.removeEventListener('abort', drop);
			this.clearTimers();
			this.idling = false;
			this.client = undefined;
			client.close();
		}
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
					reason: 'STUCK',
				}),
			this.s.clock,
		);
	}

	private async session(client: ImapFlow, signal: AbortSignal): Promise<void> {
		this.client = client;
		this.stats.connects++;
		const mailbox = await this.quick(client, client.mailboxOpen(this.folder), 'Opening the folder');
		this.uidNext = Number(mailbox.uidNext ?? 0);
		this.checkExpunge(client);
		await this.checkState(String(mailbox.uidValidity));
		const push = this.s.mode === 'idle' && client.capabilities.has('IDLE');
		this.stats.push = push;
		this.owner.emit({ type: 'connected', folder: this.folder, push });
		this.stream.health.settle();
		this.log.info(`mailbox watcher: folder "${this.folder}" opened, ${push ? 'waiting for new mail by IDLE' : `polling every ${Math.round(this.s.pollIntervalMs / 1000)} s`}`);
		// a backlog fires no event: catch up explicitly after every (re)connect
		this.fetchRequested = true;
		while (!signal.aborted) {
			if (!client.usable) throw new MailboxError('CONNECTION_CLOSED', `The server closed the connection of folder "${this.folder}".`, { step: 'command' });
			// a run settling during the flush asks again: its action is flushed on the next turn, not after IDLE times out
			this.flushRequested = false;
			if (this.cursor?.actions.size) await this.flushActions(client);
			if (this.resetRequest) this.applyReset();
			if (this.fetchRequested) {
				this.fetchRequested = false;
				await this.cycle(client, signal);
				this.stream.health.succeeded();
				continue;
			}
			if (signal.aborted) break;
			// asked to flush meanwhile (the request woke no wait): flushed now
			if (this.flushRequested) continue;
			if (push) {
				await this.idle(client, signal);
			} else {
				await this.sleeper.sleep(this.s.pollIntervalMs);
				if (!this.fetchRequested && !this.flushRequested && !signal.aborted) {
					if (!client.usable) throw new Reconnect('the connection closed between two polls');
					this.fetchRequested = true;
				}
			}
		}
	}

	/** IDLE until new mail, a request, or maxIdleMs (then a re-check, which also proves the connection alive). */
	private async idle(client: ImapFlow, signal: AbortSignal): Promise<void> {
		if (this.fetchRequested || this.flushRequested) return;
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
			this.clearTimers();
		}
		if (signal.aborted) return;
		if (!client.usable) throw new MailboxError('CONNECTION_CLOSED', `The connection of folder "${this.folder}" closed while waiting for new mail.`, { step: 'command' });
		if (result === false) throw new MailboxError('PROTOCOL', `The server refused IDLE on folder "${this.folder}".`, { step: 'command' });
		if (timedOut) this.log.debug(`mailbox watcher: folder "${this.folder}": re-checking after ${Math.round(this.s.maxIdleMs / 1000)} s of IDLE`);
	}

	private async search(client: ImapFlow, query: Parameters<ImapFlow['search']>[0], what: string): Promise<number[]> {
		const found = await this.quick(client, client.search(query, { uid: true }), what);
		return Array.isArray(found) ? found : [];
	}

	private async checkState(uidValidity: string): Promise<void> {
		const previous = this.cursor;
		const mode = this.s.firstActivation;
		if (!previous) {
			this.owner.setCursor(this.folder, FolderCursor.initial(uidValidity, this.uidNext, mode));
			this.log.info(`mailbox watcher: folder "${this.folder}" starts with ${mode === 'new' ? 'new mail only' : mode === 'unseen' ? 'its unseen messages, then new mail' : 'every message'}`);
			return;
		}
		if (previous.uidValidity === uidValidity) return;
		for (const key of this.inflight.values()) this.staleKeys.add(key);
		// recently delivered messages, or runs still going, are matched by Message-ID
		const matching = this.s.matchByMessageId && (previous.recent.length > 0 || this.staleKeys.size > 0);
		this.inflight.clear();
		this.waiting.clear();
		this.deferred.clear();
		const next = matching ? FolderCursor.matching(uidValidity, this.uidNext, previous.recent) : FolderCursor.initial(uidValidity, this.uidNext, mode, previous.recent);
		this.examined = next.lastUid;
		this.owner.setCursor(this.folder, next);
		this.log.warn(`mailbox watcher: folder "${this.folder}": UIDVALIDITY changed from ${previous.uidValidity} to ${uidValidity}; ${matching ? 'recently delivered messages are recognised by Message-ID' : `starting again as on first activation (${mode})`}`);
		this.owner.emit({ type: 'uidValidityChanged', folder: this.folder, previous: previous.uidValidity, current: uidValidity, handling: matching ? 'matchByMessageId' : 'firstActivation' });
	}

	private applyReset(): void {
		const point = this.resetRequest;
		this.resetRequest = undefined;
		const cursor = this.cursor;
		if (!point || !cursor) return;
		let next: FolderCursor;
		if ('mode' in point) {
			next = FolderCursor.initial(cursor.uidValidity, this.uidNext, point.mode, cursor.recent);
			for (const u of cursor.actions) next.actions.add(u);
		} else {
			next = cursor.reloaded('fromUid' in point ? point : { since: point.since, top: Math.max(0, this.uidNext - 1) });
		}
		this.waiting.clear();
		this.deferred.clear();
		this.examined = next.lastUid;
		this.owner.setCursor(this.folder, next);
		this.fetchRequested = true;
	}

	/** Without UIDPLUS, EXPUNGE would also remove messages other clients marked \\Deleted: refused before anything is delivered. */
	private checkExpunge(client: ImapFlow): void {
		const action = this.s.afterProcessing;
		if ((action !== 'delete' && action !== 'move') || !expungesWholeFolder(client.capabilities, action)) return;
		const verb = action === 'move' ? 'moving' : 'deleting';
		throw new MailboxError('CONFIG', `The server offers neither ${action === 'move' ? 'MOVE nor ' : ''}UIDPLUS, so ${verb} a message in folder "${this.folder}" would also expunge the messages other mail clients marked as deleted.`, {
			field: 'afterProcessing',
			step: 'command',
			hint: 'Choose "Mark as Read", or "Move to a Folder" on a server that offers MOVE.',
		});
	}

	private async flushActions(client: ImapFlow): Promise<void> {
		const cursor = this.cursor;
		if (!cursor?.actions.size) return;
		const uids = [...cursor.actions];
		const set = uidSetOf(uids);
		const action = this.s.afterProcessing;
		if (action === 'markRead') {
			await this.quick(client, client.messageFlagsAdd(set, ['\\Seen'], { uid: true }), 'Marking messages as read');
		} else if (action === 'move') {
			if (!this.s.moveTo) throw new MailboxError('CONFIG', 'After processing is "move", but no target folder is set.', { field: 'moveTo', step: 'config' });
			const moved = await this.quick(client, client.messageMove(set, this.s.moveTo, { uid: true }), 'Moving messages');
			if (moved === false) throw new MailboxError('SERVER', `Moving messages from "${this.folder}" to "${this.s.moveTo}" failed. Check that the folder "${this.s.moveTo}" exists.`, { field: 'moveTo', step: 'command' });
		} else if (action === 'delete') {
			// Gmail: expunging only removes the folder's label (the message stays in All Mail); deleted is moved to Trash
			const trash = this.s.gmail || isGmail(client.capabilities) ? (this.gmailTrash ??= await this.quick(client, trashFolderOf(client), 'Finding the Trash folder')) : undefined;
			if (trash && trash !== this.folder) {
				const moved = await this.quick(client, client.messageMove(set, trash, { uid: true }), 'Moving messages to Trash');
				if (moved === false) throw new MailboxError('SERVER', `Moving messages from "${this.folder}" to Gmail's Trash "${trash}" failed.`, { field: 'afterProcessing', step: 'command' });
			} else {
				await this.quick(client, client.messageDelete(set, { uid: true }), 'Deleting messages');
			}
		}
		const current = this.cursor;
		if (current && current.uidValidity === cursor.uidValidity) {
			for (const u of uids) current.actions.delete(u);
			this.owner.stateChanged();
		}
	}

	private keyOf(uidValidity: string, uid: number): string {
		return `${this.folder}/${uidValidity}/${uid}`;
	}

	/** Moves the cursor over what is settled, up to the first message in flight or not yet handled. */
	private advance(): void {
		const cursor = this.cursor;
		if (!cursor) return;
		let limit = Math.min(this.frontier - 1, this.examined);
		for (const u of this.inflight.keys()) if (u > cursor.lastUid && u - 1 < limit) limit = u - 1;
		if (cursor.advance(limit, this.waiting)) {
			for (const u of this.waiting) if (u <= cursor.lastUid) this.waiting.delete(u);
			this.owner.stateChanged();
		}
	}

	private async list(client: ImapFlow, cursor: FolderCursor): Promise<number[]> {
		const found: number[] = [];
		let from = cursor.lastUid + 1;
		if (cursor.filter) {
			const range = `${from}:${cursor.filterTo}`;
			const f = cursor.filter;
			// SEARCH SINCE is by day in the server's time zone: for matching one day earlier, the exact time is checked per message
			const query = f.kind === 'unseen' ? { uid: range, seen: false } : { uid: range, since: new Date(f.kind === 'match' ? f.at - SEARCH_DAY : f.at) };
			for (const u of await this.search(client, query, 'Searching the backlog')) if (u >= from && u <= cursor.filterTo) found.push(u);
			from = cursor.filterTo + 1;
			this.examined = Math.max(this.examined, cursor.filterTo);
		}
		for (const u of await this.search(client, { uid: `${from}:*` }, 'Searching new mail')) {
			if (u >= from) found.push(u);
			if (u > this.examined) this.examined = u;
		}
		if (this.uidNext - 1 > this.examined) this.examined = this.uidNext - 1;
		if (cursor.pending.size) {
			const existing = await this.search(client, { uid: uidSetOf(cursor.pending) }, 'Searching pending mail');
			const before = [...cursor.pending];
			if (cursor.prunePending(existing)) {
				for (const u of before) if (!cursor.pending.has(u)) this.owner.dispatcher.forget(this.keyOf(cursor.uidValidity, u));
				this.owner.stateChanged();
			}
			for (const u of cursor.pending) found.push(u);
		}
		return [...new Set(found)].sort((a, b) => a - b);
	}

	private async cycle(client: ImapFlow, signal: AbortSignal): Promise<void> {
		const cursor = this.cursor;
		if (!cursor) return;
		const startedAt = this.s.clock.now();
		let delivered = 0;
		let skipped = 0;
		this.examined = cursor.lastUid;
		// nothing is handed over yet: settlements of earlier runs may not pass what this fetch finds
		this.frontier = cursor.lastUid + 1;
		const candidates: number[] = [];
		for (const u of await this.list(client, cursor)) {
			if (!cursor.isOpen(u) || this.inflight.has(u)) continue;
			if (!this.owner.dispatcher.isDue(this.keyOf(cursor.uidValidity, u))) this.waiting.add(u);
			else candidates.push(u);
		}
		this.retryLater();
		if (cursor.runsCarry(this.owner.messagesPerRun > 1, this.owner.window.maxCount)) this.owner.stateChanged();
		const current = () => !signal.aborted && this.cursor === cursor;
		let completed = false;
		try {
			const formed = await this.formRecorded(client, cursor, candidates, current);
			if (formed === undefined) return;
			delivered += formed.delivered;
			if (formed.members.size) candidates.splice(0, candidates.length, ...candidates.filter((u) => !formed.members.has(u)));
			for (let i = 0; i < candidates.length && current(); i += this.s.fetchBatchSize) {
				const chunk = candidates.slice(i, i + this.s.fetchBatchSize);
				this.frontier = chunk[0];
				const meta = await this.fetchMeta(client, chunk);
				let next = 0;
				while (next < meta.length && current()) {
					const m = meta[next];
					this.frontier = m.uid;
					if (this.skipMatched(cursor, m) || (this.isOversized(m) && this.skipOversized(cursor, m))) {
						skipped++;
						next++;
						this.frontier = meta[next]?.uid ?? chunk[chunk.length - 1] + 1;
						this.advance();
						continue;
					}
					// room in the window first, then download: what is fetched ahead is bounded too. One run
					// per message, or (several per run) the group is one run
					const perRun = cursor.singles > 0 ? 1 : this.owner.messagesPerRun;
					const group: Meta[] = [];
					if (!(await this.owner.window.reserve(1, this.bytes(m), 1))) return;
					group.push(m);
					while (next + group.length < meta.length && (perRun === 1 ? !cursor.several : group.length < perRun)) {
						const n = meta[next + group.length];
						if (this.isOversized(n) || cursor.filter?.kind === 'match' || this.deferred.has(n.uid) || !this.owner.window.tryReserve(1, this.bytes(n), perRun === 1 ? 1 : 0)) break;
						group.push(n);
					}
					next += group.length;
					delivered += await this.download(client, cursor, group, current, cursor.several ? 'run' : 'single');
					this.frontier = meta[next]?.uid ?? chunk[chunk.length - 1] + 1;
					this.advance();
				}
				// a long backlog: what succeeded so far is marked, moved or deleted now, not at its end
				if (current() && cursor.actions.size) await this.flushActions(client);
			}
			completed = current();
		} finally {
			// cut short (a dropped connection, stop): settlements may move the cursor only up to what was handed over
			if (!completed) this.examined = Math.min(this.examined, this.frontier - 1);
			this.frontier = Infinity;
		}
		if (current()) this.advance();
		this.owner.emit({ type: 'fetched', folder: this.folder, ...this.owner.fetched(this.stats, startedAt), delivered, skipped });
	}

	private isOversized(m: Meta): boolean {
		return this.owner.overByListing(m.size);
	}

	/**
	 * After a UIDVALIDITY change: received before the recent ones, or recently delivered by
	 * Message-ID. One whose run under the earlier UIDVALIDITY still goes waits for its end.
	 */
	private skipMatched(cursor: FolderCursor, m: Meta): boolean {
		const f = cursor.filter;
		const deferred = this.deferred.get(m.uid);
		if (deferred === undefined && (f?.kind !== 'match' || m.uid > cursor.filterTo)) return false;
		const key = deferred ?? messageKey(m.messageId, m.internalDate, m.size);
		const before = deferred === undefined && (m.internalDate?.getTime() ?? 0) < (f?.kind === 'match' ? f.at : 0);
		if (!before && this.staleKeys.has(key)) {
			this.deferred.set(m.uid, key);
			this.waiting.add(m.uid);
			return true;
		}
		this.deferred.delete(m.uid);
		if (!before && !cursor.isRecent(key)) return false;
		cursor.settle(m.uid);
		this.owner.stateChanged();
		if (!before) this.owner.emit({ type: 'skipped', folder: this.folder, uid: m.uid, messageId: m.messageId, size: m.size, reason: 'alreadyDelivered' });
		return true;
	}

	/** Oversized and skipped (by its listed size, or after download): settled, reported. */
	private skipOversized(cursor: FolderCursor, m: Meta, size = m.size): boolean {
		if (!this.owner.skipOversized(this.stats, `folder "${this.folder}": message ${m.uid}`, size, () => cursor.settle(m.uid))) return false;
		this.owner.emit({ type: 'skipped', folder: this.folder, uid: m.uid, messageId: m.messageId, size, reason: 'oversized' });
		return true;
	}

	/** Flags, size, dates, envelope and structure of these UIDs (those still there), in UID order. */
	private async fetchMeta(client: ImapFlow, uids: number[]): Promise<Meta[]> {
		const found = await this.slow(client, client.fetchAll(uidSetOf(uids), { uid: true, flags: true, size: true, internalDate: true, envelope: true, bodyStructure: true }, { uid: true }), 'Fetching message sizes');
		return found.map(metaOf).sort((a, b) => a.uid - b.uid);
	}

	private bytes(m: Meta): number {
		return this.isOversized(m) ? 0 : m.size;
	}

	/**
	 * Runs of several messages recorded before (a restart, a dropped connection) are formed again
	 * first, with the members still there and the key they had, so n8n refuses a run it has seen
	 * and none of its messages runs in another one. Records of runs whose members are gone or
	 * settled are dropped. Resolves with the members handed over (undefined: stopped).
	 */
	private async formRecorded(client: ImapFlow, cursor: FolderCursor, candidates: number[], current: () => boolean): Promise<{ delivered: number; members: Set<number> } | undefined> {
		const members = new Set<number>();
		let delivered = 0;
		if (!cursor.runs.size) return { delivered, members };
		const open = new Set(candidates);
		for (const [first, run] of [...cursor.runs]) {
			if (!current()) return undefined;
			const present = run.uids.filter((u) => open.has(u));
			for (const u of present) members.add(u);
			if (!present.length) {
				if (!run.uids.some((u) => this.inflight.has(u))) {
					cursor.runs.delete(first);
					this.owner.stateChanged();
				}
				continue;
			}
			const meta = await this.fetchMeta(client, present);
			if (!meta.length) continue;
			if (!(await this.owner.window.reserve(meta.length, meta.reduce((sum, m) => sum + this.bytes(m), 0), 1))) return undefined;
			delivered += await this.download(client, cursor, meta, current, first);
		}
		return { delivered, members };
	}

	/**
	 * Downloads a group (room reserved) and hands it over: 'single', a run per message (not
	 * recorded); 'run', one recorded run; a UID, the recorded run of that key formed again.
	 * Returns how many were handed over.
	 */
	private async download(client: ImapFlow, cursor: FolderCursor, group: Meta[], current: () => boolean, as: 'single' | 'run' | number): Promise<number> {
		const window = this.owner.window;
		const single = as === 'single';
		const recorded = typeof as === 'number' ? as : undefined;
		const whole = group.filter((m) => !this.isOversized(m));
		const big = group.filter((m) => this.isOversized(m));
		const sources = new Map<number, Buffer>();
		const headers = new Map<number, Buffer>();
		// failed or cut short: the room goes back (the messages are fetched again later)
		const fetched = await this.owner.reserved(
			group.length,
			group.reduce((sum, m) => sum + this.bytes(m), 0),
			single ? group.length : 1,
			async () => {
				if (whole.length) {
					for (const m of await this.slow(client, client.fetchAll(uidSetOf(whole.map((x) => x.uid)), { uid: true, source: true }, { uid: true }), 'Fetching messages')) if (m.source) sources.set(m.uid, m.source);
				}
				if (big.length && this.s.oversized === 'headers') {
					for (const m of await this.slow(client, client.fetchAll(uidSetOf(big.map((x) => x.uid)), { uid: true, headers: true }, { uid: true }), 'Fetching headers')) if (m.headers) headers.set(m.uid, m.headers);
				}
				return true;
			},
			current,
		);
		if (!fetched) return 0;
		const messages: WatchedMessage[] = [];
		const sizes: number[] = [];
		for (const m of group) {
			const source = sources.get(m.uid);
			let item: Pick<WatchedMessage, 'oversized' | 'source' | 'headers' | 'size'>;
			if (this.isOversized(m)) item = { oversized: true, source: undefined, headers: headers.get(m.uid), size: m.size };
			else if (!source) {
				// gone between the two FETCHes (expunged): left for the next fetch, which won't find it
				window.release(1, this.bytes(m), single ? 1 : 0);
				continue;
			} else item = limitDownloaded(source, this.owner.maxSize, this.s.oversized);
			if (item.oversized && !this.isOversized(m) && this.skipOversized(cursor, m, item.size)) {
				window.release(1, this.bytes(m), single ? 1 : 0);
				continue;
			}
			if (m.bounce) this.stats.bounces++;
			const key = this.keyOf(cursor.uidValidity, m.uid);
			messages.push({
				folder: this.folder,
				uid: m.uid,
				uidValidity: cursor.uidValidity,
				flags: m.flags,
				internalDate: m.internalDate,
				messageId: m.messageId,
				bounce: m.bounce,
				attempt: this.owner.dispatcher.attemptOf(key),
				key,
				...item,
				size: item.oversized ? item.size : m.size || item.size,
			});
			sizes.push(this.bytes(m));
			this.inflight.set(m.uid, messageKey(m.messageId, m.internalDate, m.size));
		}
		if (single) {
			messages.forEach((message, i) => this.owner.send(this.stats, [message], sizes[i], (_, settlement) => this.settled(message, settlement)));
			return messages.length;
		}
		if (!messages.length) {
			window.release(0, 0, 1);
			if (recorded !== undefined) cursor.runs.delete(recorded);
			return 0;
		}
		// the run is recorded before it starts (send reports the state at once, the emit saves it)
		const first = recorded ?? messages[0].uid;
		const run = cursor.runs.get(first) ?? { attempt: messages[0].attempt, uids: [] };
		run.uids = messages.map((m) => m.uid);
		cursor.runs.set(first, run);
		if (recorded === undefined && cursor.singles > 0) cursor.singles--;
		let open = true;
		this.owner.send(
			this.stats,
			messages,
			sizes.reduce((a, b) => a + b, 0),
			(message, settlement) => {
				if (open) {
					open = false;
					if (this.cursor === cursor) cursor.runs.delete(first);
				}
				this.settled(message, settlement);
			},
			{ key: this.keyOf(cursor.uidValidity, first), attempt: run.attempt },
		);
		return messages.length;
	}

	private settled(m: WatchedMessage, settlement: Settlement): void {
		const recentKey = messageKey(m.messageId, m.internalDate, m.size);
		this.staleKeys.delete(recentKey);
		const cursor = this.cursor;
		if (!cursor) return;
		// a message that waited for this run (under the earlier UIDVALIDITY) is decided now
		if (this.deferred.size && [...this.deferred.values()].includes(recentKey)) this.request('fetch');
		if (cursor.uidValidity === m.uidValidity) {
			this.inflight.delete(m.uid);
			if (settlement === 'retry') {
				this.waiting.add(m.uid);
				this.retryLater();
			} else {
				cursor.settle(m.uid);
				if (settlement === 'done' && this.s.afterProcessing !== 'none') {
					cursor.actions.add(m.uid);
					this.request('flush');
				}
			}
			this.advance();
		}
		if (settlement === 'done' || settlement === 'untouched') cursor.addRecent(recentKey, m.internalDate?.getTime() ?? 0, this.s.recentLimit);
		this.owner.stateChanged();
	}
}

/**
 * The engine of the IMAP trigger. Create it with the persisted state, `start()` it, persist what
 * `onState` and `onLedger` report, `stop()` it. Never throws from its background work: failures
 * are reported through `onEvent` (failing / updated / recovered) and retried with backoff.
 */
export class ImapWatcher extends DeliveryWatcher<WatchedMessage, WatchEvent, WatchState> {
	readonly settings: Settings;
	readonly server: ResolvedServer;
	readonly login: ImapLogin | ((rejectedToken?: string) => Promise<ImapLogin>);
	readonly backoffOptions: BackoffOptions;
	readonly cursors: Map<string, FolderCursor>;
	private readonly account?: string;
	private readonly folders = new Map<string, FolderWatcher>();
	private running = false;

	constructor(options: ImapWatcherOptions) {
		super(options, 'mailbox-imap');
		this.settings = defaults(options);
		this.server = options.server;
		this.login = options.login;
		this.backoffOptions = options.backoff ?? {};
		this.account = options.account;
		this.cursors = loadState(options.state, options.account).folders;
		if (this.settings.afterProcessing === 'move' && !this.settings.moveTo) {
			throw new MailboxError('CONFIG', 'After processing is "move", but no target folder is set.', { field: 'moveTo', step: 'config', hint: 'Choose the folder processed mail is moved to.' });
		}
		for (const folder of this.settings.folders) this.folders.set(folder, new FolderWatcher(this, folder));
	}

	protected deliveryEvent(event: DeliveryEvent<WatchedMessage>): WatchEvent {
		return { ...event, folder: event.message.folder };
	}

	/**
	 * Starts watching every folder. Resolves once each folder has connected and opened its folder
	 * (the catch-up runs on in the background), or failed its first attempt (then `error` is set and the watcher keeps retrying with backoff).
	 * Never rejects.
	 */
	async start(): Promise<StartResult[]> {
		if (this.running) return [...this.folders.keys()].map((folder) => ({ folder }));
		this.running = true;
		const folders = [...this.folders.values()];
		const errors = await this.begin(
			folders.map((f) => f.stream),
			() => folders.forEach((f) => this.emit({ type: 'accountChanged', folder: f.folder })),
		);
		return folders.map((f, i) => (errors[i] ? { folder: f.folder, error: errors[i] } : { folder: f.folder }));
	}

	/** Stops every folder: connections closed, nothing more delivered. Settlements arriving later still update the state. */
	async stop(): Promise<void> {
		this.running = false;
		await this.end([...this.folders.values()]);
	}

	/** A copy of the state, for persisting. */
	getState(): WatchState {
		return saveState(this.cursors, this.account);
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

	/** @internal A new cursor (first activation, UIDVALIDITY change, reload): no run of it can be under way. */
	setCursor(folder: string, cursor: FolderCursor): void {
		cursor.several = this.messagesPerRun > 1;
		this.cursors.set(folder, cursor);
		this.stateChanged();
	}
}
