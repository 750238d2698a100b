import { DEFAULT_GRAPH_URL, type GraphClientOptions } from '../../lib/graph/client';
import { checkTokenHost } from '../../lib/connection/scope';
import { parseSharedMailboxes, sharedMailboxFor } from '../../lib/connection/shared-mailboxes';
import { configError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { MICROSOFT_APP_CREDENTIAL, microsoftAppOf, microsoftCredentialHosts } from './credentials';
import { MICROSOFT_DELEGATED_CREDENTIAL, microsoftOAuth2Connection, type OAuth2RefreshContext } from './microsoft-oauth2';

/** How a node signs in to Microsoft Graph. */
export type GraphAuthentication = 'microsoftApp' | 'microsoftOAuth2';

export interface GraphNodeChoice {
	authentication: string;
	/** The node's Mailbox (empty: the credential's). */
	mailbox?: string;
	/** The node's Graph URL (empty: Microsoft Graph's). */
	graphUrl?: string;
}

/** The node's Graph URL, on a host a Graph token may go to (Microsoft Graph's, or one the credential names). */
function graphUrlOf(choice: GraphNodeChoice, credentialHosts: string[]): string {
	const url = choice.graphUrl?.trim() || DEFAULT_GRAPH_URL;
	let host: string | undefined;
	try {
		host = new URL(url).hostname;
	} catch {
		// not a URL: the Graph client names the field
	}
	if (host !== undefined) checkTokenHost(host, credentialHosts, 'graphUrl', 'Graph URL', 'graph');
	return url;
}

/**
 * The Graph client's options for the node's Authentication, read from n8n at every call (a poll
 * after a failure gets a renewed delegated token):
 * - a Microsoft 365 app: its token for Graph from MSAL, acting on the credential's mailbox or one
 *   of its Shared Mailboxes named by the node (any other is refused: the app may reach every
 *   mailbox of the tenant, the credential's list is what its owner allowed);
 * - a signed-in user (the delegated credential with API: Microsoft Graph): the token n8n keeps,
 *   renewed through n8n after a 401; the user's own mailbox or one of the Shared Mailboxes.
 */
export async function graphSettingsOf(ctx: OAuth2RefreshContext, choice: GraphNodeChoice, logger?: Logger): Promise<GraphClientOptions> {
	if (choice.authentication === 'microsoftApp') {
		const data = await ctx.getCredentials(MICROSOFT_APP_CREDENTIAL);
		const own = String(data.mailbox ?? '').trim();
		return {
			baseUrl: graphUrlOf(choice, microsoftCredentialHosts(data)),
			auth: { type: 'app', app: microsoftAppOf(data) },
			mailbox: sharedMailboxFor(own, parseSharedMailboxes(data.sharedMailboxes as string | undefined), choice.mailbox) ?? own,
			logger,
		};
	}
	if (choice.authentication !== 'microsoftOAuth2') {
		throw configError('authentication', 'Microsoft Graph is signed in to with a Microsoft 365 app or a signed-in Microsoft 365 user, not with a password.', 'Choose Microsoft 365 App or Microsoft 365 (Delegated OAuth2) under Authentication, or set Access Via to EWS for on-premises Exchange.');
	}
	const data = await ctx.getCredentials(MICROSOFT_DELEGATED_CREDENTIAL);
	if (data.api !== 'graph') {
		throw configError(
			'api',
			'The Microsoft 365 (Delegated OAuth2) credential holds a token for the Exchange protocols (IMAP, POP3, SMTP, EWS), which Microsoft Graph does not accept.',
			'Create a credential with API: Microsoft Graph (delegated permissions Mail.ReadWrite, Mail.Send, MailboxSettings.ReadWrite) and click "Connect my account", or set Access Via to EWS.',
		);
	}
	const baseUrl = graphUrlOf(choice, [String(data.graphHost || 'graph.microsoft.com'), ...microsoftCredentialHosts(data)]);
	const { login, sharedMailboxes, renewToken } = await microsoftOAuth2Connection(ctx, 0, logger);
	const own = String(login.user ?? '').trim();
	const mailbox = sharedMailboxFor(own, sharedMailboxes, choice.mailbox);
	return {
		baseUrl,
		auth: { type: 'token', token: String(login.accessToken ?? ''), renew: renewToken },
		// the signed-in user's own mailbox is /me; another one named by the node goes by its address
		mailbox: mailbox && mailbox.toLowerCase() !== own.toLowerCase() ? mailbox : undefined,
		logger,
	};
}
