/**
 * The EWS client core: an ews-javascript-api ExchangeService with sign-in, the mailbox to act on,
 * error mapping and throttling, for the EWS trigger and the Mailbox node's EWS operations.
 *
 *   const ews = await connectEws({ auth: { type: 'app', app }, mailbox: 'info@contoso.com' });
 *   try {
 *     const inbox = await ews.call('GetFolder', (service) => Folder.Bind(service, ews.folderId('inbox')));
 *   } finally {
 *     ews.close();
 *   }
 *
 * - Sign-in: a Microsoft 365 app's token from MSAL (client credentials; taken from MSAL's cache
 *   before every request, so it is renewed before it expires), a delegated token (from n8n, with a
 *   `renew` callback), or user and password (Basic, for on-premises Exchange).
 * - The mailbox: with an app, every request impersonates it (ExchangeImpersonation with its SMTP
 *   address: EWS needs that for app-only tokens); with a user's token or password, another mailbox
 *   is opened by delegate access (its address in every distinguished folder id, see folderId()).
 *   X-AnchorMailbox names the mailbox on every request, as Exchange Online wants it.
 * - RequestServerVersion: Exchange2013_SP1 by default (what Exchange Online expects of current
 *   clients; on-premises Exchange 2010 needs Exchange2010_SP2).
 * - A 401 renews the credential once per request (app: a fresh MSAL token past its cache;
 *   delegated: the renew callback) and sends the request again.
 * - Throttling (ErrorServerBusy with BackOffMilliseconds, HTTP 503/429) is waited out, bounded,
 *   and the same request sent again a few times.
 * - Every failure comes out of call() as a MailboxError that names the field and the fix.
 *
 * Certificate verification is on; `ca` adds trusted CAs, `allowUnauthorizedCerts` is the
 * explicit opt-out.
 */
import {
	ConnectingIdType,
	ExchangeCredentials,
	ExchangeService,
	ExchangeVersion,
	FolderId,
	FolderSchema,
	FolderTraversal,
	FolderView,
	ImpersonatedUserId,
	Mailbox,
	PropertySet,
	BasePropertySet,
	ServiceError,
	ServiceResponse,
	ServiceResponseException,
	ServiceResult,
	SoapFaultDetails,
	Uri,
	WellKnownFolderName,
	Folder,
} from 'ews-javascript-api';
import { getAppToken, type MicrosoftAppSettings } from '../auth/microsoft';
import { splitFolderPath } from '../connection/folder-path';
import { configError, MailboxError, redact } from '../errors';
import { silentLogger, type Logger } from '../logger';
import { fromEwsResponseCode, type EwsAuthKind, type EwsErrorContext } from './errors';
import { EwsTransport, type EwsExchange, type EwsXhrOptions } from './transport';

export { splitFolderPath };

export const DEFAULT_EWS_URL = 'https://outlook.office365.com/EWS/Exchange.asmx';

/** How the client signs in. */
export type EwsAuth =
	/** A Microsoft 365 app (client credentials, application permission full_access_as_app). */
	| { type: 'app'; app: MicrosoftAppSettings }
	/** A user's access token (delegated, EWS.AccessAsUser.All); `renew` gets a new one after a 401. */
	| { type: 'token'; accessToken: string; renew?: () => Promise<string> }
	/** User (user@domain or DOMAIN\user) and password, Basic over HTTPS (on-premises Exchange). */
	| { type: 'password'; user: string; password: string };

export const EWS_SERVER_VERSIONS = ['Exchange2010_SP2', 'Exchange2013', 'Exchange2013_SP1', 'Exchange2016'] as const;
export type EwsServerVersion = (typeof EWS_SERVER_VERSIONS)[number];

