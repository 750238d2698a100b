/**
 * The POP3 source of the delivery core: polls a POP3 maildrop and hands every new message to
 * `deliver` exactly once; deletes it (if asked) only after its run succeeded.
 *
 * Every poll is one POP3 session: log in, UIDL and LIST, record what is on the server (state per
 * UIDL, pruned to the maildrop), DELE what is due for deletion, RETR the new messages in maildrop
 * order while the window has room and hand them to runs without waiting for them (one message per
 * run, or up to Messages per Run in one run recorded in the state first: runs recorded before a
 * restart are formed again first, with the key they had), then QUIT. The
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
import { acknowledgedStatus, clonePop3State, dropRun, dueForDeletion, loadPop3State, observe, recordRun, runsCarry, setStatus, toDeliver, type Pop3FirstActivation, type Pop3WatchState } from './watch-state';

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
	/**
	 * A login, or a function giving one for each session (renewed OAuth2 tokens). Called with the
	 * access token the server has just rejected, it renews the token (once per rejection).
	 */
	login: Login | ((rejectedToken?: string) => Promise<Login>);
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

/** A session's means of fetching messages. */
interface Fetching {
	client: Pop3Client;
	login: Login;
	keyBase: string;
	msgOf: Map<string, number>;
	sizes: Map<number, number>;
	now: number;
	counters: Counters;
	signal: AbortSignal;
}

/** A message fetched for a run, with the room it takes in the window. */
interface Fetched {
	message: Pop3WatchedMessage;
	bytes: number;
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
		// runs that succeeded since the last session: their messages are deleted before the stop
		await this.end([this.stream], async (signal) => {
			if (this.deletionsWaiting()) await this.poll(signal, true);
		});
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

