/**
 * `npm run bench`: starts the test servers, fills a mailbox from the mail generator, runs every
 * benchmark, prints a table and writes bench/results/latest.json.
 *
 *   BENCH_MESSAGES  messages in the benchmark mailbox (default 3000)
 *   BENCH_SEED      generator seed (default 42)
 *   BENCH_ONLY      run only the benchmarks whose name contains this text (n8n-triggers: the
 *                   triggers inside a real n8n, see bench/n8n-triggers.ts; hostile-mail: parsing
 *                   time and memory over hostile mail of 1 and 2 MiB, see bench/hostile-mail.ts;
 *                   n8n-scale: one n8n watching 500 mailboxes, see bench/n8n-scale.ts; graph-trigger:
 *                   the Graph trigger's ingest against the local Graph endpoint's raw rate, see
 *                   bench/graph-trigger.ts; message-body: time and memory of the AI-ready body
 *                   on real and hostile bodies of 0.5, 1 and 2 MiB, see bench/message-body.ts)
 */
import fs from 'node:fs';
import path from 'node:path';
import { startMailServers } from '../test/servers';
import { generateMessages } from '../test/fixtures/mailgen';
import { installPrerequisites } from '../test/setup/prerequisites';
import { printTable, round, writeResults, type BenchContext, type Benchmark, type BenchEntry } from './frame';
import { graphTrigger } from './graph-trigger';
import { hostileMail } from './hostile-mail';
import { imapBacklog } from './imap-backlog';
import { imapFetchParse } from './imap-fetch-parse';
import { imapMove } from './imap-move';
import { imapTrigger } from './imap-trigger';
import { messageBodyBench } from './message-body';
import { messageParse } from './message-parse';
import { n8nScale } from './n8n-scale';
import { n8nTriggers } from './n8n-triggers';
import { pop3Retr } from './pop3-retr';
import { routerBench } from './router';
import { smtpSend } from './smtp-send';

const benchmarks: Benchmark<BenchContext>[] = [imapFetchParse, messageParse, hostileMail, messageBodyBench, pop3Retr, imapTrigger, graphTrigger, smtpSend, imapMove, routerBench, imapBacklog, n8nTriggers, n8nScale];

async function main(): Promise<void> {
	const messageCount = Number(process.env.BENCH_MESSAGES ?? 3000);
	const seed = Number(process.env.BENCH_SEED ?? 42);
	const only = process.env.BENCH_ONLY;
	installPrerequisites((line) => process.stdout.write(`${line}\n`));
	const servers = await startMailServers();
	try {
		const t0 = Date.now();
		await servers.writeMaildir('alice', 'INBOX', generateMessages({ seed, count: messageCount }));
		process.stdout.write(`bench: seeded ${messageCount} messages (seed ${seed}) in ${round((Date.now() - t0) / 1000)} s\n`);
		const ctx: BenchContext = { servers, ca: fs.readFileSync(servers.certPath, 'utf8'), user: 'alice', password: 'alice-pw', messageCount, seed };
		const entries: BenchEntry[] = [];
		for (const bench of benchmarks) {
			if (only && !bench.name.includes(only)) continue;
			process.stdout.write(`bench: running ${bench.name}\n`);
			entries.push(...(await bench.run(ctx)));
		}
		printTable(entries);
		const file = path.join(__dirname, 'results', 'latest.json');
		writeResults(file, entries, { messages: messageCount, seed });
		process.stdout.write(`bench: wrote ${path.relative(process.cwd(), file)}\n`);
	} finally {
		await servers.stop();
	}
}

main().catch((error: unknown) => {
	process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
	process.exitCode = 1;
});
