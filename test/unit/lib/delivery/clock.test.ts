import { Backoff, guard, Sleeper } from '../../../../lib/delivery/clock';
import { FakeClock } from './fake-clock';


describe('watcher backoff', () => {
	it('grows exponentially up to the cap and starts over after a success', () => {
		const b = new Backoff({ initialMs: 1_000, maxMs: 10_000, jitter: false });
		expect([1, 2, 3, 4, 5, 6].map(() => b.next())).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
		b.reset();
		expect(b.next()).toBe(1_000);
	});
	it('with jitter stays between half and the full delay, never zero', () => {
		expect(new Backoff({ initialMs: 1_000 }, new FakeClock({ random: 0 })).next()).toBe(500);
		expect(new Backoff({ initialMs: 1_000 }, new FakeClock({ random: 0.999999 })).next()).toBe(1_000);
		expect(new Backoff({ initialMs: 0 }, new FakeClock({ random: 0 })).next()).toBeGreaterThan(0);
	});
});

describe('stuck guard', () => {
	it('abandons work that takes longer than the limit: drops the connection and rejects', async () => {
		const clock = new FakeClock();
		let dropped = 0;
		const never = new Promise<string>(() => undefined);
		const guarded = guard(never, 30 * 60_000, () => dropped++, () => new Error('stuck'), clock);
		clock.advance(30 * 60_000 - 1);
		expect(dropped).toBe(0);
		clock.advance(1);
		await expect(guarded).rejects.toThrow('stuck');
		expect(dropped).toBe(1);
	});
	it('passes results and errors through and clears its timer', async () => {
		const clock = new FakeClock();
		await expect(guard(Promise.resolve(7), 1_000, () => undefined, () => new Error('x'), clock)).resolves.toBe(7);
		await expect(guard(Promise.reject(new Error('boom')), 1_000, () => undefined, () => new Error('x'), clock)).rejects.toThrow('boom');
		expect(clock.pending).toBe(0);
	});
	it('a late failure of abandoned work is not an unhandled rejection', async () => {
		const clock = new FakeClock();
		let fail: (e: Error) => void = () => undefined;
		const work = new Promise<void>((_, reject) => (fail = reject));
		const guarded = guard(work, 10, () => fail(new Error('closed')), () => new Error('stuck'), clock);
		clock.advance(10);
		await expect(guarded).rejects.toThrow('stuck');
	});
});

describe('sleeper', () => {
	it('sleeps until the time is up or it is woken', async () => {
		const clock = new FakeClock();
		const s = new Sleeper(clock);
		let done = false;
		const p = s.sleep(1_000).then(() => (done = true));
		clock.advance(999);
		await Promise.resolve();
		expect(done).toBe(false);
		s.wake();
		await p;
		expect(clock.pending).toBe(0);
	});
});
