/**
 * A stream's health: "cannot be fetched" once when it starts to fail, updates while it keeps
 * failing, "fetched again" once when it works; the backoff between attempts; the result of the
 * first attempt (the trigger's activation waits for it). One place for all triggers.
 *
 * Permanent failures (a wrong password, a certificate not accepted, a setting or folder that does
 * not exist) are not hammered like a timeout: they wait the longest backoff delay at once.
 */
import { isPermanent, type MailboxError } from '../errors';
import type { Logger } from '../logger';
import { Backoff, type BackoffOptions, type Clock } from './clock';

export type HealthEvent =
	| { type: 'failing' | 'updated'; error: MailboxError; message: string; firstFailureAt: Date; lastFailureAt: Date; count: number }
	| { type: 'recovered'; firstFailureAt: Date; lastFailureAt: Date; recoveredAt: Date; count: number };

/** A failure that will not go away by itself (the user has to change something); decided in lib/errors.ts. */

export class Health {
	private failure?: { error: MailboxError; first: Date; last: Date; count: number };
	private readonly backoff: Backoff;
	private readonly backoffMaxMs: number;
	private settleFirst!: (error: MailboxError | undefined) => void;
	private firstSettled = false;
	/** The first attempt's failure, or undefined once it worked (or the stream stopped). */
	readonly firstAttempt: Promise<MailboxError | undefined>;

	constructor(
		private readonly name: string,
		private readonly clock: Clock,
		private readonly logger: Logger,
		private readonly report: (event: HealthEvent) => void,
		backoff: BackoffOptions = {},
	) {
		this.backoff = new Backoff(backoff, clock);
		this.backoffMaxMs = Math.max(1, backoff.maxMs ?? 5 * 60_000);
		this.firstAttempt = new Promise((resolve) => (this.settleFirst = resolve));
	}

	get failing(): boolean {
		return !!this.failure;
	}

	settle(error?: MailboxError): void {
		if (this.firstSettled) return;
		this.firstSettled = true;
		this.settleFirst(error);
	}

	/** Records a failed attempt; returns the delay before the next one. */
	failed(error: MailboxError): number {
		const now = new Date(this.clock.now());
		const message = `${this.name} cannot be fetched: ${error.fullMessage}`;
		this.logger.warn(`mailbox watcher: ${message}`);
		this.settle(error);
		if (!this.failure) {
			this.failure = { error, first: now, last: now, count: 1 };
			this.report({ type: 'failing', error, message, firstFailureAt: now, lastFailureAt: now, count: 1 });
		} else {
			const f = (this.failure = { ...this.failure, error, last: now, count: this.failure.count + 1 });
			this.report({ type: 'updated', error, message, firstFailureAt: f.first, lastFailureAt: f.last, count: f.count });
		}
		const delay = this.backoff.next();
		return isPermanent(error) ? Math.max(delay, this.backoffMaxMs) : delay;
	}

	/** The delay before reconnecting after a connection ended without a failure (not counted as one). */
	quietDelay(): number {
		return this.backoff.next();
	}

	/** Records a good attempt; true when it ended a failure. */
	succeeded(): boolean {
		this.backoff.reset();
		this.settle();
		const f = this.failure;
		if (!f) return false;
		this.failure = undefined;
		this.logger.info(`mailbox watcher: ${this.name} is fetched again after ${f.count} failed attempt(s)`);
		this.report({ type: 'recovered', firstFailureAt: f.first, lastFailureAt: f.last, recoveredAt: new Date(this.clock.now()), count: f.count });
		return true;
	}
}
