/**
 * A local OAuth2 server for tests, no dependencies:
 * - RFC 7662 token introspection, `POST /introspect` (form `token=…`, JSON, or a Bearer header),
 *   which Dovecot's oauth2 passdb calls for XOAUTH2/OAUTHBEARER logins: `valid-token-<user>` is
 *   active for that user, tokens this server issued are active for their user until they expire
 *   or are revoked, anything else is `{"active":false}`;
 * - a Microsoft identity platform style client-credentials token endpoint,
 *   `POST /<tenant>/oauth2/v2.0/token`, answering errors the way Entra ID does (AADSTS codes).
 * Every request is recorded in memory with secrets redacted. HTTP by default; pass `tls` to serve
 * HTTPS (clients then need the CA, e.g. NODE_EXTRA_CA_CERTS for MSAL).
 */
import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { listenOnLoopback, LOOPBACK } from './ports';
import { closeWhenFileEnds } from './lifetime';
import { registerSecret } from '../canary';

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
	/** The scheme of the Authorization header (`Bearer`, `Basic`), never its value. */
	authorization?: string;
	/** Query and form (or JSON) fields; secret ones (client_secret, token, …) read "[redacted]". */
	fields: Record<string, string>;
	status: number;
	at: string;
}

export interface OAuthServerOptions {
	/** Users `valid-token-<user>` works for. */
	users: string[];
	/** Apps allowed the client-credentials grant. */
	clients?: OAuthClient[];
	/** Serve HTTPS with this key and certificate (PEM). */
	tls?: { key: Buffer | string; cert: Buffer | string };
}

const SECRET_FIELDS = new Set(['client_secret', 'client_assertion', 'assertion', 'token', 'access_token', 'refresh_token', 'id_token', 'password', 'code', 'code_verifier']);

/** Entra ID's error answer: `{error, error_description: "AADSTS…: …", error_codes, timestamp, …}`. */
function aadError(error: string, code: number, description: string) {
	return {
		error,
		error_description: `AADSTS${code}: ${description}\r\nTrace ID: ${crypto.randomUUID()}\r\nCorrelation ID: ${crypto.randomUUID()}\r\nTimestamp: ${new Date().toISOString()}`,
		error_codes: [code],
		timestamp: new Date().toISOString(),
		trace_id: crypto.randomUUID(),
		correlation_id: crypto.randomUUID(),
		error_uri: `https://login.microsoftonline.com/error?code=${code}`,
	};
}

export class OAuthServer {
	/** Every request so far, oldest first. */
	readonly requests: OAuthRequest[] = [];
	private readonly issued = new Map<string, { user: string; expires: number }>();
	private readonly clients: OAuthClient[];
	private readonly users: Set<string>;

	private constructor(
		private readonly server: http.Server | https.Server,
		options: OAuthServerOptions,
	) {
		this.users = new Set(options.users);
		this.clients = [...(options.clients ?? [])];
	}

	get port(): number {
		return (this.server.address() as AddressInfo).port;
	}
	get secure(): boolean {
		return this.server instanceof https.Server;
	}
	/** e.g. http://127.0.0.1:41234 */
	get url(): string {
		return `${this.secure ? 'https' : 'http'}://${LOOPBACK}:${this.port}`;
	}
	get introspectionUrl(): string {
		return `${this.url}/introspect`;
	}
	/** The token endpoint of a tenant: `<url>/<tenant>/oauth2/v2.0/token`. */
	tokenUrl(tenant: string): string {
		return `${this.url}/${encodeURIComponent(tenant)}/oauth2/v2.0/token`;
	}
	/** What MSAL calls the authority: `<url>/<tenant>`. */
	authority(tenant: string): string {
		return `${this.url}/${encodeURIComponent(tenant)}`;
	}

