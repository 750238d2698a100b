/**
 * A loopback TCP relay that cuts what the server sends at byte positions the test chooses, so a
 * client's reader meets a read that ends inside a pattern (e.g. POP3's "\r\n.\r\n") on purpose,
 * whatever the kernel and the load do.
 *
 * Server -> client bytes go through unchanged but for each occurrence of `pattern` after `arm()`:
 * the relay writes up to a cut inside it (1, 2, ... pattern.length - 1 bytes in, in turn), waits
 * until the client has read exactly that far (`delivered`, which the test answers from the
 * client's own byte count), and only then writes the rest. The client's read therefore ends at the
 * cut. Client -> server bytes pass as they come.
 */
import net from 'node:net';
import { closeWhenFileEnds } from './lifetime';
import { listenOnLoopback, LOOPBACK } from './ports';

export interface Cut {
	/** Offset of the cut in the server -> client stream. */
	offset: number;
	/** How many bytes of the pattern came before the cut. */
	inside: number;
}

export class CuttingRelay {
	/** Every cut made, in order. */
	readonly cuts: Cut[] = [];
	port = 0;
	private readonly server: net.Server;
	private readonly sockets = new Set<net.Socket>();
	private delivered?: (offset: number) => Promise<void>;
	private occurrences = 0;

	private constructor(
		private readonly targetPort: number,
		private readonly pattern: Buffer,
	) {
		if (pattern.length < 2) throw new Error('the pattern needs two bytes or more to be cut inside');
		this.server = net.createServer((client) => this.relay(client));
		closeWhenFileEnds('cutting relay', this.server);
	}

	static async start(targetPort: number, pattern: Buffer): Promise<CuttingRelay> {
		const relay = new CuttingRelay(targetPort, pattern);
		await listenOnLoopback(relay.server);
		relay.port = (relay.server.address() as net.AddressInfo).port;
		return relay;
	}

	/**
	 * Cuts from now on. `delivered(offset)` resolves once the client has read the first `offset`
	 * bytes the relay sent on its connection.
	 */
	arm(delivered: (offset: number) => Promise<void>): void {
		this.delivered = delivered;
	}

	private relay(client: net.Socket): void {
		const upstream = net.connect(this.targetPort, LOOPBACK);
		for (const s of [client, upstream]) {
			this.sockets.add(s);
			s.on('close', () => this.sockets.delete(s));
			s.on('error', () => undefined);
		}
		client.on('close', () => upstream.destroy());
		upstream.on('close', () => client.end());
		client.pipe(upstream);
		let sent = 0; // bytes written to the client
		let tail = Buffer.alloc(0); // the last pattern.length - 1 bytes sent, to find a pattern across chunks
		let work = Promise.resolve();
		upstream.on('data', (chunk: Buffer) => {
			upstream.pause();
			work = work
				.then(async () => {
					const joined = Buffer.concat([tail, chunk]);
					const start = sent; // stream offset of chunk[0]
					const base = start - tail.length; // stream offset of joined[0]
					let from = 0; // index in chunk of the first byte not yet written
					for (let at = joined.indexOf(this.pattern); at >= 0; at = joined.indexOf(this.pattern, at + 1)) {
						if (!this.delivered) continue;
						const inside = 1 + (this.occurrences++ % (this.pattern.length - 1));
						const cut = base + at + inside; // stream offset of the cut
						const index = cut - start; // index in chunk
						if (index <= from) continue; // that part of the pattern went out with an earlier chunk
						const delivered = this.delivered;
						client.write(chunk.subarray(from, index));
						sent += index - from;
						from = index;
						this.cuts.push({ offset: cut, inside });
						await delivered(cut);
					}
					client.write(chunk.subarray(from));
					sent += chunk.length - from;
					tail = joined.subarray(-(this.pattern.length - 1));
				})
				.catch((error: unknown) => {
					client.destroy(error as Error);
				})
				.finally(() => upstream.resume());
		});
	}

	stop(): Promise<void> {
		return new Promise((resolve) => {
			this.server.close(() => resolve());
			for (const socket of this.sockets) socket.destroy();
		});
	}
}
