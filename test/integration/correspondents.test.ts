/**
 * Correspondents (R10), Stamp on Every Item (R11) and Add Body for AI on real mail from Dovecot: the IMAP trigger's
 * items from INBOX (inbound) and from the Sent folder (outbound, Bcc included, found by its
 * SPECIAL-USE role), and the Mailbox node's Message → Get and Search with the same option.
 */
import fs from 'node:fs';
import { ImapFlow } from 'imapflow';
import type { IDataObject } from 'n8n-workflow';
import { startMailServers, type MailServers } from '../servers';
import { MailboxImapTrigger } from '../../nodes/MailboxImapTrigger/MailboxImapTrigger.node';
import { Mailbox } from '../../nodes/Mailbox/Mailbox.node';
import { triggerContext } from './helpers/trigger-context';
import { executeContext } from './helpers/execute-context';

const RECEIVED = [
	'From: "Dana Swope" <dana@fabrikam.test>',
	'Reply-To: Fabrikam Support <support@fabrikam.test>',
	'To: "Alice" <alice@example.test>, bob@example.test',
	'Cc: Carol <carol@partner.test>',
	'Subject: Anfrage Angebot',
	'Message-ID: <received-1@fabrikam.test>',
	'Date: Sun, 06 Dec 2026 09:00:00 +0000',
	'',
	'Hallo Alice,',
	'',
	'bitte schicken Sie uns ein Angebot für 20 Lizenzen.',
	'',
	'Am 05.12.2026 um 10:00 schrieb Alice <alice@example.test>:',
	'> Was brauchen Sie genau?',
	'',
].join('\r\n');

const SENT = [
	'From: Alice <alice@example.test>',
	'To: "Dana Swope" <dana@fabrikam.test>',
	'Bcc: archive@example.test',
	'Subject: Re: Anfrage Angebot',
	'Message-ID: <sent-1@example.test>',
	'Date: Sun, 06 Dec 2026 10:00:00 +0000',
	'',
	'Hallo Dana,',
	'',
].join('\r\n');

async function until(check: () => boolean, what: string, ms = 60_000): Promise<void> {
	const end = Date.now() + ms;
	while (!check()) {
		if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 50));
	}
}

