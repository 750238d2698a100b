/**
 * IMAP through SOCKS5 and HTTP CONNECT proxies on loopback, and what the check says when the
 * proxy is unreachable or refuses the login.
 */
import fs from 'node:fs';
import { checkImapConnection } from '../../lib/imap/check';
import type { ProxySettings, ServerSettings } from '../../lib/connection/options';
import { startMailServers, type MailServers } from '../servers';
import { closedPort } from '../servers/ports';
import { HttpConnectProxy, Socks5Proxy } from '../servers/proxy';

describe('IMAP through a proxy', () => {
	let servers: MailServers;
	let ca: string;
	let socksOpen: Socks5Proxy;
	let socksAuth: Socks5Proxy;
	let httpAuth: HttpConnectProxy;
	const auth = { user: 'proxy-user', password: 'Proxy-Pa55' };

	const check = (proxy: ProxySettings, settings: Partial<ServerSettings> = {}) =>
		checkImapConnection({ host: '127.0.0.1', port: servers.ports.imaps, security: 'tls', ca, proxy, ...settings }, { user: 'alice', password: 'alice-pw' });

	beforeAll(async () => {
		servers = await startMailServers();
		ca = fs.readFileSync(servers.certPath, 'utf8');
		socksOpen = await new Socks5Proxy().listen();
		socksAuth = await new Socks5Proxy(auth).listen();
		httpAuth = await new HttpConnectProxy(auth).listen();
	});
	afterAll(async () => {
		await Promise.all([socksOpen, socksAuth, httpAuth].map((p) => p?.stop()));
		await servers?.stop();
	});

	it('logs in through SOCKS5 without and with a proxy login, and the proxy carried the connection', async () => {
		const open = await check({ type: 'socks5', host: '127.0.0.1', port: socksOpen.port });
		expect(open.ok).toBe(true);
		expect(open.steps.map((s) => s.step)).toEqual(['proxy', 'connect', 'tls', 'login', 'capabilities', 'inbox']);
		expect(open.message).toMatch(new RegExp(`^Connected to 127\\.0\\.0\\.1:${servers.ports.imaps} \\(SSL/TLS\\); through the SOCKS5 proxy 127\\.0\\.0\\.1:${socksOpen.port}; encrypted with TLSv1\\.3`));
		expect(socksOpen.tunnels).toEqual([{ target: `127.0.0.1:${servers.ports.imaps}`, allowed: true }]);

		const withLogin = await check({ type: 'socks5', host: `127.0.0.1:${socksAuth.port}`, ...auth }, { security: 'starttls', port: servers.ports.imap });
		expect(withLogin.ok).toBe(true);
		expect(socksAuth.tunnels).toEqual([{ target: `127.0.0.1:${servers.ports.imap}`, allowed: true }]);
	});

	it('checks the certificate against the server configured by IP address, not the proxy', async () => {
		// 127.0.0.2 reaches the same server, whose certificate names localhost and 127.0.0.1 only
		const other = await check({ type: 'socks5', host: '127.0.0.1', port: socksOpen.port }, { host: '127.0.0.2' });
		expect(other.error).toMatchObject({ code: 'TLS_CERTIFICATE' });
		expect(socksOpen.tunnels.at(-1)).toEqual({ target: `127.0.0.2:${servers.ports.imaps}`, allowed: true });
		expect((await check({ type: 'socks5', host: '127.0.0.1', port: socksOpen.port }, { host: '127.0.0.2', allowUnauthorizedCerts: true })).ok).toBe(true);
	});

	it('logs in through HTTP CONNECT with a proxy login', async () => {
		const result = await check({ type: 'http', host: '127.0.0.1', port: httpAuth.port, ...auth });
		expect(result.ok).toBe(true);
		expect(result.message).toContain(`through the HTTP CONNECT proxy 127.0.0.1:${httpAuth.port}`);
		expect(httpAuth.tunnels).toEqual([{ target: `127.0.0.1:${servers.ports.imaps}`, allowed: true }]);
	});

	it('names the proxy step when the proxy refuses the login, is unreachable, or refuses the tunnel', async () => {
		for (const proxy of [socksAuth, httpAuth]) {
			const type = proxy === socksAuth ? 'socks5' : 'http';
			const refused = await check({ type, host: '127.0.0.1', port: proxy.port, user: auth.user, password: 'wrong-proxy-pw' });
			expect(refused.error).toMatchObject({ code: 'PROXY', step: 'proxy', field: 'proxyPassword' });
			expect(refused.steps).toEqual([{ step: 'proxy', ok: false, detail: refused.message }]);
			expect(refused.message).toMatch(/proxy 127\.0\.0\.1:\d+ refused the proxy login for "proxy-user".*Check Proxy User and Proxy Password/);
			expect(refused.message).not.toContain('wrong-proxy-pw');
		}
		const closed = await closedPort();
		const unreachable = await check({ type: 'socks5', host: '127.0.0.1', port: closed });
		expect(unreachable.error).toMatchObject({ code: 'PROXY', field: 'proxyHost' });
		expect(unreachable.message).toContain(`The SOCKS5 proxy 127.0.0.1:${closed} cannot be reached (ECONNREFUSED)`);

		const deadTarget = await closedPort();
		const noTunnel = await check({ type: 'socks5', host: '127.0.0.1', port: socksOpen.port }, { port: deadTarget });
		expect(noTunnel.error).toMatchObject({ code: 'PROXY', step: 'proxy' });
		expect(noTunnel.message).toContain(`did not open a tunnel to 127.0.0.1:${deadTarget}`);
	});

	it('names the proxy fields in configuration mistakes', async () => {
		expect((await check({ type: 'socks5', host: '' })).error).toMatchObject({ code: 'CONFIG', field: 'proxyHost' });
		expect((await check({ type: 'socks5', host: '127.0.0.1', port: 99999 })).error).toMatchObject({ code: 'CONFIG', field: 'proxyPort' });
	});
});
