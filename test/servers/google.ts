/**
 * A Google-style OAuth 2.0 authorization server on loopback, over HTTPS, for the Google
 * credentials: the token endpoint (`POST /token`, Google's https://oauth2.googleapis.com/token)
 * and the authorization endpoint (`GET /o/oauth2/v2/auth`, Google's
 * https://accounts.google.com/o/oauth2/v2/auth). Tokens it issues come from the test OAuth server,
 * so Dovecot accepts them for XOAUTH2/OAUTHBEARER. Answers errors the way Google documents them
 * (`{"error", "error_description"}`, 400, or 401 for client errors).
 *
 * - Service accounts (JWT bearer grant, RFC 7523): createServiceAccount makes an RSA key pair and
 *   keyFile the JSON key file Google Cloud console downloads. The assertion is checked as Google
 *   does: RS256 signature with the account's key (deleteKey disables it), aud = the token URL,
 *   at most an hour between iat and exp, a scope. With `sub` (domain-wide delegation) the user
 *   must be in the domain (addDomainUser) and the account's numeric client ID authorized for every
 *   scope asked (authorizeDelegation, as in the Admin console); the token is then the user's.
 *   Without `sub` the token is the service account's own (Gmail would refuse it for a mailbox).
 * - OAuth clients (authorization code grant, as n8n runs it): the authorize endpoint redirects at
 *   once with code, state and scope, as if the user had signed in and consented. The code grant
 *   gives a refresh token only if the sign-in asked for access_type=offline; refresh tokens do not
 *   rotate (a refresh answer has none) and stay valid until revokeRefreshTokens.
 * - Google's token check, `GET /tokeninfo?access_token=…`: 400 invalid_token for an expired,
 *   revoked or unknown token, else what the token is for (azp, scope, expires_in, access_type).
 *
 * Every token-endpoint answer is in `grants`, every request in `requests` (secrets redacted);
 * every secret made here (keys, codes, tokens) is registered with the canary.
 */
import crypto from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeWhenFileEnds } from './lifetime';
import { listenOnLoopback, LOOPBACK } from './ports';
import { registerSecret } from '../canary';

export const GOOGLE_MAIL_SCOPE = 'https://mail.google.com/';
export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export interface GoogleServiceAccount {
	projectId: string;
	clientEmail: string;
	/** The numeric client ID (21 digits) the Admin console's domain-wide delegation names. */
	clientId: string;
	/** 40 hex digits; the `kid` of the account's JWTs. */
	privateKeyId: string;
	/** PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"), as in Google's key files. */
	privateKey: string;
	publicKey: string;
}

/** One answer of the token endpoint, for tests to count grants. */
export interface GoogleGrant {
	grantType: 'jwt-bearer' | 'authorization_code' | 'refresh_token';
	/** The service account's numeric client ID or the OAuth client ID ('' when unknown). */
	clientId: string;
	/** The user a service account asked to act as (domain-wide delegation). */
	sub?: string;
	scope?: string;
	ok: boolean;
	error?: string;
	errorDescription?: string;
	/** The access token issued (tests may revoke it at the OAuth server). */
	accessToken?: string;
}

export interface GoogleRequest {
	method: string;
	path: string;
	grantType?: string;
	status: number;
	/** The assertion's decoded header and claims, for JWT grants. */
	header?: Record<string, unknown>;
	claims?: Record<string, unknown>;
	/** The authorize request's query, secrets redacted. */
	query?: Record<string, string>;
}

interface OAuthClient {
	clientId: string;
	clientSecret: string;
	user: string;
}

const SECRET_FIELDS = new Set(['client_secret', 'code', 'code_verifier', 'assertion', 'access_token', 'refresh_token', 'id_token']);
const TIMEFRAME = 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.';
const BAD_SIGNATURE = 'Invalid JWT Signature.';
const UNAUTHORIZED_CLIENT = 'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.';
/** How far ahead of this clock a JWT's iat may be. */
const CLOCK_ALLOWANCE_S = 300;

class Refusal {
	constructor(
		readonly status: number,
		readonly error: string,
		readonly description: string,
	) {}
}

