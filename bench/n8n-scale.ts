/**
 * Many mailboxes in one n8n: a real n8n 2.41 (regular mode, SQLite) watching N mailboxes, one
 * published workflow per mailbox (this package's IMAP trigger 1.2, push by IDLE, INBOX, mark read
 * -> NoOp), each with its own credential, against one Dovecot with N users. Half of the mailboxes
 * hold 5 read messages, the others are empty; the trigger starts with "all unread mail", so
 * activation runs nothing.
 *
 * - activation: from `n8n start` until each of the N triggers holds its IMAP session in IDLE
 *   (Dovecot's view: the title of each imap process shows its user and command);
 * - connections: the n8n main's established TCP connections to Dovecot's IMAPS port (`ss`), per
 *   watched folder, and Dovecot's sessions per user, once all are in IDLE and again after the mail;
 * - memory: the n8n main's RSS at steady state (all in IDLE, before the mail) and its peak (VmHWM,
 *   start-up and the mail included); n8n's task runner is a process of its own and not counted;
 * - new mail: messages APPENDed to every mailbox in turn at a steady rate (a fresh IMAP session
 *   each, on the plaintext port), and per message the time from the APPEND's completion to the
 *   start of the n8n execution that carries it (the execution's startedAt), p50/p99/max; every
 *   message must be in exactly one execution, and that one successful.
 *
 * Targets (the issue's): RSS under 1.5 GiB, p99 under 2 s, one connection per watched folder.
 * A missed target is printed, not fatal.
 *
 *   BENCH_SCALE_MAILBOXES  mailboxes, workflows and credentials (default 500)
 *   BENCH_SCALE_MESSAGES   new messages per mailbox (default 2)
 *   BENCH_SCALE_RATE       new messages per second, over all mailboxes (default 5)
 *   BENCH_SCALE_ACTIVATION_BATCH  workflows n8n activates at once at start-up
 *                          (N8N_WORKFLOW_ACTIVATION_BATCH_SIZE; default 1, n8n's own default)
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { startDovecot, type Dovecot } from '../test/servers/dovecot';
import { checkN8n, isFinished, N8n, packPackage, startedAtMs, waitFor, type WorkflowRuns } from '../test/e2e/n8n';
import { message, TRIGGER, workflow } from '../test/e2e/three-triggers';
import { entry, percentile, round, rssMiB, sleep, type Benchmark, type BenchEntry } from './frame';
import type { BenchContext } from './run';

const RSS_BOUND_MIB = 1536;
const P99_BOUND_MS = 2000;
const SEEDED = 5;

interface Mailbox {
	user: string;
	password: string;
	workflowId: string;
}

interface Connections {
	/** The n8n main's established connections to Dovecot's IMAPS port. */
	n8n: number;
	/** Dovecot's IMAP sessions per user: the fewest and the most over the N users, and how many are in IDLE. */
	fewest: number;
	most: number;
	idle: number;
}

