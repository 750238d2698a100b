/**
 * Google Workspace service accounts with domain-wide delegation: an access token for a user of the
 * domain by the JWT bearer grant (RFC 7523), as Google documents it for server-to-server apps. The
 * assertion is signed RS256 with the service account's private key (`jws`, the signing library
 * Google's own Node.js client uses) and carries iss (the account), sub (the user acted as), scope,
 * aud (the token endpoint) and one hour's validity.
 *
 * Google's client library (google-auth-library) is not used for the grant: it sends every
 * assertion to a fixed https://oauth2.googleapis.com/token whatever the key file's `token_uri`
 * says, and through its own HTTP client, outside the TLS rules every other request here follows.
 *
 * Tokens stay in memory, one per account, user and scope, and are renewed five minutes before
 * they expire; concurrent requests for the same token share one grant.
 */
import { createHash, createPrivateKey } from 'node:crypto';
import jws from 'jws';
import { configError, MailboxError, redact } from '../errors';
import { HttpsAgent } from '../connection/https';
import { fromHttpsNetworkError } from '../connection/https-errors';
import { silentLogger, type Logger } from '../logger';

/** The scope Gmail's IMAP, POP3 and SMTP accept (XOAUTH2). */
export const GOOGLE_MAIL_SCOPE = 'https://mail.google.com/';
/** Google's token endpoint (the `token_uri` of every key file). */
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** Renew a cached token this long before it expires. */
export const RENEW_BEFORE_MS = 5 * 60_000;
/** An assertion's validity; Google accepts at most one hour. */
const ASSERTION_LIFETIME_S = 3600;
const REQUEST_TIMEOUT_MS = 30_000;
const MAX_ANSWER_BYTES = 64 * 1024;

export interface ServiceAccountInput {
	/** The JSON key file as downloaded from the Google Cloud console (pasted). */
	keyJson?: string;
	/** Without a key file: the service account's address (…@….iam.gserviceaccount.com). */
	clientEmail?: string;
	/** Without a key file: its private key (PEM). */
	privateKey?: string;
	/** Without a key file: the token endpoint (default Google's). */
	tokenUrl?: string;
}

export interface ServiceAccountKey {
	clientEmail: string;
	privateKey: string;
	/** The key's id (the JWT header's `kid`), when the key file names it. */
	privateKeyId?: string;
	/** The numeric client ID the Admin console's domain-wide delegation lists. */
	clientId?: string;
	tokenUrl: string;
	/** The credential field holding the key: the JSON key file, or the private key. */
	keyField: 'serviceAccountKey' | 'privateKey';
}

export interface GoogleToken {
	accessToken: string;
	expiresAt: Date;
	/** True when the token came from the cache without a grant. */
	fromCache: boolean;
}

const KEY_HINT = 'Paste the whole JSON key file of the service account (Google Cloud console → IAM & Admin → Service Accounts → Keys → Add Key → JSON).';

