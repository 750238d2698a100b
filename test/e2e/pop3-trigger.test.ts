/**
 * The Mailbox POP3 Trigger in a real n8n 2.41.1: a published workflow polls a POP3 mailbox (APOP
 * login), receives each new message once (also one with lines that start with a dot), deletes it
 * from the server only after the run succeeded, and keeps its state across an n8n restart.
 */
import fs from 'node:fs';
import { resolveServer } from '../../lib/connection/options';
import { withPop3 } from '../../lib/pop3/connect';
import type { MailServers } from '../servers';
import type { MicrosoftAuthority } from '../servers/microsoft';
import { startPackagedN8n, successfulTriggerRuns, Teardown, triggerWorkflow } from './harness';
import { startMicrosoftApp } from './microsoft-app';
import { isFinished, type N8n, type StoredExecution, waitFor } from './n8n';

const WORKFLOW_ID = 'mbxE2ePop3Trigger';
const TRIGGER = 'New POP3 mail';

function message(n: number): Buffer {
	return Buffer.from(
		[
			'From: Lieferant <lieferant@example.test>',
			'To: bob@example.test',
			`Subject: Lieferschein ${n}`,
			`Message-ID: <pop3-${n}@example.test>`,
			'Date: Wed, 25 Nov 2026 09:00:00 +0100',
			'Content-Type: text/plain; charset=utf-8',
			'',
			`Position ${n}`,
			'.',
			'..and a line that starts with dots',
			'',
		].join('\r\n'),
	);
}

