/**
 * The Microsoft Graph mail client core: one mailbox of Exchange Online through Graph v1.0, for the
 * Graph trigger (delta sync of a folder) and the Mailbox node's Graph operations.
 *
 *   const graph = await connectGraph({ auth: { type: 'app', app }, mailbox: 'info@contoso.com' });
 *   try {
 *     const inbox = await graph.resolveFolder('inbox');
 *     const page = await graph.deltaPage(inbox.id, savedLink, { select: ['isRead'], maxPageSize: 50 });
 *   } finally {
 *     graph.close();
 *   }
 *
 * - Sign-in: a Microsoft 365 app's token from MSAL (client credentials, scope
 *   https://graph.microsoft.com/.default; taken from MSAL's cache before every request, so it is
 *   renewed before it expires), or a delegated token (from n8n, with a `renew` callback).
 * - The mailbox: every path is under `/users/{address}`, or `/me` (the signed-in user's own
 *   mailbox; an app has none, so it must name one).
 * - Ids are immutable (Prefer: IdType="ImmutableId" on every request): a message keeps its id when
 *   it is moved between folders of the mailbox, so a message acted on after a run is found again.
 * - A 401 renews the token once per request (app: a fresh MSAL token past its cache; delegated:
 *   the renew callback) and sends the request again; 429/503 are waited out for Retry-After,
 *   bounded, and the request sent again (lib/graph/transport.ts).
 * - Bulk actions (mark read, flag, categories, move, copy, delete) go out in JSON batches of 20,
 *   each message with its own result; one message goes without a batch.
 * - Folders are found by well-known name (inbox, junkemail, deleteditems, sentitems, drafts,
 *   archive; "Junk Email" and the other English display names too) or display path
 *   ("Inbox/Projects"), level by level, names compared case-insensitively as Exchange does.
 * - Sending MIME (sendMail) and storing MIME as delivered mail (mailFolder: importMime, the one
 *   request that goes to the Graph URL's /beta: v1.0 only creates drafts from MIME).
 * - Every failure is a MailboxError that names the field and the fix (lib/graph/errors.ts); a
 *   delta link Graph no longer accepts is told apart by isResyncRequired().
 *
 * Certificate verification is on; `ca` adds trusted CAs, `allowUnauthorizedCerts` is the explicit
 * opt-out (for a test endpoint; Graph itself has a public certificate).
 */
import { getAppToken, GRAPH_SCOPE, type AppToken, type MicrosoftAppSettings } from '../auth/microsoft';
import { splitFolderPath } from '../connection/folder-path';
import { configError, detailsOf, MailboxError, redact } from '../errors';
import { silentLogger, type Logger } from '../logger';
import { DEFAULT_GRAPH_URL, type GraphErrorContext } from './errors';
import { GraphTransport, type GraphBatchRequest, type GraphBatchResponse, type GraphExchange, type GraphRequest, type GraphThrottleOptions } from './transport';

export { DEFAULT_GRAPH_URL } from './errors';
export type { GraphExchange } from './transport';

/** How the client signs in. */
export type GraphAuth =
	/** A Microsoft 365 app (client credentials; application permissions Mail.ReadWrite, Mail.Send, MailboxSettings.ReadWrite). */
	| { type: 'app'; app: MicrosoftAppSettings }
	/** A user's access token for Graph (delegated); `renew` gets a new one after a 401 (undefined: none). */
	| { type: 'token'; token: string; renew?: () => Promise<string | undefined> };

export interface GraphClientOptions {
	auth: GraphAuth;
	/** The address of the mailbox to act on; empty for the signed-in user's own (not with an app). */
	mailbox?: string;
	/** The Graph URL (default https://graph.microsoft.com/v1.0; a national cloud's, or a test endpoint). */
	baseUrl?: string;
	/** Extra trusted CA certificates (PEM). */
	ca?: string | Buffer | Array<string | Buffer>;
	/** Accept any server certificate. Off by default: only an explicit opt-in. */
	allowUnauthorizedCerts?: boolean;
	/** Per HTTP request (default 120 s). */
	timeoutMs?: number;
	/** Throttling: waits per request (default 4), longest wait (default 60 s), wait without Retry-After (default 5 s). */
	throttle?: GraphThrottleOptions;
	/** Injectable for tests (throttling waits). */
	sleep?: (ms: number) => Promise<void>;
	logger?: Logger;
	/** Every request as sent (method, path, status, waits, renewal, client-request-id), for logs and tests. */
	onExchange?: (exchange: GraphExchange) => void;
}

