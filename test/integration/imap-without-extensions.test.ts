/**
 * Servers without UIDPLUS: EXPUNGE would remove every message marked \Deleted in the folder, also
 * those of other mail clients. The trigger refuses "delete" there when it starts (naming the
 * setting), delivers and deletes nothing, and other clients' \Deleted messages stay; mark as read
 * and move (with MOVE) work. The Mailbox node's delete and move (on a server without MOVE either)
 * refuse while another client's message is marked \Deleted, and work when none is.
 */
import { runBulk, searchFolder, type MessageAddress } from '../../lib/imap/messages';
import { parseRawSearch } from '../../lib/imap/search';
import { ImapDeliverer } from '../../lib/router/deliver';
import { startMailServers, type MailServers } from '../servers';
import { append, flagsOf, imap, simpleMessage, until, watch, type Harness } from './imap-watch-helpers';

/** Dovecot 2.3's capabilities after login, without UIDPLUS. */
const WITHOUT_UIDPLUS = 'IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT THREAD=REFERENCES MULTIAPPEND UNSELECT CHILDREN NAMESPACE CONDSTORE ESEARCH LIST-STATUS MOVE SPECIAL-USE LITERAL+';

describe('IMAP watcher on a server without UIDPLUS', () => {
	let servers: MailServers;
	const running: Harness[] = [];

	beforeAll(async () => {
		servers = await startMailServers({ imapCapability: WITHOUT_UIDPLUS });
	});
	afterEach(async () => {
		await Promise.all(running.splice(0).map((h) => h.watcher.stop()));
	});
	afterAll(async () => {
		await servers?.stop();
	});

	it('the server announces no UIDPLUS', async () => {
		const capabilities = await imap(servers, async (client) => [...client.capabilities.keys()]);
		expect(capabilities).not.toContain('UIDPLUS');
		expect(capabilities).toContain('MOVE');
	});

	it('"delete" is refused when the trigger starts, naming the setting; nothing is delivered or expunged, another client\'s \\Deleted message stays', async () => {
		await imap(servers, (c) => c.mailboxCreate('NoUidplus'));
		// another mail client marked this one deleted and has not expunged it yet
		await append(servers, 'NoUidplus', simpleMessage('other-client'), ['\\Deleted']);
		await append(servers, 'NoUidplus', simpleMessage('to-deliver'));
		const h = watch(servers, { folders: ['NoUidplus'], afterProcessing: 'delete', firstActivation: 'all' });
		running.push(h);
		const [result] = await h.watcher.start();
		expect(result.error).toMatchObject({ code: 'CONFIG', field: 'afterProcessing', message: expect.stringContaining('UIDPLUS') });
		expect(h.events.find((e) => e.type === 'failing')).toMatchObject({ folder: 'NoUidplus', error: expect.objectContaining({ code: 'CONFIG' }) });
		expect(h.delivered).toEqual([]);
		expect([...(await flagsOf(servers, 'NoUidplus')).values()]).toEqual([['\\Deleted'], []]);
	});

	it('"mark as read" and "move" work without UIDPLUS (MOVE is offered)', async () => {
		await imap(servers, async (c) => {
			await c.mailboxCreate('NoUidplus Move');
			await c.mailboxCreate('NoUidplus Done');
		});
		await append(servers, 'NoUidplus Move', simpleMessage('other-client-2'), ['\\Deleted']);
		const h = watch(servers, { folders: ['NoUidplus Move'], afterProcessing: 'move', moveTo: 'NoUidplus Done' });
		running.push(h);
		await h.watcher.start();
		await append(servers, 'NoUidplus Move', simpleMessage('to-move'));
		await until(() => !h.state()?.folders['NoUidplus Move'].actions && h.state()?.folders['NoUidplus Move'].lastUid === 2, 'moved');
		expect((await flagsOf(servers, 'NoUidplus Done')).size).toBe(1);
		expect([...(await flagsOf(servers, 'NoUidplus Move')).values()]).toEqual([['\\Deleted']]);
	});
});

/** The same without MOVE either: a move is COPY, \Deleted and EXPUNGE. */
const WITHOUT_UIDPLUS_AND_MOVE = WITHOUT_UIDPLUS.replace(' MOVE', '');

