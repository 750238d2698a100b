/**
 * One serial loop per stream (an IMAP folder, a POP3 maildrop, an Exchange mailbox): one pass at
 * a time (a pass is one session: POP3's and EWS's poll, IMAP's connection with its IDLE), so
 * fetches of a stream never overlap; passes repeat at the polling interval, at once on request, or
 * soon after acknowledgements (follow-up); a failed pass is retried with backoff; a pass running
 * longer than `stuckAfterMs` (or abandoned by hand, or stopped) is cancelled through its
 * AbortSignal, which drops its connection.
 */
import { MailboxError } from '../errors';
import type { Logger } from '../logger';
import { guard, Sleeper, type BackoffOptions, type Clock } from './clock';
import { Health, type HealthEvent } from './health';

/**
 * Thrown by a pass to reconnect at once without counting a failure: the connection was
 * abandoned by hand, or a long-lived connection closed (servers end idle sessions).
 */
export class Reconnect extends Error {}

/** `work`, or a rejection as soon as `signal` aborts (a login or connect that never answers must not hold a stop). */
export function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
	if (signal.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Reconnect('stopped'));
	return new Promise<T>((resolve, reject) => {
		const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Reconnect('stopped'));
		signal.addEventListener('abort', onAbort, { once: true });
		work.then(
			(value) => {
				signal.removeEventListener('abort', onAbort);
				resolve(value);
			},
			(error: unknown) => {
				signal.removeEventListener('abort', onAbort);
				reject(error);
			},
		);
	});
}

export interface StreamOptions {
	/** How the stream is named in messages: `Mailbox "a@b"`, `Mailbox folder "INBOX"`. */
	name: string;
	clock: Clock;
	logger: Logger;
	backoff?: BackoffOptions;
	/** Time between passes that ended well. */
	intervalMs: number;
	/** Delay of a follow-up pass (coalesced). */
	followUpDelayMs: number;
	/** A pass running longer is cancelled and counted as failed; 0: no limit (the pass guards its own steps). */
	stuckAfterMs: number;
	/** One pass. Reject to count a failure (or throw Reconnect). Call `ok()` once the pass proved the server works. */
	pass: (signal: AbortSignal, ok: () => void) => Promise<void>;
	/** Turns anything a pass threw into a MailboxError. */
	toError: (error: unknown) => MailboxError;
	report: (event: HealthEvent) => void;
}

const MIN = 60_000;

export class Stream {
	readonly health: Health;
	private readonly sleeper: Sleeper;
	private stopped = false;
	private requested = true;
	private abandonedByHand = false;
	private controller?: AbortController;
	private followUpTimer?: unknown;
	private atTimer?: unknown;
	private atTime = Infinity;
	private loop?: Promise<void>;
	/** Passes that ended (well or not). */
	passes = 0;

	constructor(private readonly o: StreamOptions) {
		this.health = new Health(o.name, o.clock, o.logger, o.report, o.backoff);
		this.sleeper = new Sleeper(o.clock);
	}

	get isStopped(): boolean {
		return this.stopped;
	}

	/** Starts the loop; resolves with the first pass's failure, or undefined once it worked. */
	start(): Promise<MailboxError | undefined> {
		this.loop ??= this.run().catch((error: unknown) => {
			this.o.logger.error(`mailbox watcher: ${this.o.name} stopped unexpectedly: ${String(error)}`);
		});
		return this.health.firstAttempt;
	}

	async stop(): Promise<void> {
		this.stopped = true;
		for (const t of [this.atTimer, this.followUpTimer]) if (t !== undefined) this.o.clock.clearTimeout(t);
		this.atTimer = undefined;
		this.followUpTimer = undefined;
		this.controller?.abort(new Reconnect('stopped'));
		this.sleeper.wake();
		await this.loop;
		this.health.settle();
	}

	/** A pass now (after the one running, if one runs). */
	request(): void {
		if (this.stopped) return;
		this.requested = true;
		this.sleeper.wake();
	}

	/** A pass soon (coalesced); not while failing: the backoff decides then. */
	followUp(): void {
		if (this.stopped || this.health.failing || this.followUpTimer !== undefined) return;
		this.followUpTimer = this.o.clock.setTimeout(() => {
			this.followUpTimer = undefined;
			this.request();
		}, this.o.followUpDelayMs);
	}

	/** A pass (or `then`) at `at` (ms): a retry that becomes due. Only the earliest is kept. */
	at(at: number, then: () => void = () => this.request()): void {
		if (this.stopped || at >= this.atTime) return;
		if (this.atTimer !== undefined) this.o.clock.clearTimeout(this.atTimer);
		this.atTime = at;
		this.atTimer = this.o.clock.setTimeout(() => {
			this.atTimer = undefined;
			this.atTime = Infinity;
			then();
		}, Math.max(0, at - this.o.clock.now()));
	}

	/** Cancels the running pass (its connection is dropped); the next starts at once. */
	abandon(): void {
		if (!this.controller || this.controller.signal.aborted) return;
		this.abandonedByHand = true;
		this.controller.abort(new Reconnect('abandoned'));
	}

	private async run(): Promise<void> {
		let quietAt = 0;
		while (!this.stopped) {
			if (!this.requested) await this.sleeper.sleep(this.nextDelay);
			if (this.stopped) break;
			this.requested = false;
			if (this.followUpTimer !== undefined) this.o.clock.clearTimeout(this.followUpTimer);
			this.followUpTimer = undefined;
			const controller = (this.controller = new AbortController());
			const startedAt = this.o.clock.now();
			try {
				const pass = this.o.pass(controller.signal, () => this.health.succeeded());
				await guard(
					pass,
					this.o.stuckAfterMs,
					() => controller.abort(new Error('stuck')),
					() =>
						new MailboxError('TIMEOUT', `${this.o.name}: the fetch took longer than ${Math.round(this.o.stuckAfterMs / 1000)} s and was abandoned; its connection was dropped and the next fetch starts on a new one.`, {
							step: 'command',
							reason: 'STUCK',
						}),
					this.o.clock,
				);
				this.health.succeeded();
				this.nextDelay = this.o.intervalMs;
			} catch (error) {
				if (this.stopped) break;
				const quiet = this.abandonedByHand || error instanceof Reconnect || controller.signal.reason instanceof Reconnect;
				if (quiet) {
					// by hand, or a connection that lived a while (servers end idle sessions): at once, once;
					// else after a backoff delay; neither counts as a failure
					this.o.logger.info(`mailbox watcher: ${this.o.name}: reconnecting (${error instanceof Error ? error.message : 'abandoned'})`);
					const byHand = this.abandonedByHand;
					this.abandonedByHand = false;
					const now = this.o.clock.now();
					if (byHand || (now - startedAt > MIN && now - quietAt > MIN)) {
						quietAt = now;
						this.requested = true;
					} else {
						this.nextDelay = this.health.quietDelay();
					}
					continue;
				}
				this.nextDelay = this.health.failed(this.o.toError(error));
				this.o.logger.debug(`mailbox watcher: ${this.o.name}: next attempt in ${this.nextDelay} ms`);
			} finally {
				this.controller = undefined;
				this.passes++;
			}
		}
	}

	private nextDelay = 0;
}
