/**
 * A local Microsoft Graph v1.0 mail endpoint over HTTPS for tests: the requests, JSON shapes,
 * status codes and error bodies of Microsoft's Graph v1.0 reference (learn.microsoft.com/graph:
 * mailFolder, message, message: delta, user: sendMail, mailboxSettings, JSON batching,
 * throttling, immutable identifiers).
 *
 *   const graph = await GraphServer.start({ tls, tokenInfo: (t) => ..., mailboxes: ['alice@contoso.test'] });
 *   const { id } = graph.addMessage('alice@contoso.test', 'inbox', raw);
 *   ...graph.url (https://127.0.0.1:<port>/v1.0), graph.requests, graph.sent...
 *   await graph.stop();
 *
 * Authentication: `Authorization: Bearer <token>`; `tokenInfo(token)` names the principal and the
 * token's audience. No token, an unknown or expired one (tokenInfo answers undefined) or one for
 * another resource than Graph (audience other than https://graph.microsoft.com or Graph's app id)
 * answers 401 InvalidAuthenticationToken with a `WWW-Authenticate: Bearer ...` challenge.
 *
 * Principals and mailboxes (as in ews.ts): a principal's own mailbox is the mailbox whose address
 * is the principal, or else whose local part is. `access[principal]` lists further mailboxes.
 * `/me/...` is the own mailbox (a principal without one, an app, gets 400 BadRequest "/me request
 * is only valid with delegated authentication flow."); `/users/{address|id}/...` any mailbox the
 * principal may open (else 403 ErrorAccessDenied); an unknown user is 404 ErrorInvalidUser.
 *
 * Ids are opaque URL-safe base64 strings (with '=' padding, as Graph's). A message id changes when
 * the message moves (as in Exchange); with `Prefer: IdType="ImmutableId"` requests see and may use
 * the immutable id, which never changes in its mailbox (echoed in Preference-Applied). Unknown ids
 * are 404 ErrorItemNotFound, ids that do not decode 400 ErrorInvalidIdMalformed.
 *
 * Lists (messages, folders) page by `$top` (default 10) with `$skip` in `@odata.nextLink`, as the
 * reference describes for messages; `$search` pages with an opaque `$skiptoken` instead.
 * `$filter` understands `eq ne gt ge lt le`, `and`, `or` (no parentheses), `contains()`,
 * `startswith()` and `categories/any(c:c eq '...')` on the common message properties; the
 * documented InefficientFilter rule for `$filter` with `$orderby` is enforced, as is
 * SearchWithOrderBy for `$search` with `$orderby`. `$count=true` adds `@odata.count`.
 *
 * Delta (GET .../mailFolders/{id}/messages/delta): `$select`, `$filter=receivedDateTime ge|gt`,
 * `changeType=created|updated|deleted`, `Prefer: odata.maxpagesize=N` (default 10, echoed in
 * Preference-Applied). Pages hold changes oldest first; created and updated messages come as full
 * objects (Graph does not tell them apart), messages moved out or deleted as
 * `{"@odata.type":"#microsoft.graph.message","id":...,"@removed":{"reason":"deleted"}}` (the reason
 * the delta-query-messages article shows). Tokens are bound to the principal, mailbox and folder.
 * A token that is unknown, expired (`expireDeltaTokens()`) or used elsewhere answers 410 Gone with
 * code `SyncStateNotFound` and a Location header holding the initial delta URL: the reference's
 * "Synchronization reset" (410 with a Location to start over) together with its "Token duration"
 * note (an expired token answers a 40X error "with error codes such as syncStateNotFound").
 *
 * mailFolder: importMime (the one /beta request served): base64 MIME as text/plain creates a
 * non-draft, unread message in the folder, 201 with the message; recorded in `imported`.
 *
 * sendMail: `Content-Type: text/plain` with base64 MIME (not base64: 400
 * ErrorMimeContentInvalidBase64String "Invalid base64 string for MIME content.", as documented),
 * always saved to Sent Items; or JSON `{message, saveToSentItems}`, composed into MIME here. Both
 * answer 202 and are recorded in `sent`, with the recipients (To, Cc and Bcc: Exchange makes a MIME
 * Bcc header Bcc recipients) and the MIME as transmitted, without the Bcc header ([MS-OXCMAIL]
 * 2.1.3.1.1.2: MIME writers must not copy Bcc recipients into a message for outbound SMTP).
 *
 * $batch: at most 20 requests (else 400 BadRequest); each inner request is authorised, throttled
 * and logged separately (in its $batch's log entry), `dependsOn` is honoured (a failed dependency
 * answers 424), non-JSON bodies come back base64-encoded.
 *
 * Throttling: `throttle(count, retryAfterSeconds, status)` makes the next `count` authenticated
 * requests (inner $batch requests, not the $batch envelope) answer 429 TooManyRequests (or 503
 * ServiceUnavailable) with Retry-After, as Graph's throttling article shows.
 *
 * Chosen where the reference is silent (the wording of Exchange or OData where known): $batch over
 * 20 ("BadRequest"), a failed dependency ("FailedDependency"), a distinguished folder deleted
 * (ErrorDeleteDistinguishedFolder), an invalid automatic-replies window
 * (ErrorInvalidScheduledOofDuration), a bad enum or unknown property in a body (RequestBodyRead),
 * an unknown $select property (RequestBroker--ParseUri), an unsupported delta $filter
 * (ErrorInvalidUrlQueryFilter).
 *
 * Answers are gzipped for clients that send `Accept-Encoding: gzip`. Every answer carries
 * `request-id` and `client-request-id` (the client's, or the request id).
 */
import crypto from 'node:crypto';
import https from 'node:https';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { convert as htmlToText } from 'html-to-text';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer';
import { listenOnLoopback, LOOPBACK } from './ports';
import { closeWhenFileEnds } from './lifetime';

/** The resource Graph tokens are issued for, and Graph's application id (both are valid audiences). */
export const GRAPH_AUDIENCES = ['https://graph.microsoft.com', 'https://graph.microsoft.com/', '00000003-0000-0000-c000-000000000000'];

// --- public types -----------------------------------------------------------------------------

export interface GraphServerOptions {
	tls: { key: Buffer; cert: Buffer };
	/** A bearer token's principal (a user, or an app) and audience; undefined: unknown or expired (401). */
	tokenInfo: (token: string) => { user: string; audience?: string } | undefined;
	/** SMTP addresses (user principal names) of the mailboxes that exist, e.g. 'alice@contoso.test'. */
	mailboxes: string[];
	/** principal -> mailboxes it may open besides its own (delegate access, or an app's permission). */
	access?: Record<string, string[]>;
	/** Principals without Mail-Advanced.ReadWrite(.All): mailFolder: importMime answers them 403. */
	importMimeDenied?: (principal: string) => boolean;
}

export interface GraphRequestLog {
	method: string;
	/** The path as sent, e.g. '/v1.0/me/mailFolders/inbox/messages' (an inner $batch request: its url's path). */
	path: string;
	/** The query parameters, decoded. */
	query: Record<string, string>;
	authorization: 'bearer' | 'other' | 'none';
	/** The authenticated principal, if any. */
	principal?: string;
	/** The mailbox the request acted on. */
	mailbox?: string;
	prefer?: string;
	consistencyLevel?: string;
	clientRequestId?: string;
	contentType?: string;
	/** The request body as sent (UTF-8). */
	body: string;
	status: number;
	/** The error code of an error answer. */
	errorCode?: string;
	/** For a $batch: its inner requests, in the order they ran. */
	batch?: GraphRequestLog[];
	/** For an inner request: its id in the $batch. */
	batchId?: string;
}

export interface GraphFolderMessage {
	/** The message's current (REST) id. */
	id: string;
	immutableId: string;
	isRead: boolean;
	categories: string[];
	flagStatus: FlagStatus;
	received: Date;
	/** The Message-ID header. */
	internetMessageId: string;
	raw: Buffer;
}

export interface GraphSentMessage {
	/** The mailbox that sent it. */
	mailbox: string;
	/** The MIME as sent (for a JSON sendMail: as composed here). */
	raw: Buffer;
	format: 'mime' | 'json';
	savedToSentItems: boolean;
	/** The addresses it goes to: To, Cc and Bcc (Exchange makes the MIME's Bcc header Bcc recipients). */
	recipients: string[];
	/**
	 * The MIME as it leaves for the recipients: without the Bcc header, which Exchange's MIME writer
	 * does not copy into a message for outbound SMTP ([MS-OXCMAIL] 2.1.3.1.1.2).
	 */
	transmitted: Buffer;
}

export type FlagStatus = 'notFlagged' | 'flagged' | 'complete';

export interface DateTimeTimeZone {
	dateTime: string;
	timeZone: string;
}

export interface AutomaticRepliesSetting {
	status: 'disabled' | 'alwaysEnabled' | 'scheduled';
	externalAudience: 'none' | 'contactsOnly' | 'all';
	internalReplyMessage: string;
	externalReplyMessage: string;
	scheduledStartDateTime: DateTimeTimeZone;
	scheduledEndDateTime: DateTimeTimeZone;
}

export interface MailboxSettings {
	archiveFolder: string;
	timeZone: string;
	automaticRepliesSetting: AutomaticRepliesSetting;
	language: { locale: string; displayName: string };
	dateFormat: string;
	timeFormat: string;
	delegateMeetingMessageDeliveryOptions: string;
	userPurpose: string;
	workingHours: Record<string, unknown>;
}

// --- errors -----------------------------------------------------------------------------------

const TEXT: Record<string, string> = {
	ErrorItemNotFound: 'The specified object was not found in the store.',
	ErrorInvalidIdMalformed: 'Id is malformed.',
	ErrorAccessDenied: 'Access is denied. Check credentials and try again.',
	ErrorFolderExists: 'A folder with the specified name already exists.',
	ErrorDeleteDistinguishedFolder: 'Distinguished folders cannot be deleted.',
	ErrorMimeContentInvalidBase64String: 'Invalid base64 string for MIME content.',
	ErrorInvalidRecipients: 'At least one recipient is not valid.',
	ErrorInvalidScheduledOofDuration: "The scheduled duration for sending automatic replies isn't valid.",
	InvalidTimeZone: 'Time Zone settings provided are invalid.',
	InefficientFilter: 'The restriction or sort order is too complex for this operation.',
	SearchWithOrderBy: "The query parameter '$orderBy' is not supported with '$search'.",
	SyncStateNotFound: 'The sync state generation is not found. The delta token is expired and data must be synchronized again.',
	TooManyRequests: 'Please retry again later.',
	ServiceUnavailable: 'Service Unavailable',
	MethodNotAllowed: 'Specified HTTP method is not allowed for the request target.',
	InvalidJson: 'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.',
};

class GraphError extends Error {
	constructor(
		readonly status: number,
		readonly code: string,
		message = TEXT[code] ?? code,
		readonly headers: Record<string, string> = {},
	) {
		super(message);
	}
}

const notFound = () => new GraphError(404, 'ErrorItemNotFound');
const malformed = () => new GraphError(400, 'ErrorInvalidIdMalformed');
const segmentNotFound = (segment: string) => new GraphError(400, 'BadRequest', `Resource not found for the segment '${segment}'.`);
const methodNotAllowed = (allow: string[]) => new GraphError(405, 'Request_BadRequest', TEXT.MethodNotAllowed, { Allow: allow.join(', ') });
const bodyRead = (message: string) => new GraphError(400, 'RequestBodyRead', message);
const noSuchProperty = (name: string, type: string) =>
	bodyRead(`The property '${name}' does not exist on type 'microsoft.graph.${type}'. Make sure to only use property names that are defined by the type or mark the type as open type.`);
const parseUri = (name: string, type: string) => new GraphError(400, 'RequestBroker--ParseUri', `Could not find a property named '${name}' on type 'microsoft.graph.${type}'.`);

