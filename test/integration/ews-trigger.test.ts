/**
 * The EWS watcher (lib/ews/watch.ts) against the local HTTPS EWS endpoint: SyncFolderItems with
 * the saved SyncState per folder, first activation (new / unread / all), exactly once across a
 * restart from the saved state, recovery from ErrorInvalidSyncStateData without repeats or a flood,
 * throttling, after-processing actions only after a successful run, failed runs retried with new
 * attempts, the size limit, and messages that vanish before delivery.
 */
import fs from 'node:fs';
import type { IDataObject } from 'n8n-workflow';
import { deliveryKey, fingerprint } from '../../lib/delivery/keys';
import { connectEws, type EwsClient } from '../../lib/ews/client';
import { deleteMessages } from '../../lib/ews/items';
import { newestMessage } from '../../lib/ews/items';
import { EwsWatcher, type EwsWatcherOptions } from '../../lib/ews/watch';
import { isRecent, RECENT_KEY_CHARS } from '../../lib/delivery/folder-sync-state';
import { parseMessage } from '../../lib/message/parse';
import { MailboxEwsTrigger } from '../../nodes/MailboxEwsTrigger/MailboxEwsTrigger.node';
import { EwsServer } from '../servers/ews';
import { generateMessage } from '../fixtures/mailgen';
import { message, until, watchRuns, type WatchedRuns } from './helpers/watch-runs';
import { triggerContext as sharedTriggerContext, type TriggerContextOptions } from './helpers/trigger-context';
import { localCertificate } from './helpers/local-tls';

const DAY = 24 * 60 * 60 * 1000;
const OLD = new Date(Date.now() - 30 * DAY);

interface Harness extends WatchedRuns<EwsWatcher> {
	/** The most messages any reported state held waiting for their after-processing action. */
	mostActing: () => number;
}

