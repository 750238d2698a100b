/**
 * The Mailbox Router with Deliver Via: Microsoft Graph against the local Graph endpoint
 * (test/servers/graph.ts): the catch-all mailbox's Inbox is the master mailbox, the inboxes are
 * folders "Inboxes/<name>" of the same Microsoft 365 mailbox, created when missing. Asserts the
 * requests (mailFolder: importMime on /beta with the raw message as base64 text/plain), the
 * messages in the folders (the bytes given, unread, not drafts), the master copy removed only
 * after every copy is in place, a re-run that adds nothing, and a refused importMime that names
 * the permission and leaves the message in the master mailbox.
 *
 * Two seams, both outside the code under test (as in mailbox-ews.test.ts): the app's token comes
 * from the local OAuth server instead of MSAL, and connectGraph trusts the test certificate.
 */
import fs from 'node:fs';
import type { IDataObject, INodeExecutionData } from 'n8n-workflow';
import { connectGraph } from '../../lib/graph/client';
import { headersFromRaw } from '../../lib/router/route';
import { MailboxRouter } from '../../nodes/MailboxRouter/MailboxRouter.node';
import { GraphServer, type GraphRequestLog } from '../servers/graph';
import { OAuthServer } from '../servers/oauth';
import { executeContext } from './helpers/execute-context';
import { localCertificate } from './helpers/local-tls';

const mockSeams: { ca?: Buffer; appToken?: () => string } = {};

jest.mock('../../lib/auth/microsoft', () => {
	const actual = jest.requireActual('../../lib/auth/microsoft');
	return {
		...actual,
		getAppToken: jest.fn(async () => {
			if (!mockSeams.appToken) throw new Error('no app token source');
			return { accessToken: mockSeams.appToken(), expiresOn: new Date(Date.now() + 3600_000), fromCache: false };
		}),
	};
});

jest.mock('../../lib/graph/client', () => {
	const actual = jest.requireActual('../../lib/graph/client');
	return { ...actual, connectGraph: (options: Record<string, unknown>) => actual.connectGraph({ ...options, ca: mockSeams.ca }) };
});

const CATCHALL = 'catchall@firma.example';
const DATE = new Date('2026-02-01T09:00:00Z');

function mail(n: number, headers: Record<string, string>): Buffer {
	const lines = [
		...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
		'From: Customer <customer@client.example>',
		`Subject: Message ${n}`,
		`Date: ${DATE.toUTCString()}`,
		`Message-ID: <graph-router-${n}@client.example>`,
		'MIME-Version: 1.0',
		'Content-Type: text/plain; charset=utf-8',
		'',
		`Body of message ${n}.`,
		'',
	];
	return Buffer.from(lines.join('\r\n'));
}

/** What a trigger on the catch-all mailbox would output for a message (with or without the raw message). */
function triggerItem(raw: Buffer, withRaw: boolean): INodeExecutionData {
	const headers = headersFromRaw(raw);
	return {
		json: { messageId: headers['message-id'][0], folder: 'INBOX', mailbox: CATCHALL, headers, subject: headers.subject[0] },
		...(withRaw ? { binary: { raw: { data: raw.toString('base64'), mimeType: 'message/rfc822', fileName: 'message.eml' } } } : {}),
	};
}

