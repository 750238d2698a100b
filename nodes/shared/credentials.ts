import type { ICredentialDataDecryptedObject } from 'n8n-workflow';
import { getServiceAccountToken, type ServiceAccountInput } from '../../lib/auth/google';
import { getAppToken, type MicrosoftAppSettings } from '../../lib/auth/microsoft';
import type { PasswordLogin, Protocol, ProxyType, Security, ServerSettings, TlsVersionRule, TokenLogin } from '../../lib/connection/options';
import type { Logger } from '../../lib/logger';
import { serverFor, type ServerChoice } from '../../lib/connection/presets';
import { parseSharedMailboxes, sharedMailboxFor } from '../../lib/connection/shared-mailboxes';
import { GOOGLE_DELEGATED, imapSettingsFromMicrosoftOAuth2, MICROSOFT_DELEGATED, microsoftOAuth2Connection, type DelegatedProvider, type OAuth2RefreshContext } from './microsoft-oauth2';

export const IMAP_CREDENTIAL = 'mailboxImapApi';

/**
 * The server part of the IMAP, POP3 and SMTP credentials (they share field names) as lib/
 * settings; lib/ validates the values. With a provider or the instance default chosen as Server
 * and Host left empty, host, port and security come from there; a Host the user fills in wins.
 * Throws a CONFIG MailboxError for an unusable Server choice.
 */
export function serverSettingsFromCredential(protocol: Protocol, data: ICredentialDataDecryptedObject, defaultSecurity: Security = 'tls'): ServerSettings {
	const host = String(data.host ?? '').trim();
	const preset = host ? undefined : serverFor(protocol, (data.server || 'custom') as ServerChoice);
	return {
		host: preset?.host ?? host,
		port: preset ? preset.port : (data.port as number | string | undefined),
		security: (preset?.security ?? data.security ?? defaultSecurity) as Security,
		tlsVersion: (data.tlsVersion || 'auto') as TlsVersionRule,
		allowUnauthorizedCerts: data.allowSelfSigned === true,
		proxy:
			data.proxy && data.proxy !== 'none'
				? {
						type: data.proxy as ProxyType,
						host: String(data.proxyHost ?? ''),
						port: data.proxyPort as number | string | undefined,
						user: data.proxyUser ? String(data.proxyUser) : undefined,
						password: data.proxyPassword ? String(data.proxyPassword) : undefined,
					}
				: undefined,
	};
}

/** The mailboxImapApi credential: server, login and the shared mailboxes it may open. */
export function imapSettingsFromCredential(data: ICredentialDataDecryptedObject): { settings: ServerSettings; login: Partial<PasswordLogin>; sharedMailboxes: string[] } {
	return {
		settings: serverSettingsFromCredential('imap', data),
		login: { user: String(data.user ?? ''), password: String(data.password ?? '') },
		sharedMailboxes: parseSharedMailboxes(data.sharedMailboxes as string | undefined),
	};
}

export const MICROSOFT_APP_CREDENTIAL = 'mailboxMicrosoftAppApi';

/** The app registration a Microsoft 365 app credential (mailboxMicrosoftAppApi) holds, for lib/auth's token. */
export function microsoftAppOf(data: ICredentialDataDecryptedObject): MicrosoftAppSettings {
	return { tenantId: String(data.tenantId ?? ''), clientId: String(data.clientId ?? ''), clientSecret: String(data.clientSecret ?? ''), authorityHost: String(data.authorityHost ?? '') };
}

/** The hosts a Microsoft 365 credential names (IMAP, POP3 and, delegated, Exchange host): its token may go there besides Exchange Online. */
export function microsoftCredentialHosts(data: ICredentialDataDecryptedObject): string[] {
	return [data.imapHost || 'outlook.office365.com', data.pop3Host || 'outlook.office365.com', data.exchangeHost].filter((h): h is string => typeof h === 'string' && h.trim() !== '');
}

