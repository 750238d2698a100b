/**
 * The Microsoft Graph trigger's ingest rate against the local Graph endpoint's raw rate, in one run.
 * The local Microsoft authority, the OAuth server behind it and the local Graph endpoint
 * (test/servers/graph.ts) run in this process; the inbox of alice@contoso.test holds N generated
 * messages (test/fixtures/mailgen.ts, realistic sizes, the ~7 MB one included from 1,000 on). Every
 * pass runs in a child process of its own (fresh heap), signs in as a Microsoft 365 app through
 * MSAL (client credentials, scope .default of Graph; the child trusts the test certificate through
 * NODE_EXTRA_CA_CERTS, as n8n would) and reads the mailbox under /users/{address}:
 *
 * - raw (the bound): lib/graph/client.ts directly, the inbox's delta pages (odata.maxpagesize as the
 *   trigger asks, nextLinks followed) and then each page's messages' MIME (/messages/{id}/$value),
 *   one request at a time as the trigger reads them;
 * - read: the trigger's session (graphSyncSession: the same delta pages, each message then read as
 *   the trigger reads it, by its MIME content alone when there is no size limit): the trigger's
 *   requests without the delivery core, to tell the session's cost from the watcher's own;
 * - trigger: lib/graph/watch's GraphWatcher (first activation 'all', its default window and page,
 *   one message per run), deliver resolving at once, the state and run ledger kept as the node
 *   keeps them; from start() until every message is delivered and acknowledged. Then one more
 *   poll (not timed) must deliver nothing: each message is counted, and duplicates and missing
 *   ones are reported, not asserted.
 *
 * Passes alternate (raw, read, trigger) after a warm-up pass that is not counted (the endpoint
 * parses each message once, when it is first asked for it); the faster pass of each side counts.
 * Per pass: the requests by kind with their time (requests are sequential on every side, so their
 * sum and the rest of the wall time say where the time goes), the child's CPU and the endpoint's
 * (this process's), and the peak RSS (kernel's high-water mark, reset at the start, and samples).
 *
 *   BENCH_GRAPH_MESSAGES  messages in the inbox (default 2000)
 *   BENCH_GRAPH_PASSES    passes per side (default 2)
 *   BENCH_GRAPH_CPU_PROF  a directory: the trigger passes write V8 CPU profiles there (--cpu-prof)
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { MicrosoftAppSettings } from '../lib/auth/microsoft';
import { connectGraph, type GraphClient, type GraphExchange } from '../lib/graph/client';
import { DELTA_SELECT, GraphWatcher, graphSyncSession, type GraphWatchEvent } from '../lib/graph/watch';
import { GraphServer } from '../test/servers/graph';
import { generateMessages } from '../test/fixtures/mailgen';
import { MicrosoftAuthority } from '../test/servers/microsoft';
import { OAuthServer } from '../test/servers/oauth';
import { makeSelfSignedCertificate } from '../test/servers/tls';
import { entry, round, runBenchChild, type BenchContext, type Benchmark, type BenchEntry } from './frame';
import { answerAsChild, sampleRss } from './harness';

const MAILBOX = 'alice@contoso.test';
const APP_USER = 'graphapp';
const SECRET = 'Graph-Bench-Secret~7';
/** The trigger's page when its window is empty (FolderSyncOptions.pageSize's default). */
const PAGE = 100;

type Mode = 'raw' | 'read' | 'trigger';

interface ChildSpec {
	mode: Mode;
	baseUrl: string;
	app: MicrosoftAppSettings;
	count: number;
}

interface Step {
	n: number;
	ms: number;
}

interface ChildResult {
	/** Deliveries (trigger) or messages read (raw, read), duplicates included. */
	messages: number;
	distinct: number;
	/** Messages delivered (read) exactly once. */
	once: number;
	/** Deliveries beyond each message's first. */
	duplicates: number;
	/** SHA-256 of the sorted distinct item ids, compared with the endpoint's. */
	idsDigest: string;
	bytes: number;
	ms: number;
	cpuMs: number;
	/** Peak RSS above the RSS at the start of the run, and the peak itself, MiB. */
	peakMiB: number;
	peakAbsMiB: number;
	startMiB: number;
	steps: Record<string, Step>;
	/** Trigger: what the poll after the last delivery delivered (0 expected), and the watcher's counts. */
	afterwards?: number;
	stats?: { delivered: number; acknowledged: number; failed: number; fetches: number };
}

