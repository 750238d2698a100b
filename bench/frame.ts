import { spawn } from 'node:child_process';
/**
 * The benchmark frame: each benchmark returns entries that compare a figure of this package with
 * the raw-library bound measured in the same run (machines here are noisy, so only same-run
 * ratios mean anything). `npm run bench` prints them and writes bench/results/latest.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MailServers } from '../test/servers';

export interface BenchEntry {
	name: string;
	value: number;
	unit: string;
	/** True when a higher value is better (throughput), false for costs (time, memory). */
	higherIsBetter: boolean;
	/** The same figure for the raw library path, measured in the same run; null for a bound itself. */
	bound: number | null;
	boundName: string | null;
	/** value / bound; null when there is no bound. */
	ratio: number | null;
	/** The target from the issue, as a ratio, where there is one. */
	target?: number;
	notes?: string;
}

/** What `npm run bench` (bench/run.ts) gives every benchmark: the test servers and a seeded mailbox. */
export interface BenchContext {
	servers: MailServers;
	ca: string;
	user: string;
	password: string;
	messageCount: number;
	seed: number;
}

export interface Benchmark<Context> {
	name: string;
	run(context: Context): Promise<BenchEntry[]>;
}

export function entry(fields: Omit<BenchEntry, 'ratio' | 'bound' | 'boundName'> & { bound?: number | null; boundName?: string | null }): BenchEntry {
	const bound = fields.bound ?? null;
	return { ...fields, bound, boundName: fields.boundName ?? null, ratio: bound ? round(fields.value / bound, 3) : null };
}

export function round(value: number, digits = 1): number {
	const f = 10 ** digits;
	return Math.round(value * f) / f;
}

/** Samples RSS while `work` runs; returns the peak above the RSS at the start, in MiB. */
export async function measurePeakRss<T>(work: () => Promise<T>): Promise<{ result: T; peakMiB: number; ms: number }> {
	const start = process.memoryUsage().rss;
	let peak = start;
	const timer = setInterval(() => {
		peak = Math.max(peak, process.memoryUsage().rss);
	}, 20);
	const t0 = process.hrtime.bigint();
	try {
		const result = await work();
		peak = Math.max(peak, process.memoryUsage().rss);
		return { result, peakMiB: round((peak - start) / 1024 / 1024), ms: Number(process.hrtime.bigint() - t0) / 1e6 };
	} finally {
		clearInterval(timer);
	}
}

/** CPU seconds (user + system) of a process so far (Linux /proc). */
export function cpuSeconds(pid: number): number {
	const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A process's resident set now (VmRSS) or its peak so far (VmHWM), MiB (Linux /proc). */
export function rssMiB(pid: number, which: 'now' | 'peak' = 'now'): number {
	const field = which === 'now' ? 'VmRSS' : 'VmHWM';
	const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
	return round(Number(kb ?? 0) / 1024);
}

/** The peak resident set of a process so far, MiB. */
export const peakRssMiB = (pid: number): number => rssMiB(pid, 'peak');

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The p-th percentile (0-100) of the values, nearest rank; NaN for none. */
export function percentile(values: number[], p: number): number {
	if (!values.length) return NaN;
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function printTable(entries: BenchEntry[]): void {
	const rows = entries.map((e) => [
		e.name,
		`${e.value} ${e.unit}`,
		e.bound === null ? '-' : `${e.bound} ${e.unit}`,
		e.ratio === null ? '-' : `${e.ratio}x`,
		e.target === undefined ? '-' : `${e.higherIsBetter ? '>=' : '<='} ${e.target}x`,
	]);
	const header = ['benchmark', 'value', 'raw bound (same run)', 'ratio', 'target'];
	const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
	const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
	process.stdout.write(`${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n`);
}

export function writeResults(file: string, entries: BenchEntry[], meta: Record<string, unknown>): void {
	fs.mkdirSync(path.dirname(file), { recursive: true });
	const doc = {
		date: new Date().toISOString(),
		machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: round(os.totalmem() / 2 ** 30), node: process.version },
		...meta,
		entries,
	};
	fs.writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
}

/**
 * Runs `file` again in a child process (same Node options, plus `nodeArgs`; the environment plus
 * `env`) with `spec` as JSON in the environment variable `envName`; resolves with the JSON of the
 * last line it prints.
 */
export function runBenchChild<T>(file: string, envName: string, spec: unknown, label: string, nodeArgs: string[] = [], env: Record<string, string> = {}): Promise<T> {
	return new Promise<T>((resolve, reject) => {
		const child = spawn(process.execPath, [...process.execArgv, ...nodeArgs, file], { env: { ...process.env, ...env, [envName]: JSON.stringify(spec) }, stdio: ['ignore', 'pipe', 'pipe'] });
		let stdout = '';
		let stderr = '';
		child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
		child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
		child.on('error', reject);
		child.on('close', (code) => {
			const line = stdout.trim().split('\n').pop() ?? '';
			if (code !== 0 || !line.startsWith('{')) return reject(new Error(`${label} failed (exit ${code}): ${stderr.trim() || stdout.trim()}`));
			resolve(JSON.parse(line) as T);
		});
	});
}
