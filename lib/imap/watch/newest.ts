/**
 * The editor's "Test step" of the IMAP trigger: the newest message of a folder at once, as the
 * watcher would deliver it. The folder is opened read-only and the message fetched with
 * BODY.PEEK[], so nothing is marked \Seen, moved or deleted, and no watch state is touched.
 */
import type { ImapFlow } from 'imapflow';
import type { ResolvedServer } from '../../connection/options';
import { silentLogger, type Logger } from '../../logger';
import { withImap, type ImapLogin } from '../connect';
import type { WatchedMessage } from './watcher';

/** The newest message (highest UID) of `folder` on a logged-in connection; undefined when the folder is empty. */
export async function newestMessageOf(client: ImapFlow, folder: string): Promise<WatchedMessage | undefined> {
	const box = await client.mailboxOpen(folder, { readOnly: true });
	if (!box.exists) return undefined;
	const message = await client.fetchOne('*', { uid: true, flags: true, size: true, internalDate: true, envelope: true, source: true });
	if (!message) return undefined;
	return {
		folder,
		uid: message.uid,
		uidValidity: String(box.uidValidity),
		flags: [...(message.flags ?? [])],
		size: message.size ?? message.source?.length ?? 0,
		internalDate: message.internalDate ? new Date(message.internalDate) : undefined,
		messageId: message.envelope?.messageId,
		oversized: false,
		source: message.source,
		bounce: false,
		attempt: 1,
		key: `${folder}:${String(box.uidValidity)}:${message.uid}`,
	};
}

/** The newest message of `folder`, on a connection of its own; undefined when the folder is empty. */
export async function newestMessage(server: ResolvedServer, login: ImapLogin, folder: string, logger: Logger = silentLogger): Promise<WatchedMessage | undefined> {
	return withImap(server, login, (client) => newestMessageOf(client, folder), logger);
}
