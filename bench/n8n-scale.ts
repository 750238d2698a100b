/**
 * Many mailboxes in one n8n: a real n8n 2.41 (regular mode, SQLite) watching N mailboxes, one
 * published workflow per mailbox (trigger -> NoOp), each with its own credential, against one
 * Dovecot with N users. Half of the mailboxes hold 5 read messages, the others are empty; the
 * triggers start with the unread mail, so activation runs nothing. Three configurations, each in a
 * freshly started n8n (and a fresh Dovecot), all in one run:
 *
 * - `IMAP trigger 1.2`: this package's trigger, push by IDLE, INBOX, mark read;
 * - `n8n Email Trigger (IMAP) 2.2`: n8n's own trigger (its credential type `imap`), INBOX, mark
 *   read, its default search (UNSEEN), the peer the figures are set against (ours / n8n's);
 * - `floor`: a trigger that only stays active (bench/harness.ts's floor package emitting
 *   nothing, no connection): n8n's own cost of N published trigger workflows.
 *
 * Figures of each:
 * - activation: from `n8n start` until each of the N triggers holds its IMAP session in IDLE
 *   (Dovecot's view: the title of each imap process shows its user and command); the floor: until
 *   each of its triggers has logged that it is active;
 * - connections: the n8n main's established TCP connections to Dovecot's IMAPS port (`ss`), per
 *   watched folder, and Dovecot's sessions per user, once all are in IDLE and again after the mail;
 * - memory: the n8n main's RSS at steady state (all in IDLE, before the mail), its peak until
 *   then (VmHWM: start-up and activation) and its peak at the end (the mail included), and samples
 *   of RSS (anonymous and file-backed) and of V8's heap (n8n's /metrics, N8N_METRICS on) during
 *   activation; n8n's task runner is a process of its own and not counted;
 * - new mail (not the floor): messages APPENDed to every mailbox in turn at a steady rate (a fresh
 *   IMAP session each, on the plaintext port), and per message the time from the APPEND's
 *   completion to the start of the n8n execution that carries it (the execution's startedAt),
 *   p50/p99/max; every message must be in exactly one execution, and that one successful.
 *
 * Targets (the issue's), for this package's trigger: RSS under 1.5 GiB, p99 under 2 s, one
 * connection per watched folder. A missed target is printed, not fatal.
 *
 *   BENCH_SCALE_MAILBOXES  mailboxes, workflows and credentials (default 500)
 *   BENCH_SCALE_MESSAGES   new messages per mailbox (default 2)
 *   BENCH_SCALE_RATE       new messages per second, over all mailboxes (default 5)
 *   BENCH_SCALE_ACTIVATION_BATCH  workflows n8n activates at once at start-up
 *                          (N8N_WORKFLOW_ACTIVATION_BATCH_SIZE; default 1, n8n's own default)
 *   BENCH_SCALE_ONLY       run only the configurations whose name matches this regular expression
 *                          (the ratios need this package's trigger and n8n's in the same run)
 *   BENCH_SCALE_NODE_OPTIONS  NODE_OPTIONS for n8n and its CLI (e.g. --heapsnapshot-signal=SIGUSR2)
 *   BENCH_SCALE_KEEP_LOGS  a folder: n8n's log of each configuration is copied there
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { startDovecot, type Dovecot } from '../test/servers/dovecot';
import { checkN8n, isFinished, N8n, packPackage, startedAtMs, waitFor, type WorkflowRuns } from '../test/e2e/n8n';
import { message, TRIGGER, workflow } from '../test/e2e/three-triggers';
import { entry, percentile, round, rssMiB, sleep, type BenchContext, type Benchmark, type BenchEntry } from './frame';
import { floorTarball } from './harness';

const RSS_BOUND_MIB = 1536;
const P99_BOUND_MS = 2000;
const SEEDED = 5;

interface Mailbox {
	user: string;
	password: string;
	workflowId: string;
}

interface Config {
	name: string;
	/** The credential of a mailbox's workflow (none for the floor). */
	credential?: (m: Mailbox, imapsPort: number) => { type: string; data: Record<string, unknown> };
	trigger: (m: Mailbox) => object;
	/** Watches the mailbox over IMAP: activation ends when all are in IDLE, and new mail is measured. */
	imap: boolean;
}

