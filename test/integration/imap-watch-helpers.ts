/** Shared by the imap-watch integration tests: a watcher wired to collectors, and waiting without timing assertions. */
import fs from 'node:fs';
import type { ImapFlow } from 'imapflow';
import { resolveServer, type ResolvedServer } from '../../lib/connection/options';
import { withImap } from '../../lib/imap/connect';
import { ImapWatcher, type ImapWatcherOptions, type WatchEvent, type WatchedMessage, type WatchState } from '../../lib/imap/watch';
import type { MailServers } from '../servers';

export const LOGIN = { user: 'alice', password: 'alice-pw' };

export function imapServer(servers: MailServers, port = servers.ports.imaps): ResolvedServer {
	return resolveServer('imap', { host: '127.0.0.1', port, security: 'tls', ca: fs.readFileSync(servers.certPath, 'utf8') });
}

/** Waits until `check` is true; fails with `what` after `ms` (a safety net, not a timing assertion). */
export async function until(check: () => boolean, what: string, ms = 60_000): Promise<void> {
	const deadline = Date.now() + ms;
	while (!check()) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}

export interface Harness {
	watcher: ImapWatcher;
	delivered: WatchedMessage[];
	events: WatchEvent[];
	state: () => WatchState | undefined;
}

/** A watcher whose deliveries are collected; `deliver` defaults to acknowledging at once. */
export function watch(servers: MailServers, options: Partial<ImapWatcherOptions> & { server?: ResolvedServer }): Harness {
	const delivered: WatchedMessage[] = [];
	const events: WatchEvent[] = [];
	let saved: WatchState | undefined;
	const deliver = options.deliver;
	const watcher = new ImapWatcher({
		server: options.server ?? imapServer(servers),
		login: LOGIN,
		maxIdleMs: 10 * 60_000,
		pollIntervalMs: 10 * 60_000,
		backoff: { initialMs: 100, maxMs: 1_000 },
		// a failed run is retried on the next fetch (the node's default waits a minute first)
		retry: { retryDelayMs: 0, ...options.retry },
		...options,
		deliver: async (messages, run) => {
			delivered.push(...messages);
			if (deliver) return deliver(messages, run);
		},
		onState: (state) => {
			saved = state;
			options.onState?.(state);
		},
		onEvent: (event) => {
			events.push(event);
			options.onEvent?.(event);
		},
	});
	return { watcher, delivered, events, state: () => saved };
}

export function imap<T>(servers: MailServers, work: (client: ImapFlow) => Promise<T>): Promise<T> {
	return withImap(imapServer(servers), LOGIN, work);
}

export function append(servers: MailServers, folder: string, raw: Buffer | string, flags: string[] = []): Promise<void> {
	return imap(servers, async (client) => {
		await client.append(folder, raw, flags);
	});
}

export function simpleMessage(id: string, subject = id, body = 'Hello.'): Buffer {
	return Buffer.from(`From: Sender <sender@example.test>\r\nTo: alice@example.test\r\nSubject: ${subject}\r\nMessage-ID: <${id}@example.test>\r\nDate: ${new Date().toUTCString()}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n`);
}

/** UID -> flags of every message in `folder`. */
export function flagsOf(servers: MailServers, folder: string): Promise<Map<number, string[]>> {
	return imap(servers, async (client) => {
		const out = new Map<number, string[]>();
		const mailbox = await client.mailboxOpen(folder, { readOnly: true });
		if (!mailbox.exists) return out;
		for (const m of await client.fetchAll('1:*', { uid: true, flags: true })) out.set(m.uid, [...(m.flags ?? [])]);
		return out;
	});
}