// --- the store --------------------------------------------------------------------------------

interface Folder {
	id: string;
	displayName: string;
	parentId?: string;
	wellKnown?: string;
	isHidden: boolean;
}

interface Parsed {
	subject: string;
	from?: Address;
	sender?: Address;
	to: Address[];
	cc: Address[];
	bcc: Address[];
	replyTo: Address[];
	sent?: Date;
	messageId: string;
	conversationId: string;
	hasAttachments: boolean;
	importance: 'low' | 'normal' | 'high';
	text: string;
	html?: string;
	headers: Array<{ name: string; value: string }>;
}

interface Address {
	name: string;
	address: string;
}

interface Message {
	key: number;
	mailbox: string;
	restId: string;
	immutableId: string;
	folderId: string;
	raw: Buffer;
	parsed: Promise<Parsed>;
	/** Set once `parsed` settled. */
	ready?: Parsed;
	isRead: boolean;
	categories: string[];
	flagStatus: FlagStatus;
	received: Date;
	created: Date;
	modified: Date;
	/** Bumped on every change (changeKey, @odata.etag, delta). */
	version: number;
	changeNumber: number;
	internetMessageId: string;
}

interface Mailbox {
	address: string;
	userId: string;
	folders: Map<string, Folder>;
	settings: MailboxSettings;
}

interface DeltaState {
	kind: 'skip' | 'delta';
	generation: number;
	principal: string;
	mailbox: string;
	folderId: string;
	select?: string[];
	since?: { op: 'ge' | 'gt'; at: Date };
	changeType?: 'created' | 'updated' | 'deleted';
	top?: number;
	/** What the client was told: message key -> the version and id it saw. */
	known: Map<number, { version: number; restId: string; immutableId: string }>;
	/** The request path (after /v1.0) and the initial query, for links and the reset Location. */
	path: string;
	initialQuery: string;
}

const WELL_KNOWN: Array<{ name: string; displayName: string; parent?: string; hidden?: boolean }> = [
	{ name: 'root', displayName: 'Root', hidden: true },
	{ name: 'msgfolderroot', displayName: 'Top of Information Store', parent: 'root' },
	{ name: 'inbox', displayName: 'Inbox', parent: 'msgfolderroot' },
	{ name: 'drafts', displayName: 'Drafts', parent: 'msgfolderroot' },
	{ name: 'sentitems', displayName: 'Sent Items', parent: 'msgfolderroot' },
	{ name: 'deleteditems', displayName: 'Deleted Items', parent: 'msgfolderroot' },
	{ name: 'junkemail', displayName: 'Junk Email', parent: 'msgfolderroot' },
	{ name: 'outbox', displayName: 'Outbox', parent: 'msgfolderroot' },
	{ name: 'archive', displayName: 'Archive', parent: 'msgfolderroot' },
];
/** Well-known names a request may use (root is not one of Graph's). */
const ADDRESSABLE = new Set(WELL_KNOWN.map((w) => w.name).filter((n) => n !== 'root'));

const MESSAGE_PROPERTIES = [
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
];
/** Selectable, not in the default set. */
const MESSAGE_EXTRA = ['uniqueBody', 'internetMessageHeaders'];
const FOLDER_PROPERTIES = ['displayName', 'parentFolderId', 'childFolderCount', 'unreadItemCount', 'totalItemCount', 'sizeInBytes', 'isHidden'];

const WINDOWS_ZONES = new Set([
	'UTC',
	'Pacific Standard Time',
	'Mountain Standard Time',
	'Central Standard Time',
	'Eastern Standard Time',
	'GMT Standard Time',
	'W. Europe Standard Time',
	'Central Europe Standard Time',
	'Central European Standard Time',
	'Romance Standard Time',
	'E. Europe Standard Time',
	'Russian Standard Time',
	'India Standard Time',
	'China Standard Time',
	'Tokyo Standard Time',
	'AUS Eastern Standard Time',
]);

function validTimeZone(zone: unknown): boolean {
	if (typeof zone !== 'string' || !zone) return false;
	if (WINDOWS_ZONES.has(zone)) return true;
	try {
		new Intl.DateTimeFormat('en-US', { timeZone: zone });
		return true;
	} catch {
		return false;
	}
}

// --- small helpers ----------------------------------------------------------------------------

/** URL-safe base64 with '=' padding, the alphabet of Graph's ids. */
function encodeId(text: string): string {
	return Buffer.from(text, 'utf8').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}
