import { NodeOperationError, type IDataObject, type INodeExecutionData, type IRun, type ITriggerFunctions } from 'n8n-workflow';
import type { MailboxError } from '../../lib/errors';

/**
 * A run's outcome from n8n's done promise: the failure's message, or undefined for success.
 * No run at all (undefined) means n8n refused the execution as a duplicate of one that already
 * started (runMessage then returns false): the message is not delivered again, and the triggers
 * leave it untouched on the server (no mark, move or delete), because that earlier run may have
 * been cut off by a crash.
 */
export function runFailed(run: IRun | undefined): string | undefined {
	if (!run) return undefined;
	const error = run.data?.resultData?.error;
	if (run.status === 'error' || run.status === 'crashed' || error) return error?.message ?? `the run ended with status "${run.status}"`;
	return undefined;
}

export type HealthEvent =
	| { type: 'failing' | 'updated'; error: MailboxError; message: string; firstFailureAt: Date; lastFailureAt: Date; count: number }
	| { type: 'recovered'; firstFailureAt: Date; lastFailureAt: Date; recoveredAt: Date; count: number };

/**
 * The Mailbox Status output's item for a health event (H2): "cannot be fetched" once when fetching
 * starts to fail, updates while it keeps failing, "fetched again" when it works; with the
 * statistics of the mailbox or folder (H4). The same shape for the IMAP and POP3 triggers.
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

/** At most this many messages with failed runs are remembered (the oldest are dropped). */
const MAX_FAILED_RUNS = 1000;

/** The part of a trigger's static data that remembers failed runs. */
export interface FailedRunsData extends IDataObject {
	/** Message key -> the attempt whose run failed last. */
	failedRuns?: IDataObject;
}

function recordAttempt(staticData: FailedRunsData, messageKey: string, attempt: number | undefined): void {
	const failed = { ...((staticData.failedRuns as Record<string, number> | undefined) ?? {}) };
	if (attempt === undefined && !(messageKey in failed)) return;
	delete failed[messageKey]; // re-inserted as the newest
	if (attempt !== undefined) {
		failed[messageKey] = attempt;
		const keys = Object.keys(failed);
		for (const old of keys.slice(0, Math.max(0, keys.length - MAX_FAILED_RUNS))) delete failed[old];
	}
	// a new object, so n8n sees the change and saves it with the next emit
	staticData.failedRuns = failed;
}

/**
 * Emits one message's item on the trigger's first output and waits for the run n8n started
 * with it. The deduplication key is `keyPrefix:messageKey`, plus `:retryN` for the Nth attempt:
 * deterministic, so a second n8n instance, or this one after a restart before the acknowledgement
 * was saved, is refused as a duplicate. Attempts of failed runs are kept in static data (saved by
 * n8n with each emit, not on shutdown), so a retry after a restart gets a key of its own.
 * Returns false when n8n refused the run as a duplicate of an earlier one; throws when it failed.
 */
export async function runMessage(
	ctx: ITriggerFunctions,
	staticData: FailedRunsData,
	item: INodeExecutionData,
	message: { key: string; attempt: number },
	options: { keyPrefix: string; retryFailed: boolean; describe: string },
): Promise<boolean> {
	const failedBefore = Number((staticData.failedRuns as Record<string, number> | undefined)?.[message.key] ?? 0);
	const attempt = Math.max(message.attempt, failedBefore + 1);
	const key = `${options.keyPrefix}:${message.key}${attempt > 1 ? `:retry${attempt}` : ''}`;
	if (attempt > 1) recordAttempt(staticData, message.key, attempt);
	const done = ctx.helpers.createDeferredPromise<IRun>();
	ctx.emit([[item], []], undefined, done, key);
	const run = await done.promise;
	const failure = runFailed(run);
	if (failure) {
		if (options.retryFailed) recordAttempt(staticData, message.key, attempt);
		throw new NodeOperationError(ctx.getNode(), `The workflow run for ${options.describe} failed: ${failure}`);
	}
	recordAttempt(staticData, message.key, undefined);
	return run !== undefined;
}
