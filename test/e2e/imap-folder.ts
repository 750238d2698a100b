import type { ImapFlow } from 'imapflow';

/**
 * The Message-IDs in a folder, sorted, as the server has them now: the folder's state is read
 * after a NOOP, so moves and expunges by other connections (n8n's) are seen. A missing or empty
 * folder gives [].
 */
export async function messageIdsIn(imap: ImapFlow, folder: string): Promise<string[]> {
	if (!(await imap.list()).some((f) => f.path === folder)) return [];
	const status = await imap.status(folder, { messages: true });
	if (!status || !status.messages) return [];
	const lock = await imap.getMailboxLock(folder);
	try {
		await imap.noop();
		const ids: string[] = [];
		for await (const m of imap.fetch('1:*', { envelope: true })) ids.push(m.envelope?.messageId ?? '');
		return ids.sort();
	} finally {
		lock.release();
	}
}
