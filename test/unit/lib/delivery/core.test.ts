import { systemClock } from '../../../../lib/delivery/clock';
import { FakeClock } from './fake-clock';
import { Dispatcher, type DeliveryEvent, type Run, type Settlement } from '../../../../lib/delivery/dispatcher';
import { Health, type HealthEvent } from '../../../../lib/delivery/health';
import { isPermanent } from '../../../../lib/errors';
import { asFingerprint, deliveryKey, fingerprint, MAX_KEY_LENGTH } from '../../../../lib/delivery/keys';
import { MAX_ENTRIES, RunLedger, type LedgerState, type RetryPolicy } from '../../../../lib/delivery/ledger';
import { accountId, headerBlock, limitDownloaded } from '../../../../lib/delivery/message';
import { outcomeOf, type RunOutcome } from '../../../../lib/delivery/outcome';
import { Reconnect, Stream } from '../../../../lib/delivery/stream';
import { Window } from '../../../../lib/delivery/window';
import { MailboxError, type MailboxErrorCode } from '../../../../lib/errors';
import { silentLogger } from '../../../../lib/logger';


/** Lets pending promise callbacks and short timers run. */
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Waits until `condition` holds (bounded by a number of rounds, not by a time to assert on). */
async function until(condition: () => boolean, what: string, rounds = 5_000): Promise<void> {
	for (let i = 0; i < rounds; i++) {
		if (condition()) return;
		await new Promise<void>((resolve) => setTimeout(resolve, 1));
	}
	throw new Error(`never happened: ${what}`);
}

const FINGERPRINT = /^[A-Za-z0-9_-]{16}$/;

describe('deliveryKey', () => {
	const prefix = 'wf1:node2:g3';

	it('leaves short keys exactly as earlier releases made them', () => {
		expect(deliveryKey(prefix, 'INBOX/7/42', 1)).toBe('wf1:node2:g3:INBOX/7/42');
		expect(deliveryKey(prefix, 'INBOX/7/42', 2)).toBe('wf1:node2:g3:INBOX/7/42:retry2');
		expect(deliveryKey(prefix, 'INBOX/7/42', 5)).toBe('wf1:node2:g3:INBOX/7/42:retry5');
		expect(deliveryKey(prefix, 'INBOX/7/42', 0)).toBe('wf1:node2:g3:INBOX/7/42');
	});

	it('keeps a key of exactly 255 characters and hashes one of 256', () => {
		const exact = 'k'.repeat(MAX_KEY_LENGTH - prefix.length - 1);
		expect(deliveryKey(prefix, exact, 1)).toBe(`${prefix}:${exact}`);
		expect(deliveryKey(prefix, exact, 1)).toHaveLength(255);
		const over = `${exact}k`;
		const hashed = deliveryKey(prefix, over, 1);
		expect(hashed).not.toBe(`${prefix}:${over}`);
		expect(hashed.startsWith(`${prefix}:#`)).toBe(true);
		expect(hashed.length).toBeLessThanOrEqual(255);
		// the suffix can push a key over the limit too
		expect(deliveryKey(prefix, exact, 2).length).toBeLessThanOrEqual(255);
		expect(deliveryKey(prefix, exact, 2).endsWith(':retry2')).toBe(true);
	});

	it('hashes the variable part of a 600-character key: short, deterministic, distinct', () => {
		const long = `Folder/${'x'.repeat(591)}/1`;
		expect(long).toHaveLength(600);
		const k1 = deliveryKey(prefix, long, 1);
		expect(k1.length).toBeLessThanOrEqual(255);
		expect(k1.startsWith(`${prefix}:#`)).toBe(true);
		expect(deliveryKey(prefix, long, 1)).toBe(k1);
		const other = `Folder/${'x'.repeat(591)}/2`;
		expect(deliveryKey(prefix, other, 1)).not.toBe(k1);
		const k2 = deliveryKey(prefix, long, 2);
		expect(k2).not.toBe(k1);
		expect(k2.endsWith(':retry2')).toBe(true);
		expect(k2.length).toBeLessThanOrEqual(255);
		expect(deliveryKey(prefix, long, 3)).not.toBe(k2);
		expect(deliveryKey('other-prefix', long, 1)).not.toBe(k1);
	});

	it('stays within 255 characters with a huge prefix', () => {
		const huge = 'p'.repeat(400);
		const a = deliveryKey(huge, 'INBOX/1/1', 1);
		expect(a.length).toBeLessThanOrEqual(255);
		expect(deliveryKey(huge, 'INBOX/1/1', 1)).toBe(a);
		expect(deliveryKey(huge, 'INBOX/1/2', 1)).not.toBe(a);
		expect(deliveryKey(huge, 'INBOX/1/1', 2)).not.toBe(a);
		expect(deliveryKey(huge, 'INBOX/1/1', 2).length).toBeLessThanOrEqual(255);
		expect(deliveryKey(huge, 'y'.repeat(1000), 9).length).toBeLessThanOrEqual(255);
		expect(deliveryKey(`${huge}x`, 'INBOX/1/1', 1)).not.toBe(a);
	});
});

