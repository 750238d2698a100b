/**
 * Gmail's IMAP semantics against a Dovecot shaped like Gmail (startMailServers({ gmail: true }):
 * "[Gmail]/…" folders with their SPECIAL-USE roles). The same message is in INBOX, under a label
 * and in "[Gmail]/All Mail", as Gmail shows it. Gmail is known from the sign-in (a Google
 * Authentication) or from its capability X-GM-EXT-1, which this Dovecot cannot announce (imapflow
 * then asks each FETCH for X-GM-MSGID): here the sign-in says it.
 * - The IMAP trigger 1.3 watching all folders leaves out All Mail, Starred, Spam, Trash and
 *   Drafts by their role (1.2 only by name, and so delivers the All Mail copy as well).
 * - "Delete" moves to Gmail's Trash, found by its role: on Gmail, expunging only removes a label.
 * - Delete Permanently outside Trash is refused naming the field; inside Trash it deletes.
 */
import fs from 'node:fs';
import { ImapFlow } from 'imapflow';
import type { IDataObject } from 'n8n-workflow';
import { startMailServers, type MailServers } from '../servers';
import { MailboxImapTrigger } from '../../nodes/MailboxImapTrigger/MailboxImapTrigger.node';
import { triggerContext } from './helpers/trigger-context';
import { listFolders } from '../../lib/imap/folders';
import { folderWithRole, runBulk } from '../../lib/imap/messages';
import { MailboxError } from '../../lib/errors';
import { watch } from './imap-watch-helpers';

const ALL_MAIL = '[Gmail]/All Mail';
const TRASH = '[Gmail]/Trash';

