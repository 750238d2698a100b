/**
 * Polls a POP3 maildrop and hands every new message to `deliver` exactly once, acknowledged.
 *
 * Every poll is one POP3 session: log in, UIDL and LIST, record what is on the server (state per
 * UIDL, pruned to the maildrop), DELE what is due for deletion, RETR the new messages in maildrop
 * order and hand each to `deliver` without waiting for its run, then QUIT. The session is never
 * held open while workflows run: an acknowledgement (the run succeeded) is recorded in the state,
 * and a deletion it makes due is done by DELE at the start of a later session (soon after, see
 * `followUpDelayMs`) and committed by that session's QUIT. A session cut before QUIT deletes
 * nothing and loses nothing: the entries stay, and the next session that ends with QUIT deletes.
 * A delivery may report messages as `untouched` (n8n refused the run as a duplicate of one before
 * a restart, which may have been cut off): they are never delivered again and never deleted.
 *
 * The node layer creates the watcher with the state it persisted, calls start() on activation and
 * stop() on deactivation, and persists every state `onState` reports.
 */
import { MailboxError } from '../errors';
import { secretsOf, type Login, type ResolvedServer } from '../connection/options';
import { silentLogger, type Logger } from '../logger';
import { Backoff, guard, Sleeper, systemClock, type BackoffOptions, type Clock } from '../imap/watch/clock';
import { headerBlock } from '../imap/watch/watcher';
import type { Pop3Client } from './client';
import { withPop3, type Pop3LoginMethod, type Pop3Session } from './connect';
import { fromPop3Error } from './errors';
import {
	acknowledgedStatus,
	clonePop3State,
	dueForDeletion,
	loadPop3State,
	observe,
	setStatus,
	toDeliver,
	type Pop3FirstActivation,
	type Pop3WatchState,
} from './watch-state';

/**
 * What a delivery may report besides success: UIDLs of its messages to count as done without any
 * action on the server (never deleted by the trigger), e.g. because n8n refused the run as a
 * duplicate of one before a restart whose end is not known.
 */
export interface Pop3DeliveryOutcome {
	untouched?: string[];
}

/** What `deliver` gets for each message. */
export interface Pop3WatchedMessage {
	/** The server's unique id of the message (stable across sessions). */
	uidl: string;
	/** Its message number in the session that fetched it (not valid in any other session). */
	msgNo: number;
	/** Size by LIST (with "fetch unchecked": the downloaded size). */
	size: number;
	/** Over the size limit: `headers` instead of `source`. */
	oversized: boolean;
	/** The raw message as stored on the server (RETR), byte for byte; absent when oversized. */
	source?: Buffer;
	/** The raw header block (TOP n 0); only when oversized. */
	headers?: Buffer;
	/** When the trigger first saw the message on the server. */
	firstSeen: Date;
	/** 1 on the first delivery in this process, 2 on the retry after a failed run, ... */
	attempt: number;
	/** Deterministic per mailbox and message ("user@host/UIDL"), e.g. for a deduplication key. */
	key: string;
}

export type Pop3WatchEvent =
	| { type: 'failing' | 'updated'; error: MailboxError; message: string; firstFailureAt: Date; lastFailureAt: Date; count: number }
	| { type: 'recovered'; firstFailureAt: Date; lastFailureAt: Date; recoveredAt: Date; count: number }
	/** A session ended with QUIT; `messages` were on the server when it started, `deleted` of them were removed by it. */
	| { type: 'fetched'; startedAt: Date; durationMs: number; messages: number; delivered: number; skipped: number; deleted: number }
	| { type: 'skipped'; uidl: string; msgNo: number; size: number; reason: 'oversized' }
	| { type: 'deliveryFailed'; uidls: string[]; error: string; retry: boolean }
	/** Messages removed from the server: DELE committed by QUIT. */
	| { type: 'deleted'; uidls: string[] };

export interface Pop3WatchStats {
	/** Sessions that ended with QUIT. */
	polls: number;
	lastPollAt?: Date;
	/** Duration of the last completed session (runs of the workflow are not waited for). */
	lastPollMs?: number;
	/** Messages on the server at the start of the last session. */
	messages: number;
	delivered: number;
	/** Deliveries that resolved, `untouched` ones included. */
	acknowledged: number;
	/** Acknowledged as untouched (run refused as a duplicate): left on the server. */
	untouched: number;
	failed: number;
	skipped: number;
	oversized: number;
	deleted: number;
	/** Delivered, run not finished yet. */
	inFlight: number;
	failing: boolean;
}

