/**
 * The POP3 watcher against a real Dovecot: first activation, restart with the saved state,
 * failed runs, delete after fetch (only after success, only by QUIT, not for mail fetched before
 * it was switched on, never for mail whose run n8n refused as a duplicate), delete after N days on a controllable clock, pruning, size limit, a server
 * that goes down and comes back, and the malformed message delivered byte for byte. Each test has
 * its own user, so its own maildrop.
 */
import fs from 'node:fs';
import { resolveServer, type ResolvedServer } from '../../lib/connection/options';
import { systemClock, type Clock } from '../../lib/delivery/clock';
import type { Logger } from '../../lib/logger';
import { withPop3 } from '../../lib/pop3/connect';
import { Pop3Watcher, type Pop3WatchedMessage, type Pop3WatcherOptions, type Pop3WatchEvent } from '../../lib/pop3/watch';
import type { Pop3WatchState } from '../../lib/pop3/watch-state';
import { Forwarder } from '../servers/dovecot-admin';
import { generateMessages, MALFORMED_INDEX } from '../fixtures/mailgen';
import { startMailServers, type MailServers } from '../servers';
import { until } from './imap-watch-helpers';

const USERS = Object.fromEntries(
	['first-new', 'first-all', 'restart', 'retry', 'noretry', 'dele', 'dele-later', 'dup', 'cut', 'stopcut', 'days', 'prune', 'size', 'unchecked', 'down', 'raw'].map((u) => [u, `${u}-pw`]),
);
const DAY = 24 * 60 * 60 * 1000;

function message(id: string, body = 'Hello.'): Buffer {
	return Buffer.from(`From: Sender <sender@example.test>\r\nTo: someone@example.test\r\nSubject: ${id}\r\nMessage-ID: <${id}@example.test>\r\nDate: Tue, 02 Jan 2024 10:00:00 +0000\r\n\r\n${body}\r\n`);
}

function headerOf(raw: Buffer): Buffer {
	return raw.subarray(0, raw.indexOf('\r\n\r\n') + 4);
}

interface Harness {
	watcher: Pop3Watcher;
	delivered: Pop3WatchedMessage[];
	events: Pop3WatchEvent[];
	state: () => Pop3WatchState | undefined;
	/** Completed sessions (QUIT). */
	polls: () => number;
	/** fetchNow and wait until one more session than now has completed. */
	poll: () => Promise<void>;
}

