import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { checkImapConnection } from '../../lib/imap/check';
import { resolveServer, type ServerSettings } from '../../lib/connection/options';
import { withImap } from '../../lib/imap/connect';
import { listFolders } from '../../lib/imap/folders';
import { closedPort, listenOnLoopback } from '../servers/ports';
import { startMailServers, type MailServers } from '../servers';

const PASSWORD = 'alice-pw';

describe('IMAP connection check against a real Dovecot', () => {
	let servers: MailServers;
	let ca: string;
	const messages: string[] = [];

	const check = async (settings: Partial<ServerSettings>, login: { user: string; password: string } | { user: string; accessToken: string } = { user: 'alice', password: PASSWORD }) => {
		const result = await checkImapConnection({ host: '127.0.0.1', security: 'tls', ca, ...settings } as ServerSettings, login);
		messages.push(result.message);
		return result;
	};

	beforeAll(async () => {
		servers = await startMailServers();
		ca = fs.readFileSync(servers.certPath, 'utf8');
	});
	afterAll(async () => {
		await servers?.stop();
	});

	it('answers OK over SSL/TLS step by step: TLS version and certificate, mechanism, capabilities, INBOX', async () => {
		const result = await check({ port: servers.ports.imaps });
		expect(result.ok).toBe(true);
		expect(result.steps.map((s) => s.step)).toEqual(['connect', 'tls', 'login', 'capabilities', 'inbox']);
		expect(result.message).toMatch(
			new RegExp(
				`^Connected to 127\\.0\\.0\\.1:${servers.ports.imaps} \\(SSL/TLS\\); encrypted with TLSv1\\.3, certificate for localhost \\(self-signed\\), valid until \\d{4}-\\d\\d-\\d\\d; logged in as "alice" with PLAIN; server supports IDLE, MOVE, UIDPLUS, CONDSTORE, QRESYNC, SPECIAL-USE[^;]*; INBOX has 0 messages, 0 unseen\\.$`,
			),
		);
	});

	it('resolves a host name first and reports it', async () => {
		const result = await check({ host: 'localhost', port: servers.ports.imaps });
		expect(result.ok).toBe(true);
		expect(result.steps[0]).toEqual({ step: 'resolve', ok: true, detail: expect.stringMatching(/^localhost is (127\.0\.0\.1|::1)$/) });
	});

	const matrix: [ServerSettings['security'], 'imap' | 'imaps', RegExp][] = [
		['tls', 'imaps', /\(SSL\/TLS\); encrypted with TLSv1\.3/],
		['starttls', 'imap', /\(STARTTLS\); encrypted with TLSv1\.3/],
		['starttls-optional', 'imap', /\(STARTTLS if offered\); encrypted with TLSv1\.3/],
		['none', 'imap', /\(no encryption\); NOT encrypted/],
	];
	it.each(matrix)('security %s logs in with a password (PLAIN) and with a token (OAUTHBEARER)', async (security, port, pattern) => {
		const byPassword = await check({ security, port: servers.ports[port] });
		expect(byPassword.message).toMatch(pattern);
		expect(byPassword.message).toContain('logged in as "alice" with PLAIN');
		const byToken = await check({ security, port: servers.ports[port] }, { user: 'alice', accessToken: 'valid-token-alice' });
		expect(byToken.message).toMatch(pattern);
		expect(byToken.message).toContain('logged in as "alice" with OAUTHBEARER');
	});

	it('names rejected tokens: made up, revoked, or another user\'s', async () => {
		const revoked = servers.oauth.issueToken('alice');
		expect((await check({ port: servers.ports.imaps }, { user: 'alice', accessToken: revoked })).ok).toBe(true);
		servers.oauth.revoke(revoked);
		for (const accessToken of ['made-up-token', revoked, 'valid-token-bob']) {
			const result = await check({ port: servers.ports.imaps }, { user: 'alice', accessToken });
			expect(result.error).toMatchObject({ code: 'AUTH', field: 'accessToken', step: 'login' });
			expect(result.message).toMatch(/^Authentication failed: 127\.0\.0\.1 rejected the access token for user "alice".*sign in again/);
			expect(result.message).not.toContain(accessToken);
		}
	});

	it('honours the TLS version rule, and names a version the server refuses', async () => {
		expect((await check({ port: servers.ports.imaps, tlsVersion: '1.2' })).message).toContain('encrypted with TLSv1.2,');
		expect((await check({ port: servers.ports.imaps, tlsVersion: 'min-1.2' })).message).toContain('encrypted with TLSv1.3,');
		const old = await check({ port: servers.ports.imaps, tlsVersion: '1.1' });
		expect(old.error).toMatchObject({ code: 'TLS', field: 'tlsVersion' });
		expect(old.message).toMatch(/does not accept exactly TLSv1\.1.*TLS Version/);

		// A server that speaks only TLS 1.3, against a client that insists on exactly 1.2.
		const only13 = tls.createServer({ key: fs.readFileSync(servers.dovecot.keyPath), cert: ca, minVersion: 'TLSv1.3' }, (socket) => socket.end('* OK ready\r\n'));
		only13.on('tlsClientError', () => undefined);
		await listenOnLoopback(only13);
		const { port } = only13.address() as net.AddressInfo;
		try {
			const exact12 = await check({ port, tlsVersion: '1.2' });
			expect(exact12.error).toMatchObject({ code: 'TLS', field: 'tlsVersion' });
			expect(exact12.message).toMatch(/does not accept exactly TLSv1\.2/);
		} finally {
			only13.close();
		}
	});

	it('names a wrong password as an authentication failure, without a stack trace', async () => {
		const result = await check({ port: servers.ports.imaps }, { user: 'alice', password: 'wrong-Pa55word' });
		expect(result.ok).toBe(false);
		expect(result.steps).toEqual([{ step: 'login', ok: false, detail: result.message }]);
		expect(result.error?.code).toBe('AUTH');
		expect(result.error?.field).toBe('password');
		expect(result.message).toMatch(/^Authentication failed: 127\.0\.0\.1 rejected the login for user "alice".*Check User and Password/);
		expect(result.message).not.toMatch(/\n\s+at /);
	});

	it('names a closed port as a refused connection', async () => {
		const closed = await closedPort();
		const result = await check({ port: closed });
		expect(result.error?.code).toBe('CONNECTION_REFUSED');
		expect(result.message).toContain(`Connection refused by 127.0.0.1:${closed}`);
	});

	it('rejects the self-signed certificate unless the user opts out', async () => {
		const strict = await check({ port: servers.ports.imaps, ca: undefined });
		expect(strict.error?.code).toBe('TLS_CERTIFICATE');
		expect(strict.message).toMatch(/certificate of 127\.0\.0\.1:\d+ was rejected.*Allow Self-Signed Certificates/);
		const optedOut = await check({ port: servers.ports.imaps, ca: undefined, allowUnauthorizedCerts: true });
		expect(optedOut.ok).toBe(true);
	});

	it('explains SSL/TLS chosen for a plain port and a plain connection to a TLS port', async () => {
		const tlsOnPlain = await check({ port: servers.ports.imap, security: 'tls' });
		expect(tlsOnPlain.error?.code).toBe('TLS');
		expect(tlsOnPlain.message).toMatch(/does not speak TLS on port \d+.*STARTTLS/);
		const plainOnTls = await check({ port: servers.ports.imaps, security: 'none', timeoutMs: 1500 });
		expect(plainOnTls.ok).toBe(false);
		expect(plainOnTls.error?.field).toBe('security');
	});

	it('names a server that is not IMAP', async () => {
		const fake = net.createServer((socket) => socket.end('SSH-2.0-OpenSSH_9.2\r\n'));
		await listenOnLoopback(fake);
		const { port } = fake.address() as net.AddressInfo;
		try {
			const result = await check({ port, security: 'none', timeoutMs: 1500 });
			expect(result.ok).toBe(false);
			expect(result.message).toContain(`127.0.0.1:${port}`);
		} finally {
			fake.close();
		}
	});

	it('never shows the password in any answer', () => {
		expect(messages.length).toBeGreaterThan(8);
		for (const message of messages) {
			expect(message).not.toContain(PASSWORD);
			expect(message).not.toContain('wrong-Pa55word');
			expect(message).not.toContain(Buffer.from(PASSWORD).toString('base64'));
		}
	});

	it('lists the folders with their SPECIAL-USE roles and counts', async () => {
		const server = resolveServer('imap', { host: '127.0.0.1', port: servers.ports.imaps, security: 'tls', ca });
		const folders = await withImap(server, { user: 'bob', password: 'bob-pw' }, (client) => listFolders(client, { counts: true }));
		const roles = Object.fromEntries(folders.filter((f) => f.specialUse).map((f) => [f.specialUse, f.path]));
		expect(roles).toMatchObject({ sent: 'Sent', drafts: 'Drafts', junk: 'Junk', trash: 'Trash', archive: 'Archive' });
		const inbox = folders.find((f) => f.path === 'INBOX');
		expect(inbox).toMatchObject({ selectable: true });
		expect(folders.find((f) => f.path === 'Sent')?.subscribed).toBe(true);
		expect(typeof inbox?.messages).toBe('number');
	});
});
