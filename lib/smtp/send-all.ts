/**
 * Sending the messages of one run (the items of a node run) through one sender: each message is
 * composed in turn and handed to the sender while at most `maxInFlight` are unanswered, so that no
 * connection waits for the next message to be built; a message the server took gets its Sent copy;
 * every item ends as one outcome, reported in input order whatever order the answers came in.
 */
import { MailboxError } from '../errors';
import type { SentCopy } from '../imap/sent-copy';

/** Connections the SMTP sender of a run keeps open at most. */
export const MAX_CONNECTIONS = 5;
/** Messages handed to the sender and not yet answered: enough that no connection waits for the next message to be built. */
export const MAX_IN_FLIGHT = 4 * MAX_CONNECTIONS;

/** One item of the run. */
export interface SendJob<M> {
	/** Builds the message; a failure fails this item only. */
	compose(): Promise<M>;
	/**
	 * Asked once the message is composed and the sender open: the folder for the message's Sent
	 * copy ('' for the folder the server marks as Sent), or undefined for no copy. A failure here
	 * ends the run at once (sendAll rejects with it).
	 */
	sentFolder?(): string | undefined;
}

export interface MessageSender<M, R> {
	send(message: M): Promise<R>;
}

export interface SendAllOptions<M, R> {
	/** Opens the sender, at the first composed message; a failure fails that item, and the next item tries again. */
	openSender(): Promise<MessageSender<M, R>>;
	/** Saves the Sent copy of a sent message (the copies of a run one after another is the saver's business). */
	saveCopy?(raw: Buffer, folder: string): Promise<SentCopy>;
	/** Messages handed to the sender and not yet answered, at most. */
	maxInFlight: number;
	/** Whether the first failure stops the run: no further message is composed or sent; those in flight are waited for. */
	stopOnError: boolean;
}

/** A message the server took, what it answered, and where its Sent copy went (null: none saved). */
export interface Sent<M, R> {
	message: M;
	result: R;
	sentCopy: SentCopy | null;
}

/** The end of one item: sent, or failed (with `sent` when the message went out and only its Sent copy failed). */
export type SendOutcome<M, R> = { ok: true; index: number; sent: Sent<M, R> } | SendFailure<M, R>;

export interface SendFailure<M, R> {
	ok: false;
	index: number;
	error: unknown;
	sent?: Sent<M, R>;
}

export interface SendAllResult<M, R> {
	/** One outcome per item tried, in input order. */
	outcomes: Array<SendOutcome<M, R>>;
	/** With stopOnError: the failure that stopped the run (the first one to happen). */
	stoppedBy?: SendFailure<M, R>;
}

/** The message went out, but its Sent copy could not be saved: sending it again would send it twice. */
export class SentCopyFailedError extends Error {
	readonly hint = 'Do not send it again. Check the IMAP credential and "Sent Folder".';

	constructor(
		readonly messageId: string,
		cause: unknown,
	) {
		const why = cause instanceof MailboxError ? cause.fullMessage : cause instanceof Error ? cause.message : String(cause);
		super(`The message was sent (Message-ID ${messageId}), but the copy could not be saved into the Sent folder: ${why}`, { cause });
		this.name = 'SentCopyFailedError';
	}
}

/** Sends every job's message (see the file's comment); rejects only when a job's sentFolder() throws. */
export async function sendAll<M extends { raw: Buffer }, R extends { messageId: string }>(jobs: ReadonlyArray<SendJob<M>>, options: SendAllOptions<M, R>): Promise<SendAllResult<M, R>> {
	const outcomes: Array<SendOutcome<M, R> | undefined> = new Array(jobs.length);
	const inFlight = new Set<Promise<void>>();
	let sender: MessageSender<M, R> | undefined;
	let stoppedBy: SendFailure<M, R> | undefined;

	const fail = (failure: SendFailure<M, R>) => {
		outcomes[failure.index] = failure;
		if (options.stopOnError) stoppedBy ??= failure;
	};

	for (let index = 0; index < jobs.length && stoppedBy === undefined; index++) {
		const job = jobs[index];
		let message: M;
		let open: MessageSender<M, R>;
		try {
			message = await job.compose();
			open = sender ??= await options.openSender();
		} catch (error) {
			fail({ ok: false, index, error });
			continue;
		}
		const folder = job.sentFolder?.();
		const pending = open.send(message).then(
			async (result) => {
				const sent: Sent<M, R> = { message, result, sentCopy: null };
				if (folder !== undefined && options.saveCopy) {
					try {
						sent.sentCopy = await options.saveCopy(message.raw, folder);
					} catch (error) {
						fail({ ok: false, index, error: new SentCopyFailedError(result.messageId, error), sent });
						return;
					}
				}
				outcomes[index] = { ok: true, index, sent };
			},
			(error: unknown) => fail({ ok: false, index, error }),
		);
		const tracked = pending.finally(() => inFlight.delete(tracked));
		inFlight.add(tracked);
		if (inFlight.size >= options.maxInFlight) await Promise.race(inFlight);
	}
	await Promise.all(inFlight);
	return { outcomes: outcomes.filter((o): o is SendOutcome<M, R> => o !== undefined), stoppedBy };
}