export interface EwsClientSettings {
	/** The EWS endpoint (default Exchange Online's). */
	url?: string;
	auth: EwsAuth;
	/**
	 * The SMTP address of the mailbox to act on. Required with an app (it is impersonated); with a
	 * user's token or password: empty for the user's own mailbox, or another mailbox the user has
	 * Full Access to.
	 */
	mailbox?: string;
	/**
	 * Act on the mailbox by impersonation (default: with an app). Off: by delegate access (the
	 * mailbox's address in the folder ids).
	 */
	impersonation?: boolean;
	/** RequestServerVersion (default Exchange2013_SP1). */
	serverVersion?: EwsServerVersion;
	/** Extra trusted CA certificates (PEM), e.g. a company CA of an on-premises server. */
	ca?: string | Buffer | Array<string | Buffer>;
	/** Accept any server certificate. Off by default: only an explicit opt-in. */
	allowUnauthorizedCerts?: boolean;
	/** Per HTTP request (default 120 s). */
	timeoutMs?: number;
	/** Throttling: waits per request (default 4), longest wait (default 60 s), wait without a hint (default 5 s). */
	throttle?: { maxRetries?: number; maxWaitMs?: number; defaultWaitMs?: number };
	logger?: Logger;
	/** Injectable for tests (throttling waits). */
	sleep?: (ms: number) => Promise<void>;
	/** Every request as sent (operation, status, renewal, waits), for logs and tests. */
	onExchange?: (exchange: EwsExchange) => void;
}

/** A folder found by path or distinguished name. */
export interface EwsFolderRef {
	/** The folder's EWS id (FolderId.UniqueId). */
	id: string;
	/** As the user gave it, or the distinguished name ("inbox"). */
	path: string;
	displayName: string;
	/** Set when the folder is a distinguished one (inbox, junkemail...). */
	distinguished?: string;
}

/** The Authorization header is set by the transport (renewed tokens); this keeps ews-javascript-api from setting another. */
class TransportCredentials extends ExchangeCredentials {
	PrepareWebRequest(): void {
		// EwsTransport sets Authorization for every request
	}
}

const VERSION: Record<EwsServerVersion, ExchangeVersion> = {
	Exchange2010_SP2: ExchangeVersion.Exchange2010_SP2,
	Exchange2013: ExchangeVersion.Exchange2013,
	Exchange2013_SP1: ExchangeVersion.Exchange2013_SP1,
	Exchange2016: ExchangeVersion.Exchange2016,
};

const EMAIL = /^[^\s@\\/]+@[^\s@\\/]+\.[^\s@\\/]+$/;

/**
 * Distinguished folder names (lower case, no spaces) -> WellKnownFolderName: the mail folders every
 * Exchange version since 2010 has. Others ("Archive" among them, distinguished only in newer
 * versions) are found by their display name.
 */
const DISTINGUISHED = new Map<string, WellKnownFolderName>(
	(['Inbox', 'JunkEmail', 'DeletedItems', 'SentItems', 'Drafts', 'Outbox', 'MsgFolderRoot', 'Root'] as const).map((k) => [k.toLowerCase(), WellKnownFolderName[k]]),
);

/** The WellKnownFolderName of a distinguished name ("inbox", "Junk Email", "JunkEmail", "deleteditems"), if it is one. */
export function distinguishedFolder(name: string): WellKnownFolderName | undefined {
	return DISTINGUISHED.get(name.replace(/[\s_-]+/g, '').toLowerCase());
}

function checkUrl(raw: string | undefined): string {
	const text = (raw ?? '').trim() || DEFAULT_EWS_URL;
	let url: URL;
	try {
		url = new URL(text);
	} catch {
		throw configError('url', `EWS URL "${text}" is not a URL.`, 'Enter the EWS URL, e.g. https://mail.example.com/EWS/Exchange.asmx.');
	}
	if (url.protocol !== 'https:') throw configError('url', `EWS URL "${text}" does not use HTTPS.`, 'Exchange serves EWS over HTTPS: the URL starts with https://.');
	if (url.username || url.password) throw configError('url', 'The EWS URL must not contain a user name or password.', 'Remove them from the URL; enter them as User and Password.');
	return url.toString();
}

/** The client for one mailbox. Create it with connectEws(); close() it when done. */
export class EwsClient {
	readonly service: ExchangeService;
	readonly url: string;
	/** The mailbox acted on (SMTP address), or undefined for the signed-in user's own mailbox. */
	readonly mailbox?: string;
	readonly impersonation: boolean;
	readonly serverVersion: EwsServerVersion;
	private readonly transport: EwsTransport;
	private readonly context: EwsErrorContext;
	private token?: string;
	private readonly folderCache = new Map<string, EwsFolderRef>();

