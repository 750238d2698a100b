/**
 * The Mailbox node's message actions in a real n8n 2.41.1: a published workflow "IMAP trigger ->
 * Filter (subject has the marker) -> Mailbox: Mark as Spam" moves exactly the marked message into
 * Junk, and the test Dovecot's IMAPSieve antispam learns it (its learn log names the Message-ID).
 * A manual workflow then moves it back with "Mark as Not Spam", taking the message from a Search
 * in Junk, and the learn log shows the ham.
 */
import { startMailServers, type MailServers } from '../servers';
import { startPackagedN8n, successfulTriggerRuns, Teardown } from './harness';
import { messageIdsIn, withImap } from './imap-folder';
import { type N8n, type StoredExecution, waitFor } from './n8n';

const SPAM_WORKFLOW = 'mbxE2eMarkSpam';
const HAM_WORKFLOW = 'mbxE2eMarkHam';
const TRIGGER = 'New mail';
const SPAM = 'Mark as spam';
const MARKER = '[SPAM-TEST]';

function message(id: string, subject: string): string {
	return [
		'From: "Gewinnspiel" <gewinn@spam.example.test>',
		'To: alice@example.test',
		`Subject: ${subject}`,
		`Message-ID: <${id}@example.test>`,
		'Date: Tue, 24 Nov 2026 10:00:00 +0100',
		'MIME-Version: 1.0',
		'Content-Type: text/plain; charset=utf-8',
		'Content-Transfer-Encoding: 8bit',
		'',
		'Sie haben gewonnen!',
		'',
	].join('\r\n');
}

