/**
 * Nothing a test file starts outlives it. Every server and process the test servers and the n8n
 * driver start registers its stop here the moment it exists (before waiting for it to be ready),
 * and unregisters when it is stopped. At the end of each test file, after its afterAll hooks, the
 * test environment (test/environment.js) stops whatever is still registered: a server whose
 * starting hook timed out or threw, or one a test forgot. Outside jest (demo, benchmarks) this
 * does nothing.
 */
import type net from 'node:net';

type Stop = () => Promise<void>;

/** What runs now, kept on the test file's global by test/environment.js; closed when the file has ended. */
const registry = (globalThis as { __mailboxRunning?: { entries: Map<object, { name: string; stop: Stop }>; closed: boolean } }).__mailboxRunning;

/**
 * Registers `stop` for `name` (e.g. "Dovecot /tmp/mailbox-dovecot-x"); returns the function that
 * unregisters it, to be called when the thing is stopped the usual way.
 */
export function stopWhenFileEnds(name: string, stop: Stop): () => void {
	if (!registry) return () => undefined;
	if (registry.closed) {
		// started by a hook that went on after the file ended (it had timed out): stop it now
		process.stderr.write(`test environment: ${name} started after its test file ended; stopping it\n`);
		void stop().catch(() => undefined);
		return () => undefined;
	}
	const key = {};
	registry.entries.set(key, { name, stop });
	return () => {
		registry.entries.delete(key);
	};
}

/**
 * Registers an in-process server (net, http, https, tls) from the moment it is created: if it is
 * still open when the file ends, it is closed (once it listens, if it does not yet) and its
 * connections ended. Its 'close' event unregisters it.
 */
export function closeWhenFileEnds(name: string, server: net.Server): void {
	if (!registry) return;
	const sockets = new Set<net.Socket>();
	server.on('connection', (socket: net.Socket) => {
		sockets.add(socket);
		socket.once('close', () => sockets.delete(socket));
	});
	const close = () => {
		server.close();
		for (const socket of sockets) socket.destroy();
	};
	// A server still on its way to listening is closed once it listens (or is done when listening fails).
	const untrack = stopWhenFileEnds(name, () => new Promise<void>((resolve) => {
		server.once('close', () => resolve());
		if (server.listening) return close();
		server.once('listening', close);
		server.once('error', () => resolve());
	}));
	server.once('close', untrack);
}
