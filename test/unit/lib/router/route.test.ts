/**
 * Whole messages: recipients from the envelope headers first, then To/Cc; the master mailbox's
 * own address and other companies' addresses left out; one copy per target; whether the message
 * may leave the master mailbox. And the directory as JSON from a previous node.
 */
import { MailboxError } from '../../../../lib/errors';
import { parseMessage } from '../../../../lib/message/parse';
import { mergeDirectories, parseDirectoryJson, type DirectoryInput } from '../../../../lib/router/directory';
import { headerLines, headersFromRaw, MessageRouter, type MessageFields, type MessageRouterOptions } from '../../../../lib/router/route';

const directory: DirectoryInput = {
	inboxes: [{ name: 'Sales', addresses: ['sales@myfactory.exp', 'vertrieb@myfactory.exp'] }],
	employees: [{ name: 'Anna Müller', addresses: ['anna@myfactory.exp'] }],
	distributionLists: [{ name: 'Support', addresses: ['support@myfactory.exp'] }],
	domainRedirects: [{ from: 'myfactory.abc', to: 'myfactory.exp' }],
	exceptions: ['@myfactory.com'],
};
const router = (options: MessageRouterOptions = {}) => new MessageRouter(directory, { masterAddresses: ['catchall@myfactory.exp'], ...options });
const addressList = (...addresses: string[]) => ({ value: addresses.map((address) => ({ address, name: '' })), text: addresses.join(', ') });

describe('recipients of a message', () => {
	it('envelope first: Delivered-To / X-Original-To, the master mailbox itself left out, To and Cc not used', () => {
		const message: MessageFields = {
			headers: { 'delivered-to': ['catchall@myfactory.exp', 'anna@myfactory.exp'], 'x-original-to': 'sales@myfactory.abc' },
			to: addressList('sales@myfactory.abc', 'someone@myfactory.exp'),
			cc: addressList('customer@other.example'),
		};
		const r = router().recipients(message);
		expect(r.recipients).toEqual([
			{ address: 'anna@myfactory.exp', source: 'Delivered-To' },
			{ address: 'sales@myfactory.abc', source: 'X-Original-To' },
		]);
		expect(r.ignored).toEqual([{ address: 'catchall@myfactory.exp', source: 'Delivered-To', reason: 'the master mailbox itself' }]);
	});

	it('without envelope headers (or only the master address): To and Cc, other domains left out', () => {
		const message: MessageFields = {
			headers: { 'delivered-to': 'CatchAll@MyFactory.exp' },
			to: addressList('sales@myfactory.exp'),
			cc: addressList('customer@other.example', 'Anna@MyFactory.ABC'),
		};
		const r = router().recipients(message);
		expect(r.recipients.map((x) => `${x.source} ${x.address}`)).toEqual(['To sales@myfactory.exp', 'Cc Anna@MyFactory.ABC']);
		expect(r.ignored.map((x) => x.reason)).toEqual(['the master mailbox itself', 'not a domain of the master mailbox (other.example)']);
	});

	it('the trigger item\'s own mailbox address can be added per message as the master mailbox', () => {
		const r = new MessageRouter(directory).recipients({ headers: { 'delivered-to': 'box@myfactory.exp' }, to: addressList('anna@myfactory.exp') }, ['box@myfactory.exp']);
		expect(r.recipients).toEqual([{ address: 'anna@myfactory.exp', source: 'To' }]);
	});

	it('other sources: envelope and headers together, headers only, envelope only; own domains configurable', () => {
		const message: MessageFields = { headers: { 'x-original-to': 'anna@myfactory.exp' }, to: addressList('sales@myfactory.exp', 'x@partner.example') };
		expect(router({ recipientSource: 'envelopeAndHeaders' }).recipients(message).recipients.map((x) => x.address)).toEqual(['anna@myfactory.exp', 'sales@myfactory.exp']);
		expect(router({ recipientSource: 'headers' }).recipients(message).recipients.map((x) => x.address)).toEqual(['sales@myfactory.exp']);
		expect(router({ recipientSource: 'envelope' }).recipients({ to: addressList('sales@myfactory.exp') }).recipients).toEqual([]);
		expect(router({ recipientSource: 'headers', ownDomains: ['@partner.example'] }).recipients(message).recipients.map((x) => x.address)).toEqual(['x@partner.example']);
	});

	it('an address found twice (Delivered-To and To, different case) counts once, from the envelope', () => {
		const r = router({ recipientSource: 'envelopeAndHeaders' }).recipients({ headers: { 'delivered-to': 'ANNA@myfactory.exp' }, to: addressList('anna@MYFACTORY.EXP') });
		expect(r.recipients).toEqual([{ address: 'ANNA@myfactory.exp', source: 'Delivered-To' }]);
	});

	it('reads plain strings and headers when the item has no address objects, and a raw header block', () => {
		expect(router().recipients({ to: '"Müller, Anna" <anna@myfactory.exp>, sales@myfactory.exp' }).recipients.map((x) => x.address)).toEqual(['"Müller, Anna" <anna@myfactory.exp>', 'sales@myfactory.exp']);
		expect(router().recipients({ headers: { to: 'support@myfactory.exp' } }).recipients.map((x) => x.address)).toEqual(['support@myfactory.exp']);
		// a sender's "__proto__" header is read like any other (it threw before)
		expect(Object.keys(headersFromRaw(Buffer.from('__proto__: a\r\n__proto__: b\r\nTo: x@y.example\r\n\r\n')))).toEqual(['__proto__', 'to']);
		const headers = headersFromRaw(Buffer.from('Delivered-To: catchall@myfactory.exp\r\nX-Original-To: anna@myfactory.exp,\r\n\tsales@myfactory.exp\r\nSubject: hi\r\n\r\nDelivered-To: body@x.example\r\n'));
		expect(headers['x-original-to']).toEqual(['anna@myfactory.exp, sales@myfactory.exp']);
		expect(headers['delivered-to']).toEqual(['catchall@myfactory.exp']);
		expect(router().recipients({ headers }).recipients.map((x) => x.address)).toEqual(['anna@myfactory.exp', 'sales@myfactory.exp']);
	});
});

