/**
 * The Mailbox Exchange Trigger with Access Via: Microsoft Graph in a real n8n 2.41.1 against the
 * local HTTPS Graph endpoint: a Microsoft 365 app token for Graph from MSAL (local Microsoft-style
 * authority, scope https://graph.microsoft.com/.default) opens a shared mailbox under
 * /users/{address}, every new message starts the workflow once, parsed like the IMAP trigger's items
 * with Graph's id, conversation and categories, is marked read only after the run, and a restart of
 * n8n runs nothing twice.
 */
import { GraphServer } from '../servers/graph';
import type { MicrosoftAuthority } from '../servers/microsoft';
import { receivedMessageIds, startPackagedN8n, successfulTriggerRuns, Teardown, triggerRunsAfterPolls, triggerWorkflow } from './harness';
import { microsoftAppCredential, SHARED, sharedMailboxMessage, startMicrosoftApp } from './microsoft-app';
import { type N8n, type StoredExecution, waitFor } from './n8n';

const WORKFLOW_ID = 'mbxE2eGraphTrigger';
const TRIGGER = 'New Microsoft 365 mail';
const APP = { clientId: 'graph-app', clientSecret: 'Graph-App-Secret-7' };

const message = (n: number): Buffer => sharedMailboxMessage(n, 'Graph', 'graph-e2e');

