/**
 * What every source's watcher shares: the options of the delivery core, the window, the run
 * ledger and dispatcher, the state reported after changes (coalesced per tick, at once before an
 * event an n8n emit saves it with), events that never throw into the source, and the account a
 * saved state belongs to. The IMAP, POP3 and EWS watchers extend it with their loop and state.
 */
import type { MailboxError } from '../errors';
import { silentLogger, type Logger } from '../logger';
import { systemClock, type BackoffOptions, type Clock } from './clock';
import { Dispatcher, type Deliver, type DeliveryEvent, type DeliveryMessage, type Settlement } from './dispatcher';
import type { HealthEvent } from './health';
import { RunLedger, type LedgerState, type RetryPolicy } from './ledger';
import { abortable, Stream, type StreamOptions } from './stream';
import { Window } from './window';

export interface WatcherOptions<M, E, S> {
	/** What the node persisted before (anything: unusable parts are dropped). */
	state?: unknown;
	/** The account the state belongs to (see accountId); a state of another account is not used. */
	account?: string;
	/** The run ledger persisted before (or an earlier release's failed runs). */
	runs?: unknown;
	/** Before every run's deduplication key. */
	keyPrefix?: string;
	/** Failed runs: retried (default), how often, how soon. */
	retry?: RetryPolicy;
	/** Messages in flight (delivered, run not settled) at most (default 100, or what maxRuns full runs carry when that is more); more waits. */
	maxInFlight?: number;
	/** Runs in flight at most (default: no limit beyond maxInFlight). */
	maxRuns?: number;
	/** Messages one run carries at most (default 1). */
	messagesPerRun?: number;
	/** Bytes of the messages in flight at most, downloads included (default 16 MiB); with nothing in flight one message fits whatever its size. */
	maxInFlightBytes?: number;
	/** Messages larger than this (bytes) are oversized; 0 = no limit (default). */
	maxSizeBytes?: number;
	/** Oversized: delivered with headers only and `oversized: true` (default), or skipped (reported as an event). */
	oversized?: 'headers' | 'skip';
	/** Download first, check the size after (for servers whose listed sizes are wrong). */
	fetchUnchecked?: boolean;
	/** Time between polls (IMAP without IDLE, POP3, EWS). */
	pollIntervalMs?: number;
	/** A poll this much later after settlements that make an action due or free room (default 1 s; coalesced). */
	followUpDelayMs?: number;
	/** A fetch running longer than this is abandoned: its connection is dropped (default 30 min). */
	stuckAfterMs?: number;
	/**
	 * A run n8n has not reported as ended after this long no longer counts against maxRuns and
	 * maxInFlight (its end is still awaited and applied); 0: a run counts until it ends (default 60 min).
	 */
	lostAfterMs?: number;
	/** At a stop, the after-processing actions of runs that succeeded are still done, for at most this long (default 10 s; 0: not done at the stop). */
	stopActionsMs?: number;
	backoff?: BackoffOptions;
	/** Starts the run of the messages; resolves with its outcome (void: success), rejects when it failed. */
	deliver: Deliver<M>;
	/** The state to persist, after every change (coalesced). */
	onState?: (state: S) => void;
	/** The run ledger to persist, at once after every change. */
	onLedger?: (state: LedgerState) => void;
	onEvent?: (event: E) => void;
	/** The events of a run's messages (failed, waiting, refused), at once; without it each goes to `onEvent`. */
	onEvents?: (events: E[]) => void;
	logger?: Logger;
	clock?: Clock;
}

/** What every source counts, in one vocabulary (a fetch: an IMAP catch-up, a POP3 session, an EWS poll). */
export interface DeliveryStats {
	/** Completed fetches. */
	fetches: number;
	lastFetchAt?: Date;
	/** Duration of the last completed fetch (runs of the workflow are not waited for). */
	lastFetchMs?: number;
	delivered: number;
	/** Runs settled as done or untouched. */
	acknowledged: number;
	failed: number;
	skipped: number;
	oversized: number;
	failing: boolean;
}