describe('routing a message', () => {
	it('one message to several known recipients goes to each target once', () => {
		const r = router().route({ to: addressList('sales@myfactory.exp', 'vertrieb@myfactory.abc', 'anna@myfactory.exp', 'support@myfactory.exp') });
		expect(r.routed.map((c) => [c.target.inbox, c.recipients.map((d) => d.finalAddress)])).toEqual([
			['Sales', ['sales@myfactory.exp', 'vertrieb@myfactory.exp']],
			['Anna Müller', ['anna@myfactory.exp']],
			['Support', ['support@myfactory.exp']],
		]);
		expect(r.kept).toEqual([]);
		expect(r.removable).toBe(true);
	});

	it('an unknown recipient keeps the message in the master mailbox; one that is dropped does not', () => {
		const kept = router().route({ to: addressList('sales@myfactory.exp', 'nobody@myfactory.exp') });
		expect(kept.routed).toHaveLength(1);
		expect(kept.kept.map((d) => d.address)).toEqual(['nobody@myfactory.exp']);
		expect(kept.removable).toBe(false);
		const dropped = router({ dropUnknown: true }).route({ to: addressList('sales@myfactory.exp', 'nobody@myfactory.exp') });
		expect(dropped.dropped.map((d) => d.address)).toEqual(['nobody@myfactory.exp']);
		expect(dropped.removable).toBe(true);
		const exception = router({ dropUnknown: true }).route({ headers: { 'x-original-to': 'anyone@myfactory.com' } });
		expect(exception.kept.map((d) => d.address)).toEqual(['anyone@myfactory.com']);
		expect(exception.removable).toBe(false);
	});

	it('a message without any recipient stays in the master mailbox, with the reason', () => {
		const r = router({ dropUnknown: true }).route({ headers: { 'delivered-to': 'catchall@myfactory.exp' }, to: addressList('customer@other.example') });
		expect(r.routed).toEqual([]);
		expect(r.dropped).toEqual([]);
		expect(r.kept).toHaveLength(1);
		expect(r.kept[0].path[0].detail).toMatch(/no recipient address found/);
		expect(r.ignored).toHaveLength(2);
		expect(r.removable).toBe(false);
	});

	it('every decision names its source header', () => {
		const r = router().route({ headers: { 'x-original-to': 'anna@myfactory.abc' } });
		expect(r.routed[0].recipients[0]).toMatchObject({ recipient: 'anna@myfactory.abc', source: 'X-Original-To', address: 'anna@myfactory.abc', finalAddress: 'anna@myfactory.exp' });
	});
});