export interface Pop3WatcherOptions {
	server: ResolvedServer;
	/** A login, or a function giving one for each session (renewed OAuth2 tokens). */
	login: Login | (() => Promise<Login>);
	/** How a password login is done (default `password`). */
	loginMethod?: Pop3LoginMethod;
	/** The mailbox as named in health messages ("Mailbox NAME cannot be fetched"); default user@host. */
	name?: string;
	/** What the node persisted before (anything: unusable parts are dropped). */
	state?: unknown;
	/** Messages on the server at the first poll: recorded as known, not delivered ('new', default), or delivered ('all'). */
	firstActivation?: Pop3FirstActivation;
	/** Time between polls (default 15 min). */
	pollIntervalMs?: number;
	/**
	 * DELE each message whose run succeeded (on a later session, committed by QUIT). Applies only to
	 * messages acknowledged while this is on: switched on later, mail fetched before stays on the
	 * server (see dueForDeletion in watch-state.ts).
	 */
	deleteAfterFetch?: boolean;
	/**
	 * DELE messages whose run succeeded once they were first seen this many days ago; 0 = never
	 * (default). Neither this nor deleteAfterFetch deletes `untouched` messages.
	 */
	deleteAfterDays?: number;
	/** Messages larger than this (bytes, by LIST) are oversized; 0 = no limit (default). */
	maxSizeBytes?: number;
	/** Oversized: delivered with headers only (TOP n 0) and `oversized: true` (default), or skipped (reported as an event). */
	oversized?: 'headers' | 'skip';
	/** Download first (RETR), check the size after (for servers whose LIST sizes are wrong). */
	fetchUnchecked?: boolean;
	/** A failed run: deliver again on the next poll (default true), or skip the message. */
	retryFailed?: boolean;
	/** Messages delivered and not yet acknowledged, at most (default 100); the rest waits for a later poll. */
	maxInFlight?: number;
	/**
	 * After acknowledgements that make a deletion due, or that free room for messages left waiting,
	 * a poll runs this much later (default 1 s; coalesced), instead of at the next interval.
	 */
	followUpDelayMs?: number;
	/** A poll (session) running longer than this is abandoned: the connection is dropped (default 30 min). */
	stuckAfterMs?: number;
	backoff?: BackoffOptions;
	/**
	 * Resolves when the run that got the messages succeeded (listing in `untouched` those of them
	 * that must not be deleted, as no run is known to have finished with them), rejects when it failed.
	 */
	deliver: (messages: Pop3WatchedMessage[]) => Promise<void | Pop3DeliveryOutcome>;
	/** The state to persist, after every change (coalesced). */
	onState?: (state: Pop3WatchState) => void;
	onEvent?: (event: Pop3WatchEvent) => void;
	logger?: Logger;
	/** Time and timers; inject one to test "days". */
	clock?: Clock;
}

export interface Pop3StartResult {
	/** Set when the first session failed; the watcher keeps retrying with backoff. */
	error?: MailboxError;
}

const MIN = 60_000;

interface Settings {
	loginMethod: Pop3LoginMethod;
	firstActivation: Pop3FirstActivation;
	pollIntervalMs: number;
	deleteAfterFetch: boolean;
	deleteAfterDays: number;
	maxSizeBytes: number;
	oversized: 'headers' | 'skip';
	fetchUnchecked: boolean;
	retryFailed: boolean;
	maxInFlight: number;
	followUpDelayMs: number;
	stuckAfterMs: number;
	logger: Logger;
	clock: Clock;
}

