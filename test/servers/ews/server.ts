/**
 * A local Exchange Web Services endpoint over HTTPS for tests: SOAP 1.1 POSTs to
 * `/EWS/Exchange.asmx`, answered with the XML shapes, namespaces and response codes of Microsoft's
 * EWS reference (learn.microsoft.com, "EWS reference for Exchange").
 *
 *   const ews = await EwsServer.start({ tls, tokenUser: (t) => servers.oauth.tokenUser(t), mailboxes: ['alice@contoso.test'] });
 *   const { itemId } = ews.addMessage('alice@contoso.test', 'inbox', raw);
 *   ...ews.url, ews.requests...
 *   await ews.stop();
 *
 * Authentication: `Authorization: Bearer <token>` (the principal is `tokenUser(token)`; undefined
 * answers 401 with `WWW-Authenticate: Bearer … error="invalid_token"`) or `Basic` against `users`.
 * Anything else, or nothing, answers 401 with the schemes the server accepts.
 *
 * Principals and mailboxes: a principal's own mailbox is the mailbox whose address is the
 * principal (case-insensitive), or else the first mailbox whose local part is the principal (the
 * principal `alice` owns `alice@contoso.test`). `access[principal]` lists the further mailboxes it
 * may open, by impersonation (ExchangeImpersonation header) or as a delegate (a Mailbox element
 * in DistinguishedFolderId, or item and folder ids of that mailbox). A principal without a mailbox
 * (an app) must name one, else ErrorMissingEmailAddress, as Exchange answers app-only tokens.
 *
 * Operations: GetFolder, FindFolder, CreateFolder, SyncFolderItems, GetItem, UpdateItem, MoveItem,
 * CopyItem, DeleteItem. Others get a SOAP fault (ErrorInvalidRequest), as do malformed XML
 * (ErrorSchemaValidation) and an unknown RequestServerVersion (ErrorInvalidServerVersion). Batches
 * are answered per id (one bad id gets its own ErrorItemNotFound / ErrorInvalidIdMalformed). Ids
 * are opaque base64 strings that carry their mailbox; an item id changes when the item moves or is
 * copied (as in Exchange), its ChangeKey on every change. UpdateItem (SetItemField message:IsRead
 * or item:Subject) needs the ChangeKey and MessageDisposition; a stale ChangeKey is a conflict
 * (ErrorIrresolvableConflict) only with ConflictResolution NeverOverwrite. DeleteItem: HardDelete
 * removes, SoftDelete moves to Recoverable Items\Deletions, MoveToDeletedItems to Deleted Items.
 * `GET /EWS/Exchange.asmx` answers 200 to valid credentials (a token check). Answers are gzipped
 * for clients that send `Accept-Encoding: gzip`, as IIS does.
 *
 * SyncFolderItems: a SyncState is an opaque base64 string naming a change number of the mailbox
 * and a snapshot of what that client was told; the next call reports the difference (Create,
 * Update, ReadFlagChange when only IsRead changed, Delete), oldest change first, at most
 * MaxChangesReturned (1..512) per call. Unknown, altered or reset states answer
 * ErrorInvalidSyncStateData.
 *
 * Throttling: `busy(count, backOffMs)` makes the next `count` authenticated requests answer HTTP
 * 500 with the ErrorServerBusy SOAP fault carrying `BackOffMilliseconds` in MessageXml.
 */
import crypto from 'node:crypto';
import https from 'node:https';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { listenOnLoopback, LOOPBACK } from '../ports';
import { closeWhenFileEnds } from '../lifetime';
import { registerSecret } from '../../canary';
import { readMime } from './mime';
import { changeKey, envelopeXml, errorMessage, EwsError, EwsFault, faultXml, headerValue, itemIdXml, MESSAGE_TEXT, NS, readShape, REQUEST_VERSIONS, serverVersionInfo, type ResponseMessage, type Shape } from './soap';
import { EwsStore, type EwsFolderItem, type Folder, type Item, type Mailbox, type SyncSnapshot } from './store';
import { child, el, esc, isoSeconds, kids, parseXml, path, textEl, type XmlElement } from './xml';

export interface EwsServerOptions {
	tls: { key: Buffer; cert: Buffer };
	/** Bearer tokens: the principal (a user, or the user an app acts as), or undefined (401). */
	tokenUser?: (token: string) => string | undefined;
	/** Basic authentication, on-premises style: user -> password. */
	users?: Record<string, string>;
	/** SMTP addresses of the mailboxes that exist, e.g. 'alice@contoso.test'. */
	mailboxes: string[];
	/** principal -> mailboxes it may open besides its own (full access / impersonation). */
	access?: Record<string, string[]>;
	/** The Version of ServerVersionInfo, e.g. 'Exchange2016' or 'V2018_01_08' (default, Exchange Online). */
	serverVersion?: string;
}

