/**
 * Exchange Web Services failures as MailboxError: HTTP and network failures (seen by the transport),
 * SOAP faults and failed response messages (reported by ews-javascript-api), each naming the
 * field to change and the fix. Secrets (tokens, passwords) never reach a message.
 */
import { fromHttpsNetworkError, hostOf, type HttpsEndpointNames } from '../connection/https-errors';
import { MailboxError, redact } from '../errors';

/** How the client signs in, for the wording of login failures. */
export type EwsAuthKind = 'app' | 'token' | 'password';

export interface EwsErrorContext {
	/** The EWS URL. */
	url: string;
	/** The mailbox acted on (impersonated or opened), when known. */
	mailbox?: string;
	auth: EwsAuthKind;
	/** Acting on the mailbox by impersonation (ExchangeImpersonation header). */
	impersonation: boolean;
	/** Secrets to strip from anything the server or the network layer said. */
	secrets: ReadonlyArray<string | undefined>;
}

/** The fix for a missing permission: what Microsoft 365 or Exchange needs for the way the client signs in. */
export function permissionHint(ctx: Pick<EwsErrorContext, 'auth' | 'impersonation' | 'mailbox'>): string {
	const mailbox = ctx.mailbox ? ` ${ctx.mailbox}` : '';
	if (ctx.auth === 'app') {
		return `The app registration needs the application permission full_access_as_app (API permissions → Add a permission → APIs my organization uses → Office 365 Exchange Online → Application permissions) with admin consent granted for the tenant; an application access policy, if the tenant uses one, must include the mailbox${mailbox}.`;
	}
	if (ctx.impersonation) return `The account needs the ApplicationImpersonation role for the mailbox${mailbox} (Exchange admin center → Permissions).`;
	return `The signed-in account needs Full Access to the mailbox${mailbox} (Exchange admin center → Recipients → Mailboxes → Mailbox delegation), or leave Mailbox empty to use its own mailbox.`;
}

/** How the EWS URL setting is named in network failures. */
const EWS_ENDPOINT: HttpsEndpointNames = { field: 'url', label: 'EWS URL', example: 'https://mail.example.com/EWS/Exchange.asmx', server: 'Exchange', service: 'EWS' };

/** A socket, DNS or TLS failure of a request to the EWS URL. */
export function fromEwsNetworkError(error: unknown, ctx: EwsErrorContext): MailboxError {
	return fromHttpsNetworkError(error, ctx.url, EWS_ENDPOINT, ctx.secrets);
}

/** The part of Exchange Online's x-ms-diagnostics header worth showing ("2000001;reason=...;error_category=..."). */
export function diagnosticsReason(header: string | undefined): string | undefined {
	if (!header) return undefined;
	const reason = /reason="([^"]*)"/.exec(header)?.[1];
	return reason || header;
}

