import { generateMessages } from '../fixtures/mailgen';
import { startMailServers, type MailServers } from '../servers';
import { Forwarder, kickUser, sessionsOf } from '../servers/dovecot-admin';
import type { WatchedMessage, WatchState } from '../../lib/imap/watch';
import type { ImapFlow } from 'imapflow';
import { withImap } from '../../lib/imap/connect';
import { append, imap, imapServer, simpleMessage, until, watch, type Harness } from './imap-watch-helpers';

/** Every acknowledged Message-ID, in order. */
function countIds(ids: string[]): Map<string, number> {
	const counts = new Map<string, number>();
	for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
	return counts;
}

describe('IMAP watcher reliability against a real Dovecot', () => {
	let servers: MailServers;
	const running: Harness[] = [];
	const start = async (h: Harness) => {
		running.push(h);
		await h.watcher.start();
		return h;
	};

	beforeAll(async () => {
		servers = await startMailServers();
	});
	afterEach(async () => {
		await Promise.all(running.splice(0).map((h) => h.watcher.stop()));
	});
	afterAll(async () => {
		await servers?.stop();
	});

	it('stopped in the middle of 300 messages and started again with the saved state: every message exactly once', async () => {
		const generated = [...generateMessages({ seed: 11, count: 300 })];
		await servers.writeMaildir('alice', 'Restart', generated);
		const acked: string[] = [];
		const held: WatchedMessage[] = [];
		// first run: runs for even UIDs and UIDs up to 60 succeed at once, the others never finish
		const first = await start(
			watch(servers, {
				folders: ['Restart'],
				firstActivation: 'all',
				fetchBatchSize: 25,
				maxInFlight: 100,
				deliver: async (messages) => {
					const m = messages[0];
					if (m.uid % 2 === 0 || m.uid <= 60) {
						acked.push(m.messageId ?? '');
						return;
					}
					held.push(m);
					await new Promise<void>(() => undefined);
				},
			}),
		);
		await until(() => held.length === 100, 'the window full of unfinished runs');
		await first.watcher.stop();
		const saved = first.watcher.getState();
		expect(saved.folders.Restart.lastUid).toBe(60);
		expect(saved.folders.Restart.done).toMatch(/^62,64,/);
		expect(acked.length).toBeLessThan(300);
		const firstRun = acked.length;
		const lastDeliveredFirst = Math.max(...first.delivered.map((m) => m.uid));

		const second = await start(
			watch(servers, {
				folders: ['Restart'],
				state: JSON.parse(JSON.stringify(saved)) as WatchState,
				fetchBatchSize: 25,
				deliver: async (messages) => {
					acked.push(...messages.map((m) => m.messageId ?? ''));
				},
			}),
		);
		await until(() => second.state()?.folders.Restart.lastUid === 300, 'everything acknowledged');
		// the second run delivers the unfinished ones and what the first never got to, nothing else
		expect(second.delivered.map((m) => m.uid)).toEqual([...held.map((m) => m.uid), ...Array.from({ length: 300 - lastDeliveredFirst }, (_, i) => lastDeliveredFirst + 1 + i)]);
		expect(acked.length).toBe(300);
		expect(acked.length - firstRun).toBe(second.delivered.length);
		const counts = countIds(acked);
		expect(counts.size).toBe(300);
		expect([...counts.values()].every((n) => n === 1)).toBe(true);
		expect(new Set(acked)).toEqual(new Set(generated.map((m) => m.messageId)));
		expect(second.state()?.folders.Restart).toEqual({ uidValidity: saved.folders.Restart.uidValidity, lastUid: 300, recent: expect.any(String) });
	});

	it('a connection dropped in the middle of a fetch: reconnects, catches up, nothing lost or repeated', async () => {
		const generated = [...generateMessages({ seed: 12, count: 300, attachPct: 0 })];
		await servers.writeMaildir('alice', 'Kick', generated);
		let kicked = '';
		const h = await start(
			watch(servers, {
				folders: ['Kick'],
				firstActivation: 'all',
				fetchBatchSize: 20,
				// one message at a time: the watcher reads no further while the kick happens, so the
				// connection is gone in the middle of the fetch whatever the machine's speed
				maxInFlight: 1,
				deliver: async (messages) => {
					if (messages[0].uid === 50) kicked = await kickUser(servers, 'alice');
				},
			}),
		);
		await until(() => h.state()?.folders.Kick.lastUid === 300 && h.events.some((e) => e.type === 'recovered'), 'everything acknowledged and the recovery reported', 60_000);
		expect(kicked).toMatch(/alice/);
		expect(h.watcher.getStats().Kick.connects).toBeGreaterThanOrEqual(2);
		const failing = h.events.filter((e) => e.type === 'failing');
		expect(failing).toHaveLength(1);
		expect(h.events.filter((e) => e.type === 'recovered')).toHaveLength(1);
		const counts = countIds(h.delivered.map((m) => m.messageId ?? ''));
		expect(counts.size).toBe(300);
		expect([...counts.values()].every((n) => n === 1)).toBe(true);
	});

	it('a connection dropped while runs are under way and the window is full: the rest of the backlog still arrives, once each', async () => {
		const generated = [...generateMessages({ seed: 14, count: 30, attachPct: 0 })];
		await servers.writeMaildir('alice', 'Inflight', generated);
		const held: Array<() => void> = [];
		let kicked = false;
		const h = await start(
			watch(servers, {
				folders: ['Inflight'],
				firstActivation: 'all',
				maxInFlight: 3,
				backoff: { initialMs: 500, maxMs: 1_000, jitter: false },
				deliver: async (messages) => {
					// the first three runs go on until the connection was dropped
					if (messages[0].uid <= 3 && !kicked) await new Promise<void>((release) => held.push(release));
				},
			}),
		);
		await until(() => held.length === 3, 'three runs under way, the window full');
		await kickUser(servers, 'alice');
		kicked = true;
		// one run ends: the fetch goes on, finds the connection gone and ends; the other two runs end
		// right after that, before the trigger has reconnected
		held[0]();
		await until(() => h.events.some((e) => e.type === 'failing'), 'the dropped connection noticed');
		held[1]();
		held[2]();
		await until(() => h.delivered.length >= 30 && h.state()?.folders.Inflight.lastUid === 30, 'the whole backlog');
		const counts = countIds(h.delivered.map((m) => m.messageId ?? ''));
		expect(counts.size).toBe(30);
		expect([...counts.values()].every((n) => n === 1)).toBe(true);
	});

	it('UIDVALIDITY change (folder recreated): reported once; by Message-ID only the new mail is delivered', async () => {
		const old = [...generateMessages({ seed: 13, count: 10 })];
		await servers.writeMaildir('alice', 'Valid', old);
		const first = await start(watch(servers, { folders: ['Valid'], firstActivation: 'all' }));
		await until(() => first.state()?.folders.Valid.lastUid === 10, 'all acknowledged');
		await first.watcher.stop();
		const saved = first.watcher.getState();

		await imap(servers, (c) => c.mailboxDelete('Valid'));
		const now = new Date();
		await servers.writeMaildir('alice', 'Valid', [...old, { raw: simpleMessage('valid-new-1'), date: now }, { raw: simpleMessage('valid-new-2'), date: now }]);

		const second = await start(watch(servers, { folders: ['Valid'], state: saved }));
		await until(() => second.delivered.length === 2 && !second.state()?.folders.Valid.pending, 'the two new messages');
		const changes = second.events.filter((e) => e.type === 'uidValidityChanged');
		expect(changes).toEqual([{ type: 'uidValidityChanged', folder: 'Valid', previous: saved.folders.Valid.uidValidity, current: expect.any(String), handling: 'matchByMessageId' }]);
		expect(changes[0]).not.toMatchObject({ current: saved.folders.Valid.uidValidity });
		expect(second.delivered.map((m) => m.messageId)).toEqual(['<valid-new-1@example.test>', '<valid-new-2@example.test>']);
		await append(servers, 'Valid', simpleMessage('valid-new-3'));
		await until(() => second.delivered.length === 3, 'mail after the change');
		const resaved = second.watcher.getState();
		await second.watcher.stop();

		// without Message-ID matching: the folder starts again as on first activation ('all')
		await imap(servers, (c) => c.mailboxDelete('Valid'));
		await servers.writeMaildir('alice', 'Valid', old);
		const third = await start(watch(servers, { folders: ['Valid'], state: resaved, matchByMessageId: false, firstActivation: 'all' }));
		await until(() => third.delivered.length === 10, 'the folder again');
		expect(third.events.filter((e) => e.type === 'uidValidityChanged')).toEqual([expect.objectContaining({ handling: 'firstActivation' })]);
	});

	it('runs under way across a UIDVALIDITY change: each message is decided when its run ends (failed: delivered again; succeeded: not)', async () => {
		const [a, b] = [simpleMessage('across-a'), simpleMessage('across-b')];
		await servers.writeMaildir('alice', 'Across', [{ raw: a }, { raw: b }]);
		const held: Array<(ok: boolean) => void> = [];
		const h = await start(
			watch(servers, {
				folders: ['Across'],
				firstActivation: 'all',
				deliver: () => (held.length < 2 ? new Promise<void>((resolve, reject) => held.push((ok) => (ok ? resolve() : reject(new Error('the run failed'))))) : Promise.resolve()),
			}),
		);
		await until(() => held.length === 2, 'both runs under way');
		// the folder is recreated with the same messages while the runs go on
		await imap(servers, (c) => c.mailboxDelete('Across'));
		await servers.writeMaildir('alice', 'Across', [{ raw: a }, { raw: b }]);
		h.watcher.abandon();
		await until(() => h.events.some((e) => e.type === 'uidValidityChanged'), 'the change noticed');
		held[0](false);
		held[1](true);
		await until(() => h.delivered.length === 3, 'the message whose run failed, again');
		await append(servers, 'Across', simpleMessage('across-c'));
		await until(() => h.delivered.length === 4, 'mail after it');
		expect(h.delivered.map((m) => m.messageId)).toEqual(['<across-a@example.test>', '<across-b@example.test>', '<across-a@example.test>', '<across-c@example.test>']);
		expect(h.delivered[2].uidValidity).not.toBe(h.delivered[0].uidValidity);
	});

	it('server down for a while: failing once, updated while it stays down, recovered, mail from meanwhile delivered', async () => {
		await imap(servers, (c) => c.mailboxCreate('Down'));
		const forwarder = await Forwarder.start(servers.ports.imaps);
		try {
			const h = await start(watch(servers, { folders: ['Down'], server: imapServer(servers, forwarder.port), backoff: { initialMs: 50, maxMs: 200, jitter: false } }));
			await append(servers, 'Down', simpleMessage('before-down'));
			await until(() => h.delivered.length === 1, 'the first message');
			await forwarder.down();
			await until(() => h.events.filter((e) => e.type === 'updated').length >= 3, 'repeated failures');
			await append(servers, 'Down', simpleMessage('while-down'));
			await forwarder.up();
			await until(() => h.events.some((e) => e.type === 'recovered'), 'recovery');
			await until(() => h.delivered.length === 2, 'the message from meanwhile');
			expect(h.delivered.map((m) => m.messageId)).toEqual(['<before-down@example.test>', '<while-down@example.test>']);
			const health = h.events.filter((e) => e.type === 'failing' || e.type === 'updated' || e.type === 'recovered');
			expect(health[0]).toMatchObject({ type: 'failing', folder: 'Down', count: 1 });
			expect(health.filter((e) => e.type === 'failing')).toHaveLength(1);
			expect(health.filter((e) => e.type === 'recovered')).toHaveLength(1);
			const last = health[health.length - 1];
			expect(last).toMatchObject({ type: 'recovered', folder: 'Down' });
			const updates = health.filter((e) => e.type === 'updated');
			expect(updates[updates.length - 1]).toMatchObject({ error: expect.objectContaining({ code: 'CONNECTION_REFUSED' }), message: expect.stringMatching(/^Mailbox folder "Down" cannot be fetched: Connection refused/) });
			expect(h.watcher.getStats().Down.failing).toBe(false);
		} finally {
			await forwarder.down();
		}
	});

	it('one connection per folder: after each of five drops the server counts exactly one session per watched folder again, none left over', async () => {
		// bob's mailbox, so that the other tests' connections are not counted
		const bob = { user: 'bob', password: servers.users.bob };
		const withBob = <T>(work: (client: ImapFlow) => Promise<T>): Promise<T> => withImap(imapServer(servers), bob, work);
		await withBob((c) => Promise.all([c.mailboxCreate('Soak A'), c.mailboxCreate('Soak B')]));
		const h = await start(watch(servers, { folders: ['Soak A', 'Soak B'], login: bob, backoff: { initialMs: 20, maxMs: 100, jitter: false } }));
		const connects = () => h.watcher.getStats()['Soak A'].connects + h.watcher.getStats()['Soak B'].connects;
		// a session the server ended may be counted until its process is gone: wait for the count to settle
		let sessions = -1;
		const settled = async () => {
			sessions = await sessionsOf(servers, 'bob', 'imap');
			return sessions;
		};
		const untilTwo = async (what: string) => {
			for (const deadline = Date.now() + 60_000; (await settled()) !== 2; ) {
				if (Date.now() > deadline) throw new Error(`${what}: the server counts ${sessions} sessions of the trigger, not 2`);
				await new Promise((resolve) => setTimeout(resolve, 50));
			}
		};
		await untilTwo('after the start');
		for (let drop = 1; drop <= 5; drop++) {
			const before = connects();
			await kickUser(servers, 'bob');
			await until(() => connects() >= before + 2, `both folders connected again after drop ${drop}`);
			await untilTwo(`after drop ${drop}`);
		}
		expect(connects()).toBeGreaterThanOrEqual(12);
		await withBob((c) => c.append('Soak B', simpleMessage('after-soak')));
		await until(() => h.delivered.some((m) => m.messageId === '<after-soak@example.test>'), 'mail after the drops');
		expect(h.delivered).toHaveLength(1);
	});

	it('a connection that dies silently during IDLE (no FIN, no RST) is noticed at the IDLE renewal and replaced; mail from meanwhile arrives', async () => {
		await imap(servers, (c) => c.mailboxCreate('Silent'));
		const forwarder = await Forwarder.start(servers.ports.imaps);
		try {
			const h = await start(watch(servers, { folders: ['Silent'], server: imapServer(servers, forwarder.port), maxIdleMs: 1_000, responseTimeoutMs: 1_000, backoff: { initialMs: 50, maxMs: 200, jitter: false } }));
			await append(servers, 'Silent', simpleMessage('before-silence'));
			await until(() => h.delivered.length === 1, 'the first message');
			forwarder.stall();
			await append(servers, 'Silent', simpleMessage('during-silence'));
			await until(() => h.delivered.length === 2, 'the message sent while the connection was silently dead');
			expect(h.delivered.map((m) => m.messageId)).toEqual(['<before-silence@example.test>', '<during-silence@example.test>']);
			expect(h.watcher.getStats().Silent.connects).toBeGreaterThanOrEqual(2);
		} finally {
			await forwarder.down();
		}
	});
});
