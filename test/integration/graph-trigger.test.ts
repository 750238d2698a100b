/**
 * The Graph watcher (lib/graph/watch.ts, the folder-sync watcher over Microsoft Graph's delta query)
 * and the Exchange trigger with Access Via: Microsoft Graph, against the local HTTPS Graph endpoint
 * (test/servers/graph.ts): first activation (new / unread / all), the delta link kept per folder,
 * exactly once across a restart, a changed message (flag, category, read) starting no run, a delta
 * link Graph no longer accepts (410) without repeats or a flood, after-processing actions only after
 * a successful run, throttling, the size limit read before the MIME content, and messages that
 * vanish before delivery. The requests Graph received are asserted as well as the runs.
 *
 * One seam in the node's tests, outside the code under test: connectGraph trusts the test
 * certificate (n8n would trust a company CA through NODE_EXTRA_CA_CERTS).
 */
import fs from 'node:fs';
import type { IDataObject } from 'n8n-workflow';
import { deliveryKey, fingerprint } from '../../lib/delivery/keys';
import { isRecent } from '../../lib/delivery/folder-sync-state';
import { connectGraph, type GraphClient } from '../../lib/graph/client';
import { GraphWatcher, newestGraphMessage, type GraphWatcherOptions } from '../../lib/graph/watch';
import { parseMessage } from '../../lib/message/parse';
import { MailboxEwsTrigger } from '../../nodes/MailboxEwsTrigger/MailboxEwsTrigger.node';
import { GraphServer, type GraphRequestLog } from '../servers/graph';
import { generateMessage } from '../fixtures/mailgen';
import { OAuthServer } from '../servers/oauth';
import { message, until, watchRuns, type WatchedRuns } from './helpers/watch-runs';
import { triggerContext as sharedTriggerContext, type TriggerContextOptions } from './helpers/trigger-context';
import { localCertificate } from './helpers/local-tls';

const seams: { ca?: Buffer } = {};

jest.mock('../../lib/graph/client', () => {
	const actual = jest.requireActual('../../lib/graph/client');
	return { ...actual, connectGraph: (options: Record<string, unknown>) => actual.connectGraph({ ...options, ca: seams.ca }) };
});

const DAY = 24 * 60 * 60 * 1000;
const OLD = new Date(Date.now() - 30 * DAY);

let dir: string;
let ca: Buffer;
let oauth: OAuthServer;
let server: GraphServer;
let token: string;
const mailboxes = Array.from({ length: 30 }, (_, i) => `user${i + 1}@contoso.test`);
const NODE_MBX = 'node@contoso.test';

beforeAll(async () => {
	let key: Buffer;
	({ dir, ca, key } = localCertificate('graph-watch'));
	seams.ca = ca;
	oauth = await OAuthServer.start({ users: ['svc', 'node'] });
	token = oauth.issueToken('svc', 24 * 3600);
	server = await GraphServer.start({
		tls: { key, cert: ca },
		tokenInfo: (t) => {
			const user = oauth.tokenUser(t);
			return user ? { user, audience: 'https://graph.microsoft.com' } : undefined;
		},
		mailboxes: ['svc@contoso.test', NODE_MBX, 'shared@contoso.test', ...mailboxes],
		access: { svc: mailboxes, node: ['shared@contoso.test'] },
	});
});

afterAll(async () => {
	await server?.stop();
	await oauth?.stop();
	fs.rmSync(dir, { recursive: true, force: true });
});

