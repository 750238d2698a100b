/**
 * A Microsoft-style sign-in authority on loopback, over HTTPS, for MSAL: the OpenID metadata MSAL
 * reads (`/<tenant>/v2.0/.well-known/openid-configuration`) and the client-credentials token
 * endpoint (`/<tenant>/oauth2/v2.0/token`). Tokens it issues come from the test OAuth server, so
 * Dovecot accepts them for XOAUTH2/OAUTHBEARER. Answers errors the way Entra ID does (AADSTS codes).
 *
 * For delegated apps (a user signs in, e.g. in n8n's OAuth2 credential dialog) it also has:
 * - `/<tenant>/oauth2/v2.0/authorize`, which redirects to redirect_uri with a code and the state at
 *   once, as if the user had signed in and consented;
 * - the authorization_code and refresh_token grants on the token endpoint: access tokens live as
 *   long as the app's `expiresIn` says (changeable with setTokenLifetime), refresh tokens rotate
 *   (a used one is rejected with invalid_grant, so a successful refresh proves the newest was kept);
 * - a token check, `GET /EWS/Exchange.asmx` with a Bearer token (as Exchange's EWS endpoint):
 *   401 for an expired or unknown token, 200 otherwise (needs `tokenUser`).
 *
 * It remembers the resource (audience) each access token was issued for, from the scope asked:
 * `https://graph.microsoft.com/.default` gives `https://graph.microsoft.com`, scopes without a
 * resource (`Mail.Read offline_access`) Graph, as Entra ID does; read it with `tokenAudience`.
 */
import crypto from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { closeWhenFileEnds } from './lifetime';
import { listenOnLoopback } from './ports';
import { registerSecret } from '../canary';

export interface AppRegistration {
	tenant: string;
	clientId: string;
	clientSecret: string;
	/** The mailbox the app's tokens act on. */
	user: string;
	/** Token lifetime in seconds (default 3599). */
	expiresIn?: number;
}

/** An app users sign in to (authorization code grant, delegated permissions). */
export interface DelegatedApp {
	tenant: string;
	clientId: string;
	clientSecret: string;
	/** The user who signs in at the authorize endpoint. */
	user: string;
	/** Access token lifetime in seconds (default 3599). */
	expiresIn?: number;
}

/** One answer of the token endpoint to a delegated app, for tests to count grants. */
export interface DelegatedGrant {
	grantType: 'authorization_code' | 'refresh_token';
	clientId: string;
	ok: boolean;
	/** For a refresh: how many refreshes preceded the refresh token used (0 = from the code). */
	generation?: number;
	error?: string;
	/** The access token issued (tests may revoke it at the OAuth server). */
	accessToken?: string;
}

export interface AuthorityRequest {
	method: string;
	path: string;
	grantType?: string;
	clientId?: string;
	scope?: string;
}

export class MicrosoftAuthority {
	readonly requests: AuthorityRequest[] = [];
	/** Token endpoint answers to delegated apps, oldest first. */
	readonly grants: DelegatedGrant[] = [];
	private readonly apps: AppRegistration[] = [];
	private readonly delegated: DelegatedApp[] = [];
	private readonly codes = new Map<string, { clientId: string; user: string; redirectUri: string; scope: string }>();
	private readonly refreshTokens = new Map<string, { clientId: string; user: string; scope: string; generation: number }>();
	private readonly audiences = new Map<string, string>();
	private server?: https.Server;
	port = 0;

	constructor(
		private readonly tls: { key: Buffer; cert: Buffer },
		private readonly issueToken: (user: string, lifetimeSeconds: number) => string,
		/** The user an access token is valid for (undefined: expired, revoked or unknown); for the token check. */
		private readonly tokenUser?: (token: string) => string | undefined,
	) {}

	/** The resource an access token this authority issued is for (e.g. 'https://graph.microsoft.com'); undefined for other tokens. */
	tokenAudience(token: string): string | undefined {
		return this.audiences.get(token);
	}

	/** Issues a token and remembers its audience. */
	private issue(user: string, lifetimeSeconds: number, scope: string | null | undefined): string {
		const token = this.issueToken(user, lifetimeSeconds);
		this.audiences.set(token, audienceOf(scope));
		return token;
	}

	/** The token check URL (answers 401 to an expired token, like Exchange's EWS endpoint). */
	get tokenCheckUrl(): string {
		return `https://${this.host}/EWS/Exchange.asmx`;
	}

	registerDelegated(app: DelegatedApp): void {
		registerSecret(app.clientSecret);
		this.delegated.push({ ...app });
	}

