/**
 * The folder-sync watchers' state (lib/delivery/folder-sync-state.ts) and the pure helpers of the EWS client:
 * loading anything without throwing, decisions on first activation and after a reset, the bounded
 * list of finished messages, folder paths, throttling hints and SOAP operation names.
 */
import { distinguishedFolder, splitFolderPath } from '../../../../lib/ews/client';
import { diagnosticsReason, fromEwsResponseCode, permissionHint } from '../../../../lib/ews/errors';
import { soapOperation, throttleHint } from '../../../../lib/ews/transport';
import { fingerprint } from '../../../../lib/delivery/keys';
import { folderKey } from '../../../../lib/ews/watch';
import { decideCreate, dropRun, emptyFolderState, finish, isKnown, loadSyncState, MAX_RECENT, newRunNumber, RECENT_KEY_CHARS, recordRun, RESYNC_MARGIN_MS } from '../../../../lib/delivery/folder-sync-state';

describe('EWS watch state', () => {
	it('loads anything without throwing and keeps only usable parts', () => {
		expect(loadSyncState(undefined).folders).toEqual({});
		expect(loadSyncState('garbage').folders).toEqual({});
		const state = loadSyncState({
			folders: {
				inbox: { folderId: 'F1', syncState: 'S', activatedAt: 5, lastSyncAt: 6, pending: { a: { s: 'new', m: '<a@x>', r: 1, z: 2 }, b: { s: 'weird' }, c: null }, recent: ['m:<x@y>', 3, ''] },
				'': { syncState: 'ignored' },
				bad: 7,
			},
		});
		expect(Object.keys(state.folders)).toEqual(['inbox']);
		// a version 1 state: Message-IDs become fingerprints; the pending message keeps the key it was delivered with
		expect(state.folders.inbox).toEqual({ folderId: 'F1', syncState: 'S', activatedAt: 5, lastSyncAt: 6, pending: { a: { s: 'new', m: fingerprint('<a@x>'), l: '<a@x>', r: 1, z: 2 } }, recent: short('<x@y>') });
		// version 2 loads as saved
		const saved = { version: 2, account: 'acct', folders: { inbox: { pending: { b: { s: 'act', m: fingerprint('<b@x>'), l: '<b@x>' } }, recent: short('<x@y>') } } };
		expect(loadSyncState(saved, 'acct').folders.inbox).toEqual({ pending: { b: { s: 'act', m: fingerprint('<b@x>'), l: '<b@x>' } }, recent: short('<x@y>') });
		// a version 2 state saved with the list of whole fingerprints
		const listed = loadSyncState({ version: 2, folders: { inbox: { pending: {}, recent: [fingerprint('<x@y>'), fingerprint('<z@y>')] } } }).folders.inbox;
		expect(listed.recent).toBe(short('<x@y>') + short('<z@y>'));
		expect(isKnown(listed, 'some-item', '<z@y>')).toBe(true);
		// a broken recent string is dropped, a cut one keeps its whole keys
		expect(loadSyncState({ version: 2, folders: { inbox: { pending: {}, recent: 'not a key list!' } } }).folders.inbox.recent).toBe('');
		expect(loadSyncState({ version: 2, folders: { inbox: { pending: {}, recent: `${short('<x@y>')}abc` } } }).folders.inbox.recent).toBe(short('<x@y>'));
		// another account's state is not used
		expect(loadSyncState(saved, 'other')).toEqual({ version: 2, account: 'other', folders: {} });
		// a sync state without activation: the first activation is still under way
		expect(loadSyncState({ folders: { inbox: { syncState: 'S', pending: {}, recent: [] } } }).folders.inbox.activatedAt).toBeUndefined();
	});

	const short = (messageId: string) => fingerprint(messageId).slice(0, RECENT_KEY_CHARS);

	it('decides per first activation mode, after a reset by time and key, and otherwise by pending', () => {
		const f = emptyFolderState();
		const item = { itemId: 'i1', messageId: '<1@x>', isRead: true, received: 1_000_000 };
		expect(decideCreate(f, item, { firstActivation: 'new' })).toBe('known');
		expect(decideCreate(f, item, { firstActivation: 'unread' })).toBe('known');
		expect(decideCreate(f, { ...item, isRead: false }, { firstActivation: 'unread' })).toBe('deliver');
		expect(decideCreate(f, item, { firstActivation: 'all' })).toBe('deliver');
		const since = item.received + RESYNC_MARGIN_MS + 1;
		expect(decideCreate(f, item, { resyncSince: since })).toBe('known');
		expect(decideCreate(f, item, { resyncSince: since - 2 })).toBe('deliver');
		f.pending.i1 = { s: 'new', m: fingerprint('<1@x>') };
		finish(f, 'i1');
		expect(decideCreate(f, { ...item, itemId: 'moved-id' }, { resyncSince: since - 2 })).toBe('known');
		expect(decideCreate(f, { itemId: 'i2' }, {})).toBe('deliver');
		f.pending.i2 = { s: 'new' };
		expect(decideCreate(f, { itemId: 'i2' }, {})).toBe('known');
		expect(isKnown(f, 'other', '<1@x>')).toBe(true);
	});

	it('keeps at most MAX_RECENT finished keys, newest last, without duplicates', () => {
		const f = emptyFolderState();
		for (let i = 0; i < MAX_RECENT + 10; i++) {
			f.pending[`i${i}`] = { s: 'act', m: fingerprint(`<${i}@x>`) };
			finish(f, `i${i}`);
		}
		expect(f.recent).toHaveLength(MAX_RECENT * RECENT_KEY_CHARS);
		expect(f.recent.endsWith(short(`<${MAX_RECENT + 9}@x>`))).toBe(true);
		expect(isKnown(f, 'x', `<${MAX_RECENT + 9}@x>`)).toBe(true);
		expect(isKnown(f, 'x', '<10@x>')).toBe(true);
		expect(isKnown(f, 'x', '<9@x>')).toBe(false);
		expect(f.pending).toEqual({});
		// a key finished again moves to the end, once
		f.pending.again = { s: 'new', m: fingerprint('<500@x>') };
		finish(f, 'again');
		expect(f.recent).toHaveLength(MAX_RECENT * RECENT_KEY_CHARS);
		expect(f.recent.endsWith(short('<500@x>'))).toBe(true);
		expect(f.recent.split(short('<500@x>'))).toHaveLength(2);
		expect(isKnown(f, 'x', '<10@x>')).toBe(true);
		// what is saved: 1,000 keys in 10 KB
		expect(JSON.stringify(f.recent).length).toBeLessThanOrEqual(MAX_RECENT * RECENT_KEY_CHARS + 2);
	});
});

