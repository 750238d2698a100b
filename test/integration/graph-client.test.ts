/**
 * The Microsoft Graph client core (lib/graph/client.ts) against the local HTTPS Graph endpoint: the
 * requests it sends (Bearer token, client-request-id, Prefer: IdType="ImmutableId", the mailbox
 * root, $select and odata.maxpagesize, $batch bodies), what it makes of the answers (folders by
 * path, delta pages and their links, pages of messages, MIME, per-message results of bulk actions,
 * automatic replies), renewal after a 401, throttling waited out for Retry-After (counted in
 * requests, with an injected sleep), certificate checks, and every failure as a MailboxError that
 * names the field and the fix. The app's MSAL runs in a child process that trusts the test
 * certificate (as n8n would with NODE_EXTRA_CA_CERTS).
 */
import fs from 'node:fs';
import { isResyncRequired, MailboxError } from '../../lib/errors';
import { connectGraph, type GraphClient, type GraphClientOptions, type GraphExchange } from '../../lib/graph/client';
import { GraphServer, type GraphRequestLog } from '../servers/graph';
import { MicrosoftAuthority } from '../servers/microsoft';
import { OAuthServer } from '../servers/oauth';
import { closedPort } from '../servers/ports';
import { localCertificate, runFixture } from './helpers/local-tls';

const ALICE = 'alice@contoso.test';
const SHARED = 'shared@contoso.test';
const OTHER = 'other@contoso.test';
const SECRET = 'Graph-App-Secret~9';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function mime(subject: string, body = 'Hello.\r\n', messageId = `<${subject.replace(/\W+/g, '-')}-${Math.random().toString(36).slice(2)}@contoso.test>`): Buffer {
	return Buffer.from(
		[`From: Bob <bob@example.test>`, `To: ${ALICE}`, `Subject: ${subject}`, `Message-ID: ${messageId}`, 'Date: Mon, 01 Jan 2024 10:00:00 +0000', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', body].join(
			'\r\n',
		),
	);
}