describe('correspondents, stamps and the body for AI on message items', () => {
	let servers: MailServers;
	const credentials = () => ({ mailboxImapApi: { host: '127.0.0.1', port: servers.ports.imaps, security: 'tls', user: 'alice', password: 'alice-pw', allowSelfSigned: true } });

	beforeAll(async () => {
		servers = await startMailServers();
		const client = new ImapFlow({ host: '127.0.0.1', port: servers.ports.imaps, secure: true, tls: { ca: fs.readFileSync(servers.certPath) }, auth: { user: 'alice', pass: 'alice-pw' }, logger: false });
		await client.connect();
		try {
			await client.append('INBOX', RECEIVED);
			await client.append('Sent', SENT, ['\\Seen']);
		} finally {
			await client.logout();
		}
	});

	afterAll(async () => {
		await servers?.stop();
	});

	it('the IMAP trigger adds correspondents (inbound in INBOX, outbound with Bcc in Sent) and the stamp to every item', async () => {
		const node = new MailboxImapTrigger();
		const params: IDataObject = {
			authentication: 'password',
			watch: 'selected',
			folders: ['INBOX', 'Sent'],
			firstActivation: 'all',
			afterProcessing: 'none',
			mode: 'poll',
			pollMinutes: 15,
			stamp: { owner: 'sales-team', activityType: 'E-Mail', tags: 'crm, inbound', accessGroup: 'Vertrieb', fields: { field: [{ name: 'costCenter', value: '4711' }] } },
			options: { correspondents: true, ownDomains: 'example.test', aiBody: true },
		};
		const { ctx, emitted } = triggerContext({ node: { id: 'corr', name: 'Mailbox IMAP Trigger', type: 'n8n-nodes-mailbox.mailboxImapTrigger', typeVersion: 1.3 }, params, credentials: credentials() });
		const response = await node.trigger.call(ctx);
		try {
			await until(() => emitted.flatMap((e) => e.data[0]).length === 2, 'both messages');
		} finally {
			await response.closeFunction?.();
		}
		const items = emitted.flatMap((e) => e.data[0]).map((item) => item.json);
		const inbox = items.find((j) => j.folder === 'INBOX') as IDataObject;
		const sent = items.find((j) => j.folder === 'Sent') as IDataObject;
		expect(inbox.correspondents).toEqual([
			{ name: 'Dana Swope', address: 'dana@fabrikam.test', role: 'from', roles: ['from'], direction: 'inbound', internal: false, self: false },
			{ name: 'Fabrikam Support', address: 'support@fabrikam.test', role: 'replyTo', roles: ['replyTo'], direction: 'inbound', internal: false, self: false },
			{ name: 'Alice', address: 'alice@example.test', role: 'to', roles: ['to'], direction: 'inbound', internal: true, self: false },
			{ name: null, address: 'bob@example.test', role: 'to', roles: ['to'], direction: 'inbound', internal: true, self: false },
			{ name: 'Carol', address: 'carol@partner.test', role: 'cc', roles: ['cc'], direction: 'inbound', internal: false, self: false },
		]);
		expect(sent.correspondents).toEqual([
			{ name: 'Alice', address: 'alice@example.test', role: 'from', roles: ['from'], direction: 'outbound', internal: true, self: false },
			{ name: 'Dana Swope', address: 'dana@fabrikam.test', role: 'to', roles: ['to'], direction: 'outbound', internal: false, self: false },
			{ name: null, address: 'archive@example.test', role: 'bcc', roles: ['bcc'], direction: 'outbound', internal: true, self: false },
		]);
		const stamp = { owner: 'sales-team', activityType: 'E-Mail', tags: ['crm', 'inbound'], accessGroup: 'Vertrieb', costCenter: '4711' };
		expect(inbox.stamp).toEqual(stamp);
		// Add Body for AI: the new text without the quoted reply
		expect(inbox.body).toBe('Hallo Alice,\n\nbitte schicken Sie uns ein Angebot für 20 Lizenzen.');
		expect(inbox).toMatchObject({ bodyFormat: 'text', bodyTruncated: false, bodyRemoved: ['quote'] });
		expect(inbox.text).toContain('Was brauchen Sie genau?');
		expect(sent.stamp).toEqual(stamp);
	});

	it('without the options, items have neither (saved workflows are unchanged)', async () => {
		const node = new MailboxImapTrigger();
		const { ctx, emitted } = triggerContext({
			node: { id: 'plain', name: 'Mailbox IMAP Trigger', type: 'n8n-nodes-mailbox.mailboxImapTrigger', typeVersion: 1.2 },
			params: { authentication: 'password', watch: 'selected', folders: ['INBOX'], firstActivation: 'all', afterProcessing: 'none', mode: 'poll', pollMinutes: 15, options: {} },
			credentials: credentials(),
		});
		const response = await node.trigger.call(ctx);
		try {
			await until(() => emitted.flatMap((e) => e.data[0]).length === 1, 'the message');
		} finally {
			await response.closeFunction?.();
		}
		const json = emitted[0].data[0][0].json;
		expect(json).not.toHaveProperty('correspondents');
		expect(json).not.toHaveProperty('stamp');
		expect(json).not.toHaveProperty('body');
	});

	it('Message → Get (full) and Search (headers) add the same correspondents (a login name without a domain and no Own Domains: nothing is internal)', async () => {
		const run = async (operation: string, params: Record<string, unknown>) => {
			const ctx = executeContext({ items: [{ json: {} }], params: { authentication: 'password', mailbox: '', resource: 'message', operation, ...params }, credentials: credentials() });
			return (await new Mailbox().execute.call(ctx))[0];
		};
		const found = await run('search', { folder: 'Sent', returnAll: true, output: 'headers', filters: {}, options: { correspondents: true } });
		expect(found).toHaveLength(1);
		expect((found[0].json.correspondents as IDataObject[]).map((p) => [p.address, p.role, p.direction, p.internal])).toEqual([
			['alice@example.test', 'from', 'outbound', false],
			['dana@fabrikam.test', 'to', 'outbound', false],
			['archive@example.test', 'bcc', 'outbound', false],
		]);
		const [inbox] = await run('search', { folder: 'INBOX', returnAll: true, output: 'headers', filters: {}, options: {} });
		expect(inbox.json).not.toHaveProperty('correspondents');
		const got = await run('get', { folder: 'INBOX', uid: inbox.json.uid, uidValidity: inbox.json.uidValidity, options: { correspondents: true, ownDomains: 'example.test' } });
		expect((got[0].json.correspondents as IDataObject[]).map((p) => [p.address, p.direction, p.internal])).toEqual([
			['dana@fabrikam.test', 'inbound', false],
			['support@fabrikam.test', 'inbound', false],
			['alice@example.test', 'inbound', true],
			['bob@example.test', 'inbound', true],
			['carol@partner.test', 'inbound', false],
		]);
	});
});
