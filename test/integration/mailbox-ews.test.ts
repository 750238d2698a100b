/**
 * The Mailbox node with Access Via: EWS against the local HTTPS EWS endpoint (test/servers/ews/):
 * every EWS operation through `new Mailbox().execute`, asserting the results, the mailbox's state
 * afterwards and the requests sent (operation, ExchangeImpersonation for an app, X-AnchorMailbox,
 * the item ids of a bulk operation in one request).
 *
 * Two seams, both outside the code under test: the app's token comes from the local OAuth server
 * instead of MSAL (MSAL trusts the test authority only through NODE_EXTRA_CA_CERTS at process start;
 * ews-client.test.ts runs the real MSAL path in a child process), and connectEws trusts the test
 * certificate (n8n would trust a company CA through NODE_EXTRA_CA_CERTS).
 */
import fs from 'node:fs';
import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { Mailbox } from '../../nodes/Mailbox/Mailbox.node';
import { EwsServer, type EwsRequestLog } from '../servers/ews';
import { OAuthServer } from '../servers/oauth';
import { executeContext, failure } from './helpers/execute-context';
import { localCertificate } from './helpers/local-tls';

const mockSeams: { ca?: Buffer; appToken?: (clientId: string, fresh: boolean) => string; appTokens: number } = { appTokens: 0 };

jest.mock('../../lib/auth/microsoft', () => {
	const actual = jest.requireActual('../../lib/auth/microsoft');
	return {
		...actual,
		getAppToken: jest.fn(async (settings: { clientId: string; clientSecret: string }, _logger: unknown, options: { fresh?: boolean } = {}) => {
			mockSeams.appTokens++;
			if (!mockSeams.appToken) throw new Error('no app token source');
			return { accessToken: mockSeams.appToken(settings.clientId, options.fresh === true), expiresOn: new Date(Date.now() + 3600_000), fromCache: false };
		}),
	};
});

jest.mock('../../lib/ews/client', () => {
	const actual = jest.requireActual('../../lib/ews/client');
	return { ...actual, connectEws: (settings: Record<string, unknown>) => actual.connectEws({ ...settings, ca: mockSeams.ca }) };
});

const ALICE = 'alice@contoso.test';
const SHARED = 'shared@contoso.test';
const OTHER = 'other@contoso.test';

