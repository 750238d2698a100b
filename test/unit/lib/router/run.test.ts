/**
 * One message routed and delivered (lib/router/run.ts) with a recording deliverer: the deliverer
 * opened only when there is something to deliver, the item's own raw message before the master
 * mailbox's, a message gone from the master mailbox, a failed copy as the error that stops the
 * run, and the master result when nothing is delivered.
 */
import { MailboxError } from '../../../../lib/errors';
import type { CopyResult, DeliveryResult, MasterAction, MasterRef } from '../../../../lib/router/deliver';
import type { DirectoryInput } from '../../../../lib/router/directory';
import { MessageRouter } from '../../../../lib/router/route';
import { masterRefOf, routeAndDeliver, type MessageDeliverer, type MessageItem, type RouteAndDeliverInput } from '../../../../lib/router/run';

const directory: DirectoryInput = {
	inboxes: [{ name: 'Sales', addresses: ['sales@myfactory.exp'] }],
	employees: [{ name: 'Anna', addresses: ['anna@myfactory.exp'] }],
};
const keeping = new MessageRouter(directory, { masterAddresses: ['catchall@myfactory.exp'] });
const dropping = new MessageRouter(directory, { masterAddresses: ['catchall@myfactory.exp'], dropUnknown: true });

const RAW = Buffer.from('Message-ID: <1@x>\r\n\r\nBody\r\n');

/** A deliverer that records its calls; copies fail for the folders named in `failing`. */
function fakeDeliverer(options: { master?: Buffer; failing?: string[]; masterFails?: boolean } = {}) {
	const calls: string[] = [];
	const deliverer = {
		fetchFromMaster: async (ref: MasterRef, messageId: string | null | undefined) => {
			calls.push(`fetch ${ref.folder} ${ref.uid ?? '-'} ${messageId ?? '-'}`);
			return options.master;
		},
		deliverMessage: async (raw: Buffer, copies: ReadonlyArray<readonly string[]>, master: { ref: MasterRef; action: MasterAction; removable: boolean } | undefined): Promise<DeliveryResult> => {
			calls.push(`deliver ${raw.length} ${copies.map((c) => c.join('/')).join(',')} ${master?.action.action} ${master?.removable}`);
			const results: CopyResult[] = copies.map((parts) => {
				const folder = parts.join('/');
				if (options.failing?.includes(folder)) return { folder, status: 'failed', uid: null, folderCreated: false, error: new MailboxError('SERVER', `APPEND into ${folder} refused`) };
				return { folder, status: 'appended', uid: 7, folderCreated: true };
			});
			if (results.some((r) => r.status === 'failed')) return { copies: results, master: { status: 'skipped', reason: 'not every copy' } };
			if (options.masterFails) return { copies: results, master: { status: 'failed', reason: 'could not remove', error: new MailboxError('SERVER', 'EXPUNGE refused') } };
			return { copies: results, master: { status: 'deleted', reason: 'deleted', uid: 3 } };
		},
	};
	return { calls, deliverer: deliverer as MessageDeliverer };
}

function input(item: MessageItem, overrides: Partial<RouteAndDeliverInput> & { fake?: ReturnType<typeof fakeDeliverer>; itemRaw?: Buffer } = {}) {
	const fake = overrides.fake ?? fakeDeliverer();
	let opened = 0;
	const run = routeAndDeliver({
		item,
		messageRouter: keeping,
		deliver: true,
		masterAction: { action: 'delete' },
		deliverer: async () => {
			opened++;
			return fake.deliverer;
		},
		raw: async () => overrides.itemRaw,
		...overrides,
	});
	return { run, fake, opened: () => opened };
}

const toAnnaAndSales: MessageItem = { headers: { 'delivered-to': ['anna@myfactory.exp', 'sales@myfactory.exp'] }, folder: 'INBOX', uid: 3, uidValidity: 11, messageId: '<1@x>' };

