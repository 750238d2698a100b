/**
 * Microsoft 365 delegated OAuth2 against the local Microsoft-style authority: sign-in (authorize
 * redirect with code and state), code and refresh grants with rotating refresh tokens, the token
 * check endpoint, and the renewal of a rejected or expired token for an IMAP login at Dovecot —
 * through lib/ and through the n8n-side logic with a context that behaves like n8n's.
 */
import fs from 'node:fs';
import type { ICredentialDataDecryptedObject } from 'n8n-workflow';
import { withTokenRefresh } from '../../lib/auth/oauth2-token';
import { isRejectedToken, MailboxError } from '../../lib/errors';
import { checkImapConnection } from '../../lib/imap/check';
import { connectImap } from '../../lib/imap/connect';
import { resolveServer } from '../../lib/connection/options';
import { microsoftOAuth2Connection, refreshMicrosoftOAuth2Credential, type OAuth2RefreshContext } from '../../nodes/shared/microsoft-oauth2';
import { freePort, startMailServers, type MailServers } from '../servers';
import { MicrosoftAuthority } from '../servers/microsoft';
import { httpsRequest, type HttpsReply as Reply } from './helpers/local-tls';

const SECRET = 'Delegated-Secret~77';
const REDIRECT = 'http://127.0.0.1:5678/rest/oauth2-credential/callback';
const SCOPE = 'offline_access https://outlook.office365.com/IMAP.AccessAsUser.All';

