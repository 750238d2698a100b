/**
 * The EWS client core (lib/ews/client.ts) against the local HTTPS EWS endpoint: the requests it
 * sends (SOAP body, RequestServerVersion, ExchangeImpersonation, X-AnchorMailbox, the mailbox in
 * distinguished folder ids), sign-in with a password, a user's token and an app's token from MSAL,
 * renewal after a 401, throttling waited out, certificate checks, and every failure as a
 * MailboxError that names the field and the fix. The app's MSAL runs in a child process that
 * trusts the test certificate (as n8n would with NODE_EXTRA_CA_CERTS).
 */
import fs from 'node:fs';
import { checkEwsConnection } from '../../lib/ews/check';
import { connectEws, type EwsClient, type EwsClientSettings } from '../../lib/ews/client';
import { MailboxError } from '../../lib/errors';
import { EwsServer } from '../servers/ews';
import { MicrosoftAuthority } from '../servers/microsoft';
import { OAuthServer } from '../servers/oauth';
import { closedPort } from '../servers/ports';
import { localCertificate, runFixture } from './helpers/local-tls';

const ALICE = 'alice@contoso.test';
const SHARED = 'shared@contoso.test';
const OTHER = 'other@contoso.test';
const SECRET = 'Ews-App-Secret~7';

