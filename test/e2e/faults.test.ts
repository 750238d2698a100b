/**
 * The fault suite: the IMAP, POP3 and EWS triggers in one real n8n 2.41.1, each with a backlog,
 * while n8n is killed (SIGKILL, no shutdown) in the middle of it, the mail server's connections
 * are cut (doveadm kick: IMAP in the middle of a fetch, POP3 in the middle of a session before
 * QUIT), Exchange forgets its sync states (ErrorInvalidSyncStateData) and the IMAP server is
 * unreachable for a while, with n8n restarted in the middle of it (the IMAP trigger's activation
 * fails to connect, yet it stays on, says so on Mailbox Status and delivers afterwards). Afterwards, for every source: no message lost (each has an execution),
 * none run twice (at most one each), nothing acted on (marked read, deleted) without a run that
 * succeeded; the messages left untouched (a run cut off by a kill, or one whose settlement came
 * after the last emit before it) are counted and printed.
 *
 * `npm test` runs a short version; `npm run faults` the full one (FAULTS_FULL=1: 10,000 messages
 * for IMAP and POP3, 2,000 for EWS, three kills, five cuts, five minutes without the IMAP server;
 * the short one has 40 s without it, longer than n8n re-tries a failed activation).
 */
import { startMailServers, type MailServers } from '../servers';
import { Forwarder, kickUser } from '../servers/dovecot-admin';
import { startPackagedN8n, Teardown } from './harness';
import { isFinished, type N8n, waitFor } from './n8n';
import { SOURCES, ThreeTriggers, TRIGGER, type Source } from './three-triggers';

const FULL = process.env.FAULTS_FULL === '1';
const SCALE = FULL ? { imap: 10_000, pop3: 10_000, ews: 2_000, kills: 3, cuts: 5, outageMs: 5 * 60_000 } : { imap: 150, pop3: 150, ews: 50, kills: 1, cuts: 2, outageMs: 40_000 };
const WAIT_MS = FULL ? 3 * 60 * 60_000 : 600_000;

const SHARED = 'faults@contoso.test';
const WF = { imap: 'mbxFaultsImap', pop3: 'mbxFaultsPop3', ews: 'mbxFaultsEws' } as const;

