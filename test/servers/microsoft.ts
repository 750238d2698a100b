/**
 * A Microsoft-style sign-in authority on loopback, over HTTPS, for MSAL: the OpenID metadata MSAL
 * reads (`/<tenant>/v2.0/.well-known/openid-configuration`) and the client-credentials token
 * endpoint (`/<tenant>/oauth2/v2.0/token`). Tokens it issues come from the test OAuth server, so
 * Dovecot accepts them for XOAUTH2/OAUTHBEARER. Answers errors the way Entra ID does (AADSTS codes).
 */
import https from 'node:https';
import { freePort } from './ports';

export interface AppRegistration {
	tenant: string;
	clientId: string;
	clientSecret: string;
	/** The mailbox the app's tokens act on. */
	user: string;
	/** Token lifetime in seconds (default 3599). */
	expiresIn?: number;
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
	private readonly apps: AppRegistration[] = [];
	private server?: https.Server;
	port = 0;

	constructor(
		private readonly tls: { key: Buffer; cert: Buffer },
		private readonly issueToken: (user: string, lifetimeSeconds: number) => string,
	) {}

	/** The sign-in host as a user enters it ("login.microsoftonline.com" in real life). */
	get host(): string {
		return `localhost:${this.port}`;
	}

	register(app: AppRegistration): void {
		this.apps.push(app);
	}

	async start(): Promise<this> {
		this.port = await freePort();
		this.server = https.createServer({ key: this.tls.key, cert: this.tls.cert }, (req, res) => void this.handle(req, res));
		await new Promise<void>((resolve) => this.server?.listen(this.port, '127.0.0.1', resolve));
		return this;
	}

	private async handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
		const chunks: Buffer[] = [];
		for await (const chunk of req) chunks.push(chunk as Buffer);
		const url = new URL(req.url ?? '/', `https://${this.host}`);
		const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
		this.requests.push({ method: req.method ?? '', path: url.pathname, grantType: form.get('grant_type') ?? undefined, clientId: form.get('client_id') ?? undefined, scope: form.get('scope') ?? undefined });
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
		const token = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
		if (token && req.method === 'POST') {
			const tenant = token[1];
			if (form.get('grant_type') !== 'client_credentials') return aadError(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
			const app = this.apps.find((a) => a.tenant === tenant && a.clientId === form.get('client_id'));
			if (!app) return aadError(400, 'unauthorized_client', 700016, `Application with identifier '${form.get('client_id') ?? ''}' was not found in the directory '${tenant}'.`);
			if (app.clientSecret !== form.get('client_secret')) return aadError(401, 'invalid_client', 7000215, 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.');
			const expiresIn = app.expiresIn ?? 3599;
			return json(200, { token_type: 'Bearer', expires_in: expiresIn, ext_expires_in: expiresIn, access_token: this.issueToken(app.user, expiresIn) });
		}
		json(404, { error: 'not_found' });
	}

	stop(): Promise<void> {
		return new Promise((resolve) => {
			if (!this.server) return resolve();
			this.server.closeAllConnections();
			this.server.close(() => resolve());
		});
	}
}