const credentialRef = (m: Mailbox, type: string) => ({ [type]: { id: `${m.workflowId}Cred`, name: `${m.user} (${type})` } });

const CONFIGS: Config[] = [
	{
		name: 'IMAP trigger 1.2',
		imap: true,
		credential: (m, port) => ({ type: 'mailboxImapApi', data: { host: '127.0.0.1', port, security: 'tls', user: m.user, password: m.password } }),
		trigger: (m) => ({
			type: 'n8n-nodes-mailbox.mailboxImapTrigger',
			typeVersion: 1.2,
			parameters: { authentication: 'password', watch: 'selected', folders: ['INBOX'], firstActivation: 'unseen', afterProcessing: 'markRead', mode: 'idle', pollMinutes: 15, options: {} },
			credentials: credentialRef(m, 'mailboxImapApi'),
		}),
	},
	{
		name: 'n8n Email Trigger (IMAP) 2.2',
		imap: true,
		credential: (m, port) => ({ type: 'imap', data: { host: '127.0.0.1', port, user: m.user, password: m.password, secure: true, allowUnauthorizedCerts: false } }),
		// its default search (UNSEEN), as bench/n8n-triggers.ts measures its latency
		trigger: (m) => ({ type: 'n8n-nodes-base.emailReadImap', typeVersion: 2.2, parameters: { mailbox: 'INBOX', postProcessAction: 'read', options: {} }, credentials: credentialRef(m, 'imap') }),
	},
	{
		name: 'floor (a trigger that only stays active)',
		imap: false,
		trigger: () => ({ type: 'n8n-nodes-bench-floor.benchFloorTrigger', typeVersion: 1, parameters: { runs: 0, atOnce: 1 } }),
	},
];

interface Connections {
	/** The n8n main's established connections to Dovecot's IMAPS port. */
	n8n: number;
	/** Dovecot's IMAP sessions per user: the fewest and the most over the N users, and how many are in IDLE. */
	fewest: number;
	most: number;
	idle: number;
}

interface MailFigures {
	messages: number;
	appendSeconds: number;
	latencyMs: { p50: number; p99: number; max: number };
	/** Messages in exactly one execution, that one successful; in none; in more than one. */
	once: number;
	missing: number;
	repeated: number;
	failedExecutions: number;
	executions: number;
	afterMail: Connections;
	rssAfterMailMiB: number;
}

/** The n8n main's memory at one moment of the activation. */
interface MemorySample {
	seconds: number;
	/** Triggers in IDLE so far (the floor: active, by its log line). */
	ready: number;
	rssMiB: number;
	anonMiB: number;
	fileMiB: number;
	/** V8's heap (used and reserved) and memory outside it (buffers), from n8n's /metrics. */
	heapUsedMiB?: number;
	heapTotalMiB?: number;
	externalMiB?: number;
}

interface Figures {
	config: string;
	mailboxes: number;
	cpus: number;
	/** n8n start until /healthz/readiness, and until every trigger was in IDLE (the floor: active). */
	readySeconds: number;
	activationSeconds: number;
	/** The most connections of the n8n main to Dovecot seen during activation. */
	activationPeakConnections: number;
	steady?: Connections;
	rssSteadyMiB: number;
	/** VmHWM once all are active and steady (start-up and activation), and at the end (the mail included). */
	rssActivationPeakMiB: number;
	rssPeakMiB: number;
	/** Samples during the activation, about every 5 s, and one at steady state. */
	memory: MemorySample[];
	steadyMemory: MemorySample;
	mail?: MailFigures;
	/** Lines of n8n's log with warnings that matter at scale (listener leaks, errors of the package). */
	logWarnings: string[];
	/** Dovecot's warnings and errors, by message (user and session removed), with their counts. */
	dovecotWarnings: Record<string, number>;
	/** N8N_WORKFLOW_ACTIVATION_BATCH_SIZE: workflows n8n activates at once at start-up (n8n's default: 1). */
	activationBatch: number;
}

interface Settings {
	count: number;
	perMailbox: number;
	rate: number;
	activationBatch: number;
	nodeOptions?: string;
	keepLogs?: string;
}

const pad = (n: number) => String(n).padStart(4, '0');

