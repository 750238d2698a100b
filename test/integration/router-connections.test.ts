/**
 * The delivery connections of a router run (lib/router/connections.ts) against Dovecot: opened on
 * the first call only, one connection when target and master are the same mailbox, two otherwise,
 * and every connection opened logged out at the end, also after the master's failed to open.
 */
import { ImapFlow } from 'imapflow';
import { resolveServer } from '../../lib/connection/options';
import type { ImapConnection } from '../../lib/imap/session';
import { DeliveryConnections, type DeliveryMailboxes } from '../../lib/router/connections';
import { ImapDeliverer } from '../../lib/router/deliver';
import { startMailServers, type MailServers } from '../servers';

describe('delivery connections of a router run', () => {
	let servers: MailServers;
	beforeAll(async () => {
		servers = await startMailServers();
	});
	afterAll(async () => {
		await servers?.stop();
	});

	const connection = (): ImapConnection => ({
		server: resolveServer('imap', { host: '127.0.0.1', port: servers.ports.imaps, security: 'tls', allowUnauthorizedCerts: true }),
		login: { user: 'catchall', password: 'catchall-pw' },
	});

	function connections(mailboxes: DeliveryMailboxes, failMaster = false) {
		const asked: string[] = [];
		let read = 0;
		const c = new DeliveryConnections(
			() => (read++, mailboxes),
			{
				imap: async (mailbox) => {
					asked.push(mailbox);
					if (failMaster && mailbox === mailboxes.masterMailbox) throw new Error('no credential for the master mailbox');
					return connection();
				},
				graph: async () => {
					throw new Error('not over Graph');
				},
			},
		);
		return { c, asked, read: () => read };
	}

	let logouts: jest.SpyInstance;
	beforeEach(() => {
		logouts = jest.spyOn(ImapFlow.prototype, 'logout');
	});
	afterEach(() => {
		logouts.mockRestore();
	});

	it('one connection for the same mailbox (whatever its case), opened once, logged out at the end', async () => {
		const { c, asked, read } = connections({ via: 'imap', targetMailbox: 'Catchall@Firma.example', masterMailbox: 'catchall@firma.example' });
		const first = await c.open();
		expect(first).toBeInstanceOf(ImapDeliverer);
		expect(await c.open()).toBe(first);
		expect(asked).toEqual(['Catchall@Firma.example']);
		expect(read()).toBe(1);
		// it works: a message that is not there is not found
		expect(await first.fetchFromMaster({ folder: 'INBOX' }, '<nowhere@firma.example>')).toBeUndefined();
		await c.close();
		expect(logouts).toHaveBeenCalledTimes(1);
	});

	it('two connections for two mailboxes, both logged out', async () => {
		const { c, asked } = connections({ via: 'imap', targetMailbox: '', masterMailbox: 'catchall@firma.example' });
		await c.open();
		expect(asked).toEqual(['', 'catchall@firma.example']);
		await c.close();
		expect(logouts).toHaveBeenCalledTimes(2);
	});

	it('the master\'s connection fails: the error comes back, the next call tries again, and every connection opened is closed', async () => {
		const { c, asked } = connections({ via: 'imap', targetMailbox: '', masterMailbox: 'other@firma.example' }, true);
		await expect(c.open()).rejects.toThrow('no credential for the master mailbox');
		await expect(c.open()).rejects.toThrow('no credential for the master mailbox');
		expect(asked).toEqual(['', 'other@firma.example', '', 'other@firma.example']);
		await c.close();
		expect(logouts).toHaveBeenCalledTimes(2);
	});

	it('nothing opened, nothing to close', async () => {
		const { c, asked } = connections({ via: 'imap', targetMailbox: '', masterMailbox: '' });
		await c.close();
		expect(asked).toEqual([]);
		expect(logouts).not.toHaveBeenCalled();
	});
});
