/**
 * Google Workspace sign-in end to end against the local Google-style authority
 * (test/servers/google.ts) and the test Dovecot, which takes XOAUTH2 and OAUTHBEARER under the
 * user's full address with a token issued for that address, as Gmail does:
 *
 * - the service account (mailboxGoogleServiceAccountApi): the credential Test, the node-level
 *   connections for IMAP (the node's Mailbox is the user acted as) and POP3, the token cache, and
 *   Google's refusals as messages naming the fix. Its token path (HTTPS to the key file's
 *   token_uri, trusting Node's CAs) runs in a child process that trusts the test certificate
 *   through NODE_EXTRA_CA_CERTS (test/integration/fixtures/google-service-account.ts);
 * - the delegated credential (mailboxGoogleOAuth2Api) through a context that refreshes the way
 *   n8n does, at the authority's token endpoint, where refresh tokens do not rotate.
 *
 * Each case checks what the user sees and what the authority received.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { ICredentialDataDecryptedObject } from 'n8n-workflow';
import { withTokenRefresh } from '../../lib/auth/oauth2-token';
import { checkImapConnection } from '../../lib/imap/check';
import { resolveServer } from '../../lib/connection/options';
import { MailboxError } from '../../lib/errors';
import { connectImap } from '../../lib/imap/connect';
import type { Logger } from '../../lib/logger';
import { GOOGLE_DELEGATED, microsoftOAuth2Connection, type OAuth2RefreshContext } from '../../nodes/shared/microsoft-oauth2';
import { record, scanNow } from '../canary';
import { startMailServers, type MailServers } from '../servers';
import { GOOGLE_MAIL_SCOPE, GoogleAuthority, JWT_BEARER, type GoogleServiceAccount } from '../servers/google';
import type { FixtureOutput, Step, StepResult } from './fixtures/google-service-account';
import { httpsRequest, runFixture, type HttpsReply as Reply } from './helpers/local-tls';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';
const CAROL = 'carol@example.test';
const GMAIL_READONLY = 'https://www.googleapis.com/auth/gmail.readonly';
const REDIRECT = 'http://127.0.0.1:5678/rest/oauth2-credential/callback';
const CLIENT = { clientId: '734120962011-mb7q2c0d9s1v4xk8rj3nhl5t6pw0ae2f.apps.googleusercontent.com', clientSecret: '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', user: ALICE };
/** Its refresh tokens get revoked: the user removed the app's access. */
const REVOKED_CLIENT = { clientId: '734120962011-0revokedr4n8d2k6w1q9z3x5c7v2b4m.apps.googleusercontent.com', clientSecret: 'GOCSPX-Rv5t1Mx3Pq8-RevokedSecret6', user: ALICE };

const fingerprint = (token: string | undefined): string => crypto.createHash('sha256').update(String(token)).digest('hex').slice(0, 16);

function mail(n: number, to: string): Buffer {
	return Buffer.from(`From: dana${n}@fabrikam.test\r\nTo: ${to}\r\nSubject: ${to} message ${n}\r\nMessage-ID: <m${n}.${to}>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\nHello ${n}.\r\n`);
}

