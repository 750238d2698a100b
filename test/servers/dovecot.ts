/**
 * A private Dovecot 2.3 for tests, the demo and benchmarks: IMAP (STARTTLS offered), IMAPS,
 * POP3 (STLS, APOP timestamp), POP3S and ManageSieve on free 127.0.0.1 ports; users with
 * passwords (stored in clear so APOP and CRAM-MD5 work) and OAuth2 (XOAUTH2, OAUTHBEARER) checked
 * by a local introspection endpoint; SPECIAL-USE folders; the IMAPSieve antispam recipe writing
 * spam/ham reports to a log. All state lives in one temp folder under /tmp. Needs root: the
 * master binds and drops privileges itself (login processes run as dovenull, auth as dovecot,
 * mail processes as vmail).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { dovecotConf, learnScript, learnSieve, oauth2PassdbConf, passwdFile, type DovecotPorts } from './dovecot-config';
import { maildirFolderPath, writeMaildirFolder, type MaildirMessage } from './maildir';
import { stopWhenFileEnds } from './lifetime';
import { freePorts, LOOPBACK, waitForPort } from './ports';
import { makeSelfSignedCertificate, type CertificateFiles } from './tls';
import { checkMailServerPrerequisites, MAIL_USER, run } from '../setup/prerequisites';
import { registerSecret } from '../canary';

export type { DovecotPorts } from './dovecot-config';
export type { MaildirMessage } from './maildir';

export const HOST = LOOPBACK;
function idOf(flag: '-u' | '-g', user: string): number {
	return Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
}

/** Child processes of `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
	const children: number[] = [];
	for (const entry of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
			// pid (comm) state ppid ...; comm may contain spaces and parentheses
			const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
			if (ppid === pid) children.push(Number(entry));
		} catch {
			// the process ended meanwhile
		}
	}
	return children;
}

/** Running (a zombie nobody reaped counts as gone). */
function alive(pid: number): boolean {
	try {
		const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
		return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
	} catch {
		return false;
	}
}

export interface DovecotOptions {
	/** user -> password. */
	users: Record<string, string>;
	/** RFC 7662 endpoint Dovecot's oauth2 passdb posts tokens to; without it no XOAUTH2/OAUTHBEARER. */
	introspectionUrl?: string;
	/** Keep Dovecot's delay after failed logins (off: tests with wrong passwords would slow down). */
	authPenalty?: boolean;
	/** auth_debug and mail_debug in the log. */
	debug?: boolean;
	/** Use this certificate instead of making one in the state dir. */
	certificate?: CertificateFiles;
	/** account -> mailboxes it may open with the login "account\\mailbox" and its own password. */
	sharedMailboxes?: Record<string, readonly string[]>;
	/** The capabilities IMAP announces after login instead of Dovecot's own. */
	imapCapability?: string;
	/**
	 * Gmail's folder layout (see GMAIL_SPECIAL_USE_FOLDERS). Not its X-GM-EXT-1 capability: with it,
	 * imapflow asks every FETCH for X-GM-MSGID, which Dovecot does not know.
	 */
	gmail?: boolean;
	/** Sized for this many IMAP sessions at once (default: 500). */
	imapSessions?: number;
	/** Process titles show each IMAP session's user and command (verbose_proctitle). */
	verboseProctitle?: boolean;
}

export class Dovecot {
	readonly host = HOST;
	private process?: ChildProcess;
	private exited?: Promise<void>;
	private untrack: () => void = () => undefined;
	private readonly killOnExit = () => {
		if (this.process?.pid && this.process.exitCode === null) this.process.kill('SIGTERM');
	};

	private constructor(
		readonly stateDir: string,
		readonly ports: DovecotPorts,
		readonly users: Readonly<Record<string, string>>,
		readonly certPath: string,
		readonly keyPath: string,
		private readonly owner: { uid: number; gid: number },
	) {}

	get learnLogPath(): string {
		return path.join(this.stateDir, 'learn.log');
	}
	get logPath(): string {
		return path.join(this.stateDir, 'dovecot.log');
	}
	get configPath(): string {
		return path.join(this.stateDir, 'dovecot.conf');
	}
	get pid(): number | undefined {
		return this.process?.pid;
	}