/** A mail folder, found by name or path or listed. */
export interface GraphFolder {
	id: string;
	displayName: string;
	/** Display path from the top of the mailbox ("Inbox/Projects"; a "/" in a name as "\/"). */
	path: string;
	parentFolderId: string;
	totalItemCount: number;
	unreadItemCount: number;
	childFolderCount: number;
	/** The well-known name it was found by ("inbox"), if any. */
	wellKnownName?: string;
}

/** A message as Graph gives it (the selected properties; dates as ISO text). */
export interface GraphMessage {
	id: string;
	[property: string]: unknown;
}

/** One change of a delta round: a message added or changed, or removed (`removed` says why: "deleted" or "changed"). */
export interface GraphDeltaEntry {
	id: string;
	/** @removed.reason: the message left the folder ("deleted": moved or deleted; "changed": no longer matches). */
	removed?: string;
	isRead?: boolean;
	receivedDateTime?: Date;
	internetMessageId?: string;
	/** Every other selected property, as Graph gave it. */
	[property: string]: unknown;
}

export interface GraphDeltaPage {
	entries: GraphDeltaEntry[];
	/** More changes of this round: call again with it. */
	nextLink?: string;
	/** The round is complete: keep it, and call with it for the next round. */
	deltaLink?: string;
}

export interface GraphDeltaOptions {
	/** Properties to return (id is always returned). */
	select: string[];
	/** Prefer: odata.maxpagesize (changes per page). */
	maxPageSize: number;
	/** Only messages received at or after this time ($filter receivedDateTime ge ...; the first call of a sync only). */
	receivedSince?: Date;
}

export interface GraphListOptions {
	/** OData $filter ("isRead eq false"). */
	filter?: string;
	/** $search (KQL; quoted when not already). Graph does not combine it with $orderby or $filter on messages. */
	search?: string;
	/** Page size ($top; default 100, at most the limit). */
	top?: number;
	select?: string[];
	/** $orderby ("receivedDateTime desc"). */
	orderBy?: string;
	/** Most messages returned over all pages (default: all). */
	limit?: number;
}

/** The result of a bulk action for one message. */
export interface GraphItemResult {
	id: string;
	ok: boolean;
	error?: MailboxError;
	/** Move and copy: the id of the message in the destination. */
	newId?: string;
}

/** Move and copy: the results, and old id → new id of the messages that arrived. */
export type GraphMoveResults = GraphItemResult[] & { newIds: Map<string, string> };

export type GraphFlagStatus = 'flagged' | 'notFlagged' | 'complete';

/** What updateMessages changes on a message. */
export interface GraphMessageChanges {
	isRead?: boolean;
	flag?: { flagStatus: GraphFlagStatus };
	categories?: string[];
}

export interface GraphDateTimeTimeZone {
	dateTime: string;
	timeZone: string;
}

/** mailboxSettings.automaticRepliesSetting. */
export interface GraphAutomaticReplies {
	status: 'disabled' | 'alwaysEnabled' | 'scheduled';
	externalAudience?: 'none' | 'contactsOnly' | 'all';
	scheduledStartDateTime?: GraphDateTimeTimeZone;
	scheduledEndDateTime?: GraphDateTimeTimeZone;
	internalReplyMessage?: string;
	externalReplyMessage?: string;
}

const EMAIL = /^[^\s@\\/]+@[^\s@\\/]+\.[^\s@\\/]+$/;

/** Well-known folder names Graph accepts in place of an id, by the spellings users write (no case, no spaces). */
const WELL_KNOWN = new Map<string, string>([
	['inbox', 'inbox'],
	['junkemail', 'junkemail'],
	['junk', 'junkemail'],
	['deleteditems', 'deleteditems'],
	['trash', 'deleteditems'],
	['sentitems', 'sentitems'],
	['drafts', 'drafts'],
	['archive', 'archive'],
	['outbox', 'outbox'],
	['msgfolderroot', 'msgfolderroot'],
]);

/** The well-known name of a folder name ("Junk Email" → junkemail), if it is one. */
export function wellKnownFolder(name: string): string | undefined {
	return WELL_KNOWN.get(name.replace(/[\s_-]+/g, '').toLowerCase());
}

/**
 * A path segment: ids and addresses as they are where RFC 3986 allows it ("=" and "@" are common in
 * them and Graph takes them raw), everything else percent-encoded.
 */
function segment(value: string): string {
	return encodeURIComponent(value).replace(/%40/g, '@').replace(/%3D/g, '=');
}

