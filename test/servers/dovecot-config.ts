/**
 * The text of the files a private Dovecot 2.3 instance needs: dovecot.conf, the oauth2 passdb
 * settings, the IMAPSieve antispam scripts and the learn script they pipe to. Pure functions;
 * dovecot.ts writes them into the state dir.
 */

export interface DovecotPorts {
	/** IMAP, STARTTLS offered, plaintext login allowed too. */
	imap: number;
	/** IMAP with TLS from the start. */
	imaps: number;
	/** POP3, STLS offered, APOP timestamp in the greeting. */
	pop3: number;
	/** POP3 with TLS from the start. */
	pop3s: number;
	/** ManageSieve (RFC 5804), STARTTLS offered. */
	sieve: number;
}

export interface ConfigInput {
	host: string;
	stateDir: string;
	ports: DovecotPorts;
	uid: number;
	gid: number;
	certPath: string;
	keyPath: string;
	passwdPath: string;
	/** When absent there is no oauth2 passdb and no XOAUTH2/OAUTHBEARER. */
	oauthConfPath?: string;
	logPath: string;
	authPenalty: boolean;
	debug: boolean;
	/** Shared-mailbox logins ("account\\shared") exist: user names may contain a backslash. */
	sharedLogins?: boolean;
	/** The capabilities IMAP announces after login instead of Dovecot's own (a server without UIDPLUS). */
	imapCapability?: string;
	/** Gmail's folder layout ([Gmail]/… with their SPECIAL-USE roles) instead of the plain one. */
	gmail?: boolean;
	/**
	 * Sized for this many IMAP sessions at once (the 500-mailbox benchmark) instead of the default
	 * 500: more imap-login and imap processes (one each per TLS session), and more clients per
	 * service (each of those processes is a client of log, anvil, auth and config).
	 */
	imapSessions?: number;
	/** Each imap process's title shows its user and the command it runs, e.g. "imap: [user0001 127.0.0.1 IDLE]". */
	verboseProctitle?: boolean;
}

export const SPECIAL_USE_FOLDERS: ReadonlyArray<readonly [name: string, use: string]> = [
	['Drafts', '\\Drafts'],
	['Sent', '\\Sent'],
	['Junk', '\\Junk'],
	['Trash', '\\Trash'],
	['Archive', '\\Archive'],
];

/**
 * Gmail's IMAP layout: labels are folders, the system ones under "[Gmail]/" with SPECIAL-USE roles
 * (RFC 6154) that say what they are. "All Mail" holds every message once more, "Starred" the
 * flagged ones again.
 */
export const GMAIL_SPECIAL_USE_FOLDERS: ReadonlyArray<readonly [name: string, use: string]> = [
	['[Gmail]/Drafts', '\\Drafts'],
	['[Gmail]/Sent Mail', '\\Sent'],
	['[Gmail]/Spam', '\\Junk'],
	['[Gmail]/Trash', '\\Trash'],
	['[Gmail]/All Mail', '\\All'],
	['[Gmail]/Starred', '\\Flagged'],
];