describe('Google Workspace sign-in against the local Google authority and Dovecot', () => {
	let servers: MailServers;
	let authority: GoogleAuthority;
	let ca: string;
	/** Domain-wide delegation for https://mail.google.com/. */
	let account: GoogleServiceAccount;
	/** No delegation at all. */
	let undelegated: GoogleServiceAccount;
	/** Delegation for gmail.readonly only. */
	let otherScope: GoogleServiceAccount;
	/** Delegated, but its key was deleted in the console. */
	let deletedKey: GoogleServiceAccount;
	/** Every text the child processes gave back (messages, errors, logs), for the secret checks. */
	const seen: string[] = [];

	/** Runs the steps in one child process that trusts the test certificate, as n8n would with NODE_EXTRA_CA_CERTS. */
	const run = async (steps: Step[], options: { xoauth2Only?: boolean } = {}): Promise<StepResult[]> => {
		let output: FixtureOutput;
		try {
			output = await runFixture<FixtureOutput>('google-service-account.ts', { steps, ...options }, servers.certPath, { maxBuffer: 16 * 1024 * 1024 });
		} catch (error) {
			const e = error as { stderr?: string; message?: string };
			throw new Error(`the fixture failed: ${e.message ?? String(error)}\n${e.stderr ?? ''}`);
		}
		// what a user would see: the Test's messages, the errors, what the package logged
		for (const [i, result] of output.results.entries()) {
			const texts = [result.message, result.error?.fullMessage, ...(result.steps ?? []).map((s) => s.detail)].filter((t): t is string => !!t);
			for (const text of texts) {
				record(`google-service-account fixture, step ${i} (${steps[i].op})`, text);
				seen.push(text);
			}
		}
		for (const line of output.logs) {
			record('google-service-account fixture log', line);
			seen.push(line);
		}
		return output.results;
	};

	/** The service account credential as n8n hands it to the nodes: the JSON key file, Gmail's servers replaced by the test Dovecot. */
	const jsonCredential = (sa: GoogleServiceAccount, extra: ICredentialDataDecryptedObject = {}): ICredentialDataDecryptedObject => ({
		keyInput: 'json',
		serviceAccountKey: authority.keyFile(sa),
		mailbox: ALICE,
		sharedMailboxes: '',
		imapHost: '127.0.0.1',
		imapPort: servers.ports.imaps,
		pop3Host: '127.0.0.1',
		pop3Port: servers.ports.pop3s,
		...extra,
	});
	/** The token endpoint's answers and the requests from now on. */
	const since = () => {
		const grants = authority.grants.length;
		const requests = authority.requests.length;
		return { grants: () => authority.grants.slice(grants), requests: () => authority.requests.slice(requests) };
	};
	const jwtGrants = (grants: GoogleAuthority['grants']) => grants.filter((g) => g.grantType === 'jwt-bearer');

	const call = (method: string, url: string, form?: Record<string, string>): Promise<Reply> => httpsRequest(ca, method, url, { form });

	beforeAll(async () => {
		servers = await startMailServers();
		ca = fs.readFileSync(servers.certPath, 'utf8');
		const tls = { key: fs.readFileSync(servers.dovecot.keyPath), cert: fs.readFileSync(servers.certPath) };
		authority = await new GoogleAuthority(
			tls,
			(user, lifetime) => servers.oauth.issueToken(user, lifetime),
			(token) => servers.oauth.tokenUser(token),
		).start();
		authority.addDomainUser(ALICE);
		authority.addDomainUser(BOB);
		account = authority.createServiceAccount('n8n-mail');
		authority.authorizeDelegation(account.clientId, [GOOGLE_MAIL_SCOPE]);
		undelegated = authority.createServiceAccount('no-delegation');
		otherScope = authority.createServiceAccount('readonly-only');
		authority.authorizeDelegation(otherScope.clientId, [GMAIL_READONLY]);
		deletedKey = authority.createServiceAccount('deleted-key');
		authority.authorizeDelegation(deletedKey.clientId, [GOOGLE_MAIL_SCOPE]);
		authority.deleteKey(deletedKey);
		authority.registerOAuthClient(CLIENT);
		authority.registerOAuthClient(REVOKED_CLIENT);
		// alice: 2 messages, 1 unseen; bob: 3 unseen
		await servers.writeMaildir('alice', 'INBOX', [
			{ raw: mail(1, ALICE), flags: ['\\Seen'] },
			{ raw: mail(2, ALICE), flags: [] },
		]);
		await servers.writeMaildir('bob', 'INBOX', [1, 2, 3].map((n) => ({ raw: mail(n, BOB), flags: [] })));
	});
	afterAll(async () => {
		await authority?.stop();
		await servers?.stop();
	});

	describe('service account with the JSON key file', () => {
		it('the credential Test gets alice\'s token by the JWT bearer grant (RS256, kid, iss/sub/scope/aud, one hour) and logs in to IMAP with XOAUTH2 as alice@example.test', async () => {
			const after = since();
			const [test] = await run([{ op: 'test', data: jsonCredential(account) }], { xoauth2Only: true });
			expect(test).toMatchObject({ ok: true, status: 'OK' });
			expect(test.message).toContain(`logged in as "${ALICE}" with XOAUTH2`);
			expect(test.message).toContain('INBOX has 2 messages, 1 unseen');

			expect(after.grants()).toEqual([{ grantType: 'jwt-bearer', clientId: account.clientId, sub: ALICE, scope: GOOGLE_MAIL_SCOPE, ok: true, accessToken: expect.any(String) }]);
			expect(servers.oauth.tokenUser(after.grants()[0].accessToken as string)).toBe(ALICE);
			const requests = after.requests();
			expect(requests).toEqual([{ method: 'POST', path: '/token', grantType: JWT_BEARER, status: 200, header: expect.any(Object), claims: expect.any(Object) }]);
			expect(requests[0].header).toEqual({ alg: 'RS256', typ: 'JWT', kid: account.privateKeyId });
			const claims = requests[0].claims as Record<string, number | string>;
			expect(claims).toEqual({ iss: account.clientEmail, sub: ALICE, scope: GOOGLE_MAIL_SCOPE, aud: authority.tokenUrl, iat: expect.any(Number), exp: expect.any(Number) });
			expect(Number(claims.exp) - Number(claims.iat)).toBe(3600);
			await servers.dovecotLogMatching([/imap-login: Info: Login: user=<alice@example\.test>, method=XOAUTH2,/]);
		});

		it('with Shared Mailboxes "bob@example.test" the Test also opens bob, with a second grant whose sub is bob', async () => {
			const after = since();
			const [test] = await run([{ op: 'test', data: jsonCredential(account, { sharedMailboxes: BOB }) }], { xoauth2Only: true });
			expect(test).toMatchObject({ ok: true, status: 'OK' });
			expect(test.message).toContain(`logged in as "${ALICE}" with XOAUTH2`);
			expect(test.message).toContain(`shared mailbox ${BOB} opened with the token as "${BOB}": INBOX has 3 messages, 3 unseen`);

			const grants = after.grants();
			expect(grants.map((g) => [g.grantType, g.clientId, g.sub, g.scope, g.ok])).toEqual([
				['jwt-bearer', account.clientId, ALICE, GOOGLE_MAIL_SCOPE, true],
				['jwt-bearer', account.clientId, BOB, GOOGLE_MAIL_SCOPE, true],
			]);
			expect(servers.oauth.tokenUser(grants[1].accessToken as string)).toBe(BOB);
			expect(after.requests().map((r) => r.claims?.sub)).toEqual([ALICE, BOB]);
			await servers.dovecotLogMatching([/imap-login: Info: Login: user=<bob@example\.test>, method=XOAUTH2,/]);
		});
	});

	describe('service account with Email and Private Key', () => {
		it('signs in with the private key pasted into a one-line field (literal "\\n") and the Token URL; no kid without a key file', async () => {
			const oneLine = account.privateKey.replace(/\n/g, '\\n');
			expect(oneLine).not.toContain('\n');
			const data: ICredentialDataDecryptedObject = {
				keyInput: 'fields',
				clientEmail: account.clientEmail,
				privateKey: oneLine,
				tokenUrl: authority.tokenUrl,
				mailbox: ALICE,
				sharedMailboxes: BOB,
				imapHost: '127.0.0.1',
				imapPort: servers.ports.imaps,
			};
			const after = since();
			const [test] = await run([{ op: 'test', data }]);
			expect(test).toMatchObject({ ok: true, status: 'OK' });
			// imapflow takes OAUTHBEARER when offered (as Gmail does besides XOAUTH2)
			expect(test.message).toContain(`logged in as "${ALICE}" with OAUTHBEARER`);
			expect(test.message).toContain('INBOX has 2 messages, 1 unseen');
			expect(test.message).toContain(`shared mailbox ${BOB} opened with the token as "${BOB}": INBOX has 3 messages, 3 unseen`);

			expect(after.grants().map((g) => [g.clientId, g.sub, g.ok])).toEqual([
				[account.clientId, ALICE, true],
				[account.clientId, BOB, true],
			]);
			for (const request of after.requests()) {
				expect(request.header).toEqual({ alg: 'RS256', typ: 'JWT' });
				expect(request.claims).toMatchObject({ iss: account.clientEmail, scope: GOOGLE_MAIL_SCOPE, aud: authority.tokenUrl });
			}
			await servers.dovecotLogMatching([/imap-login: Info: Login: user=<alice@example\.test>, method=OAUTHBEARER,/]);
		});
	});

	describe('the token cache', () => {
		it('two logins in one process take one grant; renewToken (a fresh grant) replaces the cached token for later logins', async () => {
			const data = jsonCredential(account);
			const after = since();
			const [first, second, third, fresh, cached] = await run([
				{ op: 'imap', data },
				{ op: 'imap', data, renew: true },
				{ op: 'imap', data },
				{ op: 'token', data, subject: ALICE, fresh: true },
				{ op: 'token', data, subject: ALICE },
			]);
			const grants = jwtGrants(after.grants());
			expect(grants.map((g) => [g.sub, g.ok])).toEqual([
				[ALICE, true], // the first login
				[ALICE, true], // renewToken
				[ALICE, true], // fresh
			]);
			const [initial, renewed, refetched] = grants.map((g) => fingerprint(g.accessToken));
			for (const login of [first, second, third]) expect(login).toMatchObject({ ok: true, user: ALICE, subjects: [`${ALICE} message 1`, `${ALICE} message 2`] });
			expect(first.token).toBe(initial);
			expect(second.token).toBe(initial);
			expect(second.renewed).toBe(renewed);
			expect(third.token).toBe(renewed);
			expect(fresh).toEqual({ ok: true, token: refetched, fromCache: false });
			expect(cached).toEqual({ ok: true, token: refetched, fromCache: true });
		});

		it('concurrent requests for one user share one grant', async () => {
			const data = jsonCredential(account, { sharedMailboxes: BOB });
			const after = since();
			const [together, alone] = await run([
				{ op: 'concurrent', data, mailbox: BOB, count: 5 },
				{ op: 'token', data, subject: BOB },
			]);
			const grants = after.grants();
			expect(grants.map((g) => [g.grantType, g.sub, g.ok])).toEqual([['jwt-bearer', BOB, true]]);
			expect(together.logins).toEqual(Array.from({ length: 5 }, () => ({ user: BOB, token: fingerprint(grants[0].accessToken) })));
			expect(alone).toEqual({ ok: true, token: fingerprint(grants[0].accessToken), fromCache: true });
		});
	});

	describe('what Google refuses, as the credential Test tells it', () => {
		it('no domain-wide delegation: the Admin console, the numeric client ID and the scope; nothing is tried at IMAP', async () => {
			const after = since();
			const [test, settings] = await run([
				{ op: 'test', data: jsonCredential(undelegated) },
				{ op: 'settings', data: jsonCredential(undelegated) },
			]);
			expect(test).toMatchObject({ ok: false, status: 'Error' });
			expect(test.message).toMatch(/domain-wide delegation is not granted for the scope https:\/\/mail\.google\.com\//);
			expect(test.message).toContain(`Google refused to let ${undelegated.clientEmail} act as ${ALICE}`);
			expect(test.message).toContain('Admin console');
			expect(test.message).toContain(`add client ID ${undelegated.clientId} (the number, not the service account's address) with the OAuth scope ${GOOGLE_MAIL_SCOPE}`);
			expect(settings.error).toMatchObject({ code: 'AUTH', field: 'serviceAccountKey', causeCode: 'unauthorized_client' });
			// a refusal is not cached: each asks again
			expect(after.grants().map((g) => [g.clientId, g.sub, g.scope, g.ok, g.error])).toEqual([
				[undelegated.clientId, ALICE, GOOGLE_MAIL_SCOPE, false, 'unauthorized_client'],
				[undelegated.clientId, ALICE, GOOGLE_MAIL_SCOPE, false, 'unauthorized_client'],
			]);
			expect(after.requests().map((r) => r.status)).toEqual([401, 401]);
		});

		it('delegation granted only for another scope: the same, naming https://mail.google.com/', async () => {
			const after = since();
			const [test, settings] = await run([
				{ op: 'test', data: jsonCredential(otherScope) },
				{ op: 'settings', data: jsonCredential(otherScope) },
			]);
			expect(test.status).toBe('Error');
			expect(test.message).toContain(`domain-wide delegation is not granted for the scope ${GOOGLE_MAIL_SCOPE}`);
			expect(test.message).toContain(`add client ID ${otherScope.clientId}`);
			expect(test.message).not.toContain(GMAIL_READONLY);
			expect(settings.error).toMatchObject({ code: 'AUTH', field: 'serviceAccountKey', causeCode: 'unauthorized_client' });
			expect(after.grants().map((g) => [g.clientId, g.scope, g.error])).toEqual([
				[otherScope.clientId, GOOGLE_MAIL_SCOPE, 'unauthorized_client'],
				[otherScope.clientId, GOOGLE_MAIL_SCOPE, 'unauthorized_client'],
			]);
		});

		it('a deleted key: the key was deleted or disabled, create a new JSON key', async () => {
			const after = since();
			const [test, settings] = await run([
				{ op: 'test', data: jsonCredential(deletedKey) },
				{ op: 'settings', data: jsonCredential(deletedKey) },
			]);
			expect(test.status).toBe('Error');
			expect(test.message).toContain(`Google rejected the service account's key: the key of ${deletedKey.clientEmail} (id ${deletedKey.privateKeyId}) was deleted, disabled or does not belong to it`);
			expect(test.message).toMatch(/Create a new JSON key for the service account .* and paste it into the credential\./);
			expect(settings.error).toMatchObject({ code: 'AUTH', field: 'serviceAccountKey', causeCode: 'invalid_grant' });
			expect(after.grants().map((g) => [g.clientId, g.ok, g.errorDescription])).toEqual([
				[deletedKey.clientId, false, 'Invalid JWT Signature.'],
				[deletedKey.clientId, false, 'Invalid JWT Signature.'],
			]);
		});

		it('a user outside the domain: the Mailbox, or the shared mailbox, to correct', async () => {
			const after = since();
			const [test, settings, shared] = await run([
				{ op: 'test', data: jsonCredential(account, { mailbox: CAROL }) },
				{ op: 'settings', data: jsonCredential(account, { mailbox: CAROL }) },
				{ op: 'test', data: jsonCredential(account, { sharedMailboxes: `${BOB}; ${CAROL}` }) },
			]);
			expect(test.status).toBe('Error');
			expect(test.message).toContain(`Google does not know ${CAROL} as a user of the Workspace domain`);
			expect(test.message).toContain('as Mailbox or one of the Shared Mailboxes');
			expect(settings.error).toMatchObject({ code: 'AUTH', field: 'mailbox', causeCode: 'invalid_grant' });
			// the account's own mailbox and bob opened, then carol is refused by Google
			expect(shared.status).toBe('Error');
			expect(shared.message).toContain(`Google does not know ${CAROL} as a user of the Workspace domain`);
			expect(after.grants().map((g) => [g.sub, g.ok, g.errorDescription])).toEqual([
				[CAROL, false, 'Invalid email or User ID'],
				[CAROL, false, 'Invalid email or User ID'],
				[ALICE, true, undefined],
				[BOB, true, undefined],
				[CAROL, false, 'Invalid email or User ID'],
			]);
		});

		it('an unusable key: broken JSON, an empty key, an OAuth client\'s JSON, an http:// token URL: CONFIG naming the field, before any request', async () => {
			const keyFile = authority.keyFile(account);
			const oauthClientJson = JSON.stringify({
				web: {
					client_id: CLIENT.clientId,
					project_id: account.projectId,
					auth_uri: authority.authUrl,
					token_uri: authority.tokenUrl,
					auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
					client_secret: CLIENT.clientSecret,
					redirect_uris: [REDIRECT],
				},
			});
			const httpTokenUrl = authority.tokenUrl.replace(/^https:/, 'http:');
			const fields = { keyInput: 'fields', clientEmail: account.clientEmail, privateKey: account.privateKey, tokenUrl: httpTokenUrl };
			const cases: Array<{ data: ICredentialDataDecryptedObject; field: string; says: RegExp }> = [
				{ data: jsonCredential(account, { serviceAccountKey: keyFile.slice(0, Math.floor(keyFile.length / 2)) }), field: 'serviceAccountKey', says: /^Service Account Key \(JSON\) is not JSON\. Paste the whole JSON key file/ },
				{ data: jsonCredential(account, { serviceAccountKey: '' }), field: 'serviceAccountKey', says: /^Service Account Key \(JSON\) is empty\. Paste the whole JSON key file/ },
				{ data: jsonCredential(account, { serviceAccountKey: ' \n ' }), field: 'serviceAccountKey', says: /^Service Account Key \(JSON\) is empty\./ },
				{
					data: jsonCredential(account, { serviceAccountKey: oauthClientJson }),
					field: 'serviceAccountKey',
					says: /^Service Account Key \(JSON\) is an OAuth client's JSON, not a service account's key\. Paste the whole JSON key file .* An OAuth client's JSON \(client_secret_….json\) belongs in the Google Delegated OAuth2 credential\.$/,
				},
				{
					// a desktop app's client JSON
					data: jsonCredential(account, { serviceAccountKey: oauthClientJson.replace('{"web":', '{"installed":') }),
					field: 'serviceAccountKey',
					says: /^Service Account Key \(JSON\) is an OAuth client's JSON, not a service account's key\./,
				},
				{ data: jsonCredential(account, { serviceAccountKey: keyFile.replace(authority.tokenUrl, httpTokenUrl) }), field: 'serviceAccountKey', says: /Token URL "http:\/\/[^"]+" is not an https:\/\/ URL\. Google's is https:\/\/oauth2\.googleapis\.com\/token\./ },
				{ data: jsonCredential(account, fields), field: 'tokenUrl', says: /^Token URL "http:\/\/[^"]+" is not an https:\/\/ URL\./ },
			];
			const after = since();
			const results = await run(cases.flatMap(({ data }): Step[] => [
				{ op: 'test', data },
				{ op: 'settings', data },
			]));
			cases.forEach(({ field, says }, i) => {
				const [test, settings] = results.slice(2 * i, 2 * i + 2);
				expect({ i, status: test.status, message: test.message }).toEqual({ i, status: 'Error', message: expect.stringMatching(says) });
				expect({ i, ...settings.error }).toMatchObject({ i, code: 'CONFIG', field });
			});
			expect(after.requests()).toEqual([]);
			for (const text of results.map((r) => `${r.message ?? ''} ${r.error?.fullMessage ?? ''}`)) expect(text).not.toContain(CLIENT.clientSecret);
		});

		it('no message, error or log line of the runs above shows the private key, an assertion or a token', () => {
			const all = seen.join('\n');
			expect(seen.length).toBeGreaterThan(10);
			expect(scanNow('google-workspace: every text the fixture gave back', all)).toEqual([]);
			for (const sa of [account, undelegated, otherScope, deletedKey]) {
				const body = sa.privateKey.split('\n').filter((l) => l && !l.startsWith('-----'));
				for (const line of body) expect(all).not.toContain(line);
			}
			for (const grant of authority.grants) if (grant.accessToken) expect(all).not.toContain(grant.accessToken);
			expect(all).not.toContain(CLIENT.clientSecret);
		});
	});

	describe('the nodes: imapConnectionOf with the node\'s Mailbox', () => {
		it('Mailbox empty opens alice\'s INBOX as alice; Mailbox "bob@example.test" (listed) logs in as bob with bob\'s own token and lands in bob\'s INBOX', async () => {
			const data = jsonCredential(account, { sharedMailboxes: BOB });
			const after = since();
			const [own, bob, bobAgain] = await run([
				{ op: 'imap', data, mailbox: '' },
				{ op: 'imap', data, mailbox: BOB },
				{ op: 'imap', data, mailbox: 'Bob@Example.TEST' },
			]);
			const grants = after.grants();
			expect(grants.map((g) => [g.sub, g.ok])).toEqual([
				[ALICE, true],
				[BOB, true],
			]);
			expect(own).toEqual({ ok: true, user: ALICE, token: fingerprint(grants[0].accessToken), host: '127.0.0.1', port: servers.ports.imaps, subjects: [`${ALICE} message 1`, `${ALICE} message 2`] });
			expect(bob).toEqual({ ok: true, user: BOB, token: fingerprint(grants[1].accessToken), host: '127.0.0.1', port: servers.ports.imaps, subjects: [1, 2, 3].map((n) => `${BOB} message ${n}`) });
			// the list's spelling, the cached token
			expect(bobAgain).toMatchObject({ ok: true, user: BOB, token: bob.token });
			expect(servers.oauth.tokenUser(grants[1].accessToken as string)).toBe(BOB);
		});

		it('a mailbox not in Shared Mailboxes: CONFIG naming mailbox, before any grant', async () => {
			const after = since();
			const [unlisted, noneListed] = await run([
				{ op: 'imap', data: jsonCredential(account, { sharedMailboxes: BOB }), mailbox: CAROL },
				{ op: 'settings', data: jsonCredential(account), mailbox: BOB },
			]);
			expect(unlisted).toMatchObject({ ok: false, error: { code: 'CONFIG', field: 'mailbox' } });
			expect(unlisted.error?.fullMessage).toBe(`Mailbox "${CAROL}" is not one of the credential's shared mailboxes (one of ${BOB}). Leave Mailbox empty for the account's own mailbox, or add the address to Shared Mailboxes in the credential.`);
			expect(noneListed).toMatchObject({ ok: false, error: { code: 'CONFIG', field: 'mailbox', message: `Mailbox "${BOB}" is not one of the credential's shared mailboxes (none are listed).` } });
			expect(after.requests()).toEqual([]);
		});
	});

	describe('POP3', () => {
		it('pop3ConnectionOfMicrosoft logs in with XOAUTH2 as alice@example.test with alice\'s token', async () => {
			const after = since();
			const [pop3] = await run([{ op: 'pop3', data: jsonCredential(account) }]);
			expect(pop3).toMatchObject({ ok: true, user: ALICE });
			expect(pop3.steps?.find((s) => s.step === 'login')?.detail).toBe(`logged in as "${ALICE}" with XOAUTH2`);
			expect(pop3.steps?.find((s) => s.step === 'inbox')?.detail).toMatch(/^maildrop has 2 messages, \d+ bytes$/);
			expect(after.grants().map((g) => [g.sub, g.ok])).toEqual([[ALICE, true]]);
			expect(pop3.token).toBe(fingerprint(after.grants()[0].accessToken));
			await servers.dovecotLogMatching([/pop3-login: Info: Login: user=<alice@example\.test>, method=XOAUTH2,/]);
		});
	});

	describe('the delegated Google credential (mailboxGoogleOAuth2Api)', () => {
		const logs: string[] = [];
		const logger: Logger = {
			debug: (m) => void logs.push(m),
			info: (m) => void logs.push(m),
			warn: (m) => void logs.push(m),
			error: (m) => void logs.push(m),
		};

		/** The sign-in as n8n runs it: authorize with the credential's query parameters (access_type=offline, prompt=consent), then the code grant. */
		const signIn = async (client: typeof CLIENT): Promise<{ access_token: string; refresh_token: string; expires_in: number; scope: string }> => {
			const url = new URL(authority.authUrl);
			for (const [k, v] of Object.entries({ client_id: client.clientId, redirect_uri: REDIRECT, response_type: 'code', scope: GOOGLE_MAIL_SCOPE, state: 'n8n-state-1' })) url.searchParams.set(k, v);
			for (const [k, v] of new URLSearchParams('access_type=offline&prompt=consent')) url.searchParams.set(k, v);
			const redirect = await call('GET', url.toString());
			expect(redirect.status).toBe(302);
			const code = new URL(String(redirect.headers.location)).searchParams.get('code') ?? '';
			const answer = await call('POST', authority.tokenUrl, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: client.clientId, client_secret: client.clientSecret });
			expect(answer.status).toBe(200);
			const tokens = JSON.parse(answer.body) as { access_token: string; refresh_token: string; expires_in: number; scope: string };
			expect(tokens.refresh_token).toEqual(expect.any(String));
			return tokens;
		};

		/**
		 * A context that behaves like n8n's: the credential lives in a store; refreshOAuth2Token runs
		 * the refresh_token grant at the credential's Access Token URL (client ID and secret in the
		 * body, the credential's Authentication) and stores the answer over the old token data with
		 * n8n_expires_at, so the refresh token Google does not send again stays.
		 */
		const fakeN8n = (initial: ICredentialDataDecryptedObject) => {
			const store = { data: JSON.parse(JSON.stringify(initial)) as ICredentialDataDecryptedObject, refreshes: 0 };
			const refresh = async () => {
				const tokenData = store.data.oauthTokenData as { refresh_token: string };
				store.refreshes++;
				const answer = await call('POST', String(store.data.accessTokenUrl), {
					grant_type: 'refresh_token',
					refresh_token: tokenData.refresh_token,
					client_id: String(store.data.clientId),
					client_secret: String(store.data.clientSecret),
				});
				if (answer.status !== 200) throw Object.assign(new Error(`The credential "Google" needs to be reconnected. ${answer.body}`), { description: 'Open the credential and reconnect it.' });
				const data = JSON.parse(answer.body) as { expires_in: number };
				store.data = { ...store.data, oauthTokenData: { ...(store.data.oauthTokenData as object), ...data, n8n_expires_at: String(Date.now() + data.expires_in * 1000) } };
				return store.data.oauthTokenData;
			};
			const ctx: OAuth2RefreshContext = {
				getCredentials: (async () => JSON.parse(JSON.stringify(store.data)) as ICredentialDataDecryptedObject) as OAuth2RefreshContext['getCredentials'],
				helpers: {
					httpRequestWithAuthentication: async () => {
						throw new Error('not used: n8n 2.x has refreshOAuth2Token');
					},
					refreshOAuth2Token: refresh,
				} as unknown as OAuth2RefreshContext['helpers'],
			};
			return { ctx, store };
		};
		const credential = async (client: typeof CLIENT, expiresAtOffsetMs: number): Promise<ICredentialDataDecryptedObject> => ({
			mailbox: ALICE,
			imapHost: '127.0.0.1',
			imapPort: servers.ports.imaps,
			clientId: client.clientId,
			clientSecret: client.clientSecret,
			authUrl: authority.authUrl,
			accessTokenUrl: authority.tokenUrl,
			scope: GOOGLE_MAIL_SCOPE,
			authQueryParameters: 'access_type=offline&prompt=consent',
			authentication: 'body',
			oauthTokenData: { ...(await signIn(client)), n8n_expires_at: String(Date.now() + expiresAtOffsetMs) },
		});
		const stored = (store: { data: ICredentialDataDecryptedObject }) => store.data.oauthTokenData as { access_token: string; refresh_token: string };

		afterAll(() => {
			for (const line of logs) record('delegated Google logger', line);
		});

		it('a token n8n knows to have expired is renewed up front through refreshOAuth2Token; Google keeps the refresh token; the login as alice@example.test works', async () => {
			const data = await credential(CLIENT, -5_000);
			const original = data.oauthTokenData as { access_token: string; refresh_token: string };
			const { ctx, store } = fakeN8n(data);
			const after = since();
			const connection = await microsoftOAuth2Connection(ctx, 0, logger, GOOGLE_DELEGATED);
			expect(store.refreshes).toBe(1);
			expect(after.grants()).toEqual([{ grantType: 'refresh_token', clientId: CLIENT.clientId, scope: GOOGLE_MAIL_SCOPE, ok: true, accessToken: stored(store).access_token }]);
			expect(stored(store).refresh_token).toBe(original.refresh_token);
			expect(stored(store).access_token).not.toBe(original.access_token);
			expect(connection.settings).toMatchObject({ host: '127.0.0.1', port: servers.ports.imaps, security: 'tls' });
			expect(connection.login).toEqual({ user: ALICE, accessToken: stored(store).access_token });

			const check = await checkImapConnection({ ...connection.settings, ca }, connection.login);
			expect(check.ok).toBe(true);
			expect(check.message).toContain(`logged in as "${ALICE}" with OAUTHBEARER`);
			expect(check.message).toContain('INBOX has 2 messages, 1 unseen');
			expect(logs).toEqual(expect.arrayContaining(['Google delegated token: asking n8n to refresh it', 'Google delegated token: n8n stored a renewed token']));

			// the kept refresh token keeps working
			const again = fakeN8n({ ...store.data, oauthTokenData: { ...stored(store), n8n_expires_at: String(Date.now() - 5_000) } });
			await microsoftOAuth2Connection(again.ctx, 0, logger, GOOGLE_DELEGATED);
			expect(again.store.refreshes).toBe(1);
			expect(stored(again.store).refresh_token).toBe(original.refresh_token);
		});

		it('a token Dovecot rejects before n8n\'s note says it expired is renewed once through n8n, and the login repeated', async () => {
			const data = await credential(CLIENT, 3_500_000);
			const { ctx, store } = fakeN8n(data);
			const connection = await microsoftOAuth2Connection(ctx, 0, logger, GOOGLE_DELEGATED);
			expect(store.refreshes).toBe(0);
			servers.oauth.revoke(String(connection.login.accessToken));
			const server = resolveServer('imap', { ...connection.settings, ca });
			const outcome = await withTokenRefresh({
				accessToken: String(connection.login.accessToken),
				expired: false,
				attempt: (accessToken) => connectImap(server, { user: ALICE, accessToken }),
				refresh: connection.renewToken,
			});
			await outcome.value.logout();
			expect(outcome.refreshed).toBe(true);
			expect(store.refreshes).toBe(1);
			expect(outcome.accessToken).toBe(stored(store).access_token);
			expect(stored(store).refresh_token).toBe((data.oauthTokenData as { refresh_token: string }).refresh_token);
		});

		it('a revoked refresh token: AUTH, n8n could not renew the Google access token, "Connect my account" at Google; no secret shown', async () => {
			const data = await credential(REVOKED_CLIENT, -5_000);
			const tokens = data.oauthTokenData as { access_token: string; refresh_token: string };
			authority.revokeRefreshTokens(REVOKED_CLIENT.clientId);
			const { ctx, store } = fakeN8n(data);
			const after = since();
			const error = (await microsoftOAuth2Connection(ctx, 0, logger, GOOGLE_DELEGATED).catch((e: unknown) => e)) as MailboxError;
			expect(error).toBeInstanceOf(MailboxError);
			expect(error).toMatchObject({ code: 'AUTH', field: 'oauthTokenData', step: 'login' });
			expect(error.message).toMatch(/^n8n could not renew the Google access token: .*Token has been expired or revoked\./);
			expect(error.hint).toBe('Open the credential and click "Connect my account" to sign in at Google again (the refresh token expires after long disuse, a password change or revoked consent).');
			expect(store.refreshes).toBe(1);
			expect(after.grants()).toEqual([{ grantType: 'refresh_token', clientId: REVOKED_CLIENT.clientId, ok: false, error: 'invalid_grant', errorDescription: 'Token has been expired or revoked.' }]);
			for (const secret of [REVOKED_CLIENT.clientSecret, tokens.refresh_token, tokens.access_token]) expect(error.fullMessage).not.toContain(secret);
		});
	});
});
