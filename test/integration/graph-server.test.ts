/**
 * The local Microsoft Graph endpoint (test/servers/graph.ts) against Microsoft's Graph v1.0
 * reference: plain HTTPS requests as the reference writes them, answers checked for the documented
 * JSON shapes, links, headers, status codes and error bodies. Tokens come from the local Microsoft
 * sign-in authority (client credentials), so the audience check is the real one.
 */
import fs from 'node:fs';
import https from 'node:https';
import zlib from 'node:zlib';
import { GraphServer } from '../servers/graph';
import { audienceOf, MicrosoftAuthority } from '../servers/microsoft';
import { OAuthServer } from '../servers/oauth';
import { generateMessage } from '../fixtures/mailgen';
import { localCertificate } from './helpers/local-tls';

const ALICE = 'alice@contoso.test';
const BOB = 'bob@contoso.test';
const SHARED = 'shared@contoso.test';

interface Answer {
	status: number;
	headers: Record<string, string | string[] | undefined>;
	buffer: Buffer;
	text: string;
	json: any;
}

/** A plain message with exactly these headers (CRLF). */
function mail(opts: { subject: string; from?: string; to?: string; body?: string; messageId?: string; date?: Date; extra?: string }): Buffer {
	const lines = [
		`From: ${opts.from ?? 'Dana Swope <dana@fabrikam.test>'}`,
		`To: ${opts.to ?? `Alice <${ALICE}>`}`,
		`Subject: ${opts.subject}`,
		`Date: ${(opts.date ?? new Date(Date.UTC(2026, 0, 5, 9))).toUTCString()}`,
		`Message-ID: ${opts.messageId ?? `<${Math.random().toString(36).slice(2)}@fabrikam.test>`}`,
		'MIME-Version: 1.0',
		'Content-Type: text/plain; charset=utf-8',
		...(opts.extra ? [opts.extra] : []),
		'',
		opts.body ?? `Body of ${opts.subject}.`,
		'',
	];
	return Buffer.from(lines.join('\r\n'), 'utf8');
}

