import fs from 'node:fs';
import { ImapFlow } from 'imapflow';
import type { MailServers } from '../servers';

/**
 * Runs `fn` on a fresh IMAP connection (IMAPS to the test Dovecot, logged in as `user` with its
 * password) and logs out afterwards. One connection per use instead of one kept from beforeAll:
 * the tests use it minutes apart (n8n is built, installed and started in between), and imapflow
 * closes a connection that was idle too long with an 'error' event, which without a listener
 * would be an uncaught exception. An error on the connection while `fn` runs makes `fn`'s
 * command fail, which is what the test sees.
 */
export async function withImap<T>(servers: MailServers, user: string, fn: (imap: ImapFlow) => Promise<T>): Promise<T> {
	const imap = new ImapFlow({
		host: '127.0.0.1',
		port: servers.ports.imaps,
		secure: true,
		tls: { ca: fs.readFileSync(servers.certPath) },
		auth: { user, pass: servers.users[user] },
		logger: false,
	});
	imap.on('error', () => undefined); // the failing command reports it
	await imap.connect();
	try {
		return await fn(imap);
	} finally {
		await imap.logout().catch(() => imap.close());
	}
}

/**
 * The Message-IDs in a folder, sorted, as the server has them now: the folder's state is read
 * after a NOOP, so moves and expunges by other connections (n8n's) are seen. A missing or empty
 * folder gives []. A flag change by another connection can arrive during the FETCH as an
 * unsolicited response with the flags only (imapflow yields it too): it is not a message and is
 * left out.
 */
export async function messageIdsIn(imap: ImapFlow, folder: string): Promise<string[]> {
	if (!(await imap.list()).some((f) => f.path === folder)) return [];
	const status = await imap.status(folder, { messages: true });
	if (!status || !status.messages) return [];
	const lock = await imap.getMailboxLock(folder);
	try {
		await imap.noop();
		const ids: string[] = [];
		for await (const m of imap.fetch('1:*', { envelope: true })) {
			if (m.envelope) ids.push(m.envelope.messageId ?? '');
		}
		return ids.sort();
	} finally {
		lock.release();
	}
}
