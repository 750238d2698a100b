/**
 * The action nodes with Microsoft Graph in a real n8n 2.41.1 against the local HTTPS Graph endpoint
 * (test/servers/graph.ts), one n8n for the file, workflows run by `n8n execute`:
 *
 * - With the Microsoft 365 app credential (a token for Graph from MSAL at the local Microsoft-style
 *   authority, scope https://graph.microsoft.com/.default): the Mailbox node lists the folders,
 *   searches a message, moves it into a folder, flags it and gives it a category, sets the
 *   automatic replies and reads them back; Send Email sends a message with sendMail as MIME; the
 *   Mailbox Router delivers a catch-all message into its inbox folder with the beta importMime.
 * - With the delegated credential (API: Microsoft Graph) connected through n8n's own OAuth2 flow:
 *   the authorization asks for Graph's scopes, the Mailbox node works on the signed-in user's
 *   mailbox under /me, and after the token was revoked n8n renews it, the run succeeds and the
 *   next run uses the token n8n stored.
 *
 * Each case asserts both what the workflow output and what the Graph endpoint was asked.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { simpleParser } from 'mailparser';
import { startMailServers, type MailServers } from '../servers';
import { GraphServer, type GraphRequestLog } from '../servers/graph';
import { MicrosoftAuthority } from '../servers/microsoft';
import { connectOAuth2Account, startPackagedN8n, Teardown } from './harness';
import type { N8n } from './n8n';

const ALICE = 'alice@contoso.test';
const CATCHALL = 'catchall@contoso.test';
const APP_SECRET = 'Graph-Actions-App-Secret-8';
const DELEGATED_ID = 'graph-delegated-app';
const DELEGATED_SECRET = 'Graph-Delegated-Secret-3';
const APP_WORKFLOW = 'mbxE2eGraphActionsApp';
const DELEGATED_WORKFLOW = 'mbxE2eGraphActionsMe';
const APP_CREDENTIAL = { mailboxMicrosoftAppApi: { id: 'mbxE2eGraphActionsApp', name: 'Microsoft 365 app (Graph actions)' } };

function mail(headers: string[], body: string): Buffer {
	return Buffer.from(
		[...headers, 'Date: Tue, 24 Nov 2026 10:00:00 +0100', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', body, ''].join('\r\n'),
	);
}

const INVOICE = mail(['From: "Lieferant GmbH" <rechnung@lieferant.test>', `To: ${ALICE}`, 'Subject: Rechnung 4711', 'Message-ID: <rechnung-4711@lieferant.test>'], 'Anbei die Rechnung 4711.');
const OTHER = mail(['From: "Kollege" <bob@contoso.test>', `To: ${ALICE}`, 'Subject: Mittagessen', 'Message-ID: <lunch-1@contoso.test>'], 'Gehen wir um zwölf?');
const CATCHALL_MAIL = mail(
	[`Delivered-To: ${CATCHALL}`, 'From: "Kundin Müller" <kundin@example.test>', 'To: vertrieb@contoso.test', 'Subject: Angebot bitte', 'Message-ID: <angebot-1@example.test>'],
	'Bitte senden Sie uns ein Angebot.',
);

/** A node of the workflows below. */
const graphNode = (name: string, position: [number, number], parameters: Record<string, unknown>, credentials: object, type = 'n8n-nodes-mailbox.mailbox', typeVersion = 1) => ({
	id: crypto.randomUUID(),
	name,
	type,
	typeVersion,
	position,
	parameters,
	credentials,
});

