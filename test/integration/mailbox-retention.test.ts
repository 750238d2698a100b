/**
 * Retention → Remove Old Mail of the Mailbox node against a real Dovecot: messages are seeded
 * straight into the Maildirs with chosen arrival times (INTERNALDATE) around the cut-off, and the
 * node runs with a fixed Reference Time, so exactly which messages go is known. Needs root.
 */
import type { IDataObject, INodeExecutionData } from 'n8n-workflow';
import { withImap } from '../../lib/imap/connect';
import { Mailbox } from '../../nodes/Mailbox/Mailbox.node';
import type { MaildirMessage } from '../servers';
import { executeContext } from './helpers/execute-context';
import { useMailServers } from './helpers/mail-servers';

const NOW = new Date('2026-03-01T12:00:00Z');
const HOUR = 3600_000;
const DAY = 24 * HOUR;
const ago = (ms: number, from = NOW) => new Date(from.getTime() - ms);

/** A small message whose Message-ID is <id@retention.test> and whose subject is the id. */
function mail(id: string, arrived: Date, options: { header?: Date | null; flags?: string[] } = {}): MaildirMessage {
	const header = options.header === undefined ? arrived : options.header;
	const lines = ['From: Sender <sender@example.test>', 'To: someone@mailbox.test', `Subject: ${id}`, `Message-ID: <${id}@retention.test>`];
	if (header) lines.push(`Date: ${header.toUTCString().replace('GMT', '+0000')}`);
	lines.push('MIME-Version: 1.0', 'Content-Type: text/plain; charset=us-ascii', '', `Message ${id}.`, '');
	return { raw: Buffer.from(lines.join('\r\n')), date: arrived, flags: options.flags };
}