const idsDigest = (ids: Iterable<string>) => createHash('sha256').update([...ids].sort().join('\n')).digest('hex');

function stepOf(e: GraphExchange): string {
	const p = e.path.split('?')[0];
	if (p.endsWith('/messages/delta')) return 'delta';
	if (p.endsWith('/$value')) return 'mime';
	if (/\/messages\/[^/]+$/.test(p)) return 'message';
	return 'other';
}

// --- the measured paths (run in a child process each) ----------------------------------------

interface Tally {
	/** Deliveries per item id. */
	ids: Map<string, number>;
	messages: number;
	duplicates: number;
	bytes: number;
}

const tally = (): Tally => ({ ids: new Map(), messages: 0, duplicates: 0, bytes: 0 });

function count(t: Tally, id: string, source: Buffer): void {
	const seen = t.ids.get(id) ?? 0;
	if (seen) t.duplicates++;
	t.ids.set(id, seen + 1);
	t.messages++;
	t.bytes += source.length;
}

/** raw: delta pages (the trigger's $select), then each page's MIME; read: the trigger's session, pages and messages as it reads them. */
async function plainPass(spec: ChildSpec, client: GraphClient): Promise<Tally> {
	const t = tally();
	if (spec.mode === 'read') {
		const session = graphSyncSession(client);
		const folder = await session.resolveFolder('Inbox');
		let position: string | undefined;
		for (;;) {
			const page = await session.syncPage(folder, position, PAGE);
			for (const change of page.changes) {
				if (change.type === 'removed') continue;
				count(t, change.item.itemId, (await session.fetch(change.item.itemId)).source);
			}
			if (!page.more) break;
			position = page.syncState;
		}
		return t;
	}
	let link: string | undefined;
	for (;;) {
		const page = await client.deltaPage('inbox', link, { select: DELTA_SELECT, maxPageSize: PAGE });
		for (const e of page.entries) {
			if (e.removed) continue;
			count(t, e.id, await client.getMime(e.id));
		}
		if (!page.nextLink) break;
		link = page.nextLink;
	}
	return t;
}

/** The trigger: GraphWatcher, first activation 'all', deliver resolving at once; then one more poll. */
async function triggerPass(spec: ChildSpec, connect: () => Promise<GraphClient>, timed: () => void): Promise<{ t: Tally; afterwards: number; stats: ChildResult['stats'] }> {
	const t = tally();
	const staticData: { watch?: object; runs?: object } = {};
	let allDone!: () => void;
	const finished = new Promise<void>((resolve) => (allDone = resolve));
	let fetches = 0;
	let onFetched: (() => void) | undefined;
	let idle: NodeJS.Timeout | undefined;
	// no timing limit on the run: a stall ends the pass (and is reported) after a minute without a delivery
	const watchdog = () => {
		if (idle) clearTimeout(idle);
		idle = setTimeout(allDone, 60_000);
	};
	const watcher = new GraphWatcher({
		connect,
		mailbox: MAILBOX,
		firstActivation: 'all',
		pollIntervalMs: 10 * 60_000,
		deliver: async (batch) => {
			for (const m of batch) count(t, m.itemId, m.source);
			watchdog();
			if (t.ids.size >= spec.count) setImmediate(allDone); // after the watcher's acknowledgement
		},
		onState: (state) => {
			staticData.watch = state;
		},
		onLedger: (state) => {
			staticData.runs = state;
		},
		onEvent: (event: GraphWatchEvent) => {
			if (event.type === 'fetched') {
				fetches++;
				onFetched?.();
			}
		},
	});
	try {
		watchdog();
		const started = await watcher.start();
		if (started.error) throw started.error;
		await finished;
		timed();
		// one more poll: from the delta link, nothing is new
		const before = t.messages;
		const polled = new Promise<void>((resolve) => (onFetched = resolve));
		watcher.fetchNow();
		await Promise.race([polled, new Promise((resolve) => setTimeout(resolve, 30_000))]);
		await new Promise((resolve) => setImmediate(resolve));
		const s = watcher.getStats();
		return { t, afterwards: t.messages - before, stats: { delivered: s.delivered, acknowledged: s.acknowledged, failed: s.failed, fetches } };
	} finally {
		if (idle) clearTimeout(idle);
		await watcher.stop();
	}
}