export interface EwsRequestLog {
	/** The SOAP body's operation element, e.g. 'SyncFolderItems' ('' when the body is not SOAP). */
	operation: string;
	/** The mailbox the request acted on (impersonated, named in a folder id, or the principal's own). */
	mailbox?: string;
	/** The SMTP address (or UPN) of the ExchangeImpersonation header. */
	impersonated?: string;
	/** The X-AnchorMailbox HTTP header. */
	anchorMailbox?: string;
	/** The Version of the RequestServerVersion SOAP header. */
	serverVersion?: string;
	authorization: 'bearer' | 'basic' | 'none';
	/** The authenticated principal, if any. */
	principal?: string;
	/** The SOAP request as sent (credentials travel in HTTP headers, never here). */
	body: string;
	status: number;
	/** The first response message's ResponseCode, or the SOAP fault's code. */
	responseCode?: string;
	/** Every response message's ResponseCode, in order. */
	responseCodes: string[];
}

interface Context {
	principal: string;
	/** The mailbox named by ExchangeImpersonation, resolved. */
	impersonated?: Mailbox;
	/** Mailboxes touched, the first is logged. */
	touched: Mailbox[];
	requestVersion?: string;
}

export class EwsServer {
	readonly requests: EwsRequestLog[] = [];
	private readonly syncStates = new Map<string, SyncSnapshot>();
	private syncGeneration = 1;
	private busyLeft = 0;
	private busyBackOff = 0;
	private readonly version: string;
	private readonly store: EwsStore;

	private constructor(
		private readonly server: https.Server,
		private readonly options: EwsServerOptions,
	) {
		this.version = options.serverVersion ?? 'V2018_01_08';
		this.store = new EwsStore(options.mailboxes, options.access);
	}

	static async start(options: EwsServerOptions): Promise<EwsServer> {
		for (const password of Object.values(options.users ?? {})) registerSecret(password);
		const holder: { instance?: EwsServer } = {};
		const server = https.createServer({ key: options.tls.key, cert: options.tls.cert }, (req, res) => {
			const instance = holder.instance;
			// a kept-alive connection closed by the server as the client sends on it (IIS ends idle ones)
			const served = (instance?.served.get(req.socket) ?? 0) + 1;
			instance?.served.set(req.socket, served);
			if (instance && served > 1 && instance.dropReusedLeft > 0) {
				instance.dropReusedLeft--;
				instance.droppedRequests++;
				return void req.socket.destroy();
			}
			instance?.handle(req, res).catch((error: unknown) => {
				if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/xml; charset=utf-8' });
				res.end(faultXml('ErrorInternalServerError', `An internal server error occurred. ${String(error)}`));
			});
		});
		holder.instance = new EwsServer(server, options);
		closeWhenFileEnds('EWS test server', server);
		await listenOnLoopback(server);
		return holder.instance;
	}

	get port(): number {
		return (this.server.address() as AddressInfo).port;
	}
	/** https://127.0.0.1:<port>/EWS/Exchange.asmx */
	get url(): string {
		return `https://${LOOPBACK}:${this.port}/EWS/Exchange.asmx`;
	}

	// --- test API ---

	/** Puts a message into a folder (distinguished name, folder id or display path such as 'Inbox/Projects'). */
	addMessage(mailbox: string, folder: string, raw: Buffer, opts: { isRead?: boolean; received?: Date } = {}): { itemId: string } {
		const mbx = this.store.mailboxOrThrow(mailbox);
		const target = this.store.folderByRef(mbx, folder);
		const item: Item = {
			id: this.store.newId(mbx, 'I'),
			version: 1,
			folderId: target.id,
			raw: Buffer.from(raw),
			isRead: opts.isRead ?? false,
			received: opts.received ?? new Date(Math.floor(Date.now() / 1000) * 1000),
			...readMime(raw),
			changeNumber: ++this.store.changeNumber,
			contentVersion: 1,
		};
		mbx.items.set(item.id, item);
		return { itemId: item.id };
	}

	/** The messages in a folder, oldest first. */
	folderItems(mailbox: string, folder: string): EwsFolderItem[] {
		const mbx = this.store.mailboxOrThrow(mailbox);
		const target = this.store.folderByRef(mbx, folder);
		return [...mbx.items.values()]
			.filter((i) => i.folderId === target.id)
			.map((i) => ({ itemId: i.id, changeKey: changeKey(i.version), isRead: i.isRead, subject: i.subject, messageId: i.messageId, raw: i.raw }));
	}

	/** Creates a folder under `parent` (distinguished name, folder id or display path); returns its id. */
	createFolder(mailbox: string, parent: string, displayName: string): string {
		const mbx = this.store.mailboxOrThrow(mailbox);
		return this.store.makeFolder(mbx, this.store.folderByRef(mbx, parent), displayName).id;
	}

	/** The next `count` authenticated requests answer ErrorServerBusy with this BackOffMilliseconds. */
	busy(count: number, backOffMs: number): void {
		this.busyLeft = count;
		this.busyBackOff = backOffMs;
	}

