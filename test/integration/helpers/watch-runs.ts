/**
 * What the folder-sync watcher tests (EWS, Graph) share: waiting for a condition, and a run the
 * test settles by hand (resolve(true): the run succeeded; resolve(false): n8n refused it as a
 * duplicate; reject: the run failed).
 */

export async function until(condition: () => boolean, timeoutMs = 60_000, what = 'condition'): Promise<void> {
	const end = Date.now() + timeoutMs;
	while (!condition()) {
		if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 10));
	}
}

/** A run the test settles by hand. */
export class Run<M> {
	resolve!: (ran: boolean) => void;
	reject!: (error: Error) => void;
	readonly promise: Promise<boolean>;
	constructor(readonly message: M) {
		this.promise = new Promise<boolean>((resolve, reject) => {
			this.resolve = resolve;
			this.reject = reject;
		});
	}
}
