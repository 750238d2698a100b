/**
 * Stored OAuth2 tokens (authorization code grant) for mail logins: when a token expires, and the
 * rule "log in with the stored token; if the server rejects it, or it is known to have expired,
 * renew it once and log in once more". Renewing is the caller's business (n8n does it for its
 * OAuth2 credentials); nothing here talks to an authority.
 */
import { isTokenLogin, type Login } from '../connection/options';
import { isRejectedToken, MailboxError } from '../errors';

/** The token data an OAuth2 credential keeps (the token endpoint's answer, plus bookkeeping). */
export interface OAuth2TokenData {
	access_token?: string;
	refresh_token?: string;
	token_type?: string;
	expires_in?: number | string;
	/** Set by n8n when it stores a token: epoch milliseconds, as a string. */
	n8n_expires_at?: number | string;
	[key: string]: unknown;
}

/** Renew this long before the stored expiry, so a login does not race the clock. */
export const EXPIRY_MARGIN_MS = 60_000;

/** The `exp` claim of a JWT access token (Microsoft's are JWTs), or null for opaque tokens. */
function jwtExpiry(token: string): Date | null {
	const parts = token.split('.');
	if (parts.length !== 3) return null;
	try {
		const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { exp?: unknown };
		return typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? new Date(claims.exp * 1000) : null;
	} catch {
		return null;
	}
}

/** When the stored access token expires: n8n's note of it, else the token's own claim; null if unknown. */
export function tokenExpiresAt(data: OAuth2TokenData | undefined): Date | null {
	if (!data) return null;
	const stored = Number(data.n8n_expires_at);
	if (data.n8n_expires_at !== undefined && data.n8n_expires_at !== '' && Number.isFinite(stored) && stored > 0) return new Date(stored);
	return typeof data.access_token === 'string' ? jwtExpiry(data.access_token) : null;
}

/** Whether the stored token has expired (or will within the margin). Unknown expiry counts as valid. */
export function isTokenExpired(data: OAuth2TokenData | undefined, now = Date.now(), marginMs = EXPIRY_MARGIN_MS): boolean {
	const expiresAt = tokenExpiresAt(data);
	return expiresAt !== null && expiresAt.getTime() - marginMs <= now;
}

/** The stored access token, or a CONFIG error telling the user to connect the credential. */
export function storedAccessToken(data: OAuth2TokenData | undefined, signInAt = 'Microsoft'): string {
	const token = typeof data?.access_token === 'string' ? data.access_token.trim() : '';
	if (!token) {
		throw new MailboxError('CONFIG', 'The credential is not connected to an account yet: it holds no access token.', {
			field: 'oauthTokenData',
			step: 'config',
			hint: `Open the credential and click "Connect my account" to sign in at ${signInAt}.`,
		});
	}
	return token;
}

export interface TokenRefreshPlan<T> {
	/** The stored access token. */
	accessToken: string;
	/** True when the stored token is known to have expired: renew before the first attempt. */
	expired: boolean;
	/** One login (connection, check...) with a token; may throw. */
	attempt: (accessToken: string) => Promise<T>;
	/** Whether a result that did not throw still means the token was rejected (e.g. a failed check). */
	rejected?: (result: T) => boolean;
	/** Gets a renewed access token (and stores it). Called at most once. */
	refresh: () => Promise<string>;
}

export interface TokenRefreshOutcome<T> {
	value: T;
	/** Whether a renewed token was asked for. */
	refreshed: boolean;
	/** The access token of the last attempt. */
	accessToken: string;
}

/**
 * Logs in with the stored token, renewing it once: up front when it is known to have expired,
 * else after the server rejected it. The attempt is repeated at most once, with the renewed
 * token. When renewing returns the same token there is nothing new to try: the first failure
 * stands.
 */
export async function withTokenRefresh<T>(plan: TokenRefreshPlan<T>): Promise<TokenRefreshOutcome<T>> {
	let token = plan.accessToken;
	if (plan.expired) {
		token = await plan.refresh();
		return { value: await plan.attempt(token), refreshed: true, accessToken: token };
	}
	let first: { value: T } | { error: unknown };
	try {
		first = { value: await plan.attempt(token) };
	} catch (error) {
		first = { error };
	}
	const rejected = 'error' in first ? isRejectedToken(first.error) : (plan.rejected?.(first.value) ?? false);
	if (!rejected) {
		if ('error' in first) throw first.error;
		return { value: first.value, refreshed: false, accessToken: token };
	}
	const renewed = await plan.refresh();
	if (renewed === token) {
		if ('error' in first) throw first.error;
		return { value: first.value, refreshed: true, accessToken: token };
	}
	return { value: await plan.attempt(renewed), refreshed: true, accessToken: renewed };
}

/**
 * Runs `attempt` (a connection, a session) with `login`. For a token login with `renewToken`, a
 * token the server rejects is renewed once and the attempt made once more ({@link withTokenRefresh});
 * password logins run as they are. Returns the value and the login that worked.
 */
export async function withLoginRenewal<T>(login: Login, renewToken: (() => Promise<string>) | undefined, attempt: (login: Login) => Promise<T>): Promise<{ value: T; login: Login }> {
	if (!renewToken || !isTokenLogin(login)) return { value: await attempt(login), login };
	const outcome = await withTokenRefresh({
		accessToken: login.accessToken,
		expired: false,
		attempt: (accessToken) => attempt({ ...login, accessToken }),
		refresh: renewToken,
	});
	return { value: outcome.value, login: { ...login, accessToken: outcome.accessToken } };
}