/** What `start()` resolves with: the first attempt's failure (the watcher keeps retrying with backoff). */
export interface StartResult {
	error?: MailboxError;
}

/** A positive number, else the fallback. */
export function positive(value: number | undefined, fallback: number): number {
	return typeof value === 'number' && value > 0 && Number.isFinite(value) ? value : fallback;
}

/** Whether `saved` belongs to another account than `account` (a state without an account is taken as this one's). */
export function otherAccount(saved: unknown, account: string | undefined): boolean {
	const recorded = saved && typeof saved === 'object' ? (saved as { account?: unknown }).account : undefined;
	return !!account && typeof recorded === 'string' && recorded !== account;
}

export abstract class DeliveryWatcher<M extends DeliveryMessage, E, S> {
	protected readonly log: Logger;
	protected readonly clock: Clock;
	readonly window: Window;
	readonly dispatcher: Dispatcher<M>;
	/** The saved state belonged to another account: started as on first activation. */
	protected readonly accountChanged: boolean;
	private stateScheduled = false;
	/** Stopping: events are no longer emitted. */
	private quiet = false;

	constructor(
		private readonly watcherOptions: WatcherOptions<M, E, S>,
		keyPrefix: string,
	) {
		this.log = watcherOptions.logger ?? silentLogger;
		this.clock = watcherOptions.clock ?? systemClock;
		this.accountChanged = otherAccount(watcherOptions.state, watcherOptions.account);
		const maxRuns = Math.floor(positive(watcherOptions.maxRuns, Infinity));
		// runs at once are filled: a lower bound would cut a backlog into more, smaller runs
		const fullRuns = Number.isFinite(maxRuns) ? maxRuns * Math.floor(positive(watcherOptions.messagesPerRun, 1)) : 0;
		this.window = new Window(Math.floor(positive(watcherOptions.maxInFlight, Math.max(100, fullRuns))), Math.floor(positive(watcherOptions.maxInFlightBytes, 16 * 1024 * 1024)), maxRuns);
		this.dispatcher = new Dispatcher<M>({
			keyPrefix: watcherOptions.keyPrefix ?? keyPrefix,
			deliver: watcherOptions.deliver,
			ledger: new RunLedger(watcherOptions.runs, watcherOptions.retry),
			window: this.window,
			clock: this.clock,
			logger: this.log,
			onLedger: watcherOptions.onLedger,
			lostAfterMs: typeof watcherOptions.lostAfterMs === 'number' && watcherOptions.lostAfterMs >= 0 ? watcherOptions.lostAfterMs : 60 * 60_000,
			onFreed: () => this.roomFreed(),
			onEvents: (events) => {
				// the state of this settlement goes out with the events (an n8n emit saves both)
				this.flushState(true);
				this.emitRun(events.map((event) => this.deliveryEvent(event)));
			},
		});
	}

	/** A copy of the state, for persisting. */
	abstract getState(): S;

	/** Messages one run carries at most. */
	get messagesPerRun(): number {
		return Math.floor(positive(this.watcherOptions.messagesPerRun, 1));
	}

	/** The size limit (0: none), and whether a message of `size` listed bytes is over it before download. */
	get maxSize(): number {
		return positive(this.watcherOptions.maxSizeBytes, 0);
	}
	overByListing(size: number): boolean {
		return !!this.maxSize && !this.watcherOptions.fetchUnchecked && size > this.maxSize;
	}

	/** A fetch ended: counted in `stats`; its start and duration for the source's event. */
	fetched(stats: DeliveryStats, startedAt: number): { startedAt: Date; durationMs: number } {
		stats.fetches++;
		stats.lastFetchAt = new Date(startedAt);
		stats.lastFetchMs = this.clock.now() - startedAt;
		return { startedAt: stats.lastFetchAt, durationMs: stats.lastFetchMs };
	}

	/**
	 * An oversized message: counted; unless oversized mail is skipped, false (it goes on with its
	 * headers). Skipped: `record` marks it in the state, the source reports it; true.
	 */
	skipOversized(stats: DeliveryStats, what: string, size: number, record: () => void): boolean {
		stats.oversized++;
		if (this.watcherOptions.oversized !== 'skip') return false;
		stats.skipped++;
		record();
		this.stateChanged();
		this.log.info(`mailbox watcher: ${what} (${size} bytes) is over the size limit of ${this.maxSize} bytes and was skipped`);
		return true;
	}