describe('Mailbox Router, Deliver Via: Microsoft Graph', () => {
	let dir: string;
	let oauth: OAuthServer;
	let server: GraphServer;
	let denyImport = false;

	const app = { tenantId: 'firma', clientId: 'router-app', clientSecret: 'Router-App-Secret~3', mailbox: CATCHALL, authorityHost: 'login.microsoftonline.com', imapHost: '127.0.0.1' };
	const params = (overrides: Record<string, unknown> = {}) => ({
		inboxes: { inbox: [{ name: 'Sales', addresses: 'sales@firma.example' }] },
		employees: { employee: [{ name: 'Anna Müller', addresses: 'anna@firma.example' }] },
		distributionLists: { list: [] },
		domainRedirects: { rule: [] },
		localPartRedirects: { rule: [] },
		directoryJson: '',
		dropUnknown: false,
		inboxRoot: 'Inboxes',
		masterAddresses: CATCHALL,
		deliver: true,
		deliverVia: 'graph',
		authentication: 'microsoftApp',
		graphUrl: server.url,
		mailbox: '',
		masterMailbox: '',
		afterDelivery: 'delete',
		options: {},
		...overrides,
	});
	const run = async (items: INodeExecutionData[], overrides: Record<string, unknown> = {}, continueOnFail = false) =>
		new MailboxRouter().execute.call(executeContext({ items, params: params(overrides), credentials: { mailboxMicrosoftAppApi: app }, continueOnFail, node: { name: 'Mailbox Router', type: 'n8n-nodes-mailbox.mailboxRouter', typeVersion: 1.1 } }));
	const since = () => {
		const start = server.requests.length;
		return (): GraphRequestLog[] => server.requests.slice(start);
	};
	const ids = (folder: string) => server.folderMessages(CATCHALL, folder).map((m) => m.internetMessageId);
	const routing = (item: INodeExecutionData) => item.json.routing as IDataObject;

	beforeAll(async () => {
		const tls = localCertificate('router-graph');
		dir = tls.dir;
		mockSeams.ca = tls.ca;
		oauth = await OAuthServer.start({ users: ['routerapp'] });
		mockSeams.appToken = () => oauth.issueToken('routerapp');
		server = await GraphServer.start({
			tls: { key: tls.key, cert: tls.ca },
			tokenInfo: (token) => {
				const user = oauth.tokenUser(token);
				return user ? { user, audience: 'https://graph.microsoft.com' } : undefined;
			},
			mailboxes: [CATCHALL],
			access: { routerapp: [CATCHALL] },
			importMimeDenied: () => denyImport,
		});
	});
	afterEach(() => {
		denyImport = false;
	});
	afterAll(async () => {
		await server?.stop();
		await oauth?.stop();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it('creates each copy with importMime in "Inboxes/<name>" (created when missing), as delivered and byte for byte, then deletes the master copy; a re-run adds nothing', async () => {
		const raws = [
			mail(1, { 'Delivered-To': CATCHALL, To: 'Anna <anna@firma.example>, sales@firma.example' }),
			mail(2, { 'Delivered-To': CATCHALL, To: 'sales@firma.example' }),
			mail(3, { 'Delivered-To': CATCHALL, To: 'nobody@firma.example' }),
		];
		for (const raw of raws) server.addMessage(CATCHALL, 'inbox', raw);
		const items = raws.map((raw) => triggerItem(raw, true));
		const requests = since();
		const [routed, kept] = await run(items);

		expect(routed.map((i) => `${i.json.messageId as string} ${(routing(i).target as IDataObject).folder as string}`)).toEqual([
			'<graph-router-1@client.example> Inboxes/Anna Müller',
			'<graph-router-1@client.example> Inboxes/Sales',
			'<graph-router-2@client.example> Inboxes/Sales',
		]);
		expect(routing(routed[0]).delivery).toMatchObject({ status: 'appended', folder: 'Inboxes/Anna Müller', folderCreated: true, uid: null, id: expect.any(String), error: null });
		expect(routing(routed[2]).delivery).toMatchObject({ status: 'appended', folder: 'Inboxes/Sales', folderCreated: false });
		expect(routing(routed[0]).master).toMatchObject({ status: 'deleted', id: expect.any(String) });
		expect(kept.map((i) => routing(i).master)).toEqual([expect.objectContaining({ status: 'kept' })]);

		// the requests: folders created level by level, then one importMime per copy on /beta, the raw message in base64 as text/plain
		const sent = requests();
		const imports = sent.filter((r) => r.path.endsWith('/importMime'));
		expect(imports).toHaveLength(3);
		for (const r of imports) {
			expect(r).toMatchObject({ method: 'POST', status: 201, principal: 'routerapp', mailbox: CATCHALL });
			expect(r.path).toMatch(/^\/beta\/users\/catchall@firma\.example\/mailFolders\/[A-Za-z0-9_=-]+\/importMime$/);
			expect(r.contentType).toMatch(/^text\/plain/);
			expect(r.prefer).toBe('IdType="ImmutableId"');
		}
		expect(imports.map((r) => Buffer.from(r.body, 'base64').toString('latin1'))).toEqual([raws[0], raws[0], raws[1]].map((r) => r.toString('latin1')));
		expect(sent.filter((r) => r.method === 'POST' && /\/(mailFolders|childFolders)$/.test(r.path)).map((r) => JSON.parse(r.body).displayName)).toEqual(['Inboxes', 'Anna Müller', 'Sales']);
		// nothing went to v1.0's draft-creating message POST
		expect(sent.filter((r) => r.method === 'POST' && r.path.endsWith('/messages'))).toEqual([]);

		// the folders hold the exact bytes, unread, not drafts
		expect(ids('Inboxes/Anna Müller')).toEqual(['<graph-router-1@client.example>']);
		expect(ids('Inboxes/Sales')).toEqual(['<graph-router-1@client.example>', '<graph-router-2@client.example>']);
		const sales = server.folderMessages(CATCHALL, 'Inboxes/Sales');
		expect(sales.map((m) => m.raw.toString('latin1'))).toEqual([raws[0], raws[1]].map((r) => r.toString('latin1')));
		expect(sales.map((m) => m.isRead)).toEqual([false, false]);
		expect(server.imported.map((x) => x.id)).toEqual(expect.arrayContaining([routing(routed[2]).delivery as IDataObject].map((d) => d.id as string)));
		const client = await connectGraph({ baseUrl: server.url, ca: mockSeams.ca, auth: { type: 'token', token: oauth.issueToken('routerapp') }, mailbox: CATCHALL });
		try {
			const created = await client.getMessage(String((routing(routed[2]).delivery as IDataObject).id), ['isDraft', 'isRead', 'internetMessageId']);
			expect(created).toMatchObject({ isDraft: false, isRead: false, internetMessageId: '<graph-router-2@client.example>' });
		} finally {
			client.close();
		}

		// the master copies of 1 and 2 went to Deleted Items after their copies; 3 stays for its unknown recipient
		expect(ids('inbox')).toEqual(['<graph-router-3@client.example>']);
		expect(ids('deleteditems')).toEqual(['<graph-router-1@client.example>', '<graph-router-2@client.example>']);

		// the same items again (as after a crash before the trigger acknowledged them): no import, nothing new
		const again = since();
		const [routedAgain] = await run(items);
		expect(routedAgain.map((i) => `${(routing(i).delivery as IDataObject).status as string} ${(routing(i).master as IDataObject).status as string}`)).toEqual([
			'alreadyPresent notFound',
			'alreadyPresent notFound',
			'alreadyPresent notFound',
		]);
		expect(again().filter((r) => r.path.endsWith('/importMime'))).toEqual([]);
		expect(ids('Inboxes/Sales')).toEqual(['<graph-router-1@client.example>', '<graph-router-2@client.example>']);
	});

	it('without the raw message in the item, reads it from the master mailbox by Message-ID; Move to Folder moves the master copy', async () => {
		const raw = mail(10, { 'Delivered-To': CATCHALL, To: 'sales@firma.example' });
		server.addMessage(CATCHALL, 'inbox', raw);
		const [routed] = await run([triggerItem(raw, false)], { afterDelivery: 'move', moveToFolder: 'Archive/Routed' });
		expect(routing(routed[0]).delivery).toMatchObject({ status: 'appended', folder: 'Inboxes/Sales' });
		expect(routing(routed[0]).master).toMatchObject({ status: 'moved' });
		expect(server.folderMessages(CATCHALL, 'Inboxes/Sales').find((m) => m.internetMessageId === '<graph-router-10@client.example>')?.raw.equals(raw)).toBe(true);
		expect(ids('Archive/Routed')).toEqual(['<graph-router-10@client.example>']);
		expect(ids('inbox')).not.toContain('<graph-router-10@client.example>');
	});

	it('importMime refused (no Mail-Advanced.ReadWrite.All): the error names the permission and the message stays in the master mailbox', async () => {
		const raw = mail(20, { 'Delivered-To': CATCHALL, To: 'sales@firma.example' });
		server.addMessage(CATCHALL, 'inbox', raw);
		denyImport = true;
		const [routed] = await run([triggerItem(raw, true)], {}, true);
		expect(routing(routed[0]).delivery).toMatchObject({ status: 'failed', folder: 'Inboxes/Sales' });
		expect(String((routing(routed[0]).delivery as IDataObject).error)).toContain('Mail-Advanced.ReadWrite.All');
		expect(routing(routed[0]).master).toMatchObject({ status: 'skipped' });
		expect(ids('inbox')).toContain('<graph-router-20@client.example>');
		expect(ids('Inboxes/Sales')).not.toContain('<graph-router-20@client.example>');

		// without continue on fail the run stops with that error
		await expect(run([triggerItem(raw, true)])).rejects.toThrow(/importMime/);
	});

	it('Deliver Via defaults to IMAP (saved workflows unchanged); the IMAP credential is offered only for IMAP', () => {
		const { description } = new MailboxRouter();
		const deliverVia = description.properties.find((p) => p.name === 'deliverVia');
		expect(deliverVia).toMatchObject({ default: 'imap', displayOptions: { show: { deliver: [true] } } });
		expect(description.credentials?.find((c) => c.name === 'mailboxImapApi')?.displayOptions?.show).toMatchObject({ deliverVia: ['imap'] });
		expect(description.properties.find((p) => p.name === 'graphUrl')?.displayOptions?.show).toMatchObject({ deliverVia: ['graph'] });
	});
});
