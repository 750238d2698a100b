/**
 * The trigger layer the IMAP, POP3 and EWS triggers share: a run's outcome from n8n's done
 * promise, what goes into static data, the retry options per node version, the Mailbox Status
 * items for run events, and failures recorded as failed executions when asked.
 */
import type { INodeExecutionData, IRun, ITriggerFunctions } from 'n8n-workflow';
import { MailboxError } from '../../../../lib/errors';
import { emitRun, failsActivation, persisted, reportFailure, retryPolicyOf, runShapeOf, runStatusItem, type TriggerStaticData } from '../../../../nodes/shared/trigger-runs';

function context(run: Partial<IRun> | undefined) {
	const emitted: Array<{ data: INodeExecutionData[][]; key?: string }> = [];
	const failed: Error[] = [];
	const ctx = {
		getNode: () => ({ id: 'n', name: 'Trigger', type: 't', typeVersion: 1.1, position: [0, 0], parameters: {} }),
		helpers: {
			createDeferredPromise: <T>() => {
				let resolve!: (v: T) => void;
				const promise = new Promise<T>((r) => (resolve = r));
				return { promise, resolve, reject: () => undefined };
			},
		},
		emit: (data: INodeExecutionData[][], _r: unknown, done: { resolve: (run: IRun | undefined) => void }, key: string) => {
			emitted.push({ data, key });
			done.resolve(run as IRun | undefined);
		},
		saveFailedExecution: (error: Error) => failed.push(error),
	};
	return { ctx: ctx as unknown as ITriggerFunctions, emitted, failed };
}