/** A query string from parameters, skipping the empty ones. "$" stays as it is in names. */
function query(params: Record<string, string | number | undefined>): string {
	const parts = Object.entries(params)
		.filter((entry): entry is [string, string | number] => entry[1] !== undefined && entry[1] !== '')
		.map(([name, value]) => `${name}=${encodeURIComponent(String(value))}`);
	return parts.length ? `?${parts.join('&')}` : '';
}

/** A folder name inside a display path: "/" written as "\/". */
function pathPart(name: string): string {
	return name.replace(/\//g, '\\/');
}

function checkBaseUrl(raw: string | undefined): string {
	const text = (raw ?? '').trim() || DEFAULT_GRAPH_URL;
	const url = URL.canParse(text) ? new URL(text) : undefined;
	if (!url) throw configError('baseUrl', `Graph URL "${text}" is not a URL.`, `Enter ${DEFAULT_GRAPH_URL}, or a national cloud's Graph URL.`);
	if (url.protocol !== 'https:') throw configError('baseUrl', `Graph URL "${text}" does not use HTTPS.`, `Microsoft Graph is served over HTTPS: ${DEFAULT_GRAPH_URL}.`);
	if (url.username || url.password) throw configError('baseUrl', 'The Graph URL must not contain a user name or password.', `Enter ${DEFAULT_GRAPH_URL}.`);
	if (url.search || url.hash) throw configError('baseUrl', 'The Graph URL must not contain a query or fragment.', `Enter ${DEFAULT_GRAPH_URL}.`);
	return url.toString().replace(/\/+$/, '');
}

interface RawFolder {
	id?: string;
	displayName?: string;
	parentFolderId?: string;
	totalItemCount?: number;
	unreadItemCount?: number;
	childFolderCount?: number;
}

interface Page<T> {
	value?: T[];
	'@odata.nextLink'?: string;
	'@odata.deltaLink'?: string;
}

/** The client for one mailbox. Create it with connectGraph(); close() it when done. */
export class GraphClient {
	readonly baseUrl: string;
	/** The mailbox acted on (address), or undefined for the signed-in user's own. */
	readonly mailbox?: string;
	/** The mailbox's root under the Graph URL: "/me" or "/users/{address}". */
	readonly root: string;
	private readonly transport: GraphTransport;
	private readonly context: GraphErrorContext;
	private token: string;
	/** An app's token is used without asking MSAL until then (ms). */
	private appTokenUntil = 0;
	private readonly folderCache = new Map<string, GraphFolder>();

	/** Use connectGraph(). */
	constructor(
		private readonly options: GraphClientOptions,
		initialToken: string,
	) {
		this.baseUrl = checkBaseUrl(options.baseUrl);
		this.mailbox = options.mailbox?.trim() || undefined;
		this.root = this.mailbox ? `/users/${segment(this.mailbox)}` : '/me';
		this.token = initialToken;
		const auth = options.auth;
		this.context = {
			baseUrl: this.baseUrl,
			mailbox: this.mailbox,
			auth: auth.type,
			// the app's secret and every token the client holds
			secrets: [auth.type === 'app' ? auth.app.clientSecret : undefined, initialToken],
		};
		this.transport = new GraphTransport({
			baseUrl: this.baseUrl,
			context: this.context,
			token: () => this.currentToken(),
			renew: () => this.renew(),
			ca: options.ca,
			allowUnauthorizedCerts: options.allowUnauthorizedCerts,
			timeoutMs: options.timeoutMs,
			throttle: options.throttle,
			sleep: options.sleep,
			logger: options.logger ?? silentLogger,
			onExchange: options.onExchange,
		});
	}

	private get logger(): Logger {
		return this.options.logger ?? silentLogger;
	}

	private remember(token: string | undefined): void {
		if (token && !this.context.secrets.includes(token)) this.context.secrets = [...this.context.secrets, token];
	}

	/** The token for the next request: an app's from MSAL (renewed 5 minutes before it expires). */
	private async currentToken(): Promise<string> {
		const auth = this.options.auth;
		// an app's token is kept until 5 minutes before it expires (MSAL's cache answers the same, at a cost per request)
		if (auth.type === 'app' && !(this.appTokenUntil > Date.now())) this.takeAppToken(await getAppToken({ ...auth.app, scope: GRAPH_SCOPE }, this.logger));
		return this.token;
	}

	private takeAppToken(token: AppToken): void {
		this.token = token.accessToken;
		this.appTokenUntil = token.expiresOn ? token.expiresOn.getTime() - 5 * 60_000 : 0;
		this.remember(this.token);
	}

	/** After a 401: a new token; false when it is the same or there is none (nothing new to try). */
	private async renew(): Promise<boolean> {
		const auth = this.options.auth;
		const before = this.token;
		let next: string | undefined;
		if (auth.type === 'app') {
			// past MSAL's cache: the token it had was refused
			const fresh = await getAppToken({ ...auth.app, scope: GRAPH_SCOPE }, this.logger, { fresh: true });
			this.appTokenUntil = 0;
			next = fresh.accessToken;
			if (next && next !== before) this.takeAppToken(fresh);
		} else if (auth.renew) {
			next = (await auth.renew())?.trim() || undefined;
		}
		if (!next || next === before) return false;
		this.token = next;
		this.remember(next);
		return true;
	}

	/** The TLS connection of the last answer in words ("TLSv1.3, certificate for ... issued by ..."). */
	get tlsDetail(): string | undefined {
		return this.transport.lastTls;
	}

	/** Any failure as a MailboxError (secrets removed). */
	toMailboxError(error: unknown, operation?: string): MailboxError {
		if (error instanceof MailboxError) return error;
		const text = redact(error instanceof Error ? error.message : String(error), this.context.secrets);
		return new MailboxError('PROTOCOL', `Microsoft Graph ${operation ?? 'request'} failed: ${text}`, { step: 'command', serverResponse: text });
	}

	private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
		try {
			return await fn();
		} catch (error) {
			throw this.toMailboxError(error, operation);
		}
	}

	private json<T>(request: GraphRequest): Promise<T> {
		return this.call(request.operation ?? request.method, () => this.transport.json<T>(request));
	}

	/** Every item of a collection, following @odata.nextLink, at most `limit`. */
	private async collect<T>(path: string, operation: string, limit = Infinity, headers?: Record<string, string>): Promise<T[]> {
		const out: T[] = [];
		let next: string | undefined = path;
		while (next && out.length < limit) {
			const page: Page<T> = (await this.json<Page<T>>({ method: 'GET', path: next, operation, headers })) ?? {};
			for (const item of page.value ?? []) {
				if (out.length >= limit) break;
				out.push(item);
			}
			next = page['@odata.nextLink'];
		}
		return out;
	}

	private folderOf(raw: RawFolder, path: string, wellKnownName?: string): GraphFolder {
		return {
			id: String(raw.id ?? ''),
			displayName: raw.displayName ?? '',
			path,
			parentFolderId: raw.parentFolderId ?? '',
			totalItemCount: raw.totalItemCount ?? 0,
			unreadItemCount: raw.unreadItemCount ?? 0,
			childFolderCount: raw.childFolderCount ?? 0,
			...(wellKnownName ? { wellKnownName } : {}),
		};
	}

	/** The folders directly under a folder (or at the top of the mailbox), all pages. */
	private childFolders(parentId: string | undefined): Promise<RawFolder[]> {
		const path = parentId ? `${this.root}/mailFolders/${segment(parentId)}/childFolders` : `${this.root}/mailFolders`;
		return this.collect<RawFolder>(`${path}${query({ $top: 100 })}`, 'list folders');
	}

	/**
	 * A folder by well-known name ("inbox", "Junk Email", "deleteditems", "archive") or display path
	 * ("Inbox/Projects", "Archive/2024" under the top of the mailbox; "/" separates levels, "\/" is a
	 * "/" in a name). Names compare case-insensitively, as Exchange does. Cached per client.
	 */
	async resolveFolder(path: string): Promise<GraphFolder> {
		const key = path.trim();
		const cached = this.folderCache.get(key.toLowerCase());
		if (cached) return cached;
		const segments = splitFolderPath(key);
		if (!segments.length) throw configError('folders', 'A folder name is empty.', 'Enter a folder name or path such as Inbox or Inbox/Projects.');
		const first = wellKnownFolder(segments[0]);
		let parent: GraphFolder | undefined;
		let rest = segments;
		if (first) {
			let raw: RawFolder;
			try {
				raw = await this.json<RawFolder>({ method: 'GET', path: `${this.root}/mailFolders/${first}`, operation: `folder ${first}` });
			} catch (error) {
				throw this.missingWellKnown(error, first);
			}
			parent = this.folderOf(raw, pathPart(raw.displayName ?? segments[0]), first);
			rest = segments.slice(1);
		}
		for (const name of rest) {
			const children = await this.childFolders(parent?.id);
			const wanted = name.toLowerCase();
			const found = children.find((f) => (f.displayName ?? '').toLowerCase() === wanted);
			if (!found) {
				const where = parent ? `in "${parent.path}"` : 'at the top of the mailbox';
				throw new MailboxError('NOT_FOUND', `Folder "${name}" was not found ${where}${this.mailbox ? ` of ${this.mailbox}` : ''}.`, {
					field: 'folders',
					step: 'command',
					hint: 'Check the folder path: levels are separated by "/", e.g. Inbox/Projects; names as shown in Outlook.',
				});
			}
			const shown = pathPart(found.displayName ?? name);
			parent = this.folderOf(found, parent ? `${parent.path}/${shown}` : shown);
		}
		this.folderCache.set(key.toLowerCase(), parent!);
		return parent!;
	}

	/** A well-known folder the mailbox lacks (no archive) is named as such; other failures stay as they are. */
	private missingWellKnown(error: unknown, name: string): MailboxError {
		const e = this.toMailboxError(error, `folder ${name}`);
		if (e.code !== 'NOT_FOUND' || e.field === 'mailbox') return e;
		return new MailboxError('NOT_FOUND', `The mailbox${this.mailbox ? ` ${this.mailbox}` : ''} has no ${name} folder.`, {
			...detailsOf(e),
			field: 'folders',
			step: 'command',
			hint: name === 'archive' ? 'The archive folder exists once archiving is set up for the mailbox; choose another folder.' : 'Choose another folder.',
		});
	}

	/** The folders at the top of the mailbox, or under `under`; with `recursive`, all levels below (depth first). */
	async listFolders(options: { under?: string; recursive?: boolean } = {}): Promise<GraphFolder[]> {
		const start = options.under?.trim() ? await this.resolveFolder(options.under) : undefined;
		const out: GraphFolder[] = [];
		const walk = async (parent: GraphFolder | undefined): Promise<void> => {
			for (const raw of await this.childFolders(parent?.id)) {
				const name = pathPart(raw.displayName ?? '');
				const folder = this.folderOf(raw, parent ? `${parent.path}/${name}` : name);
				out.push(folder);
				if (options.recursive && folder.childFolderCount > 0) await walk(folder);
			}
		};
		await walk(start);
		return out;
	}

	/** Creates a folder under `parentPath` (undefined: at the top of the mailbox). */
	async createFolder(parentPath: string | undefined, name: string): Promise<GraphFolder> {
		const displayName = name.trim();
		if (!displayName) throw configError('folderName', 'The new folder\'s name is empty.', 'Enter a name for the folder.');
		const parent = parentPath?.trim() ? await this.resolveFolder(parentPath) : undefined;
		const path = parent ? `${this.root}/mailFolders/${segment(parent.id)}/childFolders` : `${this.root}/mailFolders`;
		const raw = await this.json<RawFolder>({ method: 'POST', path, json: { displayName }, operation: `create folder "${displayName}"` });
		const shown = pathPart(raw.displayName ?? displayName);
		return this.folderOf(raw, parent ? `${parent.path}/${shown}` : shown);
	}

	/** Renames a folder (its id stays). */
	async renameFolder(path: string, name: string): Promise<GraphFolder> {
		const displayName = name.trim();
		if (!displayName) throw configError('folderName', 'The folder\'s new name is empty.', 'Enter the new name.');
		const folder = await this.resolveFolder(path);
		const raw = await this.json<RawFolder>({ method: 'PATCH', path: `${this.root}/mailFolders/${segment(folder.id)}`, json: { displayName }, operation: `rename folder "${folder.path}"` });
		this.folderCache.clear();
		const parentPath = folder.path.includes('/') ? folder.path.slice(0, folder.path.lastIndexOf('/') + 1) : '';
		return this.folderOf({ ...raw, id: raw.id ?? folder.id }, `${parentPath}${pathPart(raw.displayName ?? displayName)}`);
	}

	/** Deletes a folder with what it holds (Graph moves it to Deleted Items). */
	async deleteFolder(path: string): Promise<void> {
		const folder = await this.resolveFolder(path);
		await this.json<unknown>({ method: 'DELETE', path: `${this.root}/mailFolders/${segment(folder.id)}`, operation: `delete folder "${folder.path}"` });
		this.folderCache.clear();
	}

	/**
	 * One page of a folder's delta sync. Without a link it starts a sync (all messages of the folder,
	 * or those received since `receivedSince`); with one it follows the nextLink or deltaLink exactly
	 * as Graph gave it (only on the Graph URL's host). A link Graph no longer accepts throws an error
	 * for which isResyncRequired() is true: start again without it.
	 */
	async deltaPage(folderId: string, link: string | undefined, options: GraphDeltaOptions): Promise<GraphDeltaPage> {
		const select = [...new Set(['id', ...options.select])].join(',');
		const since = options.receivedSince ? `receivedDateTime ge ${options.receivedSince.toISOString().replace(/\.\d{3}Z$/, 'Z')}` : undefined;
		const path = link ?? `${this.root}/mailFolders/${segment(folderId)}/messages/delta${query({ $select: select, $filter: since })}`;
		const headers = { Prefer: `odata.maxpagesize=${Math.max(1, Math.floor(options.maxPageSize))}` };
		const page = (await this.json<Page<Record<string, unknown>>>({ method: 'GET', path, headers, operation: 'delta' })) ?? {};
		return { entries: (page.value ?? []).map(deltaEntry), nextLink: page['@odata.nextLink'], deltaLink: page['@odata.deltaLink'] };
	}

	/** One message's properties (all, or `select`; `expand`: an OData $expand, e.g. of singleValueExtendedProperties). */
	getMessage(id: string, select?: string[], options: { expand?: string } = {}): Promise<GraphMessage> {
		return this.json<GraphMessage>({ method: 'GET', path: `${this.root}/messages/${segment(id)}${query({ $select: select?.join(','), $expand: options.expand })}`, operation: 'get message' });
	}

	/** A message's MIME content (/$value), as Exchange keeps it. */
	async getMime(id: string): Promise<Buffer> {
		const response = await this.call('get MIME', () => this.transport.request({ method: 'GET', path: `${this.root}/messages/${segment(id)}/$value`, headers: { Accept: '*/*' }, operation: 'get MIME' }));
		return response.body;
	}

	/** Several messages' properties, in JSON batches of 20: each message its own result (the properties, or its error). */
	async getMessages(ids: string[], select: string[]): Promise<Array<GraphItemResult & { message?: GraphMessage }>> {
		const $select = [...new Set(['id', ...select])].join(',');
		const results = await this.each(ids, 'get messages', (id) => ({ method: 'GET', url: `${this.root}/messages/${segment(id)}${query({ $select })}` }));
		return results.map(({ id, ok, error, body }) => (error ? { id, ok, error } : { id, ok, message: body as GraphMessage }));
	}

	/** The ids of well-known folders (inbox, junkemail...) in JSON batches; a folder the mailbox lacks (archive) is left out. */
	async wellKnownFolderIds(names: string[]): Promise<Map<string, string>> {
		const results = await this.each(names, 'well-known folders', (name) => ({ method: 'GET', url: `${this.root}/mailFolders/${segment(name)}${query({ $select: 'id' })}` }));
		const ids = new Map<string, string>();
		for (const r of results) {
			const id = (r.body as { id?: unknown } | undefined)?.id;
			if (r.ok && typeof id === 'string') ids.set(r.id, id);
		}
		return ids;
	}

	/** Messages of a folder (undefined: the whole mailbox), following the pages up to `limit`. */
	async listMessages(folderPath: string | undefined, options: GraphListOptions = {}): Promise<GraphMessage[]> {
		const folder = folderPath?.trim() ? await this.resolveFolder(folderPath) : undefined;
		const base = folder ? `${this.root}/mailFolders/${segment(folder.id)}/messages` : `${this.root}/messages`;
		const limit = options.limit ?? Infinity;
		const search = options.search?.trim() ? (/^".*"$/.test(options.search.trim()) ? options.search.trim() : `"${options.search.trim().replace(/"/g, '\\"')}"`) : undefined;
		const params = {
			$select: options.select?.length ? [...new Set(['id', ...options.select])].join(',') : undefined,
			$filter: options.filter,
			$search: search,
			$orderby: options.orderBy,
			$top: Math.max(1, Math.min(options.top ?? 100, limit, 1000)),
		};
		return this.collect<GraphMessage>(`${base}${query(params)}`, 'list messages', limit);
	}

	/**
	 * One request per message: alone for one message, else in JSON batches of 20. Failures of one
	 * message are its result; what concerns every message (sign-in, network) is thrown.
	 */
	private async each(ids: string[], operation: string, build: (id: string) => GraphBatchRequest): Promise<Array<GraphItemResult & { body?: unknown }>> {
		if (!ids.length) return [];
		const answers: GraphBatchResponse[] = await this.call(operation, async () => {
			if (ids.length > 1) return this.transport.batch(ids.map(build), operation);
			const r = build(ids[0]);
			return [await this.transport.answer({ method: r.method, path: r.url, json: r.body, operation })];
		});
		return ids.map((id, i) => (answers[i].error ? { id, ok: false, error: answers[i].error } : { id, ok: true, body: answers[i].body }));
	}

	private async patch(ids: string[], operation: string, body: Record<string, unknown>): Promise<GraphItemResult[]> {
		const results = await this.each(ids, operation, (id) => ({ method: 'PATCH', url: `${this.root}/messages/${segment(id)}`, body }));
		return results.map(({ id, ok, error }) => (error ? { id, ok, error } : { id, ok }));
	}

	/** Changes read state, follow-up flag and categories together: one PATCH per message (the same changes for all, or each message's own). */
	async updateMessages(ids: string[], changes: GraphMessageChanges | ((id: string) => GraphMessageChanges)): Promise<GraphItemResult[]> {
		const bodyOf = typeof changes === 'function' ? changes : () => changes;
		const results = await this.each(ids, 'update', (id) => ({ method: 'PATCH', url: `${this.root}/messages/${segment(id)}`, body: bodyOf(id) }));
		return results.map(({ id, ok, error }) => (error ? { id, ok, error } : { id, ok }));
	}

	/** Marks messages read (or unread). */
	markRead(ids: string[], read = true): Promise<GraphItemResult[]> {
		return this.patch(ids, read ? 'mark read' : 'mark unread', { isRead: read });
	}

	/** Sets the follow-up flag. */
	setFlag(ids: string[], status: GraphFlagStatus): Promise<GraphItemResult[]> {
		return this.patch(ids, `flag ${status}`, { flag: { flagStatus: status } });
	}

	/** Replaces the categories (an empty list clears them). */
	setCategories(ids: string[], categories: string[]): Promise<GraphItemResult[]> {
		return this.patch(ids, 'set categories', { categories });
	}

	private async transfer(kind: 'move' | 'copy', ids: string[], destinationFolderId: string): Promise<GraphMoveResults> {
		const results = await this.each(ids, kind, (id) => ({ method: 'POST', url: `${this.root}/messages/${segment(id)}/${kind}`, body: { destinationId: destinationFolderId } }));
		const newIds = new Map<string, string>();
		const out = results.map(({ id, ok, error, body }) => {
			if (error) return { id, ok, error };
			const newId = typeof (body as { id?: unknown } | undefined)?.id === 'string' ? (body as { id: string }).id : undefined;
			if (newId) newIds.set(id, newId);
			return newId ? { id, ok, newId } : { id, ok };
		});
		return Object.assign(out, { newIds });
	}

	/** Moves messages to a folder (its id, or a well-known name); with immutable ids the new id is usually the old one. */
	move(ids: string[], destinationFolderId: string): Promise<GraphMoveResults> {
		return this.transfer('move', ids, destinationFolderId);
	}

	/** Copies messages to a folder; each copy has a new id. */
	copy(ids: string[], destinationFolderId: string): Promise<GraphMoveResults> {
		return this.transfer('copy', ids, destinationFolderId);
	}

	/**
	 * Deletes messages: 'trash' (DELETE: to Deleted Items, recoverable) or 'hard'
	 * (permanentDelete: to Recoverable Items' purges, out of the user's reach).
	 */
	async delete(ids: string[], mode: 'trash' | 'hard' = 'trash'): Promise<GraphItemResult[]> {
		const results = await this.each(ids, mode === 'hard' ? 'delete permanently' : 'delete', (id) =>
			mode === 'hard' ? { method: 'POST', url: `${this.root}/messages/${segment(id)}/permanentDelete` } : { method: 'DELETE', url: `${this.root}/messages/${segment(id)}` },
		);
		return results.map(({ id, ok, error }) => (error ? { id, ok, error } : { id, ok }));
	}

	/**
	 * Sends a message given as MIME, as it is (headers, attachments, encodings): POST sendMail with
	 * the MIME in base64 as text/plain. Graph saves it in Sent Items.
	 */
	async sendMime(mime: Buffer): Promise<void> {
		if (!mime.length) throw configError('message', 'The message to send is empty.', 'Build the message (MIME) before sending it.');
		await this.call('send', () =>
			this.transport.request({ method: 'POST', path: `${this.root}/sendMail`, raw: { contentType: 'text/plain', data: Buffer.from(mime.toString('base64'), 'ascii') }, operation: 'send' }),
		);
	}

	/**
	 * Creates a message in a folder from MIME, as delivered (not a draft, unread), without sending
	 * it: mailFolder: importMime, POST .../mailFolders/{id}/importMime with the MIME in base64 as
	 * text/plain. Graph v1.0 has no such request (a message created from MIME there is always a
	 * draft), so this one goes to the Graph URL's /beta; it needs the permission
	 * Mail-Advanced.ReadWrite.All (app) or Mail-Advanced.ReadWrite (delegated).
	 */
	async importMime(folderId: string, mime: Buffer): Promise<GraphMessage> {
		if (!mime.length) throw configError('message', 'The message to import is empty.', 'Give the message (MIME) to store.');
		const beta = /\/v1\.0$/i.test(this.baseUrl) ? this.baseUrl.replace(/\/v1\.0$/i, '/beta') : this.baseUrl;
		return this.json<GraphMessage>({
			method: 'POST',
			path: `${beta}${this.root}/mailFolders/${segment(folderId)}/importMime`,
			raw: { contentType: 'text/plain', data: Buffer.from(mime.toString('base64'), 'ascii') },
			operation: 'import MIME',
		});
	}

	/** The messages of a folder (undefined: the whole mailbox) whose Message-ID is `internetMessageId` (with angle brackets). */
	async findByInternetMessageId(folderId: string | undefined, internetMessageId: string, select: string[] = ['internetMessageId']): Promise<GraphMessage[]> {
		const base = folderId ? `${this.root}/mailFolders/${segment(folderId)}/messages` : `${this.root}/messages`;
		const filter = `internetMessageId eq '${internetMessageId.replace(/'/g, "''")}'`;
		return this.collect<GraphMessage>(`${base}${query({ $filter: filter, $select: [...new Set(['id', ...select])].join(','), $top: 10 })}`, 'find message', 50);
	}

	/** The mailbox's automatic replies (out of office). */
	async getAutomaticReplies(): Promise<GraphAutomaticReplies> {
		const settings = await this.json<{ automaticRepliesSetting?: GraphAutomaticReplies }>({ method: 'GET', path: `${this.root}/mailboxSettings`, operation: 'get automatic replies' });
		return settings?.automaticRepliesSetting ?? { status: 'disabled' };
	}

	/** Changes the automatic replies (only the properties given); returns them as Graph keeps them now. */
	async setAutomaticReplies(setting: Partial<GraphAutomaticReplies>): Promise<GraphAutomaticReplies> {
		const updated = await this.json<{ automaticRepliesSetting?: GraphAutomaticReplies } | undefined>({
			method: 'PATCH',
			path: `${this.root}/mailboxSettings`,
			json: { automaticRepliesSetting: setting },
			operation: 'set automatic replies',
		});
		return updated?.automaticRepliesSetting ?? (await this.getAutomaticReplies());
	}

	/** Ends the kept-alive connections. */
	close(): void {
		this.transport.close();
	}
}