describe('fingerprints', () => {
	it('are 16 URL-safe characters, stable and distinct', () => {
		const f = fingerprint('<abc@example.com>');
		expect(f).toMatch(FINGERPRINT);
		expect(fingerprint('<abc@example.com>')).toBe(f);
		expect(fingerprint('<abd@example.com>')).not.toBe(f);
		expect(fingerprint('')).toMatch(FINGERPRINT);
	});

	it('asFingerprint leaves a fingerprint as it is and fingerprints other text', () => {
		const f = fingerprint('<abc@example.com>');
		expect(asFingerprint(f)).toBe(f);
		expect(asFingerprint('<abc@example.com>')).toBe(f);
		expect(asFingerprint('INBOX/1/5')).toBe(fingerprint('INBOX/1/5'));
		// 15 or 17 characters are not a fingerprint
		expect(asFingerprint('a'.repeat(15))).toBe(fingerprint('a'.repeat(15)));
		expect(asFingerprint('a'.repeat(17))).toBe(fingerprint('a'.repeat(17)));
		expect(asFingerprint(asFingerprint('anything'))).toBe(fingerprint('anything'));
	});
});

describe('outcomeOf', () => {
	it('tells the outcome from the run record', () => {
		expect(outcomeOf(undefined)).toEqual({ kind: 'duplicate' });
		expect(outcomeOf({ status: 'success' })).toEqual({ kind: 'done' });
		expect(outcomeOf({})).toEqual({ kind: 'done' });
		expect(outcomeOf({ status: 'success', data: { resultData: { error: null } } })).toEqual({ kind: 'done' });
		expect(outcomeOf({ status: 'waiting' })).toEqual({ kind: 'waiting' });
	});

	it.each(['new', 'running', 'unknown'])('status %s (a run that has not ended, reported as if it had) is an unknown outcome, not a failed run', (status) => {
		expect(outcomeOf({ status })).toEqual({ kind: 'unknown', status });
	});

	it.each(['error', 'crashed', 'canceled'])('status %s is a failed run', (status) => {
		const outcome = outcomeOf({ status });
		expect(outcome.kind).toBe('failed');
		expect((outcome as { error: string }).error).toContain(status);
	});

	it('an error in the result data is a failed run with its message', () => {
		expect(outcomeOf({ status: 'error', data: { resultData: { error: { message: 'Node "HTTP" failed' } } } })).toEqual({ kind: 'failed', error: 'Node "HTTP" failed' });
		// the error wins over the status
		expect(outcomeOf({ status: 'success', data: { resultData: { error: { message: 'boom' } } } })).toEqual({ kind: 'failed', error: 'boom' });
		const noMessage = outcomeOf({ status: 'crashed', data: { resultData: { error: {} } } });
		expect(noMessage.kind).toBe('failed');
		expect((noMessage as { error: string }).error).toContain('crashed');
	});
});

