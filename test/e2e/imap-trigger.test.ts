/**
 * The Mailbox IMAP Trigger in a real n8n 2.41.1: a published workflow receives mail appended by
 * the test (pushed by IDLE), each message exactly once, marks it read only after the run
 * succeeded, keeps its state across an n8n restart, and emits no duplicate afterwards.
 */
import { startMailServers, type MailServers } from '../servers';
import { startPackagedN8n, successfulTriggerRuns, Teardown, triggerWorkflow } from './harness';
import { withImap } from './imap-folder';
import { isFinished, type N8n, type StoredExecution, waitFor } from './n8n';

const WORKFLOW_ID = 'mbxE2eImapTrigger';
const TRIGGER = 'New mail';

function message(n: number, extra = ''): string {
	return [
		'From: "Kundin Müller" <kundin@example.test>',
		'To: alice@example.test',
		`Subject: Anfrage Nr. ${n} – Übersicht`,
		`Message-ID: <trigger-${n}@example.test>`,
		'Date: Tue, 24 Nov 2026 10:00:00 +0100',
		'MIME-Version: 1.0',
		'Content-Type: multipart/mixed; boundary="b1"',
		'',
		'--b1',
		'Content-Type: text/plain; charset=utf-8',
		'Content-Transfer-Encoding: 8bit',
		'',
		`Guten Tag, das ist Nachricht ${n}.${extra}`,
		'--b1',
		'Content-Type: text/csv; name="liste.csv"',
		'Content-Disposition: attachment; filename="liste.csv"',
		'',
		`nr;wert\r\n${n};${n * 10}`,
		'--b1--',
		'',
	].join('\r\n');
}

describe('Mailbox IMAP Trigger in real n8n', () => {
	const teardown = new Teardown();
	let servers: MailServers;
	let n8n: N8n;

	const append = async (n: number) => {
		await withImap(servers, 'alice', (imap) => imap.append('INBOX', message(n), []));
	};
	/**
	 * Message-ID -> whether it is \Seen, for every message in INBOX. n8n marking mail read meanwhile
	 * can show up in the FETCH as an unsolicited response with the flags only: not a message, left out.
	 */
	const seenInInbox = () =>
		withImap(servers, 'alice', async (imap) => {
			const seen: Record<string, boolean> = {};
			const lock = await imap.getMailboxLock('INBOX');
			try {
				for await (const m of imap.fetch('1:*', { envelope: true, flags: true })) {
					if (m.envelope) seen[m.envelope.messageId ?? ''] = m.flags?.has('\\Seen') ?? false;
				}
			} finally {
				lock.release();
			}
			return seen;
		});
	const successful = (): Promise<StoredExecution[]> => successfulTriggerRuns(n8n, WORKFLOW_ID);
	const receivedIds = (executions: StoredExecution[]) => executions.flatMap((e) => (e.output[TRIGGER] ?? []).map((item) => item.messageId as string)).filter(Boolean);

	beforeAll(async () => {
		servers = teardown.add(await startMailServers(), (s) => s.stop());
		// mail that is there before the first activation: "only mail arriving from now on" leaves it
		await append(1);
		await append(2);

		({ n8n } = await startPackagedN8n(teardown, 'trigger', { env: { NODE_EXTRA_CA_CERTS: servers.certPath } }));
		await n8n.importCredentials([
			{ id: 'mbxE2eTriggerCred', name: 'alice (IMAP)', type: 'mailboxImapApi', data: { host: '127.0.0.1', port: servers.ports.imaps, security: 'tls', user: 'alice', password: 'alice-pw' } },
		]);
		await n8n.importWorkflow(
			triggerWorkflow(
				WORKFLOW_ID,
				'IMAP trigger e2e',
				'6d1b2c1e-1f59-4f0e-9d3c-2f1d7e0a00',
				{
					name: TRIGGER,
					type: 'n8n-nodes-mailbox.mailboxImapTrigger',
					typeVersion: 1,
					parameters: { authentication: 'password', watch: 'selected', folders: ['INBOX'], firstActivation: 'new', afterProcessing: 'markRead', mode: 'idle', pollMinutes: 15, options: {} },
					credentials: { mailboxImapApi: { id: 'mbxE2eTriggerCred', name: 'alice (IMAP)' } },
				},
				2,
			),
		);
		await n8n.publish(WORKFLOW_ID);
	});

	afterAll(() => teardown.run());

	it('receives each new message once, parsed with its attachment, and marks it read only after the run', async () => {
		await n8n.start();
		// the trigger is active once its state (UIDVALIDITY and cursor of INBOX) is saved
		await n8n.waitForTriggerState(WORKFLOW_ID, 'INBOX');
		for (const n of [3, 4, 5]) await append(n);
		const runs = await waitFor('three executions', async () => {
			const done = await successful();
			return done.length >= 3 ? done : undefined;
		});
		expect(receivedIds(runs).sort()).toEqual(['<trigger-3@example.test>', '<trigger-4@example.test>', '<trigger-5@example.test>']);
		const first = runs.flatMap((e) => e.output[TRIGGER])[0];
		expect(first).toMatchObject({
			folder: 'INBOX',
			subject: expect.stringMatching(/^Anfrage Nr\. \d – Übersicht$/),
			from: { value: [{ address: 'kundin@example.test', name: 'Kundin Müller' }] },
			text: expect.stringMatching(/^Guten Tag, das ist Nachricht \d\./),
			attachments: [expect.objectContaining({ filename: 'liste.csv', contentType: 'text/csv' })],
		});
		expect(typeof first.uid).toBe('number');

		// the trigger marks a message read after its run succeeded: wait for all three, then check the whole folder
		const received = ['<trigger-3@example.test>', '<trigger-4@example.test>', '<trigger-5@example.test>'];
		let last = '';
		const seen = await waitFor(
			'the three received messages to be marked read',
			async () => {
				const now = await seenInInbox();
				last = JSON.stringify(now);
				return received.every((id) => now[id]) ? now : undefined;
			},
			undefined,
			() => last,
		);
		// the two messages from before the activation were neither received nor touched
		expect(seen).toEqual({
			'<trigger-1@example.test>': false,
			'<trigger-2@example.test>': false,
			'<trigger-3@example.test>': true,
			'<trigger-4@example.test>': true,
			'<trigger-5@example.test>': true,
		});
	});

	it('keeps its state across an n8n restart: nothing received twice, mail that came meanwhile is received', async () => {
		await n8n.stop();
		await append(6); // arrives while n8n is down
		await n8n.start();
		await append(7);
		await waitFor('five executions', async () => {
			const done = await successful();
			return done.length >= 5 ? done : undefined;
		});
		// A duplicate would come from the trigger's catch-up after the restart. The trigger hands a
		// folder's messages to n8n in UID order, so a duplicate's run would start before the run of
		// a message appended now: once that one succeeded and no run is unfinished, all are stored.
		await append(8);
		const runs = await waitFor('the run of the message appended last, and no run unfinished', async () => {
			const { executions } = await n8n.executions(WORKFLOW_ID);
			const done = executions.filter((e) => e.mode === 'trigger' && e.status === 'success');
			return receivedIds(done).includes('<trigger-8@example.test>') && executions.every(isFinished) ? done : undefined;
		});
		expect(receivedIds(runs).sort()).toEqual([3, 4, 5, 6, 7, 8].map((n) => `<trigger-${n}@example.test>`));
		expect(runs).toHaveLength(6);
		expect(n8n.logs()).not.toMatch(/Unhandled|TypeError/);
	});
});