function decodeId(id: string): string | undefined {
	if (!/^[A-Za-z0-9_-]+={0,2}$/.test(id)) return undefined;
	const text = Buffer.from(id.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
	return encodeId(text) === id ? text : undefined;
}
function isoSeconds(d: Date): string {
	return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
function changeKey(version: number): string {
	return Buffer.from(`CQAAABYAAAB${String(version).padStart(8, '0')}`).toString('base64');
}
function userGuid(address: string): string {
	const h = crypto.createHash('sha1').update(address.toLowerCase()).digest('hex');
	return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
function headerValue(value: string | string[] | undefined): string | undefined {
	return Array.isArray(value) ? value.join(', ') : value;
}
function escapeHtml(s: string): string {
	return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
}
function addresses(value: AddressObject | AddressObject[] | undefined): Address[] {
	const list = Array.isArray(value) ? value : value ? [value] : [];
	const out: Address[] = [];
	for (const obj of list) {
		for (const a of obj.value) {
			if (a.group) for (const g of a.group) g.address && out.push({ name: g.name || g.address, address: g.address });
			else if (a.address) out.push({ name: a.name || a.address, address: a.address });
		}
	}
	return out;
}
function recipient(a: Address): { emailAddress: { name: string; address: string } } {
	return { emailAddress: { name: a.name, address: a.address } };
}

async function parseMime(raw: Buffer): Promise<Parsed> {
	let mail: ParsedMail;
	try {
		mail = await simpleParser(raw, { skipImageLinks: true });
	} catch {
		return { subject: '', to: [], cc: [], bcc: [], replyTo: [], messageId: '', conversationId: encodeId(`C:${crypto.randomUUID()}`), hasAttachments: false, importance: 'normal', text: '', headers: [] };
	}
	const from = addresses(mail.from)[0];
	const senderHeader = mail.headers.get('sender') as AddressObject | undefined;
	const importanceHeader = String(mail.headers.get('importance') ?? '').toLowerCase();
	const priority = String(mail.headers.get('x-priority') ?? '').trim();
	const importance = importanceHeader === 'high' || /^[12]/.test(priority) ? 'high' : importanceHeader === 'low' || /^[45]/.test(priority) ? 'low' : 'normal';
	const references = Array.isArray(mail.references) ? mail.references : mail.references ? [mail.references] : [];
	const threadRoot = references[0] ?? mail.inReplyTo ?? mail.messageId ?? crypto.randomUUID();
	const html = typeof mail.html === 'string' ? mail.html : undefined;
	return {
		subject: mail.subject ?? '',
		from,
		sender: (senderHeader && addresses(senderHeader)[0]) ?? from,
		to: addresses(mail.to),
		cc: addresses(mail.cc),
		bcc: addresses(mail.bcc),
		replyTo: addresses(mail.replyTo),
		sent: mail.date && !Number.isNaN(mail.date.getTime()) ? mail.date : undefined,
		messageId: mail.messageId ?? '',
		conversationId: encodeId(`C:${crypto.createHash('sha1').update(threadRoot).digest('hex').slice(0, 24)}`),
		hasAttachments: mail.attachments.some((a) => a.contentDisposition === 'attachment' || !a.related),
		importance,
		text: mail.text ?? (html ? htmlToText(html, { wordwrap: false }) : ''),
		html,
		headers: mail.headerLines.map((h) => {
			const colon = h.line.indexOf(':');
			return { name: h.line.slice(0, colon), value: h.line.slice(colon + 1).replace(/\r?\n[ \t]+/g, ' ').trim() };
		}),
	};
}

function compose(mail: ConstructorParameters<typeof MailComposer>[0]): Promise<Buffer> {
	return new Promise((resolve, reject) => new MailComposer(mail).compile().build((error, buf) => (error ? reject(error) : resolve(buf))));
}

/** Splits `text` on a keyword (' and ', ' or ') outside quotes and parentheses. */
function splitTop(text: string, word: string): string[] {
	const parts: string[] = [];
	let depth = 0;
	let quoted = false;
	let start = 0;
	const needle = ` ${word} `;
	for (let i = 0; i < text.length; i++) {
		const c = text[i];
		if (c === "'") quoted = !quoted;
		else if (!quoted && c === '(') depth++;
		else if (!quoted && c === ')') depth--;
		else if (!quoted && depth === 0 && text.slice(i, i + needle.length).toLowerCase() === needle) {
			parts.push(text.slice(start, i).trim());
			start = i + needle.length;
			i += needle.length - 1;
		}
	}
	parts.push(text.slice(start).trim());
	return parts;
}

type Literal = string | number | boolean | Date | null;

function parseLiteral(text: string): Literal {
	const t = text.trim();
	if (/^'(?:[^']|'')*'$/.test(t)) return t.slice(1, -1).replace(/''/g, "'");
	if (/^(true|false)$/i.test(t)) return t.toLowerCase() === 'true';
	if (/^null$/i.test(t)) return null;
	if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
	if (/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$/.test(t)) {
		const d = new Date(t);
		if (!Number.isNaN(d.getTime())) return d;
	}
	throw new GraphError(400, 'BadRequest', `Invalid filter clause: syntax error at '${t}'.`);
}

// --- the server -------------------------------------------------------------------------------

interface Prefs {
	immutable: boolean;
	bodyType: 'html' | 'text';
	maxPageSize?: number;
	applied: string[];
}

interface Call {
	method: string;
	/** Path after /v1.0, as sent (for links). */
	path: string;
	segments: string[];
	query: URLSearchParams;
	headers: Record<string, string>;
	body: Buffer;
	principal: string;
	entry: GraphRequestLog;
	prefs: Prefs;
}

interface Answer {
	status: number;
	headers?: Record<string, string>;
	json?: unknown;
	raw?: { type: string; data: Buffer };
}

export class GraphServer {
	readonly requests: GraphRequestLog[] = [];
	readonly sent: GraphSentMessage[] = [];
	/** Messages created by mailFolder: importMime (beta), in order: mailbox, folder id, immutable id, the MIME as received. */
	readonly imported: Array<{ mailbox: string; folderId: string; id: string; raw: Buffer }> = [];
	private readonly mailboxes = new Map<string, Mailbox>();
	private readonly access = new Map<string, Set<string>>();
	private readonly messages = new Map<number, Message>();
	private readonly byRestId = new Map<string, number>();
	private readonly byImmutableId = new Map<string, number>();
	/** `${key}:${folderId}` -> change number when the message left that folder. */
	private readonly departures = new Map<string, number>();
	private readonly deltaStates = new Map<string, DeltaState>();
	private readonly searchTokens = new Map<string, { offset: number; scope: string }>();
	private deltaGeneration = 1;
	private changeNumber = 0;
	private nextKey = 1;
	private throttleLeft = 0;
	private throttleRetryAfter = 0;
	private throttleStatus = 429;

	private constructor(
		private readonly server: https.Server,
		private readonly options: GraphServerOptions,
	) {
		for (const address of options.mailboxes) this.mailboxes.set(address.toLowerCase(), this.newMailbox(address));
		for (const [principal, list] of Object.entries(options.access ?? {})) this.access.set(principal.toLowerCase(), new Set(list.map((a) => a.toLowerCase())));
	}

	static async start(options: GraphServerOptions): Promise<GraphServer> {
		const holder: { instance?: GraphServer } = {};
		const server = https.createServer({ key: options.tls.key, cert: options.tls.cert }, (req, res) => {
			holder.instance?.handle(req, res).catch((error: unknown) => {
				if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
				res.end(JSON.stringify({ error: { code: 'InternalServerError', message: String(error) } }));
			});
		});
		holder.instance = new GraphServer(server, options);
		closeWhenFileEnds('Microsoft Graph test server', server);
		await listenOnLoopback(server);
		return holder.instance;
	}

	get port(): number {
		return (this.server.address() as AddressInfo).port;
	}
	/** https://127.0.0.1:<port>/v1.0 */
	get url(): string {
		return `https://${LOOPBACK}:${this.port}/v1.0`;
	}

	// --- test API ---

	/** Puts a message into a folder (well-known name, folder id or display path such as 'Inbox/Projects'). */
	addMessage(mailbox: string, folder: string, raw: Buffer, opts: { isRead?: boolean; received?: Date; categories?: string[]; flagged?: boolean } = {}): { id: string; immutableId: string } {
		const mbx = this.mailboxOrThrow(mailbox);
		const target = this.folderByRef(mbx, folder);
		const received = opts.received ?? new Date(Math.floor(Date.now() / 1000) * 1000);
		const message = this.store(mbx, target, Buffer.from(raw), { isRead: opts.isRead ?? false, categories: [...(opts.categories ?? [])], flagStatus: opts.flagged ? 'flagged' : 'notFlagged', received });
		return { id: message.restId, immutableId: message.immutableId };
	}

	/** The messages in a folder, oldest first. */
	folderMessages(mailbox: string, folder: string): GraphFolderMessage[] {
		const mbx = this.mailboxOrThrow(mailbox);
		const target = this.folderByRef(mbx, folder);
		return this.inFolder(target.id).map((m) => ({
			id: m.restId,
			immutableId: m.immutableId,
			isRead: m.isRead,
			categories: [...m.categories],
			flagStatus: m.flagStatus,
			received: m.received,
			internetMessageId: m.internetMessageId,
			raw: m.raw,
		}));
	}

	/** Creates a folder under `parent` (well-known name, id or display path); returns its id. */
	createFolder(mailbox: string, parent: string, displayName: string, opts: { isHidden?: boolean } = {}): string {
		const mbx = this.mailboxOrThrow(mailbox);
		return this.makeFolder(mbx, this.folderByRef(mbx, parent), displayName, opts.isHidden ?? false).id;
	}

	/** Removes a folder, its subfolders and their messages for good. */
	deleteFolder(mailbox: string, folder: string): void {
		const mbx = this.mailboxOrThrow(mailbox);
		this.removeFolder(mbx, this.folderByRef(mbx, folder));
	}

	/** The next `count` authenticated requests answer `status` (429 TooManyRequests or 503 ServiceUnavailable) with Retry-After. */
	throttle(count: number, retryAfterSeconds: number, status: 429 | 503 = 429): void {
		this.throttleLeft = count;
		this.throttleRetryAfter = retryAfterSeconds;
		this.throttleStatus = status;
	}

	/** Every delta and skip token given out so far answers 410 SyncStateNotFound from now on. */
	expireDeltaTokens(): void {
		// kept, of an older generation: they answer 410 with the Location of their round's first request
		this.deltaGeneration++;
	}

	/** The mailbox settings as the server holds them (a copy). */
	mailboxSettings(mailbox: string): MailboxSettings {
		return structuredClone(this.mailboxOrThrow(mailbox).settings);
	}

	/** All requests, inner $batch requests included, in order. */
	get allRequests(): GraphRequestLog[] {
		return this.requests.flatMap((r) => [r, ...(r.batch ?? [])]);
	}

	stop(): Promise<void> {
		return new Promise((resolve) => {
			this.server.closeAllConnections();
			this.server.close(() => resolve());
		});
	}

	// --- store helpers ---

	private newMailbox(address: string): Mailbox {
		const mbx: Mailbox = { address, userId: userGuid(address), folders: new Map(), settings: undefined as unknown as MailboxSettings };
		const byName = new Map<string, Folder>();
		for (const w of WELL_KNOWN) {
			const folder: Folder = { id: this.newId('F', mbx), displayName: w.displayName, parentId: w.parent ? byName.get(w.parent)?.id : undefined, wellKnown: w.name, isHidden: w.hidden ?? false };
			byName.set(w.name, folder);
			mbx.folders.set(folder.id, folder);
		}
		const day = new Date();
		day.setUTCHours(0, 0, 0, 0);
		const at = (d: Date) => ({ dateTime: d.toISOString().replace('Z', '').replace(/\.(\d{3})$/, '.$10000'), timeZone: 'UTC' });
		mbx.settings = {
			archiveFolder: byName.get('archive')!.id,
			timeZone: 'UTC',
			automaticRepliesSetting: {
				status: 'disabled',
				externalAudience: 'all',
				internalReplyMessage: '',
				externalReplyMessage: '',
				scheduledStartDateTime: at(new Date(day.getTime() + 86_400_000)),
				scheduledEndDateTime: at(new Date(day.getTime() + 2 * 86_400_000)),
			},
			language: { locale: 'en-US', displayName: 'English (United States)' },
			dateFormat: 'M/d/yyyy',
			timeFormat: 'h:mm tt',
			delegateMeetingMessageDeliveryOptions: 'sendToDelegateOnly',
			userPurpose: 'user',
			workingHours: {
				daysOfWeek: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday'],
				startTime: '08:00:00.0000000',
				endTime: '17:00:00.0000000',
				timeZone: { name: 'UTC' },
			},
		};
		return mbx;
	}

	private idCounter = 1;
	private newId(kind: 'F' | 'M' | 'I', mbx: { address: string }): string {
		return encodeId(`${kind}:${mbx.address.toLowerCase()}:${this.idCounter++}:${crypto.randomBytes(6).toString('hex')}`);
	}

	/** The kind and mailbox an id names, or undefined when it does not decode. */
	private parseId(id: string): { kind: string; mailbox: string } | undefined {
		const text = decodeId(id);
		const parts = text?.split(':');
		if (!parts || parts.length !== 4 || !['F', 'M', 'I'].includes(parts[0]) || !/^\d+$/.test(parts[2])) return undefined;
		return { kind: parts[0], mailbox: parts[1] };
	}

	private mailboxOrThrow(address: string): Mailbox {
		const mbx = this.mailboxes.get(address.toLowerCase());
		if (!mbx) throw new Error(`no mailbox ${address} (known: ${[...this.mailboxes.keys()].join(', ')})`);
		return mbx;
	}

	private wellKnown(mbx: Mailbox, name: string): Folder | undefined {
		for (const f of mbx.folders.values()) if (f.wellKnown === name.toLowerCase()) return f;
		return undefined;
	}

	private folderByRef(mbx: Mailbox, ref: string): Folder {
		const found = this.wellKnown(mbx, ref) ?? mbx.folders.get(ref) ?? this.folderByPath(mbx, ref);
		if (!found) throw new Error(`no folder ${ref} in ${mbx.address}`);
		return found;
	}

	private folderByPath(mbx: Mailbox, ref: string): Folder | undefined {
		let at = this.wellKnown(mbx, 'msgfolderroot');
		for (const part of ref.split('/').filter(Boolean)) {
			at = this.children(mbx, at!.id).find((f) => f.displayName.toLowerCase() === part.toLowerCase());
			if (!at) return undefined;
		}
		return at;
	}

	private children(mbx: Mailbox, parentId: string): Folder[] {
		return [...mbx.folders.values()].filter((f) => f.parentId === parentId);
	}

	private makeFolder(mbx: Mailbox, parent: Folder, displayName: string, isHidden: boolean): Folder {
		if (this.children(mbx, parent.id).some((f) => f.displayName.toLowerCase() === displayName.toLowerCase())) throw new GraphError(409, 'ErrorFolderExists');
		const folder: Folder = { id: this.newId('F', mbx), displayName, parentId: parent.id, isHidden };
		mbx.folders.set(folder.id, folder);
		return folder;
	}

	private removeFolder(mbx: Mailbox, folder: Folder): void {
		for (const child of this.children(mbx, folder.id)) this.removeFolder(mbx, child);
		for (const m of this.inFolder(folder.id)) this.destroy(m);
		mbx.folders.delete(folder.id);
	}

	private inFolder(folderId: string): Message[] {
		return [...this.messages.values()].filter((m) => m.folderId === folderId);
	}

	private store(mbx: Mailbox, folder: Folder, raw: Buffer, state: Pick<Message, 'isRead' | 'categories' | 'flagStatus' | 'received'>): Message {
		const now = new Date(Math.floor(Date.now() / 1000) * 1000);
		const message: Message = {
			key: this.nextKey++,
			mailbox: mbx.address,
			restId: this.newId('M', mbx),
			immutableId: this.newId('I', mbx),
			folderId: folder.id,
			raw,
			parsed: parseMime(raw),
			...state,
			created: state.received < now ? state.received : now,
			modified: now,
			version: 1,
			changeNumber: ++this.changeNumber,
			internetMessageId: /^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)$/im.exec(raw.toString('latin1').split(/\r?\n\r?\n/)[0])?.[1].trim() ?? '',
		};
		void message.parsed.then((p) => (message.ready = p));
		this.messages.set(message.key, message);
		this.byRestId.set(message.restId, message.key);
		this.byImmutableId.set(message.immutableId, message.key);
		return message;
	}

	private touch(m: Message): void {
		m.version++;
		m.modified = new Date(Math.floor(Date.now() / 1000) * 1000);
		m.changeNumber = ++this.changeNumber;
	}

	/** A move: a new REST id (Exchange's behaviour), the same immutable id. */
	private moveMessage(m: Message, to: Folder): void {
		if (m.folderId === to.id) return;
		this.departures.set(`${m.key}:${m.folderId}`, this.changeNumber + 1);
		this.byRestId.delete(m.restId);
		m.restId = this.newId('M', { address: m.mailbox });
		this.byRestId.set(m.restId, m.key);
		m.folderId = to.id;
		this.touch(m);
	}

	private destroy(m: Message): void {
		this.departures.set(`${m.key}:${m.folderId}`, ++this.changeNumber);
		this.messages.delete(m.key);
		this.byRestId.delete(m.restId);
		this.byImmutableId.delete(m.immutableId);
	}

	private ownMailbox(principal: string): Mailbox | undefined {
		const p = principal.toLowerCase();
		const exact = this.mailboxes.get(p);
		if (exact) return exact;
		if (p.includes('@')) return undefined;
		for (const mbx of this.mailboxes.values()) if (mbx.address.toLowerCase().split('@')[0] === p) return mbx;
		return undefined;
	}

	private mayOpen(principal: string, mbx: Mailbox): boolean {
		if (this.ownMailbox(principal) === mbx) return true;
		return this.access.get(principal.toLowerCase())?.has(mbx.address.toLowerCase()) ?? false;
	}

	// --- HTTP ---

	private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
		const chunks: Buffer[] = [];
		for await (const chunk of req) chunks.push(chunk as Buffer);
		const body = Buffer.concat(chunks);
		const url = new URL(req.url ?? '/', 'https://localhost');
		const headers: Record<string, string> = {};
		for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k.toLowerCase()] = headerValue(v) ?? '';
		const entry = this.logEntry(req.method ?? 'GET', url, headers, body);
		this.requests.push(entry);
		const requestId = crypto.randomUUID();
		const gzip = /\bgzip\b/i.test(headers['accept-encoding'] ?? '');

		let answer: Answer;
		try {
			answer = await this.serve(req.method ?? 'GET', url, headers, body, entry);
		} catch (error) {
			if (!(error instanceof GraphError)) throw error;
			answer = this.errorAnswer(error, requestId, headers['client-request-id']);
		}
		entry.status = answer.status;
		const out: Record<string, string> = { 'request-id': requestId, 'client-request-id': headers['client-request-id'] ?? requestId, 'cache-control': 'no-cache', ...answer.headers };
		let payload: Buffer | undefined;
		if (answer.json !== undefined) {
			out['content-type'] = 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';
			out['odata-version'] = '4.0';
			payload = Buffer.from(JSON.stringify(answer.json), 'utf8');
		} else if (answer.raw) {
			out['content-type'] = answer.raw.type;
			payload = answer.raw.data;
		}
		if (payload && gzip) {
			out['content-encoding'] = 'gzip';
			payload = zlib.gzipSync(payload);
		}
		res.writeHead(answer.status, out);
		res.end(payload);
	}

	private logEntry(method: string, url: URL, headers: Record<string, string>, body: Buffer): GraphRequestLog {
		const authorization = headers.authorization;
		return {
			method,
			path: url.pathname,
			query: Object.fromEntries(url.searchParams),
			authorization: !authorization ? 'none' : /^bearer\s/i.test(authorization) ? 'bearer' : 'other',
			prefer: headers.prefer,
			consistencyLevel: headers.consistencylevel,
			clientRequestId: headers['client-request-id'],
			contentType: headers['content-type'],
			body: body.toString('utf8'),
			status: 0,
		};
	}

	private errorAnswer(error: GraphError, requestId: string, clientRequestId: string | undefined, entry?: GraphRequestLog): Answer {
		if (entry) entry.errorCode = error.code;
		return {
			status: error.status,
			headers: error.headers,
			json: { error: { code: error.code, message: error.message, innerError: { date: isoSeconds(new Date()).replace('Z', ''), 'request-id': requestId, 'client-request-id': clientRequestId ?? requestId } } },
		};
	}

	/** Authenticates, then answers a $batch or one request. */
	private async serve(method: string, url: URL, headers: Record<string, string>, body: Buffer, entry: GraphRequestLog): Promise<Answer> {
		const fail = (error: GraphError): never => {
			entry.errorCode = error.code;
			throw error;
		};
		const version = /^\/([^/]+)/.exec(url.pathname)?.[1] ?? '';
		if (version !== 'v1.0' && version !== 'beta') fail(new GraphError(400, 'BadRequest', `Invalid version: ${version}`));
		// beta: only mailFolder: importMime (POST .../mailFolders/{id}/importMime)
		if (version === 'beta' && !/^\/beta\/(me|users\/[^/]+)\/mailFolders\/[^/]+\/(microsoft\.graph\.)?importMime$/.test(url.pathname)) {
			fail(new GraphError(400, 'BadRequest', `This test endpoint serves only mailFolder: importMime under /beta, not ${url.pathname}.`));
		}

		const principal = this.authenticate(headers.authorization, fail);
		entry.principal = principal;
		const rest = url.pathname.slice(`/${version}`.length);
		if (rest === '/$batch') {
			if (method !== 'POST') fail(methodNotAllowed(['POST']));
			return this.batch(body, headers, principal, entry, fail);
		}
		return this.one(method, rest, url.searchParams, headers, body, principal, entry);
	}

	private authenticate(authorization: string | undefined, fail: (e: GraphError) => never): string {
		const challenge = { 'WWW-Authenticate': 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"' };
		const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
		if (!token) return fail(new GraphError(401, 'InvalidAuthenticationToken', 'Access token is empty.', challenge));
		const info = this.options.tokenInfo(token);
		if (!info) return fail(new GraphError(401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.', challenge));
		if (info.audience !== undefined && !GRAPH_AUDIENCES.includes(info.audience.toLowerCase())) {
			return fail(new GraphError(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.', challenge));
		}
		return info.user;
	}

	/** One request (top level, or inside a $batch), after authentication. */
	private async one(method: string, rest: string, query: URLSearchParams, headers: Record<string, string>, body: Buffer, principal: string, entry: GraphRequestLog): Promise<Answer> {
		try {
			if (this.throttleLeft > 0) {
				this.throttleLeft--;
				const code = this.throttleStatus === 503 ? 'ServiceUnavailable' : 'TooManyRequests';
				throw new GraphError(this.throttleStatus, code, TEXT[code], { 'Retry-After': String(this.throttleRetryAfter) });
			}
			const call: Call = { method, path: rest, segments: splitPath(rest), query, headers, body, principal, entry, prefs: readPrefer(headers.prefer) };
			const answer = await this.route(call);
			if (call.prefs.applied.length) answer.headers = { ...answer.headers, 'Preference-Applied': call.prefs.applied.join(', ') };
			return answer;
		} catch (error) {
			if (error instanceof GraphError) entry.errorCode = error.code;
			throw error;
		}
	}

	// --- $batch ---

	private async batch(body: Buffer, headers: Record<string, string>, principal: string, entry: GraphRequestLog, fail: (e: GraphError) => never): Promise<Answer> {
		let payload: unknown;
		try {
			payload = JSON.parse(body.toString('utf8'));
		} catch {
			return fail(new GraphError(400, 'BadRequest', TEXT.InvalidJson));
		}
		const requests = (payload as { requests?: unknown })?.requests;
		if (!Array.isArray(requests)) return fail(new GraphError(400, 'BadRequest', 'Invalid batch payload format.'));
		if (requests.length > 20) return fail(new GraphError(400, 'BadRequest', 'The number of requests in a batch exceeds the limit of 20.'));
		const ids = new Set<string>();
		for (const r of requests as Array<Record<string, unknown>>) {
			if (typeof r?.id !== 'string' || !r.id || typeof r.method !== 'string' || typeof r.url !== 'string') return fail(new GraphError(400, 'BadRequest', 'Invalid batch payload format.'));
			if (ids.has(r.id.toLowerCase())) return fail(new GraphError(400, 'BadRequest', `Batch request contains a duplicate id '${r.id}'.`));
			ids.add(r.id.toLowerCase());
		}
		for (const r of requests as Array<Record<string, unknown>>) {
			for (const dep of (r.dependsOn as unknown[] | undefined) ?? []) if (typeof dep !== 'string' || !ids.has(dep.toLowerCase())) return fail(new GraphError(400, 'BadRequest', `Batch request '${String(r.id)}' depends on an unknown request '${String(dep)}'.`));
		}
		entry.batch = [];
		const results = new Map<string, { status: number; headers: Record<string, string>; body?: unknown }>();
		const pending = [...(requests as Array<{ id: string; method: string; url: string; headers?: Record<string, string>; body?: unknown; dependsOn?: string[] }>)];
		// Run in order; a request waits for its dependencies (they come earlier once sorted).
		const order: typeof pending = [];
		const placed = new Set<string>();
		while (pending.length) {
			const next = pending.findIndex((r) => (r.dependsOn ?? []).every((d) => placed.has(d.toLowerCase())));
			if (next === -1) return fail(new GraphError(400, 'BadRequest', 'Batch request dependencies form a cycle.'));
			const [r] = pending.splice(next, 1);
			order.push(r);
			placed.add(r.id.toLowerCase());
		}
		for (const r of order) {
			const innerHeaders: Record<string, string> = {};
			for (const [k, v] of Object.entries(r.headers ?? {})) innerHeaders[k.toLowerCase()] = String(v);
			const relative = r.url.startsWith('/') ? r.url : `/${r.url}`;
			const innerUrl = new URL(relative, 'https://localhost');
			const innerBody = r.body === undefined ? Buffer.alloc(0) : typeof r.body === 'string' ? Buffer.from(r.body, 'utf8') : Buffer.from(JSON.stringify(r.body), 'utf8');
			const innerEntry = { ...this.logEntry(r.method.toUpperCase(), innerUrl, innerHeaders, innerBody), authorization: entry.authorization, principal, batchId: r.id };
			entry.batch.push(innerEntry);
			const requestId = crypto.randomUUID();
			let answer: Answer;
			const failed = (r.dependsOn ?? []).find((d) => (results.get(d.toLowerCase())?.status ?? 200) >= 400);
			if (failed !== undefined) {
				answer = this.errorAnswer(new GraphError(424, 'FailedDependency', `The request depends on request '${failed}', which failed.`), requestId, headers['client-request-id'], innerEntry);
			} else if (r.body !== undefined && !innerHeaders['content-type']) {
				answer = this.errorAnswer(new GraphError(400, 'BadRequest', 'A Content-Type header is required for a request with a body.'), requestId, headers['client-request-id'], innerEntry);
			} else {
				try {
					answer = await this.one(r.method.toUpperCase(), innerUrl.pathname, innerUrl.searchParams, innerHeaders, innerBody, principal, innerEntry);
				} catch (error) {
					if (!(error instanceof GraphError)) throw error;
					answer = this.errorAnswer(error, requestId, headers['client-request-id'], innerEntry);
				}
			}
			innerEntry.status = answer.status;
			const outHeaders: Record<string, string> = { 'Cache-Control': 'no-cache', ...answer.headers };
			let outBody: unknown;
			if (answer.json !== undefined) {
				outHeaders['Content-Type'] = 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';
				outHeaders['OData-Version'] = '4.0';
				outBody = answer.json;
			} else if (answer.raw) {
				outHeaders['Content-Type'] = answer.raw.type;
				outBody = answer.raw.data.toString('base64');
			}
			results.set(r.id.toLowerCase(), { status: answer.status, headers: outHeaders, body: outBody });
		}
		return {
			status: 200,
			json: {
				responses: order.map((r) => {
					const result = results.get(r.id.toLowerCase())!;
					return result.body === undefined ? { id: r.id, status: result.status, headers: result.headers } : { id: r.id, status: result.status, headers: result.headers, body: result.body };
				}),
			},
		};
	}

	// --- routing ---

	private async route(call: Call): Promise<Answer> {
		const s = call.segments;
		let mbx: Mailbox;
		let root: string;
		if (s[0] === 'me') {
			const own = this.ownMailbox(call.principal);
			if (!own) throw new GraphError(400, 'BadRequest', '/me request is only valid with delegated authentication flow.');
			mbx = own;
			root = 'me';
			s.shift();
		} else if (s[0] === 'users' && s.length >= 2) {
			const who = s[1];
			const found = this.mailboxes.get(who.toLowerCase()) ?? [...this.mailboxes.values()].find((m) => m.userId === who.toLowerCase());
			if (!found) throw new GraphError(404, 'ErrorInvalidUser', `The requested user '${who}' is invalid.`);
			if (!this.mayOpen(call.principal, found)) throw new GraphError(403, 'ErrorAccessDenied');
			mbx = found;
			root = `users/${who}`;
			s.splice(0, 2);
		} else {
			throw segmentNotFound(s[0] ?? '');
		}
		call.entry.mailbox = mbx.address;
		const m = call.method;
		const allow = (...methods: string[]) => {
			if (!methods.includes(m)) throw methodNotAllowed(methods);
		};

		if (s.length === 0) {
			allow('GET');
			return { status: 200, json: { '@odata.context': `${this.url}/$metadata#users/$entity`, id: mbx.userId, displayName: mbx.address.split('@')[0], mail: mbx.address, userPrincipalName: mbx.address } };
		}
		const [a, b, c, d] = s.slice(0, 4) as string[];
		if (a === 'mailFolders') {
			if (s.length === 1) {
				allow('GET', 'POST');
				const parent = this.wellKnown(mbx, 'msgfolderroot')!;
				return m === 'GET' ? this.listFolders(call, mbx, parent, `users('${mbx.address}')/mailFolders`) : this.postFolder(call, mbx, parent);
			}
			const folder = this.resolveFolder(mbx, b);
			if (s.length === 2) {
				allow('GET', 'PATCH', 'DELETE');
				if (m === 'GET') return this.getFolder(call, mbx, folder);
				if (m === 'PATCH') return this.patchFolder(call, mbx, folder);
				return this.deleteFolderRequest(mbx, folder);
			}
			if (c === 'childFolders') {
				if (s.length === 3) {
					allow('GET', 'POST');
					return m === 'GET' ? this.listFolders(call, mbx, folder, `users('${mbx.address}')/mailFolders('${folder.id}')/childFolders`) : this.postFolder(call, mbx, folder);
				}
				if (s.length === 4) {
					allow('GET');
					const child = this.resolveFolder(mbx, d);
					if (child.parentId !== folder.id) throw notFound();
					return this.getFolder(call, mbx, child);
				}
			}
			if (s.length === 3 && (c === 'importMime' || c === 'microsoft.graph.importMime')) {
				allow('POST');
				return this.importMime(call, mbx, folder);
			}
			if (c === 'messages') {
				if (s.length === 3) {
					allow('GET');
					return this.listMessages(call, mbx, folder, `users('${mbx.address}')/mailFolders('${folder.id}')/messages`);
				}
				if (s.length === 4 && d === '$count') {
					allow('GET');
					return this.countMessages(call, mbx, folder);
				}
				if (s.length === 4 && (d === 'delta' || d === 'microsoft.graph.delta')) {
					allow('GET');
					return this.delta(call, mbx, folder, root);
				}
				return this.messageRoute(call, mbx, s.slice(3), allow);
			}
			throw segmentNotFound(c);
		}
		if (a === 'messages') {
			if (s.length === 1) {
				allow('GET');
				return this.listMessages(call, mbx, undefined, `users('${mbx.address}')/messages`);
			}
			if (s.length === 2 && b === '$count') {
				allow('GET');
				return this.countMessages(call, mbx, undefined);
			}
			return this.messageRoute(call, mbx, s.slice(1), allow);
		}
		if (a === 'sendMail' && s.length === 1) {
			allow('POST');
			return this.sendMail(call, mbx);
		}
		if (a === 'mailboxSettings') {
			if (s.length === 1) {
				allow('GET', 'PATCH');
				return m === 'GET' ? this.getSettings(call, mbx) : this.patchSettings(call, mbx);
			}
			if (s.length === 2 && b === 'automaticRepliesSetting') {
				allow('GET');
				return { status: 200, json: { '@odata.context': `${this.url}/$metadata#users('${mbx.address}')/mailboxSettings/automaticRepliesSetting`, ...structuredClone(mbx.settings.automaticRepliesSetting) } };
			}
			throw segmentNotFound(b);
		}
		throw segmentNotFound(a);
	}

	private messageRoute(call: Call, mbx: Mailbox, s: string[], allow: (...methods: string[]) => void): Promise<Answer> | Answer {
		const message = this.resolveMessage(mbx, s[0]);
		if (s.length === 1) {
			allow('GET', 'PATCH', 'DELETE');
			if (call.method === 'GET') return this.getMessage(call, mbx, message);
			if (call.method === 'PATCH') return this.patchMessage(call, mbx, message);
			const deleted = this.wellKnown(mbx, 'deleteditems')!;
			if (message.folderId === deleted.id) this.destroy(message);
			else this.moveMessage(message, deleted);
			return { status: 204 };
		}
		const action = s[1].replace(/^microsoft\.graph\./, '');
		if (s.length === 2 && action === '$value') {
			allow('GET');
			return { status: 200, raw: { type: 'text/plain', data: message.raw } };
		}
		if (s.length === 2 && (action === 'move' || action === 'copy')) {
			allow('POST');
			return this.moveOrCopy(call, mbx, message, action);
		}
		if (s.length === 2 && action === 'permanentDelete') {
			allow('POST');
			this.destroy(message);
			return { status: 204 };
		}
		throw segmentNotFound(s[1]);
	}

	private resolveFolder(mbx: Mailbox, ref: string): Folder {
		if (ADDRESSABLE.has(ref.toLowerCase())) return this.wellKnown(mbx, ref)!;
		const parsed = this.parseId(ref);
		if (!parsed || parsed.kind !== 'F') throw malformed();
		const folder = mbx.folders.get(ref);
		if (!folder || parsed.mailbox !== mbx.address.toLowerCase()) throw notFound();
		return folder;
	}

	private resolveMessage(mbx: Mailbox, id: string): Message {
		const parsed = this.parseId(id);
		if (!parsed || parsed.kind === 'F') throw malformed();
		const key = parsed.kind === 'I' ? this.byImmutableId.get(id) : this.byRestId.get(id);
		const message = key === undefined ? undefined : this.messages.get(key);
		if (!message || message.mailbox !== mbx.address) throw notFound();
		return message;
	}

	private readJson(call: Call): Record<string, unknown> {
		let value: unknown;
		try {
			value = JSON.parse(call.body.toString('utf8') || 'null');
		} catch {
			throw new GraphError(400, 'BadRequest', TEXT.InvalidJson);
		}
		if (value === null) throw new GraphError(400, 'BadRequest', 'Empty Payload. JSON content expected.');
		if (typeof value !== 'object' || Array.isArray(value)) throw new GraphError(400, 'BadRequest', TEXT.InvalidJson);
		return value as Record<string, unknown>;
	}

	// --- paging helpers ---

	private link(call: Call, params: Record<string, string | undefined>): string {
		const q = new URLSearchParams(call.query);
		for (const [k, v] of Object.entries(params)) {
			if (v === undefined) q.delete(k);
			else q.set(k, v);
		}
		const query = [...q].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
		return `${this.url}${call.path}${query ? `?${query}` : ''}`;
	}

	private pageSize(call: Call): number {
		const top = call.query.get('$top');
		if (top === null) return 10;
		if (!/^\d+$/.test(top)) throw new GraphError(400, 'BadRequest', `Invalid value '${top}' for $top query option found.`);
		return Math.min(1000, Math.max(1, Number(top)));
	}

	private skip(call: Call): number {
		const skip = call.query.get('$skip');
		if (skip === null) return 0;
		if (!/^\d+$/.test(skip)) throw new GraphError(400, 'BadRequest', `Invalid value '${skip}' for $skip query option found.`);
		return Number(skip);
	}

	private select(call: Call, known: string[], type: string): string[] | undefined {
		const raw = call.query.get('$select');
		if (raw === null || raw.trim() === '') return undefined;
		return raw.split(',').map((p) => {
			const name = p.trim();
			const canonical = known.find((k) => k.toLowerCase() === name.toLowerCase());
			if (!canonical && name.toLowerCase() !== 'id') throw parseUri(name, type);
			return canonical ?? 'id';
		});
	}

	// --- folders ---

	private folderJson(mbx: Mailbox, folder: Folder, select?: string[]): Record<string, unknown> {
		const messages = this.inFolder(folder.id);
		const full: Record<string, unknown> = {
			id: folder.id,
			displayName: folder.displayName,
			parentFolderId: folder.parentId ?? null,
			childFolderCount: this.children(mbx, folder.id).length,
			unreadItemCount: messages.filter((m) => !m.isRead).length,
			totalItemCount: messages.length,
			sizeInBytes: messages.reduce((n, m) => n + m.raw.length, 0),
			isHidden: folder.isHidden,
		};
		if (!select) return full;
		const out: Record<string, unknown> = { id: folder.id };
		for (const p of select) out[p] = full[p];
		return out;
	}

	private getFolder(call: Call, mbx: Mailbox, folder: Folder): Answer {
		const select = this.select(call, FOLDER_PROPERTIES, 'mailFolder');
		return { status: 200, json: { '@odata.context': `${this.url}/$metadata#users('${mbx.address}')/mailFolders${select ? `(${select.join(',')})` : ''}/$entity`, ...this.folderJson(mbx, folder, select) } };
	}

	private listFolders(call: Call, mbx: Mailbox, parent: Folder, context: string): Answer {
		const select = this.select(call, FOLDER_PROPERTIES, 'mailFolder');
		let folders = this.children(mbx, parent.id);
		if (call.query.get('includeHiddenFolders') !== 'true') folders = folders.filter((f) => !f.isHidden);
		const filter = call.query.get('$filter');
		if (filter) {
			const eq = /^displayName\s+eq\s+'((?:[^']|'')*)'$/i.exec(filter.trim());
			const starts = /^startswith\(displayName\s*,\s*'((?:[^']|'')*)'\)$/i.exec(filter.trim());
			if (eq) folders = folders.filter((f) => f.displayName.toLowerCase() === eq[1].replace(/''/g, "'").toLowerCase());
			else if (starts) folders = folders.filter((f) => f.displayName.toLowerCase().startsWith(starts[1].replace(/''/g, "'").toLowerCase()));
			else throw new GraphError(400, 'BadRequest', `Invalid filter clause: '${filter}' is not supported on mailFolder here.`);
		}
		const top = this.pageSize(call);
		const skip = this.skip(call);
		const page = folders.slice(skip, skip + top);
		const json: Record<string, unknown> = { '@odata.context': `${this.url}/$metadata#${context}${select ? `(${select.join(',')})` : ''}` };
		if (call.query.get('$count') === 'true') json['@odata.count'] = folders.length;
		if (skip + top < folders.length) json['@odata.nextLink'] = this.link(call, { $skip: String(skip + top) });
		json.value = page.map((f) => this.folderJson(mbx, f, select));
		return { status: 200, json };
	}

	private postFolder(call: Call, mbx: Mailbox, parent: Folder): Answer {
		const body = this.readJson(call);
		for (const k of Object.keys(body)) if (k !== 'displayName' && k !== 'isHidden' && !k.startsWith('@odata.')) throw noSuchProperty(k, 'mailFolder');
		if (typeof body.displayName !== 'string' || !body.displayName.trim()) throw new GraphError(400, 'ErrorInvalidParameter', "The value of the parameter 'DisplayName' is empty.");
		if (body.isHidden !== undefined && typeof body.isHidden !== 'boolean') throw bodyRead(`Cannot convert the literal '${String(body.isHidden)}' to the expected type 'Edm.Boolean'.`);
		const folder = this.makeFolder(mbx, parent, body.displayName, body.isHidden === true);
		return { status: 201, headers: { Location: `${this.url}/users('${mbx.address}')/mailFolders('${folder.id}')` }, json: { '@odata.context': `${this.url}/$metadata#users('${mbx.address}')/mailFolders/$entity`, ...this.folderJson(mbx, folder) } };
	}

	private patchFolder(call: Call, mbx: Mailbox, folder: Folder): Answer {
		const body = this.readJson(call);
		for (const k of Object.keys(body)) if (k !== 'displayName' && !k.startsWith('@odata.')) throw noSuchProperty(k, 'mailFolder');
		if (body.displayName !== undefined) {
			if (typeof body.displayName !== 'string' || !body.displayName.trim()) throw new GraphError(400, 'ErrorInvalidParameter', "The value of the parameter 'DisplayName' is empty.");
			const name = body.displayName;
			if (folder.parentId && this.children(mbx, folder.parentId).some((f) => f !== folder && f.displayName.toLowerCase() === name.toLowerCase())) throw new GraphError(409, 'ErrorFolderExists');
			folder.displayName = name;
		}
		return { status: 200, json: { '@odata.context': `${this.url}/$metadata#users('${mbx.address}')/mailFolders/$entity`, ...this.folderJson(mbx, folder) } };
	}

	private deleteFolderRequest(mbx: Mailbox, folder: Folder): Answer {
		if (folder.wellKnown) throw new GraphError(400, 'ErrorDeleteDistinguishedFolder');
		const deleted = this.wellKnown(mbx, 'deleteditems')!;
		let inDeleted = false;
		for (let at: Folder | undefined = folder; at; at = at.parentId ? mbx.folders.get(at.parentId) : undefined) if (at.parentId === deleted.id) inDeleted = true;
		if (inDeleted) this.removeFolder(mbx, folder);
		else {
			let name = folder.displayName;
			for (let n = 1; this.children(mbx, deleted.id).some((f) => f.displayName.toLowerCase() === name.toLowerCase()); n++) name = `${folder.displayName} ${n}`;
			folder.displayName = name;
			folder.parentId = deleted.id;
		}
		return { status: 204 };
	}

	// --- messages ---

	private async ready(messages: Message[]): Promise<void> {
		await Promise.all(messages.map((m) => m.parsed));
	}

	private async messageJson(m: Message, prefs: Prefs, select?: string[]): Promise<Record<string, unknown>> {
		const p = await m.parsed;
		const id = prefs.immutable ? m.immutableId : m.restId;
		const body = prefs.bodyType === 'text' ? { contentType: 'text', content: p.text } : { contentType: 'html', content: p.html ?? `<html><head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body><div>${escapeHtml(p.text).replace(/\r?\n/g, '<br>\r\n')}</div></body></html>` };
		const value = (name: string): unknown => {
			switch (name) {
				case 'createdDateTime':
					return isoSeconds(m.created);
				case 'lastModifiedDateTime':
					return isoSeconds(m.modified);
				case 'changeKey':
					return changeKey(m.version);
				case 'categories':
					return [...m.categories];
				case 'receivedDateTime':
					return isoSeconds(m.received);
				case 'sentDateTime':
					return isoSeconds(p.sent ?? m.received);
				case 'hasAttachments':
					return p.hasAttachments;
				case 'internetMessageId':
					return p.messageId || m.internetMessageId;
				case 'subject':
					return p.subject;
				case 'bodyPreview':
					return p.text.trim().slice(0, 255);
				case 'importance':
					return p.importance;
				case 'parentFolderId':
					return m.folderId;
				case 'conversationId':
					return p.conversationId;
				case 'conversationIndex':
					return Buffer.from(p.conversationId).toString('base64').slice(0, 30);
				case 'isDeliveryReceiptRequested':
				case 'isReadReceiptRequested':
				case 'isDraft':
					return false;
				case 'isRead':
					return m.isRead;
				case 'webLink':
					return `https://outlook.office365.com/owa/?ItemID=${encodeURIComponent(id)}&exvsurl=1&viewmodel=ReadMessageItem`;
				case 'inferenceClassification':
					return 'focused';
				case 'body':
				case 'uniqueBody':
					return { ...body };
				case 'sender':
					return p.sender ? recipient(p.sender) : null;
				case 'from':
					return p.from ? recipient(p.from) : null;
				case 'toRecipients':
					return p.to.map(recipient);
				case 'ccRecipients':
					return p.cc.map(recipient);
				case 'bccRecipients':
					return p.bcc.map(recipient);
				case 'replyTo':
					return p.replyTo.map(recipient);
				case 'flag':
					return { flagStatus: m.flagStatus };
				case 'internetMessageHeaders':
					return p.headers.map((h) => ({ ...h }));
				default:
					return undefined;
			}
		};
		const out: Record<string, unknown> = { '@odata.etag': `W/"${changeKey(m.version)}"`, id };
		for (const name of select ?? MESSAGE_PROPERTIES) if (name !== 'id') out[name] = value(name);
		return out;
	}

	private messageSelect(call: Call): string[] | undefined {
		return this.select(call, [...MESSAGE_PROPERTIES, ...MESSAGE_EXTRA], 'message');
	}

	private async getMessage(call: Call, mbx: Mailbox, m: Message): Promise<Answer> {
		const select = this.messageSelect(call);
		this.applyBodyPref(call, select);
		this.applyIdPref(call);
		const json: Record<string, unknown> = { '@odata.context': `${this.url}/$metadata#users('${mbx.address}')/messages${select ? `(${select.join(',')})` : ''}/$entity`, ...(await this.messageJson(m, call.prefs, select)) };
		const expand = call.query.get('$expand');
		if (expand !== null && expand.trim() !== '') {
			// singleValueExtendedProperties($filter=id eq '<type> <tag>'): the MAPI properties asked for;
			// this endpoint knows PR_MESSAGE_SIZE (Integer 0x0E08), the size of the MIME content
			const m2 = /^singleValueExtendedProperties\(\$filter=id eq '([^']+)'\)$/i.exec(expand.trim());
			if (!m2) throw parseUri(expand.trim().replace(/\(.*$/, ''), 'message');
			const wanted = m2[1].trim().toLowerCase().replace(/\s+/g, ' ');
			json.singleValueExtendedProperties = wanted === 'integer 0x0e08' || wanted === 'integer 0xe08' ? [{ id: 'Integer 0xe08', value: String(m.raw.length) }] : [];
		}
		return { status: 200, json };
	}

	private applyBodyPref(call: Call, select?: string[]): void {
		if (!call.headers.prefer || !/outlook\.body-content-type/i.test(call.headers.prefer)) return;
		if (select && !select.includes('body') && !select.includes('uniqueBody')) return;
		call.prefs.applied.push(`outlook.body-content-type="${call.prefs.bodyType}"`);
	}

	private applyIdPref(call: Call): void {
		if (call.prefs.immutable && !call.prefs.applied.includes('IdType="ImmutableId"')) call.prefs.applied.push('IdType="ImmutableId"');
	}

	/** The messages a list or $count request selects, in order. */
	private async selectMessages(call: Call, mbx: Mailbox, folder: Folder | undefined): Promise<Message[]> {
		let list = folder ? this.inFolder(folder.id) : [...this.messages.values()].filter((m) => m.mailbox === mbx.address && mbx.folders.has(m.folderId));
		await this.ready(list);
		const search = call.query.get('$search');
		const orderby = call.query.get('$orderby');
		const filter = call.query.get('$filter');
		if (search !== null && orderby !== null) throw new GraphError(400, 'SearchWithOrderBy');
		if (filter) {
			const test = this.compileFilter(filter, orderby);
			list = list.filter((m) => test(m, m.ready!));
		}
		if (search !== null) list = list.filter((m) => matchesSearch(search, m.ready!));
		let sort: { field: 'received' | 'sent' | 'subject'; desc: boolean } = { field: 'received', desc: true };
		if (orderby) {
			const match = /^(receivedDateTime|sentDateTime|subject)(?:\s+(asc|desc))?$/i.exec(orderby.trim());
			if (!match) throw parseUri(orderby.trim().split(/\s+/)[0], 'message');
			sort = { field: match[1].toLowerCase().startsWith('received') ? 'received' : match[1].toLowerCase().startsWith('sent') ? 'sent' : 'subject', desc: (match[2] ?? 'asc').toLowerCase() === 'desc' };
		}
		const keyOf = (m: Message): number | string => (sort.field === 'received' ? m.received.getTime() : sort.field === 'sent' ? (m.ready!.sent ?? m.received).getTime() : m.ready!.subject.toLowerCase());
		list.sort((x, y) => {
			const a = keyOf(x);
			const b = keyOf(y);
			const c = a < b ? -1 : a > b ? 1 : x.key - y.key;
			return sort.desc ? -c : c;
		});
		return list;
	}

	private async listMessages(call: Call, mbx: Mailbox, folder: Folder | undefined, context: string): Promise<Answer> {
		const select = this.messageSelect(call);
		const list = await this.selectMessages(call, mbx, folder);
		const top = this.pageSize(call);
		const search = call.query.get('$search');
		let offset: number;
		let next: string | undefined;
		if (search !== null) {
			const scope = `${mbx.address}|${folder?.id ?? ''}|${search}`;
			const token = call.query.get('$skiptoken');
			if (token === null) offset = 0;
			else {
				const known = this.searchTokens.get(token);
				if (!known || known.scope !== scope) throw new GraphError(400, 'BadRequest', 'The $skiptoken is invalid.');
				offset = known.offset;
			}
			if (offset + top < list.length) {
				const nextToken = crypto.randomBytes(18).toString('base64url');
				this.searchTokens.set(nextToken, { offset: offset + top, scope });
				next = this.link(call, { $skiptoken: nextToken });
			}
		} else {
			offset = this.skip(call);
			if (offset + top < list.length) next = this.link(call, { $skip: String(offset + top) });
		}
		this.applyBodyPref(call, select);
		this.applyIdPref(call);
		const json: Record<string, unknown> = { '@odata.context': `${this.url}/$metadata#${context}${select ? `(${select.join(',')})` : ''}` };
		if (call.query.get('$count') === 'true') json['@odata.count'] = list.length;
		if (next) json['@odata.nextLink'] = next;
		json.value = await Promise.all(list.slice(offset, offset + top).map((m) => this.messageJson(m, call.prefs, select)));
		return { status: 200, json };
	}

	private async countMessages(call: Call, mbx: Mailbox, folder: Folder | undefined): Promise<Answer> {
		const list = await this.selectMessages(call, mbx, folder);
		return { status: 200, raw: { type: 'text/plain;charset=utf-8', data: Buffer.from(String(list.length)) } };
	}

	/** A $filter as a predicate; enforces the documented InefficientFilter rule with $orderby. */
	private compileFilter(filter: string, orderby: string | null): (m: Message, p: Parsed) => boolean {
		const branches = splitTop(filter.trim(), 'or').map((branch) => splitTop(branch, 'and').map((term) => compileTerm(term)));
		if (orderby) {
			const property = orderby.trim().split(/\s+/)[0].toLowerCase();
			const first = branches[0][0].property.toLowerCase();
			const present = branches.some((b) => b.some((t) => t.property.toLowerCase() === property));
			if (!present || first !== property) throw new GraphError(400, 'InefficientFilter');
		}
		return (m, p) => branches.some((terms) => terms.every((t) => t.test(m, p)));
	}

	private async patchMessage(call: Call, mbx: Mailbox, m: Message): Promise<Answer> {
		const body = this.readJson(call);
		const updates: Array<() => void> = [];
		for (const [k, v] of Object.entries(body)) {
			if (k.startsWith('@odata.')) continue;
			if (k === 'isRead') {
				if (typeof v !== 'boolean') throw bodyRead(`Cannot convert the literal '${String(v)}' to the expected type 'Edm.Boolean'.`);
				updates.push(() => (m.isRead = v));
			} else if (k === 'categories') {
				if (!Array.isArray(v) || v.some((c) => typeof c !== 'string')) throw bodyRead("Cannot convert a value to the expected type 'Collection(Edm.String)'.");
				updates.push(() => (m.categories = [...(v as string[])]));
			} else if (k === 'flag') {
				const status = (v as { flagStatus?: unknown } | null)?.flagStatus;
				const known = (['notFlagged', 'flagged', 'complete'] as const).find((s) => s.toLowerCase() === String(status).toLowerCase());
				if (status === undefined) continue;
				if (!known) throw bodyRead(`Requested value '${String(status)}' was not found.`);
				updates.push(() => (m.flagStatus = known));
			} else if (MESSAGE_PROPERTIES.includes(k) || MESSAGE_EXTRA.includes(k)) {
				// writable on drafts only, or read-only: Exchange ignores these on received mail
				continue;
			} else throw noSuchProperty(k, 'message');
		}
		for (const u of updates) u();
		if (updates.length) this.touch(m);
		this.applyIdPref(call);
		return { status: 200, json: { '@odata.context': `${this.url}/$metadata#users('${mbx.address}')/messages/$entity`, ...(await this.messageJson(m, call.prefs)) } };
	}

	private async moveOrCopy(call: Call, mbx: Mailbox, m: Message, action: 'move' | 'copy'): Promise<Answer> {
		const body = this.readJson(call);
		const destination = body.destinationId ?? body.DestinationId;
		if (typeof destination !== 'string' || !destination) throw new GraphError(400, 'ErrorInvalidParameter', "The value of the parameter 'DestinationId' is empty.");
		const folder = this.resolveFolder(mbx, destination);
		let result = m;
		if (action === 'move') this.moveMessage(m, folder);
		else {
			result = this.store(mbx, folder, Buffer.from(m.raw), { isRead: m.isRead, categories: [...m.categories], flagStatus: m.flagStatus, received: m.received });
		}
		this.applyIdPref(call);
		return { status: 201, json: { '@odata.context': `${this.url}/$metadata#users('${mbx.address}')/messages/$entity`, ...(await this.messageJson(result, call.prefs)) } };
	}

	// --- delta ---

	private async delta(call: Call, mbx: Mailbox, folder: Folder, root: string): Promise<Answer> {
		const path = `/${root}/mailFolders('${folder.id}')/messages/delta`;
		const skipToken = call.query.get('$skiptoken');
		const deltaToken = call.query.get('$deltatoken');
		let state: DeltaState;
		if (skipToken !== null || deltaToken !== null) {
			const token = (skipToken ?? deltaToken)!;
			const found = this.deltaStates.get(token);
			const kind = skipToken !== null ? 'skip' : 'delta';
			if (!found || found.kind !== kind || found.generation !== this.deltaGeneration || found.principal !== call.principal.toLowerCase() || found.mailbox !== mbx.address || found.folderId !== folder.id) {
				const initial = found && found.folderId === folder.id ? `${this.url}${found.path}${found.initialQuery}` : `${this.url}${path}`;
				throw new GraphError(410, 'SyncStateNotFound', TEXT.SyncStateNotFound, { Location: initial });
			}
			state = found;
		} else {
			const select = this.messageSelect(call);
			let since: DeltaState['since'];
			const filter = call.query.get('$filter');
			if (filter) {
				const match = /^receivedDateTime\s+(ge|gt)\s+(.+)$/i.exec(filter.trim());
				const at = match ? parseLiteral(match[2]) : undefined;
				if (!match || !(at instanceof Date)) throw new GraphError(400, 'ErrorInvalidUrlQueryFilter', 'The only supported $filter on message delta is receivedDateTime ge|gt {value}.');
				since = { op: match[1].toLowerCase() as 'ge' | 'gt', at };
			}
			const orderby = call.query.get('$orderby');
			if (orderby && !/^receivedDateTime\s+desc$/i.test(orderby.trim())) throw new GraphError(400, 'ErrorInvalidUrlQueryFilter', 'The only supported $orderby on message delta is receivedDateTime desc.');
			if (call.query.get('$search') !== null) throw new GraphError(400, 'BadRequest', '$search is not supported on delta.');
			const changeType = call.query.get('changeType');
			if (changeType !== null && !['created', 'updated', 'deleted'].includes(changeType)) throw new GraphError(400, 'BadRequest', `Invalid changeType '${changeType}'.`);
			const top = call.query.get('$top');
			const initialQuery = [...call.query].filter(([k]) => k !== '$skiptoken' && k !== '$deltatoken');
			state = {
				kind: 'delta',
				generation: this.deltaGeneration,
				principal: call.principal.toLowerCase(),
				mailbox: mbx.address,
				folderId: folder.id,
				select,
				since,
				changeType: (changeType ?? undefined) as DeltaState['changeType'],
				top: top !== null && /^\d+$/.test(top) ? Math.max(1, Number(top)) : undefined,
				known: new Map(),
				path,
				initialQuery: initialQuery.length ? `?${initialQuery.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}` : '',
			};
		}
		const pageSize = call.prefs.maxPageSize ?? state.top ?? 10;
		if (call.prefs.maxPageSize !== undefined) call.prefs.applied.push(`odata.maxpagesize=${call.prefs.maxPageSize}`);
		this.applyIdPref(call);

		const current = this.inFolder(folder.id).filter((m) => !state.since || (state.since.op === 'ge' ? m.received >= state.since.at : m.received > state.since.at));
		const currentKeys = new Set(current.map((m) => m.key));
		type Change = { order: number; kind: 'created' | 'updated' | 'deleted'; apply: (known: DeltaState['known']) => void; render: () => Promise<Record<string, unknown>> };
		const changes: Change[] = [];
		for (const m of current) {
			const seen = state.known.get(m.key);
			if (seen && seen.version === m.version) continue;
			const snapshot = { version: m.version, restId: m.restId, immutableId: m.immutableId };
			changes.push({
				order: m.changeNumber,
				kind: seen ? 'updated' : 'created',
				apply: (known) => known.set(m.key, snapshot),
				render: async () => ({ '@odata.type': '#microsoft.graph.message', ...(await this.messageJson(m, call.prefs, state.select)) }),
			});
		}
		for (const [key, seen] of state.known) {
			if (currentKeys.has(key)) continue;
			changes.push({
				order: this.departures.get(`${key}:${folder.id}`) ?? 0,
				kind: 'deleted',
				apply: (known) => known.delete(key),
				render: async () => ({ '@odata.type': '#microsoft.graph.message', id: call.prefs.immutable ? seen.immutableId : seen.restId, '@removed': { reason: 'deleted' } }),
			});
		}
		changes.sort((a, b) => a.order - b.order);
		const known = new Map(state.known);
		const page: Change[] = [];
		let rest = 0;
		for (const change of changes) {
			const wanted = !state.changeType || state.changeType === change.kind;
			if (!wanted) {
				change.apply(known);
				continue;
			}
			if (page.length < pageSize) {
				page.push(change);
				change.apply(known);
			} else rest++;
		}
		// The changes left for later pages stay unknown; the unwanted ones beyond the page are absorbed now.
		const value = await Promise.all(page.map((c) => c.render()));
		const more = rest > 0;
		const token = crypto.randomBytes(24).toString('base64url');
		this.deltaStates.set(token, { ...state, kind: more ? 'skip' : 'delta', known });
		const json: Record<string, unknown> = { '@odata.context': `${this.url}/$metadata#Collection(message)` };
		if (more) json['@odata.nextLink'] = `${this.url}${path}?$skiptoken=${token}`;
		else json['@odata.deltaLink'] = `${this.url}${path}?$deltatoken=${token}`;
		json.value = value;
		return { status: 200, json };
	}

	// --- mailFolder: importMime (beta) ---

	/**
	 * POST /beta/users/{id}/mailFolders/{id}/importMime, as the beta reference describes it: the whole
	 * body is the base64 MIME (Content-Type: text/plain, no JSON envelope); the message is created in
	 * the folder in its final, non-draft state, as if delivered (unread, not stamped as sent, no Sent
	 * Items copy), with its MIME kept; 201 Created with the message (isDraft false). The application
	 * permission Mail-Advanced.ReadWrite.All (delegated: Mail-Advanced.ReadWrite) is required: a
	 * principal that `importMimeDenied` names answers 403 ErrorAccessDenied.
	 */
	private async importMime(call: Call, mbx: Mailbox, folder: Folder): Promise<Answer> {
		if (this.options.importMimeDenied?.(call.principal)) throw new GraphError(403, 'ErrorAccessDenied');
		const type = (call.headers['content-type'] ?? '').toLowerCase();
		if (!type.startsWith('text/plain')) throw new GraphError(415, 'UnsupportedMediaType', `Content-Type '${type || '(none)'}' is not supported; use text/plain with the base64 MIME content.`);
		const text = call.body.toString('latin1').replace(/\s+/g, '');
		if (!text || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new GraphError(400, 'ErrorMimeContentInvalidBase64String');
		const raw = Buffer.from(text, 'base64');
		const message = this.store(mbx, folder, raw, { isRead: false, categories: [], flagStatus: 'notFlagged', received: new Date(Math.floor(Date.now() / 1000) * 1000) });
		this.imported.push({ mailbox: mbx.address, folderId: folder.id, id: message.immutableId, raw });
		this.applyIdPref(call);
		return { status: 201, json: { '@odata.context': `${this.url.replace(/\/v1\.0$/, '/beta')}/$metadata#users('${mbx.address}')/messages/$entity`, ...(await this.messageJson(message, call.prefs)) } };
	}

	// --- sendMail ---

	private async sendMail(call: Call, mbx: Mailbox): Promise<Answer> {
		const type = (call.headers['content-type'] ?? '').toLowerCase();
		let raw: Buffer;
		let save = true;
		let format: 'mime' | 'json';
		let recipients: string[] = [];
		if (type.startsWith('text/plain')) {
			format = 'mime';
			const text = call.body.toString('latin1').replace(/\s+/g, '');
			if (!text || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new GraphError(400, 'ErrorMimeContentInvalidBase64String');
			raw = Buffer.from(text, 'base64');
			const parsed = await parseMime(raw);
			if (!parsed.to.length && !parsed.cc.length && !parsed.bcc.length) throw new GraphError(400, 'ErrorInvalidRecipients');
			recipients = [...parsed.to, ...parsed.cc, ...parsed.bcc].map((a) => a.address);
		} else if (type.startsWith('application/json')) {
			format = 'json';
			const body = this.readJson(call);
			const message = body.message as Record<string, unknown> | undefined;
			if (!message || typeof message !== 'object') throw new GraphError(400, 'ErrorInvalidParameter', "The value of the parameter 'Message' is empty.");
			if (body.saveToSentItems !== undefined) save = !(body.saveToSentItems === false || String(body.saveToSentItems).toLowerCase() === 'false');
			const list = (v: unknown) =>
				(Array.isArray(v) ? v : []).map((r: { emailAddress?: { name?: string; address?: string } }) => ({ name: r?.emailAddress?.name ?? '', address: r?.emailAddress?.address ?? '' }));
			const to = list(message.toRecipients);
			const cc = list(message.ccRecipients);
			const bcc = list(message.bccRecipients);
			if (!to.length && !cc.length && !bcc.length) throw new GraphError(400, 'ErrorInvalidRecipients');
			if ([...to, ...cc, ...bcc].some((a) => !/^[^@\s]+@[^@\s]+$/.test(a.address))) throw new GraphError(400, 'ErrorInvalidRecipients');
			recipients = [...to, ...cc, ...bcc].map((a) => a.address);
			const content = message.body as { contentType?: string; content?: string } | undefined;
			const html = String(content?.contentType ?? 'text').toLowerCase() === 'html';
			const headers = Array.isArray(message.internetMessageHeaders) ? Object.fromEntries((message.internetMessageHeaders as Array<{ name: string; value: string }>).map((h) => [h.name, h.value])) : undefined;
			raw = await compose({
				from: mbx.address,
				to,
				cc,
				bcc,
				replyTo: list(message.replyTo),
				subject: typeof message.subject === 'string' ? message.subject : '',
				...(html ? { html: content?.content ?? '' } : { text: content?.content ?? '' }),
				headers,
				attachments: Array.isArray(message.attachments)
					? (message.attachments as Array<{ name?: string; contentType?: string; contentBytes?: string }>).map((a) => ({ filename: a.name, contentType: a.contentType, content: Buffer.from(a.contentBytes ?? '', 'base64') }))
					: undefined,
			});
		} else {
			throw new GraphError(415, 'UnsupportedMediaType', `Content-Type '${type || '(none)'}' is not supported; use application/json or text/plain.`);
		}
		this.sent.push({ mailbox: mbx.address, raw, format, savedToSentItems: save, recipients, transmitted: withoutBcc(raw) });
		if (save) this.store(mbx, this.wellKnown(mbx, 'sentitems')!, Buffer.from(raw), { isRead: true, categories: [], flagStatus: 'notFlagged', received: new Date(Math.floor(Date.now() / 1000) * 1000) });
		return { status: 202 };
	}

	// --- mailbox settings ---

	private getSettings(call: Call, mbx: Mailbox): Answer {
		const select = this.select(call, Object.keys(mbx.settings), 'mailboxSettings');
		const all = structuredClone(mbx.settings) as unknown as Record<string, unknown>;
		const json: Record<string, unknown> = { '@odata.context': `${this.url}/$metadata#users('${mbx.address}')/mailboxSettings` };
		for (const k of select ?? Object.keys(all)) json[k] = all[k];
		return { status: 200, json };
	}

	private patchSettings(call: Call, mbx: Mailbox): Answer {
		const body = this.readJson(call);
		const next = structuredClone(mbx.settings);
		const changed: string[] = [];
		for (const [k, v] of Object.entries(body)) {
			if (k.startsWith('@odata.')) continue;
			changed.push(k);
			if (k === 'automaticRepliesSetting') next.automaticRepliesSetting = this.mergeAutoReplies(next.automaticRepliesSetting, v);
			else if (k === 'timeZone') {
				if (!validTimeZone(v)) throw new GraphError(400, 'InvalidTimeZone');
				next.timeZone = v as string;
			} else if (k === 'dateFormat' || k === 'timeFormat' || k === 'delegateMeetingMessageDeliveryOptions') {
				if (typeof v !== 'string') throw bodyRead(`Cannot convert the literal '${String(v)}' to the expected type 'Edm.String'.`);
				next[k] = v;
			} else if (k === 'language') {
				const locale = (v as { locale?: unknown } | null)?.locale;
				if (typeof locale !== 'string') throw bodyRead("Cannot convert a value to the expected type 'microsoft.graph.localeInfo'.");
				next.language = { locale, displayName: (v as { displayName?: string }).displayName ?? locale };
			} else if (k === 'workingHours') {
				if (!v || typeof v !== 'object') throw bodyRead("Cannot convert a value to the expected type 'microsoft.graph.workingHours'.");
				next.workingHours = { ...next.workingHours, ...(v as Record<string, unknown>) };
			} else if (k === 'archiveFolder' || k === 'userPurpose') {
				// read-only here; Exchange ignores them
			} else throw noSuchProperty(k, 'mailboxSettings');
		}
		mbx.settings = next;
		const json: Record<string, unknown> = { '@odata.context': `${this.url}/$metadata#users('${mbx.address}')/mailboxSettings` };
		const all = structuredClone(next) as unknown as Record<string, unknown>;
		for (const k of changed) if (k in all) json[k] = all[k];
		return { status: 200, json };
	}

	private mergeAutoReplies(current: AutomaticRepliesSetting, value: unknown): AutomaticRepliesSetting {
		if (!value || typeof value !== 'object' || Array.isArray(value)) throw bodyRead("Cannot convert a value to the expected type 'microsoft.graph.automaticRepliesSetting'.");
		const next = { ...current };
		const enumValue = <T extends string>(v: unknown, allowed: readonly T[], type: string): T => {
			const found = allowed.find((a) => a.toLowerCase() === String(v).toLowerCase());
			if (typeof v !== 'string' || !found) throw bodyRead(`Cannot convert the literal '${String(v)}' to the expected type 'microsoft.graph.${type}'.`);
			return found;
		};
		const dateTime = (v: unknown): DateTimeTimeZone => {
			const dt = v as { dateTime?: unknown; timeZone?: unknown } | null;
			if (!dt || typeof dt !== 'object' || typeof dt.dateTime !== 'string' || Number.isNaN(new Date(dt.dateTime.replace(/(\.\d{3})\d+/, '$1')).getTime())) {
				throw bodyRead("Cannot convert a value to the expected type 'microsoft.graph.dateTimeTimeZone'.");
			}
			if (!validTimeZone(dt.timeZone)) throw new GraphError(400, 'InvalidTimeZone');
			const base = dt.dateTime.replace(/Z$/, '').replace(/\.\d+$/, '');
			const fraction = /\.(\d+)/.exec(dt.dateTime)?.[1] ?? '';
			return { dateTime: `${base.length === 16 ? `${base}:00` : base}.${fraction.padEnd(7, '0').slice(0, 7)}`, timeZone: dt.timeZone as string };
		};
		for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
			if (k === 'status') next.status = enumValue(v, ['disabled', 'alwaysEnabled', 'scheduled'] as const, 'automaticRepliesStatus');
			else if (k === 'externalAudience') next.externalAudience = enumValue(v, ['none', 'contactsOnly', 'all'] as const, 'externalAudienceScope');
			else if (k === 'internalReplyMessage' || k === 'externalReplyMessage') {
				if (typeof v !== 'string') throw bodyRead(`Cannot convert the literal '${String(v)}' to the expected type 'Edm.String'.`);
				next[k] = v;
			} else if (k === 'scheduledStartDateTime' || k === 'scheduledEndDateTime') next[k] = dateTime(v);
			else if (!k.startsWith('@odata.')) throw noSuchProperty(k, 'automaticRepliesSetting');
		}
		if (next.status === 'scheduled') {
			const instant = (d: DateTimeTimeZone) => zonedInstant(d);
			if (instant(next.scheduledEndDateTime) <= instant(next.scheduledStartDateTime)) throw new GraphError(400, 'ErrorInvalidScheduledOofDuration');
		}
		return next;
	}
}

