/**
 * Reliability of the Mailbox IMAP Trigger in a real n8n 2.41.1, one instance for all of it:
 *
 * 1. n8n is killed (SIGKILL, with its task runner) in the middle of a backlog of generated mail
 *    and started again: no message runs twice (a second execution n8n refuses by its
 *    deduplication key is fine), a message is marked \Seen only after a successful execution, the
 *    only ones left unread are those in a run at the moment of the kill (n8n marks a cut-off run
 *    crashed; the trigger runs neither it nor a refused duplicate again and leaves the message
 *    untouched, see below), and each one, the malformed and non-UTF-8 ones too, is parsed as written.
 * 2. A failed run leaves its message untouched on the server. Without "Retry Failed Runs" it is
 *    not delivered again; with it, it is, also after n8n was restarted in between, until a run
 *    succeeds, and only then is it marked read.
 * 3. The server goes away for a while (a forwarder in front of Dovecot is taken down): the
 *    "Mailbox Status" output reports 'failing' once (then maybe updates) and 'recovered' once, n8n
 *    and the workflow stay up, and mail that arrived meanwhile is received once.
 */
import fs from 'node:fs';
import { ImapFlow } from 'imapflow';
import { startMailServers, type MailServers } from '../servers';
import { Forwarder } from '../servers/dovecot-admin';
import { generateMessages, MALFORMED_INDEX, type GeneratedMessage } from '../fixtures/mailgen';
import { startPackagedN8n, Teardown } from './harness';
import { isFinished, type N8n, type StoredExecution, waitFor } from './n8n';

const TRIGGER = 'New mail';
const BACKLOG = 300;
const FAIL_MARK = '[fail]';

const WF = { backlog: 'mbxRelBacklog', noRetry: 'mbxRelNoRetry', retry: 'mbxRelRetry', outage: 'mbxRelOutage', wait: 'mbxRelWait', runs: 'mbxRelRuns' } as const;
const CRED = { alice: 'mbxRelAlice', bob: 'mbxRelBob', catchall: 'mbxRelCatchall' } as const;

/** Fails the run for a message whose subject carries FAIL_MARK, unless the message is \Flagged. */
const FAILING_CODE = [
	'for (const item of $input.all()) {',
	`  if (String(item.json.subject).includes(${JSON.stringify(FAIL_MARK)}) && !(item.json.flags || []).includes('\\\\Flagged')) {`,
	"    throw new Error('refused by the test: ' + item.json.messageId);",
	'  }',
	'}',
	'return $input.all();',
].join('\n');

let nodeCounter = 0;
const nodeId = () => `7e5a0c2d-4b1f-4c8e-9a6d-${String(++nodeCounter).padStart(12, '0')}`;

const NEXT = {
	noOp: { type: 'n8n-nodes-base.noOp', typeVersion: 1, parameters: {} },
	failing: { type: 'n8n-nodes-base.code', typeVersion: 2, parameters: { mode: 'runOnceForAllItems', language: 'javaScript', jsCode: FAILING_CODE } },
	// an hour: n8n puts the execution into status "waiting" and ends the run
	wait: { type: 'n8n-nodes-base.wait', typeVersion: 1.1, parameters: { resume: 'timeInterval', amount: 1, unit: 'hours' } },
} as const;

function triggerWorkflow(id: string, credential: { id: string; name: string }, parameters: Record<string, unknown>, next: keyof typeof NEXT, statusNode = false, typeVersion = 1): object {
	const nodes: object[] = [
		{
			id: nodeId(),
			name: TRIGGER,
			type: 'n8n-nodes-mailbox.mailboxImapTrigger',
			typeVersion,
			position: [0, 0],
			parameters: { authentication: 'password', watch: 'selected', folders: ['INBOX'], firstActivation: 'new', afterProcessing: 'markRead', mode: 'idle', pollMinutes: 15, options: {}, ...parameters },
			credentials: { mailboxImapApi: credential },
		},
		{ id: nodeId(), name: 'Process', position: [300, 0], ...NEXT[next] },
	];
	if (statusNode) nodes.push({ id: nodeId(), name: 'Status', type: 'n8n-nodes-base.noOp', typeVersion: 1, position: [300, 200], parameters: {} });
	return {
		id,
		name: `IMAP trigger reliability ${id}`,
		active: false,
		nodes,
		connections: { [TRIGGER]: { main: [[{ node: 'Process', type: 'main', index: 0 }], statusNode ? [{ node: 'Status', type: 'main', index: 0 }] : []] } },
		settings: { executionOrder: 'v1' },
	};
}