describe('RunLedger', () => {
	const policy: RetryPolicy = { retryDelayMs: 1_000, maxRetryDelayMs: 5_000, maxAttempts: 0 };

	it('counts attempts: 1 for a new message, one more after every failure', () => {
		const l = new RunLedger(undefined, policy);
		expect(l.attemptOf('INBOX/1/5')).toBe(1);
		expect(l.failed('INBOX/1/5', 1, 10_000)).toEqual({ verdict: 'retry', attempt: 1, retryAt: 11_000 });
		expect(l.attemptOf('INBOX/1/5')).toBe(2);
		expect(l.attemptOf('INBOX/1/6')).toBe(1);
		expect(l.size).toBe(1);
	});

	it('is not due until the retry time', () => {
		const l = new RunLedger(undefined, policy);
		expect(l.isDue('a', 0)).toBe(true);
		l.failed('a', 1, 10_000);
		expect(l.isDue('a', 10_999)).toBe(false);
		expect(l.isDue('a', 11_000)).toBe(true);
		expect(l.nextDueOf('a')).toBe(11_000);
		expect(l.nextDue(10_000)).toBe(11_000);
		expect(l.nextDue(11_000)).toBeUndefined();
		expect(l.nextDueOf('b')).toBeUndefined();
	});

	it('doubles the delay with every failure, up to the longest delay', () => {
		const l = new RunLedger(undefined, policy);
		const delays = [1, 2, 3, 4, 5, 6].map((attempt) => {
			const v = l.failed('m', attempt, 100_000);
			if (v.verdict !== 'retry') throw new Error(`unexpected ${v.verdict}`);
			return v.retryAt - 100_000;
		});
		expect(delays).toEqual([1_000, 2_000, 4_000, 5_000, 5_000, 5_000]);
		expect(l.attemptOf('m')).toBe(7);
	});

	it('nextDue is the earliest waiting retry', () => {
		const l = new RunLedger(undefined, policy);
		l.failed('a', 3, 0); // due at 4000
		l.failed('b', 1, 0); // due at 1000
		expect(l.nextDue(0)).toBe(1_000);
		expect(l.nextDue(1_000)).toBe(4_000);
	});

	it('gives up on the last allowed attempt and forgets the message', () => {
		const l = new RunLedger(undefined, { maxAttempts: 3, retryDelayMs: 10 });
		expect(l.failed('m', 1, 0).verdict).toBe('retry');
		expect(l.failed('m', 2, 0).verdict).toBe('retry');
		expect(l.failed('m', 3, 0)).toEqual({ verdict: 'gaveUp', attempt: 3 });
		expect(l.attemptOf('m')).toBe(1);
		expect(l.size).toBe(0);
	});

	it('skips failed messages when failed runs are not retried', () => {
		const l = new RunLedger(undefined, { retryFailed: false });
		expect(l.failed('m', 1, 0)).toEqual({ verdict: 'skip', attempt: 1 });
		expect(l.attemptOf('m')).toBe(1);
		expect(l.size).toBe(0);
	});

	it('uses the documented defaults', () => {
		const l = new RunLedger(undefined);
		expect(l.policy).toEqual({ retryFailed: true, maxAttempts: 5, retryDelayMs: 60_000, maxRetryDelayMs: 3_600_000 });
		expect(new RunLedger(undefined, { maxAttempts: -1, retryDelayMs: Number.NaN }).policy).toMatchObject({ maxAttempts: 5, retryDelayMs: 60_000 });
	});

	it('forgets a settled message', () => {
		const l = new RunLedger(undefined, policy);
		l.failed('m', 1, 0);
		expect(l.forget('m')).toBe(true);
		expect(l.forget('m')).toBe(false);
		expect(l.attemptOf('m')).toBe(1);
		expect(l.isDue('m', 0)).toBe(true);
	});

	it('round-trips through toJSON and the constructor, keyed by fingerprints', () => {
		const l = new RunLedger(undefined, policy);
		l.failed('INBOX/1/5', 1, 0);
		l.failed('INBOX/1/6', 2, 0);
		const saved: LedgerState = JSON.parse(JSON.stringify(l.toJSON())) as LedgerState;
		expect(saved).toEqual({ [fingerprint('INBOX/1/5')]: [1, 1_000], [fingerprint('INBOX/1/6')]: [2, 2_000] });
		const again = new RunLedger(saved, policy);
		expect(again.toJSON()).toEqual(saved);
		expect(again.attemptOf('INBOX/1/5')).toBe(2);
		expect(again.attemptOf('INBOX/1/6')).toBe(3);
		expect(again.isDue('INBOX/1/6', 1_999)).toBe(false);
	});

	it("loads an earlier release's failedRuns (message key -> attempt)", () => {
		const l = new RunLedger({ 'INBOX/1/5': 2 }, policy);
		expect(l.attemptOf('INBOX/1/5')).toBe(3);
		expect(l.isDue('INBOX/1/5', 0)).toBe(true);
		expect(l.toJSON()).toEqual({ [fingerprint('INBOX/1/5')]: [2, 0] });
		// unusable entries are dropped
		expect(new RunLedger({ a: 0, b: 'x', c: [1], d: null }, policy).size).toBe(0);
		expect(new RunLedger('nonsense', policy).size).toBe(0);
	});

	it(`keeps at most ${MAX_ENTRIES} messages waiting for a retry: a failure beyond is given up, none is dropped`, () => {
		const l = new RunLedger(undefined, policy);
		for (let i = 0; i < MAX_ENTRIES; i++) expect(l.failed(`m${i}`, 1, 0).verdict).toBe('retry');
		// full: another message's failure is given up at once (its retry would otherwise push out m0,
		// whose retry would then get the key of its first run, which n8n refuses)
		expect(l.failed('one-too-many', 1, 0)).toEqual({ verdict: 'gaveUp', attempt: 1 });
		expect(l.size).toBe(MAX_ENTRIES);
		expect(l.attemptOf('m0')).toBe(2);
		expect(l.attemptOf('one-too-many')).toBe(1);
		// a message already waiting goes on counting
		expect(l.failed('m1', 2, 0).verdict).toBe('retry');
		expect(l.attemptOf('m1')).toBe(3);
		// a message that left the mailbox makes room
		expect(l.forget('m2')).toBe(true);
		expect(l.failed('now-room', 1, 0).verdict).toBe('retry');

		// a saved ledger larger than the bound (an earlier release) keeps the newest
		const raw: Record<string, number> = {};
		for (let i = 0; i < MAX_ENTRIES + 5; i++) raw[`k${i}`] = 1;
		const loaded = new RunLedger(raw, policy);
		expect(loaded.size).toBe(MAX_ENTRIES);
		expect(loaded.attemptOf('k4')).toBe(1);
		expect(loaded.attemptOf('k5')).toBe(2);
		expect(loaded.attemptOf(`k${MAX_ENTRIES + 4}`)).toBe(2);
	});
});