	/** Checks that Dovecot is installed, writes the config into a new state dir, starts it, waits for every port. */
	static async start(options: DovecotOptions): Promise<Dovecot> {
		checkMailServerPrerequisites(); // installed by the setup step, never by a test
		for (const password of Object.values(options.users)) registerSecret(password);
		const passwd = passwdFile(options.users, options.sharedMailboxes);
		// Under /tmp explicitly: dovenull, dovecot and vmail must be able to enter every parent.
		const stateDir = fs.mkdtempSync('/tmp/mailbox-dovecot-');
		fs.chmodSync(stateDir, 0o755); // mkdtemp makes 0700
		try {
			const cert = options.certificate ?? makeSelfSignedCertificate(path.join(stateDir, 'tls'));
			const owner = { uid: idOf('-u', MAIL_USER), gid: idOf('-g', MAIL_USER) };
			// The ports were free a moment ago; another process may take one before Dovecot binds it.
			// Then Dovecot exits at once naming the port, and new ports are tried.
			for (let attempt = 1; ; attempt++) {
				const [imap, imaps, pop3, pop3s, sieve] = await freePorts(5);
				const dovecot = new Dovecot(stateDir, { imap, imaps, pop3, pop3s, sieve }, { ...options.users }, cert.certPath, cert.keyPath, owner);
				dovecot.writeFiles(options, passwd);
				try {
					await dovecot.launch();
					return dovecot;
				} catch (error) {
					await dovecot.stop({ keepState: true });
					if (attempt < 3 && /Address already in use/i.test((error as Error).message)) continue;
					throw error;
				}
			}
		} catch (error) {
			fs.rmSync(stateDir, { recursive: true, force: true, maxRetries: 3 });
			throw error;
		}
	}

	private writeFiles(options: DovecotOptions, passwd: string): void {
		const s = this.stateDir;
		fs.rmSync(path.join(s, 'run'), { recursive: true, force: true }); // no stale anvil socket
		for (const dir of ['run', 'state', 'mail', 'sieve', 'sieve-bin']) fs.mkdirSync(path.join(s, dir), { recursive: true });

		const passwdPath = path.join(s, 'passwd');
		fs.writeFileSync(passwdPath, passwd, { mode: 0o640 });
		fs.chownSync(passwdPath, 0, idOf('-g', 'dovecot'));

		let oauthConfPath: string | undefined;
		if (options.introspectionUrl) {
			oauthConfPath = path.join(s, 'oauth2.conf.ext');
			fs.writeFileSync(oauthConfPath, oauth2PassdbConf(options.introspectionUrl), { mode: 0o644 });
		}

		fs.writeFileSync(this.learnLogPath, '', { mode: 0o644 });
		fs.writeFileSync(this.logPath, '');
		fs.writeFileSync(path.join(s, 'sieve', 'report-spam.sieve'), learnSieve('spam'));
		fs.writeFileSync(path.join(s, 'sieve', 'report-ham.sieve'), learnSieve('ham'));
		fs.writeFileSync(path.join(s, 'sieve-bin', 'learn.sh'), learnScript(this.learnLogPath), { mode: 0o755 });
		for (const p of [path.join(s, 'mail'), path.join(s, 'sieve'), path.join(s, 'sieve', 'report-spam.sieve'), path.join(s, 'sieve', 'report-ham.sieve'), this.learnLogPath]) {
			fs.chownSync(p, this.owner.uid, this.owner.gid);
		}

		fs.writeFileSync(
			this.configPath,
			dovecotConf({
				host: HOST,
				stateDir: s,
				ports: this.ports,
				uid: this.owner.uid,
				gid: this.owner.gid,
				certPath: this.certPath,
				keyPath: this.keyPath,
				passwdPath,
				oauthConfPath,
				logPath: this.logPath,
				authPenalty: options.authPenalty ?? false,
				sharedLogins: Object.values(options.sharedMailboxes ?? {}).some((m) => m.length > 0),
				debug: options.debug ?? false,
				imapCapability: options.imapCapability,
				gmail: options.gmail,
				imapSessions: options.imapSessions,
				verboseProctitle: options.verboseProctitle,
			}),
		);
		try {
			execFileSync('doveconf', ['-c', this.configPath, '-n'], { stdio: ['ignore', 'ignore', 'pipe'] });
		} catch (error) {
			throw new Error(`Dovecot rejected the generated config ${this.configPath}: ${(error as { stderr?: Buffer }).stderr?.toString().trim() ?? String(error)}`);
		}
		// Precompiled as the mail user, so Dovecot finds up-to-date binaries it may also rewrite.
		for (const script of ['report-spam', 'report-ham']) {
			run('runuser', ['-u', MAIL_USER, '--', 'sievec', '-c', this.configPath, path.join(s, 'sieve', `${script}.sieve`)]);
		}
	}