/** An HTTP answer other than 200 and a SOAP fault (401, 403, 404, a redirect to a sign-in page...). */
export function fromEwsHttpStatus(status: number, details: { diagnostics?: string; location?: string; body?: string; renewed?: boolean; operation?: string }, ctx: EwsErrorContext): MailboxError {
	const host = hostOf(ctx.url);
	const answer = { responseCode: status, command: details.operation };
	const reason = details.diagnostics ? redact(diagnosticsReason(details.diagnostics) ?? '', ctx.secrets) : undefined;
	const said = reason ? ` Exchange says: ${reason}` : '';
	const serverResponse = reason ?? (details.body ? redact(details.body.slice(0, 300), ctx.secrets) : undefined);
	if (status === 401) {
		if (ctx.auth === 'password') {
			return new MailboxError('AUTH', `Exchange at ${host} rejected the user name or password (HTTP 401).${said}`, {
				field: 'password',
				step: 'login',
				serverCode: 'HTTP_401',
				...answer,
				serverResponse,
				hint: 'Check User (user@domain or DOMAIN\\user) and Password; Basic authentication must be enabled for EWS on the server (on-premises Exchange: the EWS virtual directory).',
			});
		}
		const app = ctx.auth === 'app';
		return new MailboxError('AUTH', `Exchange at ${host} rejected the access token (HTTP 401)${details.renewed ? ', also after renewing it' : ''}: it has expired, was revoked, or is not valid for EWS.${said}`, {
			field: 'accessToken',
			step: 'login',
			serverCode: 'HTTP_401',
			...answer,
			serverResponse,
			hint: app
				? 'Check that the token is for https://outlook.office365.com (scope https://outlook.office365.com/.default) and that the app has the application permission full_access_as_app with admin consent.'
				: 'Open the credential and click "Connect my account" again; the sign-in needs the scope EWS.AccessAsUser.All of Office 365 Exchange Online.',
		});
	}
	if (status === 403) {
		return new MailboxError('AUTH', `Exchange at ${host} refused access to EWS (HTTP 403).${said}`, {
			field: ctx.auth === 'password' ? 'user' : 'mailbox',
			step: 'login',
			serverCode: 'HTTP_403',
			...answer,
			serverResponse,
			hint: `EWS may be disabled for the organization or the mailbox (Set-CASMailbox -EwsEnabled), or blocked by an application policy. ${permissionHint(ctx)}`,
		});
	}
	if (status >= 300 && status < 400) {
		return new MailboxError('PROTOCOL', `${host} answered with a redirect${details.location ? ` to ${redact(details.location, ctx.secrets)}` : ''} instead of EWS (HTTP ${status}).`, {
			field: 'url',
			step: 'login',
			serverCode: `HTTP_${status}`,
			...answer,
			hint: 'Enter the EWS URL itself, e.g. https://mail.example.com/EWS/Exchange.asmx; forms-based sign-in pages in front of Exchange are not supported.',
		});
	}
	if (status === 404) {
		return new MailboxError('CONFIG', `There is no EWS endpoint at ${redact(ctx.url, ctx.secrets)} (HTTP 404).`, {
			field: 'url',
			step: 'config',
			serverCode: 'HTTP_404',
			...answer,
			hint: 'The EWS URL usually ends in /EWS/Exchange.asmx, e.g. https://outlook.office365.com/EWS/Exchange.asmx or https://mail.example.com/EWS/Exchange.asmx.',
		});
	}
	if (status === 503 || status === 429) {
		return new MailboxError('SERVER', `Exchange at ${host} is busy or unavailable (HTTP ${status}), also after waiting and retrying.${said}`, { step: 'command', serverCode: `HTTP_${status}`, ...answer, serverResponse, hint: 'Try again later; Exchange Online throttles clients that send many requests.' });
	}
	return new MailboxError('SERVER', `Exchange at ${host} answered HTTP ${status}.${said}`, { step: 'command', serverCode: `HTTP_${status}`, ...answer, serverResponse });
}