describe('EWS client core against the local EWS endpoint', () => {
	let dir: string;
	let certPath: string;
	let ca: Buffer;
	let oauth: OAuthServer;
	let server: EwsServer;
	let authority: MicrosoftAuthority;
	/** Tokens the endpoint rejects once more (then accepts), to simulate a token expiring mid-run. */
	const rejectOnce = new Set<string>();
	/** When set, every token is rejected the second time it is used (an app token revoked mid-run). */
	let rejectSecondUse = false;
	const uses = new Map<string, number>();
	const clients: EwsClient[] = [];

	const connect = async (settings: Partial<EwsClientSettings> & Pick<EwsClientSettings, 'auth'>): Promise<EwsClient> => {
		const client = await connectEws({ url: server.url, ca, ...settings });
		clients.push(client);
		return client;
	};
	const password = (user = 'alice', pw = 'alice-pw') => ({ type: 'password' as const, user, password: pw });
	const since = () => {
		const start = server.requests.length;
		return () => server.requests.slice(start);
	};
	const failure = async (work: Promise<unknown>): Promise<MailboxError> => {
		try {
			await work;
		} catch (error) {
			expect(error).toBeInstanceOf(MailboxError);
			return error as MailboxError;
		}
		throw new Error('expected a failure');
	};

	beforeAll(async () => {
		let key: Buffer;
		({ dir, certPath, ca, key } = localCertificate('ews-client'));
		oauth = await OAuthServer.start({ users: ['alice', 'ewsapp', 'lonelyapp'] });
		server = await EwsServer.start({
			tls: { key, cert: ca },
			users: { alice: 'alice-pw', 'CONTOSO\\bob': 'bob-pw' },
			tokenUser: (token) => {
				if (rejectOnce.delete(token)) return undefined;
				if (rejectSecondUse) {
					const n = (uses.get(token) ?? 0) + 1;
					uses.set(token, n);
					if (n === 2) return undefined;
				}
				return oauth.tokenUser(token);
			},
			mailboxes: [ALICE, SHARED, OTHER],
			access: { alice: [SHARED], ewsapp: [ALICE, SHARED] },
		});
		authority = await new MicrosoftAuthority({ key, cert: ca }, (user, lifetime) => oauth.issueToken(user, lifetime)).start();
		authority.register({ tenant: 'contoso', clientId: 'ews-app', clientSecret: SECRET, user: 'ewsapp' });
		server.createFolder(ALICE, 'inbox', 'Projects');
		server.createFolder(ALICE, 'msgfolderroot', 'Archive');
	});
	afterEach(() => {
		for (const c of clients.splice(0)) c.close();
	});
	afterAll(async () => {
		await authority?.stop();
		await server?.stop();
		await oauth?.stop();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it('signs in with a password and reads the own Inbox: RequestServerVersion, Basic, no impersonation', async () => {
		const requests = since();
		const client = await connect({ auth: password() });
		const inbox = await client.resolveFolder('Inbox');
		expect(inbox).toMatchObject({ displayName: 'Inbox', distinguished: 'inbox', path: 'Inbox' });
		const [get] = requests();
		expect(get).toMatchObject({ operation: 'GetFolder', status: 200, authorization: 'basic', principal: 'alice', mailbox: ALICE, serverVersion: 'Exchange2013_SP1', responseCode: 'NoError' });
		expect(get.impersonated).toBeUndefined();
		expect(get.body).toContain('<t:DistinguishedFolderId Id="inbox"');
		expect(get.body).not.toContain('ExchangeImpersonation');
		expect(get.body).not.toContain('alice-pw');
	});

	it('finds folders by path under the Inbox and the top of the mailbox, and names a missing level', async () => {
		const client = await connect({ auth: password() });
		expect(await client.resolveFolder('Inbox/Projects')).toMatchObject({ displayName: 'Projects', path: 'Inbox/Projects' });
		expect(await client.resolveFolder('archive')).toMatchObject({ displayName: 'Archive' });
		expect(await client.resolveFolder('Junk Email')).toMatchObject({ distinguished: 'junkemail' });
		const e = await failure(client.resolveFolder('Inbox/Nope'));
		expect(e).toMatchObject({ code: 'NOT_FOUND', field: 'folders' });
		expect(e.message).toContain('"Nope" was not found in "Inbox"');
	});

	it('opens a shared mailbox by delegate access: its address in the folder id and in X-AnchorMailbox', async () => {
		const requests = since();
		const client = await connect({ auth: password(), mailbox: SHARED });
		await client.resolveFolder('inbox');
		const [get] = requests();
		expect(get).toMatchObject({ operation: 'GetFolder', status: 200, mailbox: SHARED, anchorMailbox: SHARED, responseCode: 'NoError' });
		expect(get.impersonated).toBeUndefined();
		expect(get.body).toMatch(/<t:DistinguishedFolderId Id="inbox"><t:Mailbox><t:EmailAddress>shared@contoso\.test<\/t:EmailAddress><\/t:Mailbox><\/t:DistinguishedFolderId>/);
	});

	it('a mailbox the user may not open: ErrorAccessDenied names Full Access', async () => {
		const client = await connect({ auth: password(), mailbox: OTHER });
		const e = await failure(client.resolveFolder('inbox'));
		expect(e).toMatchObject({ code: 'AUTH', causeCode: 'ErrorAccessDenied', field: 'user' });
		expect(e.hint).toContain('Full Access to the mailbox other@contoso.test');
	});

	it('a user\'s token impersonating a mailbox: ExchangeImpersonation and X-AnchorMailbox with its address', async () => {
		const token = oauth.issueToken('ewsapp');
		const requests = since();
		const client = await connect({ auth: { type: 'token', accessToken: token }, mailbox: SHARED, impersonation: true });
		await client.resolveFolder('inbox');
		const [get] = requests();
		expect(get).toMatchObject({ operation: 'GetFolder', authorization: 'bearer', principal: 'ewsapp', impersonated: SHARED, anchorMailbox: SHARED, mailbox: SHARED, responseCode: 'NoError' });
		expect(get.body).toContain('<t:ExchangeImpersonation><t:ConnectingSID><t:SmtpAddress>shared@contoso.test</t:SmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>');
	});

	it('impersonation refused and a mailbox that does not exist are named', async () => {
		const token = oauth.issueToken('ewsapp');
		const denied = await connect({ auth: { type: 'token', accessToken: token }, mailbox: OTHER, impersonation: true });
		const e = await failure(denied.resolveFolder('inbox'));
		expect(e).toMatchObject({ code: 'AUTH', causeCode: 'ErrorImpersonateUserDenied', field: 'mailbox' });
		expect(e.message).toContain('The account does not have permission to impersonate the requested user.');
		const missing = await connect({ auth: { type: 'token', accessToken: token }, mailbox: 'nobody@contoso.test', impersonation: true });
		expect(await failure(missing.resolveFolder('inbox'))).toMatchObject({ code: 'NOT_FOUND', causeCode: 'ErrorNonExistentMailbox', field: 'mailbox' });
		const noMailbox = await connect({ auth: { type: 'token', accessToken: oauth.issueToken('lonelyapp') } });
		expect(await failure(noMailbox.resolveFolder('inbox'))).toMatchObject({ code: 'CONFIG', causeCode: 'ErrorMissingEmailAddress', field: 'mailbox' });
	});

	it('renews a token the endpoint rejects (401) once per request and sends the request again', async () => {
		const old = oauth.issueToken('alice');
		const fresh = oauth.issueToken('alice');
		const renew = jest.fn(async () => fresh);
		const requests = since();
		const client = await connect({ auth: { type: 'token', accessToken: old, renew } });
		rejectOnce.add(old);
		await client.resolveFolder('inbox');
		expect(renew).toHaveBeenCalledTimes(1);
		expect(requests().map((r) => [r.operation, r.status])).toEqual([
			['GetFolder', 401],
			['GetFolder', 200],
		]);
		// a renewed token that is rejected too: the error says so, with Exchange's reason
		const stale = jest.fn(async () => 'issued-revoked');
		const other = await connect({ auth: { type: 'token', accessToken: 'issued-expired', renew: stale } });
		const e = await failure(other.resolveFolder('inbox'));
		expect(stale).toHaveBeenCalledTimes(1);
		expect(e).toMatchObject({ code: 'AUTH', field: 'accessToken', causeCode: 'HTTP_401' });
		expect(e.message).toContain('also after renewing it');
		expect(e.message).toContain('The token has expired.');
		expect(e.message).not.toContain('issued-');
	});

	it('a wrong password is named, without the password', async () => {
		const client = await connect({ auth: password('alice', 'wrong-pw') });
		const e = await failure(client.resolveFolder('inbox'));
		expect(e).toMatchObject({ code: 'AUTH', field: 'password', causeCode: 'HTTP_401', step: 'login' });
		expect(JSON.stringify({ ...e, message: e.message })).not.toContain('wrong-pw');
	});

	it('signs in as DOMAIN\\user with a password (non-ASCII-safe Basic)', async () => {
		const client = await connect({ auth: password('CONTOSO\\bob', 'bob-pw') });
		// bob has no mailbox here: Exchange asks for one
		expect(await failure(client.resolveFolder('inbox'))).toMatchObject({ causeCode: 'ErrorMissingEmailAddress' });
		expect(server.requests.at(-1)).toMatchObject({ authorization: 'basic', principal: 'CONTOSO\\bob' });
	});

	it('waits out ErrorServerBusy for BackOffMilliseconds and sends the same request again; gives up after the retries', async () => {
		const waits: number[] = [];
		const sleep = async (ms: number) => {
			waits.push(ms);
		};
		const requests = since();
		const client = await connect({ auth: password(), sleep });
		server.busy(2, 1234);
		await client.resolveFolder('inbox');
		expect(waits).toEqual([1234, 1234]);
		const sent = requests();
		expect(sent.map((r) => r.responseCode)).toEqual(['ErrorServerBusy', 'ErrorServerBusy', 'NoError']);
		expect(new Set(sent.map((r) => r.body)).size).toBe(1);

		waits.length = 0;
		const bounded = await connect({ auth: password(), sleep, throttle: { maxRetries: 2, maxWaitMs: 1000 } });
		server.busy(3, 90_000);
		const e = await failure(bounded.resolveFolder('inbox'));
		expect(waits).toEqual([1000, 1000]);
		expect(e).toMatchObject({ code: 'SERVER', causeCode: 'ErrorServerBusy' });
		expect(e.message).toContain('back off 90 s');
		server.busy(0, 0);
	});

	it('a kept-alive connection closed by the server as a request goes out: the request is sent again once, on a new connection', async () => {
		const client = await connect({ auth: password() });
		await client.resolveFolder('inbox');
		const requests = since();
		server.dropReused(1);
		const projects = await client.resolveFolder('Inbox/Projects');
		expect(projects).toMatchObject({ displayName: 'Projects' });
		expect(server.droppedRequests).toBe(1);
		expect(requests().map((r) => r.status)).toEqual([200]);
	});

	it('verifies the certificate unless told otherwise', async () => {
		const strict = await connectEws({ url: server.url, auth: password() });
		clients.push(strict);
		const e = await failure(strict.resolveFolder('inbox'));
		expect(e).toMatchObject({ code: 'TLS_CERTIFICATE', field: 'allowSelfSigned', causeCode: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
		const lax = await connectEws({ url: server.url, auth: password(), allowUnauthorizedCerts: true });
		clients.push(lax);
		expect(await lax.resolveFolder('inbox')).toMatchObject({ distinguished: 'inbox' });
	});

	it('names the EWS URL for a wrong path, a closed port and a bad setting', async () => {
		const wrongPath = await connect({ auth: password(), url: server.url.replace('/EWS/Exchange.asmx', '/ews/nothing') });
		expect(await failure(wrongPath.resolveFolder('inbox'))).toMatchObject({ code: 'CONFIG', field: 'url', causeCode: 'HTTP_404' });
		const closed = await connect({ auth: password(), url: `https://127.0.0.1:${await closedPort()}/EWS/Exchange.asmx` });
		expect(await failure(closed.resolveFolder('inbox'))).toMatchObject({ code: 'CONNECTION_REFUSED', field: 'url' });
		expect(await failure(connectEws({ url: 'http://mail.example.com/EWS/Exchange.asmx', auth: password() }))).toMatchObject({ code: 'CONFIG', field: 'url' });
		expect(await failure(connectEws({ auth: password(), mailbox: 'not an address' }))).toMatchObject({ code: 'CONFIG', field: 'mailbox' });
		expect(await failure(connectEws({ auth: password('alice', '') }))).toMatchObject({ code: 'CONFIG', field: 'password' });
	});

	it('connection check: endpoint, TLS, sign-in and the Inbox in one line; a failed step with its fix', async () => {
		const ok = await checkEwsConnection({ url: server.url, ca, auth: password(), mailbox: SHARED });
		expect(ok.ok).toBe(true);
		expect(ok.steps.map((s) => s.step)).toEqual(['config', 'tls', 'login', 'inbox']);
		expect(ok.message).toMatch(/^Connected to 127\.0\.0\.1:\d+ by EWS \(TLSv1\.3, certificate for localhost \(self-signed\)/);
		expect(ok.message).toContain('mailbox shared@contoso.test: Inbox has 0 messages, 0 unread.');
		const denied = await checkEwsConnection({ url: server.url, ca, auth: password(), mailbox: OTHER });
		expect(denied).toMatchObject({ ok: false, error: { causeCode: 'ErrorAccessDenied' } });
		expect(denied.steps.at(-1)).toMatchObject({ step: 'inbox', ok: false });
		const wrong = await checkEwsConnection({ url: server.url, ca, auth: password('alice', 'nope') });
		expect(wrong.steps.at(-1)).toMatchObject({ step: 'login', ok: false });
		expect(wrong.message).not.toContain('nope');
	});

	describe('with a Microsoft 365 app (MSAL in a child process)', () => {
		interface AppRun {
			check: { ok: boolean; message: string; steps: Array<{ step: string; ok: boolean }>; error?: { code: string; field?: string; causeCode?: string; hint?: string } };
			folder?: { displayName: string };
			error?: { code: string; field?: string; message: string };
		}
		const runApp = (input: Record<string, unknown>): Promise<AppRun> => runFixture<AppRun>('ews-app-client.ts', input, certPath);
		const app = (mailbox: string, extra: Record<string, unknown> = {}) => ({ url: server.url, mailbox, app: { tenantId: 'contoso', clientId: 'ews-app', clientSecret: SECRET, authorityHost: authority.host }, ...extra });

		it('gets the token from MSAL and impersonates the mailbox', async () => {
			const requests = since();
			const result = await runApp(app(ALICE));
			expect(result.check).toMatchObject({ ok: true });
			expect(result.check.message).toContain('got a token for the app from Microsoft; mailbox alice@contoso.test (impersonated)');
			const [get] = requests();
			expect(get).toMatchObject({ operation: 'GetFolder', authorization: 'bearer', principal: 'ewsapp', impersonated: ALICE, anchorMailbox: ALICE, serverVersion: 'Exchange2013_SP1' });
			expect(authority.requests.filter((r) => r.method === 'POST').at(-1)).toMatchObject({ grantType: 'client_credentials', clientId: 'ews-app', scope: 'https://outlook.office365.com/.default' });
		});

		it('a token rejected mid-run: a fresh one from MSAL past its cache, once', async () => {
			const posts = () => authority.requests.filter((r) => r.method === 'POST').length;
			const before = posts();
			const requests = since();
			rejectSecondUse = true;
			const result = await runApp(app(ALICE)).finally(() => (rejectSecondUse = false));
			expect(result.folder).toMatchObject({ displayName: 'Inbox' });
			// the check's token, then (cached for the second request, rejected) a fresh one
			expect(posts() - before).toBe(2);
			expect(requests().map((r) => r.status)).toEqual([200, 401, 200]);
		});

		it('a mailbox the app may not act on: names full_access_as_app and admin consent', async () => {
			const result = await runApp(app(OTHER));
			expect(result.check).toMatchObject({ ok: false, error: { code: 'AUTH', field: 'mailbox', causeCode: 'ErrorImpersonateUserDenied' } });
			expect(result.check.error?.hint).toContain('full_access_as_app');
			expect(result.check.error?.hint).toContain('admin consent');
		});

		it('a wrong client secret names Client Secret', async () => {
			const result = await runApp({ ...app(ALICE), app: { tenantId: 'contoso', clientId: 'ews-app', clientSecret: 'wrong', authorityHost: authority.host } });
			expect(result.check).toMatchObject({ ok: false, error: { code: 'AUTH', field: 'clientSecret' } });
		});
	});

});
