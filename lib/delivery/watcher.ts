/**
 * What every source's watcher shares: the options of the delivery core, the window, the run
 * ledger and dispatcher, the state reported after changes (coalesced per tick, at once before an
 * event an n8n emit saves it with), events that never throw into the source, and the account a
 * saved state belongs to. The IMAP, POP3 and EWS watchers extend it with their loop and state.
 */
import type { MailboxError } from '../errors';
import { silentLogger, type Logger } from '../logger';
import { systemClock, type BackoffOptions, type Clock } from './clock';
import { Dispatcher, type Deliver, type DeliveryEvent, type DeliveryMessage } from './dispatcher';
import { RunLedger, type LedgerState, type RetryPolicy } from './ledger';
import type { Stream } from './stream';
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
	/** Messages in flight (delivered, run not settled) at most (default 100); more waits. */
	maxInFlight?: number;
	/** Bytes of the messages in flight at most, downloads included (default 16 MiB); with nothing in flight one message fits whatever its size. */
	maxInFlightBytes?: number;
	/** Messages larger than this (bytes) are oversized; 0 = no limit (default). */
	maxSizeBytes?: number;
	/** A fetch running longer than this is abandoned: its connection is dropped (default 30 min). */
	stuckAfterMs?: number;
	backoff?: BackoffOptions;
	/** Starts the run of the messages; resolves with its outcome (void: success), rejects when it failed. */
	deliver: Deliver<M>;
	/** The state to persist, after every change (coalesced). */
	onState?: (state: S) => void;
	/** The run ledger to persist, at once after every change. */
	onLedger?: (state: LedgerState) => void;
	onEvent?: (event: E) => void;
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

	constructor(
		private readonly watcherOptions: WatcherOptions<M, E, S>,
		keyPrefix: string,
	) {
		this.log = watcherOptions.logger ?? silentLogger;
		this.clock = watcherOptions.clock ?? systemClock;
		this.accountChanged = otherAccount(watcherOptions.state, watcherOptions.account);
		this.window = new Window(Math.floor(positive(watcherOptions.maxInFlight, 100)), Math.floor(positive(watcherOptions.maxInFlightBytes, 16 * 1024 * 1024)));
		this.dispatcher = new Dispatcher<M>({
			keyPrefix: watcherOptions.keyPrefix ?? keyPrefix,
			deliver: watcherOptions.deliver,
			ledger: new RunLedger(watcherOptions.runs, watcherOptions.retry),
			window: this.window,
			clock: this.clock,
			logger: this.log,
			onLedger: watcherOptions.onLedger,
			onEvent: (event) => {
				// the state of this settlement goes out with the event (an n8n emit saves both)
				this.flushState(true);
				this.emit(this.deliveryEvent(event));
			},
		});
	}

	/** A copy of the state, for persisting. */
	abstract getState(): S;

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

	/** Stops the streams: nothing more is delivered; settlements of runs still going update the state when they arrive. */
	protected async end(streams: Array<{ stop(): Promise<void> }>): Promise<void> {
		this.window.close();
		await Promise.all(streams.map((stream) => stream.stop()));
		this.flushState(true);
	}

	/** Schedules a retry's fetch when one waits. */
	protected retryWhenDue(at: (time: number) => void): void {
		const next = this.dispatcher.nextRetryAt();
		if (next !== undefined) at(next);
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

	emit(event: E): void {
		if (!this.watcherOptions.onEvent) return;
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
	 * Starts polling; the first poll runs at once. Resolves when it has worked (the fetching goes on
	 * in the background), or failed (then `error` is set and polling goes on with backoff). Never rejects.
	 */
	protected async startStream(accountChanged: () => void): Promise<{ error?: MailboxError }> {
		if (this.started) return {};
		this.started = true;
		const [error] = await this.begin([this.stream], accountChanged);
		return error ? { error } : {};
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
