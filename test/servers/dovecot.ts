/**
 * A private Dovecot 2.3 for tests, the demo and benchmarks: IMAP (STARTTLS offered), IMAPS,
 * POP3 (STLS, APOP timestamp), POP3S and ManageSieve on free 127.0.0.1 ports; users with
 * passwords (stored in clear so APOP and CRAM-MD5 work) and OAuth2 (XOAUTH2, OAUTHBEARER) checked
 * by a local introspection endpoint; SPECIAL-USE folders; the IMAPSieve antispam recipe writing
 * spam/ham reports to a log. All state lives in one temp folder. Needs root (Dovecot drops
 * privileges itself: login processes as dovenull, mail processes as vmail).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePorts, waitForPort } from './ports';

export const HOST = '127.0.0.1';
const PACKAGES = ['dovecot-core', 'dovecot-imapd', 'dovecot-pop3d', 'dovecot-sieve', 'dovecot-managesieved', 'openssl'];
const MAIL_USER = 'vmail';

function installed(pkg: string): boolean {
	try {
		return execFileSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' }).includes('install ok installed');
	} catch {
		return false;
	}
}

/** Installs the Debian packages and the vmail user when missing; quick when all is there. */
export function ensureDovecot(): void {
	if (process.getuid?.() !== 0) throw new Error('The test mail server needs root: Dovecot binds its ports and drops privileges itself. Run the tests as root.');
	const missing = PACKAGES.filter((p) => !installed(p));
	if (missing.length) {
		// policy-rc.d exiting 101 keeps the package scripts from starting the system-wide Dovecot.
		const policy = '/usr/sbin/policy-rc.d';
		const hadPolicy = fs.existsSync(policy);
		if (!hadPolicy) fs.writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
		try {
			const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
			execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
			execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
		} finally {
			if (!hadPolicy) fs.rmSync(policy, { force: true });
		}
	}
	try {
		execFileSync('id', ['-u', MAIL_USER], { stdio: 'ignore' });
	} catch {
		execFileSync('useradd', ['--system', '--user-group', '--home-dir', '/nonexistent', '--no-create-home', '--shell', '/usr/sbin/nologin', MAIL_USER]);
	}
}

function idOf(flag: '-u' | '-g'): number {
	return Number(execFileSync('id', [flag, MAIL_USER], { encoding: 'utf8' }).trim());
}

export interface DovecotPorts {
	imap: number;
	imaps: number;
	pop3: number;
	pop3s: number;
	sieve: number;
}

export interface DovecotOptions {
	/** user -> password */
	users: Record<string, string>;
	/** URL Dovecot's oauth2 passdb posts tokens to (RFC 7662). */
	introspectionUrl: string;
	/** Keep Dovecot's delay after failed logins (off: tests with wrong passwords would slow down). */
	authPenalty?: boolean;
}

export interface StoredMessage {
	raw: Buffer;
	date?: Date;
	flags?: string[];
}

const FLAG_LETTERS: Record<string, string> = { '\\Draft': 'D', '\\Flagged': 'F', '\\Answered': 'R', '\\Seen': 'S', '\\Deleted': 'T' };

function learnScript(logPath: string): string {
	return `#!/bin/sh
# Stands in for sa-learn/rspamc: IMAPSieve pipes the message here. Args: spam|ham USER MAILBOX CAUSE.
# Appends: <utc time> <spam|ham> user=<u> mailbox=<m> cause=<c> message-id=<id> bytes=<n>
PATH=/usr/sbin:/usr/bin:/sbin:/bin
tmp=$(mktemp)
cat > "$tmp"
id=$(tr -d '\\r' < "$tmp" | awk 'BEGIN{IGNORECASE=1} /^$/{exit} tolower($0) ~ /^message-id:/ {sub(/^[^:]*:[ \\t]*/, ""); print; exit}')
bytes=$(wc -c < "$tmp")
rm -f "$tmp"
printf '%s %s user=%s mailbox=%s cause=%s message-id=%s bytes=%s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" "$2" "$3" "$4" "\${id:--}" "$bytes" >> "${logPath}"
`;
}

