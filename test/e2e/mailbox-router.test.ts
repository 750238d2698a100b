/**
 * The Mailbox Router in a real n8n 2.41.1: a published workflow "IMAP trigger on the catch-all
 * mailbox -> Mailbox Router (deliver)" distributes mail that the test generator seeds as a
 * catch-all delivery (Delivered-To the catch-all, X-Original-To the recipient) into per-person and
 * list folders, leaves unknown recipients' mail in the catch-all, and removes delivered mail from it.
 */
import { startMailServers, type MailServers } from '../servers';
import { generateMessage } from '../fixtures/mailgen';
import { startPackagedN8n, successfulTriggerRuns, Teardown } from './harness';
import { messageIdsIn, withImap } from './imap-folder';
import { isFinished, type N8n, type StoredExecution, waitFor } from './n8n';

const WORKFLOW_ID = 'mbxE2eRouter';
const TRIGGER = 'Catch-all mail';
const ROUTER = 'Route';
const CATCH_ALL = 'catchall@firma.test';
// recipient -> where the router must put the message
const RECIPIENTS: Record<string, string> = {
	'info@firma.test': 'Inboxes/Info', // an inbox
	'Sys.Admin@firma.test': 'Inboxes/Sysadmin', // local-part redirect sys.admin -> sysadmin, an employee
	'anna@old-firma.test': 'Inboxes/Anna', // domain redirect old-firma.test -> firma.test, an employee
	'anna+rechnung@firma.test': 'Inboxes/Anna', // plus-addressing
	'vertrieb@firma.test': 'Inboxes/Vertrieb', // a distribution list
	'ghost@firma.test': 'INBOX', // unknown: stays in the catch-all
};

