import { fingerprint } from '../../../../../lib/delivery/keys';
import { emptyState, FolderCursor, loadState, formatRecent, messageKey, saveState, STATE_VERSION, type FolderState } from '../../../../../lib/imap/watch/state';
import { formatUidSet, parseUidSet, rangesOf, uidSetOf } from '../../../../../lib/imap/uid-set';

describe('UID sets', () => {
	it('parse, normalise and format the IMAP way', () => {
		expect(formatUidSet(parseUidSet('9:12,1:3,4,7,x,0'))).toBe('1:4,7,9:12');
		expect(uidSetOf([5, 3, 4, 4, 10])).toBe('3:5,10');
		expect(rangesOf([])).toEqual([]);
	});
});

const sorted = (set: Iterable<number>) => [...set].sort((a, b) => a - b);

describe('FolderCursor', () => {
	it("first activation: 'new' from UIDNEXT on, 'all' from UID 1, 'unseen' filtered up to UIDNEXT-1", () => {
		expect(FolderCursor.initial('7', 11, 'new').toState()).toEqual({ uidValidity: '7', lastUid: 10 });
		expect(FolderCursor.initial('7', 11, 'all').toState()).toEqual({ uidValidity: '7', lastUid: 0 });
		const unseen = FolderCursor.initial('7', 11, 'unseen');
		expect(unseen.lastUid).toBe(0);
		expect(unseen.filterTo).toBe(10);
		expect(unseen.filter).toEqual({ kind: 'unseen' });
		expect(unseen.toState()).toEqual({ uidValidity: '7', lastUid: 0, filterTo: 10, filter: 'unseen' });
		// an empty folder: nothing to filter
		expect(FolderCursor.initial('7', 1, 'unseen').toState()).toEqual({ uidValidity: '7', lastUid: 0 });
		expect(FolderCursor.initial('7', 1, 'new').toState()).toEqual({ uidValidity: '7', lastUid: 0 });
		expect(FolderCursor.initial('7', 0, 'new').lastUid).toBe(0);
	});

	it('settles out of order in done; advance moves lastUid and absorbs done', () => {
		const c = new FolderCursor('1', { lastUid: 10 });
		expect(c.settle(12)).toBe(true);
		expect(c.settle(13)).toBe(true);
		expect(c.settle(15)).toBe(true);
		expect(c.settle(12)).toBe(false);
		expect(c.toState()).toEqual({ uidValidity: '1', lastUid: 10, done: '12:13,15' });
		expect(c.firstDone()).toBe(12);
		expect(c.isOpen(11)).toBe(true);
		expect(c.isOpen(12)).toBe(false);
		// 11 settled (or not one to deliver): up to 11, then over 12 and 13, which were settled already
		expect(c.advance(11, [])).toBe(true);
		expect(c.lastUid).toBe(13);
		expect(sorted(c.done)).toEqual([15]);
		expect(c.advance(13, [])).toBe(false);
		expect(c.advance(12, [])).toBe(false);
		// passing over 15 too
		expect(c.advance(20, [])).toBe(true);
		expect(c.toState()).toEqual({ uidValidity: '1', lastUid: 20 });
		expect(c.firstDone()).toBeUndefined();
	});

	it('waiting UIDs an advance passes over go to pending; settling them takes them out', () => {
		const c = new FolderCursor('1', { lastUid: 10 });
		c.settle(14);
		// 12 and 14 wait for a retry; 14 is done, 30 is above the target, 5 below lastUid
		expect(c.advance(20, [12, 14, 30, 5])).toBe(true);
		expect(c.lastUid).toBe(20);
		expect(sorted(c.pending)).toEqual([12]);
		expect(c.done.size).toBe(0);
		expect(c.isOpen(12)).toBe(true);
		expect(c.isOpen(13)).toBe(false);
		expect(c.isOpen(21)).toBe(true);
		expect(c.toState()).toEqual({ uidValidity: '1', lastUid: 20, pending: '12' });
		expect(c.settle(12)).toBe(true);
		expect(c.settle(12)).toBe(false);
		expect(c.settle(13)).toBe(false);
		expect(c.isOpen(12)).toBe(false);
		expect(c.toState()).toEqual({ uidValidity: '1', lastUid: 20 });
	});

	it('prunePending keeps only the pending UIDs that still exist', () => {
		const c = new FolderCursor('1', { lastUid: 10, pending: '2:4,9' });
		expect(sorted(c.pending)).toEqual([2, 3, 4, 9]);
		expect(c.prunePending([2, 3, 9, 40])).toBe(true);
		expect(c.toState().pending).toBe('2:3,9');
		expect(c.prunePending([1, 2, 3, 9])).toBe(false);
		expect(c.prunePending([])).toBe(true);
		expect(c.pending.size).toBe(0);
	});

	it('drops the filter once lastUid reaches filterTo', () => {
		const c = FolderCursor.initial('1', 11, 'unseen');
		c.advance(5, []);
		expect(c.filter).toEqual({ kind: 'unseen' });
		expect(c.filterTo).toBe(10);
		c.advance(9, []);
		expect(c.filter).toBeDefined();
		c.advance(10, []);
		expect(c.filter).toBeUndefined();
		expect(c.filterTo).toBe(0);
		expect(c.toState()).toEqual({ uidValidity: '1', lastUid: 10 });
		// a loaded state past its filter drops it at once
		expect(new FolderCursor('1', { lastUid: 12, filterTo: 10, filter: 'since:5' }).filter).toBeUndefined();
		// and keeps it below
		expect(new FolderCursor('1', { lastUid: 2, filterTo: 10, filter: 'since:5' }).filter).toEqual({ kind: 'since', at: 5 });
		// an unknown filter is dropped
		expect(new FolderCursor('1', { lastUid: 2, filterTo: 10, filter: 'bogus' }).toState()).toEqual({ uidValidity: '1', lastUid: 2 });
	});

	it('matching() filters by Message-ID from the oldest recent delivery up to UIDNEXT-1', () => {
		const recent: Array<[string, number]> = [
			[fingerprint('<b@x>'), 2_000],
			[fingerprint('<a@x>'), 1_000],
			[fingerprint('<c@x>'), 3_000],
		];
		const c = FolderCursor.matching('2', 21, recent);
		expect(c.uidValidity).toBe('2');
		expect(c.lastUid).toBe(0);
		expect(c.filterTo).toBe(20);
		expect(c.filter).toEqual({ kind: 'match', at: 1_000 });
		expect(c.recent).toEqual(recent.map(([k, t]) => [k.slice(0, 10), t]));
		expect(c.isRecent(fingerprint('<a@x>'))).toBe(true);
		expect(c.isRecent(fingerprint('<z@x>'))).toBe(false);
		expect(c.toState()).toEqual({ uidValidity: '2', lastUid: 0, filterTo: 20, filter: 'match:1000', recent: formatRecent(recent) });
		expect(FolderCursor.matching('2', 21, []).filter).toEqual({ kind: 'match', at: 0 });
	});

	it('reloaded({fromUid}) delivers again from that UID on, keeping pending below, actions and recent', () => {
		const recent: Array<[string, number]> = [[fingerprint('<x@y>'), 1_000]];
		const c = new FolderCursor('1', { lastUid: 20, done: '22', pending: '3,15', actions: '19', recent });
		const r = c.reloaded({ fromUid: 10 });
		expect(r.toState()).toEqual({ uidValidity: '1', lastUid: 9, pending: '3', actions: '19', recent: formatRecent(recent) });
		expect(r.isRecent(fingerprint('<x@y>'))).toBe(true);
		expect(r.isOpen(15)).toBe(true);
		expect(r.isOpen(22)).toBe(true);
		expect(r.isOpen(5)).toBe(false);
		expect(c.reloaded({ fromUid: 1 }).lastUid).toBe(0);
		expect(c.reloaded({ fromUid: 0 }).lastUid).toBe(0);
	});

	it('reloaded({since, top}) delivers what was received since then, up to top; a retry that waits stays, whatever its date', () => {
		const c = new FolderCursor('1', { lastUid: 20, done: '22', pending: '3', actions: '19' });
		const r = c.reloaded({ since: new Date(5_000), top: 30 });
		expect(r.lastUid).toBe(0);
		expect(r.filterTo).toBe(30);
		expect(r.filter).toEqual({ kind: 'since', at: 5_000 });
		expect(r.toState()).toEqual({ uidValidity: '1', lastUid: 0, filterTo: 30, filter: 'since:5000', pending: '3', actions: '19' });
		expect(r.done.size).toBe(0);
		expect(r.isOpen(3)).toBe(true);
		// once its run is settled it stays settled when the cursor moves over it
		expect(r.settle(3)).toBe(true);
		r.advance(10, []);
		expect(r.isOpen(3)).toBe(false);
		expect(r.toState()).toEqual({ uidValidity: '1', lastUid: 10, filterTo: 30, filter: 'since:5000', actions: '19' });
	});

	it('round-trips through toState and the constructor', () => {
		const c = FolderCursor.initial('99', 101, 'unseen');
		c.advance(40, [7, 33]);
		c.settle(45);
		c.settle(47);
		c.actions.add(12);
		c.actions.add(13);
		c.addRecent(messageKey('<m@x>', undefined, 0), 123_000, 10);
		const state = c.toState();
		expect(state).toEqual({
			uidValidity: '99',
			lastUid: 40,
			done: '45,47',
			pending: '7,33',
			filterTo: 100,
			filter: 'unseen',
			actions: '12:13',
			recent: `${fingerprint('<m@x>').slice(0, 10)}${(123).toString(36)}`,
		});
		const again = new FolderCursor(state.uidValidity, JSON.parse(JSON.stringify(state)) as FolderState);
		expect(again.toState()).toEqual(state);
		expect(again.isRecent(fingerprint('<m@x>'))).toBe(true);
	});

	it('keeps recent keys as fingerprints, bounded by the limit', () => {
		const c = new FolderCursor('1', { lastUid: 0 });
		for (let i = 0; i < 5; i++) c.addRecent(messageKey(`<m${i}@x>`, undefined, 0), i * 1000, 3);
		expect(c.recent).toEqual([
			[fingerprint('<m2@x>').slice(0, 10), 2000],
			[fingerprint('<m3@x>').slice(0, 10), 3000],
			[fingerprint('<m4@x>').slice(0, 10), 4000],
		]);
		expect(c.isRecent(fingerprint('<m1@x>'))).toBe(false);
		expect(c.isRecent(fingerprint('<m4@x>'))).toBe(true);
		// after a lookup the list stays right as it grows and drops
		c.addRecent(messageKey('<m5@x>', undefined, 0), 5000, 3);
		expect(c.isRecent(fingerprint('<m5@x>'))).toBe(true);
		expect(c.isRecent(fingerprint('<m2@x>'))).toBe(false);
		c.addRecent('ignored', 6000, 0);
		expect(c.recent).toHaveLength(3);
		// lists saved by earlier releases load: Message-IDs become fingerprints, fingerprints stay
		const loaded = new FolderCursor('1', { lastUid: 0, recent: [['<old@x>', 1000], [fingerprint('<new@x>'), 2000], ['bad' as unknown as string, 'x' as unknown as number]] });
		expect(loaded.isRecent(fingerprint('<old@x>'))).toBe(true);
		expect(loaded.isRecent(fingerprint('<new@x>'))).toBe(true);
		expect(loaded.recent).toHaveLength(2);
		expect(loaded.toState().recent).toBe(formatRecent([[fingerprint('<old@x>'), 1000], [fingerprint('<new@x>'), 2000]]));
	});

	it('saves recent deliveries small: 500 take under 7 KB, and they load back with their dates to the second', () => {
		const c = new FolderCursor('1', { lastUid: 0 });
		const start = Date.UTC(2026, 11, 5, 8, 0, 0);
		// mostly in order, some out of order (a later message with an earlier date)
		for (let i = 0; i < 600; i++) c.addRecent(messageKey(`<m${i}@example.test>`, undefined, 0), start + (i % 7 === 3 ? -3_600_000 : i * 37_000), 500);
		const saved = c.toState().recent as string;
		expect(typeof saved).toBe('string');
		expect(Buffer.byteLength(JSON.stringify(saved))).toBeLessThan(7 * 1024);
		const again = new FolderCursor('1', JSON.parse(JSON.stringify(c.toState())) as FolderState);
		expect(again.recent).toEqual(c.recent);
		for (let i = 100; i < 600; i++) expect(again.isRecent(messageKey(`<m${i}@example.test>`, undefined, 0))).toBe(true);
		expect(again.isRecent(messageKey('<m99@example.test>', undefined, 0))).toBe(false);
		// what is not an entry is dropped, never thrown on
		expect(new FolderCursor('1', { lastUid: 0, recent: 'x,,ABCDEFGHIJ1z,ABCDEFGHIJ!,' }).recent).toEqual([['ABCDEFGHIJ', 71_000]]);
	});

	it('messageKey fingerprints the Message-ID, else the date and size', () => {
		expect(messageKey(' <a@b> ', undefined, 0)).toBe(fingerprint('<a@b>'));
		expect(messageKey(undefined, new Date(1_000), 42)).toBe(fingerprint('1000/42'));
		expect(messageKey('  ', undefined, 42)).toBe(fingerprint('0/42'));
	});
});