describe('Graph action nodes in real n8n', () => {
	const teardown = new Teardown();
	let servers: MailServers;
	let authority: MicrosoftAuthority;
	let graph: GraphServer;
	let n8n: N8n;
	let delegatedCredentialId: string;

	/** The Graph requests made from now on, inner $batch requests included. */
	const okGrants = (grantType: string) => authority.grants.filter((g) => g.clientId === DELEGATED_ID && g.grantType === grantType && g.ok);
	const since = () => {
		const start = graph.requests.length;
		return (): GraphRequestLog[] => graph.requests.slice(start).flatMap((r) => [r, ...(r.batch ?? [])]);
	};

	beforeAll(async () => {
		servers = teardown.add(await startMailServers(), (s) => s.stop());
		const tls = { key: fs.readFileSync(servers.dovecot.keyPath), cert: fs.readFileSync(servers.certPath) };
		authority = teardown.add(await new MicrosoftAuthority(tls, (user, lifetime) => servers.oauth.issueToken(user, lifetime), (token) => servers.oauth.tokenUser(token)).start(), (a) => a.stop());
		// the app's tokens act as "alice", who may open the catch-all mailbox; so do the tokens of the user who signs in
		authority.register({ tenant: 'contoso', clientId: 'graph-app', clientSecret: APP_SECRET, user: 'alice' });
		authority.registerDelegated({ tenant: 'contoso', clientId: DELEGATED_ID, clientSecret: DELEGATED_SECRET, user: 'alice' });
		// Graph takes only tokens for Graph (the audience the authority noted from the scope asked)
		graph = teardown.add(
			await GraphServer.start({
				tls,
				tokenInfo: (token) => {
					const user = servers.oauth.tokenUser(token);
					return user ? { user, audience: authority.tokenAudience(token) } : undefined;
				},
				mailboxes: [ALICE, CATCHALL],
				access: { alice: [CATCHALL] },
			}),
			(g) => g.stop(),
		);

		// n8n trusts the authority's and the Graph endpoint's test certificate like a company CA
		({ n8n } = await startPackagedN8n(teardown, 'graph-actions', { env: { NODE_EXTRA_CA_CERTS: servers.certPath } }));
		await n8n.importCredentials([
			{
				id: APP_CREDENTIAL.mailboxMicrosoftAppApi.id,
				name: APP_CREDENTIAL.mailboxMicrosoftAppApi.name,
				type: 'mailboxMicrosoftAppApi',
				data: { tenantId: 'contoso', clientId: 'graph-app', clientSecret: APP_SECRET, mailbox: ALICE, sharedMailboxes: CATCHALL, authorityHost: authority.host, imapHost: '127.0.0.1' },
			},
		]);
	});

	afterAll(() => teardown.run());

	it('with the Microsoft 365 app: folders, search, move, flag and category, out of office, Send Email and the Router\'s importMime', async () => {
		graph.createFolder(ALICE, 'inbox', 'Rechnungen');
		const invoice = graph.addMessage(ALICE, 'inbox', INVOICE);
		graph.addMessage(ALICE, 'inbox', OTHER);
		graph.addMessage(CATCHALL, 'inbox', CATCHALL_MAIL);
		const viaApp = (parameters: Record<string, unknown>) => ({ accessVia: 'graph', authentication: 'microsoftApp', mailbox: '', graphUrl: graph.url, ...parameters });
		const id = await n8n.importWorkflow({
			id: APP_WORKFLOW,
			name: 'Graph actions with the app e2e',
			active: false,
			// executionOrder v1 runs the branches of Start one after the other, top to bottom
			nodes: [
				{ id: '3c1d2e3f-4a50-4b61-8c72-9d0e1f2a4b00', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				graphNode('List folders', [300, 0], viaApp({ resource: 'folder', operation: 'list', options: {} }), APP_CREDENTIAL),
				graphNode('Find invoice', [300, 200], viaApp({ resource: 'message', operation: 'search', folder: 'Inbox', searchText: 'subject:Rechnung', returnAll: true, output: 'headers', options: {} }), APP_CREDENTIAL),
				graphNode('Move to Rechnungen', [600, 200], viaApp({ resource: 'message', operation: 'move', destination: 'Inbox/Rechnungen' }), APP_CREDENTIAL),
				graphNode('Flag and categorize', [900, 200], viaApp({ resource: 'message', operation: 'setFlags', flags: ['\\Flagged'], categories: 'Buchhaltung', options: {} }), APP_CREDENTIAL),
				graphNode(
					'Set out of office',
					[300, 400],
					viaApp({
						resource: 'outOfOffice',
						operation: 'set',
						text: 'Ich bin bis zum 10. Dezember nicht im Büro.',
						options: { startDate: '2026-12-01T08:00:00Z', endDate: '2026-12-10T17:00:00Z', externalAudience: 'contactsOnly', externalText: 'Out of office until 10 December.' },
					}),
					APP_CREDENTIAL,
				),
				graphNode('Get out of office', [600, 400], viaApp({ resource: 'outOfOffice', operation: 'get' }), APP_CREDENTIAL),
				graphNode(
					'Send via Graph',
					[300, 600],
					{
						sendVia: 'graph',
						authentication: 'microsoftApp',
						mailbox: '',
						graphUrl: graph.url,
						fromEmail: ALICE,
						fromName: 'Alice Buchhaltung',
						toEmail: 'bob@example.test',
						subject: 'Rechnung 4711 abgelegt',
						emailFormat: 'text',
						text: 'Die Rechnung 4711 liegt in Rechnungen.',
						reply: false,
						options: {},
						account: {},
					},
					APP_CREDENTIAL,
					'n8n-nodes-mailbox.mailboxSend',
				),
				graphNode(
					'Catch-all mail',
					[300, 800],
					viaApp({ resource: 'message', operation: 'search', mailbox: CATCHALL, folder: 'Inbox', searchText: '', filters: {}, returnAll: true, output: 'full', options: { includeRaw: true } }),
					APP_CREDENTIAL,
				),
				graphNode(
					'Route',
					[600, 800],
					{
						inboxes: { inbox: [{ name: 'Vertrieb', addresses: 'vertrieb@contoso.test', folder: '' }] },
						employees: { employee: [] },
						distributionLists: { list: [] },
						domainRedirects: { rule: [] },
						localPartRedirects: { rule: [] },
						dropUnknown: false,
						inboxRoot: 'Inboxes',
						masterAddresses: CATCHALL,
						deliver: true,
						deliverVia: 'graph',
						authentication: 'microsoftApp',
						graphUrl: graph.url,
						mailbox: CATCHALL,
						masterMailbox: CATCHALL,
						afterDelivery: 'delete',
						options: {},
					},
					APP_CREDENTIAL,
					'n8n-nodes-mailbox.mailboxRouter',
					1.1,
				),
			],
			connections: {
				Start: {
					main: [
						[
							{ node: 'List folders', type: 'main', index: 0 },
							{ node: 'Find invoice', type: 'main', index: 0 },
							{ node: 'Set out of office', type: 'main', index: 0 },
							{ node: 'Send via Graph', type: 'main', index: 0 },
							{ node: 'Catch-all mail', type: 'main', index: 0 },
						],
					],
				},
				'Find invoice': { main: [[{ node: 'Move to Rechnungen', type: 'main', index: 0 }]] },
				'Move to Rechnungen': { main: [[{ node: 'Flag and categorize', type: 'main', index: 0 }]] },
				'Set out of office': { main: [[{ node: 'Get out of office', type: 'main', index: 0 }]] },
				'Catch-all mail': { main: [[{ node: 'Route', type: 'main', index: 0 }]] },
			},
			settings: { executionOrder: 'v1' },
		});

		const requests = since();
		const run = await n8n.execute(id);
		expect(run.error).toBeUndefined();
		expect(run.status).toBe('success');
		const sent = requests();

		// the app's token was asked for Graph, and every request went with it to the mailboxes under /users/{address}
		const scopes = authority.requests.filter((r) => r.grantType === 'client_credentials').map((r) => r.scope);
		expect([...new Set(scopes)]).toEqual(['https://graph.microsoft.com/.default']);
		for (const r of sent) expect(r).toMatchObject({ authorization: 'bearer', principal: 'alice' });
		// (an inner request of a $batch is logged with the path of its url, which is relative to /v1.0)
		for (const r of sent) {
			const fullPath = r.batchId ? `/v1.0${r.path}` : r.path;
			if (fullPath !== '/v1.0/$batch') expect(fullPath).toMatch(/^\/(v1\.0|beta)\/users\/(alice|catchall)@contoso\.test\//);
		}
		expect(sent.filter((r) => r.status >= 400)).toEqual([]);
		expect(JSON.stringify(graph.requests)).not.toContain(APP_SECRET);

		// Folder → List: the well-known folders and the subfolder, by path
		const folders = run.output['List folders'];
		expect(folders.map((f) => f.path)).toEqual(expect.arrayContaining(['Inbox', 'Inbox/Rechnungen', 'Sent Items', 'Junk Email', 'Deleted Items']));
		expect(folders.find((f) => f.path === 'Inbox')).toMatchObject({ mailbox: ALICE, messages: 2, unseen: 2 });

		// Message → Search ($search), Move and Set Flags on the one invoice, by its immutable id
		const found = run.output['Find invoice'];
		expect(found).toHaveLength(1);
		expect(found[0]).toMatchObject({ mailbox: ALICE, folder: 'Inbox', messageId: '<rechnung-4711@lieferant.test>', subject: 'Rechnung 4711', itemId: invoice.immutableId });
		const searched = sent.filter((r) => r.method === 'GET' && r.query.$search !== undefined);
		expect(searched.map((r) => r.query.$search)).toEqual(['"subject:Rechnung"']);
		expect(run.output['Move to Rechnungen']).toEqual([expect.objectContaining({ operation: 'move', mailbox: ALICE, itemId: invoice.immutableId, destination: 'Inbox/Rechnungen', newItemId: invoice.immutableId })]);
		expect(sent.filter((r) => r.path.endsWith('/move')).map((r) => r.path)).toEqual([`/v1.0/users/${ALICE}/messages/${invoice.immutableId}/move`]);
		expect(run.output['Flag and categorize']).toEqual([expect.objectContaining({ operation: 'setFlags', itemId: invoice.immutableId, flagsSet: ['\\Flagged'] })]);
		const patched = sent.filter((r) => r.method === 'PATCH' && r.path.includes('/messages/'));
		expect(patched.map((r) => r.path)).toEqual([`/v1.0/users/${ALICE}/messages/${invoice.immutableId}`]);
		expect(JSON.parse(patched[0].body)).toMatchObject({ flag: { flagStatus: 'flagged' }, categories: ['Buchhaltung'] });
		expect(graph.folderMessages(ALICE, 'Inbox/Rechnungen')).toEqual([expect.objectContaining({ internetMessageId: '<rechnung-4711@lieferant.test>', flagStatus: 'flagged', categories: ['Buchhaltung'] })]);
		expect(graph.folderMessages(ALICE, 'inbox').map((m) => m.internetMessageId)).toEqual(['<lunch-1@contoso.test>']);

		// Out of Office → Set (scheduled, external audience) and → Get: the mailbox's automaticRepliesSetting
		const scheduled = {
			enabled: true,
			status: 'scheduled',
			internalText: 'Ich bin bis zum 10. Dezember nicht im Büro.',
			externalText: 'Out of office until 10 December.',
			externalAudience: 'contactsOnly',
			startDate: '2026-12-01T08:00:00.000Z',
			endDate: '2026-12-10T17:00:00.000Z',
			mailbox: ALICE,
		};
		expect(run.output['Set out of office']).toEqual([expect.objectContaining(scheduled)]);
		expect(run.output['Get out of office']).toEqual([expect.objectContaining(scheduled)]);
		expect(graph.mailboxSettings(ALICE).automaticRepliesSetting).toMatchObject({
			status: 'scheduled',
			externalAudience: 'contactsOnly',
			internalReplyMessage: 'Ich bin bis zum 10. Dezember nicht im Büro.',
			externalReplyMessage: 'Out of office until 10 December.',
			scheduledStartDateTime: { dateTime: expect.stringMatching(/^2026-12-01T08:00:00/), timeZone: 'UTC' },
			scheduledEndDateTime: { dateTime: expect.stringMatching(/^2026-12-10T17:00:00/), timeZone: 'UTC' },
		});
		const settingsRequests = sent.filter((r) => r.path === `/v1.0/users/${ALICE}/mailboxSettings` || r.path === `/v1.0/users/${ALICE}/mailboxSettings/automaticRepliesSetting`);
		expect(settingsRequests.map((r) => r.method)).toEqual(expect.arrayContaining(['PATCH', 'GET']));

		// Send Email via Graph: sendMail with the MIME; the item's SHA-256 is of the bytes the endpoint got
		expect(graph.sent).toHaveLength(1);
		const [mime] = graph.sent;
		expect(mime).toMatchObject({ mailbox: ALICE, format: 'mime', savedToSentItems: true, recipients: ['bob@example.test'] });
		const parsed = await simpleParser(mime.raw);
		expect(parsed.from?.value).toEqual([{ address: ALICE, name: 'Alice Buchhaltung' }]);
		expect(parsed.to).toMatchObject({ value: [{ address: 'bob@example.test', name: '' }] });
		expect(parsed.subject).toBe('Rechnung 4711 abgelegt');
		expect(parsed.text?.trim()).toBe('Die Rechnung 4711 liegt in Rechnungen.');
		const [sendItem] = run.output['Send via Graph'];
		expect(sendItem).toMatchObject({ sendVia: 'graph', mailbox: ALICE, graphUrl: graph.url, recipients: ['bob@example.test'], messageId: parsed.messageId, size: mime.raw.length, savedToSentItems: true });
		expect(sendItem.sha256).toBe(crypto.createHash('sha256').update(mime.raw).digest('hex'));
		const sendMail = sent.filter((r) => r.path.endsWith('/sendMail'));
		expect(sendMail).toEqual([expect.objectContaining({ method: 'POST', path: `/v1.0/users/${ALICE}/sendMail`, status: 202, contentType: expect.stringMatching(/^text\/plain/) })]);
		expect(Buffer.from(sendMail[0].body, 'base64').equals(mime.raw)).toBe(true);

		// the Router, Deliver Via Graph: importMime on /beta into "Inboxes/Vertrieb" (created), then the master copy to Deleted Items
		const [routed] = run.output.Route;
		expect(run.output.Route).toHaveLength(1);
		expect(routed).toMatchObject({
			messageId: '<angebot-1@example.test>',
			routing: {
				outcome: 'routed',
				target: expect.objectContaining({ folder: 'Inboxes/Vertrieb' }),
				delivery: expect.objectContaining({ status: 'appended', folder: 'Inboxes/Vertrieb', folderCreated: true, id: expect.any(String) }),
				master: expect.objectContaining({ status: 'deleted' }),
			},
		});
		const imports = sent.filter((r) => r.path.endsWith('/importMime'));
		expect(imports).toHaveLength(1);
		expect(imports[0]).toMatchObject({ method: 'POST', status: 201, mailbox: CATCHALL, prefer: 'IdType="ImmutableId"', contentType: expect.stringMatching(/^text\/plain/) });
		expect(imports[0].path).toMatch(/^\/beta\/users\/catchall@contoso\.test\/mailFolders\/[A-Za-z0-9_=-]+\/importMime$/);
		expect(Buffer.from(imports[0].body, 'base64').equals(CATCHALL_MAIL)).toBe(true);
		expect(graph.imported).toEqual([expect.objectContaining({ mailbox: CATCHALL, id: (routed.routing as { delivery: { id: string } }).delivery.id })]);
		expect(graph.imported[0].raw.equals(CATCHALL_MAIL)).toBe(true);
		// only importMime went to /beta; no draft was created with v1.0's message POST
		expect(sent.filter((r) => r.path.startsWith('/beta/')).length).toBe(1);
		expect(sent.filter((r) => r.method === 'POST' && r.path.endsWith('/messages'))).toEqual([]);
		const delivered = graph.folderMessages(CATCHALL, 'Inboxes/Vertrieb');
		expect(delivered.map((m) => [m.internetMessageId, m.isRead])).toEqual([['<angebot-1@example.test>', false]]);
		expect(delivered[0].raw.equals(CATCHALL_MAIL)).toBe(true);
		expect(graph.folderMessages(CATCHALL, 'inbox')).toEqual([]);
		expect(graph.folderMessages(CATCHALL, 'deleteditems').map((m) => m.internetMessageId)).toEqual(['<angebot-1@example.test>']);
	});

	it('connects the delegated credential with API: Microsoft Graph through n8n\'s OAuth2 flow, asking for Graph\'s scopes', async () => {
		await n8n.start();
		await n8n.setupOwner();
		const created = await n8n.rest('POST', '/rest/credentials', {
			name: 'Alice (Microsoft Graph, delegated)',
			type: 'mailboxMicrosoftOAuth2Api',
			data: { clientId: DELEGATED_ID, clientSecret: DELEGATED_SECRET, mailbox: ALICE, api: 'graph', tenantId: 'contoso', authorityHost: authority.host, imapHost: '127.0.0.1' },
		});
		expect(created.status).toBe(200);
		delegatedCredentialId = (created.json as { data: { id: string } }).data.id;

		const { auth, callback } = await connectOAuth2Account(n8n, delegatedCredentialId, servers.certPath);
		expect(`${auth.origin}${auth.pathname}`).toBe(`https://${authority.host}/contoso/oauth2/v2.0/authorize`);
		expect(auth.searchParams.get('scope')?.split(' ')).toEqual([
			'offline_access',
			'https://graph.microsoft.com/Mail.ReadWrite',
			'https://graph.microsoft.com/Mail.Send',
			'https://graph.microsoft.com/MailboxSettings.ReadWrite',
		]);
		expect(auth.searchParams.get('redirect_uri')).toBe(`${n8n.url}/rest/oauth2-credential/callback`);
		expect(callback.status).toBe(200);
		expect(callback.body).not.toMatch(/error/i);
		const [grant] = okGrants('authorization_code');
		expect(okGrants('authorization_code')).toHaveLength(1);
		// the authority issued the token for Graph, from the scope n8n asked for
		expect(authority.tokenAudience(grant.accessToken as string)).toBe('https://graph.microsoft.com');
		const stored = await n8n.rest('GET', `/rest/credentials/${delegatedCredentialId}?includeData=true`);
		expect((stored.json as { data: { data: Record<string, unknown> } }).data.data.oauthTokenData).toBeTruthy();
	});

	it('the Mailbox node works on the signed-in user\'s mailbox under /me; a revoked token is renewed by n8n and the run succeeds', async () => {
		await n8n.stop(); // `n8n execute` works on n8n's state
		const credentials = { mailboxMicrosoftOAuth2Api: { id: delegatedCredentialId, name: 'Alice (Microsoft Graph, delegated)' } };
		const viaMe = (parameters: Record<string, unknown>) => ({ accessVia: 'graph', authentication: 'microsoftOAuth2', mailbox: '', graphUrl: graph.url, ...parameters });
		const id = await n8n.importWorkflow({
			id: DELEGATED_WORKFLOW,
			name: 'Graph actions as the signed-in user e2e',
			active: false,
			nodes: [
				{ id: '3c1d2e3f-4a50-4b61-8c72-9d0e1f2a4c00', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				graphNode('List folders', [300, 0], viaMe({ resource: 'folder', operation: 'list', options: {} }), credentials),
				// the invoice the app's workflow moved, flagged and categorized
				graphNode(
					'Find flagged',
					[300, 200],
					viaMe({ resource: 'message', operation: 'search', folder: 'Inbox/Rechnungen', searchText: '', filters: { flagged: 'yes', category: 'Buchhaltung' }, returnAll: true, output: 'headers', options: {} }),
					credentials,
				),
				graphNode('Mark read', [600, 200], viaMe({ resource: 'message', operation: 'setFlags', flags: ['\\Seen'], categories: '', options: {} }), credentials),
				graphNode('Get out of office', [300, 400], viaMe({ resource: 'outOfOffice', operation: 'get' }), credentials),
			],
			connections: {
				Start: {
					main: [
						[
							{ node: 'List folders', type: 'main', index: 0 },
							{ node: 'Find flagged', type: 'main', index: 0 },
							{ node: 'Get out of office', type: 'main', index: 0 },
						],
					],
				},
				'Find flagged': { main: [[{ node: 'Mark read', type: 'main', index: 0 }]] },
			},
			settings: { executionOrder: 'v1' },
		});
		const [invoice] = graph.folderMessages(ALICE, 'Inbox/Rechnungen');
		const expectRun = (run: Awaited<ReturnType<N8n['execute']>>) => {
			expect(run.error).toBeUndefined();
			expect(run.status).toBe('success');
			// the own mailbox: items name no mailbox address (null), as with /me
			expect(run.output['List folders'].map((f) => f.path)).toEqual(expect.arrayContaining(['Inbox', 'Inbox/Rechnungen', 'Sent Items']));
			expect(run.output['List folders'].every((f) => f.mailbox === null)).toBe(true);
			expect(run.output['Find flagged']).toEqual([expect.objectContaining({ mailbox: null, folder: 'Inbox/Rechnungen', messageId: '<rechnung-4711@lieferant.test>', itemId: invoice.immutableId, flagStatus: 'flagged', categories: ['Buchhaltung'] })]);
			expect(run.output['Mark read']).toEqual([expect.objectContaining({ operation: 'setFlags', mailbox: null, itemId: invoice.immutableId, flagsSet: ['\\Seen'] })]);
			expect(run.output['Get out of office']).toEqual([expect.objectContaining({ status: 'scheduled', internalText: 'Ich bin bis zum 10. Dezember nicht im Büro.', mailbox: null })]);
		};
		/** Every request went to /me with the signed-in user's token (inner $batch requests: relative to /v1.0). */
		const expectMe = (sent: GraphRequestLog[]) => {
			expect(sent.length).toBeGreaterThan(0);
			for (const r of sent) {
				expect(r).toMatchObject({ authorization: 'bearer' });
				const fullPath = r.batchId ? `/v1.0${r.path}` : r.path;
				if (fullPath !== '/v1.0/$batch') expect(fullPath).toMatch(/^\/v1\.0\/me\//);
			}
		};

		let requests = since();
		const first = await n8n.execute(id);
		expectRun(first);
		let sent = requests();
		expectMe(sent);
		for (const r of sent) expect(r).toMatchObject({ principal: 'alice' });
		expect(sent.filter((r) => r.status >= 400)).toEqual([]);
		expect(sent.some((r) => r.method === 'PATCH' && r.path === `/v1.0/me/messages/${invoice.immutableId}` && JSON.parse(r.body).isRead === true)).toBe(true);
		expect(graph.folderMessages(ALICE, 'Inbox/Rechnungen')[0].isRead).toBe(true);
		expect(okGrants('refresh_token')).toHaveLength(0);

		// the stored token stops working at the server before n8n expects it to (revoked)
		servers.oauth.revoke(okGrants('authorization_code')[0].accessToken as string);
		requests = since();
		const second = await n8n.execute(id);
		expectRun(second);
		sent = requests();
		expectMe(sent);
		// one request was refused with the old token, n8n renewed it once (refresh grant), the same request went again
		const refused = sent.filter((r) => r.status === 401);
		expect(refused).toEqual([expect.objectContaining({ method: 'GET', path: '/v1.0/me/mailFolders', errorCode: 'InvalidAuthenticationToken' })]);
		expect(sent.filter((r) => r.status >= 400)).toEqual(refused);
		expect(sent[sent.indexOf(refused[0]) + 1]).toMatchObject({ method: 'GET', path: '/v1.0/me/mailFolders', status: 200, principal: 'alice' });
		const refreshes = okGrants('refresh_token');
		expect(refreshes.map((g) => g.generation)).toEqual([0]);
		expect(authority.tokenAudience(refreshes[0].accessToken as string)).toBe('https://graph.microsoft.com');
		expect(JSON.stringify(second.raw)).not.toContain(refreshes[0].accessToken as string);

		// the next run uses the token n8n stored: no refusal, no refresh
		requests = since();
		expectRun(await n8n.execute(id));
		sent = requests();
		expectMe(sent);
		expect(sent.filter((r) => r.status >= 400)).toEqual([]);
		expect(okGrants('refresh_token')).toHaveLength(1);
		expect(authority.grants.filter((g) => !g.ok)).toEqual([]);
	});
});