describe('Mailbox Router in real n8n', () => {
	const teardown = new Teardown();
	let servers: MailServers;
	let n8n: N8n;
	const generate = (index: number) => generateMessage(11, index, { attachPct: 0, catchAll: { mailbox: CATCH_ALL, recipients: Object.keys(RECIPIENTS) } });
	const messages = Array.from({ length: 12 }, (_, i) => generate(i + 20));

	const successful = (): Promise<StoredExecution[]> => successfulTriggerRuns(n8n, WORKFLOW_ID);
	const appendToCatchAll = (raw: string | Buffer) => withImap(servers, 'catchall', (imap) => imap.append('INBOX', raw, []));
	/** The Message-IDs in each folder of the catch-all mailbox, one connection for all of them (see withImap). */
	const idsIn = (folders: string[]) =>
		withImap(servers, 'catchall', async (imap) => {
			const out: Record<string, string[]> = {};
			for (const folder of folders) out[folder] = await messageIdsIn(imap, folder);
			return out;
		});

	beforeAll(async () => {
		servers = teardown.add(await startMailServers(), (s) => s.stop());

		({ n8n } = await startPackagedN8n(teardown, 'router', { env: { NODE_EXTRA_CA_CERTS: servers.certPath } }));
		const credentials = { mailboxImapApi: { id: 'mbxE2eRouterCred', name: 'catch-all (IMAP)' } };
		await n8n.importCredentials([
			{ id: 'mbxE2eRouterCred', name: 'catch-all (IMAP)', type: 'mailboxImapApi', data: { host: '127.0.0.1', port: servers.ports.imaps, security: 'tls', user: 'catchall', password: 'catchall-pw' } },
		]);
		await n8n.importWorkflow({
			id: WORKFLOW_ID,
			name: 'Catch-all router e2e',
			active: false,
			nodes: [
				{
					id: '9b1c2d3e-4f50-4a61-9b72-8c9d0e1f3a01',
					name: TRIGGER,
					type: 'n8n-nodes-mailbox.mailboxImapTrigger',
					typeVersion: 1,
					position: [0, 0],
					parameters: { authentication: 'password', watch: 'selected', folders: ['INBOX'], firstActivation: 'new', afterProcessing: 'none', mode: 'idle', pollMinutes: 15, options: { includeRaw: true } },
					credentials,
				},
				{
					id: '9b1c2d3e-4f50-4a61-9b72-8c9d0e1f3a02',
					name: ROUTER,
					type: 'n8n-nodes-mailbox.mailboxRouter',
					typeVersion: 1,
					position: [300, 0],
					parameters: {
						inboxes: { inbox: [{ name: 'Info', addresses: 'info@firma.test', folder: '' }] },
						employees: {
							employee: [
								{ name: 'Anna', addresses: 'anna@firma.test', inbox: '' },
								{ name: 'Sysadmin', addresses: 'sysadmin@firma.test', inbox: '' },
							],
						},
						distributionLists: { list: [{ name: 'Vertrieb', addresses: 'vertrieb@firma.test', inbox: '' }] },
						domainRedirects: { rule: [{ from: 'old-firma.test', to: 'firma.test' }] },
						localPartRedirects: { rule: [{ from: 'sys.admin', to: 'sysadmin' }] },
						dropUnknown: false,
						inboxRoot: 'Inboxes',
						masterAddresses: CATCH_ALL,
						deliver: true,
						authentication: 'password',
						afterDelivery: 'delete',
						options: {},
					},
					credentials,
				},
			],
			connections: { [TRIGGER]: { main: [[{ node: ROUTER, type: 'main', index: 0 }], []] } },
			settings: { executionOrder: 'v1' },
		});
		await n8n.publish(WORKFLOW_ID);
	});

	afterAll(() => teardown.run());

	it('delivers each catch-all message into its person\'s or list\'s folder once and keeps only the unknown recipient\'s mail', async () => {
		await n8n.start();
		await n8n.waitForTriggerState(WORKFLOW_ID, 'INBOX');
		await withImap(servers, 'catchall', async (imap) => {
			for (const m of messages) await imap.append('INBOX', m.raw, []);
		});
		const runs = await waitFor(`${messages.length} executions`, async () => {
			const done = await successful();
			return done.length >= messages.length ? done : undefined;
		}, 720_000);
		expect(runs).toHaveLength(messages.length);

		const expected: Record<string, string[]> = {};
		for (const m of messages) (expected[RECIPIENTS[m.envelopeTo as string]] ??= []).push(m.messageId);
		for (const ids of Object.values(expected)) ids.sort();
		const folders = Object.keys(expected);
		const delivered = await idsIn(folders);
		for (const folder of folders) expect({ folder, ids: delivered[folder] }).toEqual({ folder, ids: expected[folder] });

		// every item says why: the decision path of a redirected address names its steps
		const routed = runs.flatMap((e) => e.output[ROUTER] ?? []) as Array<{ routing?: { outcome?: string; target?: unknown; recipients?: Array<{ path?: unknown }> } }>;
		const outcomes = routed.map((item) => item.routing?.outcome);
		expect(outcomes.filter((o) => o === 'routed')).toHaveLength(messages.length - expected.INBOX.length);
		expect(outcomes.filter((o) => o !== 'routed')).toHaveLength(expected.INBOX.length);
		expect(JSON.stringify(routed)).toMatch(/old-firma\.test/);

		// A restart does not deliver anything again. A redelivery would come from the trigger's
		// catch-up after the restart; the trigger hands the catch-all's messages to n8n in UID order,
		// so it would start before the run of a message appended after the restart: once that one
		// succeeded and no run is unfinished, every run is stored and every delivery done.
		await n8n.stop();
		await n8n.start();
		const sentinel = generate(20 + messages.length);
		const sentinelFolder = RECIPIENTS[sentinel.envelopeTo as string];
		await appendToCatchAll(sentinel.raw);
		const after = await waitFor('the run of the message appended after the restart, and no run unfinished', async () => {
			const { executions } = await n8n.executions(WORKFLOW_ID);
			const done = executions.filter((e) => e.mode === 'trigger' && e.status === 'success');
			const ran = done.some((e) => (e.output[TRIGGER] ?? []).some((item) => item.messageId === sentinel.messageId));
			return ran && executions.every(isFinished) ? done : undefined;
		});
		expect(after).toHaveLength(messages.length + 1);
		const now = await idsIn([...new Set([...folders, sentinelFolder])]);
		for (const folder of folders) {
			const ids = folder === sentinelFolder ? [...expected[folder], sentinel.messageId].sort() : expected[folder];
			expect({ folder, ids: now[folder] }).toEqual({ folder, ids });
		}
		expect(now[sentinelFolder]).toContain(sentinel.messageId);
	});
});
