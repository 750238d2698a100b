/**
 * The delegated Microsoft 365 credential in a real n8n 2.41.1: created through the REST API,
 * connected through n8n's own OAuth2 flow (authorization URL from n8n, sign-in at a local
 * Microsoft-style authority, n8n's callback exchanging the code), then used by the Mailbox node
 * in workflows run by `n8n execute` — including runs after the token was rejected and when it is
 * about to expire, which only succeed when n8n refreshed the token and stored the new one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startMailServers, type MailServers } from '../servers';
import { MicrosoftAuthority } from '../servers/microsoft';
import { EXPIRY_MARGIN_MS } from '../../lib/auth/oauth2-token';
import { connectOAuth2Account, startPackagedN8n, Teardown } from './harness';
import type { N8n } from './n8n';

const root = path.resolve(__dirname, '..', '..');
const CLIENT_ID = 'delegated-mail-app';
const CLIENT_SECRET = 'Delegated-Client-Secret-5';
/**
 * A renewed token's lifetime that still counts as expiring at the next run: the package renews a
 * token that expires within EXPIRY_MARGIN_MS (60 s) up front. Long enough for a busy machine to
 * log in with it in the run that got it.
 */
const SHORT_LIFETIME_S = 30;

describe('Microsoft 365 delegated OAuth2 in real n8n', () => {
	const teardown = new Teardown();
	let servers: MailServers;
	let authority: MicrosoftAuthority;
	let n8n: N8n;
	let credentialId: string;
	let workflowId: string;

	const okGrants = (grantType: string) => authority.grants.filter((g) => g.clientId === CLIENT_ID && g.grantType === grantType && g.ok);

	beforeAll(async () => {
		servers = teardown.add(await startMailServers(), (s) => s.stop());
		authority = teardown.add(
			await new MicrosoftAuthority(
				{ key: fs.readFileSync(servers.dovecot.keyPath), cert: fs.readFileSync(servers.certPath) },
				(user, lifetime) => servers.oauth.issueToken(user, lifetime),
				(token) => servers.oauth.tokenUser(token),
			).start(),
			(a) => a.stop(),
		);
		authority.registerDelegated({ tenant: 'contoso', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, user: 'alice' });
		// n8n trusts the authority's and Dovecot's test certificate like a company CA
		({ n8n } = await startPackagedN8n(teardown, 'oauth2', { env: { NODE_EXTRA_CA_CERTS: servers.certPath } }));
		await n8n.start();
		await n8n.setupOwner();
	});

	afterAll(() => teardown.run());

	it('offers the credential with the Outlook scopes and offline access, URLs from tenant and sign-in host', async () => {
		const types = await n8n.nodeTypes();
		const credential = types.credentials.find((c) => c.name === 'mailboxMicrosoftOAuth2Api');
		expect(credential).toBeDefined();
		expect(credential?.extends).toEqual(['oAuth2Api']);
	});

	it('connects the account through n8n\'s OAuth2 flow: sign-in at the authority, code exchanged by n8n', async () => {
		const created = await n8n.rest('POST', '/rest/credentials', {
			name: 'Alice (Microsoft 365, delegated)',
			type: 'mailboxMicrosoftOAuth2Api',
			data: {
				clientId: CLIENT_ID,
				clientSecret: CLIENT_SECRET,
				mailbox: 'alice',
				tenantId: 'contoso',
				authorityHost: authority.host,
				imapHost: '127.0.0.1',
				imapPort: servers.ports.imaps,
			},
		});
		expect(created.status).toBe(200);
		credentialId = (created.json as { data: { id: string } }).data.id;

		const { auth, callback } = await connectOAuth2Account(n8n, credentialId, servers.certPath);
		expect(`${auth.origin}${auth.pathname}`).toBe(`https://${authority.host}/contoso/oauth2/v2.0/authorize`);
		expect(auth.searchParams.get('scope')?.split(' ')).toEqual([
			'offline_access',
			'https://outlook.office365.com/IMAP.AccessAsUser.All',
			'https://outlook.office365.com/POP.AccessAsUser.All',
			'https://outlook.office365.com/SMTP.Send',
			'https://outlook.office365.com/EWS.AccessAsUser.All',
		]);
		expect(auth.searchParams.get('redirect_uri')).toBe(`${n8n.url}/rest/oauth2-credential/callback`);
		expect(callback.status).toBe(200);
		expect(callback.body).not.toMatch(/error/i);
		expect(okGrants('authorization_code')).toHaveLength(1);

		// what the editor shows as "Account connected"
		const stored = await n8n.rest('GET', `/rest/credentials/${credentialId}?includeData=true`);
		expect(stored.status).toBe(200);
		expect((stored.json as { data: { data: Record<string, unknown> } }).data.data.oauthTokenData).toBeTruthy();
	});

	it('lists the folders with the delegated token (Dovecot accepts it), no refresh needed', async () => {
		await n8n.stop(); // the CLI runs below work on n8n's state
		const workflow = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'workflows', 'list-folders.json'), 'utf8')) as {
			id: string;
			nodes: { parameters: Record<string, unknown>; credentials?: Record<string, unknown> }[];
		};
		workflow.id = 'mbxE2eDelegatedList';
		workflow.nodes[1].parameters.authentication = 'microsoftOAuth2';
		workflow.nodes[1].credentials = { mailboxMicrosoftOAuth2Api: { id: credentialId, name: 'Alice (Microsoft 365, delegated)' } };
		workflowId = await n8n.importWorkflow(workflow);
		const run = await n8n.execute(workflowId);
		expect(run.error).toBeUndefined();
		expect(run.output['List folders'].map((f) => f.path)).toEqual(expect.arrayContaining(['INBOX', 'Junk', 'Sent']));
		expect(okGrants('refresh_token')).toHaveLength(0);
	});

	it('a token the server rejects is refreshed by n8n and stored; the run succeeds', async () => {
		// the stored token stops working before n8n expects it to (revoked, or expired early)
		servers.oauth.revoke(okGrants('authorization_code')[0].accessToken as string);
		// the renewed token will be short-lived: valid at the server for a while, but within the renewal margin
		expect(SHORT_LIFETIME_S * 1000).toBeLessThan(EXPIRY_MARGIN_MS);
		authority.setTokenLifetime(CLIENT_ID, SHORT_LIFETIME_S);
		const run = await n8n.execute(workflowId);
		expect(run.error).toBeUndefined();
		expect(run.output['List folders'].map((f) => f.path)).toContain('INBOX');
		expect(okGrants('refresh_token').map((g) => g.generation)).toEqual([0]);
		const raw = JSON.stringify(run.raw);
		expect(raw).not.toContain(CLIENT_SECRET);
		expect(raw).not.toContain(okGrants('refresh_token')[0].accessToken as string);
	});

	it('a token n8n notes as expiring within the margin is refreshed before the login, with the refresh token n8n stored last', async () => {
		// the stored token (from the previous run) expires within EXPIRY_MARGIN_MS by n8n's note of it
		authority.setTokenLifetime(CLIENT_ID, 3599);
		const run = await n8n.execute(workflowId);
		expect(run.error).toBeUndefined();
		expect(run.output['List folders'].map((f) => f.path)).toContain('INBOX');
		// generation 1: the rotated refresh token from the previous run (the first one is spent,
		// so this works only because n8n stored the new one)
		expect(okGrants('refresh_token').map((g) => g.generation)).toEqual([0, 1]);
		expect(authority.grants.filter((g) => !g.ok)).toEqual([]);
	});

	it('Send Email signs in to SMTP with the delegated token; a rejected one is refreshed by n8n and the mail goes out once', async () => {
		// the token n8n holds now stops working at the server before its expiry
		const current = okGrants('refresh_token').at(-1)?.accessToken as string;
		servers.oauth.revoke(current);
		const send = 'Send Email';
		const id = await n8n.importWorkflow({
			id: 'mbxE2eDelegatedSend',
			name: 'Send with the delegated token e2e',
			active: false,
			nodes: [
				{ id: '5b0c1d2e-3f40-4a51-8b62-7c8d9e0f1a01', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				{
					id: '5b0c1d2e-3f40-4a51-8b62-7c8d9e0f1a02',
					name: send,
					type: 'n8n-nodes-mailbox.mailboxSend',
					typeVersion: 1,
					position: [300, 0],
					parameters: {
						authentication: 'microsoftOAuth2',
						smtpHost: `127.0.0.1:${servers.ports.smtp}`,
						fromEmail: 'alice@example.test',
						toEmail: 'bob@example.test',
						subject: 'Sent with the delegated token',
						emailFormat: 'text',
						text: 'Hallo Bob',
						reply: false,
						saveToSent: false,
						options: {},
						account: {},
					},
					credentials: { mailboxMicrosoftOAuth2Api: { id: credentialId, name: 'Alice (Microsoft 365, delegated)' } },
				},
			],
			connections: { Start: { main: [[{ node: send, type: 'main', index: 0 }]] } },
			settings: { executionOrder: 'v1' },
		});
		const before = servers.received.length;
		const refreshes = okGrants('refresh_token').length;
		const run = await n8n.execute(id);
		expect(run.error).toBeUndefined();
		// the run has ended, so the mail is there already: the bound only ends a hang
		const mails = (await servers.waitForMail(before + 1, 120_000)).slice(before);
		expect(mails).toHaveLength(1);
		expect(mails[0]).toMatchObject({ authUser: 'alice', authMethod: 'XOAUTH2', rcptTo: ['bob@example.test'] });
		expect(run.output[send][0]).toMatchObject({ accepted: ['bob@example.test'], serverSource: 'node' });
		expect(okGrants('refresh_token').length).toBe(refreshes + 1);
		expect(JSON.stringify(run.raw)).not.toContain(okGrants('refresh_token').at(-1)?.accessToken as string);
		// the capture server stores a message before it accepts it, and the run has ended: a second send would be there
		expect(servers.received.length).toBe(before + 1);
	});
});
