/**
 * Sending 1,000 messages (every tenth with a 100 KiB attachment) to the SMTP capture server over
 * STARTTLS with AUTH: the Mailbox Send Email node (one execute() over 1,000 items: parameters,
 * binary data, MailComposer, SHA-256, pooled transport) against the bound of raw nodemailer with
 * a pooled transport and all messages handed to sendMail at once, measured in the same run.
 */
import crypto from 'node:crypto';
import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import nodemailer from 'nodemailer';
import { entry, measurePeakRss, round, type BenchContext, type Benchmark, type BenchEntry } from './frame';

/**
 * The built node, as n8n loads it (`npm run bench` builds first). tsx would resolve the source
 * path to MailboxSend.node.json, the codex file next to it.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { MailboxSend } = require('../dist/nodes/MailboxSend/MailboxSend.node.js') as typeof import('../nodes/MailboxSend/MailboxSend.node');

const COUNT = 1000;
const ROUNDS = 2;
const ATTACHMENT = crypto.randomBytes(100 * 1024);

const hasAttachment = (i: number) => i % 10 === 0;
const subject = (i: number) => `Bench message ${i}`;
const text = (i: number) => `Hello,\n\nthis is bench message ${i}.\n\nRegards`;

async function rawNodemailer(ctx: BenchContext): Promise<number> {
	const transporter = nodemailer.createTransport({
		pool: true,
		host: '127.0.0.1',
		port: ctx.servers.ports.smtp,
		secure: false,
		requireTLS: true,
		tls: { rejectUnauthorized: false },
		auth: { user: ctx.user, pass: ctx.password },
	});
	try {
		const sent = await Promise.all(
			Array.from({ length: COUNT }, (_, i) =>
				transporter.sendMail({
					from: '"Bench" <alice@mailbox.test>',
					to: `bob+${i}@mailbox.test`,
					subject: subject(i),
					text: text(i),
					attachments: hasAttachment(i) ? [{ filename: 'data.bin', contentType: 'application/octet-stream', content: ATTACHMENT }] : [],
				}),
			),
		);
		return sent.length;
	} finally {
		transporter.close();
	}
}

async function packageNode(ctx: BenchContext): Promise<number> {
	const items: INodeExecutionData[] = Array.from({ length: COUNT }, (_, i) => ({
		json: { i },
		...(hasAttachment(i) ? { binary: { data: { data: ATTACHMENT.toString('base64'), mimeType: 'application/octet-stream', fileName: 'data.bin' } } } : {}),
	}));
	const params: Record<string, (i: number) => unknown> = {
		authentication: () => 'password',
		fromEmail: () => 'alice@mailbox.test',
		fromName: () => 'Bench',
		toEmail: (i) => `bob+${i}@mailbox.test`,
		subject,
		emailFormat: () => 'text',
		text,
		reply: () => false,
		saveToSent: () => false,
		options: (i) => (hasAttachment(i) ? { attachments: 'data' } : {}),
		account: () => ({}),
	};
	// The credential way to trust the capture server's self-signed certificate; the bound skips the check too.
	const credential = { host: '127.0.0.1', port: ctx.servers.ports.smtp, security: 'starttls', allowSelfSigned: true, authentication: 'password', user: ctx.user, password: ctx.password };
	const log = () => undefined;
	const context = {
		getInputData: () => items,
		getNodeParameter: (name: string, i: number, fallback?: unknown) => (params[name] ? params[name](i) : fallback),
		getCredentials: async () => credential,
		getNode: () => ({ id: 'bench', name: 'Send', type: 'n8n-nodes-mailbox.mailboxSend', typeVersion: 1, position: [0, 0], parameters: {} }),
		continueOnFail: () => false,
		logger: { debug: log, info: log, warn: log, error: log },
		helpers: { getBinaryDataBuffer: async (i: number, name: string) => Buffer.from(items[i].binary?.[name]?.data ?? '', 'base64') },
	} as unknown as IExecuteFunctions;
	const [output] = await new MailboxSend().execute.call(context);
	if (output.length !== COUNT || output.some((o) => !o.json.sha256)) throw new Error('the node did not send every message');
	return output.length;
}

export const smtpSend: Benchmark<BenchContext> = {
	name: 'smtp-send',
	async run(ctx): Promise<BenchEntry[]> {
		try {
			await rawNodemailer(ctx); // warm-up: TLS, the capture server's disk writes
			// Two rounds, interleaved; each side's faster round counts (this machine is noisy, and
			// a round of either can land on a slow stretch).
			type Measured = Awaited<ReturnType<typeof measurePeakRss<number>>>;
			const bounds: Measured[] = [];
			const ourRounds: Measured[] = [];
			for (let r = 0; r < ROUNDS; r++) {
				ctx.servers.smtp.clear();
				bounds.push(await measurePeakRss(() => rawNodemailer(ctx)));
				ourRounds.push(await measurePeakRss(() => packageNode(ctx)));
				const arrived = ctx.servers.received.length;
				if (arrived !== 2 * COUNT) throw new Error(`the capture server got ${arrived} of ${2 * COUNT} messages`);
			}
			const fastest = (list: Measured[]) => list.reduce((a, b) => (b.ms < a.ms ? b : a));
			const bound = fastest(bounds);
			const ours = fastest(ourRounds);
			const notes = `${COUNT} messages, every 10th with a 100 KiB attachment, STARTTLS + AUTH PLAIN, pooled (5 connections); faster of ${ROUNDS} interleaved rounds each`;
			const boundRate = round(COUNT / (bound.ms / 1000), 0);
			return [
				entry({ name: 'smtp send (raw nodemailer, pooled)', value: boundRate, unit: 'msg/s', higherIsBetter: true, notes }),
				entry({ name: 'smtp send (Mailbox Send Email node)', value: round(COUNT / (ours.ms / 1000), 0), unit: 'msg/s', higherIsBetter: true, bound: boundRate, boundName: 'smtp send (raw nodemailer, pooled)', target: 0.8, notes }),
				entry({ name: 'smtp send peak RSS (raw nodemailer)', value: bound.peakMiB, unit: 'MiB', higherIsBetter: false, notes }),
				entry({ name: 'smtp send peak RSS (node)', value: ours.peakMiB, unit: 'MiB', higherIsBetter: false, bound: bound.peakMiB || null, boundName: 'smtp send peak RSS (raw nodemailer)', notes }),
			];
		} finally {
			ctx.servers.smtp.clear();
		}
	},
};