	/** One session: UIDL, the deletions due, new messages delivered (`deletionsOnly`: not). */
	private async poll(signal: AbortSignal, deletionsOnly = false): Promise<void> {
		const startedAt = this.clock.now();
		const loginOf = this.o.login;
		const login = typeof loginOf === 'function' ? await abortable(loginOf(), signal) : loginOf;
		const counters: Counters = { messages: 0, delivered: 0, skipped: 0, deleting: [] };
		await withPop3(
			this.o.server,
			login,
			async ({ client }) => {
				const drop = () => client.close();
				signal.addEventListener('abort', drop);
				try {
					await this.session(client, login, signal, counters, deletionsOnly);
				} finally {
					signal.removeEventListener('abort', drop);
				}
			},
			{ loginMethod: this.o.loginMethod ?? 'password', logger: this.log, renewLogin: typeof loginOf === 'function' ? (rejected) => abortable(loginOf(rejected), signal) : undefined },
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

	private async session(client: Pop3Client, login: Login, signal: AbortSignal, counters: Counters, deletionsOnly: boolean): Promise<void> {
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

		const deletable = dueForDeletion(this.state, uidls, { deleteAfterFetch: !!this.o.deleteAfterFetch, deleteAfterDays: this.o.deleteAfterDays ?? 0 }, now);
		for (const uidl of deletable) {
			signal.throwIfAborted();
			await client.dele(msgOf.get(uidl)!);
			counters.deleting.push(uidl);
		}
		if (deletionsOnly) return;

		const keyBase = `${login.user}@${this.o.server.host}/`;
		this.backlog = false;
		if (runsCarry(this.state, this.messagesPerRun > 1, this.window.maxCount, seen.firstActivation)) this.stateChanged();
		const due = toDeliver(this.state, uidls).filter((uidl) => !this.inflight.has(uidl));
		const fetching: Fetching = { client, login, keyBase, msgOf, sizes, now, counters, signal };
		const members = await this.formRecorded(fetching, new Set(due));
		if (members === undefined) this.backlog = true;
		else await this.formRuns(fetching, due.filter((uidl) => !members.has(uidl)));
		this.retryWhenDue(this.stream);
		signal.throwIfAborted();
	}

	/**
	 * Runs of several messages recorded before (a restart, a cut session) are formed again first,
	 * with the members still to deliver and the key they had, so that n8n refuses a run it has seen
	 * and none of its messages runs in another one. Records whose members are all settled or gone
	 * are dropped. Resolves with the members (undefined: the window is full).
	 */
	private async formRecorded(f: Fetching, due: Set<string>): Promise<Set<string> | undefined> {
		const members = new Set<string>();
		for (const [keyUidl, attempt, uidls] of [...(this.state.runs ?? [])]) {
			f.signal.throwIfAborted();
			const present = uidls.filter((uidl) => due.has(uidl));
			for (const uidl of present) members.add(uidl);
			if (!present.length) {
				if (!uidls.some((uidl) => this.inflight.has(uidl)) && dropRun(this.state, keyUidl)) this.stateChanged();
				continue;
			}
			const bytes = present.map((uidl) => this.bytesOf(f, uidl));
			if (!this.window.tryReserve(present.length, bytes.reduce((a, b) => a + b, 0), 1)) return undefined;
			const room = { count: present.length, bytes: bytes.reduce((a, b) => a + b, 0) };
			const group: Fetched[] = [];
			let fetched = false;
			try {
				for (const [i, uidl] of present.entries()) {
					const one = await this.fetchOne(f, uidl, bytes[i]);
					if (one) group.push(one);
					else {
						room.count--;
						room.bytes -= bytes[i];
					}
				}
				fetched = true;
			} finally {
				// failed or stopped: the room goes back (the run is formed again on a later poll)
				if (!fetched) this.window.release(room.count, room.bytes, 1);
			}
			this.handOver(f, group, room, { uidl: keyUidl, attempt });
		}
		return members;
	}

	/**
	 * The messages to deliver, in maildrop order: a run per message, or (several per run) up to
	 * Messages per Run in one recorded run, while the window has room.
	 */
	private async formRuns(f: Fetching, order: string[]): Promise<void> {
		let group: Fetched[] = [];
		let room: { count: number; bytes: number } | undefined;
		const close = () => {
			if (!room) return;
			this.handOver(f, group, room);
			group = [];
			room = undefined;
		};
		try {
			for (const uidl of order) {
				f.signal.throwIfAborted();
				if (!this.dispatcher.isDue(f.keyBase + uidl)) continue;
				const bytes = this.bytesOf(f, uidl);
				if (!this.window.tryReserve(1, bytes, room ? 0 : 1)) {
					close();
					this.backlog = true;
					this.log.debug(`mailbox watcher: POP3 ${this.label(f.login)}: the window is full (runs still going); the other new messages wait`);
					break;
				}
				room ??= { count: 0, bytes: 0 };
				room.count++;
				room.bytes += bytes;
				const one = await this.fetchOne(f, uidl, bytes);
				if (!one) {
					room.count--;
					room.bytes -= bytes;
					continue;
				}
				group.push(one);
				if (group.length >= (this.state.several && !this.state.singles ? this.messagesPerRun : 1)) close();
			}
			close();
		} finally {
			// failed or stopped in the middle of a run: its room goes back (its messages are fetched again later)
			if (room) this.window.release(room.count, room.bytes, 1);
		}
	}

	/** The room a message takes in the window (none when it is over the size limit by its listing). */
	private bytesOf(f: Fetching, uidl: string): number {
		const listed = f.sizes.get(f.msgOf.get(uidl)!) ?? 0;
		return this.overByListing(listed) ? 0 : listed;
	}

	/** RETR (or TOP for an oversized one) of a message whose room is reserved; undefined when it was skipped (its room goes back). */
	private async fetchOne(f: Fetching, uidl: string, bytes: number): Promise<Fetched | undefined> {
		const msgNo = f.msgOf.get(uidl)!;
		const listed = f.sizes.get(msgNo) ?? 0;
		const over = this.overByListing(listed);
		const headersOnly = this.o.oversized !== 'skip';
		const item = over ? { oversized: true, source: undefined, size: listed, headers: headersOnly ? await f.client.top(msgNo, 0) : undefined } : limitDownloaded(await f.client.retr(msgNo), this.maxSize, headersOnly ? 'headers' : 'skip');
		f.signal.throwIfAborted();
		if (item.oversized && this.skipOversized(this.stats, `POP3 ${this.label(f.login)}: message ${uidl}`, item.size, () => setStatus(this.state, uidl, 'skipped'))) {
			this.window.release(1, bytes, 0);
			f.counters.skipped++;
			this.emit({ type: 'skipped', uidl, msgNo, size: item.size, reason: 'oversized' });
			return undefined;
		}
		const key = f.keyBase + uidl;
		return { message: { uidl, msgNo, firstSeen: new Date(this.state.messages[uidl]?.[0] ?? f.now), attempt: this.dispatcher.attemptOf(key), key, ...item }, bytes };
	}

	/**
	 * Hands a group over (its room reserved, one run's included): one message per run (not
	 * recorded), or one run recorded before it starts; `recorded`: a run recorded before, formed
	 * again with its key.
	 */
	private handOver(f: Fetching, group: Fetched[], room: { count: number; bytes: number }, recorded?: { uidl: string; attempt: number }): void {
		if (!group.length) {
			this.window.release(room.count, room.bytes, 1);
			if (recorded && dropRun(this.state, recorded.uidl)) this.stateChanged();
			return;
		}
		const messages = group.map((g) => g.message);
		for (const m of messages) this.inflight.add(m.uidl);
		f.counters.delivered += messages.length;
		if (!recorded && !this.state.several) {
			this.send(this.stats, messages, room.bytes, (message, settlement) => this.settled(message, settlement));
			return;
		}
		const head = recorded ?? { uidl: messages[0].uidl, attempt: messages[0].attempt };
		recordRun(this.state, head.uidl, head.attempt, messages.map((m) => m.uidl));
		if (!recorded && this.state.singles) this.state.singles--;
		this.stateChanged();
		let open = true;
		this.send(
			this.stats,
			messages,
			room.bytes,
			(message, settlement) => {
				if (open) {
					open = false;
					dropRun(this.state, head.uidl);
				}
				this.settled(message, settlement);
			},
			{ key: f.keyBase + head.uidl, attempt: head.attempt },
		);
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