const INOTIFY_INSTANCES = '/proc/sys/fs/inotify/max_user_instances';

/**
 * Dovecot learns of new mail for a session in IDLE through an inotify instance of its own, and all
 * of its mail processes run as one user (vmail); past the kernel's limit per user (often 128) it
 * logs "Inotify instance limit ... exceeded" and looks only every mailbox_idle_check_interval
 * (30 s). A server for this many IDLE sessions needs that limit raised, so the bench raises it by
 * the sessions it opens (this machine's setting, root only) and returns how to put it back.
 */
function raiseInotifyInstances(sessions: number): () => void {
	const before = Number(fs.readFileSync(INOTIFY_INSTANCES, 'utf8').trim());
	const raised = before + sessions;
	try {
		fs.writeFileSync(INOTIFY_INSTANCES, String(raised));
	} catch (error) {
		process.stdout.write(`bench: n8n-scale: could not raise ${INOTIFY_INSTANCES} from ${before} (${(error as Error).message}): Dovecot may notice new mail only every 30 s for sessions past the limit\n`);
		return () => undefined;
	}
	process.stdout.write(`bench: n8n-scale: ${INOTIFY_INSTANCES} ${before} -> ${raised} for the run (Dovecot's IDLE needs one inotify instance per session)\n`);
	return () => {
		// put back unless someone else changed it meanwhile
		if (Number(fs.readFileSync(INOTIFY_INSTANCES, 'utf8').trim()) === raised) fs.writeFileSync(INOTIFY_INSTANCES, String(before));
	};
}

/** The n8n main's established TCP connections to `port` on 127.0.0.1. */
function connectionsOf(pid: number, port: number): number {
	const out = execFileSync('ss', ['-tnpH', 'state', 'established', 'dst', `127.0.0.1:${port}`], { encoding: 'utf8' });
	return out.split('\n').filter((line) => line.includes(`pid=${pid},`)).length;
}

function connections(dovecot: Dovecot, mailboxes: Mailbox[], pid: number): Connections {
	const perUser = new Map(mailboxes.map((m) => [m.user, 0]));
	let idle = 0;
	for (const s of dovecot.imapSessions()) {
		if (!perUser.has(s.user)) continue;
		perUser.set(s.user, perUser.get(s.user)! + 1);
		if (s.command === 'IDLE') idle++;
	}
	const counts = [...perUser.values()];
	return { n8n: connectionsOf(pid, dovecot.ports.imaps), fewest: Math.min(...counts), most: Math.max(...counts), idle };
}

/** Users whose trigger is in IDLE now (one IDLE session each). */
function usersInIdle(dovecot: Dovecot, users: Set<string>): number {
	return new Set(dovecot.imapSessions().filter((s) => s.command === 'IDLE' && users.has(s.user)).map((s) => s.user)).size;
}

async function append(dovecot: Dovecot, mailbox: Mailbox, raw: Buffer): Promise<number> {
	const client = new ImapFlow({ host: '127.0.0.1', port: dovecot.ports.imap, secure: false, doSTARTTLS: false, auth: { user: mailbox.user, pass: mailbox.password }, logger: false });
	client.on('error', () => undefined);
	await client.connect();
	try {
		await client.append('INBOX', raw);
		return Date.now();
	} finally {
		await client.logout().catch(() => client.close());
	}
}

/** The n8n main's resident set now, MiB: all, anonymous (the heaps) and file-backed (code) (Linux /proc). */
function memoryOf(pid: number): { rssMiB: number; anonMiB: number; fileMiB: number } {
	const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
	const mib = (field: string) => round(Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024);
	return { rssMiB: mib('VmRSS'), anonMiB: mib('RssAnon'), fileMiB: mib('RssFile') + mib('RssShmem') };
}

