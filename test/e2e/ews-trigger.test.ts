/**
 * The Mailbox EWS Trigger in a real n8n 2.41.1 against the local HTTPS EWS endpoint: a Microsoft
 * 365 app token from MSAL (local Microsoft-style authority) opens a shared mailbox by impersonation,
 * every new message starts the workflow once, parsed like the IMAP trigger's items, is marked read
 * only after the run, and a restart of n8n runs nothing twice.
 */
import { EwsServer } from '../servers/ews';
import { receivedMessageIds, startPackagedN8n, successfulTriggerRuns, Teardown, triggerRunsAfterPolls, triggerWorkflow } from './harness';
import { microsoftAppCredential, SHARED, sharedMailboxMessage, startMicrosoftApp } from './microsoft-app';
import { type N8n, type StoredExecution, waitFor } from './n8n';

const WORKFLOW_ID = 'mbxE2eEwsTrigger';
const TRIGGER = 'New Exchange mail';
const APP = { clientId: 'ews-app', clientSecret: 'Ews-App-Secret-7' };

const message = (n: number): Buffer => sharedMailboxMessage(n, 'EWS', 'ews-e2e');

describe('Mailbox EWS Trigger in real n8n', () => {
	const teardown = new Teardown();
	let ews: EwsServer;
	let n8n: N8n;

	const successful = (): Promise<StoredExecution[]> => successfulTriggerRuns(n8n, WORKFLOW_ID);
	const receivedIds = (executions: StoredExecution[]) => receivedMessageIds(executions, TRIGGER);

	beforeAll(async () => {
		const { servers, tls, authority } = await startMicrosoftApp(teardown, APP);
		// the app's tokens act as "alice", who may impersonate the shared mailbox
		ews = teardown.add(await EwsServer.start({ tls, tokenUser: (token) => servers.oauth.tokenUser(token), mailboxes: ['alice@contoso.test', SHARED], access: { alice: [SHARED] } }), (e) => e.stop());
		({ n8n } = await startPackagedN8n(teardown, 'ews', { env: { NODE_EXTRA_CA_CERTS: servers.certPath } }));
		await n8n.importCredentials([microsoftAppCredential('mbxE2eEwsApp', 'Microsoft 365 app (EWS)', APP, authority)]);
		await n8n.importWorkflow(
			triggerWorkflow(WORKFLOW_ID, 'EWS trigger e2e', '3c1d2e3f-4a50-4b61-8c72-9d0e1f2a3b', {
				name: TRIGGER,
				type: 'n8n-nodes-mailbox.mailboxEwsTrigger',
				typeVersion: 1,
				parameters: { authentication: 'microsoftApp', mailbox: SHARED, ewsUrl: ews.url, folders: 'Inbox', firstActivation: 'new', afterProcessing: 'markRead', pollMinutes: 0.1, options: {} },
				credentials: { mailboxMicrosoftAppApi: { id: 'mbxE2eEwsApp', name: 'Microsoft 365 app (EWS)' } },
			}),
		);
		await n8n.publish(WORKFLOW_ID);
	});

	afterAll(() => teardown.run());

	it('starts the workflow once per new message in the shared mailbox, parsed, marked read after the run', async () => {
		ews.addMessage(SHARED, 'inbox', message(1)); // there before the first activation: not received
		await n8n.start();
		await n8n.waitForTriggerState(WORKFLOW_ID, 'watch');
		for (const n of [2, 3, 4]) ews.addMessage(SHARED, 'inbox', message(n));
		const runs = await waitFor('three executions', async () => {
			const done = await successful();
			return done.length >= 3 ? done : undefined;
		});
		expect(receivedIds(runs)).toEqual(['<ews-e2e-2@example.test>', '<ews-e2e-3@example.test>', '<ews-e2e-4@example.test>']);
		const first = runs.flatMap((e) => e.output[TRIGGER])[0];
		expect(first).toMatchObject({
			subject: expect.stringMatching(/^Anfrage \d über EWS$/),
			from: { value: [{ address: 'kundin@example.test', name: 'Kundin Müller' }] },
			text: expect.stringMatching(/^Guten Tag, das ist Nachricht \d\./),
			attachments: [expect.objectContaining({ filename: 'liste.csv', contentType: 'text/csv' })],
		});
		expect(typeof first.itemId).toBe('string');

		await waitFor('the three to be marked read', async () => {
			const read = ews.folderItems(SHARED, 'inbox').filter((item) => item.isRead);
			return read.length >= 3 ? read : undefined;
		});
		const byId = Object.fromEntries(ews.folderItems(SHARED, 'inbox').map((item) => [item.messageId, item.isRead]));
		expect(byId).toEqual({ '<ews-e2e-1@example.test>': false, '<ews-e2e-2@example.test>': true, '<ews-e2e-3@example.test>': true, '<ews-e2e-4@example.test>': true });

		// every request acted on the shared mailbox by impersonation, with X-AnchorMailbox and a Bearer token
		const syncs = ews.requests.filter((r) => r.operation === 'SyncFolderItems');
		expect(syncs.length).toBeGreaterThan(0);
		for (const r of syncs) expect(r).toMatchObject({ impersonated: SHARED, anchorMailbox: SHARED, authorization: 'bearer' });
		expect(JSON.stringify(ews.requests)).not.toContain('Ews-App-Secret-7');
	});

	it('runs nothing twice after an n8n restart and receives what came meanwhile', async () => {
		await n8n.stop();
		ews.addMessage(SHARED, 'inbox', message(5));
		await n8n.start();
		await waitFor('four executions', async () => {
			const done = await successful();
			return done.length >= 4 ? done : undefined;
		});
		// A few more polls, counted at the EWS server: polls run one after another, each hands what
		// it found to the trigger before it ends, and the next starts a poll interval later. Once the
		// second SyncFolderItems from now has arrived, a whole poll ran after the fourth run and
		// what it found was handed over; then every run started so far has to end.
		const all = await triggerRunsAfterPolls(n8n, WORKFLOW_ID, () => ews.requests.filter((r) => r.operation === 'SyncFolderItems').length, 'SyncFolderItems');
		expect(receivedIds(all)).toEqual(['<ews-e2e-2@example.test>', '<ews-e2e-3@example.test>', '<ews-e2e-4@example.test>', '<ews-e2e-5@example.test>']);
		expect(all).toHaveLength(4);
	});
});
