/**
 * The POP3 source of the delivery core: polls a POP3 maildrop and hands every new message to
 * `deliver` exactly once; deletes it (if asked) only after its run succeeded.
 *
 * Every poll is one POP3 session: log in, UIDL and LIST, record what is on the server (state per
 * UIDL, pruned to the maildrop), DELE what is due for deletion, RETR the new messages in maildrop
 * order while the window has room and hand each to its run without waiting for it, then QUIT. The
 * session is never held open while workflows run: a settlement is recorded in the state, and a
 * deletion it makes due is done by DELE at the start of a later session (a follow-up, soon) and
 * committed by that session's QUIT. A session cut before QUIT deletes nothing and loses nothing.
 *
 * The delivery core gives the loop with backoff and health, the run ledger, the window and the
 * settlement of every run; the node layer persists what `onState` and `onLedger` report.
 */
import { MailboxError } from '../errors';
import { secretsOf, type Login, type ResolvedServer } from '../connection/options';
import type { DeliveryEvent, Settlement } from '../delivery/dispatcher';
import type { HealthEvent } from '../delivery/health';
import { limitDownloaded, type Delivered } from '../delivery/message';
import { abortable, type Stream } from '../delivery/stream';
import { StreamWatcher, type DeliveryStats, type StartResult, type WatcherOptions } from '../delivery/watcher';
import type { Pop3Client } from './client';
import { withPop3, type Pop3LoginMethod } from './connect';
import { fromPop3Error } from './errors';
import { acknowledgedStatus, clonePop3State, dueForDeletion, loadPop3State, observe, setStatus, toDeliver, type Pop3FirstActivation, type Pop3WatchState } from './watch-state';

/** What `deliver` gets for each message (`key`: "user@host/UIDL"; `headers`: TOP n 0). */
export interface Pop3WatchedMessage extends Delivered {
	/** The server's unique id of the message (stable across sessions). */
	uidl: string;
	/** Its message number in the session that fetched it (not valid in any other session). */
	msgNo: number;
	/** Size by LIST (with "fetch unchecked": the downloaded size). */
	size: number;
	/** When the trigger first saw the message on the server. */
	firstSeen: Date;
}

export type Pop3WatchEvent =
	| HealthEvent
	/** A session ended with QUIT; `messages` were on the server when it started, `deleted` of them were removed by it. */
	| { type: 'fetched'; startedAt: Date; durationMs: number; messages: number; delivered: number; skipped: number; deleted: number }
	| { type: 'skipped'; uidl: string; msgNo: number; size: number; reason: 'oversized' }
	| DeliveryEvent<Pop3WatchedMessage>
	/** The saved state belonged to another account: started as on first activation. */
	| { type: 'accountChanged' }
	/** Messages removed from the server: DELE committed by QUIT. */
	| { type: 'deleted'; uidls: string[] };

export interface Pop3WatchStats extends DeliveryStats {
	/** Messages on the server at the start of the last session. */
	messages: number;
	/** Settled untouched (run refused as a duplicate, or waiting): left on the server. */
	untouched: number;
	deleted: number;
	/** Delivered, run not finished yet. */
	inFlight: number;
}

export interface Pop3WatcherOptions extends WatcherOptions<Pop3WatchedMessage, Pop3WatchEvent, Pop3WatchState> {
	server: ResolvedServer;
	/** A login, or a function giving one for each session (renewed OAuth2 tokens). */
	login: Login | (() => Promise<Login>);
	/** How a password login is done (default `password`). */
	loginMethod?: Pop3LoginMethod;
	/** The mailbox as named in health messages ("Mailbox NAME cannot be fetched"); default user@host. */
	name?: string;
	/** Messages on the server at the first poll: recorded as known, not delivered ('new', default), or delivered ('all'). */
	firstActivation?: Pop3FirstActivation;
	/** DELE each message whose run succeeded (on a later session, committed by QUIT); only messages settled while this is on. */
	deleteAfterFetch?: boolean;
	/** DELE messages whose run succeeded once they were first seen this many days ago; 0 = never (default). */
	deleteAfterDays?: number;
}

interface Counters {
	messages: number;
	delivered: number;
	skipped: number;
	/** DELE sent in this session; removed when its QUIT succeeds. */
	deleting: string[];
}