	/**
	 * `download` with room for `count` messages of `bytes` in `runs` runs reserved in the window:
	 * the room goes back when it fails or `current()` says the fetch was stopped meanwhile (then undefined).
	 */
	async reserved<T>(count: number, bytes: number, runs: number, download: () => Promise<T>, current: () => boolean): Promise<T | undefined> {
		let result: T | undefined;
		try {
			result = await download();
		} finally {
			if (result === undefined || !current()) this.window.release(count, bytes, runs);
		}
		return current() ? result : undefined;
	}

	/**
	 * Hands messages to one run (counted in `stats`); `settled` applies what became of the run to
	 * each message in the source's state. A run of several messages must be recorded in the state
	 * by the caller before (its members and `as`, the key it gets): the state is reported now, so
	 * the emit that starts the run saves it, and after a restart the same run is formed again and
	 * refused by n8n instead of its messages running in other runs.
	 */
	send(stats: DeliveryStats, messages: M[], bytes: number, settled: (message: M, settlement: Settlement) => void, as?: { key: string; attempt: number }): void {
		stats.delivered += messages.length;
		if (messages.length > 1 || as) this.flushState(true);
		this.dispatcher.send(
			messages,
			bytes,
			(message, settlement) => {
				if (settlement === 'done' || settlement === 'untouched') stats.acknowledged++;
				else stats.failed++;
				settled(message, settlement);
			},
			as,
		);
	}

	/** Room in the window was freed without a settlement (a run taken as lost): fetch what waits. */
	protected roomFreed(): void {
		// sources that wait for room in the window are woken by the window itself
	}

	/** The watcher's event for a run event (IMAP adds the folder). */
	protected deliveryEvent(event: DeliveryEvent<M>): E {
		return event as unknown as E;
	}

	/**
	 * Starts the streams (an account change is reported first) and resolves with each one's first
	 * failure, once each has worked or failed; the state of the first passes is reported before.
	 */
	protected async begin(streams: Stream[], accountChanged: () => void): Promise<Array<MailboxError | undefined>> {
		if (this.accountChanged) {
			this.log.warn('mailbox watcher: the saved state belongs to another account (host, user or mailbox changed); starting as on first activation, and nothing is acted on that this trigger did not deliver');
			accountChanged();
		}
		const errors = await Promise.all(streams.map((stream) => stream.start()));
		this.flushState(true);
		return errors;
	}

	/**
	 * Stops: no new deliveries (settlements of runs still going update the state when they
	 * arrive), the streams end, then `last` does the after-processing actions that
	 * are due (runs that succeeded since the last fetch), within `stopActionsMs`: n8n saves no
	 * static data at a deactivation or shutdown, so an action left for the next fetch would be
	 * lost with the state, and the message left as it is after the restart.
	 */
	protected async end(streams: Array<{ stop(): Promise<void> }>, last?: (signal: AbortSignal) => Promise<void>): Promise<void> {
		this.window.close();
		await Promise.all(streams.map((stream) => stream.stop()));
		if (last) await this.atStop(last);
		this.flushState(true);
	}

	/** Runs `work` (actions due at a stop) within `stopActionsMs`; never throws. */
	async atStop(work: (signal: AbortSignal) => Promise<void>): Promise<void> {
		const ms = this.stopActionsMs;
		if (!ms) return;
		// what the last actions meet is logged, not emitted: n8n is deactivating the trigger
		this.quiet = true;
		const controller = new AbortController();
		const timer = this.clock.setTimeout(() => controller.abort(new Error(`they took longer than ${Math.round(ms / 1000)} s`)), ms);
		try {
			await abortable(work(controller.signal), controller.signal);
		} catch (error) {
			this.log.warn(`mailbox watcher: the after-processing actions due at the stop were not all done (${error instanceof Error ? error.message : String(error)}); the messages concerned stay as they are until the trigger runs again`);
		} finally {
			this.clock.clearTimeout(timer);
		}
	}