describe('Mailbox actions in real n8n', () => {
	const teardown = new Teardown();
	let servers: MailServers;
	let n8n: N8n;
	const credentials = { mailboxImapApi: { id: 'mbxE2eActionsCred', name: 'alice (IMAP)' } };

	const successful = (workflowId: string): Promise<StoredExecution[]> => successfulTriggerRuns(n8n, workflowId);
	/** The Message-IDs in one of alice's folders (a connection of its own: see withImap). */
	const idsIn = (folder: string) => withImap(servers, 'alice', (imap) => messageIdsIn(imap, folder));

	beforeAll(async () => {
		servers = teardown.add(await startMailServers(), (s) => s.stop());

		({ n8n } = await startPackagedN8n(teardown, 'actions', { env: { NODE_EXTRA_CA_CERTS: servers.certPath } }));
		await n8n.importCredentials([
			{ id: 'mbxE2eActionsCred', name: 'alice (IMAP)', type: 'mailboxImapApi', data: { host: '127.0.0.1', port: servers.ports.imaps, security: 'tls', user: 'alice', password: 'alice-pw' } },
		]);
		await n8n.importWorkflow({
			id: SPAM_WORKFLOW,
			name: 'Mark marked mail as spam e2e',
			active: false,
			nodes: [
				{
					id: '8a1c2d3e-4f50-4a61-9b72-8c9d0e1f2a01',
					name: TRIGGER,
					type: 'n8n-nodes-mailbox.mailboxImapTrigger',
					typeVersion: 1,
					position: [0, 0],
					parameters: { authentication: 'password', watch: 'selected', folders: ['INBOX'], firstActivation: 'new', afterProcessing: 'none', mode: 'idle', pollMinutes: 15, options: {} },
					credentials,
				},
				{
					id: '8a1c2d3e-4f50-4a61-9b72-8c9d0e1f2a02',
					name: 'Has marker',
					type: 'n8n-nodes-base.filter',
					typeVersion: 2,
					position: [300, 0],
					parameters: {
						conditions: {
							options: { caseSensitive: true, leftValue: '', typeValidation: 'strict' },
							conditions: [{ id: '0c5b1e8e-7d7a-4a49-8f3e-1d2c3b4a5f60', leftValue: '={{ $json.subject }}', rightValue: MARKER, operator: { type: 'string', operation: 'contains' } }],
							combinator: 'and',
						},
						options: {},
					},
				},
				{
					id: '8a1c2d3e-4f50-4a61-9b72-8c9d0e1f2a03',
					name: SPAM,
					type: 'n8n-nodes-mailbox.mailbox',
					typeVersion: 1,
					position: [600, 0],
					// Folder, UID and UIDVALIDITY default to the trigger item's fields
					parameters: { authentication: 'password', resource: 'message', operation: 'markAsSpam', options: {} },
					credentials,
				},
			],
			connections: {
				[TRIGGER]: { main: [[{ node: 'Has marker', type: 'main', index: 0 }], []] },
				'Has marker': { main: [[{ node: SPAM, type: 'main', index: 0 }]] },
			},
			settings: { executionOrder: 'v1' },
		});
		await n8n.importWorkflow({
			id: HAM_WORKFLOW,
			name: 'Mark as not spam e2e',
			active: false,
			nodes: [
				{ id: '8a1c2d3e-4f50-4a61-9b72-8c9d0e1f2a11', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				{
					id: '8a1c2d3e-4f50-4a61-9b72-8c9d0e1f2a12',
					name: 'Find in Junk',
					type: 'n8n-nodes-mailbox.mailbox',
					typeVersion: 1,
					position: [300, 0],
					parameters: { authentication: 'password', resource: 'message', operation: 'search', folder: 'Junk', filters: { subject: MARKER }, returnAll: true, output: 'headers', options: {} },
					credentials,
				},
				{
					id: '8a1c2d3e-4f50-4a61-9b72-8c9d0e1f2a13',
					name: 'Not spam',
					type: 'n8n-nodes-mailbox.mailbox',
					typeVersion: 1,
					position: [600, 0],
					parameters: { authentication: 'password', resource: 'message', operation: 'markAsNotSpam', options: {} },
					credentials,
				},
			],
			connections: {
				Start: { main: [[{ node: 'Find in Junk', type: 'main', index: 0 }]] },
				'Find in Junk': { main: [[{ node: 'Not spam', type: 'main', index: 0 }]] },
			},
			settings: { executionOrder: 'v1' },
		});
		await n8n.publish(SPAM_WORKFLOW);
	});

	afterAll(() => teardown.run());

	it('IMAP trigger -> Mailbox: Mark as Spam moves the marked message into Junk and the antispam learns it', async () => {
		await n8n.start();
		await n8n.waitForTriggerState(SPAM_WORKFLOW, 'INBOX');
		await withImap(servers, 'alice', async (imap) => {
			await imap.append('INBOX', message('harmless-1', 'Rechnung November'), []);
			await imap.append('INBOX', message('spam-1', `${MARKER} Sie haben gewonnen`), []);
		});
		const runs = await waitFor('two executions', async () => {
			const done = await successful(SPAM_WORKFLOW);
			return done.length >= 2 ? done : undefined;
		});
		const acted = runs.flatMap((e) => e.output[SPAM] ?? []);
		expect(acted).toHaveLength(1);
		expect(JSON.stringify(acted[0])).toContain('Junk');

		expect(await idsIn('INBOX')).toEqual(['<harmless-1@example.test>']);
		expect(await idsIn('Junk')).toEqual(['<spam-1@example.test>']);
		const learned = await waitFor('the learn log line', async () => {
			const lines = await servers.learnLog();
			return lines.length > 0 ? lines : undefined;
		});
		expect(learned).toHaveLength(1);
		expect(learned[0]).toMatch(/ spam user=alice mailbox=Junk cause=COPY message-id=<spam-1@example\.test>$/);
	});

	it('Search in Junk -> Mailbox: Mark as Not Spam moves it back to INBOX and the antispam learns the ham', async () => {
		await n8n.stop(); // `n8n execute` works on n8n's state
		const run = await n8n.execute(HAM_WORKFLOW);
		expect(run.error).toBeUndefined();
		expect(run.output['Find in Junk']).toHaveLength(1);
		expect(run.output['Not spam']).toHaveLength(1);
		expect(await idsIn('Junk')).toEqual([]);
		expect(await idsIn('INBOX')).toEqual(['<harmless-1@example.test>', '<spam-1@example.test>']);
		const lines = await waitFor('the ham line', async () => {
			const all = await servers.learnLog();
			return all.length >= 2 ? all : undefined;
		});
		expect(lines).toHaveLength(2);
		expect(lines[1]).toMatch(/ ham user=alice mailbox=INBOX cause=COPY message-id=<spam-1@example\.test>$/);
	});
});