describe('Mailbox node: Retention → Remove Old Mail', () => {
	const env = useMailServers({ users: { alice: 'alice-pw', bob: 'bob-pw', carol: 'carol-pw', dave: 'dave-pw', erin: 'erin-pw' } });

	async function run(user: string, params: Record<string, unknown>, continueOnFail = false): Promise<INodeExecutionData[]> {
		const ctx = executeContext({
			items: [{ json: {} }],
			params: { authentication: 'password', resource: 'retention', operation: 'apply', inboxDays: 0, junkDays: 0, sentDays: 0, ...params },
			credentials: { mailboxImapApi: env.imapCredential(user) },
			continueOnFail,
		});
		return (await new Mailbox().execute.call(ctx))[0];
	}
	async function failure(user: string, params: Record<string, unknown>): Promise<{ message: string; description: string }> {
		let caught: unknown;
		try {
			await run(user, params);
		} catch (error) {
			caught = error;
		}
		expect(caught).toBeInstanceOf(Error);
		return { message: (caught as Error).message, description: (caught as { description?: string }).description ?? '' };
	}
	/** The ids (Message-ID without <@retention.test>) in a folder, sorted, with their flags. */
	async function contents(user: string, folder: string): Promise<Record<string, string[]>> {
		return withImap(env.imapServer(), { user, password: env.servers.users[user] }, async (client) => {
			const lock = await client.getMailboxLock(folder, { readOnly: true });
			try {
				const out: Record<string, string[]> = {};
				if (!client.mailbox || client.mailbox.exists === 0) return out;
				for await (const msg of client.fetch('1:*', { envelope: true, flags: true })) {
					out[(msg.envelope?.messageId ?? '').replace(/^<|@retention\.test>$/g, '')] = [...(msg.flags ?? [])].filter((f) => f !== '\\Recent').sort();
				}
				return out;
			} finally {
				lock.release();
			}
		});
	}
	const ids = async (user: string, folder: string) => Object.keys(await contents(user, folder)).sort();
	const byFolder = (items: INodeExecutionData[]) => Object.fromEntries(items.map((i) => [i.json.folder as string, i.json]));
	const listedIds = (json: IDataObject) => (json.messages as IDataObject[]).map((m) => String(m.messageId).replace(/^<|@retention\.test>$/g, ''));

	describe('INBOX, Junk and Sent around the cut-off', () => {
		beforeAll(async () => {
			await env.servers.writeMaildir('alice', 'INBOX', [
				mail('in-45d', ago(45 * DAY)),
				mail('in-30d1h', ago(30 * DAY + HOUR)),
				mail('in-30d1s', ago(30 * DAY + 1000)),
				mail('in-30d-exact', ago(30 * DAY)),
				mail('in-29d23h', ago(29 * DAY + 23 * HOUR)),
				mail('in-1d', ago(DAY)),
				// marked \Deleted by another mail client, which may still undelete it
				mail('in-2d-deleted-elsewhere', ago(2 * DAY), { flags: ['\\Deleted', '\\Seen'] }),
			]);
			await env.servers.writeMaildir('alice', 'Junk', [mail('junk-10d1h', ago(10 * DAY + HOUR)), mail('junk-9d23h', ago(9 * DAY + 23 * HOUR)), mail('junk-200d', ago(200 * DAY))]);
			await env.servers.writeMaildir('alice', 'Sent', [mail('sent-400d', ago(400 * DAY)), mail('sent-1d', ago(DAY))]);
		});

		const params = { inboxDays: 30, junkDays: 10, sentDays: 0, options: { referenceTime: NOW.toISOString() } };

		it('dry run lists exactly what would go and changes nothing, not even a flag', async () => {
			const before = { inbox: await contents('alice', 'INBOX'), junk: await contents('alice', 'Junk'), sent: await contents('alice', 'Sent') };
			const items = await run('alice', { ...params, dryRun: true });
			expect(items.map((i) => i.json.folder)).toEqual(['INBOX', 'Junk', 'Sent']);
			const out = byFolder(items);
			expect(out.INBOX).toMatchObject({ role: 'inbox', days: 30, cutoff: '2026-01-30T12:00:00.000Z', ageBy: 'arrival', dryRun: true, action: 'delete', matched: 3, deleted: 0, messagesTruncated: false });
			expect(listedIds(out.INBOX).sort()).toEqual(['in-30d1h', 'in-30d1s', 'in-45d']);
			const first = (out.INBOX.messages as IDataObject[]).find((m) => m.subject === 'in-45d');
			expect(first).toEqual({ uid: expect.any(Number), messageId: '<in-45d@retention.test>', subject: 'in-45d', date: ago(45 * DAY).toISOString(), internalDate: ago(45 * DAY).toISOString() });
			expect(out.Junk).toMatchObject({ role: 'junk', days: 10, cutoff: '2026-02-19T12:00:00.000Z', matched: 2, deleted: 0, dryRun: true });
			expect(listedIds(out.Junk).sort()).toEqual(['junk-10d1h', 'junk-200d']);
			expect(out.Sent).toMatchObject({ role: 'sent', days: 0, cutoff: null, action: 'none', matched: 0, deleted: 0, messages: [] });
			expect({ inbox: await contents('alice', 'INBOX'), junk: await contents('alice', 'Junk'), sent: await contents('alice', 'Sent') }).toEqual(before);
		});

		it('removes exactly the messages older than N days by arrival; 0 keeps everything; \\Deleted marks of other clients survive (UID EXPUNGE)', async () => {
			const items = await run('alice', { ...params, dryRun: false });
			const out = byFolder(items);
			expect(out.INBOX).toMatchObject({ dryRun: false, matched: 3, deleted: 3 });
			expect(listedIds(out.INBOX).sort()).toEqual(['in-30d1h', 'in-30d1s', 'in-45d']);
			expect(out.Junk).toMatchObject({ matched: 2, deleted: 2 });
			expect(out.Sent).toMatchObject({ matched: 0, deleted: 0 });
			const inbox = await contents('alice', 'INBOX');
			expect(Object.keys(inbox).sort()).toEqual(['in-1d', 'in-29d23h', 'in-2d-deleted-elsewhere', 'in-30d-exact']);
			expect(inbox['in-2d-deleted-elsewhere']).toEqual(['\\Deleted', '\\Seen']);
			expect(inbox['in-1d']).toEqual([]);
			expect(await ids('alice', 'Junk')).toEqual(['junk-9d23h']);
			expect(await ids('alice', 'Sent')).toEqual(['sent-1d', 'sent-400d']);
			// a second run finds nothing more
			const again = byFolder(await run('alice', { ...params, dryRun: false }));
			expect(again.INBOX).toMatchObject({ matched: 0, deleted: 0 });
			expect(again.Junk).toMatchObject({ matched: 0, deleted: 0 });
		});

		it('with every Days at 0 removes nothing, however old', async () => {
			const items = await run('alice', { inboxDays: 0, junkDays: 0, sentDays: 0, dryRun: false, options: { referenceTime: '2030-01-01T00:00:00Z' } });
			expect(items.map((i) => [i.json.folder, i.json.action, i.json.matched, i.json.deleted])).toEqual([
				['INBOX', 'none', 0, 0],
				['Junk', 'none', 0, 0],
				['Sent', 'none', 0, 0],
			]);
			expect(await ids('alice', 'Sent')).toEqual(['sent-1d', 'sent-400d']);
			expect((await ids('alice', 'INBOX')).length).toBe(4);
		});
	});

	it('counts from the current time when no Reference Time is given', async () => {
		const now = new Date();
		await env.servers.writeMaildir('bob', 'Sent', [mail('sent-31d', ago(31 * DAY, now)), mail('sent-29d', ago(29 * DAY, now))]);
		const [, , sent] = await run('bob', { sentDays: 30, dryRun: false });
		expect(sent.json).toMatchObject({ folder: 'Sent', matched: 1, deleted: 1 });
		expect(Date.parse(sent.json.cutoff as string)).toBeGreaterThanOrEqual(now.getTime() - 30 * DAY);
		expect(Date.parse(sent.json.cutoff as string)).toBeLessThan(Date.now() - 30 * DAY + 60_000);
		expect(await ids('bob', 'Sent')).toEqual(['sent-29d']);
	});

	it('other folders with their own days, and Move to Trash (messages in Trash itself are deleted)', async () => {
		await withImap(env.imapServer(), { user: 'carol', password: 'carol-pw' }, async (client) => {
			await client.mailboxCreate('Newsletters/Weekly');
		});
		await env.servers.writeMaildir('carol', 'Newsletters/Weekly', [mail('nl-8d', ago(8 * DAY)), mail('nl-6d', ago(6 * DAY)), mail('nl-100d', ago(100 * DAY))]);
		await env.servers.writeMaildir('carol', 'Trash', [mail('trash-40d', ago(40 * DAY)), mail('trash-20d', ago(20 * DAY))]);
		await env.servers.writeMaildir('carol', 'INBOX', [mail('in-3d', ago(3 * DAY))]);
		const items = await run('carol', {
			inboxDays: 2,
			dryRun: false,
			otherFolders: {
				folders: [
					{ folder: 'Newsletters/Weekly', days: 7 },
					{ folder: 'Trash', days: 30 },
				],
			},
			options: { referenceTime: NOW.toISOString(), moveToTrash: true },
		});
		const out = byFolder(items);
		expect(Object.keys(out)).toEqual(['INBOX', 'Junk', 'Sent', 'Newsletters/Weekly', 'Trash']);
		expect(out.Junk).toMatchObject({ days: 0, action: 'none', matched: 0 });
		expect(out.INBOX).toMatchObject({ action: 'move', movedTo: 'Trash', matched: 1, deleted: 1 });
		expect(out['Newsletters/Weekly']).toMatchObject({ role: 'other', days: 7, action: 'move', movedTo: 'Trash', matched: 2, deleted: 2 });
		expect(out.Trash).toMatchObject({ action: 'delete', matched: 1, deleted: 1 });
		expect(out.Trash.movedTo).toBeUndefined();
		expect(await ids('carol', 'Newsletters/Weekly')).toEqual(['nl-6d']);
		expect(await ids('carol', 'INBOX')).toEqual([]);
		// Trash's own rule ran before the moves: its old message is gone, the moved ones (nl-100d too) are kept until the next run
		expect(await ids('carol', 'Trash')).toEqual(['in-3d', 'nl-100d', 'nl-8d', 'trash-20d']);
	});

	it('by Date header: an old Date header counts, a message without one counts by arrival', async () => {
		await env.servers.writeMaildir('dave', 'INBOX', [
			mail('old-header-new-arrival', ago(DAY), { header: ago(60 * DAY) }),
			mail('new-header-old-arrival', ago(60 * DAY), { header: ago(DAY) }),
			mail('no-header-old-arrival', ago(60 * DAY), { header: null }),
			mail('no-header-new-arrival', ago(DAY), { header: null }),
		]);
		const [byArrival] = await run('dave', { inboxDays: 30, dryRun: true, options: { referenceTime: NOW.toISOString() } });
		expect(listedIds(byArrival.json).sort()).toEqual(['new-header-old-arrival', 'no-header-old-arrival']);
		const [byHeader] = await run('dave', { inboxDays: 30, dryRun: false, options: { referenceTime: NOW.toISOString(), ageBy: 'dateHeader' } });
		expect(byHeader.json).toMatchObject({ ageBy: 'dateHeader', matched: 2, deleted: 2 });
		expect(listedIds(byHeader.json).sort()).toEqual(['no-header-old-arrival', 'old-header-new-arrival']);
		expect(await ids('dave', 'INBOX')).toEqual(['new-header-old-arrival', 'no-header-new-arrival']);
	});

	it('works in batches and caps the list, counting everything', async () => {
		const old = Array.from({ length: 23 }, (_, i) => mail(`bulk-${String(i).padStart(2, '0')}`, ago(40 * DAY + i * HOUR)));
		const young = Array.from({ length: 5 }, (_, i) => mail(`young-${i}`, ago(10 * DAY + i * HOUR)));
		await env.servers.writeMaildir('erin', 'Junk', [...old.slice(0, 10), ...young, ...old.slice(10)]);
		const [, junk] = await run('erin', { junkDays: 30, dryRun: false, options: { referenceTime: NOW.toISOString(), batchSize: 4, listLimit: 5 } });
		expect(junk.json).toMatchObject({ folder: 'Junk', matched: 23, deleted: 23, messagesTruncated: true });
		expect((junk.json.messages as IDataObject[]).length).toBe(5);
		const uids = (junk.json.messages as IDataObject[]).map((m) => m.uid as number);
		expect(uids).toEqual([...uids].sort((a, b) => a - b));
		expect(await ids('erin', 'Junk')).toEqual(young.map((_, i) => `young-${i}`));
	});

	it('checks every folder before removing anything: missing folders, two rules for one folder, bad days', async () => {
		await env.servers.writeMaildir('erin', 'INBOX', [mail('erin-old', ago(100 * DAY))]);
		const base = { inboxDays: 30, dryRun: false, options: { referenceTime: NOW.toISOString() } };
		const missing = await failure('erin', { ...base, junkDays: 10, options: { ...base.options, junkFolder: 'Spam' } });
		expect(missing.message).toBe('Junk Folder: the folder "Spam" does not exist.');
		const other = await failure('erin', { ...base, otherFolders: { folders: [{ folder: 'Nope/Never', days: 3 }] } });
		expect(other.message).toBe('Other Folders (entry 1): the folder "Nope/Never" does not exist.');
		const twice = await failure('erin', { ...base, otherFolders: { folders: [{ folder: 'inbox', days: 3 }] } });
		expect(twice.message).toBe('The folder "INBOX" has two retention rules (Inbox Days and Other Folders (entry 1)).');
		const negative = await failure('erin', { ...base, sentDays: -1 });
		expect(negative.message).toMatch(/^Sent Days must be a number of days, 0 or more/);
		const badTime = await failure('erin', { ...base, options: { referenceTime: 'yesterday-ish' } });
		expect(badTime.message).toBe('Reference Time "yesterday-ish" is not a date and time.');
		expect(await ids('erin', 'INBOX')).toEqual(['erin-old']);
	});

	it('uses the Junk Folder option instead of the SPECIAL-USE Junk folder; with Continue On Fail errors come on the item', async () => {
		await withImap(env.imapServer(), { user: 'erin', password: 'erin-pw' }, async (client) => {
			await client.mailboxCreate('Spam');
		});
		await env.servers.writeMaildir('erin', 'Spam', [mail('spam-20d', ago(20 * DAY)), mail('spam-5d', ago(5 * DAY))]);
		await env.servers.writeMaildir('erin', 'Junk', [mail('junk-20d', ago(20 * DAY))]);
		const items = await run('erin', { junkDays: 10, dryRun: false, options: { referenceTime: NOW.toISOString(), junkFolder: 'Spam' } });
		expect(items.map((i) => [i.json.folder, i.json.role, i.json.matched, i.json.deleted])).toEqual([
			['INBOX', 'inbox', 0, 0],
			['Spam', 'junk', 1, 1],
			['Sent', 'sent', 0, 0],
		]);
		expect(await ids('erin', 'Spam')).toEqual(['spam-5d']);
		expect(await ids('erin', 'Junk')).toContain('junk-20d');
		const [failed] = await run('erin', { junkDays: 10, dryRun: true, options: { junkFolder: 'Spam/' } }, true);
		expect(failed.json.error).toMatch(/^Junk Folder "Spam\/" has an empty level/);
	});
});