export function dovecotConf(c: ConfigInput): string {
	const s = c.stateDir;
	const mechanisms = `plain login apop cram-md5${c.oauthConfPath ? ' xoauth2 oauthbearer' : ''}`;
	const folders = (c.gmail ? GMAIL_SPECIAL_USE_FOLDERS : SPECIAL_USE_FOLDERS).map(([name, use]) => `  mailbox "${name}" {\n    special_use = ${use}\n    auto = subscribe\n  }`).join('\n');
	// one imap-login (the TLS proxy) and one imap process per session, plus room for the bench's own
	const imapProcesses = Math.max(500, (c.imapSessions ?? 0) + 100);
	const listener = (name: string, port: number, ssl = false) => `  inet_listener ${name} {\n    address = ${c.host}\n    port = ${port}\n${ssl ? '    ssl = yes\n' : ''}  }`;
	return `# Generated for tests: a private, throwaway instance on ${c.host} only. Not for production:
# plaintext logins allowed, no delay after failed logins, no fsync, a self-signed certificate.
instance_name = mailbox-test-${s.split('/').pop()?.replace(/^mailbox-dovecot-/, '')}
base_dir = ${s}/run
state_dir = ${s}/state
log_path = ${c.logPath}
protocols = imap pop3 sieve
listen = ${c.host}
shutdown_clients = yes
${c.imapSessions ? `default_client_limit = ${Math.max(1000, 2 * imapProcesses + 200)}\n` : ''}${c.verboseProctitle ? 'verbose_proctitle = yes\n' : ''}
ssl = yes
ssl_cert = <${c.certPath}
ssl_key = <${c.keyPath}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = ${mechanisms}
auth_verbose = yes
auth_debug = ${c.debug ? 'yes' : 'no'}
mail_debug = ${c.debug ? 'yes' : 'no'}
auth_failure_delay = 0
${c.sharedLogins ? '# empty = every character: the shared-mailbox logins (Microsoft 365 form) contain a backslash\nauth_username_chars =\n' : ''}login_log_format_elements = user=<%u> method=%m rip=%r lip=%l mpid=%e %c session=<%{session}>

first_valid_uid = ${c.uid}
first_valid_gid = ${c.gid}
mail_uid = ${c.uid}
mail_gid = ${c.gid}
mail_location = maildir:~/Maildir
# throwaway data: no fsync per saved message (APPEND is ~30 % faster)
mail_fsync = never
mail_max_userip_connections = 500

${
	c.authPenalty
		? ''
		: `# Failed logins are answered at once. auth_failure_delay = 0 is not enough: failures still wait
# for a 500 ms timer. The "nodelay" field skips it, but a failing passdb's fields are rolled
# back, so this always-"next" passdb sets it for every login before the real ones run.
passdb {
  driver = static
  args = noauthenticate=yes nodelay=yes
  result_success = continue
}
`
}# Passwords in clear ({PLAIN}) so APOP and CRAM-MD5 work. Each passdb only serves its own
# mechanisms: tokens never reach the password file and passwords never reach the token endpoint.
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n ${c.passwdPath}
  mechanisms = plain login apop cram-md5
}
${
	c.oauthConfPath
		? `passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = ${c.oauthConfPath}
}
`
		: ''
}# passwd-file (not static) as userdb, so user lookups without a login mechanism work too
userdb {
  driver = passwd-file
  args = username_format=%n ${c.passwdPath}
  default_fields = uid=${c.uid} gid=${c.gid} home=${s}/mail/%n
}

namespace inbox {
  inbox = yes
  separator = /
${folders}
}

service imap-login {
${listener('imap', c.ports.imap)}
${listener('imaps', c.ports.imaps, true)}
  process_limit = ${imapProcesses}
}
service imap {
  process_limit = ${imapProcesses}
}
service pop3-login {
${listener('pop3', c.ports.pop3)}
${listener('pop3s', c.ports.pop3s, true)}
}
service managesieve-login {
${listener('sieve', c.ports.sieve)}
}
${
	c.authPenalty
		? ''
		: `# No delay after failed logins (otherwise 2, 4, 8, then 15 s for every login from 127.0.0.1;
# login_trusted_networks does not lift it in 2.3). With mode 0 the anvil-auth-penalty socket is
# never created; the auth process gets ENOENT and turns the penalty off. The run dir must not
# hold a socket from an earlier run (ECONNREFUSED, 5 s retries), so it is cleared at start.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
`
}
protocol imap {
  mail_plugins = $mail_plugins imap_sieve${c.imapCapability ? `\n  imap_capability = ${c.imapCapability}` : ''}
}
protocol pop3 {
  pop3_uidl_format = %08Xu%08Xv
}
# Delivery by dovecot-lda (Dovecot.deliver) runs the user's active Sieve script; vacation replies
# go to submission_host, which deliver() sets to the SMTP capture server (its port is known later).
postmaster_address = postmaster@mailbox.test
protocol lda {
  mail_plugins = $mail_plugins sieve
}

plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
  sieve_plugins = sieve_imapsieve sieve_extprograms
  sieve_global_extensions = +vnd.dovecot.pipe +vnd.dovecot.environment
  sieve_pipe_bin_dir = ${s}/sieve-bin
  sieve_pipe_exec_timeout = 10s

  # antispam with IMAPSieve: COPY/MOVE into Junk -> spam
  imapsieve_mailbox1_name = Junk
  imapsieve_mailbox1_causes = COPY
  imapsieve_mailbox1_before = file:${s}/sieve/report-spam.sieve
  # COPY/MOVE out of Junk -> ham (the script skips Trash)
  imapsieve_mailbox2_name = *
  imapsieve_mailbox2_from = Junk
  imapsieve_mailbox2_causes = COPY
  imapsieve_mailbox2_before = file:${s}/sieve/report-ham.sieve
}
`;
}

