import {
	acknowledgedStatus,
	clonePop3State,
	dropRun,
	dueForDeletion,
	emptyPop3State,
	loadPop3State,
	observe,
	recordRun,
	runsCarry,
	setStatus,
	POP3_STATE_VERSION,
	toDeliver,
	type Pop3WatchState,
} from '../../../../lib/pop3/watch-state';

const DAY = 24 * 60 * 60 * 1000;

function stateOf(messages: Pop3WatchState['messages'], activatedAt = 0): Pop3WatchState {
	return { ...emptyPop3State(), activatedAt, messages: { ...messages } };
}

describe('POP3 watch state: observing the maildrop', () => {
	it("first poll with 'new': everything on the server is known, not to deliver; later UIDLs are new", () => {
		const state = emptyPop3State();
		expect(observe(state, ['a', 'b'], 1_000, 'new')).toEqual({ changed: true, added: ['a', 'b'], pruned: [], firstActivation: true });
		expect(state).toEqual({ version: 2, activatedAt: 1_000, messages: { a: [1_000, 'known'], b: [1_000, 'known'] } });
		expect(toDeliver(state, ['a', 'b'])).toEqual([]);
		expect(observe(state, ['a', 'b', 'c'], 2_000, 'new')).toEqual({ changed: true, added: ['c'], pruned: [], firstActivation: false });
		expect(toDeliver(state, ['a', 'b', 'c'])).toEqual(['c']);
	});

	it("first poll with 'all': everything is to deliver, in maildrop order", () => {
		const state = emptyPop3State();
		observe(state, ['z', 'y', 'x'], 5, 'all');
		expect(toDeliver(state, ['z', 'y', 'x'])).toEqual(['z', 'y', 'x']);
	});

	it('an empty maildrop at the first poll still ends the first activation', () => {
		const state = emptyPop3State();
		expect(observe(state, [], 7, 'new')).toMatchObject({ changed: true, firstActivation: true });
		observe(state, ['later'], 8, 'new');
		expect(state.messages.later).toEqual([8, 'new']);
	});

	it('drops entries no longer on the server and keeps first-seen times of the others', () => {
		const state = stateOf({ a: [1, 'done'], b: [2, 'new'], c: [3, 'skipped'] });
		expect(observe(state, ['b', 'd'], 10, 'new')).toEqual({ changed: true, added: ['d'], pruned: ['a', 'c'], firstActivation: false });
		expect(state.messages).toEqual({ b: [2, 'new'], d: [10, 'new'] });
		expect(observe(state, ['b', 'd'], 11, 'new').changed).toBe(false);
	});

	it('treats any UIDL as a plain key, "__proto__" too', () => {
		const state = emptyPop3State();
		observe(state, ['__proto__', 'constructor'], 1, 'all');
		expect(toDeliver(state, ['__proto__', 'constructor'])).toEqual(['__proto__', 'constructor']);
		expect(setStatus(state, '__proto__', 'done')).toBe(true);
		const copy = loadPop3State(JSON.parse(JSON.stringify(clonePop3State(state))));
		expect(copy.messages['__proto__']).toEqual([1, 'done']);
		expect(toDeliver(copy, ['__proto__', 'constructor'])).toEqual(['constructor']);
	});
});