/**
 * The engine of the POP3 trigger. Create it with the persisted state, `start()` it, persist what
 * `onState` and `onLedger` report, `stop()` it. Never throws from its background work.
 */
export class Pop3Watcher extends StreamWatcher<Pop3WatchedMessage, Pop3WatchEvent, Pop3WatchState> {
	private readonly stats: Pop3WatchStats = { fetches: 0, messages: 0, delivered: 0, acknowledged: 0, untouched: 0, failed: 0, skipped: 0, oversized: 0, deleted: 0, inFlight: 0, failing: false };
	private readonly state: Pop3WatchState;
	protected readonly stream: Stream;
	/** Delivered, not settled. */
	private readonly inflight = new Set<string>();
	/** Messages were left for a later poll: the window was full. */
	private backlog = false;

	constructor(private readonly o: Pop3WatcherOptions) {
		super(o, 'mailbox-pop3');
		this.state = loadPop3State(this.accountChanged ? undefined : o.state);
		if (o.account) this.state.account = o.account;
		this.stream = this.newStream(o, {
			name: `Mailbox ${this.label()}`,
			intervalMs: 15 * 60_000,
			pass: (signal) => this.poll(signal),
			toError: (error) => (error instanceof MailboxError ? error : fromPop3Error(error, o.server, { secrets: typeof o.login === 'function' ? [] : secretsOf(o.login) })),
			pending: () => this.backlog || this.deletionsWaiting(),
		});
	}

	/**
	 * Starts polling; the first poll runs at once. Resolves when the first session has listed the
	 * maildrop and recorded it in the state (the fetching goes on in the background), or failed
	 * (then `error` is set and the watcher keeps retrying with backoff). Never rejects.
	 */
	start(): Promise<StartResult> {
		return this.startStream(() => this.emit({ type: 'accountChanged' }));
	}

	/**
	 * Stops polling: a session in progress is dropped without QUIT (its DELEs are not committed;
	 * the next session repeats them), nothing more is delivered. Settlements of runs still going
	 * update the state (and call onState) when they arrive.
	 */
	async stop(): Promise<void> {
		await this.end([this.stream]);
	}

	/** A copy of the state, for persisting. */
	getState(): Pop3WatchState {
		return clonePop3State(this.state);
	}

	getStats(): Pop3WatchStats {
		return { ...this.stats, inFlight: this.inflight.size, failing: this.stream.health.failing };
	}

	private label(login?: Login): string {
		if (this.o.name) return `"${this.o.name}"`;
		const user = login?.user ?? (typeof this.o.login === 'function' ? undefined : this.o.login.user);
		return `"${user ? `${user}@` : ''}${this.o.server.host}"`;
	}

	private deletionsWaiting(): boolean {
		return !!this.o.deleteAfterFetch && Object.values(this.state.messages).some(([, status]) => status === 'done-delete');
	}

	private async poll(signal: AbortSignal): Promise<void> {
		const startedAt = this.clock.now();
		const login = typeof this.o.login === 'function' ? await abortable(this.o.login(), signal) : this.o.login;
		const counters: Counters = { messages: 0, delivered: 0, skipped: 0, deleting: [] };
		await withPop3(
			this.o.server,
			login,
			async ({ client }) => {
				const drop = () => client.close();
				signal.addEventListener('abort', drop);
				try {
					await this.session(client, login, signal, counters);
				} finally {
					signal.removeEventListener('abort', drop);
				}
			},
			{ loginMethod: this.o.loginMethod ?? 'password', logger: this.log },
		);
		// QUIT succeeded: the server has removed what was marked. The entries stay until a later UIDL
		// no longer lists them (a server that kept a message must not make it look new).
		if (counters.deleting.length) {
			this.stats.deleted += counters.deleting.length;
			this.log.info(`mailbox watcher: POP3 ${this.label(login)}: deleted ${counters.deleting.length} message(s) from the server`);
			this.emit({ type: 'deleted', uidls: counters.deleting });
		}
		this.emit({ type: 'fetched', ...this.fetched(this.stats, startedAt), messages: counters.messages, delivered: counters.delivered, skipped: counters.skipped, deleted: counters.deleting.length });
	}

