/**
 * The Mailbox Router delivering into real Dovecot folders: the catch-all user's INBOX is the master
 * mailbox, the inboxes are folders "Inboxes/<name>" of the same account (created when missing).
 * A crash between APPEND and removal, then a re-run: no duplicate in any target. A copy that cannot
 * be stored leaves the message in the master mailbox. Needs root (Dovecot is installed with
 * apt-get when missing).
 */
import type { ImapFlow } from 'imapflow';
import type { IDataObject, INodeExecutionData } from 'n8n-workflow';
import { resolveServer } from '../../lib/connection/options';
import { connectImap } from '../../lib/imap/connect';
import { parseMessage } from '../../lib/message/parse';
import { ImapDeliverer } from '../../lib/router/deliver';
import { MessageRouter } from '../../lib/router/route';
import { MailboxRouter } from '../../nodes/MailboxRouter/MailboxRouter.node';
import { messageItemJson } from '../../nodes/shared/message-item';
import { startMailServers, type MailServers } from '../servers';
import { executeContext } from './helpers/execute-context';

const DATE = new Date('2026-02-01T09:00:00Z');

function mail(n: number, headers: Record<string, string>, withMessageId = true): Buffer {
	const lines = [
		...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
		'From: Customer <customer@client.example>',
		`Subject: Message ${n}`,
		`Date: ${DATE.toUTCString()}`,
		...(withMessageId ? [`Message-ID: <router-${n}@client.example>`] : []),
		'MIME-Version: 1.0',
		'Content-Type: text/plain; charset=utf-8',
		'',
		`Body of message ${n}.`,
		'',
	];
	return Buffer.from(lines.join('\r\n'));
}

const directory = {
	inboxes: [{ name: 'Sales', addresses: ['sales@firma.example'] }],
	employees: [{ name: 'Anna Müller', addresses: ['anna@firma.example'] }],
	distributionLists: [{ name: 'Support', addresses: ['support@firma.example'] }],
	domainRedirects: [{ from: 'firma-alt.example', to: 'firma.example' }],
	localPartRedirects: [{ from: 'sys.admin', to: 'support' }],
	exceptions: ['@firma.example'],
};