/**
 * How the nodes sign in: with the IMAP credential (password), a Microsoft 365 app, a signed-in
 * Microsoft 365 user, a Google Workspace service account, or a signed-in Google user.
 */
export type Authentication = 'password' | 'microsoftApp' | 'microsoftOAuth2' | 'googleServiceAccount' | 'googleOAuth2';

export const GOOGLE_SERVICE_ACCOUNT_CREDENTIAL = 'mailboxGoogleServiceAccountApi';

/** Whether the sign-in is a Google one (Gmail's servers: Sent copies are Gmail's own business). */
export function isGoogleAuthentication(authentication: string): boolean {
	return authentication === 'googleServiceAccount' || authentication === 'googleOAuth2';
}

/** The delegated OAuth2 credential type of an Authentication, if it is one. */
export function delegatedProviderOf(authentication: string): DelegatedProvider | undefined {
	return authentication === 'microsoftOAuth2' ? MICROSOFT_DELEGATED : authentication === 'googleOAuth2' ? GOOGLE_DELEGATED : undefined;
}

/** The service account's key as the credential holds it: the pasted JSON key file, or its two fields. */
export function serviceAccountInputOf(data: ICredentialDataDecryptedObject): ServiceAccountInput {
	if (data.keyInput === 'fields') return { clientEmail: String(data.clientEmail ?? ''), privateKey: String(data.privateKey ?? ''), tokenUrl: String(data.tokenUrl ?? '') };
	return { keyJson: String(data.serviceAccountKey ?? '') };
}

/**
 * A Google Workspace service account (mailboxGoogleServiceAccountApi): Gmail takes a token only for
 * the user it was issued for, so the user acted as is the mailbox opened (the credential's, or one
 * of its Shared Mailboxes, refused otherwise), and the token is that user's (JWT bearer grant with
 * sub = the user). `renewToken` asks Google for a new one, for a server that rejected the cached one.
 */
export async function imapSettingsFromGoogleServiceAccount(
	data: ICredentialDataDecryptedObject,
	mailbox?: string,
	logger?: Logger,
): Promise<{ settings: ServerSettings; login: Partial<TokenLogin>; sharedMailboxes: string[]; renewToken: () => Promise<string> }> {
	const own = String(data.mailbox ?? '').trim();
	const sharedMailboxes = parseSharedMailboxes(data.sharedMailboxes as string | undefined);
	const user = sharedMailboxFor(own, sharedMailboxes, mailbox) ?? own;
	const input = serviceAccountInputOf(data);
	const token = await getServiceAccountToken(input, user, logger);
	return {
		settings: { host: String(data.imapHost || 'imap.gmail.com'), port: data.imapPort as number | undefined, security: 'tls' },
		login: { user, accessToken: token.accessToken },
		sharedMailboxes,
		renewToken: async () => (await getServiceAccountToken(input, user, logger, { fresh: true })).accessToken,
	};
}

/** A Google token for another user of the credential's domain (the credential Test's shared mailboxes). */
export async function googleServiceAccountLogin(data: ICredentialDataDecryptedObject, user: string, logger?: Logger): Promise<TokenLogin> {
	return { user, accessToken: (await getServiceAccountToken(serviceAccountInputOf(data), user, logger)).accessToken };
}

/**
 * The mailboxMicrosoftAppApi credential as lib/ settings: the app's token (from MSAL, cached)
 * logs in to the mailbox by OAUTHBEARER/XOAUTH2 over SSL/TLS.
 */
export async function imapSettingsFromMicrosoftApp(
	data: ICredentialDataDecryptedObject,
	logger?: Logger,
): Promise<{ settings: ServerSettings; login: Partial<TokenLogin>; sharedMailboxes: string[]; renewToken: () => Promise<string> }> {
	const sharedMailboxes = parseSharedMailboxes(data.sharedMailboxes as string | undefined);
	const { accessToken, renewToken } = await microsoftAppToken(data, logger);
	return {
		settings: { host: String(data.imapHost || 'outlook.office365.com'), port: data.imapPort as number | undefined, security: 'tls' },
		login: { user: String(data.mailbox ?? '').trim(), accessToken },
		sharedMailboxes,
		renewToken,
	};
}