describe('loadState / saveState', () => {
	it('loads version 1: plain pending stays pending', () => {
		const { folders, accountChanged } = loadState({
			version: 1,
			folders: { INBOX: { uidValidity: '3', lastUid: 10, pending: '2:4,9', done: '12', actions: '5' } },
		});
		expect(accountChanged).toBe(false);
		const c = folders.get('INBOX')!;
		expect(c.toState()).toEqual({ uidValidity: '3', lastUid: 10, pending: '2:4,9', done: '12', actions: '5' });
		expect(c.isOpen(3)).toBe(true);
		expect(c.isOpen(5)).toBe(false);
	});

	it('loads version 1 Message-ID matching as a match filter from the first candidate on', () => {
		const { folders } = loadState({
			version: 1,
			folders: {
				INBOX: { uidValidity: '4', lastUid: 50, pending: '7,5:6,30', matchSince: 1_000, done: '52', recent: [['<a@x>', 1_000], ['<b@x>', 2_000]] },
			},
		});
		const c = folders.get('INBOX')!;
		expect(c.lastUid).toBe(4);
		expect(c.filterTo).toBe(50);
		expect(c.filter).toEqual({ kind: 'match', at: 1_000 });
		expect(c.pending.size).toBe(0);
		expect(sorted(c.done)).toEqual([52]);
		expect(c.recent).toEqual([
			[fingerprint('<a@x>').slice(0, 10), 1_000],
			[fingerprint('<b@x>').slice(0, 10), 2_000],
		]);
		expect(c.isRecent(fingerprint('<b@x>'))).toBe(true);
		expect(c.isRecent(messageKey('<a@x>', undefined, 0))).toBe(true);
		expect(c.toState()).toEqual({
			uidValidity: '4',
			lastUid: 4,
			done: '52',
			filterTo: 50,
			filter: 'match:1000',
			recent: formatRecent([
				[fingerprint('<a@x>'), 1_000],
				[fingerprint('<b@x>'), 2_000],
			]),
		});
	});

	it('a version 1 matchSince without candidates is plain', () => {
		const { folders } = loadState({ version: 1, folders: { INBOX: { uidValidity: '4', lastUid: 50, matchSince: 1_000 } } });
		expect(folders.get('INBOX')!.toState()).toEqual({ uidValidity: '4', lastUid: 50 });
	});

	it("does not load another account's state", () => {
		const raw = saveState(new Map([['INBOX', new FolderCursor('1', { lastUid: 5 })]]), 'account-A');
		expect(loadState(raw, 'account-B')).toEqual({ folders: new Map(), accountChanged: true });
		const same = loadState(raw, 'account-A');
		expect(same.accountChanged).toBe(false);
		expect(same.folders.get('INBOX')!.lastUid).toBe(5);
		// a state without an account (saved before accounts were recorded) loads
		const noAccount = loadState({ version: 1, folders: { INBOX: { uidValidity: '1', lastUid: 6 } } }, 'account-B');
		expect(noAccount.accountChanged).toBe(false);
		expect(noAccount.folders.get('INBOX')!.lastUid).toBe(6);
		// and without an account to compare with, any state loads
		expect(loadState(raw).folders.get('INBOX')!.lastUid).toBe(5);
	});

	it('saves version 2 and loads it back', () => {
		const folders = new Map<string, FolderCursor>();
		const inbox = FolderCursor.initial('11', 21, 'unseen');
		inbox.advance(8, [3]);
		inbox.settle(10);
		folders.set('INBOX', inbox);
		folders.set('Archive', new FolderCursor('12', { lastUid: 100 }));
		const saved = saveState(folders, 'acc');
		expect(saved).toEqual({
			version: STATE_VERSION,
			account: 'acc',
			folders: {
				INBOX: { uidValidity: '11', lastUid: 8, pending: '3', done: '10', filterTo: 20, filter: 'unseen' },
				Archive: { uidValidity: '12', lastUid: 100 },
			},
		});
		expect(STATE_VERSION).toBe(2);
		const loaded = loadState(JSON.parse(JSON.stringify(saved)), 'acc');
		expect([...loaded.folders.keys()]).toEqual(['INBOX', 'Archive']);
		expect(saveState(loaded.folders, 'acc')).toEqual(saved);
		expect(saveState(new Map())).toEqual(emptyState());
		expect(emptyState()).toEqual({ version: 2, folders: {} });
	});

	it('keeps runs of several messages not settled: the UID and attempt of their key and their members; unusable entries are dropped', () => {
		const cursor = new FolderCursor('5', { lastUid: 10 });
		cursor.runs.set(11, { attempt: 2, uids: [11, 12, 13, 15] });
		const saved = saveState(new Map([['INBOX', cursor]]));
		expect(saved.folders.INBOX).toEqual({ uidValidity: '5', lastUid: 10, runs: [[11, 2, '11:13,15']] });
		const loaded = loadState(JSON.parse(JSON.stringify(saved))).folders.get('INBOX')!;
		expect([...loaded.runs]).toEqual([[11, { attempt: 2, uids: [11, 12, 13, 15] }]]);
		const odd = new FolderCursor('5', { lastUid: 10, runs: [[20, 1, '20:21'], ['x', 1, '1'], [22, 1, 'nothing'], [23, 0, '23'], null] as unknown as FolderState['runs'] });
		expect([...odd.runs]).toEqual([
			[20, { attempt: 1, uids: [20, 21] }],
			[23, { attempt: 1, uids: [23] }],
		]);
		const huge = new FolderCursor('5', { lastUid: 0, runs: [[1, 1, '1:100000000']] });
		expect(huge.runs.get(1)!.uids).toHaveLength(1000);
	});

	it('coming from one message per run, the next messages of the window go alone first; the switch is saved', () => {
		const cursor = new FolderCursor('5', { lastUid: 10 });
		expect(cursor.runsCarry(true, 100)).toBe(true);
		expect(cursor.toState()).toEqual({ uidValidity: '5', lastUid: 10, several: true, singles: 100 });
		expect(cursor.runsCarry(true, 100)).toBe(false);
		cursor.singles = 3;
		expect(new FolderCursor('5', cursor.toState()).singles).toBe(3);
		expect(cursor.runsCarry(false, 100)).toBe(true);
		expect(cursor.toState()).toEqual({ uidValidity: '5', lastUid: 10 });
		// singles without several (hand-made) are ignored
		expect(new FolderCursor('5', { lastUid: 1, singles: 4 }).singles).toBe(0);
	});

	it('drops what it cannot use, never throws', () => {
		expect(loadState(undefined).folders.size).toBe(0);
		expect(loadState('x').folders.size).toBe(0);
		expect(loadState({ version: 2 }).folders.size).toBe(0);
		const { folders } = loadState({
			version: 2,
			folders: { INBOX: { uidValidity: '3', lastUid: 5, done: '8,7', bogus: 1 }, Bad: { lastUid: 'x' }, Worse: null, Neg: { uidValidity: '1', lastUid: -1 } },
		});
		expect([...folders.keys()]).toEqual(['INBOX']);
		expect(folders.get('INBOX')!.toState()).toEqual({ uidValidity: '3', lastUid: 5, done: '7:8' });
	});
});

