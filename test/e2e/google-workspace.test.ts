/**
 * Both Google credentials in a real n8n 2.41.1, against a local Google-style authority
 * (test/servers/google.ts) whose tokens the test Dovecot and SMTP capture accept for XOAUTH2 as
 * alice@example.test:
 *
 * - The Workspace service account (mailboxGoogleServiceAccountApi), created through the REST API
 *   with its JSON key file pasted: the credential Test names the missing domain-wide delegation
 *   (client ID and scope) and, once the Admin console granted it, the Inbox's counts; an activated
 *   IMAP trigger runs once for a delivered message; Send Email signs in to SMTP with XOAUTH2 as
 *   the mailbox and keeps no Sent copy.
 * - The delegated Google credential (mailboxGoogleOAuth2Api), connected through n8n's OAuth2 flow.
 *   Its authorization and token URLs are hidden fields n8n pins to their defaults (Google's), so
 *   the local authority comes in as an n8n admin would bring in fixed values: credential
 *   overwrites (CREDENTIALS_OVERWRITE_DATA), which n8n applies after dropping the pinned fields,
 *   for the authorization URL, the code exchange and the refresh. Only `n8n start` (and `n8n
 *   worker`) load them, not `n8n execute`: the workflows here run in the started n8n, as the
 *   editor's "Execute workflow" runs them (POST /rest/workflows/:id/run). The Mailbox node lists
 *   folders, an activated IMAP trigger runs once for a delivered message (its first login after
 *   n8n refreshed a rejected token), and Send Email signs in to SMTP with the user's token.
 */
import fs from 'node:fs';
import type { ImapFlow } from 'imapflow';
import { findSecrets } from '../canary';
import { startMailServers, type MailServers } from '../servers';
import { GOOGLE_MAIL_SCOPE, GoogleAuthority, type GoogleServiceAccount } from '../servers/google';
import { connectOAuth2Account, startPackagedN8n, Teardown } from './harness';
import { withImap } from './imap-folder';
import { isFinished, type N8n, type StoredExecution, waitFor } from './n8n';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';
const OAUTH_CLIENT_ID = '734120962011-e2emailbox0n8n7q3ifl1o0bd2j.apps.googleusercontent.com';
const OAUTH_CLIENT_SECRET = 'GOCSPX-E2e-Delegated-Secret-4';
const TRIGGER = 'New Gmail';
const START = 'Start';

