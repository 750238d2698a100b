/**
 * What several benchmarks share beyond the frame (bench/frame.ts): the measuring loop of a child
 * process that times inputs against each other, the kernel's RSS high-water mark, the child
 * process's way of answering, and the floor package that the n8n benchmarks install next to this
 * one.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';

// --- in a child process (bench/frame.ts runBenchChild) ---------------------------------------

/** A full GC (the child runs with --expose-gc). */
export const collect = (): void => (globalThis as { gc?: () => void }).gc?.();

export function median(values: number[]): number {
	const s = [...values].sort((a, b) => a - b);
	const mid = Math.floor(s.length / 2);
	return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** This process's peak resident set so far (VmHWM), bytes; undefined where /proc does not tell. */
export function readHighWaterMark(): number | undefined {
	try {
		const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
		return m ? Number(m[1]) * 1024 : undefined;
	} catch {
		return undefined;
	}
}

/** Resets VmHWM to the current RSS (Linux; elsewhere, or where not allowed, the samples alone count). */
export function resetHighWaterMark(): void {
	try {
		fs.writeFileSync('/proc/self/clear_refs', '5');
	} catch {
		// not Linux, or not allowed: the samples alone
	}
}

/**
 * This process's peak RSS from now on: the kernel's high-water mark reset now, and the RSS sampled
 * every 20 ms. `sample()` takes the RSS and the high-water mark once more and gives the peak so
 * far; `stop()` ends the sampling and gives the peak so far. Bytes, as `start` (the RSS now).
 */
export function sampleRss(): { start: number; sample: () => number; stop: () => number } {
	const start = process.memoryUsage().rss;
	resetHighWaterMark();
	let peak = start;
	const timer = setInterval(() => {
		peak = Math.max(peak, process.memoryUsage().rss);
	}, 20);
	return {
		start,
		sample: () => (peak = Math.max(peak, process.memoryUsage().rss, readHighWaterMark() ?? 0)),
		stop: () => {
			clearInterval(timer);
			return peak;
		},
	};
}

/**
 * Times `run(i)` for each of `count` inputs, `reps` rounds, alternating between the inputs so
 * that a busy moment of the machine falls on all of them alike, each after a forced GC. With
 * `gc`, also the time spent in garbage collection during each run (GC entries arrive after the
 * fact, so it waits a moment before and after each run). A `run` that returns a promise is
 * awaited inside the timing; a synchronous one is timed without any await in the loop.
 * Returns the times and the GC times (empty without `gc`), ms, per input.
 */
export async function timeAlternating(count: number, reps: number, run: (i: number) => unknown, options: { gc?: boolean } = {}): Promise<{ all: number[][]; gcs: number[][] }> {
	let gcMs = 0;
	const observer = options.gc
		? new PerformanceObserver((list) => {
				for (const e of list.getEntries()) gcMs += e.duration;
			})
		: undefined;
	observer?.observe({ entryTypes: ['gc'] });
	const settle = () => new Promise((resolve) => setTimeout(resolve, 10));
	const all: number[][] = Array.from({ length: count }, () => []);
	const gcs: number[][] = Array.from({ length: count }, () => []);
	try {
		for (let r = 0; r < reps; r++) {
			for (let i = 0; i < count; i++) {
				collect();
				if (observer) await settle();
				gcMs = 0;
				const t0 = performance.now();
				const result = run(i);
				if (result instanceof Promise) await result;
				all[i].push(performance.now() - t0);
				if (observer) {
					await settle();
					gcs[i].push(gcMs);
				}
			}
		}
	} finally {
		observer?.disconnect();
	}
	return { all, gcs };
}

/**
 * The end of a benchmark's child process: `work`'s result as JSON on the last line and exit 0
 * (what runBenchChild reads), or the error on stderr and exit 1. A synchronous `work` runs at once.
 */
export function answerAsChild(work: () => unknown): void {
	new Promise<unknown>((resolve) => resolve(work())).then(
		(result) => {
			process.stdout.write(`${JSON.stringify(result)}\n`);
			process.exit(0);
		},
		(error: unknown) => {
			process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
			process.exit(1);
		},
	);
}

// --- n8n --------------------------------------------------------------------------------------

/**
 * The floor: a community package of one trigger node that emits `runs` runs of one tiny item
 * each, at most `atOnce` under way (each waits for its run to end, as the package's triggers do);
 * with `runs` 0 it only stays active (bench/n8n-scale.ts: what n8n itself costs per workflow).
 */
export function floorTarball(dir: string): string {
	const pkg = path.join(dir, 'floor', 'package');
	fs.mkdirSync(pkg, { recursive: true });
	fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'n8n-nodes-bench-floor', version: '1.0.0', main: 'BenchFloorTrigger.node.js', keywords: ['n8n-community-node-package'], n8n: { n8nNodesApiVersion: 1, nodes: ['BenchFloorTrigger.node.js'] } }, null, 2));
	fs.writeFileSync(
		path.join(pkg, 'BenchFloorTrigger.node.js'),
		`'use strict';
class BenchFloorTrigger {
	constructor() {
		this.description = {
			displayName: 'Bench Floor Trigger', name: 'benchFloorTrigger', group: ['trigger'], version: 1,
			description: 'Emits tiny runs as fast as n8n takes them', defaults: { name: 'Bench Floor Trigger' },
			inputs: [], outputs: ['main'],
			properties: [
				{ displayName: 'Runs', name: 'runs', type: 'number', default: 1000 },
				{ displayName: 'At Once', name: 'atOnce', type: 'number', default: 100 },
			],
		};
	}
	async trigger() {
		const runs = this.getNodeParameter('runs', 1000);
		const atOnce = this.getNodeParameter('atOnce', 100);
		let stopped = false;
		let next = 0;
		const one = async () => {
			while (!stopped && next < runs) {
				const n = ++next;
				const done = this.helpers.createDeferredPromise();
				this.emit([[{ json: { n } }]], undefined, done);
				await done.promise.catch(() => undefined);
			}
		};
		if (this.getMode() !== 'manual') {
			this.logger.info('bench floor trigger active');
			for (let i = 0; i < atOnce; i++) void one();
		}
		return { closeFunction: async () => { stopped = true; } };
	}
}
module.exports = { BenchFloorTrigger };
`,
	);
	const tarball = path.join(dir, 'n8n-nodes-bench-floor-1.0.0.tgz');
	execFileSync('tar', ['-czf', tarball, '-C', path.join(dir, 'floor'), 'package']);
	return tarball;
}
