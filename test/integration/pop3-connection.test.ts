/**
 * The POP3 connection check against the real Dovecot: every security mode with every login
 * method the server offers, and a clear, distinct message for each mistake, within seconds.
 */
import fs from 'node:fs';
import net from 'node:net';
import type { Logger } from '../../lib/logger';
import type { Login, ProxySettings, ServerSettings } from '../../lib/connection/options';
import { checkPop3Connection } from '../../lib/pop3/check';
import type { Pop3LoginMethod } from '../../lib/pop3/connect';
import { startMailServers, type MailServers } from '../servers';
import { closedPort, listenOnLoopback } from '../servers/ports';
import { HttpConnectProxy, Socks5Proxy } from '../servers/proxy';

const PASSWORD = 'alice-pw';
const WRONG = 'wrong-Pa55word';
const PROXY_AUTH = { user: 'proxy-user', password: 'Proxy-Pa55' };

/**
 * Passes a POP3 session through to Dovecot and rewrites the server's lines: a server whose
 * greeting has no APOP timestamp, or whose CAPA lacks STLS, with the real Dovecot behind it.
 */
class Pop3Relay {
	private readonly server: net.Server;
	private readonly sockets = new Set<net.Socket>();
	port = 0;

	constructor(upstreamPort: number, rewrite: (line: string) => string | undefined) {
		this.server = net.createServer((client) => {
			const upstream = net.connect({ host: '127.0.0.1', port: upstreamPort });
			for (const s of [client, upstream]) {
				this.sockets.add(s);
				s.on('error', () => undefined);
				s.on('close', () => {
					client.destroy();
					upstream.destroy();
				});
			}
			let pending = '';
			upstream.on('data', (chunk: Buffer) => {
				pending += chunk.toString('latin1');
				const lines = pending.split('\n');
				pending = lines.pop() ?? '';
				const out = lines.map((l) => rewrite(l.replace(/\r$/, ''))).filter((l): l is string => l !== undefined);
				if (out.length) client.write(out.map((l) => `${l}\r\n`).join(''), 'latin1');
			});
			client.pipe(upstream);
		});
	}

	async listen(): Promise<this> {
		await listenOnLoopback(this.server);
		this.port = (this.server.address() as net.AddressInfo).port;
		return this;
	}

	stop(): Promise<void> {
		for (const s of this.sockets) s.destroy();
		return new Promise((resolve) => this.server.close(() => resolve()));
	}
}

