/**
 * Message → Search, Get, Move, Copy, Delete, Set/Clear Flags, Append, Mark as Spam / Not Spam of
 * the Mailbox node against a real Dovecot (SPECIAL-USE folders, IMAPSieve spam/ham learning),
 * run with an n8n-like execute context. Needs root.
 */
import fs from 'node:fs';
import type { ImapFlow } from 'imapflow';
import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { withImap } from '../../lib/imap/connect';
import { parseMessage } from '../../lib/message/parse';
import { Mailbox } from '../../nodes/Mailbox/Mailbox.node';
import { toExecutionData } from '../../nodes/shared/message-item';
import { generateMessages } from '../fixtures/mailgen';
import type { MaildirMessage } from '../servers';
import { executeContext } from './helpers/execute-context';
import { useMailServers } from './helpers/mail-servers';

jest.setTimeout(180_000);

interface MailSpec {
	id: string;
	from?: string;
	to?: string;
	subject?: string;
	date?: Date;
	headers?: string[];
	body?: string;
}

function mail(spec: MailSpec): Buffer {
	const lines = [
		`From: ${spec.from ?? 'Sender <sender@example.test>'}`,
		`To: ${spec.to ?? 'alice@mailbox.test'}`,
		`Subject: ${spec.subject ?? `Message ${spec.id}`}`,
		`Date: ${(spec.date ?? new Date('2026-03-01T10:00:00Z')).toUTCString().replace('GMT', '+0000')}`,
		`Message-ID: <${spec.id}@example.test>`,
		...(spec.headers ?? []),
		'MIME-Version: 1.0',
		'Content-Type: text/plain; charset=utf-8',
		'',
		spec.body ?? `Body of ${spec.id}.`,
		'',
	];
	return Buffer.from(lines.join('\r\n'));
}

const msgId = (id: string) => `<${id}@example.test>`;

