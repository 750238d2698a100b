import { MailboxError } from '../../../../lib/errors';
import { sendAll, SentCopyFailedError, type SendJob } from '../../../../lib/smtp/send-all';

interface Message {
	raw: Buffer;
	n: number;
}
interface Result {
	messageId: string;
	n: number;
}

/** A promise with its resolve and reject at hand. */
function deferred<T>() {
	let resolve!: (value: T) => void;
	let reject!: (error: unknown) => void;
	const promise = new Promise<T>((res, rej) => {
		resolve = res;
		reject = rej;
	});
	return { promise, resolve, reject };
}

/** Lets every queued promise callback run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A sender whose answers the test gives one by one; it counts what it holds unanswered. */
function manualSender() {
	const pending = new Map<number, ReturnType<typeof deferred<Result>>>();
	const state = { sent: [] as number[], inFlight: 0, maxInFlight: 0 };
	const sender = {
		send(message: Message): Promise<Result> {
			const answer = deferred<Result>();
			pending.set(message.n, answer);
			state.sent.push(message.n);
			state.inFlight++;
			state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
			return answer.promise.finally(() => state.inFlight--);
		},
	};
	const answer = (n: number) => pending.get(n)!.resolve({ messageId: `<m${n}@test>`, n });
	const refuse = (n: number, error: unknown) => pending.get(n)!.reject(error);
	return { sender, state, answer, refuse };
}

const jobs = (count: number, composed: number[] = [], sentFolder?: (n: number) => string | undefined): Array<SendJob<Message>> =>
	Array.from({ length: count }, (_, n) => ({
		compose: async () => {
			composed.push(n);
			return { raw: Buffer.from(`message ${n}`), n };
		},
		sentFolder: sentFolder && (() => sentFolder(n)),
	}));