async function childMain(spec: ChildSpec): Promise<ChildResult> {
	const exchanges: GraphExchange[] = [];
	const clients: GraphClient[] = [];
	const connect = async () => {
		// the test certificate is trusted through NODE_EXTRA_CA_CERTS, as n8n would (the node gives the client no CA)
		const client = await connectGraph({ baseUrl: spec.baseUrl, mailbox: MAILBOX, auth: { type: 'app', app: spec.app }, onExchange: (e) => exchanges.push(e) });
		clients.push(client);
		return client;
	};
	const rss = sampleRss();
	const cpu0 = process.cpuUsage();
	const t0 = performance.now();
	let ms = 0;
	let cpuMs = 0;
	let timedExchanges = 0;
	const timed = () => {
		ms = performance.now() - t0;
		const cpu = process.cpuUsage(cpu0);
		cpuMs = (cpu.user + cpu.system) / 1000;
		timedExchanges = exchanges.length;
		rss.sample();
	};
	let t: Tally;
	let extra: Pick<ChildResult, 'afterwards' | 'stats'> = {};
	if (spec.mode === 'trigger') {
		const r = await triggerPass(spec, connect, timed);
		t = r.t;
		extra = { afterwards: r.afterwards, stats: r.stats };
	} else {
		const client = await connect();
		try {
			t = await plainPass(spec, client);
			timed();
		} finally {
			client.close();
		}
	}
	const peak = rss.stop();
	for (const c of clients) c.close();
	const steps: Record<string, Step> = {};
	for (const e of exchanges.slice(0, timedExchanges)) {
		const s = (steps[stepOf(e)] ??= { n: 0, ms: 0 });
		s.n++;
		s.ms += e.durationMs;
	}
	for (const s of Object.values(steps)) s.ms = round(s.ms);
	return {
		messages: t.messages,
		distinct: t.ids.size,
		once: [...t.ids.values()].filter((k) => k === 1).length,
		duplicates: t.duplicates,
		idsDigest: idsDigest(t.ids.keys()),
		bytes: t.bytes,
		ms,
		cpuMs: round(cpuMs),
		peakMiB: round((peak - rss.start) / 2 ** 20),
		peakAbsMiB: round(peak / 2 ** 20),
		startMiB: round(rss.start / 2 ** 20),
		steps,
		...extra,
	};
}

// --- the benchmark ---------------------------------------------------------------------------

interface Rig {
	spec: (mode: Mode, count: number) => ChildSpec;
	graph: GraphServer;
	stop: () => Promise<void>;
}

async function startRig(): Promise<Rig & { dir: string; certPath: string }> {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-graph-'));
	const { certPath, keyPath } = makeSelfSignedCertificate(dir);
	const cert = fs.readFileSync(certPath);
	const key = fs.readFileSync(keyPath);
	const oauth = await OAuthServer.start({ users: [APP_USER] });
	const authority = await new MicrosoftAuthority({ key, cert }, (user, lifetime) => oauth.issueToken(user, lifetime)).start();
	authority.register({ tenant: 'contoso', clientId: 'graph-bench', clientSecret: SECRET, user: APP_USER });
	const graph = await GraphServer.start({
		tls: { key, cert },
		tokenInfo: (token) => {
			const user = oauth.tokenUser(token);
			return user ? { user, audience: authority.tokenAudience(token) ?? 'https://graph.microsoft.com' } : undefined;
		},
		mailboxes: [MAILBOX],
		access: { [APP_USER]: [MAILBOX] },
	});
	return {
		dir,
		certPath,
		graph,
		spec: (mode, count) => ({ mode, count, baseUrl: graph.url, app: { tenantId: 'contoso', clientId: 'graph-bench', clientSecret: SECRET, authorityHost: authority.host } }),
		stop: async () => {
			await graph.stop();
			await authority.stop();
			await oauth.stop();
			fs.rmSync(dir, { recursive: true, force: true });
		},
	};
}

