/**
 * The POP3 watcher's loop against a scripted POP3 server on 127.0.0.1 that can stop answering:
 * a stuck poll is abandoned, one poll runs at a time, abandon() starts over quietly, a failing
 * login function and throwing callbacks never become unhandled rejections.
 */
import { resolveServer } from '../../../../lib/connection/options';
import { MailboxError } from '../../../../lib/errors';
import { Pop3Watcher, type Pop3WatchedMessage, type Pop3WatcherOptions, type Pop3WatchEvent } from '../../../../lib/pop3/watch';
import { ScriptedPop3 } from '../../../servers/scripted-pop3';

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
	const deadline = Date.now() + ms;
	while (!check()) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 10));
	}
}


describe('POP3 watcher loop', () => {
	let pop3: ScriptedPop3;
	const running: Pop3Watcher[] = [];

	function watch(options: Partial<Pop3WatcherOptions> = {}) {
		const delivered: Pop3WatchedMessage[] = [];
		const events: Pop3WatchEvent[] = [];
		const watcher = new Pop3Watcher({
			server: resolveServer('pop3', { host: '127.0.0.1', port: pop3.port, security: 'none', timeoutMs: 5_000 }),
			login: { user: 'u', password: 'p' },
			firstActivation: 'all',
			pollIntervalMs: 10 * 60_000,
			backoff: { initialMs: 20, maxMs: 50, jitter: false },
			...options,
			deliver: async (messages, run) => {
				delivered.push(...messages);
				return options.deliver?.(messages, run);
			},
			onEvent: (event) => {
				events.push(event);
				options.onEvent?.(event);
			},
		});
		running.push(watcher);
		return { watcher, delivered, events, fetched: () => events.filter((e) => e.type === 'fetched').length };
	}

	beforeEach(async () => {
		pop3 = await new ScriptedPop3().listen();
		pop3.messages = [{ uidl: 'm1', raw: 'Subject: one\r\n\r\n.dot line\r\n' }];
	});
	afterEach(async () => {
		await Promise.all(running.splice(0).map((w) => w.stop()));
		await pop3.close();
	});

	it('delivers what RETR returned, dot-unstuffed', async () => {
		const h = watch();
		await h.watcher.start();
		await until(() => h.delivered.length === 1, 'the message');
		expect(h.delivered[0]).toMatchObject({ uidl: 'm1', msgNo: 1, key: 'u@127.0.0.1/m1', attempt: 1 });
		expect(h.delivered[0].source?.toString()).toBe('Subject: one\r\n\r\n.dot line\r\n');
	});

	it('a poll stuck longer than stuckAfterMs is abandoned and reported; the next one recovers', async () => {
		pop3.hold = 'UIDL';
		const h = watch({ stuckAfterMs: 200 });
		const start = h.watcher.start();
		await until(() => h.events.some((e) => e.type === 'failing'), 'the stuck poll reported');
		const failing = h.events.find((e) => e.type === 'failing');
		expect(failing).toMatchObject({ error: expect.objectContaining({ code: 'TIMEOUT', causeCode: 'STUCK' }) });
		expect(await start).toEqual({ error: expect.any(MailboxError) });
		pop3.release();
		await until(() => h.events.some((e) => e.type === 'recovered') && h.delivered.length === 1, 'recovery');
		expect(pop3.maxOpen).toBe(1);
	});

	it('one poll at a time: fetchNow during a poll runs one more poll after it', async () => {
		pop3.hold = 'RETR';
		const h = watch();
		await h.watcher.start();
		await until(() => pop3.waiting === 1, 'RETR unanswered');
		h.watcher.fetchNow();
		h.watcher.fetchNow();
		h.watcher.fetchNow();
		pop3.release();
		await until(() => h.fetched() === 2, 'two polls');
		expect(pop3.maxOpen).toBe(1);
		expect(pop3.sessions).toBe(2);
		expect(h.delivered).toHaveLength(1);
	});

	it('abandon() drops a stuck session without counting it as a failure and polls again at once', async () => {
		pop3.hold = 'UIDL';
		const h = watch();
		const start = h.watcher.start();
		await until(() => pop3.waiting === 1, 'UIDL unanswered');
		h.watcher.abandon();
		pop3.release();
		await until(() => h.delivered.length === 1, 'delivered by the next poll');
		expect(await start).toEqual({});
		expect(h.events.filter((e) => e.type === 'failing')).toEqual([]);
		expect(pop3.sessions).toBe(2);
	});

	it('at most maxInFlight runs at a time: the rest waits, and is fetched when runs finish', async () => {
		pop3.messages = [1, 2, 3, 4].map((n) => ({ uidl: `m${n}`, raw: `Subject: ${n}\r\n\r\nbody\r\n` }));
		const finish: Array<() => void> = [];
		const h = watch({ maxInFlight: 2, followUpDelayMs: 0, deliver: () => new Promise<void>((resolve) => finish.push(resolve)) });
		await h.watcher.start();
		await until(() => h.fetched() === 1, 'the first poll');
		expect(h.delivered.map((m) => m.uidl)).toEqual(['m1', 'm2']);
		expect(h.watcher.getStats().inFlight).toBe(2);
		finish[0]();
		await until(() => h.delivered.length === 3, 'the third, after a run finished');
		expect(h.delivered.map((m) => m.uidl)).toEqual(['m1', 'm2', 'm3']);
		finish[1]();
		finish[2]();
		await until(() => h.delivered.length === 4, 'the fourth');
		finish[3]();
		await until(() => h.watcher.getState().messages.m4?.[1] === 'done', 'all acknowledged');
		expect(Object.values(h.watcher.getState().messages).map(([, s]) => s)).toEqual(['done', 'done', 'done', 'done']);
	});

	it('a run refused as a duplicate (untouched): acknowledged, never delivered again, never DELE, counted', async () => {
		pop3.messages = [1, 2].map((n) => ({ uidl: `m${n}`, raw: `Subject: ${n}\r\n\r\nbody\r\n` }));
		const h = watch({
			deleteAfterFetch: true,
			deleteAfterDays: 1,
			followUpDelayMs: 0,
			deliver: async ([m]) => (m.uidl === 'm1' ? { kind: 'duplicate' as const } : undefined),
		});
		await h.watcher.start();
		await until(() => pop3.deles.includes('m2'), 'the DELE of the run that succeeded');
		expect(h.watcher.getState().messages).toEqual({ m1: [expect.any(Number), 'untouched'], m2: [expect.any(Number), 'done-delete'] });
		h.watcher.fetchNow();
		await until(() => h.fetched() >= 3, 'one more poll');
		expect(pop3.deles.filter((u) => u === 'm1')).toEqual([]);
		expect(h.delivered.map((m) => m.uidl)).toEqual(['m1', 'm2']);
		expect(h.watcher.getStats()).toMatchObject({ delivered: 2, acknowledged: 2, untouched: 1 });
	});

	it('untouched from an earlier activation, first seen long ago: not deleted after N days, not delivered', async () => {
		const h = watch({ state: { version: 2, activatedAt: 1, messages: { m1: [1, 'untouched'] } }, deleteAfterFetch: true, deleteAfterDays: 1 });
		await h.watcher.start();
		await until(() => h.fetched() === 1, 'a poll');
		expect(pop3.deles).toEqual([]);
		expect(h.delivered).toEqual([]);
	});

	it('a login function that fails, and callbacks that throw, are reported, never unhandled', async () => {
		let fail = true;
		const errors: string[] = [];
		const h = watch({
			login: async () => {
				if (fail) throw new MailboxError('AUTH', 'no token');
				return { user: 'u', password: 'p' };
			},
			onState: () => {
				throw new Error('cannot save');
			},
			onEvent: () => {
				throw new Error('cannot report');
			},
			logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (line) => void errors.push(line) },
		});
		expect(await h.watcher.start()).toEqual({ error: expect.objectContaining({ code: 'AUTH', message: 'no token' }) });
		fail = false;
		await until(() => h.delivered.length === 1 && h.events.some((e) => e.type === 'recovered'), 'recovery');
		expect(h.events[0]).toMatchObject({ type: 'failing', message: 'Mailbox "127.0.0.1" cannot be fetched: no token' });
		expect(errors.some((l) => l.includes('cannot save'))).toBe(true);
		expect(errors.some((l) => l.includes('cannot report'))).toBe(true);
	});
});
