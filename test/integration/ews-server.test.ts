/**
 * The local EWS endpoint (test/servers/ews/) against the SOAP of Microsoft's EWS reference:
 * real HTTPS requests with the documented request XML, answers checked for the documented
 * shapes, namespaces and response codes; one round through ews-javascript-api itself.
 */
import fs from 'node:fs';
import https from 'node:https';
import { XhrApi } from '@ewsjs/xhr';
import * as ews from 'ews-javascript-api';
import { startMailServers, type MailServers } from '../servers';
import { EwsServer, NS, parseXml, type XmlElement } from '../servers/ews';
import { generateMessage } from '../fixtures/mailgen';

const ALICE = 'alice@contoso.test';
const BOB = 'bob@contoso.test';
const SHARED = 'shared@contoso.test';

interface Answer {
	status: number;
	headers: Record<string, string | string[] | undefined>;
	/** Each WWW-Authenticate header on its own (Node joins them in `headers`). */
	challenges: string[];
	text: string;
	doc?: XmlElement;
}

/** Every element named `local` below `el`, depth first. */
function all(el: XmlElement | undefined, local: string): XmlElement[] {
	if (!el) return [];
	const found: XmlElement[] = [];
	for (const c of el.children) {
		if (c.local === local) found.push(c);
		found.push(...all(c, local));
	}
	return found;
}
function first(el: XmlElement | undefined, local: string): XmlElement {
	const found = all(el, local)[0];
	if (!found) throw new Error(`no <${local}> in the answer`);
	return found;
}
function codes(doc: XmlElement | undefined): string[] {
	return all(doc, 'ResponseCode').map((c) => c.text);
}

/** A SOAP envelope as in Microsoft's examples: messages as the default namespace of the operation, t: for types. */
function envelope(body: string, header = ''): string {
	return `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
  xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
  ${header ? `<soap:Header>${header}</soap:Header>` : ''}
  <soap:Body>${body}</soap:Body>
</soap:Envelope>`;
}
const M = 'xmlns="http://schemas.microsoft.com/exchange/services/2006/messages"';
const impersonate = (address: string) => `<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>${address}</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>`;
const version = (v: string) => `<t:RequestServerVersion Version="${v}" />`;