describe('POP3 watcher against a real Dovecot', () => {
	let servers: MailServers;
	let ca: string;
	const running: Pop3Watcher[] = [];

	const server = (port = servers.ports.pop3s): ResolvedServer => resolveServer('pop3', { host: '127.0.0.1', port, security: 'tls', ca, timeoutMs: 10_000 });
	const login = (user: string) => ({ user, password: USERS[user] });
	const write = (user: string, ...raws: Buffer[]) => servers.writeMaildir(user, 'INBOX', raws.map((raw) => ({ raw })));
	/** The maildrop as another session sees it: UIDL and the raw messages. */
	const maildrop = (user: string) =>
		withPop3(server(), login(user), async ({ client }) => {
			const uidl = await client.uidl();
			const raws: Buffer[] = [];
			for (const { msg } of uidl) raws.push(await client.retr(msg));
			return { uidls: uidl.map((u) => u.uid), raws, count: (await client.stat()).count };
		});

	function watch(user: string, options: Partial<Pop3WatcherOptions> = {}): Harness {
		const delivered: Pop3WatchedMessage[] = [];
		const events: Pop3WatchEvent[] = [];
		let saved: Pop3WatchState | undefined;
		const deliver = options.deliver;
		const watcher = new Pop3Watcher({
			server: server(),
			login: login(user),
			pollIntervalMs: 10 * 60_000,
			followUpDelayMs: 10,
			backoff: { initialMs: 50, maxMs: 200, jitter: false },
			// a failed run is retried on the next poll (the node's default waits a minute first)
			retry: { retryDelayMs: 0, ...options.retry },
			...options,
			deliver: (messages, run) => {
				delivered.push(...messages);
				return deliver ? deliver(messages, run) : Promise.resolve();
			},
			onState: (state) => {
				saved = state;
				options.onState?.(state);
			},
			onEvent: (event) => {
				events.push(event);
				options.onEvent?.(event);
			},
		});
		running.push(watcher);
		const polls = () => events.filter((e) => e.type === 'fetched').length;
		return {
			watcher,
			delivered,
			events,
			state: () => saved,
			polls,
			poll: async () => {
				const before = polls();
				watcher.fetchNow();
				await until(() => polls() > before, 'one more poll');
			},
		};
	}

	beforeAll(async () => {
		servers = await startMailServers({ users: USERS });
		ca = fs.readFileSync(servers.certPath, 'utf8');
	}, 60_000);
	afterEach(async () => {
		await Promise.all(running.splice(0).map((w) => w.stop()));
	});
	afterAll(async () => {
		await servers?.stop();
	});

	it("first activation 'new': what is on the server is recorded as known, only later mail is delivered", async () => {
		await write('first-new', message('old-1'), message('old-2'));
		const h = watch('first-new', { firstActivation: 'new' });
		expect(await h.watcher.start()).toEqual({});
		const state = h.state()!;
		expect(Object.values(state.messages).map(([, status]) => status)).toEqual(['known', 'known']);
		expect(state.activatedAt).toEqual(expect.any(Number));
		await until(() => h.polls() === 1, 'the first poll');
		expect(h.delivered).toEqual([]);

		const fresh = message('new-1');
		await write('first-new', fresh);
		await h.poll();
		expect(h.delivered).toHaveLength(1);
		const [m] = h.delivered;
		const { uidls } = await maildrop('first-new');
		expect(m).toMatchObject({ uidl: uidls[2], msgNo: 3, size: fresh.length, oversized: false, attempt: 1, key: `first-new@127.0.0.1/${uidls[2]}` });
		expect(m.source?.equals(fresh)).toBe(true);
		await until(() => h.state()?.messages[uidls[2]]?.[1] === 'done', 'the acknowledgement');
		expect(h.events.filter((e) => e.type === 'fetched').map((e) => e.type === 'fetched' && e.delivered)).toEqual([0, 1]);
	});

	it("first activation 'all': every message on the server is delivered, in maildrop order", async () => {
		const raws = [message('all-1'), message('all-2'), message('all-3')];
		await write('first-all', ...raws);
		const h = watch('first-all', { firstActivation: 'all' });
		await h.watcher.start();
		await until(() => h.delivered.length === 3 && Object.values(h.state()?.messages ?? {}).every(([, s]) => s === 'done'), 'three acknowledged');
		expect(h.delivered.map((m) => m.msgNo)).toEqual([1, 2, 3]);
		expect(h.delivered.map((m) => m.source?.toString())).toEqual(raws.map(String));
		await h.poll();
		expect(h.delivered).toHaveLength(3);
		expect((await maildrop('first-all')).count).toBe(3);
	});

	it('restarted with the saved state: unfinished runs are delivered again with the same key, acknowledged ones never', async () => {
		await write('restart', ...Array.from({ length: 6 }, (_, i) => message(`restart-${i + 1}`)));
		const acked: string[] = [];
		const first = watch('restart', {
			firstActivation: 'all',
			// runs of messages 1, 3 and 5 succeed, the others never finish
			deliver: async ([m]) => {
				if (m.msgNo % 2 === 1) acked.push(m.uidl);
				else await new Promise<void>(() => undefined);
			},
		});
		await first.watcher.start();
		await until(() => first.delivered.length === 6 && Object.values(first.state()!.messages).filter(([, s]) => s === 'done').length === 3, 'six delivered, three acknowledged');
		await first.watcher.stop();
		const saved = first.watcher.getState();
		expect(Object.values(saved.messages).map(([, s]) => s)).toEqual(['done', 'new', 'done', 'new', 'done', 'new']);

		const second = watch('restart', { state: JSON.parse(JSON.stringify(saved)) as unknown, deliver: async ([m]) => void acked.push(m.uidl) });
		await second.watcher.start();
		await until(() => acked.length === 6, 'the unfinished three');
		expect(second.delivered.map((m) => m.msgNo)).toEqual([2, 4, 6]);
		expect(second.delivered.map((m) => m.key)).toEqual([first.delivered[1].key, first.delivered[3].key, first.delivered[5].key]);
		expect(new Set(acked).size).toBe(6);
		await second.watcher.stop();

		const third = watch('restart', { state: second.watcher.getState() });
		await third.watcher.start();
		await until(() => third.polls() === 1, 'a poll');
		expect(third.delivered).toEqual([]);
	});

	it('a failed run is delivered again on the next poll; the retry succeeds', async () => {
		await write('retry', message('retry-1'));
		let failures = 0;
		const h = watch('retry', {
			firstActivation: 'all',
			deliver: async () => {
				if (failures++ === 0) throw new Error('the workflow failed');
			},
		});
		await h.watcher.start();
		await until(() => h.events.some((e) => e.type === 'runFailed'), 'the failed run');
		expect(h.events.find((e) => e.type === 'runFailed')).toMatchObject({ message: { uidl: h.delivered[0].uidl, attempt: 1 }, error: 'the workflow failed', settlement: 'retry' });
		expect(Object.values(h.watcher.getState().messages)[0][1]).toBe('new');
		await h.poll();
		await until(() => Object.values(h.state()!.messages)[0][1] === 'done', 'the retry acknowledged');
		expect(h.delivered.map((m) => m.attempt)).toEqual([1, 2]);
		expect(h.delivered[1].key).toBe(h.delivered[0].key);
		expect(h.delivered[1].source?.equals(h.delivered[0].source!)).toBe(true);
		expect(h.watcher.getStats()).toMatchObject({ delivered: 2, failed: 1, acknowledged: 1 });
	});

	it('without retry a failed run skips the message; a deliver that throws at once is a failed run too', async () => {
		await write('noretry', message('noretry-1'), message('noretry-2'));
		const h = watch('noretry', {
			firstActivation: 'all',
			retry: { retryFailed: false },
			deliver: ([m]) => {
				if (m.msgNo === 1) throw new Error('thrown at once');
				return Promise.reject(new Error('rejected'));
			},
		});
		await h.watcher.start();
		await until(() => Object.values(h.state()?.messages ?? {}).every(([, s]) => s === 'skipped'), 'both skipped');
		expect(h.events.filter((e) => e.type === 'runFailed').map((e) => e.type === 'runFailed' && [e.error, e.settlement])).toEqual([
			['thrown at once', 'skipped'],
			['rejected', 'skipped'],
		]);
		await h.poll();
		expect(h.delivered).toHaveLength(2);
		expect((await maildrop('noretry')).count).toBe(2);
	});

	it('delete after fetch: DELE only after the run succeeded, committed by QUIT; failed and unfinished runs keep their mail', async () => {
		const raws = [message('dele-1'), message('dele-2'), message('dele-3')];
		await write('dele', ...raws);
		const { uidls } = await maildrop('dele');
		let release: () => void = () => undefined;
		const h = watch('dele', {
			firstActivation: 'all',
			deleteAfterFetch: true,
			retry: { retryFailed: false },
			deliver: async ([m]) => {
				if (m.msgNo === 2) throw new Error('the workflow failed');
				if (m.msgNo === 3) await new Promise<void>((resolve) => (release = resolve));
			},
		});
		await h.watcher.start();
		await until(() => h.events.some((e) => e.type === 'deleted'), 'the first deletion');
		expect(h.events.filter((e) => e.type === 'deleted')).toEqual([{ type: 'deleted', uidls: [uidls[0]] }]);
		let drop = await maildrop('dele');
		expect(drop.uidls).toEqual([uidls[1], uidls[2]]);
		expect(drop.raws.map(String)).toEqual([raws[1], raws[2]].map(String));

		release();
		await until(() => h.events.filter((e) => e.type === 'deleted').length === 2, 'the second deletion');
		drop = await maildrop('dele');
		expect(drop.uidls).toEqual([uidls[1]]);
		// the entries of deleted mail are dropped by the next poll; the failed one stays, skipped
		await h.poll();
		expect(h.watcher.getState().messages).toEqual({ [uidls[1]]: [expect.any(Number), 'skipped'] });
		expect(h.delivered).toHaveLength(3);
		expect(h.watcher.getStats().deleted).toBe(2);
	});

	it('delete after fetch switched on later: mail fetched before stays on the server', async () => {
		await write('dele-later', message('before-1'), message('before-2'));
		const first = watch('dele-later', { firstActivation: 'all' });
		await first.watcher.start();
		await until(() => Object.values(first.state()?.messages ?? {}).filter(([, s]) => s === 'done').length === 2, 'both acknowledged');
		await first.watcher.stop();

		await write('dele-later', message('after-1'));
		const second = watch('dele-later', { state: first.watcher.getState(), deleteAfterFetch: true });
		await second.watcher.start();
		await until(() => second.events.some((e) => e.type === 'deleted'), 'the deletion');
		expect(second.delivered.map((m) => m.source?.toString())).toEqual([message('after-1').toString()]);
		expect((await maildrop('dele-later')).raws.map(String)).toEqual([message('before-1'), message('before-2')].map(String));
		await second.poll();
		expect(Object.values(second.watcher.getState().messages).map(([, s]) => s)).toEqual(['done', 'done']);
	});

	it('a run refused as a duplicate (untouched): the message stays on the server with delete after fetch and after N days, and is never delivered again', async () => {
		let offset = 0;
		const clock: Clock = { ...systemClock, now: () => Date.now() + offset };
		const raws = [message('dup-1'), message('dup-2')];
		await write('dup', ...raws);
		const { uidls } = await maildrop('dup');
		const options: Partial<Pop3WatcherOptions> = {
			firstActivation: 'all',
			deleteAfterFetch: true,
			deleteAfterDays: 1,
			clock,
			// the run of the first message is refused as a duplicate of one cut off before a restart
			deliver: async ([m]) => (m.msgNo === 1 ? { kind: 'duplicate' as const } : undefined),
		};
		const h = watch('dup', options);
		await h.watcher.start();
		await until(() => h.events.some((e) => e.type === 'deleted'), 'the deletion of the message whose run succeeded');
		expect(h.events.filter((e) => e.type === 'deleted')).toEqual([{ type: 'deleted', uidls: [uidls[1]] }]);
		await h.poll();
		await h.poll();
		let drop = await maildrop('dup');
		expect(drop.uidls).toEqual([uidls[0]]);
		expect(drop.raws.map(String)).toEqual([raws[0].toString()]);
		expect(h.watcher.getState().messages).toEqual({ [uidls[0]]: [expect.any(Number), 'untouched'] });
		expect(h.delivered.map((m) => m.uidl)).toEqual(uidls);
		expect(h.watcher.getStats()).toMatchObject({ acknowledged: 2, untouched: 1, deleted: 1 });

		// days later, and after a restart with the saved state: still there, not delivered again
		offset = 5 * DAY;
		await h.poll();
		await h.watcher.stop();
		const again = watch('dup', { ...options, state: JSON.parse(JSON.stringify(h.watcher.getState())) as unknown });
		await again.watcher.start();
		await until(() => again.polls() === 1, 'a poll');
		await again.poll();
		drop = await maildrop('dup');
		expect(drop.uidls).toEqual([uidls[0]]);
		expect(again.delivered).toEqual([]);
		expect(again.events.some((e) => e.type === 'deleted')).toBe(false);
	});

	it('a session cut before QUIT deletes nothing; the next session that ends with QUIT does, without delivering again', async () => {
		await write('cut', message('cut-1'), message('cut-2'));
		const forwarder = await Forwarder.start(servers.ports.pop3s);
		let cutAtQuit = false;
		// Cuts the connection just before QUIT is sent: the DELEs reached the server, the QUIT does not.
		const logger: Logger = {
			debug: (line) => {
				if (cutAtQuit && line.startsWith('pop3: C: QUIT')) {
					cutAtQuit = false;
					void forwarder.down();
				}
			},
			info: () => undefined,
			warn: () => undefined,
			error: () => undefined,
		};
		try {
			const acked: string[] = [];
			const h = watch('cut', {
				server: server(forwarder.port),
				firstActivation: 'all',
				deleteAfterFetch: true,
				followUpDelayMs: 10 * 60_000,
				logger,
				deliver: async ([m]) => void acked.push(m.uidl),
			});
			await h.watcher.start();
			await until(() => Object.values(h.state()?.messages ?? {}).every(([, s]) => s === 'done-delete') && h.polls() === 1, 'both acknowledged');
			cutAtQuit = true;
			h.watcher.fetchNow();
			await until(() => h.events.some((e) => e.type === 'failing'), 'the cut session');
			expect(h.events.some((e) => e.type === 'deleted')).toBe(false);
			expect((await maildrop('cut')).count).toBe(2);

			await forwarder.up();
			await until(() => h.events.some((e) => e.type === 'recovered'), 'recovery');
			expect(h.events.filter((e) => e.type === 'deleted')).toEqual([{ type: 'deleted', uidls: acked }]);
			expect((await maildrop('cut')).count).toBe(0);
			expect(h.delivered).toHaveLength(2);
		} finally {
			await forwarder.down();
		}
	});

	it('stopped in the middle of a session after DELE: nothing deleted; after a restart with the saved state it is, and nothing is delivered twice', async () => {
		await write('stopcut', message('stopcut-1'), message('stopcut-2'), message('stopcut-3'));
		let stopAtDele: (() => void) | undefined;
		const logger: Logger = {
			debug: (line) => {
				if (stopAtDele && line.startsWith('pop3: C: DELE 2')) {
					const stop = stopAtDele;
					stopAtDele = undefined;
					stop();
				}
			},
			info: () => undefined,
			warn: () => undefined,
			error: () => undefined,
		};
		// the cut session alone: no last session at the stop (the delivery contract shows that one)
		const first = watch('stopcut', { firstActivation: 'all', deleteAfterFetch: true, followUpDelayMs: 10 * 60_000, stopActionsMs: 0, logger });
		await first.watcher.start();
		await until(() => Object.values(first.state()?.messages ?? {}).filter(([, s]) => s === 'done-delete').length === 3, 'all acknowledged');
		let stopped: Promise<void> | undefined;
		stopAtDele = () => (stopped = first.watcher.stop());
		first.watcher.fetchNow();
		await until(() => stopped !== undefined, 'the stop');
		await stopped;
		expect(first.events.some((e) => e.type === 'deleted')).toBe(false);
		expect((await maildrop('stopcut')).count).toBe(3);

		const second = watch('stopcut', { state: first.watcher.getState(), deleteAfterFetch: true });
		await second.watcher.start();
		await until(() => second.events.some((e) => e.type === 'deleted'), 'the deletion');
		expect((await maildrop('stopcut')).count).toBe(0);
		expect(second.delivered).toEqual([]);
	});

	it('delete after N days, on a controllable clock: acknowledged mail goes once it was first seen N days ago; mail only known stays', async () => {
		let offset = 0;
		const clock: Clock = { ...systemClock, now: () => Date.now() + offset };
		await write('days', message('known-1'));
		const h = watch('days', { firstActivation: 'new', deleteAfterDays: 3, clock });
		await h.watcher.start();
		await write('days', message('days-1'), message('days-2'));
		await h.poll();
		await until(() => Object.values(h.state()!.messages).filter(([, s]) => s === 'done').length === 2, 'two acknowledged');
		offset = 2 * DAY;
		await h.poll();
		expect((await maildrop('days')).count).toBe(3);
		await write('days', message('days-3'));
		offset = 3 * DAY + 60_000;
		await h.poll();
		await until(() => h.delivered.length === 3, 'the third message');
		expect(h.events.filter((e) => e.type === 'deleted')).toEqual([{ type: 'deleted', uidls: [h.delivered[0].uidl, h.delivered[1].uidl] }]);
		const drop = await maildrop('days');
		expect(drop.raws.map(String)).toEqual([message('known-1'), message('days-3')].map(String));
		// the third was first seen at day 3: it goes at day 6
		offset = 6 * DAY + 120_000;
		await h.poll();
		expect((await maildrop('days')).raws.map(String)).toEqual([message('known-1').toString()]);
		await h.poll();
		expect(Object.values(h.watcher.getState().messages).map(([, s]) => s)).toEqual(['known']);
	});

	it('the state keeps only what is still on the server', async () => {
		await write('prune', message('prune-1'), message('prune-2'), message('prune-3'));
		const h = watch('prune', { firstActivation: 'all' });
		await h.watcher.start();
		await until(() => Object.values(h.state()?.messages ?? {}).filter(([, s]) => s === 'done').length === 3, 'three acknowledged');
		const { uidls } = await maildrop('prune');
		// another mail program removes two of them
		await withPop3(server(), login('prune'), async ({ client }) => {
			await client.dele(1);
			await client.dele(3);
		});
		await h.poll();
		expect(Object.keys(h.watcher.getState().messages)).toEqual([uidls[1]]);
		expect(h.delivered).toHaveLength(3);
	});

	it('size limit by LIST: oversized mail comes with its headers only (TOP), or is skipped and reported', async () => {
		const small = message('size-small');
		const big = message('size-big', 'x'.repeat(70).concat('\r\n').repeat(300));
		await write('size', small, big);
		const headers = watch('size', { firstActivation: 'all', maxSizeBytes: 10_000 });
		await headers.watcher.start();
		await until(() => headers.delivered.length === 2, 'both delivered');
		expect(headers.delivered[0]).toMatchObject({ msgNo: 1, oversized: false, size: small.length });
		expect(headers.delivered[0].source?.equals(small)).toBe(true);
		expect(headers.delivered[1]).toMatchObject({ msgNo: 2, oversized: true, size: big.length, source: undefined });
		expect(headers.delivered[1].headers?.equals(headerOf(big))).toBe(true);
		await until(() => Object.values(headers.state()!.messages).map(([, s]) => s).join() === 'done,headers', 'acknowledged');
		await headers.watcher.stop();

		const skip = watch('size', { firstActivation: 'all', maxSizeBytes: 10_000, oversized: 'skip' });
		await skip.watcher.start();
		await until(() => skip.delivered.length === 1 && skip.events.some((e) => e.type === 'skipped'), 'one delivered, one skipped');
		const { uidls } = await maildrop('size');
		expect(skip.events.find((e) => e.type === 'skipped')).toEqual({ type: 'skipped', uidl: uidls[1], msgNo: 2, size: big.length, reason: 'oversized' });
		expect(skip.watcher.getState().messages[uidls[1]][1]).toBe('skipped');
		await skip.poll();
		expect(skip.delivered).toHaveLength(1);
		expect(skip.watcher.getStats()).toMatchObject({ oversized: 1, skipped: 1 });
	});

	it('fetch unchecked: downloads first, the size is checked on what arrived', async () => {
		const big = message('unchecked-big', 'y'.repeat(70).concat('\r\n').repeat(300));
		await write('unchecked', big);
		const h = watch('unchecked', { firstActivation: 'all', maxSizeBytes: 10_000, fetchUnchecked: true });
		await h.watcher.start();
		await until(() => h.delivered.length === 1, 'delivered');
		expect(h.delivered[0]).toMatchObject({ oversized: true, size: big.length, source: undefined });
		expect(h.delivered[0].headers?.equals(headerOf(big))).toBe(true);
	});

	it('server down: start reports it, failing once, updated while down, recovered; mail from meanwhile delivered', async () => {
		const forwarder = await Forwarder.start(servers.ports.pop3s);
		try {
			await forwarder.down();
			const h = watch('down', { server: server(forwarder.port), firstActivation: 'all' });
			expect(await h.watcher.start()).toEqual({ error: expect.objectContaining({ code: 'CONNECTION_REFUSED' }) });
			await until(() => h.events.filter((e) => e.type === 'updated').length >= 3, 'repeated failures');
			await write('down', message('down-1'));
			await forwarder.up();
			await until(() => h.events.some((e) => e.type === 'recovered') && h.delivered.length === 1, 'recovery');
			const health = h.events.filter((e) => e.type === 'failing' || e.type === 'updated' || e.type === 'recovered');
			expect(health[0]).toMatchObject({ type: 'failing', count: 1, message: expect.stringMatching(/^Mailbox "down@127\.0\.0\.1" cannot be fetched: Connection refused/) });
			expect(health.filter((e) => e.type === 'failing')).toHaveLength(1);
			expect(health[health.length - 1]).toMatchObject({ type: 'recovered', count: health.length - 1 });
			expect(h.delivered[0].source?.equals(message('down-1'))).toBe(true);

			// down again while running
			await forwarder.down();
			h.watcher.fetchNow();
			await until(() => h.events.filter((e) => e.type === 'failing').length === 2, 'failing again');
			await forwarder.up();
			await until(() => h.events.filter((e) => e.type === 'recovered').length === 2, 'recovered again');
			expect(h.watcher.getStats()).toMatchObject({ failing: false, delivered: 1 });
		} finally {
			await forwarder.down();
		}
	});

	it('the malformed message and every other generated kind are delivered byte for byte', async () => {
		const generated = [...generateMessages({ seed: 7, count: 12 })];
		expect(generated[MALFORMED_INDEX].kind).toBe('malformed');
		await servers.writeMaildir('raw', 'INBOX', generated);
		const h = watch('raw', { firstActivation: 'all' });
		await h.watcher.start();
		await until(() => h.delivered.length === 12, 'all delivered');
		expect(h.delivered.map((m) => m.msgNo)).toEqual(generated.map((_, i) => i + 1));
		for (let i = 0; i < generated.length; i++) {
			expect(h.delivered[i].size).toBe(generated[i].raw.length);
			expect(h.delivered[i].source?.equals(generated[i].raw)).toBe(true);
		}
	});
});
