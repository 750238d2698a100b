/**
 * Moving 10,000 messages: the Mailbox node's Message → Move path (lib/imap/messages: folder list
 * for the destination check, SELECT, UIDVALIDITY check, UID SEARCH for the messages that still
 * exist, UID MOVE with the compressed set, one outcome per message) against a raw imapflow
 * messageMove of the same UID set, in the same run. Every pass moves a freshly seeded folder into
 * an empty one; the sides alternate and the best pass of each counts. Also a scattered set (every
 * other UID), which the node splits into several UID MOVE commands under 8 KB while the raw call
 * sends it as one long line.
 */
import { ImapFlow } from 'imapflow';
import { foldersOf, runBulk, type MessageAddress } from '../lib/imap/messages';
import { generateMessage } from '../test/fixtures/mailgen';
import { entry, round, type BenchContext, type Benchmark, type BenchEntry } from './frame';

const COUNT = Number(process.env.BENCH_MOVE_MESSAGES ?? 10_000);
const PASSES = 3;

async function connect(ctx: BenchContext, commands?: string[]): Promise<ImapFlow> {
	const client = new ImapFlow({
		host: '127.0.0.1',
		port: ctx.servers.ports.imaps,
		secure: true,
		tls: { ca: ctx.ca },
		auth: { user: ctx.user, pass: ctx.password },
		logger: commands
			? {
					debug: (e: { src?: string; msg?: string }) => {
						if (e.src === 'c' && typeof e.msg === 'string' && / UID MOVE /.test(e.msg)) commands.push(e.msg);
					},
					info: () => undefined,
					warn: () => undefined,
					error: () => undefined,
				}
			: false,
		disableAutoIdle: true,
	});
	await client.connect();
	return client;
}

let folderSerial = 0;

/** A fresh source folder with `count` messages and an empty destination. */
async function seed(ctx: BenchContext, count: number): Promise<{ source: string; destination: string }> {
	const n = ++folderSerial;
	const source = `MoveBench${n}`;
	const destination = `MoveBench${n}Done`;
	const messages = (function* () {
		for (let k = 0; k < count; k++) {
			const m = generateMessage(ctx.seed, k, { attachPct: 0 });
			yield { raw: m.raw, date: m.date };
		}
	})();
	await ctx.servers.writeMaildir(ctx.user, source, messages);
	await ctx.servers.writeMaildir(ctx.user, destination, []);
	return { source, destination };
}

const allUids = (count: number) => Array.from({ length: count }, (_, k) => k + 1);
const oddUids = (count: number) => Array.from({ length: Math.ceil(count / 2) }, (_, k) => 2 * k + 1);

interface Pass {
	ms: number;
	moveCommands: number;
}

async function nodePass(ctx: BenchContext, uids: number[]): Promise<Pass> {
	const { source, destination } = await seed(ctx, COUNT);
	const commands: string[] = [];
	const client = await connect(ctx, commands);
	try {
		// what the node knows from its input items: folder, uid, uidValidity
		const status = await client.status(source, { uidValidity: true });
		if (!status || status.uidValidity === undefined) throw new Error(`no STATUS for ${source}`);
		const uidValidity = status.uidValidity.toString();
		await client.mailboxOpen('INBOX', { readOnly: true }); // start from another folder, as the node would
		const t0 = process.hrtime.bigint();
		const addresses: MessageAddress[] = uids.map((uid) => ({ folder: source, uid, uidValidity }));
		const folders = await foldersOf(client);
		if (!folders.some((f) => f.path === destination)) throw new Error(`no folder ${destination}`);
		const outcomes = await runBulk(client, addresses, { type: 'move', destination });
		const ms = Number(process.hrtime.bigint() - t0) / 1e6;
		const failed = outcomes.filter((o) => !o.ok);
		if (failed.length) throw new Error(`${failed.length} messages not moved: ${failed[0].ok ? '' : failed[0].error.message}`);
		const left = await client.status(destination, { messages: true });
		if (!left || left.messages !== uids.length) throw new Error(`moved ${left ? left.messages : '?'} of ${uids.length}`);
		return { ms, moveCommands: commands.length };
	} finally {
		await client.logout();
	}
}

async function rawPass(ctx: BenchContext, uids: number[]): Promise<Pass> {
	const { source, destination } = await seed(ctx, COUNT);
	const client = await connect(ctx);
	try {
		await client.mailboxOpen('INBOX', { readOnly: true });
		const set = uids.length === COUNT ? `1:${COUNT}` : uids.join(',');
		const t0 = process.hrtime.bigint();
		await client.mailboxOpen(source);
		const result = await client.messageMove(set, destination, { uid: true });
		const ms = Number(process.hrtime.bigint() - t0) / 1e6;
		if (!result) throw new Error('raw move failed');
		const left = await client.status(destination, { messages: true });
		if (!left || left.messages !== uids.length) throw new Error(`raw moved ${left ? left.messages : '?'} of ${uids.length}`);
		return { ms, moveCommands: 1 };
	} finally {
		await client.logout();
	}
}

async function compare(ctx: BenchContext, uids: number[]): Promise<{ node: Pass; raw: Pass }> {
	let node: Pass | undefined;
	let raw: Pass | undefined;
	for (let pass = 0; pass < PASSES; pass++) {
		const r = await rawPass(ctx, uids);
		const n = await nodePass(ctx, uids);
		if (!raw || r.ms < raw.ms) raw = r;
		if (!node || n.ms < node.ms) node = n;
	}
	return { node: node as Pass, raw: raw as Pass };
}

export const imapMove: Benchmark<BenchContext> = {
	name: 'imap-move',
	async run(ctx): Promise<BenchEntry[]> {
		const all = await compare(ctx, allUids(COUNT));
		const odd = await compare(ctx, oddUids(COUNT));
		const note = (c: { node: Pass }, what: string) => `${what}; node path: LIST, SELECT, UID SEARCH, ${c.node.moveCommands} UID MOVE; best of ${PASSES} alternating passes, each on a freshly seeded folder`;
		return [
			entry({
				name: `move ${COUNT} messages (node path vs raw messageMove)`,
				value: round(all.node.ms, 0),
				unit: 'ms',
				higherIsBetter: false,
				bound: round(all.raw.ms, 0),
				boundName: `raw imapflow messageMove('1:${COUNT}')`,
				target: 2,
				notes: note(all, `${COUNT} UIDs 1:${COUNT}`),
			}),
			entry({
				name: `move ${Math.ceil(COUNT / 2)} scattered messages (every other UID)`,
				value: round(odd.node.ms, 0),
				unit: 'ms',
				higherIsBetter: false,
				bound: round(odd.raw.ms, 0),
				boundName: 'raw imapflow messageMove of the same set in one command',
				target: 2,
				notes: note(odd, `${Math.ceil(COUNT / 2)} UIDs, no two adjacent`),
			}),
		];
	},
};