describe('local EWS endpoint', () => {
	let servers: MailServers;
	let server: EwsServer;
	let ca: Buffer;
	let aliceToken: string;

	const post = (xml: string, auth: string | null, headers: Record<string, string> = {}, method = 'POST'): Promise<Answer> =>
		new Promise((resolve, reject) => {
			const req = https.request(server.url, { method, ca, headers: { 'content-type': 'text/xml; charset=utf-8', ...(auth ? { authorization: auth } : {}), ...headers } }, (res) => {
				const chunks: Buffer[] = [];
				res.on('data', (c: Buffer) => chunks.push(c));
				res.on('end', () => {
					const text = Buffer.concat(chunks).toString('utf8');
					const challenges = res.rawHeaders.filter((_, i) => i % 2 === 1 && res.rawHeaders[i - 1].toLowerCase() === 'www-authenticate');
					resolve({ status: res.statusCode ?? 0, headers: res.headers, challenges, text, doc: text.startsWith('<?xml') ? parseXml(text) : undefined });
				});
			});
			req.on('error', reject);
			req.end(method === 'POST' ? xml : undefined);
		});
	const asAlice = (xml: string, headers: Record<string, string> = {}) => post(xml, `Bearer ${aliceToken}`, headers);

	const getInbox = (mailboxElement = '') => envelope(`<GetFolder ${M}><FolderShape><t:BaseShape>Default</t:BaseShape></FolderShape><FolderIds><t:DistinguishedFolderId Id="inbox">${mailboxElement}</t:DistinguishedFolderId></FolderIds></GetFolder>`);
	const getItems = (ids: string[], props = ['item:MimeContent', 'item:Subject', 'message:InternetMessageId', 'message:IsRead', 'item:DateTimeReceived', 'item:Size']) =>
		envelope(
			`<GetItem ${M}><ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>${props.map((p) => `<t:FieldURI FieldURI="${p}"/>`).join('')}</t:AdditionalProperties></ItemShape><ItemIds>${ids.map((id) => `<t:ItemId Id="${id}"/>`).join('')}</ItemIds></GetItem>`,
		);
	const sync = (folder: string, max: number, state?: string, shape = 'IdOnly') =>
		envelope(`<SyncFolderItems ${M}><ItemShape><t:BaseShape>${shape}</t:BaseShape></ItemShape><SyncFolderId>${folder}</SyncFolderId>${state ? `<SyncState>${state}</SyncState>` : ''}<MaxChangesReturned>${max}</MaxChangesReturned></SyncFolderItems>`);
	const setRead = (id: string, changeKey: string | undefined, read: boolean, resolution = 'AutoResolve') =>
		envelope(
			`<UpdateItem MessageDisposition="SaveOnly" ConflictResolution="${resolution}" ${M}><ItemChanges><t:ItemChange><t:ItemId Id="${id}"${changeKey ? ` ChangeKey="${changeKey}"` : ''}/><t:Updates><t:SetItemField><t:FieldURI FieldURI="message:IsRead"/><t:Message><t:IsRead>${read}</t:IsRead></t:Message></t:SetItemField></t:Updates></t:ItemChange></ItemChanges></UpdateItem>`,
		);
	const message = (index: number) => generateMessage(7001, index, { domain: 'contoso.test', to: ALICE });

	beforeAll(async () => {
		servers = await startMailServers();
		ca = fs.readFileSync(servers.certPath);
		server = await EwsServer.start({
			tls: { key: fs.readFileSync(servers.dovecot.keyPath), cert: ca },
			tokenUser: (token) => servers.oauth.tokenUser(token),
			users: { 'carol@contoso.test': 'carol-pw' },
			mailboxes: [ALICE, BOB, SHARED, 'carol@contoso.test'],
			access: { alice: [SHARED], svc: [ALICE, BOB] },
			serverVersion: 'Exchange2016',
		});
		aliceToken = servers.oauth.issueToken('alice');
	});
	afterAll(async () => {
		await server?.stop();
		await servers?.stop();
	});

	describe('authentication', () => {
		it('answers 401 with the accepted schemes when credentials are missing or wrong', async () => {
			const none = await post(getInbox(), null);
			expect(none.status).toBe(401);
			const challenges = none.challenges;
			expect(challenges.some((c) => c.startsWith('Bearer ') && !c.includes('invalid_token'))).toBe(true);
			expect(challenges.some((c) => c.startsWith('Basic '))).toBe(true);

			const wrongPassword = await post(getInbox(), `Basic ${Buffer.from('carol@contoso.test:nope').toString('base64')}`);
			expect(wrongPassword.status).toBe(401);
			const ntlm = await post(getInbox(), 'NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==');
			expect(ntlm.status).toBe(401);
			expect(server.requests.slice(-3).map((r) => [r.status, r.authorization])).toEqual([
				[401, 'none'],
				[401, 'basic'],
				[401, 'none'],
			]);
		});

		it('answers 401 error="invalid_token" for an expired or revoked token, 200 for a live one', async () => {
			const expired = servers.oauth.issueToken('alice', -1);
			const revoked = servers.oauth.issueToken('alice');
			servers.oauth.revoke(revoked);
			for (const token of [expired, revoked, 'not-a-token']) {
				const answer = await post(getInbox(), `Bearer ${token}`);
				expect(answer.status).toBe(401);
				expect(answer.challenges).toEqual([expect.stringMatching(/^Bearer .*error="invalid_token"$/), 'Basic realm="127.0.0.1"']);
				expect(answer.headers['x-ms-diagnostics']).toContain('invalid_token');
			}
			const ok = await asAlice(getInbox());
			expect(ok.status).toBe(200);
			expect(server.requests.at(-1)).toMatchObject({ operation: 'GetFolder', authorization: 'bearer', principal: 'alice', mailbox: ALICE, status: 200, responseCode: 'NoError' });
			expect(server.requests.at(-1)?.body).not.toContain(aliceToken);
		});

		it('accepts Basic authentication on-premises style (the user is the mailbox address)', async () => {
			const answer = await post(getInbox(), `Basic ${Buffer.from('carol@contoso.test:carol-pw').toString('base64')}`);
			expect(answer.status).toBe(200);
			expect(server.requests.at(-1)).toMatchObject({ authorization: 'basic', principal: 'carol@contoso.test', mailbox: 'carol@contoso.test' });
		});

		it('answers GET (the token check) with 200 for a live token', async () => {
			expect((await post('', `Bearer ${aliceToken}`, {}, 'GET')).status).toBe(200);
			expect((await post('', 'Bearer revoked', {}, 'GET')).status).toBe(401);
		});
	});

	describe('folders', () => {
		it('GetFolder: the documented response with ServerVersionInfo, counts and namespaces', async () => {
			server.addMessage(ALICE, 'inbox', message(0).raw);
			server.addMessage(ALICE, 'inbox', message(1).raw, { isRead: true });
			const answer = await asAlice(getInbox());
			expect(answer.status).toBe(200);
			expect(answer.headers['content-type']).toBe('text/xml; charset=utf-8');
			const doc = answer.doc!;
			expect(doc).toMatchObject({ local: 'Envelope', ns: NS.soap });
			const info = first(doc, 'ServerVersionInfo');
			expect(info.ns).toBe(NS.types);
			expect(info.attrs).toMatchObject({ MajorVersion: '15', MinorVersion: '1', Version: 'Exchange2016' });
			const response = first(doc, 'GetFolderResponse');
			expect(response.ns).toBe(NS.messages);
			const msg = first(response, 'GetFolderResponseMessage');
			expect(msg.attrs.ResponseClass).toBe('Success');
			expect(first(msg, 'ResponseCode').text).toBe('NoError');
			const folder = first(first(msg, 'Folders'), 'Folder');
			expect(folder.ns).toBe(NS.types);
			expect(folder.children.map((c) => c.local)).toEqual(['FolderId', 'DisplayName', 'TotalCount', 'ChildFolderCount', 'UnreadCount']);
			expect(first(folder, 'FolderId').attrs).toEqual({ Id: expect.any(String), ChangeKey: expect.any(String) });
			expect([first(folder, 'DisplayName').text, first(folder, 'TotalCount').text, first(folder, 'UnreadCount').text, first(folder, 'ChildFolderCount').text]).toEqual(['Inbox', '2', '1', '0']);
		});

		it('GetFolder by FolderId with AllProperties gives ParentFolderId and FolderClass; a bad id is malformed', async () => {
			const inboxId = first((await asAlice(getInbox())).doc, 'FolderId').attrs.Id;
			const answer = await asAlice(
				envelope(`<GetFolder ${M}><FolderShape><t:BaseShape>AllProperties</t:BaseShape></FolderShape><FolderIds><t:FolderId Id="${inboxId}"/><t:FolderId Id="not base64!"/></FolderIds></GetFolder>`),
			);
			expect(codes(answer.doc)).toEqual(['NoError', 'ErrorInvalidIdMalformed']);
			const folder = first(answer.doc, 'Folder');
			expect(first(folder, 'FolderClass').text).toBe('IPF.Note');
			expect(all(folder, 'ParentFolderId')).toHaveLength(1);
			const error = all(answer.doc, 'GetFolderResponseMessage')[1];
			expect(error.attrs.ResponseClass).toBe('Error');
			expect(error.children.map((c) => c.local)).toEqual(['MessageText', 'ResponseCode', 'DescriptiveLinkKey', 'Folders']);
			expect(first(error, 'MessageText').text).toBe('Id is malformed.');
		});

		it('FindFolder: Shallow lists children, Deep the whole tree, paging with IndexedPageFolderView', async () => {
			const projects = server.createFolder(ALICE, 'inbox', 'Projects');
			server.createFolder(ALICE, projects, 'Alpha');
			server.createFolder(ALICE, 'Inbox/Projects', 'Beta');
			const find = (traversal: string, view = '') =>
				asAlice(envelope(`<FindFolder Traversal="${traversal}" ${M}><FolderShape><t:BaseShape>Default</t:BaseShape></FolderShape>${view}<ParentFolderIds><t:DistinguishedFolderId Id="msgfolderroot"/></ParentFolderIds></FindFolder>`));
			const shallow = await find('Shallow');
			const root = first(shallow.doc, 'RootFolder');
			expect(root.ns).toBe(NS.messages);
			expect(root.attrs).toMatchObject({ TotalItemsInView: '6', IncludesLastItemInRange: 'true' });
			expect(all(root, 'DisplayName').map((d) => d.text)).toEqual(['Inbox', 'Drafts', 'Sent Items', 'Deleted Items', 'Junk Email', 'Outbox']);
			const inbox = all(root, 'Folder')[0];
			expect(first(inbox, 'ChildFolderCount').text).toBe('1');

			const deep = await find('Deep');
			expect(all(deep.doc, 'DisplayName').map((d) => d.text)).toEqual(['Inbox', 'Projects', 'Alpha', 'Beta', 'Drafts', 'Sent Items', 'Deleted Items', 'Junk Email', 'Outbox']);

			const page = await find('Deep', '<IndexedPageFolderView MaxEntriesReturned="4" Offset="0" BasePoint="Beginning"/>');
			expect(first(page.doc, 'RootFolder').attrs).toEqual({ IndexedPagingOffset: '4', TotalItemsInView: '9', IncludesLastItemInRange: 'false' });
			const rest = await find('Deep', '<IndexedPageFolderView MaxEntriesReturned="10" Offset="4" BasePoint="Beginning"/>');
			expect(first(rest.doc, 'RootFolder').attrs.IncludesLastItemInRange).toBe('true');
			expect(all(rest.doc, 'DisplayName')).toHaveLength(5);
		});

		it('CreateFolder: a new FolderId, then ErrorFolderExists for the same name', async () => {
			const create = () => asAlice(envelope(`<CreateFolder ${M}><ParentFolderId><t:DistinguishedFolderId Id="inbox"/></ParentFolderId><Folders><t:Folder><t:DisplayName>Invoices</t:DisplayName></t:Folder></Folders></CreateFolder>`));
			const created = await create();
			expect(codes(created.doc)).toEqual(['NoError']);
			expect(first(created.doc, 'FolderId').attrs.Id).toBeTruthy();
			const again = await create();
			expect(codes(again.doc)).toEqual(['ErrorFolderExists']);
			const id = first(created.doc, 'FolderId').attrs.Id;
			expect(server.folderItems(ALICE, id)).toEqual([]);
			expect(server.folderItems(ALICE, 'Inbox/Invoices')).toEqual([]);
		});
	});

	describe('SyncFolderItems', () => {
		it('pages Creates by MaxChangesReturned, then reports ReadFlagChange, Update-free moves as Delete, nothing twice', async () => {
			const folder = server.createFolder(ALICE, 'inbox', 'Sync');
			const ids = [2, 3, 4].map((i) => server.addMessage(ALICE, folder, message(i).raw).itemId);
			const folderId = `<t:FolderId Id="${folder}"/>`;

			const first2 = await asAlice(sync(folderId, 2));
			expect(codes(first2.doc)).toEqual(['NoError']);
			const msg = first(first2.doc, 'SyncFolderItemsResponseMessage');
			expect(msg.children.map((c) => c.local)).toEqual(['ResponseCode', 'SyncState', 'IncludesLastItemInRange', 'Changes']);
			expect(first(msg, 'IncludesLastItemInRange').text).toBe('false');
			const creates = all(msg, 'Create');
			expect(creates.map((c) => first(c, 'ItemId').attrs.Id)).toEqual(ids.slice(0, 2));
			expect(first(creates[0], 'Message').children.map((c) => c.local)).toEqual(['ItemId']);

			const rest = await asAlice(sync(folderId, 2, first(msg, 'SyncState').text));
			expect(all(rest.doc, 'Create').map((c) => first(c, 'ItemId').attrs.Id)).toEqual([ids[2]]);
			expect(first(rest.doc, 'IncludesLastItemInRange').text).toBe('true');
			let state = first(rest.doc, 'SyncState').text;

			const empty = await asAlice(sync(folderId, 512, state));
			expect(first(empty.doc, 'Changes').children).toEqual([]);
			state = first(empty.doc, 'SyncState').text;

			const [item0] = server.folderItems(ALICE, folder);
			expect(codes((await asAlice(setRead(item0.itemId, item0.changeKey, true))).doc)).toEqual(['NoError']);
			await asAlice(envelope(`<MoveItem ${M}><ToFolderId><t:DistinguishedFolderId Id="junkemail"/></ToFolderId><ItemIds><t:ItemId Id="${ids[1]}"/></ItemIds></MoveItem>`));
			const changes = await asAlice(sync(folderId, 512, state, 'Default'));
			const kinds = first(changes.doc, 'Changes').children.map((c) => c.local);
			expect(kinds).toEqual(['ReadFlagChange', 'Delete']);
			const flag = first(changes.doc, 'ReadFlagChange');
			expect([first(flag, 'ItemId').attrs.Id, first(flag, 'IsRead').text]).toEqual([ids[0], 'true']);
			expect(first(first(changes.doc, 'Delete'), 'ItemId').attrs.Id).toBe(ids[1]);
		});

		it('Default shape Creates carry the message properties (Subject decoded, IsRead, DateTimeReceived)', async () => {
			const folder = server.createFolder(ALICE, 'inbox', 'Shapes');
			const generated = message(5);
			const received = new Date('2025-03-04T05:06:07Z');
			server.addMessage(ALICE, folder, generated.raw, { received });
			const answer = await asAlice(sync(`<t:FolderId Id="${folder}"/>`, 10, undefined, 'Default'));
			const item = first(first(answer.doc, 'Create'), 'Message');
			expect(first(item, 'Subject').text).toBe(generated.subject);
			expect(first(item, 'IsRead').text).toBe('false');
			expect(first(item, 'DateTimeReceived').text).toBe('2025-03-04T05:06:07Z');
			expect(first(item, 'ItemClass').text).toBe('IPM.Note');
		});

		it('answers ErrorInvalidSyncStateData, as documented, for a bad state and for states given out before resetSyncStates', async () => {
			const bad = await asAlice(sync('<t:DistinguishedFolderId Id="inbox"/>', 10, 'AEbJ94eMOAAA='));
			const msg = first(bad.doc, 'SyncFolderItemsResponseMessage');
			expect(msg.attrs.ResponseClass).toBe('Error');
			expect(msg.children.map((c) => c.local)).toEqual(['MessageText', 'ResponseCode', 'DescriptiveLinkKey', 'SyncState', 'IncludesLastItemInRange']);
			expect(first(msg, 'MessageText').text).toBe('Synchronization state data is corrupt or otherwise invalid.');
			expect(first(msg, 'ResponseCode').text).toBe('ErrorInvalidSyncStateData');

			const good = first((await asAlice(sync('<t:DistinguishedFolderId Id="inbox"/>', 512))).doc, 'SyncState').text;
			expect(codes((await asAlice(sync('<t:DistinguishedFolderId Id="inbox"/>', 512, good))).doc)).toEqual(['NoError']);
			// A state of one folder is no good for another.
			expect(codes((await asAlice(sync('<t:DistinguishedFolderId Id="junkemail"/>', 512, good))).doc)).toEqual(['ErrorInvalidSyncStateData']);
			server.resetSyncStates();
			expect(codes((await asAlice(sync('<t:DistinguishedFolderId Id="inbox"/>', 512, good))).doc)).toEqual(['ErrorInvalidSyncStateData']);
			expect(server.requests.at(-1)).toMatchObject({ operation: 'SyncFolderItems', status: 200, responseCode: 'ErrorInvalidSyncStateData' });
		});

		it('rejects MaxChangesReturned outside 1..512 with a schema validation fault', async () => {
			const answer = await asAlice(sync('<t:DistinguishedFolderId Id="inbox"/>', 513));
			expect(answer.status).toBe(500);
			expect(first(answer.doc, 'faultcode').text).toBe('a:ErrorSchemaValidation');
		});
	});

	describe('items', () => {
		it('GetItem: base64 MimeContent with CharacterSet, the asked properties; a batch answers per item', async () => {
			const generated = message(6);
			const received = new Date('2025-06-01T10:00:00Z');
			const { itemId } = server.addMessage(ALICE, 'inbox', generated.raw, { received });
			const gone = server.addMessage(ALICE, 'inbox', message(8).raw).itemId;
			await asAlice(envelope(`<DeleteItem DeleteType="HardDelete" ${M}><ItemIds><t:ItemId Id="${gone}"/></ItemIds></DeleteItem>`));

			const answer = await asAlice(getItems([itemId, gone, 'AAMkA=', itemId]));
			expect(answer.status).toBe(200);
			expect(codes(answer.doc)).toEqual(['NoError', 'ErrorItemNotFound', 'ErrorInvalidIdMalformed', 'NoError']);
			const messages = all(answer.doc, 'GetItemResponseMessage');
			expect(messages.map((m) => m.attrs.ResponseClass)).toEqual(['Success', 'Error', 'Error', 'Success']);
			expect(first(messages[1], 'MessageText').text).toBe('The specified object was not found in the store.');
			expect(messages[1].children.map((c) => c.local)).toEqual(['MessageText', 'ResponseCode', 'DescriptiveLinkKey', 'Items']);

			const item = first(first(messages[0], 'Items'), 'Message');
			expect(item.ns).toBe(NS.types);
			expect(item.children.map((c) => c.local)).toEqual(['MimeContent', 'ItemId', 'Subject', 'DateTimeReceived', 'Size', 'InternetMessageId', 'IsRead']);
			const mime = first(item, 'MimeContent');
			expect(mime.attrs.CharacterSet).toBe('UTF-8');
			expect(Buffer.from(mime.text, 'base64').equals(generated.raw)).toBe(true);
			expect(first(item, 'Subject').text).toBe(generated.subject);
			expect(first(item, 'InternetMessageId').text).toBe(generated.messageId);
			expect(first(item, 'IsRead').text).toBe('false');
			expect(first(item, 'DateTimeReceived').text).toBe('2025-06-01T10:00:00Z');
			expect(first(item, 'Size').text).toBe(String(generated.raw.length));
			expect(server.requests.at(-1)?.responseCodes).toEqual(['NoError', 'ErrorItemNotFound', 'ErrorInvalidIdMalformed', 'NoError']);
		});

		it('GetItem as in the documented example (Default shape, IncludeMimeContent)', async () => {
			const { itemId } = server.addMessage(ALICE, 'inbox', message(9).raw);
			const answer = await asAlice(envelope(`<GetItem ${M} xmlns:t="${NS.types}"><ItemShape><t:BaseShape>Default</t:BaseShape><t:IncludeMimeContent>true</t:IncludeMimeContent></ItemShape><ItemIds><t:ItemId Id="${itemId}" ChangeKey="CQAAAB" /></ItemIds></GetItem>`));
			const item = first(answer.doc, 'Message');
			expect(item.children[0].local).toBe('MimeContent');
			expect(all(item, 'Subject')).toHaveLength(1);
			expect(all(item, 'IsRead')).toHaveLength(1);
			expect(all(item, 'From')).toHaveLength(1);
		});

		it('UpdateItem sets IsRead and gives a new ChangeKey; NeverOverwrite with a stale ChangeKey is a conflict; a ChangeKey and MessageDisposition are required', async () => {
			const { itemId } = server.addMessage(ALICE, 'inbox', message(10).raw);
			const before = server.folderItems(ALICE, 'inbox').find((i) => i.itemId === itemId)!;
			const answer = await asAlice(setRead(itemId, before.changeKey, true));
			expect(codes(answer.doc)).toEqual(['NoError']);
			const newKey = first(first(answer.doc, 'Items'), 'ItemId').attrs.ChangeKey;
			expect(newKey).not.toBe(before.changeKey);
			expect(first(first(answer.doc, 'ConflictResults'), 'Count').text).toBe('0');
			expect(server.folderItems(ALICE, 'inbox').find((i) => i.itemId === itemId)).toMatchObject({ isRead: true, changeKey: newKey });

			expect(codes((await asAlice(setRead(itemId, before.changeKey, false, 'NeverOverwrite'))).doc)).toEqual(['ErrorIrresolvableConflict']);
			// A ChangeKey is needed "even when conflict resolution is set to always overwrite"; a stale one is resolved.
			expect(codes((await asAlice(setRead(itemId, undefined, false, 'AlwaysOverwrite'))).doc)).toEqual(['ErrorChangeKeyRequiredForWriteOperations']);
			expect(codes((await asAlice(setRead(itemId, before.changeKey, false, 'AlwaysOverwrite'))).doc)).toEqual(['NoError']);
			expect(server.folderItems(ALICE, 'inbox').find((i) => i.itemId === itemId)?.isRead).toBe(false);
			const noDisposition = setRead(itemId, newKey, true).replace(' MessageDisposition="SaveOnly"', '');
			expect(codes((await asAlice(noDisposition)).doc)).toEqual(['ErrorMessageDispositionRequired']);
		});

		it('MoveItem and CopyItem answer new ItemIds; the old id of a moved item is gone', async () => {
			const { itemId } = server.addMessage(ALICE, 'inbox', message(11).raw);
			const moved = await asAlice(envelope(`<MoveItem ${M}><ToFolderId><t:DistinguishedFolderId Id="junkemail"/></ToFolderId><ItemIds><t:ItemId Id="${itemId}"/></ItemIds></MoveItem>`));
			expect(codes(moved.doc)).toEqual(['NoError']);
			const newId = first(first(moved.doc, 'Items'), 'ItemId').attrs.Id;
			expect(newId).not.toBe(itemId);
			expect(server.folderItems(ALICE, 'junkemail').map((i) => i.itemId)).toContain(newId);
			expect(codes((await asAlice(getItems([itemId]))).doc)).toEqual(['ErrorItemNotFound']);

			const copied = await asAlice(envelope(`<CopyItem ${M}><ToFolderId><t:DistinguishedFolderId Id="inbox"/></ToFolderId><ItemIds><t:ItemId Id="${newId}"/></ItemIds></CopyItem>`));
			expect(first(copied.doc, 'CopyItemResponseMessage').attrs.ResponseClass).toBe('Success');
			const copyId = first(first(copied.doc, 'Items'), 'ItemId').attrs.Id;
			expect(server.folderItems(ALICE, 'junkemail').map((i) => i.itemId)).toContain(newId);
			expect(server.folderItems(ALICE, 'inbox').map((i) => i.itemId)).toContain(copyId);
		});

		it('DeleteItem: HardDelete removes, MoveToDeletedItems moves to Deleted Items, SoftDelete leaves the folder', async () => {
			const folder = server.createFolder(ALICE, 'inbox', 'Deletes');
			const [hard, toTrash, soft] = [12, 13, 14].map((i) => server.addMessage(ALICE, folder, message(i).raw).itemId);
			const del = (type: string, id: string) => asAlice(envelope(`<DeleteItem DeleteType="${type}" ${M}><ItemIds><t:ItemId Id="${id}"/></ItemIds></DeleteItem>`));
			const answer = await del('HardDelete', hard);
			const msg = first(answer.doc, 'DeleteItemResponseMessage');
			expect(msg.children.map((c) => c.local)).toEqual(['ResponseCode']);
			expect(codes((await del('MoveToDeletedItems', toTrash)).doc)).toEqual(['NoError']);
			expect(codes((await del('SoftDelete', soft)).doc)).toEqual(['NoError']);
			expect(server.folderItems(ALICE, folder)).toEqual([]);
			expect(server.folderItems(ALICE, 'deleteditems').map((i) => i.messageId)).toEqual([message(13).messageId]);
			expect(codes((await del('HardDelete', hard)).doc)).toEqual(['ErrorItemNotFound']);
		});
	});

	describe('mailbox selection', () => {
		it('impersonation: allowed for a granted mailbox (logged with X-AnchorMailbox and the version), ErrorImpersonateUserDenied otherwise', async () => {
			server.addMessage(SHARED, 'inbox', message(15).raw);
			const ok = await asAlice(envelope(`<GetFolder ${M}><FolderShape><t:BaseShape>Default</t:BaseShape></FolderShape><FolderIds><t:DistinguishedFolderId Id="inbox"/></FolderIds></GetFolder>`, version('Exchange2013_SP1') + impersonate(SHARED)), { 'X-AnchorMailbox': SHARED });
			expect(codes(ok.doc)).toEqual(['NoError']);
			expect(first(ok.doc, 'TotalCount').text).toBe('1');
			expect(server.requests.at(-1)).toMatchObject({ operation: 'GetFolder', mailbox: SHARED, impersonated: SHARED, anchorMailbox: SHARED, serverVersion: 'Exchange2013_SP1', status: 200 });

			const denied = await asAlice(getInbox().replace('<soap:Body>', `<soap:Header>${impersonate(BOB)}</soap:Header><soap:Body>`));
			expect(denied.status).toBe(500);
			const fault = first(denied.doc, 'Fault');
			expect(first(fault, 'faultcode').text).toBe('a:ErrorImpersonateUserDenied');
			expect(first(fault, 'faultstring').text).toBe('The account does not have permission to impersonate the requested user.');
			const detail = first(fault, 'detail');
			expect(first(detail, 'ResponseCode')).toMatchObject({ ns: NS.errors, text: 'ErrorImpersonateUserDenied' });
			expect(server.requests.at(-1)).toMatchObject({ impersonated: BOB, status: 500, responseCode: 'ErrorImpersonateUserDenied' });

			const unknown = await asAlice(getInbox().replace('<soap:Body>', `<soap:Header>${impersonate('nobody@contoso.test')}</soap:Header><soap:Body>`));
			expect(first(unknown.doc, 'faultcode').text).toBe('a:ErrorNonExistentMailbox');
		});

		it('a service principal without a mailbox impersonates the mailboxes it was granted, and must name one', async () => {
			const svc = servers.oauth.issueToken('svc');
			const asSvc = (xml: string) => post(xml, `Bearer ${svc}`);
			expect(codes((await asSvc(getInbox())).doc)).toEqual(['ErrorMissingEmailAddress']);
			const ok = await asSvc(getInbox().replace('<soap:Body>', `<soap:Header>${impersonate(BOB)}</soap:Header><soap:Body>`));
			expect(codes(ok.doc)).toEqual(['NoError']);
			expect(server.requests.at(-1)).toMatchObject({ principal: 'svc', mailbox: BOB, impersonated: BOB });
		});

		it('delegate access by the Mailbox element: granted opens, others ErrorAccessDenied, unknown ErrorNonExistentMailbox', async () => {
			const mailbox = (address: string) => `<t:Mailbox><t:EmailAddress>${address}</t:EmailAddress></t:Mailbox>`;
			const shared = await asAlice(getInbox(mailbox(SHARED)));
			expect(codes(shared.doc)).toEqual(['NoError']);
			expect(server.requests.at(-1)?.mailbox).toBe(SHARED);
			const bob = await asAlice(getInbox(mailbox(BOB)));
			expect(codes(bob.doc)).toEqual(['ErrorAccessDenied']);
			expect(first(bob.doc, 'MessageText').text).toBe('Access is denied. Check credentials and try again.');
			expect(codes((await asAlice(getInbox(mailbox('nobody@contoso.test')))).doc)).toEqual(['ErrorNonExistentMailbox']);
			// Item ids carry their mailbox: another's item is denied even without a Mailbox element.
			const { itemId } = server.addMessage(BOB, 'inbox', message(16).raw);
			expect(codes((await asAlice(getItems([itemId]))).doc)).toEqual(['ErrorAccessDenied']);
		});
	});

	describe('faults', () => {
		it('busy(count, backOffMs): the next requests get the ErrorServerBusy fault with BackOffMilliseconds (HTTP 500), then service resumes', async () => {
			server.busy(2, 1500);
			expect((await post(getInbox(), null)).status).toBe(401); // unauthenticated requests do not count
			for (let i = 0; i < 2; i++) {
				const answer = await asAlice(getInbox());
				expect(answer.status).toBe(500);
				const fault = first(answer.doc, 'Fault');
				expect(fault.ns).toBe(NS.soap);
				expect(first(fault, 'faultcode').text).toBe('a:ErrorServerBusy');
				expect(first(fault, 'faultstring').text).toBe('The server cannot service this request right now. Try again later.');
				const value = first(first(fault, 'MessageXml'), 'Value');
				expect(value).toMatchObject({ ns: NS.types, attrs: { Name: 'BackOffMilliseconds' }, text: '1500' });
			}
			expect(codes((await asAlice(getInbox())).doc)).toEqual(['NoError']);
			expect(server.requests.slice(-3).map((r) => r.responseCode)).toEqual(['ErrorServerBusy', 'ErrorServerBusy', 'NoError']);
		});

		it('an unknown operation, malformed XML and an unknown RequestServerVersion get SOAP faults', async () => {
			const unknown = await asAlice(envelope(`<FrobnicateItem ${M}/>`));
			expect(unknown.status).toBe(500);
			expect(first(unknown.doc, 'faultcode').text).toBe('a:ErrorInvalidRequest');
			expect(server.requests.at(-1)).toMatchObject({ operation: 'FrobnicateItem', responseCode: 'ErrorInvalidRequest' });
			const malformed = await asAlice('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetFolder>');
			expect(first(malformed.doc, 'faultcode').text).toBe('a:ErrorSchemaValidation');
			const badVersion = await asAlice(getInbox().replace('<soap:Body>', `<soap:Header>${version('Exchange2099')}</soap:Header><soap:Body>`));
			expect(first(badVersion.doc, 'faultcode').text).toBe('a:ErrorInvalidServerVersion');
		});
	});

	it('works with ews-javascript-api: bind, sync, GetItem with MimeContent, IsRead, and its view of ErrorServerBusy', async () => {
		const generated = message(17);
		server.addMessage(BOB, 'inbox', generated.raw);
		const service = new ews.ExchangeService(ews.ExchangeVersion.Exchange2013_SP1);
		service.Url = new ews.Uri(server.url);
		// Its OAuthCredentials wants a JWT unless told to take the token verbatim.
		service.Credentials = new ews.OAuthCredentials(servers.oauth.issueToken('svc'), true);
		service.XHRApi = new XhrApi({ httpsAgent: new https.Agent({ ca }) });
		service.ImpersonatedUserId = new ews.ImpersonatedUserId(ews.ConnectingIdType.SmtpAddress, BOB);
		service.HttpHeaders.Add('X-AnchorMailbox', BOB);

		const inbox = await ews.Folder.Bind(service, ews.WellKnownFolderName.Inbox);
		expect(inbox.DisplayName).toBe('Inbox');
		const changes = await service.SyncFolderItems(new ews.FolderId(ews.WellKnownFolderName.Inbox), ews.PropertySet.IdOnly, [], 512, ews.SyncFolderItemsScope.NormalItems, null as unknown as string); // null: the first sync (its typings want a string)
		expect(changes.MoreChangesAvailable).toBe(false);
		const ids = changes.GetEnumerator().map((c) => c.ItemId);
		expect(ids.length).toBeGreaterThan(0);
		const props = new ews.PropertySet(ews.BasePropertySet.IdOnly, [ews.ItemSchema.MimeContent, ews.ItemSchema.Subject, ews.EmailMessageSchema.InternetMessageId, ews.EmailMessageSchema.IsRead]);
		const got = await service.BindToItems(ids, props);
		const item = got.Responses.map((r) => r.Item as ews.EmailMessage).find((i) => i.InternetMessageId === generated.messageId)!;
		expect(item.Subject).toBe(generated.subject);
		// MimeContent.Content is the base64 text as received, not bytes.
		expect(Buffer.from(item.MimeContent.Content, 'base64').equals(generated.raw)).toBe(true);
		item.IsRead = true;
		await item.Update(ews.ConflictResolutionMode.AutoResolve);
		const after = await service.SyncFolderItems(new ews.FolderId(ews.WellKnownFolderName.Inbox), ews.PropertySet.IdOnly, [], 512, ews.SyncFolderItemsScope.NormalItems, changes.SyncState);
		expect(after.GetEnumerator().map((c) => [ews.ChangeType[c.ChangeType], c.IsRead])).toEqual([['ReadFlagChange', true]]);

		const sent = server.requests.filter((r) => r.principal === 'svc' && r.status === 200).slice(-5);
		expect(sent.map((r) => r.operation)).toEqual(['GetFolder', 'SyncFolderItems', 'GetItem', 'UpdateItem', 'SyncFolderItems']);
		for (const r of sent) expect(r).toMatchObject({ mailbox: BOB, impersonated: BOB, anchorMailbox: BOB, serverVersion: 'Exchange2013_SP1', authorization: 'bearer' });
		expect(sent[2].body).toContain('<t:FieldURI FieldURI="item:MimeContent"></t:FieldURI>');
		expect(sent[3].body).toMatch(/<t:SetItemField><t:FieldURI FieldURI="message:IsRead"><\/t:FieldURI><t:Message><t:IsRead>true<\/t:IsRead><\/t:Message><\/t:SetItemField>/);

		server.busy(1, 2500);
		const error = await ews.Folder.Bind(service, ews.WellKnownFolderName.Inbox).then(
			() => undefined,
			(e: unknown) => e as { ResponseCode: number; ErrorDetails: { get(key: string): string }; HttpStatusCode: number },
		);
		// It rejects with its SoapFaultDetails (not a ServerBusyException); the hint is in ErrorDetails.
		expect(error && ews.ServiceError[error.ResponseCode]).toBe('ErrorServerBusy');
		expect(error?.HttpStatusCode).toBe(500);
		expect(error?.ErrorDetails.get('BackOffMilliseconds')).toBe('2500');
	});
});