describe('which envelope headers are trusted', () => {
	const withCeo: DirectoryInput = { ...directory, employees: [...directory.employees!, { name: 'CEO', addresses: ['ceo@myfactory.exp'] }] };
	const trusting = (trustEnvelope: MessageRouterOptions['trustEnvelope'], options: MessageRouterOptions = {}) => new MessageRouter(withCeo, { masterAddresses: ['catchall@myfactory.exp'], trustEnvelope, ...options });
	const RECEIVED = 'Received: from mail.client.example (mail.client.example [192.0.2.7])\r\n\tby mx.myfactory.exp (Postfix) with ESMTPS id 4F1A2B; Sun, 1 Feb 2026 09:00:02 +0000';
	/** A raw message: the lines on top (the receiving server's), its Received header, then the lines below it. */
	const raw = (top: string[], below: string[], to = 'someone@gmail.com') =>
		Buffer.from([...top, RECEIVED, ...below, 'From: Customer <customer@client.example>', `To: ${to}`, 'Subject: Hello', 'Message-ID: <m1@client.example>', '', 'Body', ''].join('\r\n'));
	/** The message as the trigger items have it (headers from the parser, in message order). */
	const item = async (message: Buffer): Promise<MessageFields> => (await parseMessage(message)).json;
	const BELOW = "below the receiving server's Received header: a sender or an earlier server wrote it";

	// forwarded by Gmail: Gmail's own Delivered-To stays in the message, below the receiving server's
	const gmailForwarded = raw(['Delivered-To: catchall@myfactory.exp'], ['X-Forwarded-To: catchall@myfactory.exp', 'Delivered-To: someone@gmail.com', 'Received: by 2002:a05:6000:1a8e with SMTP id f14; Sun, 1 Feb 2026 09:00:01 +0000']);

	it('a message forwarded from Gmail is not dropped: the Gmail Delivered-To below the top is ignored, with the reason', async () => {
		const r = trusting('top', { dropUnknown: true }).route(await item(gmailForwarded));
		expect(r.dropped).toEqual([]);
		expect(r.routed).toEqual([]);
		expect(r.kept.map((d) => d.path[0].detail)).toEqual([expect.stringMatching(/no recipient address found/)]);
		expect(r.removable).toBe(false);
		expect(r.ignored).toEqual([
			{ address: 'catchall@myfactory.exp', source: 'Delivered-To', reason: 'the master mailbox itself' },
			{ address: 'someone@gmail.com', source: 'Delivered-To', reason: 'not the topmost Delivered-To header: a sender or an earlier server wrote it' },
			{ address: 'someone@gmail.com', source: 'To', reason: 'not a domain of the master mailbox (gmail.com)' },
		]);
		// with every domain own, the To address is a recipient: unknown, and kept, as the sender writes To
		const all = trusting('top', { dropUnknown: true, ownDomains: ['*'] }).route(await item(gmailForwarded));
		expect(all.dropped).toEqual([]);
		expect(all.kept.map((d) => [d.recipient, d.source, d.outcome])).toEqual([['someone@gmail.com', 'To', 'unknownKept']]);
		expect(all.kept[0].path.at(-1)?.detail).toBe('unknown address and no exception, but not dropped: To is written by the sender; the message stays in the master mailbox');
	});

	it('a sender\'s X-Original-To below the Received header does not reach that inbox', async () => {
		// Dovecot LMTP: Return-Path and Delivered-To above its Received; the sender's X-Original-To further down
		const dovecot = raw(['Return-Path: <customer@client.example>', 'Delivered-To: sales@myfactory.exp'], ['X-Original-To: ceo@myfactory.exp'], 'sales@myfactory.exp');
		const r = trusting('top').route(await item(dovecot));
		expect(r.routed.map((c) => c.target.inbox)).toEqual(['Sales']);
		expect(r.ignored).toEqual([{ address: 'ceo@myfactory.exp', source: 'X-Original-To', reason: BELOW }]);
		// Postfix: X-Original-To and Delivered-To on top; the sender's second X-Original-To is not the topmost
		const postfix = raw(['X-Original-To: sales@myfactory.exp', 'Delivered-To: catchall@myfactory.exp'], ['X-Original-To: ceo@myfactory.exp'], 'sales@myfactory.exp');
		const p = trusting('top').route(await item(postfix));
		expect(p.routed.map((c) => c.target.inbox)).toEqual(['Sales']);
		expect(p.ignored).toContainEqual({ address: 'ceo@myfactory.exp', source: 'X-Original-To', reason: 'not the topmost X-Original-To header: a sender or an earlier server wrote it' });
	});

	it('a catch-all message whose topmost X-Original-To names Anna goes to Anna', async () => {
		const message = raw(['X-Original-To: anna@myfactory.exp', 'Delivered-To: catchall@myfactory.exp'], [], 'info@myfactory.exp');
		const r = trusting('top', { dropUnknown: true }).route(await item(message));
		expect(r.routed.map((c) => [c.target.inbox, c.recipients.map((d) => d.source)])).toEqual([['Anna Müller', ['X-Original-To']]]);
		expect(r.removable).toBe(true);
	});

	it('Drop Unknown drops on an unknown address of the topmost envelope header, not on one in To only', async () => {
		const top = trusting('top', { dropUnknown: true }).route(await item(raw(['X-Original-To: nobody@myfactory.exp', 'Delivered-To: catchall@myfactory.exp'], [], 'nobody@myfactory.exp')));
		expect(top.dropped.map((d) => [d.address, d.source])).toEqual([['nobody@myfactory.exp', 'X-Original-To']]);
		expect(top.removable).toBe(true);
		const toOnly = trusting('top', { dropUnknown: true }).route(await item(raw(['Delivered-To: catchall@myfactory.exp'], [], 'nobody@myfactory.exp')));
		expect(toOnly.dropped).toEqual([]);
		expect(toOnly.kept.map((d) => [d.address, d.source, d.outcome])).toEqual([['nobody@myfactory.exp', 'To', 'unknownKept']]);
		expect(toOnly.kept[0].path.at(-1)).toMatchObject({ step: 'unknown', matched: true, detail: expect.stringContaining('not dropped: To is written by the sender') });
		expect(toOnly.removable).toBe(false);
		// an exception still reads as one
		const exception = trusting('top', { dropUnknown: true }).route(await item(raw(['Delivered-To: catchall@myfactory.exp'], [], 'x@myfactory.com')));
		expect(exception.kept[0].path.at(-1)?.step).toBe('exception');
	});

	it('the same from a raw header block (items without a headers field)', () => {
		expect(headerLines(gmailForwarded).map(([name]) => name).slice(0, 4)).toEqual(['delivered-to', 'received', 'x-forwarded-to', 'delivered-to']);
		const r = trusting('top', { dropUnknown: true }).route({ headers: headersFromRaw(gmailForwarded) });
		expect(r.dropped).toEqual([]);
		expect(r.ignored.map((x) => `${x.source} ${x.address}`)).toEqual(['Delivered-To catchall@myfactory.exp', 'Delivered-To someone@gmail.com', 'To someone@gmail.com']);
		const sender = trusting('top').route({ headers: headersFromRaw(raw(['Delivered-To: sales@myfactory.exp'], ['X-Original-To: ceo@myfactory.exp'], 'sales@myfactory.exp')) });
		expect(sender.routed.map((c) => c.target.inbox)).toEqual(['Sales']);
		expect(sender.ignored).toEqual([{ address: 'ceo@myfactory.exp', source: 'X-Original-To', reason: BELOW }]);
		// no Received header at all: the first occurrence is the top one
		expect(trusting('top').recipients({ headers: { 'delivered-to': ['anna@myfactory.exp', 'sales@myfactory.exp'] } }).recipients.map((x) => x.address)).toEqual(['anna@myfactory.exp']);
	});

	it('own domains: envelope headers anywhere for the own domains, never dropped unless on top', async () => {
		const message = raw(['Delivered-To: catchall@myfactory.exp'], ['X-Original-To: anna@myfactory.exp, nobody@myfactory.abc', 'Delivered-To: someone@gmail.com']);
		const r = trusting('ownDomains', { dropUnknown: true }).route(await item(message));
		expect(r.routed.map((c) => c.target.inbox)).toEqual(['Anna Müller']);
		expect(r.dropped).toEqual([]);
		expect(r.kept.map((d) => [d.address, d.source])).toEqual([['nobody@myfactory.abc', 'X-Original-To']]);
		expect(r.kept[0].path.at(-1)?.detail).toBe(
			"unknown address and no exception, but not dropped: this X-Original-To (below the receiving server's Received header) could have been written by the sender; the message stays in the master mailbox",
		);
		expect(r.ignored).toContainEqual({ address: 'someone@gmail.com', source: 'Delivered-To', reason: 'not the topmost Delivered-To header: a sender or an earlier server wrote it (gmail.com is not a domain of the master mailbox)' });
		expect(r.removable).toBe(false);
		// Own Domains as configured; * means the directory's domains; without any, nothing beyond the top
		expect(trusting('ownDomains', { ownDomains: ['myfactory.abc'] }).recipients(await item(message)).recipients.map((x) => x.address)).toEqual(['nobody@myfactory.abc']);
		expect(trusting('ownDomains', { ownDomains: ['*'] }).recipients(await item(message)).recipients.map((x) => x.address)).toEqual(['anna@myfactory.exp', 'nobody@myfactory.abc']);
		const empty = new MessageRouter({}, { trustEnvelope: 'ownDomains', ownDomains: ['*'] }).recipients(await item(message));
		expect(empty.recipients.map((x) => `${x.source} ${x.address}`)).toEqual(['Delivered-To catchall@myfactory.exp']);
		expect(empty.ignored.map((x) => x.address)).toEqual(['someone@gmail.com', 'anna@myfactory.exp', 'nobody@myfactory.abc']);
		// the topmost stays trusted (and may be dropped)
		const top = trusting('ownDomains', { dropUnknown: true }).route(await item(raw(['X-Original-To: stranger@elsewhere.example'], [])));
		expect(top.dropped.map((d) => d.address)).toEqual(['stranger@elsewhere.example']);
	});

	it('any (version 1): every envelope header, wherever it stands, and dropped on any of them, as before', async () => {
		const gmail = trusting('any', { dropUnknown: true }).route(await item(gmailForwarded));
		expect(gmail.dropped.map((d) => [d.address, d.source])).toEqual([['someone@gmail.com', 'Delivered-To']]);
		expect(gmail.removable).toBe(true);
		const sender = trusting('any').route(await item(raw(['Delivered-To: sales@myfactory.exp'], ['X-Original-To: ceo@myfactory.exp'], 'sales@myfactory.exp')));
		expect(sender.routed.map((c) => c.target.inbox)).toEqual(['Sales', 'CEO']);
		const toOnly = trusting('any', { dropUnknown: true }).route(await item(raw(['Delivered-To: catchall@myfactory.exp'], [], 'nobody@myfactory.exp')));
		expect(toOnly.dropped.map((d) => d.address)).toEqual(['nobody@myfactory.exp']);
		expect(new MessageRouter(withCeo, { masterAddresses: ['catchall@myfactory.exp'] }).route(await item(gmailForwarded))).toEqual(trusting('any').route(await item(gmailForwarded)));
	});
});

