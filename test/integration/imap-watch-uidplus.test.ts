/**
 * After processing on a server without UIDPLUS: EXPUNGE would remove every message marked
 * \Deleted in the folder, also those of other mail clients. The trigger refuses "delete" there
 * when it starts (naming the setting: the workflow is not activated), delivers and deletes
 * nothing, and other clients' \Deleted messages stay; mark as read and move (with MOVE) work.
 */
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
