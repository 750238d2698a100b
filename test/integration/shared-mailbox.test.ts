/**
 * Shared mailboxes, Microsoft 365 style, against a Dovecot that accepts "account\mailbox" with
 * the account's password for the mailboxes the account may open (and nothing else).
 */
import fs from 'node:fs';
import { checkImapConnection } from '../../lib/imap/check';
import { resolveServer, type ServerSettings } from '../../lib/connection/options';
import { loginForMailbox, parseSharedMailboxes } from '../../lib/connection/shared-mailboxes';
import { withImap } from '../../lib/imap/connect';
import { startMailServers, type MailServers } from '../servers';

function message(n: number, to: string): { raw: Buffer; flags?: string[] } {
	return {
		raw: Buffer.from(`From: sender${n}@example.test\r\nTo: ${to}@example.test\r\nSubject: message ${n} for ${to}\r\nMessage-ID: <m${n}.${to}@example.test>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\nBody ${n}\r\n`),
		flags: n % 2 ? ['\\Seen'] : [],
	};
}

describe('shared mailboxes (Microsoft 365 login form "account\\mailbox")', () => {
	let servers: MailServers;
	let settings: ServerSettings;
	const alice = { user: 'alice', password: 'alice-pw' };

	beforeAll(async () => {
		servers = await startMailServers({ sharedMailboxes: { alice: ['catchall'] } });
		settings = { host: '127.0.0.1', port: servers.ports.imaps, security: 'tls', ca: fs.readFileSync(servers.certPath, 'utf8') };
		await servers.writeMaildir('alice', 'INBOX', [message(1, 'alice')]);
		await servers.writeMaildir('catchall', 'INBOX', [1, 2, 3, 4, 5].map((n) => message(n, 'catchall')));
	});
	afterAll(async () => {
		await servers?.stop();
	});

	it('the check opens the account and each shared mailbox and says with which login', async () => {
		const result = await checkImapConnection(settings, alice, undefined, { sharedMailboxes: parseSharedMailboxes('catchall;') });
		expect(result.ok).toBe(true);
		expect(result.steps.map((s) => s.step)).toEqual(['connect', 'tls', 'login', 'capabilities', 'inbox', 'shared']);
		expect(result.steps[4].detail).toBe('INBOX has 1 messages, 0 unseen');
		expect(result.steps[5].detail).toBe('shared mailbox catchall opened as "alice\\catchall": INBOX has 5 messages, 2 unseen');
		expect(result.message).not.toContain('alice-pw');
	});

	it('a mailbox the account may not open fails the check on the Shared Mailboxes field, after the own mailbox worked', async () => {
		const result = await checkImapConnection(settings, alice, undefined, { sharedMailboxes: ['catchall', 'bob'] });
		expect(result.ok).toBe(false);
		expect(result.steps.map((s) => [s.step, s.ok])).toEqual([
			['connect', true],
			['tls', true],
			['login', true],
			['capabilities', true],
			['inbox', true],
			['shared', true],
			['login', false],
		]);
		expect(result.error).toMatchObject({ code: 'AUTH', field: 'sharedMailboxes' });
		expect(result.message).toMatch(/^Shared mailbox bob: 127\.0\.0\.1 refused the login as "alice\\bob".*Check the address in Shared Mailboxes.*Full Access permission on bob/);
		expect(result.message).not.toContain('alice-pw');
	});

	it('the O365 form typed into User logs in to the shared mailbox directly', async () => {
		const result = await checkImapConnection(settings, { user: 'alice\\catchall', password: 'alice-pw' });
		expect(result.ok).toBe(true);
		expect(result.steps.find((s) => s.step === 'login')?.detail).toMatch(/^logged in as "alice\\catchall" with (PLAIN|LOGIN)$/);
		expect(result.steps.find((s) => s.step === 'inbox')?.detail).toBe('INBOX has 5 messages, 2 unseen');
	});

	it('a node opens only the listed mailboxes, and reads the right one', async () => {
		const server = resolveServer('imap', settings);
		const shared = parseSharedMailboxes('catchall');
		const subjects = async (mailbox: string) =>
			withImap(server, loginForMailbox(alice, shared, mailbox), async (client) => {
				await client.mailboxOpen('INBOX', { readOnly: true });
				const found: string[] = [];
				for await (const m of client.fetch('1:*', { envelope: true })) found.push(m.envelope?.subject ?? '');
				return found;
			});
		expect(await subjects('')).toEqual(['message 1 for alice']);
		expect(await subjects('CatchAll')).toEqual([1, 2, 3, 4, 5].map((n) => `message ${n} for catchall`));
		expect(() => loginForMailbox(alice, shared, 'bob')).toThrow(/Mailbox "bob" is not one of the credential's shared mailboxes \(one of catchall\)/);
	});
});