describe('Mailbox Exchange Trigger with Access Via: Microsoft Graph in real n8n', () => {
	const teardown = new Teardown();
	let authority: MicrosoftAuthority;
	let graph: GraphServer;
	let n8n: N8n;

	const successful = (): Promise<StoredExecution[]> => successfulTriggerRuns(n8n, WORKFLOW_ID);
	const receivedIds = (executions: StoredExecution[]) => receivedMessageIds(executions, TRIGGER);

	beforeAll(async () => {
		const started = await startMicrosoftApp(teardown, APP);
		const { servers, tls } = started;
		authority = started.authority;
		// the app's tokens act as "alice", who may open the shared mailbox; Graph takes only tokens for Graph
		graph = teardown.add(
			await GraphServer.start({
				tls,
				tokenInfo: (token) => {
					const user = servers.oauth.tokenUser(token);
					return user ? { user, audience: authority.tokenAudience(token) } : undefined;
				},
				mailboxes: ['alice@contoso.test', SHARED],
				access: { alice: [SHARED] },
			}),
			(g) => g.stop(),
		);
		({ n8n } = await startPackagedN8n(teardown, 'graph', { env: { NODE_EXTRA_CA_CERTS: servers.certPath } }));
		await n8n.importCredentials([microsoftAppCredential('mbxE2eGraphApp', 'Microsoft 365 app (Graph)', APP, authority)]);
		await n8n.importWorkflow(
			triggerWorkflow(WORKFLOW_ID, 'Graph trigger e2e', '4d1d2e3f-4a50-4b61-8c72-9d0e1f2a3b', {
				name: TRIGGER,
				type: 'n8n-nodes-mailbox.mailboxEwsTrigger',
				typeVersion: 1.2,
				parameters: { accessVia: 'graph', authentication: 'microsoftApp', mailbox: SHARED, graphUrl: graph.url, folders: 'Inbox', firstActivation: 'new', afterProcessing: 'markRead', pollMinutes: 0.1, options: {} },
				credentials: { mailboxMicrosoftAppApi: { id: 'mbxE2eGraphApp', name: 'Microsoft 365 app (Graph)' } },
			}),
		);
		await n8n.publish(WORKFLOW_ID);
	});

	afterAll(() => teardown.run());

	it('starts the workflow once per new message in the shared mailbox, parsed, marked read after the run', async () => {
		graph.addMessage(SHARED, 'inbox', message(1)); // there before the first activation: not received
		await n8n.start();
		await n8n.waitForTriggerState(WORKFLOW_ID, 'watch');
		for (const n of [2, 3, 4]) graph.addMessage(SHARED, 'inbox', message(n), { categories: ['Kunde'] });
		// (node version 1.2: a run carries up to 20 messages)
		const runs = await waitFor('three messages run', async () => {
			const done = await successful();
			return receivedIds(done).length >= 3 ? done : undefined;
		});
		expect(receivedIds(runs)).toEqual(['<graph-e2e-2@example.test>', '<graph-e2e-3@example.test>', '<graph-e2e-4@example.test>']);
		const first = runs.flatMap((e) => e.output[TRIGGER])[0];
		expect(first).toMatchObject({
			subject: expect.stringMatching(/^Anfrage \d über Graph$/),
			from: { value: [{ address: 'kundin@example.test', name: 'Kundin Müller' }] },
			text: expect.stringMatching(/^Guten Tag, das ist Nachricht \d\./),
			attachments: [expect.objectContaining({ filename: 'liste.csv', contentType: 'text/csv' })],
		});
		expect(first).toMatchObject({ categories: ['Kunde'], mailbox: SHARED, folder: 'Inbox' });
		const ids = graph.folderMessages(SHARED, 'inbox').map((m) => m.immutableId);
		expect(ids).toContain(first.id);
		expect(typeof first.conversationId).toBe('string');

		await waitFor('the three to be marked read', async () => {
			const read = graph.folderMessages(SHARED, 'inbox').filter((m) => m.isRead);
			return read.length >= 3 ? read : undefined;
		});
		const byId = Object.fromEntries(graph.folderMessages(SHARED, 'inbox').map((m) => [m.internetMessageId, m.isRead]));
		expect(byId).toEqual({ '<graph-e2e-1@example.test>': false, '<graph-e2e-2@example.test>': true, '<graph-e2e-3@example.test>': true, '<graph-e2e-4@example.test>': true });

		// the app's token was asked for Graph; every request acted on the shared mailbox under /users/{address} with it
		expect(authority.requests.filter((r) => r.grantType === 'client_credentials').map((r) => r.scope)).toContain('https://graph.microsoft.com/.default');
		const deltas = graph.allRequests.filter((r) => r.path.endsWith('/messages/delta'));
		expect(deltas.length).toBeGreaterThan(0);
		// (the marks of a run go in a $batch: its envelope names no mailbox, its requests' paths are relative to /v1.0)
		const acting = graph.allRequests.filter((r) => !r.batch);
		for (const r of acting) expect(r).toMatchObject({ authorization: 'bearer', principal: 'alice', mailbox: SHARED });
		for (const r of acting) expect(`${r.batchId ? '/v1.0' : ''}${r.path}`.startsWith(`/v1.0/users/${SHARED}/`)).toBe(true);
		expect(graph.requests.filter((r) => r.batch).every((r) => r.path === '/v1.0/$batch' && r.authorization === 'bearer')).toBe(true);
		expect(JSON.stringify(graph.allRequests)).not.toContain('Graph-App-Secret-7');
	});

	it('runs nothing twice after an n8n restart and receives what came meanwhile', async () => {
		await n8n.stop();
		graph.addMessage(SHARED, 'inbox', message(5));
		await n8n.start();
		await waitFor('four messages run', async () => {
			const done = await successful();
			return receivedIds(done).length >= 4 ? done : undefined;
		});
		// A few more polls, counted at the Graph endpoint: polls run one after another, each hands what
		// it found to the trigger before it ends, and the next starts a poll interval later. Once the
		// second delta request from now has arrived, a whole poll ran after the fourth message and what it
		// found was handed over; then every run started so far has to end.
		const all = await triggerRunsAfterPolls(n8n, WORKFLOW_ID, () => graph.allRequests.filter((r) => r.path.endsWith('/messages/delta')).length, 'delta requests');
		expect(receivedIds(all)).toEqual(['<graph-e2e-2@example.test>', '<graph-e2e-3@example.test>', '<graph-e2e-4@example.test>', '<graph-e2e-5@example.test>']);
		expect(all.length).toBeLessThanOrEqual(4);
	});
});
