/**
 * Retrieving mail with the POP3 client from the real Dovecot: every byte as seeded, over POP3S
 * too, also when a read ends inside the terminator or a dot-stuffed line (cut there on purpose by a
 * relay), dot-stuffed lines restored, UIDL,
 * LIST, TOP, streamed RETR, and DELE removing mail only when QUIT ends the session.
 */
import fs from 'node:fs';
import { resolveServer, type ResolvedServer, type Security } from '../../lib/connection/options';
import { connectPop3, withPop3 } from '../../lib/pop3/connect';
import { generateMessages, type GeneratedMessage } from '../fixtures/mailgen';
import { startMailServers, type MailServers } from '../servers';
import { CuttingRelay } from '../servers/cutting-relay';

const TERMINATOR = Buffer.from('\r\n.\r\n');

/** A message whose body lines start with dots, including a lone "." that would end the body if not stuffed. */
const DOTS = Buffer.from(
	['From: dots@example.test', 'To: bob@example.test', 'Subject: lines with dots', '', '.', '..', '.foo', '...', 'middle', '.', '. space', 'last line', ''].join('\r\n'),
);
const SMALL = Buffer.from('From: a@example.test\r\nSubject: small\r\n\r\nsecond message\r\n');

describe('POP3 retrieval against a real Dovecot', () => {
	let servers: MailServers;
	let ca: string;
	let seeded: GeneratedMessage[];

	const server = (security: Security): ResolvedServer =>
		resolveServer('pop3', { host: '127.0.0.1', port: security === 'tls' ? servers.ports.pop3s : servers.ports.pop3, security, ca, timeoutMs: 10_000 });

	beforeAll(async () => {
		servers = await startMailServers();
		ca = fs.readFileSync(servers.certPath, 'utf8');
		seeded = [...generateMessages({ seed: 42, count: 1000, maxAttachmentBytes: 1024 * 1024 })];
		await servers.writeMaildir('alice', 'INBOX', seeded);
		await servers.writeMaildir('bob', 'INBOX', [{ raw: DOTS }, { raw: SMALL }]);
	}, 60_000);
	afterAll(async () => {
		await servers?.stop();
	});

	it('retrieves every message of a real maildrop over POP3S byte-identical to what was seeded', async () => {
		expect(Math.max(...seeded.map((m) => m.raw.length))).toBeGreaterThan(512 * 1024);
		const mismatches = await withPop3(server('tls'), { user: 'alice', password: 'alice-pw' }, async ({ client }) => {
			expect(await client.stat()).toEqual({ count: seeded.length, size: seeded.reduce((sum, m) => sum + m.raw.length, 0) });
			const wrong: number[] = [];
			for (let i = 0; i < seeded.length; i++) if (!(await client.retr(i + 1)).equals(seeded[i].raw)) wrong.push(i + 1);
			return wrong;
		});
		expect(mismatches).toEqual([]);
	});

	// Where a read ends is up to the kernel; a relay makes it end inside the pattern on purpose.
	it.each([
		['the terminator "\\r\\n.\\r\\n"', TERMINATOR, 'alice', [1, 2, 3, 4, 5, 6, 7, 8]],
		['a dot-stuffed line "\\r\\n.."', Buffer.from('\r\n..'), 'bob', [1, 2]],
	])('a read that ends inside %s, at every position, still gives every byte', async (_name, pattern, user, messages) => {
		const relay = await CuttingRelay.start(servers.ports.pop3, pattern);
		try {
			const viaRelay = resolveServer('pop3', { host: '127.0.0.1', port: relay.port, security: 'none', timeoutMs: 10_000 });
			const expected = user === 'alice' ? seeded.map((m) => m.raw) : [DOTS, SMALL];
			await withPop3(viaRelay, { user, password: `${user}-pw` }, async ({ client }) => {
				relay.arm(async (offset) => {
					while (client.bytesReceived < offset) {
						if (client.isClosed) throw new Error('the client closed the connection');
						await new Promise((resolve) => setTimeout(resolve, 1));
					}
					expect(client.bytesReceived).toBe(offset);
				});
				for (const msg of messages) expect((await client.retr(msg)).equals(expected[msg - 1])).toBe(true);
			});
			// every position inside the pattern was met, each at a read's end
			expect(new Set(relay.cuts.map((c) => c.inside))).toEqual(new Set(Array.from({ length: pattern.length - 1 }, (_, i) => i + 1)));
		} finally {
			await relay.stop();
		}
	});

	it('streams messages over plain POP3 with the same bytes', async () => {
		await withPop3(server('none'), { user: 'alice', password: 'alice-pw' }, async ({ client }) => {
			for (const i of [1, 2, ...seeded.map((m, n) => (m.raw.length > 500_000 ? n + 1 : 0)).filter(Boolean).slice(0, 5)]) {
				const parts: Buffer[] = [];
				for await (const chunk of client.retrStream(i)) parts.push(chunk as Buffer);
				expect(Buffer.concat(parts).equals(seeded[i - 1].raw)).toBe(true);
			}
			// The next command waits for the stream and then works as usual.
			expect((await client.listOne(3)).size).toBe(seeded[2].raw.length);
			// A reader that stops after the first chunk of a large message leaves the session usable.
			const large = seeded.findIndex((m) => m.raw.length > 500_000) + 1;
			const stream = client.retrStream(large);
			await new Promise<void>((resolve) => stream.once('data', () => resolve()));
			stream.destroy();
			expect((await client.retr(1)).equals(seeded[0].raw)).toBe(true);
		});
	}, 30_000);

	it('restores body lines that begin with a dot: ".", "..", ".foo" arrive byte-identical', async () => {
		await withPop3(server('tls'), { user: 'bob', password: 'bob-pw' }, async ({ client }) => {
			const dots = await client.retr(1);
			expect(dots.toString('latin1')).toBe(DOTS.toString('latin1'));
			expect(dots.equals(DOTS)).toBe(true);
			expect((await client.retr(2)).equals(SMALL)).toBe(true);
		});
	});

	it('lists sizes and unique ids, and TOP gives the header without downloading the body', async () => {
		await withPop3(server('starttls'), { user: 'alice', password: 'alice-pw' }, async ({ client }) => {
			const list = await client.list();
			expect(list).toEqual(seeded.map((m, i) => ({ msg: i + 1, size: m.raw.length })));
			const uidl = await client.uidl();
			expect(uidl).toHaveLength(seeded.length);
			expect(new Set(uidl.map((u) => u.uid)).size).toBe(seeded.length);
			expect(await client.uidlOne(5)).toEqual(uidl[4]);
			const header = (await client.top(1, 0)).toString('latin1');
			const raw = seeded[0].raw.toString('latin1');
			expect(header).toBe(raw.slice(0, raw.indexOf('\r\n\r\n') + 4));
		});
	});

	it('DELE removes a message only when QUIT ends the session; a dropped connection or RSET keeps it', async () => {
		const bob = server('tls');
		const login = { user: 'bob', password: 'bob-pw' };
		const count = () => withPop3(bob, login, async ({ client }) => (await client.stat()).count);
		expect(await count()).toBe(2);

		const dropped = await connectPop3(bob, login);
		await dropped.client.dele(2);
		dropped.client.close();
		expect(await count()).toBe(2);

		await withPop3(bob, login, async ({ client }) => {
			await client.dele(2);
			await client.rset();
		});
		expect(await count()).toBe(2);

		await withPop3(bob, login, async ({ client }) => {
			await client.dele(2);
			await expect(client.retr(2)).rejects.toMatchObject({ code: 'SERVER', step: 'command', message: expect.stringContaining('refused RETR') });
		});
		expect(await count()).toBe(1);
	});
});
