/**
 * The test mail servers for one describe block: started before its tests, stopped after them,
 * with what the tests connect with: the certificate to trust, the IMAP server, and the Mailbox
 * node's IMAP credential of a user.
 */
import fs from 'node:fs';
import type { IDataObject } from 'n8n-workflow';
import { resolveServer, type ResolvedServer } from '../../../lib/connection/options';
import { startMailServers, type MailServers, type MailServersOptions } from '../../servers';

export interface TestMailServers {
	/** The running servers (in tests and hooks; not while the describe block is collected). */
	readonly servers: MailServers;
	/** The self-signed certificate every TLS port uses (PEM), to trust it. */
	readonly ca: string;
	/** IMAP over TLS (the imaps port), the certificate checked against {@link ca}. */
	imapServer(): ResolvedServer;
	/**
	 * The mailboxImapApi credential of `user` (IMAP over TLS, self-signed certificate allowed),
	 * with the user's password unless `password` is given.
	 */
	imapCredential(user?: string, password?: string): IDataObject;
}

/** Registers beforeAll (start) and afterAll (stop) in the calling describe block. */
export function useMailServers(options: MailServersOptions = {}): TestMailServers {
	let servers: MailServers | undefined;
	let starting: Promise<MailServers> | undefined;
	let ca: string | undefined;
	beforeAll(async () => {
		starting = startMailServers(options);
		servers = await starting;
		ca = fs.readFileSync(servers.certPath, 'utf8');
	});
	afterAll(async () => {
		// also when beforeAll gave up waiting: the servers it started are stopped once they are up
		await (servers ?? (await starting?.catch(() => undefined)))?.stop();
	});
	const get = () => {
		if (!servers || ca === undefined) throw new Error('the mail servers are not running (use them in tests and hooks)');
		return { servers, ca };
	};
	return {
		get servers() {
			return get().servers;
		},
		get ca() {
			return get().ca;
		},
		imapServer: () => resolveServer('imap', { host: '127.0.0.1', port: get().servers.ports.imaps, security: 'tls', ca: get().ca }),
		imapCredential: (user = 'alice', password?: string) => {
			const { servers } = get();
			return { host: '127.0.0.1', port: servers.ports.imaps, security: 'tls', allowSelfSigned: true, user, password: password ?? servers.users[user] };
		},
	};
}