/** The key as settings, checked: names the field for whatever is missing or unusable. */
export function parseServiceAccountKey(input: ServiceAccountInput): ServiceAccountKey {
	let clientEmail = input.clientEmail?.trim() ?? '';
	let privateKey = input.privateKey ?? '';
	let privateKeyId: string | undefined;
	let clientId: string | undefined;
	let tokenUrl = input.tokenUrl?.trim() || GOOGLE_TOKEN_URL;
	const field = input.keyJson !== undefined ? ('serviceAccountKey' as const) : ('privateKey' as const);
	if (input.keyJson !== undefined) {
		const text = input.keyJson.trim();
		if (!text) throw configError('serviceAccountKey', 'Service Account Key (JSON) is empty.', KEY_HINT);
		let parsed: Record<string, unknown>;
		try {
			parsed = JSON.parse(text) as Record<string, unknown>;
		} catch {
			throw configError('serviceAccountKey', 'Service Account Key (JSON) is not JSON.', KEY_HINT);
		}
		if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw configError('serviceAccountKey', 'Service Account Key (JSON) is not a JSON object.', KEY_HINT);
		const oauthClientHint = `${KEY_HINT} An OAuth client's JSON (client_secret_….json) belongs in the Google Delegated OAuth2 credential.`;
		if (parsed.type !== undefined && parsed.type !== 'service_account') {
			throw configError('serviceAccountKey', `Service Account Key (JSON) is a key of type "${String(parsed.type)}", not of a service account.`, oauthClientHint);
		}
		// An OAuth client's JSON has no type: its one member is "web" or "installed".
		if (parsed.type === undefined && ['web', 'installed'].some((kind) => parsed[kind] && typeof parsed[kind] === 'object')) {
			throw configError('serviceAccountKey', "Service Account Key (JSON) is an OAuth client's JSON, not a service account's key.", oauthClientHint);
		}
		clientEmail = typeof parsed.client_email === 'string' ? parsed.client_email.trim() : '';
		privateKey = typeof parsed.private_key === 'string' ? parsed.private_key : '';
		privateKeyId = typeof parsed.private_key_id === 'string' && parsed.private_key_id ? parsed.private_key_id : undefined;
		clientId = typeof parsed.client_id === 'string' && parsed.client_id ? parsed.client_id : undefined;
		if (typeof parsed.token_uri === 'string' && parsed.token_uri.trim()) tokenUrl = parsed.token_uri.trim();
		if (!clientEmail) throw configError('serviceAccountKey', 'Service Account Key (JSON) has no client_email.', KEY_HINT);
		if (!privateKey) throw configError('serviceAccountKey', 'Service Account Key (JSON) has no private_key.', KEY_HINT);
	} else {
		if (!clientEmail) throw configError('clientEmail', 'Service Account Email is empty.', 'Enter the service account\'s address (name@project.iam.gserviceaccount.com), or paste its JSON key file instead.');
		if (!privateKey.trim()) throw configError('privateKey', 'Private Key is empty.', 'Enter the private_key of the service account\'s JSON key file (from -----BEGIN PRIVATE KEY----- to -----END PRIVATE KEY-----).');
	}
	if (!/^[^\s@]+@[^\s@]+$/.test(clientEmail)) throw configError(input.keyJson !== undefined ? 'serviceAccountKey' : 'clientEmail', `"${clientEmail}" is not a service account's address.`, 'A service account\'s address looks like name@project.iam.gserviceaccount.com.');
	// Keys pasted into a one-line field arrive with literal "\n" for the line breaks.
	privateKey = privateKey.includes('\\n') && !privateKey.includes('\n') ? privateKey.replace(/\\n/g, '\n') : privateKey;
	try {
		const key = createPrivateKey(privateKey);
		if (key.asymmetricKeyType !== 'rsa') throw new Error(`${key.asymmetricKeyType ?? 'unknown'} key`);
	} catch (error) {
		throw configError(field, `The private key of ${clientEmail} is not an RSA private key in PEM form (${(error as Error).message.split('\n')[0]}).`, KEY_HINT);
	}
	let url: URL;
	try {
		url = new URL(tokenUrl);
	} catch {
		throw configError(input.keyJson !== undefined ? 'serviceAccountKey' : 'tokenUrl', `Token URL "${tokenUrl}" is not a URL.`, `Google's is ${GOOGLE_TOKEN_URL}.`);
	}
	if (url.protocol !== 'https:') throw configError(input.keyJson !== undefined ? 'serviceAccountKey' : 'tokenUrl', `Token URL "${tokenUrl}" is not an https:// URL.`, `Google's is ${GOOGLE_TOKEN_URL}.`);
	return { clientEmail, privateKey, privateKeyId, clientId, tokenUrl, keyField: field };
}

/** The signed assertion of the JWT bearer grant (RFC 7523 section 2.1, Google's claim set). */
export function signAssertion(key: ServiceAccountKey, subject: string, scope: string, now = Date.now()): string {
	const iat = Math.floor(now / 1000);
	return jws.sign({
		header: { alg: 'RS256', typ: 'JWT', ...(key.privateKeyId ? { kid: key.privateKeyId } : {}) },
		payload: { iss: key.clientEmail, sub: subject, scope, aud: key.tokenUrl, iat, exp: iat + ASSERTION_LIFETIME_S },
		secret: key.privateKey,
	});
}

interface CachedToken {
	accessToken: string;
	expiresAt: number;
}

const cache = new Map<string, CachedToken>();
const pending = new Map<string, Promise<CachedToken>>();
const agents = new Map<string, HttpsAgent>();

