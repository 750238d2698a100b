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
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { Mailbox } from '../../nodes/Mailbox/Mailbox.node';
import { GraphServer, type GraphRequestLog } from '../servers/graph';
import { MicrosoftAuthority } from '../servers/microsoft';
import { OAuthServer } from '../servers/oauth';
import { makeSelfSignedCertificate } from '../servers/tls';
import { executeContext, failure } from './helpers/execute-context';

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

const root = path.resolve(__dirname, '..', '..');
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
	const inner = (requests: GraphRequestLog[]) => requests.flatMap((r) => (r.path.endsWith('/$batch') ? (r.batch ?? []) : [r]));

	beforeAll(async () => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailbox-graph-'));
		const { certPath } = makeSelfSignedCertificate(dir);
		const ca = fs.readFileSync(certPath);
		const key = fs.readFileSync(path.join(dir, 'key.pem'));
		mockSeams.ca = ca;
		oauth = await OAuthServer.start({ users: ['alice', 'graphapp'] });
		authority = await new MicrosoftAuthority({ key, cert: ca }, (user, lifetime) => oauth.issueToken(user, lifetime)).start();
		authority.register({ tenant: 'contoso', clientId: 'graph-app', clientSecret: SECRET, user: 'graphapp' });
		server = await GraphServer.start({
			tls: { key, cert: ca },
			tokenInfo: (token) => {
				const user = oauth.tokenUser(token);
				return user ? { user, audience: authority.tokenAudience(token) ?? 'https://graph.microsoft.com' } : undefined;
			},
			mailboxes: [ALICE, SHARED],
			access: { graphapp: [ALICE, SHARED] },
		});
		// the app's token for Graph, from MSAL against the local authority
		const settings = [{ tenantId: 'contoso', clientId: 'graph-app', clientSecret: SECRET, authorityHost: authority.host, scope: 'https://graph.microsoft.com/.default' }];
		const { stdout } = await promisify(execFile)(path.join(root, 'node_modules', '.bin', 'tsx'), [path.join(__dirname, 'fixtures', 'msal-token.ts'), JSON.stringify(settings)], {
			cwd: root,
			env: { ...process.env, NODE_EXTRA_CA_CERTS: certPath },
		});
		const [token] = JSON.parse(stdout) as Array<{ ok: boolean; accessToken?: string; message?: string }>;
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
});
