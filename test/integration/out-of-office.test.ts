/**
 * Out of Office against a real Dovecot with Pigeonhole: the Mailbox node's Set, Get and Clear
 * through ManageSieve, checked on the server (LISTSCRIPTS, GETSCRIPT), and the auto-reply itself:
 * messages delivered by dovecot-lda run the active script, and the SMTP capture server receives
 * the vacation replies (or, for lists, bulk mail, a second message, outside the period, none).
 * Needs root (Dovecot is installed with apt-get when missing).
 */
import fs from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import type { IDataObject, INodeExecutionData } from 'n8n-workflow';
import { resolveServer, type Login, type Security } from '../../lib/connection/options';
import { MailboxError } from '../../lib/errors';
import { sieveServerFrom, withManageSieve } from '../../lib/sieve/connect';
import type { ManageSieveClient } from '../../lib/sieve/managesieve';
import { getOutOfOffice, OUT_OF_OFFICE_SCRIPT } from '../../lib/sieve/out-of-office';
import { parseVacationScript } from '../../lib/sieve/vacation';
import { Mailbox } from '../../nodes/Mailbox/Mailbox.node';
import { closedPort } from '../servers/ports';
import { HttpConnectProxy } from '../servers/proxy';
import { executeContext } from './helpers/execute-context';
import { useMailServers } from './helpers/mail-servers';

const USERS = { alice: 'alice-pw', bob: 'bob-pw', carol: 'carol-pw', dave: 'dave-pw', erin: 'erin-pw' };
const DAY = 24 * 3600 * 1000;

