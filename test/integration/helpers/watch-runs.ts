/**
 * What the folder-sync watcher tests (EWS, Graph) share: waiting for a condition, a run the test
 * settles by hand (resolve(true): the run succeeded; resolve(false): n8n refused it as a
 * duplicate; reject: the run failed), the test message, and a watcher with the tests' timing whose
 * deliveries, events and state are recorded.
 */
import type { FolderSyncEvent, FolderSyncMessage, FolderSyncWatcher } from '../../../lib/delivery/folder-sync';
import type { SyncWatchState } from '../../../lib/delivery/folder-sync-state';
import type { RetryPolicy } from '../../../lib/delivery/ledger';

export async function until(condition: () => boolean, timeoutMs = 60_000, what = 'condition'): Promise<void> {
	const end = Date.now() + timeoutMs;
	while (!condition()) {
		if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 10));
	}
}

/** A run the test settles by hand. */
export class Run<M> {
	resolve!: (ran: boolean) => void;
	reject!: (error: Error) => void;
	readonly promise: Promise<boolean>;
	constructor(readonly message: M) {
		this.promise = new Promise<boolean>((resolve, reject) => {
			this.resolve = resolve;
			this.reject = reject;
		});
	}
}

/** The message `id` (Subject `id`, Message-ID `<id@example.test>`) with the text `body`. */
export function message(id: string, body = 'Hello.'): Buffer {
	return Buffer.from(`From: Sender <sender@example.test>\r\nTo: someone@example.test\r\nSubject: ${id}\r\nMessage-ID: <${id}@example.test>\r\nDate: Tue, 02 Jan 2024 10:00:00 +0000\r\n\r\n${body}\r\n`);
}

type MessageOf<W> = W extends FolderSyncWatcher<infer F> ? FolderSyncMessage<F> : never;
type EventOf<W> = W extends FolderSyncWatcher<infer F> ? FolderSyncEvent<FolderSyncMessage<F>> : never;

/** A folder-sync watcher under test and what it reported. */
export interface WatchedRuns<W> {
	watcher: W;
	/** A run for each delivery, in order. */
	runs: Run<MessageOf<W>>[];
	events: EventOf<W>[];
	/** The state last reported. */
	state: () => SyncWatchState | undefined;
	/** fetchNow and wait for the next completed poll. */
	poll: () => Promise<void>;
	/** The Subjects of the delivered messages, in order. */
	subjects: () => string[];
}

/**
 * A `Watcher` (EwsWatcher, GraphWatcher) on `options` with the tests' timing (a poll only when
 * asked, short back-off, a failed run retried on the next poll) and callbacks that record what it
 * reports: each delivery is a Run, succeeded at once with `autoAck` true, settled by the test with
 * 'manual'. `onState` also sees each state reported.
 */
export function watchRuns<O extends { retry?: RetryPolicy }, W extends { fetchNow(): void }>(
	Watcher: new (options: O) => W,
	options: Omit<O, 'deliver' | 'onState' | 'onEvent'>,
	autoAck: boolean | 'manual',
	onState?: (state: SyncWatchState) => void,
): WatchedRuns<W> {
	const runs: Run<MessageOf<W>>[] = [];
	const events: EventOf<W>[] = [];
	let saved: SyncWatchState | undefined;
	let fetched = 0;
	const watcher = new Watcher({
		pollIntervalMs: 10 * 60_000,
		followUpDelayMs: 10,
		backoff: { initialMs: 50, maxMs: 200, jitter: false },
		// a failed run is retried on the next poll (the node's default waits a minute first)
		retry: { retryDelayMs: 0, ...options.retry },
		...options,
		deliver: ([m]: MessageOf<W>[]) => {
			const run = new Run<MessageOf<W>>(m);
			runs.push(run);
			if (autoAck === true) run.resolve(true);
			// false: n8n refused the run as a duplicate
			return run.promise.then((ran) => (ran ? undefined : { kind: 'duplicate' as const }));
		},
		onState: (state: SyncWatchState) => {
			saved = state;
			onState?.(state);
		},
		onEvent: (event: EventOf<W>) => {
			events.push(event);
			if (event.type === 'fetched') fetched++;
		},
	} as unknown as O);
	return {
		watcher,
		runs,
		events,
		state: () => saved,
		poll: async () => {
			const target = fetched + 1;
			watcher.fetchNow();
			await until(() => fetched >= target, 60_000, 'a poll');
		},
		subjects: () => runs.map((r) => /^Subject: (.*)$/m.exec(r.message.source.toString())?.[1] ?? '?'),
	};
}
