import type { IExecuteFunctions } from 'n8n-workflow';
import { configError } from '../../lib/errors';
import { connectEws, type EwsClient, type EwsClientSettings } from '../../lib/ews/client';
import { connectGraph, type GraphClient } from '../../lib/graph/client';
import { ImapSession } from '../../lib/imap/session';
import type { EwsAuthentication as TriggerEwsAuthentication } from '../shared/ews-settings';
import { ewsConnection, graphConnection, imapConnection, type Authentication } from '../shared/connection';
import { n8nLogger } from '../shared/logger';

export type { ImapSession };

/**
 * One IMAP connection for a whole node run (lib/imap/session.ts): opened on first use, shared by
 * all items, closed when the run ends; a token the server rejects is renewed once.
 */
export async function openImapSession(ctx: IExecuteFunctions, itemIndex = 0): Promise<ImapSession> {
	const authentication = ctx.getNodeParameter('authentication', itemIndex, 'password') as Authentication;
	const mailbox = ctx.getNodeParameter('mailbox', itemIndex, '') as string;
	return new ImapSession(await imapConnection(ctx, { authentication, mailbox, itemIndex }), n8nLogger(ctx.logger));
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
export async function ewsSettingsForNode(ctx: IExecuteFunctions, itemIndex = 0): Promise<EwsClientSettings> {
	const authentication = ctx.getNodeParameter('authentication', itemIndex, 'microsoftApp') as string;
	if (!Object.prototype.hasOwnProperty.call(EWS_AUTHENTICATIONS, authentication)) {
		throw configError(
			'authentication',
			`Authentication "${authentication}" does not work with Access Via: Exchange Web Services (EWS).`,
			'Choose Microsoft 365 App, Microsoft 365 (Delegated OAuth2) or Password (On-Premises Exchange) as Authentication, or set Access Via to IMAP.',
		);
	}
	const choice = EWS_AUTHENTICATIONS[authentication as EwsAuthentication];
	return ewsConnection(ctx, {
		authentication: choice,
		mailbox: String(ctx.getNodeParameter('mailbox', itemIndex, '') ?? ''),
		ewsUrl: choice === 'password' ? undefined : String(ctx.getNodeParameter('ewsUrl', itemIndex, '') ?? ''),
	});
}

/** One EWS client for a whole node run (Access Via: EWS): connected on first use, closed when the run ends. */
export class EwsSession {
	private constructor(
		readonly client: EwsClient,
		/** The mailbox acted on, as the items name it: its address, or the password credential's user for the own mailbox. */
		readonly mailbox: string | null,
	) {}

	static async open(ctx: IExecuteFunctions, itemIndex = 0): Promise<EwsSession> {
		const settings = await ewsSettingsForNode(ctx, itemIndex);
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
		const options = await graphConnection(ctx, { authentication, mailbox: String(ctx.getNodeParameter('mailbox', itemIndex, '') ?? ''), graphUrl: String(ctx.getNodeParameter('graphUrl', itemIndex, '') ?? '') });
		const client = await connectGraph(options);
		return new GraphSession(client, client.mailbox ?? null);
	}

	close(): void {
		this.client.close();
	}
}
