/**
 * Parsing only, no network: lib/message's parseMessage over generated messages against
 * mailparser's simpleParser on the same buffers (the parse half of the raw IMAP bound), in the
 * same run, one message at a time. Each side runs twice, alternating, and the faster pass counts.
 *
 *   BENCH_PARSE_MESSAGES  messages parsed (default: BENCH_MESSAGES, at most 3000)
 */
import { simpleParser } from 'mailparser';
import { parseMessage } from '../lib/message/parse';
import { generateMessages } from '../test/fixtures/mailgen';
import { entry, measurePeakRss, round, type BenchContext, type Benchmark, type BenchEntry } from './frame';

interface Pass {
	ms: number;
	peakMiB: number;
}

async function timed(work: () => Promise<void>): Promise<Pass> {
	const { ms, peakMiB } = await measurePeakRss(work);
	return { ms, peakMiB };
}

function best(a: Pass, b: Pass): Pass {
	return { ms: Math.min(a.ms, b.ms), peakMiB: Math.max(a.peakMiB, b.peakMiB) };
}

export const messageParse: Benchmark<BenchContext> = {
	name: 'message-parse',
	async run(ctx): Promise<BenchEntry[]> {
		const count = Number(process.env.BENCH_PARSE_MESSAGES ?? Math.min(ctx.messageCount, 3000));
		const messages = [...generateMessages({ seed: ctx.seed, count })].map((m) => m.raw);
		const bytes = messages.reduce((sum, m) => sum + m.length, 0);
		const raw = async () => {
			for (const m of messages) await simpleParser(m, { skipImageLinks: true });
		};
		const ours = async () => {
			for (const m of messages) await parseMessage(m);
		};
		const metadataOnly = async () => {
			for (const m of messages) await parseMessage(m, { includeAttachments: false });
		};
		await raw(); // warm-up: JIT and charset tables for both sides
		await ours();
		const rawPass = best(await timed(raw), await timed(raw));
		const oursPass = best(await timed(ours), await timed(ours));
		const lightPass = await timed(metadataOnly);
		const perS = (p: Pass) => round(count / (p.ms / 1000), 0);
		const mibPerS = (p: Pass) => round(bytes / 2 ** 20 / (p.ms / 1000));
		const note = `${count} generated messages, ${round(bytes / 2 ** 20)} MiB, seed ${ctx.seed}, in memory, one at a time`;
		const bound = 'mailparser simpleParser (raw)';
		return [
			entry({ name: bound, value: perS(rawPass), unit: 'msg/s', higherIsBetter: true, notes: note }),
			entry({ name: 'parseMessage (lib/message)', value: perS(oursPass), unit: 'msg/s', higherIsBetter: true, bound: perS(rawPass), boundName: bound, target: 0.9, notes: note }),
			entry({ name: 'parseMessage, attachments as metadata only', value: perS(lightPass), unit: 'msg/s', higherIsBetter: true, bound: perS(rawPass), boundName: bound, notes: note }),
			entry({ name: 'parseMessage throughput', value: mibPerS(oursPass), unit: 'MiB/s', higherIsBetter: true, bound: mibPerS(rawPass), boundName: `${bound} throughput`, notes: note }),
			entry({ name: 'parseMessage peak RSS growth', value: oursPass.peakMiB, unit: 'MiB', higherIsBetter: false, bound: rawPass.peakMiB, boundName: `${bound} peak RSS growth`, notes: note }),
		];
	},
};
