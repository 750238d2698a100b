/**
 * Microsoft Graph failures as MailboxError, each naming the field to change and the fix.
 *
 * Graph answers a failed request with an HTTP status and a JSON body
 * `{ "error": { "code": "ErrorItemNotFound", "message": "...", "innerError": { "request-id", ... } } }`.
 * `serverCode` is Graph's code (HTTP_<status> when the body has none), `responseCode` the HTTP
 * status, `command` the operation asked for, `serverResponse` Graph's message with secrets removed. Network, DNS and TLS failures read as for EWS (shared in
 * lib/connection/https-errors.ts), naming the Graph URL.
 *
 * One family is not a failure of the user's settings: a delta link Graph no longer knows (HTTP 410,
 * SyncStateNotFound, resyncRequired...). isResyncRequired (lib/errors.ts) tells it apart, so the caller
 * starts the folder's sync over instead of reporting an error.
 */
import { fromHttpsNetworkError, hostOf, type HttpsEndpointNames } from '../connection/https-errors';
import { MailboxError, redact, RESYNC_SERVER_CODES } from '../errors';

/** How the client signs in, for the wording of sign-in and permission failures. */
export type GraphAuthKind = 'app' | 'token';

export interface GraphErrorContext {
	/** The Graph URL (https://graph.microsoft.com/v1.0). */
	baseUrl: string;
	/** The mailbox acted on; undefined for the signed-in user's own (/me). */
	mailbox?: string;
	auth: GraphAuthKind;
	/** Secrets to strip from anything Graph or the network layer said. */
	secrets: ReadonlyArray<string | undefined>;
}

/** Graph's error object (the body's `error`). */
export interface GraphErrorBody {
	code?: string;
	message?: string;
}

export const DEFAULT_GRAPH_URL = 'https://graph.microsoft.com/v1.0';

const GRAPH_ENDPOINT: HttpsEndpointNames = { field: 'baseUrl', label: 'Graph URL', example: DEFAULT_GRAPH_URL, server: 'Microsoft Graph', service: 'its API' };

/** The error object of a Graph answer's body (JSON text or parsed), if it has one. */
export function graphErrorOf(body: unknown): GraphErrorBody {
	let value = body;
	const text = Buffer.isBuffer(body) ? body.toString('utf8') : typeof body === 'string' ? body : undefined;
	if (text !== undefined) {
		try {
			value = JSON.parse(text) as unknown;
		} catch {
			return text.trim() ? { message: text.trim().slice(0, 300) } : {};
		}
	}
	const error = (value as { error?: unknown } | null | undefined)?.error;
	if (!error || typeof error !== 'object') return {};
	const { code, message } = error as { code?: unknown; message?: unknown };
	return { code: typeof code === 'string' ? code : undefined, message: typeof message === 'string' ? message : undefined };
}

/** The fix for a missing permission: what the app or the signed-in user needs in Microsoft 365. */
export function graphPermissionHint(ctx: Pick<GraphErrorContext, 'auth' | 'mailbox'>): string {
	const mailbox = ctx.mailbox ? ` ${ctx.mailbox}` : '';
	if (ctx.auth === 'app') {
		return (
			'The app registration needs the Microsoft Graph application permissions Mail.ReadWrite, Mail.Send and MailboxSettings.ReadWrite ' +
			'(API permissions → Add a permission → Microsoft Graph → Application permissions) with admin consent granted for the tenant; ' +
			`an application access policy, if the tenant uses one, must include the mailbox${mailbox}.`
		);
	}
	const other = ctx.mailbox
		? ` The signed-in account also needs Full Access to the mailbox ${ctx.mailbox} (Exchange admin center → Recipients → Mailboxes → Mailbox delegation), or leave Mailbox empty to use its own mailbox.`
		: '';
	return `The sign-in needs the Microsoft Graph delegated permissions Mail.ReadWrite, Mail.Send, MailboxSettings.ReadWrite and offline_access; after adding them, click "Connect my account" again.${other}`;
}