function agentFor(url: string): HttpsAgent {
	const origin = new URL(url).origin;
	let agent = agents.get(origin);
	if (!agent) {
		// Node's trusted CAs (with NODE_EXTRA_CA_CERTS): the token endpoint's certificate is always verified.
		agent = new HttpsAgent({ maxSockets: 4 });
		agents.set(origin, agent);
	}
	return agent;
}

const ADMIN_CONSOLE = 'Google Admin console → Security → Access and data control → API controls → Manage Domain Wide Delegation';

function jsonObject(text: string): Record<string, unknown> | undefined {
	try {
		const value = JSON.parse(text) as unknown;
		return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
	} catch {
		return undefined;
	}
}

/** Google's error answer as the field the user has to fix and how (https://developers.google.com/identity/protocols/oauth2/service-account#error-codes). */
function grantFailed(status: number, body: string, key: ServiceAccountKey, subject: string, scope: string): MailboxError {
	// not Google's JSON: the status says what happened
	const parsed = jsonObject(body) ?? {};
	const error = typeof parsed.error === 'string' ? parsed.error : '';
	const description = typeof parsed.error_description === 'string' ? parsed.error_description : '';
	const said = redact([error, description].filter(Boolean).join(': ') || `HTTP ${status}`, [key.privateKey]);
	const details = (field: string) => ({ field, step: 'login' as const, serverCode: error || `HTTP ${status}`, responseCode: status, serverResponse: said });
	const clientId = key.clientId ? `client ID ${key.clientId}` : `the service account's numeric client ID`;
	if (error === 'unauthorized_client' || error === 'access_denied') {
		return new MailboxError('AUTH', `Google refused to let ${key.clientEmail} act as ${subject}: domain-wide delegation is not granted for the scope ${scope} (${said}).`, {
			...details(key.keyField),
			hint: `In the ${ADMIN_CONSOLE}, add ${clientId} (the number, not the service account's address) with the OAuth scope ${scope}; it can take a few minutes to apply.`,
		});
	}
	if (error === 'invalid_grant' && /signature/i.test(description)) {
		return new MailboxError('AUTH', `Google rejected the service account's key: the key of ${key.clientEmail}${key.privateKeyId ? ` (id ${key.privateKeyId})` : ''} was deleted, disabled or does not belong to it (${said}).`, {
			...details(key.keyField),
			hint: 'Create a new JSON key for the service account (Google Cloud console → IAM & Admin → Service Accounts → Keys) and paste it into the credential.',
		});
	}
	if (error === 'invalid_grant' && /email|user id|sub\b|impersonat/i.test(description)) {
		return new MailboxError('AUTH', `Google does not know ${subject} as a user of the Workspace domain (${said}).`, {
			...details('mailbox'),
			hint: 'Enter the address of an existing user of your Google Workspace domain (not a group or an alias) as Mailbox or one of the Shared Mailboxes.',
		});
	}
	if (error === 'invalid_grant' && /account not found|not found/i.test(description)) {
		return new MailboxError('AUTH', `Google does not know the service account ${key.clientEmail}: it was deleted or the key file is of another project (${said}).`, {
			...details(key.keyField),
			hint: 'Paste the JSON key of an existing service account of your Google Cloud project.',
		});
	}
	if (error === 'invalid_grant' && /iat|exp|short-lived|timeframe/i.test(description)) {
		return new MailboxError('AUTH', `Google rejected the sign-in's time stamps: this machine's clock is probably off (${said}).`, {
			...details(key.keyField),
			hint: 'Synchronize the clock of the machine n8n runs on (NTP); Google accepts assertions only within their hour of validity.',
		});
	}
	if (error === 'invalid_client' || error === 'disabled_client') {
		return new MailboxError('AUTH', `Google refused the service account ${key.clientEmail}: it is disabled (${said}).`, { ...details(key.keyField), hint: 'Enable the service account in the Google Cloud console, or use another one.' });
	}
	if (error === 'admin_policy_enforced') {
		return new MailboxError('AUTH', `A policy of your Google Workspace administrator blocks the scope ${scope} for ${subject} (${said}).`, { ...details('mailbox'), hint: 'Ask the administrator to allow the app access to Gmail (Admin console → Security → API controls).' });
	}
	if (status >= 500 || status === 429) {
		return new MailboxError('SERVER', `Google's token endpoint could not answer now (${said}).`, { ...details(key.keyField), hint: 'Try again later.' });
	}
	return new MailboxError('AUTH', `Google did not issue a token for ${subject}: ${said}.`, { ...details(key.keyField), hint: `Check the key file and the domain-wide delegation of ${clientId} with the scope ${scope}.` });
}