	/** Changes how long the access tokens issued from now on to a delegated app live. */
	setTokenLifetime(clientId: string, seconds: number): void {
		for (const app of this.delegated) if (app.clientId === clientId) app.expiresIn = seconds;
	}

	/** The sign-in host as a user enters it ("login.microsoftonline.com" in real life). */
	get host(): string {
		return `localhost:${this.port}`;
	}

	register(app: AppRegistration): void {
		registerSecret(app.clientSecret);
		this.apps.push(app);
	}

	async start(): Promise<this> {
		const server = https.createServer({ key: this.tls.key, cert: this.tls.cert }, (req, res) => void this.handle(req, res));
		this.server = server;
		closeWhenFileEnds('Microsoft sign-in test server', server);
		await listenOnLoopback(server);
		this.port = (server.address() as AddressInfo).port;
		return this;
	}

	private async handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
		const chunks: Buffer[] = [];
		for await (const chunk of req) chunks.push(chunk as Buffer);
		const url = new URL(req.url ?? '/', `https://${this.host}`);
		const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
		this.requests.push({
			method: req.method ?? '',
			path: url.pathname,
			grantType: form.get('grant_type') ?? undefined,
			clientId: form.get('client_id') ?? url.searchParams.get('client_id') ?? undefined,
			scope: form.get('scope') ?? url.searchParams.get('scope') ?? undefined,
		});
		const json = (status: number, body: unknown) => {
			res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
			res.end(JSON.stringify(body));
		};
		const aadError = (status: number, error: string, code: number, text: string) =>
			json(status, { error, error_description: `AADSTS${code}: ${text} Trace ID: 00000000-0000-0000-0000-000000000000`, error_codes: [code], timestamp: new Date().toISOString() });

