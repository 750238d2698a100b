/**
 * App-only tokens for Microsoft 365 mailboxes (OAuth2 client credentials), from @azure/msal-node.
 * Tokens live in MSAL's in-memory cache, one client application per app registration, and are
 * renewed by MSAL before they expire; nothing is written to files.
 */
import { createHash } from 'node:crypto';
import { ConfidentialClientApplication, LogLevel, type AuthenticationResult } from '@azure/msal-node';
import { configError, MailboxError, redact } from '../errors';
import { silentLogger, type Logger } from '../logger';

/** The scope IMAP, POP3, SMTP and EWS accept for app-only access to Exchange Online. */
export const EXCHANGE_SCOPE = 'https://outlook.office365.com/.default';
/** The scope Microsoft Graph accepts for app-only access (its application permissions: Mail.ReadWrite, Mail.Send...). */
export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
export const DEFAULT_AUTHORITY_HOST = 'login.microsoftonline.com';

export interface MicrosoftAppSettings {
	tenantId: string;
	clientId: string;
	clientSecret: string;
	/** Sign-in host: login.microsoftonline.com, or a national cloud's (login.microsoftonline.us...). */
	authorityHost?: string;
	scope?: string;
}

export interface AppToken {
	accessToken: string;
	expiresOn: Date | null;
	/** True when MSAL answered from its cache without asking the authority. */
	fromCache: boolean;
}

const applications = new Map<string, ConfidentialClientApplication>();

function check(settings: MicrosoftAppSettings): Required<MicrosoftAppSettings> {
	const tenantId = settings.tenantId?.trim();
	const clientId = settings.clientId?.trim();
	if (!tenantId) throw configError('tenantId', 'Tenant ID is empty.', 'Enter the Directory (tenant) ID from the app registration in Microsoft Entra ID.');
	if (!clientId) throw configError('clientId', 'Client ID is empty.', 'Enter the Application (client) ID from the app registration.');
	if (!settings.clientSecret) throw configError('clientSecret', 'Client Secret is empty.', 'Enter the value (not the ID) of a client secret of the app registration.');
	const authorityHost = (settings.authorityHost?.trim() || DEFAULT_AUTHORITY_HOST).replace(/^https:\/\//, '').replace(/\/+$/, '');
	if (!/^[A-Za-z0-9.-]+(:\d+)?$/.test(authorityHost)) throw configError('authorityHost', `Sign-in host "${authorityHost}" is not a host name.`, 'Enter a host such as login.microsoftonline.com.');
	return { tenantId, clientId, clientSecret: settings.clientSecret, authorityHost, scope: settings.scope?.trim() || EXCHANGE_SCOPE };
}

function applicationFor(s: Required<MicrosoftAppSettings>, logger: Logger): ConfidentialClientApplication {
	// The secret is part of the key (hashed), so a changed secret gets a fresh application and cache.
	const key = createHash('sha256').update(JSON.stringify([s.authorityHost, s.tenantId, s.clientId, s.clientSecret])).digest('hex');
	let app = applications.get(key);
	if (!app) {
		app = new ConfidentialClientApplication({
			auth: {
				clientId: s.clientId,
				clientSecret: s.clientSecret,
				authority: `https://${s.authorityHost}/${s.tenantId}`,
				knownAuthorities: [s.authorityHost],
			},
			system: {
				loggerOptions: {
					piiLoggingEnabled: false,
					logLevel: LogLevel.Warning,
					loggerCallback: (_level, message) => logger.debug(`msal: ${redact(message, [s.clientSecret])}`),
				},
			},
		});
		applications.set(key, app);
	}
	return app;
}

/** Maps MSAL's errors (AADSTS codes) to the field the user has to fix. */
function fromMsalError(error: unknown, s: Required<MicrosoftAppSettings>): MailboxError {
	const e = (error ?? {}) as { errorCode?: string; errorMessage?: string; message?: string; subError?: string };
	const text = redact(e.errorMessage || e.message || String(error), [s.clientSecret]);
	const aadsts = /AADSTS(\d+)/.exec(text)?.[1];
	const details = (field: string, hint: string) => ({ field, step: 'login' as const, serverCode: aadsts ? `AADSTS${aadsts}` : e.errorCode, serverResponse: text, hint, cause: error });
	if (aadsts === '7000215' || aadsts === '7000222' || e.errorCode === 'invalid_client') {
		return new MailboxError('AUTH', 'Microsoft rejected the client secret (it is wrong or expired).', details('clientSecret', 'Create a new client secret in the app registration and enter its value (not its ID).'));
	}
	if (aadsts === '700016' || e.errorCode === 'unauthorized_client') {
		return new MailboxError('AUTH', `No app with client ID "${s.clientId}" exists in tenant "${s.tenantId}".`, details('clientId', 'Check Client ID and Tenant ID against the app registration.'));
	}
	if (/ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|network|certificate|self.signed/i.test(text) || e.errorCode === 'network_error') {
		return new MailboxError('CONNECTION_REFUSED', `The sign-in host ${s.authorityHost} could not be reached: ${text}`, { field: 'authorityHost', step: 'connect', systemCode: e.errorCode, cause: error, hint: 'Check the sign-in host and that this n8n instance can reach it over HTTPS.' });
	}
	// MSAL reports an unknown tenant as endpoints it could not resolve: the metadata request failed.
	if (aadsts === '90002' || aadsts === '900023' || e.errorCode === 'endpoints_resolution_error' || /tenant/i.test(text)) {
		return new MailboxError('AUTH', `Tenant "${s.tenantId}" was not found at ${s.authorityHost}.`, details('tenantId', 'Enter the Directory (tenant) ID or the tenant\'s domain; for a national cloud, set its sign-in host.'));
	}
	return new MailboxError('AUTH', `Microsoft did not issue a token: ${text}`, details('clientId', 'Check the app registration: it needs the application permission for the mailbox protocol and admin consent.'));
}

/**
 * A token for the app (cached by MSAL, renewed when it is about to expire). `fresh` skips the
 * cache: for a server that rejected the cached token before its expiry (revoked, or the app's
 * permissions changed).
 */
export async function getAppToken(settings: MicrosoftAppSettings, logger: Logger = silentLogger, options: { fresh?: boolean } = {}): Promise<AppToken> {
	const s = check(settings);
	let result: AuthenticationResult | null;
	try {
		result = await applicationFor(s, logger).acquireTokenByClientCredential({ scopes: [s.scope], skipCache: options.fresh === true });
	} catch (error) {
		throw fromMsalError(error, s);
	}
	if (!result?.accessToken) throw new MailboxError('AUTH', 'Microsoft answered without a token.', { field: 'clientId', step: 'login' });
	return { accessToken: result.accessToken, expiresOn: result.expiresOn ?? null, fromCache: result.fromCache };
}