describe('Microsoft 365 delegated OAuth2', () => {
	let servers: MailServers;
	let authority: MicrosoftAuthority;
	let ca: string;

	const call = (method: string, url: string, options: { form?: Record<string, string>; bearer?: string } = {}): Promise<Reply> =>
		httpsRequest(ca, method, url, { form: options.form, headers: options.bearer ? { authorization: `Bearer ${options.bearer}` } : {} });
	const tokenUrl = (tenant = 'organizations') => `https://${authority.host}/${tenant}/oauth2/v2.0/token`;
	const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

	/** Signs in (authorize, then the code grant) and returns the token endpoint's answer. */
	const signIn = async (clientId: string): Promise<{ access_token: string; refresh_token: string; expires_in: number; scope: string }> => {
		const authorize = new URL(`https://${authority.host}/organizations/oauth2/v2.0/authorize`);
		for (const [k, v] of Object.entries({ client_id: clientId, redirect_uri: REDIRECT, response_type: 'code', scope: SCOPE, state: 'state-123' })) authorize.searchParams.set(k, v);
		const redirect = await call('GET', authorize.toString());
		expect(redirect.status).toBe(302);
		const location = new URL(String(redirect.headers.location));
		expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
		expect(location.searchParams.get('state')).toBe('state-123');
		const answer = await call('POST', tokenUrl(), {
			form: { grant_type: 'authorization_code', code: location.searchParams.get('code') ?? '', redirect_uri: REDIRECT, client_id: clientId, client_secret: SECRET },
		});
		expect(answer.status).toBe(200);
		return JSON.parse(answer.body) as { access_token: string; refresh_token: string; expires_in: number; scope: string };
	};
	const refreshGrant = (clientId: string, refreshToken: string) =>
		call('POST', tokenUrl(), { form: { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId, client_secret: SECRET } });
	const imap = () => ({ host: '127.0.0.1', port: servers.ports.imaps, security: 'tls' as const, ca });

	beforeAll(async () => {
		servers = await startMailServers();
		ca = fs.readFileSync(servers.certPath, 'utf8');
		const tls = { key: fs.readFileSync(servers.dovecot.keyPath), cert: fs.readFileSync(servers.certPath) };
		authority = await new MicrosoftAuthority(
			tls,
			(user, lifetime) => servers.oauth.issueToken(user, lifetime),
			(token) => servers.oauth.tokenUser(token),
		).start();
		authority.registerDelegated({ tenant: 'contoso', clientId: 'mail-app', clientSecret: SECRET, user: 'alice' });
		authority.registerDelegated({ tenant: 'contoso', clientId: 'short-app', clientSecret: SECRET, user: 'alice', expiresIn: 1 });
		// the app-only registration keeps working beside the delegated ones
		authority.register({ tenant: 'contoso', clientId: 'app-only', clientSecret: SECRET, user: 'alice' });
	});
	afterAll(async () => {
		await authority?.stop();
		await servers?.stop();
	});

	it('signs in: authorize redirects with code and state, the code grant yields tokens Dovecot accepts', async () => {
		const tokens = await signIn('mail-app');
		expect(tokens).toMatchObject({ scope: SCOPE, expires_in: 3599 });
		expect(tokens.refresh_token).toMatch(/^rt-/);
		const check = await checkImapConnection(imap(), { user: 'alice', accessToken: tokens.access_token });
		expect(check.message).toContain('logged in as "alice" with OAUTHBEARER');
		expect((await call('GET', authority.tokenCheckUrl, { bearer: tokens.access_token })).status).toBe(200);
		// a code works once
		expect(authority.grants.filter((g) => g.clientId === 'mail-app')).toEqual([expect.objectContaining({ grantType: 'authorization_code', ok: true })]);
	});

	it('refuses unknown apps, wrong secrets, wrong redirect URIs and the client-credentials grant stays as it was', async () => {
		const unknown = await call('GET', `https://${authority.host}/organizations/oauth2/v2.0/authorize?client_id=nope&redirect_uri=${encodeURIComponent(REDIRECT)}&response_type=code`);
		expect(unknown.status).toBe(400);
		expect(unknown.body).toContain('AADSTS700016');
		const wrongSecret = await call('POST', tokenUrl(), { form: { grant_type: 'refresh_token', refresh_token: 'x', client_id: 'mail-app', client_secret: 'wrong' } });
		expect(wrongSecret.status).toBe(401);
		expect(wrongSecret.body).toContain('AADSTS7000215');
		const redirect = await call('GET', `https://${authority.host}/contoso/oauth2/v2.0/authorize?client_id=mail-app&redirect_uri=${encodeURIComponent(REDIRECT)}&response_type=code&state=s`);
		const code = new URL(String(redirect.headers.location)).searchParams.get('code') ?? '';
		const otherRedirect = await call('POST', tokenUrl(), { form: { grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1:1/elsewhere', client_id: 'mail-app', client_secret: SECRET } });
		expect(otherRedirect.status).toBe(400);
		expect(otherRedirect.body).toContain('AADSTS50011');
		const appOnly = await call('POST', tokenUrl('contoso'), { form: { grant_type: 'client_credentials', client_id: 'app-only', client_secret: SECRET, scope: 'https://outlook.office365.com/.default' } });
		expect(appOnly.status).toBe(200);
	});

	it('expires short-lived tokens (IMAP rejects them, the token check answers 401), refresh tokens rotate', async () => {
		const tokens = await signIn('short-app');
		await sleep(1100);
		const check = await checkImapConnection(imap(), { user: 'alice', accessToken: tokens.access_token });
		expect(check.ok).toBe(false);
		expect(isRejectedToken(check.error)).toBe(true);
		expect((await call('GET', authority.tokenCheckUrl, { bearer: tokens.access_token })).status).toBe(401);
		expect((await call('GET', authority.tokenCheckUrl)).status).toBe(401);

		const renewed = await refreshGrant('short-app', tokens.refresh_token);
		expect(renewed.status).toBe(200);
		const next = JSON.parse(renewed.body) as { access_token: string; refresh_token: string };
		expect(next.refresh_token).not.toBe(tokens.refresh_token);
		const reused = await refreshGrant('short-app', tokens.refresh_token);
		expect(reused.status).toBe(400);
		expect(JSON.parse(reused.body)).toMatchObject({ error: 'invalid_grant' });
		expect((await refreshGrant('short-app', next.refresh_token)).status).toBe(200);
	});

	it('withTokenRefresh: a rejected token is renewed once and the login repeated; an expired one is renewed first', async () => {
		const tokens = await signIn('short-app');
		await sleep(1100);
		let refreshToken = tokens.refresh_token;
		const attempts: string[] = [];
		const refresh = async () => {
			authority.setTokenLifetime('short-app', 3600);
			const answer = JSON.parse((await refreshGrant('short-app', refreshToken)).body) as { access_token: string; refresh_token: string };
			refreshToken = answer.refresh_token;
			return answer.access_token;
		};
		const server = resolveServer('imap', imap());
		const outcome = await withTokenRefresh({
			accessToken: tokens.access_token,
			expired: false,
			attempt: async (accessToken) => {
				attempts.push(accessToken);
				return connectImap(server, { user: 'alice', accessToken });
			},
			refresh,
		});
		expect(outcome.refreshed).toBe(true);
		expect(attempts).toEqual([tokens.access_token, outcome.accessToken]);
		expect(outcome.value.usable).toBe(true);
		await outcome.value.logout();

		// known to be expired: no doomed first attempt
		authority.setTokenLifetime('short-app', 1);
		const stale = (await signIn('short-app')).access_token;
		const checks: string[] = [];
		const first = await withTokenRefresh({
			accessToken: stale,
			expired: true,
			attempt: async (accessToken) => (checks.push(accessToken), checkImapConnection(imap(), { user: 'alice', accessToken })),
			rejected: (r) => isRejectedToken(r.error),
			refresh,
		});
		expect(checks).toHaveLength(1);
		expect(checks[0]).not.toBe(stale);
		expect(first.value.ok).toBe(true);

		// a renewal that brings no new token: the first failure stands, no second attempt
		await sleep(1100);
		const again = await checkImapConnection(imap(), { user: 'alice', accessToken: stale });
		const noNews = withTokenRefresh({ accessToken: stale, expired: false, attempt: (t) => connectImap(server, { user: 'alice', accessToken: t }), refresh: async () => stale });
		await expect(noNews).rejects.toMatchObject({ code: 'AUTH', field: 'accessToken' });
		expect(again.ok).toBe(false);
		authority.setTokenLifetime('short-app', 1);
	});

	describe('n8n side: the credential renewed through n8n, then read again', () => {
		/**
		 * A context that behaves like n8n 2.41's: the credential lives in a store; refreshOAuth2Token
		 * runs the refresh_token grant at the credential's token URL and stores the answer with
		 * n8n_expires_at; httpRequestWithAuthentication signs the request with the stored token
		 * and, on 401, refreshes, stores and retries (as n8n's requestOAuth2 does).
		 */
		const fakeN8n = (initial: ICredentialDataDecryptedObject, withRefreshHelper: boolean) => {
			const store = { data: JSON.parse(JSON.stringify(initial)) as ICredentialDataDecryptedObject, refreshes: 0, requests: [] as string[] };
			const refresh = async () => {
				const tokenData = store.data.oauthTokenData as { refresh_token: string };
				const answer = await call('POST', String(store.data.accessTokenUrl), {
					form: { grant_type: 'refresh_token', refresh_token: tokenData.refresh_token, client_id: String(store.data.clientId), client_secret: String(store.data.clientSecret) },
				});
				store.refreshes++;
				if (answer.status !== 200) throw Object.assign(new Error(`The credential "Microsoft" needs to be reconnected. ${answer.body}`), { description: 'Open the credential and reconnect it.' });
				const data = JSON.parse(answer.body) as { expires_in: number };
				store.data = { ...store.data, oauthTokenData: { ...(store.data.oauthTokenData as object), ...data, n8n_expires_at: String(Date.now() + data.expires_in * 1000) } };
				return store.data.oauthTokenData;
			};
			const ctx: OAuth2RefreshContext = {
				getCredentials: (async () => JSON.parse(JSON.stringify(store.data)) as ICredentialDataDecryptedObject) as OAuth2RefreshContext['getCredentials'],
				helpers: {
					httpRequestWithAuthentication: async (_type: string, options: { url: string }) => {
						store.requests.push(options.url);
						const token = () => (store.data.oauthTokenData as { access_token: string }).access_token;
						let reply = await call('GET', options.url, { bearer: token() });
						if (reply.status === 401) {
							await refresh();
							reply = await call('GET', options.url, { bearer: token() });
						}
						if (reply.status >= 400) throw Object.assign(new Error(`Request failed with status code ${reply.status}`), { httpCode: String(reply.status) });
						return reply;
					},
					...(withRefreshHelper ? { refreshOAuth2Token: refresh } : {}),
				} as unknown as OAuth2RefreshContext['helpers'],
			};
			return { ctx, store };
		};
		const credential = async (clientId: string, expiresAtOffsetMs?: number): Promise<ICredentialDataDecryptedObject> => {
			const tokens = await signIn(clientId);
			return {
				mailbox: 'alice',
				imapHost: '127.0.0.1',
				imapPort: servers.ports.imaps,
				clientId,
				clientSecret: SECRET,
				accessTokenUrl: tokenUrl(),
				tokenCheckUrl: authority.tokenCheckUrl,
				oauthTokenData: { ...tokens, ...(expiresAtOffsetMs === undefined ? {} : { n8n_expires_at: String(Date.now() + expiresAtOffsetMs) }) },
			};
		};

		for (const withRefreshHelper of [true, false]) {
			const how = withRefreshHelper ? 'helpers.refreshOAuth2Token (n8n 2.x)' : 'a request to the Token Check URL (older n8n)';
			it(`renews a token the server rejected through ${how}, and the login with the stored new token works`, async () => {
				authority.setTokenLifetime('short-app', 1);
				const { ctx, store } = fakeN8n(await credential('short-app'), withRefreshHelper);
				await sleep(1100);
				authority.setTokenLifetime('short-app', 3600);
				const connection = await microsoftOAuth2Connection(ctx, 0);
				expect(store.refreshes).toBe(0); // expiry unknown to n8n: the server has to say so
				const server = resolveServer('imap', { ...connection.settings, ca });
				const outcome = await withTokenRefresh({
					accessToken: String(connection.login.accessToken),
					expired: false,
					attempt: (accessToken) => connectImap(server, { user: String(connection.login.user), accessToken }),
					refresh: connection.renewToken,
				});
				await outcome.value.logout();
				expect(outcome.refreshed).toBe(true);
				expect(store.refreshes).toBe(1);
				expect(outcome.accessToken).toBe((store.data.oauthTokenData as { access_token: string }).access_token);
				expect(store.requests).toEqual(withRefreshHelper ? [] : [authority.tokenCheckUrl]);
			});

			it(`renews a token n8n knows to have expired before the first login, through ${how}`, async () => {
				authority.setTokenLifetime('mail-app', 3599);
				const { ctx, store } = fakeN8n(await credential('mail-app', -5_000), withRefreshHelper);
				if (!withRefreshHelper) servers.oauth.revoke((store.data.oauthTokenData as { access_token: string }).access_token); // what EWS would say of an expired token
				const connection = await microsoftOAuth2Connection(ctx, 0);
				expect(store.refreshes).toBe(1);
				expect(connection.login.accessToken).toBe((store.data.oauthTokenData as { access_token: string }).access_token);
				const check = await checkImapConnection({ ...connection.settings, ca }, connection.login);
				expect(check.message).toContain('logged in as "alice" with OAUTHBEARER');
			});
		}

		it('says "connect the account" for a credential without a token, and "sign in again" when the refresh is refused, never a secret', async () => {
			const { ctx: empty } = fakeN8n({ mailbox: 'alice', clientId: 'mail-app', clientSecret: SECRET }, true);
			await expect(microsoftOAuth2Connection(empty, 0)).rejects.toMatchObject({ code: 'CONFIG', field: 'oauthTokenData' });

			const data = await credential('mail-app');
			const tokenData = data.oauthTokenData as { refresh_token: string; access_token: string };
			// the refresh token was used elsewhere (rotated): the authority refuses it
			expect((await refreshGrant('mail-app', tokenData.refresh_token)).status).toBe(200);
			for (const withRefreshHelper of [true, false]) {
				const { ctx } = fakeN8n(data, withRefreshHelper);
				servers.oauth.revoke(tokenData.access_token);
				const error = (await refreshMicrosoftOAuth2Credential(ctx, 0, data).catch((e: unknown) => e)) as MailboxError;
				expect(error).toBeInstanceOf(MailboxError);
				expect(error).toMatchObject({ code: 'AUTH', field: 'oauthTokenData' });
				expect(error.fullMessage).toMatch(/could not renew the Microsoft 365 access token.*Connect my account/);
				for (const secret of [SECRET, tokenData.refresh_token, tokenData.access_token]) expect(error.fullMessage).not.toContain(secret);
			}
		});

		it('says the token endpoint could not be reached (not "sign in again") when the refresh never got an answer', async () => {
			const data = await credential('mail-app');
			// nothing listens there: the refresh fails before any answer, as behind a blocking firewall
			const { ctx } = fakeN8n({ ...data, accessTokenUrl: `https://127.0.0.1:${await freePort()}/contoso/oauth2/v2.0/token` }, true);
			const error = (await refreshMicrosoftOAuth2Credential(ctx, 0, data).catch((e: unknown) => e)) as MailboxError;
			expect(error).toBeInstanceOf(MailboxError);
			expect(error).toMatchObject({ code: 'CONNECTION_REFUSED', field: 'accessTokenUrl' });
			expect(error.fullMessage).toMatch(/could not reach Microsoft's token endpoint.*can reach Microsoft's sign-in servers/);
			expect(error.fullMessage).not.toContain('Connect my account');
		});
	});
});