/** V8's heap and external memory of the n8n main, MiB, from its Prometheus metrics (N8N_METRICS); none while it does not answer. */
async function heapOf(n8n: N8n): Promise<Pick<MemorySample, 'heapUsedMiB' | 'heapTotalMiB' | 'externalMiB'>> {
	const text = await fetch(`${n8n.url}/metrics`, { signal: AbortSignal.timeout(2000) }).then(
		(r) => (r.ok ? r.text() : ''),
		() => '',
	);
	const mib = (metric: string) => {
		const bytes = new RegExp(`^\\w*${metric} (\\S+)`, 'm').exec(text)?.[1];
		return bytes === undefined ? undefined : round(Number(bytes) / 2 ** 20);
	};
	return { heapUsedMiB: mib('nodejs_heap_size_used_bytes'), heapTotalMiB: mib('nodejs_heap_size_total_bytes'), externalMiB: mib('nodejs_external_memory_bytes') };
}

/** Counts the lines of a growing log file that match `pattern`, reading only what was added since the last call. */
function lineCounter(file: string, pattern: RegExp): () => number {
	let offset = 0;
	let count = 0;
	let partial = '';
	return () => {
		if (!fs.existsSync(file)) return count;
		const size = fs.statSync(file).size;
		if (size <= offset) return count;
		const fd = fs.openSync(file, 'r');
		try {
			const chunk = Buffer.alloc(size - offset);
			fs.readSync(fd, chunk, 0, chunk.length, offset);
			offset = size;
			const lines = (partial + chunk.toString('utf8')).split('\n');
			partial = lines.pop() ?? '';
			count += lines.filter((line) => pattern.test(line)).length;
		} finally {
			fs.closeSync(fd);
		}
		return count;
	};
}

/** Per subject: the executions that carry it (successful ones, all) and their starts; executions not successful; unfinished. */
function carriedBy(runs: Record<string, WorkflowRuns>) {
	const bySubject = new Map<string, { ok: number; all: number; startedAt: number[] }>();
	let failed = 0;
	let executions = 0;
	for (const r of Object.values(runs)) {
		for (const e of r.executions) {
			executions++;
			if (e.status !== 'success') failed++;
			for (const item of e.output[TRIGGER] ?? []) {
				const subject = String(item.subject);
				const seen = bySubject.get(subject) ?? { ok: 0, all: 0, startedAt: [] };
				seen.all++;
				if (e.status === 'success') seen.ok++;
				seen.startedAt.push(startedAtMs(e));
				bySubject.set(subject, seen);
			}
		}
	}
	return { bySubject, failed, executions, unfinished: Object.values(runs).flatMap((r) => r.executions).filter((e) => !isFinished(e)).length };
}

/** New mail: round after round over all mailboxes, at `rate` per second; then who ran what, and when. */
async function newMail(dovecot: Dovecot, n8n: N8n, mailboxes: Mailbox[], settings: Settings, pid: number): Promise<MailFigures> {
	const total = mailboxes.length * settings.perMailbox;
	const appendedAt = new Map<string, number>();
	let rssAfterMailMiB = 0;
	const sampler = setInterval(() => (rssAfterMailMiB = Math.max(rssAfterMailMiB, rssMiB(pid))), 1000);
	const mailStart = Date.now();
	const appends: Promise<void>[] = [];
	try {
		for (let k = 0; k < total; k++) {
			const wait = mailStart + (k * 1000) / settings.rate - Date.now();
			if (wait > 0) await sleep(wait);
			const m = mailboxes[k % mailboxes.length];
			const subject = `imap ${1_000_000 + k}`;
			appends.push(append(dovecot, m, message('imap', 1_000_000 + k, 'scale')).then((at) => void appendedAt.set(subject, at)));
		}
		await Promise.all(appends);
	} finally {
		clearInterval(sampler);
	}
	const appendSeconds = round((Date.now() - mailStart) / 1000);
	const ids = mailboxes.map((m) => m.workflowId);
	let runs: Record<string, WorkflowRuns> = {};
	let last = '';
	await waitFor(
		`the executions of all ${total} new messages`,
		async () => {
			runs = await n8n.executionsOfWorkflows(ids);
			const { bySubject, unfinished } = carriedBy(runs);
			const done = [...appendedAt.keys()].filter((s) => bySubject.get(s)?.ok).length;
			last = `${done} of ${total} carried by a successful execution, ${unfinished} unfinished`;
			return done === total && unfinished === 0 ? true : undefined;
		},
		10 * 60_000,
		() => last,
	);
	// anything run twice would show within a few seconds
	await sleep(5000);
	runs = await n8n.executionsOfWorkflows(ids);
	const afterMail = connections(dovecot, mailboxes, pid);
	const { bySubject, failed, executions } = carriedBy(runs);
	const latencies: number[] = [];
	let once = 0;
	let missing = 0;
	let repeated = 0;
	for (const [subject, at] of appendedAt) {
		const seen = bySubject.get(subject);
		if (!seen) missing++;
		else if (seen.all > 1) repeated++;
		else if (seen.ok === 1) once++;
		if (seen) latencies.push(Math.min(...seen.startedAt) - at);
	}
	return {
		messages: total,
		appendSeconds,
		latencyMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), max: round(Math.max(...latencies)) },
		once,
		missing,
		repeated,
		failedExecutions: failed,
		executions,
		afterMail,
		rssAfterMailMiB,
	};
}