describe('Mailbox actions on a server without UIDPLUS and MOVE', () => {
	let servers: MailServers;

	beforeAll(async () => {
		servers = await startMailServers({ imapCapability: WITHOUT_UIDPLUS_AND_MOVE });
	});
	afterAll(async () => {
		await servers?.stop();
	});

	/** The addresses of the messages in `folder` whose subject is in `subjects`. */
	const addressesOf = (folder: string, subjects: string[]) =>
		imap(servers, async (client) => {
			const mailbox = await client.mailboxOpen(folder, { readOnly: true });
			const found = await client.fetchAll('1:*', { uid: true, envelope: true });
			return found.filter((m) => subjects.includes(m.envelope?.subject ?? '')).map((m): MessageAddress => ({ folder, uid: m.uid, uidValidity: String(mailbox.uidValidity) }));
		});
	const bulk = (addresses: MessageAddress[], action: Parameters<typeof runBulk>[2]) =>
		imap(servers, (client) => runBulk(client, addresses, action));

	it('move and delete refuse while another client has a message marked \\Deleted, which stays; with none marked they work', async () => {
		expect(await imap(servers, async (client) => [...client.capabilities.keys()])).not.toEqual(expect.arrayContaining(['MOVE']));
		await imap(servers, async (c) => {
			await c.mailboxCreate('Plain');
			await c.mailboxCreate('Plain Done');
		});
		await append(servers, 'Plain', simpleMessage('plain-other'), ['\\Deleted']);
		await append(servers, 'Plain', simpleMessage('plain-a'));
		await append(servers, 'Plain', simpleMessage('plain-b'));
		const targets = await addressesOf('Plain', ['plain-a', 'plain-b']);

		const moved = await bulk(targets, { type: 'move', destination: 'Plain Done' });
		expect(moved).toEqual([
			{ ok: false, error: expect.objectContaining({ code: 'SERVER', message: expect.stringContaining('1 other message(s) in folder "Plain" are marked as deleted') }) },
			{ ok: false, error: expect.objectContaining({ code: 'SERVER' }) },
		]);
		const deleted = await bulk(targets, { type: 'delete', permanently: true });
		expect(deleted[0]).toMatchObject({ ok: false, error: { field: 'deletePermanently' } });
		expect([...(await flagsOf(servers, 'Plain')).values()]).toEqual([['\\Deleted'], [], []]);
		expect((await flagsOf(servers, 'Plain Done')).size).toBe(0);

		// the other client expunges its message: now nothing else would go
		await imap(servers, async (c) => {
			await c.mailboxOpen('Plain');
			await c.messageDelete({ deleted: true });
		});
		expect(await bulk(targets.slice(0, 1), { type: 'move', destination: 'Plain Done' })).toEqual([expect.objectContaining({ ok: true, destination: 'Plain Done' })]);
		expect(await bulk(targets.slice(1), { type: 'delete', permanently: true })).toEqual([expect.objectContaining({ ok: true, deleted: 'permanently' })]);
		expect((await flagsOf(servers, 'Plain')).size).toBe(0);
		expect((await flagsOf(servers, 'Plain Done')).size).toBe(1);
	});

	it('a raw search with OLDER or YOUNGER is refused on a server without WITHIN (it would count whole days), naming the field', async () => {
		expect(await imap(servers, async (client) => client.capabilities.has('WITHIN'))).toBe(false);
		for (const raw of ['OLDER 3600', 'FROM x NOT (YOUNGER 60)']) {
			const error = await imap(servers, (client) => searchFolder(client, 'INBOX', parseRawSearch(raw))).catch((e: unknown) => e);
			expect(error).toMatchObject({ code: 'CONFIG', field: 'rawSearch', message: expect.stringContaining('does not support WITHIN') });
		}
		// dates as days are what such a server does
		expect(await imap(servers, (client) => searchFolder(client, 'INBOX', parseRawSearch('BEFORE 1-Jan-2020')))).toMatchObject({ uids: [] });
	});

	it('the Router leaves a delivered message in the master mailbox while another client has a message marked \\Deleted there', async () => {
		await imap(servers, (c) => c.mailboxCreate('Master'));
		await append(servers, 'Master', simpleMessage('master-other'), ['\\Deleted']);
		await append(servers, 'Master', simpleMessage('master-routed'));
		const [ref] = await addressesOf('Master', ['master-routed']);
		const raw = simpleMessage('master-routed');
		const result = await imap(servers, (client) => new ImapDeliverer(client).deliverMessage(raw, [['Routed', 'Sales']], { ref: { folder: 'Master', uid: ref.uid, uidValidity: ref.uidValidity }, action: { action: 'delete' }, removable: true }));
		expect(result.copies.map((c) => c.status)).toEqual(['appended']);
		expect(result.master).toMatchObject({ status: 'failed', error: { code: 'SERVER', field: 'afterDelivery', message: expect.stringContaining('1 other message(s) in "Master" are marked as deleted') } });
		expect([...(await flagsOf(servers, 'Master')).values()]).toEqual([['\\Deleted'], []]);
	});
});
