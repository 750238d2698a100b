/**
 * Retention against a scripted IMAP client: which commands it sends (UID sets in batches, UID
 * EXPUNGE only of its own messages, nothing at all in a dry run), the exact cut-off, and how the
 * folders of a run are resolved.
 */
import type { ImapFlow } from 'imapflow';
import { MailboxError } from '../../../../lib/errors';
import { applyRetention, checkDays, planRetention, retentionCutoff, runRetention } from '../../../../lib/imap/retention';

const NOW = new Date('2026-03-01T12:00:00Z');
const DAY = 86_400_000;

interface FakeMessage {
	uid: number;
	internalDate: Date;
	date?: Date;
	deleted?: boolean;
}

/** Expands "1:3,7" to [1, 2, 3, 7]. */
function expand(set: string): number[] {
	return set.split(',').flatMap((part) => {
		const [a, b] = part.split(':').map(Number);
		return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
	});
}

function fakeClient(folders: Record<string, FakeMessage[]>, options: { capabilities?: string[]; roles?: Record<string, string> } = {}) {
	const calls: string[] = [];
	let selected = '';
	const client = {
		namespace: { prefix: '', delimiter: '/' },
		capabilities: new Map((options.capabilities ?? ['UIDPLUS', 'MOVE']).map((c) => [c, true])),
		async list() {
			return Object.keys(folders).map((path) => ({ path, name: path, delimiter: '/', flags: new Set<string>(), specialUse: options.roles?.[path], subscribed: true }));
		},
		async getMailboxLock(path: string, lockOptions: { readOnly?: boolean }) {
			calls.push(`${lockOptions.readOnly ? 'EXAMINE' : 'SELECT'} ${path}`);
			selected = path;
			return { release: () => calls.push(`release ${path}`) };
		},
		async search(query: Record<string, unknown>) {
			calls.push(`SEARCH ${JSON.stringify(query)}`);
			const messages = folders[selected];
			if (typeof query.uid === 'string') {
				const wanted = new Set(expand(query.uid));
				return messages.filter((m) => wanted.has(m.uid)).map((m) => m.uid);
			}
			if (query.deleted) return messages.filter((m) => m.deleted).map((m) => m.uid);
			const before = query.before as Date;
			return messages.filter((m) => m.internalDate < before).map((m) => m.uid);
		},
		async *fetch(set: string, query: { envelope?: boolean }) {
			calls.push(`FETCH ${set}${query.envelope ? ' +envelope' : ''}`);
			const wanted = new Set(expand(set));
			for (const m of folders[selected].filter((x) => wanted.has(x.uid))) {
				yield { uid: m.uid, internalDate: m.internalDate, envelope: query.envelope ? { messageId: `<${m.uid}@x>`, subject: `s${m.uid}`, date: m.date } : undefined };
			}
		},
		async messageDelete(set: string) {
			calls.push(`DELETE ${set}`);
			const gone = new Set(expand(set));
			folders[selected] = folders[selected].filter((m) => !gone.has(m.uid));
			return true;
		},
		async messageMove(set: string, to: string) {
			calls.push(`MOVE ${set} ${to}`);
			const gone = new Set(expand(set));
			folders[to].push(...folders[selected].filter((m) => gone.has(m.uid)));
			folders[selected] = folders[selected].filter((m) => !gone.has(m.uid));
			return { uidMap: new Map() };
		},
	};
	return { client: client as unknown as ImapFlow, calls, folders };
}

const aged = (uid: number, ms: number): FakeMessage => ({ uid, internalDate: new Date(NOW.getTime() - ms) });