async function measure(ctx: BenchContext, config: Config, settings: Settings, dir: string, tarballs: { mailbox: string; floor: string }): Promise<Figures> {
	const { count, activationBatch } = settings;
	const mailboxes: Mailbox[] = Array.from({ length: count }, (_, i) => ({ user: `user${pad(i + 1)}`, password: `scale-${pad(i + 1)}-pw`, workflowId: `mbxScale${pad(i + 1)}` }));
	const users = new Set(mailboxes.map((m) => m.user));
	let dovecot: Dovecot | undefined;
	let n8n: N8n | undefined;
	try {
		dovecot = await startDovecot({ users: Object.fromEntries(mailboxes.map((m) => [m.user, m.password])), certificate: { certPath: ctx.servers.certPath, keyPath: ctx.servers.dovecot.keyPath }, imapSessions: count + 50, verboseProctitle: true });
		for (const [i, m] of mailboxes.entries()) {
			if (i % 2 === 0) await dovecot.writeMaildir(m.user, 'INBOX', Array.from({ length: SEEDED }, (_, k) => ({ raw: message('imap', i * 100 + k, 'seed'), flags: ['\\Seen'] })));
		}
		const t0 = Date.now();
		const nodeOptions: Record<string, string> = settings.nodeOptions ? { NODE_OPTIONS: settings.nodeOptions } : {};
		n8n = await N8n.create({ install: checkN8n(), packageTarball: tarballs.mailbox, env: { NODE_EXTRA_CA_CERTS: ctx.servers.certPath, N8N_WORKFLOW_ACTIVATION_BATCH_SIZE: String(activationBatch), N8N_METRICS: 'true', ...nodeOptions } });
		if (!config.imap) await n8n.installTarball(tarballs.floor);
		const credential = config.credential;
		if (credential) await n8n.importCredentials(mailboxes.map((m) => ({ id: `${m.workflowId}Cred`, ...credential(m, dovecot!.ports.imaps), name: `${m.user} (${credential(m, 0).type})` })));
		await n8n.importWorkflows(mailboxes.map((m) => workflow(m.workflowId, config.trigger(m))));
		await n8n.publishAll(mailboxes.map((m) => m.workflowId));
		process.stdout.write(`bench: n8n-scale: ${config.name}: ${count} workflows imported and published in ${round((Date.now() - t0) / 1000)} s\n`);

		// activation: from `n8n start` until every trigger is in IDLE (the floor: activated)
		const started = Date.now();
		const floorActive = lineCounter(n8n.logFile, /bench floor trigger active/);
		let allIdleAt: number | undefined;
		let activationPeakConnections = 0;
		let inIdle = 0;
		let watching = true;
		const memory: MemorySample[] = [];
		const watcher = (async () => {
			while (watching && allIdleAt === undefined) {
				inIdle = config.imap ? usersInIdle(dovecot!, users) : floorActive();
				const pid = n8n!.pid;
				if (pid) {
					if (!memory.length || Date.now() - started >= memory[memory.length - 1].seconds * 1000 + 5000) memory.push({ seconds: round((Date.now() - started) / 1000), ready: inIdle, ...memoryOf(pid), ...(await heapOf(n8n!)) });
					if (config.imap) activationPeakConnections = Math.max(activationPeakConnections, connectionsOf(pid, dovecot!.ports.imaps));
				}
				if (inIdle >= count) allIdleAt = Date.now();
				else await sleep(500);
			}
		})();
		try {
			await n8n.start();
			const readySeconds = round((Date.now() - started) / 1000, 2);
			const state = config.imap ? 'in IDLE' : 'active';
			await waitFor(`all ${count} triggers ${state}`, async () => (allIdleAt !== undefined ? true : undefined), 20 * 60_000, () => `${inIdle} of ${count} ${state}`);
			const activationSeconds = round((allIdleAt! - started) / 1000, 2);
			process.stdout.write(`bench: n8n-scale: ${config.name}: ready after ${readySeconds} s, all ${count} triggers ${state} after ${activationSeconds} s\n`);
			const pid = n8n.pid!;

			// steady state: all active, nothing arriving
			await sleep(15_000);
			const steady = config.imap ? connections(dovecot, mailboxes, pid) : undefined;
			const rssSteadyMiB = rssMiB(pid);
			const rssActivationPeakMiB = rssMiB(pid, 'peak');
			const steadyMemory = { seconds: round((Date.now() - started) / 1000), ready: inIdle, ...memoryOf(pid), ...(await heapOf(n8n)) };
			process.stdout.write(`bench: n8n-scale: ${config.name}: steady ${JSON.stringify({ ...steady, rssSteadyMiB, rssActivationPeakMiB, steadyMemory })}\n`);
			const mail = config.imap ? await newMail(dovecot, n8n, mailboxes, settings, pid) : undefined;
			const dovecotWarnings: Record<string, number> = {};
			for (const line of fs.readFileSync(dovecot.logPath, 'utf8').split('\n')) {
				const warning = /\b(Warning|Error|Fatal|Panic): (.*)$/.exec(line);
				if (warning) dovecotWarnings[`${warning[1]}: ${warning[2]}`] = (dovecotWarnings[`${warning[1]}: ${warning[2]}`] ?? 0) + 1;
			}
			const log = n8n.logs();
			const logWarnings = log.split('\n').filter((line) => /MaxListenersExceeded|memory leak|heap out of memory|ECONNRESET|too many|EMFILE/i.test(line) || (/n8n-nodes-mailbox|mailbox|imap/i.test(line) && /error|warn/i.test(line)));
			return {
				config: config.name,
				mailboxes: count,
				cpus: os.cpus().length,
				readySeconds,
				activationSeconds,
				activationPeakConnections,
				steady,
				rssSteadyMiB,
				rssActivationPeakMiB,
				rssPeakMiB: rssMiB(pid, 'peak'),
				memory,
				steadyMemory,
				mail,
				logWarnings: logWarnings.slice(0, 20),
				dovecotWarnings,
				activationBatch,
			};
		} finally {
			watching = false;
			await watcher;
		}
	} finally {
		if (n8n && settings.keepLogs) {
			fs.mkdirSync(settings.keepLogs, { recursive: true });
			if (fs.existsSync(n8n.logFile)) fs.copyFileSync(n8n.logFile, path.join(settings.keepLogs, `n8n-scale-${config.name.replace(/\W+/g, '-')}-${count}.log`));
		}
		await n8n?.destroy();
		await dovecot?.stop();
	}
}