		const metadata = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(url.pathname);
		if (metadata && req.method === 'GET') {
			const tenant = metadata[1];
			if (!this.apps.some((a) => a.tenant === tenant)) return aadError(400, 'invalid_tenant', 90002, `Tenant '${tenant}' not found.`);
			const base = `https://${this.host}/${tenant}`;
			return json(200, {
				token_endpoint: `${base}/oauth2/v2.0/token`,
				authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
				end_session_endpoint: `${base}/oauth2/v2.0/logout`,
				issuer: `${base}/v2.0`,
				jwks_uri: `${base}/discovery/v2.0/keys`,
				response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
				token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
			});
		}
		if (url.pathname === '/EWS/Exchange.asmx') {
			const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
			const user = bearer && this.tokenUser ? this.tokenUser(bearer) : undefined;
			if (!user) {
				res.writeHead(401, { 'www-authenticate': 'Bearer realm="", error="invalid_token"', 'x-ms-diagnostics': '2000008;reason="The token has expired.";error_category="invalid_token"' });
				return void res.end();
			}
			return json(200, { user });
		}
		const authorize = /^\/([^/]+)\/oauth2\/v2\.0\/authorize$/.exec(url.pathname);
		if (authorize && req.method === 'GET') {
			const q = url.searchParams;
			const app = this.delegatedApp(decodeURIComponent(authorize[1]), q.get('client_id'));
			const redirectUri = q.get('redirect_uri');
			if (!app) return aadError(400, 'unauthorized_client', 700016, `Application with identifier '${q.get('client_id') ?? ''}' was not found in the directory '${authorize[1]}'.`);
			if (!redirectUri) return aadError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'redirect_uri'.");
			if (q.get('response_type') !== 'code') return aadError(400, 'unsupported_response_type', 700054, 'response_type is not enabled for the application.');
			const code = `code-${crypto.randomBytes(12).toString('base64url')}`;
			this.codes.set(code, { clientId: app.clientId, user: app.user, redirectUri, scope: q.get('scope') ?? '' });
			const target = new URL(redirectUri);
			target.searchParams.set('code', code);
			if (q.has('state')) target.searchParams.set('state', q.get('state') ?? '');
			res.writeHead(302, { location: target.toString() });
			return void res.end();
		}
		const token = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
		const grantType = form.get('grant_type');
		if (token && req.method === 'POST' && (grantType === 'authorization_code' || grantType === 'refresh_token')) {
			return this.delegatedToken(decodeURIComponent(token[1]), grantType, form, req.headers.authorization, json, aadError);
		}
		if (token && req.method === 'POST') {
			const tenant = token[1];
			if (form.get('grant_type') !== 'client_credentials') return aadError(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
			const app = this.apps.find((a) => a.tenant === tenant && a.clientId === form.get('client_id'));
			if (!app) return aadError(400, 'unauthorized_client', 700016, `Application with identifier '${form.get('client_id') ?? ''}' was not found in the directory '${tenant}'.`);
			if (app.clientSecret !== form.get('client_secret')) return aadError(401, 'invalid_client', 7000215, 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.');
			const expiresIn = app.expiresIn ?? 3599;
			return json(200, { token_type: 'Bearer', expires_in: expiresIn, ext_expires_in: expiresIn, access_token: this.issue(app.user, expiresIn, form.get('scope')) });
		}
		json(404, { error: 'not_found' });
	}

	/** A delegated app by tenant (its own, or the multi-tenant "organizations" and "common") and client ID. */
	private delegatedApp(tenant: string, clientId: string | null): DelegatedApp | undefined {
		return this.delegated.find((a) => a.clientId === clientId && (a.tenant === tenant || tenant === 'organizations' || tenant === 'common'));
	}

	private delegatedToken(
		tenant: string,
		grantType: 'authorization_code' | 'refresh_token',
		form: URLSearchParams,
		authorization: string | undefined,
		json: (status: number, body: unknown) => void,
		aadError: (status: number, error: string, code: number, text: string) => void,
	): void {
		let clientId = form.get('client_id');
		let clientSecret = form.get('client_secret');
		const basic = /^Basic\s+(\S+)$/i.exec(authorization ?? '')?.[1];
		if (basic) {
			const decoded = Buffer.from(basic, 'base64').toString('utf8');
			clientId = decodeURIComponent(decoded.slice(0, decoded.indexOf(':')));
			clientSecret = decodeURIComponent(decoded.slice(decoded.indexOf(':') + 1));
		}
		const fail = (status: number, error: string, code: number, text: string, generation?: number) => {
			this.grants.push({ grantType, clientId: clientId ?? '', ok: false, error, generation });
			aadError(status, error, code, text);
		};
		const app = this.delegatedApp(tenant, clientId);
		if (!app) return fail(400, 'unauthorized_client', 700016, `Application with identifier '${clientId ?? ''}' was not found in the directory '${tenant}'.`);
		if (app.clientSecret !== clientSecret) return fail(401, 'invalid_client', 7000215, 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.');
		let grant: { user: string; scope: string; generation: number };
		if (grantType === 'authorization_code') {
			const code = this.codes.get(form.get('code') ?? '');
			this.codes.delete(form.get('code') ?? '');
			if (!code || code.clientId !== app.clientId) return fail(400, 'invalid_grant', 70000, "The provided value for the 'code' parameter is not valid.");
			if (code.redirectUri !== form.get('redirect_uri')) return fail(400, 'invalid_grant', 50011, "The redirect URI specified in the request does not match the redirect URIs configured for the application.");
			grant = { user: code.user, scope: code.scope, generation: 0 };
		} else {
			const presented = form.get('refresh_token') ?? '';
			const known = this.refreshTokens.get(presented);
			if (!known || known.clientId !== app.clientId) return fail(400, 'invalid_grant', 70000, "The provided value for the input parameter 'refresh_token' or 'assertion' is not valid.");
			this.refreshTokens.delete(presented); // rotation: each refresh token works once
			grant = { user: known.user, scope: known.scope, generation: known.generation + 1 };
		}
		const expiresIn = app.expiresIn ?? 3599;
		const accessToken = this.issue(grant.user, expiresIn, grant.scope);
		const refreshToken = `rt-${crypto.randomBytes(18).toString('base64url')}`;
		registerSecret(refreshToken);
		this.refreshTokens.set(refreshToken, { clientId: app.clientId, user: grant.user, scope: grant.scope, generation: grant.generation });
		this.grants.push({ grantType, clientId: app.clientId, ok: true, generation: grantType === 'refresh_token' ? grant.generation - 1 : undefined, accessToken });
		json(200, { token_type: 'Bearer', scope: grant.scope, expires_in: expiresIn, ext_expires_in: expiresIn, access_token: accessToken, refresh_token: refreshToken });
	}

	stop(): Promise<void> {
		return new Promise((resolve) => {
			if (!this.server) return resolve();
			this.server.closeAllConnections();
			this.server.close(() => resolve());
		});
	}
}

/** The resource of a scope list: the first scope naming one (`https://host/.default`, `https://host/Mail.Read`), else Microsoft Graph. */
export function audienceOf(scope: string | null | undefined): string {
	for (const item of (scope ?? '').split(/\s+/)) {
		const match = /^(https?:\/\/[^/]+)\//i.exec(item) ?? /^(api:\/\/[^/]+)\//i.exec(item);
		if (match) return match[1].toLowerCase();
	}
	return 'https://graph.microsoft.com';
}