describe('EWS watch state: runs of several messages', () => {
	it('records a run under a number with its key and attempt, marks its members, drops both when it settles', () => {
		const f = emptyFolderState();
		for (const id of ['a', 'b', 'c']) f.pending[id] = { s: 'new' };
		expect(newRunNumber(f)).toBe(0);
		recordRun(f, 0, 'box/inbox/i:a', 1, ['a', 'b']);
		expect(newRunNumber(f)).toBe(1);
		expect(f.runs).toEqual({ 0: ['box/inbox/i:a', 1] });
		expect([f.pending.a.u, f.pending.b.u, f.pending.c.u]).toEqual([0, 0, undefined]);
		// formed again with the members left
		recordRun(f, 0, 'box/inbox/i:a', 1, ['b']);
		expect([f.pending.a.u, f.pending.b.u]).toEqual([undefined, 0]);
		dropRun(f, 0);
		expect(f.runs).toBeUndefined();
		expect(f.pending.b.u).toBeUndefined();
	});

	it('runs, member marks, several and singles survive saving and loading; a mark without its run is dropped', () => {
		const saved = {
			version: 2,
			several: true,
			singles: 3,
			folders: { inbox: { pending: { a: { s: 'new', u: 4 }, b: { s: 'new', u: 9 }, c: { s: 'act', u: 'x' } }, runs: { 4: ['box/inbox/i:a', 2], x: ['k', 1], 5: [7, 1] }, recent: '' } },
		};
		const state = loadSyncState(saved);
		expect(state).toMatchObject({ several: true, singles: 3 });
		expect(state.folders.inbox.runs).toEqual({ 4: ['box/inbox/i:a', 2] });
		expect(state.folders.inbox.pending).toEqual({ a: { s: 'new', u: 4 }, b: { s: 'new' }, c: { s: 'act' } });
		expect(loadSyncState(JSON.parse(JSON.stringify(state)))).toEqual(state);
		expect(loadSyncState({ ...saved, several: 'yes' }).several).toBeUndefined();
	});
});

describe('EWS client helpers', () => {
	it('splits folder paths and recognises distinguished names', () => {
		expect(splitFolderPath('Inbox/Projects/ 2024 ')).toEqual(['Inbox', 'Projects', '2024']);
		expect(splitFolderPath('/A\\/B//C/')).toEqual(['A/B', 'C']);
		expect(distinguishedFolder('Junk Email')).toBeDefined();
		expect(distinguishedFolder('deleteditems')).toBeDefined();
		expect(distinguishedFolder('Archive')).toBeUndefined();
		expect(folderKey(' /Inbox/Projects/ ')).toBe('inbox/projects');
	});

	it('reads throttling hints and the SOAP operation', () => {
		const fault = '<s:Fault><faultcode>a:ErrorServerBusy</faultcode><detail><e:ResponseCode>ErrorServerBusy</e:ResponseCode><t:MessageXml><t:Value Name="BackOffMilliseconds">2500</t:Value></t:MessageXml></detail></s:Fault>';
		expect(throttleHint(500, {}, fault)).toEqual({ waitMs: 2500 });
		expect(throttleHint(503, { 'retry-after': '7' }, '')).toEqual({ waitMs: 7000 });
		expect(throttleHint(503, {}, '')).toEqual({ waitMs: undefined });
		expect(throttleHint(500, {}, '<s:Fault>ErrorAccessDenied</s:Fault>')).toBeUndefined();
		expect(soapOperation('<soap:Envelope><soap:Header/><soap:Body><m:SyncFolderItems>')).toBe('SyncFolderItems');
		expect(diagnosticsReason('2000008;reason="The token has expired.";error_category="invalid_token"')).toBe('The token has expired.');
	});

	it('names the permission an app, an impersonating account and a delegate need', () => {
		expect(permissionHint({ auth: 'app', impersonation: true, mailbox: 'a@b.c' })).toMatch(/full_access_as_app.*admin consent/);
		expect(permissionHint({ auth: 'password', impersonation: true })).toContain('ApplicationImpersonation');
		expect(permissionHint({ auth: 'token', impersonation: false, mailbox: 'a@b.c' })).toContain('Full Access to the mailbox a@b.c');
		const e = fromEwsResponseCode('ErrorAccessDenied', 'Access is denied.', { url: 'https://x/EWS/Exchange.asmx', auth: 'app', impersonation: true, mailbox: 'a@b.c', secrets: [] });
		expect(e).toMatchObject({ code: 'AUTH', field: 'mailbox', causeCode: 'ErrorAccessDenied' });
		expect(e.hint).toContain('full_access_as_app');
	});
});