// --- request parsing --------------------------------------------------------------------------

/** Path segments after /v1.0, decoded; `name('key')` becomes `name`, `key`. */
function splitPath(rest: string): string[] {
	const out: string[] = [];
	for (const raw of rest.split('/').filter(Boolean)) {
		const segment = decodeURIComponent(raw);
		const keyed = /^([^(]+)\('((?:[^']|'')*)'\)$/.exec(segment);
		if (keyed) out.push(keyed[1], keyed[2].replace(/''/g, "'"));
		else out.push(segment);
	}
	return out;
}

function readPrefer(header: string | undefined): Prefs {
	const prefs: Prefs = { immutable: false, bodyType: 'html', applied: [] };
	for (const part of (header ?? '').split(',')) {
		const [name, value = ''] = part.split('=').map((x) => x.trim());
		const v = value.replace(/^"|"$/g, '');
		if (/^idtype$/i.test(name) && /^immutableid$/i.test(v)) prefs.immutable = true;
		else if (/^outlook\.body-content-type$/i.test(name)) prefs.bodyType = /^text$/i.test(v) ? 'text' : 'html';
		else if (/^odata\.maxpagesize$/i.test(name) && /^\d+$/.test(v) && Number(v) > 0) prefs.maxPageSize = Number(v);
	}
	return prefs;
}