	private async launch(): Promise<void> {
		// -F: the master stays in the foreground as our child, so stop() knows exactly what to end.
		const child = spawn('dovecot', ['-F', '-c', this.configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
		let stderr = '';
		child.stderr?.on('data', (chunk: Buffer) => {
			if (stderr.length < 16_384) stderr += chunk.toString();
		});
		this.process = child;
		this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
		process.once('exit', this.killOnExit);
		this.untrack = stopWhenFileEnds(`Dovecot (${this.stateDir})`, () => this.stop());
		let starting = true;
		const died = this.exited.then(() => {
			if (starting) throw new Error(`Dovecot exited while starting: ${stderr.trim() || this.logTail()}`);
		});
		// once Dovecot is up or has died, the other port probes stop too (they would keep the process busy)
		const probing = new AbortController();
		try {
			await Promise.race([Promise.all(Object.values(this.ports).map((port) => waitForPort(port, 60_000, HOST, probing.signal))), died]);
		} catch (error) {
			throw new Error(`${(error as Error).message}\n--- ${this.logPath} ---\n${this.logTail()}`);
		} finally {
			starting = false;
			probing.abort();
		}
	}

	private logTail(): string {
		try {
			return fs.readFileSync(this.logPath, 'utf8').split('\n').slice(-30).join('\n');
		} catch {
			return '(no log)';
		}
	}

	/**
	 * The IMAP sessions open now, from the titles of Dovecot's imap processes (one per session;
	 * needs `verboseProctitle`): each with its user and the command it runs (e.g. "IDLE"; empty
	 * between commands).
	 */
	imapSessions(): Array<{ user: string; command: string }> {
		const master = this.process?.pid;
		if (!master) return [];
		const sessions: Array<{ user: string; command: string }> = [];
		for (const pid of childrenOf(master)) {
			let title: string;
			try {
				title = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '');
			} catch {
				continue; // the session ended meanwhile
			}
			// "<instance>/imap [user0001 127.0.0.1 IDLE]"
			const match = /\/imap \[(\S+) \S+(?: ([^\]]*))?\]$/.exec(title);
			if (match) sessions.push({ user: match[1], command: match[2] ?? '' });
		}
		return sessions;
	}

	/** The Maildir directory of a user's folder (Maildir++: INBOX is the root, "A/B" is ".A.B"). */
	maildir(user: string, folder = 'INBOX'): string {
		return maildirFolderPath(path.join(this.stateDir, 'mail', user, 'Maildir'), folder);
	}

	/**
	 * Stores messages straight into a folder's Maildir (made if missing; not subscribed unless it
	 * is one of the SPECIAL-USE folders): thousands per second. UIDs follow the order given,
	 * INTERNALDATE is each message's date, flags and keywords are kept. Returns the count.
	 */
	async writeMaildir(user: string, folder: string, messages: Iterable<MaildirMessage>): Promise<number> {
		if (!(user in this.users)) throw new Error(`unknown test user ${user}`);
		const home = path.join(this.stateDir, 'mail', user);
		const root = path.join(home, 'Maildir');
		const dir = this.maildir(user, folder);
		for (const d of [home, root, ...(dir === root ? [] : ['cur', 'new', 'tmp'].map((x) => path.join(root, x)))]) {
			if (!fs.existsSync(d)) {
				fs.mkdirSync(d, { mode: 0o700 });
				fs.chownSync(d, this.owner.uid, this.owner.gid);
			}
		}
		return writeMaildirFolder(dir, messages, this.owner, { subfolder: dir !== root });
	}