export class GoogleAuthority {
	/** Every token-endpoint answer, oldest first. */
	readonly grants: GoogleGrant[] = [];
	/** Every request, oldest first. */
	readonly requests: GoogleRequest[] = [];
	private readonly accounts = new Map<string, GoogleServiceAccount & { keyDeleted: boolean }>();
	private readonly domainUsers = new Set<string>();
	private readonly delegations = new Map<string, Set<string>>();
	private readonly clients = new Map<string, OAuthClient>();
	private readonly lifetimes = new Map<string, number>();
	private readonly codes = new Map<string, { clientId: string; user: string; redirectUri: string; scope: string; offline: boolean }>();
	private readonly refreshTokens = new Map<string, { clientId: string; user: string; scope: string }>();
	/** What tokeninfo tells of each access token issued here. */
	private readonly issued = new Map<string, { clientId: string; user: string; scope: string; expires: number; accessType?: string }>();
	private server?: https.Server;
	private port = 0;

	constructor(
		private readonly tls: { key: Buffer | string; cert: Buffer | string },
		private readonly issueToken: (user: string, lifetimeSeconds: number) => string,
		/** The user an access token is valid for (undefined: expired, revoked or unknown); for tokeninfo. */
		private readonly tokenUser: (token: string) => string | undefined,
	) {}

	async start(): Promise<this> {
		const server = https.createServer({ key: this.tls.key, cert: this.tls.cert }, (req, res) => {
			this.handle(req, res).catch((error: unknown) => {
				if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
				res.end(JSON.stringify({ error: 'internal_failure', error_description: String(error) }));
			});
		});
		this.server = server;
		closeWhenFileEnds('Google OAuth test server', server);
		await listenOnLoopback(server);
		this.port = (server.address() as AddressInfo).port;
		return this;
	}

	stop(): Promise<void> {
		return new Promise((resolve) => {
			if (!this.server) return resolve();
			this.server.closeAllConnections();
			this.server.close(() => resolve());
		});
	}

	get host(): string {
		return `${LOOPBACK}:${this.port}`;
	}
	/** Google: https://oauth2.googleapis.com/token */
	get tokenUrl(): string {
		return `https://${this.host}/token`;
	}
	/** Google: https://accounts.google.com/o/oauth2/v2/auth */
	get authUrl(): string {
		return `https://${this.host}/o/oauth2/v2/auth`;
	}

	/** Google: https://oauth2.googleapis.com/tokeninfo (`?access_token=…`) */
	get tokenInfoUrl(): string {
		return `https://${this.host}/tokeninfo`;
	}

	/** A user of the Workspace domain (e.g. alice@example.test), whom a service account may act as. */
	addDomainUser(email: string): void {
		this.domainUsers.add(email.toLowerCase());
	}