/** The Microsoft 365 app's token (from MSAL, cached), and `renewToken` for one the server rejects. */
export async function microsoftAppToken(data: ICredentialDataDecryptedObject, logger?: Logger): Promise<{ accessToken: string; renewToken: () => Promise<string> }> {
	const app = microsoftAppOf(data);
	const token = await getAppToken(app, logger);
	// MSAL renews before expiry; a token the server rejects earlier (revoked) is fetched anew
	return { accessToken: token.accessToken, renewToken: async () => (await getAppToken(app, logger, { fresh: true })).accessToken };
}

/**
 * The connection settings of whichever credential the node's Authentication names. For the
 * delegated credentials, `oauth2` (the node's context) lets n8n renew an expired token up front,
 * and `renewToken` renews it once after the server rejected it. `mailbox` is the node's Mailbox:
 * a Google service account signs in as that user (the others sign in as the account, and
 * loginForMailbox picks the mailbox).
 */
export async function imapConnectionOf(
	authentication: Authentication,
	getCredentials: (name: string) => Promise<ICredentialDataDecryptedObject>,
	logger?: Logger,
	oauth2?: { ctx: OAuth2RefreshContext; itemIndex: number },
	mailbox?: string,
): Promise<{ settings: ServerSettings; login: Partial<PasswordLogin> | Partial<TokenLogin>; sharedMailboxes: string[]; renewToken?: () => Promise<string> }> {
	if (authentication === 'microsoftApp') return imapSettingsFromMicrosoftApp(await getCredentials(MICROSOFT_APP_CREDENTIAL), logger);
	if (authentication === 'googleServiceAccount') return imapSettingsFromGoogleServiceAccount(await getCredentials(GOOGLE_SERVICE_ACCOUNT_CREDENTIAL), mailbox, logger);
	const provider = delegatedProviderOf(authentication);
	if (provider) {
		if (oauth2) return microsoftOAuth2Connection(oauth2.ctx, oauth2.itemIndex, logger, provider);
		return imapSettingsFromMicrosoftOAuth2(await getCredentials(provider.credential), provider);
	}
	return imapSettingsFromCredential(await getCredentials(IMAP_CREDENTIAL));
}

/** The credential type an Authentication other than password reads. */
export function tokenCredentialOf(authentication: Exclude<Authentication, 'password'>): string {
	if (authentication === 'microsoftApp') return MICROSOFT_APP_CREDENTIAL;
	if (authentication === 'googleServiceAccount') return GOOGLE_SERVICE_ACCOUNT_CREDENTIAL;
	return (delegatedProviderOf(authentication) as DelegatedProvider).credential;
}

/**
 * POP3 with a Microsoft 365 or Google credential: the same token as for IMAP (renewed the same
 * way), XOAUTH2 as the mailbox address, and the credential's POP3 host over SSL/TLS.
 */
export async function pop3ConnectionOfMicrosoft(
	authentication: Exclude<Authentication, 'password'>,
	getCredentials: (name: string) => Promise<ICredentialDataDecryptedObject>,
	logger?: Logger,
	oauth2?: { ctx: OAuth2RefreshContext; itemIndex: number },
): Promise<{ settings: ServerSettings; login: Partial<TokenLogin>; renewToken?: () => Promise<string> }> {
	const { login, renewToken } = await imapConnectionOf(authentication, getCredentials, logger, oauth2);
	const data = await getCredentials(tokenCredentialOf(authentication));
	const google = isGoogleAuthentication(authentication);
	return {
		settings: { host: String(data.pop3Host || (google ? 'pop.gmail.com' : 'outlook.office365.com')), port: data.pop3Port as number | undefined, security: 'tls' },
		login: login as Partial<TokenLogin>,
		renewToken,
	};
}
