/**
 * n8n on Postgres (regular mode), as companies run it: the IMAP, POP3 and EWS triggers deliver a
 * backlog and new mail exactly once, also across a restart of n8n, and what worked on SQLite works
 * here: deduplication keys within Postgres' varchar(255) (a workflow and folder whose names make them long),
 * items with NUL characters and a 100 KB header in the execution data, the triggers' static data
 * in Postgres' json column. Postgres is the Debian package, started by the test on a free
 * 127.0.0.1 port with its data in a temp folder (test/servers/database.ts).
 */
import { startMailServers, type MailServers } from '../servers';
import { Postgres, type PostgresDatabase } from '../servers/database';
import { startPackagedN8n, Teardown } from './harness';
import { isFinished, type N8n, waitFor } from './n8n';
import { SOURCES, ThreeTriggers, TRIGGER, workflow } from './three-triggers';

const SHARED = 'postgres@contoso.test';
const WF = { imap: 'mbxPgImap', pop3: 'mbxPgPop3', ews: 'mbxPgEws' } as const;
/** A workflow id of n8n's full 36 characters and a folder with a long name: keys longer than 255 characters. */
const LONG_FOLDER_WF = 'mbxPgLongFolderWorkflowOf36Character';
const LONG_FOLDER = `Kunden/${'Ängebot-Übersicht-'.repeat(9)}`;
const COUNTS = { imap: 40, pop3: 40, ews: 20 };
const NUL_HEADER = 'X-Note: =?utf-8?q?before=00after?=\r\n';
const BIG_HEADER = `X-Big: ${'0123456789abcdef'.repeat(6400)}\r\n`;

describe('n8n on Postgres: the triggers exactly once', () => {
	const teardown = new Teardown();
	let servers: MailServers;
	let pg: Postgres;
	let database: PostgresDatabase;
	let three: ThreeTriggers;
	let n8n: N8n;

	beforeAll(async () => {
		servers = teardown.add(await startMailServers(), (s) => s.stop());
		pg = teardown.add(await Postgres.start(), (p) => p.stop());
		database = pg.database();
		three = teardown.add(new ThreeTriggers({ servers, counts: COUNTS, tag: 'pg', workflows: WF, ewsMailbox: SHARED, app: { clientId: 'pg-app', clientSecret: 'Postgres-App-Secret-5' } }), (t) => t.stop());
		// every fifth message has a NUL in a header, every tenth a 100 KB header
		await three.prepare((_source, n) => `${n % 5 === 0 ? NUL_HEADER : ''}${n % 10 === 0 ? BIG_HEADER : ''}`);
		await servers.writeMaildir('alice', LONG_FOLDER, Array.from({ length: 5 }, (_, i) => ({ raw: three.message('imap', 1000 + i) })));
		({ n8n } = await startPackagedN8n(teardown, 'postgres', { env: { NODE_EXTRA_CA_CERTS: servers.certPath }, postgres: database }));
		await three.importInto(n8n, { version: 1.2, options: {} });
		await n8n.importWorkflow(
			workflow(LONG_FOLDER_WF, {
				type: 'n8n-nodes-mailbox.mailboxImapTrigger',
				typeVersion: 1.2,
				parameters: { authentication: 'password', watch: 'selected', folders: [LONG_FOLDER], firstActivation: 'all', afterProcessing: 'markRead', mode: 'idle', pollMinutes: 0.1, options: {} },
				credentials: { mailboxImapApi: { id: 'mbxThreeImapCred', name: 'alice (IMAP)' } },
			}),
		);
		await n8n.publish(LONG_FOLDER_WF);
	});

	afterAll(() => teardown.run());

	it('backlog, a restart and new mail: every message once, nothing acted on without success; keys, NUL and large items stored', async () => {
		await n8n.start();
		// n8n really runs on Postgres: its tables are there and fill
		expect(pg.sql(database.database, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'execution_entity'").trim()).toBe('1');
		await waitFor('half of the backlog', async () => ((await three.successes()) >= three.total() / 2 ? true : undefined));
		await n8n.stop();
		await n8n.start();
		for (const source of SOURCES) await three.deliverOneMore(source);
		await waitFor('every message run and every run ended', async () => {
			for (const source of SOURCES) {
				const { byId, executions } = await three.runs(source);
				if (byId.size < COUNTS[source] + 1 || executions.some((e) => !isFinished(e))) return undefined;
			}
			return true;
		});

		// after processing (mark read, delete) follows each successful run, in order: once the message
		// after the restart is marked read or deleted, so is every earlier one that will be. A run that
		// succeeded as n8n stopped can miss it (its message stays untouched: at most the runs under way)
		await waitFor('the message after the restart marked read or deleted, per source', async () => {
			for (const source of SOURCES) if (!(await three.acted(source)).has(three.idOf(source, 0))) return undefined;
			return true;
		});
		const untouchedCounts: string[] = [];
		for (const source of SOURCES) {
			const { lost, twice, actedWithoutSuccess, untouched } = await three.verdict(source, [three.idOf(source, 0)]);
			expect({ source, lost, twice, actedWithoutSuccess }).toEqual({ source, lost: [], twice: [], actedWithoutSuccess: [] });
			// Runs at Once (4) times Messages per Run (20)
			expect(untouched.length).toBeLessThanOrEqual(80);
			untouchedCounts.push(`${source} ${untouched.length}`);
			const { executions } = await three.runs(source);
			expect({ source, failed: executions.filter((e) => e.status !== 'success').map((e) => `${e.id}: ${e.status} ${e.error ?? ''}`) }).toEqual({ source, failed: [] });
			// the NUL and the 100 KB header came through n8n's Postgres execution data as they were
			const items = executions.flatMap((e) => e.output[TRIGGER] ?? []);
			const fifth = items.find((i) => i.messageId === three.idOf(source, 10)) as { headers: Record<string, string> } | undefined;
			expect(fifth?.headers['x-note']).toBe('before\u0000after');
			expect(fifth?.headers['x-big']).toHaveLength(102_400);
		}

		// the folder whose keys are longer than Postgres allows: hashed keys, each message once
		await waitFor('the long folder\'s messages', async () => {
			const { executions } = await n8n.executions(LONG_FOLDER_WF);
			const ids = executions.filter((e) => e.status === 'success').flatMap((e) => (e.output[TRIGGER] ?? []).map((i) => i.messageId));
			return ids.length >= 5 ? ids : undefined;
		}).then((ids) => expect([...ids].sort()).toEqual(Array.from({ length: 5 }, (_, i) => three.idOf('imap', 1000 + i)).sort()));
		const keys = pg.sql(database.database, `SELECT "deduplicationKey" FROM execution_entity WHERE "workflowId" = '${LONG_FOLDER_WF}'`).trim().split('\n');
		expect(keys.length).toBeGreaterThan(0);
		for (const key of keys) expect(key.length).toBeLessThanOrEqual(255);
		expect(keys.every((key) => key.includes('#'))).toBe(true);
		// the triggers' state is in Postgres' json column
		const stateBytes = Number(pg.sql(database.database, `SELECT length("staticData"::text) FROM workflow_entity WHERE id = '${WF.imap}'`).trim());
		expect(stateBytes).toBeGreaterThan(0);
		console.log(`postgres: ${three.total()} messages and 3 after a restart, each once; left untouched by the restart: ${untouchedCounts.join(', ')}; deduplication keys of the long folder ${Math.max(...keys.map((k) => k.length))} characters; IMAP state ${stateBytes} bytes`);
	});
});
