/**
 * The one way from a node's sign-in choice (Authentication, Mailbox, the node's server fields) to
 * a connection for every protocol the nodes speak: IMAP, POP3, SMTP, EWS and Microsoft Graph.
 * Every node and trigger asks here; what each credential holds is read by the mappers in
 * ./credentials.ts, ./pop3-credentials.ts, ./smtp-credentials.ts, ./ews-settings.ts and
 * ./graph-settings.ts, and tokens come from lib/auth (Microsoft 365 app, Google service account)
 * or from n8n (delegated OAuth2, ./microsoft-oauth2.ts).
 *
 * IMAP, POP3 and SMTP come back resolved (server checked, login complete; for IMAP the node's
 * Mailbox applied), with `renewToken` for a token the server rejects before its known expiry.
 * POP3 and SMTP always sign in as the credential's own mailbox.
 */
import type { ICredentialDataDecryptedObject, Logger as N8nLogger } from 'n8n-workflow';
import { checkLogin, resolveServer, type Login, type ResolvedServer } from '../../lib/connection/options';
import { hasInstanceServer } from '../../lib/connection/presets';
import { checkTokenHost, withinCredential } from '../../lib/connection/scope';
import { loginForMailbox } from '../../lib/connection/shared-mailboxes';
import type { EwsClientSettings } from '../../lib/ews/client';
import type { GraphClientOptions } from '../../lib/graph/client';
import type { Pop3LoginMethod } from '../../lib/pop3/connect';
import { imapConnectionOf, isGoogleAuthentication, microsoftAppToken, microsoftCredentialHosts, pop3ConnectionOfMicrosoft, tokenCredentialOf, type Authentication } from './credentials';
import { ewsSettingsOf, type EwsAuthentication } from './ews-settings';
import { graphSettingsOf } from './graph-settings';
import { n8nLogger } from './logger';
import type { OAuth2RefreshContext } from './microsoft-oauth2';
import { POP3_CREDENTIAL, pop3SettingsFromCredential } from './pop3-credentials';
import { SMTP_CREDENTIAL, smtpSettingsFromCredential } from './smtp-credentials';

/** What the resolver needs of an n8n context: execute, trigger, poll and load-options contexts have it. */
export interface NodeContext extends OAuth2RefreshContext {
	logger: N8nLogger;
}

/** A resolved IMAP, POP3 or SMTP connection. */
export interface MailConnection {
	server: ResolvedServer;
	login: Login;
	/** Renews the access token (token logins): a new grant, or n8n's refresh for a delegated sign-in. */
	renewToken?: () => Promise<string>;
}

export interface CredentialChoice {
	authentication: Authentication;
	itemIndex?: number;
}

export interface SignInChoice extends CredentialChoice {
	/** The node's Mailbox: empty for the credential's own. */
	mailbox?: string;
	/** The access token a server has just rejected: renewed before it is handed out again. */
	rejectedToken?: string;
}

/** The login with `rejectedToken` replaced by a renewed token (other logins unchanged). */
async function withoutRejected<L extends Login | Partial<Login>>(login: L, renewToken: (() => Promise<string>) | undefined, rejectedToken: string | undefined): Promise<L> {
	if (!rejectedToken || !renewToken || !('accessToken' in login) || login.accessToken !== rejectedToken) return login;
	return { ...login, accessToken: await renewToken() };
}

/** IMAP: the credential of the node's Authentication, logged in as (or for) the node's Mailbox. */
export async function imapConnection(ctx: NodeContext, choice: SignInChoice): Promise<MailConnection> {
	const itemIndex = choice.itemIndex ?? 0;
	const mailbox = choice.mailbox ?? '';
	const { settings, login, sharedMailboxes, renewToken } = await imapConnectionOf(choice.authentication, (name) => ctx.getCredentials(name, itemIndex), n8nLogger(ctx.logger), { ctx, itemIndex }, mailbox);
	const current = await withoutRejected(login, renewToken, choice.rejectedToken);
	return { server: resolveServer('imap', settings), login: loginForMailbox(checkLogin(current), sharedMailboxes, mailbox), renewToken };
}

/**
 * POP3: the POP3 credential (password or APOP), or with a Microsoft 365 or Google credential the
 * same token as for IMAP, XOAUTH2 as the mailbox address, and the credential's POP3 host over SSL/TLS.
 */
export async function pop3Connection(ctx: NodeContext, choice: Omit<SignInChoice, 'mailbox'>): Promise<MailConnection & { loginMethod: Pop3LoginMethod }> {
	const itemIndex = choice.itemIndex ?? 0;
	if (choice.authentication === 'password') {
		const { settings, login, apop } = pop3SettingsFromCredential(await ctx.getCredentials(POP3_CREDENTIAL, itemIndex));
		return { server: resolveServer('pop3', settings), login: checkLogin(login), loginMethod: apop };
	}
	const { settings, login, renewToken } = await pop3ConnectionOfMicrosoft(choice.authentication, (name) => ctx.getCredentials(name, itemIndex), n8nLogger(ctx.logger), { ctx, itemIndex });
	return { server: resolveServer('pop3', settings), login: checkLogin(await withoutRejected(login, renewToken, choice.rejectedToken)), loginMethod: 'password', renewToken };
}

