/**
 * The delegated OAuth2 credentials (a user signs in: mailboxMicrosoftOAuth2Api for Microsoft 365,
 * mailboxGoogleOAuth2Api for Gmail and Google Workspace) for mail logins.
 *
 * n8n keeps the tokens in the credential (`oauthTokenData`) and refreshes them only inside its
 * own HTTP helpers. IMAP, POP3 and SMTP log in with the access token outside those helpers, so
 * when the mail server rejects the token, or n8n's note of its expiry says it has expired, the
 * token is renewed through n8n and the credential read again:
 *
 * - n8n 2.x offers `helpers.refreshOAuth2Token(type)`: it runs the refresh_token grant at the
 *   credential's token URL, stores the new token, and, when another run refreshed meanwhile,
 *   takes the stored token instead of refreshing twice.
 * - Older n8n only refreshes when an authenticated request answers 401: one GET through
 *   `helpers.httpRequestWithAuthentication` to the credential's Token Check URL (Exchange's EWS
 *   endpoint, which answers 401 to an expired token) makes it refresh and store the new token.
 *
 * Either way the renewed token is taken from the stored credential, so what the mail login uses
 * is what n8n saved. Refresh tokens and client secrets never leave n8n's helpers.
 */
import type { ICredentialDataDecryptedObject, IHttpRequestOptions, RequestHelperFunctions } from 'n8n-workflow';
import { isTokenExpired, storedAccessToken, type OAuth2TokenData } from '../../lib/auth/oauth2-token';
import type { ServerSettings, TokenLogin } from '../../lib/connection/options';
import { parseSharedMailboxes } from '../../lib/connection/shared-mailboxes';
import { MailboxError, redact, scrubbedCause } from '../../lib/errors';
import type { Logger } from '../../lib/logger';

export const MICROSOFT_DELEGATED_CREDENTIAL = 'mailboxMicrosoftOAuth2Api';
export const GOOGLE_DELEGATED_CREDENTIAL = 'mailboxGoogleOAuth2Api';

/** A delegated OAuth2 credential type: its name, who issues its tokens, and its default IMAP server. */
export interface DelegatedProvider {
	credential: string;
	/** "Microsoft 365", "Google": in messages. */
	label: string;
	/** Where the user signs in again ("Microsoft", "Google"). */
	signInAt: string;
	imapHost: string;
}

export const MICROSOFT_DELEGATED: DelegatedProvider = { credential: MICROSOFT_DELEGATED_CREDENTIAL, label: 'Microsoft 365', signInAt: 'Microsoft', imapHost: 'outlook.office365.com' };
export const GOOGLE_DELEGATED: DelegatedProvider = { credential: GOOGLE_DELEGATED_CREDENTIAL, label: 'Google', signInAt: 'Google', imapHost: 'imap.gmail.com' };

export const DEFAULT_TOKEN_CHECK_URL = 'https://outlook.office365.com/EWS/Exchange.asmx';

/** What the refresh needs of an n8n context (execute, poll and trigger contexts have it). */
export interface OAuth2RefreshContext {
	getCredentials<T extends object = ICredentialDataDecryptedObject>(type: string, itemIndex?: number): Promise<T>;
	helpers: Pick<RequestHelperFunctions, 'httpRequestWithAuthentication'> & Partial<Pick<RequestHelperFunctions, 'refreshOAuth2Token'>>;
}

function tokenDataOf(data: ICredentialDataDecryptedObject): OAuth2TokenData | undefined {
	const tokenData = data.oauthTokenData;
	return tokenData && typeof tokenData === 'object' ? (tokenData as OAuth2TokenData) : undefined;
}

/** The credential's secrets, for redaction. */
function secretsOf(data: ICredentialDataDecryptedObject): string[] {
	const tokenData = tokenDataOf(data);
	return [data.clientSecret, tokenData?.access_token, tokenData?.refresh_token, tokenData?.id_token].filter((s): s is string => typeof s === 'string' && s.length > 0);
}

/** The credential as lib/ settings, with the stored access token (throws when not connected). */
export function imapSettingsFromMicrosoftOAuth2(data: ICredentialDataDecryptedObject, provider: DelegatedProvider = MICROSOFT_DELEGATED): {
	settings: ServerSettings;
	login: Partial<TokenLogin>;
	sharedMailboxes: string[];
	expired: boolean;
} {
	const sharedMailboxes = parseSharedMailboxes(data.sharedMailboxes as string | undefined);
	const tokenData = tokenDataOf(data);
	return {
		settings: { host: String(data.imapHost || provider.imapHost), port: data.imapPort as number | undefined, security: 'tls' },
		login: { user: String(data.mailbox ?? '').trim(), accessToken: storedAccessToken(tokenData, provider.signInAt) },
		sharedMailboxes,
		expired: isTokenExpired(tokenData),
	};
}

