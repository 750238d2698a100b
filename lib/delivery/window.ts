/**
 * The in-flight window: messages handed to runs and not settled, bounded by count and by bytes,
 * including what a source fetched ahead (it reserves room before it downloads). With nothing in
 * flight one message always fits, whatever its size, so a large message cannot block the stream.
 */
export class Window {
	private count = 0;
	private bytes = 0;
	private waiters: Array<() => void> = [];
	private closed = false;

	constructor(
		readonly maxCount: number,
		readonly maxBytes: number,
	) {}

	get inFlight(): { count: number; bytes: number } {
		return { count: this.count, bytes: this.bytes };
	}

	fits(count: number, bytes: number): boolean {
		if (this.count === 0) return true;
		return this.count + count <= this.maxCount && this.bytes + bytes <= this.maxBytes;
	}

	/** Waits for room, then takes it. False when the window was closed meanwhile (nothing taken). */
	async reserve(count: number, bytes: number): Promise<boolean> {
		while (!this.closed && !this.fits(count, bytes)) await new Promise<void>((resolve) => this.waiters.push(resolve));
		if (this.closed) return false;
		this.count += count;
		this.bytes += bytes;
		return true;
	}

	/** Takes room if there is some now, without waiting. */
	tryReserve(count: number, bytes: number): boolean {
		if (this.closed || !this.fits(count, bytes)) return false;
		this.count += count;
		this.bytes += bytes;
		return true;
	}

	release(count: number, bytes: number): void {
		this.count = Math.max(0, this.count - count);
		this.bytes = Math.max(0, this.bytes - bytes);
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
