/**
 * Drives a real n8n 2.x for the end-to-end tests and the demo.
 *
 * - `checkN8n()` finds Node 24 and n8n in the cache folder (installed by test/setup, never here).
 * - `packPackage()` builds and packs this repository, as `npm publish` would.
 * - `N8n.create()` gives one n8n instance its own state folder and installs the tarball into it
 *   the way n8n 2.41.1's Community Nodes installer does (see `installPackage`).
 * - The CLI (`import:*`, `execute`) works on that state with n8n stopped; `start()` runs
 *   `n8n start` for the REST API (owner setup, credential Test, the editor's type files).
 *
 * Every process is started from here and stopped from here: `stop()`/`destroy()` (the tests'
 * afterAll) and a kill of the process tree on a timeout. Under jest, whatever a test file left
 * running is stopped when the file ends (registered with test/servers/lifetime.ts, stopped by
 * test/environment.js). Outside jest (the demo) a last-resort SIGKILL on this process's exit
 * kills what is still running.
 *
 * Every deadline here is a bound on a hang, generous enough for a machine with both cores busy;
 * none of them measures speed.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { scanNow } from '../canary';
import type { PostgresDatabase } from '../servers/database';
import { stopWhenFileEnds } from '../servers/lifetime';
import { freePort } from '../servers/ports';
import { withLockSync, type N8nInstall } from '../setup/prerequisites';

/** Node 24 and n8n from the cache folder, installed by the setup step (never by a test). */
export { checkN8n, type N8nInstall } from '../setup/prerequisites';

export interface CliResult {
	code: number | null;
	signal: NodeJS.Signals | null;
	stdout: string;
	stderr: string;
	ms: number;
}

/** The bound on one HTTP request to n8n (or to a test server on its behalf): a hang, not slowness. */
export const REQUEST_TIMEOUT_MS = 120_000;

/**
 * Polls `probe` every 500 ms until it gives a value; after `timeoutMs` it fails naming what was
 * awaited (and, with `describeLast`, the last state seen). For conditions in a real n8n, which has
 * no event to wait on: no timing is asserted, and the default bound (5 min) only ends a hang.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 300_000, describeLast?: () => string): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe();
		if (value !== undefined) return value;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${describeLast ? `: ${describeLast()}` : ''}`);
		await new Promise((r) => setTimeout(r, 500));
	}
}

/** An execution as stored by n8n: `output` maps each node's name to the JSON of its items. */
export interface StoredExecution {
	id: string;
	mode: string;
	status: string;
	startedAt: string;
	error?: string;
	output: Record<string, Record<string, unknown>[]>;
}

/** When n8n started an execution, ms since the epoch (SQLite stores UTC without a zone, Postgres an ISO date). */
export function startedAtMs(execution: StoredExecution): number {
	return Date.parse(/Z$|[+-]\d\d:?\d\d$/.test(execution.startedAt) ? execution.startedAt : `${execution.startedAt.replace(' ', 'T')}Z`);
}

/** A workflow's executions, its static data and its triggers' status as n8n saved them. */
export interface WorkflowRuns {
	executions: StoredExecution[];
	staticData: Record<string, unknown> | null;
	triggerStatus: Record<string, unknown>[];
}

/** Whether n8n is done with an execution (not 'new', 'running' or 'waiting'). */
export function isFinished(execution: StoredExecution): boolean {
	return !['new', 'running', 'waiting'].includes(execution.status);
}

export interface RunResult {
	status: string;
	finished: boolean;
	lastNodeExecuted?: string;
	/** the workflow error's message and description, if the run failed */
	error?: string;
	/** node name -> the json of every item that node output, all runs and outputs flattened */
	output: Record<string, Record<string, unknown>[]>;
	/** the whole run as n8n printed it */
	raw: unknown;
}

export interface CredentialForTest {
	/** a saved credential's id; without one, n8n tests the data as unsaved (owner only) */
	id?: string;
	name: string;
	type: string;
	data: Record<string, unknown>;
}

/** An entry of the editor's /types/nodes.json (the node's description, as n8n serves it). */
export interface NodeTypeInfo {
	name: string;
	displayName: string;
	version: number | number[];
	credentials?: { name: string; required?: boolean }[];
	/** e.g. {light: 'icons/<package>/dist/nodes/X/x.svg', dark: ...}, relative to n8n's URL */
	iconUrl?: string | { light?: string; dark?: string };
	/** set by n8n for nodes from community packages */
	communityNodePackageVersion?: string;
	[key: string]: unknown;
}

/** An entry of the editor's /types/credentials.json. */
export interface CredentialTypeInfo {
	name: string;
	displayName: string;
	iconUrl?: string | { light?: string; dark?: string };
	supportedNodes?: string[];
	[key: string]: unknown;
}

export interface CreateOptions {
	install: N8nInstall;
	packageTarball: string;
	/** n8n's HTTP port (default: a free one) */
	port?: number;
	/** N8N_USER_FOLDER (default: a new temp folder, removed by destroy()) */
	stateDir?: string;
	/** extra environment for n8n, e.g. NODE_EXTRA_CA_CERTS; wins over the defaults here */
	env?: Record<string, string>;
	/** n8n's database: SQLite in its user folder (default), or this Postgres database (test/servers/database.ts) */
	postgres?: PostgresDatabase;
	/**
	 * Queue mode: the main holds the triggers, Redis (at this port on 127.0.0.1) carries the
	 * executions, and this many `n8n worker` processes run them, each with a user folder of its own
	 * holding the same community packages (n8n's workers load them from there). Needs `postgres`.
	 */
	queue?: { redisPort: number; workers: number };
}

/** One `n8n worker` of a queue-mode set-up. */
interface Worker {
	index: number;
	dir: string;
	logFile: string;
	env: NodeJS.ProcessEnv;
	child?: ChildProcess;
	exit?: Promise<void>;
}


/**
 * Processes started here and not yet seen to exit. They stay in our process group, so a Ctrl-C
 * in the terminal reaches n8n and its task runner directly. Under jest each is also registered
 * with test/servers/lifetime.ts, so test/environment.js stops it when its test file ends; the
 * exit handler below matters outside jest (the demo): if this process exits while any of them
 * still runs, they and their descendants are killed.
 */
const live = new Map<ChildProcess, () => void>();
process.once('exit', () => {
	for (const child of live.keys()) if (child.pid !== undefined) killAll([child.pid, ...descendants(child.pid)], 'SIGKILL');
});

/** Registers a process just started: killed with its descendants when the test file ends (under jest: test/servers/lifetime.ts) or, outside jest, when this process exits. */
function keep(child: ChildProcess, name: string): void {
	live.set(child, stopWhenFileEnds(name, async () => {
		if (child.pid !== undefined) await killTree(child.pid);
	}));
}

/** The process was stopped or has exited. */
function forget(child: ChildProcess): void {
	live.get(child)?.();
	live.delete(child);
}