function runChild(rig: Rig & { certPath: string }, mode: Mode, count: number): Promise<ChildResult> {
	const profDir = process.env.BENCH_GRAPH_CPU_PROF;
	const nodeArgs = mode === 'trigger' && profDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profDir)}`] : [];
	return runBenchChild<ChildResult>(__filename, 'BENCH_GRAPH_TRIGGER_CHILD', rig.spec(mode, count), `graph-trigger ${mode} pass`, nodeArgs, { NODE_EXTRA_CA_CERTS: rig.certPath });
}

const NAMES: Record<Mode, string> = {
	raw: 'graph delta + $value (raw bound)',
	read: "graph delta + the trigger's session ($value; properties from the page)",
	trigger: 'graph trigger ingest (GraphWatcher, direct, not n8n)',
};

function describe(r: ChildResult): string {
	const total = Object.values(r.steps).reduce((sum, s) => sum + s.ms, 0);
	const steps = Object.entries(r.steps)
		.map(([k, s]) => `${k} ${s.n}x ${round(s.ms / s.n, 2)} ms = ${round(s.ms / 1000, 2)} s`)
		.join(', ');
	return `${steps}; outside requests ${round((r.ms - total) / 1000, 2)} s`;
}

export const graphTrigger: Benchmark<BenchContext> = {
	name: 'graph-trigger',
	async run(ctx): Promise<BenchEntry[]> {
		const began = Date.now();
		const n = Number(process.env.BENCH_GRAPH_MESSAGES ?? 2000);
		const passes = Math.max(1, Number(process.env.BENCH_GRAPH_PASSES ?? 2));
		const rig = await startRig();
		try {
			const t0 = Date.now();
			const ids: string[] = [];
			let totalBytes = 0;
			for (const m of generateMessages({ seed: ctx.seed, count: n })) {
				ids.push(rig.graph.addMessage(MAILBOX, 'inbox', m.raw, { received: m.date }).immutableId);
				totalBytes += m.raw.length;
			}
			const expectedDigest = idsDigest(ids);
			const mib = totalBytes / 2 ** 20;
			process.stdout.write(`bench: graph-trigger: ${n} messages (${round(mib)} MiB, seed ${ctx.seed}) in ${MAILBOX}'s inbox in ${round((Date.now() - t0) / 1000)} s\n`);

			const warm = await runChild(rig, 'raw', n);
			process.stdout.write(`bench: graph-trigger: warm-up raw pass (not counted): ${round(warm.messages / (warm.ms / 1000), 0)} msg/s\n`);
			const runs: Record<Mode, Array<ChildResult & { serverCpuMs: number }>> = { raw: [], read: [], trigger: [] };
			for (let p = 0; p < passes; p++) {
				for (const mode of ['raw', 'read', 'trigger'] as const) {
					rig.graph.requests.length = 0;
					const cpu0 = process.cpuUsage();
					const r = await runChild(rig, mode, n);
					const cpu = process.cpuUsage(cpu0);
					const serverCpuMs = round((cpu.user + cpu.system) / 1000);
					runs[mode].push({ ...r, serverCpuMs });
					const check = r.distinct === n && r.duplicates === 0 && r.idsDigest === expectedDigest && r.bytes === totalBytes ? 'each message once' : `${r.distinct} distinct of ${n}, ${r.duplicates} duplicates, ids ${r.idsDigest === expectedDigest ? 'match' : 'DIFFER'}, ${r.bytes} of ${totalBytes} bytes`;
					const after = r.afterwards === undefined ? '' : `; the poll after: ${r.afterwards} delivered; watcher: ${JSON.stringify(r.stats)}`;
					process.stdout.write(
						`bench: graph-trigger: ${mode} pass ${p + 1}: ${round(r.messages / (r.ms / 1000), 0)} msg/s (${round(r.ms / 1000, 2)} s), ${check}${after}; CPU: client ${round(r.cpuMs / 1000, 2)} s, endpoint ${round(serverCpuMs / 1000, 2)} s; peak RSS ${r.peakAbsMiB} MiB (+${r.peakMiB} over the start, ${r.startMiB} MiB); ${describe(r)}\n`,
					);
				}
			}
			const fastest = (mode: Mode) => runs[mode].reduce((a, b) => (b.ms < a.ms ? b : a));
			const perS = (r: ChildResult) => round(r.distinct / (r.ms / 1000), 0);
			const mibPerS = (r: ChildResult) => round(r.bytes / 2 ** 20 / (r.ms / 1000));
			const raw = fastest('raw');
			const read = fastest('read');
			const trig = fastest('trigger');
			const cores = os.cpus().length;
			const note = `${n} generated messages, ${round(mib)} MiB, local Graph endpoint over HTTPS (in the bench's process), app token from MSAL, one request at a time on every side; faster of ${passes} passes, each in a fresh process; ${cores} cores`;
			const ratio = round(perS(trig) / perS(raw), 2);
			// the machine's noise shows in the ratios of each round's passes (run one after the other)
			const rounds = runs.trigger.map((r, i) => round(perS(r) / perS(runs.raw[i]), 2)).join(', ');
			process.stdout.write(`bench: graph-trigger: raw ${perS(raw)} msg/s, trigger ${perS(trig)} msg/s, trigger/raw ${ratio}x (each round: ${rounds}); the trigger's requests without the watcher ${perS(read)} msg/s (trigger/that ${round(perS(trig) / perS(read), 2)}x)\n`);
			const worst = runs.trigger.reduce((a, b) => (b.once < a.once ? b : a));
			const highest = (mode: Mode) => Math.max(...runs[mode].map((r) => r.peakAbsMiB));
			const highestGrowth = (mode: Mode) => Math.max(...runs[mode].map((r) => r.peakMiB));
			const entries: BenchEntry[] = [
				entry({ name: `${NAMES.raw}, ${n} msgs`, value: perS(raw), unit: 'msg/s', higherIsBetter: true, notes: `delta pages of ${PAGE}, then /$value per message; ${note}` }),
				entry({ name: `${NAMES.trigger}, ${n} msgs`, value: perS(trig), unit: 'msg/s', higherIsBetter: true, bound: perS(raw), boundName: NAMES.raw, notes: `first activation 'all', default window and page, one message per run, deliver resolving at once; one request per message (/$value; the delta page brings the properties); ${note}` }),
				entry({ name: `graph trigger ingest throughput (direct)`, value: mibPerS(trig), unit: 'MiB/s', higherIsBetter: true, bound: mibPerS(raw), boundName: `${NAMES.raw} throughput`, notes: note }),
				entry({ name: `  ${NAMES.read}, ${n} msgs`, value: perS(read), unit: 'msg/s', higherIsBetter: true, bound: perS(raw), boundName: NAMES.raw, notes: `the trigger's session without the delivery core (graphSyncSession: its pages and reads); ${note}` }),
				entry({ name: `  graph trigger ingest against its own requests without the watcher`, value: perS(trig), unit: 'msg/s', higherIsBetter: true, bound: perS(read), boundName: NAMES.read, notes: `what lib/delivery adds; ${note}` }),
				entry({ name: `graph trigger peak RSS, ${n} msgs`, value: highest('trigger'), unit: 'MiB', higherIsBetter: false, bound: highest('raw'), boundName: `${NAMES.raw} peak RSS`, notes: `whole child process, highest of ${passes} passes (growth over the start: trigger ${highestGrowth('trigger')} MiB, raw ${highestGrowth('raw')} MiB)` }),
				entry({
					name: `graph trigger messages delivered exactly once, ${n} msgs`,
					value: worst.once,
					unit: 'msgs',
					higherIsBetter: true,
					bound: n,
					boundName: 'messages in the inbox',
					notes: `worst of ${passes} passes: ${worst.distinct} distinct, ${worst.duplicates} deliveries beyond a message's first, ${worst.afterwards ?? 0} by the poll after the last, ids ${worst.idsDigest === expectedDigest ? "as the endpoint's" : "NOT the endpoint's"}`,
				}),
			];
			process.stdout.write(`bench: graph-trigger: done in ${round((Date.now() - began) / 1000, 0)} s\n`);
			return entries;
		} finally {
			await rig.stop();
		}
	},
};

if (require.main === module && process.env.BENCH_GRAPH_TRIGGER_CHILD) {
	const spec = JSON.parse(process.env.BENCH_GRAPH_TRIGGER_CHILD) as ChildSpec;
	answerAsChild(() => childMain(spec));
}