function sieveReport(kind: 'spam' | 'ham'): string {
	return `require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];
${kind === 'ham' ? 'if environment :is "imap.mailbox" "Trash" { stop; }\n' : ''}set "user" ""; set "mailbox" ""; set "cause" "";
if environment :matches "imap.user" "*" { set "user" "\${1}"; }
if environment :matches "imap.mailbox" "*" { set "mailbox" "\${1}"; }
if environment :matches "imap.cause" "*" { set "cause" "\${1}"; }
pipe :copy "learn.sh" [ "${kind}", "\${user}", "\${mailbox}", "\${cause}" ];
`;
}

export class Dovecot {
	private process?: ChildProcess;
	private exited?: Promise<void>;
	private sequence = 0;

	private constructor(
		readonly stateDir: string,
		readonly ports: DovecotPorts,
		readonly users: Record<string, string>,
		private readonly uid: number,
		private readonly gid: number,
	) {}

	get certPath(): string {
		return path.join(this.stateDir, 'tls', 'cert.pem');
	}
	get keyPath(): string {
		return path.join(this.stateDir, 'tls', 'key.pem');
	}
	get learnLogPath(): string {
		return path.join(this.stateDir, 'learn.log');
	}
	get logPath(): string {
		return path.join(this.stateDir, 'dovecot.log');
	}
	get configPath(): string {
		return path.join(this.stateDir, 'dovecot.conf');
	}

	static async start(options: DovecotOptions): Promise<Dovecot> {
		ensureDovecot();
		const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailbox-dovecot-'));
		fs.chmodSync(stateDir, 0o755); // dovenull, dovecot and vmail must enter it
		const [imap, imaps, pop3, pop3s, sieve] = await freePorts(5);
		const dovecot = new Dovecot(stateDir, { imap, imaps, pop3, pop3s, sieve }, options.users, idOf('-u'), idOf('-g'));
		dovecot.writeFiles(options);
		await dovecot.launch();
		return dovecot;
	}