describe('POP3 watch state: what to delete', () => {
	const state = stateOf({
		known: [0, 'known'],
		fresh: [0, 'new'],
		done: [0, 'done'],
		dd: [0, 'done-delete'],
		headers: [0, 'headers'],
		skipped: [0, 'skipped'],
		untouched: [0, 'untouched'],
		recent: [9 * DAY, 'done'],
	});
	const all = Object.keys(state.messages);

	it('delete after fetch: only what was acknowledged while it was on', () => {
		expect(dueForDeletion(state, all, { deleteAfterFetch: true, deleteAfterDays: 0 }, 10 * DAY)).toEqual(['dd']);
		// switched off again: nothing
		expect(dueForDeletion(state, all, { deleteAfterFetch: false, deleteAfterDays: 0 }, 10 * DAY)).toEqual([]);
	});

	it('delete after N days: acknowledged whole messages first seen at least N days ago', () => {
		expect(dueForDeletion(state, all, { deleteAfterFetch: false, deleteAfterDays: 3 }, 3 * DAY - 1)).toEqual([]);
		expect(dueForDeletion(state, all, { deleteAfterFetch: false, deleteAfterDays: 3 }, 3 * DAY)).toEqual(['done', 'dd']);
		expect(dueForDeletion(state, all, { deleteAfterFetch: false, deleteAfterDays: 1 }, 10 * DAY)).toEqual(['done', 'dd', 'recent']);
	});

	it('a message whose run was refused as a duplicate (untouched) is deleted by neither rule, however old', () => {
		expect(dueForDeletion(state, ['untouched'], { deleteAfterFetch: true, deleteAfterDays: 1 }, 1_000 * DAY)).toEqual([]);
		expect(toDeliver(state, ['untouched'])).toEqual([]);
	});

	it('only UIDLs of the listing, in its order', () => {
		expect(dueForDeletion(state, ['recent', 'dd', 'gone'], { deleteAfterFetch: true, deleteAfterDays: 1 }, 10 * DAY)).toEqual(['recent', 'dd']);
	});

	it('acknowledged status: headers only for oversized mail, done-delete while delete after fetch is on', () => {
		expect(acknowledgedStatus(false, false)).toBe('done');
		expect(acknowledgedStatus(false, true)).toBe('done-delete');
		expect(acknowledgedStatus(true, true)).toBe('headers');
		// run refused as a duplicate: untouched, whatever the options and size
		expect(acknowledgedStatus(false, true, false)).toBe('untouched');
		expect(acknowledgedStatus(true, false, false)).toBe('untouched');
		expect(setStatus(stateOf({}), 'missing', 'done')).toBe(false);
		expect(Object.values(state.messages).map(([, s]) => s).sort()).toEqual(['done', 'done', 'done-delete', 'headers', 'known', 'new', 'skipped', 'untouched']);
	});
});

describe('POP3 watch state: loading what the node saved', () => {
	it('keeps valid entries and drops anything else without throwing', () => {
		expect(loadPop3State(undefined)).toEqual(emptyPop3State());
		expect(loadPop3State('garbage')).toEqual(emptyPop3State());
		const loaded = loadPop3State({
			version: 1,
			activatedAt: 5,
			messages: { ok: [1, 'done'], badStatus: [1, 'eaten'], badTime: ['x', 'done'], notArray: { a: 1 }, '': [1, 'done'] },
		});
		expect(JSON.parse(JSON.stringify(loaded))).toEqual({ version: 2, activatedAt: 5, messages: { ok: [1, 'done'] } });
	});

	it('a version 1 state (before untouched) loads unchanged, as the current version', () => {
		const v1 = {
			version: 1,
			activatedAt: 10,
			messages: { k: [10, 'known'], n: [20, 'new'], d: [30, 'done'], dd: [40, 'done-delete'], h: [50, 'headers'], s: [60, 'skipped'] },
		};
		const loaded = loadPop3State(JSON.parse(JSON.stringify(v1)));
		expect(POP3_STATE_VERSION).toBe(2);
		expect(JSON.parse(JSON.stringify(loaded))).toEqual({ ...v1, version: 2 });
		expect(toDeliver(loaded, Object.keys(v1.messages))).toEqual(['n']);
		expect(dueForDeletion(loaded, Object.keys(v1.messages), { deleteAfterFetch: true, deleteAfterDays: 0 }, 100)).toEqual(['dd']);
	});

	it('untouched entries survive saving and loading', () => {
		const state = stateOf({ u: [3, 'untouched'], d: [4, 'done'] }, 3);
		const loaded = loadPop3State(JSON.parse(JSON.stringify(clonePop3State(state))));
		expect(loaded.messages.u).toEqual([3, 'untouched']);
		expect(observe(loaded, ['u', 'd'], 9, 'all')).toMatchObject({ changed: false, added: [] });
		expect(toDeliver(loaded, ['u', 'd'])).toEqual([]);
	});

	it('entries without an activation time count as activated (no second first activation)', () => {
		const loaded = loadPop3State({ messages: { a: [40, 'done'], b: [30, 'new'] } });
		expect(loaded.activatedAt).toBe(30);
		expect(observe(loaded, ['a', 'b', 'c'], 50, 'new').firstActivation).toBe(false);
		expect(loaded.messages.c).toEqual([50, 'new']);
	});

	it('a copy is plain JSON and independent of the live state', () => {
		const state = stateOf({ a: [1, 'new'] });
		const copy = clonePop3State(state);
		setStatus(state, 'a', 'done');
		expect(copy.messages.a).toEqual([1, 'new']);
		expect(Object.getPrototypeOf(copy.messages)).toBe(Object.prototype);
	});
});

