import {
	addRecent,
	afterUidValidityChange,
	initialFolderState,
	isDone,
	loadState,
	markDone,
	prunePending,
	redeliver,
	resetFromUid,
	skipGaps,
	type FolderState,
} from '../../../lib/imap/watch/state';
import { addUid, formatUidSet, hasUid, parseUidSet, rangesOf, removeUid, uidSetOf } from '../../../lib/imap/watch/uid-set';

describe('UID sets', () => {
	it('parse, normalise and format the IMAP way', () => {
		expect(formatUidSet(parseUidSet('9:12,1:3,4,7,x,0'))).toBe('1:4,7,9:12');
		expect(uidSetOf([5, 3, 4, 4, 10])).toBe('3:5,10');
		expect(rangesOf([])).toEqual([]);
	});
	it('add, remove and look up', () => {
		let r = parseUidSet('1:3,7');
		r = addUid(r, 4);
		r = addUid(r, 6);
		expect(formatUidSet(r)).toBe('1:4,6:7');
		r = addUid(r, 5);
		expect(formatUidSet(r)).toBe('1:7');
		r = removeUid(r, 4);
		expect(formatUidSet(r)).toBe('1:3,5:7');
		expect([3, 4, 5, 8].map((u) => hasUid(r, u))).toEqual([true, false, true, false]);
	});
});

describe('watcher folder state', () => {
	it("first activation: 'new' at UIDNEXT-1, 'all' at 0, 'unseen' with the unseen UIDs pending", () => {
		expect(initialFolderState('7', 11, 'new')).toEqual({ uidValidity: '7', lastUid: 10 });
		expect(initialFolderState('7', 11, 'all')).toEqual({ uidValidity: '7', lastUid: 0 });
		expect(initialFolderState('7', 11, 'unseen', [2, 3, 4, 9])).toEqual({ uidValidity: '7', lastUid: 10, pending: '2:4,9' });
		expect(initialFolderState('7', 1, 'new')).toEqual({ uidValidity: '7', lastUid: 0 });
	});

	it('advances the cursor only over acknowledged UIDs; out-of-order acknowledgements wait in done', () => {
		const s: FolderState = { uidValidity: '1', lastUid: 10 };
		expect(markDone(s, 12)).toBe(true);
		expect(markDone(s, 13)).toBe(true);
		expect(s).toEqual({ uidValidity: '1', lastUid: 10, done: '12:13' });
		expect(isDone(s, 11)).toBe(false);
		expect(isDone(s, 12)).toBe(true);
		expect(markDone(s, 12)).toBe(false);
		markDone(s, 11);
		expect(s).toEqual({ uidValidity: '1', lastUid: 13 });
	});

	it('passes over UIDs that do not exist, never over one still to deliver', () => {
		const s: FolderState = { uidValidity: '1', lastUid: 10, done: '15' };
		// 11-14 expunged; 15 done; 20 exists and is not done; UIDNEXT 21
		expect(skipGaps(s, [15, 20], 21)).toBe(true);
		expect(s).toEqual({ uidValidity: '1', lastUid: 19 });
		expect(skipGaps(s, [20], 21)).toBe(false);
		markDone(s, 20);
		expect(s.lastUid).toBe(20);
		// nothing above: up to UIDNEXT-1
		expect(skipGaps(s, [], 31)).toBe(true);
		expect(s.lastUid).toBe(30);
	});

	it('pending UIDs below the cursor are delivered, pruned when gone, done when acknowledged', () => {
		const s: FolderState = { uidValidity: '1', lastUid: 10, pending: '2:4,9' };
		expect(isDone(s, 3)).toBe(false);
		expect(isDone(s, 5)).toBe(true);
		expect(prunePending(s, [2, 3, 9, 40])).toBe(true);
		expect(s.pending).toBe('2:3,9');
		markDone(s, 2);
		markDone(s, 3);
		markDone(s, 9);
		expect(s).toEqual({ uidValidity: '1', lastUid: 10 });
	});

	it('keeps a bounded list of recent Message-IDs', () => {
		const s: FolderState = { uidValidity: '1', lastUid: 0 };
		for (let i = 0; i < 5; i++) addRecent(s, `<m${i}>`, i, 3);
		expect(s.recent).toEqual([
			['<m2>', 2],
			['<m3>', 3],
			['<m4>', 4],
		]);
	});

	it('after a UIDVALIDITY change: Message-ID matching keeps the recent list and makes the candidates pending', () => {
		const previous: FolderState = { uidValidity: '1', lastUid: 50, recent: [['<a>', 1000], ['<b>', 2000]] };
		expect(afterUidValidityChange(previous, '2', 21, { matchByMessageId: true, mode: 'new', candidates: [5, 6, 7, 30], unseen: [] })).toEqual({
			uidValidity: '2',
			lastUid: 20,
			recent: previous.recent,
			pending: '5:7',
			matchSince: 1000,
		});
		expect(afterUidValidityChange(previous, '2', 21, { matchByMessageId: false, mode: 'all', candidates: [], unseen: [] })).toEqual({ uidValidity: '2', lastUid: 0, recent: previous.recent });
		// nothing delivered recently: nothing to match against, so the first-activation mode
		expect(afterUidValidityChange({ uidValidity: '1', lastUid: 3 }, '2', 21, { matchByMessageId: true, mode: 'new', candidates: [1], unseen: [] })).toEqual({ uidValidity: '2', lastUid: 20 });
	});

	it('reset from a UID or for found UIDs', () => {
		const s: FolderState = { uidValidity: '1', lastUid: 20, done: '22', pending: '3,15', actions: '19', recent: [['<x>', 1]] };
		expect(resetFromUid(s, 10)).toEqual({ uidValidity: '1', lastUid: 9, pending: '3', actions: '19', recent: [['<x>', 1]] });
		const t: FolderState = { uidValidity: '1', lastUid: 20, done: '22:23' };
		redeliver(t, [5, 6, 23]);
		expect(t).toEqual({ uidValidity: '1', lastUid: 20, done: '22', pending: '5:6' });
	});

	it('loads what the node persisted and drops what it cannot use', () => {
		expect(loadState(undefined)).toEqual({ version: 1, folders: {} });
		expect(loadState({ folders: { INBOX: { uidValidity: '3', lastUid: 5, done: '8,7', bogus: 1 }, Bad: { lastUid: 'x' }, Worse: null } })).toEqual({
			version: 1,
			folders: { INBOX: { uidValidity: '3', lastUid: 5, done: '7:8' } },
		});
	});
});