	private writeFiles(options: DovecotOptions): void {
		const s = this.stateDir;
		for (const dir of ['run', 'state', 'tls', 'mail', 'sieve', 'sieve-bin']) fs.mkdirSync(path.join(s, dir), { recursive: true });
		execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-sha256', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', this.keyPath, '-out', this.certPath], { stdio: 'ignore' });
		fs.chmodSync(this.keyPath, 0o600);

		const passwd = path.join(s, 'passwd');
		fs.writeFileSync(passwd, Object.entries(options.users).map(([user, pw]) => `${user}:{PLAIN}${pw}::::::\n`).join(''));
		execFileSync('chown', ['root:dovecot', passwd]);
		fs.chmodSync(passwd, 0o640);

		const oauthConf = path.join(s, 'oauth2.conf.ext');
		fs.writeFileSync(oauthConf, [`introspection_mode = post`, `introspection_url = ${options.introspectionUrl}`, 'username_attribute = username', 'active_attribute = active', 'active_value = true', 'force_introspection = yes', 'timeout_msecs = 5000', ''].join('\n'));

		fs.writeFileSync(this.learnLogPath, '');
		fs.writeFileSync(this.logPath, '');
		fs.writeFileSync(path.join(s, 'sieve', 'report-spam.sieve'), sieveReport('spam'));
		fs.writeFileSync(path.join(s, 'sieve', 'report-ham.sieve'), sieveReport('ham'));
		fs.writeFileSync(path.join(s, 'sieve-bin', 'learn.sh'), learnScript(this.learnLogPath), { mode: 0o755 });
		for (const p of [path.join(s, 'mail'), path.join(s, 'sieve'), this.learnLogPath]) fs.chownSync(p, this.uid, this.gid);
		fs.chmodSync(this.learnLogPath, 0o644);

		const folders = [
			['Drafts', '\\Drafts'],
			['Sent', '\\Sent'],
			['Junk', '\\Junk'],
			['Trash', '\\Trash'],
			['Archive', '\\Archive'],
		]
			.map(([name, use]) => `  mailbox ${name} {\n    special_use = ${use}\n    auto = subscribe\n  }`)
			.join('\n');
		const penalty = options.authPenalty
			? ''
			: `# No delay after failed logins (2, 4, 8, 15 s from 127.0.0.1 otherwise): without the
# anvil-auth-penalty socket the auth process turns the penalty off.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}`;
		fs.writeFileSync(
			this.configPath,
			`# generated for tests: private, throwaway, loopback only
instance_name = mailbox-test-${path.basename(s)}
base_dir = ${s}/run
state_dir = ${s}/state
log_path = ${this.logPath}
protocols = imap pop3 sieve
listen = ${HOST}
shutdown_clients = yes

ssl = yes
ssl_cert = <${this.certPath}
ssl_key = <${this.keyPath}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login apop cram-md5 xoauth2 oauthbearer
auth_verbose = yes
auth_failure_delay = 0
login_log_format_elements = user=<%u> method=%m rip=%r lip=%l mpid=%e %c session=<%{session}>

first_valid_uid = ${this.uid}
first_valid_gid = ${this.gid}
mail_uid = ${this.uid}
mail_gid = ${this.gid}
mail_location = maildir:~/Maildir
mail_fsync = never
mail_max_userip_connections = 500

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n ${passwd}
  mechanisms = plain login apop cram-md5
}
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = ${oauthConf}
}
userdb {
  driver = passwd-file
  args = username_format=%n ${passwd}
  default_fields = uid=${this.uid} gid=${this.gid} home=${s}/mail/%n
}

namespace inbox {
  inbox = yes
  separator = /
${folders}
}

service imap-login {
  inet_listener imap {
    address = ${HOST}
    port = ${this.ports.imap}
  }
  inet_listener imaps {
    address = ${HOST}
    port = ${this.ports.imaps}
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    address = ${HOST}
    port = ${this.ports.pop3}
  }
  inet_listener pop3s {
    address = ${HOST}
    port = ${this.ports.pop3s}
    ssl = yes
  }
}
service managesieve-login {
  inet_listener sieve {
    address = ${HOST}
    port = ${this.ports.sieve}
  }
}
${penalty}

protocol imap {
  mail_plugins = $mail_plugins imap_sieve
}
protocol pop3 {
  pop3_uidl_format = %08Xu%08Xv
}

plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
  sieve_plugins = sieve_imapsieve sieve_extprograms
  sieve_global_extensions = +vnd.dovecot.pipe +vnd.dovecot.environment
  sieve_pipe_bin_dir = ${s}/sieve-bin
  sieve_pipe_exec_timeout = 10s

  # into Junk: spam
  imapsieve_mailbox1_name = Junk
  imapsieve_mailbox1_causes = COPY
  imapsieve_mailbox1_before = file:${s}/sieve/report-spam.sieve
  # out of Junk (the script ignores Trash): ham
  imapsieve_mailbox2_name = *
  imapsieve_mailbox2_from = Junk
  imapsieve_mailbox2_causes = COPY
  imapsieve_mailbox2_before = file:${s}/sieve/report-ham.sieve
}
`,
		);
		try {
			execFileSync('doveconf', ['-c', this.configPath, '-n'], { stdio: ['ignore', 'ignore', 'pipe'] });
		} catch (error) {
			throw new Error(`Dovecot rejected the generated config ${this.configPath}: ${(error as { stderr?: Buffer }).stderr?.toString() ?? error}`);
		}
		for (const script of ['report-spam', 'report-ham']) {
			execFileSync('runuser', ['-u', MAIL_USER, '--', 'sievec', '-c', this.configPath, path.join(s, 'sieve', `${script}.sieve`)], { stdio: ['ignore', 'ignore', 'pipe'] });
		}
	}

	private async launch(): Promise<void> {
		const child = spawn('dovecot', ['-F', '-c', this.configPath], {
			stdio: ['ignore', 'ignore', 'pipe'],
		});
		let stderr = '';
		child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
		this.process = child;
		this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
		const died = this.exited.then(() => {
			throw new Error(`Dovecot exited at start: ${stderr.trim() || fs.readFileSync(this.logPath, 'utf8').slice(-2000)}`);
		});
		await Promise.race([Promise.all(Object.values(this.ports).map((port) => waitForPort(port))), died]);
		died.catch(() => undefined);
	}

	/** The Maildir of a user's folder (Maildir++: INBOX is the root, "A/B" is ".A.B"). */
	maildir(user: string, folder = 'INBOX'): string {
		const root = path.join(this.stateDir, 'mail', user, 'Maildir');
		return folder.toUpperCase() === 'INBOX' ? root : path.join(root, `.${folder.split('/').join('.')}`);
	}

	/**
	 * Stores messages straight into a folder's Maildir, the fast way to fill a mailbox with
	 * thousands of messages. UIDs follow the order given; INTERNALDATE is the message's date.
	 */
	async writeMaildir(user: string, folder: string, messages: Iterable<StoredMessage>): Promise<number> {
		if (!(user in this.users)) throw new Error(`unknown test user ${user}`);
		const dir = this.maildir(user, folder);
		const home = path.join(this.stateDir, 'mail', user);
		for (const d of [home, path.join(home, 'Maildir'), dir, ...['cur', 'new', 'tmp'].map((x) => path.join(dir, x))]) {
			if (!fs.existsSync(d)) {
				fs.mkdirSync(d);
				fs.chownSync(d, this.uid, this.gid);
			}
		}
		if (dir !== path.join(home, 'Maildir') && !fs.existsSync(path.join(dir, 'maildirfolder'))) {
			fs.writeFileSync(path.join(dir, 'maildirfolder'), '');
			fs.chownSync(path.join(dir, 'maildirfolder'), this.uid, this.gid);
		}
		let count = 0;
		const base = 1_700_000_000 + Math.floor(Date.now() / 1000 - 1_700_000_000);
		for (const message of messages) {
			const seq = this.sequence++;
			const raw = message.raw;
			let bareLf = 0;
			for (let i = raw.indexOf(10); i !== -1; i = raw.indexOf(10, i + 1)) if (i === 0 || raw[i - 1] !== 13) bareLf++;
			const letters = (message.flags ?? []).map((f) => FLAG_LETTERS[f] ?? '').filter(Boolean).sort().join('');
			// The leading number orders new files, so UIDs follow the order given here.
			const name = `${base + seq}.M${seq}P${process.pid}.mailbox-test,S=${raw.length},W=${raw.length + bareLf}:2,${letters}`;
			const tmp = path.join(dir, 'tmp', name);
			fs.writeFileSync(tmp, raw);
			fs.chownSync(tmp, this.uid, this.gid);
			if (message.date) fs.utimesSync(tmp, message.date, message.date);
			fs.renameSync(tmp, path.join(dir, 'cur', name));
			count++;
		}
		return count;
	}

	learnLog(): string[] {
		return fs.readFileSync(this.learnLogPath, 'utf8').split('\n').filter(Boolean);
	}

	async stop(options: { keepState?: boolean } = {}): Promise<void> {
		const child = this.process;
		this.process = undefined;
		if (child && child.exitCode === null && child.signalCode === null) {
			child.kill('SIGTERM');
			const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
			await this.exited;
			clearTimeout(timer);
		}
		if (!options.keepState) fs.rmSync(this.stateDir, { recursive: true, force: true });
	}
}
