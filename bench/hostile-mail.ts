/**
 * Hostile mail (test/fixtures/hostile-mail.ts): for each kind, lib/message's parseMessage on the
 * 1 MiB and the 2 MiB message, no network.
 *
 * 1. Time: the 2 MiB message against the 1 MiB one of the same kind, both parsed in one child
 *    process, alternating, each after a forced GC; the median of the repetitions counts. Linear
 *    is 2x; the target is at most 2.5x.
 * 2. Memory: the peak RSS growth while one message is parsed, in a fresh child process per size
 *    (the kernel's high-water mark, reset just before the parse, after a warm-up parse of a small
 *    message and a forced GC). Stated bound: {@link MEMORY_BOUND_FACTOR} times the message size.
 *
 *   BENCH_HOSTILE_REPS   repetitions per size (default 9)
 *   BENCH_HOSTILE_KINDS  comma-separated kinds (default all)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseMessage } from '../lib/message/parse';
import { HOSTILE_KINDS, hostileMessage, type HostileKind } from '../test/fixtures/hostile-mail';
import { generateMessage } from '../test/fixtures/mailgen';
import { entry, round, type BenchContext, type Benchmark, type BenchEntry, runBenchChild } from './frame';
import { answerAsChild, collect, median, readHighWaterMark, resetHighWaterMark, timeAlternating } from './harness';

const MIB = 1024 * 1024;
const SIZES = [1 * MIB, 2 * MIB] as const;
/**
 * Peak RSS growth while parsing may be at most this many times the message size. Header lines
 * cost the most: some 500 bytes each while parsed (a view, a line object and a map entry in
 * mailparser, a map entry and the decoded value here) for 19 bytes of message, about 30 times.
 */
export const MEMORY_BOUND_FACTOR = 48;
const TIME_TARGET = 2.5;

/** The messages are written to files by the parent, so that no garbage of generating them is in the child's heap. */
type ChildSpec = { mode: 'time'; kind: HostileKind; files: string[]; reps: number } | { mode: 'memory'; kind: HostileKind; file: string };

interface TimeResult {
	/** Median ms per size, in the order of SIZES. */
	medians: number[];
	/** Median ms of garbage collection during a parse, per size. */
	gcMedians: number[];
	all: number[][];
	warnings: string[][];
}

interface MemoryResult {
	peakMiB: number;
	heapPeakMiB: number;
	startMiB: number;
}

// --- in the child process --------------------------------------------------------------------

async function timeChild(files: string[], reps: number): Promise<TimeResult> {
	const messages = files.map((file) => fs.readFileSync(file));
	const warnings: string[][] = [];
	for (const m of messages) warnings.push((await parseMessage(m)).json.parseWarnings); // warm-up
	const { all, gcs } = await timeAlternating(messages.length, reps, (i) => parseMessage(messages[i]), { gc: true });
	return { medians: all.map(median), gcMedians: gcs.map(median), all, warnings };
}

async function memoryChild(kind: HostileKind, file: string): Promise<MemoryResult> {
	const message = fs.readFileSync(file);
	await parseMessage(generateMessage(42, 3).raw); // the parser's code paths loaded and compiled
	collect();
	const start = process.memoryUsage().rss;
	const heapStart = process.memoryUsage();
	resetHighWaterMark();
	let peak = start;
	let heapPeak = 0;
	const sample = () => {
		const now = process.memoryUsage();
		peak = Math.max(peak, now.rss);
		heapPeak = Math.max(heapPeak, now.heapUsed + now.external - heapStart.heapUsed - heapStart.external);
	};
	const timer = setInterval(sample, 5);
	const parsed = await parseMessage(message);
	sample();
	clearInterval(timer);
	peak = Math.max(peak, readHighWaterMark() ?? 0);
	if (!parsed.json.messageId) throw new Error(`${kind}: no Message-ID parsed`);
	return { peakMiB: round((peak - start) / MIB), heapPeakMiB: round(heapPeak / MIB), startMiB: round(start / MIB) };
}

/** One child process, its result the last line of its output. */
function runChild<T>(spec: ChildSpec): Promise<T> {
	return runBenchChild<T>(__filename, 'BENCH_HOSTILE_CHILD', spec, `hostile-mail ${spec.mode} child for ${spec.kind}`, ['--expose-gc']);
}

// --- the benchmark ---------------------------------------------------------------------------

export const hostileMail: Benchmark<BenchContext> = {
	name: 'hostile-mail',
	async run(): Promise<BenchEntry[]> {
		const reps = Number(process.env.BENCH_HOSTILE_REPS ?? 9);
		const wanted = process.env.BENCH_HOSTILE_KINDS?.split(',').map((k) => k.trim());
		const kinds = HOSTILE_KINDS.filter((k) => !wanted || wanted.includes(k));
		const entries: BenchEntry[] = [];
		const began = Date.now();
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-hostile-'));
		try {
			for (const kind of kinds) {
				const files = SIZES.map((bytes) => {
					const file = path.join(dir, `${kind}-${bytes}.eml`);
					fs.writeFileSync(file, hostileMessage(kind, bytes));
					return file;
				});
				const time = await runChild<TimeResult>({ mode: 'time', kind, files, reps });
				const memory: MemoryResult[] = [];
				for (const file of files) memory.push(await runChild<MemoryResult>({ mode: 'memory', kind, file }));
				const [small, large] = time.medians.map((ms) => round(ms, 0));
				const warned = time.warnings[1].length ? `; parseWarnings: ${time.warnings[1].length} (first: ${time.warnings[1][0]})` : '';
				const [gcSmall, gcLarge] = time.gcMedians.map((ms) => round(ms, 0));
				const note = `median of ${reps}, alternating with the 1 MiB message, each after a forced GC; of which GC ${gcSmall} / ${gcLarge} ms${warned}`;
				entries.push(
					entry({ name: `hostile ${kind}: parse, 2 MiB vs 1 MiB`, value: large, unit: 'ms', higherIsBetter: false, bound: small, boundName: `${kind} at 1 MiB`, target: TIME_TARGET, notes: note }),
					entry({
						name: `hostile ${kind}: peak RSS growth, 2 MiB`,
						value: memory[1].peakMiB,
						unit: 'MiB',
						higherIsBetter: false,
						bound: MEMORY_BOUND_FACTOR * 2,
						boundName: `${MEMORY_BOUND_FACTOR} x the message size`,
						target: 1,
						notes: `fresh process per size; 1 MiB: ${memory[0].peakMiB} MiB; sampled heap+external peak: ${memory[0].heapPeakMiB} / ${memory[1].heapPeakMiB} MiB`,
					}),
				);
				process.stdout.write(`bench: hostile-mail: ${kind}: ${small} / ${large} ms (${round(large / small, 2)}x; GC ${gcSmall} / ${gcLarge} ms), peak RSS growth ${memory[0].peakMiB} / ${memory[1].peakMiB} MiB\n`);
			}
		} finally {
			fs.rmSync(dir, { recursive: true, force: true });
		}
		process.stdout.write(`bench: hostile-mail: done in ${round((Date.now() - began) / 1000, 0)} s\n`);
		return entries;
	},
};

if (require.main === module && process.env.BENCH_HOSTILE_CHILD) {
	const spec = JSON.parse(process.env.BENCH_HOSTILE_CHILD) as ChildSpec;
	answerAsChild(() => (spec.mode === 'time' ? timeChild(spec.files, spec.reps) : memoryChild(spec.kind, spec.file)));
}
