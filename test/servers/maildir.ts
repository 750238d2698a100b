/**
 * Writing messages straight into a Maildir++ folder, the fast way to fill a test mailbox with
 * thousands of messages (IMAP APPEND is ~6x slower). Dovecot picks the files up on its next sync.
 */
import fs from 'node:fs';
import path from 'node:path';

/** What writeMaildir stores; the mail generator's GeneratedMessage has this shape. */
export interface MaildirMessage {
	raw: Buffer;
	/** INTERNALDATE (the file's mtime); now when absent. */
	date?: Date;
	/** IMAP flags: \Seen \Answered \Flagged \Deleted \Draft, and keywords such as $Forwarded. */
	flags?: readonly string[];
}

export interface FileOwner {
	uid: number;
	gid: number;
}

const SYSTEM_FLAGS: Record<string, string> = { '\\draft': 'D', '\\flagged': 'F', '\\answered': 'R', '\\seen': 'S', '\\deleted': 'T' };
const KEYWORDS_FILE = 'dovecot-keywords';

/** IMAP modified UTF-7 (RFC 3501 5.1.3), which Dovecot uses for folder names on disk. */
export function encodeMailboxName(name: string): string {
	return name.replace(/&/g, '&-').replace(/[^\x20-\x7e]+/g, (run) => {
		const utf16 = Buffer.alloc(run.length * 2);
		for (let i = 0; i < run.length; i++) utf16.writeUInt16BE(run.charCodeAt(i), i * 2);
		return `&${utf16.toString('base64').replace(/=+$/, '').replace(/\//g, ',')}-`;
	});
}

/**
 * The directory of a folder inside a Maildir++ root: INBOX is the root itself, "A/B" is ".A.B"
 * (the namespace separator is "/", Maildir++ stores "." on disk, so "." can't be in a name).
 */
export function maildirFolderPath(root: string, folder = 'INBOX'): string {
	if (folder.toUpperCase() === 'INBOX') return root;
	const parts = folder.split('/');
	if (parts.some((p) => p === '' || p.includes('.'))) throw new Error(`folder name "${folder}" can't be stored in Maildir++ (empty part or ".")`);
	return path.join(root, `.${parts.map(encodeMailboxName).join('.')}`);
}

function ensureDir(dir: string, owner: FileOwner): void {
	if (fs.existsSync(dir)) return;
	fs.mkdirSync(dir, { mode: 0o700 });
	fs.chownSync(dir, owner.uid, owner.gid);
}

/** Reads the folder's keyword table, adds `wanted` keywords, returns keyword -> Maildir letter. */
function keywordLetters(dir: string, wanted: Set<string>, owner: FileOwner): Map<string, string> {
	const file = path.join(dir, KEYWORDS_FILE);
	const table = new Map<string, number>();
	if (fs.existsSync(file)) {
		for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
			const m = /^(\d+) (.+)$/.exec(line);
			if (m) table.set(m[2], Number(m[1]));
		}
	}
	let changed = false;
	for (const keyword of wanted) {
		if (table.has(keyword)) continue;
		const used = new Set(table.values());
		let free = 0;
		while (used.has(free)) free++;
		if (free >= 26) throw new Error(`a Maildir folder holds at most 26 keywords; ${keyword} is one too many`);
		table.set(keyword, free);
		changed = true;
	}
	if (changed) {
		const tmp = `${file}.${process.pid}.tmp`;
		fs.writeFileSync(tmp, [...table].sort((a, b) => a[1] - b[1]).map(([k, i]) => `${i} ${k}\n`).join(''));
		fs.chownSync(tmp, owner.uid, owner.gid);
		fs.renameSync(tmp, file);
	}
	return new Map([...table].map(([k, i]) => [k, String.fromCharCode(97 + i)]));
}

let sequence = 0;
const BASE_TIME = Math.floor(Date.now() / 1000);

/**
 * Writes each message to `dir`/tmp and renames it into `dir`/cur with a name carrying its size
 * (`,S=`), its size with CRLF line ends (`,W=`, so Dovecot never reads the file to learn it) and
 * its flags (`:2,FRS`); mtime = date. Files belong to `owner`. The leading number grows with each
 * message, so Dovecot gives UIDs in the order given. Returns how many messages were written.
 */
export function writeMaildirFolder(dir: string, messages: Iterable<MaildirMessage>, owner: FileOwner, options: { subfolder: boolean }): number {
	ensureDir(dir, owner);
	for (const sub of ['cur', 'new', 'tmp']) ensureDir(path.join(dir, sub), owner);
	const marker = path.join(dir, 'maildirfolder');
	if (options.subfolder && !fs.existsSync(marker)) {
		fs.writeFileSync(marker, '');
		fs.chownSync(marker, owner.uid, owner.gid);
	}
	let keywords = new Map<string, string>();
	let count = 0;
	for (const message of messages) {
		const letters: string[] = [];
		for (const flag of message.flags ?? []) {
			if (flag.startsWith('\\')) {
				const letter = SYSTEM_FLAGS[flag.toLowerCase()];
				if (!letter) throw new Error(`flag ${flag} can't be stored in a Maildir`);
				letters.push(letter);
				continue;
			}
			if (!keywords.has(flag)) keywords = keywordLetters(dir, new Set([flag]), owner);
			letters.push(keywords.get(flag) as string);
		}
		const raw = message.raw;
		let bareLf = 0;
		for (let i = raw.indexOf(10); i !== -1; i = raw.indexOf(10, i + 1)) if (i === 0 || raw[i - 1] !== 13) bareLf++;
		const seq = sequence++;
		const name = `${BASE_TIME + seq}.M${seq}P${process.pid}.mailbox-test,S=${raw.length},W=${raw.length + bareLf}:2,${[...new Set(letters)].sort().join('')}`;
		const tmp = path.join(dir, 'tmp', name);
		const fd = fs.openSync(tmp, 'wx', 0o600);
		try {
			fs.writeSync(fd, raw);
			fs.fchownSync(fd, owner.uid, owner.gid);
			const date = message.date ?? new Date();
			fs.futimesSync(fd, date, date);
		} finally {
			fs.closeSync(fd);
		}
		fs.renameSync(tmp, path.join(dir, 'cur', name));
		count++;
	}
	return count;
}