describe('Mailbox Router delivery into Dovecot folders', () => {
	let servers: MailServers;
	const server = () => resolveServer('imap', { host: '127.0.0.1', port: servers.ports.imaps, security: 'tls', allowUnauthorizedCerts: true });
	const login = { user: 'catchall', password: 'catchall-pw' };
	beforeAll(async () => {
		servers = await startMailServers();
	});
	afterAll(async () => {
		await servers?.stop();
	});

	async function withClient<T>(work: (client: ImapFlow) => Promise<T>): Promise<T> {
		const client = await connectImap(server(), login);
		try {
			return await work(client);
		} finally {
			await client.logout().catch(() => client.close());
		}
	}

	/** Messages of a folder: Message-ID (or subject) per UID. */
	async function folder(path: string): Promise<string[]> {
		return withClient(async (client) => {
			const exists = (await client.list()).some((f) => f.path === path);
			if (!exists) return [];
			const lock = await client.getMailboxLock(path, { readOnly: true });
			try {
				const out: string[] = [];
				if (!client.mailbox || client.mailbox.exists === 0) return out;
				for await (const m of client.fetch('1:*', { envelope: true })) out.push(m.envelope?.messageId ?? `(no id) ${m.envelope?.subject}`);
				return out.sort();
			} finally {
				lock.release();
			}
		});
	}

	/** Items as the IMAP trigger makes them, from the master's INBOX. */
	async function triggerItems(withRaw: boolean): Promise<INodeExecutionData[]> {
		return withClient(async (client) => {
			const lock = await client.getMailboxLock('INBOX');
			try {
				const items: INodeExecutionData[] = [];
				const uidValidity = String(client.mailbox ? client.mailbox.uidValidity : '');
				for await (const m of client.fetch('1:*', { uid: true, source: true })) {
					const parsed = await parseMessage(m.source!);
					const json = messageItemJson({ mailbox: 'catchall', folder: 'INBOX', uid: m.uid, uidValidity }, parsed);
					items.push({ json, binary: withRaw ? { raw: { data: m.source!.toString('base64'), mimeType: 'message/rfc822', fileName: 'm.eml' } } : undefined });
				}
				return items;
			} finally {
				lock.release();
			}
		});
	}

	/** Empties the master INBOX and deletes the folders of the previous test. */
	async function reset(): Promise<void> {
		await withClient(async (client) => {
			for (const f of (await client.list()).filter((x) => x.path !== 'INBOX').sort((a, b) => b.path.length - a.path.length)) await client.mailboxDelete(f.path).catch(() => undefined);
			const lock = await client.getMailboxLock('INBOX');
			try {
				if (client.mailbox && client.mailbox.exists > 0) await client.messageDelete('1:*');
			} finally {
				lock.release();
			}
		});
	}

	it('crash between APPEND and removal, then the re-run: each target has the message once, then it leaves the master mailbox', async () => {
		await reset();
		const raw = mail(1, { 'Delivered-To': 'catchall@firma.example', 'X-Original-To': 'anna@firma-alt.example', To: 'sales@firma.example, anna@firma.example' });
		await servers.writeMaildir('catchall', 'INBOX', [{ raw }]);
		const router = new MessageRouter(directory, { masterAddresses: ['catchall@firma.example'], recipientSource: 'envelopeAndHeaders' });
		const routing = router.route({ headers: { 'delivered-to': 'catchall@firma.example', 'x-original-to': 'anna@firma-alt.example' }, to: 'sales@firma.example, anna@firma.example' });
		expect(routing.routed.map((c) => c.target.folder)).toEqual(['Inboxes/Anna Müller', 'Inboxes/Sales']);
		const copies = routing.routed.map((c) => c.target.folderParts);
		const ref = { folder: 'INBOX', uid: 1 };

		// first run: both APPENDs, then the process dies before the removal
		const first = await connectImap(server(), login);
		const results = [];
		for (const parts of copies) results.push(await new ImapDeliverer(first).deliverCopy(raw, parts));
		first.close();
		expect(results.map((r) => [r.status, r.folderCreated])).toEqual([
			['appended', true],
			['appended', true],
		]);
		expect(await folder('INBOX')).toEqual(['<router-1@client.example>']);

		// re-run: the copies are found, nothing is appended twice, and the master copy is removed
		const again = await withClient((client) => new ImapDeliverer(client).deliverMessage(raw, copies, { ref, action: { action: 'delete' }, removable: routing.removable }));
		expect(again.copies.map((c) => c.status)).toEqual(['alreadyPresent', 'alreadyPresent']);
		expect(again.master).toMatchObject({ status: 'deleted', uid: 1 });
		expect(await folder('Inboxes/Anna Müller')).toEqual(['<router-1@client.example>']);
		expect(await folder('Inboxes/Sales')).toEqual(['<router-1@client.example>']);
		expect(await folder('INBOX')).toEqual([]);

		// a third run (the removal happened, the run was not recorded): still no duplicate, nothing to remove
		const third = await withClient((client) => new ImapDeliverer(client).deliverMessage(raw, copies, { ref, action: { action: 'delete' }, removable: true }));
		expect(third.copies.map((c) => c.status)).toEqual(['alreadyPresent', 'alreadyPresent']);
		expect(third.master.status).toBe('notFound');
		expect(await folder('Inboxes/Sales')).toEqual(['<router-1@client.example>']);
	});

	it('a message without Message-ID is recognised by its bytes', async () => {
		await reset();
		const raw = mail(2, { To: 'sales@firma.example' }, false);
		const other = mail(3, { To: 'sales@firma.example' }, false); // same size, other bytes
		await servers.writeMaildir('catchall', 'INBOX', [{ raw }]);
		await withClient(async (client) => {
			const d = new ImapDeliverer(client);
			expect((await d.deliverCopy(raw, ['Inboxes', 'Sales'])).status).toBe('appended');
			expect((await d.deliverCopy(raw, ['Inboxes', 'Sales'])).status).toBe('alreadyPresent');
			expect((await d.deliverCopy(other, ['Inboxes', 'Sales'])).status).toBe('appended');
		});
		expect(await folder('Inboxes/Sales')).toEqual(['(no id) Message 2', '(no id) Message 3']);
	});

	it('another message with the same Message-ID is not taken for it: not in the target, and not in the master mailbox', async () => {
		await reset();
		const raw = mail(6, { To: 'sales@firma.example' });
		// a stranger's message that claims the same Message-ID, already in the target and in the master mailbox
		const impostor = Buffer.from(raw.toString('utf8').replace('Subject: Message 6', 'Subject: Not message 6, longer'));
		await servers.writeMaildir('catchall', 'INBOX', [{ raw: impostor }, { raw }, { raw: impostor }]);
		await withClient(async (client) => {
			await client.mailboxCreate(['Inboxes', 'Sales']);
			await client.append('Inboxes/Sales', impostor);
		});
		// the item came without a UID (a POP3 trigger's): the master copy is found by Message-ID and size
		const result = await withClient((client) => new ImapDeliverer(client).deliverMessage(raw, [['Inboxes', 'Sales']], { ref: { folder: 'INBOX' }, action: { action: 'delete' }, removable: true }));
		expect(result.copies.map((c) => c.status)).toEqual(['appended']);
		expect(result.master).toMatchObject({ status: 'deleted' });
		const subjects = async (path: string) =>
			withClient(async (client) => {
				const lock = await client.getMailboxLock(path, { readOnly: true });
				try {
					return (await client.fetchAll('1:*', { envelope: true })).map((m) => m.envelope?.subject);
				} finally {
					lock.release();
				}
			});
		expect(await subjects('Inboxes/Sales')).toEqual(['Not message 6, longer', 'Message 6']);
		expect(await subjects('INBOX')).toEqual(['Not message 6, longer', 'Not message 6, longer']);
	});

	it('a copy that cannot be stored leaves the message in the master mailbox, with the server\'s reason', async () => {
		await reset();
		const raw = mail(4, { To: 'sales@firma.example' });
		await servers.writeMaildir('catchall', 'INBOX', [{ raw }]);
		const result = await withClient((client) =>
			new ImapDeliverer(client).deliverMessage(raw, [['Inboxes', 'Sales'], ['Inboxes', 'x'.repeat(300)]], { ref: { folder: 'INBOX', uid: 1 }, action: { action: 'delete' }, removable: true }),
		);
		expect(result.copies.map((c) => c.status)).toEqual(['appended', 'failed']);
		expect(result.copies[1].error?.message).toMatch(/could not be (created|stored)/);
		expect(result.master.status).toBe('skipped');
		expect(await folder('INBOX')).toEqual(['<router-4@client.example>']);
	});

	describe('the node, run twice on the trigger\'s items', () => {
		const params = (overrides: Record<string, unknown> = {}) => ({
			inboxes: { inbox: [{ name: 'Sales', addresses: 'sales@firma.example' }] },
			employees: { employee: [{ name: 'Anna Müller', addresses: 'anna@firma.example' }] },
			distributionLists: { list: [] },
			domainRedirects: { rule: [{ from: 'firma-alt.example', to: 'firma.example' }] },
			localPartRedirects: { rule: [{ from: 'sys.admin', to: 'support' }] },
			directoryJson: JSON.stringify({ distributionLists: [{ name: 'Support', addresses: 'support@firma.example' }] }),
			dropUnknown: true,
			exceptions: '@firma.example',
			inboxRoot: 'Inboxes',
			masterAddresses: 'catchall@firma.example',
			deliver: true,
			authentication: 'password',
			mailbox: '',
			masterMailbox: '',
			afterDelivery: 'delete',
			options: {},
			...overrides,
		});
		const credentials = () => ({ mailboxImapApi: { host: '127.0.0.1', port: servers.ports.imaps, security: 'tls', allowSelfSigned: true, user: 'catchall', password: 'catchall-pw' } as IDataObject });
		const run = (items: INodeExecutionData[], overrides: Record<string, unknown> = {}, typeVersion = 1) =>
			new MailboxRouter().execute.call(executeContext({ items, params: params(overrides), credentials: credentials(), node: { name: 'Mailbox Router', type: 'n8n-nodes-mailbox.mailboxRouter', typeVersion } }));

		it.each([true, false])('routes, delivers and removes (raw message in the item: %s); a re-run adds nothing', async (withRaw) => {
			await reset();
			await servers.writeMaildir('catchall', 'INBOX', [
				{ raw: mail(10, { 'Delivered-To': 'catchall@firma.example', 'X-Original-To': 'sys.admin@firma-alt.example' }) },
				{ raw: mail(11, { 'Delivered-To': 'catchall@firma.example', To: 'Anna <anna+projekt@firma.example>, sales@firma.example', Cc: 'partner@partner.example' }) },
				{ raw: mail(12, { 'Delivered-To': 'catchall@firma.example', To: 'nobody@firma.example, sales@firma.example' }) },
				{ raw: mail(13, { 'Delivered-To': 'catchall@firma.example', To: 'stranger@elsewhere.example' }) },
				{ raw: mail(14, { 'X-Original-To': 'stranger@elsewhere.example' }) },
			]);
			const items = await triggerItems(withRaw);
			const [routed, kept, dropped] = await run(items);

			const summary = (list: INodeExecutionData[]) => list.map((i) => `${(i.json.messageId as string).slice(1, 10)} ${(i.json.routing as IDataObject).target ? ((i.json.routing as IDataObject).target as IDataObject).folder : ((i.json.routing as IDataObject).recipients as IDataObject[]).map((r) => r.address).join(',')}`);
			expect(summary(routed)).toEqual(['router-10 Inboxes/Support', 'router-11 Inboxes/Anna Müller', 'router-11 Inboxes/Sales', 'router-12 Inboxes/Sales']);
			expect(summary(kept)).toEqual(['router-12 nobody@firma.example', 'router-13 ']);
			expect(summary(dropped)).toEqual(['router-14 stranger@elsewhere.example']);

			const first = routed[0].json.routing as IDataObject;
			expect(first.target).toEqual({ type: 'distributionList', name: 'Support', inbox: 'Support', folder: 'Inboxes/Support', inboxIsNew: true });
			expect(((first.recipients as IDataObject[])[0].path as IDataObject[]).map((p) => p.step)).toEqual(['domainRedirect', 'inbox', 'localPartRedirect', 'inboxAfterRedirect', 'employee', 'distributionList']);
			expect(first.delivery).toMatchObject({ status: 'appended', folder: 'Inboxes/Support', folderCreated: true });
			expect(first.master).toMatchObject({ status: 'deleted' });
			expect((routed[1].json.routing as IDataObject).ignored).toEqual([
				{ address: 'catchall@firma.example', source: 'Delivered-To', reason: 'the master mailbox itself' },
				{ address: 'partner@partner.example', source: 'Cc', reason: 'not a domain of the master mailbox (partner.example)' },
			]);
			expect((routed[3].json.routing as IDataObject).master).toMatchObject({ status: 'kept' });
			expect(routed[0].binary?.raw !== undefined).toBe(withRaw);

			expect(await folder('Inboxes/Support')).toEqual(['<router-10@client.example>']);
			expect(await folder('Inboxes/Anna Müller')).toEqual(['<router-11@client.example>']);
			expect(await folder('Inboxes/Sales')).toEqual(['<router-11@client.example>', '<router-12@client.example>']);
			// 10, 11 delivered and removed; 12 and 13 kept for their unknown recipients; 14 dropped
			expect(await folder('INBOX')).toEqual(['<router-12@client.example>', '<router-13@client.example>']);

			// the same items again (as after a crash before the trigger acknowledged them)
			const [routedAgain] = await run(items);
			const statuses = routedAgain.map((i) => `${((i.json.routing as IDataObject).delivery as IDataObject).status} ${((i.json.routing as IDataObject).master as IDataObject).status}`);
			// with the raw message, the copies are found in the targets; without it, a message that left the master mailbox is not read again
			expect(statuses).toEqual(withRaw ? ['alreadyPresent notFound', 'alreadyPresent notFound', 'alreadyPresent notFound', 'alreadyPresent kept'] : ['skipped notFound', 'skipped notFound', 'skipped notFound', 'alreadyPresent kept']);
			expect(await folder('Inboxes/Sales')).toEqual(['<router-11@client.example>', '<router-12@client.example>']);
			expect(await folder('Inboxes/Support')).toEqual(['<router-10@client.example>']);
		});

		it('a message forwarded from Gmail stays in the master mailbox with Drop Unknown (version 1.1); version 1 deletes it', async () => {
			// the server's Delivered-To on top; Gmail's own Delivered-To below the server's Received header
			const trace = [
				'Delivered-To: catchall@firma.example',
				'Received: from mail-sor-f41.google.com (mail-sor-f41.google.com [209.85.220.41])',
				'\tby mx.firma.example (Postfix) with ESMTPS id 4F1A2B; Sun, 1 Feb 2026 09:00:02 +0000',
				'X-Forwarded-To: catchall@firma.example',
				'Delivered-To: someone@gmail.com',
				'Received: by 2002:a05:6000:1a8e with SMTP id f14; Sun, 1 Feb 2026 09:00:01 +0000',
				'',
			].join('\r\n');
			const forwarded = Buffer.concat([Buffer.from(trace), mail(30, { To: 'someone@gmail.com' })]);
			await reset();
			await servers.writeMaildir('catchall', 'INBOX', [{ raw: forwarded }]);
			const [routed, kept, dropped] = await run(await triggerItems(true), {}, 1.1);
			expect([routed.length, dropped.length]).toEqual([0, 0]);
			expect(kept.map((i) => (i.json.routing as IDataObject).master)).toEqual([expect.objectContaining({ status: 'kept' })]);
			expect((kept[0].json.routing as IDataObject).ignored).toContainEqual({ address: 'someone@gmail.com', source: 'Delivered-To', reason: 'not the topmost Delivered-To header: a sender or an earlier server wrote it' });
			expect(await folder('INBOX')).toEqual(['<router-30@client.example>']);

			// version 1 (saved workflows) trusts every Delivered-To: the Gmail address is unknown, dropped, and the message deleted
			const [, keptV1, droppedV1] = await run(await triggerItems(true), {}, 1);
			expect(keptV1).toEqual([]);
			expect(droppedV1.map((i) => (i.json.routing as IDataObject).master)).toEqual([expect.objectContaining({ status: 'deleted' })]);
			expect(await folder('INBOX')).toEqual([]);
		});

		it('without the raw message, a UID or a Message-ID, the item fails naming the option to turn on', async () => {
			await reset();
			const items: INodeExecutionData[] = [{ json: { messageId: null, to: 'sales@firma.example', headers: {}, folder: 'INBOX', uid: null } }];
			await expect(run(items)).rejects.toThrow(/neither the raw message nor a UID or Message-ID/);
			const [routed] = await new MailboxRouter().execute.call(executeContext({ items, params: params(), credentials: credentials(), continueOnFail: true, node: { name: 'Mailbox Router', type: 'n8n-nodes-mailbox.mailboxRouter' } }));
			expect(routed[0].json.error).toMatch(/neither the raw message/);
			expect(routed[0].json.description).toMatch(/Include Raw Message/);
		});

		it('a bad directory is refused naming the parameter, before anything is touched; no secret in the output', async () => {
			await reset();
			await expect(run([{ json: {} }], { directoryJson: '{"employees": [{"name": "A"}]}' })).rejects.toMatchObject({ message: expect.stringMatching(/employees\[0\] \("A"\) has no "addresses"/), description: expect.stringMatching(/"employees":\[\{"name":"Anna Miller"/) });
			await expect(run([{ json: {} }], { inboxes: { inbox: [{ name: 'Sales', addresses: 'not-an-address' }] } })).rejects.toThrow(/Inbox 1 \("Sales"\): "not-an-address" is not an e-mail address/);
			const raw = mail(20, { To: 'sales@firma.example' });
			await servers.writeMaildir('catchall', 'INBOX', [{ raw }]);
			const [routed] = await run(await triggerItems(true));
			expect(JSON.stringify(routed)).not.toContain('catchall-pw');
		});
	});
});