describe('Window', () => {
	it('bounds messages in flight by count', () => {
		const w = new Window(2, 1_000_000);
		expect(w.tryReserve(1, 10)).toBe(true);
		expect(w.tryReserve(1, 10)).toBe(true);
		expect(w.tryReserve(1, 10)).toBe(false);
		expect(w.inFlight).toEqual({ count: 2, bytes: 20, runs: 0 });
		w.release(1, 10);
		expect(w.tryReserve(1, 10)).toBe(true);
	});

	it('bounds messages in flight by bytes', () => {
		const w = new Window(10, 100);
		expect(w.tryReserve(1, 60)).toBe(true);
		expect(w.tryReserve(1, 50)).toBe(false);
		expect(w.tryReserve(1, 40)).toBe(true);
		expect(w.fits(1, 1)).toBe(false);
		expect(w.inFlight).toEqual({ count: 2, bytes: 100, runs: 0 });
	});

	it('with nothing in flight one message always fits, whatever its size', () => {
		const w = new Window(1, 100);
		expect(w.fits(1, 10_000)).toBe(true);
		expect(w.tryReserve(1, 10_000)).toBe(true);
		expect(w.tryReserve(1, 1)).toBe(false);
		w.release(1, 10_000);
		expect(w.inFlight).toEqual({ count: 0, bytes: 0, runs: 0 });
	});

	it('reserve waits until room is released', async () => {
		const w = new Window(1, 100);
		await expect(w.reserve(1, 50)).resolves.toBe(true);
		let got: boolean | undefined;
		const waiting = w.reserve(1, 50).then((r) => (got = r));
		await tick();
		expect(got).toBeUndefined();
		expect(w.inFlight).toEqual({ count: 1, bytes: 50, runs: 0 });
		w.release(1, 50);
		await waiting;
		expect(got).toBe(true);
		expect(w.inFlight).toEqual({ count: 1, bytes: 50, runs: 0 });
	});

	it('close ends every wait with false and refuses later reservations', async () => {
		const w = new Window(1, 100);
		expect(w.tryReserve(1, 10)).toBe(true);
		const a = w.reserve(1, 10);
		const b = w.reserve(1, 10);
		await tick();
		w.close();
		await expect(a).resolves.toBe(false);
		await expect(b).resolves.toBe(false);
		w.release(1, 10);
		await expect(w.reserve(1, 10)).resolves.toBe(false);
		expect(w.tryReserve(1, 10)).toBe(false);
		expect(w.inFlight).toEqual({ count: 0, bytes: 0, runs: 0 });
	});
});

describe('Health', () => {
	const error = (code: MailboxErrorCode, message = `${code} went wrong`) => new MailboxError(code, message);

	function health(backoff = { initialMs: 100, maxMs: 10_000, jitter: false }) {
		const clock = new FakeClock({ start: 1_000_000 });
		const events: HealthEvent[] = [];
		const h = new Health('Mailbox "a@b"', clock, silentLogger, (e) => events.push(e), backoff);
		return { h, clock, events };
	}

	it('reports failing once, then updates, then recovered once with the count', () => {
		const { h, clock, events } = health();
		expect(h.failing).toBe(false);
		expect(h.failed(error('TIMEOUT'))).toBe(100);
		clock.advance(100);
		expect(h.failed(error('CONNECTION_CLOSED'))).toBe(200);
		clock.advance(200);
		expect(h.failed(error('TIMEOUT', 'again'))).toBe(400);
		expect(h.failing).toBe(true);
		expect(events.map((e) => e.type)).toEqual(['failing', 'updated', 'updated']);
		expect(events.map((e) => e.count)).toEqual([1, 2, 3]);
		const last = events[2] as Exclude<HealthEvent, { type: 'recovered' }>;
		expect(last.error.message).toBe('again');
		expect(last.message).toContain('Mailbox "a@b"');
		expect(last.firstFailureAt.getTime()).toBe(1_000_000);
		expect(last.lastFailureAt.getTime()).toBe(1_000_300);

		clock.advance(50);
		expect(h.succeeded()).toBe(true);
		expect(h.succeeded()).toBe(false);
		expect(h.failing).toBe(false);
		expect(events).toHaveLength(4);
		expect(events[3]).toEqual({
			type: 'recovered',
			firstFailureAt: new Date(1_000_000),
			lastFailureAt: new Date(1_000_300),
			recoveredAt: new Date(1_000_350),
			count: 3,
		});
		// the backoff starts over after a success; a new failure is a new "failing"
		expect(h.failed(error('TIMEOUT'))).toBe(100);
		expect(events[4].type).toBe('failing');
		expect(events[4].count).toBe(1);
	});

	it('firstAttempt resolves with the first error', async () => {
		const { h } = health();
		const first = error('DNS');
		h.failed(first);
		h.failed(error('TIMEOUT'));
		h.succeeded();
		await expect(h.firstAttempt).resolves.toBe(first);
	});

	it('firstAttempt resolves with undefined when the first attempt worked', async () => {
		const { h } = health();
		h.succeeded();
		h.failed(error('DNS'));
		await expect(h.firstAttempt).resolves.toBeUndefined();
	});

	it.each(['AUTH', 'CONFIG', 'TLS_CERTIFICATE', 'STARTTLS_UNAVAILABLE', 'NOT_FOUND'] as MailboxErrorCode[])('a permanent error (%s) waits the longest backoff delay', (code) => {
		expect(isPermanent(error(code))).toBe(true);
		const { h } = health();
		expect(h.failed(error(code))).toBeGreaterThanOrEqual(10_000);
	});

	it('a transient error is not permanent and starts with the shortest delay', () => {
		for (const code of ['TIMEOUT', 'DNS', 'CONNECTION_REFUSED', 'SERVER', 'PROTOCOL'] as MailboxErrorCode[]) expect(isPermanent(error(code))).toBe(false);
		const { h } = health();
		expect(h.failed(error('TIMEOUT'))).toBe(100);
	});

	it('the default longest delay applies to permanent errors without a backoff setting', () => {
		const h = new Health('x', new FakeClock(), silentLogger, () => undefined);
		expect(h.failed(error('AUTH'))).toBeGreaterThanOrEqual(5 * 60_000);
	});
});

