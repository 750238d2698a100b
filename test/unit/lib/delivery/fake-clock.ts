import type { Clock } from '../../../../lib/delivery/clock';

/** A clock that moves only when told to (`advance`), for backoff, timers and retry times. */
export class FakeClock implements Clock {
	time: number;
	private timers: Array<{ at: number; fn: () => void; id: number }> = [];
	private nextId = 1;
	private readonly rand: number;

	constructor(options: { start?: number; random?: number } = {}) {
		this.time = options.start ?? 0;
		this.rand = options.random ?? 0.5;
	}
	now(): number {
		return this.time;
	}
	setTimeout(fn: () => void, ms: number): unknown {
		const id = this.nextId++;
		this.timers.push({ at: this.time + ms, fn, id });
		return id;
	}
	clearTimeout(handle: unknown): void {
		this.timers = this.timers.filter((t) => t.id !== handle);
	}
	random(): number {
		return this.rand;
	}
	advance(ms: number): void {
		this.time += ms;
		for (;;) {
			const due = this.timers.filter((t) => t.at <= this.time).sort((a, b) => a.at - b.at)[0];
			if (!due) break;
			this.timers = this.timers.filter((t) => t !== due);
			due.fn();
		}
	}
	get pending(): number {
		return this.timers.length;
	}
}