describe(`fault suite in real n8n (${FULL ? 'full' : 'short'})`, () => {
	const teardown = new Teardown();
	let servers: MailServers;
	let three: ThreeTriggers;
	let forwarder: Forwarder;
	let n8n: N8n;

	const runs = (source: Source) => three.runs(source);
	const successes = () => three.successes();
	const total = () => three.total();
	const idOf = (source: Source, n: number) => three.idOf(source, n);

	beforeAll(async () => {
		servers = teardown.add(await startMailServers(), (s) => s.stop());
		forwarder = teardown.add(await Forwarder.start(servers.ports.imaps), (f) => f.down());
		three = teardown.add(new ThreeTriggers({ servers, counts: { imap: SCALE.imap, pop3: SCALE.pop3, ews: SCALE.ews }, tag: 'faults', workflows: WF, ewsMailbox: SHARED, app: { clientId: 'faults-app', clientSecret: 'Faults-App-Secret-3' } }), (t) => t.stop());
		await three.prepare();
		({ n8n } = await startPackagedN8n(teardown, 'faults', { env: { NODE_EXTRA_CA_CERTS: servers.certPath } }));
		// runs of up to 20 messages, 4 at once (the defaults of version 1.2); IMAP through the forwarder that can be taken down
		await three.importInto(n8n, { version: 1.2, options: { retryMinutes: 0.05 }, imapPort: forwarder.port });
	});

	afterAll(() => teardown.run());

	it('kills, cut connections, a sync reset and an unreachable server: nothing lost, nothing run twice, nothing acted on without success', async () => {
		await n8n.start();
		// Runs the kills cut off that n8n 2.41 leaves 'running' for good: its start-up recovery skips
		// an execution whose event log has the workflow's start but no node's yet
		// (ExecutionRecoveryService.amend returns null), so it is never marked crashed.
		const runningAtKill = new Set<string>();
		const steps = SCALE.kills + 1;
		let cuts = 0;
		for (let k = 1; k <= SCALE.kills; k++) {
			// a share of the backlog, with cuts on the way
			for (let c = 0; c < Math.ceil(SCALE.cuts / SCALE.kills) && cuts < SCALE.cuts; c++, cuts++) {
				const target = Math.floor((total() * ((k - 1) * 2 + 1 + c / SCALE.cuts)) / (steps * 2));
				await waitFor(`${target} successful runs before cut ${cuts + 1}`, async () => ((await successes()) >= target ? true : undefined), WAIT_MS);
				// (doveadm fails when the user has no session at that moment: nothing to cut then)
				await kickUser(servers, 'alice').catch(() => '');
				await kickUser(servers, 'bob').catch(() => '');
			}
			if (k === 1) three.ews.resetSyncStates();
			const target = Math.floor((total() * k) / steps);
			await waitFor(`${target} successful runs before kill ${k}`, async () => ((await successes()) >= target ? true : undefined), WAIT_MS);
			await n8n.kill();
			for (const source of SOURCES) for (const e of (await n8n.executions(WF[source])).executions) if (e.status === 'running') runningAtKill.add(`${source}/${e.id}`);
			await n8n.start();
		}
		// the IMAP server unreachable for a while, and n8n restarted in the middle of it (stopped, as
		// for an update); longer than n8n re-tries a failed activation, so a trigger that failed its
		// activation would stay off
		await forwarder.down();
		await n8n.stop();
		await n8n.start();
		await new Promise((resolve) => setTimeout(resolve, SCALE.outageMs));
		await forwarder.up();

		// every message has run (or was cut off by a kill), every run has ended
		let last = '';
		await waitFor(
			'every message of every source handed to a run and every run ended',
			async () => {
				const state: string[] = [];
				let done = true;
				for (const source of SOURCES) {
					const { byId, executions } = await runs(source);
					const ids = Array.from({ length: three.counts[source] }, (_, i) => idOf(source, i + 1));
					const missing = ids.filter((id) => !byId.has(id)).length;
					const open = executions.filter((e) => !isFinished(e) && !runningAtKill.has(`${source}/${e.id}`)).length;
					state.push(`${source}: ${missing} without a run, ${open} runs not ended`);
					if (missing || open) done = false;
				}
				last = state.join('; ');
				return done ? true : undefined;
			},
			WAIT_MS,
			() => last,
		);
		// a message after all that, per source: once its run succeeded, the catch-up after the last
		// restart (which hands messages over in order) has handed over everything it would
		await servers.writeMaildir('alice', 'INBOX', [{ raw: three.message('imap', 0) }]);
		await servers.writeMaildir('bob', 'INBOX', [{ raw: three.message('pop3', 0) }]);
		three.ews.addMessage(SHARED, 'inbox', three.message('ews', 0));
		await waitFor(
			'the message after the faults to run, per source',
			async () => {
				for (const source of SOURCES) if (!(await runs(source)).byId.get(idOf(source, 0))?.includes('success')) return undefined;
				return true;
			},
			WAIT_MS,
		);

		// the IMAP trigger said so on Mailbox Status: it could not fetch, then fetched again
		const statuses = (await n8n.executions(WF.imap)).executions.flatMap((e) => (e.output[TRIGGER] ?? []).map((i) => i.status)).filter((s) => typeof s === 'string');
		expect(statuses).toEqual(expect.arrayContaining(['failing', 'recovered']));

		// the triggers' runs carried several messages each, one item per message
		for (const source of SOURCES) {
			const perRun = (await n8n.executions(WF[source])).executions.map((e) => (e.output[TRIGGER] ?? []).filter((i) => typeof i.messageId === 'string' && typeof i.status !== 'string').length);
			expect({ source, severalInARun: Math.max(...perRun) > 1 }).toEqual({ source, severalInARun: true });
			expect(Math.max(...perRun)).toBeLessThanOrEqual(20);
		}

		const lines: string[] = [];
		for (const source of SOURCES) {
			const { ids, lost, twice, actedWithoutSuccess, crashed, untouched } = await three.verdict(source, [idOf(source, 0)]);
			expect({ source, lost }).toEqual({ source, lost: [] });
			expect({ source, twice }).toEqual({ source, twice: [] });
			expect({ source, actedWithoutSuccess }).toEqual({ source, actedWithoutSuccess: [] });
			// untouched: runs cut off by a kill, and runs that succeeded after the last emit before one
			expect(untouched.length).toBeLessThanOrEqual(crashed.length + (SCALE.kills + 1) * 100);
			lines.push(`${source}: ${ids.length} messages, 0 lost, 0 run twice; ${crashed.length} messages in runs cut off by the kills, ${untouched.length} messages left untouched on the server`);
		}
		console.log(`fault suite (${FULL ? 'full' : 'short'}; ${SCALE.kills} kills, a restart, ${SCALE.cuts} cuts of IMAP and POP3, an EWS sync reset, ${SCALE.outageMs / 1000} s without the IMAP server):\n${lines.join('\n')}`);
		// n8n's own crash recovery logs a TypeError for an execution that never started (see n8n.ts); any other is a fault
		const logs = n8n.logs();
		const errors = [...logs.matchAll(/Unhandled|TypeError/g)].map((m) => logs.slice(m.index, m.index + 3000)).filter((text) => !/execution-recovery\.service/.test(text.split(/\n(?!\s+at )/).slice(0, 3).join('\n')));
		expect(errors).toEqual([]);
	}, FULL ? 4 * 60 * 60_000 : undefined);
});