/** The message items (first output) of an execution: items with a messageId or a uid. */
const messageItems = (e: StoredExecution) => (e.output[TRIGGER] ?? []).filter((item) => typeof item.uid === 'number');
/** The Mailbox Status items (second output). */
const statusItems = (e: StoredExecution) => (e.output[TRIGGER] ?? []).filter((item) => typeof item.status === 'string' && typeof item.title === 'string');

function plainMessage(id: string, subject: string): string {
	return [`From: sender@example.test`, 'To: bob@example.test', `Subject: ${subject}`, `Message-ID: <${id}@example.test>`, 'Date: Tue, 24 Nov 2026 10:00:00 +0100', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', `Body of ${id}.`, ''].join('\r\n');
}

describe('Mailbox IMAP Trigger reliability in real n8n', () => {
	const teardown = new Teardown();
	let servers: MailServers;
	let n8n: N8n;
	let forwarder: Forwarder;
	let generated: GeneratedMessage[] = [];

	const connect = async (user: string): Promise<ImapFlow> => {
		const client = new ImapFlow({ host: '127.0.0.1', port: servers.ports.imaps, secure: true, tls: { ca: fs.readFileSync(servers.certPath) }, auth: { user, pass: servers.users[user] }, logger: false });
		client.on('error', () => undefined); // an idle test connection timing out is not the test's concern
		await client.connect();
		return teardown.add(client, (c) => c.logout().catch(() => undefined));
	};
	/**
	 * Message-ID -> flags of every message in a folder. A flag change by another session (n8n
	 * marking mail read) can arrive during the FETCH as an unsolicited response with the flags
	 * only: that is not a message of its own and is left out.
	 */
	const flagsOf = async (client: ImapFlow, folder: string): Promise<Map<string, Set<string>>> => {
		const out = new Map<string, Set<string>>();
		const lock = await client.getMailboxLock(folder);
		try {
			if (client.mailbox && client.mailbox.exists > 0) {
				for await (const m of client.fetch('1:*', { envelope: true, flags: true })) {
					if (m.envelope) out.set(m.envelope.messageId ?? `uid:${m.uid}`, m.flags ?? new Set());
				}
			}
		} finally {
			lock.release();
		}
		return out;
	};
	/** Sets \\Flagged on the message with this Message-ID. */
	const flag = async (client: ImapFlow, folder: string, messageId: string): Promise<void> => {
		const lock = await client.getMailboxLock(folder);
		try {
			expect(await client.messageFlagsAdd({ header: { 'message-id': messageId } }, ['\\Flagged'])).toBe(true);
		} finally {
			lock.release();
		}
	};
	const activated = (workflowId: string, folder: string) =>
		waitFor(`workflow ${workflowId} to watch ${folder}`, async () => {
			const { staticData } = await n8n.executions(workflowId);
			return staticData && JSON.stringify(staticData).includes(`"${folder}"`) ? true : undefined;
		});
	/** Executions started by the trigger, by status and Message-ID. */
	const runsByMessage = async (workflowId: string) => {
		const { executions } = await n8n.executions(workflowId);
		const byId = new Map<string, { success: number; other: string[] }>();
		for (const e of executions) {
			for (const item of messageItems(e)) {
				const id = String(item.messageId);
				const entry = byId.get(id) ?? { success: 0, other: [] };
				if (e.status === 'success') entry.success++;
				else entry.other.push(e.status);
				byId.set(id, entry);
			}
		}
		return { executions, byId };
	};

	beforeAll(async () => {
		servers = teardown.add(await startMailServers(), (s) => s.stop());
		// The backlog: realistic mail, unread, with small attachments so n8n's storage stays quick.
		generated = [...generateMessages({ seed: 4242, count: BACKLOG, attachPct: 3, maxAttachmentBytes: 48 * 1024 })];
		await servers.writeMaildir('alice', 'INBOX', generated.map((g) => ({ raw: g.raw, date: g.date, flags: [] })));
		const bob = await connect('bob');
		await bob.mailboxCreate('Retry');
		await bob.mailboxCreate('Waits');
		// three messages waiting when the version 1.2 trigger starts: one run; one of them makes it fail
		await servers.writeMaildir('bob', 'Runs', ['runs-1', `runs-2`, 'runs-3'].map((name, i) => ({ raw: Buffer.from(plainMessage(name, i === 1 ? `${FAIL_MARK} run of three` : 'run of three')), flags: [] })));
		forwarder = teardown.add(await Forwarder.start(servers.ports.imaps), (f) => f.down());

		({ n8n } = await startPackagedN8n(teardown, 'reliability', { env: { NODE_EXTRA_CA_CERTS: servers.certPath } }));
		const credential = (id: string, user: string, port: number) => ({ id, name: `${user} (IMAP)`, type: 'mailboxImapApi', data: { host: '127.0.0.1', port, security: 'tls', user, password: servers.users[user] } });
		await n8n.importCredentials([credential(CRED.alice, 'alice', servers.ports.imaps), credential(CRED.bob, 'bob', servers.ports.imaps), credential(CRED.catchall, 'catchall', forwarder.port)]);
		const ref = (id: string, user: string) => ({ id, name: `${user} (IMAP)` });
		await n8n.importWorkflow(triggerWorkflow(WF.backlog, ref(CRED.alice, 'alice'), { firstActivation: 'all' }, 'noOp'));
		await n8n.importWorkflow(triggerWorkflow(WF.noRetry, ref(CRED.bob, 'bob'), { options: { retryFailed: false } }, 'failing'));
		// pollMinutes is also the re-check interval with push: a failed run is retried within it
		await n8n.importWorkflow(triggerWorkflow(WF.retry, ref(CRED.bob, 'bob'), { folders: ['Retry'], pollMinutes: 0.1, options: { retryFailed: true, retryMinutes: 0.05 } }, 'failing'));
		await n8n.importWorkflow(triggerWorkflow(WF.outage, ref(CRED.catchall, 'catchall'), {}, 'noOp', true));
		await n8n.importWorkflow(triggerWorkflow(WF.wait, ref(CRED.bob, 'bob'), { folders: ['Waits'] }, 'wait', true));
		await n8n.importWorkflow(triggerWorkflow(WF.runs, ref(CRED.bob, 'bob'), { folders: ['Runs'], firstActivation: 'all', pollMinutes: 0.1, options: { retryMinutes: 0.05 } }, 'failing', true, 1.2));
		// (the run workflow is published by its test, so its retries are not used up before)
		for (const id of Object.values(WF)) if (id !== WF.runs) await n8n.publish(id);
	});

	afterAll(() => teardown.run());

	it('a crash in the middle of a backlog: no message runs twice, marked read only after success, all parsed as written', async () => {
		await n8n.start();
		// killed once a part of the backlog has run
		const before = await waitFor('a part of the backlog to be executed', async () => {
			const { executions } = await n8n.executions(WF.backlog);
			const done = executions.filter((e) => e.status === 'success').length;
			return done >= BACKLOG / 5 ? done : undefined;
		});
		await n8n.kill();
		const atKill = await runsByMessage(WF.backlog);
		expect(atKill.byId.size).toBeLessThan(BACKLOG);
		// A run under way at the kill: stored by then, or known only from n8n's event log and rebuilt
		// as 'crashed' after the restart (the kill is the only crash in this test).
		const inRunAtKill = (id: string, executions: StoredExecution[]) =>
			atKill.byId.has(id) || executions.some((e) => e.status === 'crashed' && messageItems(e).some((item) => String(item.messageId) === id));
		// A run the kill cut off that n8n 2.41 leaves 'running' for good: its start-up recovery skips
		// an execution whose event log has the workflow's start but no node's yet
		// (ExecutionRecoveryService.amend returns null), so it is never marked crashed.
		const runningAtKill = new Set(atKill.executions.filter((e) => e.status === 'running').map((e) => e.id));
		const stranded = (e: StoredExecution) => runningAtKill.has(e.id) && (e.status === 'running' || e.status === 'unknown');
		const runsOf = (id: string, executions: StoredExecution[]) => executions.filter((e) => messageItems(e).some((item) => String(item.messageId) === id));
		/** Ran successfully, or its only run was cut off by the kill (crashed, or stranded as 'running'). */
		const settledIn = (id: string, executions: StoredExecution[]) => {
			const runs = runsOf(id, executions);
			return runs.some((e) => e.status === 'success') || (runs.length > 0 && runs.every((e) => e.status === 'crashed' || stranded(e)));
		};

		await n8n.start();
		const restartedAt = Date.now();
		const alice = await connect('alice');
		let last = '';
		await waitFor(
			'every message to be executed and marked read',
			async () => {
				const { byId, executions: now } = await runsByMessage(WF.backlog);
				const flags = await flagsOf(alice, 'INBOX');
				const unseen = [...flags.values()].filter((f) => !f.has('\\Seen')).length;
				const settled = [...byId.keys()].filter((id) => settledIn(id, now)).length;
				// unseen at the end: only messages that were in a run when n8n was killed
				const unexpected = [...flags.entries()].filter(([id, f]) => !f.has('\\Seen') && !inRunAtKill(id, now)).length;
				const open = [...new Set([...flags.keys(), ...byId.keys()])].filter((id) => !settledIn(id, now));
				const describe = (id: string) => {
					const runs = runsOf(id, now).map((e) => `${e.id} ${e.status}`);
					const before = runsOf(id, atKill.executions).map((e) => `${e.id} ${e.status}`);
					return `${id} (runs now: ${runs.join(', ') || 'none'}; at the kill: ${before.join(', ') || 'none'}; ${flags.get(id)?.has('\\Seen') ? 'seen' : 'unseen'})`;
				};
				last = `${settled} of ${BACKLOG} with a successful run or one cut off, ${unseen} unseen (${unexpected} not at the kill); without: ${open.slice(0, 5).map(describe).join('; ') || 'none'}`;
				return settled >= BACKLOG && unexpected === 0 ? true : undefined;
			},
			540_000,
			() => last,
		);
		const settledAfter = Math.round((Date.now() - restartedAt) / 1000);
		// A late duplicate would come from the trigger's catch-up after the restart, which hands
		// INBOX's messages to n8n in UID order: its run would start before the run of a message
		// appended now. Once that one succeeded (and was marked read: no flag changes under the
		// checks below) and no run since the restart is unfinished, every run is stored.
		// (Executions stored before the kill are left as the kill left them.)
		const sentinelId = '<backlog-sentinel@example.test>';
		await alice.append('INBOX', plainMessage('backlog-sentinel', 'after the backlog'), []);
		const storedAtKill = new Set(atKill.executions.map((e) => e.id));
		await waitFor('the run of the message appended after the backlog, its mark as read, and no run unfinished', async () => {
			const { byId, executions: now } = await runsByMessage(WF.backlog);
			if (byId.get(sentinelId)?.success !== 1 || !now.filter((e) => !storedAtKill.has(e.id)).every(isFinished)) return undefined;
			return (await flagsOf(alice, 'INBOX')).get(sentinelId)?.has('\\Seen') ? true : undefined;
		});

		const all = await runsByMessage(WF.backlog);
		expect(all.byId.get(sentinelId)).toEqual({ success: 1, other: [] });
		// from here on: the backlog only
		const isSentinelRun = (e: StoredExecution) => messageItems(e).some((item) => String(item.messageId) === sentinelId);
		const executions = all.executions.filter((e) => !isSentinelRun(e));
		const byId = new Map([...all.byId].filter(([id]) => id !== sentinelId));
		const expectedIds = generated.map((g) => g.messageId).sort();
		expect([...byId.keys()].sort()).toEqual(expectedIds);
		// No message ran twice. A run the kill cut off is 'crashed' in n8n (or stranded, see above); the message's next delivery
		// has the same deduplication key and is refused: the trigger cannot tell a crashed run from a
		// successful one whose acknowledgement was not saved yet, so it runs neither again and leaves
		// the message untouched on the server. Each such message is one that was in a run at the kill
		// (stored by then, or rebuilt by n8n from its event log after the restart).
		const twice = [...byId.entries()].filter(([, r]) => r.success > 1).map(([id, r]) => `${id}: ${r.success} successful runs`);
		expect(twice).toEqual([]);
		const cutOff = [...byId.entries()].filter(([, r]) => r.success === 0);
		for (const [id, r] of cutOff) {
			expect({ id, runs: r.other.length, cutOff: runsOf(id, executions).every((e) => e.status === 'crashed' || stranded(e)) }).toEqual({ id, runs: 1, cutOff: true });
			expect({ id, inRunAtKill: inRunAtKill(id, executions) }).toEqual({ id, inRunAtKill: true });
		}
		const flags = await flagsOf(alice, 'INBOX');
		flags.delete(sentinelId);
		expect([...flags.keys()].sort()).toEqual(expectedIds);
		// marked read only after a successful run; left unread only at the crash boundary
		for (const [id, f] of flags) {
			if (f.has('\\Seen')) expect({ id, success: byId.get(id)?.success }).toEqual({ id, success: 1 });
			// unread: in a run at the kill, crashed or successful with its acknowledgement not yet saved
			else expect({ id, inRunAtKill: inRunAtKill(id, executions) }).toEqual({ id, inRunAtKill: true });
		}
		for (const [id] of cutOff) expect({ id, seen: flags.get(id)?.has('\\Seen') }).toEqual({ id, seen: false });

		// parsed as written: the non-UTF-8 charsets and the malformed message included. Only the items
		// of successful runs count: after a kill, n8n rebuilds crashed executions from its event log,
		// so their stored items are n8n's reconstruction, not the trigger's output.
		const items = new Map(executions.filter((e) => e.status === 'success').flatMap((e) => messageItems(e)).map((item) => [String(item.messageId), item]));
		const charsets = generated.filter((g) => g.kind === 'charset' && items.has(g.messageId));
		expect(charsets.length).toBeGreaterThan(5);
		expect(items.size).toBe(BACKLOG - cutOff.length);
		for (const g of generated) {
			const item = items.get(g.messageId);
			if (!item) continue; // only crashed runs: checked above
			if (g.index === MALFORMED_INDEX) {
				expect(item.subject).toMatch(/^Broken über/);
				expect(item.subject).not.toMatch(/\ufffd|=\?/);
				continue;
			}
			expect({ id: g.messageId, charset: g.charset, subject: item.subject }).toEqual({ id: g.messageId, charset: g.charset, subject: g.subject });
			expect(String(item.subject)).not.toContain('\ufffd');
		}
		for (const g of charsets) expect(String(items.get(g.messageId)!.text)).not.toContain('\ufffd');
		expect(n8n.logs()).not.toMatch(/Unhandled|TypeError/);
		console.log(`backlog: killed after ${before} successful runs (${atKill.executions.length} executions stored); afterwards ${executions.length} executions, statuses ${JSON.stringify(countBy(executions.map((e) => e.status)))}; cut off by the kill: ${cutOff.map(([id]) => id).join(' ') || 'none'}; settled ${settledAfter} s after the restart`);
	});

	it('a failed run leaves its message unread; without "Retry Failed Runs" it is not delivered again', async () => {
		await activated(WF.noRetry, 'INBOX');
		const bob = await connect('bob');
		await bob.append('INBOX', plainMessage('noretry-ok-1', 'first'), []);
		await bob.append('INBOX', plainMessage('noretry-fail', `${FAIL_MARK} second`), []);
		await bob.append('INBOX', plainMessage('noretry-ok-2', 'third'), []);
		const id = (name: string) => `<${name}@example.test>`;
		await waitFor('two successful runs and one failed', async () => {
			const { byId } = await runsByMessage(WF.noRetry);
			const ok = byId.get(id('noretry-ok-1'))?.success === 1 && byId.get(id('noretry-ok-2'))?.success === 1;
			return ok && byId.get(id('noretry-fail'))?.other.includes('error') ? true : undefined;
		});
		const seenAfter = async () => {
			const flags = await flagsOf(bob, 'INBOX');
			return Object.fromEntries([...flags.entries()].map(([k, f]) => [k, f.has('\\Seen')]));
		};
		await waitFor('the successful ones to be marked read', async () => {
			const seen = await seenAfter();
			return seen[id('noretry-ok-1')] && seen[id('noretry-ok-2')] ? true : undefined;
		});
		expect(await seenAfter()).toEqual({ [id('noretry-ok-1')]: true, [id('noretry-fail')]: false, [id('noretry-ok-2')]: true });

		// a retry would now succeed (the Code node lets \Flagged mail pass); new mail makes the trigger fetch again
		await flag(bob, 'INBOX', id('noretry-fail'));
		await bob.append('INBOX', plainMessage('noretry-ok-3', 'fourth'), []);
		await waitFor('the next message to be received and marked read', async () => ((await seenAfter())[id('noretry-ok-3')] ? true : undefined));
		const { byId } = await runsByMessage(WF.noRetry);
		expect(byId.get(id('noretry-fail'))).toEqual({ success: 0, other: ['error'] });
		expect((await seenAfter())[id('noretry-fail')]).toBe(false);
	});

	it('with "Retry Failed Runs" a failed message is delivered again, also after a restart, and marked read once a run succeeded', async () => {
		await activated(WF.retry, 'Retry');
		const bob = await connect('bob');
		const id = (name: string) => `<${name}@example.test>`;
		await bob.append('Retry', plainMessage('retry-ok', 'first'), []);
		await bob.append('Retry', plainMessage('retry-fail', `${FAIL_MARK} second`), []);
		const failedRuns = async () => (await runsByMessage(WF.retry)).byId.get(id('retry-fail'))?.other.filter((s) => s === 'error').length ?? 0;
		// the first run fails, and the re-check delivers it again (and it fails again)
		await waitFor('the failing message to be run twice', async () => ((await failedRuns()) >= 2 ? true : undefined));
		const seen = async () => {
			const flags = await flagsOf(bob, 'Retry');
			return Object.fromEntries([...flags.entries()].map(([k, f]) => [k, f.has('\\Seen')]));
		};
		await waitFor('the successful one to be marked read', async () => ((await seen())[id('retry-ok')] ? true : undefined));
		expect((await seen())[id('retry-fail')]).toBe(false);

		// across a restart: the message is still untouched and is delivered again, not refused as done
		await n8n.stop();
		const failedBeforeRestart = await failedRuns();
		await n8n.start();
		await waitFor('the failing message to be run again after the restart', async () => ((await failedRuns()) > failedBeforeRestart ? true : undefined));
		expect((await seen())[id('retry-fail')]).toBe(false);

		// now let it pass: the next retry succeeds and only then is the message marked read
		await flag(bob, 'Retry', id('retry-fail'));
		await waitFor('the retry to succeed and the message to be marked read', async () => {
			const runs = (await runsByMessage(WF.retry)).byId.get(id('retry-fail'));
			return runs?.success === 1 && (await seen())[id('retry-fail')] ? true : undefined;
		});
		const { byId } = await runsByMessage(WF.retry);
		expect(byId.get(id('retry-ok'))).toEqual({ success: 1, other: [] });
		expect(byId.get(id('retry-fail'))!.success).toBe(1);
	});

	it('a run that waits at a Wait node: reported on Mailbox Status, not marked read, not delivered again', async () => {
		await activated(WF.wait, 'Waits');
		const bob = await connect('bob');
		const id = (name: string) => `<${name}@example.test>`;
		await bob.append('Waits', plainMessage('waits-1', 'waits'), []);
		await waitFor('the run to wait and the waiting run reported', async () => {
			const { executions } = await n8n.executions(WF.wait);
			const waiting = executions.some((e) => e.status === 'waiting' && messageItems(e).some((item) => item.messageId === id('waits-1')));
			const reported = executions.some((e) => statusItems(e).some((item) => item.status === 'runWaiting' && (item.run as { messageId?: string } | undefined)?.messageId === id('waits-1')));
			return waiting && reported ? true : undefined;
		});
		// another message after it: once its run waits too, the trigger has fetched again since
		await bob.append('Waits', plainMessage('waits-2', 'waits too'), []);
		await waitFor('the second run to wait', async () => ((await runsByMessage(WF.wait)).byId.get(id('waits-2'))?.other.includes('waiting') ? true : undefined));
		const { byId } = await runsByMessage(WF.wait);
		expect(byId.get(id('waits-1'))).toEqual({ success: 0, other: ['waiting'] });
		const flags = await flagsOf(bob, 'Waits');
		expect(flags.get(id('waits-1'))?.has('\\Seen')).toBe(false);
		expect(flags.get(id('waits-2'))?.has('\\Seen')).toBe(false);
	});

	it('the server down for a while: failing once, recovered once, n8n keeps running, mail from meanwhile received once', async () => {
		await activated(WF.outage, 'INBOX');
		const catchall = await connect('catchall');
		const id = (name: string) => `<${name}@example.test>`;
		await catchall.append('INBOX', plainMessage('outage-before', 'before'), []);
		await waitFor('the first message', async () => ((await runsByMessage(WF.outage)).byId.get(id('outage-before'))?.success === 1 ? true : undefined));

		await forwarder.down();
		const statuses = async (): Promise<Record<string, unknown>[]> => {
			const { executions } = await n8n.executions(WF.outage);
			return executions.flatMap((e) => statusItems(e).map((item) => ({ ...item, execution: e.status })));
		};
		await waitFor('a failing status', async () => ((await statuses()).some((s) => s.status === 'failing') ? true : undefined));
		// mail arrives while the trigger cannot reach the server
		await catchall.append('INBOX', plainMessage('outage-during', 'during'), []);
		// long enough for at least one more failed attempt (the backoff starts at a few seconds)
		await waitFor('a second failed attempt', async () => ((await statuses()).some((s) => s.update === true) ? true : undefined));
		expect(n8n.running).toBe(true);

		await forwarder.up();
		await waitFor('a recovered status', async () => ((await statuses()).some((s) => s.status === 'recovered') ? true : undefined));
		await waitFor('the message from the outage', async () => ((await runsByMessage(WF.outage)).byId.get(id('outage-during'))?.success === 1 ? true : undefined));
		// Until a late status or duplicate would have shown: the trigger hands INBOX's messages to
		// n8n in UID order, so a duplicate's run would start before the run of a message appended
		// now, and that run comes from a fetch after the recovery. Once it succeeded, the three are
		// marked read (after their runs) and no run is unfinished, everything is stored.
		await catchall.append('INBOX', plainMessage('outage-after', 'after'), []);
		await waitFor('the message appended after the outage to run, all three to be marked read, and no run unfinished', async () => {
			const { byId, executions } = await runsByMessage(WF.outage);
			if (byId.get(id('outage-after'))?.success !== 1 || !executions.every(isFinished)) return undefined;
			const flags = await flagsOf(catchall, 'INBOX');
			return flags.size === 3 && [...flags.values()].every((f) => f.has('\\Seen')) ? true : undefined;
		});

		const all = await statuses();
		const order = all.map((s) => (s.status === 'failing' ? (s.update ? 'updated' : 'failing') : s.status));
		expect(order[0]).toBe('failing');
		expect(order.filter((s) => s === 'failing')).toHaveLength(1);
		expect(order.filter((s) => s === 'recovered')).toHaveLength(1);
		expect(order[order.length - 1]).toBe('recovered');
		expect(order.slice(1, -1).every((s) => s === 'updated')).toBe(true);
		const failing = all[0];
		expect(failing).toMatchObject({ folder: 'INBOX', mailbox: 'catchall', title: "Mailbox 'catchall' cannot be fetched", failures: 1 });
		// the first failure is the dropped connection; the attempts after it are refused at the forwarder's port
		expect(all.some((s) => String(s.message).includes(String(forwarder.port)))).toBe(true);
		expect(all[all.length - 1]).toMatchObject({ status: 'recovered', failures: order.length - 1 });
		expect(all.every((s) => s.execution === 'success')).toBe(true);

		const { byId } = await runsByMessage(WF.outage);
		expect(Object.fromEntries(byId)).toEqual({ [id('outage-before')]: { success: 1, other: [] }, [id('outage-during')]: { success: 1, other: [] }, [id('outage-after')]: { success: 1, other: [] } });
		const flags = await flagsOf(catchall, 'INBOX');
		expect(Object.fromEntries([...flags].map(([k, f]) => [k, f.has('\\Seen')]))).toEqual({ [id('outage-before')]: true, [id('outage-during')]: true, [id('outage-after')]: true });
		expect(n8n.running).toBe(true);
		const { triggerStatus } = await n8n.executions(WF.outage);
		expect(triggerStatus.filter((t) => t.errorMessage)).toEqual([]);
		expect(n8n.logs()).not.toMatch(/Unhandled|TypeError/);
	});
	it('version 1.2: waiting messages go into one run, one item each; when it fails, all are reported in one Mailbox Status item list, left unread and retried together until a run succeeds', async () => {
		await n8n.stop();
		await n8n.publish(WF.runs);
		await n8n.start();
		const bob = await connect('bob');
		const id = (name: string) => `<${name}@example.test>`;
		const ids = ['runs-1', 'runs-2', 'runs-3'].map(id);
		const seen = async () => {
			const flags = await flagsOf(bob, 'Runs');
			return ids.filter((m) => flags.get(m)?.has('\\Seen'));
		};
		await waitFor('the run of three to fail twice', async () => {
			const { executions } = await n8n.executions(WF.runs);
			return executions.filter((e) => e.status === 'error').length >= 2 ? true : undefined;
		});
		expect(await seen()).toEqual([]);
		await flag(bob, 'Runs', id('runs-2'));
		await waitFor('a run of the three to succeed and all to be marked read', async () => {
			const { executions } = await n8n.executions(WF.runs);
			return executions.some((e) => e.status === 'success' && messageItems(e).length === 3) && (await seen()).length === 3 ? true : undefined;
		});
		const { executions } = await n8n.executions(WF.runs);
		const runs = executions.filter((e) => messageItems(e).length > 0);
		// every run carried the three messages, one item each; none ran after the one that succeeded
		for (const e of runs) expect(messageItems(e).map((item) => String(item.messageId)).sort()).toEqual(ids);
		expect(runs.filter((e) => e.status === 'success')).toHaveLength(1);
		expect(runs.at(-1)!.status).toBe('success');
		// each failed run: one Mailbox Status execution with an item per message
		const reports = executions.filter((e) => statusItems(e).some((item) => item.status === 'runFailed'));
		expect(reports.length).toBe(runs.length - 1);
		for (const e of reports) expect(statusItems(e).map((item) => String((item.run as { messageId?: string }).messageId)).sort()).toEqual(ids);
	});
});

function countBy(values: string[]): Record<string, number> {
	const out: Record<string, number> = {};
	for (const v of values) out[v] = (out[v] ?? 0) + 1;
	return out;
}