describe('Mailbox POP3 Trigger in real n8n', () => {
	const teardown = new Teardown();
	let servers: MailServers;
	let n8n: N8n;
	let authority: MicrosoftAuthority;

	const add = (n: number) => servers.writeMaildir('bob', 'INBOX', [{ raw: message(n) }]);
	const onServer = async () => {
		const server = resolveServer('pop3', { host: '127.0.0.1', port: servers.ports.pop3s, security: 'tls', ca: fs.readFileSync(servers.certPath) });
		return withPop3(server, { user: 'bob', password: 'bob-pw' }, async ({ client }) => {
			const subjects: string[] = [];
			const { count } = await client.stat();
			for (let i = 1; i <= count; i++) subjects.push(/^Subject: (.*)$/m.exec((await client.top(i, 0)).toString('utf8'))?.[1]?.trim() ?? '');
			return subjects.sort();
		});
	};
	const successful = (): Promise<StoredExecution[]> => successfulTriggerRuns(n8n, WORKFLOW_ID);
	const received = (executions: StoredExecution[]) => executions.flatMap((e) => e.output[TRIGGER] ?? []);

	beforeAll(async () => {
		// with a Microsoft-style sign-in authority whose app tokens Dovecot accepts for POP3 XOAUTH2 as alice
		({ servers, authority } = await startMicrosoftApp(teardown, { clientId: 'pop3-app', clientSecret: 'Pop3-App-Secret-1' }));
		await add(1); // there before the first activation: "only mail arriving from now on" leaves it
		({ n8n } = await startPackagedN8n(teardown, 'pop3', { env: { NODE_EXTRA_CA_CERTS: servers.certPath } }));
		await n8n.importCredentials([
			{ id: 'mbxE2ePop3Bob', name: 'bob (POP3)', type: 'mailboxPop3Api', data: { host: '127.0.0.1', port: servers.ports.pop3s, security: 'tls', user: 'bob', password: 'bob-pw', loginMethod: 'apop' } },
			{
				id: 'mbxE2ePop3MsApp',
				name: 'Microsoft 365 app (alice)',
				type: 'mailboxMicrosoftAppApi',
				data: { tenantId: 'contoso', clientId: 'pop3-app', clientSecret: 'Pop3-App-Secret-1', mailbox: 'alice', authorityHost: authority.host, pop3Host: '127.0.0.1', pop3Port: servers.ports.pop3s },
			},
		]);
		await n8n.importWorkflow({
			id: 'mbxE2ePop3MsAppWf',
			name: 'POP3 trigger with a Microsoft 365 app',
			active: false,
			nodes: [
				{
					id: '7d1b2c1e-1f59-4f0e-9d3c-2f1d7e0a0011',
					name: 'App mail',
					type: 'n8n-nodes-mailbox.mailboxPop3Trigger',
					typeVersion: 1,
					position: [0, 0],
					parameters: { authentication: 'microsoftApp', firstActivation: 'all', pollMinutes: 0.1, deleteAfterFetch: false, deleteAfterDays: 0, options: {} },
					credentials: { mailboxMicrosoftAppApi: { id: 'mbxE2ePop3MsApp', name: 'Microsoft 365 app (alice)' } },
				},
			],
			connections: {},
			settings: { executionOrder: 'v1' },
		});
		await servers.writeMaildir('alice', 'INBOX', [{ raw: message(100) }]);
		await n8n.importWorkflow(
			triggerWorkflow(
				WORKFLOW_ID,
				'POP3 trigger e2e',
				'7d1b2c1e-1f59-4f0e-9d3c-2f1d7e0a00',
				{
					name: TRIGGER,
					type: 'n8n-nodes-mailbox.mailboxPop3Trigger',
					typeVersion: 1,
					parameters: { firstActivation: 'new', pollMinutes: 0.1, deleteAfterFetch: true, deleteAfterDays: 0, options: {} },
					credentials: { mailboxPop3Api: { id: 'mbxE2ePop3Bob', name: 'bob (POP3)' } },
				},
				2,
			),
		);
		await n8n.publish(WORKFLOW_ID);
		await n8n.publish('mbxE2ePop3MsAppWf');
	});

	afterAll(() => teardown.run());

	it('receives each new message once, dot lines intact, and deletes it from the server after the run', async () => {
		await n8n.start();
		await waitFor('the trigger to record the maildrop', async () => {
			const { staticData } = await n8n.executions(WORKFLOW_ID);
			return staticData && JSON.stringify(staticData).includes('messages') ? true : undefined;
		});
		await add(2);
		await add(3);
		const runs = await waitFor('two executions', async () => {
			const done = await successful();
			return done.length >= 2 ? done : undefined;
		});
		const items = received(runs);
		expect(items.map((i) => i.subject).sort()).toEqual(['Lieferschein 2', 'Lieferschein 3']);
		expect(items[0]).toMatchObject({ folder: 'INBOX', uidl: expect.any(String), from: { value: [{ address: 'lieferant@example.test', name: 'Lieferant' }] } });
		expect(items[0].text).toMatch(/^Position \d\n\.\n\.\.and a line that starts with dots\n?$/);
		// deleted by a later poll's DELE + QUIT; the message from before the activation stays
		expect(await waitFor('the deletion', async () => ((await onServer()).length === 1 ? onServer() : undefined))).toEqual(['Lieferschein 1']);
	});

	it('signs in to POP3 with a Microsoft 365 app token (XOAUTH2) fetched by MSAL inside n8n', async () => {
		const runs = await waitFor('the app workflow to receive alice\'s message', async () => {
			const done = (await n8n.executions('mbxE2ePop3MsAppWf')).executions.filter((e) => e.status === 'success');
			return done.length ? done : undefined;
		});
		expect(runs.flatMap((e) => e.output['App mail'] ?? []).map((i) => i.subject)).toEqual(['Lieferschein 100']);
		expect(authority.requests.some((r) => r.method === 'POST' && r.clientId === 'pop3-app')).toBe(true);
	});

	it('keeps its state across an n8n restart: nothing received twice, mail from meanwhile received', async () => {
		await n8n.stop();
		await add(4);
		await n8n.start();
		await waitFor('three executions', async () => {
			const done = await successful();
			return done.length >= 3 ? done : undefined;
		});
		// More polls, until a duplicate would have shown: message 5, added now, is received by a poll
		// that starts after the run of 4 (a poll hands over the maildrop's messages in order, so a
		// duplicate of 4 in that poll comes before it), and once 4 and 5 are deleted, no poll can
		// find 4 again. Then every run started so far has to end.
		await add(5);
		await waitFor('the message added last to be received', async () => (received(await successful()).some((i) => i.subject === 'Lieferschein 5') ? true : undefined));
		expect(await waitFor('the deletion', async () => ((await onServer()).length === 1 ? onServer() : undefined))).toEqual(['Lieferschein 1']);
		const all = await waitFor('no run unfinished', async () => {
			const { executions } = await n8n.executions(WORKFLOW_ID);
			return executions.every(isFinished) ? executions.filter((e) => e.mode === 'trigger' && e.status === 'success') : undefined;
		});
		expect(received(all).map((i) => i.subject).sort()).toEqual(['Lieferschein 2', 'Lieferschein 3', 'Lieferschein 4', 'Lieferschein 5']);
		expect(all).toHaveLength(4);
	});
});