describe('Dispatcher', () => {
	interface Msg {
		key: string;
		attempt: number;
		subject?: string;
	}

	function setup(deliver: (messages: Msg[], run: Run) => Promise<RunOutcome | void>, policy: RetryPolicy = { maxAttempts: 3, retryDelayMs: 1_000, maxRetryDelayMs: 60_000 }) {
		const clock = new FakeClock({ start: 1_000_000 });
		const ledger = new RunLedger(undefined, policy);
		const window = new Window(10, 1_000_000);
		const log: string[] = [];
		const ledgers: LedgerState[] = [];
		const events: Array<DeliveryEvent<Msg>> = [];
		const d = new Dispatcher<Msg>({
			keyPrefix: 'wf:node',
			deliver,
			ledger,
			window,
			clock,
			logger: silentLogger,
			onLedger: (s) => {
				log.push('ledger');
				ledgers.push(s);
			},
			onEvents: (batch) => {
				for (const e of batch) {
					log.push(`event:${e.type}`);
					events.push(e);
				}
			},
		});
		/** Reserves room like a source does, sends, and resolves with the settlement. */
		const send = async (message: Msg, bytes = 100): Promise<Settlement> => {
			expect(await window.reserve(1, bytes, 1)).toBe(true);
			return new Promise<Settlement>((resolve) =>
				d.send([message], bytes, (_, s) => {
					log.push(`settle:${s}`);
					resolve(s);
				}),
			);
		};
		return { d, clock, ledger, window, log, ledgers, events, send };
	}

	it('a run that resolves with nothing is done', async () => {
		const runs: Run[] = [];
		const { send, events, ledgers, window } = setup(async (_m, run) => {
			runs.push(run);
		});
		await expect(send({ key: 'INBOX/1/1', attempt: 1 })).resolves.toBe('done');
		expect(runs).toEqual([{ key: 'wf:node:INBOX/1/1', attempt: 1 }]);
		expect(events).toEqual([]);
		expect(ledgers).toEqual([]); // nothing in the ledger changed
		expect(window.inFlight).toEqual({ count: 0, bytes: 0, runs: 0 });
	});

	it("an explicit 'done' outcome is done", async () => {
		const { send } = setup(async () => ({ kind: 'done' }));
		await expect(send({ key: 'k', attempt: 1 })).resolves.toBe('done');
	});

	it('a duplicate or waiting run is left untouched and reported', async () => {
		const outcomes: RunOutcome[] = [{ kind: 'duplicate' }, { kind: 'waiting' }];
		const { send, events } = setup(async () => outcomes.shift());
		const a = { key: 'INBOX/1/1', attempt: 1 };
		const b = { key: 'INBOX/1/2', attempt: 1 };
		await expect(send(a)).resolves.toBe('untouched');
		await tick();
		await expect(send(b)).resolves.toBe('untouched');
		await tick();
		expect(events).toEqual([
			{ type: 'duplicate', message: a },
			{ type: 'runWaiting', message: b },
		]);
	});

	it.each([
		['throws', () => {
			throw new Error('cannot start');
		}],
		['rejects', () => Promise.reject(new Error('cannot start'))],
		['resolves failed', () => Promise.resolve({ kind: 'failed', error: 'cannot start' } as RunOutcome)],
	])('a run that %s is retried, then given up after the last attempt', async (_name, deliver) => {
		const runs: Run[] = [];
		const { d, send, events, clock, ledger } = setup((_m, run) => {
			runs.push(run);
			return (deliver as () => Promise<RunOutcome | void>)();
		});
		const key = 'INBOX/1/9';
		const settlements: Settlement[] = [];
		for (let i = 0; i < 3; i++) {
			const attempt = d.attemptOf(key);
			expect(attempt).toBe(i + 1);
			expect(d.isDue(key)).toBe(true);
			settlements.push(await send({ key, attempt }));
			await tick();
			if (i < 2) {
				expect(d.isDue(key)).toBe(false);
				const at = d.nextRetryAt();
				expect(at).toBe(clock.now() + 1_000 * 2 ** i);
				clock.advance(at! - clock.now());
			}
		}
		expect(settlements).toEqual(['retry', 'retry', 'gaveUp']);
		expect(runs.map((r) => r.key)).toEqual(['wf:node:INBOX/1/9', 'wf:node:INBOX/1/9:retry2', 'wf:node:INBOX/1/9:retry3']);
		expect(events.map((e) => (e.type === 'runFailed' ? `${e.settlement}:${e.error}` : e.type))).toEqual(['retry:cannot start', 'retry:cannot start', 'gaveUp:cannot start']);
		const first = events[0] as Extract<DeliveryEvent<unknown>, { type: 'runFailed' }>;
		expect(first.retryAt).toEqual(new Date(1_000_000 + 1_000));
		expect((events[2] as { retryAt?: Date }).retryAt).toBeUndefined();
		expect(ledger.size).toBe(0);
		expect(d.attemptOf(key)).toBe(1);
		expect(d.inFlight).toBe(0);
	});

	it('skips a failed run when failed runs are not retried', async () => {
		const { send, events, ledger } = setup(() => Promise.reject(new Error('nope')), { retryFailed: false });
		await expect(send({ key: 'k', attempt: 1 })).resolves.toBe('skipped');
		await tick();
		expect(events).toMatchObject([{ type: 'runFailed', settlement: 'skipped', error: 'nope' }]);
		expect(ledger.size).toBe(0);
	});

	it('hands the ledger over before the event of a failed run', async () => {
		const { send, log, ledgers } = setup(() => Promise.reject(new Error('boom')));
		await send({ key: 'INBOX/1/3', attempt: 1 });
		await tick();
		expect(log.filter((e) => e === 'ledger' || e.startsWith('event:'))).toEqual(['ledger', 'event:runFailed']);
		expect(log.indexOf('ledger')).toBeLessThan(log.indexOf('event:runFailed'));
		expect(ledgers).toEqual([{ [fingerprint('INBOX/1/3')]: [1, 1_001_000] }]);
	});

	it('forgets a message whose retry succeeded and hands the ledger over', async () => {
		let fail = true;
		const { d, send, ledgers } = setup(async () => {
			if (fail) throw new Error('once');
		});
		await send({ key: 'm', attempt: 1 });
		fail = false;
		await expect(send({ key: 'm', attempt: d.attemptOf('m') })).resolves.toBe('done');
		expect(ledgers).toHaveLength(2);
		expect(ledgers[1]).toEqual({});
		expect(d.attemptOf('m')).toBe(1);
	});

	it('passes the run key deliveryKey(prefix, key, attempt)', async () => {
		const runs: Run[] = [];
		const { send } = setup(async (_m, run) => {
			runs.push(run);
		});
		const long = `Folder/${'z'.repeat(400)}/7`;
		await send({ key: 'INBOX/5/6', attempt: 1 });
		await send({ key: 'INBOX/5/6', attempt: 4 });
		await send({ key: long, attempt: 2 });
		expect(runs).toEqual([
			{ key: deliveryKey('wf:node', 'INBOX/5/6', 1), attempt: 1 },
			{ key: deliveryKey('wf:node', 'INBOX/5/6', 4), attempt: 4 },
			{ key: deliveryKey('wf:node', long, 2), attempt: 2 },
		]);
		expect(runs[1].key).toBe('wf:node:INBOX/5/6:retry4');
		expect(runs[2].key.length).toBeLessThanOrEqual(255);
	});

	it('releases the window room once the run is settled', async () => {
		let finish!: () => void;
		const { d, window } = setup(() => new Promise<void>((resolve) => (finish = resolve)));
		expect(await window.reserve(1, 300, 1)).toBe(true);
		expect(await window.reserve(1, 200, 1)).toBe(true);
		const settled: Settlement[] = [];
		const atSettlement: Array<{ count: number; bytes: number; runs: number }> = [];
		d.send([{ key: 'a', attempt: 1 }], 300, (_, s) => {
			settled.push(s);
			atSettlement.push(window.inFlight);
		});
		await tick();
		expect(d.inFlight).toBe(1);
		expect(window.inFlight).toEqual({ count: 2, bytes: 500, runs: 2 });
		finish();
		await tick();
		await tick();
		expect(settled).toEqual(['done']);
		expect(atSettlement).toEqual([{ count: 1, bytes: 200, runs: 1 }]);
		expect(d.inFlight).toBe(0);
		expect(window.inFlight).toEqual({ count: 1, bytes: 200, runs: 1 });
	});

	it('a run of several messages settles each and reports their events at once, after the ledger', async () => {
		const clock = new FakeClock();
		const ledger = new RunLedger(undefined, { retryDelayMs: 1000, maxAttempts: 2 });
		const window = new Window(10, 1000, 2);
		const batches: string[][] = [];
		const keys: string[] = [];
		const d = new Dispatcher<Msg>({
			keyPrefix: 'wf:node',
			deliver: (messages, run) => {
				keys.push(`${run.key} ${messages.map((m) => m.key).join(',')}`);
				return Promise.resolve({ kind: 'failed', error: 'boom' });
			},
			ledger,
			window,
			clock,
			logger: silentLogger,
			onLedger: () => batches.push(['ledger']),
			onEvents: (events) => batches.push(events.map((e) => (e.type === 'runFailed' ? `${e.message.key}:${e.settlement}` : e.type))),
		});
		expect(await window.reserve(3, 300, 1)).toBe(true);
		const settled: string[] = [];
		d.send([{ key: 'a', attempt: 1 }, { key: 'b', attempt: 2 }, { key: 'c', attempt: 1 }], 300, (m, s) => settled.push(`${m.key}:${s}`));
		await until(() => settled.length === 3, 'every member settled');
		expect(keys).toEqual(['wf:node:a a,b,c']);
		expect(settled).toEqual(['a:retry', 'b:gaveUp', 'c:retry']);
		expect(batches).toEqual([['ledger'], ['a:retry', 'b:gaveUp', 'c:retry']]);
		expect(window.inFlight).toEqual({ count: 0, bytes: 0, runs: 0 });
		// a run formed again under a recorded key
		d.send([{ key: 'c', attempt: 2 }], 0, () => undefined, { key: 'a', attempt: 1 });
		await until(() => keys.length === 2, 'the second run');
		expect(keys[1]).toBe('wf:node:a c');
	});

	it('a throwing settle or event handler does not stop the others', async () => {
		const clock = new FakeClock();
		const ledger = new RunLedger(undefined, { retryDelayMs: 1 });
		const window = new Window(1, 1);
		const errors: string[] = [];
		const d = new Dispatcher<{ key: string; attempt: number }>({
			keyPrefix: 'p',
			deliver: () => Promise.reject(new Error('x')),
			ledger,
			window,
			clock,
			logger: { ...silentLogger, error: (m) => errors.push(m) },
			onEvents: () => {
				throw new Error('handler');
			},
		});
		d.send([{ key: 'k', attempt: 1 }], 0, () => {
			throw new Error('settle');
		});
		await until(() => errors.length >= 2, 'both errors logged');
		expect(errors).toHaveLength(2);
		expect(ledger.attemptOf('k')).toBe(2);
	});
});

