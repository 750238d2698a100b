/**
 * Message bodies (test/fixtures/hostile-bodies.ts): for each kind, lib/message/body's messageBody
 * with its default cap (4,000 characters, as the nodes call it) on the body of 0.5, 1 and 2 MiB,
 * no network.
 *
 * 1. Time: each size against the one half its size, all parsed in one child process,
 *    alternating, each after a forced GC; the median of the repetitions counts. Linear is 2x; the
 *    target is at most 2.5x. Above 1 MiB only the first 1 MiB is read (INPUT_LIMIT), so 2 MiB
 *    against 1 MiB shows that bound and 1 MiB against 0.5 MiB the growth inside it.
 * 2. Memory: the peak RSS growth while one body is made, in a fresh child process per size (the
 *    kernel's high-water mark, reset just before, after a warm-up on a small body and a forced
 *    GC). Stated bound: {@link MEMORY_BOUND_FACTOR} times the part of the body that is read.
 *    Also at 2 MiB without a cap (maxChars 0), where all the HTML read goes through turndown.
 *
 *   BENCH_BODY_REPS   repetitions per size (default 9)
 *   BENCH_BODY_KINDS  comma-separated kinds (default all)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { INPUT_LIMIT, messageBody } from '../lib/message/body';
import { BODY_KINDS, bodySample, type BodyKind, type BodySample } from '../test/fixtures/hostile-bodies';
import { entry, round, runBenchChild, type BenchContext, type Benchmark, type BenchEntry } from './frame';
import { answerAsChild, collect, median, readHighWaterMark, resetHighWaterMark, timeAlternating } from './harness';

const MIB = 1024 * 1024;
const SIZES = [MIB / 2, MIB, 2 * MIB] as const;
/**
 * Peak RSS growth while a body is made may be at most this many times the characters read. The
 * HTML is held as a string, as the bounded tree, and the part within the cap's budget as HTML
 * written back and as turndown's DOM. Elements cost the most: a table of 36,000 rows (108,000
 * elements in 1 MiB) comes to some 70 MiB, about 650 bytes an element while held (the tree's node
 * with its children, and the garbage of reading it not yet collected).
 */
export const MEMORY_BOUND_FACTOR = 96;
const TIME_TARGET = 2.5;

type ChildSpec = { mode: 'time'; files: string[]; reps: number } | { mode: 'memory'; kind: BodyKind; file: string; maxChars?: number };

interface TimeResult {
	/** Median ms per size, in the order of SIZES. */
	medians: number[];
	/** Body characters, whether truncated and what was removed, per size (from the warm-up). */
	outcomes: Array<{ chars: number; truncated: boolean; removed: string[] }>;
}

interface MemoryResult {
	peakMiB: number;
	startMiB: number;
}

const readSample = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as BodySample;

// --- in the child process --------------------------------------------------------------------

async function timeChild(files: string[], reps: number): Promise<TimeResult> {
	const samples = files.map(readSample);
	const outcomes = samples.map((s) => {
		const r = messageBody(s); // warm-up
		return { chars: r.body.length, truncated: r.truncated, removed: r.removed };
	});
	const { all } = await timeAlternating(samples.length, reps, (i) => messageBody(samples[i]));
	return { medians: all.map(median), outcomes };
}

function memoryChild(file: string, maxChars?: number): MemoryResult {
	const sample = readSample(file);
	messageBody(bodySample('outlookThread', 64 * 1024)); // the code paths loaded and compiled
	messageBody(bodySample('plainThread', 64 * 1024));
	collect();
	const start = process.memoryUsage().rss;
	resetHighWaterMark();
	let peak = start;
	messageBody(sample, { maxChars });
	peak = Math.max(peak, process.memoryUsage().rss, readHighWaterMark() ?? 0);
	return { peakMiB: round((peak - start) / MIB), startMiB: round(start / MIB) };
}