	/** Use connectEws(). */
	constructor(
		private readonly settings: EwsClientSettings,
		initialToken: string | undefined,
	) {
		this.url = checkUrl(settings.url);
		const auth = settings.auth;
		this.mailbox = settings.mailbox?.trim() || undefined;
		this.impersonation = settings.impersonation ?? auth.type === 'app';
		this.serverVersion = settings.serverVersion ?? 'Exchange2013_SP1';
		this.token = initialToken;
		const kind: EwsAuthKind = auth.type;
		this.context = {
			url: this.url,
			mailbox: this.mailbox,
			auth: kind,
			impersonation: this.impersonation,
			// the password (also inside the Basic header's base64) or the app's secret, and every token the client holds
			secrets: [auth.type === 'password' ? auth.password : undefined, auth.type === 'app' ? auth.app.clientSecret : undefined, initialToken],
		};
		this.transport = new EwsTransport({
			context: this.context,
			authorization: () => this.authorization(),
			renew: auth.type === 'password' ? undefined : () => this.renew(),
			anchorMailbox: this.mailbox ?? (auth.type === 'password' && EMAIL.test(auth.user) ? auth.user : undefined),
			ca: settings.ca,
			allowUnauthorizedCerts: settings.allowUnauthorizedCerts,
			timeoutMs: settings.timeoutMs,
			throttle: settings.throttle,
			sleep: settings.sleep,
			logger: settings.logger,
			onExchange: settings.onExchange,
		});
		const service = new ExchangeService(VERSION[this.serverVersion]);
		service.Url = new Uri(this.url);
		service.Credentials = new TransportCredentials();
		service.XHRApi = this.transport as never;
		service.SendClientLatencies = false;
		if (this.impersonation && this.mailbox) service.ImpersonatedUserId = new ImpersonatedUserId(ConnectingIdType.SmtpAddress, this.mailbox);
		this.service = service;
	}

	private get logger(): Logger {
		return this.settings.logger ?? silentLogger;
	}

	private authorization(): string {
		const auth = this.settings.auth;
		if (auth.type === 'password') return `Basic ${Buffer.from(`${auth.user}:${auth.password}`, 'utf8').toString('base64')}`;
		return `Bearer ${this.token ?? ''}`;
	}

	/** After a 401: a new token; false when it is the same (nothing new to try). */
	private async renew(): Promise<boolean> {
		const auth = this.settings.auth;
		const before = this.token;
		if (auth.type === 'app') {
			this.token = (await getAppToken(auth.app, this.logger, { fresh: true })).accessToken;
		} else if (auth.type === 'token' && auth.renew) {
			this.token = await auth.renew();
		} else {
			return false;
		}
		this.context.secrets = [...this.context.secrets, this.token];
		return this.token !== before;
	}

	/** Brings an app's token up to date from MSAL's cache (renewed by MSAL shortly before it expires). */
	private async refreshAppToken(): Promise<void> {
		const auth = this.settings.auth;
		if (auth.type !== 'app') return;
		this.token = (await getAppToken(auth.app, this.logger)).accessToken;
		this.context.secrets = [...this.context.secrets, this.token];
	}

	/** The TLS connection of the last answer in words ("TLSv1.3, certificate for ... issued by ..."). */
	get tlsDetail(): string | undefined {
		return this.transport.lastTls;
	}

	/**
	 * Runs one EWS operation (or a few) with the service; every failure becomes a MailboxError
	 * naming the field and the fix. `operation` names it in messages ("SyncFolderItems").
	 */
	async call<T>(operation: string, fn: (service: ExchangeService) => Promise<T>): Promise<T> {
		try {
			await this.refreshAppToken();
			return await fn(this.service);
		} catch (error) {
			throw this.toMailboxError(error, operation);
		}
	}

	/** Any failure of ews-javascript-api or the transport as a MailboxError. */
	toMailboxError(error: unknown, operation?: string): MailboxError {
		if (error instanceof MailboxError) return error;
		const e = (error ?? {}) as { message?: string; Message?: string };
		const fromTransport = this.transport.takeFailure(e.message) ?? this.transport.takeFailure(e.Message);
		if (fromTransport) return fromTransport;
		const code = ewsErrorCode(error);
		if (code) return fromEwsResponseCode(code.name, code.message, this.context, { backOffMs: code.backOffMs, operation, cause: error });
		const text = redact(e.message || e.Message || String(error), this.context.secrets);
		return new MailboxError('PROTOCOL', `EWS ${operation ?? 'request'} failed: ${text}`, { step: 'command', serverResponse: text, command: operation, cause: error });
	}