describe('Stream', () => {
	interface Harness {
		stream: Stream;
		events: HealthEvent[];
		signals: AbortSignal[];
	}

	const toError = (e: unknown) => (e instanceof MailboxError ? e : new MailboxError('SERVER', e instanceof Error ? e.message : String(e)));

	/** `behaviour(n, signal)` is pass n (from 1). */
	function stream(behaviour: (n: number, signal: AbortSignal) => Promise<void>, options: { stuckAfterMs?: number; followUpDelayMs?: number } = {}): Harness {
		const events: HealthEvent[] = [];
		const signals: AbortSignal[] = [];
		let n = 0;
		const s = new Stream({
			name: 'Mailbox "test"',
			clock: systemClock,
			logger: silentLogger,
			backoff: { initialMs: 1, maxMs: 2, jitter: false },
			intervalMs: 60 * 60_000,
			followUpDelayMs: options.followUpDelayMs ?? 1,
			stuckAfterMs: options.stuckAfterMs ?? 0,
			pass: (signal) => {
				signals.push(signal);
				return behaviour(++n, signal);
			},
			toError,
			report: (e) => events.push(e),
		});
		return { stream: s, events, signals };
	}

	/** A pass that ends only when its signal is aborted (rejecting with the reason, as a dropped connection does). */
	const untilAborted = (signal: AbortSignal) =>
		new Promise<void>((_, reject) => {
			if (signal.aborted) reject(signal.reason);
			signal.addEventListener('abort', () => reject(signal.reason), { once: true });
		});

	it('retries a failed pass after the backoff and reports failing, then recovered', async () => {
		const { stream: s, events } = stream(async (n) => {
			if (n <= 2) throw new MailboxError('CONNECTION_REFUSED', `refused ${n}`);
		});
		try {
			const first = await s.start();
			expect(first?.code).toBe('CONNECTION_REFUSED');
			expect(first?.message).toBe('refused 1');
			await until(() => events.some((e) => e.type === 'recovered'), 'recovered');
			expect(events.map((e) => e.type)).toEqual(['failing', 'updated', 'recovered']);
			expect(events[2].count).toBe(2);
			await until(() => s.passes === 3, 'three passes');
			expect(s.health.failing).toBe(false);
		} finally {
			await s.stop();
		}
		expect(s.passes).toBe(3);
	});

	it('a first pass that works resolves start() with undefined and reports nothing', async () => {
		const { stream: s, events } = stream(async () => undefined);
		try {
			await expect(s.start()).resolves.toBeUndefined();
			await until(() => s.passes === 1, 'one pass');
		} finally {
			await s.stop();
		}
		expect(events).toEqual([]);
		expect(s.passes).toBe(1);
	});

	it('abandon() aborts the running pass; the next starts at once without a failure', async () => {
		const { stream: s, events, signals } = stream((n, signal) => (n === 1 ? untilAborted(signal) : Promise.resolve()));
		try {
			const first = s.start();
			await until(() => signals.length === 1, 'first pass running');
			expect(signals[0].aborted).toBe(false);
			s.abandon();
			expect(signals[0].aborted).toBe(true);
			expect(signals[0].reason).toBeInstanceOf(Reconnect);
			await expect(first).resolves.toBeUndefined();
			await until(() => s.passes === 2, 'second pass ended');
		} finally {
			await s.stop();
		}
		expect(events).toEqual([]);
		expect(signals).toHaveLength(2);
		expect(s.passes).toBe(2);
	});

	it('abandon() with no pass running does nothing', async () => {
		const { stream: s, events, signals } = stream(async () => undefined);
		s.abandon();
		try {
			await s.start();
			await until(() => s.passes === 1, 'one pass');
			s.abandon();
			expect(signals[0].aborted).toBe(false); // a pass that ended is left alone
		} finally {
			await s.stop();
		}
		expect(events).toEqual([]);
		expect(s.passes).toBe(1);
	});

	it('stop() aborts the running pass and ends the loop', async () => {
		const { stream: s, events, signals } = stream((_n, signal) => untilAborted(signal));
		const first = s.start();
		await until(() => signals.length === 1, 'pass running');
		await s.stop();
		expect(s.isStopped).toBe(true);
		expect(signals[0].aborted).toBe(true);
		expect(signals[0].reason).toBeInstanceOf(Reconnect);
		await expect(first).resolves.toBeUndefined();
		expect(events).toEqual([]);
		expect(s.passes).toBe(1);
		// nothing more happens after stop
		s.request();
		s.followUp();
		s.at(Date.now());
		await tick();
		expect(signals).toHaveLength(1);
	});

	it('stop() during the wait between passes ends the loop', async () => {
		const { stream: s, signals } = stream(async () => undefined);
		await s.start();
		await until(() => s.passes === 1, 'one pass');
		await s.stop();
		expect(signals).toHaveLength(1);
		expect(s.passes).toBe(1);
	});

	it('a stuck pass is abandoned and reported as a TIMEOUT failure', async () => {
		const { stream: s, events, signals } = stream((n) => (n === 1 ? new Promise<void>(() => undefined) : Promise.resolve()), { stuckAfterMs: 5 });
		try {
			const first = await s.start();
			expect(first).toBeInstanceOf(MailboxError);
			expect(first?.code).toBe('TIMEOUT');
			expect(first?.causeCode).toBe('STUCK');
			expect(signals[0].aborted).toBe(true);
			await until(() => events.length === 2, 'failing and recovered');
		} finally {
			await s.stop();
		}
		expect(events.map((e) => e.type)).toEqual(['failing', 'recovered']);
		expect((events[0] as Exclude<HealthEvent, { type: 'recovered' }>).error.code).toBe('TIMEOUT');
	});

	it('followUp() and at() start another pass', async () => {
		const { stream: s, signals } = stream(async (n) => {
			if (n === 1) s.followUp();
		});
		try {
			await s.start();
			await until(() => s.passes === 2, 'follow-up pass');
			s.at(Date.now());
			await until(() => s.passes === 3, 'pass at a time');
			s.request();
			await until(() => s.passes === 4, 'requested pass');
		} finally {
			await s.stop();
		}
		expect(signals).toHaveLength(4);
	});

	it('a Reconnect thrown by a short pass is not a failure', async () => {
		const { stream: s, events } = stream(async (n) => {
			if (n === 1) throw new Reconnect('closed by server');
		});
		try {
			await s.start();
			await until(() => s.passes === 2, 'second pass');
		} finally {
			await s.stop();
		}
		expect(events).toEqual([]);
		expect(s.health.failing).toBe(false);
	});
});