describe('routeAndDeliver', () => {
	it('delivers the item\'s own raw message into each target\'s folder, then settles the master copy', async () => {
		const { run, fake, opened } = input(toAnnaAndSales, { itemRaw: RAW });
		const result = await run;
		expect(opened()).toBe(1);
		expect(fake.calls).toEqual([`deliver ${RAW.length} Inboxes/Anna,Inboxes/Sales delete true`]);
		expect(result.routed.map((c) => [c.target.name, c.recipients.map((r) => r.address), c.delivery?.status])).toEqual([
			['Anna', ['anna@myfactory.exp'], 'appended'],
			['Sales', ['sales@myfactory.exp'], 'appended'],
		]);
		expect(result.master).toEqual({ status: 'deleted', reason: 'deleted', uid: 3 });
		expect(result.stopError).toBeUndefined();
		expect(result.kept).toEqual([]);
		expect(result.dropped).toEqual([]);
	});

	it('without the item\'s raw message reads it from the master mailbox by folder, UID and Message-ID', async () => {
		const fake = fakeDeliverer({ master: RAW });
		const result = await input(toAnnaAndSales, { fake }).run;
		expect(fake.calls).toEqual(['fetch INBOX 3 <1@x>', `deliver ${RAW.length} Inboxes/Anna,Inboxes/Sales delete true`]);
		expect(result.master?.status).toBe('deleted');
	});

	it('a message no longer in the master mailbox: every copy skipped, the master notFound, nothing delivered', async () => {
		const { run, fake } = input({ ...toAnnaAndSales, folder: 'Archive' });
		const result = await run;
		expect(fake.calls).toEqual(['fetch Archive 3 <1@x>']);
		expect(result.routed.map((c) => c.delivery)).toEqual([
			{ folder: 'Inboxes/Anna', status: 'skipped', uid: null, folderCreated: false },
			{ folder: 'Inboxes/Sales', status: 'skipped', uid: null, folderCreated: false },
		]);
		expect(result.master?.status).toBe('notFound');
		expect(result.master?.reason).toMatch(/^the message is no longer in "Archive" of the master mailbox, so nothing was delivered/);
		expect(result.stopError).toBeUndefined();
	});

	it('a failed copy is the error that stops the run; the others are still reported', async () => {
		const fake = fakeDeliverer({ failing: ['Inboxes/Anna'] });
		const result = await input(toAnnaAndSales, { fake, itemRaw: RAW }).run;
		expect(result.routed.map((c) => c.delivery?.status)).toEqual(['failed', 'appended']);
		expect(result.master?.status).toBe('skipped');
		expect(result.stopError?.message).toBe('APPEND into Inboxes/Anna refused');
	});

	it('a failed master action is the error that stops the run when every copy is in place', async () => {
		const fake = fakeDeliverer({ masterFails: true });
		const result = await input(toAnnaAndSales, { fake, itemRaw: RAW }).run;
		expect(result.routed.map((c) => c.delivery?.status)).toEqual(['appended', 'appended']);
		expect(result.stopError?.message).toBe('EXPUNGE refused');
	});

	it('nothing to deliver: the deliverer is not opened and the master copy is kept, with the reason', async () => {
		const unknown = input({ headers: { 'delivered-to': 'nobody@myfactory.exp' }, folder: 'INBOX', uid: 4 });
		const kept = await unknown.run;
		expect(unknown.opened()).toBe(0);
		expect(kept.kept.map((d) => d.address)).toEqual(['nobody@myfactory.exp']);
		expect(kept.master).toEqual({ status: 'kept', reason: 'an unknown recipient keeps the message in the master mailbox' });

		const none = input({ headers: {}, folder: 'INBOX', uid: 5 }, { messageRouter: new MessageRouter(directory, { masterAddresses: ['catchall@myfactory.exp'], recipientSource: 'envelope' }) });
		const nothing = await none.run;
		expect(none.opened()).toBe(0);
		expect(nothing.master?.status).toBe('kept');
		expect(nothing.routed).toEqual([]);
	});

	it('a message only to dropped addresses is delivered nowhere but leaves the master mailbox', async () => {
		const { run, fake, opened } = input({ headers: { 'delivered-to': 'nobody@myfactory.exp' }, folder: 'INBOX', uid: 6 }, { messageRouter: dropping, itemRaw: RAW });
		const result = await run;
		expect(opened()).toBe(1);
		expect(fake.calls).toEqual([`deliver ${RAW.length}  delete true`]);
		expect(result.dropped.map((d) => d.address)).toEqual(['nobody@myfactory.exp']);
		expect(result.master?.status).toBe('deleted');
	});

	it('without delivering: routed only, no deliverer, no raw message, no master result', async () => {
		let read = 0;
		const { run, opened } = input(toAnnaAndSales, { deliver: false, raw: async () => (read++, RAW) });
		const result = await run;
		expect(opened()).toBe(0);
		expect(read).toBe(0);
		expect(result.routed.map((c) => [c.target.name, c.delivery])).toEqual([
			['Anna', undefined],
			['Sales', undefined],
		]);
		expect(result.master).toBeUndefined();
	});

	it('the item\'s own mailbox address is never a recipient; an address left out is reported as ignored', async () => {
		const { run } = input({ headers: { 'delivered-to': ['me@myfactory.exp', 'anna@myfactory.exp'] }, mailbox: 'me@myfactory.exp' }, { deliver: false });
		const result = await run;
		expect(result.routed.map((c) => c.target.name)).toEqual(['Anna']);
		expect(result.ignored).toEqual([{ address: 'me@myfactory.exp', source: 'Delivered-To', reason: 'the master mailbox itself' }]);
	});
});

describe('masterRefOf', () => {
	it('IMAP items name folder, UID and UIDVALIDITY; items without a folder (POP3) are looked for in INBOX', () => {
		expect(masterRefOf({ folder: 'INBOX/Sub', uid: 9, uidValidity: 123 })).toEqual({ folder: 'INBOX/Sub', uid: 9, uidValidity: '123' });
		expect(masterRefOf({ folder: 'INBOX', uid: '9', uidValidity: null })).toEqual({ folder: 'INBOX', uid: null, uidValidity: null });
		expect(masterRefOf({ uid: 9 })).toEqual({ folder: 'INBOX' });
	});
});
