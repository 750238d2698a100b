/**
 * A local OAuth2 endpoint, no dependencies:
 * - RFC 7662 token introspection, `POST /introspect`, which Dovecot's oauth2 passdb calls for
 *   XOAUTH2/OAUTHBEARER logins: `valid-token-<user>` and tokens it issued are active for their user;
 * - a Microsoft-style client-credentials token endpoint, `POST /<tenant>/oauth2/v2.0/token`.
 * Every request is recorded (secrets left out) for tests to inspect.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import { freePort } from './ports';

export interface OAuthClient {
	tenant: string;
	clientId: string;
	clientSecret: string;
	/** The mailbox user the issued tokens act as. */
	user: string;
}

export interface OAuthRequest {
	method: string;
	path: string;
	userAgent?: string;
	/** Form or query fields, without client_secret and token values. */
	fields: Record<string, string>;
	at: string;
}

export class OAuthServer {
	readonly requests: OAuthRequest[] = [];
	private readonly issued = new Map<string, { user: string; expires: number }>();
	private readonly clients: OAuthClient[] = [];

	private constructor(
		private readonly server: http.Server,
		readonly port: number,
		private readonly users: string[],
	) {}

	get url(): string {
		return `http://127.0.0.1:${this.port}`;
	}
	get introspectionUrl(): string {
		return `${this.url}/introspect`;
	}

	static async start(users: string[]): Promise<OAuthServer> {
		const port = await freePort();
		let instance: OAuthServer | undefined;
		const server = http.createServer((req, res) => void instance?.handle(req, res));
		instance = new OAuthServer(server, port, users);
		await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
		return instance;
	}

	addClient(client: OAuthClient): void {
		this.clients.push(client);
	}

	/** Issues a token for a user directly (as an authorization server would after a sign-in). */
	issueToken(user: string, lifetimeSeconds = 3600): string {
		const token = `issued-${crypto.randomBytes(18).toString('base64url')}`;
		this.issued.set(token, { user, expires: Date.now() + lifetimeSeconds * 1000 });
		return token;
	}

	revoke(token: string): void {
		this.issued.delete(token);
	}

	/** The user an access token belongs to, if it is active. */
	tokenUser(token: string): string | undefined {
		const issued = this.issued.get(token);
		if (issued) return issued.expires > Date.now() ? issued.user : undefined;
		const match = /^valid-token-(.+)$/.exec(token);
		return match && this.users.includes(match[1]) ? match[1] : undefined;
	}

	private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
		const chunks: Buffer[] = [];
		for await (const chunk of req) chunks.push(chunk as Buffer);
		const url = new URL(req.url ?? '/', this.url);
		const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
		const fields: Record<string, string> = {};
		for (const [k, v] of [...url.searchParams, ...form]) fields[k] = v;
		const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
		const logged = Object.fromEntries(Object.entries(fields).filter(([k]) => k !== 'client_secret' && k !== 'token'));
		this.requests.push({ method: req.method ?? '', path: url.pathname, userAgent: req.headers['user-agent'], fields: logged, at: new Date().toISOString() });

		const json = (status: number, body: unknown) => {
			res.writeHead(status, { 'content-type': 'application/json' });
			res.end(JSON.stringify(body));
		};
		if (url.pathname === '/introspect') {
			const token = fields.token ?? bearer ?? '';
			const user = this.tokenUser(token);
			return json(200, user ? { active: true, username: user, scope: 'mail' } : { active: false });
		}
		const tokenPath = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
		if (tokenPath && req.method === 'POST') {
			if (fields.grant_type !== 'client_credentials') {
				return json(400, { error: 'unsupported_grant_type', error_description: `AADSTS70003: grant_type "${fields.grant_type ?? ''}" is not supported here.` });
			}
			const client = this.clients.find((c) => c.tenant === tokenPath[1] && c.clientId === fields.client_id);
			if (!client) {
				return json(400, { error: 'unauthorized_client', error_description: `AADSTS700016: Application with identifier '${fields.client_id ?? ''}' was not found in the directory '${tokenPath[1]}'.` });
			}
			if (client.clientSecret !== fields.client_secret) {
				return json(401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' });
			}
			return json(200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: this.issueToken(client.user, 3599) });
		}
		json(404, { error: 'not_found' });
	}

	stop(): Promise<void> {
		return new Promise((resolve) => {
			this.server.closeAllConnections();
			this.server.close(() => resolve());
		});
	}
}