function refreshFailed(error: unknown, data: ICredentialDataDecryptedObject, provider: DelegatedProvider): MailboxError {
	const e = (error ?? {}) as { message?: string; description?: string; code?: string; cause?: { code?: string } };
	const text = redact([e.message, e.description].filter(Boolean).join(' ') || String(error), secretsOf(data));
	const code = e.code ?? e.cause?.code;
	// the token endpoint was not reached: signing in again would not help
	if (/^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENETUNREACH|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED)/.test(code ?? '') || /connection cannot be established|ECONNREFUSED|ENOTFOUND|ETIMEDOUT|certificate/i.test(text)) {
		return new MailboxError('CONNECTION_REFUSED', `n8n could not reach ${provider.signInAt}'s token endpoint to renew the ${provider.label} access token: ${text}`, {
			field: 'accessTokenUrl',
			step: 'connect',
			systemCode: code,
			cause: scrubbedCause(error, secretsOf(data)),
			serverResponse: text,
			hint: `Check that this n8n instance (and each worker) can reach ${provider.signInAt}'s sign-in servers over HTTPS, through the proxy if there is one; the stored sign-in is still good.`,
		});
	}
	return new MailboxError('AUTH', `n8n could not renew the ${provider.label} access token: ${text}`, {
		field: 'oauthTokenData',
		step: 'login',
		serverResponse: text,
		cause: scrubbedCause(error, secretsOf(data)),
		hint: `Open the credential and click "Connect my account" to sign in at ${provider.signInAt} again (the refresh token expires after long disuse, a password change or revoked consent).`,
	});
}

/**
 * Has n8n renew the credential's access token and store it; returns the credential as stored
 * afterwards. Throws an AUTH MailboxError when n8n could not renew it (the user has to sign in
 * again). When n8n did not change the token (the Token Check URL accepted it), the credential
 * comes back unchanged.
 */
export async function refreshMicrosoftOAuth2Credential(
	ctx: OAuth2RefreshContext,
	itemIndex: number,
	data: ICredentialDataDecryptedObject,
	logger?: Logger,
	provider: DelegatedProvider = MICROSOFT_DELEGATED,
): Promise<ICredentialDataDecryptedObject> {
	const before = tokenDataOf(data)?.access_token;
	let failure: unknown;
	try {
		if (typeof ctx.helpers.refreshOAuth2Token === 'function') {
			logger?.debug(`${provider.label} delegated token: asking n8n to refresh it`);
			await ctx.helpers.refreshOAuth2Token.call(ctx as never, provider.credential);
		} else {
			const url = String(data.tokenCheckUrl || DEFAULT_TOKEN_CHECK_URL);
			logger?.debug(`${provider.label} delegated token: request to ${url} so that n8n refreshes it`);
			const request: IHttpRequestOptions = { method: 'GET', url, returnFullResponse: true, timeout: 30_000 };
			await ctx.helpers.httpRequestWithAuthentication.call(ctx as never, provider.credential, request);
		}
	} catch (error) {
		// The check URL may answer something else than 200 even with a good token; what counts
		// is whether n8n stored a new one.
		failure = error;
	}
	const fresh = await ctx.getCredentials(provider.credential, itemIndex);
	const after = tokenDataOf(fresh)?.access_token;
	if (after && after !== before) {
		logger?.debug(`${provider.label} delegated token: n8n stored a renewed token`);
		return fresh;
	}
	if (failure !== undefined) throw refreshFailed(failure, data, provider);
	return fresh;
}

/**
 * The settings for an IMAP login with the credential, renewed up front when n8n's note says the
 * token has expired, and `renewToken` for one renewal after the server rejected the token.
 */
export async function microsoftOAuth2Connection(
	ctx: OAuth2RefreshContext,
	itemIndex: number,
	logger?: Logger,
	provider: DelegatedProvider = MICROSOFT_DELEGATED,
): Promise<{ settings: ServerSettings; login: Partial<TokenLogin>; sharedMailboxes: string[]; renewToken: () => Promise<string> }> {
	let data = await ctx.getCredentials(provider.credential, itemIndex);
	let current = imapSettingsFromMicrosoftOAuth2(data, provider);
	if (current.expired) {
		data = await refreshMicrosoftOAuth2Credential(ctx, itemIndex, data, logger, provider);
		current = imapSettingsFromMicrosoftOAuth2(data, provider);
	}
	let renewed = false;
	const renewToken = async (): Promise<string> => {
		// One renewal per connection: a token n8n has just renewed and the server still rejects
		// is not a matter of expiry.
		if (!renewed) {
			renewed = true;
			data = await refreshMicrosoftOAuth2Credential(ctx, itemIndex, data, logger, provider);
		}
		return storedAccessToken(tokenDataOf(data), provider.signInAt);
	};
	return { settings: current.settings, login: current.login, sharedMailboxes: current.sharedMailboxes, renewToken };
}
