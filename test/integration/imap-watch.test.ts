import { systemClock } from '../../lib/delivery/clock';
import { generateMessage, generateMessages, MALFORMED_INDEX } from '../fixtures/mailgen';
import { startMailServers, type MailServers } from '../servers';
import type { WatchedMessage } from '../../lib/imap/watch';
import { append, flagsOf, imap, simpleMessage, until, watch, type Harness } from './imap-watch-helpers';

const BOUNCE = Buffer.from(
	[
		'From: Mail Delivery System <MAILER-DAEMON@example.test>',
		'To: alice@example.test',
		'Subject: Undelivered Mail Returned to Sender',
		'Message-ID: <bounce-1@example.test>',
		'MIME-Version: 1.0',
		'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"',
		'',
		'--b1',
		'Content-Type: text/plain',
		'',
		'Your message could not be delivered.',
		'--b1',
		'Content-Type: message/delivery-status',
		'',
		'Reporting-MTA: dns; mx.example.test',
		'',
		'Final-Recipient: rfc822; nobody@example.test',
		'Action: failed',
		'Status: 5.1.1',
		'--b1--',
		'',
	].join('\r\n'),
);

describe('IMAP watcher against a real Dovecot', () => {
	let servers: MailServers;
	const running: Harness[] = [];
	const start = async (h: Harness) => {
		running.push(h);
		const results = await h.watcher.start();
		expect(results.every((r) => !r.error)).toBe(true);
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

	it("first activation 'new' delivers only mail arriving later, pushed by IDLE", async () => {
		await servers.writeMaildir('alice', 'New', generateMessages({ seed: 1, count: 5 }));
		const h = await start(watch(servers, { folders: ['New'] }));
		expect(h.delivered).toHaveLength(0);
		expect(h.state()?.folders.New).toMatchObject({ lastUid: 5 });
		await append(servers, 'New', simpleMessage('pushed-1'));
		// polling is 10 min and the re-check after 10 min: only IDLE can bring it
		await until(() => h.delivered.length === 1, 'the appended message');
		expect(h.delivered[0]).toMatchObject({ folder: 'New', uid: 6, messageId: '<pushed-1@example.test>', oversized: false, attempt: 1 });
		expect(h.delivered[0].source?.toString()).toContain('Subject: pushed-1');
		expect(h.watcher.getStats().New).toMatchObject({ push: true, delivered: 1 });
		await until(() => h.state()?.folders.New.lastUid === 6, 'the acknowledgement in the state');
	});

	it("first activation 'unseen' delivers the unseen backlog, then new mail", async () => {
		const generated = [...generateMessages({ seed: 2, count: 30 })];
		await servers.writeMaildir('alice', 'Unseen', generated);
		const unseenIds = generated.filter((m) => !m.flags.includes('\\Seen')).map((m) => m.messageId);
		expect(unseenIds.length).toBeGreaterThan(3);
		const h = await start(watch(servers, { folders: ['Unseen'], firstActivation: 'unseen' }));
		await until(() => h.delivered.length === unseenIds.length, 'the unseen messages');
		expect(h.delivered.map((m) => m.messageId)).toEqual(unseenIds);
		await append(servers, 'Unseen', simpleMessage('after-unseen'), ['\\Seen']);
		await until(() => h.delivered.length === unseenIds.length + 1, 'the new message');
		expect(h.delivered[h.delivered.length - 1].messageId).toBe('<after-unseen@example.test>');
		await until(() => !h.state()?.folders.Unseen.pending && h.state()?.folders.Unseen.lastUid === 31, 'all acknowledged');
	});

	it("first activation 'all' delivers everything in UID order, the malformed message raw, and counts bounces", async () => {
		const generated = [...generateMessages({ seed: 3, count: 40 })];
		await servers.writeMaildir('alice', 'All', [...generated, { raw: BOUNCE }]);
		const h = await start(watch(servers, { folders: ['All'], firstActivation: 'all', fetchBatchSize: 7 }));
		await until(() => h.delivered.length === 41, 'every message');
		expect(h.delivered.map((m) => m.uid)).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
		expect(h.delivered.slice(0, 40).map((m) => m.messageId)).toEqual(generated.map((m) => m.messageId));
		const malformed = h.delivered[MALFORMED_INDEX];
		expect(malformed.source?.equals(generated[MALFORMED_INDEX].raw)).toBe(true);
		expect(h.delivered[40]).toMatchObject({ bounce: true, messageId: '<bounce-1@example.test>' });
		expect(h.delivered.filter((m) => m.bounce)).toHaveLength(1);
		expect(h.watcher.getStats().All).toMatchObject({ bounces: 1, delivered: 41 });
		await until(() => h.state()?.folders.All.lastUid === 41, 'all acknowledged');
		// the watcher keeps working after the malformed message
		await append(servers, 'All', simpleMessage('after-all'));
		await until(() => h.delivered.length === 42, 'the new message');
	});

	it('polls when asked to, at the chosen interval', async () => {
		await imap(servers, (c) => c.mailboxCreate('Polled'));
		const h = await start(watch(servers, { folders: ['Polled'], mode: 'poll', pollIntervalMs: 200 }));
		expect(h.watcher.getStats().Polled.push).toBe(false);
		await append(servers, 'Polled', simpleMessage('polled-1'));
		await until(() => h.delivered.length === 1, 'the polled message');
		expect(h.delivered[0].messageId).toBe('<polled-1@example.test>');
	});

	it('watches several folders at once, each on its own connection', async () => {
		await imap(servers, async (c) => {
			await c.mailboxCreate('Multi A');
			await c.mailboxCreate('Multi B');
		});
		const h = await start(watch(servers, { folders: ['INBOX', 'Multi A', 'Multi B'] }));
		await append(servers, 'Multi B', simpleMessage('b-1'));
		await append(servers, 'INBOX', simpleMessage('inbox-1'));
		await append(servers, 'Multi A', simpleMessage('a-1'));
		await until(() => h.delivered.length === 3, 'one message per folder');
		expect(h.delivered.map((m) => `${m.folder}:${m.messageId}`).sort()).toEqual(['INBOX:<inbox-1@example.test>', 'Multi A:<a-1@example.test>', 'Multi B:<b-1@example.test>']);
		expect(Object.keys(h.state()?.folders ?? {}).sort()).toEqual(['INBOX', 'Multi A', 'Multi B']);
	});

	it('a failed run leaves the message untouched and delivers it again on the next fetch (retryFailed)', async () => {
		await imap(servers, async (c) => {
			await c.mailboxCreate('Retry');
			await c.mailboxCreate('Retry Done');
		});
		let fail = true;
		const h = await start(
			watch(servers, {
				folders: ['Retry'],
				afterProcessing: 'move',
				moveTo: 'Retry Done',
				deliver: async () => {
					if (fail) throw new Error('workflow failed');
				},
			}),
		);
		await append(servers, 'Retry', simpleMessage('retry-1'));
		await until(() => h.events.some((e) => e.type === 'runFailed'), 'the failed run');
		const failed = h.events.find((e) => e.type === 'runFailed');
		expect(failed).toMatchObject({ type: 'runFailed', folder: 'Retry', settlement: 'retry', error: 'workflow failed', message: { uid: 1, attempt: 1 } });
		const flags = await flagsOf(servers, 'Retry');
		expect([...flags.keys()]).toEqual([1]);
		expect(flags.get(1)).not.toContain('\\Seen');
		// still to deliver: the cursor passed it, the message waits in pending for its retry
		await until(() => h.state()?.folders.Retry.pending === '1', 'the failed message pending');
		fail = false;
		h.watcher.fetchNow('Retry');
		await until(() => h.delivered.length === 2, 'the second delivery');
		expect(h.delivered[1]).toMatchObject({ uid: 1, attempt: 2 });
		await until(() => !h.state()?.folders.Retry.actions && h.state()?.folders.Retry.lastUid === 1, 'the move recorded');
		expect((await flagsOf(servers, 'Retry')).size).toBe(0);
		expect((await flagsOf(servers, 'Retry Done')).size).toBe(1);
	});

	it('a failed run is skipped when retryFailed is off: the cursor moves on, the message stays untouched', async () => {
		await imap(servers, (c) => c.mailboxCreate('NoRetry'));
		const h = await start(
			watch(servers, {
				folders: ['NoRetry'],
				afterProcessing: 'markRead',
				retry: { retryFailed: false },
				deliver: async (messages) => {
					if (messages[0].messageId === '<bad@example.test>') throw new Error('workflow failed');
				},
			}),
		);
		await append(servers, 'NoRetry', simpleMessage('bad'));
		await until(() => h.state()?.folders.NoRetry.lastUid === 1, 'the skipped message passed');
		await append(servers, 'NoRetry', simpleMessage('good'));
		await until(() => h.state()?.folders.NoRetry.lastUid === 2 && !h.state()?.folders.NoRetry.actions, 'the good one done');
		h.watcher.fetchNow('NoRetry');
		const flags = await flagsOf(servers, 'NoRetry');
		expect(flags.get(1)).not.toContain('\\Seen');
		expect(flags.get(2)).toContain('\\Seen');
		expect(h.delivered.map((m) => m.messageId)).toEqual(['<bad@example.test>', '<good@example.test>']);
	});

	it('marks read and deletes only after the run succeeded', async () => {
		await imap(servers, async (c) => {
			await c.mailboxCreate('MarkRead');
			await c.mailboxCreate('Delete');
		});
		const release: Record<string, () => void> = {};
		const deliver = (messages: WatchedMessage[]) => new Promise<void>((resolve) => (release[messages[0].folder] = resolve));
		const h = await start(watch(servers, { folders: ['MarkRead'], afterProcessing: 'markRead', deliver }));
		const d = await start(watch(servers, { folders: ['Delete'], afterProcessing: 'delete', deliver }));
		await append(servers, 'MarkRead', simpleMessage('mark-1'));
		await append(servers, 'Delete', simpleMessage('delete-1'));
		await until(() => !!release.MarkRead && !!release.Delete, 'both delivered');
		// the runs are still going: nothing touched
		expect((await flagsOf(servers, 'MarkRead')).get(1)).not.toContain('\\Seen');
		expect((await flagsOf(servers, 'Delete')).get(1)).toEqual([]);
		release.MarkRead();
		release.Delete();
		await until(() => h.state()?.folders.MarkRead.lastUid === 1 && !h.state()?.folders.MarkRead.actions, 'marked');
		await until(() => d.state()?.folders.Delete.lastUid === 1 && !d.state()?.folders.Delete.actions, 'deleted');
		expect((await flagsOf(servers, 'MarkRead')).get(1)).toContain('\\Seen');
		expect((await flagsOf(servers, 'Delete')).size).toBe(0);
	});

	it('oversized mail is delivered with headers only and a flag, or skipped and reported; unchecked fetch checks after download', async () => {
		const big = generateMessage(4, 999, { maxAttachmentBytes: 300_000 });
		const small = generateMessage(4, 1);
		expect(big.raw.length).toBeGreaterThan(300_000);
		await servers.writeMaildir('alice', 'Sizes', [small, big]);
		const headers = await start(watch(servers, { folders: ['Sizes'], firstActivation: 'all', maxSizeBytes: 200_000 }));
		await until(() => headers.delivered.length === 2, 'both messages');
		expect(headers.delivered[0]).toMatchObject({ oversized: false, messageId: small.messageId });
		const oversized = headers.delivered[1];
		expect(oversized).toMatchObject({ oversized: true, messageId: big.messageId, size: big.raw.length, source: undefined });
		expect(oversized.headers?.toString()).toContain(`Message-ID: ${big.messageId}`);
		expect(oversized.headers?.length).toBeLessThan(5_000);
		expect(headers.watcher.getStats().Sizes.oversized).toBe(1);

		for (const fetchUnchecked of [false, true]) {
			const skip = await start(watch(servers, { folders: ['Sizes'], firstActivation: 'all', maxSizeBytes: 200_000, oversized: 'skip', fetchUnchecked }));
			await until(() => skip.state()?.folders.Sizes.lastUid === 2, 'both done');
			expect(skip.delivered.map((m) => m.messageId)).toEqual([small.messageId]);
			expect(skip.events.filter((e) => e.type === 'skipped')).toEqual([{ type: 'skipped', folder: 'Sizes', uid: 2, messageId: big.messageId, size: big.raw.length, reason: 'oversized' }]);
		}
		const unchecked = await start(watch(servers, { folders: ['Sizes'], firstActivation: 'all', maxSizeBytes: 200_000, fetchUnchecked: true }));
		await until(() => unchecked.delivered.length === 2, 'both messages');
		expect(unchecked.delivered[1]).toMatchObject({ oversized: true, source: undefined });
		expect(unchecked.delivered[1].headers?.toString()).toContain(`Message-ID: ${big.messageId}`);
	});

	it('keeps at most maxInFlightBytes of mail unacknowledged; a message larger than that is delivered alone', async () => {
		const line = `${'x'.repeat(78)}\r\n`;
		const small = (i: number) => simpleMessage(`window-${i}`, `window ${i}`, line.repeat(100));
		const raws = [small(1), small(2), small(3), simpleMessage('window-big', 'window big', line.repeat(500)), small(4), small(5)];
		await servers.writeMaildir('alice', 'Window', raws.map((raw) => ({ raw })));
		const limit = small(1).length * 2 + 100; // two small ones fit, a third does not
		const open: Array<{ uid: number; bytes: number; release: () => void }> = [];
		const overfull: string[] = [];
		const h = await start(
			watch(servers, {
				folders: ['Window'],
				firstActivation: 'all',
				maxInFlightBytes: limit,
				deliver: async (messages) => {
					const bytes = messages[0].source?.length ?? 0;
					const before = open.reduce((sum, o) => sum + o.bytes, 0);
					if (open.length > 0 && before + bytes > limit) overfull.push(`UID ${messages[0].uid} (${bytes} bytes) with ${open.map((o) => o.uid).join(', ')} (${before} bytes) in flight`);
					await new Promise<void>((release) => open.push({ uid: messages[0].uid, bytes, release }));
				},
			}),
		);
		await until(() => open.length >= 2, 'two small messages in flight');
		while (h.watcher.getStats().Window.acknowledged < raws.length) {
			await until(() => open.length > 0, 'a message in flight');
			open.shift()?.release();
			await new Promise((resolve) => setImmediate(resolve));
		}
		expect(overfull).toEqual([]);
		expect(h.delivered.map((m) => m.uid)).toEqual([1, 2, 3, 4, 5, 6]);
		await until(() => h.state()?.folders.Window.lastUid === 6, 'all acknowledged');
	});

	it('reset delivers again from a UID, or from a date', async () => {
		await servers.writeMaildir('alice', 'Reset', generateMessages({ seed: 5, count: 10 }));
		const h = await start(watch(servers, { folders: ['Reset'], firstActivation: 'all' }));
		await until(() => h.state()?.folders.Reset.lastUid === 10, 'all acknowledged');
		h.watcher.reset('Reset', { fromUid: 8 });
		await until(() => h.delivered.length === 13, 'UIDs 8-10 again');
		expect(h.delivered.slice(10).map((m) => m.uid)).toEqual([8, 9, 10]);
		await until(() => h.state()?.folders.Reset.lastUid === 10, 'acknowledged again');
		// every generated message is older than EPOCH; a date far back brings back all ten
		h.watcher.reset('Reset', { since: new Date(Date.UTC(2000, 0, 1)) });
		await until(() => h.delivered.length === 23, 'all ten again');
		expect(h.delivered.slice(13).map((m) => m.uid)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
	});

	it('a reload from a date keeps the retry of an older message whose run failed', async () => {
		await servers.writeMaildir('alice', 'Reload', generateMessages({ seed: 6, count: 1 }));
		let fail = true;
		// the retry is due an hour later: the clock is moved forward instead of waiting
		let shift = 0;
		const clock = { ...systemClock, now: () => Date.now() + shift };
		const h = await start(
			watch(servers, {
				folders: ['Reload'],
				firstActivation: 'all',
				clock,
				retry: { retryDelayMs: 60 * 60_000 },
				deliver: async () => {
					if (fail) throw new Error('the run failed');
				},
			}),
		);
		await until(() => h.events.some((e) => e.type === 'runFailed'), 'the failed run');
		fail = false;
		// new mail, then a reload from a date after the old message (generated before 2026)
		await append(servers, 'Reload', simpleMessage('reload-new'));
		await until(() => h.delivered.length === 2, 'the new message');
		h.watcher.reset('Reload', { since: new Date(Date.now() - 60 * 60_000) });
		await until(() => h.delivered.length === 3 && h.state()?.folders.Reload.lastUid === 2, 'the reload');
		expect(h.state()?.folders.Reload.pending).toBe('1');
		shift = 2 * 60 * 60_000;
		h.watcher.fetchNow('Reload');
		await until(() => h.delivered.length === 4 && !h.state()?.folders.Reload.pending, 'the retry');
		expect(h.delivered.map((m) => m.uid)).toEqual([1, 2, 2, 1]);
	});
});