describe('POP3 connection check against a real Dovecot', () => {
	let servers: MailServers;
	let ca: string;
	const messages: string[] = [];
	const logLines: string[] = [];
	const logger: Logger = {
		debug: (m) => logLines.push(m),
		info: (m) => logLines.push(m),
		warn: (m) => logLines.push(m),
		error: (m) => logLines.push(m),
	};

	const check = async (settings: Partial<ServerSettings>, login: Partial<Login> = { user: 'alice', password: PASSWORD }, apop?: Pop3LoginMethod) => {
		const result = await checkPop3Connection({ host: '127.0.0.1', security: 'tls', port: servers.ports.pop3s, ca, ...settings } as ServerSettings, login, { apop }, logger);
		messages.push(result.message, ...result.steps.map((s) => s.detail));
		return result;
	};

	beforeAll(async () => {
		servers = await startMailServers();
		ca = fs.readFileSync(servers.certPath, 'utf8');
		await servers.writeMaildir('alice', 'INBOX', [{ raw: Buffer.from('Subject: one\r\n\r\nbody\r\n') }, { raw: Buffer.from('Subject: two\r\n\r\nbody two\r\n') }]);
	});
	afterAll(async () => {
		await servers?.stop();
	});

	it('answers OK over POP3S step by step: TLS and certificate, CAPA, mechanism, STAT', async () => {
		const result = await check({});
		expect(result.ok).toBe(true);
		expect(result.steps.map((s) => s.step)).toEqual(['connect', 'tls', 'capabilities', 'login', 'inbox']);
		expect(result.message).toMatch(
			new RegExp(
				`^Connected to 127\\.0\\.0\\.1:${servers.ports.pop3s} \\(SSL/TLS\\); encrypted with TLSv1\\.3, certificate for localhost \\(self-signed\\), valid until \\d{4}-\\d\\d-\\d\\d; ` +
					'server supports CAPA, TOP, UIDL, RESP-CODES, PIPELINING, AUTH-RESP-CODE, USER, SASL PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER, APOP; ' +
					'logged in as "alice" with USER/PASS; maildrop has 2 messages, \\d+ bytes\\.$',
			),
		);
	});

	it('resolves a host name first and reports it', async () => {
		const result = await check({ host: 'localhost' });
		expect(result.ok).toBe(true);
		expect(result.steps[0]).toEqual({ step: 'resolve', ok: true, detail: expect.stringMatching(/^localhost is (127\.0\.0\.1|::1)$/) });
	});

	const modes: [ServerSettings['security'], 'pop3' | 'pop3s', RegExp][] = [
		['tls', 'pop3s', /\(SSL\/TLS\); encrypted with TLSv1\.3, certificate for localhost/],
		['starttls', 'pop3', /\(STARTTLS\); encrypted with TLSv1\.3, .* \(after STLS\)/],
		['starttls-optional', 'pop3', /\(STARTTLS if offered\); encrypted with TLSv1\.3, .* \(after STLS\)/],
		['none', 'pop3', /\(no encryption\); NOT encrypted;/],
	];
	it.each(modes)('security %s logs in with USER/PASS, APOP, APOP-if-offered and a token (XOAUTH2)', async (security, port, pattern) => {
		const settings = { security, port: servers.ports[port] };
		const cases: [Partial<Login>, Pop3LoginMethod | undefined, string][] = [
			[{ user: 'alice', password: PASSWORD }, 'password', 'USER/PASS'],
			[{ user: 'alice', password: PASSWORD }, 'apop', 'APOP'],
			[{ user: 'alice', password: PASSWORD }, 'apop-or-password', 'APOP'],
			[{ user: 'alice', accessToken: 'valid-token-alice' }, undefined, 'XOAUTH2'],
		];
		for (const [login, method, mechanism] of cases) {
			const result = await check(settings, login, method);
			expect(result.ok).toBe(true);
			expect(result.message).toMatch(pattern);
			expect(result.message).toContain(`logged in as "alice" with ${mechanism};`);
			if (security === 'starttls') expect(result.steps.find((s) => s.step === 'capabilities')?.detail).not.toContain('STLS');
		}
		await servers.dovecotLogMatching([/pop3-login: Info: Login: user=<alice>, method=APOP/, /pop3-login: Info: Login: user=<alice>, method=XOAUTH2/]);
	});

	it('names a wrong password, with USER/PASS and with APOP (a wrong digest)', async () => {
		const byPass = await check({}, { user: 'alice', password: WRONG }, 'password');
		expect(byPass.error).toMatchObject({ code: 'AUTH', field: 'password', step: 'login' });
		expect(byPass.steps.map((s) => [s.step, s.ok])).toEqual([['connect', true], ['tls', true], ['capabilities', true], ['login', false]]);
		expect(byPass.message).toMatch(/^Authentication failed: 127\.0\.0\.1 rejected the login for user "alice" \(server said: \[AUTH\] Authentication failed\.\)\..*Check User and Password/);

		const byApop = await check({}, { user: 'alice', password: WRONG }, 'apop');
		expect(byApop.error).toMatchObject({ code: 'AUTH', field: 'password', step: 'login' });
		expect(byApop.message).toMatch(/^Authentication failed: 127\.0\.0\.1 rejected the APOP login for user "alice".*check User and Password/);
		expect(byApop.message).not.toMatch(/\n\s+at /);
	});

	it('APOP against a greeting without timestamp: a clear error, or the reported fallback when allowed', async () => {
		const relay = await new Pop3Relay(servers.ports.pop3, (line) => line.replace(/ <[^<>]+>$/, '')).listen();
		try {
			const settings = { security: 'none' as const, port: relay.port };
			const strict = await check(settings, { user: 'alice', password: PASSWORD }, 'apop');
			expect(strict.error).toMatchObject({ code: 'AUTH', field: 'loginMethod', step: 'login' });
			expect(strict.message).toMatch(/^127\.0\.0\.1 offers no APOP: its greeting has no timestamp/);
			expect(strict.message).toContain('Choose Password as Login Method, or allow falling back');
			expect(strict.steps.find((s) => s.step === 'capabilities')?.detail).not.toContain('APOP');

			const fallback = await check(settings, { user: 'alice', password: PASSWORD }, 'apop-or-password');
			expect(fallback.ok).toBe(true);
			expect(fallback.message).toContain('logged in as "alice" with USER/PASS (the server offers no APOP, so Login Method "APOP if offered" fell back to the password);');
		} finally {
			await relay.stop();
		}
	});

	it('names rejected tokens: made up, revoked, expired, or another user\'s', async () => {
		const revoked = servers.oauth.issueToken('alice');
		expect((await check({}, { user: 'alice', accessToken: revoked })).ok).toBe(true);
		servers.oauth.revoke(revoked);
		const expired = servers.oauth.issueToken('alice', 0);
		for (const accessToken of ['made-up-token', revoked, expired, 'valid-token-bob']) {
			const result = await check({}, { user: 'alice', accessToken });
			expect(result.error).toMatchObject({ code: 'AUTH', field: 'accessToken', step: 'login' });
			expect(result.message).toMatch(/^Authentication failed: 127\.0\.0\.1 rejected the access token for user "alice".*sign in again/);
			expect(result.message).not.toContain(accessToken);
			expect(result.message).not.toContain(Buffer.from(`user=alice\x01auth=Bearer ${accessToken}\x01\x01`).toString('base64'));
		}
	});

	it('names a closed port, TLS spoken to a plain port and plain spoken to a TLS port, each differently', async () => {
		const closed = await closedPort();
		const refused = await check({ port: closed });
		expect(refused.error).toMatchObject({ code: 'CONNECTION_REFUSED', field: 'port', step: 'connect' });
		expect(refused.message).toContain(`Connection refused by 127.0.0.1:${closed}: no POP3 server is listening on that port. Check Port and Security: the usual ports are 995 for SSL/TLS and 110 for STARTTLS.`);

		const tlsOnPlain = await check({ port: servers.ports.pop3, security: 'tls' });
		expect(tlsOnPlain.error).toMatchObject({ code: 'TLS', field: 'security', step: 'tls' });
		expect(tlsOnPlain.message).toMatch(/does not speak TLS on port \d+\. Choose STARTTLS for a plain port such as 110, or the SSL\/TLS port 995\./);

		const plainOnTls = await check({ port: servers.ports.pop3s, security: 'none', timeoutMs: 1500 });
		expect(plainOnTls.error).toMatchObject({ code: 'TIMEOUT', field: 'security', step: 'greeting' });
		expect(plainOnTls.steps).toEqual([{ step: 'connect', ok: false, detail: plainOnTls.message }]);
		expect(plainOnTls.message).toMatch(/accepted the connection but sent no greeting in time\. The port may expect TLS from the start: choose SSL\/TLS \(port 995\)/);
	});

	it('requires STLS when Security is STARTTLS, and goes on unencrypted only with STARTTLS if offered', async () => {
		const relay = await new Pop3Relay(servers.ports.pop3, (line) => (line === 'STLS' ? undefined : line)).listen();
		try {
			const required = await check({ security: 'starttls', port: relay.port });
			expect(required.error).toMatchObject({ code: 'STARTTLS_UNAVAILABLE', field: 'security', step: 'tls' });
			expect(required.steps.map((s) => [s.step, s.ok])).toEqual([['connect', true], ['tls', false]]);
			expect(required.message).toMatch(/does not offer STLS \(STARTTLS for POP3\)\. Choose SSL\/TLS with its port \(usually 995\)/);

			const optional = await check({ security: 'starttls-optional', port: relay.port });
			expect(optional.ok).toBe(true);
			expect(optional.message).toContain('NOT encrypted: the server offers no STLS;');
		} finally {
			await relay.stop();
		}
	});

	it('rejects the self-signed certificate unless the user opts out', async () => {
		const strict = await check({ ca: undefined });
		expect(strict.error).toMatchObject({ code: 'TLS_CERTIFICATE', field: 'allowSelfSigned' });
		expect((await check({ ca: undefined, allowUnauthorizedCerts: true })).ok).toBe(true);
		const viaStls = await check({ ca: undefined, security: 'starttls', port: servers.ports.pop3 });
		expect(viaStls.error).toMatchObject({ code: 'TLS_CERTIFICATE', step: 'tls' });
	});

	it('gives up on an endless answer to CAPA (read before STLS) instead of growing without end', async () => {
		const LIMIT = 64 * 1024 * 1024;
		let sent = 0;
		let closed!: () => void;
		const gone = new Promise<void>((resolve) => (closed = resolve));
		const flood = net.createServer((socket) => {
			socket.on('error', () => undefined);
			socket.on('close', closed);
			socket.write('+OK flood ready\r\n');
			socket.once('data', () => {
				socket.write('+OK capabilities follow\r\n');
				const chunk = Buffer.alloc(64 * 1024, 'X');
				const more = () => {
					while (!socket.destroyed && sent < LIMIT) {
						sent += chunk.length;
						if (!socket.write(chunk)) return void socket.once('drain', more);
					}
				};
				more();
			});
		});
		await listenOnLoopback(flood);
		try {
			const result = await check({ port: (flood.address() as net.AddressInfo).port, security: 'starttls', timeoutMs: 30_000 });
			expect(result.error).toMatchObject({ code: 'PROTOCOL', causeCode: 'TOO_LARGE' });
			expect(result.error?.message).toContain('an answer to CAPA longer than 65536 bytes');
			await gone;
			expect(sent).toBeLessThan(LIMIT);
		} finally {
			flood.close();
		}
	});

	it('names a server that is not POP3', async () => {
		const fake = net.createServer((socket) => socket.end('SSH-2.0-OpenSSH_9.2\r\n'));
		await listenOnLoopback(fake);
		const { port } = fake.address() as net.AddressInfo;
		try {
			const result = await check({ port, security: 'none', timeoutMs: 1500 });
			expect(result.error).toMatchObject({ code: 'PROTOCOL', field: 'port' });
			expect(result.message).toContain(`127.0.0.1:${port} (no encryption) did not answer like a POP3 server ("SSH-2.0-OpenSSH_9.2")`);
		} finally {
			fake.close();
		}
	});

	it('names missing settings by their field', async () => {
		expect((await check({ host: '' })).error).toMatchObject({ code: 'CONFIG', field: 'host' });
		expect((await check({}, { user: 'alice', password: '' })).error).toMatchObject({ code: 'CONFIG', field: 'password' });
	});

	describe('through proxies', () => {
		let socksOpen: Socks5Proxy;
		let socksAuth: Socks5Proxy;
		let httpAuth: HttpConnectProxy;
		const via = (proxy: ProxySettings, settings: Partial<ServerSettings> = {}) => check({ proxy, ...settings });

		beforeAll(async () => {
			socksOpen = await new Socks5Proxy().listen();
			socksAuth = await new Socks5Proxy(PROXY_AUTH).listen();
			httpAuth = await new HttpConnectProxy(PROXY_AUTH).listen();
		});
		afterAll(async () => {
			await Promise.all([socksOpen, socksAuth, httpAuth].map((p) => p?.stop()));
		});

		it('checks the certificate against the server configured by IP address, not the proxy', async () => {
			// 127.0.0.2 reaches the same server, whose certificate names localhost and 127.0.0.1 only
			for (const security of ['tls', 'starttls'] as const) {
				const port = security === 'tls' ? servers.ports.pop3s : servers.ports.pop3;
				const other = await via({ type: 'socks5', host: '127.0.0.1', port: socksOpen.port }, { host: '127.0.0.2', security, port });
				expect({ security, error: other.error?.code }).toEqual({ security, error: 'TLS_CERTIFICATE' });
				expect((await via({ type: 'socks5', host: '127.0.0.1', port: socksOpen.port }, { host: '127.0.0.2', security, port, allowUnauthorizedCerts: true })).ok).toBe(true);
			}
			socksOpen.tunnels.length = 0;
		});

		it('logs in through SOCKS5 (with and without a proxy login) and HTTP CONNECT, and the proxy carried it', async () => {
			const open = await via({ type: 'socks5', host: '127.0.0.1', port: socksOpen.port });
			expect(open.ok).toBe(true);
			expect(open.steps.map((s) => s.step)).toEqual(['proxy', 'connect', 'tls', 'capabilities', 'login', 'inbox']);
			expect(open.message).toMatch(new RegExp(`^Connected to 127\\.0\\.0\\.1:${servers.ports.pop3s} \\(SSL/TLS\\); through the SOCKS5 proxy 127\\.0\\.0\\.1:${socksOpen.port}; encrypted with TLSv1\\.3`));
			expect(socksOpen.tunnels).toEqual([{ target: `127.0.0.1:${servers.ports.pop3s}`, allowed: true }]);

			const withLogin = await via({ type: 'socks5', host: `127.0.0.1:${socksAuth.port}`, ...PROXY_AUTH }, { security: 'starttls', port: servers.ports.pop3 });
			expect(withLogin.ok).toBe(true);
			expect(withLogin.message).toContain('(after STLS)');
			expect(socksAuth.tunnels).toEqual([{ target: `127.0.0.1:${servers.ports.pop3}`, allowed: true }]);

			const http = await via({ type: 'http', host: '127.0.0.1', port: httpAuth.port, ...PROXY_AUTH }, { security: 'tls' });
			expect(http.ok).toBe(true);
			expect(http.message).toContain(`through the HTTP CONNECT proxy 127.0.0.1:${httpAuth.port}`);
			expect(httpAuth.tunnels).toEqual([{ target: `127.0.0.1:${servers.ports.pop3s}`, allowed: true }]);

			// the server speaks first on a plain connection (STLS, or none): the tunnel must be read at once
			for (const security of ['starttls', 'none'] as const) {
				const plain = await via({ type: 'http', host: '127.0.0.1', port: httpAuth.port, ...PROXY_AUTH }, { security, port: servers.ports.pop3, timeoutMs: 15_000 });
				expect({ security, ok: plain.ok, error: plain.error?.message }).toEqual({ security, ok: true, error: undefined });
			}
		});

		it('names the proxy step when the proxy refuses the login, is unreachable, or refuses the tunnel', async () => {
			for (const [type, proxy] of [['socks5', socksAuth], ['http', httpAuth]] as const) {
				const refused = await via({ type, host: '127.0.0.1', port: proxy.port, user: PROXY_AUTH.user, password: 'wrong-proxy-pw' });
				expect(refused.error).toMatchObject({ code: 'PROXY', step: 'proxy', field: 'proxyPassword' });
				expect(refused.steps).toEqual([{ step: 'proxy', ok: false, detail: refused.message }]);
				expect(refused.message).toMatch(/proxy 127\.0\.0\.1:\d+ refused the proxy login for "proxy-user".*Check Proxy User and Proxy Password/);
				expect(refused.message).not.toContain('wrong-proxy-pw');
			}
			const closed = await closedPort();
			const unreachable = await via({ type: 'http', host: '127.0.0.1', port: closed });
			expect(unreachable.error).toMatchObject({ code: 'PROXY', field: 'proxyHost' });
			expect(unreachable.message).toContain(`The HTTP CONNECT proxy 127.0.0.1:${closed} cannot be reached (ECONNREFUSED)`);

			const deadTarget = await closedPort();
			for (const [type, port] of [['socks5', socksOpen.port], ['http', httpAuth.port]] as const) {
				const noTunnel = await via({ type, host: '127.0.0.1', port, ...PROXY_AUTH }, { port: deadTarget });
				expect(noTunnel.error).toMatchObject({ code: 'PROXY', step: 'proxy' });
				expect(noTunnel.message).toContain(`did not open a tunnel to 127.0.0.1:${deadTarget}`);
			}
		});
	});

	it('never shows a password, token or proxy password in any answer or log line', () => {
		expect(messages.length).toBeGreaterThan(40);
		expect(logLines.length).toBeGreaterThan(40);
		const secrets = [PASSWORD, WRONG, 'valid-token-alice', 'valid-token-bob', 'made-up-token', PROXY_AUTH.password, 'wrong-proxy-pw'];
		for (const text of [...messages, ...logLines]) {
			for (const secret of secrets) {
				expect(text).not.toContain(secret);
				expect(text).not.toContain(Buffer.from(secret).toString('base64'));
			}
		}
		expect(logLines).toContain('pop3: C: PASS [hidden]');
		expect(logLines.some((l) => /^pop3: C: APOP alice \[digest\]$/.test(l))).toBe(true);
	});
});
