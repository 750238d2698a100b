/**
 * The test servers themselves, checked with real clients: later tests rely on each of these.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { startMailServers, type MailServers } from '../servers';
import { generateMessages } from '../servers/mailgen';

/** A minimal line-based client for POP3 and ManageSieve checks. */
class LineClient {
	private buffer = '';
	private waiting?: () => void;
	constructor(private socket: net.Socket) {
		socket.setEncoding('utf8');
		socket.on('data', (chunk: string) => {
			this.buffer += chunk;
			this.waiting?.();
		});
	}
	static connect(port: number, secure: boolean, ca: string): Promise<LineClient> {
		return new Promise((resolve, reject) => {
			const socket = secure ? tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }) : net.connect({ host: '127.0.0.1', port });
			socket.once(secure ? 'secureConnect' : 'connect', () => resolve(new LineClient(socket)));
			socket.once('error', reject);
		});
	}
	/** Reads until `done(buffer)` is true, returns and consumes the buffer. */
	async read(done: (text: string) => boolean = (t) => t.includes('\r\n')): Promise<string> {
		while (!done(this.buffer)) await new Promise<void>((resolve) => (this.waiting = resolve));
		const text = this.buffer;
		this.buffer = '';
		return text;
	}
	async command(line: string, done?: (text: string) => boolean): Promise<string> {
		this.socket.write(`${line}\r\n`);
		return this.read(done);
	}
	async startTls(ca: string): Promise<void> {
		this.socket.removeAllListeners('data');
		const secure = tls.connect({ socket: this.socket, ca, servername: 'localhost' });
		await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
		this.socket = secure;
		secure.setEncoding('utf8');
		secure.on('data', (chunk: string) => {
			this.buffer += chunk;
			this.waiting?.();
		});
	}
	close(): void {
		this.socket.destroy();
	}
}

const multiline = (t: string) => t.startsWith('-ERR') || t.endsWith('\r\n.\r\n');

