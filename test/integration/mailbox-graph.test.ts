/**
 * The Mailbox node with Access Via: Microsoft Graph against the local HTTPS Graph endpoint
 * (test/servers/graph.ts): every Graph operation through `new Mailbox().execute`, asserting the
 * results, the mailbox's state afterwards and the requests the endpoint logged (paths, $filter and
 * $search text, $batch bodies of at most 20 with their inner requests).
 *
 * The app's token is a real one: MSAL (lib/auth/microsoft.ts) gets it from the local Microsoft
 * authority in a child process, which trusts the test certificate through NODE_EXTRA_CA_CERTS
 * (Node reads it only at start-up). Two seams, both outside the code under test: getAppToken hands
 * that token to the node's Graph client, and connectGraph trusts the test certificate (n8n would
 * trust a company CA through NODE_EXTRA_CA_CERTS) and records throttling waits instead of sleeping.
 */
import fs from 'node:fs';
import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { Mailbox } from '../../nodes/Mailbox/Mailbox.node';
import { GraphServer, type GraphRequestLog } from '../servers/graph';
import { MicrosoftAuthority } from '../servers/microsoft';
import { OAuthServer } from '../servers/oauth';
import { executeContext, failure } from './helpers/execute-context';
import { localCertificate, runFixture } from './helpers/local-tls';

const mockSeams: { ca?: Buffer; appToken?: string; appTokens: number; waits: number[] } = { appTokens: 0, waits: [] };

jest.mock('../../lib/auth/microsoft', () => {
	const actual = jest.requireActual('../../lib/auth/microsoft');
	return {
		...actual,
		getAppToken: jest.fn(async (settings: { clientId: string; scope?: string }) => {
			mockSeams.appTokens++;
			// the token MSAL got from the local authority for this app and Graph's scope
			if (!mockSeams.appToken || settings.clientId !== 'graph-app' || settings.scope !== actual.GRAPH_SCOPE) throw new Error(`no app token for ${settings.clientId} ${settings.scope}`);
			return { accessToken: mockSeams.appToken, expiresOn: new Date(Date.now() + 3600_000), fromCache: true };
		}),
	};
});

jest.mock('../../lib/graph/client', () => {
	const actual = jest.requireActual('../../lib/graph/client');
	return {
		...actual,
		connectGraph: (options: Record<string, unknown>) => actual.connectGraph({ ...options, ca: mockSeams.ca, sleep: async (ms: number) => void mockSeams.waits.push(ms) }),
	};
});

const ALICE = 'alice@contoso.test';
const SHARED = 'shared@contoso.test';
const SECRET = 'Graph-Node-Secret~4';

