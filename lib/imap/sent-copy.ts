/**
 * The copy of a sent message in the mailbox's Sent folder (IMAP APPEND), for servers that do not
 * file what they send themselves.
 */
import type { ImapFlow } from 'imapflow';
import { MailboxError } from '../errors';
import { listFolders } from './folders';

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
export async function saveSentCopy(client: ImapFlow, raw: Buffer, folder?: string, date?: Date): Promise<{ folder: string; uid: number | null }> {
	const path = folder?.trim() || (await findSentFolder(client));
	const result = await client.append(path, raw, ['\\Seen'], date);
	if (!result) {
		throw new MailboxError('SERVER', `The copy could not be saved into the folder "${path}".`, { field: 'sentFolder', step: 'command', hint: 'Check that the folder exists and the account may write to it.' });
	}
	return { folder: result.destination || path, uid: typeof result.uid === 'number' ? result.uid : null };
}
