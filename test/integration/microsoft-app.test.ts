/**
 * Microsoft 365 app tokens (client credentials) through MSAL against a local Microsoft-style
 * authority over HTTPS, and the token used for an IMAP login at the test Dovecot.
 */
import fs from 'node:fs';
import { checkImapConnection } from '../../lib/imap/check';
import type { MicrosoftAppSettings } from '../../lib/auth/microsoft';
import { startMailServers, type MailServers } from '../servers';
import { MicrosoftAuthority } from '../servers/microsoft';
import { runFixture } from './helpers/local-tls';

interface TokenResult {
	ok: boolean;
	accessToken?: string;
	fromCache?: boolean;
	code?: string;
	field?: string;
	message?: string;
}

describe('Microsoft 365 app tokens via MSAL', () => {
	let servers: MailServers;
	let authority: MicrosoftAuthority;
	const SECRET = 'Contoso-App-Secret~42';

	/** getAppToken in a child process that trusts the test certificate, as n8n would with NODE_EXTRA_CA_CERTS. */
	const tokens = (calls: Array<Partial<MicrosoftAppSettings> & { fresh?: boolean }>): Promise<TokenResult[]> =>
		runFixture<TokenResult[]>('msal-token.ts', calls.map((c) => ({ tenantId: 'contoso', clientId: 'app-1', clientSecret: SECRET, authorityHost: authority.host, ...c })), servers.certPath);

	beforeAll(async () => {
		servers = await startMailServers();
		const tls = { key: fs.readFileSync(servers.dovecot.keyPath), cert: fs.readFileSync(servers.certPath) };
		authority = await new MicrosoftAuthority(tls, (user, lifetime) => servers.oauth.issueToken(user, lifetime)).start();
		authority.register({ tenant: 'contoso', clientId: 'app-1', clientSecret: SECRET, user: 'alice' });
		authority.register({ tenant: 'contoso', clientId: 'short-lived', clientSecret: SECRET, user: 'alice', expiresIn: 60 });
	});
	afterAll(async () => {
		await authority?.stop();
		await servers?.stop();
	});

	it('gets a token from the authority, then from MSAL\'s cache, and Dovecot accepts it for IMAP', async () => {
		const [first, second] = await tokens([{}, {}]);
		expect(first).toMatchObject({ ok: true, fromCache: false });
		expect(second).toMatchObject({ ok: true, fromCache: true, accessToken: first.accessToken });
		const posts = authority.requests.filter((r) => r.method === 'POST');
		expect(posts).toEqual([{ method: 'POST', path: '/contoso/oauth2/v2.0/token', grantType: 'client_credentials', clientId: 'app-1', scope: 'https://outlook.office365.com/.default' }]);
		expect(authority.requests.some((r) => r.method === 'GET' && r.path === '/contoso/v2.0/.well-known/openid-configuration')).toBe(true);

		const login = await checkImapConnection(
			{ host: '127.0.0.1', port: servers.ports.imaps, security: 'tls', ca: fs.readFileSync(servers.certPath, 'utf8') },
			{ user: 'alice', accessToken: first.accessToken as string },
		);
		expect(login.message).toContain('logged in as "alice" with OAUTHBEARER');
	});

	it('renews a token that is about to expire without any user step', async () => {
		const before = authority.requests.filter((r) => r.method === 'POST' && r.clientId === 'short-lived').length;
		const [a, b] = await tokens([{ clientId: 'short-lived' }, { clientId: 'short-lived' }]);
		expect(a).toMatchObject({ ok: true, fromCache: false });
		expect(b).toMatchObject({ ok: true, fromCache: false });
		expect(b.accessToken).not.toBe(a.accessToken);
		expect(authority.requests.filter((r) => r.method === 'POST' && r.clientId === 'short-lived').length - before).toBe(2);
	});

	it('fetches a fresh token past the cache when a server rejected the cached one (revoked before it expired)', async () => {
		const before = authority.requests.filter((r) => r.method === 'POST' && r.clientId === 'app-1').length;
		const [cached, fresh, after] = await tokens([{}, { fresh: true }, {}]);
		expect(cached).toMatchObject({ ok: true });
		expect(fresh).toMatchObject({ ok: true, fromCache: false });
		expect(fresh.accessToken).not.toBe(cached.accessToken);
		// the fresh token replaces the cached one for later calls
		expect(after).toMatchObject({ ok: true, fromCache: true, accessToken: fresh.accessToken });
		expect(authority.requests.filter((r) => r.method === 'POST' && r.clientId === 'app-1').length - before).toBe(2);
	});

	it('names the field to fix: client secret, client ID, tenant; never the secret', async () => {
		const [secret, client, tenant, empty] = await tokens([{ clientSecret: 'wrong-Secret-value' }, { clientId: 'no-such-app' }, { tenantId: 'no-such-tenant' }, { clientSecret: '' }]);
		expect(secret).toMatchObject({ ok: false, code: 'AUTH', field: 'clientSecret' });
		expect(secret.message).toMatch(/rejected the client secret.*value \(not its ID\)/);
		expect(client).toMatchObject({ ok: false, field: 'clientId' });
		expect(tenant).toMatchObject({ ok: false, field: 'tenantId' });
		expect(empty).toMatchObject({ ok: false, code: 'CONFIG', field: 'clientSecret' });
		for (const r of [secret, client, tenant, empty]) {
			expect(r.message).not.toContain('wrong-Secret-value');
			expect(r.message).not.toContain(SECRET);
		}
	});
});
