/**
 * The run ledger: per message whose run failed, how many runs failed and when the next may start.
 * Kept in the trigger's static data beside the source's state; n8n saves static data only when
 * the trigger emits, so the trigger reports every failed run on its Mailbox Status output, and that
 * emit saves the attempt: after a restart the retry gets a key of its own (`:retryN`) instead of
 * being refused as a duplicate of the failed run.
 *
 * Messages are known by the fingerprint of their key; at most MAX_ENTRIES messages wait for a
 * retry at once: a failure beyond that is given up at once (reported, the message left as it is),
 * because dropping another message's attempts would give its retry the key of its first run.
 * Entries of messages that left the mailbox are forgotten.
 */
import { asFingerprint, fingerprint } from './keys';

export const MAX_ENTRIES = 1000;

export interface RetryPolicy {
	/** Deliver a message again after its run failed (default true); off: the message is skipped, left as it is. */
	retryFailed?: boolean;
	/** Runs of one message at most, the first included; 0 = no limit (default 5). */
	maxAttempts?: number;
	/** Wait before the first retry (default 1 min); doubles with every further failure. */
	retryDelayMs?: number;
	/** Longest wait between two runs of a message (default 1 h). */
	maxRetryDelayMs?: number;
}

/** fingerprint -> [failed runs, earliest next run (ms)] */
export type LedgerState = Record<string, [number, number]>;

export type FailureVerdict = { verdict: 'retry'; attempt: number; retryAt: number } | { verdict: 'skip'; attempt: number } | { verdict: 'gaveUp'; attempt: number };

export class RunLedger {
	private readonly entries = new Map<string, [number, number]>();
	readonly policy: Required<RetryPolicy>;

	/** `raw`: the ledger saved before, or an earlier release's `failedRuns` (message key -> attempt). */
	constructor(raw: unknown, policy: RetryPolicy = {}) {
		const positive = (v: number | undefined, d: number) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : d);
		this.policy = {
			retryFailed: policy.retryFailed ?? true,
			maxAttempts: Math.floor(positive(policy.maxAttempts, 5)),
			retryDelayMs: positive(policy.retryDelayMs, 60_000),
			maxRetryDelayMs: positive(policy.maxRetryDelayMs, 60 * 60_000),
		};
		if (!raw || typeof raw !== 'object') return;
		for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
			if (Array.isArray(value) && typeof value[0] === 'number' && typeof value[1] === 'number') this.set(asFingerprint(key), [Math.max(0, Math.floor(value[0])), value[1]]);
			else if (typeof value === 'number' && value > 0) this.set(fingerprint(key), [Math.floor(value), 0]);
		}
	}

	private set(id: string, entry: [number, number]): void {
		this.entries.delete(id);
		this.entries.set(id, entry);
		while (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
	}

	/** The attempt number of the message's next run: 1, or one more than its failed runs. */
	attemptOf(messageKey: string): number {
		return (this.entries.get(fingerprint(messageKey))?.[0] ?? 0) + 1;
	}

	/** Whether the message may run now (no retry delay pending). */
	isDue(messageKey: string, now: number): boolean {
		const entry = this.entries.get(fingerprint(messageKey));
		return !entry || entry[1] <= now;
	}

	/** The earliest time one of the waiting retries is due, if any is. */
	nextDue(now: number): number | undefined {
		let next: number | undefined;
		for (const [, at] of this.entries.values()) if (at > now && (next === undefined || at < next)) next = at;
		return next;
	}

	/** When the message may run again (ms), if it waits. */
	nextDueOf(messageKey: string): number | undefined {
		return this.entries.get(fingerprint(messageKey))?.[1];
	}

	/** Records a failed run of attempt `attempt`; says whether the message is run again and when. */
	failed(messageKey: string, attempt: number, now: number): FailureVerdict {
		const id = fingerprint(messageKey);
		if (!this.policy.retryFailed) {
			this.entries.delete(id);
			return { verdict: 'skip', attempt };
		}
		if (this.policy.maxAttempts > 0 && attempt >= this.policy.maxAttempts) {
			this.entries.delete(id);
			return { verdict: 'gaveUp', attempt };
		}
		// full: evicting another message's attempts would give its retry the key of its first run, which
		// n8n refuses; this failure is given up instead (reported) and the message left as it is
		if (!this.entries.has(id) && this.entries.size >= MAX_ENTRIES) return { verdict: 'gaveUp', attempt };
		const delay = Math.min(this.policy.maxRetryDelayMs, this.policy.retryDelayMs * Math.pow(2, Math.max(0, attempt - 1)));
		const retryAt = now + delay;
		this.set(id, [attempt, retryAt]);
		return { verdict: 'retry', attempt, retryAt };
	}

	/** The message is settled (run succeeded, refused, waiting, gone): nothing to remember. */
	forget(messageKey: string): boolean {
		return this.entries.delete(fingerprint(messageKey));
	}

	get size(): number {
		return this.entries.size;
	}

	toJSON(): LedgerState {
		const out: LedgerState = {};
		for (const [id, entry] of this.entries) out[id] = [entry[0], entry[1]];
		return out;
	}
}