export function oauth2PassdbConf(introspectionUrl: string): string {
	// A strict RFC 7662 {"active":false} fails the login ("Provided token is not valid"), not a
	// temporary error, so the endpoint needs no extra fields for rejected tokens.
	return ['introspection_mode = post', `introspection_url = ${introspectionUrl}`, 'force_introspection = yes', 'username_attribute = username', 'active_attribute = active', 'active_value = true', 'timeout_msecs = 5000', ''].join('\n');
}

/** IMAPSieve script: pipes the message to learn.sh with what happened. */
export function learnSieve(kind: 'spam' | 'ham'): string {
	return `# ${kind === 'spam' ? 'a message was copied or moved into Junk' : 'a message was copied or moved out of Junk (not to Trash)'}
require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];
${kind === 'ham' ? 'if environment :is "imap.mailbox" "Trash" { stop; }\n' : ''}set "user" ""; set "mailbox" ""; set "cause" "";
if environment :matches "imap.user" "*" { set "user" "\${1}"; }
if environment :matches "imap.mailbox" "*" { set "mailbox" "\${1}"; }
if environment :matches "imap.cause" "*" { set "cause" "\${1}"; }
pipe :copy "learn.sh" [ "${kind}", "\${user}", "\${mailbox}", "\${cause}" ];
`;
}

/**
 * Stands in for sa-learn/rspamc. Runs as the mail user with the message on stdin and appends
 *   <UTC time> <spam|ham> user=<u> mailbox=<m> cause=<COPY> message-id=<id>
 * The IMAPSieve environment has no UID, so the Message-ID identifies the message. Debian's awk is
 * mawk: no IGNORECASE, no strftime. It reads all of stdin: exiting early could fail the pipe.
 */
export function learnScript(learnLogPath: string): string {
	return `#!/bin/sh
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C
id=$(awk '
  body { next }
  { line = $0; sub(/\\r$/, "", line) }
  line == "" { body = 1; next }
  want && line ~ /^[ \\t]/ { id = line; gsub(/^[ \\t]+|[ \\t]+$/, "", id); want = 0; next }
  { want = 0 }
  tolower(line) ~ /^message-id:/ { id = line; sub(/^[^:]*:[ \\t]*/, "", id); gsub(/[ \\t]+$/, "", id); if (id == "") want = 1 }
  END { print (id == "" ? "-" : id) }')
printf '%s %s user=%s mailbox=%s cause=%s message-id=%s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" "$2" "$3" "$4" "$id" >> '${learnLogPath}'
`;
}

/**
 * passwd-file lines; passwords in clear for APOP and CRAM-MD5. `sharedMailboxes` (account ->
 * mailboxes it may open) adds Microsoft 365-style logins "account\\mailbox" with the account's
 * password; the passdb's `user=` field makes Dovecot open the shared mailbox. The backslash is
 * doubled because Dovecot escapes it when it expands the lookup key (%n).
 */
export function passwdFile(users: Record<string, string>, sharedMailboxes: Record<string, readonly string[]> = {}): string {
	const shared = Object.entries(sharedMailboxes).flatMap(([account, mailboxes]) =>
		mailboxes.map((mailbox) => {
			if (!(account in users) || !(mailbox in users)) throw new Error(`shared mailbox ${account}\\${mailbox}: both must be test users`);
			return `${account}\\\\${mailbox}:{PLAIN}${users[account]}::::::user=${mailbox}\n`;
		}),
	);
	return Object.entries(users)
		.map(([user, password]) => {
			if (!/^[A-Za-z0-9._-]+$/.test(user)) throw new Error(`test user name "${user}" must be letters, digits, ".", "_" or "-"`);
			if (/[:\r\n]/.test(password) || password === '') throw new Error(`the password of test user ${user} must be non-empty without ":" or line breaks`);
			return `${user}:{PLAIN}${password}::::::\n`;
		})
		.concat(shared)
		.join('');
}
