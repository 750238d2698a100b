import type { ImapFlow } from 'imapflow';
import type { IExecuteFunctions } from 'n8n-workflow';
import { withTokenRefresh } from '../../lib/auth/oauth2-token';
import { configError } from '../../lib/errors';
import { connectEws, type EwsClient, type EwsClientSettings } from '../../lib/ews/client';
import { ewsSettingsOf as ewsSettingsForTrigger, type EwsAuthentication as TriggerEwsAuthentication } from '../shared/ews-settings';
import { connectGraph, type GraphClient } from '../../lib/graph/client';
import { graphSettingsOf } from '../shared/graph-settings';
import { connectImap, fromImapError } from '../../lib/imap/connect';
import { checkLogin, isTokenLogin, resolveServer, type Login, type ResolvedServer } from '../../lib/connection/options';
import { loginForMailbox } from '../../lib/connection/shared-mailboxes';
import { imapConnectionOf, type Authentication } from '../shared/credentials';
import { n8nLogger } from '../shared/logger';

/**
 * One IMAP connection for a whole node run: opened on first use, shared by all items, closed
 * when the run ends.
 */
export class ImapSession {
	private client?: ImapFlow;

	private constructor(
		private readonly ctx: IExecuteFunctions,
		private readonly server: ResolvedServer,
		private login: Login,
		/** Renews the access token once (delegated OAuth2), when the server rejected it. */
		private readonly renewToken?: () => Promise<string>,
	) {}

	static async open(ctx: IExecuteFunctions, itemIndex = 0): Promise<ImapSession> {
		const authentication = ctx.getNodeParameter('authentication', itemIndex, 'password') as Authentication;
		const mailbox = ctx.getNodeParameter('mailbox', itemIndex, '') as string;
		const { settings, login, sharedMailboxes, renewToken } = await imapConnectionOf(authentication, (name) => ctx.getCredentials(name, itemIndex), n8nLogger(ctx.logger), { ctx, itemIndex }, mailbox);
		return new ImapSession(ctx, resolveServer('imap', settings), loginForMailbox(checkLogin(login), sharedMailboxes, mailbox), renewToken);
	}

	private async connect(): Promise<ImapFlow> {
		const logger = n8nLogger(this.ctx.logger);
		const login = this.login;
		if (!this.renewToken || !isTokenLogin(login)) return connectImap(this.server, login, logger);
		const outcome = await withTokenRefresh({
			accessToken: login.accessToken,
			expired: false,
			attempt: (accessToken) => connectImap(this.server, { ...login, accessToken }, logger),
			refresh: this.renewToken,
		});
		this.login = { ...login, accessToken: outcome.accessToken };
		return outcome.value;
	}

	async run<T>(work: (client: ImapFlow) => Promise<T>): Promise<T> {
		if (!this.client || !this.client.usable) {
			this.client = await this.connect();
		}
		try {
			return await work(this.client);
		} catch (error) {
			throw fromImapError(error, this.server, this.login);
		}
	}

	async close(): Promise<void> {
		const client = this.client;
		this.client = undefined;
		if (client) await client.logout().catch(() => client.close());
	}
}

/** How the node signs in with Access Via: EWS ('ewsPassword': the on-premises credential; the IMAP Authentication already uses 'password'). */
export type EwsAuthentication = 'microsoftApp' | 'microsoftOAuth2' | 'ewsPassword';

const EWS_AUTHENTICATIONS: Record<EwsAuthentication, TriggerEwsAuthentication> = { microsoftApp: 'microsoftApp', microsoftOAuth2: 'microsoftOAuth2', ewsPassword: 'password' };

/**
 * The EWS client settings of the node's Authentication, Mailbox and EWS URL (Access Via: EWS),
 * read the same way as the EWS trigger reads them:
 * - Microsoft 365 App: the app's token from MSAL; the mailbox (the node's, else the credential's)
 *   is impersonated.
 * - Microsoft 365 (Delegated OAuth2): the signed-in user's token, renewed through n8n after a 401;
 *   the user's own mailbox, or another one the user has Full Access to (delegate access).
 * - Password: the on-premises Exchange credential (mailboxEwsApi, with its own EWS URL).
 */
export async function ewsSettingsOf(ctx: IExecuteFunctions, itemIndex = 0): Promise<EwsClientSettings> {
	const authentication = ctx.getNodeParameter('authentication', itemIndex, 'microsoftApp') as string;
	if (!Object.prototype.hasOwnProperty.call(EWS_AUTHENTICATIONS, authentication)) {
		throw configError(
			'authentication',
			`Authentication "${authentication}" does not work with Access Via: Exchange Web Services (EWS).`,
			'Choose Microsoft 365 App, Microsoft 365 (Delegated OAuth2) or Password (On-Premises Exchange) as Authentication, or set Access Via to IMAP.',
		);
	}
	const choice = EWS_AUTHENTICATIONS[authentication as EwsAuthentication];
	return ewsSettingsForTrigger(
		ctx,
		{
			authentication: choice,
			mailbox: String(ctx.getNodeParameter('mailbox', itemIndex, '') ?? ''),
			ewsUrl: choice === 'password' ? undefined : String(ctx.getNodeParameter('ewsUrl', itemIndex, '') ?? ''),
		},
		n8nLogger(ctx.logger),
	);
}

/** One EWS client for a whole node run (Access Via: EWS): connected on first use, closed when the run ends. */
export class EwsSession {
	private constructor(
		readonly client: EwsClient,
		/** The mailbox acted on, as the items name it: its address, or the password credential's user for the own mailbox. */
		readonly mailbox: string | null,
	) {}

	static async open(ctx: IExecuteFunctions, itemIndex = 0): Promise<EwsSession> {
		const settings = await ewsSettingsOf(ctx, itemIndex);
		const client = await connectEws(settings);
		return new EwsSession(client, client.mailbox ?? (settings.auth.type === 'password' ? settings.auth.user : null));
	}

	close(): void {
		this.client.close();
	}
}

/** How the node signs in with Access Via: Microsoft Graph. */
const GRAPH_AUTHENTICATIONS = ['microsoftApp', 'microsoftOAuth2'];

/**
 * One Graph client for a whole node run (Access Via: Microsoft Graph): the node's Authentication,
 * Mailbox and Graph URL, read as the Graph trigger reads them (nodes/shared/graph-settings.ts).
 */
export class GraphSession {
	private constructor(
		readonly client: GraphClient,
		/** The mailbox acted on, as the items name it: its address, or null for the signed-in user's own. */
		readonly mailbox: string | null,
	) {}

	static async open(ctx: IExecuteFunctions, itemIndex = 0): Promise<GraphSession> {
		const authentication = String(ctx.getNodeParameter('authentication', itemIndex, 'microsoftApp') ?? '');
		if (!GRAPH_AUTHENTICATIONS.includes(authentication)) {
			throw configError(
				'authentication',
				`Authentication "${authentication}" does not work with Access Via: Microsoft Graph.`,
				'Choose Microsoft 365 App or Microsoft 365 (Delegated OAuth2) as Authentication, or set Access Via to IMAP or EWS.',
			);
		}
		const options = await graphSettingsOf(
			ctx,
			{ authentication, mailbox: String(ctx.getNodeParameter('mailbox', itemIndex, '') ?? ''), graphUrl: String(ctx.getNodeParameter('graphUrl', itemIndex, '') ?? '') },
			n8nLogger(ctx.logger),
		);
		const client = await connectGraph(options);
		return new GraphSession(client, client.mailbox ?? null);
	}

	close(): void {
		this.client.close();
	}
}