/** A workflow of a Manual Trigger ("Start") and one node after it. */
function manualWorkflow(name: string, node: Record<string, unknown>): Record<string, unknown> {
	const nodeName = node.name as string;
	return {
		name,
		active: false,
		nodes: [
			{ id: `7a2c4e60-1b3d-4f5a-9c7e-${String(Math.floor(Math.random() * 1e12)).padStart(12, '0')}`, name: START, type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{ id: `7a2c4e60-1b3d-4f5a-9c7f-${String(Math.floor(Math.random() * 1e12)).padStart(12, '0')}`, position: [300, 0], ...node },
		],
		connections: { [START]: { main: [[{ node: nodeName, type: 'main', index: 0 }]] } },
		settings: { executionOrder: 'v1' },
	};
}

/**
 * A workflow of the IMAP trigger (TRIGGER) on `parameters` and a NoOp named Done on its first
 * output; the nodes' ids are `nodeIdPrefix` followed by 01 and 02.
 */
function gmailTriggerWorkflow(name: string, nodeIdPrefix: string, parameters: Record<string, unknown>, credentials: Record<string, { id: string; name: string }>): Record<string, unknown> {
	return {
		name,
		active: false,
		nodes: [
			{ id: `${nodeIdPrefix}01`, name: TRIGGER, type: 'n8n-nodes-mailbox.mailboxImapTrigger', typeVersion: 1.3, position: [0, 0], parameters, credentials },
			{ id: `${nodeIdPrefix}02`, name: 'Done', type: 'n8n-nodes-base.noOp', typeVersion: 1, position: [300, 0], parameters: {} },
		],
		connections: { [TRIGGER]: { main: [[{ node: 'Done', type: 'main', index: 0 }], []] } },
		settings: { executionOrder: 'v1' },
	};
}

describe('Google Workspace sign-in in real n8n', () => {
	const teardown = new Teardown();
	let servers: MailServers;
	let authority: GoogleAuthority;
	let n8n: N8n;
	let account: GoogleServiceAccount;
	let serviceAccountId: string;
	let delegatedId: string;

	const serviceAccountData = () => ({
		keyInput: 'json',
		serviceAccountKey: authority.keyFile(account),
		mailbox: ALICE,
		imapHost: '127.0.0.1',
		imapPort: servers.ports.imaps,
		// the capture's plain port offers STARTTLS: any port but 465 means STARTTLS to the credential
		smtpHost: '127.0.0.1',
		smtpPort: servers.ports.smtp,
	});

	/** Saves a workflow through the REST API (as the editor does); returns its id and version. */
	const createWorkflow = async (workflow: Record<string, unknown>): Promise<{ id: string; versionId: string }> => {
		const res = await n8n.rest('POST', '/rest/workflows', workflow);
		if (res.status !== 200) throw new Error(`creating workflow "${String(workflow.name)}": HTTP ${res.status} ${JSON.stringify(res.json)}`);
		const { id, versionId } = (res.json as { data: { id: string; versionId: string } }).data;
		return { id, versionId };
	};

	/**
	 * The editor's "Execute workflow" from the Manual Trigger: n8n runs the workflow itself (with
	 * the credential overwrites it loaded) and saves the execution. Resolves with the finished
	 * execution as stored, and its data as the REST API gives it (a flatted string: every value in
	 * the run, for the secret checks).
	 */
	const runManually = async (workflowId: string): Promise<{ execution: StoredExecution; rawData: string }> => {
		const res = await n8n.rest('POST', `/rest/workflows/${workflowId}/run`, { triggerToStartFrom: { name: START } });
		const executionId = (res.json as { data?: { executionId?: string } }).data?.executionId;
		if (res.status !== 200 || !executionId) throw new Error(`running workflow ${workflowId}: HTTP ${res.status} ${JSON.stringify(res.json)}`);
		const execution = await waitFor(`execution ${executionId} to finish`, async () => {
			const found = (await n8n.executions(workflowId)).executions.find((e) => e.id === String(executionId));
			return found && isFinished(found) ? found : undefined;
		});
		const stored = await n8n.rest('GET', `/rest/executions/${executionId}`);
		if (stored.status !== 200) throw new Error(`GET /rest/executions/${executionId}: HTTP ${stored.status} ${JSON.stringify(stored.json)}`);
		return { execution, rawData: JSON.stringify(stored.json) };
	};

	/**
	 * Send Email (node `node`) in a workflow of its own, from alice to bob through the SMTP server of
	 * the Google credential `credentials` names, run as the editor runs it. Gives the run, and the
	 * number of alice's Sent messages and of the mails the capture server had before it.
	 */
	const sendToBob = async (
		node: string,
		workflowName: string,
		authentication: string,
		subject: string,
		credentials: Record<string, { id: string; name: string }>,
	) => {
		const { id } = await createWorkflow(
			manualWorkflow(workflowName, {
				name: node,
				type: 'n8n-nodes-mailbox.mailboxSend',
				typeVersion: 1,
				parameters: {
					sendVia: 'smtp',
					authentication,
					fromEmail: ALICE,
					toEmail: BOB,
					subject,
					emailFormat: 'text',
					text: 'Hallo Bob',
					reply: false,
					// set before switching to Google: Gmail keeps the copy, the node must not append one
					saveToSent: true,
					options: {},
				},
				credentials,
			}),
		);
		const sentBefore = await sentCount();
		const before = servers.received.length;
		return { ...(await runManually(id)), sentBefore, before };
	};

	const okGrants = (grantType: 'jwt-bearer' | 'authorization_code' | 'refresh_token') => authority.grants.filter((g) => g.grantType === grantType && g.ok);
	const sentCount = () => withImap(servers, 'alice', async (imap) => {
		const status = await imap.status('[Gmail]/Sent Mail', { messages: true });
		return (status && status.messages) ?? 0;
	});

	beforeAll(async () => {
		// shaped like Gmail: [Gmail]/… folders with their SPECIAL-USE roles
		servers = teardown.add(await startMailServers({ gmail: true }), (s) => s.stop());
		const tls = { key: fs.readFileSync(servers.dovecot.keyPath), cert: fs.readFileSync(servers.certPath) };
		authority = teardown.add(
			await new GoogleAuthority(
				tls,
				(user, lifetime) => servers.oauth.issueToken(user, lifetime),
				(token) => servers.oauth.tokenUser(token),
			).start(),
			(a) => a.stop(),
		);
		authority.addDomainUser(ALICE);
		authority.addDomainUser(BOB);
		account = authority.createServiceAccount('n8n-mail');
		authority.registerOAuthClient({ clientId: OAUTH_CLIENT_ID, clientSecret: OAUTH_CLIENT_SECRET, user: ALICE });

		({ n8n } = await startPackagedN8n(teardown, 'google', {
			env: {
				// n8n trusts the authority's and the mail servers' test certificate like a company CA
				NODE_EXTRA_CA_CERTS: servers.certPath,
				// the delegated credential's hidden Google URLs, pointed at the local authority
				CREDENTIALS_OVERWRITE_DATA: JSON.stringify({ mailboxGoogleOAuth2Api: { authUrl: authority.authUrl, accessTokenUrl: authority.tokenUrl } }),
			},
		}));
		await n8n.start();
		await n8n.setupOwner();
	});

	afterAll(() => teardown.run());

	describe('service account with domain-wide delegation', () => {
		it('credential Test: names the missing delegation (client ID, scope), then OK with the Inbox counts', async () => {
			const created = await n8n.rest('POST', '/rest/credentials', { name: 'Alice (Workspace service account)', type: 'mailboxGoogleServiceAccountApi', data: serviceAccountData() });
			expect(created.status).toBe(200);
			serviceAccountId = (created.json as { data: { id: string } }).data.id;
			const credential = { id: serviceAccountId, name: 'Alice (Workspace service account)', type: 'mailboxGoogleServiceAccountApi', data: serviceAccountData() };

			const refused = await n8n.testCredential(credential);
			expect(refused.status).toBe('Error');
			expect(refused.message).toContain('domain-wide delegation');
			expect(refused.message).toContain(account.clientId);
			expect(refused.message).toContain(GOOGLE_MAIL_SCOPE);
			expect(refused.message).toContain(ALICE);
			expect(authority.grants).toEqual([expect.objectContaining({ grantType: 'jwt-bearer', clientId: account.clientId, sub: ALICE, scope: GOOGLE_MAIL_SCOPE, ok: false, error: 'unauthorized_client' })]);

			// the Workspace admin adds the client ID with the scope (Admin console → Domain-wide delegation)
			authority.authorizeDelegation(account.clientId, [GOOGLE_MAIL_SCOPE]);
			const ok = await n8n.testCredential(credential);
			expect(ok.status).toBe('OK');
			expect(ok.message).toMatch(new RegExp(`^Connected to 127\\.0\\.0\\.1:${servers.ports.imaps} \\(SSL/TLS\\)`));
			expect(ok.message).toContain(`logged in as "${ALICE}"`);
			expect(ok.message).toMatch(/INBOX has \d+ messages?, \d+ unseen/);
			expect(okGrants('jwt-bearer')).toEqual([expect.objectContaining({ clientId: account.clientId, sub: ALICE, scope: GOOGLE_MAIL_SCOPE })]);
			const texts = JSON.stringify([refused, ok]);
			expect(findSecrets(texts, [account.privateKey, okGrants('jwt-bearer')[0].accessToken as string])).toEqual([]);
		});

		it('IMAP trigger, activated: a message delivered into alice\'s INBOX starts exactly one execution with its subject, then goes to Gmail\'s Trash', async () => {
			const { id, versionId } = await createWorkflow(
				gmailTriggerWorkflow(
					'Gmail trigger (service account) e2e',
					'7a2c4e60-1b3d-4f5a-9c7e-0000000001',
					// Delete: on Gmail (known from the Google sign-in) processed mail is moved to Trash, as expunging only removes a label
					{ authentication: 'googleServiceAccount', watch: 'selected', folders: ['INBOX'], firstActivation: 'new', afterProcessing: 'delete', mode: 'idle', pollMinutes: 15, options: {} },
					{ mailboxGoogleServiceAccountApi: { id: serviceAccountId, name: 'Alice (Workspace service account)' } },
				),
			);
			const activated = await n8n.rest('POST', `/rest/workflows/${id}/activate`, { versionId });
			expect(activated.status).toBe(200);
			// the trigger is active once its state (UIDVALIDITY and cursor of INBOX) is saved
			await n8n.waitForTriggerState(id, 'INBOX');

			const deliver = (n: number, subject: string) =>
				withImap(servers, 'alice', (imap) =>
					imap.append('INBOX', `From: dana@fabrikam.test\r\nTo: ${ALICE}\r\nSubject: ${subject}\r\nMessage-ID: <gmail-e2e-${n}@fabrikam.test>\r\nDate: Sun, 06 Dec 2026 09:00:00 +0000\r\n\r\nHello Alice, message ${n}.\r\n`, []),
				);
			const trigger = async () => (await n8n.executions(id)).executions.filter((e) => e.mode === 'trigger');
			await deliver(1, 'Angebot über Google Workspace');
			const first = await waitFor('the execution of the delivered message', async () => {
				const done = (await trigger()).filter((e) => e.status === 'success');
				return done.length >= 1 ? done : undefined;
			});
			expect(first).toHaveLength(1);
			expect(first[0].output[TRIGGER]).toEqual([expect.objectContaining({ subject: 'Angebot über Google Workspace', messageId: '<gmail-e2e-1@fabrikam.test>', folder: 'INBOX' })]);

			// a second message as a barrier: the trigger hands INBOX's messages over in UID order, so
			// once its run is done, a second run of the first message would have been started already
			await deliver(2, 'Second message');
			const all = await waitFor('the run of the second message, and no run unfinished', async () => {
				const runs = await trigger();
				return runs.some((e) => e.output[TRIGGER]?.some((item) => item.messageId === '<gmail-e2e-2@fabrikam.test>')) && runs.every(isFinished) ? runs : undefined;
			});
			expect(all.map((e) => e.status)).toEqual(['success', 'success']);
			expect(all.flatMap((e) => (e.output[TRIGGER] ?? []).map((item) => item.subject))).toEqual(['Angebot über Google Workspace', 'Second message']);

			// every token came from the JWT bearer grant, as alice, for Gmail's scope
			expect(okGrants('jwt-bearer').length).toBeGreaterThanOrEqual(1);
			for (const grant of authority.grants.filter((g) => g.ok)) expect(grant).toMatchObject({ grantType: 'jwt-bearer', clientId: account.clientId, sub: ALICE, scope: GOOGLE_MAIL_SCOPE });
			const assertions = authority.requests.filter((r) => r.claims);
			for (const r of assertions) expect(r.claims).toMatchObject({ iss: account.clientEmail, sub: ALICE, aud: authority.tokenUrl, scope: GOOGLE_MAIL_SCOPE });
			await servers.dovecotLogMatching([/Login: user=<alice@example\.test>, method=(XOAUTH2|OAUTHBEARER),/]);

			// both processed messages are in Gmail's Trash, none left in INBOX
			const count = async (imap: ImapFlow, folder: string) => {
				const status = await imap.status(folder, { messages: true });
				return (status && status.messages) ?? 0;
			};
			const where = async () => withImap(servers, 'alice', async (imap) => [await count(imap, 'INBOX'), await count(imap, '[Gmail]/Trash')]);
			expect(await waitFor('the processed messages in Trash', async () => {
				const counts = await where();
				return counts[1] === 2 ? counts : undefined;
			})).toEqual([0, 2]);

			const deactivated = await n8n.rest('POST', `/rest/workflows/${id}/deactivate`, {});
			expect(deactivated.status).toBe(200);
		});

		it('Send Email: one mail through the credential\'s SMTP server with XOAUTH2 as alice, no Sent copy, no secret in the run', async () => {
			const send = 'Send Email';
			const { execution, rawData, sentBefore, before } = await sendToBob(send, 'Send with the service account e2e', 'googleServiceAccount', 'Sent by the service account', {
				mailboxGoogleServiceAccountApi: { id: serviceAccountId, name: 'Alice (Workspace service account)' },
			});
			expect(execution.error).toBeUndefined();
			expect(execution.status).toBe('success');
			// the run has ended, so the mail is there already: the bound only ends a hang
			const mails = (await servers.waitForMail(before + 1, 120_000)).slice(before);
			expect(mails).toHaveLength(1);
			expect(mails[0]).toMatchObject({ authUser: ALICE, authMethod: 'XOAUTH2', mailFrom: ALICE, rcptTo: [BOB], secure: true, port: servers.ports.smtp });
			expect(mails[0].raw.toString('utf8')).toContain('Subject: Sent by the service account');
			expect(execution.output[send]).toEqual([expect.objectContaining({ accepted: [BOB], serverSource: 'credential', sentCopy: null })]);
			expect(await sentCount()).toBe(sentBefore);
			expect(servers.received.length).toBe(before + 1);

			// the run data holds what the node sent and output, and none of the secrets
			expect(rawData).toContain('Sent by the service account');
			const tokens = authority.grants.filter((g) => g.accessToken).map((g) => g.accessToken as string);
			expect(findSecrets(rawData, [account.privateKey, ...tokens])).toEqual([]);
			expect(rawData).not.toContain('PRIVATE KEY');
		});
	});

	describe('delegated Google OAuth2 (n8n\'s OAuth2 flow, URLs from credential overwrites)', () => {
		let listId: string;

		it('connects through n8n\'s OAuth2 flow: Gmail\'s scope, offline access with consent, n8n\'s callback', async () => {
			const created = await n8n.rest('POST', '/rest/credentials', {
				name: 'Alice (Google, delegated)',
				type: 'mailboxGoogleOAuth2Api',
				data: {
					clientId: OAUTH_CLIENT_ID,
					clientSecret: OAUTH_CLIENT_SECRET,
					mailbox: ALICE,
					imapHost: '127.0.0.1',
					imapPort: servers.ports.imaps,
					smtpHost: '127.0.0.1',
					smtpPort: servers.ports.smtp,
				},
			});
			expect(created.status).toBe(200);
			delegatedId = (created.json as { data: { id: string } }).data.id;

			const { auth, callback } = await connectOAuth2Account(n8n, delegatedId, servers.certPath);
			expect(`${auth.origin}${auth.pathname}`).toBe(authority.authUrl);
			expect(auth.searchParams.get('scope')).toBe(GOOGLE_MAIL_SCOPE);
			expect(auth.searchParams.get('access_type')).toBe('offline');
			expect(auth.searchParams.get('prompt')).toBe('consent');
			expect(auth.searchParams.get('client_id')).toBe(OAUTH_CLIENT_ID);
			expect(auth.searchParams.get('response_type')).toBe('code');
			expect(auth.searchParams.get('redirect_uri')).toBe(`${n8n.url}/rest/oauth2-credential/callback`);
			expect(callback.status).toBe(200);
			expect(callback.body).not.toMatch(/error/i);
			const codeGrants = okGrants('authorization_code');
			expect(codeGrants).toEqual([expect.objectContaining({ clientId: OAUTH_CLIENT_ID, scope: GOOGLE_MAIL_SCOPE })]);
			expect(servers.oauth.tokenUser(codeGrants[0].accessToken as string)).toBe(ALICE);

			// what the editor shows as "Account connected"
			const stored = await n8n.rest('GET', `/rest/credentials/${delegatedId}?includeData=true`);
			expect(stored.status).toBe(200);
			expect((stored.json as { data: { data: Record<string, unknown> } }).data.data.oauthTokenData).toBeTruthy();
		});

		it('the Mailbox node lists INBOX with the delegated token (no refresh needed)', async () => {
			({ id: listId } = await createWorkflow(
				manualWorkflow('List folders with the delegated Google token e2e', {
					name: 'List folders',
					type: 'n8n-nodes-mailbox.mailbox',
					typeVersion: 1,
					parameters: { authentication: 'googleOAuth2', resource: 'folder', operation: 'list', options: { counts: true } },
					credentials: { mailboxGoogleOAuth2Api: { id: delegatedId, name: 'Alice (Google, delegated)' } },
				}),
			));
			const { execution } = await runManually(listId);
			expect(execution.error).toBeUndefined();
			expect(execution.output['List folders'].map((f) => f.path)).toEqual(expect.arrayContaining(['INBOX', '[Gmail]/Sent Mail', '[Gmail]/Trash']));
			expect(okGrants('refresh_token')).toHaveLength(0);
		});

		it('a token the server rejects is refreshed by n8n at the overwritten token URL; Google\'s refresh token is kept', async () => {
			servers.oauth.revoke(okGrants('authorization_code')[0].accessToken as string);
			const { execution, rawData } = await runManually(listId);
			expect(execution.error).toBeUndefined();
			expect(execution.output['List folders'].map((f) => f.path)).toContain('INBOX');
			expect(okGrants('refresh_token')).toEqual([expect.objectContaining({ clientId: OAUTH_CLIENT_ID, scope: GOOGLE_MAIL_SCOPE })]);

			// Google's refresh answer has no refresh token: n8n must keep the one it has. Revoked
			// again, the token is refreshed again, which works only with the stored refresh token.
			servers.oauth.revoke(okGrants('refresh_token')[0].accessToken as string);
			const again = await runManually(listId);
			expect(again.execution.error).toBeUndefined();
			expect(again.execution.output['List folders'].map((f) => f.path)).toContain('INBOX');
			expect(okGrants('refresh_token')).toHaveLength(2);
			expect(authority.grants.filter((g) => !g.ok && g.grantType !== 'jwt-bearer')).toEqual([]);

			const tokens = authority.grants.filter((g) => g.accessToken).map((g) => g.accessToken as string);
			expect(findSecrets(rawData + again.rawData, [OAUTH_CLIENT_SECRET, ...tokens])).toEqual([]);
		});

		it('IMAP trigger with the delegated credential, activated: a delivered message starts one execution; a token rejected meanwhile is refreshed by n8n', async () => {
			const { id, versionId } = await createWorkflow(
				gmailTriggerWorkflow(
					'Gmail trigger (delegated) e2e',
					'7a2c4e60-1b3d-4f5a-9c7e-0000000003',
					{ authentication: 'googleOAuth2', watch: 'selected', folders: ['INBOX'], firstActivation: 'new', afterProcessing: 'markRead', mode: 'poll', pollMinutes: 0.1, options: {} },
					{ mailboxGoogleOAuth2Api: { id: delegatedId, name: 'Alice (Google, delegated)' } },
				),
			);
			// the token n8n holds stops working before its expiry: the trigger's first login needs n8n's refresh
			servers.oauth.revoke(okGrants('refresh_token').at(-1)?.accessToken as string);
			const refreshes = okGrants('refresh_token').length;
			const activated = await n8n.rest('POST', `/rest/workflows/${id}/activate`, { versionId });
			expect(activated.status).toBe(200);
			await n8n.waitForTriggerState(id, 'INBOX');
			expect(okGrants('refresh_token').length).toBe(refreshes + 1);

			await withImap(servers, 'alice', (imap) =>
				imap.append('INBOX', `From: dana@fabrikam.test\r\nTo: ${ALICE}\r\nSubject: Delegated delivery\r\nMessage-ID: <gmail-e2e-delegated@fabrikam.test>\r\nDate: Sun, 06 Dec 2026 10:00:00 +0000\r\n\r\nHello Alice.\r\n`, []),
			);
			const runs = await waitFor('the execution of the delivered message', async () => {
				const done = (await n8n.executions(id)).executions.filter((e) => e.mode === 'trigger' && isFinished(e));
				return done.length >= 1 ? done : undefined;
			});
			expect(runs.map((e) => e.status)).toEqual(['success']);
			expect(runs[0].output[TRIGGER]).toEqual([expect.objectContaining({ subject: 'Delegated delivery', messageId: '<gmail-e2e-delegated@fabrikam.test>', folder: 'INBOX' })]);
			// marked read only after the run succeeded
			await waitFor('the message marked read', async () =>
				withImap(servers, 'alice', async (imap) => {
					const status = await imap.status('INBOX', { unseen: true });
					return status && status.unseen === 0 ? true : undefined;
				}),
			);
			const deactivated = await n8n.rest('POST', `/rest/workflows/${id}/deactivate`, {});
			expect(deactivated.status).toBe(200);
		});

		it('Send Email with the delegated credential: one mail with XOAUTH2 as alice, no Sent copy', async () => {
			const send = 'Send Email';
			const { execution, rawData, sentBefore, before } = await sendToBob(send, 'Send with the delegated Google token e2e', 'googleOAuth2', 'Sent with the delegated Google token', {
				mailboxGoogleOAuth2Api: { id: delegatedId, name: 'Alice (Google, delegated)' },
			});
			expect(execution.error).toBeUndefined();
			expect(execution.status).toBe('success');
			const mails = (await servers.waitForMail(before + 1, 120_000)).slice(before);
			expect(mails).toHaveLength(1);
			expect(mails[0]).toMatchObject({ authUser: ALICE, authMethod: 'XOAUTH2', mailFrom: ALICE, rcptTo: [BOB], secure: true });
			expect(execution.output[send]).toEqual([expect.objectContaining({ accepted: [BOB], serverSource: 'credential', sentCopy: null })]);
			expect(await sentCount()).toBe(sentBefore);
			expect(servers.received.length).toBe(before + 1);
			expect(rawData).toContain('Sent with the delegated Google token');
			const tokens = authority.grants.filter((g) => g.accessToken).map((g) => g.accessToken as string);
			expect(findSecrets(rawData, [OAUTH_CLIENT_SECRET, ...tokens])).toEqual([]);
		});
	});
});