describe('EWS watcher against the local EWS endpoint', () => {
	let dir: string;
	let ca: Buffer;
	let server: EwsServer;
	const running: EwsWatcher[] = [];
	const clients: EwsClient[] = [];
	let n = 0;
	/** A mailbox of its own for each test. */
	const newMailbox = () => `user${++n}@contoso.test`;
	const mailboxes = Array.from({ length: 30 }, (_, i) => `user${i + 1}@contoso.test`);

	const connect = (mailbox: string) => async () => {
		const client = await connectEws({ url: server.url, ca, auth: { type: 'password', user: 'svc', password: 'svc-pw' }, mailbox });
		clients.push(client);
		return client;
	};

	function watch(mailbox: string, options: Partial<EwsWatcherOptions> = {}, autoAck: boolean | 'manual' = true): Harness {
		let mostActing = 0;
		const h = watchRuns(EwsWatcher, { connect: connect(mailbox), mailbox, ...options }, autoAck, (state) => {
			for (const f of Object.values(state.folders)) mostActing = Math.max(mostActing, Object.values(f.pending).filter((e) => e.s === 'act').length);
		});
		running.push(h.watcher);
		return { ...h, mostActing: () => mostActing };
	}

	beforeAll(async () => {
		let key: Buffer;
		({ dir, ca, key } = localCertificate('ews-watch'));
		server = await EwsServer.start({ tls: { key, cert: ca }, users: { svc: 'svc-pw' }, mailboxes: ['svc@contoso.test', ...mailboxes], access: { svc: mailboxes } });
	});
	afterEach(async () => {
		for (const w of running.splice(0)) await w.stop();
		for (const c of clients.splice(0)) c.close();
		server.busy(0, 0);
	});
	afterAll(async () => {
		await server?.stop();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it('first activation "new": mail already there stays, new mail is delivered once; the next sync sends the saved SyncState for the folder', async () => {
		const mbx = newMailbox();
		server.addMessage(mbx, 'inbox', message('old-1'), { received: OLD });
		server.addMessage(mbx, 'inbox', message('old-2'), { received: OLD });
		const h = watch(mbx);
		const start = server.requests.length;
		expect(await h.watcher.start()).toEqual({});
		expect(h.runs).toHaveLength(0);
		const firstSync = server.requests.slice(start).filter((r) => r.operation === 'SyncFolderItems');
		expect(firstSync).toHaveLength(1);
		expect(firstSync[0].body).toMatch(/<m:SyncFolderId><t:FolderId Id="[^"]+"[^>]*>/);
		expect(firstSync[0].body).toContain('<m:SyncState></m:SyncState>');
		expect(firstSync[0]).toMatchObject({ mailbox: mbx, anchorMailbox: mbx, serverVersion: 'Exchange2013_SP1' });
		const saved = h.state()!.folders.inbox;
		expect(saved.syncState).toBeTruthy();
		expect(saved.activatedAt).toBeDefined();

		server.addMessage(mbx, 'inbox', message('new-1'));
		const before = server.requests.length;
		await h.poll();
		await until(() => h.runs.length === 1, 60_000, 'the delivery');
		const sync = server.requests.slice(before).find((r) => r.operation === 'SyncFolderItems')!;
		expect(sync.body).toContain(`<m:SyncState>${saved.syncState}</m:SyncState>`);
		const [run] = h.runs;
		expect(run.message).toMatchObject({ mailbox: mbx, folder: 'Inbox', messageId: '<new-1@example.test>', isRead: false, attempt: 1, key: `${mbx}/inbox/i:${run.message.itemId}` });
		expect(run.message.source.equals(message('new-1'))).toBe(true);
		await h.poll();
		expect(h.subjects()).toEqual(['new-1']);
	});

	it('first activation "unread" delivers the unread mail, "all" every message; chosen folders by path', async () => {
		const a = newMailbox();
		server.addMessage(a, 'inbox', message('read'), { isRead: true, received: OLD });
		server.addMessage(a, 'inbox', message('unread'), { received: OLD });
		const unread = watch(a, { firstActivation: 'unread' });
		await unread.watcher.start();
		await until(() => unread.runs.length === 1);
		expect(unread.subjects()).toEqual(['unread']);

		const b = newMailbox();
		server.createFolder(b, 'inbox', 'Projects');
		server.addMessage(b, 'inbox', message('in-inbox'), { isRead: true, received: OLD });
		server.addMessage(b, 'Inbox/Projects', message('in-projects'), { received: OLD });
		const all = watch(b, { firstActivation: 'all', folders: ['Inbox', 'Inbox/Projects'] });
		await all.watcher.start();
		await until(() => all.runs.length === 2);
		expect(all.runs.map((r) => [r.message.folder, r.message.messageId])).toEqual([
			['Inbox', '<in-inbox@example.test>'],
			['Inbox/Projects', '<in-projects@example.test>'],
		]);
		expect(all.runs[1].message.key).toBe(`${b}/inbox/projects/i:${all.runs[1].message.itemId}`);
	});

	it('exactly once across a restart: a run under way is delivered again with the same key, acknowledged ones are not, new mail once', async () => {
		const mbx = newMailbox();
		const first = watch(mbx, {}, 'manual');
		await first.watcher.start();
		server.addMessage(mbx, 'inbox', message('done'));
		server.addMessage(mbx, 'inbox', message('under-way'));
		await first.poll();
		await until(() => first.runs.length === 2);
		first.runs[0].resolve(true);
		await until(() => first.state()!.folders.inbox.recent.length === RECENT_KEY_CHARS);
		// n8n stops with the second run still going; the state saved is the last reported
		await first.watcher.stop();
		const saved = first.state()!;
		expect(Object.values(saved.folders.inbox.pending)).toEqual([expect.objectContaining({ s: 'new', m: fingerprint('<under-way@example.test>') })]);

		server.addMessage(mbx, 'inbox', message('after-restart'));
		const second = watch(mbx, { state: JSON.parse(JSON.stringify(saved)) as unknown }, 'manual');
		await second.watcher.start();
		await until(() => second.runs.length === 2);
		expect(second.subjects()).toEqual(['under-way', 'after-restart']);
		expect(second.runs[0].message.key).toBe(first.runs[1].message.key);
		// n8n refuses the repeated run as a duplicate of the one before the restart
		second.runs[0].resolve(false);
		second.runs[1].resolve(true);
		await until(() => Object.keys(second.state()!.folders.inbox.pending).length === 0);
		await second.poll();
		expect(second.subjects()).toEqual(['under-way', 'after-restart']);
	});

	it('ErrorInvalidSyncStateData: synced from scratch, nothing delivered twice, old mail not flooded', async () => {
		const mbx = newMailbox();
		server.addMessage(mbx, 'inbox', message('ancient'), { received: OLD });
		server.addMessage(mbx, 'inbox', message('just-before-activation'));
		const h = watch(mbx);
		await h.watcher.start();
		server.addMessage(mbx, 'inbox', message('one'));
		server.addMessage(mbx, 'inbox', message('two'));
		await h.poll();
		await until(() => isRecent(h.state()!.folders.inbox, fingerprint('<two@example.test>')));
		server.resetSyncStates();
		server.addMessage(mbx, 'inbox', message('three'));
		const before = server.requests.length;
		await h.poll();
		await until(() => h.runs.length === 3);
		await h.poll();
		expect(h.subjects()).toEqual(['one', 'two', 'three']);
		expect(h.events.filter((e) => e.type === 'syncReset')).toEqual([{ type: 'syncReset', folder: 'Inbox', reason: 'invalidSyncState' }]);
		const syncs = server.requests.slice(before).filter((r) => r.operation === 'SyncFolderItems');
		expect(syncs[0].responseCode).toBe('ErrorInvalidSyncStateData');
		expect(syncs[1].body).toContain('<m:SyncState></m:SyncState>');
		expect(h.state()!.folders.inbox.resyncSince).toBeUndefined();
	});

	it('after processing: mark as read, move and delete happen only after the run succeeded; a failed run is retried with a new attempt', async () => {
		const read = newMailbox();
		const h = watch(read, { afterProcessing: 'markRead' }, 'manual');
		await h.watcher.start();
		server.addMessage(read, 'inbox', message('to-read'));
		await h.poll();
		await until(() => h.runs.length === 1);
		await h.poll();
		expect(server.folderItems(read, 'inbox')[0].isRead).toBe(false);
		h.runs[0].reject(new Error('the workflow failed'));
		await until(() => h.events.some((e) => e.type === 'runFailed'));
		expect(server.folderItems(read, 'inbox')[0].isRead).toBe(false);
		await h.poll();
		await until(() => h.runs.length === 2);
		expect(h.runs[1].message.attempt).toBe(2);
		expect(server.folderItems(read, 'inbox')[0].isRead).toBe(false);
		h.runs[1].resolve(true);
		await until(() => server.folderItems(read, 'inbox')[0].isRead, 60_000, 'marked read');
		await until(() => Object.keys(h.state()!.folders.inbox.pending).length === 0);
		const update = server.requests.filter((r) => r.operation === 'UpdateItem' && r.mailbox === read);
		expect(update).toHaveLength(1);
		expect(update[0].body).toContain('SuppressReadReceipts="true"');

		const moved = newMailbox();
		server.createFolder(moved, 'msgfolderroot', 'Done');
		const m = watch(moved, { afterProcessing: 'move', moveTo: 'Done' }, 'manual');
		await m.watcher.start();
		server.addMessage(moved, 'inbox', message('to-move'));
		await m.poll();
		await until(() => m.runs.length === 1);
		expect(server.folderItems(moved, 'Done')).toHaveLength(0);
		m.runs[0].resolve(true);
		await until(() => server.folderItems(moved, 'Done').length === 1, 60_000, 'moved');
		expect(server.folderItems(moved, 'inbox')).toHaveLength(0);

		const deleted = newMailbox();
		const d = watch(deleted, { afterProcessing: 'delete' }, 'manual');
		await d.watcher.start();
		server.addMessage(deleted, 'inbox', message('to-delete'));
		await d.poll();
		await until(() => d.runs.length === 1);
		// n8n refused the run as a duplicate (it ran before a restart): the message is left as it is
		d.runs[0].resolve(false);
		await until(() => Object.keys(d.state()!.folders.inbox.pending).length === 0);
		expect(server.folderItems(deleted, 'inbox')).toHaveLength(1);
		server.addMessage(deleted, 'inbox', message('to-delete-2'));
		await d.poll();
		await until(() => d.runs.length === 2);
		d.runs[1].resolve(true);
		await until(() => server.folderItems(deleted, 'deleteditems').length === 1, 60_000, 'deleted');
		expect(server.folderItems(deleted, 'inbox').map((i) => i.subject)).toEqual(['to-delete']);
	});

	it('a backlog larger than the window by bytes: a poll takes in no more pages than the window has room for; all arrive once', async () => {
		const mbx = newMailbox();
		for (let i = 1; i <= 20; i++) server.addMessage(mbx, 'inbox', message(`bytes-${i}`));
		// room for one message at a time by bytes (the count would allow 100)
		const h = watch(mbx, { firstActivation: 'all', pageSize: 5, maxInFlightBytes: 1 }, 'manual');
		await h.watcher.start();
		// the first poll stopped paging once the window was full: the state holds a page, not the folder
		expect(Object.keys(h.state()!.folders.inbox.pending).length).toBeLessThanOrEqual(5);
		for (let done = 0; done < 20; done++) {
			await until(() => h.runs.length > done, 60_000, `run ${done + 1}`);
			h.runs[done].resolve(true);
		}
		await until(() => Object.keys(h.state()!.folders.inbox.pending).length === 0 && !!h.state()!.folders.inbox.activatedAt, 60_000, 'all settled');
		expect(h.subjects()).toEqual(Array.from({ length: 20 }, (_, i) => `bytes-${i + 1}`));
	});

	it('a backlog whose runs end at once: no more messages wait for their action (mark read) than the window holds, so the state stays small; all arrive once and are read', async () => {
		const mbx = newMailbox();
		for (let i = 1; i <= 40; i++) server.addMessage(mbx, 'inbox', message(`acting-${i}`));
		const h = watch(mbx, { firstActivation: 'all', afterProcessing: 'markRead', maxInFlight: 5 });
		await h.watcher.start();
		await until(() => server.folderItems(mbx, 'inbox').every((i) => i.isRead), 60_000, 'all read');
		expect(h.subjects()).toEqual(Array.from({ length: 40 }, (_, i) => `acting-${i + 1}`));
		// the window (5) and at most one page taken in before the check
		expect(h.mostActing()).toBeLessThanOrEqual(10);
	});

	it('Retry Failed Runs off: a failed message is skipped and left as it is', async () => {
		const mbx = newMailbox();
		const h = watch(mbx, { retry: { retryFailed: false }, afterProcessing: 'markRead' }, 'manual');
		await h.watcher.start();
		server.addMessage(mbx, 'inbox', message('fails'));
		await h.poll();
		await until(() => h.runs.length === 1);
		h.runs[0].reject(new Error('no'));
		await until(() => Object.keys(h.state()!.folders.inbox.pending).length === 0);
		await h.poll();
		expect(h.runs).toHaveLength(1);
		expect(server.folderItems(mbx, 'inbox')[0].isRead).toBe(false);
	});

	it('throttling is waited out within the poll; a lasting failure is reported and recovers', async () => {
		const mbx = newMailbox();
		const h = watch(mbx);
		await h.watcher.start();
		server.addMessage(mbx, 'inbox', message('busy'));
		server.busy(2, 20);
		await h.poll();
		await until(() => h.runs.length === 1);
		expect(h.events.some((e) => e.type === 'failing')).toBe(false);

		server.busy(100, 10);
		h.watcher.fetchNow();
		await until(() => h.events.some((e) => e.type === 'failing'), 60_000, 'failing');
		const failing = h.events.find((e) => e.type === 'failing')!;
		expect(failing).toMatchObject({ error: { code: 'SERVER', causeCode: 'ErrorServerBusy' } });
		server.busy(0, 0);
		await until(() => h.events.some((e) => e.type === 'recovered'), 60_000, 'recovered');
	});

	it('a message taken in and deleted before it was delivered again is dropped, not an error', async () => {
		const mbx = newMailbox();
		const first = watch(mbx, {}, 'manual');
		await first.watcher.start();
		server.addMessage(mbx, 'inbox', message('vanishes'));
		await first.poll();
		await until(() => first.runs.length === 1);
		await first.watcher.stop();
		const client = await connect(mbx)();
		await deleteMessages(client, [first.runs[0].message.itemId], 'hard');
		const second = watch(mbx, { state: first.state() });
		expect(await second.watcher.start()).toEqual({});
		expect(second.runs).toHaveLength(0);
		expect(second.events).toContainEqual({ type: 'gone', folder: 'Inbox', itemId: first.runs[0].message.itemId });
		expect(second.state()!.folders.inbox.pending).toEqual({});
	});

	it('a message over the size limit is skipped and reported', async () => {
		const mbx = newMailbox();
		const h = watch(mbx, { maxSizeBytes: 500 });
		await h.watcher.start();
		server.addMessage(mbx, 'inbox', message('big', 'x'.repeat(2000)));
		server.addMessage(mbx, 'inbox', message('small'));
		await h.poll();
		await until(() => h.runs.length === 1);
		expect(h.subjects()).toEqual(['small']);
		expect(h.events).toContainEqual(expect.objectContaining({ type: 'skipped', reason: 'oversized', folder: 'Inbox' }));
	});

	it('real mail from the generator comes out byte for byte and parses like the IMAP trigger\'s', async () => {
		const mbx = newMailbox();
		const h = watch(mbx);
		await h.watcher.start();
		const generated = [0, 1, 2, 3].map((i) => generateMessage(7, i));
		for (const g of generated) server.addMessage(mbx, 'inbox', g.raw);
		await h.poll();
		await until(() => h.runs.length === generated.length);
		for (const [i, g] of generated.entries()) {
			expect(h.runs[i].message.source.equals(g.raw)).toBe(true);
			const parsed = await parseMessage(h.runs[i].message.source);
			expect(parsed.json.messageId).toBe(g.messageId);
		}
	});

	it('Test step: the newest message of a folder, nothing changed', async () => {
		const mbx = newMailbox();
		server.addMessage(mbx, 'inbox', message('older'), { received: OLD });
		server.addMessage(mbx, 'inbox', message('newest'));
		const client = await connect(mbx)();
		const newest = await newestMessage(client, 'Inbox');
		expect(newest?.messageId).toBe('<newest@example.test>');
		expect(server.folderItems(mbx, 'inbox').every((i) => !i.isRead)).toBe(true);
	});
});

/** n8n's trigger context for the node (test/integration/helpers/trigger-context.ts). */
function triggerContext(options: Omit<TriggerContextOptions, 'node'>) {
	return sharedTriggerContext({ node: { id: 'ews-node', name: 'Mailbox EWS Trigger', type: 'n8n-nodes-mailbox.mailboxEwsTrigger', typeVersion: 1 }, ...options });
}

describe('Mailbox EWS Trigger node against the local EWS endpoint', () => {
	let dir: string;
	let server: EwsServer;
	const node = new MailboxEwsTrigger();
	const MBX = 'node@contoso.test';
	const credential = (extra: IDataObject = {}) => ({ mailboxEwsApi: { url: server.url, user: 'svc', password: 'svc-pw', allowSelfSigned: true, serverVersion: 'Exchange2013_SP1', access: 'delegate', ...extra } });

	beforeAll(async () => {
		const tls = localCertificate('ews-node');
		dir = tls.dir;
		server = await EwsServer.start({ tls: { key: tls.key, cert: tls.ca }, users: { svc: 'svc-pw' }, mailboxes: ['svc@contoso.test', MBX], access: { svc: [MBX] } });
	});
	afterAll(async () => {
		await server?.stop();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it('describes itself: two outputs, three sign-ins, the EWS credential tested by the node', () => {
		const d = node.description;
		expect(d.name).toBe('mailboxEwsTrigger');
		expect(d.outputNames).toEqual(['Messages', 'Mailbox Status']);
		expect(d.credentials?.map((c) => [c.name, c.testedBy, c.displayOptions?.show?.authentication])).toEqual([
			['mailboxMicrosoftAppApi', 'mailboxMicrosoftAppTest', ['microsoftApp']],
			['mailboxMicrosoftOAuth2Api', undefined, ['microsoftOAuth2']],
			['mailboxEwsApi', 'mailboxEwsConnectionTest', ['password']],
		]);
		expect(typeof node.methods.credentialTest.mailboxEwsConnectionTest).toBe('function');
	});

	it('the credential Test signs in and reads the Inbox; a wrong password says so', async () => {
		const test = node.methods.credentialTest.mailboxEwsConnectionTest;
		const ok = await test.call({} as never, { id: '1', name: 'x', type: 'mailboxEwsApi', data: { ...credential().mailboxEwsApi, mailbox: MBX } });
		expect(ok.status).toBe('OK');
		expect(ok.message).toContain('mailbox node@contoso.test: Inbox has');
		const bad = await test.call({} as never, { id: '1', name: 'x', type: 'mailboxEwsApi', data: { ...credential().mailboxEwsApi, password: 'nope' } });
		expect(bad.status).toBe('Error');
		expect(bad.message).toContain('rejected the user name or password');
	});

	it('emits each new message once with the IMAP trigger\'s item shape plus Exchange ids, with a deterministic key; marks it read after the run', async () => {
		const params = { authentication: 'password', mailbox: MBX, folders: 'Inbox', firstActivation: 'new', afterProcessing: 'markRead', pollMinutes: 0.1, options: { includeRaw: true } };
		const { ctx, emitted, staticData } = triggerContext({ params, credentials: credential() });
		const response = await node.trigger.call(ctx);
		try {
			server.addMessage(MBX, 'inbox', message('node-1'));
			await until(() => emitted.length === 1, 60_000, 'the emit');
			const [{ data, key }] = emitted;
			const item = data[0][0];
			// the key is made of mailbox, folder and item id (a sender cannot choose it), at most 255 characters
			expect(key).toBe(deliveryKey('mailbox-ews:wf-1:ews-node', `${MBX}/inbox/i:${String(item.json.itemId)}`, 1));
			expect(key!.length).toBeLessThanOrEqual(255);
			expect(item.json).toMatchObject({ subject: 'node-1', messageId: '<node-1@example.test>', mailbox: MBX, folder: 'Inbox', isRead: false, flags: [], uid: null, uidl: null });
			expect(item.json.itemId).toEqual(expect.any(String));
			expect(item.json.changeKey).toEqual(expect.any(String));
			expect(item.binary?.raw?.mimeType).toBe('message/rfc822');
			await until(() => server.folderItems(MBX, 'inbox').every((i) => i.isRead), 60_000, 'marked read');
			expect((staticData.watch as { folders: Record<string, unknown> }).folders.inbox).toBeDefined();
		} finally {
			await response.closeFunction?.();
		}
	});

	it('Test step emits the newest message without changing anything; activation with a wrong password fails with the reason', async () => {
		const { ctx, emitted } = triggerContext({ params: { authentication: 'password', mailbox: MBX, folders: 'Inbox' }, credentials: credential(), mode: 'manual' });
		const response = await node.trigger.call(ctx);
		await response.manualTriggerFunction?.();
		expect(emitted).toHaveLength(1);
		expect(emitted[0].data[0][0].json.messageId).toBe('<node-1@example.test>');

		const wrong = triggerContext({ params: { authentication: 'password', mailbox: MBX, folders: 'Inbox' }, credentials: credential({ password: 'nope' }) });
		await expect(node.trigger.call(wrong.ctx)).rejects.toThrow('rejected the user name or password');
	});
});
