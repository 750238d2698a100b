import type { IDataObject, INodeExecutionData, IRun } from 'n8n-workflow';
import type { MailboxError } from '../../lib/errors';

/**
 * A run's outcome from n8n's done promise: the failure's message, or undefined for success.
 * No run at all (undefined) means n8n refused the execution as a duplicate of one that already
 * happened: the message was processed before, so it counts as done.
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