describe('POP3 watch state: runs of several messages', () => {
	it('records a run before it starts, replaces the record of a run formed again, drops it when it settles', () => {
		const state = stateOf({ a: [1, 'new'], b: [1, 'new'], c: [1, 'new'] });
		recordRun(state, 'a', 1, ['a', 'b', 'c']);
		recordRun(state, 'x', 2, ['x']);
		expect(state.runs).toEqual([
			['a', 1, ['a', 'b', 'c']],
			['x', 2, ['x']],
		]);
		// formed again after a restart with the members still there
		recordRun(state, 'a', 1, ['a', 'c']);
		expect(state.runs![0]).toEqual(['a', 1, ['a', 'c']]);
		expect(dropRun(state, 'a')).toBe(true);
		expect(dropRun(state, 'a')).toBe(false);
		expect(dropRun(state, 'x')).toBe(true);
		expect(state.runs).toBeUndefined();
	});

	it('coming from one message per run, the next messages (as many as the window) go alone; a first activation and going back start as they are', () => {
		const saved = stateOf({ a: [1, 'done'] });
		expect(runsCarry(saved, true, 100, false)).toBe(true);
		expect(saved).toMatchObject({ several: true, singles: 100 });
		expect(runsCarry(saved, true, 100, false)).toBe(false);
		const fresh = emptyPop3State();
		expect(runsCarry(fresh, true, 100, true)).toBe(true);
		expect(fresh.several).toBe(true);
		expect(fresh.singles).toBeUndefined();
		expect(runsCarry(saved, false, 100, false)).toBe(true);
		expect(saved.several).toBeUndefined();
		expect(saved.singles).toBeUndefined();
		expect(runsCarry(fresh, false, 100, false)).toBe(true);
		expect(runsCarry(fresh, false, 100, false)).toBe(false);
	});

	it('runs, several and singles survive saving and loading; what is unusable is dropped', () => {
		const state = stateOf({ a: [1, 'new'], b: [1, 'new'] });
		recordRun(state, 'a', 2, ['a', 'b']);
		runsCarry(state, true, 7, false);
		expect(loadPop3State(clonePop3State(state))).toEqual(state);
		const loaded = loadPop3State({
			activatedAt: 1,
			messages: {},
			runs: [['a', 1, ['a', 'b']], ['', 1, ['c']], ['d', 'x', ['d']], ['e', 0, [3, 'e', '']], ['f', 1, []], 'garbage'],
			several: 'yes',
			singles: 5,
		});
		expect(loaded.runs).toEqual([
			['a', 1, ['a', 'b']],
			['e', 1, ['e']],
		]);
		expect(loaded.several).toBeUndefined();
		expect(loaded.singles).toBeUndefined();
		expect(loadPop3State({ activatedAt: 1, messages: {}, several: true, singles: -2 })).toMatchObject({ several: true });
		expect(loadPop3State({ activatedAt: 1, messages: {}, several: true, singles: -2 }).singles).toBeUndefined();
	});
});