	/**
	 * Delivers one message to a user as the mail server would: dovecot-lda stores it and runs the
	 * user's active Sieve script (filters, vacation). `from` is the envelope sender (vacation replies
	 * go there, through the SMTP server at `submissionPort` on 127.0.0.1, e.g. the capture server's
	 * ports.smtp; without it Sieve cannot send). `recipient` is the envelope recipient (default
	 * user@mailbox.test). Resolves when dovecot-lda has finished (replies are sent by then);
	 * rejects with its output when it fails.
	 */
	deliver(user: string, raw: Buffer | string, options: { from: string; recipient?: string; submissionPort?: number }): Promise<void> {
		if (!(user in this.users)) return Promise.reject(new Error(`unknown test user ${user}`));
		const args = ['-c', this.configPath, '-d', user, '-f', options.from, '-a', options.recipient ?? `${user}@mailbox.test`];
		if (options.submissionPort) args.push('-o', `submission_host=${HOST}:${options.submissionPort}`);
		return new Promise((resolve, reject) => {
			const child = spawn('/usr/lib/dovecot/dovecot-lda', args, { stdio: ['pipe', 'pipe', 'pipe'] });
			let output = '';
			const collect = (chunk: Buffer) => {
				if (output.length < 16_384) output += chunk.toString();
			};
			child.stdout.on('data', collect);
			child.stderr.on('data', collect);
			child.once('error', reject);
			child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`dovecot-lda for ${user} exited with ${code}: ${output.trim() || this.logTail()}`))));
			child.stdin.on('error', () => undefined);
			child.stdin.end(raw);
		});
	}

	/**
	 * Dovecot's log once it matches every pattern. Dovecot's log process writes what the other
	 * processes send it, a little after they did: a line about a login may come after the client's
	 * logout. Fails after `timeoutMs` (a bound on a hang), naming the patterns missing.
	 */
	async logMatching(patterns: RegExp[], timeoutMs = 30_000): Promise<string> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const log = fs.existsSync(this.logPath) ? await fs.promises.readFile(this.logPath, 'utf8') : '';
			const missing = patterns.filter((p) => !p.test(log));
			if (!missing.length) return log;
			if (Date.now() > deadline) throw new Error(`Dovecot's log has no line matching ${missing.join(', ')} after ${timeoutMs} ms:\n${log.split('\n').slice(-20).join('\n')}`);
			await new Promise((resolve) => setTimeout(resolve, 50));
		}
	}

	/** The learn log's lines: `<time> spam|ham user=<u> mailbox=<m> cause=COPY message-id=<id>`. */
	async learnLog(): Promise<string[]> {
		return (await fs.promises.readFile(this.learnLogPath, 'utf8')).split('\n').filter(Boolean);
	}

	/**
	 * Ends Dovecot (TERM to the master, which takes its processes down; KILL after 10 s), waits
	 * until every process it had is gone, then removes the state dir unless `keepState`.
	 */
	async stop(options: { keepState?: boolean } = {}): Promise<void> {
		const child = this.process;
		this.process = undefined;
		process.removeListener('exit', this.killOnExit);
		this.untrack();
		if (child?.pid && child.exitCode === null && child.signalCode === null) {
			const master = child.pid;
			// On TERM the master waits up to 5 s for its processes to notice it is going, then 1 s more
			// after a SIGQUIT. Ending them ourselves (the log process too, else the master waits for
			// it; and any it forks meanwhile) makes it exit in milliseconds. The log then shows
			// "killed with signal 15" lines.
			const signalled = new Set<number>();
			const sweep = () => {
				for (const pid of childrenOf(master)) {
					if (signalled.has(pid)) continue;
					signalled.add(pid);
					try {
						process.kill(pid, 'SIGTERM');
					} catch {
						// already gone
					}
				}
			};
			child.kill('SIGTERM');
			sweep();
			const sweeper = setInterval(sweep, 50);
			const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
			await this.exited;
			clearInterval(sweeper);
			clearTimeout(timer);
			const deadline = Date.now() + 5_000;
			for (;;) {
				const left = [...signalled].filter(alive);
				if (!left.length) break;
				if (Date.now() > deadline) {
					for (const pid of left) process.kill(pid, 'SIGKILL');
					break;
				}
				await new Promise((resolve) => setTimeout(resolve, 20));
			}
		}
		if (!options.keepState) fs.rmSync(this.stateDir, { recursive: true, force: true, maxRetries: 3 });
	}
}

/** Starts a private Dovecot; see Dovecot.start. */
export function startDovecot(options: DovecotOptions): Promise<Dovecot> {
	return Dovecot.start(options);
}
