/**
 * The triggers' "Test step" against a real Dovecot: the newest message of an IMAP folder and of a
 * POP3 maildrop, undefined for an empty one, and nothing changed on the server by looking.
 */
import fs from 'node:fs';
import { resolveServer, type ResolvedServer } from '../../lib/connection/options';
import { MailboxError } from '../../lib/errors';
import { newestMessage } from '../../lib/imap/watch';
import { newestMessage as newestPop3Message } from '../../lib/pop3/newest';
import { withPop3 } from '../../lib/pop3/connect';
import { generateMessages } from '../fixtures/mailgen';
import { startMailServers, type MailServers } from '../servers';
import { flagsOf, imap, imapServer, LOGIN, simpleMessage } from './imap-watch-helpers';

describe('newest message for "Test step" against a real Dovecot', () => {
	let servers: MailServers;
	let pop3: ResolvedServer;

	beforeAll(async () => {
		servers = await startMailServers();
		pop3 = resolveServer('pop3', { host: '127.0.0.1', port: servers.ports.pop3s, security: 'tls', ca: fs.readFileSync(servers.certPath, 'utf8'), timeoutMs: 10_000 });
	});
	afterAll(async () => {
		await servers?.stop();
	});

	describe('IMAP', () => {
		it('is the message with the highest UID, as the watcher delivers it, and flags nothing \\Seen', async () => {
			const seeded = [...generateMessages({ seed: 7, count: 6 })].map((m) => ({ ...m, flags: m.flags.filter((f) => f !== '\\Seen' && f !== '\\Deleted') }));
			seeded.push({ ...seeded[0], raw: simpleMessage('newest-imap'), messageId: '<newest-imap@example.test>', flags: [] });
			await servers.writeMaildir('alice', 'Several', seeded);
			const before = await flagsOf(servers, 'Several');
			expect(before.size).toBe(7);

			const newest = await newestMessage(imapServer(servers), LOGIN, 'Several');

			expect(newest).toMatchObject({ folder: 'Several', uid: 7, messageId: '<newest-imap@example.test>', oversized: false, bounce: false, attempt: 1 });
			expect(newest?.flags).not.toContain('\\Seen');
			expect(newest?.key).toBe(`Several:${newest?.uidValidity}:7`);
			expect(newest?.source?.toString()).toContain('Subject: newest-imap');
			expect(newest?.size).toBe(newest?.source?.length);
			// read-only and BODY.PEEK: every message keeps its flags, none is expunged
			expect(await flagsOf(servers, 'Several')).toEqual(before);
		});

		it('is undefined for an empty folder', async () => {
			await imap(servers, async (client) => {
				await client.mailboxCreate('Empty');
			});
			expect(await newestMessage(imapServer(servers), LOGIN, 'Empty')).toBeUndefined();
		});

		it('fails with a MailboxError for a folder that does not exist', async () => {
			await expect(newestMessage(imapServer(servers), LOGIN, 'No/Such/Folder')).rejects.toBeInstanceOf(MailboxError);
		});
	});

	describe('POP3', () => {
		const BOB = { user: 'bob', password: 'bob-pw' };

		it('is the last message of the maildrop and deletes nothing', async () => {
			await servers.writeMaildir('alice', 'INBOX', [...generateMessages({ seed: 8, count: 4 })].map((m) => ({ raw: m.raw })));
			await servers.writeMaildir('alice', 'INBOX', [{ raw: Buffer.from('From: a@example.test\r\nSubject: newest-pop3\r\nMessage-ID: <newest-pop3@example.test>\r\n\r\nlast\r\n') }]);
			const uidls = () => withPop3(pop3, LOGIN, async ({ client }) => (await client.uidl()).map((u) => u.uid));
			const before = await uidls();
			expect(before).toHaveLength(5);

			const newest = await newestPop3Message(pop3, LOGIN);

			expect(newest).toMatchObject({ uidl: before[4], msgNo: 5, oversized: false, attempt: 1, key: `alice@127.0.0.1/${before[4]}` });
			expect(newest?.source?.toString()).toContain('Subject: newest-pop3');
			expect(newest?.size).toBe(newest?.source?.length);
			expect(await uidls()).toEqual(before);
			// nothing marked deleted either (RETR may set \Seen: Dovecot does, as pop3_no_flag_updates is off)
			const flags = [...(await flagsOf(servers, 'INBOX')).values()];
			expect(flags).toHaveLength(5);
			expect(flags.every((f) => !f.includes('\\Deleted'))).toBe(true);
			expect(flags.slice(0, 4).every((f) => !f.includes('\\Seen'))).toBe(true);
		});

		it('names the maildrop in the key as asked', async () => {
			const newest = await newestPop3Message(pop3, LOGIN, { name: 'the-maildrop' });
			expect(newest?.key).toMatch(/^the-maildrop\//);
		});

		it('is undefined for an empty maildrop', async () => {
			expect(await newestPop3Message(pop3, BOB)).toBeUndefined();
		});

		it('fails with a MailboxError for a wrong password', async () => {
			await expect(newestPop3Message(pop3, { user: 'bob', password: 'wrong' })).rejects.toBeInstanceOf(MailboxError);
		});
	});
});