function mail(subject: string): Buffer {
	return Buffer.from(
		[`From: Dana <dana@fabrikam.test>`, `To: Alice <alice@example.test>`, `Subject: ${subject}`, `Message-ID: <${subject}@fabrikam.test>`, `Date: ${new Date(Date.UTC(2026, 10, 2, 9)).toUTCString()}`, '', `Body of ${subject}.`, ''].join('\r\n'),
	);
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
	const end = Date.now() + timeoutMs;
	while (!(await check())) {
		if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

describe('Gmail-shaped IMAP: folder roles and deletion', () => {
	let servers: MailServers;
	let client: ImapFlow;

	const connect = async (): Promise<ImapFlow> => {
		const c = new ImapFlow({ host: '127.0.0.1', port: servers.ports.imaps, secure: true, tls: { ca: fs.readFileSync(servers.certPath) }, auth: { user: 'alice', pass: 'alice-pw' }, logger: false });
		await c.connect();
		return c;
	};
	const subjects = async (folder: string): Promise<string[]> => {
		const lock = await client.getMailboxLock(folder);
		try {
			const out: string[] = [];
			if ((client.mailbox as { exists: number }).exists === 0) return out;
			for await (const m of client.fetch('1:*', { envelope: true })) out.push(m.envelope?.subject ?? '');
			return out.sort();
		} finally {
			lock.release();
		}
	};
	/** A message as Gmail shows it: in INBOX, in each label's folder, and in All Mail. */
	const receive = async (subject: string, labels: string[] = []): Promise<void> => {
		for (const folder of ['INBOX', ...labels, ALL_MAIL]) await client.append(folder, mail(subject));
	};

	beforeAll(async () => {
		servers = await startMailServers({ gmail: true });
		client = await connect();
		await client.mailboxCreate('Customers');
	});

	afterAll(async () => {
		await client?.logout().catch(() => undefined);
		await servers?.stop();
	});

	it('finds the folders by their roles, whatever their names', async () => {
		const folders = await listFolders(client, { counts: false });
		expect(folderWithRole(folders, 'trash')?.path).toBe(TRASH);
		expect(folderWithRole(folders, 'junk')?.path).toBe('[Gmail]/Spam');
		expect(folderWithRole(folders, 'sent')?.path).toBe('[Gmail]/Sent Mail');
		expect(folderWithRole(folders, 'all')?.path).toBe(ALL_MAIL);
	});

	/** The IMAP trigger node (password credential) watching all folders; the items' "folder: subject". */
	const runTrigger = async (typeVersion: number, expected: number) => {
		const node = new MailboxImapTrigger();
		const params: IDataObject = { authentication: 'password', watch: 'all', firstActivation: 'all', afterProcessing: 'none', mode: 'poll', pollMinutes: 0.1, options: {} };
		const { ctx, emitted } = triggerContext({
			node: { id: `gmail-${typeVersion}`, name: 'Mailbox IMAP Trigger', type: 'n8n-nodes-mailbox.mailboxImapTrigger', typeVersion },
			params,
			credentials: { mailboxImapApi: { host: '127.0.0.1', port: servers.ports.imaps, security: 'tls', user: 'alice', password: 'alice-pw', allowSelfSigned: true } },
		});
		const response = await node.trigger.call(ctx);
		try {
			await until(() => emitted.flatMap((e) => e.data[0]).length >= expected, 60_000, `${expected} messages`);
		} finally {
			await response.closeFunction?.();
		}
		return emitted.flatMap((e) => e.data[0]).map((item) => `${String(item.json.folder)}: ${String(item.json.subject)}`).sort();
	};

	it('trigger 1.3, all folders: INBOX and labels, never All Mail, Starred, Spam, Trash or Drafts (by their roles)', async () => {
		await receive('order-1', ['Customers']);
		await client.append('[Gmail]/Spam', mail('spam-1'));
		await client.append('[Gmail]/Starred', mail('order-1'));
		await client.append('[Gmail]/Drafts', mail('draft-1'));
		expect(await runTrigger(1.3, 2)).toEqual(['Customers: order-1', 'INBOX: order-1']);
	});

	it('trigger 1.2 keeps its behaviour: only names are excluded, so the All Mail and Starred copies are delivered again', async () => {
		expect(await runTrigger(1.2, 4)).toEqual(['Customers: order-1', 'INBOX: order-1', `${ALL_MAIL}: order-1`, '[Gmail]/Starred: order-1']);
	});

	it("the watcher on Gmail: Delete moves each processed message to Gmail's Trash (found by its role); it stays in All Mail", async () => {
		const { watcher, delivered } = watch(servers, { folders: ['INBOX', 'Customers'], firstActivation: 'all', afterProcessing: 'delete', gmail: true });
		await watcher.start();
		try {
			await until(() => delivered.length === 2, 60_000, 'both messages');
			await until(async () => (await subjects(TRASH)).length === 2, 60_000, 'the messages in Trash');
		} finally {
			await watcher.stop();
		}
		expect(await subjects('INBOX')).toEqual([]);
		expect(await subjects('Customers')).toEqual([]);
		expect(await subjects(TRASH)).toEqual(['order-1', 'order-1']);
		expect(await subjects(ALL_MAIL)).toEqual(['order-1']);
	});

	it('the watcher elsewhere: Delete expunges (no Gmail, no move)', async () => {
		await client.append('INBOX', mail('plain-1'));
		const { watcher, delivered } = watch(servers, { folders: ['INBOX'], firstActivation: 'all', afterProcessing: 'delete' });
		await watcher.start();
		try {
			await until(() => delivered.length === 1, 60_000, 'the message');
			await until(async () => (await subjects('INBOX')).length === 0, 60_000, 'INBOX empty');
		} finally {
			await watcher.stop();
		}
		expect(await subjects(TRASH)).toEqual(['order-1', 'order-1']);
	});

	it('Delete Permanently outside Trash is refused naming the field; in Trash it deletes; plain Delete moves to Trash by role', async () => {
		await client.append('INBOX', mail('order-2'));
		const inbox = await client.mailboxOpen('INBOX');
		const [{ uid }] = await client.fetchAll('1:*', { uid: true });
		const uidValidity = String(inbox.uidValidity);
		const refused = await runBulk(client, [{ folder: 'INBOX', uid, uidValidity }], { type: 'delete', permanently: true }, { gmail: true });
		expect(refused[0].ok).toBe(false);
		const error = (refused[0] as { error: MailboxError }).error;
		expect(error).toBeInstanceOf(MailboxError);
		expect(error.field).toBe('deletePermanently');
		expect(error.fullMessage).toMatch(/only removes the folder's label.*Turn off Delete Permanently/);
		expect(await subjects('INBOX')).toEqual(['order-2']);

		const moved = await runBulk(client, [{ folder: 'INBOX', uid, uidValidity }], { type: 'delete', permanently: false, trash: TRASH }, { gmail: true });
		expect(moved[0]).toMatchObject({ ok: true, deleted: 'trash', destination: TRASH });
		expect(await subjects('INBOX')).toEqual([]);

		const trash = await client.mailboxOpen(TRASH);
		const inTrash = await client.fetchAll('1:*', { uid: true, envelope: true });
		const target = inTrash.find((m) => m.envelope?.subject === 'order-2');
		const gone = await runBulk(client, [{ folder: TRASH, uid: target!.uid, uidValidity: String(trash.uidValidity) }], { type: 'delete', permanently: true }, { gmail: true });
		expect(gone[0]).toMatchObject({ ok: true, deleted: 'permanently' });
		expect(await subjects(TRASH)).toEqual(['order-1', 'order-1']);
	});
});