	/** Requests per connection, to tell a kept-alive connection's later requests. */
	readonly served = new WeakMap<object, number>();
	dropReusedLeft = 0;
	/** Requests dropped by dropReused (not answered, not in `requests`). */
	droppedRequests = 0;

	/** The next `count` requests that come on a kept-alive connection find it closed (no answer, the connection reset). */
	dropReused(count: number): void {
		this.dropReusedLeft = count;
	}

	/** Every SyncState given out so far becomes invalid (ErrorInvalidSyncStateData). */
	resetSyncStates(): void {
		this.syncStates.clear();
		this.syncGeneration++;
	}

	stop(): Promise<void> {
		return new Promise((resolve) => {
			this.server.closeAllConnections();
			this.server.close(() => resolve());
		});
	}

	// --- HTTP ---

	private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
		const chunks: Buffer[] = [];
		for await (const chunk of req) chunks.push(chunk as Buffer);
		const body = Buffer.concat(chunks).toString('utf8');
		const url = new URL(req.url ?? '/', 'https://localhost');
		const anchorMailbox = headerValue(req.headers['x-anchormailbox']);
		const entry: EwsRequestLog = { operation: '', anchorMailbox, authorization: 'none', body, status: 0, responseCodes: [] };

		// IIS compresses EWS answers for clients that accept gzip.
		const gzip = /\bgzip\b/i.test(headerValue(req.headers['accept-encoding']) ?? '');
		const send = (status: number, xml: string) => {
			entry.status = status;
			const headers: Record<string, string> = { 'content-type': 'text/xml; charset=utf-8', 'request-id': crypto.randomUUID() };
			if (gzip) headers['content-encoding'] = 'gzip';
			res.writeHead(status, headers);
			res.end(gzip ? zlib.gzipSync(xml) : xml);
		};

		if (url.pathname.toLowerCase() !== '/ews/exchange.asmx') {
			res.writeHead(404, { 'content-type': 'text/html' });
			return void res.end('<html><body>404 - Not Found</body></html>');
		}

		let envelope: XmlElement | undefined;
		let parseError: Error | undefined;
		if (req.method === 'POST') {
			try {
				envelope = parseXml(body);
			} catch (error) {
				parseError = error as Error;
			}
		}
		const soapBody = envelope && envelope.local === 'Envelope' && envelope.ns === NS.soap ? child(envelope, 'Body') : undefined;
		const soapHeader = envelope ? child(envelope, 'Header') : undefined;
		const operationEl = soapBody?.children[0];
		entry.operation = operationEl?.local ?? '';
		const versionEl = kids(soapHeader).find((h) => h.local === 'RequestServerVersion');
		entry.serverVersion = versionEl?.attrs.Version;
		const impersonationEl = kids(soapHeader).find((h) => h.local === 'ExchangeImpersonation');
		const sid = child(impersonationEl, 'ConnectingSID');
		const impersonated = sid ? (child(sid, 'PrimarySmtpAddress') ?? child(sid, 'SmtpAddress') ?? child(sid, 'PrincipalName') ?? child(sid, 'SID'))?.text.trim() : undefined;
		entry.impersonated = impersonated;
		this.requests.push(entry);

		// Authentication.
		const authorization = headerValue(req.headers.authorization) ?? '';
		const scheme = /^(\w+)\s+(.*)$/.exec(authorization);
		let principal: string | undefined;
		let tokenRejected = false;
		if (scheme && scheme[1].toLowerCase() === 'bearer') {
			entry.authorization = 'bearer';
			principal = this.options.tokenUser ? this.options.tokenUser(scheme[2].trim()) : undefined;
			tokenRejected = !principal;
		} else if (scheme && scheme[1].toLowerCase() === 'basic') {
			entry.authorization = 'basic';
			const decoded = Buffer.from(scheme[2].trim(), 'base64').toString('utf8');
			const colon = decoded.indexOf(':');
			const user = colon === -1 ? decoded : decoded.slice(0, colon);
			const password = colon === -1 ? '' : decoded.slice(colon + 1);
			const expected = this.options.users ? Object.entries(this.options.users).find(([u]) => u.toLowerCase() === user.toLowerCase()) : undefined;
			if (expected && expected[1] === password) principal = expected[0];
		}
		if (!principal) {
			const challenges: string[] = [];
			if (this.options.tokenUser) {
				const base = 'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", trusted_issuers="00000001-0000-0000-c000-000000000000@*", token_types="app_asserted_user_v1 service_asserted_app_v1", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"';
				challenges.push(tokenRejected ? `${base}, error="invalid_token"` : base);
			}
			if (this.options.users) challenges.push(`Basic realm="${LOOPBACK}"`);
			entry.status = 401;
			const headers: Record<string, string | string[]> = { 'www-authenticate': challenges.length ? challenges : ['Basic realm=""'] };
			if (tokenRejected) headers['x-ms-diagnostics'] = '2000008;reason="The token has expired.";error_category="invalid_token"';
			res.writeHead(401, { 'content-type': 'text/html', 'request-id': crypto.randomUUID(), ...headers });
			return void res.end();
		}
		entry.principal = principal;
		entry.mailbox = (impersonated !== undefined ? this.store.mailboxes.get(impersonated.toLowerCase())?.address : undefined) ?? this.store.ownMailbox(principal)?.address;