function runChild<T>(spec: ChildSpec, label: string): Promise<T> {
	return runBenchChild<T>(__filename, 'BENCH_BODY_CHILD', spec, `message-body ${spec.mode} child for ${label}`, ['--expose-gc']);
}

// --- the benchmark ---------------------------------------------------------------------------

export const messageBodyBench: Benchmark<BenchContext> = {
	name: 'message-body',
	async run(): Promise<BenchEntry[]> {
		const reps = Number(process.env.BENCH_BODY_REPS ?? 9);
		const wanted = process.env.BENCH_BODY_KINDS?.split(',').map((k) => k.trim());
		const kinds = BODY_KINDS.filter((k) => !wanted || wanted.includes(k));
		const entries: BenchEntry[] = [];
		const began = Date.now();
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-body-'));
		try {
			for (const kind of kinds) {
				const files = SIZES.map((bytes) => {
					const file = path.join(dir, `${kind}-${bytes}.json`);
					fs.writeFileSync(file, JSON.stringify(bodySample(kind, bytes)));
					return file;
				});
				const time = await runChild<TimeResult>({ mode: 'time', files, reps }, kind);
				const memory: MemoryResult[] = [];
				for (const file of files) memory.push(await runChild<MemoryResult>({ mode: 'memory', kind, file }, kind));
				const uncapped = await runChild<MemoryResult>({ mode: 'memory', kind, file: files[2], maxChars: 0 }, kind);
				const [half, one, two] = time.medians.map((ms) => round(ms, 1));
				const out = time.outcomes[1];
				const note = `median of ${reps}, alternating with the other sizes, each after a forced GC; body at 1 MiB: ${out.chars} characters, removed: ${out.removed.join(', ') || 'nothing'}`;
				const readMiB = Math.min(2 * MIB, INPUT_LIMIT) / MIB;
				entries.push(
					entry({ name: `message-body ${kind}: 1 MiB vs 0.5 MiB`, value: one, unit: 'ms', higherIsBetter: false, bound: half, boundName: `${kind} at 0.5 MiB`, target: TIME_TARGET, notes: note }),
					entry({ name: `message-body ${kind}: 2 MiB vs 1 MiB`, value: two, unit: 'ms', higherIsBetter: false, bound: one, boundName: `${kind} at 1 MiB`, target: TIME_TARGET, notes: `${note}; above ${INPUT_LIMIT / MIB} MiB only the first ${INPUT_LIMIT / MIB} MiB is read` }),
					entry({
						name: `message-body ${kind}: peak RSS growth, 2 MiB`,
						value: memory[2].peakMiB,
						unit: 'MiB',
						higherIsBetter: false,
						bound: MEMORY_BOUND_FACTOR * readMiB,
						boundName: `${MEMORY_BOUND_FACTOR} x the ${readMiB} MiB read`,
						target: 1,
						notes: `fresh process per size; 0.5 / 1 MiB: ${memory[0].peakMiB} / ${memory[1].peakMiB} MiB; 2 MiB without a cap: ${uncapped.peakMiB} MiB`,
					}),
				);
				process.stdout.write(
					`bench: message-body: ${kind}: ${half} / ${one} / ${two} ms (1 vs 0.5 MiB ${round(one / half, 2)}x, 2 vs 1 MiB ${round(two / one, 2)}x), peak RSS growth ${memory.map((m) => m.peakMiB).join(' / ')} MiB (2 MiB without a cap: ${uncapped.peakMiB} MiB)\n`,
				);
			}
		} finally {
			fs.rmSync(dir, { recursive: true, force: true });
		}
		process.stdout.write(`bench: message-body: done in ${round((Date.now() - began) / 1000, 0)} s\n`);
		return entries;
	},
};

if (require.main === module && process.env.BENCH_BODY_CHILD) {
	const spec = JSON.parse(process.env.BENCH_BODY_CHILD) as ChildSpec;
	answerAsChild(() => (spec.mode === 'time' ? timeChild(spec.files, spec.reps) : memoryChild(spec.file, spec.maxChars)));
}
