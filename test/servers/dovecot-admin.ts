/**
 * Operations on a running test Dovecot that tests of long-lived connections need: end a user's
 * sessions (as a dropped connection would), and a loopback forwarder that can refuse connections
 * for a while (a server that is down) and come back on the same port.
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import type { MailServers } from './index';
import { LOOPBACK } from './ports';
import { closeWhenFileEnds } from './lifetime';

const run = promisify(execFile);

/** Ends every IMAP/POP3 session of `user` (doveadm kick): the server side of each connection goes away. */
export async function kickUser(servers: MailServers, user: string): Promise<string> {
	const { stdout, stderr } = await run('doveadm', ['-c', servers.info().dovecotConfigPath, 'kick', user]);
	return `${stdout}${stderr}`.trim();
}

/** The user's sessions Dovecot counts now, per protocol (doveadm who, one line per connection). */
export async function sessionsOf(servers: MailServers, user: string, protocol: 'imap' | 'pop3'): Promise<number> {
	const { stdout } = await run('doveadm', ['-c', servers.info().dovecotConfigPath, 'who', '-1', user]);
	return stdout.split('\n').filter((line) => line.split(/\s+/)[0] === user && line.split(/\s+/).includes(protocol)).length;
}

/**
 * A TCP forwarder on 127.0.0.1 to `targetPort`; `down()` closes it and every connection, `up()`
 * listens again on the same port, `stall()` stops passing bytes on the connections open now
 * without closing them (a connection that died silently: no FIN, no RST).
 */
export class Forwarder {
	private server?: net.Server;
	private readonly sockets = new Set<net.Socket>();
	private readonly pairs = new Set<[net.Socket, net.Socket]>();
	port = 0;

	constructor(private readonly targetPort: number) {}

	static async start(targetPort: number): Promise<Forwarder> {
		const forwarder = new Forwarder(targetPort);
		await forwarder.up();
		return forwarder;
	}

	async up(): Promise<void> {
		if (this.server) return;
		const server = net.createServer((client) => {
			const upstream = net.connect(this.targetPort, LOOPBACK);
			for (const s of [client, upstream]) {
				this.sockets.add(s);
				s.on('close', () => this.sockets.delete(s));
				s.on('error', () => undefined);
			}
			client.pipe(upstream);
			upstream.pipe(client);
			const pair: [net.Socket, net.Socket] = [client, upstream];
			this.pairs.add(pair);
			client.on('close', () => {
				upstream.destroy();
				this.pairs.delete(pair);
			});
			upstream.on('close', () => client.destroy());
		});
		closeWhenFileEnds('loopback forwarder', server);
		await new Promise<void>((resolve, reject) => {
			server.once('error', reject);
			server.listen(this.port, LOOPBACK, () => resolve());
		});
		this.port = (server.address() as net.AddressInfo).port;
		this.server = server;
	}

	/** The connections open now pass nothing more and stay open; new ones work. */
	stall(): void {
		for (const [client, upstream] of this.pairs) {
			client.unpipe(upstream);
			upstream.unpipe(client);
			client.pause();
			upstream.pause();
		}
		this.pairs.clear();
	}

	async down(): Promise<void> {
		const server = this.server;
		this.server = undefined;
		for (const s of this.sockets) s.destroy();
		this.sockets.clear();
		if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
	}
}
