import { NodeOperationError, type IDataObject, type INodeExecutionData, type INodeProperties, type IRun, type ITriggerFunctions, type ITriggerResponse } from 'n8n-workflow';
import type { DeliveryEvent } from '../../lib/delivery/dispatcher';
import type { HealthEvent } from '../../lib/delivery/health';
import { isPermanent } from '../../lib/errors';
import type { LedgerState, RetryPolicy } from '../../lib/delivery/ledger';
import { outcomeOf, type RunOutcome } from '../../lib/delivery/outcome';
import type { MailboxError } from '../../lib/errors';
import type { StartResult } from '../../lib/delivery/watcher';
import { toNodeError } from './errors';
import type { ShapeOptions } from './message-item';

/**
 * The trigger layer the IMAP, POP3 and EWS triggers share: how a run is started and told apart
 * (done, duplicate, waiting, failed), what is kept in static data, the retry options, and the
 * Mailbox Status items for health and run events.
 */

/** What a trigger keeps in the workflow's static data (n8n saves it with every emit, never on shutdown). */
export interface TriggerStaticData extends IDataObject {
	/** The source's state (cursor, pending messages, bound to the account). */
	watch?: IDataObject;
	/** The run ledger: failed runs, their attempts and retry times. */
	runs?: IDataObject;
	/** The run ledger of earlier releases (message key -> attempt); read once, then replaced by `runs`. */
	failedRuns?: IDataObject;
}

/**
 * Emits the run's items on the Messages output under its deduplication key and resolves with
 * what became of the run. n8n refuses a key it has seen (no run: `duplicate`).
 */
export async function emitRun(ctx: ITriggerFunctions, items: INodeExecutionData[], key: string): Promise<RunOutcome> {
	const done = ctx.helpers.createDeferredPromise<IRun>();
	ctx.emit([items, []], undefined, done, key);
	return outcomeOf(await done.promise);
}

/** The watcher options that keep state and ledger in static data. */
export function persisted(staticData: TriggerStaticData): { state: unknown; runs: unknown; onState: (state: object) => void; onLedger: (state: LedgerState) => void } {
	return {
		state: staticData.watch,
		runs: staticData.runs ?? staticData.failedRuns,
		onState: (state) => {
			staticData.watch = state as IDataObject;
		},
		onLedger: (state) => {
			// a new object, so n8n sees the change and saves it with the next emit
			staticData.runs = state as unknown as IDataObject;
			if (staticData.failedRuns) delete staticData.failedRuns;
		},
	};
}

export interface RetryOptions {
	retryFailed?: boolean;
	maxAttempts?: number;
	retryMinutes?: number;
	reportFailures?: boolean;
}

export interface RunOptions {
	messagesPerRun?: number;
	maxRuns?: number;
	lostMinutes?: number;
}

/** The node version from which runs carry several messages and their number at once is bounded. */
export const SEVERAL_PER_RUN_VERSION = 1.2;

/** How runs are formed (the options Messages per Run and Runs at Once). */
export const runOptions: INodeProperties[] = [
	{
		displayName: 'Messages per Run',
		name: 'messagesPerRun',
		type: 'number',
		default: 20,
		typeOptions: { minValue: 1, maxValue: 500 },
		description:
			'Messages waiting at once (a backlog) go into one workflow run, up to this many, one item each; a message arriving alone starts a run at once. A failed run leaves all its messages as they are and retries them. 1: a run for every message. Without this option: 20 (node versions before 1.2: 1).',
	},
	{
		displayName: 'Runs at Once',
		name: 'maxRuns',
		type: 'number',
		default: 4,
		typeOptions: { minValue: 1, maxValue: 100 },
		description: 'Workflow runs of this trigger under way at most; further mail waits until one ends. Without this option: 4 (node versions before 1.2: up to 100 messages at once).',
	},
	{
		displayName: 'Run Lost After (Minutes)',
		name: 'lostMinutes',
		type: 'number',
		default: 60,
		typeOptions: { minValue: 0 },
		description:
			"A run n8n has not reported as ended after this long no longer counts against Runs at Once, so that new mail goes on (in queue mode n8n loses track of runs that were queued or running when Redis restarted). Its messages are not delivered again; they are marked, moved or deleted if the run's success is reported later, else left as they are. Set it above the longest run the workflow has. 0: a run counts until it ends.",
	},
];

