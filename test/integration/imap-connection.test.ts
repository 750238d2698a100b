import fs from 'node:fs';
import net from 'node:net';
import { checkImapConnection } from '../../lib/connection/check';
import { resolveServer, type ServerSettings } from '../../lib/connection/options';
import { withImap } from '../../lib/imap/connect';
import { listFolders } from '../../lib/imap/folders';
import { freePort } from '../servers/ports';
import { startMailServers, type MailServers } from '../servers';

const PASSWORD = 'alice-pw';

describe('IMAP connection check against a real Dovecot', () => {
	let servers: MailServers;
	let ca: string;
	const messages: string[] = [];

	const check = async (settings: Partial<ServerSettings>, login = { user: 'alice', password: PASSWORD }) => {
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

	it('answers OK over SSL/TLS with the certificate verified, naming TLS version, user and folder count', async () => {
		const result = await check({ port: servers.ports.imaps });
		expect(result.ok).toBe(true);
		expect(result.message).toMatch(new RegExp(`^Connected to 127\\.0\\.0\\.1:${servers.ports.imaps} \\(SSL/TLS\\), encrypted with TLSv1\\.[23]; logged in as "alice"; \\d+ folders\\.$`));
	});

	it('answers OK over required STARTTLS, and says so plainly when there is no encryption', async () => {
		const starttls = await check({ port: servers.ports.imap, security: 'starttls' });
		expect(starttls.ok).toBe(true);
		expect(starttls.message).toMatch(/\(STARTTLS\), encrypted with TLSv1\.[23]/);
		const none = await check({ port: servers.ports.imap, security: 'none' });
		expect(none.ok).toBe(true);
		expect(none.message).toMatch(/\(no encryption\), NOT encrypted/);
	});

	it('names a wrong password as an authentication failure, without a stack trace', async () => {
		const result = await check({ port: servers.ports.imaps }, { user: 'alice', password: 'wrong-Pa55word' });
		expect(result.ok).toBe(false);
		expect(result.error?.code).toBe('AUTH');
		expect(result.error?.field).toBe('password');
		expect(result.message).toMatch(/^Authentication failed: 127\.0\.0\.1 rejected the login for user "alice".*Check User and Password/);
		expect(result.message).not.toMatch(/\n\s+at /);
	});

	it('names a closed port as a refused connection', async () => {
		const closed = await freePort();
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
		const port = await freePort();
		const fake = net.createServer((socket) => socket.end('SSH-2.0-OpenSSH_9.2\r\n'));
		await new Promise<void>((resolve) => fake.listen(port, '127.0.0.1', resolve));
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