describe('retention', () => {
	it('cuts off exactly N × 24 hours before the reference time', () => {
		expect(retentionCutoff(NOW, 30).toISOString()).toBe('2026-01-30T12:00:00.000Z');
		expect(retentionCutoff(NOW, 0.5).toISOString()).toBe('2026-03-01T00:00:00.000Z');
		expect(checkDays('7', 'x', 'X')).toBe(7);
		for (const bad of [-1, Number.NaN, 'abc', undefined]) expect(() => checkDays(bad, 'junkDays', 'Junk Days')).toThrow(/^Junk Days must be a number of days/);
	});

	it('asks the server for whole days with a margin and keeps only what is older than the exact cut-off', async () => {
		const { client, calls } = fakeClient({ INBOX: [aged(1, 30 * DAY + 1000), aged(2, 30 * DAY), aged(3, 29 * DAY), aged(4, 31 * DAY)] });
		const result = await applyRetention(client, { folder: 'INBOX', days: 30 }, { now: NOW, dryRun: true });
		expect(result).toMatchObject({ matched: 2, deleted: 0, dryRun: true, cutoff: '2026-01-30T12:00:00.000Z' });
		expect(result.messages.map((m) => m.uid)).toEqual([1, 4]);
		// BEFORE is two days after the cut-off: no time zone can hide an old message from it
		expect(calls).toContain(`SEARCH ${JSON.stringify({ before: new Date('2026-02-01T12:00:00Z') })}`);
		// read-only, and nothing but SEARCH and FETCH
		expect(calls.filter((c) => !/^(SEARCH|FETCH|release)/.test(c))).toEqual(['EXAMINE INBOX']);
	});

	it('deletes in UID sets of Batch Size, fetches envelopes only for the listed messages, and counts what is gone', async () => {
		const messages = Array.from({ length: 12 }, (_, i) => aged(i + 1, (i % 4 === 3 ? 1 : 40) * DAY));
		const { client, calls, folders } = fakeClient({ Junk: messages });
		const result = await applyRetention(client, { folder: 'Junk', days: 30 }, { now: NOW, batchSize: 4, listLimit: 3 });
		expect(result).toMatchObject({ matched: 9, deleted: 9, messagesTruncated: true });
		expect(result.messages.map((m) => m.uid)).toEqual([1, 2, 3]);
		expect(calls.filter((c) => c.startsWith('FETCH'))).toEqual(['FETCH 1:3,5 +envelope', 'FETCH 6:7,9:10', 'FETCH 11']);
		expect(calls.filter((c) => c.startsWith('DELETE'))).toEqual(['DELETE 1:3,5', 'DELETE 6:7,9:10', 'DELETE 11']);
		expect(calls[0]).toBe('SELECT Junk');
		expect(folders.Junk.map((m) => m.uid)).toEqual([4, 8, 12]);
	});

	it('without UIDPLUS refuses when other messages are marked \\Deleted (a plain EXPUNGE would take them too)', async () => {
		const { client, calls } = fakeClient({ INBOX: [aged(1, 40 * DAY), { ...aged(2, DAY), deleted: true }] }, { capabilities: ['MOVE'] });
		const error = await applyRetention(client, { folder: 'INBOX', days: 30 }, { now: NOW }).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(MailboxError);
		expect((error as MailboxError).message).toMatch(/no UIDPLUS.*1 other message\(s\) there are marked as deleted/);
		expect(calls.some((c) => c.startsWith('DELETE'))).toBe(false);
		// moving with MOVE needs no expunge
		const moving = fakeClient({ INBOX: [aged(1, 40 * DAY), { ...aged(2, DAY), deleted: true }], Trash: [] }, { capabilities: ['MOVE'] });
		expect(await applyRetention(moving.client, { folder: 'INBOX', days: 30 }, { now: NOW, moveTo: 'Trash' })).toMatchObject({ matched: 1, deleted: 1, action: 'move' });
	});

	it('finds Junk, Sent and Trash by their roles; a missing role folder is an error only when its days are set', async () => {
		const roles = { Spam: '\\Junk', 'Sent Items': '\\Sent', Bin: '\\Trash' };
		const { client } = fakeClient({ INBOX: [], Spam: [], 'Sent Items': [], Bin: [], Other: [] }, { roles });
		const plan = await planRetention(client, { inboxDays: 0, junkDays: 10, sentDays: 5, otherFolders: [{ folder: 'Other', days: 3 }], moveToTrash: true });
		expect(plan).toEqual({
			rules: [
				{ folder: 'INBOX', days: 0, role: 'inbox' },
				{ folder: 'Spam', days: 10, role: 'junk' },
				{ folder: 'Sent Items', days: 5, role: 'sent' },
				{ folder: 'Other', days: 3, role: 'other' },
			],
			moveTo: 'Bin',
		});
		const bare = fakeClient({ INBOX: [] });
		expect((await planRetention(bare.client, { inboxDays: 1, junkDays: 0, sentDays: 0 })).rules).toEqual([{ folder: 'INBOX', days: 1, role: 'inbox' }]);
		const error = await planRetention(bare.client, { inboxDays: 1, junkDays: 10, sentDays: 0 }).catch((e: unknown) => e);
		expect(error).toMatchObject({ code: 'NOT_FOUND', field: 'junkFolder', message: 'Junk Days is set, but the server marks no folder as the junk folder (SPECIAL-USE \\Junk).' });
		expect((error as MailboxError).hint).toBe('Set Junk Folder in the options to the folder\'s path (Folder → List shows them), or set Junk Days to 0.');
		const noTrash = await planRetention(bare.client, { inboxDays: 1, junkDays: 0, sentDays: 0, moveToTrash: true }).catch((e: unknown) => e);
		expect(noTrash).toMatchObject({ code: 'NOT_FOUND', field: 'trashFolder', message: 'Move to Trash is on, but the server marks no folder as the trash folder (SPECIAL-USE \\Trash).' });
	});

	it('runs the Trash folder\'s own rule before moving anything there; results keep the plan\'s order', async () => {
		const { client, calls, folders } = fakeClient({ INBOX: [aged(1, 40 * DAY)], Trash: [aged(7, 50 * DAY)] });
		const results = await runRetention(
			client,
			{
				rules: [
					{ folder: 'INBOX', days: 30 },
					{ folder: 'Trash', days: 30 },
				],
				moveTo: 'Trash',
			},
			{ now: NOW },
		);
		expect(results.map((r) => [r.folder, r.action, r.matched, r.deleted])).toEqual([
			['INBOX', 'move', 1, 1],
			['Trash', 'delete', 1, 1],
		]);
		expect(calls.filter((c) => /^(DELETE|MOVE)/.test(c))).toEqual(['DELETE 7', 'MOVE 1 Trash']);
		expect(folders.Trash.map((m) => m.uid)).toEqual([1]);
	});
});
