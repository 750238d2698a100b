import type { INodeExecutionData } from 'n8n-workflow';
import { configError } from '../../lib/errors';
import type { FolderStats, ResetPoint, WatchEvent } from '../../lib/imap/watch';
import { statusItem } from '../shared/trigger-runs';

/** R7: folders that hold no mail to process, left out of "all folders" and the folder list. */
export const DEFAULT_EXCLUDED_FOLDERS = 'Calendar, Contacts, Notes, RSS Feeds, RSS Subscriptions, Sync Issues, Conversation History, Search Folders, Tasks, Junk, Junk E-Mail, Spam, Deleted, Deleted Items, Trash, Journal, Outbox, Drafts';

/**
 * The Excluded Folders option as a test on a folder path: a folder is excluded when its whole
 * path or its last part matches an entry (case-insensitive), so "Junk" covers "INBOX/Junk" too.
 */
export function excludedBy(list: string): (path: string) => boolean {
	const names = new Set(
		list
			.split(/[,;\n]/)
			.map((s) => s.trim().toLowerCase())
			.filter(Boolean),
	);
	return (path) => {
		const lower = path.toLowerCase();
		const last = lower.split(/[/.]/).pop() ?? lower;
		return names.has(lower) || names.has(last);
	};
}

/** "Reload From": a date (YYYY-MM-DD, or any ISO date-time) or "uid:N"; empty: none. */
export function parseReloadFrom(value: string | undefined): ResetPoint | undefined {
	const text = (value ?? '').trim();
	if (!text) return undefined;
	const uid = /^uid:\s*(\d+)$/i.exec(text);
	if (uid) return { fromUid: Number(uid[1]) };
	if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) {
		const since = new Date(text.length === 10 ? `${text}T00:00:00Z` : text.replace(' ', 'T'));
		if (!Number.isNaN(since.getTime())) return { since };
	}
	throw configError('reloadFrom', `Reload From "${text}" is neither a date nor "uid:N".`, 'Enter a date such as 2026-11-01 to receive the mail since then again, "uid:1234" to start at a UID, or leave it empty.');
}

/**
 * The "Mailbox Status" output (H2-H4): one item when fetching starts to fail, updated ones while
 * it keeps failing, one when it works again; also UIDVALIDITY changes and oversized mail that was
 * skipped. Each carries the folder's statistics (last fetch duration, counts, bounces).
 */
export function folderStatusItem(event: WatchEvent, mailbox: string, stats: FolderStats | undefined): INodeExecutionData | undefined {
	const statistics = stats
		? {
				lastFetchAt: stats.lastFetchAt?.toISOString() ?? null,
				lastFetchMs: stats.lastFetchMs ?? null,
				delivered: stats.delivered,
				acknowledged: stats.acknowledged,
				failedRuns: stats.failed,
				skipped: stats.skipped,
				oversized: stats.oversized,
				bounces: stats.bounces,
				push: stats.push,
			}
		: null;
	const base = { mailbox, folder: event.folder, statistics };
	switch (event.type) {
		case 'failing':
		case 'updated':
		case 'recovered':
			return statusItem(event, mailbox, event.folder, statistics);
		case 'uidValidityChanged':
			return {
				json: {
					...base,
					status: 'uidValidityChanged',
					title: `Folder ${event.folder} of '${mailbox}' was renumbered by the server`,
					previousUidValidity: event.previous,
					uidValidity: event.current,
					handling: event.handling,
				},
			};
		case 'skipped':
			return {
				json: {
					...base,
					status: 'skipped',
					title: `A message over the size limit was not received`,
					uid: event.uid,
					messageId: event.messageId ?? null,
					size: event.size,
					reason: event.reason,
				},
			};
		default:
			return undefined;
	}
}
