/**
 * The IMAP, POP3 and EWS triggers of this package in one real n8n, each with a backlog in its own
 * mailbox, and what the tests ask of them afterwards: per message id the executions that had it,
 * and which messages the mail server shows as acted on (IMAP marked read, POP3 deleted, EWS marked
 * read). Used by the fault suite and by the production set-ups (Postgres, queue mode); its
 * workflow() by the other e2e tests whose workflow is a trigger and a NoOp.
 */
import fs from 'node:fs';
import { ImapFlow } from 'imapflow';
import { resolveServer } from '../../lib/connection/options';
import { withPop3 } from '../../lib/pop3/connect';
import type { MailServers } from '../servers';
import { EwsServer } from '../servers/ews';
import { MicrosoftAuthority } from '../servers/microsoft';
import { waitFor, type N8n, type StoredExecution } from './n8n';

export type Source = 'imap' | 'pop3' | 'ews';
export const SOURCES: readonly Source[] = ['imap', 'pop3', 'ews'];
export const TRIGGER = 'New mail';

/** A message of a source's backlog; `extra` header lines go before the body. */
export function message(source: Source, n: number, tag: string, extra = ''): Buffer {
	return Buffer.from(`From: sender${n % 37}@example.test\r\nTo: box@example.test\r\nSubject: ${source} ${n}\r\nMessage-ID: <${source}-${n}@${tag}.test>\r\nDate: Fri, 04 Dec 2026 10:00:00 +0000\r\n${extra}\r\nMessage ${n} for the ${source} trigger.\r\n`);
}

let nodeSerial = 0;
/** A workflow: the trigger (named TRIGGER), then a NoOp on its first output (after a Wait of `waitSeconds`, if given). */
export function workflow(id: string, trigger: object, more: { nodes?: object[]; connections?: Record<string, unknown>; waitSeconds?: number } = {}): object {
	const n = ++nodeSerial;
	if (more.waitSeconds) {
		return {
			id,
			name: `Mail ${id}`,
			active: false,
			nodes: [
				{ id: `5f0a1b2c-3d4e-4f50-8a61-${String(n).padStart(12, '0')}`, name: TRIGGER, position: [0, 0], ...trigger },
				{ id: `5f0a1b2c-3d4e-4f50-8a63-${String(n).padStart(12, '0')}`, name: 'Wait', type: 'n8n-nodes-base.wait', typeVersion: 1.1, position: [150, 0], parameters: { resume: 'timeInterval', amount: more.waitSeconds, unit: 'seconds' }, webhookId: `5f0a1b2c-3d4e-4f50-8a64-${String(n).padStart(12, '0')}` },
				{ id: `5f0a1b2c-3d4e-4f50-8a62-${String(n).padStart(12, '0')}`, name: 'Done', type: 'n8n-nodes-base.noOp', typeVersion: 1, position: [300, 0], parameters: {} },
			],
			connections: { [TRIGGER]: { main: [[{ node: 'Wait', type: 'main', index: 0 }], []] }, Wait: { main: [[{ node: 'Done', type: 'main', index: 0 }]] } },
			settings: { executionOrder: 'v1' },
		};
	}
	return {
		id,
		name: `Mail ${id}`,
		active: false,
		nodes: [
			{ id: `5f0a1b2c-3d4e-4f50-8a61-${String(n).padStart(12, '0')}`, name: TRIGGER, position: [0, 0], ...trigger },
			{ id: `5f0a1b2c-3d4e-4f50-8a62-${String(n).padStart(12, '0')}`, name: 'Done', type: 'n8n-nodes-base.noOp', typeVersion: 1, position: [300, 0], parameters: {} },
			...(more.nodes ?? []),
		],
		connections: { [TRIGGER]: { main: [[{ node: 'Done', type: 'main', index: 0 }], []] }, ...(more.connections ?? {}) },
		settings: { executionOrder: 'v1' },
	};
}

export interface ThreeTriggersOptions {
	/** The mail servers (Dovecot: alice's INBOX for IMAP, bob's for POP3). */
	servers: MailServers;
	/** Messages per source. */
	counts: Record<Source, number>;
	/** Message-ID domain: `<imap-1@TAG.test>`. */
	tag: string;
	/** The workflow id of each source. */
	workflows: Record<Source, string>;
	/** The EWS shared mailbox the trigger watches. */
	ewsMailbox: string;
	/** The Microsoft 365 app's client id and secret at the local authority. */
	app: { clientId: string; clientSecret: string };
}

export class ThreeTriggers {
	authority!: MicrosoftAuthority;
	ews!: EwsServer;
	n8n!: N8n;

	constructor(readonly options: ThreeTriggersOptions) {}

	get counts(): Record<Source, number> {
		return this.options.counts;
	}

