/**
 * POP3 RETR of the first 1,000 messages with the package's client (lib/pop3), over POP3S and
 * plain POP3, against the bound of a minimal raw-socket client that only sends RETR and waits
 * for the terminator (no dot-unstuffing, no queue, no error mapping).
 */
import net from 'node:net';
import tls from 'node:tls';
import { resolveServer, type Security } from '../lib/connection/options';
import { withPop3 } from '../lib/pop3/connect';
import { entry, measurePeakRss, round, type BenchContext, type Benchmark, type BenchEntry } from './frame';

const TERMINATOR = Buffer.from('\r\n.\r\n');

/** Reads until `done(buffer)`; the raw client's only parsing. */
function readUntil(socket: net.Socket, done: (data: Buffer) => boolean): Promise<Buffer> {
	return new Promise((resolve, reject) => {
		const parts: Buffer[] = [];
		let tail = Buffer.alloc(0);
		let length = 0;
		const onData = (chunk: Buffer) => {
			parts.push(chunk);
			length += chunk.length;
			// The last bytes across chunk borders, so a split terminator is still seen.
			tail = Buffer.concat([tail, chunk.subarray(-8)]).subarray(-8);
			if (done(length < 64 ? Buffer.concat(parts) : tail)) {
				socket.removeListener('data', onData);
				socket.removeListener('error', reject);
				resolve(Buffer.concat(parts, length));
			}
		};
		socket.on('data', onData);
		socket.once('error', reject);
	});
}

async function rawRetr(ctx: BenchContext, secure: boolean, count: number): Promise<{ messages: number; bytes: number }> {
	const port = secure ? ctx.servers.ports.pop3s : ctx.servers.ports.pop3;
	const socket: net.Socket = secure ? tls.connect({ host: '127.0.0.1', port, ca: ctx.ca, servername: 'localhost' }) : net.connect({ host: '127.0.0.1', port });
	const line = (data: Buffer) => data.includes('\r\n');
	const command = async (text: string, multiline = false) => {
		const answer = readUntil(socket, multiline ? (d) => d.subarray(-5).equals(TERMINATOR) || d.toString('latin1').startsWith('-ERR') : line);
		socket.write(`${text}\r\n`);
		const data = await answer;
		if (data.toString('latin1', 0, 4) === '-ERR') throw new Error(`${text.split(' ')[0]}: ${data.toString('latin1').trim()}`);
		return data;
	};
	await readUntil(socket, line);
	await command(`USER ${ctx.user}`);
	await command(`PASS ${ctx.password}`);
	let bytes = 0;
	for (let i = 1; i <= count; i++) bytes += (await command(`RETR ${i}`, true)).length;
	await command('QUIT');
	socket.destroy();
	return { messages: count, bytes };
}

async function packageRetr(ctx: BenchContext, security: Security, count: number): Promise<{ messages: number; bytes: number }> {
	const server = resolveServer('pop3', { host: '127.0.0.1', port: security === 'tls' ? ctx.servers.ports.pop3s : ctx.servers.ports.pop3, security, ca: ctx.ca });
	return withPop3(server, { user: ctx.user, password: ctx.password }, async ({ client }) => {
		let bytes = 0;
		for (let i = 1; i <= count; i++) bytes += (await client.retr(i)).length;
		return { messages: count, bytes };
	});
}

export const pop3Retr: Benchmark<BenchContext> = {
	name: 'pop3-retr',
	async run(ctx): Promise<BenchEntry[]> {
		const count = Math.min(1000, ctx.messageCount);
		await rawRetr(ctx, false, count); // warms Dovecot's index and the page cache
		const entries: BenchEntry[] = [];
		// Noisy machines: raw and ours alternate three times and the best pass of each counts.
		const PASSES = 3;
		for (const [label, security] of [['POP3S', 'tls'], ['POP3', 'none']] as const) {
			let boundMs = Infinity;
			let oursMs = Infinity;
			let bytes = 0;
			for (let pass = 0; pass < PASSES; pass++) {
				boundMs = Math.min(boundMs, (await measurePeakRss(() => rawRetr(ctx, security === 'tls', count))).ms);
				const ours = await measurePeakRss(() => packageRetr(ctx, security, count));
				oursMs = Math.min(oursMs, ours.ms);
				bytes = ours.result.bytes;
			}
			const mib = bytes / 2 ** 20;
			const notes = `${count} messages, ${round(mib)} MiB, ${label}, seed ${ctx.seed}, best of ${PASSES} alternating passes`;
			const boundRate = round(count / (boundMs / 1000), 0);
			entries.push(
				entry({ name: `pop3 RETR ${label} (raw socket)`, value: boundRate, unit: 'msg/s', higherIsBetter: true, notes }),
				entry({ name: `pop3 RETR ${label} (lib/pop3)`, value: round(count / (oursMs / 1000), 0), unit: 'msg/s', higherIsBetter: true, bound: boundRate, boundName: `pop3 RETR ${label} (raw socket)`, target: 0.9, notes }),
				entry({ name: `pop3 RETR ${label} throughput (lib/pop3)`, value: round(mib / (oursMs / 1000)), unit: 'MiB/s', higherIsBetter: true, notes }),
			);
		}
		// Memory flat in the number of messages: peak RSS growth of RETR over 100 and over all messages.
		const few = await measurePeakRss(() => packageRetr(ctx, 'tls', Math.min(100, count)));
		const all = await measurePeakRss(() => packageRetr(ctx, 'tls', count));
		entries.push(
			entry({ name: `pop3 RETR peak RSS growth, ${Math.min(100, count)} msgs`, value: few.peakMiB, unit: 'MiB', higherIsBetter: false, notes: 'POP3S, lib/pop3' }),
			entry({ name: `pop3 RETR peak RSS growth, ${count} msgs`, value: all.peakMiB, unit: 'MiB', higherIsBetter: false, bound: few.peakMiB, boundName: `${Math.min(100, count)} messages`, notes: 'POP3S, lib/pop3; bound column = the run over fewer messages' }),
		);
		return entries;
	},
};