const OURS = CONFIGS[0].name;
const PEER = CONFIGS[1].name;
const FLOOR = CONFIGS[2].name;

function entriesOf(all: Figures[]): BenchEntry[] {
	const out: BenchEntry[] = [];
	const peer = all.find((f) => f.config === PEER);
	// this package's trigger against n8n's (ours / n8n's); n8n's and the floor with no bound but the targets
	const against = (f: Figures, value: number | undefined) => (f.config === OURS && peer && value !== undefined ? { bound: value, boundName: PEER } : {});
	for (const f of all) {
		const at = `${f.mailboxes} mailboxes in one n8n, ${f.config}`;
		out.push(
			entry({ name: `${at}: activation (start until all ${f.steady ? 'in IDLE' : 'active'})`, value: f.activationSeconds, unit: 's', higherIsBetter: false, ...against(f, peer?.activationSeconds), notes: `ready (/healthz/readiness) after ${f.readySeconds} s; n8n activating ${f.activationBatch} at a time; at most ${f.activationPeakConnections} connections to Dovecot meanwhile; ${f.cpus} CPUs` }),
		);
		if (f.steady) {
			const s = f.steady;
			const a = f.mail?.afterMail;
			out.push(entry({ name: `${at}: IMAP connections per watched folder`, value: round(s.n8n / f.mailboxes, 3), unit: 'conn', higherIsBetter: false, ...against(f, peer?.steady && round(peer.steady.n8n / peer.mailboxes, 3)), notes: `n8n main: ${s.n8n} established to Dovecot; Dovecot: ${s.fewest}-${s.most} sessions per user, ${s.idle} in IDLE${a ? `; after the mail: n8n ${a.n8n}, ${a.fewest}-${a.most} per user, ${a.idle} in IDLE` : ''}` }));
		}
		out.push(
			entry({ name: `${at}: n8n main RSS, steady (all active)`, value: f.rssSteadyMiB, unit: 'MiB', higherIsBetter: false, ...against(f, peer?.rssSteadyMiB), notes: f.mail ? `during the mail: up to ${f.mail.rssAfterMailMiB} MiB` : undefined }),
			entry({ name: `${at}: n8n main RSS, peak (VmHWM)`, value: f.rssPeakMiB, unit: 'MiB', higherIsBetter: false, ...against(f, peer?.rssPeakMiB), notes: `until all were active and steady: ${f.rssActivationPeakMiB} MiB` }),
		);
		const mail = f.mail;
		if (!mail) continue;
		out.push(
			entry({ name: `${at}: new mail p50 (APPEND -> execution startedAt)`, value: mail.latencyMs.p50, unit: 'ms', higherIsBetter: false, ...against(f, peer?.mail?.latencyMs.p50), notes: `${mail.messages} messages, ${round(mail.messages / f.mailboxes, 1)} per mailbox, in ${mail.appendSeconds} s` }),
			entry({ name: `${at}: new mail p99`, value: mail.latencyMs.p99, unit: 'ms', higherIsBetter: false, ...against(f, peer?.mail?.latencyMs.p99) }),
			entry({ name: `${at}: new mail max`, value: mail.latencyMs.max, unit: 'ms', higherIsBetter: false, ...against(f, peer?.mail?.latencyMs.max) }),
			entry({ name: `${at}: messages in exactly one successful execution`, value: mail.once, unit: 'msgs', higherIsBetter: true, bound: mail.messages, boundName: 'messages appended', target: 1, notes: `${mail.missing} in none, ${mail.repeated} in more than one, ${mail.failedExecutions} of ${mail.executions} executions not successful` }),
		);
	}
	// the issue's targets for this package's trigger, against their bounds
	const ours = all.find((f) => f.config === OURS);
	if (ours?.steady && ours.mail) {
		const at = `${ours.mailboxes} mailboxes in one n8n, ${OURS}`;
		out.push(
			entry({ name: `${at}: connections per folder vs one`, value: round(ours.steady.n8n / ours.mailboxes, 3), unit: 'conn', higherIsBetter: false, bound: 1, boundName: 'one per folder', target: 1 }),
			entry({ name: `${at}: RSS steady vs 1.5 GiB`, value: ours.rssSteadyMiB, unit: 'MiB', higherIsBetter: false, bound: RSS_BOUND_MIB, boundName: '1.5 GiB', target: 1 }),
			entry({ name: `${at}: RSS peak vs 1.5 GiB`, value: ours.rssPeakMiB, unit: 'MiB', higherIsBetter: false, bound: RSS_BOUND_MIB, boundName: '1.5 GiB', target: 1 }),
			entry({ name: `${at}: new mail p99 vs 2 s`, value: ours.mail.latencyMs.p99, unit: 'ms', higherIsBetter: false, bound: P99_BOUND_MS, boundName: '2 s', target: 1 }),
		);
	}
	return out;
}