	idOf(source: Source, n: number): string {
		return `<${source}-${n}@${this.options.tag}.test>`;
	}

	message(source: Source, n: number, extra = ''): Buffer {
		return message(source, n, this.options.tag, extra);
	}

	/** Starts the Microsoft authority and the EWS endpoint and puts each source's backlog in place (`extra` header lines per message, if any). */
	async prepare(extra: (source: Source, n: number) => string = () => ''): Promise<void> {
		const { servers, ewsMailbox, app } = this.options;
		const tls = { key: fs.readFileSync(servers.dovecot.keyPath), cert: fs.readFileSync(servers.certPath) };
		this.authority = await new MicrosoftAuthority(tls, (user, lifetime) => servers.oauth.issueToken(user, lifetime)).start();
		this.authority.register({ tenant: 'contoso', clientId: app.clientId, clientSecret: app.clientSecret, user: 'alice' });
		this.ews = await EwsServer.start({ tls, tokenUser: (token) => servers.oauth.tokenUser(token), mailboxes: ['alice@contoso.test', ewsMailbox], access: { alice: [ewsMailbox] } });
		const generate = (source: Source) =>
			(function* (self: ThreeTriggers) {
				for (let n = 1; n <= self.counts[source]; n++) yield { raw: self.message(source, n, extra(source, n)) };
			})(this);
		await servers.writeMaildir('alice', 'INBOX', generate('imap'));
		await servers.writeMaildir('bob', 'INBOX', generate('pop3'));
		for (const { raw } of generate('ews')) this.ews.addMessage(ewsMailbox, 'inbox', raw);
	}

	/** Imports the credentials and the three workflows (at trigger version `version`, with `options`) and publishes them. */
	async importInto(n8n: N8n, settings: { version: number; options: Record<string, unknown>; imapPort?: number; waitSeconds?: number }): Promise<void> {
		this.n8n = n8n;
		const { servers, workflows, ewsMailbox, app } = this.options;
		await n8n.importCredentials([
			{ id: 'mbxThreeImapCred', name: 'alice (IMAP)', type: 'mailboxImapApi', data: { host: '127.0.0.1', port: settings.imapPort ?? servers.ports.imaps, security: 'tls', user: 'alice', password: 'alice-pw' } },
			{ id: 'mbxThreePop3Cred', name: 'bob (POP3)', type: 'mailboxPop3Api', data: { host: '127.0.0.1', port: servers.ports.pop3s, security: 'tls', user: 'bob', password: 'bob-pw', loginMethod: 'password' } },
			{ id: 'mbxThreeEwsCred', name: 'Microsoft 365 app (EWS)', type: 'mailboxMicrosoftAppApi', data: { tenantId: 'contoso', clientId: app.clientId, clientSecret: app.clientSecret, mailbox: 'alice@contoso.test', sharedMailboxes: ewsMailbox, authorityHost: this.authority.host, imapHost: '127.0.0.1' } },
		]);
		const { version, options } = settings;
		const slow = { waitSeconds: settings.waitSeconds };
		await n8n.importWorkflow(
			workflow(workflows.imap, {
				type: 'n8n-nodes-mailbox.mailboxImapTrigger',
				typeVersion: version,
				parameters: { authentication: 'password', watch: 'selected', folders: ['INBOX'], firstActivation: 'all', afterProcessing: 'markRead', mode: 'idle', pollMinutes: 0.1, options },
				credentials: { mailboxImapApi: { id: 'mbxThreeImapCred', name: 'alice (IMAP)' } },
			}, slow),
		);
		await n8n.importWorkflow(
			workflow(workflows.pop3, {
				type: 'n8n-nodes-mailbox.mailboxPop3Trigger',
				typeVersion: version,
				parameters: { authentication: 'password', firstActivation: 'all', pollMinutes: 0.1, deleteAfterFetch: true, deleteAfterDays: 0, options },
				credentials: { mailboxPop3Api: { id: 'mbxThreePop3Cred', name: 'bob (POP3)' } },
			}, slow),
		);
		await n8n.importWorkflow(
			workflow(workflows.ews, {
				type: 'n8n-nodes-mailbox.mailboxEwsTrigger',
				typeVersion: version,
				parameters: { authentication: 'microsoftApp', mailbox: ewsMailbox, ewsUrl: this.ews.url, folders: 'Inbox', firstActivation: 'all', afterProcessing: 'markRead', pollMinutes: 0.1, options },
				credentials: { mailboxMicrosoftAppApi: { id: 'mbxThreeEwsCred', name: 'Microsoft 365 app (EWS)' } },
			}, slow),
		);
		for (const id of Object.values(workflows)) await n8n.publish(id);
	}

