/**
 * The test servers themselves, checked with real clients: later tests rely on each of these.
 * Needs root (Dovecot is installed with apt-get when missing).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import nodemailer from 'nodemailer';
import { DEFAULT_OAUTH_CLIENT, OAuthServer, startMailServers, type MailServers } from '../servers';
import { generateMessages } from '../fixtures/mailgen';

/** A minimal line-based client for the raw IMAP, POP3 and ManageSieve checks. */
class LineClient {
	private buffer = '';
	private wake?: () => void;
	private closed = false;

	private constructor(private socket: net.Socket) {
		this.listen(socket);
	}

	static connect(port: number, secure: boolean, ca: string): Promise<LineClient> {
		return new Promise((resolve, reject) => {
			const socket = secure ? tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }) : net.connect({ host: '127.0.0.1', port });
			socket.once(secure ? 'secureConnect' : 'connect', () => resolve(new LineClient(socket)));
			socket.once('error', reject);
		});
	}

	private listen(socket: net.Socket): void {
		socket.setEncoding('utf8');
		socket.on('data', (chunk: string) => {
			this.buffer += chunk;
			this.wake?.();
		});
		socket.on('close', () => {
			this.closed = true;
			this.wake?.();
		});
		socket.on('error', () => undefined);
	}

	/** Reads until `done(buffer)` holds; returns and consumes the buffer. */
	async read(done: (text: string) => boolean = (t) => t.endsWith('\r\n')): Promise<string> {
		while (!done(this.buffer)) {
			if (this.closed) throw new Error(`connection closed; got ${JSON.stringify(this.buffer)}`);
			await new Promise<void>((resolve) => (this.wake = resolve));
		}
		const text = this.buffer;
		this.buffer = '';
		return text;
	}

	command(line: string, done?: (text: string) => boolean): Promise<string> {
		this.socket.write(`${line}\r\n`);
		return this.read(done);
	}

	async startTls(ca: string): Promise<void> {
		this.socket.removeAllListeners('data');
		this.socket.removeAllListeners('close');
		const secure = tls.connect({ socket: this.socket, ca, servername: 'localhost' });
		await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
		this.socket = secure;
		this.listen(secure);
	}

	get encrypted(): boolean {
		return this.socket instanceof tls.TLSSocket;
	}

	close(): void {
		this.socket.destroy();
	}
}

const pop3Multiline = (t: string) => t.startsWith('-ERR') || t.endsWith('\r\n.\r\n');
const imapTagged = (tag: string) => (t: string) => new RegExp(`(^|\r\n)${tag} (OK|NO|BAD)[^\r\n]*\r\n$`).test(t);
const md5 = (text: string) => crypto.createHash('md5').update(text).digest('hex');

