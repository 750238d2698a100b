/**
 * What became of a run, told from the record n8n gives for it (its done promise). No n8n import:
 * the shape is the part of n8n's IRun this reads.
 *
 * - `done`: the run finished successfully; the after-processing action may be done.
 * - `duplicate`: n8n refused the run as a duplicate of one with the same key (a run before a
 *   restart, whose end is unknown: it may have been cut off). Not delivered again, left as it is.
 * - `waiting`: the run stopped at a Wait node and goes on later, outside the trigger's sight.
 *   Not delivered again (it has the message) and left as it is: it has not finished.
 * - `unknown`: n8n resolved the promise with a run that has not ended (status new or running):
 *   in queue mode after a Redis restart, a lost job's listener can fire for a later job with the
 *   same number, and n8n then reads the lost run's record as it is. Its end is unknown: not
 *   delivered again (it may still succeed) and left as it is.
 * - `failed`: the run ended with an error, crashed or was cancelled.
 */
export type RunOutcome = { kind: 'done' } | { kind: 'duplicate' } | { kind: 'waiting' } | { kind: 'unknown'; status: string } | { kind: 'failed'; error: string };

/** Statuses of a run that has not ended. */
const UNENDED = new Set(['new', 'running', 'unknown']);

export interface RunRecord {
	status?: string;
	data?: { resultData?: { error?: { message?: string } | null } };
}

export function outcomeOf(run: RunRecord | undefined): RunOutcome {
	if (!run) return { kind: 'duplicate' };
	const error = run.data?.resultData?.error;
	if (error) return { kind: 'failed', error: error.message || `the run ended with status "${run.status ?? 'unknown'}"` };
	if (run.status === 'success' || run.status === undefined) return { kind: 'done' };
	if (run.status === 'waiting') return { kind: 'waiting' };
	if (UNENDED.has(run.status)) return { kind: 'unknown', status: run.status };
	return { kind: 'failed', error: `the run ended with status "${run.status ?? 'unknown'}"` };
}