describe('Mailbox node, Access Via: EWS', () => {
	let dir: string;
	let oauth: OAuthServer;
	let server: EwsServer;
	let seq = 0;

	const app = { tenantId: 'contoso', clientId: 'ews-app', clientSecret: 'Ews-App-Secret~7', mailbox: ALICE, sharedMailboxes: SHARED, authorityHost: 'login.microsoftonline.com', imapHost: '127.0.0.1' };
	const credentials = (): Record<string, IDataObject> => ({
		mailboxMicrosoftAppApi: app,
		mailboxEwsApi: { url: server.url, user: 'alice', password: 'alice-pw', mailbox: '', access: 'delegate', serverVersion: 'Exchange2010_SP2', allowSelfSigned: false },
		mailboxMicrosoftOAuth2Api: { mailbox: ALICE, sharedMailboxes: SHARED, exchangeHost: 'outlook.office365.com', imapHost: '127.0.0.1', oauthTokenData: { access_token: oauth.issueToken('alice'), token_type: 'Bearer' } },
	});

	/** Runs the node with Access Via: EWS; params on top of the app sign-in against the local endpoint. */
	async function run(params: Record<string, unknown>, options: { items?: INodeExecutionData[]; continueOnFail?: boolean; credentials?: Record<string, IDataObject> } = {}): Promise<IDataObject[]> {
		const input = options.items ?? [{ json: {} }];
		const ctx: IExecuteFunctions = executeContext({
			items: input,
			// itemId: what its default expression {{ $json.itemId }} gives in n8n
			params: { accessVia: 'ews', authentication: 'microsoftApp', mailbox: '', ewsUrl: server.url, itemId: (i: number) => (input[i]?.json as IDataObject | undefined)?.itemId ?? '', ...params },
			credentials: options.credentials ?? credentials(),
			continueOnFail: options.continueOnFail,
		});
		const [out] = await new Mailbox().execute.call(ctx);
		return out.map((item) => item.json);
	}
	const since = () => {
		const start = server.requests.length;
		return (): EwsRequestLog[] => server.requests.slice(start);
	};
	const add = (mailbox: string, folder: string, opts: { isRead?: boolean; subject?: string } = {}) => {
		const subject = opts.subject ?? `EWS node test ${++seq}`;
		const raw = Buffer.from(`From: Sender <sender@example.com>\r\nTo: ${mailbox}\r\nSubject: ${subject}\r\nMessage-ID: <ews-node-${seq}@example.com>\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello from ${subject}\r\n`);
		return { ...server.addMessage(mailbox, folder, raw, { isRead: opts.isRead }), subject };
	};
	const subjects = (mailbox: string, folder: string) => server.folderItems(mailbox, folder).map((i) => i.subject);
	const items = (ids: string[]): INodeExecutionData[] => ids.map((itemId) => ({ json: { itemId } }));

	beforeAll(async () => {
		const tls = localCertificate('mailbox-ews');
		dir = tls.dir;
		mockSeams.ca = tls.ca;
		oauth = await OAuthServer.start({ users: ['alice', 'ewsapp', 'lonelyapp'] });
		// client ids of the app registrations -> the principal their tokens stand for
		const principals: Record<string, string> = { 'ews-app': 'ewsapp', 'lonely-app': 'lonelyapp' };
		mockSeams.appToken = (clientId) => oauth.issueToken(principals[clientId] ?? 'nobody');
		server = await EwsServer.start({
			tls: { key: tls.key, cert: tls.ca },
			tokenUser: (token) => oauth.tokenUser(token),
			users: { alice: 'alice-pw' },
			mailboxes: [ALICE, SHARED, OTHER],
			// the app may reach every mailbox of the tenant, as full_access_as_app does; the credential's list is what limits it
			access: { alice: [SHARED], ewsapp: [ALICE, SHARED, OTHER] },
		});
		server.createFolder(ALICE, 'msgfolderroot', 'Archive');
		server.createFolder(ALICE, 'inbox', 'Projects');
		server.createFolder(SHARED, 'msgfolderroot', 'Archive');
	});
	afterAll(async () => {
		await server?.stop();
		await oauth?.stop();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	describe('Connection → Check', () => {
		it('app: token, HTTPS, sign-in and the impersonated mailbox\'s Inbox, in the check\'s usual shape', async () => {
			add(ALICE, 'inbox');
			const requests = since();
			const [result] = await run({ resource: 'connection', operation: 'check', options: {} });
			expect(result).toMatchObject({ ok: true, failedStep: null, errorCode: null, field: null });
			const steps = result.steps as Array<{ step: string; ok: boolean; detail: string }>;
			expect(steps.every((s) => s.ok)).toBe(true);
			expect(steps.map((s) => s.step)).toEqual(['config', 'tls', 'login', 'inbox']);
			expect(steps[2].detail).toContain('token for the app');
			expect(String(result.message)).toMatch(/Inbox has \d+ messages, \d+ unread/);
			const [get] = requests();
			expect(get).toMatchObject({ operation: 'GetFolder', authorization: 'bearer', principal: 'ewsapp', impersonated: ALICE, anchorMailbox: ALICE, mailbox: ALICE, responseCode: 'NoError' });
		});

		it('an app without access to the mailbox: ok false, the hint names full_access_as_app and admin consent', async () => {
			const [result] = await run({ resource: 'connection', operation: 'check', options: {} }, { credentials: { ...credentials(), mailboxMicrosoftAppApi: { ...app, clientId: 'lonely-app' } } });
			expect(result).toMatchObject({ ok: false, errorCode: 'AUTH', field: 'mailbox' });
			// Exchange answered (TLS and the token were fine); reading the mailbox is where the permission is missing
			expect(result.failedStep).toBe('inbox');
			expect((result.steps as Array<{ step: string; ok: boolean }>).map((s) => [s.step, s.ok])).toEqual([['config', true], ['tls', true], ['login', true], ['inbox', false]]);
			expect(String(result.message)).toContain('full_access_as_app');
			expect(String(result.message)).toContain('admin consent');
			expect(server.requests.at(-1)).toMatchObject({ principal: 'lonelyapp', impersonated: ALICE, responseCode: 'ErrorImpersonateUserDenied' });
		});

		it('with Fail When the Check Fails, a failed check stops the node with the same words', async () => {
			const error = await failure(run({ resource: 'connection', operation: 'check', options: { failOnError: true } }, { credentials: { ...credentials(), mailboxMicrosoftAppApi: { ...app, clientId: 'lonely-app' } } }));
			expect(`${error.message} ${error.description ?? ''}`).toContain('full_access_as_app');
		});

		it('delegated: the signed-in user\'s own mailbox, no impersonation', async () => {
			const requests = since();
			const [result] = await run({ resource: 'connection', operation: 'check', authentication: 'microsoftOAuth2', options: {} });
			expect(result).toMatchObject({ ok: true });
			const [get] = requests();
			expect(get).toMatchObject({ operation: 'GetFolder', principal: 'alice', mailbox: ALICE, anchorMailbox: ALICE });
			expect(get.impersonated).toBeUndefined();
		});

		it('a listed mailbox the signed-in user has no Full Access to: the hint names Full Access', async () => {
			const oauthCredential = { ...credentials().mailboxMicrosoftOAuth2Api, sharedMailboxes: `${SHARED}; ${OTHER}` };
			const [result] = await run({ resource: 'connection', operation: 'check', authentication: 'microsoftOAuth2', mailbox: OTHER, options: {} }, { credentials: { ...credentials(), mailboxMicrosoftOAuth2Api: oauthCredential } });
			expect(result).toMatchObject({ ok: false, errorCode: 'AUTH', field: 'mailbox' });
			expect(String(result.message)).toContain('Full Access to the mailbox other@contoso.test');
		});
	});

	describe("the credential's Shared Mailboxes limit the mailboxes a node reaches", () => {
		it('app: a mailbox of the tenant that the credential does not list is refused before any request, naming Mailbox and the list', async () => {
			add(OTHER, 'inbox');
			const count = server.requests.length;
			const error = await failure(run({ resource: 'folder', operation: 'list', mailbox: OTHER, options: {} }));
			expect(error.message).toContain(`Mailbox "${OTHER}" is not one of the credential's shared mailboxes (one of ${SHARED})`);
			expect(error.description).toContain('add the address to Shared Mailboxes in the credential');
			expect(server.requests.length).toBe(count);
		});

		it('app: a listed mailbox and the own one are opened by impersonation', async () => {
			const requests = since();
			await run({ resource: 'folder', operation: 'list', mailbox: SHARED, options: {} });
			await run({ resource: 'folder', operation: 'list', mailbox: ALICE.toUpperCase(), options: {} });
			const impersonated = new Set(requests().map((r) => r.impersonated));
			expect([...impersonated].sort()).toEqual([ALICE, SHARED]);
		});

		it('app: a message action on an unlisted mailbox touches nothing there', async () => {
			const a = add(OTHER, 'inbox', { subject: 'not yours' });
			const error = await failure(run({ resource: 'message', operation: 'delete', mailbox: OTHER, options: {} }, { items: items([a.itemId]) }));
			expect(error.message).toContain(`Mailbox "${OTHER}" is not one of the credential's shared mailboxes`);
			expect(subjects(OTHER, 'inbox')).toContain('not yours');
		});

		it('delegated: an unlisted mailbox is refused naming Mailbox; the check says so', async () => {
			const count = server.requests.length;
			const [result] = await run({ resource: 'connection', operation: 'check', authentication: 'microsoftOAuth2', mailbox: OTHER, options: {} });
			expect(result).toMatchObject({ ok: false, field: 'mailbox' });
			expect(String(result.message)).toContain(`Mailbox "${OTHER}" is not one of the credential's shared mailboxes`);
			expect(server.requests.length).toBe(count);
		});
	});

	describe('a Microsoft 365 token goes only to Exchange Online and the hosts its credential names', () => {
		it('app: an EWS URL on another host is refused naming EWS URL; no request carries the token there', async () => {
			const count = server.requests.length;
			const { imapHost: _named, ...unnamed } = app;
			const error = await failure(run({ resource: 'folder', operation: 'list', options: {} }, { credentials: { ...credentials(), mailboxMicrosoftAppApi: unnamed } }));
			expect(error.message).toContain('EWS URL: the Microsoft 365 access token goes only to Exchange Online');
			expect(error.message).toContain('not to 127.0.0.1');
			expect(server.requests.length).toBe(count);
		});

		it('delegated: the same for its stored token', async () => {
			const count = server.requests.length;
			const { imapHost: _named, ...unnamed } = credentials().mailboxMicrosoftOAuth2Api;
			const error = await failure(run({ resource: 'folder', operation: 'list', authentication: 'microsoftOAuth2', options: {} }, { credentials: { ...credentials(), mailboxMicrosoftOAuth2Api: unnamed } }));
			expect(error.message).toContain('EWS URL: the Microsoft 365 access token goes only to Exchange Online');
			expect(server.requests.length).toBe(count);
		});
	});

	describe('Folder', () => {
		it('List: paths under the top of the mailbox, roles of the distinguished folders, counts', async () => {
			add(ALICE, 'junkemail');
			const requests = since();
			const folders = await run({ resource: 'folder', operation: 'list', options: {} });
			const byPath = new Map(folders.map((f) => [f.path as string, f]));
			expect(byPath.get('Inbox')).toMatchObject({ name: 'Inbox', parentPath: '', specialUse: 'inbox', distinguishedFolderId: 'inbox', folderClass: 'IPF.Note', childFolderCount: 1, mailbox: ALICE });
			expect(byPath.get('Inbox/Projects')).toMatchObject({ name: 'Projects', parentPath: 'Inbox', specialUse: null, distinguishedFolderId: null, totalCount: 0 });
			expect(byPath.get('Junk Email')).toMatchObject({ specialUse: 'junk', distinguishedFolderId: 'junkemail' });
			expect(byPath.get('Deleted Items')).toMatchObject({ specialUse: 'trash', distinguishedFolderId: 'deleteditems' });
			expect(byPath.get('Sent Items')).toMatchObject({ specialUse: 'sent', distinguishedFolderId: 'sentitems' });
			expect(byPath.get('Drafts')).toMatchObject({ specialUse: 'drafts' });
			expect(byPath.get('Archive')).toMatchObject({ specialUse: null, parentPath: '' });
			const inbox = server.folderItems(ALICE, 'inbox');
			expect(byPath.get('Inbox')).toMatchObject({ totalCount: inbox.length, unreadCount: inbox.filter((i) => !i.isRead).length, messages: inbox.length });
			expect(byPath.get('Junk Email')?.totalCount).toBe(server.folderItems(ALICE, 'junkemail').length);
			// folders hidden from users (the root, Recoverable Items) are not listed
			expect([...byPath.keys()].some((p) => /Recoverable|Deletions|Top of Information Store/.test(p))).toBe(false);
			// every request impersonates the app's mailbox and names it for routing
			const sent = requests();
			expect(sent.map((r) => r.operation)).toEqual(expect.arrayContaining(['GetFolder', 'FindFolder']));
			for (const r of sent) expect(r).toMatchObject({ impersonated: ALICE, anchorMailbox: ALICE, authorization: 'bearer' });
			expect(sent.find((r) => r.operation === 'FindFolder')?.body).toContain('Traversal="Deep"');
		});

		it('Create: nested path with its parents; an existing folder fails naming Folder Path, or is returned', async () => {
			const [created] = await run({ resource: 'folder', operation: 'create', folderPath: 'Clients/2026/Q1', options: {} });
			expect(created).toMatchObject({ path: 'Clients/2026/Q1', created: true, parentsCreated: ['Clients', 'Clients/2026'], mailbox: ALICE });
			const folders = await run({ resource: 'folder', operation: 'list', options: {} });
			expect(folders.find((f) => f.path === 'Clients/2026/Q1')).toMatchObject({ folderId: created.folderId, parentPath: 'Clients/2026' });

			const under = await run({ resource: 'folder', operation: 'create', folderPath: 'Inbox/Projects/Done', options: {} });
			expect(under[0]).toMatchObject({ created: true, parentsCreated: [] });

			const again = await failure(run({ resource: 'folder', operation: 'create', folderPath: 'Clients/2026/Q1', options: {} }));
			expect(again.message).toContain('"Clients/2026/Q1" already exists');
			const returned = await run({ resource: 'folder', operation: 'create', folderPath: 'clients/2026/q1', options: { ifExists: 'return' } });
			expect(returned[0]).toMatchObject({ created: false, folderId: created.folderId });
		});

		it('Rename and Delete are IMAP only: the error names Access Via', async () => {
			const error = await failure(run({ resource: 'folder', operation: 'rename', folderPath: 'Clients', newPath: 'Customers' }));
			expect(error.message).toContain('Folder → Rename is not available with Access Via: Exchange Web Services (EWS)');
			expect(error.description).toContain('Access Via to IMAP');
		});
	});

	describe('Message', () => {
		it('Move: all items in one MoveItem request; each item its new item id, a vanished one its own error', async () => {
			const a = add(ALICE, 'inbox');
			const b = add(ALICE, 'inbox');
			const gone = add(ALICE, 'inbox');
			await run({ resource: 'message', operation: 'delete', options: { deletePermanently: true } }, { items: items([gone.itemId]) });
			const requests = since();
			const out = await run({ resource: 'message', operation: 'move', destination: 'Archive' }, { items: items([a.itemId, gone.itemId, b.itemId]), continueOnFail: true });
			expect(out).toHaveLength(3);
			expect(out[0]).toMatchObject({ operation: 'move', mailbox: ALICE, itemId: a.itemId, destination: 'Archive', newItemId: expect.any(String) });
			expect(out[1]).toMatchObject({ error: expect.stringContaining('was not found') });
			expect(out[2]).toMatchObject({ itemId: b.itemId, newItemId: expect.any(String) });
			expect(out[0].newItemId).not.toBe(a.itemId);
			const archive = server.folderItems(ALICE, 'Archive');
			expect(archive.map((i) => i.itemId)).toEqual(expect.arrayContaining([out[0].newItemId, out[2].newItemId]));
			expect(subjects(ALICE, 'inbox')).not.toEqual(expect.arrayContaining([a.subject, b.subject]));
			const moves = requests().filter((r) => r.operation === 'MoveItem');
			expect(moves).toHaveLength(1);
			for (const id of [a.itemId, gone.itemId, b.itemId]) expect(moves[0].body).toContain(`Id="${id}"`);
			expect(moves[0]).toMatchObject({ impersonated: ALICE, anchorMailbox: ALICE, responseCodes: ['NoError', 'ErrorItemNotFound', 'NoError'] });
		});

		it('Move without Continue On Fail: a vanished message stops the node with an error naming it', async () => {
			const gone = add(ALICE, 'inbox');
			await run({ resource: 'message', operation: 'delete', options: { deletePermanently: true } }, { items: items([gone.itemId]) });
			const error = await failure(run({ resource: 'message', operation: 'move', destination: 'Archive' }, { items: items([gone.itemId]) }));
			expect(error.message).toContain('was not found');
			expect(error.message).toContain('ErrorItemNotFound');
		});

		it('Move to a folder that does not exist: the error names Destination Folder and nothing moves', async () => {
			const a = add(ALICE, 'inbox');
			const requests = since();
			const error = await failure(run({ resource: 'message', operation: 'move', destination: 'Archive/Nope' }, { items: items([a.itemId]) }));
			expect(error.message).toContain('Destination Folder');
			expect(error.message).toContain('"Nope" was not found');
			expect(requests().some((r) => r.operation === 'MoveItem')).toBe(false);
			expect(subjects(ALICE, 'inbox')).toContain(a.subject);
		});

		it('Copy: copies with new item ids in the destination, the originals stay', async () => {
			const a = add(ALICE, 'inbox');
			const b = add(ALICE, 'inbox');
			const requests = since();
			const out = await run({ resource: 'message', operation: 'copy', destination: 'Inbox/Projects' }, { items: items([a.itemId, b.itemId]) });
			expect(out.map((o) => o.destination)).toEqual(['Inbox/Projects', 'Inbox/Projects']);
			expect(subjects(ALICE, 'Inbox/Projects')).toEqual(expect.arrayContaining([a.subject, b.subject]));
			expect(subjects(ALICE, 'inbox')).toEqual(expect.arrayContaining([a.subject, b.subject]));
			expect(requests().filter((r) => r.operation === 'CopyItem')).toHaveLength(1);
		});

		it('Delete: to Deleted Items by default, permanently as an option, each in one DeleteItem request', async () => {
			const a = add(ALICE, 'inbox');
			const b = add(ALICE, 'inbox');
			let requests = since();
			const out = await run({ resource: 'message', operation: 'delete', options: {} }, { items: items([a.itemId, b.itemId]) });
			expect(out).toEqual([expect.objectContaining({ itemId: a.itemId, deleted: true, permanently: false }), expect.objectContaining({ itemId: b.itemId, deleted: true, permanently: false })]);
			expect(subjects(ALICE, 'deleteditems')).toEqual(expect.arrayContaining([a.subject, b.subject]));
			let deletes = requests().filter((r) => r.operation === 'DeleteItem');
			expect(deletes).toHaveLength(1);
			expect(deletes[0].body).toContain('DeleteType="MoveToDeletedItems"');

			const c = add(ALICE, 'inbox');
			requests = since();
			await run({ resource: 'message', operation: 'delete', options: { deletePermanently: true } }, { items: items([c.itemId]) });
			deletes = requests().filter((r) => r.operation === 'DeleteItem');
			expect(deletes[0].body).toContain('DeleteType="HardDelete"');
			expect(subjects(ALICE, 'inbox')).not.toContain(c.subject);
			expect(subjects(ALICE, 'deleteditems')).not.toContain(c.subject);
		});

		it('Set Flags Read / Clear Flags Read: marks read and unread with one GetItem and one UpdateItem', async () => {
			const a = add(ALICE, 'inbox');
			const b = add(ALICE, 'inbox');
			const isRead = (id: string) => server.folderItems(ALICE, 'inbox').find((i) => i.itemId === id)?.isRead;
			let requests = since();
			const out = await run({ resource: 'message', operation: 'setFlags', flags: ['\\Seen'], keywords: '' }, { items: items([a.itemId, b.itemId]) });
			expect(out).toEqual([expect.objectContaining({ itemId: a.itemId, isRead: true, flagsSet: ['\\Seen'] }), expect.objectContaining({ itemId: b.itemId, isRead: true })]);
			expect([isRead(a.itemId), isRead(b.itemId)]).toEqual([true, true]);
			const sent = requests();
			expect(sent.map((r) => r.operation)).toEqual(['GetItem', 'UpdateItem']);
			expect(sent[1].body).toContain('message:IsRead');
			expect(sent[1].body).toContain(`Id="${a.itemId}"`);
			expect(sent[1].body).toContain(`Id="${b.itemId}"`);
			expect(sent[1].body).toContain('SuppressReadReceipts="true"');

			requests = since();
			const cleared = await run({ resource: 'message', operation: 'clearFlags', flags: ['\\Seen'], keywords: '' }, { items: items([a.itemId]) });
			expect(cleared[0]).toMatchObject({ isRead: false, flagsCleared: ['\\Seen'] });
			expect(isRead(a.itemId)).toBe(false);
			expect(isRead(b.itemId)).toBe(true);
			expect(requests().map((r) => r.operation)).toEqual(['GetItem', 'UpdateItem']);
		});

		it('Set Flags with Flagged or keywords: not supported over EWS, the error names the field; nothing is sent', async () => {
			const a = add(ALICE, 'inbox');
			const requests = since();
			const flagged = await failure(run({ resource: 'message', operation: 'setFlags', flags: ['\\Seen', '\\Flagged'], keywords: '' }, { items: items([a.itemId]) }));
			expect(flagged.message).toContain('\\Flagged are not supported over EWS');
			expect(flagged.message).toContain('Access Via');
			const keyword = await failure(run({ resource: 'message', operation: 'clearFlags', flags: [], keywords: 'Invoice-Paid' }, { items: items([a.itemId]) }));
			expect(keyword.message).toContain('Keywords (Invoice-Paid) are not supported over EWS');
			expect(requests()).toEqual([]);
		});

		it('Mark as Spam: to Junk Email; one already there stays, with a note', async () => {
			const a = add(ALICE, 'inbox');
			const junk = add(ALICE, 'junkemail');
			const junkId = (await run({ resource: 'folder', operation: 'list', options: {} })).find((f) => f.distinguishedFolderId === 'junkemail')?.folderId;
			const requests = since();
			const out = await run({ resource: 'message', operation: 'markAsSpam', options: {} }, { items: items([a.itemId, junk.itemId]) });
			expect(out[0]).toMatchObject({ itemId: a.itemId, moved: true, destination: 'Junk Email', newItemId: expect.any(String) });
			expect(out[1]).toMatchObject({ itemId: junk.itemId, moved: false, newItemId: null, note: expect.stringContaining('already in the junk folder') });
			const inJunk = server.folderItems(ALICE, 'junkemail');
			expect(inJunk.map((i) => i.subject)).toEqual(expect.arrayContaining([a.subject, junk.subject]));
			expect(inJunk.find((i) => i.subject === a.subject)?.itemId).toBe(out[0].newItemId);
			const sent = requests();
			expect(sent.find((r) => r.operation === 'GetFolder')?.body).toContain('<t:DistinguishedFolderId Id="junkemail"');
			const moves = sent.filter((r) => r.operation === 'MoveItem');
			expect(moves).toHaveLength(1);
			expect(moves[0].body).toContain(`<m:ToFolderId><t:FolderId Id="${junkId}"`);
			expect(moves[0].body).not.toContain(junk.itemId);
		});

		it('Mark as Not Spam: from Junk Email back to the Inbox (or a chosen folder); one not in Junk stays', async () => {
			const spam = add(ALICE, 'inbox');
			const [marked] = await run({ resource: 'message', operation: 'markAsSpam', options: {} }, { items: items([spam.itemId]) });
			const other = add(ALICE, 'inbox');
			const out = await run({ resource: 'message', operation: 'markAsNotSpam', options: {} }, { items: items([marked.newItemId as string, other.itemId]) });
			expect(out[0]).toMatchObject({ moved: true, destination: 'Inbox', newItemId: expect.any(String) });
			expect(out[1]).toMatchObject({ moved: false, note: expect.stringContaining('not in the junk folder') });
			expect(subjects(ALICE, 'inbox')).toContain(spam.subject);
			expect(subjects(ALICE, 'junkemail')).not.toContain(spam.subject);

			const again = add(ALICE, 'junkemail');
			const chosen = await run({ resource: 'message', operation: 'markAsNotSpam', options: { moveTo: 'Inbox/Projects' } }, { items: items([again.itemId]) });
			expect(chosen[0]).toMatchObject({ moved: true, destination: 'Inbox/Projects' });
			expect(subjects(ALICE, 'Inbox/Projects')).toContain(again.subject);
		});

		it('Get: the message as the triggers output it, with its item id; it stays unread', async () => {
			const a = add(ALICE, 'inbox', { subject: 'Quarterly report Ü' });
			const [item] = await run({ resource: 'message', operation: 'get', options: { includeRaw: true } }, { items: items([a.itemId]) });
			expect(item).toMatchObject({ subject: 'Quarterly report Ü', itemId: a.itemId, isRead: false, flags: [], mailbox: ALICE, messageId: `<ews-node-${seq}@example.com>` });
			expect(String(item.text)).toContain('Hello from Quarterly report');
			expect(item.from).toMatchObject({ value: [expect.objectContaining({ address: 'sender@example.com' })] });
			expect(server.folderItems(ALICE, 'inbox').find((i) => i.itemId === a.itemId)?.isRead).toBe(false);
		});

		it('Item ID that is not an EWS id (an IMAP UID) fails naming Item ID; an empty one too', async () => {
			const uid = await failure(run({ resource: 'message', operation: 'move', destination: 'Archive' }, { items: [{ json: { itemId: '<abc@example.com>' } }] }));
			expect(uid.message).toContain('is not an EWS item id');
			const empty = await failure(run({ resource: 'message', operation: 'delete', options: {} }, { items: [{ json: { uid: 5 } }] }));
			expect(empty.message).toContain('Item ID is empty');
		});

		it('Search, Append, Out of Office and Retention are IMAP only: the error names Access Via', async () => {
			for (const [resource, operation, words] of [
				['message', 'search', 'Message → Search'],
				['message', 'append', 'Message → Append'],
				['outOfOffice', 'get', 'Out of Office → Get'],
				['retention', 'apply', 'Retention → Remove Old Mail'],
			] as const) {
				const error = await failure(run({ resource, operation }));
				expect(error.message).toBe(`${words} is not available with Access Via: Exchange Web Services (EWS).`);
			}
		});

		it('delegated, a shared mailbox by delegate access: its address in folder ids and X-AnchorMailbox, no impersonation', async () => {
			const a = add(SHARED, 'inbox');
			const requests = since();
			const out = await run({ resource: 'message', operation: 'move', authentication: 'microsoftOAuth2', mailbox: SHARED, destination: 'Archive' }, { items: items([a.itemId]) });
			expect(out[0]).toMatchObject({ mailbox: SHARED, newItemId: expect.any(String) });
			expect(subjects(SHARED, 'Archive')).toContain(a.subject);
			const sent = requests();
			for (const r of sent) {
				expect(r).toMatchObject({ principal: 'alice', anchorMailbox: SHARED });
				expect(r.impersonated).toBeUndefined();
			}
			expect(sent.find((r) => r.operation === 'FindFolder')?.body).toMatch(/<t:DistinguishedFolderId Id="msgfolderroot"><t:Mailbox><t:EmailAddress>shared@contoso\.test<\/t:EmailAddress>/);
		});

		it('Password (on-premises Exchange): Basic sign-in, the credential\'s Exchange version; Exchange 2010 gets no SuppressReadReceipts', async () => {
			const a = add(ALICE, 'inbox');
			const requests = since();
			const out = await run({ resource: 'message', operation: 'setFlags', authentication: 'ewsPassword', flags: ['\\Seen'], keywords: '' }, { items: items([a.itemId]) });
			expect(out[0]).toMatchObject({ itemId: a.itemId, isRead: true, mailbox: 'alice' });
			expect(server.folderItems(ALICE, 'inbox').find((i) => i.itemId === a.itemId)?.isRead).toBe(true);
			const sent = requests();
			expect(sent.map((r) => r.operation)).toEqual(['GetItem', 'UpdateItem']);
			for (const r of sent) expect(r).toMatchObject({ authorization: 'basic', principal: 'alice', serverVersion: 'Exchange2010_SP2', mailbox: ALICE });
			expect(sent[1].body).not.toContain('SuppressReadReceipts');
		});

		it('Password: a shared mailbox by delegate access; the credential Test and Connection → Check', async () => {
			const a = add(SHARED, 'inbox');
			const out = await run({ resource: 'message', operation: 'markAsSpam', authentication: 'ewsPassword', mailbox: SHARED, options: {} }, { items: items([a.itemId]) });
			expect(out[0]).toMatchObject({ mailbox: SHARED, moved: true });
			expect(subjects(SHARED, 'junkemail')).toContain(a.subject);
			expect(server.requests.at(-1)).toMatchObject({ operation: 'MoveItem', authorization: 'basic', anchorMailbox: SHARED, mailbox: SHARED });

			const node = new Mailbox();
			const test = (node.methods.credentialTest as Record<string, (this: unknown, c: unknown) => Promise<{ status: string; message: string }>>).mailboxEwsConnectionTest;
			const data = credentials().mailboxEwsApi;
			expect(await test.call({}, { id: '1', name: 'EWS', type: 'mailboxEwsApi', data })).toMatchObject({ status: 'OK', message: expect.stringContaining('Inbox has') });
			const wrong = await test.call({}, { id: '1', name: 'EWS', type: 'mailboxEwsApi', data: { ...data, password: 'nope' } });
			expect(wrong.status).toBe('Error');
			expect(wrong.message).toContain('rejected the user name or password');
			expect(wrong.message).not.toContain('nope');

			const [check] = await run({ resource: 'connection', operation: 'check', authentication: 'ewsPassword', options: {} }, { credentials: { ...credentials(), mailboxEwsApi: { ...data, password: 'nope' } } });
			expect(check).toMatchObject({ ok: false, failedStep: 'login', errorCode: 'AUTH', field: 'password' });
		});

		it('Authentication Password (IMAP) does not work over EWS: the error names Authentication', async () => {
			const error = await failure(run({ resource: 'folder', operation: 'list', authentication: 'password', options: {} }));
			expect(error.message).toContain('does not work with Access Via: Exchange Web Services (EWS)');
		});
	});
});