describe('Microsoft Graph client core against the local Graph endpoint', () => {
	let dir: string;
	let certPath: string;
	let ca: Buffer;
	let oauth: OAuthServer;
	let server: GraphServer;
	let authority: MicrosoftAuthority;
	/** Tokens issued for Exchange Online (audience outlook.office365.com) rather than Graph. */
	const exchangeTokens = new Set<string>();
	/** When set, every token is rejected the second time it is used (an app token revoked mid-run). */
	let rejectSecondUse = false;
	const uses = new Map<string, number>();
	const clients: GraphClient[] = [];
	let aliceToken: string;

	const connect = async (options: Partial<GraphClientOptions> = {}): Promise<{ client: GraphClient; exchanges: GraphExchange[] }> => {
		const exchanges: GraphExchange[] = [];
		const client = await connectGraph({ baseUrl: server.url, ca, auth: { type: 'token', token: aliceToken }, onExchange: (e) => exchanges.push(e), ...options });
		clients.push(client);
		return { client, exchanges };
	};
	/** The requests the endpoint saw from now on (top-level; a $batch carries its inner requests). */
	const since = () => {
		const start = server.requests.length;
		return (): GraphRequestLog[] => server.requests.slice(start);
	};
	const failure = async (work: Promise<unknown>): Promise<MailboxError> => {
		try {
			await work;
		} catch (error) {
			expect(error).toBeInstanceOf(MailboxError);
			return error as MailboxError;
		}
		throw new Error('expected a failure');
	};
	const noWait = () => {
		const waits: number[] = [];
		return { waits, sleep: async (ms: number) => void waits.push(ms) };
	};

	beforeAll(async () => {
		let key: Buffer;
		({ dir, certPath, ca, key } = localCertificate('graph-client'));
		oauth = await OAuthServer.start({ users: ['alice', 'graphapp'] });
		authority = await new MicrosoftAuthority({ key, cert: ca }, (user, lifetime) => oauth.issueToken(user, lifetime)).start();
		authority.register({ tenant: 'contoso', clientId: 'graph-app', clientSecret: SECRET, user: 'graphapp' });
		server = await GraphServer.start({
			tls: { key, cert: ca },
			tokenInfo: (token) => {
				if (rejectSecondUse) {
					const n = (uses.get(token) ?? 0) + 1;
					uses.set(token, n);
					if (n === 2) return undefined;
				}
				const user = oauth.tokenUser(token);
				if (!user) return undefined;
				return { user, audience: exchangeTokens.has(token) ? 'https://outlook.office365.com' : (authority.tokenAudience(token) ?? 'https://graph.microsoft.com') };
			},
			mailboxes: [ALICE, SHARED, OTHER],
			access: { alice: [SHARED], graphapp: [ALICE, SHARED] },
		});
		aliceToken = oauth.issueToken('alice');
		server.createFolder(ALICE, 'inbox', 'Projects');
		server.createFolder(ALICE, 'Inbox/Projects', '2024');
		server.createFolder(ALICE, 'msgfolderroot', 'Receipts');
	});
	afterEach(() => {
		for (const c of clients.splice(0)) c.close();
		rejectSecondUse = false;
		server.throttle(0, 0);
	});
	afterAll(async () => {
		await server?.stop();
		await authority?.stop();
		await oauth?.stop();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it('every request: Bearer token, a fresh client-request-id (as onExchange reports it), Prefer: IdType="ImmutableId", /me for the own mailbox', async () => {
		const requests = since();
		const { client, exchanges } = await connect();
		const inbox = await client.resolveFolder('Inbox');
		expect(inbox).toMatchObject({ displayName: 'Inbox', path: 'Inbox', wellKnownName: 'inbox', totalItemCount: expect.any(Number), childFolderCount: 1 });
		expect(inbox.id).toMatch(/^[A-Za-z0-9_-]+=*$/);
		const [get] = requests();
		expect(get).toMatchObject({ method: 'GET', path: '/v1.0/me/mailFolders/inbox', authorization: 'bearer', principal: 'alice', mailbox: ALICE, status: 200 });
		expect(get.prefer).toBe('IdType="ImmutableId"');
		expect(get.clientRequestId).toMatch(UUID);
		expect(exchanges).toEqual([expect.objectContaining({ method: 'GET', path: '/v1.0/me/mailFolders/inbox', status: 200, renewed: false, waits: [], clientRequestId: get.clientRequestId })]);
		// cached per client: no second request
		await client.resolveFolder('inbox');
		expect(requests()).toHaveLength(1);
	});

	it('finds folders by well-known name, English display name and display path; names the missing level', async () => {
		const { client } = await connect();
		expect(await client.resolveFolder('Junk Email')).toMatchObject({ wellKnownName: 'junkemail', displayName: 'Junk Email' });
		expect(await client.resolveFolder('deleted items')).toMatchObject({ wellKnownName: 'deleteditems' });
		expect(await client.resolveFolder('Sent Items')).toMatchObject({ wellKnownName: 'sentitems' });
		const inbox = await client.resolveFolder('inbox');
		const projects = await client.resolveFolder('INBOX/projects/2024');
		expect(projects).toMatchObject({ displayName: '2024', path: 'Inbox/Projects/2024', childFolderCount: 0 });
		expect((await client.resolveFolder('Inbox/Projects')).id).toBe(projects.parentFolderId);
		expect((await client.resolveFolder('Inbox/Projects')).parentFolderId).toBe(inbox.id);
		expect(await client.resolveFolder('receipts')).toMatchObject({ displayName: 'Receipts', path: 'Receipts' });
		const e = await failure(client.resolveFolder('Inbox/Nope'));
		expect(e).toMatchObject({ code: 'NOT_FOUND', field: 'folders' });
		expect(e.message).toContain('"Nope" was not found in "Inbox"');
		const top = await failure(client.resolveFolder('Nowhere/Else'));
		expect(top.message).toContain('"Nowhere" was not found at the top of the mailbox');
	});

	it('follows @odata.nextLink through the pages of child folders', async () => {
		const parent = server.createFolder(ALICE, 'msgfolderroot', 'Many');
		for (let i = 1; i <= 105; i++) server.createFolder(ALICE, parent, `Sub ${String(i).padStart(3, '0')}`);
		const { client } = await connect();
		const requests = since();
		expect(await client.resolveFolder('Many/sub 105')).toMatchObject({ displayName: 'Sub 105', path: 'Many/Sub 105' });
		const lists = requests().filter((r) => r.path.endsWith('/childFolders'));
		expect(lists).toHaveLength(2);
		expect(lists[0].query).toMatchObject({ $top: '100' });
		expect(lists[1].query).toMatchObject({ $top: '100', $skip: '100' });
		const listed = await client.listFolders({ under: 'Many' });
		expect(listed).toHaveLength(105);
		server.deleteFolder(ALICE, 'Many');
	});

	it('lists folders (recursively with paths), creates, renames and deletes one', async () => {
		const { client } = await connect();
		const top = await client.listFolders();
		expect(top.map((f) => f.path)).toEqual(expect.arrayContaining(['Inbox', 'Sent Items', 'Deleted Items', 'Junk Email', 'Receipts']));
		const all = await client.listFolders({ recursive: true });
		expect(all.map((f) => f.path)).toEqual(expect.arrayContaining(['Inbox', 'Inbox/Projects', 'Inbox/Projects/2024']));
		expect(await client.listFolders({ under: 'Inbox' })).toEqual([expect.objectContaining({ path: 'Inbox/Projects' })]);

		const requests = since();
		const created = await client.createFolder('Inbox/Projects', 'Clients');
		expect(created).toMatchObject({ displayName: 'Clients', path: 'Inbox/Projects/Clients', totalItemCount: 0 });
		const post = requests().at(-1)!;
		expect(post).toMatchObject({ method: 'POST', status: 201, contentType: 'application/json' });
		expect(post.path).toMatch(/^\/v1\.0\/me\/mailFolders\/[A-Za-z0-9_-]+=*\/childFolders$/);
		expect(JSON.parse(post.body)).toEqual({ displayName: 'Clients' });
		const topLevel = await client.createFolder(undefined, 'Invoices');
		expect(topLevel.path).toBe('Invoices');
		expect(requests().at(-1)).toMatchObject({ method: 'POST', path: '/v1.0/me/mailFolders' });
		const duplicate = await failure(client.createFolder(undefined, 'invoices'));
		expect(duplicate).toMatchObject({ code: 'SERVER', causeCode: 'ErrorFolderExists' });

		const renamed = await client.renameFolder('Inbox/Projects/Clients', 'Customers');
		expect(renamed).toMatchObject({ id: created.id, displayName: 'Customers', path: 'Inbox/Projects/Customers' });
		expect(requests().at(-1)).toMatchObject({ method: 'PATCH', path: `/v1.0/me/mailFolders/${created.id}`, body: JSON.stringify({ displayName: 'Customers' }) });
		expect(await client.resolveFolder('Inbox/Projects/Customers')).toMatchObject({ id: created.id });
		await client.deleteFolder('Inbox/Projects/Customers');
		await client.deleteFolder('Invoices');
		expect(requests().filter((r) => r.method === 'DELETE').map((r) => r.status)).toEqual([204, 204]);
		expect((await failure(client.resolveFolder('Invoices'))).code).toBe('NOT_FOUND');
	});

	it('delta: a first page with $select and odata.maxpagesize, the nextLink followed as given, then the deltaLink with changes and removals; an expired link asks for a resync', async () => {
		const folder = server.createFolder(ALICE, 'msgfolderroot', 'Delta');
		const added = [1, 2, 3].map((i) => server.addMessage(ALICE, 'Delta', mime(`Delta ${i}`), { received: new Date(Date.UTC(2024, 0, i)) }));
		const { client, exchanges } = await connect();
		const requests = since();
		const options = { select: ['isRead', 'receivedDateTime', 'internetMessageId', 'subject'], maxPageSize: 2 };
		const first = await client.deltaPage(folder, undefined, options);
		const [req1] = requests();
		expect(req1).toMatchObject({ method: 'GET', path: `/v1.0/me/mailFolders/${folder}/messages/delta`, status: 200 });
		expect(req1.query).toEqual({ $select: 'id,isRead,receivedDateTime,internetMessageId,subject' });
		expect(req1.prefer).toBe('IdType="ImmutableId", odata.maxpagesize=2');
		expect(first.entries).toHaveLength(2);
		expect(first.deltaLink).toBeUndefined();
		expect(first.nextLink).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/v1\.0\//);
		expect(first.entries[0]).toMatchObject({ id: added[0].immutableId, isRead: false, subject: 'Delta 1', receivedDateTime: new Date(Date.UTC(2024, 0, 1)) });
		expect(first.entries[0].internetMessageId).toMatch(/^<Delta-1-/);
		expect(first.entries[0]).not.toHaveProperty('@odata.etag');

		const second = await client.deltaPage(folder, first.nextLink, options);
		expect(second.entries.map((e) => e.id)).toEqual([added[2].immutableId]);
		expect(second.deltaLink).toBeDefined();
		const req2 = requests()[1];
		// the link exactly as Graph gave it
		expect(req2.path).toBe(new URL(first.nextLink!).pathname);
		expect(req2.query).toEqual(Object.fromEntries(new URL(first.nextLink!).searchParams));
		expect(req2.prefer).toBe('IdType="ImmutableId", odata.maxpagesize=2');
		expect(exchanges.at(-1)!.path).toMatch(/token=\[hidden\]/);

		// changes: one read, one moved out, one new
		await client.markRead([added[0].immutableId]);
		await client.move([added[1].immutableId], 'deleteditems');
		const later = server.addMessage(ALICE, 'Delta', mime('Delta 4'));
		let changes = await client.deltaPage(folder, second.deltaLink, options);
		const entries = [...changes.entries];
		while (changes.nextLink) {
			changes = await client.deltaPage(folder, changes.nextLink, options);
			entries.push(...changes.entries);
		}
		const byId = new Map(entries.map((e) => [e.id, e]));
		expect(entries).toHaveLength(3);
		expect(byId.get(added[0].immutableId)).toMatchObject({ isRead: true });
		expect(byId.get(added[1].immutableId)).toMatchObject({ removed: 'deleted' });
		expect(byId.get(later.immutableId)).toMatchObject({ subject: 'Delta 4', isRead: false });
		expect(changes.deltaLink).toBeDefined();

		server.expireDeltaTokens();
		const expired = await failure(client.deltaPage(folder, changes.deltaLink, options));
		expect(isResyncRequired(expired)).toBe(true);
		expect(expired).toMatchObject({ code: 'PROTOCOL', causeCode: 'SyncStateNotFound' });
		expect(isResyncRequired(new MailboxError('NOT_FOUND', 'x', { serverCode: 'ErrorItemNotFound' }))).toBe(false);

		// a link to another host is refused before anything is sent (the token stays home)
		const before = server.requests.length;
		const foreign = await failure(client.deltaPage(folder, 'https://evil.example.test/v1.0/me/mailFolders/x/messages/delta?$deltatoken=abc', options));
		expect(foreign).toMatchObject({ code: 'PROTOCOL', field: 'baseUrl', causeCode: 'FOREIGN_LINK' });
		expect(server.requests.length).toBe(before);
		server.deleteFolder(ALICE, 'Delta');
	});

	it('delta since a date: $filter=receivedDateTime ge ... on the first request only', async () => {
		const folder = server.createFolder(ALICE, 'msgfolderroot', 'Since');
		server.addMessage(ALICE, 'Since', mime('Old'), { received: new Date(Date.UTC(2023, 5, 1)) });
		const recent = server.addMessage(ALICE, 'Since', mime('New'), { received: new Date(Date.UTC(2024, 5, 1)) });
		const { client } = await connect();
		const requests = since();
		const page = await client.deltaPage(folder, undefined, { select: ['subject'], maxPageSize: 10, receivedSince: new Date(Date.UTC(2024, 0, 1)) });
		expect(requests()[0].query).toMatchObject({ $filter: 'receivedDateTime ge 2024-01-01T00:00:00Z' });
		expect(page.entries.map((e) => e.id)).toEqual([recent.immutableId]);
		expect(page.deltaLink).toBeDefined();
		server.deleteFolder(ALICE, 'Since');
	});

	it('a message, its MIME as stored, and pages of messages up to the limit', async () => {
		server.createFolder(ALICE, 'msgfolderroot', 'Listing');
		const raw = mime('Bytes kept', 'Grüße, \u00e9t\u00e9.\r\n');
		const one = server.addMessage(ALICE, 'Listing', raw);
		for (let i = 1; i <= 4; i++) server.addMessage(ALICE, 'Listing', mime(`Listed ${i}`), { isRead: i % 2 === 0 });
		const { client } = await connect();
		expect(await client.getMessage(one.immutableId, ['subject', 'isRead'])).toMatchObject({ id: one.immutableId, subject: 'Bytes kept', isRead: false });
		const requests = since();
		expect((await client.getMime(one.immutableId)).equals(raw)).toBe(true);
		expect(requests()[0]).toMatchObject({ method: 'GET', path: `/v1.0/me/messages/${one.immutableId}/$value`, status: 200 });

		const pages = since();
		const listed = await client.listMessages('Listing', { top: 2, limit: 3, select: ['subject'], orderBy: 'receivedDateTime desc' });
		expect(listed).toHaveLength(3);
		const messagePages = pages().filter((r) => r.path.endsWith('/messages'));
		expect(messagePages.map((r) => r.query.$skip ?? '0')).toEqual(['0', '2']);
		expect(messagePages[0].query).toMatchObject({ $top: '2', $select: 'id,subject', $orderby: 'receivedDateTime desc' });
		const unread = await client.listMessages('Listing', { filter: 'isRead eq false', top: 2 });
		expect(unread.map((m) => m.subject).sort()).toEqual(['Bytes kept', 'Listed 1', 'Listed 3']);
		const found = await client.listMessages(undefined, { search: 'Listed', limit: 10 });
		expect(found.map((m) => m.subject).sort()).toEqual(['Listed 1', 'Listed 2', 'Listed 3', 'Listed 4']);
		expect((await failure(client.getMessage(one.immutableId.replace(/.{4}=*$/, 'AAAA')))).code).toMatch(/NOT_FOUND/);
		server.deleteFolder(ALICE, 'Listing');
	});

	it('bulk actions go out as $batch (20 a batch) with one result per message; one message goes alone', async () => {
		server.createFolder(ALICE, 'msgfolderroot', 'Bulk');
		const dest = server.createFolder(ALICE, 'msgfolderroot', 'Bulk Done');
		const ids = Array.from({ length: 23 }, (_, i) => server.addMessage(ALICE, 'Bulk', mime(`Bulk ${i}`)).immutableId);
		const { client } = await connect();

		let requests = since();
		const read = await client.markRead(ids);
		expect(read.every((r) => r.ok)).toBe(true);
		expect(read.map((r) => r.id)).toEqual(ids);
		const batches = requests();
		expect(batches.map((r) => [r.method, r.path, r.batch?.length])).toEqual([
			['POST', '/v1.0/$batch', 20],
			['POST', '/v1.0/$batch', 3],
		]);
		const body = JSON.parse(batches[0].body) as { requests: Array<{ id: string; method: string; url: string; headers: Record<string, string>; body: unknown }> };
		expect(body.requests[0]).toEqual({ id: '1', method: 'PATCH', url: `/me/messages/${ids[0]}`, headers: { Prefer: 'IdType="ImmutableId"', 'Content-Type': 'application/json' }, body: { isRead: true } });
		expect(new Set(body.requests.map((r) => r.id)).size).toBe(20);
		expect(batches[0].prefer).toBe('IdType="ImmutableId"');
		expect(server.folderMessages(ALICE, 'Bulk').every((m) => m.isRead)).toBe(true);

		requests = since();
		expect(await client.markRead([ids[0]], false)).toEqual([{ id: ids[0], ok: true }]);
		expect(requests().map((r) => [r.method, r.path, r.body])).toEqual([['PATCH', `/v1.0/me/messages/${ids[0]}`, JSON.stringify({ isRead: false })]]);

		const gone = ids[22].replace(/^(.{10})./, (_m, head: string) => `${head}${head[0] === 'A' ? 'B' : 'A'}`);
		const flagged = await client.setFlag([ids[1], ids[2], gone], 'flagged');
		expect(flagged.slice(0, 2)).toEqual([
			{ id: ids[1], ok: true },
			{ id: ids[2], ok: true },
		]);
		expect(flagged[2]).toMatchObject({ id: gone, ok: false, error: expect.any(MailboxError) });
		expect(['NOT_FOUND']).toContain(flagged[2].error!.code);
		await client.setCategories([ids[1], ids[2]], ['Red category', 'Invoices']);
		const state = new Map(server.folderMessages(ALICE, 'Bulk').map((m) => [m.immutableId, m]));
		expect(state.get(ids[1])).toMatchObject({ flagStatus: 'flagged', categories: ['Red category', 'Invoices'] });
		expect(state.get(ids[0])).toMatchObject({ isRead: false });

		requests = since();
		const moved = await client.move([ids[3], ids[4]], dest);
		expect(moved.map((r) => r.ok)).toEqual([true, true]);
		// immutable ids: a move keeps the id
		expect([...moved.newIds]).toEqual([
			[ids[3], ids[3]],
			[ids[4], ids[4]],
		]);
		const moveBody = JSON.parse(requests()[0].body) as { requests: Array<{ method: string; url: string; body: unknown }> };
		expect(moveBody.requests.map((r) => [r.method, r.url, r.body])).toEqual([
			['POST', `/me/messages/${ids[3]}/move`, { destinationId: dest }],
			['POST', `/me/messages/${ids[4]}/move`, { destinationId: dest }],
		]);
		const copied = await client.copy([ids[5]], dest);
		expect(copied[0].ok).toBe(true);
		expect(copied[0].newId).toBeDefined();
		expect(copied[0].newId).not.toBe(ids[5]);
		expect(server.folderMessages(ALICE, 'Bulk Done').map((m) => m.immutableId).sort()).toEqual([ids[3], ids[4], copied[0].newId].sort());

		requests = since();
		expect((await client.delete([ids[6], ids[7]], 'trash')).every((r) => r.ok)).toBe(true);
		expect((await client.delete([ids[8], ids[9]], 'hard')).every((r) => r.ok)).toBe(true);
		const [trash, hard] = requests().map((r) => (JSON.parse(r.body) as { requests: Array<{ method: string; url: string }> }).requests.map((x) => [x.method, x.url]));
		expect(trash).toEqual([
			['DELETE', `/me/messages/${ids[6]}`],
			['DELETE', `/me/messages/${ids[7]}`],
		]);
		expect(hard).toEqual([
			['POST', `/me/messages/${ids[8]}/permanentDelete`],
			['POST', `/me/messages/${ids[9]}/permanentDelete`],
		]);
		const deleted = server.folderMessages(ALICE, 'deleteditems').map((m) => m.immutableId);
		expect(deleted).toEqual(expect.arrayContaining([ids[6], ids[7]]));
		expect(deleted).not.toContain(ids[8]);
		expect(server.folderMessages(ALICE, 'Bulk').map((m) => m.immutableId)).not.toEqual(expect.arrayContaining([ids[8]]));
		server.deleteFolder(ALICE, 'Bulk');
		server.deleteFolder(ALICE, 'Bulk Done');
	});

	it('throttling: 429 waited out for Retry-After and the same request sent again, bounded by maxRetries and maxWaitMs', async () => {
		const { waits, sleep } = noWait();
		const { client, exchanges } = await connect({ sleep });
		const requests = since();
		server.throttle(2, 3);
		await client.resolveFolder('drafts');
		expect(waits).toEqual([3000, 3000]);
		expect(requests().map((r) => [r.path, r.status])).toEqual([
			['/v1.0/me/mailFolders/drafts', 429],
			['/v1.0/me/mailFolders/drafts', 429],
			['/v1.0/me/mailFolders/drafts', 200],
		]);
		expect(new Set(requests().map((r) => r.clientRequestId)).size).toBe(3);
		expect(exchanges.at(-1)).toMatchObject({ status: 200, waits: [3000, 3000] });

		// 503 too, with a Retry-After past maxWaitMs cut to it; past maxRetries the error names the throttling
		waits.length = 0;
		const bounded = await connect({ sleep, throttle: { maxRetries: 2, maxWaitMs: 1000 } });
		server.throttle(3, 120, 503);
		const e = await failure(bounded.client.resolveFolder('outbox'));
		expect(waits).toEqual([1000, 1000]);
		expect(e).toMatchObject({ code: 'SERVER', causeCode: 'TooManyRequests', step: 'command' });
		expect(e.message).toContain('HTTP 503');
	});

	it('throttling inside a $batch: only the throttled requests are sent again, after their Retry-After', async () => {
		server.createFolder(ALICE, 'msgfolderroot', 'Throttled');
		const ids = [1, 2, 3].map((i) => server.addMessage(ALICE, 'Throttled', mime(`T ${i}`)).immutableId);
		const { waits, sleep } = noWait();
		const { client, exchanges } = await connect({ sleep });
		const requests = since();
		server.throttle(2, 2);
		const results = await client.markRead(ids);
		expect(results.every((r) => r.ok)).toBe(true);
		expect(waits).toEqual([2000]);
		const sent = requests();
		expect(sent.map((r) => (r.batch ?? []).map((x) => x.status))).toEqual([[429, 429, 200], [200, 200]]);
		const again = (JSON.parse(sent[1].body) as { requests: Array<{ id: string; url: string }> }).requests;
		expect(again.map((r) => r.url)).toEqual([`/me/messages/${ids[0]}`, `/me/messages/${ids[1]}`]);
		expect(exchanges.map((x) => x.batch)).toEqual([[429, 429, 200], [200, 200]]);
		expect(server.folderMessages(ALICE, 'Throttled').every((m) => m.isRead)).toBe(true);

		// still throttled after the retries: that message's own result says so
		waits.length = 0;
		const bounded = await connect({ sleep, throttle: { maxRetries: 1 } });
		server.throttle(3, 1);
		const partly = await bounded.client.markRead([ids[0], ids[1]], false);
		expect(partly[0]).toMatchObject({ ok: false, error: { code: 'SERVER', causeCode: 'TooManyRequests' } });
		expect(partly[1]).toEqual({ id: ids[1], ok: true });
		expect(waits).toEqual([1000]);
		server.deleteFolder(ALICE, 'Throttled');
	});

	it('renews a rejected token (401) once per request and sends the request again; a renewed token rejected too is named', async () => {
		const old = oauth.issueToken('alice');
		const fresh = oauth.issueToken('alice');
		oauth.revoke(old);
		const renew = jest.fn(async () => fresh);
		const { client, exchanges } = await connect({ auth: { type: 'token', token: old, renew } });
		const requests = since();
		await client.resolveFolder('inbox');
		expect(renew).toHaveBeenCalledTimes(1);
		expect(requests().map((r) => [r.path, r.status])).toEqual([
			['/v1.0/me/mailFolders/inbox', 401],
			['/v1.0/me/mailFolders/inbox', 200],
		]);
		expect(exchanges).toEqual([expect.objectContaining({ status: 200, renewed: true })]);
		// the renewed token is kept for the next requests
		await client.resolveFolder('drafts');
		expect(renew).toHaveBeenCalledTimes(1);

		const stale = jest.fn(async () => 'issued-revoked-token');
		const other = await connect({ auth: { type: 'token', token: 'issued-expired-token', renew: stale } });
		const e = await failure(other.client.resolveFolder('inbox'));
		expect(stale).toHaveBeenCalledTimes(1);
		expect(e).toMatchObject({ code: 'AUTH', field: 'accessToken', causeCode: 'InvalidAuthenticationToken', step: 'login' });
		expect(e.message).toContain('also after renewing it');
		expect(e.message).toContain('the token is expired');
		expect(e.hint).toContain('Connect my account');
		expect(JSON.stringify({ ...e, message: e.message })).not.toContain('issued-');

		// no renew callback: one request, the 401 as it is
		const none = await connect({ auth: { type: 'token', token: 'issued-unknown-token' } });
		const requestsNone = since();
		expect(await failure(none.client.resolveFolder('inbox'))).toMatchObject({ code: 'AUTH', field: 'accessToken' });
		expect(requestsNone()).toHaveLength(1);
	});

	it('a token for Exchange Online rather than Graph: 401 naming Graph\'s permissions', async () => {
		const token = oauth.issueToken('alice');
		exchangeTokens.add(token);
		const { client } = await connect({ auth: { type: 'token', token } });
		const e = await failure(client.resolveFolder('inbox'));
		expect(e).toMatchObject({ code: 'AUTH', causeCode: 'InvalidAuthenticationToken', serverResponse: expect.stringContaining('Invalid audience') });
		expect(e.hint).toContain('Microsoft Graph');
	});

	it('another mailbox: /users/{address}; one the user may not open names Full Access; an unknown one names Mailbox', async () => {
		const requests = since();
		const shared = await connect({ mailbox: SHARED });
		expect(await shared.client.resolveFolder('inbox')).toMatchObject({ displayName: 'Inbox' });
		expect(requests()[0]).toMatchObject({ path: `/v1.0/users/${SHARED}/mailFolders/inbox`, mailbox: SHARED, principal: 'alice' });

		const other = await connect({ mailbox: OTHER });
		const denied = await failure(other.client.resolveFolder('inbox'));
		expect(denied).toMatchObject({ code: 'SERVER', field: 'mailbox', causeCode: 'ErrorAccessDenied' });
		expect(denied.hint).toContain(`Full Access to the mailbox ${OTHER}`);
		expect(denied.hint).toContain('Mail.ReadWrite');

		const nobody = await connect({ mailbox: 'nobody@contoso.test' });
		expect(await failure(nobody.client.resolveFolder('inbox'))).toMatchObject({ code: 'NOT_FOUND', field: 'mailbox', causeCode: 'ErrorInvalidUser' });
	});

	it('sends MIME as base64 text/plain (202), kept byte for byte', async () => {
		const { client } = await connect();
		const requests = since();
		const raw = mime('Sent by Graph', 'Body with \u00fcml\u00e4uts.\r\n');
		await client.sendMime(raw);
		const [post] = requests();
		expect(post).toMatchObject({ method: 'POST', path: '/v1.0/me/sendMail', status: 202, contentType: 'text/plain' });
		expect(Buffer.from(post.body, 'base64').equals(raw)).toBe(true);
		expect(server.sent.at(-1)).toMatchObject({ mailbox: ALICE, format: 'mime', savedToSentItems: true });
		expect(server.sent.at(-1)!.raw.equals(raw)).toBe(true);
		expect(await failure(client.sendMime(Buffer.alloc(0)))).toMatchObject({ code: 'CONFIG', field: 'message' });
	});

	it('reads and changes the automatic replies through mailboxSettings', async () => {
		const { client } = await connect();
		expect(await client.getAutomaticReplies()).toMatchObject({ status: 'disabled' });
		const requests = since();
		const window = { scheduledStartDateTime: { dateTime: '2030-07-01T08:00:00', timeZone: 'UTC' }, scheduledEndDateTime: { dateTime: '2030-07-15T18:00:00', timeZone: 'UTC' } };
		const set = await client.setAutomaticReplies({ status: 'scheduled', externalAudience: 'contactsOnly', internalReplyMessage: 'Away.', externalReplyMessage: 'Out of office.', ...window });
		expect(set).toMatchObject({ status: 'scheduled', externalAudience: 'contactsOnly', internalReplyMessage: 'Away.' });
		const [patch] = requests();
		expect(patch).toMatchObject({ method: 'PATCH', path: '/v1.0/me/mailboxSettings', contentType: 'application/json' });
		expect(JSON.parse(patch.body)).toEqual({ automaticRepliesSetting: { status: 'scheduled', externalAudience: 'contactsOnly', internalReplyMessage: 'Away.', externalReplyMessage: 'Out of office.', ...window } });
		expect(server.mailboxSettings(ALICE).automaticRepliesSetting).toMatchObject({ status: 'scheduled', externalReplyMessage: 'Out of office.' });
		expect(await client.getAutomaticReplies()).toMatchObject({ status: 'scheduled', scheduledEndDateTime: { timeZone: 'UTC' } });
		await client.setAutomaticReplies({ status: 'disabled' });
		expect(server.mailboxSettings(ALICE).automaticRepliesSetting.status).toBe('disabled');
	});

	it('verifies the certificate unless told otherwise; names the Graph URL for a closed port and bad settings', async () => {
		const strict = await connectGraph({ baseUrl: server.url, auth: { type: 'token', token: aliceToken } });
		clients.push(strict);
		expect(await failure(strict.resolveFolder('inbox'))).toMatchObject({ code: 'TLS_CERTIFICATE', field: 'allowSelfSigned', causeCode: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
		const lax = await connectGraph({ baseUrl: server.url, auth: { type: 'token', token: aliceToken }, allowUnauthorizedCerts: true });
		clients.push(lax);
		expect(await lax.resolveFolder('inbox')).toMatchObject({ wellKnownName: 'inbox' });
		expect(lax.tlsDetail).toMatch(/^TLSv1\.[23]/);

		const closed = await connect({ baseUrl: `https://127.0.0.1:${await closedPort()}/v1.0` });
		expect(await failure(closed.client.resolveFolder('inbox'))).toMatchObject({ code: 'CONNECTION_REFUSED', field: 'baseUrl' });
		expect(await failure(connectGraph({ baseUrl: 'http://graph.example.test/v1.0', auth: { type: 'token', token: aliceToken } }))).toMatchObject({ code: 'CONFIG', field: 'baseUrl' });
		expect(await failure(connectGraph({ auth: { type: 'token', token: aliceToken }, mailbox: 'not an address' }))).toMatchObject({ code: 'CONFIG', field: 'mailbox' });
		expect(await failure(connectGraph({ auth: { type: 'token', token: ' ' } }))).toMatchObject({ code: 'CONFIG', field: 'accessToken' });
		// an app has no mailbox of its own: Mailbox is asked for before any sign-in
		const before = authority.requests.length;
		expect(await failure(connectGraph({ auth: { type: 'app', app: { tenantId: 'contoso', clientId: 'graph-app', clientSecret: SECRET, authorityHost: authority.host } } }))).toMatchObject({
			code: 'CONFIG',
			field: 'mailbox',
		});
		expect(authority.requests.length).toBe(before);
	});

	describe('with a Microsoft 365 app (MSAL in a child process)', () => {
		interface AppRun {
			folder?: { displayName: string };
			folders?: string[];
			exchanges: GraphExchange[];
			error?: { code: string; field?: string; causeCode?: string; hint?: string; message: string };
		}
		const runApp = (input: Record<string, unknown>): Promise<AppRun> => runFixture<AppRun>('graph-app-client.ts', input, certPath);
		const app = (mailbox: string | undefined, extra: Record<string, unknown> = {}) => ({
			baseUrl: server.url,
			mailbox,
			app: { tenantId: 'contoso', clientId: 'graph-app', clientSecret: SECRET, authorityHost: authority.host },
			...extra,
		});

		it('gets a token for Graph from MSAL and acts on the mailbox under /users/{address}', async () => {
			const requests = since();
			const result = await runApp(app(ALICE));
			expect(result.error).toBeUndefined();
			expect(result.folder).toEqual({ displayName: 'Inbox' });
			expect(result.folders).toEqual(expect.arrayContaining(['Inbox', 'Receipts']));
			expect(requests().map((r) => [r.path, r.principal, r.status])).toEqual([
				[`/v1.0/users/${ALICE}/mailFolders/inbox`, 'graphapp', 200],
				[`/v1.0/users/${ALICE}/mailFolders`, 'graphapp', 200],
			]);
			expect(authority.requests.filter((r) => r.method === 'POST').at(-1)).toMatchObject({ grantType: 'client_credentials', clientId: 'graph-app', scope: 'https://graph.microsoft.com/.default' });
		});

		it('a token rejected mid-run: a fresh one from MSAL past its cache, once', async () => {
			const posts = () => authority.requests.filter((r) => r.method === 'POST').length;
			const before = posts();
			const requests = since();
			rejectSecondUse = true;
			const result = await runApp(app(ALICE));
			expect(result.error).toBeUndefined();
			expect(result.folders).toEqual(expect.arrayContaining(['Inbox']));
			// the first token (used twice: the second use rejected), then a fresh one past MSAL's cache
			expect(posts() - before).toBe(2);
			expect(requests().map((r) => r.status)).toEqual([200, 401, 200]);
			expect(result.exchanges.map((x) => x.renewed)).toEqual([false, true]);
		});

		it('a mailbox the app may not act on names the application permissions, admin consent and the access policy', async () => {
			const result = await runApp(app(OTHER));
			expect(result.error).toMatchObject({ code: 'SERVER', field: 'mailbox', causeCode: 'ErrorAccessDenied' });
			expect(result.error?.hint).toContain('Mail.ReadWrite');
			expect(result.error?.hint).toContain('admin consent');
			expect(result.error?.hint).toContain(`application access policy, if the tenant uses one, must include the mailbox ${OTHER}`);
		});

		it('a wrong client secret names Client Secret', async () => {
			const result = await runApp({ ...app(ALICE), app: { tenantId: 'contoso', clientId: 'graph-app', clientSecret: 'wrong-secret', authorityHost: authority.host } });
			expect(result.error).toMatchObject({ code: 'AUTH', field: 'clientSecret' });
		});
	});
});