/** A run not reported as ended after this long no longer counts against Runs at Once (ms; 0: never; undefined: the default). */
export function lostAfterMsOf(options: RunOptions): number | undefined {
	const minutes = options.lostMinutes;
	// unset: the delivery core's default (60 min)
	return typeof minutes === 'number' && Number.isFinite(minutes) && minutes >= 0 ? minutes * 60_000 : undefined;
}

/** Messages per run and runs at once: the options, else the defaults of the node's version. */
export function runShapeOf(options: RunOptions, typeVersion: number): { messagesPerRun: number; maxRuns?: number } {
	const several = typeVersion >= SEVERAL_PER_RUN_VERSION;
	const whole = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) && v >= 1 ? Math.floor(v) : fallback);
	const messagesPerRun = whole(options.messagesPerRun, several ? 20 : 1);
	const maxRuns = typeof options.maxRuns === 'number' || several ? whole(options.maxRuns, 4) : undefined;
	return maxRuns === undefined ? { messagesPerRun } : { messagesPerRun, maxRuns };
}

/** Options every trigger offers beside its Retry Failed Runs. */
export const deliveryOptions: INodeProperties[] = [
	{
		displayName: 'First Retry After (Minutes)',
		name: 'retryMinutes',
		type: 'number',
		default: 1,
		typeOptions: { minValue: 0 },
		description: 'How long a message whose run failed waits before it is run again; the wait doubles with every further failure, up to one hour',
	},
	{
		displayName: 'Max Attempts',
		name: 'maxAttempts',
		type: 'number',
		default: 5,
		typeOptions: { minValue: 0 },
		description: 'Runs of one message at most, the first included; then it is reported on Mailbox Status and left as it is on the server. 0 means no limit. Without this option: 5 (version 1 of the node: no limit).',
	},
	{
		displayName: 'Report Failures as Workflow Errors',
		name: 'reportFailures',
		type: 'boolean',
		default: false,
		description: "Whether a mailbox that cannot be fetched is also recorded as a failed execution, so that the workflow's Error Workflow runs (once when it starts to fail)",
	},
];

/** The Options every trigger reads alike; each trigger adds its own. */
export interface TriggerOptions extends RetryOptions, RunOptions, ShapeOptions {
	maxSizeMb?: number;
	stuckMinutes?: number;
}

/** The watcher options every trigger takes from its Options alike: size limit, retries, runs, lost runs, the stuck timeout. */
export function deliverySettingsOf(options: TriggerOptions, typeVersion: number) {
	return {
		maxSizeBytes: options.maxSizeMb ? Math.round(options.maxSizeMb * 1024 * 1024) : 0,
		retry: retryPolicyOf(options, typeVersion),
		...runShapeOf(options, typeVersion),
		lostAfterMs: lostAfterMsOf(options),
		stuckAfterMs: (options.stuckMinutes ?? 30) * 60_000,
	};
}

/** Polling Interval (Minutes) in ms, never below 6 seconds. */
export function pollIntervalMsOf(ctx: ITriggerFunctions, defaultMinutes: number): number {
	return Math.max(6_000, Number(ctx.getNodeParameter('pollMinutes', defaultMinutes)) * 60_000);
}

export function retryPolicyOf(options: RetryOptions, typeVersion: number): RetryPolicy {
	return {
		retryFailed: options.retryFailed !== false,
		maxAttempts: typeof options.maxAttempts === 'number' ? options.maxAttempts : typeVersion >= 1.1 ? 5 : 0,
		retryDelayMs: (typeof options.retryMinutes === 'number' ? options.retryMinutes : 1) * 60_000,
	};
}

/**
 * Whether the first attempt's failure fails the activation. Someone who switches the workflow on
 * sees any error at once. At start-up, on a new leader or a re-publication only a failure that
 * needs the user does (wrong password, certificate, setting, folder): n8n tries a failed
 * activation a few times within seconds and then leaves the trigger off, so a server down for a
 * minute during a restart would silence it for good. Instead the trigger stays on, keeps trying
 * and reports on Mailbox Status.
 */
export function failsActivation(ctx: ITriggerFunctions, error: MailboxError): boolean {
	return ctx.getActivationMode() === 'activate' || isPermanent(error);
}

/**
 * Starts a watcher with one source: when its first attempt fails the activation (see
 * failsActivation), it is stopped and the error thrown; else the trigger's response stops it.
 */
export async function startWatching(ctx: ITriggerFunctions, watcher: { start(): Promise<StartResult>; stop(): Promise<void> }): Promise<ITriggerResponse> {
	const started = await watcher.start();
	if (started.error && failsActivation(ctx, started.error)) {
		await watcher.stop();
		throw toNodeError(ctx.getNode(), started.error);
	}
	return { closeFunction: async () => watcher.stop() };
}

