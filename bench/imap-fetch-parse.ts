/**
 * The raw-library bound the IMAP trigger will be held to: imapflow FETCH of every message's
 * source over IMAPS, then mailparser's simpleParser on each, one message at a time.
 */
import { ImapFlow } from 'imapflow';
import { simpleParser } from 'mailparser';
import { entry, measurePeakRss, round, type BenchContext, type Benchmark, type BenchEntry } from './frame';

async function rawFetch(ctx: BenchContext, parse: boolean): Promise<{ messages: number; bytes: number }> {
	const client = new ImapFlow({
		host: '127.0.0.1',
		port: ctx.servers.ports.imaps,
		secure: true,
		tls: { ca: ctx.ca },
		auth: { user: ctx.user, pass: ctx.password },
		logger: false,
	});
	await client.connect();
	let messages = 0;
	let bytes = 0;
	try {
		await client.mailboxOpen('INBOX', { readOnly: true });
		for await (const msg of client.fetch('1:*', { uid: true, size: true, source: true })) {
			if (!msg.source) throw new Error(`no source for UID ${msg.uid}`);
			bytes += msg.source.length;
			if (parse) await simpleParser(msg.source, { skipImageLinks: true });
			messages++;
		}
	} finally {
		await client.logout();
	}
	if (messages !== ctx.messageCount) throw new Error(`fetched ${messages} of ${ctx.messageCount} messages`);
	return { messages, bytes };
}

export const imapFetchParse: Benchmark<BenchContext> = {
	name: 'imap-fetch-parse',
	async run(ctx): Promise<BenchEntry[]> {
		await rawFetch(ctx, false); // warms Dovecot's index and the page cache for both runs
		const fetchOnly = await measurePeakRss(() => rawFetch(ctx, false));
		const parsed = await measurePeakRss(() => rawFetch(ctx, true));
		const mib = parsed.result.bytes / 2 ** 20;
		const note = `${parsed.result.messages} messages, ${round(mib)} MiB, IMAPS, seed ${ctx.seed}`;
		return [
			entry({ name: 'imap fetch (raw imapflow)', value: round(fetchOnly.result.messages / (fetchOnly.ms / 1000), 0), unit: 'msg/s', higherIsBetter: true, notes: note }),
			entry({ name: 'imap fetch + parse (raw imapflow + mailparser)', value: round(parsed.result.messages / (parsed.ms / 1000), 0), unit: 'msg/s', higherIsBetter: true, notes: note }),
			entry({ name: 'imap fetch + parse throughput', value: round(mib / (parsed.ms / 1000)), unit: 'MiB/s', higherIsBetter: true, notes: note }),
			entry({ name: 'imap fetch + parse peak RSS growth', value: parsed.peakMiB, unit: 'MiB', higherIsBetter: false, notes: note }),
		];
	},
};