	/**
	 * A distinguished folder ("inbox", "junkemail", "deleteditems", "msgfolderroot"...) of the mailbox:
	 * with delegate access to another mailbox, the id names that mailbox.
	 */
	folderId(name: WellKnownFolderName | string): FolderId {
		const wk = typeof name === 'string' ? distinguishedFolder(name) : name;
		if (wk === undefined) throw configError('folders', `"${String(name)}" is not a distinguished folder name.`, 'Use inbox, junkemail, deleteditems, sentitems, drafts or msgfolderroot, or a folder path.');
		return this.mailbox && !this.impersonation ? new FolderId(wk, new Mailbox(this.mailbox)) : new FolderId(wk);
	}

	/** The FolderId of a folder found by resolveFolder (or any EWS folder id). */
	folderIdOf(ref: EwsFolderRef | string): FolderId {
		return new FolderId(typeof ref === 'string' ? ref : ref.id);
	}

	/**
	 * A folder by distinguished name ("inbox", "Junk Email") or display path ("Inbox/Projects",
	 * "Archive/2024" under the top of the mailbox; "/" separates levels, "\/" is a "/" in a name).
	 * Names compare case-insensitively, as Exchange does. Results are cached per client.
	 */
	async resolveFolder(path: string): Promise<EwsFolderRef> {
		const key = path.trim();
		const cached = this.folderCache.get(key.toLowerCase());
		if (cached) return cached;
		const segments = splitFolderPath(key);
		if (!segments.length) throw configError('folders', 'A folder name is empty.', 'Enter a folder name or path such as Inbox or Inbox/Projects.');
		let parent: FolderId;
		let rest = segments;
		let distinguished: string | undefined;
		const first = distinguishedFolder(segments[0]);
		if (first !== undefined) {
			parent = this.folderId(first);
			rest = segments.slice(1);
			distinguished = rest.length ? undefined : WellKnownFolderName[first].toLowerCase();
		} else {
			parent = this.folderId(WellKnownFolderName.MsgFolderRoot);
		}
		const props = new PropertySet(BasePropertySet.IdOnly, [FolderSchema.DisplayName]);
		if (!rest.length) {
			const folder = await this.call('GetFolder', async (service) => Folder.Bind(service, parent, props));
			const ref: EwsFolderRef = { id: folder.Id.UniqueId, path: key, displayName: folder.DisplayName, distinguished };
			this.folderCache.set(key.toLowerCase(), ref);
			return ref;
		}
		let found: { id: string; displayName: string } | undefined;
		for (const [i, segment] of rest.entries()) {
			const children = await this.childFolders(parent);
			const wanted = segment.toLowerCase();
			found = children.find((f) => f.displayName.toLowerCase() === wanted);
			if (!found) {
				const where = i === 0 && first === undefined ? 'at the top of the mailbox' : `in "${segments.slice(0, segments.length - rest.length + i).join('/')}"`;
				throw new MailboxError('NOT_FOUND', `Folder "${segment}" was not found ${where}${this.mailbox ? ` of ${this.mailbox}` : ''}.`, {
					field: 'folders',
					step: 'command',
					hint: 'Check the folder path: levels are separated by "/", e.g. Inbox/Projects; names as shown in Outlook.',
				});
			}
			parent = new FolderId(found.id);
		}
		const ref: EwsFolderRef = { id: found!.id, path: key, displayName: found!.displayName };
		this.folderCache.set(key.toLowerCase(), ref);
		return ref;
	}

