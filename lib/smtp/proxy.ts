import type net from 'node:net';
import { openSocket } from '../connection/socket';
import type { ResolvedServer } from '../connection/options';

/**
 * Opens a TCP tunnel to the mail server through the server's SOCKS5 or HTTP CONNECT proxy (the
 * package's one proxy implementation, lib/connection/socket.ts) and resolves with the connected
 * socket, ready for SMTP or for TLS on top of it. Failures are MailboxErrors at the 'proxy' step.
 *
 * Why not nodemailer's `proxy` URL option: it needs the socks module registered on every
 * transporter (`transporter.set('proxy_socks_module', ...)`), which a caller can forget, and the
 * connection check, which talks to SMTPConnection directly, could not use it at all. One tunnel
 * serves both the transport (through its `getSocket` option) and the check.
 */
export async function openProxyTunnel(server: ResolvedServer, secrets: ReadonlyArray<string | undefined> = []): Promise<net.Socket> {
	const socket = await openSocket(server, secrets, { tls: false });
	// An HTTP CONNECT tunnel comes back paused, possibly holding the server's greeting. A socket
	// paused explicitly does not resume when SMTPConnection adds its 'data' listener, and resuming
	// it now would emit the greeting to no one: resume it when the reader arrives.
	if (socket.isPaused()) {
		const resumeOnData = (event: string | symbol) => {
			if (event !== 'data') return;
			socket.removeListener('newListener', resumeOnData);
			process.nextTick(() => socket.resume());
		};
		socket.on('newListener', resumeOnData);
	}
	return socket;
}