	private async session(client: Pop3Client, login: Login, signal: AbortSignal, counters: Counters): Promise<void> {
		signal.throwIfAborted();
		// UIDL before any DELE of this session: it lists messages marked deleted no more.
		const listing = await client.uidl();
		const sizes = new Map((await client.list()).map((e) => [e.msg, e.size]));
		signal.throwIfAborted();
		const msgOf = new Map<string, number>();
		for (const { msg, uid } of listing) if (!msgOf.has(uid)) msgOf.set(uid, msg);
		const uidls = [...msgOf.keys()];
		counters.messages = this.stats.messages = uidls.length;
		const now = this.clock.now();
		const firstActivation = this.o.firstActivation ?? 'new';
		const seen = observe(this.state, uidls, now, firstActivation);
		if (seen.changed) this.stateChanged();
		for (const uidl of seen.pruned) this.dispatcher.forget(`${login.user}@${this.o.server.host}/${uidl}`);
		if (seen.firstActivation) {
			this.log.info(`mailbox watcher: POP3 ${this.label(login)} starts with ${firstActivation === 'new' ? `new mail only (${uidls.length} message(s) on the server are left alone)` : `every message (${uidls.length})`}`);
		}
		this.stream.health.settle();
		this.flushState(true);

		const due = dueForDeletion(this.state, uidls, { deleteAfterFetch: !!this.o.deleteAfterFetch, deleteAfterDays: this.o.deleteAfterDays ?? 0 }, now);
		for (const uidl of due) {
			signal.throwIfAborted();
			await client.dele(msgOf.get(uidl)!);
			counters.deleting.push(uidl);
		}

		const keyBase = `${login.user}@${this.o.server.host}/`;
		this.backlog = false;
		for (const uidl of toDeliver(this.state, uidls)) {
			signal.throwIfAborted();
			const key = keyBase + uidl;
			if (this.inflight.has(uidl) || !this.dispatcher.isDue(key)) continue;
			const msgNo = msgOf.get(uidl)!;
			const listed = sizes.get(msgNo) ?? 0;
			const over = this.overByListing(listed);
			const bytes = over ? 0 : listed;
			if (!this.window.tryReserve(1, bytes, 1)) {
				this.backlog = true;
				this.log.debug(`mailbox watcher: POP3 ${this.label(login)}: the window is full (runs still going); the other new messages wait`);
				break;
			}
			const headersOnly = this.o.oversized !== 'skip';
			// failed or stopped: the room goes back (the session ends without QUIT; the message is fetched again later)
			const item = await this.reserved(1, bytes, 1, async () => (over ? { oversized: true, source: undefined, size: listed, headers: headersOnly ? await client.top(msgNo, 0) : undefined } : limitDownloaded(await client.retr(msgNo), this.maxSize, headersOnly ? 'headers' : 'skip')), () => !signal.aborted);
			signal.throwIfAborted();
			if (item!.oversized && this.skipOversized(this.stats, `POP3 ${this.label(login)}: message ${uidl}`, item!.size, () => setStatus(this.state, uidl, 'skipped'))) {
				this.window.release(1, bytes, 1);
				counters.skipped++;
				this.emit({ type: 'skipped', uidl, msgNo, size: item!.size, reason: 'oversized' });
				continue;
			}
			const message: Pop3WatchedMessage = { uidl, msgNo, firstSeen: new Date(this.state.messages[uidl]?.[0] ?? now), attempt: this.dispatcher.attemptOf(key), key, ...item! };
			this.inflight.add(uidl);
			counters.delivered++;
			this.send(this.stats, [message], bytes, (_, settlement) => this.settled(message, settlement));
		}
		this.retryWhenDue(this.stream);
		signal.throwIfAborted();
	}

	private settled(message: Pop3WatchedMessage, settlement: Settlement): void {
		this.inflight.delete(message.uidl);
		if (settlement === 'untouched') this.stats.untouched++;
		const acknowledged = settlement === 'done' || settlement === 'untouched';
		const status = acknowledged ? acknowledgedStatus(message.oversized, !!this.o.deleteAfterFetch, settlement === 'done') : settlement !== 'retry' ? 'skipped' : undefined;
		// false: gone from the server meanwhile (the entry was pruned); nothing to record
		if (status && setStatus(this.state, message.uidl, status)) this.stateChanged();
		if (settlement === 'retry') this.retryWhenDue(this.stream);
		if (status === 'done-delete' || this.backlog) this.stream.followUp();
	}
}