/** One line per target of this package's trigger: the figure against its bound, and whether it is met. */
function verdicts(f: Figures): string {
	const steady = f.steady!;
	const mail = f.mail!;
	const lines: Array<[boolean, string]> = [
		[steady.n8n === f.mailboxes && steady.fewest === 1 && steady.most === 1, `connections: ${round(steady.n8n / f.mailboxes, 3)} per watched folder (n8n ${steady.n8n} for ${f.mailboxes} folders, Dovecot ${steady.fewest}-${steady.most} per user), bound exactly 1`],
		[f.rssSteadyMiB <= RSS_BOUND_MIB, `RSS steady ${f.rssSteadyMiB} MiB, ${round(f.rssSteadyMiB / RSS_BOUND_MIB, 2)} of the 1.5 GiB bound`],
		[f.rssPeakMiB <= RSS_BOUND_MIB, `RSS peak ${f.rssPeakMiB} MiB, ${round(f.rssPeakMiB / RSS_BOUND_MIB, 2)} of the 1.5 GiB bound`],
		[mail.latencyMs.p99 <= P99_BOUND_MS, `new mail p99 ${mail.latencyMs.p99} ms, ${round(mail.latencyMs.p99 / P99_BOUND_MS, 2)} of the 2 s bound`],
		[mail.once === mail.messages, `${mail.once} of ${mail.messages} messages in exactly one successful execution (${mail.missing} in none, ${mail.repeated} in more than one)`],
	];
	return lines.map(([met, text]) => `bench: n8n-scale: ${met ? 'PASS' : 'FAIL'} ${text}\n`).join('');
}