/** A dateTimeTimeZone as an instant (UTC and IANA zones; Windows names other than UTC are taken as UTC). */
function zonedInstant(d: DateTimeTimeZone): number {
	const local = Date.parse(`${d.dateTime.replace(/(\.\d{3})\d+/, '$1')}Z`);
	if (d.timeZone === 'UTC' || WINDOWS_ZONES.has(d.timeZone)) return local;
	const parts = new Intl.DateTimeFormat('en-US', { timeZone: d.timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(new Date(local));
	const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
	const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
	return local - (asUtc - local);
}

interface Term {
	property: string;
	test: (m: Message, p: Parsed) => boolean;
}

const FILTER_PROPERTIES: Record<string, (m: Message, p: Parsed) => Literal | string[]> = {
	isread: (m) => m.isRead,
	isdraft: () => false,
	hasattachments: (_m, p) => p.hasAttachments,
	receiveddatetime: (m) => m.received,
	sentdatetime: (m, p) => p.sent ?? m.received,
	createddatetime: (m) => m.created,
	lastmodifieddatetime: (m) => m.modified,
	subject: (_m, p) => p.subject,
	internetmessageid: (m, p) => p.messageId || m.internetMessageId,
	importance: (_m, p) => p.importance,
	conversationid: (_m, p) => p.conversationId,
	parentfolderid: (m) => m.folderId,
	inferenceclassification: () => 'focused',
	'from/emailaddress/address': (_m, p) => p.from?.address ?? null,
	'from/emailaddress/name': (_m, p) => p.from?.name ?? null,
	'sender/emailaddress/address': (_m, p) => p.sender?.address ?? null,
	'sender/emailaddress/name': (_m, p) => p.sender?.name ?? null,
	'flag/flagstatus': (m) => m.flagStatus,
	categories: (m) => m.categories,
};

function compileTerm(term: string): Term {
	const t = term.trim();
	const any = /^categories\/any\((\w+)\s*:\s*\1\s+eq\s+'((?:[^']|'')*)'\)$/i.exec(t);
	if (any) {
		const wanted = any[2].replace(/''/g, "'").toLowerCase();
		return { property: 'categories', test: (m) => m.categories.some((c) => c.toLowerCase() === wanted) };
	}
	const fn = /^(contains|startswith|endswith)\(\s*([\w/]+)\s*,\s*'((?:[^']|'')*)'\s*\)$/i.exec(t);
	if (fn) {
		const getter = FILTER_PROPERTIES[fn[2].toLowerCase()];
		if (!getter) throw parseUri(fn[2], 'message');
		const needle = fn[3].replace(/''/g, "'").toLowerCase();
		const name = fn[1].toLowerCase();
		return {
			property: fn[2],
			test: (m, p) => {
				const v = String(getter(m, p) ?? '').toLowerCase();
				return name === 'contains' ? v.includes(needle) : name === 'startswith' ? v.startsWith(needle) : v.endsWith(needle);
			},
		};
	}
	const cmp = /^([\w/]+)\s+(eq|ne|gt|ge|lt|le)\s+(.+)$/i.exec(t);
	if (!cmp) throw new GraphError(400, 'BadRequest', `Invalid filter clause: syntax error at '${t}'.`);
	const getter = FILTER_PROPERTIES[cmp[1].toLowerCase()];
	if (!getter || cmp[1].toLowerCase() === 'categories') throw parseUri(cmp[1], 'message');
	const op = cmp[2].toLowerCase();
	const literal = parseLiteral(cmp[3]);
	const norm = (v: Literal | string[]): number | string | boolean | null => {
		if (v instanceof Date) return v.getTime();
		if (typeof v === 'string') {
			const asDate = literal instanceof Date ? Date.parse(v) : NaN;
			return Number.isNaN(asDate) ? v.toLowerCase() : asDate;
		}
		return v as number | boolean | null;
	};
	const right = norm(literal);
	return {
		property: cmp[1],
		test: (m, p) => {
			const left = norm(getter(m, p));
			switch (op) {
				case 'eq':
					return left === right;
				case 'ne':
					return left !== right;
				case 'gt':
					return left !== null && right !== null && left > right;
				case 'ge':
					return left !== null && right !== null && left >= right;
				case 'lt':
					return left !== null && right !== null && left < right;
				default:
					return left !== null && right !== null && left <= right;
			}
		},
	};
}

