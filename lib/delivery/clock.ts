/** Time, timers and randomness, injectable so that backoff and stuck detection can be tested with a fake clock. */
export interface Clock {
	now(): number;
	setTimeout(fn: () => void, ms: number): unknown;
	clearTimeout(handle: unknown): void;
	random(): number;
}

export const systemClock: Clock = {
	now: () => Date.now(),
	setTimeout: (fn, ms) => {
		const timer = setTimeout(fn, ms);
		return timer;
	},
	clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
	random: () => Math.random(),
};

export interface BackoffOptions {
	/** First delay (default 1 s). */
	initialMs?: number;
	/** Longest delay (default 5 min). */
	maxMs?: number;
	/** Growth per failure (default 2). */
	factor?: number;
	/** Spread each delay over 50-100 % of its value (default true), so many watchers don't reconnect in step. */
	jitter?: boolean;
}

/** Exponential backoff: never zero, never above the cap. */
export class Backoff {
	private failures = 0;
	private readonly initialMs: number;
	private readonly maxMs: number;
	private readonly factor: number;
	private readonly jitter: boolean;

	constructor(
		options: BackoffOptions = {},
		private readonly clock: Clock = systemClock,
	) {
		this.initialMs = Math.max(1, options.initialMs ?? 1_000);
		this.maxMs = Math.max(this.initialMs, options.maxMs ?? 5 * 60_000);
		this.factor = Math.max(1, options.factor ?? 2);
		this.jitter = options.jitter ?? true;
	}

	/** The delay before the next attempt, counting one more failure. */
	next(): number {
		const base = Math.min(this.maxMs, this.initialMs * Math.pow(this.factor, this.failures));
		this.failures++;
		const delay = this.jitter ? base * (0.5 + 0.5 * this.clock.random()) : base;
		return Math.max(1, Math.round(delay));
	}

	reset(): void {
		this.failures = 0;
	}

	get attempts(): number {
		return this.failures;
	}
}

/**
 * Resolves or rejects like `work`, unless `ms` pass first: then `onTimeout` runs (it should drop
 * the connection, which makes `work` fail too) and the result rejects with `timeoutError()`.
 */
export function guard<T>(work: Promise<T>, ms: number, onTimeout: () => void, timeoutError: () => Error, clock: Clock = systemClock): Promise<T> {
	if (!(ms > 0) || !Number.isFinite(ms)) return work;
	return new Promise<T>((resolve, reject) => {
		let settled = false;
		const timer = clock.setTimeout(() => {
			if (settled) return;
			settled = true;
			try {
				onTimeout();
			} finally {
				reject(timeoutError());
			}
		}, ms);
		work.then(
			(value) => {
				if (settled) return;
				settled = true;
				clock.clearTimeout(timer);
				resolve(value);
			},
			(error: unknown) => {
				if (settled) return;
				settled = true;
				clock.clearTimeout(timer);
				reject(error);
			},
		);
	});
}

/** A sleep that `wake()` ends early. */
export class Sleeper {
	private waking?: () => void;
	constructor(private readonly clock: Clock = systemClock) {}

	sleep(ms: number): Promise<void> {
		this.wake();
		return new Promise<void>((resolve) => {
			const timer = this.clock.setTimeout(() => {
				this.waking = undefined;
				resolve();
			}, ms);
			this.waking = () => {
				this.clock.clearTimeout(timer);
				this.waking = undefined;
				resolve();
			};
		});
	}

	wake(): void {
		this.waking?.();
	}
}