describe('the directory as JSON (from a database, a spreadsheet or a previous node)', () => {
	it('an object with the lists, as data or JSON text; addresses as a list or separated by commas', () => {
		const input = {
			inboxes: [{ name: 'Sales', addresses: 'sales@a.example, vertrieb@a.example', folder: 'Shared/Sales' }],
			employees: [{ name: 'Anna', email: 'anna@a.example', inbox: 'Sales' }],
			distributionLists: [{ name: 'Support', addresses: ['support@a.example'] }],
			domainRedirects: [{ from: 'old.example', to: 'a.example' }],
			localPartRedirects: [{ old: 'sys.admin', new: 'sysadmin' }],
			exceptions: '@a.example, keep@b.example',
		};
		const expected: DirectoryInput = {
			inboxes: [{ name: 'Sales', addresses: ['sales@a.example', 'vertrieb@a.example'], folder: 'Shared/Sales' }],
			employees: [{ name: 'Anna', addresses: ['anna@a.example'], inbox: 'Sales' }],
			distributionLists: [{ name: 'Support', addresses: ['support@a.example'], inbox: undefined }],
			domainRedirects: [{ from: 'old.example', to: 'a.example' }],
			localPartRedirects: [{ from: 'sys.admin', to: 'sysadmin' }],
			exceptions: ['@a.example', 'keep@b.example'],
		};
		expect(parseDirectoryJson(input)).toEqual(expected);
		expect(parseDirectoryJson(JSON.stringify(input))).toEqual(expected);
	});

	it('rows with a type column, with spreadsheet-style headers', () => {
		const rows = [
			{ Type: 'Employee', Name: 'Anna', 'E-Mail': 'anna@a.example' },
			{ type: 'distribution_list', name: 'Support', addresses: 'support@a.example' },
			{ type: 'domain redirect', from: 'old.example', to: 'a.example' },
			{ type: 'exception', address: '@a.example' },
		];
		const dir = parseDirectoryJson(rows);
		expect(dir.employees).toEqual([{ name: 'Anna', addresses: ['anna@a.example'], inbox: undefined }]);
		expect(dir.distributionLists?.[0].name).toBe('Support');
		expect(dir.domainRedirects).toEqual([{ from: 'old.example', to: 'a.example' }]);
		expect(dir.exceptions).toEqual(['@a.example']);
		expect(new MessageRouter(dir).decide('anna@old.example').target?.name).toBe('Anna');
	});

	it('empty text and null are an empty directory; parts merge', () => {
		expect(parseDirectoryJson('  ').employees).toEqual([]);
		expect(parseDirectoryJson(null).inboxes).toEqual([]);
		const merged = mergeDirectories({ employees: [{ name: 'A', addresses: ['a@x.example'] }] }, { employees: [{ name: 'B', addresses: ['b@x.example'] }], exceptions: ['@x.example'] });
		expect(merged.employees?.map((e) => e.name)).toEqual(['A', 'B']);
		expect(merged.exceptions).toEqual(['@x.example']);
	});

	it.each<[string, unknown, RegExp]>([
		['text that is not JSON', '{"employees": [', /not valid JSON/],
		['an unknown key', { employes: [] }, /unknown key "employes"/],
		['a list that is not one', { employees: { name: 'A' } }, /"employees" in the directory is not a list/],
		['an entry without a name', { employees: [{ email: 'a@x.example' }] }, /employees\[0\] has no "name"/],
		['an entry without addresses', { inboxes: [{ name: 'A' }] }, /inboxes\[0\] \("A"\) has no "addresses"/],
		['a redirect without "to"', { domainRedirects: [{ from: 'a.example' }] }, /needs "from" and "to"/],
		['a row of unknown type', [{ type: 'team', name: 'A' }], /unknown type "team"/],
		['a number', 42, /Entry 1 of the directory is not an object/],
	])('%s is refused naming the parameter, with an example of the right form', (_label, value, message) => {
		try {
			parseDirectoryJson(value, 'directoryJson');
			throw new Error('no error');
		} catch (e) {
			const error = e as MailboxError;
			expect(error).toBeInstanceOf(MailboxError);
			expect(error.field).toBe('directoryJson');
			expect(error.message).toMatch(message);
			expect(error.hint).toMatch(/"employees":\[\{"name":"Anna Miller"/);
		}
	});
});