describe('sending the messages of a run (sendAll)', () => {
	it('reports the outcomes in input order when the answers come in another order', async () => {
		const { sender, state, answer } = manualSender();
		const run = sendAll<Message, Result>(jobs(5), { openSender: async () => sender, maxInFlight: 10, stopOnError: false });
		await settle();
		expect(state.sent).toEqual([0, 1, 2, 3, 4]);
		for (const n of [3, 1, 4, 0, 2]) {
			answer(n);
			await settle();
		}
		const { outcomes, stoppedBy } = await run;
		expect(stoppedBy).toBeUndefined();
		expect(outcomes.map((o) => o.index)).toEqual([0, 1, 2, 3, 4]);
		expect(outcomes.map((o) => (o.ok ? o.sent.result.n : -1))).toEqual([0, 1, 2, 3, 4]);
		expect(outcomes.map((o) => (o.ok ? o.sent.message.n : -1))).toEqual([0, 1, 2, 3, 4]);
	});

	it('holds at most maxInFlight messages unanswered, and composes the next one only when one is answered', async () => {
		const { sender, state, answer } = manualSender();
		const composed: number[] = [];
		const run = sendAll<Message, Result>(jobs(8, composed), { openSender: async () => sender, maxInFlight: 3, stopOnError: false });
		await settle();
		expect(state.sent).toEqual([0, 1, 2]);
		expect(composed).toEqual([0, 1, 2]);
		answer(1);
		await settle();
		expect(state.sent).toEqual([0, 1, 2, 3]);
		expect(composed).toEqual([0, 1, 2, 3]);
		for (const n of [0, 2, 3, 5, 4, 6, 7]) {
			answer(n);
			await settle();
		}
		const { outcomes } = await run;
		expect(outcomes.every((o) => o.ok)).toBe(true);
		expect(outcomes).toHaveLength(8);
		expect(state.maxInFlight).toBe(3);
	});

	it('opens the sender once, at the first composed message; a sender that cannot be opened fails that item and is tried again for the next', async () => {
		const { sender, answer } = manualSender();
		let opened = 0;
		const openSender = jest.fn(async () => {
			opened++;
			if (opened === 1) throw new Error('no server');
			return sender;
		});
		const broken: Array<SendJob<Message>> = [{ compose: async () => Promise.reject(new Error('no From')) }, ...jobs(3).slice(1)];
		const run = sendAll<Message, Result>(broken, { openSender, maxInFlight: 5, stopOnError: false });
		await settle();
		answer(2);
		await settle();
		const { outcomes } = await run;
		expect(openSender).toHaveBeenCalledTimes(2);
		expect(outcomes.map((o) => [o.index, o.ok, o.ok ? null : (o.error as Error).message])).toEqual([
			[0, false, 'no From'],
			[1, false, 'no server'],
			[2, true, null],
		]);
	});

	it('saves a Sent copy after each sent message; a copy that fails is an error of that item only, saying the message was sent', async () => {
		const { sender, answer } = manualSender();
		const saved: Array<[string, string]> = [];
		const saveCopy = async (raw: Buffer, folder: string) => {
			if (raw.toString() === 'message 1') throw new MailboxError('NOT_FOUND', 'The folder "Gesendet" does not exist.', { hint: 'Check "Sent Folder".' });
			saved.push([raw.toString(), folder]);
			return { folder: folder || 'Sent', uid: saved.length };
		};
		const run = sendAll<Message, Result>(
			jobs(4, [], (n) => (n === 3 ? undefined : n === 1 ? 'Gesendet' : '')),
			{ openSender: async () => sender, saveCopy, maxInFlight: 10, stopOnError: false },
		);
		await settle();
		for (const n of [0, 1, 2, 3]) answer(n);
		const { outcomes, stoppedBy } = await run;
		expect(stoppedBy).toBeUndefined();
		expect(saved).toEqual([
			['message 0', ''],
			['message 2', ''],
		]);
		expect(outcomes.map((o) => o.ok)).toEqual([true, false, true, true]);
		expect(outcomes[0].sent?.sentCopy).toEqual({ folder: 'Sent', uid: 1 });
		expect(outcomes[3].sent?.sentCopy).toBeNull();
		const failed = outcomes[1];
		if (failed.ok) throw new Error('item 1 should have failed');
		expect(failed.error).toBeInstanceOf(SentCopyFailedError);
		expect((failed.error as SentCopyFailedError).message).toBe(
			'The message was sent (Message-ID <m1@test>), but the copy could not be saved into the Sent folder: The folder "Gesendet" does not exist. Check "Sent Folder".',
		);
		expect((failed.error as SentCopyFailedError).hint).toBe('Do not send it again. Check the IMAP credential and "Sent Folder".');
		// what was sent stays with the item
		expect(failed.sent?.result).toEqual({ messageId: '<m1@test>', n: 1 });
		expect(failed.sent?.sentCopy).toBeNull();
	});

	it('with stopOnError, a send failure stops the run: nothing further is composed or sent, what is in flight is waited for', async () => {
		const { sender, state, answer, refuse } = manualSender();
		const composed: number[] = [];
		const run = sendAll<Message, Result>(jobs(10, composed), { openSender: async () => sender, maxInFlight: 3, stopOnError: true });
		await settle();
		expect(state.sent).toEqual([0, 1, 2]);
		refuse(1, new Error('550 refused'));
		await settle();
		answer(0);
		answer(2);
		await settle();
		const { outcomes, stoppedBy } = await run;
		expect(composed).toEqual([0, 1, 2]);
		expect(state.sent).toEqual([0, 1, 2]);
		expect(stoppedBy?.index).toBe(1);
		expect((stoppedBy?.error as Error).message).toBe('550 refused');
		expect(outcomes.map((o) => [o.index, o.ok])).toEqual([
			[0, true],
			[1, false],
			[2, true],
		]);
	});

	it('without stopOnError, a send failure fails that item only and the run goes on', async () => {
		const { sender, state, answer, refuse } = manualSender();
		const run = sendAll<Message, Result>(jobs(4), { openSender: async () => sender, maxInFlight: 1, stopOnError: false });
		await settle();
		refuse(0, new Error('550 refused'));
		for (const n of [1, 2, 3]) {
			await settle();
			answer(n);
		}
		const { outcomes, stoppedBy } = await run;
		expect(stoppedBy).toBeUndefined();
		expect(state.sent).toEqual([0, 1, 2, 3]);
		expect(outcomes.map((o) => o.ok)).toEqual([false, true, true, true]);
	});

	it('with stopOnError, the first failure to happen is the one that stopped the run', async () => {
		const { sender, refuse } = manualSender();
		const run = sendAll<Message, Result>(jobs(3), { openSender: async () => sender, maxInFlight: 5, stopOnError: true });
		await settle();
		refuse(2, new Error('third'));
		await settle();
		refuse(0, new Error('first'));
		refuse(1, new Error('second'));
		const { stoppedBy, outcomes } = await run;
		expect(stoppedBy?.index).toBe(2);
		expect(outcomes.map((o) => o.index)).toEqual([0, 1, 2]);
	});
});