interface Figures {
	mailboxes: number;
	cpus: number;
	/** n8n start until /healthz/readiness, and until every trigger was in IDLE. */
	readySeconds: number;
	activationSeconds: number;
	/** The most connections of the n8n main to Dovecot seen during activation. */
	activationPeakConnections: number;
	steady: Connections;
	afterMail: Connections;
	rssSteadyMiB: number;
	rssAfterMailMiB: number;
	rssPeakMiB: number;
	messages: number;
	appendSeconds: number;
	latencyMs: { p50: number; p99: number; max: number };
	/** Messages in exactly one execution, that one successful; in none; in more than one. */
	once: number;
	missing: number;
	repeated: number;
	failedExecutions: number;
	executions: number;
	/** Lines of n8n's log with warnings that matter at scale (listener leaks, errors of the package). */
	logWarnings: string[];
	/** Dovecot's warnings and errors, by message (user and session removed), with their counts. */
	dovecotWarnings: Record<string, number>;
	/** N8N_WORKFLOW_ACTIVATION_BATCH_SIZE: workflows n8n activates at once at start-up (n8n's default: 1). */
	activationBatch: number;
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

async function measure(ctx: BenchContext, count: number, perMailbox: number, rate: number, activationBatch: number, dir: string): Promise<Figures> {
	const mailboxes: Mailbox[] = Array.from({ length: count }, (_, i) => ({ user: `user${pad(i + 1)}`, password: `scale-${pad(i + 1)}-pw`, workflowId: `mbxScale${pad(i + 1)}` }));
	const users = new Set(mailboxes.map((m) => m.user));
	let dovecot: Dovecot | undefined;
	let n8n: N8n | undefined;
	const restoreInotify = raiseInotifyInstances(count);
	try {
		dovecot = await startDovecot({ users: Object.fromEntries(mailboxes.map((m) => [m.user, m.password])), certificate: { certPath: ctx.servers.certPath, keyPath: ctx.servers.dovecot.keyPath }, imapSessions: count + 50, verboseProctitle: true });
		for (const [i, m] of mailboxes.entries()) {
			if (i % 2 === 0) await dovecot.writeMaildir(m.user, 'INBOX', Array.from({ length: SEEDED }, (_, k) => ({ raw: message('imap', i * 100 + k, 'seed'), flags: ['\\Seen'] })));
		}
		const t0 = Date.now();
		n8n = await N8n.create({ install: checkN8n(), packageTarball: packPackage(path.resolve(__dirname, '..'), dir), env: { NODE_EXTRA_CA_CERTS: ctx.servers.certPath, N8N_WORKFLOW_ACTIVATION_BATCH_SIZE: String(activationBatch) } });
		await n8n.importCredentials(mailboxes.map((m) => ({ id: `${m.workflowId}Cred`, name: `${m.user} (IMAP)`, type: 'mailboxImapApi', data: { host: '127.0.0.1', port: dovecot!.ports.imaps, security: 'tls', user: m.user, password: m.password } })));
		const trigger = (m: Mailbox) => ({
			type: 'n8n-nodes-mailbox.mailboxImapTrigger',
			typeVersion: 1.2,
			parameters: { authentication: 'password', watch: 'selected', folders: ['INBOX'], firstActivation: 'unseen', afterProcessing: 'markRead', mode: 'idle', pollMinutes: 15, options: {} },
			credentials: { mailboxImapApi: { id: `${m.workflowId}Cred`, name: `${m.user} (IMAP)` } },
		});
		await n8n.importWorkflows(mailboxes.map((m) => workflow(m.workflowId, trigger(m))));
		await n8n.publishAll(mailboxes.map((m) => m.workflowId));
		process.stdout.write(`bench: n8n-scale: ${count} credentials and workflows imported and published in ${round((Date.now() - t0) / 1000)} s\n`);

		// activation: from `n8n start` until every trigger is in IDLE
		const started = Date.now();
		let allIdleAt: number | undefined;
		let activationPeakConnections = 0;
		let inIdle = 0;
		let watching = true;
		const watcher = (async () => {
			while (watching && allIdleAt === undefined) {
				inIdle = usersInIdle(dovecot!, users);
				const pid = n8n!.pid;
				if (pid) activationPeakConnections = Math.max(activationPeakConnections, connectionsOf(pid, dovecot!.ports.imaps));
				if (inIdle === count) allIdleAt = Date.now();
				else await sleep(500);
			}
		})();
		try {
			await n8n.start();
			const readySeconds = round((Date.now() - started) / 1000, 2);
			await waitFor(`all ${count} triggers in IDLE`, async () => (allIdleAt !== undefined ? true : undefined), 20 * 60_000, () => `${inIdle} of ${count} in IDLE`);
			const activationSeconds = round((allIdleAt! - started) / 1000, 2);
			process.stdout.write(`bench: n8n-scale: ready after ${readySeconds} s, all ${count} triggers in IDLE after ${activationSeconds} s\n`);
			const pid = n8n.pid!;

			// steady state: all in IDLE, nothing arriving
			await sleep(15_000);
			const steady = connections(dovecot, mailboxes, pid);
			const rssSteadyMiB = rssMiB(pid);
			process.stdout.write(`bench: n8n-scale: steady ${JSON.stringify({ ...steady, rssSteadyMiB })}\n`);

			// new mail: round after round over all mailboxes, at `rate` per second
			const total = count * perMailbox;
			const appendedAt = new Map<string, number>();
			let rssAfterMail = 0;
			const sampler = setInterval(() => (rssAfterMail = Math.max(rssAfterMail, rssMiB(pid))), 1000);
			const mailStart = Date.now();
			const appends: Promise<void>[] = [];
			try {
				for (let k = 0; k < total; k++) {
					const wait = mailStart + (k * 1000) / rate - Date.now();
					if (wait > 0) await sleep(wait);
					const m = mailboxes[k % count];
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
			const carried = () => {
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
			};
			await waitFor(
				`the executions of all ${total} new messages`,
				async () => {
					runs = await n8n!.executionsOfWorkflows(ids);
					const { bySubject, unfinished } = carried();
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
			const { bySubject, failed, executions } = carried();
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
			const dovecotWarnings: Record<string, number> = {};
			for (const line of fs.readFileSync(dovecot.logPath, 'utf8').split('\n')) {
				const warning = /\b(Warning|Error|Fatal|Panic): (.*)$/.exec(line);
				if (warning) dovecotWarnings[`${warning[1]}: ${warning[2]}`] = (dovecotWarnings[`${warning[1]}: ${warning[2]}`] ?? 0) + 1;
			}
			const log = n8n.logs();
			const logWarnings = log.split('\n').filter((line) => /MaxListenersExceeded|memory leak|heap out of memory|ECONNRESET|too many|EMFILE/i.test(line) || (/n8n-nodes-mailbox|mailbox/i.test(line) && /error|warn/i.test(line)));
			return {
				mailboxes: count,
				cpus: os.cpus().length,
				readySeconds,
				activationSeconds,
				activationPeakConnections,
				steady,
				afterMail,
				rssSteadyMiB,
				rssAfterMailMiB: rssAfterMail,
				rssPeakMiB: rssMiB(pid, 'peak'),
				messages: total,
				appendSeconds,
				latencyMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), max: round(Math.max(...latencies)) },
				once,
				missing,
				repeated,
				failedExecutions: failed,
				executions,
				logWarnings: logWarnings.slice(0, 20),
				dovecotWarnings,
				activationBatch,
			};
		} finally {
			watching = false;
			await watcher;
		}
	} finally {
		await n8n?.destroy();
		await dovecot?.stop();
		restoreInotify();
	}
}

function entriesOf(f: Figures): BenchEntry[] {
	const at = `${f.mailboxes} mailboxes in one n8n`;
	const perFolder = round(f.steady.n8n / f.mailboxes, 3);
	return [
		entry({ name: `${at}: activation (start until all in IDLE)`, value: f.activationSeconds, unit: 's', higherIsBetter: false, notes: `ready (/healthz/readiness) after ${f.readySeconds} s; n8n activating ${f.activationBatch} at a time; at most ${f.activationPeakConnections} connections to Dovecot meanwhile; ${f.cpus} CPUs` }),
		entry({ name: `${at}: IMAP connections per watched folder`, value: perFolder, unit: 'conn', higherIsBetter: false, bound: 1, boundName: 'one per folder', target: 1, notes: `n8n main: ${f.steady.n8n} established to Dovecot; Dovecot: ${f.steady.fewest}-${f.steady.most} sessions per user, ${f.steady.idle} in IDLE; after the mail: n8n ${f.afterMail.n8n}, ${f.afterMail.fewest}-${f.afterMail.most} per user, ${f.afterMail.idle} in IDLE` }),
		entry({ name: `${at}: n8n main RSS, steady (all in IDLE)`, value: f.rssSteadyMiB, unit: 'MiB', higherIsBetter: false, bound: RSS_BOUND_MIB, boundName: '1.5 GiB', target: 1, notes: `during the mail: up to ${f.rssAfterMailMiB} MiB` }),
		entry({ name: `${at}: n8n main RSS, peak (VmHWM)`, value: f.rssPeakMiB, unit: 'MiB', higherIsBetter: false, bound: RSS_BOUND_MIB, boundName: '1.5 GiB', target: 1 }),
		entry({ name: `${at}: new mail p50 (APPEND -> execution startedAt)`, value: f.latencyMs.p50, unit: 'ms', higherIsBetter: false, notes: `${f.messages} messages, ${round(f.messages / f.mailboxes, 1)} per mailbox, in ${f.appendSeconds} s` }),
		entry({ name: `${at}: new mail p99`, value: f.latencyMs.p99, unit: 'ms', higherIsBetter: false, bound: P99_BOUND_MS, boundName: '2 s', target: 1 }),
		entry({ name: `${at}: new mail max`, value: f.latencyMs.max, unit: 'ms', higherIsBetter: false }),
		entry({ name: `${at}: messages in exactly one successful execution`, value: f.once, unit: 'msgs', higherIsBetter: true, bound: f.messages, boundName: 'messages appended', target: 1, notes: `${f.missing} in none, ${f.repeated} in more than one, ${f.failedExecutions} of ${f.executions} executions not successful` }),
	];
}

/** One line per target: the figure against its bound, and whether it is met. */
function verdicts(f: Figures): string {
	const steady = f.steady;
	const lines: Array<[boolean, string]> = [
		[steady.n8n === f.mailboxes && steady.fewest === 1 && steady.most === 1, `connections: ${round(steady.n8n / f.mailboxes, 3)} per watched folder (n8n ${steady.n8n} for ${f.mailboxes} folders, Dovecot ${steady.fewest}-${steady.most} per user), bound exactly 1`],
		[f.rssSteadyMiB <= RSS_BOUND_MIB, `RSS steady ${f.rssSteadyMiB} MiB, ${round(f.rssSteadyMiB / RSS_BOUND_MIB, 2)} of the 1.5 GiB bound`],
		[f.rssPeakMiB <= RSS_BOUND_MIB, `RSS peak ${f.rssPeakMiB} MiB, ${round(f.rssPeakMiB / RSS_BOUND_MIB, 2)} of the 1.5 GiB bound`],
		[f.latencyMs.p99 <= P99_BOUND_MS, `new mail p99 ${f.latencyMs.p99} ms, ${round(f.latencyMs.p99 / P99_BOUND_MS, 2)} of the 2 s bound`],
		[f.once === f.messages, `${f.once} of ${f.messages} messages in exactly one successful execution (${f.missing} in none, ${f.repeated} in more than one)`],
	];
	return lines.map(([met, text]) => `bench: n8n-scale: ${met ? 'PASS' : 'FAIL'} ${text}\n`).join('');
}

export const n8nScale: Benchmark<BenchContext> = {
	name: 'n8n-scale',
	async run(ctx) {
		const count = Number(process.env.BENCH_SCALE_MAILBOXES ?? 500);
		const perMailbox = Number(process.env.BENCH_SCALE_MESSAGES ?? 2);
		const rate = Number(process.env.BENCH_SCALE_RATE ?? 5);
		const activationBatch = Number(process.env.BENCH_SCALE_ACTIVATION_BATCH ?? 1);
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailbox-bench-scale-'));
		const t0 = Date.now();
		try {
			const figures = await measure(ctx, count, perMailbox, rate, activationBatch, dir);
			process.stdout.write(`bench: n8n-scale ${JSON.stringify(figures)} (${round((Date.now() - t0) / 60_000)} min)\n`);
			for (const line of figures.logWarnings) process.stdout.write(`bench: n8n-scale: n8n log: ${line}\n`);
			process.stdout.write(verdicts(figures));
			return entriesOf(figures);
		} finally {
			fs.rmSync(dir, { recursive: true, force: true });
		}
	},
};