	/**
	 * The folders directly under a folder (id and display name), all pages. Compared by name on this
	 * side rather than by a FindFolder restriction: the same on every Exchange version.
	 */
	async childFolders(parent: FolderId): Promise<Array<{ id: string; displayName: string }>> {
		const out: Array<{ id: string; displayName: string }> = [];
		const props = new PropertySet(BasePropertySet.IdOnly, [FolderSchema.DisplayName]);
		for (let offset = 0; ; ) {
			const view = new FolderView(500, offset);
			view.PropertySet = props;
			view.Traversal = FolderTraversal.Shallow;
			const result = await this.call('FindFolder', (service) => service.FindFolders(parent, view));
			for (const folder of result.Folders) out.push({ id: folder.Id.UniqueId, displayName: folder.DisplayName ?? '' });
			if (!result.MoreAvailable || !result.Folders.length) return out;
			offset = result.NextPageOffset ?? offset + result.Folders.length;
		}
	}

	/** Ends the kept-alive connections. */
	close(): void {
		this.transport.close();
	}

	/** For tests: the request options ews-javascript-api would send go through this transport. */
	get xhr(): { xhr(request: EwsXhrOptions): Promise<unknown> } {
		return this.transport;
	}
}

/** The text of an XML element as ews-javascript-api parsed it: a string, or an object with the text under the element's name (when it had attributes). */
function textOf(value: unknown): string {
	if (typeof value === 'string') return value;
	if (value && typeof value === 'object') {
		for (const [key, v] of Object.entries(value)) if (!key.includes(':') && typeof v === 'string') return v;
	}
	return '';
}

/** The EWS response code of an ews-javascript-api failure (SOAP fault or failed response message), if it has one. */
export function ewsErrorCode(error: unknown): { name: string; message: string; backOffMs?: number } | undefined {
	if (error instanceof ServiceResponse) {
		if (error.Result !== ServiceResult.Error && error.Result !== ServiceResult.Warning) return undefined;
		const details = error.ErrorDetails;
		const backOff = details?.containsKey?.('BackOffMilliseconds') ? Number(details.get('BackOffMilliseconds')) : undefined;
		return { name: ServiceError[error.ErrorCode] ?? String(error.ErrorCode), message: error.ErrorMessage ?? '', backOffMs: backOff };
	}
	if (error instanceof ServiceResponseException) {
		const details = error.Response?.ErrorDetails;
		const backOff = details?.containsKey?.('BackOffMilliseconds') ? Number(details.get('BackOffMilliseconds')) : undefined;
		return { name: ServiceError[error.ErrorCode] ?? String(error.ErrorCode), message: error.Response?.ErrorMessage || error.Message, backOffMs: backOff };
	}
	if (error instanceof SoapFaultDetails) {
		const code = error.ResponseCode;
		// A fault without a response code (the default) is no EWS answer worth naming.
		if (code === ServiceError.ErrorInternalServerError && !error.FaultCode) return undefined;
		const details = error.ErrorDetails;
		const backOff = details?.containsKey?.('BackOffMilliseconds') ? Number(details.get('BackOffMilliseconds')) : undefined;
		return { name: ServiceError[code] ?? String(code), message: error.message || textOf(error.FaultString), backOffMs: backOff };
	}
	return undefined;
}

/**
 * A client for the settings: checks them and, for an app, gets its token from MSAL (errors name
 * Tenant ID, Client ID or Client Secret). Nothing is sent to Exchange yet.
 */
export async function connectEws(settings: EwsClientSettings): Promise<EwsClient> {
	const auth = settings.auth;
	const mailbox = settings.mailbox?.trim();
	if (mailbox && !EMAIL.test(mailbox)) throw configError('mailbox', `Mailbox "${mailbox}" is not an email address.`, 'Enter the primary SMTP address of the mailbox, e.g. info@contoso.com.');
	let token: string | undefined;
	if (auth.type === 'app') {
		if (!mailbox) throw configError('mailbox', 'Mailbox is empty: an app has no mailbox of its own.', 'Enter the address of the mailbox the app acts on, e.g. info@contoso.com.');
		token = (await getAppToken(auth.app, settings.logger)).accessToken;
	} else if (auth.type === 'token') {
		if (!auth.accessToken?.trim()) throw configError('accessToken', 'There is no access token.', 'Open the credential and click "Connect my account".');
		token = auth.accessToken.trim();
	} else {
		if (!auth.user?.trim()) throw configError('user', 'User is empty.', 'Enter the user as user@domain or DOMAIN\\user.');
		if (!auth.password) throw configError('password', 'Password is empty.', 'Enter the password of the user.');
	}
	return new EwsClient(settings, token);
}