describe('test mail servers', () => {
	let servers: MailServers;
	let ca: string;
	const imap = (user: string, auth: { pass?: string; accessToken?: string }, more: Partial<ImapFlowOptions> = {}) =>
		new ImapFlow({ host: '127.0.0.1', port: servers.ports.imaps, secure: true, tls: { ca, servername: 'localhost' }, auth: { user, ...auth }, logger: false, ...more });

	beforeAll(async () => {
		servers = await startMailServers();
		ca = fs.readFileSync(servers.certPath, 'utf8');
	}, 300_000); // a fresh machine installs Dovecot first
	afterAll(async () => {
		await servers?.stop();
		if (servers) expect(fs.existsSync(servers.stateDir)).toBe(false);
	}, 30_000);

	it('IMAP: STARTTLS is offered and the plain connection is upgraded; IMAPS; the generated certificate is trusted through ca', async () => {
		const raw = await LineClient.connect(servers.ports.imap, false, ca);
		expect(await raw.read()).toMatch(/^\* OK \[CAPABILITY [^\]]*STARTTLS[^\]]*AUTH=PLAIN/);
		raw.close();

		const starttls = imap('alice', { pass: 'alice-pw' }, { port: servers.ports.imap, secure: false, doSTARTTLS: true });
		await starttls.connect();
		expect(starttls.secureConnection).toBe(true);
		for (const cap of ['IDLE', 'MOVE', 'UIDPLUS', 'CONDSTORE', 'QRESYNC', 'SPECIAL-USE']) expect(starttls.capabilities.has(cap)).toBe(true);
		await starttls.logout();

		const imaps = imap('alice', { pass: 'alice-pw' });
		await imaps.connect();
		expect(imaps.secureConnection).toBe(true);
		await imaps.logout();
		await servers.dovecotLogMatching([/imap-login: Info: Login: user=<alice>, method=PLAIN, .*, TLS,/]);
	});

	it('IMAP: wrong passwords get AUTHENTICATIONFAILED, again and again, and a right one still works', async () => {
		for (let i = 0; i < 4; i++) {
			await expect(imap('alice', { pass: `wrong-${i}` }).connect()).rejects.toMatchObject({ authenticationFailed: true, serverResponseCode: 'AUTHENTICATIONFAILED' });
		}
		await expect(imap('nobody', { pass: 'x' }).connect()).rejects.toMatchObject({ authenticationFailed: true });
		const client = imap('alice', { pass: 'alice-pw' });
		await client.connect();
		await client.logout();
	});

	it('IMAP: OAUTHBEARER and XOAUTH2 with valid-token-alice, checked by the local introspection endpoint; bad tokens fail', async () => {
		const before = servers.oauthRequests.length;
		const bearer = imap('alice', { accessToken: 'valid-token-alice' });
		await bearer.connect();
		await bearer.logout();

		const xoauth2 = (user: string, token: string) => Buffer.from(`user=${user}\x01auth=Bearer ${token}\x01\x01`).toString('base64');
		const client = await LineClient.connect(servers.ports.imaps, true, ca);
		await client.read();
		// A rejected XOAUTH2 gets a JSON challenge first; an empty answer ends the exchange with NO.
		expect(await client.command(`A1 AUTHENTICATE XOAUTH2 ${xoauth2('alice', 'valid-token-bob')}`, (t) => /^\+ |(^|\r\n)A1 /.test(t))).toMatch(/^\+ |A1 NO/);
		expect(await client.command('', imapTagged('A1'))).toMatch(/A1 NO \[AUTHENTICATIONFAILED\]/);
		expect(await client.command(`A2 AUTHENTICATE XOAUTH2 ${xoauth2('alice', 'valid-token-alice')}`, imapTagged('A2'))).toMatch(/A2 OK/);
		client.close();

		for (const accessToken of ['made-up', 'valid-token-bob', 'valid-token-nobody', '']) {
			await expect(imap('alice', { accessToken }).connect()).rejects.toMatchObject({ authenticationFailed: true });
		}
		const issued = servers.oauth.issueToken('alice');
		servers.oauth.revoke(issued);
		await expect(imap('alice', { accessToken: issued }).connect()).rejects.toMatchObject({ authenticationFailed: true });

		await servers.dovecotLogMatching([/Login: user=<alice>, method=OAUTHBEARER,/, /Login: user=<alice>, method=XOAUTH2,/]);
		const introspections = servers.oauthRequests.slice(before).filter((r) => r.path === '/introspect');
		expect(introspections.length).toBeGreaterThanOrEqual(3);
		expect(introspections[0]).toMatchObject({ method: 'POST', status: 200, fields: { token: '[redacted]' } });
		expect(introspections[0].userAgent).toMatch(/^dovecot-oauth2-passdb\//);
		expect(JSON.stringify(servers.oauthRequests)).not.toContain('valid-token-alice');
	});

	it('IMAP LIST shows the SPECIAL-USE folders, created and subscribed', async () => {
		const client = imap('bob', { pass: 'bob-pw' });
		await client.connect();
		try {
			const list = await client.list();
			const byUse = Object.fromEntries(list.filter((f) => f.specialUse && f.specialUseSource === 'extension').map((f) => [f.specialUse, f]));
			for (const [use, name] of [['\\Sent', 'Sent'], ['\\Drafts', 'Drafts'], ['\\Junk', 'Junk'], ['\\Trash', 'Trash'], ['\\Archive', 'Archive']]) {
				expect(byUse[use]).toMatchObject({ path: name, subscribed: true });
				expect(byUse[use].flags.has(use)).toBe(true);
			}
			expect(list.find((f) => f.path === 'INBOX')).toBeDefined();
		} finally {
			await client.logout();
		}
	});

	it('writeMaildir: messages appear over IMAP in order, with their flags, keywords and internal dates', async () => {
		const generated = [...generateMessages({ seed: 5, count: 12 })];
		expect(await servers.writeMaildir('alice', 'INBOX', generated)).toBe(12);
		const made = (n: number, flags: string[]) => ({
			raw: Buffer.from(`From: x@example.test\nTo: alice@example.test\nSubject: handmade ${n}\nMessage-ID: <handmade-${n}@example.test>\n\nline\n.\nend\n`),
			date: new Date(Date.UTC(2020, 0, n + 1, 12, 0, 0)),
			flags,
		});
		const handmade = [made(0, ['\\Draft']), made(1, ['\\Deleted', '\\Seen']), made(2, ['$Forwarded', 'Custom_label', '\\Flagged'])];
		expect(await servers.writeMaildir('alice', 'Archive', handmade)).toBe(3);
		expect(fs.readdirSync(`${servers.maildir('alice', 'Archive')}/cur`)).toHaveLength(3);
		expect(servers.maildir('alice', 'Archive')).toBe(`${servers.maildir('alice')}/.Archive`);

		const client = imap('alice', { pass: 'alice-pw' });
		await client.connect();
		try {
			const fetchAll = async (folder: string) => {
				await client.mailboxOpen(folder);
				const out = [];
				for await (const msg of client.fetch('1:*', { uid: true, envelope: true, flags: true, internalDate: true, size: true })) out.push(msg);
				return out;
			};
			const inbox = await fetchAll('INBOX');
			const flags = (f?: Set<string>) => [...(f ?? [])].filter((x) => x !== '\\Recent').sort();
			expect(inbox.map((m) => m.envelope?.messageId)).toEqual(generated.map((m) => m.messageId));
			expect(inbox.map((m) => flags(m.flags))).toEqual(generated.map((m) => [...m.flags].sort()));
			expect(inbox.map((m) => new Date(m.internalDate as Date).getTime())).toEqual(generated.map((m) => Math.floor(m.date.getTime() / 1000) * 1000));
			// RFC822.SIZE counts CRLF line ends: the W= part of the file name
			expect(inbox.map((m) => m.size)).toEqual(generated.map((m) => m.raw.toString('latin1').replace(/\r?\n/g, '\r\n').length));

			const archive = await fetchAll('Archive');
			expect(archive.map((m) => m.envelope?.messageId)).toEqual(['<handmade-0@example.test>', '<handmade-1@example.test>', '<handmade-2@example.test>']);
			expect(archive.map((m) => flags(m.flags))).toEqual([['\\Draft'], ['\\Deleted', '\\Seen'], ['$Forwarded', 'Custom_label', '\\Flagged'].sort()]);
			expect(archive.map((m) => new Date(m.internalDate as Date).toISOString())).toEqual(handmade.map((m) => m.date.toISOString()));
			// bare LF on disk, counted as CRLF by IMAP
			expect(archive.map((m) => m.size)).toEqual(handmade.map((m) => m.raw.length + m.raw.toString().split('\n').length - 1));
		} finally {
			await client.logout();
		}
	});

	it('IMAPSieve: MOVE into Junk logs spam with the Message-ID, out of Junk ham, Junk to Trash nothing', async () => {
		const messages = [...generateMessages({ seed: 9, count: 3 })];
		const [first, second] = messages.map((m) => m.messageId);
		await servers.writeMaildir('bob', 'INBOX', messages);
		const client = imap('bob', { pass: 'bob-pw' });
		await client.connect();
		try {
			await client.mailboxOpen('INBOX');
			const uidOf = async (messageId: string) => ((await client.search({ header: { 'message-id': messageId } }, { uid: true })) as number[])[0];
			expect(await client.messageMove(String(await uidOf(first)), 'Junk', { uid: true })).toBeTruthy();
			expect(await client.messageMove(String(await uidOf(second)), 'Junk', { uid: true })).toBeTruthy();
			await client.mailboxOpen('Junk');
			await client.messageMove(String(await uidOf(first)), 'INBOX', { uid: true });
			await client.messageMove(String(await uidOf(second)), 'Trash', { uid: true });
			await client.mailboxOpen('Trash');
			expect(await uidOf(second)).toBeGreaterThan(0);
		} finally {
			await client.logout();
		}
		const lines = await servers.learnLog();
		const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
		expect(lines).toHaveLength(3);
		expect(lines[0]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ spam user=bob mailbox=Junk cause=COPY message-id=${escape(first)}$`));
		expect(lines[1]).toMatch(new RegExp(` spam user=bob mailbox=Junk cause=COPY message-id=${escape(second)}$`));
		expect(lines[2]).toMatch(new RegExp(` ham user=bob mailbox=INBOX cause=COPY message-id=${escape(first)}$`));
	});

	it('POP3: USER/PASS, STLS, APOP with MD5(greeting timestamp + password), POP3S', async () => {
		const messages = [...generateMessages({ seed: 11, count: 4 })];
		await servers.writeMaildir('catchall', 'INBOX', messages);

		const plain = await LineClient.connect(servers.ports.pop3, false, ca);
		const stamp = /<[^>]+@[^>]+>/.exec(await plain.read())?.[0] ?? '';
		expect(stamp).not.toBe('');
		const capa = await plain.command('CAPA', pop3Multiline);
		for (const cap of ['STLS', 'USER', 'UIDL', 'SASL']) expect(capa).toMatch(new RegExp(`\r\n${cap}\\b`));
		expect(await plain.command(`APOP catchall ${md5(`${stamp}not-the-password`)}`)).toMatch(/^-ERR/);
		expect(await plain.command(`APOP catchall ${md5(`${stamp}catchall-pw`)}`)).toMatch(/^\+OK/);
		expect(await plain.command('STAT')).toMatch(/^\+OK 4 \d+\r\n$/);
		await plain.command('QUIT');
		plain.close();

		const userPass = await LineClient.connect(servers.ports.pop3, false, ca);
		await userPass.read();
		expect(await userPass.command('STLS')).toMatch(/^\+OK/);
		await userPass.startTls(ca);
		expect(userPass.encrypted).toBe(true);
		expect(await userPass.command('USER catchall')).toMatch(/^\+OK/);
		expect(await userPass.command('PASS wrong')).toMatch(/^-ERR \[AUTH\]/);
		expect(await userPass.command('USER catchall')).toMatch(/^\+OK/);
		expect(await userPass.command('PASS catchall-pw')).toMatch(/^\+OK/);
		expect(await userPass.command('RETR 1', pop3Multiline)).toContain(`Message-ID: ${messages[0].messageId}`);
		await userPass.command('QUIT');
		userPass.close();

		const pop3s = await LineClient.connect(servers.ports.pop3s, true, ca);
		expect(await pop3s.read()).toMatch(/^\+OK/);
		expect(await pop3s.command('USER catchall')).toMatch(/^\+OK/);
		expect(await pop3s.command('PASS catchall-pw')).toMatch(/^\+OK/);
		expect(await pop3s.command('UIDL', pop3Multiline)).toMatch(/^\+OK[^\r]*\r\n1 \S+\r\n2 \S+\r\n3 \S+\r\n4 \S+\r\n\.\r\n$/);
		await pop3s.command('QUIT');
		pop3s.close();
	});

	it('ManageSieve greets with its capabilities and accepts a login', async () => {
		const sieve = await LineClient.connect(servers.ports.sieve, false, ca);
		const greeting = await sieve.read((t) => /(^|\r\n)OK[^\r\n]*\r\n$/.test(t));
		expect(greeting).toMatch(/"IMPLEMENTATION" "Dovecot[^"]*Pigeonhole"/);
		expect(greeting).toMatch(/"SIEVE" "[^"]*fileinto[^"]*"/);
		expect(greeting).toMatch(/"SASL" "[^"]*PLAIN/);
		expect(greeting).toMatch(/"STARTTLS"/);
		const plain = Buffer.from('\0bob\0bob-pw').toString('base64');
		expect(await sieve.command(`AUTHENTICATE "PLAIN" "${plain}"`, (t) => /(^|\r\n)(OK|NO)[^\r\n]*\r\n$/.test(t))).toMatch(/(^|\r\n)OK/);
		expect(await sieve.command('LISTSCRIPTS', (t) => /(^|\r\n)(OK|NO)[^\r\n]*\r\n$/.test(t))).toMatch(/^OK/);
		await sieve.command('LOGOUT', (t) => /(^|\r\n)OK[^\r\n]*\r\n$/.test(t));
		sieve.close();
	});

	it('SMTP: STARTTLS + PLAIN and implicit TLS + XOAUTH2 are captured with their envelope; wrong password or token is EAUTH', async () => {
		const starttls = nodemailer.createTransport({ host: '127.0.0.1', port: servers.ports.smtp, secure: false, requireTLS: true, tls: { ca, servername: 'localhost' }, auth: { user: 'alice', pass: 'alice-pw' } });
		const xoauth = nodemailer.createTransport({ host: '127.0.0.1', port: servers.ports.smtps, secure: true, tls: { ca, servername: 'localhost' }, auth: { type: 'OAuth2', user: 'bob', accessToken: 'valid-token-bob' } });
		const wrong = nodemailer.createTransport({ host: '127.0.0.1', port: servers.ports.smtp, secure: false, requireTLS: true, tls: { ca, servername: 'localhost' }, auth: { user: 'alice', pass: 'bad' } });
		const badToken = nodemailer.createTransport({ host: '127.0.0.1', port: servers.ports.smtps, secure: true, tls: { ca, servername: 'localhost' }, auth: { type: 'OAuth2', user: 'bob', accessToken: 'valid-token-alice' } });
		try {
			await starttls.sendMail({ from: 'alice@example.test', to: 'bob@example.test', bcc: 'audit@example.test', subject: 'Hi', text: 'Hello\n.\nBye' });
			await xoauth.sendMail({ from: 'bob@example.test', to: 'alice@example.test', subject: 'Token', text: 'via XOAUTH2' });
			await expect(wrong.sendMail({ from: 'alice@example.test', to: 'bob@example.test', text: 'x' })).rejects.toMatchObject({ code: 'EAUTH', responseCode: 535 });
			await expect(badToken.sendMail({ from: 'bob@example.test', to: 'alice@example.test', text: 'x' })).rejects.toMatchObject({ code: 'EAUTH', responseCode: 535 });
		} finally {
			for (const t of [starttls, xoauth, wrong, badToken]) t.close();
		}
		const [first, second] = await servers.waitForMail(2);
		expect(servers.received).toHaveLength(2);
		expect(first).toMatchObject({ seq: 1, mailFrom: 'alice@example.test', rcptTo: ['bob@example.test', 'audit@example.test'], authUser: 'alice', authMethod: 'PLAIN', secure: true, tlsVersion: 'TLSv1.3', port: servers.ports.smtp });
		expect(first.raw.toString()).toMatch(/^Subject: Hi\r$/m);
		expect(first.raw.toString()).not.toMatch(/^Bcc:/m);
		expect(first.raw.toString()).toMatch(/\r\nHello\r\n\.\r\nBye/); // dot-unstuffed
		expect(fs.readFileSync(first.emlPath).equals(first.raw)).toBe(true);
		expect(JSON.parse(fs.readFileSync(first.emlPath.replace(/\.eml$/, '.json'), 'utf8'))).toMatchObject({ authMethod: 'PLAIN', rcptTo: ['bob@example.test', 'audit@example.test'] });
		expect(second).toMatchObject({ seq: 2, mailFrom: 'bob@example.test', authUser: 'bob', authMethod: 'XOAUTH2', secure: true, port: servers.ports.smtps });
	});

	it('OAuth2 token endpoint: client credentials give a token IMAP accepts; a wrong secret gets 401 with an AADSTS error', async () => {
		const { tenant, clientId, clientSecret } = DEFAULT_OAUTH_CLIENT;
		const post = (secret: string) =>
			fetch(servers.oauth.tokenUrl(tenant), {
				method: 'POST',
				headers: { 'content-type': 'application/x-www-form-urlencoded' },
				body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret, scope: 'https://outlook.office365.com/.default' }),
			});
		const bad = await post('wrong-secret');
		expect(bad.status).toBe(401);
		const badBody = (await bad.json()) as { error: string; error_description: string; error_codes: number[] };
		expect(badBody).toMatchObject({ error: 'invalid_client', error_codes: [7000215] });
		expect(badBody.error_description).toMatch(/^AADSTS7000215: /);

		const good = await post(clientSecret);
		expect(good.status).toBe(200);
		const token = (await good.json()) as { access_token: string; token_type: string; expires_in: number };
		expect(token).toMatchObject({ token_type: 'Bearer', expires_in: expect.any(Number) });
		const client = imap('alice', { accessToken: token.access_token });
		await client.connect();
		await client.logout();

		const tokenRequests = servers.oauthRequests.filter((r) => r.path === `/${tenant}/oauth2/v2.0/token`);
		expect(tokenRequests.map((r) => r.status)).toEqual([401, 200]);
		expect(tokenRequests[1].fields).toEqual({ grant_type: 'client_credentials', client_id: clientId, client_secret: '[redacted]', scope: 'https://outlook.office365.com/.default' });
		const recorded = JSON.stringify(servers.oauthRequests);
		for (const secret of [clientSecret, 'wrong-secret', token.access_token]) expect(recorded).not.toContain(secret);
	});

	it('OAuth2 server over HTTPS when given a key and certificate', async () => {
		const secure = await OAuthServer.start({ users: ['alice'], tls: { key: fs.readFileSync(servers.dovecot.keyPath), cert: ca } });
		try {
			expect(secure.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
			const answer = await new Promise<{ status?: number; body: string }>((resolve, reject) => {
				const req = https.request(secure.introspectionUrl, { method: 'POST', ca, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
					let body = '';
					res.setEncoding('utf8');
					res.on('data', (c: string) => (body += c));
					res.on('end', () => resolve({ status: res.statusCode, body }));
				});
				req.on('error', reject);
				req.end('token=valid-token-alice');
			});
			expect(answer.status).toBe(200);
			expect(JSON.parse(answer.body)).toMatchObject({ active: true, username: 'alice' });
		} finally {
			await secure.stop();
		}
	});
});