/** A delta item as an entry: @removed's reason, receivedDateTime as a Date, OData annotations dropped. */
function deltaEntry(raw: Record<string, unknown>): GraphDeltaEntry {
	const entry: GraphDeltaEntry = { id: String(raw.id ?? '') };
	for (const [key, value] of Object.entries(raw)) {
		if (key === 'id' || key.startsWith('@odata.')) continue;
		if (key === '@removed') {
			const reason = (value as { reason?: unknown } | null)?.reason;
			entry.removed = typeof reason === 'string' ? reason : 'deleted';
		} else if (key === 'receivedDateTime' && typeof value === 'string') {
			const date = new Date(value);
			if (!Number.isNaN(date.getTime())) entry.receivedDateTime = date;
		} else {
			entry[key] = value;
		}
	}
	return entry;
}

/**
 * A client for the options: checks them and, for an app, gets its token for Graph from MSAL
 * (errors name Tenant ID, Client ID or Client Secret). Nothing is sent to Graph yet.
 */
export async function connectGraph(options: GraphClientOptions): Promise<GraphClient> {
	const auth = options.auth;
	const mailbox = options.mailbox?.trim();
	checkBaseUrl(options.baseUrl);
	if (mailbox && !EMAIL.test(mailbox)) throw configError('mailbox', `Mailbox "${mailbox}" is not an email address.`, 'Enter the primary SMTP address of the mailbox, e.g. info@contoso.com.');
	let token: string;
	if (auth.type === 'app') {
		if (!mailbox) throw configError('mailbox', 'Mailbox is empty: an app has no mailbox of its own.', 'Enter the address of the mailbox the app acts on, e.g. info@contoso.com.');
		token = (await getAppToken({ ...auth.app, scope: GRAPH_SCOPE }, options.logger)).accessToken;
	} else {
		token = auth.token?.trim() ?? '';
		if (!token) throw configError('accessToken', 'There is no access token.', 'Open the credential and click "Connect my account".');
	}
	return new GraphClient(options, token);
}