	/** Per message id: the statuses of the executions that had it. */
	async runs(source: Source): Promise<{ byId: Map<string, string[]>; executions: StoredExecution[] }> {
		const { executions } = await this.n8n.executions(this.options.workflows[source]);
		const byId = new Map<string, string[]>();
		for (const e of executions) {
			for (const item of e.output[TRIGGER] ?? []) {
				if (typeof item.messageId !== 'string' || typeof item.status === 'string') continue;
				byId.set(item.messageId, [...(byId.get(item.messageId) ?? []), e.status]);
			}
		}
		return { byId, executions };
	}

	/** Messages whose run succeeded, over all sources. */
	async successes(): Promise<number> {
		let total = 0;
		for (const source of SOURCES) total += [...(await this.runs(source)).byId.values()].filter((s) => s.includes('success')).length;
		return total;
	}

	total(): number {
		return this.counts.imap + this.counts.pop3 + this.counts.ews;
	}

	/** Message ids acted on: IMAP marked read, POP3 deleted, EWS marked read. */
	async acted(source: Source): Promise<Set<string>> {
		const { servers, ewsMailbox } = this.options;
		if (source === 'imap') {
			const client = new ImapFlow({ host: '127.0.0.1', port: servers.ports.imaps, secure: true, tls: { ca: fs.readFileSync(servers.certPath) }, auth: { user: 'alice', pass: 'alice-pw' }, logger: false });
			client.on('error', () => undefined);
			await client.connect();
			try {
				await client.mailboxOpen('INBOX', { readOnly: true });
				const out = new Set<string>();
				for (const m of await client.fetchAll('1:*', { flags: true, envelope: true })) if (m.flags?.has('\\Seen') && m.envelope?.messageId) out.add(m.envelope.messageId);
				return out;
			} finally {
				await client.logout().catch(() => undefined);
			}
		}
		if (source === 'pop3') {
			const server = resolveServer('pop3', { host: '127.0.0.1', port: servers.ports.pop3s, security: 'tls', ca: fs.readFileSync(servers.certPath) });
			const present = await withPop3(server, { user: 'bob', password: 'bob-pw' }, async ({ client }) => {
				const out = new Set<string>();
				const { count } = await client.stat();
				for (let i = 1; i <= count; i++) out.add(/^Message-ID: (.*)$/im.exec((await client.top(i, 0)).toString())?.[1]?.trim() ?? '');
				return out;
			});
			// message 0 is the one delivered after the others
			return new Set(Array.from({ length: this.counts.pop3 + 1 }, (_, i) => this.idOf('pop3', i)).filter((id) => !present.has(id)));
		}
		return new Set(this.ews.folderItems(ewsMailbox, 'inbox').filter((i) => i.isRead).map((i) => `<${i.subject.replace(' ', '-')}@${this.options.tag}.test>`));
	}

	/**
	 * Per source: lost (no execution had it), run twice (more than one), acted on without a run that
	 * succeeded, the messages whose every run crashed, and those left untouched on the server.
	 */
	async verdict(source: Source, leaveOut: string[] = []): Promise<{ ids: string[]; lost: string[]; twice: string[]; actedWithoutSuccess: string[]; crashed: string[]; untouched: string[] }> {
		const { byId } = await this.runs(source);
		for (const id of leaveOut) byId.delete(id);
		const ids = Array.from({ length: this.counts[source] }, (_, i) => this.idOf(source, i + 1));
		const done = await this.acted(source);
		return {
			ids,
			lost: ids.filter((id) => !byId.has(id)),
			twice: ids.filter((id) => (byId.get(id)?.length ?? 0) > 1).map((id) => `${id}: ${byId.get(id)!.join(', ')}`),
			actedWithoutSuccess: [...done].filter((id) => ids.includes(id) && !byId.get(id)?.includes('success')),
			crashed: ids.filter((id) => byId.get(id)?.every((s) => s === 'crashed')),
			untouched: ids.filter((id) => !done.has(id)),
		};
	}

	/** One more message (number 0) for a source, e.g. after a disruption; resolves once its run succeeded. */
	async deliverOneMore(source: Source, timeoutMs?: number): Promise<void> {
		const { servers, ewsMailbox } = this.options;
		if (source === 'imap') await servers.writeMaildir('alice', 'INBOX', [{ raw: this.message('imap', 0) }]);
		else if (source === 'pop3') await servers.writeMaildir('bob', 'INBOX', [{ raw: this.message('pop3', 0) }]);
		else this.ews.addMessage(ewsMailbox, 'inbox', this.message('ews', 0));
		await waitFor(`the ${source} message after the others`, async () => ((await this.runs(source)).byId.get(this.idOf(source, 0))?.includes('success') ? true : undefined), timeoutMs);
	}

	async stop(): Promise<void> {
		await this.ews?.stop();
		await this.authority?.stop();
	}
}