/** The pids of all descendants of `pid` (from /proc: n8n's task runner, npm's children). */
function descendants(pid: number): number[] {
	const children = new Map<number, number[]>();
	for (const entry of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(entry)) continue;
		let stat: string;
		try {
			stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
		} catch {
			continue; // exited meanwhile
		}
		// "pid (comm) state ppid ...": comm may hold spaces and parentheses
		const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
		children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
	}
	const found: number[] = [];
	for (let queue = [pid]; queue.length; ) {
		const next = children.get(queue.shift()!) ?? [];
		found.push(...next);
		queue.push(...next);
	}
	return found;
}

function alive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}

function killAll(pids: number[], signal: NodeJS.Signals): void {
	for (const pid of pids) {
		try {
			process.kill(pid, signal);
		} catch {
			// gone already
		}
	}
}

/** Kills the process and its descendants, and waits (up to 5 s) until they are gone. */
/**
 * The database readers the read-only scripts above start with: `all(sql, ...params)` (SQL with $1
 * placeholders and quoted camel-case names, valid for both) and `end()`. SQLite: the file, read
 * only (safe while n8n runs); Postgres: n8n's own `pg` with the settings n8n got.
 */
const sqliteDatabase = (readOnly: boolean) => `
	const { DatabaseSync } = require('node:sqlite');
	const db = new DatabaseSync(dbPath, { readOnly: ${readOnly} });
	const all = async (sql, ...params) => db.prepare(sql.replace(/\\$\\d+/g, '?')).all(...params);
	const end = async () => db.close();`;
const SQLITE_READER = sqliteDatabase(true);
const POSTGRES_READER = `
	const { Client } = require('pg');
	const client = new Client({ host: process.env.DB_POSTGRESDB_HOST, port: Number(process.env.DB_POSTGRESDB_PORT), database: process.env.DB_POSTGRESDB_DATABASE, user: process.env.DB_POSTGRESDB_USER, password: process.env.DB_POSTGRESDB_PASSWORD });
	const connected = client.connect();
	const all = async (sql, ...params) => { await connected; return (await client.query(sql, params)).rows; };
	const end = () => client.end();`;

/** n8n's environment for its database and, in queue mode, its queue. */
function databaseEnvironment(options: CreateOptions): Record<string, string> {
	if (options.queue && !options.postgres) throw new Error('queue mode needs Postgres (n8n shares its database between the main and the workers)');
	const env: Record<string, string> = {};
	if (options.postgres) {
		const pg = options.postgres;
		Object.assign(env, { DB_TYPE: 'postgresdb', DB_POSTGRESDB_HOST: pg.host, DB_POSTGRESDB_PORT: String(pg.port), DB_POSTGRESDB_DATABASE: pg.database, DB_POSTGRESDB_USER: pg.user, DB_POSTGRESDB_PASSWORD: pg.password });
	}
	if (options.queue) {
		// binary data: n8n 2.41 uses its database in queue mode (filesystem mode is not supported there)
		Object.assign(env, { EXECUTIONS_MODE: 'queue', QUEUE_BULL_REDIS_HOST: '127.0.0.1', QUEUE_BULL_REDIS_PORT: String(options.queue.redisPort), QUEUE_HEALTH_CHECK_ACTIVE: 'false', OFFLOAD_MANUAL_EXECUTIONS_TO_WORKERS: 'true' });
	}
	return env;
}

async function killTree(pid: number): Promise<void> {
	const pids = [pid, ...descendants(pid)];
	killAll(pids, 'SIGKILL');
	for (let i = 0; i < 50 && pids.some(alive); i++) await sleep(100);
}

function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

function tail(text: string, max = 6000): string {
	return text.length > max ? `…${text.slice(-max)}` : text;
}

/**
 * Builds the package at repoRoot and `npm pack`s it into outDir; returns the tarball's path.
 * The build runs explicitly: the repository's .npmrc sets ignore-scripts, so `prepack` would not.
 */