		if (req.method !== 'POST') {
			// Exchange shows a page to a browser that signs in; the token check only needs a 200.
			entry.status = 200;
			res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
			return void res.end('<html><head><title>Exchange Web Services</title></head><body>Exchange Web Services</body></html>');
		}

		const versionInfo = serverVersionInfo(this.version);
		const fault = (f: EwsFault) => {
			entry.responseCode = f.code;
			entry.responseCodes = [f.code];
			send(500, faultXml(f.code, f.message, f.messageXml, versionInfo));
		};

		if (this.busyLeft > 0) {
			this.busyLeft--;
			return fault(new EwsFault('ErrorServerBusy', MESSAGE_TEXT.ErrorServerBusy, `<t:MessageXml xmlns:t="${NS.types}"><t:Value Name="BackOffMilliseconds">${this.busyBackOff}</t:Value></t:MessageXml>`));
		}
		if (parseError || !envelope) return fault(new EwsFault('ErrorSchemaValidation', `The request failed schema validation: ${parseError?.message ?? 'no SOAP envelope'}.`));
		if (!soapBody || !operationEl) return fault(new EwsFault('ErrorSchemaValidation', 'The request failed schema validation: the SOAP envelope has no Body with an operation.'));
		if (operationEl.ns !== NS.messages) return fault(new EwsFault('ErrorSchemaValidation', `The request failed schema validation: The element '${operationEl.local}' is not in the namespace '${NS.messages}'.`));
		if (entry.serverVersion !== undefined && !REQUEST_VERSIONS.has(entry.serverVersion)) return fault(new EwsFault('ErrorInvalidServerVersion'));