	/** Listens on a port the kernel picks on 127.0.0.1 (no race with other runs). */
	static async start(options: OAuthServerOptions): Promise<OAuthServer> {
		for (const client of options.clients ?? []) registerSecret(client.clientSecret);
		for (const user of options.users) registerSecret(`valid-token-${user}`);
		const holder: { instance?: OAuthServer } = {};
		const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
			holder.instance?.handle(req, res).catch((error: unknown) => {
				if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
				res.end(JSON.stringify({ error: 'server_error', error_description: String(error) }));
			});
		};
		const server = options.tls ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, handler) : http.createServer(handler);
		holder.instance = new OAuthServer(server, options);
		closeWhenFileEnds('OAuth2 test server', server);
		await listenOnLoopback(server);
		return holder.instance;
	}

	addClient(client: OAuthClient): void {
		this.clients.push(client);
	}

	listClients(): OAuthClient[] {
		return this.clients.map((c) => ({ ...c }));
	}

	/** Issues a token for a user directly (as an authorization server would after a sign-in). */
	issueToken(user: string, lifetimeSeconds = 3600): string {
		const token = `issued-${crypto.randomBytes(18).toString('base64url')}`;
		registerSecret(token);
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
		return match && this.users.has(match[1]) ? match[1] : undefined;
	}

	private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
		const chunks: Buffer[] = [];
		for await (const chunk of req) chunks.push(chunk as Buffer);
		const body = Buffer.concat(chunks).toString('utf8');
		const url = new URL(req.url ?? '/', this.url);
		const fields: Record<string, string> = Object.fromEntries(url.searchParams);
		if (/json/i.test(req.headers['content-type'] ?? '')) {
			try {
				for (const [k, v] of Object.entries(JSON.parse(body) as Record<string, unknown>)) fields[k] = String(v);
			} catch {
				// not JSON after all: no fields
			}
		} else {
			for (const [k, v] of new URLSearchParams(body)) fields[k] = v;
		}
		const [scheme, credentials] = (req.headers.authorization ?? '').split(/\s+/, 2);
		const record: OAuthRequest = {
			method: req.method ?? '',
			path: url.pathname,
			userAgent: req.headers['user-agent'],
			authorization: scheme || undefined,
			fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, SECRET_FIELDS.has(k) ? '[redacted]' : v])),
			status: 0,
			at: new Date().toISOString(),
		};
		this.requests.push(record);
		const json = (status: number, answer: unknown) => {
			record.status = status;
			res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
			res.end(JSON.stringify(answer));
		};

		if (url.pathname === '/introspect') {
			const token = fields.token ?? (/^bearer$/i.test(scheme ?? '') ? credentials : undefined);
			if (!token) return json(400, { error: 'invalid_request', error_description: 'token is missing' });
			const user = this.tokenUser(token);
			if (!user) return json(200, { active: false });
			return json(200, { active: true, username: user, email: `${user}@example.test`, scope: 'mail', token_type: 'Bearer', exp: Math.floor(Date.now() / 1000) + 3600 });
		}

		const tokenPath = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
		if (tokenPath && req.method === 'POST') {
			const tenant = decodeURIComponent(tokenPath[1]);
			let { client_id: clientId, client_secret: clientSecret } = fields;
			if (/^basic$/i.test(scheme ?? '') && credentials) {
				const decoded = Buffer.from(credentials, 'base64').toString('utf8');
				const colon = decoded.indexOf(':');
				clientId = decodeURIComponent(decoded.slice(0, colon));
				clientSecret = decodeURIComponent(decoded.slice(colon + 1));
			}
			if (fields.grant_type !== 'client_credentials') {
				return json(400, aadError('unsupported_grant_type', 70003, `The app requested an unsupported grant type '${fields.grant_type ?? ''}'.`));
			}
			if (!this.clients.some((c) => c.tenant === tenant)) {
				return json(400, aadError('invalid_request', 90002, `Tenant '${tenant}' not found.`));
			}
			const client = this.clients.find((c) => c.tenant === tenant && c.clientId === clientId);
			if (!client) {
				return json(400, aadError('unauthorized_client', 700016, `Application with identifier '${clientId ?? ''}' was not found in the directory '${tenant}'.`));
			}
			if (!clientSecret || client.clientSecret !== clientSecret) {
				return json(401, aadError('invalid_client', 7000215, 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.'));
			}
			return json(200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: this.issueToken(client.user, 3599) });
		}
		json(404, { error: 'not_found' });
	}

	stop(): Promise<void> {
		return new Promise((resolve) => {
			this.server.close(() => resolve());
			this.server.closeAllConnections();
		});
	}
}
