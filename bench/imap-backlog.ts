/**
 * A large first activation: a folder of 200,000 messages (BENCH_BACKLOG_MESSAGES), every other
 * one read, and the IMAP trigger's engine started with "All Unread Mail, Then New Mail". It must
 * deliver the 100,000 unread ones in linear time and with a small state: the figures are the
 * throughput against a raw imapflow pass over the same messages (UID SEARCH UNSEEN, then UID FETCH
 * of the sources in chunks), the throughput of the last tenth of the backlog against the first
 * (quadratic state work shows as a falling ratio), the time to activation, the largest state the
 * engine reported and the peak memory. Runs take no time here: deliver resolves at once.
 */
import { ImapFlow } from 'imapflow';
import { resolveServer } from '../lib/connection/options';
import { ImapWatcher } from '../lib/imap/watch';
import { uidSetOf } from '../lib/imap/uid-set';
import { entry, measurePeakRss, round, type BenchContext, type Benchmark, type BenchEntry } from './frame';

const COUNT = Number(process.env.BENCH_BACKLOG_MESSAGES ?? 200_000);
const FOLDER = 'BacklogBench';

function tiny(k: number): Buffer {
	return Buffer.from(`From: sender${k % 97}@example.test\r\nTo: alice@example.test\r\nSubject: backlog ${k}\r\nMessage-ID: <backlog-${k}@example.test>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\nBody ${k}.\r\n`);
}

async function seed(ctx: BenchContext): Promise<void> {
	await ctx.servers.writeMaildir(
		ctx.user,
		FOLDER,
		(function* () {
			for (let k = 1; k <= COUNT; k++) yield { raw: tiny(k), flags: k % 2 === 0 ? ['\\Seen'] : [] };
		})(),
	);
}

async function rawPass(ctx: BenchContext): Promise<{ messages: number; ms: number }> {
	const client = new ImapFlow({ host: '127.0.0.1', port: ctx.servers.ports.imaps, secure: true, tls: { ca: ctx.ca }, auth: { user: ctx.user, pass: ctx.password }, logger: false });
	await client.connect();
	const t0 = process.hrtime.bigint();
	let messages = 0;
	try {
		await client.mailboxOpen(FOLDER, { readOnly: true });
		const unseen = (await client.search({ seen: false }, { uid: true })) || [];
		for (let i = 0; i < unseen.length; i += 100) {
			for await (const m of client.fetch(uidSetOf(unseen.slice(i, i + 100)), { uid: true, source: true }, { uid: true })) if (m.source) messages++;
		}
	} finally {
		await client.logout();
	}
	return { messages, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

async function triggerPass(ctx: BenchContext): Promise<{ messages: number; ms: number; activationMs: number; firstTenth: number; lastTenth: number; stateBytes: number }> {
	const expected = Math.ceil(COUNT / 2);
	const marks: number[] = [];
	let stateBytes = 0;
	let done!: () => void;
	const finished = new Promise<void>((resolve) => (done = resolve));
	const t0 = process.hrtime.bigint();
	const now = () => Number(process.hrtime.bigint() - t0) / 1e6;
	let failure: Error | undefined;
	const seen = new Set<number>();
	const watcher = new ImapWatcher({
		server: resolveServer('imap', { host: '127.0.0.1', port: ctx.servers.ports.imaps, security: 'tls', ca: ctx.ca }),
		login: { user: ctx.user, password: ctx.password },
		folders: [FOLDER],
		firstActivation: 'unseen',
		maxIdleMs: 10 * 60_000,
		onState: (state) => {
			stateBytes = Math.max(stateBytes, JSON.stringify(state).length);
		},
		deliver: async ([m]) => {
			if (seen.has(m.uid) || m.uid % 2 === 0) failure ??= new Error(`UID ${m.uid} delivered twice or read`);
			seen.add(m.uid);
			marks.push(now());
			if (marks.length === expected) setImmediate(done);
		},
	});
	try {
		const started = await watcher.start();
		if (started[0]?.error) throw started[0].error;
		const activationMs = now();
		await finished;
		if (failure) throw failure;
		const tenth = Math.floor(expected / 10);
		const rate = (from: number, to: number) => (to - from) / ((marks[to - 1] - marks[from]) / 1000);
		return { messages: marks.length, ms: marks[marks.length - 1], activationMs, firstTenth: rate(0, tenth), lastTenth: rate(expected - tenth, expected), stateBytes };
	} finally {
		await watcher.stop();
	}
}

export const imapBacklog: Benchmark<BenchContext> = {
	name: 'imap-backlog',
	async run(ctx): Promise<BenchEntry[]> {
		const t0 = Date.now();
		await seed(ctx);
		process.stdout.write(`bench: imap-backlog: seeded ${COUNT} messages, every other one read, in ${round((Date.now() - t0) / 1000)} s\n`);
		const raw = await rawPass(ctx);
		const { result: trigger, peakMiB } = await measurePeakRss(() => triggerPass(ctx));
		const rawRate = raw.messages / (raw.ms / 1000);
		const rate = trigger.messages / (trigger.ms / 1000);
		const n = `${Math.ceil(COUNT / 2)} unread in ${COUNT}`;
		return [
			entry({ name: `imap-backlog: first activation "unread", ${n}, msg/s`, value: round(rate), unit: 'msg/s', higherIsBetter: true, bound: round(rawRate), boundName: 'imapflow SEARCH UNSEEN + UID FETCH', notes: `${trigger.messages} delivered once each` }),
			entry({ name: 'imap-backlog: throughput of the last tenth / the first tenth', value: round(trigger.lastTenth / trigger.firstTenth, 2), unit: 'ratio', higherIsBetter: true, notes: `${round(trigger.firstTenth)} → ${round(trigger.lastTenth)} msg/s; linear state work keeps it near 1` }),
			entry({ name: 'imap-backlog: activation (start resolved)', value: round(trigger.activationMs), unit: 'ms', higherIsBetter: false }),
			entry({ name: 'imap-backlog: largest state reported', value: trigger.stateBytes, unit: 'bytes', higherIsBetter: false, notes: 'what the node saves in static data with each emit' }),
			entry({ name: 'imap-backlog: peak RSS above start', value: peakMiB, unit: 'MiB', higherIsBetter: false }),
		];
	},
};