		const ctx: Context = { principal, touched: [], requestVersion: entry.serverVersion };
		try {
			if (impersonated !== undefined) {
				const target = this.store.mailboxes.get(impersonated.toLowerCase());
				if (!target) throw new EwsFault('ErrorNonExistentMailbox');
				if (!this.store.mayOpen(principal, target)) throw new EwsFault('ErrorImpersonateUserDenied');
				ctx.impersonated = target;
				ctx.touched.push(target);
			}
			const handler = this.operations[operationEl.local];
			if (!handler) throw new EwsFault('ErrorInvalidRequest', `The request is invalid. The operation '${operationEl.local}' is not supported.`);
			const messages = handler(operationEl, ctx);
			entry.mailbox = ctx.touched[0]?.address ?? entry.mailbox;
			entry.responseCodes = messages.map((m) => m.code);
			entry.responseCode = entry.responseCodes[0];
			const inner = messages.map((m) => m.xml).join('');
			send(200, envelopeXml(versionInfo, `<m:${operationEl.local}Response xmlns:m="${NS.messages}" xmlns:t="${NS.types}"><m:ResponseMessages>${inner}</m:ResponseMessages></m:${operationEl.local}Response>`));
		} catch (error) {
			entry.mailbox = ctx.touched[0]?.address ?? entry.mailbox;
			if (error instanceof EwsFault) return fault(error);
			throw error;
		}
	}

	// --- operations ---

	private readonly operations: Record<string, (op: XmlElement, ctx: Context) => ResponseMessage[]> = {
		GetFolder: (op, ctx) => this.getFolder(op, ctx),
		FindFolder: (op, ctx) => this.findFolder(op, ctx),
		CreateFolder: (op, ctx) => this.createFolderOp(op, ctx),
		SyncFolderItems: (op, ctx) => this.syncFolderItems(op, ctx),
		GetItem: (op, ctx) => this.getItem(op, ctx),
		UpdateItem: (op, ctx) => this.updateItem(op, ctx),
		MoveItem: (op, ctx) => this.moveOrCopy(op, ctx, 'Move'),
		CopyItem: (op, ctx) => this.moveOrCopy(op, ctx, 'Copy'),
		DeleteItem: (op, ctx) => this.deleteItem(op, ctx),
	};

	/** Resolves a FolderId / DistinguishedFolderId element to a folder the principal may open. */
	private resolveFolder(idEl: XmlElement | undefined, ctx: Context): { mbx: Mailbox; folder: Folder } {
		if (!idEl) throw new EwsFault('ErrorSchemaValidation', 'The request failed schema validation: a folder id is missing.');
		if (idEl.local === 'DistinguishedFolderId') {
			const named = path(idEl, 'Mailbox', 'EmailAddress')?.text.trim();
			let mbx: Mailbox | undefined;
			if (named) {
				mbx = this.store.mailboxes.get(named.toLowerCase());
				if (!mbx) throw new EwsError('ErrorNonExistentMailbox');
			} else {
				mbx = ctx.impersonated ?? this.store.ownMailbox(ctx.principal);
				if (!mbx) throw new EwsError('ErrorMissingEmailAddress');
			}
			if (!ctx.impersonated && !this.store.mayOpen(ctx.principal, mbx)) throw new EwsError('ErrorAccessDenied');
			if (ctx.impersonated && mbx !== ctx.impersonated && !this.store.mayOpen(ctx.impersonated.address, mbx)) throw new EwsError('ErrorAccessDenied');
			if (!ctx.touched.includes(mbx)) ctx.touched.push(mbx);
			const folder = this.store.distinguished(mbx, idEl.attrs.Id ?? '');
			if (!folder) throw new EwsError('ErrorFolderNotFound');
			return { mbx, folder };
		}
		if (idEl.local === 'FolderId') {
			const mbx = this.store.parseId(idEl.attrs.Id ?? '', 'F');
			if (mbx === undefined) throw new EwsError('ErrorInvalidIdMalformed');
			if (mbx === null) throw new EwsError('ErrorFolderNotFound');
			const opener = ctx.impersonated?.address ?? ctx.principal;
			if (!this.store.mayOpen(opener, mbx)) throw new EwsError('ErrorAccessDenied');
			if (!ctx.touched.includes(mbx)) ctx.touched.push(mbx);
			const folder = mbx.folders.get(idEl.attrs.Id);
			if (!folder) throw new EwsError('ErrorFolderNotFound');
			return { mbx, folder };
		}
		throw new EwsFault('ErrorSchemaValidation', `The request failed schema validation: unexpected element '${idEl.local}' where a folder id belongs.`);
	}

	private resolveItem(idEl: XmlElement, ctx: Context): { mbx: Mailbox; item: Item } {
		const id = idEl.attrs.Id ?? '';
		const mbx = this.store.parseId(id, 'I');
		if (mbx === undefined) throw new EwsError('ErrorInvalidIdMalformed');
		if (mbx === null) throw new EwsError('ErrorItemNotFound');
		const opener = ctx.impersonated?.address ?? ctx.principal;
		if (!this.store.mayOpen(opener, mbx)) throw new EwsError('ErrorAccessDenied');
		if (!ctx.touched.includes(mbx)) ctx.touched.push(mbx);
		const item = mbx.items.get(id);
		if (!item) throw new EwsError('ErrorItemNotFound');
		return { mbx, item };
	}

	/** One response message per input, errors answered per message. */
	private each<T>(inputs: T[], name: string, fn: (input: T) => string, emptyOnError = ''): ResponseMessage[] {
		return inputs.map((input) => {
			try {
				return { code: 'NoError', xml: `<m:${name} ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>${fn(input)}</m:${name}>` };
			} catch (error) {
				if (error instanceof EwsError) return errorMessage(name, error, emptyOnError);
				throw error;
			}
		});
	}

	private getFolder(op: XmlElement, ctx: Context): ResponseMessage[] {
		const shape = readShape(child(op, 'FolderShape'));
		return this.each(
			kids(child(op, 'FolderIds')),
			'GetFolderResponseMessage',
			(idEl) => {
				const { mbx, folder } = this.resolveFolder(idEl, ctx);
				return `<m:Folders>${this.folderXml(mbx, folder, shape)}</m:Folders>`;
			},
			'<m:Folders />',
		);
	}

	private findFolder(op: XmlElement, ctx: Context): ResponseMessage[] {
		const shape = readShape(child(op, 'FolderShape'));
		const deep = (op.attrs.Traversal ?? 'Shallow') === 'Deep';
		const view = child(op, 'IndexedPageFolderView');
		const max = view?.attrs.MaxEntriesReturned !== undefined ? Number(view.attrs.MaxEntriesReturned) : Infinity;
		const offset = Number(view?.attrs.Offset ?? 0);
		const fromEnd = view?.attrs.BasePoint === 'End';
		return this.each(kids(child(op, 'ParentFolderIds')), 'FindFolderResponseMessage', (idEl) => {
			const { mbx, folder } = this.resolveFolder(idEl, ctx);
			const all: Folder[] = [];
			const walk = (parent: Folder) => {
				for (const f of mbx.folders.values()) {
					if (f.parentId !== parent.id) continue;
					all.push(f);
					if (deep) walk(f);
				}
			};
			walk(folder);
			const start = fromEnd ? Math.max(0, all.length - offset - (Number.isFinite(max) ? max : all.length)) : offset;
			const page = all.slice(start, Number.isFinite(max) ? start + max : undefined);
			const last = start + page.length >= all.length;
			const attrs = { IndexedPagingOffset: view ? start + page.length : undefined, TotalItemsInView: all.length, IncludesLastItemInRange: String(last) };
			return el('m:RootFolder', `<t:Folders>${page.map((f) => this.folderXml(mbx, f, shape)).join('')}</t:Folders>`, attrs);
		});
	}

	private createFolderOp(op: XmlElement, ctx: Context): ResponseMessage[] {
		const folders = kids(child(op, 'Folders'));
		let parent: { mbx: Mailbox; folder: Folder } | undefined;
		let parentError: EwsError | undefined;
		try {
			parent = this.resolveFolder(child(op, 'ParentFolderId')?.children[0], ctx);
		} catch (error) {
			if (!(error instanceof EwsError)) throw error;
			parentError = error;
		}
		return this.each(
			folders,
			'CreateFolderResponseMessage',
			(folderEl) => {
				if (parentError || !parent) throw parentError ?? new EwsError('ErrorFolderNotFound');
				const displayName = child(folderEl, 'DisplayName')?.text ?? '';
				if (!displayName) throw new EwsError('ErrorInvalidOperation', 'The folder name is missing.');
				const folderClass = child(folderEl, 'FolderClass')?.text || 'IPF.Note';
				const created = this.store.makeFolder(parent.mbx, parent.folder, displayName, folderClass);
				return `<m:Folders>${el(`t:${folderEl.local}`, el('t:FolderId', undefined, { Id: created.id, ChangeKey: changeKey(created.version, 'AQ') }))}</m:Folders>`;
			},
			'<m:Folders />',
		);
	}

	private syncFolderItems(op: XmlElement, ctx: Context): ResponseMessage[] {
		const name = 'SyncFolderItemsResponseMessage';
		const shape = readShape(child(op, 'ItemShape'));
		const maxText = child(op, 'MaxChangesReturned')?.text.trim();
		const max = Number(maxText);
		if (!maxText || !Number.isInteger(max) || max < 1 || max > 512) {
			throw new EwsFault('ErrorSchemaValidation', `The request failed schema validation: The 'MaxChangesReturned' element is invalid - The value '${maxText ?? ''}' is invalid according to its datatype - The MaxInclusive constraint failed.`);
		}
		const ignore = new Set(kids(child(op, 'Ignore')).map((i) => i.attrs.Id));
		const stateText = child(op, 'SyncState')?.text.trim() ?? '';
		const syncStateError = (): ResponseMessage => ({
			code: 'ErrorInvalidSyncStateData',
			xml: `<m:${name} ResponseClass="Error"><m:MessageText>${esc(MESSAGE_TEXT.ErrorInvalidSyncStateData)}</m:MessageText><m:ResponseCode>ErrorInvalidSyncStateData</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:SyncState /><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange></m:${name}>`,
		});
		let target: { mbx: Mailbox; folder: Folder };
		try {
			target = this.resolveFolder(child(op, 'SyncFolderId')?.children[0], ctx);
		} catch (error) {
			if (error instanceof EwsError) return [errorMessage(name, error)];
			throw error;
		}
		const { mbx, folder } = target;
		let known = new Map<string, { version: number; isRead: boolean }>();
		if (stateText) {
			const previous = this.syncStates.get(stateText);
			if (!previous || previous.generation !== this.syncGeneration || previous.mailbox !== mbx.address || previous.folderId !== folder.id) return [syncStateError()];
			known = new Map(previous.known);
		}
		const current = [...mbx.items.values()].filter((i) => i.folderId === folder.id);
		const currentIds = new Set(current.map((i) => i.id));
		type Change = { order: number; xml: () => string; apply: () => void };
		const changes: Change[] = [];
		for (const item of current) {
			const seen = known.get(item.id);
			if (seen && seen.version === item.version) continue;
			const apply = () => known.set(item.id, { version: item.version, isRead: item.isRead });
			if (ignore.has(item.id)) {
				apply();
				continue;
			}
			if (!seen) changes.push({ order: item.changeNumber, apply, xml: () => `<t:Create>${this.itemXml(item, shape)}</t:Create>` });
			else if (seen.version >= item.contentVersion)
				changes.push({ order: item.changeNumber, apply, xml: () => `<t:ReadFlagChange>${itemIdXml(item)}${textEl('t:IsRead', item.isRead)}</t:ReadFlagChange>` });
			else changes.push({ order: item.changeNumber, apply, xml: () => `<t:Update>${this.itemXml(item, shape)}</t:Update>` });
		}
		for (const [id, seen] of known) {
			if (currentIds.has(id)) continue;
			const apply = () => known.delete(id);
			changes.push({ order: this.store.tombstones.get(id) ?? 0, apply, xml: () => `<t:Delete>${el('t:ItemId', undefined, { Id: id, ChangeKey: changeKey(seen.version) })}</t:Delete>` });
		}
		changes.sort((a, b) => a.order - b.order);
		const batch = changes.slice(0, max);
		for (const change of batch) change.apply();
		const includesLast = batch.length === changes.length;
		const state = this.issueSyncState({ mailbox: mbx.address, folderId: folder.id, generation: this.syncGeneration, changeNumber: this.store.changeNumber, known });
		return [
			{
				code: 'NoError',
				xml: `<m:${name} ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>${textEl('m:SyncState', state)}${textEl('m:IncludesLastItemInRange', includesLast)}${el('m:Changes', batch.map((c) => c.xml()).join(''))}</m:${name}>`,
			},
		];
	}

	private issueSyncState(snapshot: SyncSnapshot): string {
		const state = Buffer.concat([Buffer.from([0x48, 0x34, 0x73, 0x49]), Buffer.from(`${snapshot.generation}:${snapshot.changeNumber}:`), crypto.randomBytes(18)]).toString('base64');
		this.syncStates.set(state, snapshot);
		return state;
	}

	private getItem(op: XmlElement, ctx: Context): ResponseMessage[] {
		const shape = readShape(child(op, 'ItemShape'));
		return this.each(
			kids(child(op, 'ItemIds')),
			'GetItemResponseMessage',
			(idEl) => {
				const { item } = this.resolveItem(idEl, ctx);
				return `<m:Items>${this.itemXml(item, shape)}</m:Items>`;
			},
			'<m:Items />',
		);
	}

	private updateItem(op: XmlElement, ctx: Context): ResponseMessage[] {
		const resolution = op.attrs.ConflictResolution ?? 'AutoResolve';
		return this.each(
			kids(child(op, 'ItemChanges'), 'ItemChange'),
			'UpdateItemResponseMessage',
			(change) => {
				const idEl = child(change, 'ItemId');
				if (!idEl) throw new EwsError('ErrorInvalidIdMalformed');
				const { item } = this.resolveItem(idEl, ctx);
				// The reference: UpdateItem needs the item's ChangeKey "even when conflict resolution is set to
				// always overwrite"; a stale one is a conflict only for NeverOverwrite (AutoResolve and
				// AlwaysOverwrite resolve it).
				const presented = idEl.attrs.ChangeKey;
				if (!presented) throw new EwsError('ErrorChangeKeyRequiredForWriteOperations');
				if (presented !== changeKey(item.version) && resolution === 'NeverOverwrite') throw new EwsError('ErrorIrresolvableConflict');
				// Required for message items.
				if (!op.attrs.MessageDisposition) throw new EwsError('ErrorMessageDispositionRequired');
				let readOnly = true;
				let touched = false;
				for (const update of kids(child(change, 'Updates'))) {
					const field = child(update, 'FieldURI')?.attrs.FieldURI;
					if (update.local === 'SetItemField' && field === 'message:IsRead') {
						const value = path(update, 'Message', 'IsRead')?.text.trim() ?? path(update, 'Item', 'IsRead')?.text.trim();
						if (value !== 'true' && value !== 'false') throw new EwsError('ErrorInvalidPropertySet', 'The value of IsRead is missing or invalid.');
						item.isRead = value === 'true';
						touched = true;
					} else if (update.local === 'SetItemField' && field === 'item:Subject') {
						item.subject = path(update, 'Message', 'Subject')?.text ?? path(update, 'Item', 'Subject')?.text ?? item.subject;
						readOnly = false;
						touched = true;
					} else {
						throw new EwsError('ErrorInvalidPropertySet', `The update of '${field ?? update.local}' is not supported by this server.`);
					}
				}
				if (touched) {
					item.version++;
					item.changeNumber = ++this.store.changeNumber;
					if (!readOnly) item.contentVersion = item.version;
				}
				return `<m:Items>${el('t:Message', itemIdXml(item))}</m:Items><m:ConflictResults><t:Count>0</t:Count></m:ConflictResults>`;
			},
			'<m:Items />',
		);
	}

	private moveOrCopy(op: XmlElement, ctx: Context, kind: 'Move' | 'Copy'): ResponseMessage[] {
		const name = `${kind}ItemResponseMessage`;
		let target: { mbx: Mailbox; folder: Folder } | undefined;
		let targetError: EwsError | undefined;
		try {
			target = this.resolveFolder(child(op, 'ToFolderId')?.children[0], ctx);
		} catch (error) {
			if (!(error instanceof EwsError)) throw error;
			targetError = error;
		}
		const returnNewIds = op.attrs.ReturnNewItemIds !== 'false';
		return this.each(
			kids(child(op, 'ItemIds')),
			name,
			(idEl) => {
				const { mbx, item } = this.resolveItem(idEl, ctx);
				if (targetError || !target) throw targetError ?? new EwsError('ErrorFolderNotFound');
				const moved = kind === 'Move' ? this.store.moveItem(mbx, item, target.mbx, target.folder) : this.store.copyItem(item, target.mbx, target.folder);
				return returnNewIds && target.mbx === mbx ? `<m:Items>${el('t:Message', itemIdXml(moved))}</m:Items>` : '<m:Items />';
			},
			'<m:Items />',
		);
	}

	private deleteItem(op: XmlElement, ctx: Context): ResponseMessage[] {
		const type = op.attrs.DeleteType;
		if (type !== 'HardDelete' && type !== 'SoftDelete' && type !== 'MoveToDeletedItems') {
			throw new EwsFault('ErrorSchemaValidation', `The request failed schema validation: The 'DeleteType' attribute is invalid - The value '${type ?? ''}' is invalid according to its datatype.`);
		}
		return this.each(kids(child(op, 'ItemIds')), 'DeleteItemResponseMessage', (idEl) => {
			const { mbx, item } = this.resolveItem(idEl, ctx);
			const deleted = this.store.distinguished(mbx, 'deleteditems');
			if (type === 'MoveToDeletedItems' && deleted && item.folderId !== deleted.id) this.store.moveItem(mbx, item, mbx, deleted);
			else if (type === 'HardDelete') {
				mbx.items.delete(item.id);
				this.store.tombstones.set(item.id, ++this.store.changeNumber);
			} else {
				const dumpster = this.store.distinguished(mbx, 'recoverableitemsdeletions');
				if (dumpster) this.store.moveItem(mbx, item, mbx, dumpster);
			}
			return '';
		});
	}

	// --- rendering ---

	private folderXml(mbx: Mailbox, folder: Folder, shape: Shape): string {
		const items = [...mbx.items.values()].filter((i) => i.folderId === folder.id);
		const childCount = [...mbx.folders.values()].filter((f) => f.parentId === folder.id).length;
		const want = (field: string, inDefault: boolean) => shape.base === 'AllProperties' || (inDefault && shape.base === 'Default') || shape.fields.has(field);
		const parts: string[] = [el('t:FolderId', undefined, { Id: folder.id, ChangeKey: changeKey(folder.version, 'AQ') })];
		if (want('folder:ParentFolderId', false) && folder.parentId) parts.push(el('t:ParentFolderId', undefined, { Id: folder.parentId, ChangeKey: changeKey(mbx.folders.get(folder.parentId)?.version ?? 1, 'AQ') }));
		if (want('folder:FolderClass', false) && folder.folderClass) parts.push(textEl('t:FolderClass', folder.folderClass));
		if (want('folder:DisplayName', true)) parts.push(textEl('t:DisplayName', folder.displayName));
		if (want('folder:TotalCount', true)) parts.push(textEl('t:TotalCount', items.length));
		if (want('folder:ChildFolderCount', true)) parts.push(textEl('t:ChildFolderCount', childCount));
		if (want('folder:UnreadCount', true)) parts.push(textEl('t:UnreadCount', items.filter((i) => !i.isRead).length));
		return el('t:Folder', parts.join(''));
	}

	private itemXml(item: Item, shape: Shape): string {
		const want = (field: string, inDefault: boolean) => shape.base === 'AllProperties' || (inDefault && shape.base === 'Default') || shape.fields.has(field);
		const parts: string[] = [];
		if (shape.mime || shape.fields.has('item:MimeContent')) parts.push(el('t:MimeContent', item.raw.toString('base64'), { CharacterSet: 'UTF-8' }));
		parts.push(itemIdXml(item));
		const folder = this.store.folderOf(item);
		if (want('item:ParentFolderId', true) && folder) parts.push(el('t:ParentFolderId', undefined, { Id: folder.id, ChangeKey: changeKey(folder.version, 'AQ') }));
		if (want('item:ItemClass', true)) parts.push(textEl('t:ItemClass', 'IPM.Note'));
		if (want('item:Subject', true)) parts.push(item.subject ? textEl('t:Subject', item.subject) : '<t:Subject />');
		if (want('item:Sensitivity', true)) parts.push(textEl('t:Sensitivity', 'Normal'));
		if (want('item:DateTimeReceived', true)) parts.push(textEl('t:DateTimeReceived', isoSeconds(item.received)));
		if (want('item:Size', true)) parts.push(textEl('t:Size', item.raw.length));
		if (want('item:Importance', true)) parts.push(textEl('t:Importance', 'Normal'));
		if (want('item:DateTimeSent', true) && item.sent) parts.push(textEl('t:DateTimeSent', isoSeconds(item.sent)));
		if (want('item:DateTimeCreated', true)) parts.push(textEl('t:DateTimeCreated', isoSeconds(item.received)));
		if (want('item:HasAttachments', true)) parts.push(textEl('t:HasAttachments', item.hasAttachments));
		if (want('message:From', true) && item.from) {
			parts.push(el('t:From', el('t:Mailbox', (item.from.name ? textEl('t:Name', item.from.name) : '') + textEl('t:EmailAddress', item.from.address) + textEl('t:RoutingType', 'SMTP'))));
		}
		if (want('message:InternetMessageId', false) && item.messageId) parts.push(textEl('t:InternetMessageId', item.messageId));
		if (want('message:IsRead', true)) parts.push(textEl('t:IsRead', item.isRead));
		return el('t:Message', parts.join(''));
	}
}
