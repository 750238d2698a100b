/**
 * The local Google OAuth 2.0 authorization server (test/servers/google.ts) against Google's
 * documentation (Using OAuth 2.0 for Server to Server Applications, Using OAuth 2.0 for Web Server
 * Applications): plain HTTPS requests, JWT assertions signed with node:crypto, the documented
 * answers and error bodies. The tokens it issues log in to the test Dovecot with XOAUTH2 under the
 * user's full address, as Gmail's IMAP wants.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { ImapFlow } from 'imapflow';
import { startMailServers, type MailServers } from '../servers';
import { GOOGLE_MAIL_SCOPE, GoogleAuthority, JWT_BEARER, type GoogleServiceAccount } from '../servers/google';
import { httpsRequest, type HttpsReply } from './helpers/local-tls';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';
const GMAIL_READONLY = 'https://www.googleapis.com/auth/gmail.readonly';
const CLIENT = { clientId: '734120962011-8qk0gq6vq7l3v2t1hd7nq3ifl1o0bd2j.apps.googleusercontent.com', clientSecret: 'GOCSPX-Lk3t9XwT0d-ExampleSecret7', user: ALICE };
const REDIRECT = 'http://127.0.0.1:5678/rest/oauth2-credential/callback';
const TIMEFRAME = 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.';
const UNAUTHORIZED = 'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.';

interface Reply extends HttpsReply {
	json: any;
}

describe('local Google OAuth 2.0 authorization server', () => {
	let servers: MailServers;
	let authority: GoogleAuthority;
	let ca: string;
	/** Domain-wide delegation for the Gmail scope. */
	let delegated: GoogleServiceAccount;
	/** No delegation at all. */
	let plain: GoogleServiceAccount;

	const call = async (method: string, url: string, options: { form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Reply> => {
		const reply = await httpsRequest(ca, method, url, options);
		return { ...reply, json: /json/.test(String(reply.headers['content-type'])) ? JSON.parse(reply.body) : undefined };
	};
	const token = (form: Record<string, string>, headers?: Record<string, string>) => call('POST', authority.tokenUrl, { form, headers });
	const now = () => Math.floor(Date.now() / 1000);

	/** A JWT as Google's client libraries make it: RS256, kid = private_key_id, iss/scope/aud/iat/exp (+ sub). */
	const assertion = (account: GoogleServiceAccount, claims: Record<string, unknown> = {}, options: { key?: string; header?: Record<string, unknown> } = {}): string => {
		const header = { alg: 'RS256', typ: 'JWT', kid: account.privateKeyId, ...options.header };
		const body = { iss: account.clientEmail, scope: GOOGLE_MAIL_SCOPE, aud: authority.tokenUrl, iat: now(), exp: now() + 3600, ...claims };
		for (const [k, v] of Object.entries(body)) if (v === undefined) delete body[k as keyof typeof body];
		const signed = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(body)).toString('base64url')}`;
		return `${signed}.${crypto.sign('RSA-SHA256', Buffer.from(signed), options.key ?? account.privateKey).toString('base64url')}`;
	};
	const jwtGrant = (jwt: string) => token({ grant_type: JWT_BEARER, assertion: jwt });
	const expectError = (reply: Reply, status: number, error: string, description: string | RegExp) => {
		expect({ status: reply.status, json: reply.json }).toEqual({ status, json: { error, error_description: typeof description === 'string' ? description : expect.stringMatching(description) } });
	};

	/** The sign-in: authorize (redirect with code, state, scope), returns the code. */
	const signIn = async (query: Record<string, string> = {}): Promise<string> => {
		const url = new URL(authority.authUrl);
		const params = { client_id: CLIENT.clientId, redirect_uri: REDIRECT, response_type: 'code', scope: GOOGLE_MAIL_SCOPE, state: 'state-7f3a', access_type: 'offline', prompt: 'consent', ...query };
		for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
		const reply = await call('GET', url.toString());
		expect(reply.status).toBe(302);
		const location = new URL(String(reply.headers.location));
		expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
		expect(location.searchParams.get('state')).toBe(params.state);
		expect(location.searchParams.get('scope')).toBe(params.scope);
		return location.searchParams.get('code') ?? '';
	};
	const exchange = (code: string, extra: Record<string, string> = {}) =>
		token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, ...extra });
	const refresh = (refreshToken: string) => token({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret });

	beforeAll(async () => {
		servers = await startMailServers();
		ca = fs.readFileSync(servers.certPath, 'utf8');
		const tls = { key: fs.readFileSync(servers.dovecot.keyPath), cert: fs.readFileSync(servers.certPath) };
		authority = await new GoogleAuthority(
			tls,
			(user, lifetime) => servers.oauth.issueToken(user, lifetime),
			(accessToken) => servers.oauth.tokenUser(accessToken),
		).start();
		authority.addDomainUser(ALICE);
		authority.addDomainUser(BOB);
		delegated = authority.createServiceAccount('n8n-mail');
		plain = authority.createServiceAccount('no-delegation');
		authority.authorizeDelegation(delegated.clientId, [GOOGLE_MAIL_SCOPE]);
		authority.registerOAuthClient(CLIENT);
	});
	afterAll(async () => {
		await authority?.stop();
		await servers?.stop();
	});

	describe('service accounts: the JWT bearer grant', () => {
		it('downloads the key file Google Cloud console gives: its fields, in order, and a PKCS#8 RSA key', () => {
			const text = authority.keyFile(delegated);
			const file = JSON.parse(text) as Record<string, string>;
			expect(Object.keys(file)).toEqual(['type', 'project_id', 'private_key_id', 'private_key', 'client_email', 'client_id', 'auth_uri', 'token_uri', 'auth_provider_x509_cert_url', 'client_x509_cert_url', 'universe_domain']);
			expect(file).toMatchObject({ type: 'service_account', project_id: delegated.projectId, token_uri: authority.tokenUrl, auth_uri: authority.authUrl, universe_domain: 'googleapis.com' });
			expect(file.client_email).toMatch(/^n8n-mail@[a-z][a-z0-9-]{4,28}[a-z0-9]\.iam\.gserviceaccount\.com$/);
			expect(file.client_id).toMatch(/^\d{21}$/);
			expect(file.private_key_id).toMatch(/^[0-9a-f]{40}$/);
			expect(file.private_key).toMatch(/^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+\n-----END PRIVATE KEY-----\n$/);
			expect(crypto.createPrivateKey(file.private_key).asymmetricKeyDetails).toMatchObject({ modulusLength: 2048 });
			expect(file.client_x509_cert_url).toBe(`https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(file.client_email)}`);
			// 2-space JSON with the key's line breaks escaped, as in the downloaded file
			expect(text).toContain('{\n  "type": "service_account",\n  "project_id": ');
			expect(text).toContain('"private_key": "-----BEGIN PRIVATE KEY-----\\nMII');
		});

		it('gives a delegated user\'s token for sub: expires_in 3599, Bearer, no refresh token; tokeninfo knows it', async () => {
			const reply = await jwtGrant(assertion(delegated, { sub: ALICE }));
			expect(reply.status).toBe(200);
			expect(reply.json).toEqual({ access_token: expect.any(String), expires_in: 3599, token_type: 'Bearer' });
			expect(servers.oauth.tokenUser(reply.json.access_token)).toBe(ALICE);
			expect(authority.grants.at(-1)).toEqual({ grantType: 'jwt-bearer', clientId: delegated.clientId, sub: ALICE, scope: GOOGLE_MAIL_SCOPE, ok: true, accessToken: reply.json.access_token });
			expect(authority.requests.at(-1)).toMatchObject({ method: 'POST', path: '/token', grantType: JWT_BEARER, status: 200, claims: { iss: delegated.clientEmail, sub: ALICE, aud: authority.tokenUrl } });

			const info = await call('GET', `${authority.tokenInfoUrl}?access_token=${encodeURIComponent(reply.json.access_token)}`);
			expect(info.status).toBe(200);
			expect(info.json).toMatchObject({ azp: delegated.clientId, aud: delegated.clientId, scope: GOOGLE_MAIL_SCOPE, expires_in: expect.stringMatching(/^\d+$/) });
			servers.oauth.revoke(reply.json.access_token);
			expectError(await call('GET', `${authority.tokenInfoUrl}?access_token=${encodeURIComponent(reply.json.access_token)}`), 400, 'invalid_token', 'Invalid Value');
		});

		it('without sub, the token is the service account\'s own; setTokenLifetime changes expires_in', async () => {
			const own = await jwtGrant(assertion(plain));
			expect(own.status).toBe(200);
			expect(servers.oauth.tokenUser(own.json.access_token)).toBe(plain.clientEmail);
			authority.setTokenLifetime(plain.clientEmail, 120);
			expect((await jwtGrant(assertion(plain))).json).toMatchObject({ expires_in: 120 });
			authority.setTokenLifetime(plain.clientEmail, 3599);
		});

		it('refuses what is not a JWT: invalid_grant "Invalid JWT: …"', async () => {
			const notJson = `${Buffer.from('{"alg":"RS256"').toString('base64url')}.${Buffer.from('not json').toString('base64url')}.c2ln`;
			for (const jwt of ['not-a-jwt', 'a.b', 'a.b.c.d', 'a+b.c/d.e', notJson, '']) expectError(await jwtGrant(jwt), 400, 'invalid_grant', /^Invalid JWT: /);
		});

		it('refuses an issuer that is no service account: "Invalid grant: account not found"', async () => {
			expectError(await jwtGrant(assertion(delegated, { iss: 'someone@elsewhere.iam.gserviceaccount.com' })), 400, 'invalid_grant', 'Invalid grant: account not found');
			expect(authority.grants.at(-1)).toMatchObject({ grantType: 'jwt-bearer', clientId: '', ok: false, error: 'invalid_grant', errorDescription: 'Invalid grant: account not found' });
		});

		it('refuses a signature made with another key, another kid, or another algorithm: "Invalid JWT Signature."', async () => {
			const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
			const cases = [
				assertion(delegated, { sub: ALICE }, { key: other }),
				assertion(delegated, { sub: ALICE }, { key: plain.privateKey }),
				assertion(delegated, { sub: ALICE }, { header: { kid: plain.privateKeyId } }),
				assertion(delegated, { sub: ALICE }, { header: { alg: 'RS512' } }),
			];
			// an unsigned JWT ("alg": "none") with the right claims
			const parts = cases[0].split('.');
			const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${parts[1]}.`;
			for (const jwt of [...cases, none]) expectError(await jwtGrant(jwt), 400, 'invalid_grant', 'Invalid JWT Signature.');
			// a kid is not required
			expect((await jwtGrant(assertion(delegated, { sub: ALICE }, { header: { kid: undefined } }))).status).toBe(200);
		});

		it('refuses another audience, naming the one expected', async () => {
			for (const aud of ['https://oauth2.googleapis.com/token', 'https://www.googleapis.com/oauth2/v4/token', undefined]) {
				expectError(await jwtGrant(assertion(delegated, { sub: ALICE, aud })), 400, 'invalid_grant', `Invalid JWT: Failed audience check. The expected value was ${authority.tokenUrl}`);
			}
		});

		it('refuses a JWT living more than an hour, expired, from the future, or with times in milliseconds', async () => {
			const t = now();
			const cases = [
				{ iat: t, exp: t + 3601 },
				{ iat: t - 7200, exp: t - 3600 },
				{ iat: t + 3600, exp: t + 7200 },
				{ iat: Date.now(), exp: Date.now() + 3_600_000 },
				{ iat: String(t), exp: String(t + 3600) },
				{ iat: undefined, exp: t + 600 },
			];
			for (const times of cases) expectError(await jwtGrant(assertion(delegated, { sub: ALICE, ...times })), 400, 'invalid_grant', TIMEFRAME);
			// a few seconds of clock difference are fine
			expect((await jwtGrant(assertion(delegated, { sub: ALICE, iat: t + 30, exp: t + 3630 }))).status).toBe(200);
		});

		it('refuses a missing or empty scope: invalid_scope', async () => {
			for (const scope of [undefined, '', ' ']) expectError(await jwtGrant(assertion(delegated, { sub: ALICE, scope })), 400, 'invalid_scope', 'Empty or missing scope not allowed.');
		});

		it('refuses a sub outside the domain: "Invalid email or User ID"', async () => {
			for (const sub of ['carol@example.test', 'alice@other.test', 'alice']) expectError(await jwtGrant(assertion(delegated, { sub })), 400, 'invalid_grant', 'Invalid email or User ID');
		});

		it('refuses delegation the Admin console has not authorized, or not for every scope: 401 unauthorized_client', async () => {
			expectError(await jwtGrant(assertion(plain, { sub: ALICE })), 401, 'unauthorized_client', UNAUTHORIZED);
			authority.authorizeDelegation(plain.clientId, [GMAIL_READONLY]);
			expectError(await jwtGrant(assertion(plain, { sub: ALICE })), 401, 'unauthorized_client', UNAUTHORIZED);
			expectError(await jwtGrant(assertion(plain, { sub: ALICE, scope: `${GMAIL_READONLY} ${GOOGLE_MAIL_SCOPE}` })), 401, 'unauthorized_client', UNAUTHORIZED);
			expect((await jwtGrant(assertion(plain, { sub: ALICE, scope: GMAIL_READONLY }))).status).toBe(200);
			authority.revokeDelegation(plain.clientId);
			expectError(await jwtGrant(assertion(plain, { sub: ALICE, scope: GMAIL_READONLY })), 401, 'unauthorized_client', UNAUTHORIZED);
			expect(authority.grants.at(-1)).toMatchObject({ clientId: plain.clientId, sub: ALICE, ok: false, error: 'unauthorized_client' });
		});

		it('refuses the signatures of a deleted key', async () => {
			const account = authority.createServiceAccount('short-lived-key');
			authority.authorizeDelegation(account.clientId, [GOOGLE_MAIL_SCOPE]);
			expect((await jwtGrant(assertion(account, { sub: ALICE }))).status).toBe(200);
			authority.deleteKey(account);
			expectError(await jwtGrant(assertion(account, { sub: ALICE })), 400, 'invalid_grant', 'Invalid JWT Signature.');
		});
	});

	describe('OAuth clients: authorization code and refresh token grants', () => {
		it('signs in with access_type=offline: a code for a refresh token, which refreshes without rotating', async () => {
			const code = await signIn();
			expect(authority.requests.at(-1)).toMatchObject({ method: 'GET', path: '/o/oauth2/v2/auth', status: 302, query: { client_id: CLIENT.clientId, access_type: 'offline', state: 'state-7f3a' } });
			const reply = await exchange(code);
			expect(reply.status).toBe(200);
			expect(reply.json).toEqual({ access_token: expect.any(String), expires_in: 3599, refresh_token: expect.any(String), scope: GOOGLE_MAIL_SCOPE, token_type: 'Bearer' });
			expect(servers.oauth.tokenUser(reply.json.access_token)).toBe(ALICE);
			expect(reply.json.refresh_token).not.toBe(reply.json.access_token);

			// a code works once
			expectError(await exchange(code), 400, 'invalid_grant', 'Bad Request');

			for (let i = 0; i < 2; i++) {
				const renewed = await refresh(reply.json.refresh_token);
				expect(renewed.status).toBe(200);
				expect(renewed.json).toEqual({ access_token: expect.any(String), expires_in: 3599, scope: GOOGLE_MAIL_SCOPE, token_type: 'Bearer' });
				expect(renewed.json.access_token).not.toBe(reply.json.access_token);
				expect(servers.oauth.tokenUser(renewed.json.access_token)).toBe(ALICE);
			}
			expect(authority.grants.slice(-4).map((g) => [g.grantType, g.ok, g.error])).toEqual([
				['authorization_code', true, undefined],
				['authorization_code', false, 'invalid_grant'],
				['refresh_token', true, undefined],
				['refresh_token', true, undefined],
			]);
		});

		it('signs in without access_type=offline: no refresh token', async () => {
			const reply = await exchange(await signIn({ access_type: 'online' }));
			expect(reply.status).toBe(200);
			expect(reply.json).not.toHaveProperty('refresh_token');
			const noAccessType = await exchange(await signIn({ access_type: '' }));
			expect(noAccessType.json).toEqual({ access_token: expect.any(String), expires_in: 3599, scope: GOOGLE_MAIL_SCOPE, token_type: 'Bearer' });
		});

		it('takes the client in HTTP Basic too; refuses unknown clients and wrong secrets (401 invalid_client)', async () => {
			const basic = `Basic ${Buffer.from(`${CLIENT.clientId}:${CLIENT.clientSecret}`).toString('base64')}`;
			const reply = await token({ grant_type: 'authorization_code', code: await signIn(), redirect_uri: REDIRECT }, { authorization: basic });
			expect(reply.status).toBe(200);
			expect(reply.json.refresh_token).toEqual(expect.any(String));

			expectError(await exchange(await signIn(), { client_secret: 'GOCSPX-wrong' }), 401, 'invalid_client', 'Unauthorized');
			expectError(await token({ grant_type: 'refresh_token', refresh_token: reply.json.refresh_token, client_id: CLIENT.clientId }), 401, 'invalid_client', 'Unauthorized');
			expectError(await exchange(await signIn(), { client_id: 'nobody.apps.googleusercontent.com' }), 401, 'invalid_client', 'The OAuth client was not found.');
		});

		it('refuses another redirect_uri, a malformed code and an unknown one', async () => {
			const code = await signIn();
			expectError(await exchange(code, { redirect_uri: 'http://127.0.0.1:5678/elsewhere' }), 400, 'redirect_uri_mismatch', 'Bad Request');
			expectError(await exchange('not-a-code'), 400, 'invalid_grant', 'Malformed auth code.');
			expectError(await exchange('4/0AnotIssuedHere'), 400, 'invalid_grant', 'Bad Request');
		});

		it('refuses a refresh token the user revoked, or one never issued: "Token has been expired or revoked."', async () => {
			const { refresh_token: refreshToken } = (await exchange(await signIn())).json as { refresh_token: string };
			expect((await refresh(refreshToken)).status).toBe(200);
			authority.revokeRefreshTokens(CLIENT.clientId);
			expectError(await refresh(refreshToken), 400, 'invalid_grant', 'Token has been expired or revoked.');
			expectError(await refresh('1//0gmadeUpRefreshToken'), 400, 'invalid_grant', 'Token has been expired or revoked.');
			expect(authority.grants.at(-1)).toMatchObject({ grantType: 'refresh_token', clientId: CLIENT.clientId, ok: false, errorDescription: 'Token has been expired or revoked.' });
		});

		it('shows an error page for an unknown client instead of redirecting', async () => {
			const reply = await call('GET', `${authority.authUrl}?client_id=nobody&redirect_uri=${encodeURIComponent(REDIRECT)}&response_type=code&scope=${encodeURIComponent(GOOGLE_MAIL_SCOPE)}`);
			expect(reply.status).toBe(400);
			expect(reply.headers['content-type']).toMatch(/^text\/html/);
			expect(reply.headers.location).toBeUndefined();
			expect(reply.body).toContain('Error 401: invalid_client');
		});

		it('refuses other grant types: unsupported_grant_type', async () => {
			for (const grantType of ['client_credentials', 'password', 'urn:ietf:params:oauth:grant-type:saml2-bearer', '']) {
				expectError(await token({ grant_type: grantType, client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret }), 400, 'unsupported_grant_type', `Invalid grant_type: ${grantType}`);
			}
		});

		it('records no secret in its requests', () => {
			const recorded = JSON.stringify(authority.requests);
			expect(recorded).not.toContain(CLIENT.clientSecret);
			expect(recorded).not.toContain('4/0A');
		});
	});

	describe('Dovecot: the tokens log in with XOAUTH2 under the full address', () => {
		/** imapflow prefers OAUTHBEARER when both are offered: hidden, so XOAUTH2 (Gmail's) is used. */
		const xoauth2Client = (user: string, accessToken: string) => {
			const client = new ImapFlow({ host: '127.0.0.1', port: servers.ports.imaps, secure: true, tls: { ca }, auth: { user, accessToken }, logger: false });
			const internal = client as unknown as { updateCapabilitiesFromRaw: (raw: unknown) => unknown };
			const update = internal.updateCapabilitiesFromRaw.bind(client);
			internal.updateCapabilitiesFromRaw = (raw) => {
				const result = update(raw);
				client.capabilities.delete('AUTH=OAUTHBEARER');
				return result;
			};
			client.on('error', () => undefined);
			return client;
		};
		const delegatedToken = async (sub: string): Promise<string> => {
			const reply = await jwtGrant(assertion(delegated, { sub }));
			expect(reply.status).toBe(200);
			return reply.json.access_token as string;
		};

		it('alice@example.test with a token for sub alice@example.test opens alice\'s mailbox', async () => {
			const subject = `For Alice ${crypto.randomUUID()}`;
			await servers.writeMaildir('alice', 'INBOX', [{ raw: Buffer.from(`From: dana@fabrikam.test\r\nTo: ${ALICE}\r\nSubject: ${subject}\r\nMessage-ID: <${crypto.randomUUID()}@fabrikam.test>\r\n\r\nHello.\r\n`) }]);
			const client = xoauth2Client(ALICE, await delegatedToken(ALICE));
			await client.connect();
			try {
				expect((await client.list()).map((f) => f.path)).toContain('INBOX');
				const status = await client.status('INBOX', { messages: true });
				expect(status && status.messages).toBeGreaterThanOrEqual(1);
				const lock = await client.getMailboxLock('INBOX');
				try {
					const subjects: string[] = [];
					for await (const message of client.fetch('1:*', { envelope: true })) subjects.push(message.envelope?.subject ?? '');
					expect(subjects).toContain(subject);
				} finally {
					lock.release();
				}
			} finally {
				await client.logout();
			}
			await servers.dovecotLogMatching([/Login: user=<alice@example\.test>, method=XOAUTH2,/]);
		});

		it('refuses a token for bob@example.test, or the service account\'s own, used as alice@example.test', async () => {
			await expect(xoauth2Client(ALICE, await delegatedToken(BOB)).connect()).rejects.toMatchObject({ authenticationFailed: true });
			const own = (await jwtGrant(assertion(delegated))).json.access_token as string;
			await expect(xoauth2Client(ALICE, own).connect()).rejects.toMatchObject({ authenticationFailed: true });
			await servers.dovecotLogMatching([
				/oauth2\(alice@example\.test,.*Introspection failed: Username 'alice@example\.test' did not match 'bob@example\.test'/,
				new RegExp(`Introspection failed: Username 'alice@example\\.test' did not match '${delegated.clientEmail.replace(/\./g, '\\.')}'`),
			]);
		});
	});
});
