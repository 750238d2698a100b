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

/** A TCP forwarder on 127.0.0.1 to `targetPort`; `down()` closes it and every connection, `up()` listens again on the same port. */
export class Forwarder {
	private server?: net.Server;
	private readonly sockets = new Set<net.Socket>();
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
			client.on('close', () => upstream.destroy());
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

	async down(): Promise<void> {
		const server = this.server;
		this.server = undefined;
		for (const s of this.sockets) s.destroy();
		this.sockets.clear();
		if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
	}
}