/**
 * The watcher's event callbacks for a trigger whose Mailbox Status item depends on the event and
 * the statistics alone: the events of a run in one emit, any other event in its own (a failure
 * also as a workflow error with "Report Failures as Workflow Errors").
 */
export function statusEmitter<E extends { type: string }, S>(
	ctx: ITriggerFunctions,
	options: RetryOptions,
	stats: () => S,
	itemOf: (event: E, stats: S) => INodeExecutionData | undefined,
): { onEvents: (events: E[]) => void; onEvent: (event: E) => void } {
	return {
		// the messages of a run that failed or waits: one item each, in one emit
		onEvents: (events) => {
			const now = stats();
			const items = events.flatMap((event) => itemOf(event, now) ?? []);
			if (items.length) ctx.emit([[], items]);
		},
		onEvent: (event) => {
			reportFailure(ctx, options, event);
			const item = itemOf(event, stats());
			if (item) ctx.emit([[], [item]]);
		},
	};
}

/** With "Report Failures as Workflow Errors": a failed execution (and the Error Workflow) when fetching starts to fail. */
export function reportFailure(ctx: ITriggerFunctions, options: RetryOptions, event: { type: string }): void {
	const message = (event as { message?: unknown }).message;
	if (!options.reportFailures || event.type !== 'failing' || typeof message !== 'string') return;
	ctx.saveFailedExecution(new NodeOperationError(ctx.getNode(), message));
}

/**
 * The Mailbox Status output's item for a health event (H2): "cannot be fetched" once when fetching
 * starts to fail, updates while it keeps failing, "fetched again" when it works; with the
 * statistics of the mailbox or folder (H4).
 */
export function statusItem(event: HealthEvent, mailbox: string, folder: string, statistics: IDataObject | null): INodeExecutionData {
	const base = { mailbox, folder, statistics };
	if (event.type === 'recovered') {
		return {
			json: {
				...base,
				status: 'recovered',
				title: `Mailbox '${mailbox}' is fetched again`,
				firstFailureAt: event.firstFailureAt.toISOString(),
				lastFailureAt: event.lastFailureAt.toISOString(),
				recoveredAt: event.recoveredAt.toISOString(),
				failures: event.count,
			},
		};
	}
	return {
		json: {
			...base,
			status: 'failing',
			update: event.type === 'updated',
			title: `Mailbox '${mailbox}' cannot be fetched`,
			message: event.message,
			errorCode: event.error.code,
			field: event.error.field ?? null,
			firstFailureAt: event.firstFailureAt.toISOString(),
			lastFailureAt: event.lastFailureAt.toISOString(),
			failures: event.count,
		},
	};
}

/**
 * The Mailbox Status item for a run event: a failed run (retried, skipped or given up) and a run
 * that waits at a Wait node. Emitting it also makes n8n save the run ledger, so a retry after a
 * restart gets a key of its own. A run refused as a duplicate gets no item (it is logged).
 */
export function runStatusItem(event: DeliveryEvent<{ key: string; attempt: number }>, mailbox: string, folder: string, message: IDataObject, statistics: IDataObject | null): INodeExecutionData | undefined {
	const base = { mailbox, folder, statistics };
	if (event.type === 'runFailed') {
		const next = event.settlement === 'retry' ? 'retry' : event.settlement === 'gaveUp' ? 'givenUp' : 'skipped';
		return {
			json: {
				...base,
				status: 'runFailed',
				title: event.settlement === 'gaveUp' ? `A message was given up after ${event.message.attempt} failed runs; it is left as it is` : 'The workflow run for a message failed',
				run: { ...message, attempt: event.message.attempt, error: event.error, next, retryAt: event.retryAt?.toISOString() ?? null },
			},
		};
	}
	if (event.type === 'runWaiting') {
		return { json: { ...base, status: 'runWaiting', title: 'The run for a message waits (Wait node); the message is not delivered again and left as it is', run: { ...message, attempt: event.message.attempt } } };
	}
	return undefined;
}

/** The Mailbox Status item when the saved state belonged to another account (host, user or mailbox changed). */
export function accountChangedItem(mailbox: string, folder: string): INodeExecutionData {
	return { json: { mailbox, folder, statistics: null, status: 'accountChanged', title: `The trigger now reads '${mailbox}': it starts as on first activation` } };
}