describe('local Microsoft Graph endpoint', () => {
	let dir: string;
	let ca: Buffer;
	let oauth: OAuthServer;
	let authority: MicrosoftAuthority;
	let graph: GraphServer;
	let aliceToken: string;
	let appToken: string;

	beforeAll(async () => {
		const made = localCertificate('mailbox-graph');
		({ dir, ca } = made);
		const tls = { key: made.key, cert: ca };
		oauth = await OAuthServer.start({ users: ['alice', 'bob'] });
		authority = await new MicrosoftAuthority(tls, (user, lifetime) => oauth.issueToken(user, lifetime)).start();
		authority.register({ tenant: 'contoso', clientId: 'daemon', clientSecret: 'daemon-secret-value', user: 'svc' });
		authority.register({ tenant: 'contoso', clientId: 'alice-app', clientSecret: 'alice-secret-value', user: 'alice' });
		graph = await GraphServer.start({
			tls,
			tokenInfo: (token) => {
				const user = oauth.tokenUser(token);
				return user ? { user, audience: authority.tokenAudience(token) } : undefined;
			},
			mailboxes: [ALICE, BOB, SHARED],
			access: { alice: [SHARED], svc: [ALICE, BOB, SHARED] },
		});
		aliceToken = await clientToken('alice-app', 'alice-secret-value', 'https://graph.microsoft.com/.default');
		appToken = await clientToken('daemon', 'daemon-secret-value', 'https://graph.microsoft.com/.default');
	});
	afterAll(async () => {
		await graph?.stop();
		await authority?.stop();
		await oauth?.stop();
		if (dir) fs.rmSync(dir, { recursive: true, force: true });
	});

	function request(method: string, url: string, opts: { token?: string | null; headers?: Record<string, string>; body?: string | Buffer | object } = {}): Promise<Answer> {
		const token = opts.token === undefined ? aliceToken : opts.token;
		const body = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) || typeof opts.body === 'string' ? Buffer.from(opts.body) : Buffer.from(JSON.stringify(opts.body));
		const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body && typeof opts.body === 'object' && !Buffer.isBuffer(opts.body) ? { 'content-type': 'application/json' } : {}), ...opts.headers };
		const target = url.startsWith('https://') ? url : `${graph.url}${url}`;
		return new Promise((resolve, reject) => {
			const req = https.request(target, { method, ca, headers }, (res) => {
				const chunks: Buffer[] = [];
				res.on('data', (c: Buffer) => chunks.push(c));
				res.on('end', () => {
					let buffer = Buffer.concat(chunks);
					if (res.headers['content-encoding'] === 'gzip') buffer = zlib.gunzipSync(buffer);
					const text = buffer.toString('utf8');
					let json: unknown;
					if (/json/.test(String(res.headers['content-type']))) json = JSON.parse(text);
					resolve({ status: res.statusCode ?? 0, headers: res.headers, buffer, text, json });
				});
			});
			req.on('error', reject);
			req.end(body);
		});
	}
	const get = (url: string, opts: Parameters<typeof request>[2] = {}) => request('GET', url, opts);

	async function clientToken(clientId: string, secret: string, scope: string): Promise<string> {
		const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret, scope }).toString();
		const answer = await request('POST', `https://localhost:${authority.port}/contoso/oauth2/v2.0/token`, { token: null, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
		expect(answer.status).toBe(200);
		return answer.json.access_token as string;
	}

	/** The documented error body: {error: {code, message, innerError: {date, request-id, client-request-id}}}. */
	function expectError(answer: Answer, status: number, code: string, message?: string | RegExp): void {
		expect({ status: answer.status, code: answer.json?.error?.code }).toEqual({ status, code });
		expect(answer.json).toEqual({ error: { code, message: expect.any(String), innerError: { date: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/), 'request-id': answer.headers['request-id'], 'client-request-id': expect.any(String) } } });
		if (message !== undefined) expect(answer.json.error.message).toEqual(typeof message === 'string' ? message : expect.stringMatching(message));
	}

	describe('authentication and mailbox access', () => {
		it('answers 401 InvalidAuthenticationToken with a Bearer challenge without a token, with an unknown or expired one', async () => {
			const expired = oauth.issueToken('alice', -1);
			for (const token of [null, 'not-a-token', expired]) {
				const answer = await get('/me/mailFolders/inbox', { token });
				expectError(answer, 401, 'InvalidAuthenticationToken');
				expect(String(answer.headers['www-authenticate'])).toMatch(/^Bearer realm="", authorization_uri="https:\/\/login\.microsoftonline\.com\/common\/oauth2\/authorize", client_id="00000003-0000-0000-c000-000000000000"$/);
			}
			expect(graph.requests.slice(-3).map((r) => [r.authorization, r.status, r.errorCode])).toEqual([
				['none', 401, 'InvalidAuthenticationToken'],
				['bearer', 401, 'InvalidAuthenticationToken'],
				['bearer', 401, 'InvalidAuthenticationToken'],
			]);
		});

		it('accepts only tokens issued for Graph: a token for Exchange Online is an invalid audience', async () => {
			expect(authority.tokenAudience(aliceToken)).toBe('https://graph.microsoft.com');
			const outlook = await clientToken('alice-app', 'alice-secret-value', 'https://outlook.office365.com/.default');
			expect(authority.tokenAudience(outlook)).toBe('https://outlook.office365.com');
			expectError(await get('/me/mailFolders/inbox', { token: outlook }), 401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
			expect((await get('/me/mailFolders/inbox')).status).toBe(200);
			// scopes without a resource are Graph's, as Entra ID reads them
			expect([audienceOf('Mail.ReadWrite offline_access'), audienceOf('offline_access https://outlook.office365.com/IMAP.AccessAsUser.All')]).toEqual(['https://graph.microsoft.com', 'https://outlook.office365.com']);
		});

		it('echoes client-request-id and gives each answer a request-id', async () => {
			const answer = await get('/me/mailFolders/inbox', { headers: { 'client-request-id': '6a3e7b1c-0000-4000-8000-000000000001' } });
			expect(answer.headers['client-request-id']).toBe('6a3e7b1c-0000-4000-8000-000000000001');
			expect(answer.headers['request-id']).toMatch(/^[0-9a-f-]{36}$/);
			expect(graph.requests.at(-1)).toMatchObject({ clientRequestId: '6a3e7b1c-0000-4000-8000-000000000001', principal: 'alice', mailbox: ALICE, status: 200 });
		});

		it('/me is for delegated tokens; /users/{upn} opens own, shared and granted mailboxes, else 403; an unknown user is 404', async () => {
			expectError(await get('/me/messages', { token: appToken }), 400, 'BadRequest', '/me request is only valid with delegated authentication flow.');
			expect((await get(`/users/${BOB}/mailFolders/inbox`, { token: appToken })).status).toBe(200);
			expect((await get(`/users/${SHARED}/mailFolders/inbox`)).status).toBe(200);
			expectError(await get(`/users/${BOB}/mailFolders/inbox`), 403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
			expectError(await get('/users/nobody@contoso.test/messages', { token: appToken }), 404, 'ErrorInvalidUser', "The requested user 'nobody@contoso.test' is invalid.");
			const me = await get('/me');
			expect(me.json).toMatchObject({ mail: ALICE, userPrincipalName: ALICE, id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
			expect((await get(`/users/${me.json.id}/mailFolders/inbox`)).status).toBe(200);
		});

		it('answers unknown segments 400, other versions 400, unsupported methods 405', async () => {
			expectError(await get('/me/calendarz'), 400, 'BadRequest', "Resource not found for the segment 'calendarz'.");
			const beta = await request('GET', graph.url.replace('/v1.0', '/v2.0') + '/me');
			expect(beta.status).toBe(400);
			const put = await request('PUT', '/me/mailFolders/inbox', { body: { displayName: 'x' } });
			expectError(put, 405, 'Request_BadRequest', 'Specified HTTP method is not allowed for the request target.');
			expect(put.headers.allow).toBe('GET, PATCH, DELETE');
		});
	});

	describe('mail folders', () => {
		it('gets a folder by well-known name with the documented properties', async () => {
			graph.addMessage(ALICE, 'inbox', mail({ subject: 'counted 1' }));
			graph.addMessage(ALICE, 'inbox', mail({ subject: 'counted 2' }), { isRead: true });
			const answer = await get('/me/mailFolders/Inbox');
			expect(answer.status).toBe(200);
			expect(answer.headers['content-type']).toMatch(/^application\/json;odata\.metadata=minimal/);
			expect(Object.keys(answer.json)).toEqual(['@odata.context', 'id', 'displayName', 'parentFolderId', 'childFolderCount', 'unreadItemCount', 'totalItemCount', 'sizeInBytes', 'isHidden']);
			expect(answer.json).toMatchObject({ '@odata.context': `${graph.url}/$metadata#users('${ALICE}')/mailFolders/$entity`, displayName: 'Inbox', isHidden: false });
			expect(answer.json.id).toMatch(/^[A-Za-z0-9_-]+=*$/);
			const inbox = graph.folderMessages(ALICE, 'inbox');
			expect([answer.json.totalItemCount, answer.json.unreadItemCount]).toEqual([inbox.length, inbox.filter((m) => !m.isRead).length]);
			const byId = await get(`/me/mailFolders/${answer.json.id}?$select=displayName,totalItemCount`);
			expect(Object.keys(byId.json)).toEqual(['@odata.context', 'id', 'displayName', 'totalItemCount']);
			expect(byId.json['@odata.context']).toBe(`${graph.url}/$metadata#users('${ALICE}')/mailFolders(displayName,totalItemCount)/$entity`);
			const root = await get('/me/mailFolders/msgfolderroot');
			expect(root.json.displayName).toBe('Top of Information Store');
			expect(answer.json.parentFolderId).toBe(root.json.id);
		});

		it('lists the children of the root, paging with $top and $skip in @odata.nextLink', async () => {
			const first = await get('/me/mailFolders?$top=3');
			expect(first.json.value.map((f: { displayName: string }) => f.displayName)).toEqual(['Inbox', 'Drafts', 'Sent Items']);
			expect(first.json['@odata.nextLink']).toBe(`${graph.url}/me/mailFolders?$top=3&$skip=3`);
			const second = await get(first.json['@odata.nextLink']);
			expect(second.json.value.map((f: { displayName: string }) => f.displayName)).toEqual(['Deleted Items', 'Junk Email', 'Outbox']);
			const last = await get(second.json['@odata.nextLink']);
			expect(last.json.value.map((f: { displayName: string }) => f.displayName)).toEqual(['Archive']);
			expect(last.json['@odata.nextLink']).toBeUndefined();
			const filtered = await get(`/me/mailFolders?$filter=${encodeURIComponent("displayName eq 'Junk Email'")}&$select=displayName`);
			expect(filtered.json.value).toEqual([{ id: expect.any(String), displayName: 'Junk Email' }]);
			expectError(await get('/me/mailFolders?$select=colour'), 400, 'RequestBroker--ParseUri', "Could not find a property named 'colour' on type 'microsoft.graph.mailFolder'.");
		});

		it('creates (201), refuses a duplicate name (409), lists child folders, shows hidden ones on request, renames', async () => {
			const created = await request('POST', '/me/mailFolders/inbox/childFolders', { body: { displayName: 'Projects' } });
			expect(created.status).toBe(201);
			expect(created.json).toMatchObject({ displayName: 'Projects', childFolderCount: 0, totalItemCount: 0, isHidden: false });
			expectError(await request('POST', '/me/mailFolders/inbox/childFolders', { body: { displayName: 'projects' } }), 409, 'ErrorFolderExists', 'A folder with the specified name already exists.');
			const hidden = await request('POST', `/me/mailFolders/${created.json.id}/childFolders`, { body: { displayName: 'Hidden', isHidden: true } });
			expect(hidden.json.isHidden).toBe(true);
			graph.createFolder(ALICE, 'Inbox/Projects', 'Alpha');
			const children = await get(`/me/mailFolders/${created.json.id}/childFolders`);
			expect(children.json.value.map((f: { displayName: string }) => f.displayName)).toEqual(['Alpha']);
			const all = await get(`/me/mailFolders/${created.json.id}/childFolders?includeHiddenFolders=true`);
			expect(all.json.value.map((f: { displayName: string }) => f.displayName)).toEqual(['Hidden', 'Alpha']);
			const renamed = await request('PATCH', `/me/mailFolders/${created.json.id}`, { body: { displayName: 'Projects 2026' } });
			expect(renamed.json).toMatchObject({ id: created.json.id, displayName: 'Projects 2026', childFolderCount: 2 });
			const top = await request('POST', '/me/mailFolders', { body: { displayName: 'Invoices' } });
			expect(top.status).toBe(201);
			expect(top.json.parentFolderId).toBe((await get('/me/mailFolders/msgfolderroot')).json.id);
		});

		it('deletes a folder into Deleted Items (204), deletes it for good from there; well-known folders stay', async () => {
			const id = graph.createFolder(ALICE, 'inbox', 'Old stuff');
			graph.addMessage(ALICE, id, mail({ subject: 'kept with its folder' }));
			expect((await request('DELETE', `/me/mailFolders/${id}`)).status).toBe(204);
			const moved = await get(`/me/mailFolders/${id}`);
			expect(moved.json.parentFolderId).toBe((await get('/me/mailFolders/deleteditems')).json.id);
			expect(moved.json.totalItemCount).toBe(1);
			expect((await request('DELETE', `/me/mailFolders/${id}`)).status).toBe(204);
			expectError(await get(`/me/mailFolders/${id}`), 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
			expectError(await request('DELETE', '/me/mailFolders/inbox'), 400, 'ErrorDeleteDistinguishedFolder');
			expectError(await get('/me/mailFolders/not-an-id!'), 400, 'ErrorInvalidIdMalformed');
		});
	});

	describe('messages', () => {
		it('gets a message with the documented properties parsed from its MIME, and the MIME itself as $value', async () => {
			const generated = generateMessage(8101, 3, { domain: 'contoso.test', to: ALICE });
			const { id } = graph.addMessage(ALICE, 'inbox', generated.raw, { categories: ['Blue category'], flagged: true, received: new Date('2026-02-01T10:00:00Z') });
			const answer = await get(`/me/messages/${id}`);
			expect(answer.status).toBe(200);
			expect(Object.keys(answer.json)).toEqual([
				'@odata.context',
				'@odata.etag',
				'id',
				'createdDateTime',
				'lastModifiedDateTime',
				'changeKey',
				'categories',
				'receivedDateTime',
				'sentDateTime',
				'hasAttachments',
				'internetMessageId',
				'subject',
				'bodyPreview',
				'importance',
				'parentFolderId',
				'conversationId',
				'conversationIndex',
				'isDeliveryReceiptRequested',
				'isReadReceiptRequested',
				'isRead',
				'isDraft',
				'webLink',
				'inferenceClassification',
				'body',
				'sender',
				'from',
				'toRecipients',
				'ccRecipients',
				'bccRecipients',
				'replyTo',
				'flag',
			]);
			expect(answer.json).toMatchObject({
				'@odata.context': `${graph.url}/$metadata#users('${ALICE}')/messages/$entity`,
				id,
				receivedDateTime: '2026-02-01T10:00:00Z',
				sentDateTime: generated.date.toISOString().replace('.000', ''),
				subject: generated.subject,
				internetMessageId: generated.messageId,
				categories: ['Blue category'],
				flag: { flagStatus: 'flagged' },
				isRead: false,
				hasAttachments: generated.attachments.length > 0,
				body: { contentType: 'html', content: expect.any(String) },
				from: { emailAddress: { name: expect.any(String), address: generated.from } },
				toRecipients: [{ emailAddress: { name: expect.any(String), address: ALICE } }],
				parentFolderId: (await get('/me/mailFolders/inbox')).json.id,
			});
			expect(answer.json).not.toHaveProperty('size');
			expect(answer.json['@odata.etag']).toBe(`W/"${answer.json.changeKey}"`);

			const value = await get(`/me/messages/${id}/$value`);
			expect(value.headers['content-type']).toBe('text/plain');
			expect(value.buffer.equals(generated.raw)).toBe(true);

			const text = await get(`/me/mailFolders/inbox/messages/${id}?$select=subject,body`, { headers: { prefer: 'outlook.body-content-type="text"' } });
			expect(text.headers['preference-applied']).toBe('outlook.body-content-type="text"');
			expect(Object.keys(text.json)).toEqual(['@odata.context', '@odata.etag', 'id', 'subject', 'body']);
			expect(text.json.body.contentType).toBe('text');
			expect(text.json['@odata.context']).toBe(`${graph.url}/$metadata#users('${ALICE}')/messages(subject,body)/$entity`);
		});

		it('lists a folder newest first, pages with $top/$skip, filters, counts, orders', async () => {
			const folder = graph.createFolder(ALICE, 'inbox', 'Listing');
			const at = (day: number) => new Date(Date.UTC(2026, 2, day, 12));
			graph.addMessage(ALICE, folder, mail({ subject: 'one', from: 'Dana <dana@fabrikam.test>' }), { received: at(1), isRead: true });
			graph.addMessage(ALICE, folder, mail({ subject: 'two', from: 'Elliot <elliot@tailspin.test>' }), { received: at(2), categories: ['Red'] });
			graph.addMessage(ALICE, folder, mail({ subject: 'three', from: 'Dana <dana@fabrikam.test>' }), { received: at(3), flagged: true });
			graph.addMessage(ALICE, folder, mail({ subject: 'four', from: 'Randi <randi@contoso.test>' }), { received: at(4), categories: ['Red', 'Green'], isRead: true });
			graph.addMessage(ALICE, folder, mail({ subject: 'five', from: 'Dana <dana@fabrikam.test>' }), { received: at(5) });
			const subjects = (a: Answer) => a.json.value.map((m: { subject: string }) => m.subject);
			const base = `/me/mailFolders/${folder}/messages`;

			const page1 = await get(`${base}?$top=2&$select=subject,receivedDateTime`);
			expect(page1.json['@odata.context']).toBe(`${graph.url}/$metadata#users('${ALICE}')/mailFolders('${folder}')/messages(subject,receivedDateTime)`);
			expect(subjects(page1)).toEqual(['five', 'four']);
			expect(Object.keys(page1.json.value[0])).toEqual(['@odata.etag', 'id', 'subject', 'receivedDateTime']);
			expect(page1.json['@odata.nextLink']).toBe(`${graph.url}${base}?$top=2&$select=subject%2CreceivedDateTime&$skip=2`);
			const page2 = await get(page1.json['@odata.nextLink']);
			expect(subjects(page2)).toEqual(['three', 'two']);
			expect(subjects(await get(page2.json['@odata.nextLink']))).toEqual(['one']);

			const q = (filter: string, extra = '') => get(`${base}?$filter=${encodeURIComponent(filter)}${extra}`);
			expect(subjects(await q('isRead eq false'))).toEqual(['five', 'three', 'two']);
			expect(subjects(await q('receivedDateTime ge 2026-03-02T12:00:00Z and receivedDateTime lt 2026-03-04T12:00:00Z'))).toEqual(['three', 'two']);
			expect(subjects(await q("from/emailAddress/address eq 'dana@fabrikam.test'"))).toEqual(['five', 'three', 'one']);
			expect(subjects(await q("categories/any(c:c eq 'Red')"))).toEqual(['four', 'two']);
			expect(subjects(await q("flag/flagStatus eq 'flagged'"))).toEqual(['three']);
			expect(subjects(await q("isRead eq false and from/emailAddress/address eq 'dana@fabrikam.test'"))).toEqual(['five', 'three']);
			expect(subjects(await q('receivedDateTime ge 2026-03-02T00:00:00Z and isRead eq false', '&$orderby=receivedDateTime asc'))).toEqual(['two', 'three', 'five']);
			// the documented rule: a property in $orderby comes first in $filter
			expectError(await q('isRead eq false and receivedDateTime ge 2026-03-02T00:00:00Z', '&$orderby=receivedDateTime desc'), 400, 'InefficientFilter', 'The restriction or sort order is too complex for this operation.');
			expectError(await q('colour eq 1'), 400, 'RequestBroker--ParseUri');

			const counted = await q('isRead eq false', '&$count=true&$top=1');
			expect(counted.json['@odata.count']).toBe(3);
			expect(counted.json.value).toHaveLength(1);
			expect((await get(`${base}/$count`)).text).toBe('5');
			expect(subjects(await get(`${base}?$orderby=receivedDateTime asc&$top=2`))).toEqual(['one', 'two']);
			const everywhere = await get(`/me/messages?$filter=${encodeURIComponent("from/emailAddress/address eq 'randi@contoso.test'")}&$select=subject`);
			expect(subjects(everywhere)).toEqual(['four']);
			expect(everywhere.json['@odata.context']).toBe(`${graph.url}/$metadata#users('${ALICE}')/messages(subject)`);
		});

		it('$search matches subject, body and sender, pages with $skiptoken, and refuses $orderby', async () => {
			const folder = graph.createFolder(ALICE, 'inbox', 'Searching');
			for (let i = 0; i < 3; i++) graph.addMessage(ALICE, folder, mail({ subject: `Invoice ${i}`, body: 'Amount due.' }), { received: new Date(Date.UTC(2026, 3, i + 1)) });
			graph.addMessage(ALICE, folder, mail({ subject: 'Lunch', body: 'The invoice is attached.' }), { received: new Date(Date.UTC(2026, 3, 10)) });
			graph.addMessage(ALICE, folder, mail({ subject: 'Hello', from: 'Invoicing <billing@invoice.test>' }), { received: new Date(Date.UTC(2026, 3, 11)) });
			graph.addMessage(ALICE, folder, mail({ subject: 'Unrelated' }));
			const base = `/me/mailFolders/${folder}/messages`;
			const first = await get(`${base}?$search=${encodeURIComponent('"invoice"')}&$top=2&$select=subject`);
			expect(first.json.value.map((m: { subject: string }) => m.subject)).toEqual(['Hello', 'Lunch']);
			expect(first.json['@odata.nextLink']).toMatch(/[?&]\$skiptoken=[A-Za-z0-9_-]+/);
			expect(first.json['@odata.nextLink']).not.toContain('$skip=');
			const second = await get(first.json['@odata.nextLink']);
			const third = await get(second.json['@odata.nextLink']);
			expect([...second.json.value, ...third.json.value].map((m: { subject: string }) => m.subject)).toEqual(['Invoice 2', 'Invoice 1', 'Invoice 0']);
			expect(third.json['@odata.nextLink']).toBeUndefined();
			expect((await get(`${base}?$search=${encodeURIComponent('"subject:lunch"')}`)).json.value).toHaveLength(1);
			expectError(await get(`${base}?$search=${encodeURIComponent('"invoice"')}&$orderby=receivedDateTime desc`), 400, 'SearchWithOrderBy', "The query parameter '$orderBy' is not supported with '$search'.");
		});

		it('PATCH sets isRead, flag and categories (200, a new changeKey); bad values are 400', async () => {
			const { id } = graph.addMessage(ALICE, 'inbox', mail({ subject: 'to update' }));
			const before = (await get(`/me/messages/${id}`)).json;
			const patched = await request('PATCH', `/me/messages/${id}`, { body: { isRead: true, flag: { flagStatus: 'complete' }, categories: ['Done'] } });
			expect(patched.status).toBe(200);
			expect(patched.json).toMatchObject({ id, isRead: true, flag: { flagStatus: 'complete' }, categories: ['Done'] });
			expect(patched.json.changeKey).not.toBe(before.changeKey);
			expect(graph.folderMessages(ALICE, 'inbox').find((m) => m.id === id)).toMatchObject({ isRead: true, flagStatus: 'complete', categories: ['Done'] });
			expectError(await request('PATCH', `/me/messages/${id}`, { body: { isRead: 'yes' } }), 400, 'RequestBodyRead');
			expectError(await request('PATCH', `/me/messages/${id}`, { body: { flag: { flagStatus: 'urgent' } } }), 400, 'RequestBodyRead');
			expectError(await request('PATCH', `/me/messages/${id}`, { body: { colour: 'red' } }), 400, 'RequestBodyRead');
			expectError(await request('PATCH', `/me/messages/${id}`, { body: 'not json', headers: { 'content-type': 'application/json' } }), 400, 'BadRequest');
		});

		it('move (201) gives a new id, the old one is 404; with Prefer IdType="ImmutableId" the id stays; copy makes another message', async () => {
			const { id } = graph.addMessage(ALICE, 'inbox', mail({ subject: 'moving' }));
			const moved = await request('POST', `/me/messages/${id}/move`, { body: { destinationId: 'archive' } });
			expect(moved.status).toBe(201);
			expect(moved.json.id).not.toBe(id);
			expect(moved.json.parentFolderId).toBe((await get('/me/mailFolders/archive')).json.id);
			expectError(await get(`/me/messages/${id}`), 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');

			const immutable = { prefer: 'IdType="ImmutableId"' };
			const pinned = (await get(`/me/messages/${moved.json.id}`, { headers: immutable })).json.id;
			const again = await request('POST', `/me/messages/${pinned}/move`, { body: { destinationId: 'inbox' }, headers: immutable });
			expect(again.headers['preference-applied']).toBe('IdType="ImmutableId"');
			expect(again.json.id).toBe(pinned);
			expect((await get(`/me/messages/${pinned}`)).json.subject).toBe('moving');

			const copy = await request('POST', `/me/messages/${pinned}/copy`, { body: { destinationId: 'junkemail' } });
			expect(copy.status).toBe(201);
			expect(graph.folderMessages(ALICE, 'junkemail').map((m) => m.id)).toContain(copy.json.id);
			expect(graph.folderMessages(ALICE, 'inbox').map((m) => m.immutableId)).toContain(pinned);
			expectError(await request('POST', `/me/messages/${pinned}/move`, { body: {} }), 400, 'ErrorInvalidParameter');
			expectError(await request('POST', `/me/messages/${pinned}/move`, { body: { destinationId: 'nowhere!' } }), 400, 'ErrorInvalidIdMalformed');
		});

		it('DELETE moves to Deleted Items (204), deleting there removes; permanentDelete removes (204); bad ids are 400/404', async () => {
			const { immutableId } = graph.addMessage(ALICE, 'inbox', mail({ subject: 'to delete' }));
			expect((await request('DELETE', `/me/messages/${immutableId}`)).status).toBe(204);
			expect(graph.folderMessages(ALICE, 'deleteditems').map((m) => m.immutableId)).toContain(immutableId);
			expect((await request('DELETE', `/me/messages/${immutableId}`)).status).toBe(204);
			expectError(await get(`/me/messages/${immutableId}`), 404, 'ErrorItemNotFound');
			const other = graph.addMessage(ALICE, 'inbox', mail({ subject: 'gone at once' }));
			expect((await request('POST', `/me/messages/${other.id}/permanentDelete`)).status).toBe(204);
			expect(graph.folderMessages(ALICE, 'deleteditems').map((m) => m.immutableId)).not.toContain(other.immutableId);
			expectError(await get('/me/messages/AAMk%2Fbroken'), 400, 'ErrorInvalidIdMalformed', 'Id is malformed.');
			const bobs = graph.addMessage(BOB, 'inbox', mail({ subject: "bob's" }));
			expectError(await get(`/me/messages/${bobs.id}`), 404, 'ErrorItemNotFound');
		});
	});

	describe('delta', () => {
		it('pages a first round by odata.maxpagesize, then reports updates, removals and additions oldest first', async () => {
			const folder = graph.createFolder(ALICE, 'inbox', 'Delta');
			const ids = [1, 2, 3, 4, 5].map((i) => graph.addMessage(ALICE, folder, generateMessage(8102, i, { domain: 'contoso.test', to: ALICE }).raw).id);
			const prefer = { prefer: 'odata.maxpagesize=2' };
			const seen: string[] = [];
			let link = `/me/mailFolders/${folder}/messages/delta?$select=subject,isRead`;
			let answer: Answer;
			let pages = 0;
			for (;;) {
				answer = await get(link, { headers: prefer });
				pages++;
				expect(answer.status).toBe(200);
				expect(answer.headers['preference-applied']).toBe('odata.maxpagesize=2');
				expect(answer.json['@odata.context']).toBe(`${graph.url}/$metadata#Collection(message)`);
				for (const m of answer.json.value) {
					expect(Object.keys(m)).toEqual(['@odata.type', '@odata.etag', 'id', 'subject', 'isRead']);
					expect(m['@odata.type']).toBe('#microsoft.graph.message');
					seen.push(m.id);
				}
				if (answer.json['@odata.nextLink']) {
					expect(answer.json['@odata.deltaLink']).toBeUndefined();
					expect(answer.json['@odata.nextLink']).toMatch(new RegExp(`^${graph.url.replace(/[.]/g, '\\.')}/me/mailFolders\\('${folder}'\\)/messages/delta\\?\\$skiptoken=[A-Za-z0-9_-]+$`));
					link = answer.json['@odata.nextLink'];
				} else break;
			}
			expect(pages).toBe(3);
			expect(seen).toEqual(ids);
			const deltaLink: string = answer.json['@odata.deltaLink'];
			expect(deltaLink).toMatch(/\/messages\/delta\?\$deltatoken=[A-Za-z0-9_-]+$/);

			// nothing changed: an empty page and a new deltaLink
			const quiet = await get(deltaLink);
			expect(quiet.json.value).toEqual([]);

			await request('PATCH', `/me/messages/${ids[1]}`, { body: { isRead: true } });
			await request('POST', `/me/messages/${ids[3]}/move`, { body: { destinationId: 'archive' } });
			await request('DELETE', `/me/messages/${ids[0]}`);
			const added = graph.addMessage(ALICE, folder, mail({ subject: 'new in delta' })).id;
			const changes = await get(quiet.json['@odata.deltaLink']);
			expect(changes.json.value).toEqual([
				{ '@odata.type': '#microsoft.graph.message', '@odata.etag': expect.any(String), id: ids[1], subject: expect.any(String), isRead: true },
				{ '@odata.type': '#microsoft.graph.message', id: ids[3], '@removed': { reason: 'deleted' } },
				{ '@odata.type': '#microsoft.graph.message', id: ids[0], '@removed': { reason: 'deleted' } },
				{ '@odata.type': '#microsoft.graph.message', '@odata.etag': expect.any(String), id: added, subject: 'new in delta', isRead: false },
			]);
			expect((await get(changes.json['@odata.deltaLink'])).json.value).toEqual([]);

			// a token is bound to its folder; expired tokens are 410 SyncStateNotFound with a Location to start over
			const elsewhere = deltaLink.replace(`mailFolders('${folder}')`, 'mailFolders(\'inbox\')');
			expectError(await get(elsewhere), 410, 'SyncStateNotFound');
			graph.expireDeltaTokens();
			const expired = await get(changes.json['@odata.deltaLink']);
			expectError(expired, 410, 'SyncStateNotFound', TEXT_SYNC);
			expect(expired.headers.location).toBe(`${graph.url}/me/mailFolders('${folder}')/messages/delta?$select=subject%2CisRead`);
			expect(graph.requests.at(-1)).toMatchObject({ status: 410, errorCode: 'SyncStateNotFound' });
		});

		it('honours $filter=receivedDateTime ge, immutable ids, and refuses other filters', async () => {
			const folder = graph.createFolder(ALICE, 'inbox', 'Delta filtered');
			graph.addMessage(ALICE, folder, mail({ subject: 'old' }), { received: new Date('2026-01-01T00:00:00Z') });
			const recent = graph.addMessage(ALICE, folder, mail({ subject: 'recent' }), { received: new Date('2026-05-01T00:00:00Z') });
			const answer = await get(`/me/mailFolders/${folder}/messages/delta?$filter=${encodeURIComponent('receivedDateTime ge 2026-04-01T00:00:00Z')}&$select=subject`, { headers: { prefer: 'IdType="ImmutableId"' } });
			expect(answer.json.value).toEqual([{ '@odata.type': '#microsoft.graph.message', '@odata.etag': expect.any(String), id: recent.immutableId, subject: 'recent' }]);
			expect(answer.headers['preference-applied']).toBe('IdType="ImmutableId"');
			expectError(await get(`/me/mailFolders/${folder}/messages/delta?$filter=${encodeURIComponent('isRead eq false')}`), 400, 'ErrorInvalidUrlQueryFilter');
		});
	});

	describe('sendMail', () => {
		it('sends base64 MIME (202), keeps a copy in Sent Items; a body that is not base64 is the documented 400', async () => {
			const raw = mail({ subject: 'Sent as MIME', from: ALICE, to: 'Frannis <frannis@fabrikam.test>' });
			const answer = await request('POST', '/me/sendMail', { body: raw.toString('base64').replace(/(.{76})/g, '$1\n'), headers: { 'content-type': 'text/plain' } });
			expect(answer.status).toBe(202);
			expect(answer.text).toBe('');
			expect(graph.sent.at(-1)).toEqual({ mailbox: ALICE, raw, format: 'mime', savedToSentItems: true, recipients: ['frannis@fabrikam.test'], transmitted: raw });
			expect(graph.folderMessages(ALICE, 'sentitems').some((m) => m.raw.equals(raw))).toBe(true);
			expectError(await request('POST', '/me/sendMail', { body: 'this is not base64!', headers: { 'content-type': 'text/plain' } }), 400, 'ErrorMimeContentInvalidBase64String', 'Invalid base64 string for MIME content.');
		});

		it('sends the JSON form (202); saveToSentItems false keeps no copy; no recipient is 400', async () => {
			const before = graph.folderMessages(SHARED, 'sentitems').length;
			const message = { subject: 'Meet for lunch?', body: { contentType: 'Text', content: 'The new cafeteria is open.' }, toRecipients: [{ emailAddress: { address: 'frannis@fabrikam.test' } }] };
			expect((await request('POST', `/users/${SHARED}/sendMail`, { body: { message, saveToSentItems: 'false' } })).status).toBe(202);
			const sent = graph.sent.at(-1)!;
			expect(sent).toMatchObject({ mailbox: SHARED, format: 'json', savedToSentItems: false });
			expect(sent.raw.toString()).toMatch(/^Subject: Meet for lunch\?$/m);
			expect(sent.raw.toString()).toMatch(/^To: frannis@fabrikam\.test$/m);
			expect(graph.folderMessages(SHARED, 'sentitems')).toHaveLength(before);
			expect((await request('POST', `/users/${SHARED}/sendMail`, { body: { message } })).status).toBe(202);
			expect(graph.folderMessages(SHARED, 'sentitems')).toHaveLength(before + 1);
			expectError(await request('POST', '/me/sendMail', { body: { message: { subject: 'nobody' } } }), 400, 'ErrorInvalidRecipients');
		});
	});

	describe('mailbox settings', () => {
		it('gets the settings and the automatic replies; PATCH schedules them (200 with the updated settings)', async () => {
			const settings = await get('/me/mailboxSettings');
			expect(settings.json).toMatchObject({ '@odata.context': `${graph.url}/$metadata#users('${ALICE}')/mailboxSettings`, timeZone: 'UTC', automaticRepliesSetting: { status: 'disabled', externalAudience: 'all' } });
			const auto = await get('/me/mailboxSettings/automaticRepliesSetting');
			expect(Object.keys(auto.json)).toEqual(['@odata.context', 'status', 'externalAudience', 'internalReplyMessage', 'externalReplyMessage', 'scheduledStartDateTime', 'scheduledEndDateTime']);

			const patched = await request('PATCH', '/me/mailboxSettings', {
				body: {
					automaticRepliesSetting: {
						status: 'Scheduled',
						externalAudience: 'contactsOnly',
						scheduledStartDateTime: { dateTime: '2026-03-20T18:00:00.0000000', timeZone: 'UTC' },
						scheduledEndDateTime: { dateTime: '2026-03-28T18:00:00', timeZone: 'W. Europe Standard Time' },
						internalReplyMessage: '<html><body>Away</body></html>',
					},
				},
			});
			expect(patched.status).toBe(200);
			expect(patched.json).toEqual({
				'@odata.context': `${graph.url}/$metadata#users('${ALICE}')/mailboxSettings`,
				automaticRepliesSetting: {
					status: 'scheduled',
					externalAudience: 'contactsOnly',
					internalReplyMessage: '<html><body>Away</body></html>',
					externalReplyMessage: '',
					scheduledStartDateTime: { dateTime: '2026-03-20T18:00:00.0000000', timeZone: 'UTC' },
					scheduledEndDateTime: { dateTime: '2026-03-28T18:00:00.0000000', timeZone: 'W. Europe Standard Time' },
				},
			});
			expect(graph.mailboxSettings(ALICE).automaticRepliesSetting.status).toBe('scheduled');
		});

		it('refuses invalid values with 400 and changes nothing', async () => {
			const before = graph.mailboxSettings(ALICE);
			expectError(await request('PATCH', '/me/mailboxSettings', { body: { automaticRepliesSetting: { status: 'sometimes' } } }), 400, 'RequestBodyRead');
			expectError(await request('PATCH', '/me/mailboxSettings', { body: { automaticRepliesSetting: { externalAudience: 'everyone' } } }), 400, 'RequestBodyRead');
			expectError(
				await request('PATCH', '/me/mailboxSettings', { body: { automaticRepliesSetting: { status: 'scheduled', scheduledStartDateTime: { dateTime: '2026-05-02T00:00:00', timeZone: 'UTC' }, scheduledEndDateTime: { dateTime: '2026-05-01T00:00:00', timeZone: 'UTC' } } } }),
				400,
				'ErrorInvalidScheduledOofDuration',
			);
			expectError(await request('PATCH', '/me/mailboxSettings', { body: { timeZone: 'Mars/Olympus' } }), 400, 'InvalidTimeZone', 'Time Zone settings provided are invalid.');
			expect(graph.mailboxSettings(ALICE)).toEqual(before);
		});
	});

	describe('JSON batching and throttling', () => {
		it('answers each inner request with id, status, headers and body; dependsOn on a failure is 424', async () => {
			const { id } = graph.addMessage(ALICE, 'inbox', mail({ subject: 'batched' }));
			const answer = await request('POST', '/$batch', {
				body: {
					requests: [
						{ id: '1', method: 'GET', url: `/users/${ALICE}/messages/${id}?$select=subject` },
						{ id: '2', method: 'PATCH', url: `/me/messages/${id}`, headers: { 'Content-Type': 'application/json' }, body: { isRead: true } },
						{ id: '3', method: 'GET', url: '/me/messages/AAAAAAAAAAAAAAAA' },
						{ id: '4', method: 'GET', url: 'me/mailFolders/inbox', dependsOn: ['3'] },
						{ id: '5', method: 'GET', url: `/me/messages/${id}/$value` },
					],
				},
			});
			expect(answer.status).toBe(200);
			const byId = Object.fromEntries(answer.json.responses.map((r: { id: string }) => [r.id, r]));
			expect(byId['1']).toEqual({ id: '1', status: 200, headers: expect.objectContaining({ 'Content-Type': expect.stringMatching(/^application\/json/) }), body: expect.objectContaining({ id, subject: 'batched' }) });
			expect(byId['2'].body.isRead).toBe(true);
			expect(byId['3'].status).toBe(400);
			expect(byId['3'].body.error.code).toBe('ErrorInvalidIdMalformed');
			expect(byId['4']).toMatchObject({ status: 424 });
			expect(Buffer.from(byId['5'].body, 'base64').toString()).toContain('Subject: batched');
			const logged = graph.requests.at(-1)!;
			expect(logged.path).toBe('/v1.0/$batch');
			expect(logged.batch?.map((r) => [r.batchId, r.method, r.status])).toEqual([
				['1', 'GET', 200],
				['2', 'PATCH', 200],
				['3', 'GET', 400],
				['4', 'GET', 424],
				['5', 'GET', 200],
			]);
			expect(logged.batch?.[0]).toMatchObject({ path: `/users/${ALICE}/messages/${id}`, query: { $select: 'subject' }, principal: 'alice' });
		});

		it('refuses more than 20 requests in a batch with 400', async () => {
			const requests = Array.from({ length: 21 }, (_, i) => ({ id: String(i + 1), method: 'GET', url: '/me/mailFolders/inbox' }));
			expectError(await request('POST', '/$batch', { body: { requests } }), 400, 'BadRequest');
		});

		it('throttles the next requests with 429 TooManyRequests and Retry-After, inner batch requests each on their own', async () => {
			graph.throttle(1, 7);
			const throttled = await get('/me/mailFolders/inbox');
			expectError(throttled, 429, 'TooManyRequests');
			expect(throttled.headers['retry-after']).toBe('7');
			expect((await get('/me/mailFolders/inbox')).status).toBe(200);

			graph.throttle(1, 3);
			const batch = await request('POST', '/$batch', { body: { requests: [{ id: 'a', method: 'GET', url: '/me/mailFolders/inbox' }, { id: 'b', method: 'GET', url: '/me/mailFolders/drafts' }] } });
			expect(batch.status).toBe(200);
			const [a, b] = batch.json.responses;
			expect(a).toMatchObject({ id: 'a', status: 429, headers: { 'Retry-After': '3' }, body: { error: { code: 'TooManyRequests' } } });
			expect(b).toMatchObject({ id: 'b', status: 200, body: { displayName: 'Drafts' } });

			graph.throttle(1, 2, 503);
			const unavailable = await get('/me/mailFolders/inbox');
			expectError(unavailable, 503, 'ServiceUnavailable');
			expect(unavailable.headers['retry-after']).toBe('2');
		});

		it('gzips answers for clients that accept it', async () => {
			const answer = await get('/me/mailFolders', { headers: { 'accept-encoding': 'gzip' } });
			expect(answer.headers['content-encoding']).toBe('gzip');
			expect(answer.json.value.length).toBeGreaterThan(0);
		});
	});
});

const TEXT_SYNC = 'The sync state generation is not found. The delta token is expired and data must be synchronized again.';
