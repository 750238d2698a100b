/**
 * The copy of a sent message in the mailbox's Sent folder (IMAP APPEND), for servers that do not
 * file what they send themselves.
 */
import type { ImapFlow } from 'imapflow';
import { MailboxError } from '../errors';
import { silentLogger, type Logger } from '../logger';
import { listFolders } from './folders';
import { ImapSession, type ImapConnection } from './session';

/** Where a Sent copy was stored: the folder and its UID there (null when the server does not say). */
export interface SentCopy {
	folder: string;
	uid: number | null;
}

/** The folder the server marks as Sent (SPECIAL-USE \Sent, RFC 6154). */
export async function findSentFolder(client: ImapFlow): Promise<string> {
	const folders = await listFolders(client);
	const sent = folders.find((f) => f.specialUse === 'sent' && f.selectable);
	if (sent) return sent.path;
	throw new MailboxError('NOT_FOUND', 'The mailbox has no folder marked as the Sent folder (SPECIAL-USE \\Sent).', {
		field: 'sentFolder',
		step: 'command',
		hint: 'Enter the name of the Sent folder in "Sent Folder" (for example Sent or "Sent Items").',
	});
}

/**
 * Stores the sent bytes in the Sent folder (found by SPECIAL-USE when `folder` is empty), flagged
 * \Seen so that mail apps do not show it as new.
 */
export async function saveSentCopy(client: ImapFlow, raw: Buffer, folder?: string, date?: Date): Promise<SentCopy> {
	const path = folder?.trim() || (await findSentFolder(client));
	const result = await client.append(path, raw, ['\\Seen'], date);
	if (!result) {
		throw new MailboxError('SERVER', `The copy could not be saved into the folder "${path}".`, { field: 'sentFolder', step: 'command', hint: 'Check that the folder exists and the account may write to it.' });
	}
	return { folder: result.destination || path, uid: typeof result.uid === 'number' ? result.uid : null };
}

/**
 * The Sent copies of one send run: one IMAP session, opened at the first copy (the connection is
 * asked for then, and again after it failed), the appends one after another on it.
 */
export class SentCopies {
	private session?: Promise<ImapSession>;

	constructor(
		private readonly connection: () => Promise<ImapConnection>,
		private readonly logger: Logger = silentLogger,
	) {}

	/** Appends the sent bytes to `folder` ('' for the folder the server marks as Sent). */
	async save(raw: Buffer, folder: string): Promise<SentCopy> {
		if (!this.session) {
			const opening = this.connection().then((connection) => new ImapSession(connection, this.logger));
			// a connection that could not be had is asked for again at the next copy
			opening.catch(() => {
				if (this.session === opening) this.session = undefined;
			});
			this.session = opening;
		}
		const session = await this.session;
		return session.serial((client) => saveSentCopy(client, raw, folder));
	}

	/** Waits for the appends, then logs out. */
	async close(): Promise<void> {
		const opening = this.session;
		this.session = undefined;
		const session = await opening?.catch(() => undefined);
		await session?.close();
	}
}
