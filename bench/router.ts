/**
 * Routing decisions per second (lib/router, no network): a directory of 10,000 addresses and 100
 * domain and local-part redirect rules, recipients that exercise every step (direct inboxes,
 * redirected domains, local-part redirects, employees, lists, plus-tags, mixed case, unknown
 * addresses). Target: at least 100,000 decisions/s, and the time per decision does not grow with
 * the directory: the same recipients against 1,000 and 100,000 addresses.
 *
 * Standalone: `npx tsx bench/router.ts` (no mail servers needed).
 *
 *   BENCH_ROUTER_DECISIONS  decisions per pass (default 300,000)
 */
import type { DirectoryInput } from '../lib/router/directory';
import { MessageRouter } from '../lib/router/route';
import { entry, printTable, round, type Benchmark, type BenchEntry } from './frame';

const DOMAINS = ['firma.example', 'firma-gruppe.example', 'tochter.example'];

/** A directory of `addresses` addresses (inboxes 20 %, employees 60 %, lists 20 %) and 100 redirect rules. */
function directory(addresses: number): DirectoryInput {
	const input: Required<DirectoryInput> = { inboxes: [], employees: [], distributionLists: [], domainRedirects: [], localPartRedirects: [], exceptions: ['@firma.example'] };
	for (let i = 0; i < addresses; i += 2) {
		const d = DOMAINS[i % DOMAINS.length];
		const pair = [`user${i}@${d}`, `user${i}.alias@${d}`];
		const kind = i % 10;
		if (kind < 2) input.inboxes.push({ name: `Inbox ${i}`, addresses: pair });
		else if (kind < 8) input.employees.push({ name: `Employee ${i}`, addresses: pair });
		else input.distributionLists.push({ name: `List ${i}`, addresses: pair });
	}
	for (let r = 0; r < 50; r++) input.domainRedirects.push({ from: `old${r}.example`, to: DOMAINS[r % DOMAINS.length] });
	for (let r = 0; r < 50; r++) input.localPartRedirects.push({ from: `old.user${r}`, to: `user${r * 2}` });
	return input;
}

/** Recipients that hit every step; all of them exist in a directory of 1,000 addresses and more. */
function recipients(count: number): string[] {
	const out: string[] = [];
	for (let k = 0; k < count; k++) {
		const i = (k * 2) % 1000;
		const d = DOMAINS[i % DOMAINS.length];
		switch (k % 8) {
			case 0: out.push(`user${i}@${d}`); break;
			case 1: out.push(`User${i}.Alias@${d.toUpperCase()}`); break;
			case 2: out.push(`user${i}@old${k % 50}.example`); break;
			case 3: out.push(`old.user${k % 50}@${DOMAINS[(k % 50) % DOMAINS.length]}`); break;
			case 4: out.push(`user${i}+newsletter@${d}`); break;
			case 5: out.push(`"User ${i}" <user${i}@${d}>`); break;
			case 6: out.push(`nobody${k}@firma.example`); break;
			default: out.push(`stranger${k}@elsewhere.example`);
		}
	}
	return out;
}

function decisionsPerSecond(router: MessageRouter, list: string[]): number {
	let routed = 0;
	const t0 = process.hrtime.bigint();
	for (const r of list) if (router.decide(r).outcome === 'routed') routed++;
	const s = Number(process.hrtime.bigint() - t0) / 1e9;
	if (routed === 0) throw new Error('no recipient was routed: the benchmark data is wrong');
	return list.length / s;
}

/** The best of three passes (machines here are noisy). */
function best(router: MessageRouter, list: string[]): number {
	decisionsPerSecond(router, list.slice(0, 20_000)); // warm-up
	return Math.max(decisionsPerSecond(router, list), decisionsPerSecond(router, list), decisionsPerSecond(router, list));
}

export async function runRouterBench(): Promise<BenchEntry[]> {
	const count = Number(process.env.BENCH_ROUTER_DECISIONS ?? 300_000);
	const list = recipients(count);
	const options = { dropUnknown: true, masterAddresses: ['catchall@firma.example'] };
	const sizes = [1_000, 10_000, 100_000];
	const rates = new Map<number, number>();
	const buildMs = new Map<number, number>();
	for (const size of sizes) {
		const t0 = process.hrtime.bigint();
		const router = new MessageRouter(directory(size), options);
		buildMs.set(size, Number(process.hrtime.bigint() - t0) / 1e6);
		rates.set(size, best(router, list));
	}
	const at = (size: number) => round(rates.get(size)!, 0);
	const us = (size: number) => round(1e6 / rates.get(size)!, 2);
	const note = (size: number) => `${size.toLocaleString('en')} directory addresses, 100 redirect rules, ${count.toLocaleString('en')} recipients (every step, plus-tags, mixed case, unknown), best of 3; index built in ${round(buildMs.get(size)!, 0)} ms`;
	return [
		entry({ name: 'router decisions, 10,000 addresses', value: at(10_000), unit: 'decisions/s', higherIsBetter: true, bound: 100_000, boundName: 'issue target (100,000 decisions/s)', target: 1, notes: note(10_000) }),
		entry({ name: 'router time per decision, 1,000 addresses', value: us(1_000), unit: 'µs', higherIsBetter: false, notes: note(1_000) }),
		entry({ name: 'router time per decision, 10,000 addresses', value: us(10_000), unit: 'µs', higherIsBetter: false, bound: us(1_000), boundName: 'router time per decision, 1,000 addresses', notes: note(10_000) }),
		entry({ name: 'router time per decision, 100,000 addresses', value: us(100_000), unit: 'µs', higherIsBetter: false, bound: us(1_000), boundName: 'router time per decision, 1,000 addresses', target: 1.5, notes: `${note(100_000)}; the ratio to 1,000 addresses shows that it does not grow with the directory` }),
	];
}

export const routerBench: Benchmark<unknown> = {
	name: 'router',
	run: () => runRouterBench(),
};

if (require.main === module) {
	runRouterBench().then(printTable, (error: unknown) => {
		process.stderr.write(`bench router failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
		process.exitCode = 1;
	});
}
