import type { ICredentialDataDecryptedObject } from 'n8n-workflow';
import { DEFAULT_EWS_URL, EWS_SERVER_VERSIONS, type EwsClientSettings, type EwsServerVersion } from '../../lib/ews/client';
import { checkTokenHost } from '../../lib/connection/scope';
import { parseSharedMailboxes, sharedMailboxFor } from '../../lib/connection/shared-mailboxes';
import type { Logger } from '../../lib/logger';
import { MICROSOFT_APP_CREDENTIAL, microsoftAppOf, microsoftCredentialHosts } from './credentials';
import { MICROSOFT_DELEGATED_CREDENTIAL, microsoftOAuth2Connection, type OAuth2RefreshContext } from './microsoft-oauth2';

export const EWS_CREDENTIAL = 'mailboxEwsApi';

/** How the EWS trigger signs in. */
export type EwsAuthentication = 'microsoftApp' | 'microsoftOAuth2' | 'password';

export interface EwsNodeChoice {
	authentication: EwsAuthentication;
	/** The node's Mailbox (empty: the credential's). */
	mailbox?: string;
	/** The node's EWS URL (Microsoft 365 only; the password credential has its own). */
	ewsUrl?: string;
}

/** The mailboxEwsApi credential (on-premises Exchange, user and password) as client settings. */
export function ewsSettingsFromCredential(data: ICredentialDataDecryptedObject, mailbox?: string): EwsClientSettings {
	const version = String(data.serverVersion || 'Exchange2013_SP1');
	return {
		url: String(data.url ?? '').trim(),
		auth: { type: 'password', user: String(data.user ?? '').trim(), password: String(data.password ?? '') },
		mailbox: mailbox?.trim() || String(data.mailbox ?? '').trim() || undefined,
		impersonation: data.access === 'impersonation',
		serverVersion: (EWS_SERVER_VERSIONS as readonly string[]).includes(version) ? (version as EwsServerVersion) : 'Exchange2013_SP1',
		allowUnauthorizedCerts: data.allowSelfSigned === true,
	};
}

/** The node's EWS URL for a Microsoft 365 token: Exchange Online's, or one on a host the credential names (the token goes nowhere else). */
function tokenEwsUrl(choice: EwsNodeChoice, data: ICredentialDataDecryptedObject): string {
	const url = choice.ewsUrl?.trim() || DEFAULT_EWS_URL;
	let host: string | undefined;
	try {
		host = new URL(url).hostname;
	} catch {
		// not a URL: the EWS client names the field
	}
	if (host !== undefined) checkTokenHost(host, microsoftCredentialHosts(data), 'ewsUrl', 'EWS URL');
	return url;
}

/**
 * The mailboxMicrosoftAppApi credential: the app's token from MSAL, impersonating the mailbox: the
 * credential's own, or one of its Shared Mailboxes named by the node (any other is refused: the app
 * may reach every mailbox of the tenant, the credential's list is what its owner allowed).
 */
export function ewsSettingsFromMicrosoftApp(data: ICredentialDataDecryptedObject, choice: EwsNodeChoice): EwsClientSettings {
	const own = String(data.mailbox ?? '').trim();
	return {
		url: tokenEwsUrl(choice, data),
		auth: { type: 'app', app: microsoftAppOf(data) },
		mailbox: sharedMailboxFor(own, parseSharedMailboxes(data.sharedMailboxes as string | undefined), choice.mailbox) ?? own,
		impersonation: true,
	};
}

/**
 * The client settings for the node's Authentication, read from n8n at every call (so a poll after
 * a failure gets a renewed delegated token). The delegated token is renewed through n8n after a 401.
 */
export async function ewsSettingsOf(
	ctx: OAuth2RefreshContext,
	choice: EwsNodeChoice,
	logger?: Logger,
): Promise<EwsClientSettings> {
	if (choice.authentication === 'password') return { ...ewsSettingsFromCredential(await ctx.getCredentials(EWS_CREDENTIAL), choice.mailbox), logger };
	if (choice.authentication === 'microsoftApp') return { ...ewsSettingsFromMicrosoftApp(await ctx.getCredentials(MICROSOFT_APP_CREDENTIAL), choice), logger };
	const url = tokenEwsUrl(choice, await ctx.getCredentials(MICROSOFT_DELEGATED_CREDENTIAL));
	const { login, sharedMailboxes, renewToken } = await microsoftOAuth2Connection(ctx, 0, logger);
	const own = String(login.user ?? '').trim();
	return {
		url,
		auth: { type: 'token', accessToken: String(login.accessToken ?? ''), renew: renewToken },
		// the signed-in user's own mailbox unless the node names one of the credential's Shared Mailboxes (delegate access, Full Access)
		mailbox: sharedMailboxFor(own, sharedMailboxes, choice.mailbox) ?? (own || undefined),
		impersonation: false,
		logger,
	};
}

/** "Inbox, Inbox/Projects" (commas or new lines) -> the folder paths; Inbox when empty. */
export function parseFolderList(text: string | string[] | undefined): string[] {
	const parts = Array.isArray(text) ? text : String(text ?? '').split(/[,\n]/);
	const folders = parts.map((f) => f.trim()).filter((f) => f.length > 0);
	return folders.length ? folders : ['Inbox'];
}
