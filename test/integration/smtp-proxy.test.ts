/**
 * SMTP through SOCKS5 and HTTP CONNECT proxies on loopback: the check and a real send, the
 * proxies' tunnel records proving they carried it, and the proxy step named when a proxy is
 * unreachable, refuses the login or refuses the tunnel.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveServer, type ProxySettings, type ServerSettings } from '../../lib/connection/options';
import { MailboxError } from '../../lib/errors';
import { checkSmtpConnection } from '../../lib/smtp/check';
import { sendSmtpMessage } from '../../lib/smtp/transport';
import { closedPort } from '../servers/ports';
import { HttpConnectProxy, Socks5Proxy } from '../servers/proxy';
import { SmtpCapture } from '../servers/smtp';
import { makeSelfSignedCertificate } from '../servers/tls';

describe('SMTP through a proxy', () => {
	let dir: string;
	let ca: string;
	let smtp: SmtpCapture;
	let socksOpen: Socks5Proxy;
	let socksAuth: Socks5Proxy;
	let httpOpen: HttpConnectProxy;
	let httpAuth: HttpConnectProxy;
	const auth = { user: 'proxy-user', password: 'Proxy-Pa55' };
	const messages: string[] = [];

	const settings = (proxy: ProxySettings, extra: Partial<ServerSettings> = {}): ServerSettings => ({ host: '127.0.0.1', port: smtp.ports.smtps, security: 'tls', ca, proxy, ...extra });
	const check = async (proxy: ProxySettings, extra: Partial<ServerSettings> = {}) => {
		const result = await checkSmtpConnection(settings(proxy, extra), { user: 'alice', password: 'alice-pw' });
		messages.push(result.message);
		return result;
	};
	const send = (proxy: ProxySettings, subject: string, extra: Partial<ServerSettings> = {}) =>
		sendSmtpMessage(resolveServer('smtp', settings(proxy, extra)), { user: 'alice', password: 'alice-pw' }, { from: 'alice@example.test', to: 'bob@example.test', subject, text: 'through a proxy\n' });
	const captured = (subject: string) => smtp.waitForMessage((m) => m.raw.toString().includes(`Subject: ${subject}`));

	beforeAll(async () => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-proxy-'));
		makeSelfSignedCertificate(dir);
		ca = fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8');
		smtp = await SmtpCapture.start({
			users: { alice: 'alice-pw' },
			tokenUser: () => undefined,
			key: fs.readFileSync(path.join(dir, 'key.pem')),
			cert: ca,
			outDir: path.join(dir, 'out'),
		});
		[socksOpen, socksAuth, httpOpen, httpAuth] = await Promise.all([new Socks5Proxy().listen(), new Socks5Proxy(auth).listen(), new HttpConnectProxy().listen(), new HttpConnectProxy(auth).listen()]);
	});
	afterAll(async () => {
		await Promise.all([socksOpen, socksAuth, httpOpen, httpAuth].map((p) => p?.stop()));
		await smtp?.stop();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it('checks the certificate against the server configured by IP address, not the proxy', async () => {
		// 127.0.0.2 reaches the same server, whose certificate names localhost and 127.0.0.1 only
		for (const security of ['tls', 'starttls'] as const) {
			const port = security === 'tls' ? smtp.ports.smtps : smtp.ports.smtp;
			const other = await check({ type: 'socks5', host: '127.0.0.1', port: socksOpen.port }, { host: '127.0.0.2', security, port });
			expect({ security, error: other.error?.code }).toEqual({ security, error: 'TLS_CERTIFICATE' });
			expect((await check({ type: 'socks5', host: '127.0.0.1', port: socksOpen.port }, { host: '127.0.0.2', security, port, allowUnauthorizedCerts: true })).ok).toBe(true);
		}
		socksOpen.tunnels.length = 0;
	});

	it('checks through SOCKS5 without and with a proxy login, and the proxy carried the connection', async () => {
		const open = await check({ type: 'socks5', host: '127.0.0.1', port: socksOpen.port });
		expect(open.ok).toBe(true);
		expect(open.steps.map((s) => s.step)).toEqual(['proxy', 'connect', 'tls', 'capabilities', 'login']);
		expect(open.message).toMatch(
			new RegExp(`^through the SOCKS5 proxy 127\\.0\\.0\\.1:${socksOpen.port}; Connected to 127\\.0\\.0\\.1:${smtp.ports.smtps} \\(SSL/TLS\\); encrypted with TLSv1\\.3, certificate for localhost .*logged in as "alice" with PLAIN\\.$`),
		);
		expect(socksOpen.tunnels).toEqual([{ target: `127.0.0.1:${smtp.ports.smtps}`, allowed: true }]);

		const withLogin = await check({ type: 'socks5', host: `127.0.0.1:${socksAuth.port}`, ...auth }, { security: 'starttls', port: smtp.ports.smtp });
		expect(withLogin.ok).toBe(true);
		expect(withLogin.message).toContain('encrypted with TLSv1.3 after STARTTLS');
		expect(socksAuth.tunnels).toEqual([{ target: `127.0.0.1:${smtp.ports.smtp}`, allowed: true }]);
	});

	it('checks through HTTP CONNECT without and with a proxy login, SSL/TLS and STARTTLS', async () => {
		const open = await check({ type: 'http', host: '127.0.0.1', port: httpOpen.port }, { security: 'starttls', port: smtp.ports.smtp });
		expect(open.ok).toBe(true);
		expect(open.message).toMatch(new RegExp(`^through the HTTP CONNECT proxy 127\\.0\\.0\\.1:${httpOpen.port}; Connected to .*encrypted with TLSv1\\.3 after STARTTLS`));
		expect(httpOpen.tunnels).toEqual([{ target: `127.0.0.1:${smtp.ports.smtp}`, allowed: true }]);

		const withLogin = await check({ type: 'http', host: '127.0.0.1', port: httpAuth.port, ...auth });
		expect(withLogin.ok).toBe(true);
		expect(withLogin.message).toContain('encrypted with TLSv1.3, certificate for localhost');
		expect(httpAuth.tunnels).toEqual([{ target: `127.0.0.1:${smtp.ports.smtps}`, allowed: true }]);
	});

	it('sends a real message through each proxy with the transport options', async () => {
		const before = { socks: socksAuth.tunnels.length, http: httpAuth.tunnels.length };
		await send({ type: 'socks5', host: '127.0.0.1', port: socksAuth.port, ...auth }, 'via SOCKS5');
		await send({ type: 'http', host: '127.0.0.1', port: httpAuth.port, ...auth }, 'via HTTP CONNECT', { security: 'starttls', port: smtp.ports.smtp });
		expect(await captured('via SOCKS5')).toMatchObject({ authUser: 'alice', authMethod: 'PLAIN', secure: true, port: smtp.ports.smtps });
		expect(await captured('via HTTP CONNECT')).toMatchObject({ authUser: 'alice', authMethod: 'PLAIN', secure: true, port: smtp.ports.smtp });
		expect(socksAuth.tunnels.slice(before.socks)).toEqual([{ target: `127.0.0.1:${smtp.ports.smtps}`, allowed: true }]);
		expect(httpAuth.tunnels.slice(before.http)).toEqual([{ target: `127.0.0.1:${smtp.ports.smtp}`, allowed: true }]);
	});

	it('names the proxy step when the proxy refuses the login, is unreachable, or refuses the tunnel', async () => {
		for (const [type, proxy] of [['socks5', socksAuth], ['http', httpAuth]] as const) {
			const refused = await check({ type, host: '127.0.0.1', port: proxy.port, user: auth.user, password: 'wrong-proxy-pw' });
			expect(refused.error).toMatchObject({ code: 'PROXY', step: 'proxy', field: 'proxyPassword' });
			expect(refused.steps).toEqual([{ step: 'proxy', ok: false, detail: refused.message }]);
			expect(refused.message).toMatch(/proxy 127\.0\.0\.1:\d+ refused the proxy login for "proxy-user".*Check Proxy User and Proxy Password/);
		}
		const closed = await closedPort();
		for (const type of ['socks5', 'http'] as const) {
			const unreachable = await check({ type, host: '127.0.0.1', port: closed });
			expect(unreachable.error).toMatchObject({ code: 'PROXY', step: 'proxy', field: 'proxyHost' });
			expect(unreachable.message).toContain(`proxy 127.0.0.1:${closed} cannot be reached (ECONNREFUSED)`);
		}
		const deadTarget = await closedPort();
		for (const proxy of [{ type: 'socks5' as const, host: '127.0.0.1', port: socksOpen.port }, { type: 'http' as const, host: '127.0.0.1', port: httpOpen.port }]) {
			const noTunnel = await check(proxy, { port: deadTarget });
			expect(noTunnel.error).toMatchObject({ code: 'PROXY', step: 'proxy' });
			expect(noTunnel.message).toContain(`did not open a tunnel to 127.0.0.1:${deadTarget}`);
		}
	});

	it('a send through a refusing proxy fails with the proxy named', async () => {
		const error = await send({ type: 'http', host: '127.0.0.1', port: httpAuth.port, user: auth.user, password: 'wrong-proxy-pw' }, 'never').catch((e: unknown) => e);
		expect(error).toBeInstanceOf(MailboxError);
		expect(error).toMatchObject({ code: 'PROXY', field: 'proxyPassword' });
		messages.push((error as MailboxError).fullMessage);
	});

	it('never shows the proxy password or the mail password', () => {
		const forms = ['wrong-proxy-pw', auth.password, 'alice-pw'].flatMap((s) => [s, Buffer.from(s).toString('base64')]);
		forms.push(Buffer.from(`${auth.user}:wrong-proxy-pw`).toString('base64'));
		for (const message of messages) for (const form of forms) expect(message).not.toContain(form);
	});
});