describe('trigger runs', () => {
	it('emits the items under the key and tells the outcome apart', async () => {
		const item = { json: { subject: 's' } };
		const ok = context({ status: 'success', data: { resultData: { runData: {} } } } as Partial<IRun>);
		expect(await emitRun(ok.ctx, [item], 'k1')).toEqual({ kind: 'done' });
		expect(ok.emitted).toEqual([{ data: [[item], []], key: 'k1' }]);
		expect(await emitRun(context(undefined).ctx, [item], 'k')).toEqual({ kind: 'duplicate' });
		expect(await emitRun(context({ status: 'waiting' } as Partial<IRun>).ctx, [item], 'k')).toEqual({ kind: 'waiting' });
		expect(await emitRun(context({ status: 'error', data: { resultData: { runData: {}, error: { message: 'boom' } } } } as unknown as Partial<IRun>).ctx, [item], 'k')).toEqual({ kind: 'failed', error: 'boom' });
		expect(await emitRun(context({ status: 'canceled' } as Partial<IRun>).ctx, [item], 'k')).toEqual({ kind: 'failed', error: 'the run ended with status "canceled"' });
	});

	it('keeps state and ledger in static data; the ledger of earlier releases is read once, then replaced', () => {
		const staticData: TriggerStaticData = { watch: { version: 1 }, failedRuns: { 'INBOX/1/5': 2 } };
		const p = persisted(staticData);
		expect(p.state).toEqual({ version: 1 });
		expect(p.runs).toEqual({ 'INBOX/1/5': 2 });
		p.onLedger({ abc: [2, 10] });
		p.onState({ version: 2 });
		expect(staticData).toEqual({ watch: { version: 2 }, runs: { abc: [2, 10] } });
		expect(persisted(staticData).runs).toEqual({ abc: [2, 10] });
	});

	it('retries: Max Attempts defaults to 5 from node version 1.1, no limit in version 1; the first retry waits a minute', () => {
		expect(retryPolicyOf({}, 1.1)).toEqual({ retryFailed: true, maxAttempts: 5, retryDelayMs: 60_000 });
		expect(retryPolicyOf({}, 1)).toEqual({ retryFailed: true, maxAttempts: 0, retryDelayMs: 60_000 });
		expect(retryPolicyOf({ retryFailed: false, maxAttempts: 2, retryMinutes: 0.5 }, 1)).toEqual({ retryFailed: false, maxAttempts: 2, retryDelayMs: 30_000 });
	});

	it('runs: from node version 1.2 up to 20 messages per run and 4 runs at once; before, a run per message and no run limit', () => {
		expect(runShapeOf({}, 1.2)).toEqual({ messagesPerRun: 20, maxRuns: 4 });
		expect(runShapeOf({}, 1.1)).toEqual({ messagesPerRun: 1 });
		expect(runShapeOf({}, 1)).toEqual({ messagesPerRun: 1 });
		expect(runShapeOf({ messagesPerRun: 1 }, 1.2)).toEqual({ messagesPerRun: 1, maxRuns: 4 });
		expect(runShapeOf({ messagesPerRun: 5.7, maxRuns: 2 }, 1.1)).toEqual({ messagesPerRun: 5, maxRuns: 2 });
		expect(runShapeOf({ messagesPerRun: 0, maxRuns: -1 }, 1.2)).toEqual({ messagesPerRun: 20, maxRuns: 4 });
	});

	it('Mailbox Status items for a failed, a given-up and a waiting run; none for a duplicate', () => {
		const message = { key: 'INBOX/1/7', attempt: 2 };
		const failed = runStatusItem({ type: 'runFailed', message, error: 'boom', settlement: 'retry', retryAt: new Date(Date.UTC(2026, 11, 5)) }, 'alice', 'INBOX', { uid: 7 }, null);
		expect(failed?.json).toEqual({ mailbox: 'alice', folder: 'INBOX', statistics: null, status: 'runFailed', title: 'The workflow run for a message failed', run: { uid: 7, attempt: 2, error: 'boom', next: 'retry', retryAt: '2026-12-05T00:00:00.000Z' } });
		const gaveUp = runStatusItem({ type: 'runFailed', message: { ...message, attempt: 5 }, error: 'boom', settlement: 'gaveUp' }, 'alice', 'INBOX', { uid: 7 }, null);
		expect(gaveUp?.json).toMatchObject({ status: 'runFailed', title: 'A message was given up after 5 failed runs; it is left as it is', run: { next: 'givenUp', retryAt: null } });
		expect(runStatusItem({ type: 'runWaiting', message }, 'alice', 'INBOX', { uid: 7 }, null)?.json).toMatchObject({ status: 'runWaiting', run: { uid: 7, attempt: 2 } });
		expect(runStatusItem({ type: 'duplicate', message }, 'alice', 'INBOX', { uid: 7 }, null)).toBeUndefined();
		// a status item never looks like a message item (no uid or messageId of its own)
		expect(failed?.json.uid).toBeUndefined();
	});

	it('with "Report Failures as Workflow Errors" the first failure is recorded as a failed execution, once', () => {
		const { ctx, failed } = context(undefined);
		const error = new MailboxError('AUTH', 'no');
		const event = { type: 'failing', message: 'Mailbox "a" cannot be fetched: no', error };
		reportFailure(ctx, {}, event);
		expect(failed).toEqual([]);
		reportFailure(ctx, { reportFailures: true }, event);
		reportFailure(ctx, { reportFailures: true }, { ...event, type: 'updated' });
		reportFailure(ctx, { reportFailures: true }, { type: 'runFailed', message: { key: 'k' } } as unknown as { type: string });
		expect(failed.map((e) => e.message)).toEqual(['Mailbox "a" cannot be fetched: no']);
	});

	it('activation fails at once when someone switches the workflow on; at start-up only for what needs the user', () => {
		const ctxIn = (mode: string) => ({ getActivationMode: () => mode }) as unknown as ITriggerFunctions;
		const refused = new MailboxError('CONNECTION_REFUSED', 'connection refused');
		const wrongPassword = new MailboxError('AUTH', 'no');
		expect(failsActivation(ctxIn('activate'), refused)).toBe(true);
		expect(failsActivation(ctxIn('activate'), wrongPassword)).toBe(true);
		for (const mode of ['init', 'update', 'leadershipChange']) {
			// a server down during a restart: the trigger stays on and keeps trying (n8n would give up re-activating it)
			expect(failsActivation(ctxIn(mode), refused)).toBe(false);
			expect(failsActivation(ctxIn(mode), new MailboxError('TIMEOUT', 'slow'))).toBe(false);
			expect(failsActivation(ctxIn(mode), wrongPassword)).toBe(true);
			expect(failsActivation(ctxIn(mode), new MailboxError('CONFIG', 'no UIDPLUS', { field: 'afterProcessing' }))).toBe(true);
		}
	});
});