/** KQL-ish: words (all must match subject, body or sender) and `from:`, `to:`, `subject:`, `body:` terms. */
function matchesSearch(search: string, p: Parsed): boolean {
	const text = search.trim().replace(/^"(.*)"$/s, '$1');
	const terms = text.match(/(\w+:)?("[^"]*"|\S+)/g) ?? [];
	const from = `${p.from?.name ?? ''} ${p.from?.address ?? ''}`.toLowerCase();
	const to = [...p.to, ...p.cc].map((a) => `${a.name} ${a.address}`).join(' ').toLowerCase();
	return terms.every((term) => {
		const m = /^(\w+):(.*)$/.exec(term);
		const field = m ? m[1].toLowerCase() : '';
		const value = (m ? m[2] : term).replace(/^"|"$/g, '').toLowerCase();
		if (!value) return true;
		if (field === 'from') return from.includes(value);
		if (field === 'to') return to.includes(value);
		if (field === 'subject') return p.subject.toLowerCase().includes(value);
		if (field === 'body') return p.text.toLowerCase().includes(value);
		return p.subject.toLowerCase().includes(value) || p.text.toLowerCase().includes(value) || from.includes(value);
	});
}

/** The MIME without its top-level Bcc header (folded lines included). */
function withoutBcc(raw: Buffer): Buffer {
	const text = raw.toString('latin1');
	const end = text.search(/\r?\n\r?\n/);
	if (end < 0) return Buffer.from(raw);
	const head = text.slice(0, end).replace(/^bcc:.*(?:\r?\n[ \t].*)*(?:\r?\n|$)/gim, '');
	return Buffer.from(head.replace(/\r?\n$/, '') + text.slice(end), 'latin1');
}