describe('a large folder', () => {
	it('a saved range of millions of UIDs loads at once: settled ranges after lastUid are absorbed, a corrupt wide set is cut, never thrown on', () => {
		const { folders } = loadState({ version: 2, folders: { INBOX: { uidValidity: '1', lastUid: 5, done: '6:20000000,20000005' } } });
		const c = folders.get('INBOX')!;
		expect(c.lastUid).toBe(20_000_000);
		expect([...c.done]).toEqual([20_000_005]);
		const wide = new FolderCursor('1', { lastUid: 5, done: '10:20000000' });
		expect(wide.lastUid).toBe(5);
		expect(wide.done.size).toBe(1_000_000);
	});

	it('handles 200,000 UIDs settled out of order in chunks', () => {
		const top = 200_000;
		const chunk = 1_000;
		// odd UIDs do not exist; every 20,000th UID fails and waits for a retry
		const waits = (u: number) => u % 20_000 === 0;
		const c = FolderCursor.initial('1', top + 1, 'all');
		expect(c.lastUid).toBe(0);

		// chunks in a scrambled order, UIDs within a chunk backwards: everything lands in done first
		const starts: number[] = [];
		for (let s = 1; s <= top; s += chunk) starts.push(s);
		const order = starts.map((s, i) => ({ s, k: (i * 7919) % starts.length })).sort((a, b) => a.k - b.k);
		let settled = 0;
		for (const { s } of order) {
			for (let u = s + chunk - 1; u >= s; u--) if (u % 2 === 0 && !waits(u) && c.settle(u)) settled++;
		}
		expect(settled).toBe(top / 2 - 10);
		expect(c.done.size).toBe(top / 2 - 10);
		expect(c.lastUid).toBe(0);

		// the saved state of that many scattered UIDs loads back
		const state = c.toState();
		const again = new FolderCursor('1', state);
		expect(again.done.size).toBe(top / 2 - 10);

		// advancing chunk by chunk, the waiting UIDs passed over become pending
		const waiting = new Set<number>();
		for (let u = 20_000; u <= top; u += 20_000) waiting.add(u);
		for (let s = 1; s <= top; s += chunk) expect(again.advance(s + chunk - 1, waiting)).toBe(true);
		expect(again.lastUid).toBe(top);
		expect(again.done.size).toBe(0);
		expect(sorted(again.pending)).toEqual(sorted(waiting));
		expect(again.toState()).toEqual({ uidValidity: '1', lastUid: top, pending: sorted(waiting).join(',') });

		// the same in one step on the first cursor
		expect(c.advance(top, waiting)).toBe(true);
		expect(c.lastUid).toBe(top);
		expect(c.done.size).toBe(0);
		expect(c.pending.size).toBe(10);

		// interleaved: settle a chunk, advance over it
		const d = FolderCursor.initial('1', top + 1, 'all');
		for (let s = 1; s <= top; s += chunk) {
			for (let u = s + chunk - 1; u >= s; u--) if (u % 2 === 0 && !waits(u)) d.settle(u);
			d.advance(s + chunk - 1, waiting);
		}
		expect(d.toState()).toEqual({ uidValidity: '1', lastUid: top, pending: sorted(waiting).join(',') });
		for (const u of waiting) expect(d.settle(u)).toBe(true);
		expect(d.toState()).toEqual({ uidValidity: '1', lastUid: top });
	});
});