describe('message helpers', () => {
	it('headerBlock ends after the blank line, CRLF or LF', () => {
		expect(headerBlock(Buffer.from('A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore')).toString()).toBe('A: 1\r\nB: 2\r\n\r\n');
		expect(headerBlock(Buffer.from('A: 1\nB: 2\n\nbody')).toString()).toBe('A: 1\nB: 2\n\n');
		expect(headerBlock(Buffer.from('A: 1\n\nbody\r\n\r\n')).toString()).toBe('A: 1\n\n');
		expect(headerBlock(Buffer.from('A: 1')).toString()).toBe('A: 1');
	});

	it('limitDownloaded keeps a message within the limit and only the headers (or nothing) over it', () => {
		const source = Buffer.from(`Subject: x\r\n\r\n${'b'.repeat(100)}`);
		expect(limitDownloaded(source, 0, 'headers')).toEqual({ oversized: false, source, size: source.length });
		expect(limitDownloaded(source, source.length, 'skip')).toEqual({ oversized: false, source, size: source.length });
		const headers = limitDownloaded(source, 50, 'headers');
		expect(headers).toEqual({ oversized: true, size: source.length, headers: Buffer.from('Subject: x\r\n\r\n') });
		expect(headers.source).toBeUndefined();
		expect(limitDownloaded(source, 50, 'skip')).toEqual({ oversized: true, size: source.length });
	});

	it('accountId is a fingerprint, case- and space-insensitive, distinct per account', () => {
		const a = accountId('imap.example.com', 'User@Example.com', undefined);
		expect(a).toMatch(FINGERPRINT);
		expect(accountId(' IMAP.example.com ', 'user@example.com', '')).toBe(a);
		expect(accountId('imap.example.com', 'other@example.com', undefined)).not.toBe(a);
		expect(accountId('imap.example.com', 'user@example.com', 'shared@example.com')).not.toBe(a);
	});
});
