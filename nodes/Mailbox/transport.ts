import type { ImapFlow } from 'imapflow';
import type { ICredentialDataDecryptedObject, IExecuteFunctions } from 'n8n-workflow';
import { withTokenRefresh } from '../../lib/auth/oauth2-token';
import { configError } from '../../lib/errors';
import { connectEws, DEFAULT_EWS_URL, EWS_SERVER_VERSIONS, type EwsClient, type EwsClientSettings, type EwsServerVersion } from '../../lib/ews/client';
import { connectImap, fromImapError } from '../../lib/imap/connect';
import { checkLogin, isTokenLogin, resolveServer, type Login, type ResolvedServer } from '../../lib/connection/options';
import { loginForMailbox } from '../../lib/connection/shared-mailboxes';
import { imapConnectionOf, MICROSOFT_APP_CREDENTIAL, type Authentication } from '../shared/credentials';
import { microsoftOAuth2Connection } from '../shared/microsoft-oauth2';
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
		const { settings, login, sharedMailboxes, renewToken } = await imapConnectionOf(authentication, (name) => ctx.getCredentials(name, itemIndex), n8nLogger(ctx.logger), { ctx, itemIndex });
		const mailbox = ctx.getNodeParameter('mailbox', itemIndex, '') as string;
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

/** How the node signs in with Access Via: EWS. */
export type EwsAuthentication = 'microsoftApp' | 'microsoftOAuth2' | 'ewsPassword';

/** The on-premises Exchange credential (EWS URL, user, password). */
export const EWS_PASSWORD_CREDENTIAL = 'mailboxEwsApi';

const EWS_AUTHENTICATIONS: readonly string[] = ['microsoftApp', 'microsoftOAuth2', 'ewsPassword'];

/** The on-premises credential's fields as client settings (the node's Mailbox wins over the credential's). */
export function ewsSettingsFromPasswordCredential(data: ICredentialDataDecryptedObject, mailbox?: string): EwsClientSettings {
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

/**
 * The EWS client settings of the node's Authentication, Mailbox and EWS URL (Access Via: EWS):
 * - Microsoft 365 App: the app's token from MSAL; the mailbox (the node's, else the credential's)
 *   is impersonated.
 * - Microsoft 365 (Delegated OAuth2): the signed-in user's token, renewed through n8n after a 401;
 *   the user's own mailbox, or another one the user has Full Access to (delegate access).
 * - Password: the on-premises Exchange credential (its own EWS URL).
 */
export async function ewsSettingsOf(ctx: IExecuteFunctions, itemIndex = 0): Promise<EwsClientSettings> {
	const authentication = ctx.getNodeParameter('authentication', itemIndex, 'microsoftApp') as string;
	const mailbox = String(ctx.getNodeParameter('mailbox', itemIndex, '') ?? '').trim();
	const logger = n8nLogger(ctx.logger);
	if (!EWS_AUTHENTICATIONS.includes(authentication)) {
		throw configError(
			'authentication',
			`Authentication "${authentication}" does not work with Access Via: Exchange Web Services (EWS).`,
			'Choose Microsoft 365 App, Microsoft 365 (Delegated OAuth2) or Password (On-Premises Exchange) as Authentication, or set Access Via to IMAP.',
		);
	}
	if (authentication === 'ewsPassword') return { ...ewsSettingsFromPasswordCredential(await ctx.getCredentials(EWS_PASSWORD_CREDENTIAL, itemIndex), mailbox), logger };
	const url = String(ctx.getNodeParameter('ewsUrl', itemIndex, '') ?? '').trim() || DEFAULT_EWS_URL;
	if (authentication === 'microsoftApp') {
		const data = await ctx.getCredentials(MICROSOFT_APP_CREDENTIAL, itemIndex);
		return {
			url,
			auth: {
				type: 'app',
				app: { tenantId: String(data.tenantId ?? ''), clientId: String(data.clientId ?? ''), clientSecret: String(data.clientSecret ?? ''), authorityHost: String(data.authorityHost ?? '') },
			},
			mailbox: mailbox || String(data.mailbox ?? '').trim(),
			impersonation: true,
			logger,
		};
	}
	const { login, renewToken } = await microsoftOAuth2Connection(ctx, itemIndex, logger);
	return {
		url,
		auth: { type: 'token', accessToken: String(login.accessToken ?? ''), renew: renewToken },
		// the signed-in user's own mailbox unless another is named (delegate access: Full Access)
		mailbox: mailbox || String(login.user ?? '').trim() || undefined,
		impersonation: false,
		logger,
	};
}

/** One EWS client for a whole node run (Access Via: EWS): connected on first use, closed when the run ends. */
export class EwsSession {
	private constructor(readonly client: EwsClient) {}

	static async open(ctx: IExecuteFunctions, itemIndex = 0): Promise<EwsSession> {
		return new EwsSession(await connectEws(await ewsSettingsOf(ctx, itemIndex)));
	}

	/** The mailbox acted on, as the items name it: the address, or the signed-in user. */
	get mailbox(): string | null {
		return this.client.mailbox ?? null;
	}

	close(): void {
		this.client.close();
	}
}