describe('Mailbox node: Message resource', () => {
	const env = useMailServers();

	const credentials = () => ({ mailboxImapApi: env.imapCredential('alice') });

	interface RunOptions {
		items?: INodeExecutionData[];
		continueOnFail?: boolean;
		/** Receives every line imapflow logs (client commands as "imap: <tag> <command>"). */
		log?: string[];
	}

	async function run(operation: string, params: Record<string, unknown | ((i: number) => unknown)>, options: RunOptions = {}): Promise<INodeExecutionData[]> {
		const ctx = executeContext({
			items: options.items ?? [{ json: {} }],
			params: { authentication: 'password', resource: 'message', operation, ...params },
			credentials: credentials(),
			continueOnFail: options.continueOnFail,
		});
		if (options.log) {
			const log = options.log;
			const record = (message: string) => log.push(message);
			(ctx as unknown as { logger: IExecuteFunctions['logger'] }).logger = { debug: record, info: record, warn: record, error: record } as unknown as IExecuteFunctions['logger'];
		}
		return (await new Mailbox().execute.call(ctx))[0];
	}

	async function failure(operation: string, params: Record<string, unknown>, items?: INodeExecutionData[]): Promise<{ message: string; description: string }> {
		let caught: unknown;
		try {
			await run(operation, params, { items });
		} catch (error) {
			caught = error;
		}
		expect(caught).toBeInstanceOf(Error);
		const error = caught as Error & { description?: string };
		return { message: error.message, description: error.description ?? '' };
	}

	const imap = <T>(work: (client: ImapFlow) => Promise<T>) => withImap(env.imapServer(), { user: 'alice', password: 'alice-pw' }, work);

	/** The folder's messages: uid, Message-ID, flags. */
	async function contents(folder: string): Promise<Array<{ uid: number; messageId: string; flags: string[] }>> {
		return imap(async (client) => {
			const box = await client.mailboxOpen(folder, { readOnly: true });
			if (!box.exists) return [];
			const list = await client.fetchAll('1:*', { uid: true, envelope: true, flags: true }, { uid: false });
			// \Recent is per session (whoever sees a message first); not what these tests look at
			return list.map((m) => ({ uid: m.uid, messageId: m.envelope?.messageId ?? '', flags: [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort() }));
		});
	}
	const uidValidityOf = (folder: string) => imap(async (client) => (await client.mailboxOpen(folder, { readOnly: true })).uidValidity.toString());
	const learnLog = async () => (fs.existsSync(env.servers.learnLogPath) ? env.servers.learnLog() : []);

	/** Seeds a fresh folder; returns the trigger-like address of each message, in order. */
	async function seed(folder: string, messages: MaildirMessage[]): Promise<Array<{ folder: string; uid: number; uidValidity: string; messageId: string }>> {
		await env.servers.writeMaildir('alice', folder, messages);
		const uidValidity = await uidValidityOf(folder);
		const list = await contents(folder);
		return list.map((m) => ({ folder, uid: m.uid, uidValidity, messageId: m.messageId }));
	}
	/** The node's address parameters, read from each input item as the default expressions do. */
	const fromItems = (items: INodeExecutionData[]) => ({
		folder: (i: number) => items[i].json.folder,
		uid: (i: number) => items[i].json.uid,
		uidValidity: (i: number) => items[i].json.uidValidity,
	});

	describe('Search', () => {
		const day = (d: string) => new Date(`${d}T09:00:00Z`);
		const specs: Array<MailSpec & { received: Date; flags?: string[] }> = [
			{ id: 's1', from: 'Anna <anna@customer.test>', subject: 'Invoice 4711', received: day('2026-01-05'), flags: ['\\Seen'] },
			{ id: 's2', from: 'Bob <bob@supplier.test>', to: 'sales@mailbox.test', subject: 'Offer', received: day('2026-01-10'), flags: ['\\Flagged'] },
			{ id: 's3', from: 'anna@customer.test', subject: 'Re: Invoice 4711', received: day('2026-02-01'), headers: ['X-Ticket-Id: T-99'], body: 'x'.repeat(20_000) },
			{ id: 's4', from: 'Carol <carol@other.test>', subject: 'Lunch', received: day('2026-02-15'), flags: ['\\Seen', '\\Flagged'] },
			{ id: 's5', from: 'Bob <bob@supplier.test>', subject: 'Reminder', received: day('2026-03-01') },
		];
		let uids: Record<string, number>;

		beforeAll(async () => {
			const seeded = await seed(
				'SearchBox',
				specs.map((s) => ({ raw: mail(s), date: s.received, flags: s.flags })),
			);
			uids = Object.fromEntries(seeded.map((m) => [m.messageId.replace(/^<|@.*$/g, ''), m.uid]));
		});

		const ids = (items: INodeExecutionData[]) => items.map((i) => String(i.json.messageId).replace(/^<|@.*$/g, ''));
		const search = (filters: IDataObject, extra: Record<string, unknown> = {}) => run('search', { folder: 'SearchBox', filters, returnAll: true, output: 'headers', ...extra });

		it.each([
			['from', { from: 'anna@customer.test' }, ['s3', 's1']],
			['to', { to: 'sales@' }, ['s2']],
			['subject', { subject: 'Invoice' }, ['s3', 's1']],
			['received since', { since: '2026-02-01T00:00:00Z' }, ['s5', 's4', 's3']],
			['received before', { before: '2026-01-11T00:00:00Z' }, ['s2', 's1']],
			['since and before', { since: '2026-01-06T00:00:00Z', before: '2026-02-10T00:00:00Z' }, ['s3', 's2']],
			['read', { seen: 'yes' }, ['s4', 's1']],
			['unread', { seen: 'no' }, ['s5', 's3', 's2']],
			['flagged', { flagged: 'yes' }, ['s4', 's2']],
			['not flagged', { flagged: 'no' }, ['s5', 's3', 's1']],
			['larger than', { largerThan: 10_000 }, ['s3']],
			['smaller than', { smallerThan: 10_000 }, ['s5', 's4', 's2', 's1']],
			['header', { headerName: 'X-Ticket-Id', headerValue: 'T-99' }, ['s3']],
			['several at once', { from: 'bob', seen: 'no', flagged: 'no' }, ['s5']],
			['raw search', { rawSearch: 'OR SUBJECT lunch (FROM anna UNSEEN)' }, ['s4', 's3']],
			['raw search and a field', { rawSearch: 'SINCE 1-Feb-2026', from: 'bob' }, ['s5']],
			['raw search, same key twice', { rawSearch: 'FROM anna FROM customer SUBJECT Re' }, ['s3']],
			['nothing', {}, ['s5', 's4', 's3', 's2', 's1']],
		])('%s', async (_, filters, expected) => {
			expect(ids(await search(filters))).toEqual(expected);
		});

		it('OLDER and YOUNGER (seconds) are exact on a server with WITHIN, not whole days', async () => {
			const secondsSince = (iso: string) => Math.floor((Date.now() - Date.parse(iso)) / 1000);
			// s4 came in at 09:00 on 15 Feb: younger than one second after that is s5 only (SINCE that day would add s4)
			expect(ids(await search({ rawSearch: `YOUNGER ${secondsSince('2026-02-15T09:00:01Z')}` }))).toEqual(['s5']);
			// older than one second after s2 (10 Jan, 09:00) is s2 and s1 (BEFORE that day would leave out s2)
			expect(ids(await search({ rawSearch: `OLDER ${secondsSince('2026-01-10T09:00:01Z')}` }))).toEqual(['s2', 's1']);
		});

		it('limit, sort, and the headers-only item', async () => {
			const newest = await run('search', { folder: 'SearchBox', filters: {}, returnAll: false, limit: 2, output: 'headers' });
			expect(ids(newest)).toEqual(['s5', 's4']);
			const oldest = await run('search', { folder: 'SearchBox', filters: {}, returnAll: false, limit: 2, output: 'headers', options: { sort: 'oldestFirst' } });
			expect(ids(oldest)).toEqual(['s1', 's2']);
			const uidValidity = await uidValidityOf('SearchBox');
			expect(newest[0].json).toEqual({
				mailbox: 'alice',
				folder: 'SearchBox',
				uid: uids.s5,
				uidValidity,
				messageId: msgId('s5'),
				subject: 'Reminder',
				from: { value: [{ address: 'bob@supplier.test', name: 'Bob' }], text: 'Bob <bob@supplier.test>' },
				to: { value: [{ address: 'alice@mailbox.test', name: '' }], text: 'alice@mailbox.test' },
				date: '2026-03-01T10:00:00.000Z',
				flags: expect.any(Array),
				size: expect.any(Number),
				internalDate: '2026-03-01T09:00:00.000Z',
			});
			expect((newest[0].json.flags as string[]).filter((f) => f !== '\\Recent')).toEqual([]);
			expect(newest[0].pairedItem).toEqual({ item: 0 });
		});

		it('full messages are the items Get outputs; nothing is marked read', async () => {
			const [full] = await run('search', { folder: 'SearchBox', filters: { subject: 'Reminder' }, returnAll: true, output: 'full' });
			const [got] = await run('get', fromItems([full]), { items: [full] });
			expect(full.json).toEqual(got.json);
			expect(full.json.text).toBe('Body of s5.\n');
			expect((await contents('SearchBox')).find((m) => m.messageId === msgId('s5'))?.flags).toEqual([]);
		});

		it('a malformed raw search is refused naming the field; a missing folder is named', async () => {
			const bad = await failure('search', { folder: 'SearchBox', filters: { rawSearch: 'SINCE yesterday' }, returnAll: true, output: 'headers' });
			expect(bad.message).toBe('Raw IMAP Search: SINCE at position 1 needs a date such as 1-Jan-2026, not "yesterday".');
			expect(bad.description).toMatch(/RFC 3501/);
			const missing = await failure('search', { folder: 'NoSuchFolder', filters: {}, returnAll: true, output: 'headers' });
			expect(missing.message).toMatch(/Folder "NoSuchFolder" does not exist/);
		});
	});

	describe('Get', () => {
		it('outputs what the trigger outputs for the same message (same functions, same keys and values), with attachments and raw, without setting \\Seen', async () => {
			const generated = [...generateMessages({ seed: 7, count: 60, attachPct: 100, maxAttachmentBytes: 40_000 })].filter((m) => m.attachments.length >= 2).slice(0, 1);
			expect(generated).toHaveLength(1);
			const [address] = await seed('GetBox', generated.map((g) => ({ raw: g.raw, date: g.date, flags: ['\\Answered'] })));
			const options = { includeRaw: true, downloadAttachments: true };
			const [item] = await run('get', { ...address, options }, { items: [{ json: address }] });

			// the trigger's item for this message, built the way the trigger builds it
			const triggerItem = await imap(async (client) => {
				const box = await client.mailboxOpen('GetBox', { readOnly: true });
				const m = await client.fetchOne(String(address.uid), { uid: true, flags: true, size: true, internalDate: true, source: true }, { uid: true });
				if (!m || !m.source) throw new Error('not fetched');
				const parsed = await parseMessage(m.source, { headersOnly: false, includeAttachments: true });
				const ctx = executeContext({ items: [], params: {}, credentials: {} });
				return toExecutionData(
					ctx,
					{ mailbox: 'alice', folder: 'GetBox', uid: m.uid, uidValidity: box.uidValidity.toString(), flags: [...(m.flags ?? [])], size: m.size, internalDate: m.internalDate as Date, oversized: false },
					parsed,
					m.source,
					{ attachmentsPrefix: 'attachment_', includeAttachments: true, includeRaw: true },
				);
			});
			expect(Object.keys(item.json).sort()).toEqual(Object.keys(triggerItem.json).sort());
			expect(item.json).toEqual(triggerItem.json);
			expect(Object.keys(item.binary ?? {}).sort()).toEqual(Object.keys(triggerItem.binary ?? {}).sort());
			expect(Object.keys(item.binary ?? {})).toEqual(expect.arrayContaining(['attachment_0', 'attachment_1', 'raw']));
			expect(Buffer.from(item.binary?.raw.data ?? '', 'base64').equals(generated[0].raw)).toBe(true);
			expect(item.json.messageId).toBe(generated[0].messageId);
			expect((item.json.flags as string[]).filter((f) => f !== '\\Recent')).toEqual(['\\Answered']);
			// BODY.PEEK: still unread
			expect((await contents('GetBox'))[0].flags).toEqual(['\\Answered']);
		});

		it('refuses a changed UIDVALIDITY, finds the message by Message-ID when asked, and names a missing UID', async () => {
			const [old] = await seed('GetRenumbered', [{ raw: mail({ id: 'g1' }) }]);
			await imap((c) => c.mailboxDelete('GetRenumbered'));
			const [now] = await seed('GetRenumbered', [{ raw: mail({ id: 'g0' }) }, { raw: mail({ id: 'g1' }) }]);
			expect(now.uidValidity).not.toBe(old.uidValidity);

			const refused = await failure('get', { ...old }, [{ json: old }]);
			expect(refused.message).toBe(`UIDVALIDITY of folder "GetRenumbered" is now ${now.uidValidity}, the item has ${old.uidValidity}: the folder was recreated or renumbered; the message was not touched.`);

			const [found] = await run('get', { ...old, options: { findByMessageId: true } }, { items: [{ json: old }] });
			expect(found.json).toMatchObject({ messageId: msgId('g1'), uid: 2, uidValidity: now.uidValidity, foundByMessageId: true, previousUid: old.uid, previousUidValidity: old.uidValidity });

			const gone = await failure('get', { folder: 'GetRenumbered', uid: 99, uidValidity: now.uidValidity });
			expect(gone.message).toBe(`Message UID 99 no longer exists in folder "GetRenumbered" (UIDVALIDITY ${now.uidValidity}): it was moved or deleted meanwhile.`);
			const noUid = await failure('get', { folder: 'GetRenumbered', uid: '', uidValidity: now.uidValidity });
			expect(noUid.message).toMatch(/^UID is empty/);
			const [asItem] = await run('get', { folder: 'GetRenumbered', uid: 99, uidValidity: now.uidValidity }, { continueOnFail: true });
			expect(asItem.json).toEqual({ error: expect.stringMatching(/^Message UID 99 no longer exists/), description: expect.stringMatching(/Search the folder again/) });
			expect(asItem.pairedItem).toEqual({ item: 0 });
		});
	});

	describe('Move, Copy, Delete, Flags', () => {
		it('moves and copies, with the new UID from COPYUID; a missing destination is named and nothing moves', async () => {
			const seeded = await seed('MoveSrc', ['m1', 'm2', 'm3'].map((id) => ({ raw: mail({ id }) })));
			await env.servers.writeMaildir('alice', 'MoveDst', []);
			const items = seeded.map((json) => ({ json }));

			const wrong = await failure('move', { ...fromItems(items), destination: 'movedst' }, items);
			expect(wrong.message).toBe('Destination Folder "movedst" does not exist in this mailbox.');
			expect(wrong.description).toMatch(/Did you mean "MoveDst"\?/);
			expect(await contents('MoveSrc')).toHaveLength(3);

			const copied = await run('copy', { ...fromItems(items.slice(0, 1)), destination: 'MoveDst' }, { items: items.slice(0, 1) });
			const moved = await run('move', { ...fromItems(items.slice(1)), destination: 'MoveDst' }, { items: items.slice(1) });
			const dst = await contents('MoveDst');
			const dstValidity = await uidValidityOf('MoveDst');
			for (const out of [...copied, ...moved]) {
				expect(out.json).toMatchObject({ folder: 'MoveSrc', destination: 'MoveDst', destinationUidValidity: dstValidity, foundByMessageId: false });
				expect(dst.find((m) => m.uid === out.json.destinationUid)?.messageId).toBe(out.json.messageId);
			}
			expect(copied[0].json).toMatchObject({ operation: 'copy', uid: seeded[0].uid, messageId: msgId('m1') });
			expect(moved.map((m) => m.json.messageId)).toEqual([msgId('m2'), msgId('m3')]);
			expect(moved.map((m) => m.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
			expect((await contents('MoveSrc')).map((m) => m.messageId)).toEqual([msgId('m1')]);
		});

		it('UIDVALIDITY mismatch: refused and untouched; with the Message-ID option the message is moved and the output says so', async () => {
			const [old] = await seed('Renumbered', [{ raw: mail({ id: 'r1' }) }]);
			await imap((c) => c.mailboxDelete('Renumbered'));
			const seededNow = await seed('Renumbered', [{ raw: mail({ id: 'r0' }) }, { raw: mail({ id: 'r1' }) }]);
			const uidValidity = seededNow[0].uidValidity;

			const refused = await failure('move', { ...old, destination: 'Archive' }, [{ json: old }]);
			expect(refused.message).toBe(`UIDVALIDITY of folder "Renumbered" is now ${uidValidity}, the item has ${old.uidValidity}: the folder was recreated or renumbered; the message was not touched.`);
			expect((await contents('Renumbered')).map((m) => m.messageId)).toEqual([msgId('r0'), msgId('r1')]);

			const [moved] = await run('move', { ...old, destination: 'Archive', options: { findByMessageId: true } }, { items: [{ json: old }] });
			expect(moved.json).toMatchObject({ messageId: msgId('r1'), uid: 2, uidValidity, foundByMessageId: true, previousUid: old.uid, previousUidValidity: old.uidValidity, destination: 'Archive' });
			expect(moved.json.note).toBe(`The folder's UIDVALIDITY changed from ${old.uidValidity} to ${uidValidity}; the message was found by its Message-ID as UID 2.`);
			expect((await contents('Renumbered')).map((m) => m.messageId)).toEqual([msgId('r0')]);
			expect((await contents('Archive')).some((m) => m.messageId === msgId('r1'))).toBe(true);
		});

		it('each item keeps its own result or error (Continue On Fail): a UID that is gone, an empty UID', async () => {
			const seeded = await seed('Mixed', ['x1', 'x2'].map((id) => ({ raw: mail({ id }) })));
			const items: INodeExecutionData[] = [{ json: seeded[0] }, { json: { ...seeded[0], uid: 999 } }, { json: { ...seeded[0], uid: '' } }, { json: seeded[1] }];
			const out = await run('setFlags', { ...fromItems(items), flags: ['\\Seen'], keywords: '' }, { items, continueOnFail: true });
			expect(out.map((o) => o.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }, { item: 3 }]);
			expect(out[0].json).toMatchObject({ uid: seeded[0].uid, flagsSet: ['\\Seen'] });
			expect(out[1].json).toMatchObject({ error: expect.stringMatching(/^Message UID 999 no longer exists in folder "Mixed"/), field: 'uid' });
			expect(out[2].json).toMatchObject({ error: expect.stringMatching(/^UID is empty/), field: 'uid' });
			expect(out[3].json).toMatchObject({ uid: seeded[1].uid, flagsSet: ['\\Seen'] });
			expect((await contents('Mixed')).map((m) => m.flags)).toEqual([['\\Seen'], ['\\Seen']]);
		});

		it('sets and clears read, flagged, answered and keywords; refuses a keyword with invalid characters', async () => {
			const seeded = await seed('Flags', [{ raw: mail({ id: 'f1' }), flags: ['\\Seen'] }]);
			const items = seeded.map((json) => ({ json }));
			await run('setFlags', { ...fromItems(items), flags: ['\\Flagged', '\\Answered'], keywords: '$Forwarded, Invoice-Paid' }, { items });
			expect((await contents('Flags'))[0].flags).toEqual(['$Forwarded', 'Invoice-Paid', '\\Answered', '\\Flagged', '\\Seen']);
			const [cleared] = await run('clearFlags', { ...fromItems(items), flags: ['\\Seen'], keywords: 'Invoice-Paid' }, { items });
			expect(cleared.json).toMatchObject({ operation: 'clearFlags', flagsCleared: ['\\Seen', 'Invoice-Paid'] });
			expect((await contents('Flags'))[0].flags).toEqual(['$Forwarded', '\\Answered', '\\Flagged']);
			const bad = await failure('setFlags', { ...fromItems(items), flags: [], keywords: 'Paid (2026)' }, items);
			expect(bad.message).toBe('Keyword "(2026)" contains characters IMAP does not allow in a keyword.');
			const nothing = await failure('setFlags', { ...fromItems(items), flags: [], keywords: '' }, items);
			expect(nothing.message).toMatch(/No flag or keyword is chosen/);
			expect((await contents('Flags'))[0].flags).toEqual(['$Forwarded', '\\Answered', '\\Flagged']);
		});

		it('deletes to Trash (SPECIAL-USE), or permanently: only these UIDs are expunged, not other messages marked \\Deleted', async () => {
			const seeded = await seed('DelBox', [{ raw: mail({ id: 'd1' }) }, { raw: mail({ id: 'd2' }) }, { raw: mail({ id: 'd3' }), flags: ['\\Deleted'] }]);
			const items = seeded.map((json) => ({ json }));
			const [toTrash] = await run('delete', fromItems(items.slice(0, 1)), { items: items.slice(0, 1) });
			expect(toTrash.json).toMatchObject({ operation: 'delete', deleted: 'trash', destination: 'Trash', messageId: msgId('d1') });
			expect((await contents('Trash')).find((m) => m.uid === toTrash.json.destinationUid)?.messageId).toBe(msgId('d1'));

			const [gone] = await run('delete', { ...fromItems(items.slice(1, 2)), options: { deletePermanently: true } }, { items: items.slice(1, 2) });
			expect(gone.json).toMatchObject({ deleted: 'permanently', destination: null });
			const left = await contents('DelBox');
			expect(left.map((m) => m.messageId)).toEqual([msgId('d3')]);
			expect(left[0].flags).toEqual(['\\Deleted']);
			expect((await contents('Trash')).some((m) => m.messageId === msgId('d2'))).toBe(false);

			// deleting in Trash removes it for good
			const trashItem = { folder: 'Trash', uid: toTrash.json.destinationUid, uidValidity: toTrash.json.destinationUidValidity };
			const [purged] = await run('delete', trashItem, { items: [{ json: trashItem as IDataObject }] });
			expect(purged.json).toMatchObject({ deleted: 'permanently' });
			expect((await contents('Trash')).some((m) => m.messageId === msgId('d1'))).toBe(false);
		});
	});

	describe('Append', () => {
		it('stores a draft built from fields in Drafts (SPECIAL-USE) with \\Draft and \\Seen; the UID from APPENDUID', async () => {
			const [out] = await run('append', { folder: '', source: 'fields', fromEmail: 'Anna <alice@mailbox.test>', toEmail: '', ccEmail: '', subject: 'Entwurf Angebot', text: 'Hallo,\nanbei.', html: '', flags: ['\\Draft', '\\Seen'], options: {} });
			const drafts = await contents('Drafts');
			expect(out.json).toMatchObject({ folder: 'Drafts', uidValidity: await uidValidityOf('Drafts'), flags: ['\\Draft', '\\Seen'] });
			const stored = drafts.find((m) => m.uid === out.json.uid);
			expect(stored?.messageId).toBe(out.json.messageId);
			expect(stored?.flags).toEqual(['\\Draft', '\\Seen']);
			const [got] = await run('get', { folder: 'Drafts', uid: out.json.uid, uidValidity: out.json.uidValidity });
			expect(got.json).toMatchObject({ subject: 'Entwurf Angebot', text: 'Hallo,\nanbei.\n', from: { value: [{ address: 'alice@mailbox.test', name: 'Anna' }] } });
		});

		it('stores an .eml from a binary property with keywords and an internal date; a missing binary or folder is named', async () => {
			const raw = mail({ id: 'eml1', subject: 'From a file' });
			const items: INodeExecutionData[] = [{ json: {}, binary: { data: { data: raw.toString('base64'), mimeType: 'message/rfc822', fileName: 'a.eml' } } }];
			const [out] = await run('append', { folder: 'Archive', source: 'binary', binaryProperty: 'data', flags: ['\\Seen'], options: { keywords: 'Imported', internalDate: '2025-12-24T12:00:00Z' } }, { items });
			expect(out.json).toMatchObject({ folder: 'Archive', messageId: msgId('eml1'), size: raw.length, flags: ['\\Seen', 'Imported'] });
			const [got] = await run('get', { folder: 'Archive', uid: out.json.uid, uidValidity: out.json.uidValidity, options: { includeRaw: true } });
			expect(Buffer.from(got.binary?.raw.data ?? '', 'base64').equals(raw)).toBe(true);
			expect(got.json).toMatchObject({ internalDate: '2025-12-24T12:00:00.000Z' });
			expect((got.json.flags as string[]).filter((f) => f !== '\\Recent').sort()).toEqual(['Imported', '\\Seen']);

			expect((await failure('append', { folder: 'Archive', source: 'binary', binaryProperty: 'file', flags: [], options: {} }, items)).message).toBe('The input item has no binary property "file" with a message to store.');
			expect((await failure('append', { folder: 'Nowhere', source: 'binary', binaryProperty: 'data', flags: [], options: {} }, items)).message).toBe('Folder "Nowhere" does not exist in this mailbox.');
		});
	});

	describe('Spam and not spam (IMAPSieve learning)', () => {
		it('Mark as Spam moves to Junk (SPECIAL-USE) and the server learns spam; Mark as Not Spam moves back to INBOX and it learns ham; Junk -> Trash is not ham', async () => {
			const seeded = await seed('INBOX', [{ raw: mail({ id: 'spam1' }) }, { raw: mail({ id: 'spam2' }) }, { raw: mail({ id: 'keep1' }) }]);
			const mine = seeded.filter((m) => /spam\d/.test(m.messageId));
			const items = mine.map((json) => ({ json }));
			const before = (await learnLog()).length;

			const spam = await run('markAsSpam', fromItems(items), { items });
			expect(spam.map((s) => s.json)).toEqual([
				expect.objectContaining({ operation: 'markAsSpam', folder: 'INBOX', destination: 'Junk', moved: true, messageId: msgId('spam1') }),
				expect.objectContaining({ operation: 'markAsSpam', folder: 'INBOX', destination: 'Junk', moved: true, messageId: msgId('spam2') }),
			]);
			const spamLines = (await learnLog()).slice(before);
			expect(spamLines).toEqual([
				expect.stringMatching(new RegExp(`^\\S+ spam user=alice mailbox=Junk cause=COPY message-id=${msgId('spam1')}$`)),
				expect.stringMatching(new RegExp(`^\\S+ spam user=alice mailbox=Junk cause=COPY message-id=${msgId('spam2')}$`)),
			]);

			// already in Junk: nothing moves, nothing is learned again
			const junkItems = spam.map((s) => ({ json: { folder: 'Junk', uid: s.json.destinationUid, uidValidity: s.json.destinationUidValidity, messageId: s.json.messageId } as IDataObject }));
			const again = await run('markAsSpam', fromItems(junkItems), { items: junkItems });
			expect(again[0].json).toMatchObject({ moved: false, note: 'Not moved: already in the Junk folder "Junk".' });

			const ham = await run('markAsNotSpam', fromItems(junkItems.slice(0, 1)), { items: junkItems.slice(0, 1) });
			expect(ham[0].json).toMatchObject({ operation: 'markAsNotSpam', folder: 'Junk', destination: 'INBOX', moved: true, messageId: msgId('spam1') });
			expect((await contents('INBOX')).find((m) => m.uid === ham[0].json.destinationUid)?.messageId).toBe(msgId('spam1'));

			// the other one is deleted from Junk: moved to Trash, which must not teach ham
			const deleted = await run('delete', fromItems(junkItems.slice(1)), { items: junkItems.slice(1) });
			expect(deleted[0].json).toMatchObject({ deleted: 'trash', destination: 'Trash', messageId: msgId('spam2') });
			const lines = (await learnLog()).slice(before);
			expect(lines.slice(2)).toEqual([expect.stringMatching(new RegExp(`^\\S+ ham user=alice mailbox=INBOX cause=COPY message-id=${msgId('spam1')}$`))]);
			expect(lines.filter((l) => l.includes('ham') && l.includes(msgId('spam2')))).toEqual([]);
			expect(lines.filter((l) => l.includes(msgId('keep1')))).toEqual([]);

			// not in Junk: Mark as Not Spam leaves it
			const keep = seeded.filter((m) => m.messageId === msgId('keep1')).map((json) => ({ json }));
			const [stay] = await run('markAsNotSpam', fromItems(keep), { items: keep });
			expect(stay.json).toMatchObject({ moved: false, note: 'Not moved: not in the Junk folder "Junk".' });
			expect((await learnLog()).length).toBe(before + 3);
		});
	});

	describe('Bulk', () => {
		const small = (k: number) => mail({ id: `bulk-${k}`, subject: `Bulk ${k}` });

		it('moves 10,000 messages with one UID MOVE (1:10000); every item gets its own result; a gone UID fails on its own item', async () => {
			const count = 10_000;
			await env.servers.writeMaildir('alice', 'Bulk', (function* () {
				for (let k = 0; k < count; k++) yield { raw: small(k) };
			})());
			await env.servers.writeMaildir('alice', 'BulkDone', []);
			const uidValidity = await uidValidityOf('Bulk');
			const items: INodeExecutionData[] = Array.from({ length: count }, (_, k) => ({ json: { folder: 'Bulk', uid: k + 1, uidValidity } }));
			items.push({ json: { folder: 'Bulk', uid: count + 50, uidValidity } });
			const log: string[] = [];
			const started = Date.now();
			const out = await run('move', { ...fromItems(items), destination: 'BulkDone' }, { items, continueOnFail: true, log });
			const ms = Date.now() - started;
			const moves = log.filter((l) => / UID MOVE /.test(l));
			expect(moves).toEqual([expect.stringMatching(/^imap: \S+ UID MOVE 1:10000 BulkDone$/)]);
			// no command per message of any kind
			expect(log.filter((l) => /^imap: \S+ (UID )?(MOVE|COPY|STORE|FETCH|SEARCH) /.test(l)).length).toBeLessThan(5);
			expect(out).toHaveLength(count + 1);
			expect(out.slice(0, count).every((o, k) => o.json.uid === k + 1 && typeof o.json.destinationUid === 'number' && (o.pairedItem as { item: number }).item === k)).toBe(true);
			expect(out[count].json).toMatchObject({ error: `Message UID ${count + 50} no longer exists in folder "Bulk" (UIDVALIDITY ${uidValidity}): it was moved or deleted meanwhile.` });
			expect(await contents('Bulk')).toHaveLength(0);
			const done = await contents('BulkDone');
			expect(done).toHaveLength(count);
			expect(new Set(out.slice(0, count).map((o) => o.json.destinationUid))).toEqual(new Set(done.map((m) => m.uid)));
			process.stdout.write(`bulk move of ${count} messages through the node: ${ms} ms\n`);
		});

		it('a scattered set is split into commands under 8 KB, still one command per piece, not per message', async () => {
			const count = 6000;
			await env.servers.writeMaildir('alice', 'Scattered', (function* () {
				for (let k = 0; k < count; k++) yield { raw: small(k), flags: k % 2 ? ['\\Seen'] : [] };
			})());
			const uidValidity = await uidValidityOf('Scattered');
			const odd = Array.from({ length: count / 2 }, (_, k) => 2 * k + 1);
			const items = odd.map((uid) => ({ json: { folder: 'Scattered', uid, uidValidity } }));
			const log: string[] = [];
			const out = await run('setFlags', { ...fromItems(items), flags: ['\\Flagged'], keywords: '' }, { items, log });
			expect(out).toHaveLength(odd.length);
			const stores = log.filter((l) => / UID STORE /.test(l));
			expect(stores.length).toBeGreaterThan(1);
			expect(stores.length).toBeLessThanOrEqual(4);
			for (const line of stores) expect(line.length).toBeLessThan(8192);
			const flagged = (await contents('Scattered')).filter((m) => m.flags.includes('\\Flagged')).map((m) => m.uid);
			expect(flagged).toEqual(odd);
		});
	});
});
