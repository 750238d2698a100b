/**
 * The editor's "Test step" of the POP3 trigger: the newest message on the server at once (the
 * last one of the maildrop), as the watcher would deliver it. Only STAT, UIDL and RETR are sent
 * before QUIT: nothing is deleted, and no watch state is touched.
 */
import type { Login, ResolvedServer } from '../connection/options';
import { withPop3, type Pop3ConnectOptions } from './connect';
import type { Pop3WatchedMessage } from './watch';

export interface NewestPop3Options extends Pop3ConnectOptions {
	/** The maildrop's name in the message's key; default `user@host`. */
	name?: string;
}

/** The newest message of the maildrop; undefined when it is empty. Errors are MailboxErrors naming the server. */
export async function newestMessage(server: ResolvedServer, login: Login, options: NewestPop3Options = {}): Promise<Pop3WatchedMessage | undefined> {
	const { name = `${login.user}@${server.host}`, ...connectOptions } = options;
	return withPop3(
		server,
		login,
		async ({ client }) => {
			const { count } = await client.stat();
			if (!count) return undefined;
			const { uid } = await client.uidlOne(count);
			const source = await client.retr(count);
			return { uidl: uid, msgNo: count, size: source.length, oversized: false, source, firstSeen: new Date(), attempt: 1, key: `${name}/${uid}` };
		},
		connectOptions,
	);
}
