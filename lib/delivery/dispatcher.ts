/**
 * Hands messages to runs and settles what became of each run, the same way for every source:
 * the attempt and the deduplication key come from the run ledger, the window bounds what is in
 * flight, and the run's outcome becomes one of five settlements the source applies:
 *
 * - `done`: the run succeeded; the source records it and does its after-processing action;
 * - `untouched`: n8n refused the run as a duplicate (a run before a restart, whose end is not
 *   known), or the run waits at a Wait node: recorded as delivered, never acted on;
 * - `retry`: the run failed; the message stays to deliver, not before the ledger's retry time;
 * - `skipped`: the run failed and failed runs are not retried: recorded, never acted on;
 * - `gaveUp`: the run failed for the last allowed time: recorded, never acted on, reported.
 *
 * Events are reported after the ledger was handed to `onLedger`, so a trigger that reports them
 * (an n8n emit saves static data) saves the attempt with them.
 */
import type { Clock } from './clock';
import { deliveryKey } from './keys';
import type { LedgerState, RunLedger } from './ledger';
import type { RunOutcome } from './outcome';
import type { Window } from './window';
import type { Logger } from '../logger';

export interface DeliveryMessage {
	/** The message's key within the trigger (folder/UIDVALIDITY/UID, user@host/UIDL, ...): the variable part of the run's key. */
	key: string;
	/** 1 on the first run, 2 on the first retry, ... */
	attempt: number;
}

export type Settlement = 'done' | 'untouched' | 'retry' | 'skipped' | 'gaveUp';

export interface Run {
	/** The deduplication key of the run (at most 255 characters). */
	key: string;
	attempt: number;
}

/**
 * What a source's `deliver` does: start the run and resolve with its outcome (or void: it
 * succeeded); a rejection is a failed run.
 */
export type Deliver<M> = (messages: M[], run: Run) => Promise<RunOutcome | void>;

export type DeliveryEvent<M> =
	| { type: 'runFailed'; message: M; error: string; settlement: 'retry' | 'skipped' | 'gaveUp'; retryAt?: Date }
	| { type: 'runWaiting'; message: M }
	| { type: 'duplicate'; message: M };

export interface DispatcherOptions<M> {
	/** Before every run's key: the trigger, workflow and node (and a reload's generation). */
	keyPrefix: string;
	deliver: Deliver<M>;
	ledger: RunLedger;
	window: Window;
	clock: Clock;
	logger: Logger;
	/** The ledger after every change, at once (before any event about it). */
	onLedger?: (state: LedgerState) => void;
	/** The events of one settled run (one per message that has one), at once. */
	onEvents?: (events: Array<DeliveryEvent<M>>) => void;
	/** A run not settled after this long no longer counts in the window (0: counted until it settles). */
	lostAfterMs?: number;
	/** Room in the window was freed by a run taken as lost. */
	onFreed?: () => void;
}

export class Dispatcher<M extends DeliveryMessage> {
	private running = 0;

	constructor(private readonly o: DispatcherOptions<M>) {}

	/** Runs started and not settled. */
	get inFlight(): number {
		return this.running;
	}

	attemptOf(key: string): number {
		return this.o.ledger.attemptOf(key);
	}

	/** Whether a message may run now: not waiting for a retry delay. */
	isDue(key: string): boolean {
		return this.o.ledger.isDue(key, this.o.clock.now());
	}

	/** The message left the mailbox: nothing is kept of its failed runs. */
	forget(key: string): void {
		if (this.o.ledger.forget(key)) this.o.onLedger?.(this.o.ledger.toJSON());
	}

	/** When the next waiting retry is due (ms), if one waits. */
	nextRetryAt(): number | undefined {
		return this.o.ledger.nextDue(this.o.clock.now());
	}