	/** A new service account with a new RSA-2048 key, as IAM → Service accounts → Keys → Add key makes. */
	createServiceAccount(name = 'n8n-mail'): GoogleServiceAccount {
		const projectId = 'mailbox-test-417305';
		let clientEmail = `${name}@${projectId}.iam.gserviceaccount.com`;
		for (let n = 2; this.accounts.has(clientEmail); n++) clientEmail = `${name}-${n}@${projectId}.iam.gserviceaccount.com`;
		const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', {
			modulusLength: 2048,
			publicKeyEncoding: { type: 'spki', format: 'pem' },
			privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
		});
		registerSecret(privateKey);
		// a line from the key's end (the CRT part, secret) shows in every form the key is written in (PEM, JSON-escaped)
		const lines = privateKey.trim().split('\n');
		registerSecret(lines[lines.length - 3]);
		const clientId = `1${Array.from({ length: 20 }, () => crypto.randomInt(10)).join('')}`;
		const account = { projectId, clientEmail, clientId, privateKeyId: crypto.randomBytes(20).toString('hex'), privateKey, publicKey };
		this.accounts.set(clientEmail, { ...account, keyDeleted: false });
		return account;
	}

	/** The JSON key file exactly as Google Cloud console downloads it, with this server's endpoints. */
	keyFile(account: GoogleServiceAccount): string {
		const file = {
			type: 'service_account',
			project_id: account.projectId,
			private_key_id: account.privateKeyId,
			private_key: account.privateKey,
			client_email: account.clientEmail,
			client_id: account.clientId,
			auth_uri: this.authUrl,
			token_uri: this.tokenUrl,
			auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
			client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(account.clientEmail)}`,
			universe_domain: 'googleapis.com',
		};
		return `${JSON.stringify(file, null, 2)}\n`;
	}

	/** The key was deleted (or disabled) in the console: JWTs signed with it no longer verify. */
	deleteKey(account: GoogleServiceAccount): void {
		const known = this.accounts.get(account.clientEmail);
		if (known) known.keyDeleted = true;
	}

	/** Admin console → Security → API controls → Domain-wide delegation: this numeric client ID with these scopes. */
	authorizeDelegation(clientId: string, scopes: string[]): void {
		this.delegations.set(clientId, new Set(scopes));
	}

	revokeDelegation(clientId: string): void {
		this.delegations.delete(clientId);
	}

	/** An OAuth client (Google Cloud console → Credentials → OAuth client ID); `user` signs in at the authorize endpoint. */
	registerOAuthClient(client: OAuthClient): void {
		registerSecret(client.clientSecret);
		this.clients.set(client.clientId, { ...client });
	}

	/** How long access tokens issued from now on to this service account (numeric ID or email) or OAuth client live (default 3599 s). */
	setTokenLifetime(clientIdOrEmail: string, seconds: number): void {
		this.lifetimes.set(clientIdOrEmail, seconds);
	}

	/** The user removed the app's access: its refresh tokens are refused from now on. */
	revokeRefreshTokens(clientId: string): void {
		for (const [token, grant] of this.refreshTokens) if (grant.clientId === clientId) this.refreshTokens.delete(token);
	}

	/** Issues an access token (a secret) and remembers it for tokeninfo. */
	private issue(user: string, lifetimeSeconds: number, clientId: string, scope: string, accessType?: string): string {
		const token = this.issueToken(user, lifetimeSeconds);
		registerSecret(token);
		this.issued.set(token, { clientId, user, scope, expires: Math.floor(Date.now() / 1000) + lifetimeSeconds, accessType });
		return token;
	}

	private lifetime(...keys: string[]): number {
		for (const key of keys) {
			const seconds = this.lifetimes.get(key);
			if (seconds !== undefined) return seconds;
		}
		return 3599;
	}

	private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
		const chunks: Buffer[] = [];
		for await (const chunk of req) chunks.push(chunk as Buffer);
		const url = new URL(req.url ?? '/', `https://${this.host}`);
		const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
		const record: GoogleRequest = { method: req.method ?? '', path: url.pathname, status: 0 };
		this.requests.push(record);
		const json = (status: number, body: unknown) => {
			record.status = status;
			res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache, no-store, max-age=0, must-revalidate' });
			res.end(JSON.stringify(body));
		};

		if (url.pathname === '/o/oauth2/v2/auth' && req.method === 'GET') {
			record.query = Object.fromEntries([...url.searchParams].map(([k, v]) => [k, SECRET_FIELDS.has(k) ? '[redacted]' : v]));
			return this.authorize(url.searchParams, res, record);
		}
		if (url.pathname === '/token' && req.method === 'POST') {
			const grantType = form.get('grant_type') ?? '';
			record.grantType = grantType || undefined;
			const kind = grantType === JWT_BEARER ? 'jwt-bearer' : grantType === 'authorization_code' || grantType === 'refresh_token' ? grantType : undefined;
			if (!kind) return json(400, { error: 'unsupported_grant_type', error_description: `Invalid grant_type: ${grantType}` });
			const grant: GoogleGrant = { grantType: kind, clientId: '', ok: false };
			let answer: Record<string, unknown>;
			try {
				answer = kind === 'jwt-bearer' ? this.jwtGrant(form, grant, record) : this.clientGrant(kind, form, req.headers.authorization, grant);
			} catch (error) {
				if (!(error instanceof Refusal)) throw error;
				this.grants.push({ ...grant, error: error.error, errorDescription: error.description });
				return json(error.status, { error: error.error, error_description: error.description });
			}
			this.grants.push({ ...grant, ok: true, accessToken: answer.access_token as string });
			return json(200, answer);
		}
		if (url.pathname === '/tokeninfo') {
			// Google's token check: 400 invalid_token for an expired, revoked or unknown token
			const token = url.searchParams.get('access_token') ?? form.get('access_token') ?? '';
			const info = this.issued.get(token);
			if (!info || !this.tokenUser(token)) return json(400, { error: 'invalid_token', error_description: 'Invalid Value' });
			const scopes = info.scope.split(' ');
			const email = scopes.includes('email') || scopes.includes('https://www.googleapis.com/auth/userinfo.email');
			return json(200, {
				azp: info.clientId,
				aud: info.clientId,
				scope: info.scope,
				exp: String(info.expires),
				expires_in: String(Math.max(0, info.expires - Math.floor(Date.now() / 1000))),
				...(email ? { email: info.user, email_verified: 'true' } : {}),
				...(info.accessType ? { access_type: info.accessType } : {}),
			});
		}
		json(404, { error: 'not_found', error_description: `${req.method ?? ''} ${url.pathname}` });
	}

	/** The sign-in: straight back to redirect_uri with code, state and scope, as after the user's consent. */
	private authorize(q: URLSearchParams, res: ServerResponse, record: GoogleRequest): void {
		// Google's error page (always 400), e.g. "Error 401: invalid_client" for an unknown client
		const page = (error: string, text: string) => {
			record.status = 400;
			const escaped = text.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
			res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' });
			res.end(`<!doctype html><html><head><title>Access blocked: Authorization Error</title></head><body><h1>Access blocked: Authorization Error</h1><p>${escaped}</p><p>Error ${error}</p></body></html>`);
		};
		const client = this.clients.get(q.get('client_id') ?? '');
		if (!client) return page('401: invalid_client', 'The OAuth client was not found.');
		const redirectUri = q.get('redirect_uri');
		if (!redirectUri || !URL.canParse(redirectUri)) return page('400: invalid_request', 'Missing required parameter: redirect_uri');
		if (q.get('response_type') !== 'code') return page('400: invalid_request', `Invalid response_type: ${q.get('response_type') ?? ''}`);
		const scope = (q.get('scope') ?? '').trim();
		if (!scope) return page('400: invalid_request', 'Missing required parameter: scope');
		const code = `4/0A${crypto.randomBytes(40).toString('base64url')}`;
		registerSecret(code);
		this.codes.set(code, { clientId: client.clientId, user: client.user, redirectUri, scope, offline: q.get('access_type') === 'offline' });
		const target = new URL(redirectUri);
		if (q.has('state')) target.searchParams.set('state', q.get('state') ?? '');
		target.searchParams.set('code', code);
		target.searchParams.set('scope', scope);
		target.searchParams.set('authuser', '0');
		target.searchParams.set('prompt', 'consent');
		record.status = 302;
		res.writeHead(302, { location: target.toString() });
		res.end();
	}

	/** RFC 7523 as Google checks it; throws a Refusal. */
	private jwtGrant(form: URLSearchParams, grant: GoogleGrant, record: GoogleRequest): Record<string, unknown> {
		const assertion = form.get('assertion') ?? '';
		registerSecret(assertion);
		const parts = assertion.split('.');
		if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) throw new Refusal(400, 'invalid_grant', 'Invalid JWT: Token must be a three-part base64url-encoded JWS.');
		let header: Record<string, unknown>;
		let claims: Record<string, unknown>;
		try {
			header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as Record<string, unknown>;
			claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as Record<string, unknown>;
			if (!header || typeof header !== 'object' || !claims || typeof claims !== 'object') throw new Error('not an object');
		} catch {
			throw new Refusal(400, 'invalid_grant', 'Invalid JWT: Unable to parse the JWT header or claim set as JSON.');
		}
		record.header = header;
		record.claims = claims;
		const account = this.accounts.get(String(claims.iss ?? ''));
		if (account) grant.clientId = account.clientId;
		if (typeof claims.sub === 'string') grant.sub = claims.sub;
		if (typeof claims.scope === 'string') grant.scope = claims.scope;
		if (!account) throw new Refusal(400, 'invalid_grant', 'Invalid grant: account not found');
		const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
		const signature = Buffer.from(parts[2], 'base64url');
		const verified = !account.keyDeleted && crypto.verify('RSA-SHA256', signed, account.publicKey, signature);
		const headerOk = header.alg === 'RS256' && (header.typ === undefined || header.typ === 'JWT') && (header.kid === undefined || header.kid === account.privateKeyId);
		if (!headerOk || !verified) throw new Refusal(400, 'invalid_grant', BAD_SIGNATURE);
		if (claims.aud !== this.tokenUrl) throw new Refusal(400, 'invalid_grant', `Invalid JWT: Failed audience check. The expected value was ${this.tokenUrl}`);
		const now = Math.floor(Date.now() / 1000);
		const { iat, exp } = claims;
		if (typeof iat !== 'number' || typeof exp !== 'number' || exp - iat > 3600 || exp <= iat || exp <= now || iat > now + CLOCK_ALLOWANCE_S) throw new Refusal(400, 'invalid_grant', TIMEFRAME);
		const scopes = String(claims.scope ?? '').split(' ').filter(Boolean);
		if (scopes.length === 0) throw new Refusal(400, 'invalid_scope', 'Empty or missing scope not allowed.');
		let user = account.clientEmail;
		if (claims.sub !== undefined) {
			const sub = String(claims.sub);
			if (!this.domainUsers.has(sub.toLowerCase())) throw new Refusal(400, 'invalid_grant', 'Invalid email or User ID');
			const allowed = this.delegations.get(account.clientId);
			if (!allowed || !scopes.every((s) => allowed.has(s))) throw new Refusal(401, 'unauthorized_client', UNAUTHORIZED_CLIENT);
			user = sub;
		}
		const expiresIn = this.lifetime(account.clientId, account.clientEmail);
		return { access_token: this.issue(user, expiresIn, account.clientId, scopes.join(' ')), expires_in: expiresIn, token_type: 'Bearer' };
	}

	/** The authorization_code and refresh_token grants of an OAuth client; throws a Refusal. */
	private clientGrant(kind: 'authorization_code' | 'refresh_token', form: URLSearchParams, authorization: string | undefined, grant: GoogleGrant): Record<string, unknown> {
		let clientId = form.get('client_id') ?? '';
		let clientSecret = form.get('client_secret') ?? '';
		const basic = /^Basic\s+(\S+)$/i.exec(authorization ?? '')?.[1];
		if (basic) {
			const decoded = Buffer.from(basic, 'base64').toString('utf8');
			const colon = decoded.indexOf(':');
			const unescape = (s: string) => {
				try {
					return decodeURIComponent(s.replace(/\+/g, ' '));
				} catch {
					return s;
				}
			};
			clientId = unescape(decoded.slice(0, colon));
			clientSecret = unescape(decoded.slice(colon + 1));
		}
		grant.clientId = clientId;
		const client = this.clients.get(clientId);
		if (!client) throw new Refusal(401, 'invalid_client', 'The OAuth client was not found.');
		if (client.clientSecret !== clientSecret) throw new Refusal(401, 'invalid_client', 'Unauthorized');
		const expiresIn = this.lifetime(client.clientId);
		if (kind === 'refresh_token') {
			const known = this.refreshTokens.get(form.get('refresh_token') ?? '');
			if (!known || known.clientId !== client.clientId) throw new Refusal(400, 'invalid_grant', 'Token has been expired or revoked.');
			grant.scope = known.scope;
			// Google keeps the refresh token: the answer has none
			return { access_token: this.issue(known.user, expiresIn, client.clientId, known.scope, 'offline'), expires_in: expiresIn, scope: known.scope, token_type: 'Bearer' };
		}
		const presented = form.get('code') ?? '';
		if (!presented.startsWith('4/')) throw new Refusal(400, 'invalid_grant', 'Malformed auth code.');
		const code = this.codes.get(presented);
		if (!code || code.clientId !== client.clientId) throw new Refusal(400, 'invalid_grant', 'Bad Request');
		if (code.redirectUri !== form.get('redirect_uri')) throw new Refusal(400, 'redirect_uri_mismatch', 'Bad Request');
		this.codes.delete(presented);
		grant.scope = code.scope;
		const answer: Record<string, unknown> = { access_token: this.issue(code.user, expiresIn, client.clientId, code.scope, code.offline ? 'offline' : 'online'), expires_in: expiresIn };
		if (code.offline) {
			const refreshToken = `1//0g${crypto.randomBytes(60).toString('base64url')}`;
			registerSecret(refreshToken);
			this.refreshTokens.set(refreshToken, { clientId: client.clientId, user: code.user, scope: code.scope });
			answer.refresh_token = refreshToken;
		}
		return { ...answer, scope: code.scope, token_type: 'Bearer' };
	}
}
