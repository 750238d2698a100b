import fs from 'node:fs';
import net from 'node:net';

/** The only address the test servers use. */
export const LOOPBACK = '127.0.0.1';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago: the kernel picks it (bind to port 0), we
 * read it and close again, so two runs side by side never collide on fixed numbers.
 */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.unref();
		server.once('error', reject);
		server.listen(0, LOOPBACK, () => {
			const address = server.address();
			const port = typeof address === 'object' && address ? address.port : 0;
			server.close(() => (port ? resolve(port) : reject(new Error('could not read the port the kernel picked'))));
		});
	});
}

/** Listens on a port the kernel picks on 127.0.0.1 (read it from server.address()); rejects if listening fails. */
export function listenOnLoopback(server: net.Server): Promise<void> {
	return new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, LOOPBACK, () => {
			server.off('error', reject);
			resolve();
		});
	});
}

/** `count` distinct free ports. */
export async function freePorts(count: number): Promise<number[]> {
	const ports = new Set<number>();
	while (ports.size < count) ports.add(await freePort());
	return [...ports];
}

function accepts(port: number, host: string): Promise<boolean> {
	return new Promise<boolean>((resolve) => {
		const socket = net.connect({ host, port });
		socket.setTimeout(1000);
		const done = (open: boolean) => {
			socket.destroy();
			resolve(open);
		};
		socket.once('connect', () => done(true));
		socket.once('timeout', () => done(false));
		socket.once('error', () => done(false));
	});
}

/**
 * A port on 127.0.0.1 that refuses connections, for tests of "nothing listens there": below the
 * kernel's ephemeral range, so no port-0 listener (every test server) and no outgoing connection
 * can take it meanwhile; checked to refuse before it is returned.
 */
export async function closedPort(): Promise<number> {
	let low = 32768;
	try {
		low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
	} catch {
		// not Linux: the usual range
	}
	const from = Math.max(1024, low - 8000);
	for (let i = 0; i < 50; i++) {
		const port = from + Math.floor(Math.random() * (low - from));
		if (!(await accepts(port, LOOPBACK))) return port;
	}
	throw new Error(`no closed port found below ${low}`);
}

/** Resolves when host:port accepts a TCP connection; rejects after `timeoutMs`, or soon after `signal` aborts. */
export async function waitForPort(port: number, timeoutMs = 15_000, host = LOOPBACK, signal?: AbortSignal): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!(await accepts(port, host))) {
		if (signal?.aborted) throw new Error(`stopped waiting for ${host}:${port}`);
		if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
		await new Promise((resolve) => setTimeout(resolve, 25));
	}
}
