import type { ICredentialDataDecryptedObject } from 'n8n-workflow';
import { getAppToken } from '../../lib/auth/microsoft';
import type { PasswordLogin, Protocol, ProxyType, Security, ServerSettings, TlsVersionRule, TokenLogin } from '../../lib/connection/options';
import type { Logger } from '../../lib/logger';
import { serverFor, type ServerChoice } from '../../lib/connection/presets';
import { parseSharedMailboxes } from '../../lib/connection/shared-mailboxes';
import { imapSettingsFromMicrosoftOAuth2, microsoftOAuth2Connection, MICROSOFT_DELEGATED_CREDENTIAL, type OAuth2RefreshContext } from './microsoft-oauth2';

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

/** The hosts a Microsoft 365 credential names (IMAP, POP3 and, delegated, Exchange host): its token may go there besides Exchange Online. */
export function microsoftCredentialHosts(data: ICredentialDataDecryptedObject): string[] {
	return [data.imapHost || 'outlook.office365.com', data.pop3Host || 'outlook.office365.com', data.exchangeHost].filter((h): h is string => typeof h === 'string' && h.trim() !== '');
}

/** How the Mailbox node signs in: with the IMAP credential (password), a Microsoft 365 app, or a signed-in Microsoft 365 user. */
export type Authentication = 'password' | 'microsoftApp' | 'microsoftOAuth2';

/**
 * The mailboxMicrosoftAppApi credential as lib/ settings: the app's token (from MSAL, cached)
 * logs in to the mailbox by OAUTHBEARER/XOAUTH2 over SSL/TLS.
 */
export async function imapSettingsFromMicrosoftApp(
	data: ICredentialDataDecryptedObject,
	logger?: Logger,
): Promise<{ settings: ServerSettings; login: Partial<TokenLogin>; sharedMailboxes: string[] }> {
	const sharedMailboxes = parseSharedMailboxes(data.sharedMailboxes as string | undefined);
	const token = await getAppToken(
		{
			tenantId: String(data.tenantId ?? ''),
			clientId: String(data.clientId ?? ''),
			clientSecret: String(data.clientSecret ?? ''),
			authorityHost: String(data.authorityHost ?? ''),
		},
		logger,
	);
	return {
		settings: { host: String(data.imapHost || 'outlook.office365.com'), port: data.imapPort as number | undefined, security: 'tls' },
		login: { user: String(data.mailbox ?? '').trim(), accessToken: token.accessToken },
		sharedMailboxes,
	};
}

/**
 * The connection settings of whichever credential the node's Authentication names. For the
 * delegated Microsoft 365 credential, `oauth2` (the node's context) lets n8n renew an expired
 * token up front, and `renewToken` renews it once after the server rejected it.
 */
export async function imapConnectionOf(
	authentication: Authentication,
	getCredentials: (name: string) => Promise<ICredentialDataDecryptedObject>,
	logger?: Logger,
	oauth2?: { ctx: OAuth2RefreshContext; itemIndex: number },
): Promise<{ settings: ServerSettings; login: Partial<PasswordLogin> | Partial<TokenLogin>; sharedMailboxes: string[]; renewToken?: () => Promise<string> }> {
	if (authentication === 'microsoftApp') return imapSettingsFromMicrosoftApp(await getCredentials(MICROSOFT_APP_CREDENTIAL), logger);
	if (authentication === 'microsoftOAuth2') {
		if (oauth2) return microsoftOAuth2Connection(oauth2.ctx, oauth2.itemIndex, logger);
		return imapSettingsFromMicrosoftOAuth2(await getCredentials(MICROSOFT_DELEGATED_CREDENTIAL));
	}
	return imapSettingsFromCredential(await getCredentials(IMAP_CREDENTIAL));
}

/**
 * POP3 with a Microsoft 365 credential: the same token as for IMAP (renewed the same way), XOAUTH2
 * as the mailbox address, and the credential's POP3 host over SSL/TLS.
 */
export async function pop3ConnectionOfMicrosoft(
	authentication: Exclude<Authentication, 'password'>,
	getCredentials: (name: string) => Promise<ICredentialDataDecryptedObject>,
	logger?: Logger,
	oauth2?: { ctx: OAuth2RefreshContext; itemIndex: number },
): Promise<{ settings: ServerSettings; login: Partial<TokenLogin> }> {
	const { login } = await imapConnectionOf(authentication, getCredentials, logger, oauth2);
	const data = await getCredentials(authentication === 'microsoftApp' ? MICROSOFT_APP_CREDENTIAL : MICROSOFT_DELEGATED_CREDENTIAL);
	return {
		settings: { host: String(data.pop3Host || 'outlook.office365.com'), port: data.pop3Port as number | undefined, security: 'tls' },
		login: login as Partial<TokenLogin>,
	};
}