/** EWS response codes (ErrorAccessDenied...) as the user-facing error. */
export function fromEwsResponseCode(code: string, message: string, ctx: EwsErrorContext, details: { backOffMs?: number; operation?: string; cause?: unknown } = {}): MailboxError {
	const text = redact(message || code, ctx.secrets);
	const serverResponse = `${code}: ${text}`;
	const mailbox = ctx.mailbox ? `"${ctx.mailbox}"` : 'the mailbox';
	const op = details.operation ? ` (${details.operation})` : '';
	const origin = { command: details.operation, cause: details.cause };
	switch (code) {
		case 'ErrorAccessDenied':
		case 'ErrorImpersonateUserDenied':
		case 'ErrorImpersonationDenied':
		case 'ErrorImpersonationFailed':
		case 'ErrorDelegateNoUser':
		case 'ErrorNoApplicableProxyCASServersAvailable':
			return new MailboxError('AUTH', `Exchange refused access to ${mailbox}${op}: ${text} (${code}).`, {
				field: ctx.auth === 'password' ? 'user' : 'mailbox',
				step: 'command',
				serverCode: code,
				...origin,
				serverResponse,
				hint: permissionHint(ctx),
			});
		case 'ErrorNonExistentMailbox':
		case 'ErrorInvalidUserPrincipalName':
		case 'ErrorInvalidSmtpAddress':
		case 'ErrorMailRecipientNotFound':
			return new MailboxError('NOT_FOUND', `There is no mailbox ${mailbox} in this Exchange organization (${code}).`, {
				field: 'mailbox',
				step: 'command',
				serverCode: code,
				...origin,
				serverResponse,
				hint: 'Check Mailbox: enter the primary SMTP address of a user or shared mailbox of the organization.',
			});
		case 'ErrorMissingEmailAddress':
			return new MailboxError('CONFIG', `Exchange needs the address of the mailbox to act on${op}: the account has no mailbox of its own (${code}).`, {
				field: 'mailbox',
				step: 'command',
				serverCode: code,
				...origin,
				serverResponse,
				hint: 'Enter Mailbox: the primary SMTP address of the user or shared mailbox.',
			});
		case 'ErrorInvalidLicense':
			return new MailboxError('AUTH', `The mailbox ${mailbox} has no Exchange Online license (${code}).`, { field: 'mailbox', step: 'command', serverCode: code, ...origin, serverResponse, hint: 'Assign an Exchange Online license to the user, or use a shared mailbox.' });
		case 'ErrorServerBusy':
			return new MailboxError('SERVER', `Exchange is throttling the requests for ${mailbox} (ErrorServerBusy${details.backOffMs ? `, back off ${Math.ceil(details.backOffMs / 1000)} s` : ''}), also after waiting and retrying.`, {
				step: 'command',
				serverCode: code,
				...origin,
				serverResponse,
				hint: 'Poll less often or for fewer folders; Exchange Online limits how much EWS work a mailbox and an app may cause.',
			});
		case 'ErrorFolderNotFound':
			return new MailboxError('NOT_FOUND', `A folder was not found in ${mailbox}${op} (${code}).`, { field: 'folders', step: 'command', serverCode: code, ...origin, serverResponse, hint: 'Check the folder names; list the folders to see their paths.' });
		case 'ErrorItemNotFound':
			return new MailboxError('NOT_FOUND', `The message is no longer in ${mailbox}${op}: it was moved or deleted (${code}).`, { step: 'command', serverCode: code, ...origin, serverResponse });
		case 'ErrorInvalidSyncStateData':
			return new MailboxError('PROTOCOL', `Exchange no longer accepts the saved sync state${op} (${code}).`, { step: 'command', serverCode: code, ...origin, serverResponse });
		case 'ErrorMailboxMoveInProgress':
		case 'ErrorMailboxStoreUnavailable':
		case 'ErrorInternalServerTransientError':
		case 'ErrorConnectionFailed':
		case 'ErrorExceededConnectionCount':
		case 'ErrorTooManyObjectsOpened':
			return new MailboxError('SERVER', `Exchange cannot serve ${mailbox} right now${op}: ${text} (${code}).`, { step: 'command', serverCode: code, ...origin, serverResponse, hint: 'It is temporary; the next attempt usually works.' });
		case 'ErrorInvalidServerVersion':
		case 'ErrorIncorrectSchemaVersion':
			return new MailboxError('CONFIG', `The Exchange server does not accept the requested server version${op}: ${text} (${code}).`, {
				field: 'serverVersion',
				step: 'command',
				serverCode: code,
				...origin,
				serverResponse,
				hint: 'Choose the Exchange version of the server (e.g. Exchange 2010 SP2 for Exchange 2010).',
			});
		default:
			return new MailboxError('SERVER', `Exchange refused the request${op}: ${text} (${code}).`, { step: 'command', serverCode: code, ...origin, serverResponse });
	}
}