	/** How long the actions due at a stop may take (0: none are done). */
	get stopActionsMs(): number {
		const ms = this.watcherOptions.stopActionsMs;
		return typeof ms === 'number' && ms >= 0 && Number.isFinite(ms) ? ms : 10_000;
	}

	/** Schedules a retry's fetch on `stream` when one waits (`then`: instead of a pass). */
	retryWhenDue(stream: Stream, then?: () => void): void {
		const next = this.dispatcher.nextRetryAt();
		if (next !== undefined) stream.at(next, then);
	}

	/** Reports the state soon (changes of one tick are coalesced). */
	stateChanged(): void {
		if (this.stateScheduled) return;
		this.stateScheduled = true;
		setImmediate(() => this.flushState());
	}

	/** Reports the state now if it changed (`now`: in any case). */
	protected flushState(now = false): void {
		if (!this.stateScheduled && !now) return;
		this.stateScheduled = false;
		if (!this.watcherOptions.onState) return;
		try {
			this.watcherOptions.onState(this.getState());
		} catch (error) {
			this.log.error(`mailbox watcher: saving the state failed: ${String(error)}`);
		}
	}

	/** A run's events: at once to `onEvents`, else one by one. */
	private emitRun(events: E[]): void {
		if (!this.watcherOptions.onEvents) {
			for (const event of events) this.emit(event);
			return;
		}
		try {
			this.watcherOptions.onEvents(events);
		} catch (error) {
			this.log.error(`mailbox watcher: the event handler failed: ${String(error)}`);
		}
	}

	emit(event: E): void {
		if (!this.watcherOptions.onEvent || this.quiet) return;
		try {
			this.watcherOptions.onEvent(event);
		} catch (error) {
			this.log.error(`mailbox watcher: the event handler failed: ${String(error)}`);
		}
	}
}

/** A watcher of one stream (a POP3 maildrop, an Exchange mailbox): started once, fetched on request, a stuck poll abandoned. */
export abstract class StreamWatcher<M extends DeliveryMessage, E, S> extends DeliveryWatcher<M, E, S> {
	protected abstract readonly stream: Stream;
	private started = false;

	/**
	 * The stream of polls: at the polling interval (`intervalMs` by default), a follow-up after
	 * settlements, and at once after a recovery when `pending()` says work waits.
	 */
	protected newStream(o: WatcherOptions<M, E, S>, s: Pick<StreamOptions, 'name' | 'pass' | 'toError'> & { intervalMs: number; pending: () => boolean }): Stream {
		const stream: Stream = new Stream({
			...s,
			clock: this.clock,
			logger: this.log,
			backoff: o.backoff,
			intervalMs: positive(o.pollIntervalMs, s.intervalMs),
			followUpDelayMs: typeof o.followUpDelayMs === 'number' && o.followUpDelayMs >= 0 ? o.followUpDelayMs : 1_000,
			stuckAfterMs: positive(o.stuckAfterMs, 30 * 60_000),
			report: (event: HealthEvent) => {
				this.emit(event as E);
				// settlements that came while failing found no follow-up scheduled
				if (event.type === 'recovered' && s.pending()) stream.followUp();
			},
		});
		return stream;
	}

	/**
	 * Starts polling; the first poll runs at once. Resolves when it has worked (the fetching goes on
	 * in the background), or failed (then `error` is set and polling goes on with backoff). Never rejects.
	 */
	protected async startStream(accountChanged: () => void): Promise<StartResult> {
		if (this.started) return {};
		this.started = true;
		const [error] = await this.begin([this.stream], accountChanged);
		return error ? { error } : {};
	}

	protected override roomFreed(): void {
		this.stream.followUp();
	}

	/** Poll now (a manual fetch), after the poll running now, if one is. */
	fetchNow(): void {
		this.stream.request();
	}

	/** Releases a stuck poll: its connection is dropped and the next poll starts at once. */
	abandon(): void {
		this.stream.abandon();
	}
}
