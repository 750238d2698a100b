/**
 * Hostile mail in a real n8n 2.41.1: the IMAP trigger (version 1.2, runs of several messages)
 * receives one message of each kind of test/fixtures/hostile-mail.ts (1 MiB each; manyHeaders at
 * 2 MiB, over 100,000 header lines), every run succeeds, and n8n answers its health check
 * (`/healthz`) at every poll while it works through them. Whether a poll answered is asserted,
 * not how fast: a poll waits up to 60 s for its answer.
 */
import { startMailServers, type MailServers } from '../servers';
import { HOSTILE_KINDS, hostileMessage, type HostileKind } from '../fixtures/hostile-mail';
import { startPackagedN8n, Teardown } from './harness';
import { withImap } from './imap-folder';
import { isFinished, type N8n, type StoredExecution, waitFor } from './n8n';
import { TRIGGER, workflow } from './three-triggers';

const WORKFLOW_ID = 'mbxE2eHostileMail';
const MIB = 1024 * 1024;
const sizeOf = (kind: HostileKind) => (kind === 'manyHeaders' ? 2 * MIB : MIB);
const messageIdOf = (kind: HostileKind) => `<hostile-${kind}-${sizeOf(kind)}-42@example.test>`;

describe('hostile mail through the IMAP trigger in real n8n', () => {
	const teardown = new Teardown();
	let servers: MailServers;
	let n8n: N8n;

	beforeAll(async () => {
		servers = teardown.add(await startMailServers(), (s) => s.stop());
		({ n8n } = await startPackagedN8n(teardown, 'hostile', { env: { NODE_EXTRA_CA_CERTS: servers.certPath } }));
		await n8n.importCredentials([
			{ id: 'mbxE2eHostileCred', name: 'alice (IMAP)', type: 'mailboxImapApi', data: { host: '127.0.0.1', port: servers.ports.imaps, security: 'tls', user: 'alice', password: 'alice-pw' } },
		]);
		await n8n.importWorkflow(
			workflow(WORKFLOW_ID, {
				type: 'n8n-nodes-mailbox.mailboxImapTrigger',
				// runs of up to 20 messages, 4 at once (the defaults of version 1.2); attachments as binary
				typeVersion: 1.2,
				parameters: { authentication: 'password', watch: 'selected', folders: ['INBOX'], firstActivation: 'new', afterProcessing: 'markRead', mode: 'idle', pollMinutes: 15, options: {} },
				credentials: { mailboxImapApi: { id: 'mbxE2eHostileCred', name: 'alice (IMAP)' } },
			}),
		);
		await n8n.publish(WORKFLOW_ID);
	});

	afterAll(() => teardown.run());

	it('receives every kind once, each run succeeds and marks it read, and /healthz answers every poll meanwhile', async () => {
		await n8n.start();
		await n8n.waitForTriggerState(WORKFLOW_ID, 'INBOX');

		// the health check, polled one request after the other until the messages are done
		const polls: { ok: boolean; error?: string }[] = [];
		let polling = true;
		const poller = (async () => {
			while (polling) {
				const ok = await fetch(`${n8n.url}/healthz`, { signal: AbortSignal.timeout(60_000) }).then(
					(r) => ({ ok: r.ok, ...(r.ok ? {} : { error: `HTTP ${r.status}` }) }),
					(error: unknown) => ({ ok: false, error: String(error) }),
				);
				polls.push(ok);
				await new Promise((r) => setTimeout(r, 200));
			}
		})();

		const expected = HOSTILE_KINDS.map(messageIdOf).sort();
		let runs: StoredExecution[];
		try {
			await withImap(servers, 'alice', async (imap) => {
				for (const kind of HOSTILE_KINDS) await imap.append('INBOX', hostileMessage(kind, sizeOf(kind)), []);
			});
			let last = '';
			runs = await waitFor(
				'a successful run for every hostile message, and no run unfinished',
				async () => {
					const { executions } = await n8n.executions(WORKFLOW_ID);
					const done = executions.filter((e) => e.mode === 'trigger' && e.status === 'success');
					const ids = done.flatMap((e) => (e.output[TRIGGER] ?? []).map((item) => item.messageId as string));
					last = `${executions.length} executions (${executions.map((e) => e.status).join(', ')}), received ${ids.length}`;
					return expected.every((id) => ids.includes(id)) && executions.every(isFinished) ? executions : undefined;
				},
				undefined,
				() => last,
			);
		} finally {
			polling = false;
			await poller;
		}

		// every run succeeded, and each message came in exactly one of them
		expect(runs.filter((e) => e.mode === 'trigger').map((e) => [e.status, e.error ?? null])).toEqual(runs.filter((e) => e.mode === 'trigger').map(() => ['success', null]));
		const items = runs.flatMap((e) => e.output[TRIGGER] ?? []);
		expect(items.map((item) => item.messageId).sort()).toEqual(expected);
		const byKind = Object.fromEntries(HOSTILE_KINDS.map((kind) => [kind, items.find((item) => item.messageId === messageIdOf(kind))!]));
		for (const kind of HOSTILE_KINDS) expect(byKind[kind].subject).toBe(`Hostile mail: ${kind}, ${sizeOf(kind)} bytes`);
		// what a user sees of the ones that need saying
		expect(byKind.manyAttachments.parseWarnings).toEqual(['the message has more than 1000 MIME parts and was read only up to there: its text and attachments may be missing']);
		expect(byKind.addressFlood.parseWarnings).toEqual(['cc: encoded-word without its closing "?="', 'to: unbalanced quotes or brackets; the addresses were read from the text']);
		expect(byKind.bidiNames.parseWarnings).toEqual([
			expect.stringMatching(/^attachments 1, 2, 3, 4, 5 and \d+ more: declared application\/octet-stream, but its content is a Windows program/),
			expect.stringMatching(/^attachments 1, 2, 3, 4, 5 and \d+ more: the file names had right-to-left controls/),
		]);
		expect((byKind.bidiNames.attachments as { filename: string }[]).every((a) => /^invoice-\d{6}fdp\.exe$/.test(a.filename))).toBe(true);
		expect(Object.keys(byKind.manyHeaders.headers as object).length).toBeGreaterThan(50_000);

		// n8n answered its health check at every poll while it worked
		expect(polls.length).toBeGreaterThan(0);
		expect(polls.filter((p) => !p.ok)).toEqual([]);

		// the trigger marked each message read after its run
		const seen = await waitFor('all hostile messages marked read', () =>
			withImap(servers, 'alice', async (imap) => {
				const lock = await imap.getMailboxLock('INBOX');
				try {
					const flags: boolean[] = [];
					for await (const m of imap.fetch('1:*', { flags: true, envelope: true })) if (m.envelope) flags.push(m.flags?.has('\\Seen') ?? false);
					return flags.length === HOSTILE_KINDS.length && flags.every(Boolean) ? flags : undefined;
				} finally {
					lock.release();
				}
			}),
		);
		expect(seen).toHaveLength(HOSTILE_KINDS.length);
		expect(n8n.logs()).not.toMatch(/Unhandled|TypeError|heap out of memory/);
	});
});
