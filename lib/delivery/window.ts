/**
 * The in-flight window: messages handed to runs and not settled, bounded by count, by bytes and
 * by runs, including what a source fetched ahead (it reserves room before it downloads: a run's
 * first message takes the run, further members only their own room). With nothing in flight one
 * message always fits, whatever its size, so a large message cannot block the stream.
 */
export class Window {
	private count = 0;
	private bytes = 0;
	private runs = 0;
	private waiters: Array<() => void> = [];
	private closed = false;

	constructor(
		readonly maxCount: number,
		readonly maxBytes: number,
		readonly maxRuns = Infinity,
	) {}

	get inFlight(): { count: number; bytes: number; runs: number } {
		return { count: this.count, bytes: this.bytes, runs: this.runs };
	}

	fits(count: number, bytes: number, runs = 0): boolean {
		if (this.count === 0 && this.runs === 0) return true;
		return this.count + count <= this.maxCount && this.bytes + bytes <= this.maxBytes && this.runs + runs <= this.maxRuns;
	}

	/** Waits for room, then takes it. False when the window was closed meanwhile (nothing taken). */
	async reserve(count: number, bytes: number, runs = 0): Promise<boolean> {
		while (!this.closed && !this.fits(count, bytes, runs)) await new Promise<void>((resolve) => this.waiters.push(resolve));
		if (this.closed) return false;
		this.take(count, bytes, runs);
		return true;
	}

	/** Takes room if there is some now, without waiting. */
	tryReserve(count: number, bytes: number, runs = 0): boolean {
		if (this.closed || !this.fits(count, bytes, runs)) return false;
		this.take(count, bytes, runs);
		return true;
	}

	private take(count: number, bytes: number, runs: number): void {
		this.count += count;
		this.bytes += bytes;
		this.runs += runs;
	}

	release(count: number, bytes: number, runs = 0): void {
		this.count = Math.max(0, this.count - count);
		this.bytes = Math.max(0, this.bytes - bytes);
		this.runs = Math.max(0, this.runs - runs);
		this.wake();
	}

	/** Ends every wait (stopping); later reservations fail. */
	close(): void {
		this.closed = true;
		this.wake();
	}

	private wake(): void {
		const waiters = this.waiters;
		this.waiters = [];
		for (const w of waiters) w();
	}
}