export function packPackage(repoRoot: string, outDir: string): string {
	fs.mkdirSync(outDir, { recursive: true });
	const lock = path.join(os.tmpdir(), `mailbox-build-${Buffer.from(path.resolve(repoRoot)).toString('base64url').slice(-40)}.lock`);
	return withLockSync(lock, () => {
		const run = (args: string[]) => {
			try {
				return execFileSync('npm', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
			} catch (error) {
				const e = error as { stdout?: string; stderr?: string };
				throw new Error(`npm ${args.join(' ')} failed in ${repoRoot}:\n${tail(`${e.stdout ?? ''}${e.stderr ?? ''}`)}`);
			}
		};
		run(['run', 'build']);
		const [info] = JSON.parse(run(['pack', '--json', '--pack-destination', outDir])) as { filename: string }[];
		return path.join(outDir, info.filename);
	});
}

/** Spawns a process and collects its output; after `timeoutMs` it is killed with its descendants. */
function runProcess(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<CliResult> {
	const started = Date.now();
	return new Promise((resolve, reject) => {
		const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
		keep(child, `${path.basename(command)} ${args.slice(0, 2).join(' ')}`);
		// bytes first, text at the end: a UTF-8 character split across two pipe reads must not become two U+FFFD
		const out: Buffer[] = [];
		const err: Buffer[] = [];
		let timedOut = false;
		child.stdout!.on('data', (c: Buffer) => out.push(c));
		child.stderr!.on('data', (c: Buffer) => err.push(c));
		const timer = setTimeout(() => {
			timedOut = true;
			if (child.pid !== undefined) void killTree(child.pid);
		}, options.timeoutMs);
		child.once('error', (error) => {
			clearTimeout(timer);
			forget(child);
			reject(error);
		});
		// a grandchild that kept our pipes open must not keep us waiting once the command exited
		child.once('exit', () => setTimeout(() => (child.stdout!.destroy(), child.stderr!.destroy()), 5000).unref());
		child.once('close', (code, signal) => {
			clearTimeout(timer);
			forget(child);
			const stdout = Buffer.concat(out).toString('utf8');
			const stderr = Buffer.concat(err).toString('utf8');
			const result = { code, signal, stdout, stderr, ms: Date.now() - started };
			if (timedOut) reject(new Error(`${[command, ...args].map((a) => path.basename(a)).join(' ')} did not finish in ${options.timeoutMs} ms:\n${tail(stdout + stderr)}`));
			else resolve(result);
		});
	});
}

export class N8n {
	/** the name and version of the installed package, from its package.json */
	readonly packageName: string;
	readonly packageVersion: string;
	/** how long each step took, in order (for reports; never asserted on) */
	readonly timings: { step: string; ms: number }[] = [];
	/** `n8n start`'s output */
	readonly logFile: string;
	/** the output of every CLI command run here */
	readonly cliLogFile: string;
	private server?: ChildProcess;
	private serverExit?: Promise<void>;
	/** queue mode: the `n8n worker` processes, started with the main */
	readonly workers: Worker[] = [];
	private cookie?: string;
	private readonly browserId = 'mailbox-e2e-browser';

	private constructor(
		readonly install: N8nInstall,
		readonly stateDir: string,
		readonly port: number,
		readonly brokerPort: number,
		private readonly env: NodeJS.ProcessEnv,
		private readonly ownsStateDir: boolean,
		installed: { name: string; version: string },
		/** n8n's Postgres database; SQLite when undefined */
		readonly postgres?: PostgresDatabase,
	) {
		this.logFile = path.join(stateDir, 'n8n.log');
		this.cliLogFile = path.join(stateDir, 'n8n-cli.log');
		this.packageName = installed.name;
		this.packageVersion = installed.version;
	}

	get url(): string {
		return `http://127.0.0.1:${this.port}`;
	}

	/** The folder n8n keeps community packages in: `$N8N_USER_FOLDER/.n8n/nodes`. */
	get nodesDir(): string {
		return path.join(this.stateDir, '.n8n', 'nodes');
	}

	static async create(options: CreateOptions): Promise<N8n> {
		const ownsStateDir = !options.stateDir;
		const stateDir = options.stateDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mailbox-n8n-'));
		fs.mkdirSync(stateDir, { recursive: true });
		const port = options.port ?? (await freePort());
		// The task-runner broker (also started by `n8n execute`) needs a port of its own; port+1
		// like the harness when it is free, else any free one.
		let brokerPort = port + 1;
		if (!(await portFree(brokerPort))) do brokerPort = await freePort(); while (brokerPort === port);
		const env: NodeJS.ProcessEnv = { ...process.env };
		// Under jest NODE_ENV is "test", which makes n8n 2.x exit at once without a word; npm_* from
		// `npm run` (e.g. this repository's ignore-scripts) must not leak into n8n or its npm.
		for (const key of Object.keys(env)) if (key === 'NODE_ENV' || key.startsWith('JEST_') || key.toLowerCase().startsWith('npm_')) delete env[key];
		Object.assign(env, {
			// n8n spawns its JS task runner as `node` from PATH, and npm runs on the first node too
			PATH: `${options.install.nodeBin}${path.delimiter}${process.env.PATH ?? ''}`,
			// node-gyp headers of the Node that runs n8n (the user's .npmrc says /usr, Node 20)
			npm_config_nodedir: path.dirname(options.install.nodeBin),
			N8N_USER_FOLDER: stateDir,
			DB_TYPE: 'sqlite',
			DB_SQLITE_POOL_SIZE: '2',
			N8N_ENCRYPTION_KEY: 'mailbox-e2e-not-a-secret',
			N8N_DIAGNOSTICS_ENABLED: 'false',
			N8N_PERSONALIZATION_ENABLED: 'false',
			N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
			N8N_TEMPLATES_ENABLED: 'false',
			N8N_HIRING_BANNER_ENABLED: 'false',
			N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'true',
			// insights: after a kill, n8n 2.41's crash recovery amends an execution that never
			// started (startedAt null) and its insights hook throws on it, so n8n exits at start-up
			// ("Cannot read properties of null (reading 'getTime')", n8n-io/n8n PR #20560)
			N8N_DISABLED_MODULES: 'mcp-registry,insights',
			N8N_PORT: String(port),
			N8N_RUNNERS_BROKER_PORT: String(brokerPort),
			N8N_LISTEN_ADDRESS: '127.0.0.1',
			N8N_HOST: '127.0.0.1',
			N8N_PROTOCOL: 'http',
			N8N_SECURE_COOKIE: 'false',
			// `execute --rawOutput` prints its JSON through the logger at level info (E2E_N8N_LOG_LEVEL=debug for more)
			N8N_LOG_LEVEL: process.env.E2E_N8N_LOG_LEVEL ?? 'info',
			N8N_LOG_OUTPUT: 'console',
			GENERIC_TIMEZONE: 'UTC',
			TZ: 'UTC',
		}, databaseEnvironment(options), options.env);
		const t0 = Date.now();
		let installed: { name: string; version: string };
		try {
			installed = await installPackage(options.packageTarball, path.join(stateDir, '.n8n', 'nodes'), npmEnvironment());
		} catch (error) {
			if (ownsStateDir) fs.rmSync(stateDir, { recursive: true, force: true });
			throw error;
		}
		const n8n = new N8n(options.install, stateDir, port, brokerPort, env, ownsStateDir, installed, options.postgres);
		n8n.timings.push({ step: `install ${installed.name}@${installed.version}`, ms: Date.now() - t0 });
		for (let index = 0; index < (options.queue?.workers ?? 0); index++) {
			const dir = path.join(stateDir, `worker-${index + 1}`);
			fs.mkdirSync(dir, { recursive: true });
			const workerBroker = await freePort();
			n8n.workers.push({ index, dir, logFile: path.join(stateDir, `worker-${index + 1}.log`), env: { ...env, N8N_USER_FOLDER: dir, N8N_RUNNERS_BROKER_PORT: String(workerBroker) } });
		}
		return n8n;
	}

	/**
	 * Installs one more community package from its tarball (like create() does for the main one).
	 * n8n loads packages when it boots: call this before start(), or stop and start again.
	 */
	async installTarball(tarball: string): Promise<{ name: string; version: string }> {
		const t0 = Date.now();
		const installed = await installPackage(tarball, this.nodesDir, npmEnvironment());
		this.timings.push({ step: `install ${installed.name}@${installed.version}`, ms: Date.now() - t0 });
		return installed;
	}

	/** Runs the n8n CLI on this instance's state (n8n must not be started for imports to count). */
	async cli(args: string[], timeoutMs = 600_000): Promise<CliResult> {
		const result = await runProcess(this.install.node, [this.install.n8nBin, ...args], { cwd: this.stateDir, env: this.env, timeoutMs });
		this.timings.push({ step: `n8n ${args[0]}`, ms: result.ms });
		fs.appendFileSync(this.cliLogFile, `$ n8n ${args.join(' ')}  (exit ${result.code ?? result.signal}, ${result.ms} ms)\n${result.stdout}${result.stderr}\n`);
		return result;
	}

	/** cli() that throws with the output when n8n exits non-zero. */
	async cliOk(args: string[], timeoutMs?: number): Promise<CliResult> {
		const result = await this.cli(args, timeoutMs);
		if (result.code !== 0) throw new Error(`n8n ${args.join(' ')} exited ${result.code ?? result.signal}:\n${tail(result.stdout + result.stderr)}`);
		return result;
	}

	/** Imports a workflow (an `id` is kept as given, else one is made up); returns its id. */
	async importWorkflow(workflow: object): Promise<string> {
		const [id] = await this.importWorkflows([workflow]);
		return id;
	}

	/** Imports workflows with one `n8n import:workflow` (a file holding their array); returns their ids. */
	async importWorkflows(workflows: object[]): Promise<string[]> {
		const withIds = workflows.map((workflow) => {
			const given = (workflow as { id?: unknown }).id;
			return { ...workflow, id: typeof given === 'string' && given ? given : `wf${Math.random().toString(36).slice(2, 14)}` };
		});
		const file = path.join(this.stateDir, withIds.length === 1 ? `workflow-${withIds[0].id}.json` : `workflows-${withIds[0]?.id}-${withIds.length}.json`);
		fs.writeFileSync(file, JSON.stringify(withIds.length === 1 ? withIds[0] : withIds));
		await this.cliOk(['import:workflow', `--input=${file}`]);
		return withIds.map((w) => w.id);
	}

	/** Imports credentials `[{id, name, type, data}]` with plain `data`; n8n encrypts them with its key. */
	async importCredentials(credentials: { id: string; name: string; type: string; data: Record<string, unknown> }[]): Promise<void> {
		const file = path.join(this.stateDir, 'credentials-import.json');
		fs.writeFileSync(file, JSON.stringify(credentials), { mode: 0o600 });
		try {
			await this.cliOk(['import:credentials', `--input=${file}`]);
		} finally {
			fs.rmSync(file, { force: true });
		}
	}

	/**
	 * Runs a workflow with `n8n execute --id --rawOutput` and returns what each node output. A
	 * failed run (exit 1) is returned too, with status "error" and the error; only a missing
	 * run (no JSON printed) throws.
	 */
	async execute(workflowId: string, timeoutMs?: number): Promise<RunResult> {
		const result = await this.cli(['execute', `--id=${workflowId}`, '--rawOutput'], timeoutMs);
		// n8n prints the run as JSON.stringify(run, null, 2) through its logger: a line "{", the
		// indented body, a line "}". Log lines around it are plain text.
		const match = /^\{\n[\s\S]*?\n\}$/m.exec(result.stdout) ?? /^\{\n[\s\S]*?\n\}$/m.exec(result.stderr);
		if (!match) throw new Error(`n8n execute --id=${workflowId} printed no run data (exit ${result.code ?? result.signal}):\n${tail(result.stdout + result.stderr)}`);
		const run = JSON.parse(match[0]) as {
			status: string;
			finished: boolean;
			data: {
				resultData: {
					runData?: Record<string, { data?: { main?: ({ json: Record<string, unknown> }[] | null)[] } }[]>;
					lastNodeExecuted?: string;
					error?: { message?: string; description?: string };
				};
			};
		};
		const output: RunResult['output'] = {};
		for (const [node, runs] of Object.entries(run.data.resultData.runData ?? {})) {
			output[node] = runs.flatMap((r) => (r.data?.main ?? []).flatMap((items) => (items ?? []).map((i) => i.json)));
		}
		const error = run.data.resultData.error;
		return {
			status: run.status,
			finished: run.finished,
			lastNodeExecuted: run.data.resultData.lastNodeExecuted,
			error: error ? [error.message, error.description].filter(Boolean).join(' ') : undefined,
			output,
			raw: run,
		};
	}

	/**
	 * The node types a CLI process of n8n loads, via `n8n export:nodes` (no server needed). Node
	 * types only: credentials are not exported.
	 */
	async exportNodeTypes(): Promise<NodeTypeInfo[]> {
		const file = path.join(this.stateDir, 'export-nodes.json');
		await this.cliOk(['export:nodes', `--output=${file}`]);
		try {
			return JSON.parse(fs.readFileSync(file, 'utf8')) as NodeTypeInfo[];
		} finally {
			fs.rmSync(file, { force: true });
		}
	}

	/**
	 * What an installed package declares, read the way n8n reads it: each file its package.json
	 * lists under n8n.nodes / n8n.credentials is required (on n8n's Node, with n8n's modules on
	 * NODE_PATH, as n8n does) and exports a class named like the file; the type names come from
	 * the node's description and the credential's instance. Node types are `<package>.<name>`.
	 */
	async declaredTypes(packageName = this.packageName): Promise<{ nodes: { type: string; version: number | number[]; usableAsTool: boolean }[]; credentials: string[] }> {
		const script = `
			const path = require('path');
			const dir = process.argv[1];
			const pkg = require(path.join(dir, 'package.json'));
			const load = (file, suffix) => {
				const name = path.basename(file).replace(suffix, '');
				const Class = require(path.join(dir, file))[name];
				if (typeof Class !== 'function') throw new Error(file + ' exports no class ' + name);
				return new Class();
			};
			const nodes = ((pkg.n8n && pkg.n8n.nodes) || []).map((file) => {
				const node = load(file, '.node.js');
				const d = node.description;
				const version = d.version !== undefined ? d.version : Object.keys(node.nodeVersions || {}).map(Number);
				return { type: pkg.name + '.' + d.name, version, usableAsTool: !!d.usableAsTool };
			});
			const credentials = ((pkg.n8n && pkg.n8n.credentials) || []).map((file) => load(file, '.credentials.js').name);
			process.stdout.write(JSON.stringify({ nodes, credentials }));`;
		const dir = path.join(this.nodesDir, 'node_modules', packageName);
		const env = { ...this.env, NODE_PATH: path.join(this.install.home, 'n8n', 'node_modules') };
		const result = await runProcess(this.install.node, ['-e', script, dir], { cwd: this.stateDir, env, timeoutMs: 180_000 });
		if (result.code !== 0) throw new Error(`reading the types of ${dir} failed:\n${tail(result.stdout + result.stderr)}`);
		return JSON.parse(result.stdout) as { nodes: { type: string; version: number | number[]; usableAsTool: boolean }[]; credentials: string[] };
	}

	/** Publishes a workflow (n8n 2.x: "active" means "has a published version"); run before start(). */
	async publish(workflowId: string): Promise<void> {
		await this.cliOk(['publish:workflow', `--id=${workflowId}`]);
	}

	/**
	 * Publishes many workflows at once, with n8n stopped: what `n8n publish:workflow --id` does
	 * for each (n8n 2.41's WorkflowRepository.publishVersion: active, and the current version as
	 * the published one, which must be in the workflow's history), in one UPDATE instead of one
	 * CLI start per workflow. Throws unless every one of them was published.
	 */
	async publishAll(workflowIds: string[]): Promise<void> {
		if (this.running) throw new Error('publishAll() works on a stopped n8n (n8n reads what is published when it starts)');
		const script = `
			const [dbPath, idsJson] = process.argv.slice(1);
			${this.postgres ? POSTGRES_READER : sqliteDatabase(false)}
			(async () => {
			const ids = JSON.parse(idsJson);
			const list = ids.map((_, i) => '$' + (i + 1)).join(', ');
			await all('UPDATE workflow_entity SET active = true, "activeVersionId" = "versionId" WHERE id IN (' + list + ') AND "isArchived" = false AND EXISTS (SELECT 1 FROM workflow_history h WHERE h."workflowId" = workflow_entity.id AND h."versionId" = workflow_entity."versionId")', ...ids);
			const [row] = await all('SELECT count(*) AS n FROM workflow_entity WHERE id IN (' + list + ') AND "activeVersionId" = "versionId"', ...ids);
			process.stdout.write(String(row.n));
			await end();
			})().catch((e) => { console.error(e); process.exit(1); });`;
		const env = { ...this.env, NODE_PATH: path.join(this.install.home, 'n8n', 'node_modules'), NODE_NO_WARNINGS: '1' };
		const result = await runProcess(this.install.node, ['-e', script, path.join(this.stateDir, '.n8n', 'database.sqlite'), JSON.stringify(workflowIds)], { cwd: this.stateDir, env, timeoutMs: 180_000 });
		if (result.code !== 0) throw new Error(`publishing ${workflowIds.length} workflows failed:\n${tail(result.stdout + result.stderr)}`);
		if (Number(result.stdout) !== workflowIds.length) throw new Error(`published ${result.stdout} of ${workflowIds.length} workflows (the others are missing, archived or have no version in their history)`);
	}

	/**
	 * A workflow's executions and its static data, read from n8n's SQLite database (safe while n8n
	 * runs: read-only). Execution data is stored in the `flatted` format; n8n's own copy reads it.
	 * `output` holds the JSON of the items each node produced (for a run that crashed before its
	 * first node ran: the items waiting on its stack, i.e. what the trigger emitted).
	 */
	/** Waits until a published trigger has saved its first state (static data containing `marker`, e.g. a folder name). */
	async waitForTriggerState(workflowId: string, marker: string): Promise<void> {
		await waitFor('the trigger to activate', async () => {
			const { staticData } = await this.executions(workflowId);
			return staticData && JSON.stringify(staticData).includes(marker) ? true : undefined;
		});
	}

	async executions(workflowId: string): Promise<WorkflowRuns> {
		return (await this.executionsOfWorkflows([workflowId]))[workflowId];
	}

	/** executions() of several workflows with one read of the database, by workflow id. */
	async executionsOfWorkflows(workflowIds: string[]): Promise<Record<string, WorkflowRuns>> {
		const script = `
			const { parse } = require('flatted');
			const [dbPath, idsJson] = process.argv.slice(1);
			${this.postgres ? POSTGRES_READER : SQLITE_READER}
			(async () => {
			const ids = JSON.parse(idsJson);
			const list = ids.map((_, i) => '$' + (i + 1)).join(', ');
			const out = {};
			for (const id of ids) out[id] = { executions: [], staticData: null, triggerStatus: [] };
			const rows = await all('SELECT e.id, e."workflowId", e.mode, e.status, e."startedAt", d.data FROM execution_entity e LEFT JOIN execution_data d ON d."executionId" = e.id WHERE e."workflowId" IN (' + list + ') ORDER BY e.id', ...ids);
			for (const r of rows) {
				let data = null;
				try { data = r.data ? parse(r.data) : null; } catch {}
				const output = {};
				for (const [node, runs] of Object.entries((data && data.resultData && data.resultData.runData) || {})) {
					output[node] = runs.flatMap((run) => ((run.data && run.data.main) || []).flat().filter(Boolean).map((i) => i.json));
				}
				// a run that never got going (crashed) has the trigger's items only on its stack
				for (const entry of (data && data.executionData && data.executionData.nodeExecutionStack) || []) {
					const node = entry.node && entry.node.name;
					if (node && !output[node]) output[node] = ((entry.data && entry.data.main) || []).flat().filter(Boolean).map((i) => i.json);
				}
				out[r.workflowId].executions.push({ id: String(r.id), mode: r.mode, status: r.status, startedAt: r.startedAt, error: data && data.resultData && data.resultData.error ? data.resultData.error.message : undefined, output });
			}
			for (const wf of await all('SELECT id, "staticData" FROM workflow_entity WHERE id IN (' + list + ')', ...ids)) {
				out[wf.id].staticData = wf.staticData ? (typeof wf.staticData === 'string' ? JSON.parse(wf.staticData) : wf.staticData) : null;
			}
			try {
				for (const t of await all('SELECT "workflowId", "nodeId", status, "errorMessage" FROM workflow_publication_trigger_status WHERE "workflowId" IN (' + list + ')', ...ids)) {
					const { workflowId, ...status } = t;
					out[workflowId].triggerStatus.push(status);
				}
			} catch {}
			process.stdout.write(JSON.stringify(out));
			await end();
			})().catch((e) => { console.error(e); process.exit(1); });`;
		const env = { ...this.env, NODE_PATH: path.join(this.install.home, 'n8n', 'node_modules'), NODE_NO_WARNINGS: '1' };
		const dbPath = path.join(this.stateDir, '.n8n', 'database.sqlite');
		const result = await runProcess(this.install.node, ['-e', script, dbPath, JSON.stringify(workflowIds)], { cwd: this.stateDir, env, timeoutMs: 180_000 });
		if (result.code !== 0) throw new Error(`reading the executions of ${workflowIds.length === 1 ? workflowIds[0] : `${workflowIds.length} workflows`} failed:\n${tail(result.stdout + result.stderr)}`);
		return JSON.parse(result.stdout) as Record<string, WorkflowRuns>;
	}

	/** `n8n start` in the background, its output appended to logFile; resolves when n8n is ready. */
	async start(timeoutMs = 600_000): Promise<void> {
		if (this.server) throw new Error('n8n is already started');
		const started = Date.now();
		const log = fs.openSync(this.logFile, 'a');
		const child = spawn(this.install.node, [this.install.n8nBin, 'start'], { env: this.env, cwd: this.stateDir, stdio: ['ignore', log, log] });
		fs.closeSync(log);
		keep(child, `n8n start (${this.stateDir})`);
		this.server = child;
		this.serverExit = new Promise((resolve) => {
			child.once('exit', () => resolve());
			child.once('error', () => resolve());
		});
		const deadline = started + timeoutMs;
		for (;;) {
			if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
				await this.stop();
				throw new Error(`n8n start exited early:\n${tail(this.logs())}`);
			}
			const ready = await fetch(`${this.url}/healthz/readiness`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.ok, () => false);
			if (ready) break;
			if (Date.now() > deadline) {
				await this.stop();
				throw new Error(`n8n was not ready after ${timeoutMs} ms:\n${tail(this.logs())}`);
			}
			await sleep(200);
		}
		this.timings.push({ step: 'n8n start (until /healthz/readiness)', ms: Date.now() - started });
		for (const worker of this.workers) if (!worker.child) await this.startWorker(worker.index, timeoutMs);
	}

	/**
	 * Starts `n8n worker` number `index` (queue mode) with its own user folder, holding a copy of
	 * the main's community packages; resolves when it says it is ready.
	 */
	async startWorker(index: number, timeoutMs = 10 * 60_000): Promise<void> {
		const worker = this.workers[index];
		if (!worker) throw new Error(`there is no worker ${index}`);
		if (worker.child) throw new Error(`worker ${index + 1} is already started`);
		const started = Date.now();
		const nodes = path.join(worker.dir, '.n8n', 'nodes');
		fs.rmSync(nodes, { recursive: true, force: true });
		fs.cpSync(this.nodesDir, nodes, { recursive: true });
		const from = fs.existsSync(worker.logFile) ? fs.statSync(worker.logFile).size : 0;
		const log = fs.openSync(worker.logFile, 'a');
		const child = spawn(this.install.node, [this.install.n8nBin, 'worker', '--concurrency=5'], { env: worker.env, cwd: worker.dir, stdio: ['ignore', log, log] });
		fs.closeSync(log);
		keep(child, `n8n worker ${index + 1} (${worker.dir})`);
		worker.child = child;
		worker.exit = new Promise((resolve) => {
			child.once('exit', () => resolve());
			child.once('error', () => resolve());
		});
		const logSince = () => (fs.existsSync(worker.logFile) ? fs.readFileSync(worker.logFile, 'utf8').slice(from) : '');
		for (;;) {
			if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
				worker.child = undefined;
				throw new Error(`n8n worker ${index + 1} exited early:\n${tail(logSince())}`);
			}
			if (logSince().includes('n8n worker is now ready')) break;
			if (Date.now() > started + timeoutMs) {
				await this.killWorker(index);
				throw new Error(`n8n worker ${index + 1} was not ready after ${timeoutMs} ms:\n${tail(logSince())}`);
			}
			await sleep(200);
		}
		this.timings.push({ step: `n8n worker ${index + 1} start`, ms: Date.now() - started });
	}

	/** A worker's crash: SIGKILL to it and what it started; the jobs it was running are left to n8n's recovery. */
	async killWorker(index: number): Promise<void> {
		const worker = this.workers[index];
		const child = worker?.child;
		if (!worker || !child) return;
		worker.child = undefined;
		if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
			await killTree(child.pid);
			await worker.exit;
		}
		forget(child);
	}

	/** SIGTERM to a worker, which finishes its running jobs first (n8n bounds that at 30 s). */
	async stopWorker(index: number): Promise<void> {
		const worker = this.workers[index];
		const child = worker?.child;
		if (!worker || !child) return;
		worker.child = undefined;
		if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
			const children = descendants(child.pid);
			child.kill('SIGTERM');
			const timer = setTimeout(() => void killTree(child.pid!), 90_000);
			await worker.exit;
			clearTimeout(timer);
			killAll(children.filter(alive), 'SIGKILL');
		}
		forget(child);
	}

	/** What worker `index` wrote to its log. */
	workerLogs(index: number): string {
		const file = this.workers[index]?.logFile;
		return file && fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
	}

	/**
	 * SIGTERM to n8n, which stops its task runner and exits (n8n bounds its own graceful shutdown
	 * at 30 s); SIGKILL if it is still there after 90 s. Anything it started that is still running
	 * afterwards is killed too.
	 */
	/** Stops n8n (SIGTERM, as a service manager does) and its workers (`workers: false`: the main only; they keep running their jobs). */
	async stop(options: { workers?: boolean } = {}): Promise<void> {
		const withWorkers = options.workers ?? true;
		const child = this.server;
		this.server = undefined;
		this.cookie = undefined;
		if (!child) {
			if (withWorkers) for (const worker of this.workers) await this.stopWorker(worker.index);
			return;
		}
		const started = Date.now();
		if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
			// once n8n is gone its children are re-parented and can no longer be found from it
			const children = descendants(child.pid);
			child.kill('SIGTERM');
			const timer = setTimeout(() => void killTree(child.pid!), 90_000);
			await this.serverExit;
			clearTimeout(timer);
			const left = children.filter(alive);
			killAll(left, 'SIGKILL');
			for (let i = 0; i < 50 && left.some(alive); i++) await sleep(100);
		}
		forget(child);
		if (withWorkers) for (const worker of this.workers) await this.stopWorker(worker.index);
		this.timings.push({ step: 'n8n stop', ms: Date.now() - started });
	}

	/**
	 * A crash: SIGKILL to n8n and its descendants (the task runner) at once, nothing saved on the
	 * way out. Resolves when they are gone; start() works again afterwards.
	 */
	async kill(): Promise<void> {
		const child = this.server;
		this.server = undefined;
		this.cookie = undefined;
		if (!child) return;
		const started = Date.now();
		if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
			await killTree(child.pid);
			await this.serverExit;
		}
		forget(child);
		// the ports are free again before start() is called
		for (let i = 0; i < 100 && !((await portFree(this.port)) && (await portFree(this.brokerPort))); i++) await sleep(100);
		this.timings.push({ step: 'n8n kill', ms: Date.now() - started });
	}

	/** The process id of `n8n start`, while it runs. */
	get pid(): number | undefined {
		return this.running ? this.server?.pid : undefined;
	}

	/** A workflow's executions by status (a count, without reading their data), and the size of its static data (bytes of JSON, under `staticData`). */
	async executionCounts(workflowId: string): Promise<Record<string, number>> {
		const script = `
			const [dbPath, workflowId] = process.argv.slice(1);
			${this.postgres ? POSTGRES_READER : SQLITE_READER}
			(async () => {
			const out = {};
			for (const r of await all('SELECT status, count(*) AS n FROM execution_entity WHERE "workflowId" = $1 GROUP BY status', workflowId)) out[r.status] = Number(r.n);
			const [wf] = await all('SELECT length("staticData"${this.postgres ? '::text' : ''}) AS n FROM workflow_entity WHERE id = $1', workflowId);
			out.staticData = Number((wf && wf.n) || 0);
			process.stdout.write(JSON.stringify(out));
			await end();
			})().catch((e) => { console.error(e); process.exit(1); });`;
		const env = { ...this.env, NODE_PATH: path.join(this.install.home, 'n8n', 'node_modules'), NODE_NO_WARNINGS: '1' };
		const result = await runProcess(this.install.node, ['-e', script, path.join(this.stateDir, '.n8n', 'database.sqlite'), workflowId], { cwd: this.stateDir, env, timeoutMs: 180_000 });
		if (result.code !== 0) throw new Error(`counting the executions of ${workflowId} failed:\n${tail(result.stdout + result.stderr)}`);
		return JSON.parse(result.stdout) as Record<string, number>;
	}

	/** Whether `n8n start` is running. */
	get running(): boolean {
		return !!this.server && this.server.exitCode === null && this.server.signalCode === null;
	}

	/** What `n8n start` logged so far. */
	logs(): string {
		return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, 'utf8') : '';
	}

	/** What the CLI commands printed so far. */
	cliLogs(): string {
		return fs.existsSync(this.cliLogFile) ? fs.readFileSync(this.cliLogFile, 'utf8') : '';
	}

	/**
	 * Lines of n8n's output (by default `n8n start`'s log; pass cliLogs() for the CLI's) that
	 * report trouble with a community package: lines naming it (as a word or in a path) that say
	 * it failed, was skipped, or could not be found or loaded. A package that loads fine is named
	 * in no line at log level info. n8n 2.41.1 says e.g. `Failed to load package "<name>"`
	 * (requiring a node or credential file threw) or `Skipping package "<name>": it requires
	 * node API version ...`. Meant for loading: a failed workflow run's stack trace through the
	 * package's files would count too.
	 */
	packageLoadProblems(packageName = this.packageName, text = this.logs()): string[] {
		const escaped = packageName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
		// as a word: "n8n-nodes-foo", /node_modules/n8n-nodes-foo/, n8n-nodes-foo.nodeName; not n8n-nodes-foobar
		const names = new RegExp(`(?<![\\w-])${escaped}(?![\\w-])`);
		return text
			.split('\n')
			.filter((line) => names.test(line))
			.filter((line) => /fail|error|skipp|cannot|could not|unable|invalid|unrecognized|not found|missing/i.test(line));
	}

	/** Creates the owner account (first start only) and keeps its session cookie. */
	async setupOwner(owner = { email: 'owner@mailbox.test', firstName: 'Mailbox', lastName: 'Owner', password: 'Mailbox-demo-1' }): Promise<{ email: string; password: string }> {
		const res = await fetch(`${this.url}/rest/owner/setup`, {
			signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
			method: 'POST',
			headers: { 'content-type': 'application/json', 'browser-id': this.browserId },
			body: JSON.stringify(owner),
		});
		if (!res.ok) throw new Error(`owner setup failed: HTTP ${res.status} ${await res.text()}`);
		const cookie = res.headers.getSetCookie().find((c) => c.startsWith('n8n-auth='));
		if (!cookie) throw new Error('owner setup returned no n8n-auth cookie');
		this.cookie = cookie.split(';')[0];
		return { email: owner.email, password: owner.password };
	}

	private authHeaders(): Record<string, string> {
		if (!this.cookie) throw new Error('call setupOwner() first');
		// n8n binds the session to the browser-id header it was issued with
		return { 'browser-id': this.browserId, cookie: this.cookie };
	}

	/** An authenticated call to n8n's internal REST API (after setupOwner); JSON when it parses. */
	async rest(method: string, urlPath: string, body?: unknown): Promise<{ status: number; json: unknown }> {
		const res = await fetch(`${this.url}${urlPath}`, {
			signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
			method,
			headers: { ...this.authHeaders(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		const text = await res.text();
		let json: unknown = text;
		try {
			json = JSON.parse(text);
		} catch {
			// not JSON: keep the text
		}
		return { status: res.status, json };
	}

	/**
	 * The credential dialog's "Connect my account" for an OAuth2 credential (saved, by id): GET
	 * /rest/oauth2-credential/auth?id= gives the authorization URL; `signIn` plays the browser at
	 * the authority and returns where it redirected to (n8n's callback with code and state); that
	 * callback is then called with the session's cookies (including any browser-binding cookie
	 * n8n set), and n8n exchanges the code and stores the token. Returns the callback's answer.
	 */
	async connectOAuth2(credentialId: string, signIn: (authorizationUrl: string) => Promise<string>): Promise<{ status: number; body: string }> {
		const auth = await fetch(`${this.url}/rest/oauth2-credential/auth?id=${encodeURIComponent(credentialId)}`, { headers: this.authHeaders(), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
		const text = await auth.text();
		if (!auth.ok) throw new Error(`GET /rest/oauth2-credential/auth: HTTP ${auth.status} ${text}`);
		const authorizationUrl = (JSON.parse(text) as { data: string }).data;
		const cookies = [this.authHeaders().cookie, ...auth.headers.getSetCookie().map((c) => c.split(';')[0])].join('; ');
		const callback = await signIn(authorizationUrl);
		const res = await fetch(callback, { headers: { ...this.authHeaders(), cookie: cookies }, redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
		return { status: res.status, body: await res.text() };
	}

	/**
	 * The credential dialog's Test button: POST /rest/credentials/test {credentials: {id, name,
	 * type, data}}. With a saved credential's `id`, n8n merges `data` over the stored data; with
	 * no id (sent as "") the owner tests unsaved data.
	 */
	async testCredential(credential: CredentialForTest): Promise<{ status: 'OK' | 'Error'; message: string }> {
		const res = await this.rest('POST', '/rest/credentials/test', { credentials: { ...credential, id: credential.id ?? '' } });
		const data = (res.json as { data?: { status: 'OK' | 'Error'; message: string } }).data;
		if (res.status !== 200 || !data) throw new Error(`credential test call failed: HTTP ${res.status} ${JSON.stringify(res.json)}`);
		return data;
	}

	/**
	 * The node and credential types n8n loaded, from the editor's type files /types/nodes.json and
	 * /types/credentials.json (n8n start + setupOwner: they need the session).
	 */
	async nodeTypes(): Promise<{ nodes: NodeTypeInfo[]; credentials: CredentialTypeInfo[] }> {
		const get = async <T>(file: string): Promise<T[]> => {
			const res = await fetch(`${this.url}/types/${file}`, { headers: this.authHeaders(), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
			if (!res.ok) throw new Error(`GET /types/${file}: HTTP ${res.status}`);
			return (await res.json()) as T[];
		};
		return { nodes: await get<NodeTypeInfo>('nodes.json'), credentials: await get<CredentialTypeInfo>('credentials.json') };
	}

	/** Only the names of nodeTypes(). */
	async loadedTypes(): Promise<{ nodes: string[]; credentials: string[] }> {
		const types = await this.nodeTypes();
		return { nodes: types.nodes.map((n) => n.name), credentials: types.credentials.map((c) => c.name) };
	}

	/**
	 * Stops n8n, scans its state folder for the test's secrets (the database with every execution's
	 * data and the workflows' static data, n8n's log and event log; the secret canary, test/canary.js)
	 * and removes the folder (unless the caller gave it).
	 */
	async destroy(): Promise<void> {
		await this.stop();
		this.scanForSecrets();
		// E2E_KEEP_LOGS=<folder>: n8n's logs (main and workers) are kept there, for looking into a failure
		const keep = process.env.E2E_KEEP_LOGS;
		if (keep) {
			const into = path.join(keep, path.basename(this.stateDir));
			fs.mkdirSync(into, { recursive: true });
			for (const name of fs.readdirSync(this.stateDir)) if (name.endsWith('.log')) fs.copyFileSync(path.join(this.stateDir, name), path.join(into, name));
		}
		if (this.ownsStateDir) fs.rmSync(this.stateDir, { recursive: true, force: true });
	}

	private scanForSecrets(): void {
		const walk = (dir: string): string[] =>
			fs.existsSync(dir)
				? fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? (e.name === 'node_modules' ? [] : walk(path.join(dir, e.name))) : e.isFile() ? [path.join(dir, e.name)] : []))
				: [];
		for (const file of walk(this.stateDir)) scanNow(`n8n state ${path.relative(this.stateDir, file)}`, fs.readFileSync(file));
	}
}

function portFree(port: number): Promise<boolean> {
	if (port > 65535) return Promise.resolve(false);
	return new Promise((resolve) => {
		const probe = net.createServer();
		probe.once('error', () => resolve(false));
		probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
	});
}

/**
 * Installs a package tarball into n8n's community-packages folder the way n8n 2.41.1's
 * CommunityPackagesService.downloadPackage does after its `npm pack <name>@<version>`:
 * `tar -xzf <tgz> --strip-components=1` into nodes/node_modules/<name>, drop devDependencies,
 * peerDependencies and optionalDependencies from its package.json, `npm install --audit=false
 * --fund=false --bin-links=false --install-strategy=shallow --ignore-scripts=true
 * --package-lock=false` in that folder, and record the version in nodes/package.json.
 * So: no install scripts run, optional dependencies are not installed, and n8n-workflow (a peer
 * dependency) is not installed either: `require('n8n-workflow')` resolves to n8n's own copy,
 * which n8n puts on NODE_PATH. n8n also records the package in its database
 * (installed_packages, shown under Settings > Community nodes); that is skipped here, and n8n
 * loads whatever n8n-nodes-* package it finds in nodes/node_modules at boot regardless.
 */
/**
 * The environment for the package's npm install: the machine's own npm and Node and their
 * registry settings (its CA file, NODE_EXTRA_CA_CERTS), not n8n's: n8n gets the test servers'
 * certificate as NODE_EXTRA_CA_CERTS, and npm run on n8n's Node 24 would not read the machine's
 * global npmrc, so a registry behind a company CA would fail with SELF_SIGNED_CERT_IN_CHAIN.
 * Without NODE_ENV, JEST_* and npm_* (this repository's ignore-scripts and the like).
 */
function npmEnvironment(): NodeJS.ProcessEnv {
	const env: NodeJS.ProcessEnv = { ...process.env };
	for (const key of Object.keys(env)) if (key === 'NODE_ENV' || key.startsWith('JEST_') || key.toLowerCase().startsWith('npm_')) delete env[key];
	return env;
}

async function installPackage(tarball: string, nodesDir: string, env: NodeJS.ProcessEnv): Promise<{ name: string; version: string }> {
	const modules = path.join(nodesDir, 'node_modules');
	fs.mkdirSync(modules, { recursive: true });
	// Within one `npm test` run the same tarball is installed once and copied to the other n8n
	// instances: the same files, without a registry round per test file.
	const runDir = process.env.MAILBOX_TEST_RUN_DIR;
	if (runDir && fs.existsSync(runDir)) {
		const hash = crypto.createHash('sha256').update(fs.readFileSync(tarball)).digest('hex').slice(0, 16);
		const cached = path.join(runDir, 'installed-packages', hash);
		if (!fs.existsSync(path.join(cached, 'package.json'))) {
			fs.mkdirSync(path.dirname(cached), { recursive: true });
			const building = fs.mkdtempSync(`${cached}.building-`);
			await installFresh(tarball, building, env);
			try {
				fs.renameSync(building, cached);
			} catch {
				fs.rmSync(building, { recursive: true, force: true }); // another jest worker was first
			}
		}
		const ledger = JSON.parse(fs.readFileSync(path.join(cached, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
		const [name, version] = Object.entries(ledger.dependencies)[0];
		fs.cpSync(path.join(cached, 'node_modules', name), path.join(modules, name), { recursive: true, verbatimSymlinks: true });
		recordInLedger(nodesDir, name, version);
		return { name, version };
	}
	return installFresh(tarball, nodesDir, env);
}

function recordInLedger(nodesDir: string, name: string, version: string): void {
	const ledgerFile = path.join(nodesDir, 'package.json');
	const ledger = fs.existsSync(ledgerFile)
		? (JSON.parse(fs.readFileSync(ledgerFile, 'utf8')) as { dependencies?: Record<string, string> })
		: { name: 'installed-nodes', private: true, dependencies: {} };
	ledger.dependencies = { ...ledger.dependencies, [name]: version };
	fs.writeFileSync(ledgerFile, JSON.stringify(ledger, null, 2), 'utf-8');
}

async function installFresh(tarball: string, nodesDir: string, env: NodeJS.ProcessEnv): Promise<{ name: string; version: string }> {
	const modules = path.join(nodesDir, 'node_modules');
	fs.mkdirSync(modules, { recursive: true });
	const unpack = fs.mkdtempSync(path.join(nodesDir, '.unpack-'));
	const run = async (command: string, args: string[], cwd: string, timeoutMs = 180_000) => {
		const result = await runProcess(command, args, { cwd, env, timeoutMs });
		if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} failed in ${cwd} (exit ${result.code ?? result.signal}):\n${tail(result.stdout + result.stderr)}`);
	};
	await run('tar', ['-xzf', path.resolve(tarball), '-C', unpack, '--strip-components=1'], nodesDir);
	const packageJson = JSON.parse(fs.readFileSync(path.join(unpack, 'package.json'), 'utf8')) as Record<string, unknown> & { name: string; version: string };
	for (const key of ['devDependencies', 'peerDependencies', 'optionalDependencies']) delete packageJson[key];
	const packageDir = path.join(modules, packageJson.name);
	fs.mkdirSync(path.dirname(packageDir), { recursive: true });
	fs.rmSync(packageDir, { recursive: true, force: true });
	fs.renameSync(unpack, packageDir);
	fs.chmodSync(packageDir, 0o755); // mkdtemp made it 0700; n8n's mkdir makes 0755
	fs.writeFileSync(path.join(packageDir, 'package.json'), JSON.stringify(packageJson, null, 2), 'utf-8');
	// n8n's flags, plus: --prefer-offline (registry metadata from the npm cache when it has it:
	// faster, and fewer requests that can stall), --loglevel=http (a failure shows the last
	// requests). One retry, because a stalled registry request would otherwise hang for minutes.
	const npmArgs = ['install', '--audit=false', '--fund=false', '--bin-links=false', '--install-strategy=shallow', '--ignore-scripts=true', '--package-lock=false', '--prefer-offline', '--loglevel=http'];
	try {
		await run('npm', npmArgs, packageDir, 240_000);
	} catch {
		fs.rmSync(path.join(packageDir, 'node_modules'), { recursive: true, force: true });
		await run('npm', npmArgs, packageDir, 240_000);
	}
	recordInLedger(nodesDir, packageJson.name, packageJson.version);
	return { name: packageJson.name, version: packageJson.version };
}