/** Where the SMTP server came from: the node, the credential's host, a provider, the instance default (environment), else this machine's mail server. */
export type ServerSource = 'node' | 'credential' | 'provider' | 'instance default' | 'local mail server';

export interface SmtpChoice extends CredentialChoice {
	/** Password: the node's Server, instead of the credential's. */
	serverOverride?: string;
	serverOverrideSecurity?: string;
	/** Microsoft 365: the node's SMTP Server (host:port, STARTTLS). */
	smtpHost?: string;
}

/** Where the credential's SMTP server comes from: its Host, a provider, the instance default, or this machine. */
function credentialServerSource(data: ICredentialDataDecryptedObject): ServerSource {
	if (String(data.host ?? '').trim() || !data.server || data.server === 'custom') return 'credential';
	if (data.server !== 'instance') return 'provider';
	return hasInstanceServer('smtp') ? 'instance default' : 'local mail server';
}

/**
 * SMTP: `login` is undefined for a password credential with Authentication None.
 * - Password: the credential's server, or the node's Server (the credential's login and its
 *   "allow self-signed" stay with the credential's own server).
 * - Microsoft 365 (app or delegated): the node's SMTP Server, on a host the token may go to.
 * - Google: the credential's SMTP Host and Port (465 SSL/TLS, else STARTTLS), XOAUTH2 as its Mailbox.
 */
export async function smtpConnection(ctx: NodeContext, choice: SmtpChoice): Promise<Omit<MailConnection, 'login'> & { login: Login | undefined; source: ServerSource }> {
	const itemIndex = choice.itemIndex ?? 0;
	const { authentication } = choice;
	if (authentication === 'password') {
		const data = await ctx.getCredentials(SMTP_CREDENTIAL, itemIndex);
		const own = smtpSettingsFromCredential(data);
		const login = own.login ? checkLogin(own.login) : undefined;
		const override = (choice.serverOverride ?? '').trim();
		if (!override) return { server: resolveServer('smtp', own.settings), login, source: credentialServerSource(data) };
		const chosen = resolveServer('smtp', smtpSettingsFromCredential({ ...data, server: 'custom', host: override, port: 0, security: choice.serverOverrideSecurity ?? 'starttls' }).settings);
		const server = withinCredential({ credential: resolveServer('smtp', own.settings), chosen, carriesLogin: login !== undefined, field: 'serverOverride', label: 'Server' });
		return { server, login, source: 'node' };
	}
	// the token and the login are the ones for IMAP (the same scope), as the credential's own mailbox
	const data = await ctx.getCredentials(tokenCredentialOf(authentication), itemIndex);
	let server: ResolvedServer;
	let source: ServerSource;
	if (isGoogleAuthentication(authentication)) {
		const port = Number(data.smtpPort) || 465;
		server = resolveServer('smtp', { host: String(data.smtpHost ?? '') || 'smtp.gmail.com', port, security: port === 465 ? 'tls' : 'starttls' });
		source = 'credential';
	} else {
		// checked before any token is asked for: a token goes only where the credential allows
		server = resolveServer('smtp', { host: choice.smtpHost || 'smtp.office365.com:587', security: 'starttls' });
		checkTokenHost(server.host, microsoftCredentialHosts(data), 'smtpHost', 'SMTP Server');
		source = 'node';
	}
	const logger = n8nLogger(ctx.logger);
	if (authentication === 'microsoftApp') {
		// the app's token as the credential's Mailbox (its Shared Mailboxes play no part in sending)
		const { accessToken, renewToken } = await microsoftAppToken(data, logger);
		return { server, login: checkLogin({ user: String(data.mailbox ?? ''), accessToken }), source, renewToken };
	}
	const { login, renewToken } = await imapConnectionOf(authentication, (name) => ctx.getCredentials(name, itemIndex), logger, { ctx, itemIndex });
	return { server, login: checkLogin(login), source, renewToken };
}

export interface EwsChoice {
	authentication: EwsAuthentication;
	mailbox?: string;
	/** The node's EWS URL (Microsoft 365 only; the on-premises credential has its own). */
	ewsUrl?: string;
}

/**
 * EWS: the Microsoft 365 app's token (impersonating the mailbox), the signed-in user's token
 * (renewed through n8n after a 401), or the on-premises credential ('password'). Read at every
 * call, so a poll after a failure gets a renewed delegated token.
 */
export async function ewsConnection(ctx: NodeContext, choice: EwsChoice): Promise<EwsClientSettings> {
	return ewsSettingsOf(ctx, { ...choice, ewsUrl: choice.authentication === 'password' ? undefined : choice.ewsUrl }, n8nLogger(ctx.logger));
}

export interface GraphChoice {
	authentication: string;
	mailbox?: string;
	/** The node's Graph URL (empty: Microsoft Graph's). */
	graphUrl?: string;
}

/** Microsoft Graph: the Microsoft 365 app's token for Graph, or the signed-in user's (API: Microsoft Graph). */
export async function graphConnection(ctx: NodeContext, choice: GraphChoice): Promise<GraphClientOptions> {
	return graphSettingsOf(ctx, choice, n8nLogger(ctx.logger));
}

export { isGoogleAuthentication, type Authentication };