describe('Mailbox node, Access Via: Microsoft Graph', () => {
	let dir: string;
	let oauth: OAuthServer;
	let authority: MicrosoftAuthority;
	let server: GraphServer;
	let seq = 0;

	const app = () => ({ tenantId: 'contoso', clientId: 'graph-app', clientSecret: SECRET, mailbox: ALICE, sharedMailboxes: SHARED, authorityHost: authority.host, imapHost: '127.0.0.1' });
	const credentials = (): Record<string, IDataObject> => ({ mailboxMicrosoftAppApi: app() });

	/** Runs the node with Access Via: Microsoft Graph; params on top of the app sign-in against the local endpoint. */
	async function run(params: Record<string, unknown>, options: { items?: INodeExecutionData[]; continueOnFail?: boolean; credentials?: Record<string, IDataObject> } = {}): Promise<IDataObject[]> {
		const input = options.items ?? [{ json: {} }];
		const ctx: IExecuteFunctions = executeContext({
			items: input,
			// itemId: what its default expression {{ $json.itemId }} gives in n8n
			params: { accessVia: 'graph', authentication: 'microsoftApp', mailbox: '', graphUrl: server.url, itemId: (i: number) => (input[i]?.json as IDataObject | undefined)?.itemId ?? '', ...params },
			credentials: options.credentials ?? credentials(),
			continueOnFail: options.continueOnFail,
		});
		const [out] = await new Mailbox().execute.call(ctx);
		return out.map((item) => item.json);
	}
	/** The requests the endpoint saw from now on (top-level; a $batch carries its inner requests). */
	const since = () => {
		const start = server.requests.length;
		return (): GraphRequestLog[] => server.requests.slice(start);
	};
	const mime = (subject: string, from = 'Sender <sender@example.com>') =>
		Buffer.from(`From: ${from}\r\nTo: ${ALICE}\r\nSubject: ${subject}\r\nMessage-ID: <graph-node-${seq}@example.com>\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello from ${subject}\r\n`);
	const add = (folder: string, opts: { isRead?: boolean; subject?: string; received?: Date; categories?: string[]; flagged?: boolean; from?: string; mailbox?: string } = {}) => {
		const subject = opts.subject ?? `Graph node test ${++seq}`;
		const added = server.addMessage(opts.mailbox ?? ALICE, folder, mime(subject, opts.from), { isRead: opts.isRead, received: opts.received, categories: opts.categories, flagged: opts.flagged });
		return { ...added, itemId: added.immutableId, subject };
	};
	const ids = (mailbox: string, folder: string) => server.folderMessages(mailbox, folder).map((m) => m.immutableId);
	const items = (list: string[]): INodeExecutionData[] => list.map((itemId) => ({ json: { itemId } }));
	const state = (folder: string, itemId: string) => server.folderMessages(ALICE, folder).find((m) => m.immutableId === itemId);
	const inner = (requests: GraphRequestLog[]) => requests.flatMap((r) => (r.path.endsWith('/$batch') ? (r.batch ?? []) : [r]));

	beforeAll(async () => {
		const tls = localCertificate('mailbox-graph');
		dir = tls.dir;
		mockSeams.ca = tls.ca;
		oauth = await OAuthServer.start({ users: ['alice', 'graphapp'] });
		authority = await new MicrosoftAuthority({ key: tls.key, cert: tls.ca }, (user, lifetime) => oauth.issueToken(user, lifetime)).start();
		authority.register({ tenant: 'contoso', clientId: 'graph-app', clientSecret: SECRET, user: 'graphapp' });
		server = await GraphServer.start({
			tls: { key: tls.key, cert: tls.ca },
			tokenInfo: (token) => {
				const user = oauth.tokenUser(token);
				return user ? { user, audience: authority.tokenAudience(token) ?? 'https://graph.microsoft.com' } : undefined;
			},
			mailboxes: [ALICE, SHARED],
			access: { graphapp: [ALICE, SHARED] },
		});
		// the app's token for Graph, from MSAL against the local authority
		const settings = [{ tenantId: 'contoso', clientId: 'graph-app', clientSecret: SECRET, authorityHost: authority.host, scope: 'https://graph.microsoft.com/.default' }];
		const [token] = await runFixture<Array<{ ok: boolean; accessToken?: string; message?: string }>>('msal-token.ts', settings, tls.certPath);
		if (!token.ok || !token.accessToken) throw new Error(`MSAL got no token: ${token.message}`);
		expect(authority.tokenAudience(token.accessToken)).toBe('https://graph.microsoft.com');
		mockSeams.appToken = token.accessToken;
		server.createFolder(ALICE, 'inbox', 'Projects');
		server.createFolder(ALICE, 'Inbox/Projects', '2026');
		server.createFolder(ALICE, 'msgfolderroot', 'Receipts');
	});
	afterEach(() => {
		server.throttle(0, 0);
	});
	afterAll(async () => {
		await server?.stop();
		await authority?.stop();
		await oauth?.stop();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	describe('Folder', () => {
		it('List: every level with paths, roles of the well-known folders (one $batch), counts; the app acts on /users/{mailbox}', async () => {
			add('inbox', { isRead: true });
			add('inbox');
			add('Inbox/Projects/2026');
			const requests = since();
			const folders = await run({ resource: 'folder', operation: 'list', options: {} });
			const byPath = new Map(folders.map((f) => [f.path as string, f]));
			const inbox = server.folderMessages(ALICE, 'inbox');
			expect(byPath.get('Inbox')).toMatchObject({ name: 'Inbox', parentPath: '', specialUse: 'inbox', wellKnownName: 'inbox', childFolderCount: 1, totalCount: inbox.length, unreadCount: inbox.filter((m) => !m.isRead).length, messages: inbox.length, mailbox: ALICE });
			expect(byPath.get('Inbox/Projects')).toMatchObject({ name: 'Projects', parentPath: 'Inbox', specialUse: null, wellKnownName: null, childFolderCount: 1 });
			expect(byPath.get('Inbox/Projects/2026')).toMatchObject({ parentPath: 'Inbox/Projects', totalCount: 1, unreadCount: 1 });
			expect(byPath.get('Junk Email')).toMatchObject({ specialUse: 'junk', wellKnownName: 'junkemail' });
			expect(byPath.get('Deleted Items')).toMatchObject({ specialUse: 'trash' });
			expect(byPath.get('Sent Items')).toMatchObject({ specialUse: 'sent' });
			expect(byPath.get('Archive')).toMatchObject({ specialUse: 'archive' });
			expect(byPath.get('Receipts')).toMatchObject({ specialUse: null, parentPath: '' });
			const sent = requests();
			for (const r of sent) expect(r).toMatchObject({ authorization: 'bearer', principal: 'graphapp', prefer: 'IdType="ImmutableId"' });
			for (const r of inner(sent)) expect(r).toMatchObject({ principal: 'graphapp', mailbox: ALICE, status: 200 });
			expect(sent.map((r) => r.path)).toContain(`/v1.0/users/${ALICE}/mailFolders`);
			expect(sent.map((r) => r.path)).toContain(`/v1.0/users/${ALICE}/mailFolders/${byPath.get('Inbox')?.folderId}/childFolders`);
			const roles = sent.find((r) => r.path === '/v1.0/$batch');
			expect(roles?.batch?.map((r) => r.path)).toEqual(['inbox', 'sentitems', 'drafts', 'junkemail', 'deleteditems', 'archive', 'outbox'].map((n) => `/users/${ALICE}/mailFolders/${n}`));

			const flat = await run({ resource: 'folder', operation: 'list', options: { recursive: false, under: 'Inbox' } });
			expect(flat.map((f) => f.path)).toEqual(['Inbox/Projects']);
		});

		it('Create: nested paths with the missing parents; an existing one fails naming Folder Path, or is returned', async () => {
			const requests = since();
			const [made] = await run({ resource: 'folder', operation: 'create', folderPath: 'Clients/Acme/2026', options: {} });
			expect(made).toMatchObject({ path: 'Clients/Acme/2026', created: true, parentsCreated: ['Clients', 'Clients/Acme'], folderId: expect.any(String), mailbox: ALICE });
			const posts = requests().filter((r) => r.method === 'POST');
			expect(posts.map((r) => JSON.parse(r.body).displayName)).toEqual(['Clients', 'Acme', '2026']);
			expect(posts[0].path).toBe(`/v1.0/users/${ALICE}/mailFolders`);
			expect(posts[2].path).toMatch(/\/childFolders$/);

			const under = await run({ resource: 'folder', operation: 'create', folderPath: 'Inbox.Invoices', options: { separator: '.' } });
			expect(under[0]).toMatchObject({ path: 'Inbox/Invoices', created: true, parentsCreated: [] });
			expect(server.folderMessages(ALICE, 'Inbox/Invoices')).toEqual([]);

			const error = await failure(run({ resource: 'folder', operation: 'create', folderPath: 'Clients/Acme', options: {} }));
			expect(error.message).toContain('Folder Path: the folder "Clients/Acme" already exists');
			expect(error.description).toContain('Return It');
			const [again] = await run({ resource: 'folder', operation: 'create', folderPath: 'clients/acme', options: { ifExists: 'return' } });
			expect(again).toMatchObject({ created: false, folderId: expect.any(String) });
		});

		it('Rename: in place (PATCH displayName); moving elsewhere and standard folders are refused naming the field', async () => {
			server.createFolder(ALICE, 'inbox', 'Old name');
			add('Inbox/Old name', { subject: 'stays in the renamed folder' });
			const requests = since();
			const [renamed] = await run({ resource: 'folder', operation: 'rename', folderPath: 'Inbox/Old name', newPath: 'New name', options: {} });
			expect(renamed).toMatchObject({ from: 'Inbox/Old name', to: 'Inbox/New name', folderId: expect.any(String) });
			const patch = requests().find((r) => r.method === 'PATCH');
			expect(patch).toMatchObject({ path: `/v1.0/users/${ALICE}/mailFolders/${renamed.folderId}` });
			expect(JSON.parse(patch!.body)).toEqual({ displayName: 'New name' });
			expect(server.folderMessages(ALICE, 'Inbox/New name')).toHaveLength(1);

			const [full] = await run({ resource: 'folder', operation: 'rename', folderPath: 'Inbox/New name', newPath: 'Inbox/Newer name', options: {} });
			expect(full.to).toBe('Inbox/Newer name');

			const count = server.requests.length;
			const moving = await failure(run({ resource: 'folder', operation: 'rename', folderPath: 'Inbox/Newer name', newPath: 'Receipts/Newer name', options: {} }));
			expect(moving.message).toContain('New Path');
			expect(moving.message).toContain('not available with Access Via: Microsoft Graph');
			expect(server.requests.slice(count).some((r) => r.method === 'PATCH')).toBe(false);
			const standard = await failure(run({ resource: 'folder', operation: 'rename', folderPath: 'Junk Email', newPath: 'Spam', options: {} }));
			expect(standard.message).toContain('standard folders');
		});

		it('Delete: an empty folder at once; one with messages only with Force; to Deleted Items', async () => {
			server.createFolder(ALICE, 'msgfolderroot', 'Old stuff');
			add('Old stuff', { subject: 'old stuff' });
			const count = server.requests.length;
			const refused = await failure(run({ resource: 'folder', operation: 'delete', folderPath: 'Old stuff', force: false, options: {} }));
			expect(refused.message).toContain('"Old stuff" holds 1 message');
			expect(refused.description).toContain('Force');
			expect(server.requests.slice(count).some((r) => r.method === 'DELETE')).toBe(false);

			const requests = since();
			const [deleted] = await run({ resource: 'folder', operation: 'delete', folderPath: 'Old stuff', force: true, options: {} });
			expect(deleted).toMatchObject({ path: 'Old stuff', deleted: true, messages: 1, subfolders: 0, movedTo: 'Deleted Items' });
			expect(requests().find((r) => r.method === 'DELETE')).toMatchObject({ path: `/v1.0/users/${ALICE}/mailFolders/${deleted.folderId}`, status: 204 });
			expect(server.folderMessages(ALICE, 'Deleted Items/Old stuff')).toHaveLength(1);

			const missing = await failure(run({ resource: 'folder', operation: 'delete', folderPath: 'Nope/Never', force: true, options: {} }));
			expect(missing.message).toContain('Folder Path: Folder "Nope" was not found');
		});
	});

	describe('Message', () => {
		it('Get: properties and the parsed MIME in the item shape of IMAP Get; it stays unread', async () => {
			const a = add('inbox', { subject: 'Quarterly report Ü', categories: ['Blue'], flagged: true });
			const requests = since();
			const [item] = await run({ resource: 'message', operation: 'get', options: { includeRaw: true } }, { items: items([a.itemId]) });
			expect(item).toMatchObject({ subject: 'Quarterly report Ü', itemId: a.itemId, isRead: false, flags: ['\\Flagged'], flagStatus: 'flagged', categories: ['Blue'], mailbox: ALICE, messageId: `<graph-node-${seq}@example.com>` });
			expect(String(item.text)).toContain('Hello from Quarterly report');
			expect(item.from).toMatchObject({ value: [expect.objectContaining({ address: 'sender@example.com' })] });
			expect(item.folderId).toEqual(expect.any(String));
			const sent = requests();
			expect(sent.map((r) => [r.method, r.path])).toEqual([
				['GET', `/v1.0/users/${ALICE}/messages/${a.itemId}`],
				['GET', `/v1.0/users/${ALICE}/messages/${a.itemId}/$value`],
			]);
			expect(sent[0].query.$select).toContain('internetMessageId');
			expect(state('inbox', a.itemId)?.isRead).toBe(false);
		});

		it('Search with filters: one $filter (receivedDateTime first for $orderby), newest first; headers with the Graph ids', async () => {
			server.createFolder(ALICE, 'msgfolderroot', 'Searched');
			const now = Date.now();
			const old = add('Searched', { subject: 'old unread from alice', from: 'Alice <alice@example.com>', received: new Date(now - 10 * 86_400_000) });
			const hit1 = add('Searched', { subject: 'hit one', from: 'Alice <alice@example.com>', received: new Date(now - 2 * 86_400_000), categories: ['Invoice'] });
			const hit2 = add('Searched', { subject: 'hit two', from: 'Alice <alice@example.com>', received: new Date(now - 86_400_000), categories: ['Invoice', 'Red'] });
			add('Searched', { subject: 'read one', from: 'Alice <alice@example.com>', isRead: true, received: new Date(now - 86_400_000), categories: ['Invoice'] });
			add('Searched', { subject: 'from bob', from: 'Bob <bob@example.com>', received: new Date(now - 86_400_000), categories: ['Invoice'] });
			const since3 = new Date(now - 3 * 86_400_000).toISOString();
			const requests = since();
			const out = await run({ resource: 'message', operation: 'search', folder: 'Searched', searchText: '', filters: { seen: 'no', from: 'alice@example.com', since: since3, category: 'Invoice', flagged: 'no' }, returnAll: true, output: 'headers', options: {} });
			expect(out.map((o) => o.subject)).toEqual(['hit two', 'hit one']);
			expect(out[0]).toMatchObject({ itemId: hit2.itemId, folder: 'Searched', mailbox: ALICE, isRead: false, categories: ['Invoice', 'Red'], flags: [], from: { value: [{ address: 'alice@example.com', name: 'Alice' }] } });
			expect(out.map((o) => o.itemId)).not.toContain(old.itemId);
			const list = requests().find((r) => r.path.endsWith('/messages'));
			expect(list?.query.$filter).toBe(
				`receivedDateTime ge ${since3.replace(/\.\d{3}Z$/, 'Z')} and isRead eq false and from/emailAddress/address eq 'alice@example.com' and flag/flagStatus ne 'flagged' and categories/any(c:c eq 'Invoice')`,
			);
			expect(list?.query.$orderby).toBe('receivedDateTime desc');
			expect(list?.query.$search).toBeUndefined();

			// a filter without a date still leads with receivedDateTime (Graph's rule for $orderby); oldest first; a limit
			const oldest = await run({ resource: 'message', operation: 'search', folder: 'Searched', searchText: '', filters: { seen: 'no' }, returnAll: false, limit: 2, output: 'headers', options: { sort: 'oldestFirst' } });
			expect(oldest.map((o) => o.itemId)).toEqual([old.itemId, hit1.itemId]);
			const last = server.requests.at(-1)!;
			expect(last.query).toMatchObject({ $filter: 'receivedDateTime ge 1900-01-01T00:00:00Z and isRead eq false', $orderby: 'receivedDateTime asc', $top: '2' });
		});

		it('Search Text: $search (KQL, quoted) without $filter or $orderby; Full Messages parse the MIME', async () => {
			add('inbox', { subject: 'Kiwi invoice 4711' });
			const requests = since();
			const out = await run({ resource: 'message', operation: 'search', folder: 'Inbox', searchText: 'subject:kiwi', filters: {}, returnAll: true, output: 'full', options: {} });
			expect(out.map((o) => o.subject)).toEqual(['Kiwi invoice 4711']);
			expect(String(out[0].text)).toContain('Hello from Kiwi invoice 4711');
			const list = requests().find((r) => r.path.endsWith('/messages'));
			expect(list?.query.$search).toBe('"subject:kiwi"');
			expect(list?.query.$filter).toBeUndefined();
			expect(list?.query.$orderby).toBeUndefined();
		});

		it('Search Text together with filters: the error names the fields and why; nothing is sent', async () => {
			const count = server.requests.length;
			const error = await failure(run({ resource: 'message', operation: 'search', folder: 'Inbox', searchText: 'invoice', filters: { seen: 'no', category: 'Red' }, returnAll: true, output: 'headers', options: { sort: 'oldestFirst' } }));
			expect(error.message).toBe(
				'Microsoft Graph does not combine $search (Search Text) with $filter or $orderby on messages: Search Text cannot be used together with Read Status, Category, Sort: Oldest First.',
			);
			expect(error.description).toContain('write them into Search Text as KQL');
			const subject = await failure(run({ resource: 'message', operation: 'search', folder: 'Inbox', searchText: '', filters: { subject: 'invoice' }, returnAll: true, output: 'headers', options: {} }));
			expect(subject.message).toContain('Subject is not available with Access Via: Microsoft Graph');
			expect(subject.description).toContain('subject:invoice');
			expect(server.requests.length).toBe(count);
			const folder = await failure(run({ resource: 'message', operation: 'search', folder: 'Inbox/Nope', searchText: '', filters: {}, returnAll: true, output: 'headers', options: {} }));
			expect(folder.message).toContain('Folder: Folder "Nope" was not found in "Inbox"');
		});

		it('Move of 25 messages: $batch bodies of 20 and 5, per-message results (a vanished one its own error), immutable ids kept', async () => {
			server.createFolder(ALICE, 'msgfolderroot', 'Bulk');
			const moved = Array.from({ length: 24 }, () => add('inbox'));
			const gone = add('inbox');
			await run({ resource: 'message', operation: 'delete', options: { deletePermanently: true } }, { items: items([gone.itemId]) });
			const list = [...moved.slice(0, 10).map((m) => m.itemId), gone.itemId, ...moved.slice(10).map((m) => m.itemId)];
			const requests = since();
			const out = await run({ resource: 'message', operation: 'move', destination: 'Bulk' }, { items: items(list), continueOnFail: true });
			expect(out).toHaveLength(25);
			expect(out[0]).toMatchObject({ operation: 'move', mailbox: ALICE, itemId: moved[0].itemId, destination: 'Bulk', newItemId: moved[0].itemId });
			expect(out[10]).toMatchObject({ error: expect.stringContaining('was not found'), field: 'itemId', code: 'NOT_FOUND' });
			expect(out.filter((o) => o.newItemId)).toHaveLength(24);
			expect(ids(ALICE, 'Bulk').sort()).toEqual(moved.map((m) => m.itemId).sort());
			const batches = requests().filter((r) => r.path === '/v1.0/$batch');
			const bodies = batches.map((b) => (JSON.parse(b.body) as { requests: Array<{ method: string; url: string; body: unknown }> }).requests);
			expect(bodies.map((b) => b.length)).toEqual([20, 5]);
			expect(bodies[0][0]).toMatchObject({ method: 'POST', url: `/users/${ALICE}/messages/${list[0]}/move`, body: { destinationId: expect.any(String) } });
			expect(batches[0].batch?.[10]).toMatchObject({ status: 404, errorCode: 'ErrorItemNotFound' });
		});

		it('Move without Continue On Fail: a vanished message stops the node naming Message ID; an IMAP UID is refused', async () => {
			const gone = add('inbox');
			await run({ resource: 'message', operation: 'delete', options: { deletePermanently: true } }, { items: items([gone.itemId]) });
			const error = await failure(run({ resource: 'message', operation: 'move', destination: 'Archive' }, { items: items([gone.itemId]) }));
			expect(error.message).toContain('was not found');
			const uid = await failure(run({ resource: 'message', operation: 'move', destination: 'Archive' }, { items: [{ json: { itemId: '42' } }] }));
			expect(uid.message).toContain('is not a Microsoft Graph message id');
			const a = add('inbox');
			const count = server.requests.length;
			const folder = await failure(run({ resource: 'message', operation: 'move', destination: 'Archive/Nope' }, { items: items([a.itemId]) }));
			expect(folder.message).toContain('Destination Folder: Folder "Nope" was not found');
			expect(server.requests.slice(count).some((r) => r.path.endsWith('/move') || r.path === '/v1.0/$batch')).toBe(false);
		});

		it('Copy: copies with new ids in the destination, the originals stay', async () => {
			const a = add('inbox');
			const b = add('inbox');
			const out = await run({ resource: 'message', operation: 'copy', destination: 'Inbox/Projects' }, { items: items([a.itemId, b.itemId]) });
			expect(out.map((o) => o.destination)).toEqual(['Inbox/Projects', 'Inbox/Projects']);
			expect(out[0].newItemId).not.toBe(a.itemId);
			expect(ids(ALICE, 'Inbox/Projects')).toEqual(expect.arrayContaining([out[0].newItemId, out[1].newItemId]));
			expect(ids(ALICE, 'inbox')).toEqual(expect.arrayContaining([a.itemId, b.itemId]));
		});

		it('Delete: to Deleted Items (DELETE) by default, permanently (permanentDelete) as an option', async () => {
			const a = add('inbox');
			const b = add('inbox');
			let requests = since();
			const out = await run({ resource: 'message', operation: 'delete', options: {} }, { items: items([a.itemId, b.itemId]) });
			expect(out).toEqual([expect.objectContaining({ itemId: a.itemId, deleted: true, permanently: false }), expect.objectContaining({ itemId: b.itemId, deleted: true, permanently: false })]);
			expect(ids(ALICE, 'deleteditems')).toEqual(expect.arrayContaining([a.itemId, b.itemId]));
			expect(inner(requests()).map((r) => r.method)).toEqual(['DELETE', 'DELETE']);

			const c = add('inbox');
			requests = since();
			await run({ resource: 'message', operation: 'delete', options: { deletePermanently: true } }, { items: items([c.itemId]) });
			expect(requests().map((r) => [r.method, r.path])).toEqual([['POST', `/v1.0/users/${ALICE}/messages/${c.itemId}/permanentDelete`]]);
			expect(ids(ALICE, 'inbox')).not.toContain(c.itemId);
			expect(ids(ALICE, 'deleteditems')).not.toContain(c.itemId);
		});

		it('Set/Clear Flags: read, flagged, complete, categories added, removed and replaced; Answered is refused naming Flags', async () => {
			const a = add('inbox', { categories: ['Blue'] });
			const b = add('inbox', { categories: ['Green'] });
			let requests = since();
			let out = await run({ resource: 'message', operation: 'setFlags', flags: ['\\Seen', '\\Flagged'], categories: 'Invoice, Red category', options: {} }, { items: items([a.itemId, b.itemId]) });
			expect(out[0]).toMatchObject({ itemId: a.itemId, isRead: true, flagStatus: 'flagged', categories: ['Blue', 'Invoice', 'Red category'], flagsSet: ['\\Seen', '\\Flagged'] });
			expect(out[1]).toMatchObject({ itemId: b.itemId, categories: ['Green', 'Invoice', 'Red category'] });
			expect(state('inbox', a.itemId)).toMatchObject({ isRead: true, flagStatus: 'flagged', categories: ['Blue', 'Invoice', 'Red category'] });
			const sent = inner(requests());
			// the current categories in one $batch, then one $batch with a PATCH per message
			expect(requests().map((r) => r.path)).toEqual(['/v1.0/$batch', '/v1.0/$batch']);
			expect(sent.filter((r) => r.method === 'GET').map((r) => r.query.$select)).toEqual(['id,categories', 'id,categories']);
			const patches = sent.filter((r) => r.method === 'PATCH').map((r) => JSON.parse(r.body));
			expect(patches).toEqual([
				{ isRead: true, flag: { flagStatus: 'flagged' }, categories: ['Blue', 'Invoice', 'Red category'] },
				{ isRead: true, flag: { flagStatus: 'flagged' }, categories: ['Green', 'Invoice', 'Red category'] },
			]);

			out = await run({ resource: 'message', operation: 'clearFlags', flags: ['\\Seen', '\\Flagged'], categories: 'invoice', options: {} }, { items: items([a.itemId]) });
			expect(out[0]).toMatchObject({ isRead: false, flagStatus: 'notFlagged', categories: ['Blue', 'Red category'], flagsCleared: ['\\Seen', '\\Flagged'] });
			expect(state('inbox', a.itemId)).toMatchObject({ isRead: false, flagStatus: 'notFlagged', categories: ['Blue', 'Red category'] });

			requests = since();
			out = await run({ resource: 'message', operation: 'setFlags', flags: ['\\Flagged'], categories: 'Done', options: { flagComplete: true, replaceCategories: true } }, { items: items([a.itemId]) });
			expect(out[0]).toMatchObject({ flagStatus: 'complete', categories: ['Done'] });
			expect(state('inbox', a.itemId)).toMatchObject({ flagStatus: 'complete', categories: ['Done'] });
			expect(requests().some((r) => r.method === 'GET')).toBe(false);

			const count = server.requests.length;
			const answered = await failure(run({ resource: 'message', operation: 'setFlags', flags: ['\\Answered'], categories: '', options: {} }, { items: items([a.itemId]) }));
			expect(answered.message).toContain('\\Answered are not supported with Access Via: Microsoft Graph');
			const nothing = await failure(run({ resource: 'message', operation: 'clearFlags', flags: [], categories: '', options: {} }, { items: items([a.itemId]) }));
			expect(nothing.message).toContain('nothing to set or clear');
			expect(server.requests.length).toBe(count);
		});

		it('a throttled $batch: the throttled requests are sent again after Retry-After, the others once', async () => {
			const list = [add('inbox'), add('inbox'), add('inbox')];
			mockSeams.waits.length = 0;
			const requests = since();
			server.throttle(2, 3);
			const out = await run({ resource: 'message', operation: 'setFlags', flags: ['\\Seen'], categories: '', options: {} }, { items: items(list.map((m) => m.itemId)) });
			expect(out.every((o) => o.isRead === true)).toBe(true);
			expect(list.every((m) => state('inbox', m.itemId)?.isRead)).toBe(true);
			expect(mockSeams.waits).toEqual([3000]);
			const batches = requests().filter((r) => r.path === '/v1.0/$batch');
			expect(batches.map((b) => (b.batch ?? []).map((r) => r.status))).toEqual([[429, 429, 200], [200, 200]]);
			expect((JSON.parse(batches[1].body) as { requests: Array<{ url: string }> }).requests.map((r) => r.url)).toEqual(list.slice(0, 2).map((m) => `/users/${ALICE}/messages/${m.itemId}`));
		});

		it('Mark as Spam: to Junk Email; one already there stays with a note. Not Spam: back to the Inbox (or a chosen folder)', async () => {
			const a = add('inbox');
			const junk = add('junkemail');
			const requests = since();
			const out = await run({ resource: 'message', operation: 'markAsSpam', options: {} }, { items: items([a.itemId, junk.itemId]) });
			expect(out[0]).toMatchObject({ itemId: a.itemId, moved: true, destination: 'Junk Email', newItemId: a.itemId });
			expect(out[1]).toMatchObject({ itemId: junk.itemId, moved: false, newItemId: null, note: 'Not moved: already in the junk folder "Junk Email".' });
			expect(ids(ALICE, 'junkemail')).toEqual(expect.arrayContaining([a.itemId, junk.itemId]));
			const sent = inner(requests());
			const moves = sent.filter((r) => r.path.endsWith('/move'));
			// one message to move: a request of its own, no $batch
			expect(moves.map((r) => r.path)).toEqual([`/v1.0/users/${ALICE}/messages/${a.itemId}/move`]);
			expect(sent.find((r) => r.path === `/v1.0/users/${ALICE}/mailFolders/junkemail`)).toBeDefined();

			const other = add('inbox');
			const back = await run({ resource: 'message', operation: 'markAsNotSpam', options: {} }, { items: items([a.itemId, other.itemId]) });
			expect(back[0]).toMatchObject({ moved: true, destination: 'Inbox', newItemId: a.itemId });
			expect(back[1]).toMatchObject({ moved: false, note: expect.stringContaining('not in the junk folder') });
			expect(ids(ALICE, 'inbox')).toContain(a.itemId);
			expect(ids(ALICE, 'junkemail')).not.toContain(a.itemId);

			const chosen = await run({ resource: 'message', operation: 'markAsNotSpam', options: { moveTo: 'Inbox/Projects' } }, { items: items([junk.itemId]) });
			expect(chosen[0]).toMatchObject({ moved: true, destination: 'Inbox/Projects' });
			expect(ids(ALICE, 'Inbox/Projects')).toContain(junk.itemId);
		});

		it('a shared mailbox of the credential: /users/{shared}; one it does not list is refused naming Mailbox before any request', async () => {
			const a = add('inbox', { mailbox: SHARED });
			const requests = since();
			const out = await run({ resource: 'message', operation: 'move', mailbox: SHARED, destination: 'Archive' }, { items: items([a.itemId]) });
			expect(out[0]).toMatchObject({ mailbox: SHARED, newItemId: a.itemId });
			expect(ids(SHARED, 'archive')).toContain(a.itemId);
			for (const r of inner(requests())) expect(r.path).toContain(`/users/${SHARED}/`);
			const count = server.requests.length;
			const error = await failure(run({ resource: 'message', operation: 'move', mailbox: 'other@contoso.test', destination: 'Archive' }, { items: items([a.itemId]) }));
			expect(error.message).toContain('is not one of the credential\'s shared mailboxes');
			expect(server.requests.length).toBe(count);
		});
	});

	describe('Out of Office', () => {
		it('Set scheduled, Get, Set always with its own external text and audience, Clear: a round trip through mailboxSettings', async () => {
			const requests = since();
			const [scheduled] = await run({ resource: 'outOfOffice', operation: 'set', text: 'Back on Monday.', options: { startDate: '2026-03-02T08:00:00Z', endDate: '2026-03-09T08:00:00Z' } });
			expect(scheduled).toMatchObject({ enabled: true, status: 'scheduled', text: 'Back on Monday.', internalText: 'Back on Monday.', externalText: 'Back on Monday.', externalAudience: 'all', startDate: '2026-03-02T08:00:00.000Z', endDate: '2026-03-09T08:00:00.000Z', timeZone: 'UTC', mailbox: ALICE });
			const patch = requests().find((r) => r.method === 'PATCH');
			expect(patch).toMatchObject({ path: `/v1.0/users/${ALICE}/mailboxSettings`, status: 200 });
			expect(JSON.parse(patch!.body)).toEqual({
				automaticRepliesSetting: {
					status: 'scheduled',
					internalReplyMessage: 'Back on Monday.',
					externalReplyMessage: 'Back on Monday.',
					externalAudience: 'all',
					scheduledStartDateTime: { dateTime: '2026-03-02T08:00:00.000', timeZone: 'UTC' },
					scheduledEndDateTime: { dateTime: '2026-03-09T08:00:00.000', timeZone: 'UTC' },
				},
			});
			expect(server.mailboxSettings(ALICE).automaticRepliesSetting).toMatchObject({ status: 'scheduled', internalReplyMessage: 'Back on Monday.' });

			const [got] = await run({ resource: 'outOfOffice', operation: 'get', options: {} });
			expect(got).toMatchObject({ enabled: true, status: 'scheduled', startDate: '2026-03-02T08:00:00.000Z', endDate: '2026-03-09T08:00:00.000Z' });
			expect(server.requests.at(-1)).toMatchObject({ method: 'GET', path: `/v1.0/users/${ALICE}/mailboxSettings` });

			const [always] = await run({ resource: 'outOfOffice', operation: 'set', text: 'Away.', options: { externalText: 'We will answer soon.', externalAudience: 'contactsOnly' } });
			expect(always).toMatchObject({ enabled: true, status: 'alwaysEnabled', internalText: 'Away.', externalText: 'We will answer soon.', externalAudience: 'contactsOnly', startDate: null, endDate: null });

			const [cleared] = await run({ resource: 'outOfOffice', operation: 'clear', options: {} });
			expect(cleared).toMatchObject({ enabled: false, status: 'disabled', cleared: true });
			expect(server.mailboxSettings(ALICE).automaticRepliesSetting).toMatchObject({ status: 'disabled', internalReplyMessage: 'Away.' });
		});

		it('Start without End, or End before Start: the error names the field; nothing is sent', async () => {
			const count = server.requests.length;
			const noEnd = await failure(run({ resource: 'outOfOffice', operation: 'set', text: 'Away.', options: { startDate: '2026-03-02T08:00:00Z' } }));
			expect(noEnd.message).toContain('End is empty');
			const backwards = await failure(run({ resource: 'outOfOffice', operation: 'set', text: 'Away.', options: { startDate: '2026-03-09T08:00:00Z', endDate: '2026-03-02T08:00:00Z' } }));
			expect(backwards.message).toContain('is not after Start');
			expect(server.requests.length).toBe(count);
		});
	});

	describe('Retention', () => {
		it('a dry run lists and changes nothing; the real run deletes exactly the old messages, in $batch requests of 20', async () => {
			server.createFolder(ALICE, 'msgfolderroot', 'Newsletters');
			const now = Date.now();
			const oldOnes = Array.from({ length: 22 }, (_, i) => add('Newsletters', { subject: `old letter ${i}`, received: new Date(now - (40 + i) * 86_400_000) }));
			const recent = [add('Newsletters', { subject: 'recent letter', received: new Date(now - 5 * 86_400_000) }), add('Newsletters', { subject: 'fresh letter' })];
			const oldJunk = add('junkemail', { subject: 'old junk', received: new Date(now - 45 * 86_400_000) });
			const newJunk = add('junkemail', { subject: 'new junk', received: new Date(now - 2 * 86_400_000) });
			const oldInbox = add('inbox', { subject: 'old inbox mail', received: new Date(now - 400 * 86_400_000) });
			const params = { resource: 'retention', operation: 'apply', inboxDays: 0, junkDays: 30, sentDays: 0, otherFolders: { folders: [{ folder: 'Newsletters', days: 30 }] }, options: { listLimit: 5 } };
			const before = { letters: ids(ALICE, 'Newsletters').sort(), junk: ids(ALICE, 'junkemail').sort() };

			let requests = since();
			const dry = await run({ ...params, dryRun: true });
			expect(dry.map((r) => [r.folder, r.role, r.matched, r.deleted, r.dryRun, r.action])).toEqual([
				['Junk Email', 'junk', 1, 0, true, 'delete'],
				['Newsletters', 'extra', 22, 0, true, 'delete'],
			]);
			expect(dry[1]).toMatchObject({ days: 30, ageBy: 'arrival', messagesTruncated: true, failed: [], mailbox: ALICE });
			expect(dry[1].messages).toHaveLength(5);
			expect((dry[1].messages as IDataObject[])[0]).toMatchObject({ itemId: expect.any(String), subject: expect.stringMatching(/^old letter/), messageId: expect.any(String), internalDate: expect.any(String) });
			expect(dry[0].messages).toEqual([expect.objectContaining({ itemId: oldJunk.itemId, subject: 'old junk' })]);
			const cutoff = String(dry[1].cutoff);
			expect(new Date(cutoff).getTime()).toBeLessThan(now - 29 * 86_400_000);
			let sent = requests();
			expect(sent.every((r) => r.method === 'GET')).toBe(true);
			const lists = sent.filter((r) => r.path.endsWith('/messages'));
			expect(lists.map((r) => r.query.$filter)).toEqual([`receivedDateTime lt ${cutoff.replace(/\.\d{3}Z$/, 'Z')}`, `receivedDateTime lt ${cutoff.replace(/\.\d{3}Z$/, 'Z')}`]);
			// the 22 old letters came in pages of 100 at most, following the nextLink
			expect({ letters: ids(ALICE, 'Newsletters').sort(), junk: ids(ALICE, 'junkemail').sort() }).toEqual(before);

			requests = since();
			const real = await run({ ...params, dryRun: false });
			expect(real.map((r) => [r.folder, r.matched, r.deleted, r.dryRun])).toEqual([
				['Junk Email', 1, 1, false],
				['Newsletters', 22, 22, false],
			]);
			expect(ids(ALICE, 'Newsletters').sort()).toEqual(recent.map((m) => m.itemId).sort());
			expect(ids(ALICE, 'junkemail')).toContain(newJunk.itemId);
			expect(ids(ALICE, 'junkemail')).not.toContain(oldJunk.itemId);
			expect(ids(ALICE, 'inbox')).toContain(oldInbox.itemId);
			expect(ids(ALICE, 'deleteditems')).not.toEqual(expect.arrayContaining([oldOnes[0].itemId]));
			sent = requests();
			const batches = sent.filter((r) => r.path === '/v1.0/$batch').map((b) => (JSON.parse(b.body) as { requests: Array<{ method: string; url: string }> }).requests);
			expect(batches.map((b) => b.length)).toEqual([20, 2]);
			expect(batches.flat().every((r) => r.method === 'POST' && r.url.endsWith('/permanentDelete'))).toBe(true);
			expect(sent.filter((r) => r.path.endsWith('/permanentDelete')).map((r) => r.path)).toEqual([`/v1.0/users/${ALICE}/messages/${oldJunk.itemId}/permanentDelete`]);
		});

		it('Move to Trash: old messages go to Deleted Items; an unknown folder fails naming its field before anything is deleted', async () => {
			server.createFolder(ALICE, 'msgfolderroot', 'Reports');
			const old = add('Reports', { received: new Date(Date.now() - 90 * 86_400_000) });
			const [result] = await run({ resource: 'retention', operation: 'apply', inboxDays: 0, junkDays: 0, sentDays: 0, otherFolders: { folders: [{ folder: 'Reports', days: 60 }] }, dryRun: false, options: { moveToTrash: true } });
			expect(result).toMatchObject({ folder: 'Reports', action: 'move', movedTo: 'Deleted Items', matched: 1, deleted: 1 });
			expect(ids(ALICE, 'deleteditems')).toContain(old.itemId);

			const kept = add('junkemail', { received: new Date(Date.now() - 90 * 86_400_000) });
			const count = server.requests.length;
			const error = await failure(run({ resource: 'retention', operation: 'apply', inboxDays: 0, junkDays: 30, sentDays: 0, otherFolders: { folders: [{ folder: 'Reports/Missing', days: 10 }] }, dryRun: false, options: {} }));
			expect(error.message).toContain('Other Folders: "Reports/Missing": Folder "Missing" was not found');
			expect(inner(server.requests.slice(count)).some((r) => r.method !== 'GET')).toBe(false);
			expect(ids(ALICE, 'junkemail')).toContain(kept.itemId);
		});
	});

	describe('Connection → Check', () => {
		it('signs in, reads the Inbox over Graph and reports each step; a mailbox Graph does not know fails at the Inbox step, naming it', async () => {
			const count = server.requests.length;
			const [ok] = await run({ resource: 'connection', operation: 'check', options: {} });
			expect(ok).toMatchObject({ ok: true, failedStep: null, errorCode: null });
			// the credential's mailbox and its shared mailbox
			expect(ok.message).toMatch(/^Connected to 127\.0\.0\.1:\d+ by Microsoft Graph \(TLS.*\); got a token for Microsoft Graph for the app from Microsoft; mailbox alice@contoso\.test: Inbox has \d+ messages, \d+ unread; shared mailbox shared@contoso\.test: Inbox has \d+ messages\.$/);
			expect((ok.steps as Array<{ step: string; ok: boolean }>).map((s) => [s.step, s.ok])).toEqual([
				['config', true],
				['tls', true],
				['login', true],
				['inbox', true],
				['inbox', true],
			]);
			expect(server.requests.slice(count).map((r) => [r.method, r.path])).toEqual([
				['GET', `/v1.0/users/${ALICE}/mailFolders/inbox`],
				['GET', `/v1.0/users/${SHARED}/mailFolders/inbox`],
			]);

			const nobody = 'nobody@contoso.test';
			const [failed] = await run({ resource: 'connection', operation: 'check', mailbox: nobody, options: {} }, { credentials: { mailboxMicrosoftAppApi: { ...app(), sharedMailboxes: `${SHARED}; ${nobody}` } } });
			expect(failed).toMatchObject({ ok: false, failedStep: 'inbox', errorCode: 'NOT_FOUND' });
			expect(failed.message).toContain(nobody);
			const thrown = await failure(run({ resource: 'connection', operation: 'check', mailbox: nobody, options: { failOnError: true } }, { credentials: { mailboxMicrosoftAppApi: { ...app(), sharedMailboxes: `${SHARED}; ${nobody}` } } }));
			expect(thrown.message).toContain(nobody);
		});
	});

	describe('what Graph does not do', () => {
		it('Append names Access Via; Password (IMAP) names Authentication', async () => {
			const error = await failure(run({ resource: 'message', operation: 'append' }));
			expect(error.message).toBe('Message → Append is not available with Access Via: Microsoft Graph.');
			expect(error.description).toContain('Set Access Via to IMAP');
			const password = await failure(run({ resource: 'folder', operation: 'list', authentication: 'password', options: {} }));
			expect(password.message).toContain('does not work with Access Via: Microsoft Graph');
		});
	});
});