/** This package's trigger against n8n's and the floor: one line each, ours / n8n's. */
function comparison(all: Figures[]): string {
	const ours = all.find((f) => f.config === OURS);
	const peer = all.find((f) => f.config === PEER);
	const floor = all.find((f) => f.config === FLOOR);
	const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? `${round(a / b, 2)}x` : '-');
	const row = (what: string, get: (f: Figures) => number | undefined) => `bench: n8n-scale: ${what}: ours ${ours ? get(ours) : '-'}, n8n's ${peer ? get(peer) : '-'}, floor ${floor ? (get(floor) ?? '-') : '-'}; ours / n8n's ${ratio(ours && get(ours), peer && get(peer))}\n`;
	return [
		row('activation s', (f) => f.activationSeconds),
		row('RSS steady MiB', (f) => f.rssSteadyMiB),
		row('RSS peak until steady MiB', (f) => f.rssActivationPeakMiB),
		row('RSS peak MiB', (f) => f.rssPeakMiB),
		row('new mail p50 ms', (f) => f.mail?.latencyMs.p50),
		row('new mail p99 ms', (f) => f.mail?.latencyMs.p99),
		row('new mail max ms', (f) => f.mail?.latencyMs.max),
	].join('');
}

export const n8nScale: Benchmark<BenchContext> = {
	name: 'n8n-scale',
	async run(ctx) {
		const settings: Settings = {
			count: Number(process.env.BENCH_SCALE_MAILBOXES ?? 500),
			perMailbox: Number(process.env.BENCH_SCALE_MESSAGES ?? 2),
			rate: Number(process.env.BENCH_SCALE_RATE ?? 5),
			activationBatch: Number(process.env.BENCH_SCALE_ACTIVATION_BATCH ?? 1),
			nodeOptions: process.env.BENCH_SCALE_NODE_OPTIONS,
			keepLogs: process.env.BENCH_SCALE_KEEP_LOGS && path.resolve(process.env.BENCH_SCALE_KEEP_LOGS),
		};
		const only = process.env.BENCH_SCALE_ONLY;
		const configs = CONFIGS.filter((c) => !only || new RegExp(only).test(c.name));
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailbox-bench-scale-'));
		const restoreInotify = raiseInotifyInstances(settings.count);
		const all: Figures[] = [];
		try {
			const tarballs = { mailbox: packPackage(path.resolve(__dirname, '..'), dir), floor: floorTarball(dir) };
			for (const config of configs) {
				const t0 = Date.now();
				const figures = await measure(ctx, config, settings, dir, tarballs);
				all.push(figures);
				process.stdout.write(`bench: n8n-scale ${JSON.stringify(figures)} (${round((Date.now() - t0) / 60_000)} min)\n`);
				for (const line of figures.logWarnings) process.stdout.write(`bench: n8n-scale: ${config.name}: n8n log: ${line}\n`);
				if (config.name === OURS) process.stdout.write(verdicts(figures));
			}
			process.stdout.write(comparison(all));
			return entriesOf(all);
		} finally {
			restoreInotify();
			fs.rmSync(dir, { recursive: true, force: true });
		}
	},
};