describe('test mail servers', () => {
	let servers: MailServers;
	let ca: string;
	const imap = (user: string, auth: { pass?: string; accessToken?: string }, port?: number) =>
		new ImapFlow({ host: '127.0.0.1', port: port ?? servers.ports.imaps, secure: true, tls: { ca, servername: 'localhost' }, auth: { user, ...auth }, logger: false });

	beforeAll(async () => {
		servers = await startMailServers();
		ca = fs.readFileSync(servers.certPath, 'utf8');
	});
	afterAll(async () => {
		await servers?.stop();
	});

	it('IMAP: STARTTLS upgrade, capabilities, and messages written to the Maildir with flags and dates', async () => {
		const messages = [...generateMessages({ seed: 5, count: 12 })];
		await servers.writeMaildir('alice', 'INBOX', messages);
		const client = new ImapFlow({ host: '127.0.0.1', port: servers.ports.imap, secure: false, doSTARTTLS: true, tls: { ca, servername: 'localhost' }, auth: { user: 'alice', pass: 'alice-pw' }, logger: false });
		await client.connect();
		try {
			expect(client.secureConnection).toBe(true);
			for (const cap of ['IDLE', 'MOVE', 'UIDPLUS', 'CONDSTORE', 'SPECIAL-USE']) expect(client.capabilities.has(cap)).toBe(true);
			await client.mailboxOpen('INBOX');
			const fetched = [];
			for await (const msg of client.fetch('1:*', { uid: true, envelope: true, flags: true, internalDate: true })) fetched.push(msg);
			expect(fetched.map((m) => m.envelope?.messageId)).toEqual(messages.map((m) => m.messageId));
			expect(fetched.map((m) => [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort())).toEqual(messages.map((m) => [...m.flags].sort()));
			expect(fetched.map((m) => new Date(m.internalDate as Date).getTime())).toEqual(messages.map((m) => Math.floor(m.date.getTime() / 1000) * 1000));
		} finally {
			await client.logout();
		}
	});

	it('IMAP: wrong passwords fail, OAuth2 tokens are checked by the local endpoint', async () => {
		for (let i = 0; i < 3; i++) {
			const bad = imap('alice', { pass: 'nope' });
			await expect(bad.connect()).rejects.toMatchObject({ authenticationFailed: true });
		}
		const byToken = imap('bob', { accessToken: 'valid-token-bob' });
		await byToken.connect();
		await byToken.logout();
		expect(servers.oauth.requests.some((r) => r.path === '/introspect')).toBe(true);
		await expect(imap('bob', { accessToken: 'valid-token-alice' }).connect()).rejects.toBeTruthy();
		await expect(imap('bob', { accessToken: 'made-up' }).connect()).rejects.toBeTruthy();
	});

	it('IMAP: AUTHENTICATE XOAUTH2 (the Microsoft and Google form) is checked by the local endpoint too', async () => {
		const xoauth2 = (user: string, token: string) => Buffer.from(`user=${user}\x01auth=Bearer ${token}\x01\x01`).toString('base64');
		const client = await LineClient.connect(servers.ports.imaps, true, ca);
		await client.read();
		const tagged = (tag: string) => (t: string) => new RegExp(`(^|\r\n)${tag} `).test(t) && t.endsWith('\r\n');
		expect(await client.command(`A1 AUTHENTICATE XOAUTH2 ${xoauth2('alice', 'valid-token-bob')}`, (t) => /^\+ |A1 /m.test(t))).toMatch(/^\+ |A1 NO/m);
		await client.command('', tagged('A1'));
		expect(await client.command(`A2 AUTHENTICATE XOAUTH2 ${xoauth2('alice', 'valid-token-alice')}`, tagged('A2'))).toMatch(/A2 OK/);
		client.close();
		expect(fs.readFileSync(servers.info().dovecotLog, 'utf8')).toMatch(/method=XOAUTH2/);
	});

	it('IMAPSieve: moving into Junk reports spam, out of Junk ham, Junk to Trash nothing', async () => {
		await servers.writeMaildir('bob', 'INBOX', generateMessages({ seed: 9, count: 3 }));
		const client = imap('bob', { pass: 'bob-pw' });
		await client.connect();
		try {
			await client.mailboxOpen('INBOX');
			const uids = (await client.search({ all: true }, { uid: true })) as number[];
			await client.messageMove(String(uids[0]), 'Junk', { uid: true });
			await client.messageMove(String(uids[1]), 'Junk', { uid: true });
			await client.mailboxOpen('Junk');
			const junk = (await client.search({ header: { 'message-id': '<gen-9-0@example.test>' } }, { uid: true })) as number[];
			await client.messageMove(String(junk[0]), 'INBOX', { uid: true });
			await client.messageMove('1:*', 'Trash', { uid: false });
		} finally {
			await client.logout();
		}
		const lines = servers.learnLog();
		expect(lines.filter((l) => / spam user=bob mailbox=Junk cause=COPY message-id=<gen-9-[01]@example\.test>/.test(l))).toHaveLength(2);
		expect(lines.filter((l) => / ham user=bob mailbox=INBOX cause=COPY message-id=<gen-9-0@example\.test>/.test(l))).toHaveLength(1);
		expect(lines.filter((l) => /mailbox=Trash/.test(l))).toHaveLength(0);
	});

	it('POP3: USER/PASS after STLS, APOP with the greeting timestamp, POP3S', async () => {
		await servers.writeMaildir('catchall', 'INBOX', generateMessages({ seed: 11, count: 4 }));
		const plain = await LineClient.connect(servers.ports.pop3, false, ca);
		const greeting = await plain.read();
		const timestamp = /<[^>]+>/.exec(greeting)?.[0];
		expect(timestamp).toBeDefined();
		expect(await plain.command('CAPA', multiline)).toContain('STLS');
		expect(await plain.command('STLS')).toMatch(/^\+OK/);
		await plain.startTls(ca);
		expect(await plain.command('USER catchall')).toMatch(/^\+OK/);
		expect(await plain.command('PASS catchall-pw')).toMatch(/^\+OK/);
		expect(await plain.command('STAT')).toMatch(/^\+OK 4 \d+/);
		expect(await plain.command('RETR 1', multiline)).toContain('Message-ID: <gen-11-0@example.test>');
		await plain.command('QUIT');
		plain.close();

		const apop = await LineClient.connect(servers.ports.pop3, false, ca);
		const stamp = /<[^>]+>/.exec(await apop.read())?.[0] ?? '';
		const wrong = crypto.createHash('md5').update(`${stamp}not-the-pw`).digest('hex');
		expect(await apop.command(`APOP catchall ${wrong}`)).toMatch(/^-ERR/);
		apop.close();
		const apop2 = await LineClient.connect(servers.ports.pop3, false, ca);
		const stamp2 = /<[^>]+>/.exec(await apop2.read())?.[0] ?? '';
		expect(await apop2.command(`APOP catchall ${crypto.createHash('md5').update(`${stamp2}catchall-pw`).digest('hex')}`)).toMatch(/^\+OK/);
		await apop2.command('QUIT');
		apop2.close();

		const pop3s = await LineClient.connect(servers.ports.pop3s, true, ca);
		expect(await pop3s.read()).toMatch(/^\+OK/);
		expect(await pop3s.command('USER catchall')).toMatch(/^\+OK/);
		expect(await pop3s.command('PASS catchall-pw')).toMatch(/^\+OK/);
		expect(await pop3s.command('UIDL', multiline)).toMatch(/^\+OK[\s\S]*\r\n4 \S+\r\n\.\r\n$/);
		await pop3s.command('QUIT');
		pop3s.close();
	});

	it('ManageSieve greets with its capabilities', async () => {
		const sieve = await LineClient.connect(servers.ports.sieve, false, ca);
		const greeting = await sieve.read((t) => /\r\nOK[^\r\n]*\r\n$/.test(t));
		expect(greeting).toMatch(/"IMPLEMENTATION" "Dovecot[^"]*Pigeonhole"/);
		expect(greeting).toMatch(/"SIEVE" "[^"]*vacation/);
		sieve.close();
	});

	it('SMTP: STARTTLS with AUTH PLAIN and implicit TLS with XOAUTH2 are captured with their envelope', async () => {
		const starttls = nodemailer.createTransport({ host: '127.0.0.1', port: servers.ports.smtp, secure: false, requireTLS: true, tls: { ca, servername: 'localhost' }, auth: { user: 'alice', pass: 'alice-pw' } });
		await starttls.sendMail({ from: 'alice@example.test', to: 'bob@example.test', bcc: 'audit@example.test', subject: 'Hi', text: 'Hello' });
		const xoauth = nodemailer.createTransport({ host: '127.0.0.1', port: servers.ports.smtps, secure: true, tls: { ca, servername: 'localhost' }, auth: { type: 'OAuth2', user: 'bob', accessToken: 'valid-token-bob' } });
		await xoauth.sendMail({ from: 'bob@example.test', to: 'alice@example.test', subject: 'Token', text: 'via XOAUTH2' });
		const [first, second] = await servers.smtp.waitFor(2);
		expect(first).toMatchObject({ mailFrom: 'alice@example.test', rcptTo: ['bob@example.test', 'audit@example.test'], authUser: 'alice', secure: true });
		expect(first.raw.toString()).not.toMatch(/^Bcc:/m);
		expect(second).toMatchObject({ authUser: 'bob', secure: true, port: servers.ports.smtps });
		const wrong = nodemailer.createTransport({ host: '127.0.0.1', port: servers.ports.smtp, secure: false, tls: { ca, servername: 'localhost' }, auth: { user: 'alice', pass: 'bad' } });
		await expect(wrong.sendMail({ from: 'alice@example.test', to: 'bob@example.test', text: 'x' })).rejects.toMatchObject({ code: 'EAUTH', responseCode: 535 });
		for (const t of [starttls, xoauth, wrong]) t.close();
	});

	it('OAuth2 token endpoint: client credentials give a token IMAP accepts; a wrong secret gets 401', async () => {
		servers.oauth.addClient({ tenant: 'tenant-1', clientId: 'app-1', clientSecret: 'app-secret-1', user: 'alice' });
		const post = (secret: string) =>
			fetch(`${servers.oauth.url}/tenant-1/oauth2/v2.0/token`, {
				method: 'POST',
				headers: { 'content-type': 'application/x-www-form-urlencoded' },
				body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'app-1', client_secret: secret, scope: 'https://outlook.office365.com/.default' }),
			});
		const bad = await post('wrong');
		expect(bad.status).toBe(401);
		expect(((await bad.json()) as { error: string }).error).toBe('invalid_client');
		const good = (await (await post('app-secret-1')).json()) as { access_token: string };
		const client = imap('alice', { accessToken: good.access_token });
		await client.connect();
		await client.logout();
		expect(JSON.stringify(servers.oauth.requests)).not.toContain('app-secret-1');
	});
});