/**
 * Whether an error means Graph no longer accepts a delta link (expired or unknown state): the
 * caller drops the link and reads the folder from the start (a full sync), it is no failure to report.
 */

/** A socket, DNS or TLS failure of a request to Graph. */
export function fromGraphNetworkError(error: unknown, ctx: GraphErrorContext): MailboxError {
	return fromHttpsNetworkError(error, ctx.baseUrl, GRAPH_ENDPOINT, ctx.secrets);
}

export interface GraphFailureDetails {
	/** What was asked, for the message ("move", "delta of Inbox"). */
	operation?: string;
	/** The 401 came after a renewed token. */
	renewed?: boolean;
	/** Throttling waits before giving up, in ms. */
	waits?: number[];
	/** The Location header of a redirect. */
	location?: string;
}

/** A Graph answer other than 2xx as the user-facing error. */
export function fromGraphResponse(status: number, error: GraphErrorBody, ctx: GraphErrorContext, details: GraphFailureDetails = {}): MailboxError {
	const host = hostOf(ctx.baseUrl);
	const text = error.message ? redact(error.message, ctx.secrets) : undefined;
	const code = error.code;
	const serverCode = code ?? `HTTP_${status}`;
	const answer = { serverCode, responseCode: status, command: details.operation };
	const serverResponse = text ? (code ? `${code}: ${text}` : text) : code;
	const said = text ? ` Graph says: ${text}` : '';
	const op = details.operation ? ` (${details.operation})` : '';
	const mailbox = ctx.mailbox ? `"${ctx.mailbox}"` : 'the signed-in user\'s mailbox';
	const lower = (code ?? '').toLowerCase();

	if (status === 410 || RESYNC_SERVER_CODES.has(lower)) {
		return new MailboxError('PROTOCOL', `Microsoft Graph no longer accepts the saved delta link${op}: the folder is read again from the start (${serverCode}).`, {
			step: 'command',
			...answer,
			serverResponse,
			hint: 'Nothing to change: delta links expire when a folder was not read for a long time, or after maintenance on the mailbox.',
		});
	}
	if (status === 401) {
		const app = ctx.auth === 'app';
		return new MailboxError('AUTH', `Microsoft Graph rejected the access token (HTTP 401${details.renewed ? ', also after renewing it' : ''})${op}: it has expired, was revoked, or is not for Microsoft Graph.${said}`, {
			field: 'accessToken',
			step: 'login',
			...answer,
			serverResponse,
			hint: app
				? 'The app\'s token must be for Microsoft Graph: scope https://graph.microsoft.com/.default (a token for https://outlook.office365.com is refused). Check Tenant ID and Client ID, and that the app has Microsoft Graph application permissions with admin consent.'
				: 'Open the credential and click "Connect my account" again; the sign-in must be for Microsoft Graph with the delegated permissions Mail.ReadWrite, Mail.Send, MailboxSettings.ReadWrite and offline_access.',
		});
	}
	if (status === 403 || lower === 'erroraccessdenied' || lower === 'authorization_requestdenied' || lower === 'accessdenied') {
		if (lower === 'errorsendasdenied') {
			return new MailboxError('SERVER', `Microsoft Graph refused to send as this sender${op}: the mailbox may not send as the From address (${serverCode}).${said}`, {
				field: 'mailbox',
				step: 'command',
				...answer,
				serverResponse,
				hint: 'Send with the mailbox\'s own address as From, or give the mailbox Send As permission for that address (Exchange admin center → Mailbox delegation).',
			});
		}
		return new MailboxError('SERVER', `Microsoft Graph refused access to ${mailbox}${op} (HTTP ${status}, ${serverCode}).${said}`, {
			field: 'mailbox',
			step: 'command',
			...answer,
			serverResponse,
			hint: graphPermissionHint(ctx),
		});
	}
	if (lower === 'errorinvaliduser' || lower === 'mailboxnotenabledforrestapi' || lower === 'mailboxnotfound' || lower === 'errornonexistentmailbox' || lower === 'errorinvalidmailbox') {
		return new MailboxError('NOT_FOUND', `There is no mailbox ${mailbox} that Microsoft Graph can open${op} (${serverCode}).${said}`, {
			field: 'mailbox',
			step: 'command',
			...answer,
			serverResponse,
			hint:
				lower === 'mailboxnotenabledforrestapi'
					? 'The mailbox is inactive, soft-deleted or hosted on-premises: Graph reaches Exchange Online mailboxes only (use EWS for an on-premises server).'
					: 'Check Mailbox: the primary SMTP address (or user principal name) of a user or shared mailbox of the tenant.',
		});
	}
	if (lower === 'erroritemnotfound' || lower === 'erroridnotfound' || lower === 'errorinvalididmalformed' || lower === 'errorinvalidid') {
		return new MailboxError('NOT_FOUND', `The message or folder is no longer in ${mailbox}${op}: it was moved or deleted (${serverCode}).`, { step: 'command', ...answer, serverResponse });
	}
	if (status === 404 || lower === 'resourcenotfound') {
		return new MailboxError('NOT_FOUND', `Microsoft Graph found nothing at the address asked for${op} (${serverCode}).${said}`, {
			field: 'baseUrl',
			step: 'command',
			...answer,
			serverResponse,
			hint: `The message or folder may have been deleted; if every request fails this way, check the Graph URL (${DEFAULT_GRAPH_URL}) and Mailbox.`,
		});
	}
	if (status === 429 || status === 503) {
		const waited = details.waits?.length ? `, also after waiting ${Math.round(details.waits.reduce((a, b) => a + b, 0) / 1000)} s and sending it again ${details.waits.length} time${details.waits.length === 1 ? '' : 's'}` : '';
		return new MailboxError('SERVER', `Microsoft Graph is throttling the requests for ${mailbox} (HTTP ${status}${code ? `, ${code}` : ''})${op}${waited}.`, {
			step: 'command',
			...answer,
			reason: 'TooManyRequests',
			serverResponse,
			hint: 'Try again later, poll less often or for fewer folders; Microsoft Graph limits how many requests an app may send for one mailbox (about 10,000 in 10 minutes, 4 at once).',
		});
	}
	if (status === 413 || lower === 'errormessagesizeexceeded' || lower === 'requestentitytoolarge') {
		return new MailboxError('SERVER', `Microsoft Graph refused the request as too large${op} (${serverCode}).${said}`, {
			step: 'command',
			...answer,
			serverResponse,
			hint: 'Exchange Online accepts messages up to the mailbox\'s size limit (35 MB by default, 150 MB at most); send smaller attachments or raise the limit.',
		});
	}
	if (lower === 'errorquotaexceeded' || lower === 'errorquotaexceededonsubmission') {
		return new MailboxError('SERVER', `The mailbox ${mailbox} is full${op} (${serverCode}).`, { field: 'mailbox', step: 'command', ...answer, serverResponse, hint: 'Free space in the mailbox (empty Deleted Items, archive old mail) or raise its quota.' });
	}
	if (status >= 300 && status < 400) {
		return new MailboxError('PROTOCOL', `${host} answered with a redirect${details.location ? ` to ${redact(details.location, ctx.secrets)}` : ''} instead of Microsoft Graph (HTTP ${status}).`, {
			field: 'baseUrl',
			step: 'command',
			...answer,
			hint: `Enter the Graph URL itself, ${DEFAULT_GRAPH_URL} (or a national cloud's).`,
		});
	}
	if (status >= 500) {
		return new MailboxError('SERVER', `Microsoft Graph failed to serve the request${op} (HTTP ${status}, ${serverCode}).${said}`, { step: 'command', ...answer, serverResponse, hint: 'It is usually temporary; the next attempt often works.' });
	}
	return new MailboxError('SERVER', `Microsoft Graph refused the request${op} (HTTP ${status}, ${serverCode}).${said}`, { step: 'command', ...answer, serverResponse });
}
