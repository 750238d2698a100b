/**
 * The Mailbox Router node without delivery (no server): its description, and items routed to the
 * three outputs with the decision path, the input item's fields and binary data passed on.
 */
import type { INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { MailboxRouter } from '../../../../nodes/MailboxRouter/MailboxRouter.node';
import { executeContext } from '../../../integration/helpers/execute-context';

const node = new MailboxRouter();
const run = (items: INodeExecutionData[], params: Record<string, unknown>, typeVersion?: number) =>
	node.execute.call(executeContext({ items, params: { deliver: false, options: {}, ...params }, credentials: {}, node: { name: 'Mailbox Router', type: 'n8n-nodes-mailbox.mailboxRouter', typeVersion } }));

describe('Mailbox Router node', () => {
	it('has three named outputs, and its credentials only when delivering', () => {
		const d = node.description;
		expect(d.name).toBe('mailboxRouter');
		expect(d.outputs).toHaveLength(3);
		expect(d.outputNames).toEqual(['Routed', 'Unknown — Kept', 'Unknown — Dropped']);
		for (const c of d.credentials ?? []) expect(c.displayOptions?.show?.deliver).toEqual([true]);
		const byName = Object.fromEntries(d.properties.map((p: INodeProperties) => [p.name, p]));
		expect(byName.dropUnknown.default).toBe(false);
		expect(byName.deliver.default).toBe(false);
		expect(byName.inboxRoot.default).toBe('Inboxes');
		expect(byName.exceptions.displayOptions?.show?.dropUnknown).toEqual([true]);
	});

	it('routes each message per recipient to the outputs, with the decision path, the item\'s fields and binary data', async () => {
		const items: INodeExecutionData[] = [
			{ json: { subject: 'A', headers: { 'delivered-to': 'catchall@myfactory.exp', 'x-original-to': 'sys.admin@myfactory.abc' } }, binary: { raw: { data: 'AA==', mimeType: 'message/rfc822' } } },
			{ json: { subject: 'B', to: { value: [{ address: 'anna@myfactory.exp', name: '' }, { address: 'nobody@myfactory.exp', name: '' }, { address: 'x@elsewhere.example', name: '' }], text: '' }, headers: {} } },
			{ json: { subject: 'C', headers: { 'x-original-to': 'someone@myfactory.com' } } },
		];
		const [routed, kept, dropped] = await run(items, {
			inboxes: { inbox: [{ name: 'Admin', addresses: 'sysadmin@myfactory.exp' }] },
			employees: { employee: [{ name: 'Anna', addresses: 'anna@myfactory.exp' }] },
			domainRedirects: { rule: [{ from: 'myfactory.abc', to: 'myfactory.exp' }] },
			localPartRedirects: { rule: [{ from: 'sys.admin', to: 'sysadmin' }] },
			directoryJson: '',
			dropUnknown: true,
			exceptions: '@myfactory.com',
			inboxRoot: 'Postfächer',
			masterAddresses: 'catchall@myfactory.exp',
		});
		expect(routed.map((i) => [i.json.subject, (i.json.routing as { target: { folder: string } }).target.folder, i.pairedItem])).toEqual([
			['A', 'Postfächer/Admin', { item: 0 }],
			['B', 'Postfächer/Anna', { item: 1 }],
		]);
		expect(routed[0].binary?.raw.data).toBe('AA==');
		const path = (routed[0].json.routing as { recipients: Array<{ path: Array<{ detail: string }> }> }).recipients[0].path.map((p) => p.detail);
		expect(path).toEqual([
			'domain redirect myfactory.abc -> myfactory.exp: sys.admin@myfactory.exp',
			'no inbox receives sys.admin@myfactory.exp',
			'local-part redirect sys.admin@ -> sysadmin@: sysadmin@myfactory.exp',
			'inbox "Admin" (folder Postfächer/Admin) receives sysadmin@myfactory.exp',
		]);
		expect(dropped.map((i) => [i.json.subject, (i.json.routing as { recipients: Array<{ address: string }> }).recipients.map((r) => r.address)])).toEqual([['B', ['nobody@myfactory.exp']]]);
		expect(kept.map((i) => i.json.subject)).toEqual(['C']);
		expect((dropped[0].json.routing as { ignored: unknown[] }).ignored).toEqual([{ address: 'x@elsewhere.example', source: 'To', reason: 'not a domain of the master mailbox (elsewhere.example)' }]);
	});

	it('version 1 trusts every envelope header; version 1.1 (the default) only the receiving server\'s, unless Trust Envelope Headers says otherwise', async () => {
		expect(node.description.version).toEqual([1, 1.1]);
		expect(node.description.defaultVersion).toBe(1.1);
		const trust = (node.description.properties.find((p) => p.name === 'options')?.options as INodeProperties[]).find((o) => o.name === 'trustEnvelope');
		expect(trust?.options?.map((o) => ('value' in o ? o.value : undefined))).toEqual(['top', 'any', 'ownDomains']);
		// forwarded from Gmail: the server's Delivered-To on top, Gmail's below the server's Received header
		const items: INodeExecutionData[] = [
			{ json: { subject: 'forwarded', headers: { 'delivered-to': ['catchall@myfactory.exp', 'someone@gmail.com'], received: ['from mail-sor-f41.google.com by mx.myfactory.exp', 'by 2002:a05:6000 with SMTP'], to: 'someone@gmail.com' } } },
		];
		const params = { employees: { employee: [{ name: 'Anna', addresses: 'anna@myfactory.exp' }] }, directoryJson: '', dropUnknown: true, masterAddresses: 'catchall@myfactory.exp' };
		const outcome = async (typeVersion: number, options: Record<string, unknown> = {}) => {
			const [routed, kept, dropped] = await run(items, { ...params, options }, typeVersion);
			return { routed: routed.length, kept: kept.length, dropped: dropped.map((i) => (i.json.routing as { recipients: Array<{ address: string }> }).recipients.map((r) => r.address)) };
		};
		expect(await outcome(1)).toEqual({ routed: 0, kept: 0, dropped: [['someone@gmail.com']] });
		expect(await outcome(1.1)).toEqual({ routed: 0, kept: 1, dropped: [] });
		expect(await outcome(1.1, { trustEnvelope: 'any' })).toEqual({ routed: 0, kept: 0, dropped: [['someone@gmail.com']] });
		expect(await outcome(1, { trustEnvelope: 'top' })).toEqual({ routed: 0, kept: 1, dropped: [] });
		const [, kept] = await run(items, { ...params, options: {} }, 1.1);
		expect((kept[0].json.routing as { ignored: unknown[] }).ignored).toContainEqual({ address: 'someone@gmail.com', source: 'Delivered-To', reason: 'not the topmost Delivered-To header: a sender or an earlier server wrote it' });
	});

	it('a directory mistake stops the run with the parameter, the entry and the fix', async () => {
		await expect(run([{ json: {} }], { directoryJson: '[{"type": "employee", "name": "Anna", "email": "anna(at)example.com"}]' })).rejects.toMatchObject({
			message: 'Directory From JSON: Employee 1 ("Anna"): "anna(at)example.com" is not an e-mail address.',
			description: 'Enter addresses such as anna@example.com, separated by commas.',
		});
		await expect(run([{ json: {} }], { directoryJson: '{"employes": []}' })).rejects.toThrow(/unknown key "employes"/);
		await expect(run([{ json: {} }], { domainRedirects: { rule: [{ from: 'a.example', to: 'b.example' }, { from: 'b.example', to: 'a.example' }] } })).rejects.toThrow(/^Domain Redirects: The domain redirects form a loop/);
		await expect(run([{ json: {} }], { employees: { employee: [{ name: 'Anna', addresses: '' }] } })).rejects.toThrow('Employees: Employee 1 ("Anna") has no address.');
	});
});
