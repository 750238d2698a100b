/**
 * Postgres and Redis for n8n in production set-ups (Postgres regular mode, queue mode with
 * workers): the Debian packages `postgresql` and `redis-server` (installed by the setup step, never
 * by a test), each started by the test on a free 127.0.0.1 port with its data in a temp folder, and
 * stopped when the test file ends. No system service is used or left running.
 *
 *   const pg = await Postgres.start();            // pg.database('n8n_1') -> connection settings
 *   const redis = await Redis.start();
 *   await redis.restart();                        // same port, data gone (no persistence)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stopWhenFileEnds } from './lifetime';
import { freePort, LOOPBACK, waitForPort } from './ports';

/** The binaries of the newest Postgres the Debian package installed (/usr/lib/postgresql/<version>/bin). */
export function postgresBin(): string | undefined {
	const root = '/usr/lib/postgresql';
	if (!fs.existsSync(root)) return undefined;
	const versions = fs
		.readdirSync(root)
		.filter((v) => fs.existsSync(path.join(root, v, 'bin', 'postgres')))
		.sort((a, b) => Number(b) - Number(a));
	return versions.length ? path.join(root, versions[0], 'bin') : undefined;
}

export const REDIS_SERVER = '/usr/bin/redis-server';

/** Postgres refuses to run as root: as root the cluster belongs to the package's `postgres` user. */
function asDatabaseUser(command: string, args: string[]): [string, string[]] {
	return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

interface Running {
	child: ChildProcess;
	exited: Promise<void>;
	stderr: () => string;
}

/** The uid and gid of the package's `postgres` user, when running as root. */
function databaseUser(): { uid: number; gid: number } | undefined {
	if (process.getuid?.() !== 0) return undefined;
	const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
	return { uid: id('-u'), gid: id('-g') };
}

function launch(command: string, args: string[], options: { cwd?: string; user?: { uid: number; gid: number } } = {}): Running {
	// started as the user itself (not through runuser, which would not pass our signals on)
	const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: options.cwd, ...(options.user ?? {}) });
	let stderr = '';
	child.stderr?.on('data', (chunk: Buffer) => {
		if (stderr.length < 16_384) stderr += chunk.toString();
	});
	const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
	return { child, exited, stderr: () => stderr };
}

async function ready(name: string, running: Running, port: number): Promise<void> {
	let starting = true;
	const died = running.exited.then(() => {
		if (starting) throw new Error(`${name} exited while starting: ${running.stderr().trim()}`);
	});
	const probing = new AbortController();
	try {
		await Promise.race([waitForPort(port, 60_000, LOOPBACK, probing.signal), died]);
	} finally {
		starting = false;
		probing.abort();
	}
}

async function stopProcess(running: Running | undefined, signal: NodeJS.Signals): Promise<void> {
	if (!running || running.child.exitCode !== null || running.child.signalCode !== null) return;
	running.child.kill(signal);
	const timer = setTimeout(() => running.child.kill('SIGKILL'), 20_000);
	await running.exited;
	clearTimeout(timer);
}

export interface PostgresDatabase {
	host: string;
	port: number;
	database: string;
	user: string;
	password: string;
}

export class Postgres {
	private running?: Running;
	private untrack: () => void = () => undefined;
	private readonly killOnExit = () => this.running?.child.kill('SIGKILL');
	private databases = 0;

	private constructor(
		readonly dataDir: string,
		readonly port: number,
		private readonly bin: string,
	) {}

	/** A fresh cluster (trust authentication on 127.0.0.1 only, no fsync: test data), started and ready. */
	static async start(): Promise<Postgres> {
		const bin = postgresBin();
		if (!bin) throw new Error('Postgres is not installed (the Debian package postgresql): run the test setup step, npm run test:setup');
		// under /tmp: the postgres user must be able to enter every parent
		const dataDir = fs.mkdtempSync(path.join('/tmp', 'mailbox-postgres-'));
		if (process.getuid?.() === 0) execFileSync('chown', ['postgres:postgres', dataDir]);
		const [initdb, initArgs] = asDatabaseUser(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
		execFileSync(initdb, initArgs, { stdio: 'pipe' });
		const pg = new Postgres(dataDir, await freePort(), bin);
		await pg.launch();
		return pg;
	}

	private async launch(): Promise<void> {
		const settings = ['-c', `listen_addresses=${LOOPBACK}`, '-c', `unix_socket_directories=${this.dataDir}`, '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'];
		this.running = launch(path.join(this.bin, 'postgres'), ['-D', this.dataDir, '-p', String(this.port), ...settings], { cwd: this.dataDir, user: databaseUser() });
		process.once('exit', this.killOnExit);
		this.untrack = stopWhenFileEnds(`Postgres (${this.dataDir})`, () => this.stop());
		await ready('Postgres', this.running, this.port);
	}

	/** A new empty database for one n8n (its connection settings). */
	database(name = `n8n_${++this.databases}`): PostgresDatabase {
		if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name ${name}: lower-case letters, digits and _ only`);
		this.sql('postgres', `CREATE DATABASE ${name}`);
		return { host: LOOPBACK, port: this.port, database: name, user: 'postgres', password: 'postgres' };
	}

	/** Runs SQL with psql; returns its output (tuples only, fields separated by |). */
	sql(database: string, statement: string): string {
		const [command, args] = asDatabaseUser(path.join(this.bin, 'psql'), ['-h', LOOPBACK, '-p', String(this.port), '-U', 'postgres', '-d', database, '-At', '-v', 'ON_ERROR_STOP=1', '-c', statement]);
		return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
	}

	/** Stops the cluster (fast shutdown) and removes its data. */
	async stop(): Promise<void> {
		await stopProcess(this.running, 'SIGINT');
		process.removeListener('exit', this.killOnExit);
		this.untrack();
		fs.rmSync(this.dataDir, { recursive: true, force: true });
	}
}

export class Redis {
	private running?: Running;
	private untrack: () => void = () => undefined;
	private readonly killOnExit = () => this.running?.child.kill('SIGKILL');

	private constructor(
		readonly dir: string,
		readonly port: number,
	) {}

	/** A Redis without persistence on a free 127.0.0.1 port. */
	static async start(): Promise<Redis> {
		if (!fs.existsSync(REDIS_SERVER)) throw new Error('Redis is not installed (the Debian package redis-server): run the test setup step, npm run test:setup');
		const redis = new Redis(fs.mkdtempSync(path.join(os.tmpdir(), 'mailbox-redis-')), await freePort());
		await redis.launch();
		return redis;
	}

	private async launch(): Promise<void> {
		this.running = launch(REDIS_SERVER, ['--port', String(this.port), '--bind', LOOPBACK, '--save', '', '--appendonly', 'no', '--dir', this.dir, '--daemonize', 'no', '--protected-mode', 'yes', '--loglevel', 'warning']);
		process.once('exit', this.killOnExit);
		this.untrack = stopWhenFileEnds(`Redis (${this.dir})`, () => this.stop());
		await ready('Redis', this.running, this.port);
	}

	/** Stops Redis at once (its queue is lost: no persistence) and starts it again on the same port. */
	async restart(): Promise<void> {
		await stopProcess(this.running, 'SIGKILL');
		process.removeListener('exit', this.killOnExit);
		this.untrack();
		await this.launch();
	}

	async stop(): Promise<void> {
		await stopProcess(this.running, 'SIGTERM');
		process.removeListener('exit', this.killOnExit);
		this.untrack();
		fs.rmSync(this.dir, { recursive: true, force: true });
	}
}