async function grant(key: ServiceAccountKey, subject: string, scope: string, logger: Logger): Promise<CachedToken> {
	const started = Date.now();
	const body = Buffer.from(new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion: signAssertion(key, subject, scope, started) }).toString(), 'utf8');
	const names = { field: key.keyField, label: 'token URL of the key file', example: GOOGLE_TOKEN_URL, server: 'Google', service: 'its token endpoint' };
	let answer;
	try {
		answer = await agentFor(key.tokenUrl).send({
			method: 'POST',
			url: key.tokenUrl,
			headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
			body,
			timeoutMs: REQUEST_TIMEOUT_MS,
			maxResponseBytes: MAX_ANSWER_BYTES,
			tooLarge: () => new MailboxError('PROTOCOL', `The answer of ${key.tokenUrl} is larger than a token answer can be.`, { field: key.keyField, step: 'login' }),
		});
	} catch (error) {
		throw error instanceof MailboxError ? error : fromHttpsNetworkError(error, key.tokenUrl, names, [key.privateKey]);
	}
	const text = answer.body.toString('utf8');
	if (answer.status !== 200) throw grantFailed(answer.status, text, key, subject, scope);
	const parsed = jsonObject(text);
	if (!parsed) throw new MailboxError('PROTOCOL', `${key.tokenUrl} answered 200 without JSON.`, { field: key.keyField, step: 'login' });
	if (typeof parsed.access_token !== 'string' || !parsed.access_token) throw new MailboxError('PROTOCOL', `${key.tokenUrl} answered without an access token.`, { field: key.keyField, step: 'login' });
	const lifetime = Number(parsed.expires_in);
	logger.debug(`Google service account ${key.clientEmail}: token for ${subject}, valid ${Number.isFinite(lifetime) ? `${Math.round(lifetime)} s` : 'for an unknown time'}`);
	return { accessToken: parsed.access_token, expiresAt: started + (Number.isFinite(lifetime) && lifetime > 0 ? lifetime : 3600) * 1000 };
}

/**
 * A token for `subject` (a user of the domain), from the cache while it has more than five minutes
 * left. `fresh` skips the cache: for a server that rejected a cached token before its expiry.
 */
export async function getServiceAccountToken(input: ServiceAccountInput, subject: string, logger: Logger = silentLogger, options: { scope?: string; fresh?: boolean; field?: string } = {}): Promise<GoogleToken> {
	const key = parseServiceAccountKey(input);
	const user = subject.trim();
	if (!user) throw configError(options.field ?? 'mailbox', 'Mailbox is empty: the service account needs the user of your domain to act as.', 'Enter the address of the Google Workspace user whose mailbox the nodes open (e.g. info@example.com).');
	const scope = options.scope ?? GOOGLE_MAIL_SCOPE;
	const cacheKey = createHash('sha256').update(JSON.stringify([key.tokenUrl, key.clientEmail, key.privateKey, user.toLowerCase(), scope])).digest('hex');
	const cached = cache.get(cacheKey);
	if (!options.fresh && cached && cached.expiresAt - RENEW_BEFORE_MS > Date.now()) return { accessToken: cached.accessToken, expiresAt: new Date(cached.expiresAt), fromCache: true };
	let request = pending.get(cacheKey);
	if (!request) {
		request = grant(key, user, scope, logger).finally(() => pending.delete(cacheKey));
		pending.set(cacheKey, request);
	}
	const token = await request;
	cache.set(cacheKey, token);
	return { accessToken: token.accessToken, expiresAt: new Date(token.expiresAt), fromCache: false };
}

/** Forgets every cached token and closes the token endpoints' connections (tests, shutdown). */
export function clearServiceAccountTokens(): void {
	cache.clear();
	for (const agent of agents.values()) agent.close();
	agents.clear();
}