describe('Out of Office through ManageSieve (Dovecot Pigeonhole)', () => {
	const env = useMailServers({ users: USERS });
	let messageNo = 0;

	/** A lib-level session (certificate checked against the test CA), for looking at the server. */
	function sieve<T>(user: string, work: (client: ManageSieveClient) => Promise<T>, options: { login?: Login; security?: Security; port?: number; ca?: string | null; allowSelfSigned?: boolean } = {}): Promise<T> {
		const imap = resolveServer('imap', { host: '127.0.0.1', port: env.servers.ports.imaps, security: 'tls', ca: options.ca === null ? undefined : (options.ca ?? env.ca), allowUnauthorizedCerts: options.allowSelfSigned });
		const server = sieveServerFrom(imap, { port: options.port ?? env.servers.ports.sieve, security: options.security });
		return withManageSieve(server, options.login ?? { user, password: USERS[user as keyof typeof USERS] }, ({ client }) => work(client));
	}

	/** Runs the Mailbox node's Out of Office operation for one item. */
	async function node(operation: 'set' | 'get' | 'clear', user: string, params: Record<string, unknown> = {}, overrides: { password?: string; continueOnFail?: boolean } = {}): Promise<IDataObject> {
		const { options, ...rest } = params as { options?: IDataObject };
		const ctx = executeContext({
			items: [{ json: {} }],
			params: { authentication: 'password', resource: 'outOfOffice', operation, options: { sievePort: env.servers.ports.sieve, ...options }, ...rest },
			credentials: { mailboxImapApi: env.imapCredential(user, overrides.password) },
			continueOnFail: overrides.continueOnFail,
		});
		const [items] = (await new Mailbox().execute.call(ctx)) as INodeExecutionData[][];
		expect(items).toHaveLength(1);
		return items[0].json;
	}

	async function nodeError(operation: 'set' | 'get' | 'clear', user: string, params: Record<string, unknown> = {}, password?: string): Promise<{ message: string; description: string }> {
		const json = await node(operation, user, params, { password, continueOnFail: true });
		expect(json.error).toEqual(expect.any(String));
		return { message: String(json.error), description: String(json.description ?? '') };
	}

	/** Delivers a message to `user` through dovecot-lda (Sieve runs); returns the replies it caused. */
	async function deliver(user: string, from: string, headers: Record<string, string> = {}, subject = 'Question about order 4711') {
		const messageId = `<test-${++messageNo}-${Date.now()}@example.org>`;
		const lines = [`From: Sender ${messageNo} <${from}>`, `To: ${user}@mailbox.test`, `Subject: ${subject}`, `Message-ID: ${messageId}`, 'Date: Mon, 02 Mar 2026 09:00:00 +0000', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', 'Hello, a question.', ''];
		const before = env.servers.received.length;
		await env.servers.dovecot.deliver(user, lines.join('\r\n'), { from, submissionPort: env.servers.ports.smtp });
		// dovecot-lda submits a reply over SMTP and waits for the server's answer before it exits, and
		// the capture server stores the message before it answers: every reply is in `received` now.
		const replies = await Promise.all(env.servers.received.slice(before).map(async (r) => ({ envelope: r, mail: await simpleParser(r.raw) })));
		return { messageId, replies };
	}

	const now = () => new Date();

	it('reaches ManageSieve through an HTTP CONNECT proxy with STARTTLS (the server speaks first on the tunnel)', async () => {
		const proxy = await new HttpConnectProxy().listen();
		try {
			const imap = resolveServer('imap', { host: '127.0.0.1', port: env.servers.ports.imaps, security: 'tls', ca: env.ca, proxy: { type: 'http', host: '127.0.0.1', port: proxy.port }, timeoutMs: 15_000 });
			const server = sieveServerFrom(imap, { port: env.servers.ports.sieve, security: 'starttls' });
			const scripts = await withManageSieve(server, { user: 'alice', password: USERS.alice }, ({ client, encrypted }) => client.listScripts().then((list) => ({ encrypted, list: Array.isArray(list) })));
			expect(scripts).toEqual({ encrypted: true, list: true });
			expect(proxy.tunnels).toEqual([{ target: `127.0.0.1:${env.servers.ports.sieve}`, allowed: true }]);
		} finally {
			await proxy.stop();
		}
	});

	it('Set writes an active script that reads back to the same settings; Get returns them', async () => {
		const text = 'Guten Tag,\n\nich bin bis 10. März nicht im Büro.\n.\n"Zitat" \\ Ende\n';
		const set = await node('set', 'alice', { subject: 'Abwesend: "Urlaub"', text, options: { days: 3, addresses: 'alice@mailbox.test, sales@mailbox.test', endDate: new Date(Date.now() + 30 * DAY).toISOString() } });
		expect(set).toMatchObject({ enabled: true, status: 'on', subject: 'Abwesend: "Urlaub"', text, days: 3, addresses: ['alice@mailbox.test', 'sales@mailbox.test'], scriptName: OUT_OF_OFFICE_SCRIPT, activeScript: OUT_OF_OFFICE_SCRIPT, includedScript: null, startDate: null });

		const { scripts, script } = await sieve('alice', async (client) => ({ scripts: await client.listScripts(), script: await client.getScript(OUT_OF_OFFICE_SCRIPT) }));
		expect(scripts).toEqual([{ name: OUT_OF_OFFICE_SCRIPT, active: true }]);
		expect(parseVacationScript(script)).toEqual({ subject: 'Abwesend: "Urlaub"', text, days: 3, addresses: ['alice@mailbox.test', 'sales@mailbox.test'], end: new Date(String(set.endDate)) });

		expect(await node('get', 'alice')).toEqual({ ...set });
	});

	it('Dovecot answers a message with the auto-reply; a second one from the same sender, lists, bulk and automatic mail get none', async () => {
		await node('set', 'bob', { subject: 'Out of office', text: 'I am away until Monday.\nUrgent: call +49 30 1234.', options: { addresses: 'bob@mailbox.test' } });

		const first = await deliver('bob', 'customer1@example.org');
		expect(first.replies).toHaveLength(1);
		const [{ envelope, mail }] = first.replies;
		expect(envelope.rcptTo).toEqual(['customer1@example.org']);
		expect(envelope.mailFrom ?? '').toBe(''); // null sender: nobody auto-replies to an auto-reply
		expect(mail.to).toMatchObject({ value: [{ address: 'customer1@example.org' }] });
		expect(mail.from).toMatchObject({ value: [{ address: 'bob@mailbox.test' }] });
		expect(mail.subject).toBe('Out of office');
		expect(mail.headers.get('auto-submitted')).toMatch(/^auto-replied/);
		expect(mail.inReplyTo).toBe(first.messageId);
		expect(mail.text?.trim()).toBe('I am away until Monday.\nUrgent: call +49 30 1234.');

		expect((await deliver('bob', 'customer1@example.org')).replies).toHaveLength(0);
		expect((await deliver('bob', 'news@example.org', { Precedence: 'bulk' })).replies).toHaveLength(0);
		expect((await deliver('bob', 'list@example.org', { 'List-Id': 'Sales team <sales.lists.example.org>' })).replies).toHaveLength(0);
		expect((await deliver('bob', 'robot@example.org', { 'Auto-Submitted': 'auto-generated' })).replies).toHaveLength(0);
		expect((await deliver('bob', 'exchange@example.org', { 'X-Auto-Response-Suppress': 'OOF, AutoReply' })).replies).toHaveLength(0);
		// and a new sender still gets one: the silence above was the rules, not a broken script
		expect((await deliver('bob', 'customer2@example.org', { 'Auto-Submitted': 'no' })).replies).toHaveLength(1);
	});

	it('replies only within the period: not before Start, not from End on', async () => {
		const future = await node('set', 'carol', { text: 'Away soon.', options: { startDate: new Date(Date.now() + DAY).toISOString(), endDate: new Date(Date.now() + 3 * DAY).toISOString() } });
		expect(future).toMatchObject({ enabled: true, status: 'scheduled' });
		expect((await deliver('carol', 'early@example.org')).replies).toHaveLength(0);

		const past = await node('set', 'carol', { text: 'Was away.', options: { startDate: new Date(Date.now() - 3 * DAY).toISOString(), endDate: new Date(Date.now() - 60_000).toISOString() } });
		expect(past).toMatchObject({ enabled: true, status: 'ended' });
		expect((await deliver('carol', 'late@example.org')).replies).toHaveLength(0);

		// wall-clock times in the workflow's zone (UTC here) without a zone suffix work too
		const stamp = (d: Date) => d.toISOString().slice(0, 19);
		const current = await node('set', 'carol', { subject: 'Away now', text: 'Away now.', options: { startDate: stamp(new Date(Date.now() - 60_000)), endDate: stamp(new Date(Date.now() + DAY)) } });
		expect(current).toMatchObject({ status: 'on' });
		const during = await deliver('carol', 'during@example.org');
		expect(during.replies.map((r) => r.mail.subject)).toEqual(['Away now']);
	});

	it("keeps the user's active script running while the auto-reply is on, and makes it active again on Clear", async () => {
		const filters = 'require ["fileinto", "mailbox"];\r\nif header :contains "Subject" "invoice" {\r\n  fileinto :create "Invoices";\r\n}\r\n';
		await sieve('dave', async (client) => {
			await client.putScript('my filters', filters);
			await client.setActive('my filters');
		});
		const invoices = () => {
			const dir = path.join(env.servers.maildir('dave', 'Invoices'), 'new');
			return fs.existsSync(dir) ? fs.readdirSync(dir).length : 0;
		};

		const set = await node('set', 'dave', { subject: 'Away', text: 'Away.' });
		expect(set).toMatchObject({ enabled: true, includedScript: 'my filters', activeScript: OUT_OF_OFFICE_SCRIPT });
		expect(await sieve('dave', (c) => c.listScripts())).toEqual(
			expect.arrayContaining([
				{ name: 'my filters', active: false },
				{ name: OUT_OF_OFFICE_SCRIPT, active: true },
			]),
		);
		const during = await deliver('dave', 'supplier@example.org', {}, 'Your invoice 2026-17');
		expect(during.replies).toHaveLength(1);
		expect(invoices()).toBe(1);

		// Set again (new text) keeps including the user's script
		expect(await node('set', 'dave', { subject: 'Away', text: 'Still away.' })).toMatchObject({ includedScript: 'my filters', text: 'Still away.' });

		const cleared = await node('clear', 'dave');
		expect(cleared).toMatchObject({ cleared: true, restoredScript: 'my filters', enabled: false, status: 'off', scriptExists: false, activeScript: 'my filters' });
		expect(await sieve('dave', (c) => c.listScripts())).toEqual([{ name: 'my filters', active: true }]);
		expect(await sieve('dave', (c) => c.getScript('my filters'))).toBe(filters);
		const after = await deliver('dave', 'supplier2@example.org', {}, 'Another invoice');
		expect(after.replies).toHaveLength(0);
		expect(invoices()).toBe(2);

		// Clear again: nothing to do
		expect(await node('clear', 'dave')).toMatchObject({ cleared: false, restoredScript: null, activeScript: 'my filters' });
	});

	it('Clear without an earlier script leaves no script active; Get then reports off', async () => {
		await node('set', 'erin', { text: 'Away.' });
		expect((await deliver('erin', 'first@example.org')).replies).toHaveLength(1);
		expect(await node('clear', 'erin')).toMatchObject({ cleared: true, restoredScript: null, activeScript: null });
		expect(await sieve('erin', (c) => c.listScripts())).toEqual([]);
		expect(await node('get', 'erin')).toMatchObject({ enabled: false, status: 'off', scriptExists: false, subject: null, text: null, activeScript: null });
		expect((await deliver('erin', 'second@example.org')).replies).toHaveLength(0);
	});

	it('refuses to stack a second auto-reply on an active script that has its own, and leaves foreign scripts of our name alone', async () => {
		await sieve('erin', async (client) => {
			await client.putScript('webmail', 'require ["vacation"];\r\nvacation :days 1 "Webmail away.";\r\n');
			await client.setActive('webmail');
		});
		expect(await node('get', 'erin')).toMatchObject({ enabled: false, activeScript: 'webmail', otherAutoReplyActive: true });
		const stacked = await nodeError('set', 'erin', { text: 'Away.' });
		expect(stacked.message).toMatch(/active Sieve script "webmail" has an auto-reply \(vacation\) of its own/);
		expect(await sieve('erin', (c) => c.listScripts())).toEqual([{ name: 'webmail', active: true }]);

		await sieve('erin', async (client) => {
			await client.setActive('');
			await client.putScript(OUT_OF_OFFICE_SCRIPT, 'keep;\r\n');
		});
		const foreign = await nodeError('set', 'erin', { text: 'Away.' });
		expect(foreign.message).toMatch(/not written by the Mailbox node/);
		expect(await sieve('erin', (c) => c.getScript(OUT_OF_OFFICE_SCRIPT))).toBe('keep;\r\n');
		await sieve('erin', (c) => c.deleteScript(OUT_OF_OFFICE_SCRIPT));
	});

	it("reports the server's words when it refuses the script (CHECKSCRIPT)", async () => {
		const refused = await nodeError('set', 'alice', { text: 'Away.', options: { from: 'broken@' } });
		expect(refused.message).toMatch(/refused the out-of-office Sieve script: .*from/i);
		// nothing changed: the earlier auto-reply is still the active one
		expect(await node('get', 'alice')).toMatchObject({ enabled: true, subject: 'Abwesend: "Urlaub"' });
	});

	it('says clearly when the server offers no ManageSieve on the port', async () => {
		const closed = await closedPort();
		const refused = await nodeError('get', 'alice', { options: { sievePort: closed } });
		expect(refused.message).toMatch(new RegExp(`127\\.0\\.0\\.1 offers no ManageSieve on port ${closed}: the connection was refused`));
		expect(refused.description).toMatch(/ManageSieve Port/);

		// an IMAP server on that port instead
		const imap = await nodeError('get', 'alice', { options: { sievePort: env.servers.ports.imap } });
		expect(imap.message).toMatch(/offers no ManageSieve on port \d+: the server there did not answer like a ManageSieve server/);

		let error: unknown;
		await sieve('alice', async () => undefined, { port: closed }).catch((e: unknown) => (error = e));
		expect(error).toBeInstanceOf(MailboxError);
		expect(error).toMatchObject({ code: 'CONNECTION_REFUSED', field: 'sievePort', step: 'connect' });

		// a port that accepts and stays silent (IMAPS waits for a TLS handshake)
		const silent = await nodeError('get', 'alice', { options: { sievePort: env.servers.ports.imaps } });
		expect(silent.message).toMatch(/offers no ManageSieve on port \d+: a connection was accepted but no ManageSieve greeting came/);
	}, 30_000);

	it('ManageSieve Security weaker than the IMAP credential\'s (None, STARTTLS if Offered) is refused naming it: the IMAP password would go in clear', async () => {
		for (const security of ['none', 'starttls-optional']) {
			const { message, description } = await nodeError('get', 'alice', { options: { sieveSecurity: security } });
			expect(message).toContain("ManageSieve Security: ");
			expect(message).toContain("could send the credential's password unencrypted, while the credential asks for SSL/TLS");
			expect(description).toContain('Choose SSL/TLS or STARTTLS');
		}
	});

	it('rejects a wrong password clearly and without the password in the message', async () => {
		const wrong = 'Secret-Wrong-Pw-123';
		const failed = await nodeError('get', 'alice', {}, wrong);
		expect(failed.message).toMatch(/Authentication failed: 127\.0\.0\.1 rejected the ManageSieve login for user "alice"/);
		expect(`${failed.message} ${failed.description}`).not.toContain(wrong);
		expect(`${failed.message} ${failed.description}`).not.toContain(Buffer.from(`\0alice\0${wrong}`).toString('base64'));
		let error: unknown;
		await sieve('alice', async () => undefined, { login: { user: 'alice', password: wrong } }).catch((e: unknown) => (error = e));
		expect(error).toMatchObject({ code: 'AUTH', field: 'password', step: 'login' });

		// the debug log of a session shows the commands, never the SASL response
		const log: string[] = [];
		const logger = { debug: (m: string) => log.push(m), info: (m: string) => log.push(m), warn: (m: string) => log.push(m), error: (m: string) => log.push(m) };
		const server = sieveServerFrom(env.imapServer(), { port: env.servers.ports.sieve });
		await withManageSieve(server, { user: 'alice', password: USERS.alice }, ({ client }) => client.listScripts(), { logger });
		expect(log).toEqual(expect.arrayContaining(['managesieve: C: AUTHENTICATE "PLAIN" [hidden]', 'managesieve: C: LISTSCRIPTS']));
		const plain = Buffer.from(`\0alice\0${USERS.alice}`).toString('base64');
		expect(log.join('\n')).not.toContain(plain);
		expect(log.join('\n')).not.toContain(USERS.alice);
	});

	it('logs in with an access token (OAUTHBEARER) and checks the certificate after STARTTLS', async () => {
		const state = await sieve('alice', (client) => getOutOfOffice(client, { now: now() }), { login: { user: 'alice', accessToken: 'valid-token-alice' } });
		expect(state).toMatchObject({ enabled: true, scriptName: OUT_OF_OFFICE_SCRIPT });
		let error: unknown;
		await sieve('alice', async () => undefined, { login: { user: 'alice', accessToken: 'made-up-token' } }).catch((e: unknown) => (error = e));
		expect(error).toMatchObject({ code: 'AUTH', field: 'accessToken' });
		expect(String((error as Error).message)).not.toContain('made-up-token');

		let untrusted: unknown;
		await sieve('alice', async () => undefined, { ca: null }).catch((e: unknown) => (untrusted = e));
		expect(untrusted).toMatchObject({ code: 'TLS_CERTIFICATE', field: 'allowSelfSigned', step: 'tls' });
		expect(await sieve('alice', async (c) => !!c.tlsSocket, { ca: null, allowSelfSigned: true })).toBe(true);
	});
});