describe('Graph watcher against the local Graph endpoint', () => {
	const running: GraphWatcher[] = [];
	const clients: GraphClient[] = [];
	let n = 0;
	/** A mailbox of its own for each test. */
	const newMailbox = () => mailboxes[n++];

	const connect = (mailbox: string) => async () => {
		const client = await connectGraph({ baseUrl: server.url, ca, auth: { type: 'token', token }, mailbox });
		clients.push(client);
		return client;
	};
	const requestsOf = (mailbox: string, since: number): GraphRequestLog[] => server.allRequests.slice(since).filter((r) => r.mailbox === mailbox);

	function watch(mailbox: string, options: Partial<GraphWatcherOptions> = {}, autoAck: boolean | 'manual' = true): WatchedRuns<GraphWatcher> {
		const h = watchRuns(GraphWatcher, { connect: connect(mailbox), mailbox, ...options }, autoAck);
		running.push(h.watcher);
		return h;
	}

	afterEach(async () => {
		for (const w of running.splice(0)) await w.stop();
		for (const c of clients.splice(0)) c.close();
		server.throttle(0, 0);
	});

	it('first activation "new": mail already there stays, new mail is delivered once with Graph\'s ids; the next poll follows the saved delta link', async () => {
		const mbx = newMailbox();
		server.addMessage(mbx, 'inbox', message('old-1'), { received: OLD });
		server.addMessage(mbx, 'inbox', message('old-2'), { received: OLD });
		const h = watch(mbx);
		const start = server.allRequests.length;
		expect(await h.watcher.start()).toEqual({});
		expect(h.runs).toHaveLength(0);
		const first = requestsOf(mbx, start).filter((r) => r.path.endsWith('/messages/delta'));
		expect(first).toHaveLength(1);
		expect(first[0].query.$select).toBe('id,isRead,receivedDateTime,internetMessageId,conversationId,categories,webLink,flag');
		expect(first[0].query.$skiptoken ?? first[0].query.$deltatoken).toBeUndefined();
		expect(first[0].prefer).toContain('odata.maxpagesize=1000');
		expect(first[0].prefer).toContain('IdType="ImmutableId"');
		const saved = h.state()!.folders.inbox;
		expect(saved.syncState).toContain('$deltatoken=');
		expect(saved.activatedAt).toBeDefined();

		const { immutableId } = server.addMessage(mbx, 'inbox', message('new-1'), { categories: ['Blue category'] });
		const before = server.allRequests.length;
		await h.poll();
		await until(() => h.runs.length === 1, 60_000, 'the delivery');
		const delta = requestsOf(mbx, before).find((r) => r.path.endsWith('/messages/delta'))!;
		expect(delta.query.$deltatoken).toBe(new URL(saved.syncState!).searchParams.get('$deltatoken'));
		const [run] = h.runs;
		expect(run.message).toMatchObject({ mailbox: mbx, folder: 'Inbox', itemId: immutableId, messageId: '<new-1@example.test>', isRead: false, categories: ['Blue category'], attempt: 1, key: `${mbx}/inbox/i:${immutableId}` });
		expect(run.message.conversationId).toEqual(expect.any(String));
		expect(run.message.source.equals(message('new-1'))).toBe(true);
		// its properties came with the delta page: only its MIME content is read (no size limit)
		const reads = requestsOf(mbx, before).filter((r) => r.path.includes(immutableId));
		expect(reads.map((r) => [r.method, r.path.endsWith('/$value') ? '$value' : 'message'])).toEqual([['GET', '$value']]);
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

	it('a changed message starts no run: a flag or category on older mail, a delivered message marked read by its action or changed later', async () => {
		const mbx = newMailbox();
		const old = server.addMessage(mbx, 'inbox', message('old'), { received: OLD });
		const h = watch(mbx, { afterProcessing: 'markRead' });
		await h.watcher.start();
		const fresh = server.addMessage(mbx, 'inbox', message('fresh'));
		await h.poll();
		await until(() => server.folderMessages(mbx, 'inbox').find((m) => m.immutableId === fresh.immutableId)!.isRead, 60_000, 'marked read');
		const client = await connect(mbx)();
		await client.setFlag([old.immutableId, fresh.immutableId], 'flagged');
		await client.setCategories([old.immutableId, fresh.immutableId], ['Red category']);
		const before = server.allRequests.length;
		await h.poll();
		await h.poll();
		// Graph reported both as changed: neither is run again
		const delta = requestsOf(mbx, before).filter((r) => r.path.endsWith('/messages/delta'));
		expect(delta.length).toBeGreaterThan(0);
		expect(h.subjects()).toEqual(['fresh']);
		// new mail still goes through
		server.addMessage(mbx, 'inbox', message('later'));
		await h.poll();
		await until(() => h.runs.length === 2);
		expect(h.subjects()).toEqual(['fresh', 'later']);
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
		await until(() => isRecent(first.state()!.folders.inbox, fingerprint('<done@example.test>')));
		await first.watcher.stop();
		const saved = first.state()!;
		expect(Object.values(saved.folders.inbox.pending)).toEqual([expect.objectContaining({ s: 'new', m: fingerprint('<under-way@example.test>') })]);

		server.addMessage(mbx, 'inbox', message('after-restart'));
		const second = watch(mbx, { state: JSON.parse(JSON.stringify(saved)) as unknown }, 'manual');
		await second.watcher.start();
		await until(() => second.runs.length === 2);
		expect(second.subjects()).toEqual(['under-way', 'after-restart']);
		expect(second.runs[0].message.key).toBe(first.runs[1].message.key);
		// taken in before the restart: its properties read with it, as complete as from a delta page
		expect(second.runs[0].message).toMatchObject({ messageId: '<under-way@example.test>', isRead: false, categories: [], flagStatus: 'notFlagged', conversationId: expect.any(String), received: expect.any(Date) });
		expect(second.runs[1].message).toMatchObject({ messageId: '<after-restart@example.test>', isRead: false, categories: [], flagStatus: 'notFlagged', conversationId: expect.any(String), received: expect.any(Date) });
		second.runs[0].resolve(false);
		second.runs[1].resolve(true);
		await until(() => Object.keys(second.state()!.folders.inbox.pending).length === 0);
		await second.poll();
		expect(second.subjects()).toEqual(['under-way', 'after-restart']);
	});

	it('a delta link Graph no longer accepts (410 SyncStateNotFound): synced from the start, nothing delivered twice, old mail not flooded', async () => {
		const mbx = newMailbox();
		server.addMessage(mbx, 'inbox', message('ancient'), { received: OLD });
		server.addMessage(mbx, 'inbox', message('just-before-activation'));
		const h = watch(mbx);
		await h.watcher.start();
		server.addMessage(mbx, 'inbox', message('one'));
		server.addMessage(mbx, 'inbox', message('two'));
		await h.poll();
		await until(() => isRecent(h.state()!.folders.inbox, fingerprint('<two@example.test>')));
		server.expireDeltaTokens();
		server.addMessage(mbx, 'inbox', message('three'));
		const before = server.allRequests.length;
		await h.poll();
		await until(() => h.runs.length === 3);
		await h.poll();
		expect(h.subjects()).toEqual(['one', 'two', 'three']);
		expect(h.events.filter((e) => e.type === 'syncReset')).toEqual([{ type: 'syncReset', folder: 'Inbox', reason: 'invalidSyncState' }]);
		const deltas = requestsOf(mbx, before).filter((r) => r.path.endsWith('/messages/delta'));
		expect([deltas[0].status, deltas[0].errorCode]).toEqual([410, 'SyncStateNotFound']);
		expect(deltas[1].query.$deltatoken ?? deltas[1].query.$skiptoken).toBeUndefined();
		expect(h.state()!.folders.inbox.resyncSince).toBeUndefined();
	});

	it('after processing: mark read, move and delete (Deleted Items or permanently) only after the run succeeded; a failed run is retried with a new attempt', async () => {
		const read = newMailbox();
		const h = watch(read, { afterProcessing: 'markRead' }, 'manual');
		await h.watcher.start();
		server.addMessage(read, 'inbox', message('to-read'));
		await h.poll();
		await until(() => h.runs.length === 1);
		await h.poll();
		expect(server.folderMessages(read, 'inbox')[0].isRead).toBe(false);
		h.runs[0].reject(new Error('the workflow failed'));
		await until(() => h.events.some((e) => e.type === 'runFailed'));
		await h.poll();
		await until(() => h.runs.length === 2);
		expect(h.runs[1].message.attempt).toBe(2);
		expect(server.folderMessages(read, 'inbox')[0].isRead).toBe(false);
		const before = server.allRequests.length;
		h.runs[1].resolve(true);
		await until(() => server.folderMessages(read, 'inbox')[0].isRead, 60_000, 'marked read');
		const patch = requestsOf(read, before).filter((r) => r.method === 'PATCH');
		expect(patch.map((r) => [r.path.endsWith(`/messages/${h.runs[1].message.itemId}`), JSON.parse(r.body)])).toEqual([[true, { isRead: true }]]);

		const moved = newMailbox();
		const doneId = server.createFolder(moved, 'msgfolderroot', 'Done');
		const m = watch(moved, { afterProcessing: 'move', moveTo: 'Done' }, 'manual');
		await m.watcher.start();
		server.addMessage(moved, 'inbox', message('to-move'));
		await m.poll();
		await until(() => m.runs.length === 1);
		expect(server.folderMessages(moved, 'Done')).toHaveLength(0);
		const beforeMove = server.allRequests.length;
		m.runs[0].resolve(true);
		await until(() => server.folderMessages(moved, 'Done').length === 1, 60_000, 'moved');
		expect(server.folderMessages(moved, 'inbox')).toHaveLength(0);
		const move = requestsOf(moved, beforeMove).find((r) => r.path.endsWith('/move'))!;
		expect(JSON.parse(move.body)).toEqual({ destinationId: doneId });
		// the message moved out of Inbox comes back in the next delta as removed: nothing to do
		await m.poll();
		expect(m.runs).toHaveLength(1);

		for (const mode of ['trash', 'hard'] as const) {
			const deleted = newMailbox();
			const d = watch(deleted, { afterProcessing: 'delete', deleteMode: mode }, 'manual');
			await d.watcher.start();
			server.addMessage(deleted, 'inbox', message('to-delete'));
			await d.poll();
			await until(() => d.runs.length === 1);
			// refused as a duplicate (it ran before a restart): left as it is
			d.runs[0].resolve(false);
			await until(() => Object.keys(d.state()!.folders.inbox.pending).length === 0);
			expect(server.folderMessages(deleted, 'inbox')).toHaveLength(1);
			server.addMessage(deleted, 'inbox', message('to-delete-2'));
			await d.poll();
			await until(() => d.runs.length === 2);
			const beforeDelete = server.allRequests.length;
			d.runs[1].resolve(true);
			await until(() => server.folderMessages(deleted, 'inbox').length === 1 && requestsOf(deleted, beforeDelete).some((r) => r.status === 204), 60_000, 'deleted');
			expect(server.folderMessages(deleted, 'inbox').map((x) => x.internetMessageId)).toEqual(['<to-delete@example.test>']);
			expect(server.folderMessages(deleted, 'deleteditems')).toHaveLength(mode === 'trash' ? 1 : 0);
			const request = requestsOf(deleted, beforeDelete).find((r) => r.status === 204)!;
			expect(mode === 'trash' ? request.method === 'DELETE' : request.method === 'POST' && request.path.endsWith('/permanentDelete')).toBe(true);
		}
	});

	it('after-processing actions of several runs go in one $batch, each message with its own result: one gone meanwhile is dropped, the others are marked read', async () => {
		const mbx = newMailbox();
		const h = watch(mbx, { afterProcessing: 'markRead' }, 'manual');
		await h.watcher.start();
		for (let i = 1; i <= 5; i++) server.addMessage(mbx, 'inbox', message(`batch-${i}`));
		await h.poll();
		await until(() => h.runs.length === 5);
		const client = await connect(mbx)();
		expect((await client.delete([h.runs[2].message.itemId], 'hard'))[0].ok).toBe(true);
		const beforeTop = server.requests.length;
		// the runs end while no poll runs; their actions wait for the next poll
		await h.watcher.stop();
		const state = h.state();
		for (const run of h.runs) run.resolve(true);
		await until(() => Object.values(h.state()!.folders.inbox.pending).filter((e) => e.s === 'act').length === 5, 60_000, 'all five to act on');
		const next = watch(mbx, { afterProcessing: 'markRead', state: h.state() ?? state }, 'manual');
		await next.watcher.start();
		await until(() => Object.keys(next.state()!.folders.inbox.pending).length === 0, 60_000, 'all acted on');
		const batches = server.requests.slice(beforeTop).filter((r) => r.path === '/v1.0/$batch');
		expect(batches).toHaveLength(1);
		expect(batches[0].batch!.map((r) => [r.method, r.status])).toEqual([
			['PATCH', 200],
			['PATCH', 200],
			['PATCH', 404],
			['PATCH', 200],
			['PATCH', 200],
		]);
		expect(next.events).toContainEqual({ type: 'gone', folder: 'Inbox', itemId: h.runs[2].message.itemId });
		expect(server.folderMessages(mbx, 'inbox').map((m) => [m.internetMessageId, m.isRead])).toEqual([1, 2, 4, 5].map((i) => [`<batch-${i}@example.test>`, true]));
		expect(next.runs).toHaveLength(0);
	});

	it('throttling (429 with Retry-After) is waited out within the poll; a lasting failure is reported and recovers', async () => {
		const mbx = newMailbox();
		const h = watch(mbx);
		await h.watcher.start();
		server.addMessage(mbx, 'inbox', message('busy'));
		server.throttle(2, 0);
		const before = server.allRequests.length;
		await h.poll();
		await until(() => h.runs.length === 1);
		expect(h.events.some((e) => e.type === 'failing')).toBe(false);
		expect(server.allRequests.slice(before).filter((r) => r.status === 429)).toHaveLength(2);

		server.throttle(1000, 0, 503);
		h.watcher.fetchNow();
		await until(() => h.events.some((e) => e.type === 'failing'), 60_000, 'failing');
		expect(h.events.find((e) => e.type === 'failing')).toMatchObject({ error: { code: 'SERVER', causeCode: 'TooManyRequests' } });
		server.throttle(0, 0);
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
		expect((await client.delete([first.runs[0].message.itemId], 'hard'))[0].ok).toBe(true);
		const second = watch(mbx, { state: first.state() });
		expect(await second.watcher.start()).toEqual({});
		expect(second.runs).toHaveLength(0);
		expect(second.events).toContainEqual({ type: 'gone', folder: 'Inbox', itemId: first.runs[0].message.itemId });
		expect(second.state()!.folders.inbox.pending).toEqual({});
	});

	it('a message over the size limit is skipped and reported without downloading its MIME content', async () => {
		const mbx = newMailbox();
		const h = watch(mbx, { maxSizeBytes: 500 });
		await h.watcher.start();
		const big = server.addMessage(mbx, 'inbox', message('big', 'x'.repeat(2000)));
		server.addMessage(mbx, 'inbox', message('small'));
		const before = server.allRequests.length;
		await h.poll();
		await until(() => h.runs.length === 1);
		expect(h.subjects()).toEqual(['small']);
		expect(h.events).toContainEqual(expect.objectContaining({ type: 'skipped', reason: 'oversized', folder: 'Inbox', itemId: big.immutableId }));
		// with a size limit: the message's properties with its size first, and no MIME content for the big one
		const bigReads = requestsOf(mbx, before).filter((r) => r.path.includes(big.immutableId));
		expect(bigReads.map((r) => [r.path.endsWith('/$value') ? '$value' : 'message', r.query.$expand ?? null])).toEqual([['message', "singleValueExtendedProperties($filter=id eq 'Integer 0x0E08')"]]);
		await h.poll();
		expect(h.subjects()).toEqual(['small']);
	});

	it('real mail from the generator comes out byte for byte and parses like the IMAP trigger\'s; Test step shows the newest message and changes nothing', async () => {
		const mbx = newMailbox();
		const h = watch(mbx);
		await h.watcher.start();
		const generated = [0, 1, 2, 3].map((i) => generateMessage(7, i));
		for (const g of generated) server.addMessage(mbx, 'inbox', g.raw);
		await h.poll();
		await until(() => h.runs.length === generated.length);
		for (const [i, g] of generated.entries()) {
			expect(h.runs[i].message.source.equals(g.raw)).toBe(true);
			expect((await parseMessage(h.runs[i].message.source)).json.messageId).toBe(g.messageId);
		}
		const client = await connect(mbx)();
		server.addMessage(mbx, 'inbox', message('older'), { received: OLD });
		const newest = await newestGraphMessage(client, 'Inbox');
		expect(newest?.messageId).toBe(generated.at(-1)!.messageId);
		expect(server.folderMessages(mbx, 'inbox').every((m) => !m.isRead)).toBe(true);
	});
});

/** n8n's trigger context for the node (test/integration/helpers/trigger-context.ts). */
function triggerContext(options: Omit<TriggerContextOptions, 'node'>) {
	return sharedTriggerContext({ node: { id: 'graph-node', name: 'Mailbox Exchange Trigger', type: 'n8n-nodes-mailbox.mailboxEwsTrigger', typeVersion: 1.2 }, ...options });
}

describe('Mailbox Exchange Trigger with Access Via: Microsoft Graph', () => {
	const node = new MailboxEwsTrigger();
	const delegated = (extra: IDataObject = {}) => ({
		mailboxMicrosoftOAuth2Api: { api: 'graph', mailbox: NODE_MBX, sharedMailboxes: 'shared@contoso.test', graphHost: '127.0.0.1', oauthTokenData: { access_token: oauth.issueToken('node', 3600), token_type: 'Bearer' }, ...extra },
	});
	const params = (extra: Record<string, unknown> = {}) => ({ accessVia: 'graph', authentication: 'microsoftOAuth2', mailbox: '', graphUrl: server.url, folders: 'Inbox', firstActivation: 'new', afterProcessing: 'markRead', pollMinutes: 0.1, options: { includeRaw: true }, ...extra });

	it('offers Access Via with EWS as the default, so saved workflows keep EWS; the Graph URL only for Graph', () => {
		const props = node.description.properties;
		expect(props[0]).toMatchObject({ name: 'accessVia', default: 'ews' });
		expect(props.find((p) => p.name === 'graphUrl')?.displayOptions?.show).toEqual({ accessVia: ['graph'] });
		expect(props.find((p) => p.name === 'ewsUrl')?.displayOptions?.show).toMatchObject({ accessVia: ['ews'] });
	});

	it('a signed-in user\'s own mailbox (/me): each new message once with the IMAP trigger\'s item shape plus Graph\'s id, conversation and categories; marked read after the run', async () => {
		const { ctx, emitted, staticData } = triggerContext({ params: params(), credentials: delegated() });
		const start = server.allRequests.length;
		const response = await node.trigger.call(ctx);
		try {
			const { immutableId } = server.addMessage(NODE_MBX, 'inbox', message('node-1'), { categories: ['Green category'] });
			await until(() => emitted.length === 1, 60_000, 'the emit');
			const [{ data, key }] = emitted;
			const item = data[0][0];
			expect(key).toBe(deliveryKey('mailbox-graph:wf-1:graph-node', `${NODE_MBX}/inbox/i:${immutableId}`, 1));
			expect(key!.length).toBeLessThanOrEqual(255);
			expect(item.json).toMatchObject({ subject: 'node-1', messageId: '<node-1@example.test>', mailbox: NODE_MBX, folder: 'Inbox', id: immutableId, categories: ['Green category'], isRead: false, flagStatus: 'notFlagged' });
			expect(item.json.conversationId).toEqual(expect.any(String));
			expect(item.binary?.raw?.mimeType).toBe('message/rfc822');
			await until(() => server.folderMessages(NODE_MBX, 'inbox').every((m) => m.isRead), 60_000, 'marked read');
			expect((staticData.watch as { folders: Record<string, unknown> }).folders.inbox).toBeDefined();
			// the user's own mailbox is /me
			expect(server.allRequests.slice(start).filter((r) => r.principal === 'node').every((r) => r.path.startsWith('/v1.0/me/'))).toBe(true);
		} finally {
			await response.closeFunction?.();
		}
	});

	it('Test step emits the newest message of a shared mailbox (/users/{address}) without changing anything', async () => {
		server.addMessage('shared@contoso.test', 'inbox', message('shared-newest'));
		const { ctx, emitted } = triggerContext({ params: params({ mailbox: 'shared@contoso.test' }), credentials: delegated(), mode: 'manual' });
		const start = server.allRequests.length;
		const response = await node.trigger.call(ctx);
		await response.manualTriggerFunction!();
		expect(emitted[0].data[0][0].json).toMatchObject({ subject: 'shared-newest', mailbox: 'shared@contoso.test' });
		expect(server.folderMessages('shared@contoso.test', 'inbox').every((m) => !m.isRead)).toBe(true);
		expect(server.allRequests.slice(start).every((r) => r.path.startsWith('/v1.0/users/shared@contoso.test/'))).toBe(true);
	});

	it('refuses what Graph cannot take, naming the field: a credential whose token is for the Exchange protocols, a password, a Graph URL the token must not go to', async () => {
		const cases: Array<[Record<string, unknown>, Record<string, IDataObject>, string]> = [
			[params(), delegated({ api: 'exchange' }), 'API: Microsoft Graph'],
			[params({ authentication: 'password' }), delegated(), 'under Authentication'],
			[params({ graphUrl: 'https://graph.example.net/v1.0' }), delegated(), 'Graph URL: the Microsoft 365 access token for Graph goes only to Microsoft Graph'],
		];
		for (const [p, credentials, words] of cases) {
			const { ctx } = triggerContext({ params: p, credentials });
			const error = await node.trigger.call(ctx).then(
				() => undefined,
				(e: unknown) => e as { message: string; description?: string; context?: IDataObject },
			);
			expect(error).toBeDefined();
			expect(`${error!.message} ${error!.description}`).toContain(words);
		}
	});
});