	/**
	 * Starts one run of `messages` (room for them, their `bytes` and the run was reserved in the
	 * window by the caller and is released when it settles) and calls `settle` for each message
	 * with its settlement; never throws. The run's key is its first message's key and attempt, or
	 * `as`: the key a run recorded before a restart had, so that n8n refuses it again.
	 */
	send(messages: M[], bytes: number, settle: (message: M, settlement: Settlement) => void, as?: { key: string; attempt: number }): void {
		const head = as ?? messages[0];
		const run: Run = { key: deliveryKey(this.o.keyPrefix, head.key, head.attempt), attempt: head.attempt };
		const what = messages.length === 1 ? messages[0].key : `the run of ${messages.length} messages from ${head.key}`;
		this.running++;
		// n8n may never report a run's end (queue mode: Redis restarted while it was queued or
		// running): after lostAfterMs its room goes to new mail; its end is still awaited
		let counted = true;
		const uncount = () => {
			if (!counted) return;
			counted = false;
			this.running--;
			this.o.window.release(messages.length, bytes, 1);
		};
		const lostAfterMs = this.o.lostAfterMs ?? 0;
		const timer =
			lostAfterMs > 0 && Number.isFinite(lostAfterMs)
				? this.o.clock.setTimeout(() => {
						if (!counted) return;
						uncount();
						this.o.logger.warn(
							`mailbox watcher: n8n has not reported the end of the run for ${what} after ${lostAfterMs >= 120_000 ? `${Math.round(lostAfterMs / 60_000)} min` : `${Math.round(lostAfterMs / 1000)} s`}; it no longer counts against Runs at Once (n8n may have lost track of it). Its messages are not delivered again; they are acted on if the run's success is reported later, else left as they are`,
						);
						this.o.onFreed?.();
					}, lostAfterMs)
				: undefined;
		// a run that never ends must not keep the process alive
		(timer as { unref?: () => void } | undefined)?.unref?.();
		let done: Promise<RunOutcome | void>;
		try {
			done = Promise.resolve(this.o.deliver(messages, run));
		} catch (error) {
			done = Promise.reject(error);
		}
		done
			.then(
				(outcome) => outcome ?? ({ kind: 'done' } as RunOutcome),
				(error: unknown): RunOutcome => ({ kind: 'failed', error: error instanceof Error ? error.message : String(error) }),
			)
			.then((outcome) => {
				if (timer !== undefined) this.o.clock.clearTimeout(timer);
				uncount();
				const before = this.o.ledger.size;
				const settlements = messages.map((message) => this.settlement(message, outcome));
				if (outcome.kind === 'failed' || this.o.ledger.size !== before) this.o.onLedger?.(this.o.ledger.toJSON());
				messages.forEach((message, i) => {
					try {
						settle(message, settlements[i]);
					} catch (error) {
						this.o.logger.error(`mailbox watcher: recording the outcome of ${message.key} failed: ${String(error)}`);
					}
				});
				const events = messages.flatMap((message, i) => this.report(message, outcome, settlements[i]));
				if (events.length) {
					try {
						this.o.onEvents?.(events);
					} catch (error) {
						this.o.logger.error(`mailbox watcher: the event handler failed: ${String(error)}`);
					}
				}
			})
			.catch((error: unknown) => this.o.logger.error(`mailbox watcher: settling ${what} failed: ${String(error)}`));
	}

	private settlement(message: M, outcome: RunOutcome): Settlement {
		const ledger = this.o.ledger;
		if (outcome.kind === 'failed') {
			const verdict = ledger.failed(message.key, message.attempt, this.o.clock.now());
			return verdict.verdict === 'skip' ? 'skipped' : verdict.verdict;
		}
		ledger.forget(message.key);
		return outcome.kind === 'done' ? 'done' : 'untouched';
	}

	/** Logs what became of a message's run; its event, if it has one. */
	private report(message: M, outcome: RunOutcome, settlement: Settlement): Array<DeliveryEvent<M>> {
		if (outcome.kind === 'failed') {
			const retryAt = settlement === 'retry' ? this.o.ledger.nextDueOf(message.key) : undefined;
			const then = settlement === 'retry' ? `run again${retryAt ? ` from ${new Date(retryAt).toISOString()}` : ''}` : settlement === 'gaveUp' ? 'given up after this attempt; left as it is' : 'skipped; left as it is';
			this.o.logger.warn(`mailbox watcher: the run for ${message.key} (attempt ${message.attempt}) failed (${outcome.error}); ${then}`);
			return [{ type: 'runFailed', message, error: outcome.error, settlement: settlement as 'retry' | 'skipped' | 'gaveUp', ...(retryAt ? { retryAt: new Date(retryAt) } : {}) }];
		}
		if (outcome.kind === 'waiting') {
			this.o.logger.info(`mailbox watcher: the run for ${message.key} waits (Wait node); the message is not delivered again and left as it is`);
			return [{ type: 'runWaiting', message }];
		}
		if (outcome.kind === 'unknown') {
			this.o.logger.warn(`mailbox watcher: n8n reported the run for ${message.key} with the status "${outcome.status}", as if it had ended (in queue mode, after Redis lost its jobs); its outcome is unknown: it is not delivered again and left as it is`);
			return [];
		}
		if (outcome.kind === 'duplicate') {
			this.o.logger.info(`mailbox watcher: ${message.key} was already handed to a run before a restart; it is not delivered again and left as it is`);
			return [{ type: 'duplicate', message }];
		}
		return [];
	}
}