function defaults(options: Pop3WatcherOptions): Settings {
	const positive = (value: number | undefined, fallback: number) => (typeof value === 'number' && value > 0 && Number.isFinite(value) ? value : fallback);
	return {
		loginMethod: options.loginMethod ?? 'password',
		firstActivation: options.firstActivation ?? 'new',
		pollIntervalMs: positive(options.pollIntervalMs, 15 * MIN),
		deleteAfterFetch: options.deleteAfterFetch ?? false,
		deleteAfterDays: positive(options.deleteAfterDays, 0),
		maxSizeBytes: positive(options.maxSizeBytes, 0),
		oversized: options.oversized ?? 'headers',
		fetchUnchecked: options.fetchUnchecked ?? false,
		retryFailed: options.retryFailed ?? true,
		maxInFlight: Math.floor(positive(options.maxInFlight, 100)),
		followUpDelayMs: typeof options.followUpDelayMs === 'number' && options.followUpDelayMs >= 0 ? options.followUpDelayMs : 1_000,
		stuckAfterMs: positive(options.stuckAfterMs, 30 * MIN),
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
	messages: number;
	delivered: number;
	skipped: number;
	/** DELE sent in this session; removed when its QUIT succeeds. */
	deleting: string[];
}

/**
 * The engine of the POP3 trigger. Create it with the persisted state, `start()` it, persist what
 * `onState` reports, `stop()` it. Never throws from its background work: failures are reported
 * through `onEvent` (failing / updated / recovered) and retried with backoff.
 */
export class Pop3Watcher {
	private readonly stats: Pop3WatchStats = { polls: 0, messages: 0, delivered: 0, acknowledged: 0, untouched: 0, failed: 0, skipped: 0, oversized: 0, deleted: 0, inFlight: 0, failing: false };
	private readonly s: Settings;
	private readonly server: ResolvedServer;
	private readonly login: Login | (() => Promise<Login>);
	private readonly name?: string;
	/** Live state; read it with getState(). */
	private readonly state: Pop3WatchState;
	private readonly deliverFn: (messages: Pop3WatchedMessage[]) => Promise<void | Pop3DeliveryOutcome>;
	private readonly onState?: (state: Pop3WatchState) => void;
	private readonly onEvent?: (event: Pop3WatchEvent) => void;
	private readonly sleeper: Sleeper;
	private readonly backoff: Backoff;
	/** Delivered, not yet acknowledged. */
	private readonly inflight = new Set<string>();
	private readonly attempts = new Map<string, number>();
	private client?: Pop3Client;
	private loop?: Promise<void>;
	private running = false;
	private stopped = false;
	private pollRequested = true;
	private nextDelay = 0;
	/** Increases with every poll and when a poll is abandoned: a poll whose token is old stops at its next step. */
	private pollToken = 0;
	private abandonedByHand = false;
	private polling = false;
	/** Messages were left for a later poll because maxInFlight was reached. */
	private backlog = false;
	private followUpTimer?: unknown;
	private failure?: { error: MailboxError; first: Date; last: Date; count: number };
	private stateScheduled = false;
	private readonly firstAttempt = new Deferred<MailboxError | undefined>();
	private firstAttemptDone = false;

	constructor(options: Pop3WatcherOptions) {
		this.s = defaults(options);
		this.server = options.server;
		this.login = options.login;
		this.name = options.name;
		this.state = loadPop3State(options.state);
		this.deliverFn = options.deliver;
		this.onState = options.onState;
		this.onEvent = options.onEvent;
		this.sleeper = new Sleeper(this.s.clock);
		this.backoff = new Backoff(options.backoff ?? {}, this.s.clock);
	}

	private get log(): Logger {
		return this.s.logger;
	}

	/**
	 * Starts polling; the first poll runs at once. Resolves when the first session has listed the
	 * maildrop and recorded it in the state (the fetching goes on in the background), or failed
	 * (then `error` is set and the watcher keeps retrying with backoff). Never rejects.
	 */
	async start(): Promise<Pop3StartResult> {
		if (this.running || this.stopped) return {};
		this.running = true;
		this.loop = this.run().catch((error: unknown) => {
			// run() handles every error itself; this is the last guard against an unhandled rejection
			this.log.error(`mailbox watcher: POP3 ${this.label()} stopped unexpectedly: ${String(error)}`);
		});
		const error = await this.firstAttempt.promise;
		// the first state is reported before start() returns
		if (this.stateScheduled) this.flushState();
		return error ? { error } : {};
	}

	/**
	 * Stops polling: a session in progress is dropped without QUIT (DELEs of it are not committed;
	 * they are repeated by the next session after a restart), nothing more is delivered.
	 * Acknowledgements of runs still going update the state (and call onState) when they arrive.
	 */
	async stop(): Promise<void> {
		this.stopped = true;
		this.running = false;
		this.pollToken++;
		if (this.followUpTimer !== undefined) this.s.clock.clearTimeout(this.followUpTimer);
		this.followUpTimer = undefined;
		this.sleeper.wake();
		this.client?.close();
		await this.loop;
		this.settleFirstAttempt(undefined);
		this.flushState();
	}

	/** Poll now (a manual fetch); after the poll running now, if one is. */
	fetchNow(): void {
		if (this.stopped) return;
		this.pollRequested = true;
		this.sleeper.wake();
	}

	/** Releases a stuck poll: its connection is dropped (no QUIT) and the next poll starts at once. */
	abandon(): void {
		if (!this.polling) return;
		this.abandonedByHand = true;
		this.pollToken++;
		this.client?.close();
	}

	/** A copy of the state, for persisting. */
	getState(): Pop3WatchState {
		return clonePop3State(this.state);
	}

	getStats(): Pop3WatchStats {
		return { ...this.stats, inFlight: this.inflight.size, failing: !!this.failure };
	}

	private label(login?: Login): string {
		if (this.name) return `"${this.name}"`;
		const user = login?.user ?? (typeof this.login === 'function' ? undefined : this.login.user);
		return `"${user ? `${user}@` : ''}${this.server.host}"`;
	}

	private async run(): Promise<void> {
		while (!this.stopped) {
			if (!this.pollRequested) await this.sleeper.sleep(this.nextDelay);
			if (this.stopped) break;
			this.pollRequested = false;
			if (this.followUpTimer !== undefined) this.s.clock.clearTimeout(this.followUpTimer);
			this.followUpTimer = undefined;
			const token = ++this.pollToken;
			this.polling = true;
			try {
				await guard(
					this.poll(token),
					this.s.stuckAfterMs,
					() => {
						this.pollToken++;
						this.client?.close();
					},
					() =>
						new MailboxError('TIMEOUT', `Fetching the POP3 mailbox ${this.label()} took longer than ${Math.round(this.s.stuckAfterMs / 1000)} s and was abandoned; the connection was dropped without QUIT and the next poll starts on a new one.`, {
							step: 'command',
							causeCode: 'STUCK',
						}),
					this.s.clock,
				);
				this.abandonedByHand = false;
				this.recordSuccess();
				this.nextDelay = this.s.pollIntervalMs;
			} catch (error) {
				if (this.stopped) break;
				if (this.abandonedByHand) {
					this.abandonedByHand = false;
					this.log.info(`mailbox watcher: POP3 ${this.label()}: the poll was abandoned; polling again`);
					this.pollRequested = true;
					continue;
				}
				this.recordFailure(error instanceof MailboxError ? error : fromPop3Error(error, this.server, { secrets: typeof this.login === 'function' ? [] : secretsOf(this.login) }));
				this.nextDelay = this.backoff.next();
				this.log.debug(`mailbox watcher: POP3 ${this.label()}: next attempt in ${this.nextDelay} ms`);
			} finally {
				this.polling = false;
			}
		}
	}

	/** Throws when the poll with `token` was stopped or abandoned, so that its session ends without QUIT. */
	private check(token: number): void {
		if (this.stopped || token !== this.pollToken) throw new MailboxError('CONNECTION_CLOSED', 'The poll was stopped.', { step: 'command', causeCode: 'STOPPED' });
	}

	private async poll(token: number): Promise<void> {
		const startedAt = this.s.clock.now();
		const login = typeof this.login === 'function' ? await this.login() : this.login;
		this.check(token);
		const counters: PollCounters = { messages: 0, delivered: 0, skipped: 0, deleting: [] };
		try {
			await withPop3(this.server, login, (session) => this.session(session, login, token, counters), { loginMethod: this.s.loginMethod, logger: this.log });
		} finally {
			if (token === this.pollToken) this.client = undefined;
		}
		// QUIT succeeded: the server has removed what was marked. The entries stay until a later UIDL
		// no longer lists them (a server that kept a message must not make it look new).
		if (counters.deleting.length) {
			this.stats.deleted += counters.deleting.length;
			this.log.info(`mailbox watcher: POP3 ${this.label(login)}: deleted ${counters.deleting.length} message(s) from the server`);
			this.emit({ type: 'deleted', uidls: counters.deleting });
		}
		const durationMs = this.s.clock.now() - startedAt;
		this.stats.polls++;
		this.stats.lastPollAt = new Date(startedAt);
		this.stats.lastPollMs = durationMs;
		this.emit({ type: 'fetched', startedAt: new Date(startedAt), durationMs, messages: counters.messages, delivered: counters.delivered, skipped: counters.skipped, deleted: counters.deleting.length });
	}

	private async session({ client }: Pop3Session, login: Login, token: number, counters: PollCounters): Promise<void> {
		this.check(token);
		this.client = client;
		// UIDL before any DELE of this session: it lists messages marked deleted no more.
		const listing = await client.uidl();
		const sizes = new Map((await client.list()).map((e) => [e.msg, e.size]));
		this.check(token);
		const msgOf = new Map<string, number>();
		for (const { msg, uid } of listing) if (!msgOf.has(uid)) msgOf.set(uid, msg);
		const uidls = [...msgOf.keys()];
		counters.messages = uidls.length;
		this.stats.messages = uidls.length;
		const now = this.s.clock.now();
		const seen = observe(this.state, uidls, now, this.s.firstActivation);
		for (const uidl of seen.pruned) {
			this.attempts.delete(uidl);
		}
		if (seen.changed) this.stateChanged();
		if (seen.firstActivation) {
			this.log.info(`mailbox watcher: POP3 ${this.label(login)} starts with ${this.s.firstActivation === 'new' ? `new mail only (${uidls.length} message(s) on the server are left alone)` : `every message (${uidls.length})`}`);
		}
		this.settleFirstAttempt(undefined);
		if (this.stateScheduled) this.flushState();

		const due = dueForDeletion(this.state, uidls, { deleteAfterFetch: this.s.deleteAfterFetch, deleteAfterDays: this.s.deleteAfterDays }, now);
		for (const uidl of due) {
			this.check(token);
			await client.dele(msgOf.get(uidl)!);
			counters.deleting.push(uidl);
		}

		const key = `${login.user}@${this.server.host}/`;
		const candidates = toDeliver(this.state, uidls).filter((u) => !this.inflight.has(u));
		this.backlog = false;
		const limit = this.s.maxSizeBytes;
		for (const uidl of candidates) {
			this.check(token);
			if (this.inflight.size >= this.s.maxInFlight) {
				this.backlog = true;
				this.log.debug(`mailbox watcher: POP3 ${this.label(login)}: ${this.s.maxInFlight} runs still going; the other new messages wait`);
				break;
			}
			const msgNo = msgOf.get(uidl)!;
			let size = sizes.get(msgNo) ?? 0;
			let source: Buffer | undefined;
			let headers: Buffer | undefined;
			let oversized = false;
			if (limit && !this.s.fetchUnchecked && size > limit) {
				oversized = true;
				if (this.s.oversized === 'headers') headers = await client.top(msgNo, 0);
			} else {
				source = await client.retr(msgNo);
				if (limit && source.length > limit) {
					oversized = true;
					size = source.length;
					if (this.s.oversized === 'headers') headers = Buffer.from(headerBlock(source));
					source = undefined;
				}
			}
			this.check(token);
			if (oversized) {
				this.stats.oversized++;
				if (this.s.oversized === 'skip') {
					setStatus(this.state, uidl, 'skipped');
					this.stateChanged();
					counters.skipped++;
					this.stats.skipped++;
					this.log.info(`mailbox watcher: POP3 ${this.label(login)}: message ${uidl} (${size} bytes) is over the size limit of ${limit} bytes and was skipped`);
					this.emit({ type: 'skipped', uidl, msgNo, size, reason: 'oversized' });
					continue;
				}
			}
			const attempt = (this.attempts.get(uidl) ?? 0) + 1;
			this.attempts.set(uidl, attempt);
			const firstSeen = new Date(this.state.messages[uidl]?.[0] ?? now);
			this.dispatch({ uidl, msgNo, size, oversized, source, headers, firstSeen, attempt, key: key + uidl });
			counters.delivered++;
		}
		this.check(token);
	}

	/** Hands one message to deliver() without waiting for the run. */
	private dispatch(message: Pop3WatchedMessage): void {
		this.inflight.add(message.uidl);
		this.stats.delivered++;
		let done: Promise<void | Pop3DeliveryOutcome>;
		try {
			done = Promise.resolve(this.deliverFn([message]));
		} catch (error) {
			done = Promise.reject(error);
		}
		done
			.then(
				(outcome) => this.acknowledged(message, !!outcome && Array.isArray(outcome.untouched) && outcome.untouched.includes(message.uidl)),
				(error: unknown) => this.failed(message, error),
			)
			.catch((error: unknown) => this.log.error(`mailbox watcher: recording the outcome of message ${message.uidl} failed: ${String(error)}`));
	}

	private acknowledged(message: Pop3WatchedMessage, untouched: boolean): void {
		this.inflight.delete(message.uidl);
		this.attempts.delete(message.uidl);
		this.stats.acknowledged++;
		if (untouched) {
			this.stats.untouched++;
			this.log.info(`mailbox watcher: POP3 ${this.label()}: message ${message.uidl} was already handed to a run before a restart; it is not delivered again and stays on the server`);
		}
		const status = acknowledgedStatus(message.oversized, this.s.deleteAfterFetch, !untouched);
		// false: gone from the server meanwhile (the entry was pruned); nothing to record
		if (setStatus(this.state, message.uidl, status)) this.stateChanged();
		if (status === 'done-delete' || this.backlog) this.scheduleFollowUp();
	}

	private failed(message: Pop3WatchedMessage, error: unknown): void {
		this.inflight.delete(message.uidl);
		this.stats.failed++;
		const retry = this.s.retryFailed;
		if (!retry) {
			this.attempts.delete(message.uidl);
			if (setStatus(this.state, message.uidl, 'skipped')) this.stateChanged();
		}
		const text = error instanceof Error ? error.message : String(error);
		this.log.warn(`mailbox watcher: POP3 ${this.label()}: the run for message ${message.uidl} failed (${text}); ${retry ? 'delivered again on the next poll' : 'skipped'}`);
		this.emit({ type: 'deliveryFailed', uidls: [message.uidl], error: text, retry });
		if (this.backlog) this.scheduleFollowUp();
	}

	/** A poll soon (coalesced), for deletions that became due or messages that waited for room. */
	private scheduleFollowUp(): void {
		// while failing, the backoff decides when to try again
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
		const message = `Mailbox ${this.label()} cannot be fetched: ${error.fullMessage}`;
		this.log.warn(`mailbox watcher: ${message}`);
		this.settleFirstAttempt(error);
		if (!this.failure) {
			this.failure = { error, first: now, last: now, count: 1 };
			this.stats.failing = true;
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
		this.stats.failing = false;
		const recoveredAt = new Date(this.s.clock.now());
		this.log.info(`mailbox watcher: POP3 ${this.label()} is fetched again after ${f.count} failed attempt(s)`);
		this.emit({ type: 'recovered', firstFailureAt: f.first, lastFailureAt: f.last, recoveredAt, count: f.count });
		// acknowledgements that came while failing (or during this session) found no follow-up scheduled
		if (this.backlog || (this.s.deleteAfterFetch && Object.values(this.state.messages).some(([, status]) => status === 'done-delete'))) this.scheduleFollowUp();
	}

	/** Reports the state soon (changes of one tick are coalesced). */
	private stateChanged(): void {
		if (this.stateScheduled) return;
		this.stateScheduled = true;
		setImmediate(() => this.flushState());
	}

	private flushState(): void {
		if (!this.stateScheduled) return;
		this.stateScheduled = false;
		if (!this.onState) return;
		try {
			this.onState(this.getState());
		} catch (error) {
			this.log.error(`mailbox watcher: saving the state failed: ${String(error)}`);
		}
	}

	private emit(event: Pop3WatchEvent): void {
		if (!this.onEvent) return;
		try {
			this.onEvent(event);
		} catch (error) {
			this.log.error(`mailbox watcher: the event handler failed: ${String(error)}`);
		}
	}
}

