/**
 * The IMAP and POP3 watchers with an OAuth2 token the server rejects before its known expiry
 * (revoked, or the credential changed): the login function is asked once more with the rejected
 * token, renews it, and the same connection attempt goes on, so activation does not fail and
 * nothing waits for the token's expiry. A token still rejected after renewal fails as before.
 */
import fs from 'node:fs';
import { startMailServers, type MailServers } from '../servers';
import type { Login } from '../../lib/connection/options';
import { resolveServer } from '../../lib/connection/options';
import type { ImapLogin } from '../../lib/imap/connect';
import { Pop3Watcher, type Pop3WatchedMessage } from '../../lib/pop3/watch';
import { append, simpleMessage, until, watch } from './imap-watch-helpers';

describe('a rejected access token is renewed once', () => {
	let servers: MailServers;

	beforeAll(async () => {
		servers = await startMailServers();
	});

	afterAll(async () => {
		await servers?.stop();
	});

	it('renews the token the server rejected, logs in at once with the new one, and delivers', async () => {
		const revoked = servers.oauth.issueToken('alice');
		servers.oauth.revoke(revoked);
		const calls: Array<string | undefined> = [];
		let current = revoked;
		const login = async (rejectedToken?: string): Promise<ImapLogin> => {
			calls.push(rejectedToken);
			if (rejectedToken === current) current = servers.oauth.issueToken('alice');
			return { user: 'alice', accessToken: current };
		};
		await append(servers, 'INBOX', simpleMessage('token-renewed'));
		const { watcher, delivered } = watch(servers, { login, folders: ['INBOX'], firstActivation: 'all' });
		try {
			const started = await watcher.start();
			expect(started.map((s) => s.error)).toEqual([undefined]);
			await until(() => delivered.length === 1, 'the message');
			expect(delivered[0].messageId).toBe('<token-renewed@example.test>');
			// asked once without, once with the rejected token; the renewed one was used from then on
			expect(calls.slice(0, 2)).toEqual([undefined, revoked]);
			expect(calls.filter((c) => c !== undefined)).toEqual([revoked]);
		} finally {
			await watcher.stop();
		}
	});

	it('a token still rejected after renewal fails the start with the login error, asking once more only', async () => {
		const calls: Array<string | undefined> = [];
		const login = async (rejectedToken?: string): Promise<ImapLogin> => {
			calls.push(rejectedToken);
			return { user: 'alice', accessToken: 'not-a-token-the-server-knows' };
		};
		const { watcher } = watch(servers, { login, folders: ['INBOX'], firstActivation: 'new' });
		try {
			const [started] = await watcher.start();
			expect(started.error).toMatchObject({ code: 'AUTH', field: 'accessToken' });
			expect(calls.slice(0, 2)).toEqual([undefined, 'not-a-token-the-server-knows']);
		} finally {
			await watcher.stop();
		}
	});

	it('POP3: renews the token the server rejected within the same poll, and delivers', async () => {
		await append(servers, 'INBOX', simpleMessage('pop3-token-renewed'));
		const revoked = servers.oauth.issueToken('alice');
		servers.oauth.revoke(revoked);
		const calls: Array<string | undefined> = [];
		let current = revoked;
		const delivered: Pop3WatchedMessage[] = [];
		const watcher = new Pop3Watcher({
			server: resolveServer('pop3', { host: '127.0.0.1', port: servers.ports.pop3s, security: 'tls', ca: fs.readFileSync(servers.certPath, 'utf8') }),
			login: async (rejectedToken?: string): Promise<Login> => {
				calls.push(rejectedToken);
				if (rejectedToken === current) current = servers.oauth.issueToken('alice');
				return { user: 'alice', accessToken: current };
			},
			firstActivation: 'all',
			pollIntervalMs: 10 * 60_000,
			deliver: async (messages) => {
				delivered.push(...messages);
			},
		});
		try {
			const started = await watcher.start();
			expect(started.error).toBeUndefined();
			await until(() => delivered.some((m) => m.source?.toString('utf8').includes('<pop3-token-renewed@example.test>')), 'the message');
			expect(calls.slice(0, 2)).toEqual([undefined, revoked]);
			expect(calls.filter((c) => c !== undefined)).toEqual([revoked]);
		} finally {
			await watcher.stop();
		}
	});
});
