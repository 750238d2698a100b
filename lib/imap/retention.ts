/**
 * Retention: remove the messages of a folder that are older than N days (0 keeps them forever).
 *
 * Age is measured from the message's arrival (INTERNALDATE) or, on request, from its Date header,
 * against a cut-off of exactly `now` minus N days. IMAP SEARCH only knows whole days, so the
 * server is asked for a superset (BEFORE a day after the cut-off) and the exact times are checked
 * here. Deleting sets \Deleted on exactly those UIDs and removes exactly those with UID EXPUNGE
 * (UIDPLUS): a plain EXPUNGE would also remove messages another client only marked \Deleted.
 * Everything runs on UID sets of up to `batchSize` messages per command.
 */
import type { ImapFlow } from 'imapflow';
import { configError, MailboxError } from '../errors';
import { expungesWholeFolder, othersMarkedDeleted } from './expunge';
import { hierarchyOf, listFolders, locateFolder, type FolderInfo, type PathField, type SpecialUse } from './folders';
import { uidSetOf } from './uid-set';

const DAY_MS = 24 * 60 * 60 * 1000;

export type RetentionAgeBy = 'arrival' | 'dateHeader';

export interface RetentionRule {
	/** The folder's path as the server names it. */
	folder: string;
	/** Remove messages older than this many days; 0 never removes anything. */
	days: number;
	/** Where the rule came from, for the output (e.g. "inbox", "junk", "sent", "extra"). */
	role?: string;
}

export interface RetentionOptions {
	/** The reference time; the cut-off is `now` minus the rule's days (default: the current time). */
	now?: Date | number;
	/** List what would be removed without changing anything (the folder is opened read-only). */
	dryRun?: boolean;
	/** 'arrival' (INTERNALDATE, default) or 'dateHeader' (the Date header; arrival when it has none). */
	ageBy?: RetentionAgeBy;
	/** Move the messages to this folder instead of deleting them (a rule for this folder itself deletes). */
	moveTo?: string;
	/** UIDs per FETCH, STORE, EXPUNGE or MOVE command (default 1000). */
	batchSize?: number;
	/** How many removed messages are listed in the result (default 100); the counts are always complete. */
	listLimit?: number;
}

export interface RetainedMessage {
	uid: number;
	messageId: string | null;
	subject: string | null;
	/** The Date header, ISO. */
	date: string | null;
	/** Arrival on the server (INTERNALDATE), ISO. */
	internalDate: string | null;
}

export interface RetentionResult {
	folder: string;
	role?: string;
	days: number;
	/** Messages from before this moment are removed; null when days is 0. */
	cutoff: string | null;
	ageBy: RetentionAgeBy;
	dryRun: boolean;
	/** 'delete', 'move' (to `movedTo`) or 'none' (days 0). */
	action: 'delete' | 'move' | 'none';
	movedTo?: string;
	/** Messages older than the cut-off. */
	matched: number;
	/** Messages removed from the folder (0 in a dry run). */
	deleted: number;
	/** Messages that were or would be removed, oldest UID first, at most listLimit of them. */
	messages: RetainedMessage[];
	/** True when more messages matched than are listed. */
	messagesTruncated: boolean;
}

/** The cut-off of a rule: exactly `days` × 24 hours before `now`. */
export function retentionCutoff(now: Date | number, days: number): Date {
	return new Date(new Date(now).getTime() - days * DAY_MS);
}

/** Days must be a number ≥ 0 (fractions allowed: 0.5 is twelve hours). */
export function checkDays(days: unknown, field: string, label: string): number {
	const n = typeof days === 'string' && days.trim() !== '' ? Number(days) : days;
	if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
		throw configError(field, `${label} must be a number of days, 0 or more (0 = never remove); got ${JSON.stringify(days)}.`, 'Enter for example 30 to remove mail older than 30 days, or 0 to keep it.');
	}
	return n;
}

function chunks<T>(items: T[], size: number): T[][] {
	const out: T[][] = [];
	for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
	return out;
}

function iso(date: unknown): string | null {
	const d = date instanceof Date ? date : typeof date === 'string' || typeof date === 'number' ? new Date(date) : undefined;
	return d && !Number.isNaN(d.getTime()) ? d.toISOString() : null;
}

function validDate(date: unknown): Date | undefined {
	const d = date instanceof Date ? date : typeof date === 'string' ? new Date(date) : undefined;
	return d && !Number.isNaN(d.getTime()) ? d : undefined;
}

/** The server's NO/BAD for a command on the folder, as a MailboxError naming the folder. */
function commandFailed(what: string, folder: string, error?: unknown): MailboxError {
	const e = (error && typeof error === 'object' ? error : {}) as { responseText?: unknown };
	const said = typeof e.responseText === 'string' ? `: ${e.responseText}` : '.';
	return new MailboxError('SERVER', `Retention in "${folder}": the server refused to ${what}${said}`, {
		step: 'command',
		serverResponse: typeof e.responseText === 'string' ? e.responseText : undefined,
		hint: 'Nothing after this point was changed. Check that the account may delete in this folder, then run again: messages already removed stay removed, the rest follow.',
	});
}

/**
 * Applies one rule to its folder. With dryRun the folder is opened read-only (EXAMINE), so not
 * even a flag can change.
 */
export async function applyRetention(client: ImapFlow, rule: RetentionRule, options: RetentionOptions = {}): Promise<RetentionResult> {
	const ageBy: RetentionAgeBy = options.ageBy ?? 'arrival';
	const dryRun = options.dryRun === true;
	const batchSize = Math.max(1, Math.floor(options.batchSize ?? 1000));
	const listLimit = Math.max(0, Math.floor(options.listLimit ?? 100));
	const moveTo = options.moveTo && options.moveTo !== rule.folder ? options.moveTo : undefined;
	const base: RetentionResult = {
		folder: rule.folder,
		...(rule.role ? { role: rule.role } : {}),
		days: rule.days,
		cutoff: null,
		ageBy,
		dryRun,
		action: 'none',
		matched: 0,
		deleted: 0,
		messages: [],
		messagesTruncated: false,
	};
	if (!(rule.days > 0)) return base;
	const cutoff = retentionCutoff(options.now ?? Date.now(), rule.days);
	const result: RetentionResult = { ...base, cutoff: cutoff.toISOString(), action: moveTo ? 'move' : 'delete', ...(moveTo ? { movedTo: moveTo } : {}) };

	const lock = await client.getMailboxLock(rule.folder, { readOnly: dryRun });
	try {
		// SEARCH BEFORE compares whole days (in the server's idea of the date), so ask for one
		// day more on each side of any time zone and check the exact time below.
		const searchDay = new Date(cutoff.getTime() + 2 * DAY_MS);
		const query = ageBy === 'dateHeader' ? { or: [{ sentBefore: searchDay }, { before: searchDay }] } : { before: searchDay };
		const found = await client.search(query, { uid: true });
		if (!found) throw commandFailed('search the folder', rule.folder);
		const candidates = [...found].sort((a, b) => a - b);

		const matched: number[] = [];
		const details = new Map<number, RetainedMessage>();
		for (const batch of chunks(candidates, batchSize)) {
			// the envelope only where the age is the Date header, or for the listed messages
			const withEnvelope = ageBy === 'dateHeader' || details.size < listLimit;
			for await (const msg of client.fetch(uidSetOf(batch), { uid: true, internalDate: true, envelope: withEnvelope }, { uid: true })) {
				const internal = validDate(msg.internalDate);
				const header = validDate(msg.envelope?.date);
				const age = ageBy === 'dateHeader' ? (header ?? internal) : internal;
				if (!age || age.getTime() >= cutoff.getTime()) continue;
				matched.push(msg.uid);
				if (details.size < listLimit) {
					details.set(msg.uid, {
						uid: msg.uid,
						messageId: msg.envelope?.messageId ?? null,
						subject: msg.envelope?.subject ?? null,
						date: iso(msg.envelope?.date),
						internalDate: iso(msg.internalDate),
					});
				}
			}
		}
		matched.sort((a, b) => a - b);
		result.matched = matched.length;
		result.messages = matched.filter((uid) => details.has(uid)).slice(0, listLimit).map((uid) => details.get(uid) as RetainedMessage);
		result.messagesTruncated = matched.length > result.messages.length;
		if (dryRun || matched.length === 0) return result;

		await guardPlainExpunge(client, rule.folder, matched, moveTo !== undefined);
		for (const batch of chunks(matched, batchSize)) {
			const set = uidSetOf(batch);
			if (moveTo) {
				let moved;
				try {
					moved = await client.messageMove(set, moveTo, { uid: true });
				} catch (error) {
					throw commandFailed(`move messages to "${moveTo}"`, rule.folder, error);
				}
				if (moved === false) throw commandFailed(`move messages to "${moveTo}"`, rule.folder);
			} else {
				// \Deleted, then UID EXPUNGE of this set only (imapflow uses UID EXPUNGE with UIDPLUS)
				if (!(await client.messageDelete(set, { uid: true }))) throw commandFailed('delete messages', rule.folder);
			}
			// count what is really gone: another client may have removed some of them already
			const left = await client.search({ uid: set }, { uid: true });
			result.deleted += batch.length - (left ? left.length : 0);
		}
		return result;
	} finally {
		lock.release();
	}
}

/** A removal that would expunge the whole folder is refused while other messages there are marked \Deleted. */
async function guardPlainExpunge(client: ImapFlow, folder: string, ours: number[], moving: boolean): Promise<void> {
	if (!expungesWholeFolder(client.capabilities, moving ? 'move' : 'delete')) return;
	const others = await othersMarkedDeleted(client, ours);
	if (others === 0) return;
	throw new MailboxError('SERVER', `Retention in "${folder}": the server cannot expunge single messages (no UIDPLUS), and ${others} other message(s) there are marked as deleted; expunging would remove them too.`, {
		step: 'command',
		hint: 'Undelete or expunge those messages in the mail client that marked them, then run again.',
	});
}

export interface RetentionPlanInput {
	/** Days for INBOX, the Junk folder and the Sent folder; 0 = never. */
	inboxDays: number;
	junkDays: number;
	sentDays: number;
	/** The Junk / Sent / Trash folder when it is not the one with the SPECIAL-USE role. */
	junkFolder?: string;
	sentFolder?: string;
	trashFolder?: string;
	/** Further folders with their own days. */
	otherFolders?: Array<{ folder: string; days: number }>;
	/** Move to the Trash folder instead of deleting. */
	moveToTrash?: boolean;
	/** What separates levels in the folder paths typed by the user (default "/"). */
	separator?: string;
}

export interface RetentionPlan {
	rules: RetentionRule[];
	/** The Trash folder, when moving there. */
	moveTo?: string;
}

const ROLE_FIELDS: Record<'junk' | 'sent' | 'trash', { field: string; label: string; days?: string }> = {
	junk: { field: 'junkFolder', label: 'Junk Folder', days: 'Junk Days' },
	sent: { field: 'sentFolder', label: 'Sent Folder', days: 'Sent Days' },
	trash: { field: 'trashFolder', label: 'Trash Folder' },
};

/**
 * Resolves the folders of a retention run before anything is changed: INBOX, the folders with the
 * Junk and Sent roles (SPECIAL-USE, or the folders named instead), the other folders, and the
 * Trash folder when moving there. A folder that is needed but missing, or named twice, is an
 * error naming the field; a role folder whose days are 0 need not exist.
 */
export async function planRetention(client: ImapFlow, input: RetentionPlanInput): Promise<RetentionPlan> {
	const folders = await listFolders(client);
	const hierarchy = hierarchyOf(client);
	const separator = input.separator ?? '/';
	const byRole = (role: SpecialUse) => folders.find((f) => f.specialUse === role && f.selectable);
	const roleFolder = (role: 'junk' | 'sent' | 'trash', named: string | undefined, needed: boolean): FolderInfo | undefined => {
		const at = ROLE_FIELDS[role];
		if (named && named.trim() !== '') return locateFolder(folders, named, hierarchy, { separator, at });
		const found = byRole(role);
		if (!found && needed) {
			const why = at.days ? `${at.days} is set, but` : 'Move to Trash is on, but';
			throw new MailboxError('NOT_FOUND', `${why} the server marks no folder as the ${role} folder (SPECIAL-USE \\${role[0].toUpperCase()}${role.slice(1)}).`, {
				field: at.field,
				hint: `Set ${at.label} in the options to the folder's path (Folder → List shows them)${at.days ? `, or set ${at.days} to 0` : ''}.`,
			});
		}
		return found;
	};

	const rules: Array<RetentionRule & { at: PathField }> = [];
	const inbox = folders.find((f) => f.path.toUpperCase() === 'INBOX');
	rules.push({ folder: inbox?.path ?? 'INBOX', days: checkDays(input.inboxDays, 'inboxDays', 'Inbox Days'), role: 'inbox', at: { field: 'inboxDays', label: 'Inbox Days' } });
	const junkDays = checkDays(input.junkDays, 'junkDays', 'Junk Days');
	const junk = roleFolder('junk', input.junkFolder, junkDays > 0);
	if (junk) rules.push({ folder: junk.path, days: junkDays, role: 'junk', at: ROLE_FIELDS.junk });
	const sentDays = checkDays(input.sentDays, 'sentDays', 'Sent Days');
	const sent = roleFolder('sent', input.sentFolder, sentDays > 0);
	if (sent) rules.push({ folder: sent.path, days: sentDays, role: 'sent', at: ROLE_FIELDS.sent });
	(input.otherFolders ?? []).forEach((entry, i) => {
		const at = { field: 'otherFolders', label: `Other Folders (entry ${i + 1})` };
		const folder = locateFolder(folders, entry.folder, hierarchy, { separator, at });
		rules.push({ folder: folder.path, days: checkDays(entry.days, 'otherFolders', `Days of ${at.label}`), role: 'other', at });
	});

	const seen = new Map<string, PathField>();
	for (const rule of rules) {
		const key = rule.folder.toUpperCase() === 'INBOX' ? 'INBOX' : rule.folder;
		const first = seen.get(key);
		if (first) {
			throw configError(rule.at.field, `The folder "${rule.folder}" has two retention rules (${first.label} and ${rule.at.label}).`, 'Give each folder one number of days: remove one of them.');
		}
		seen.set(key, rule.at);
	}
	const trash = input.moveToTrash ? roleFolder('trash', input.trashFolder, true) : undefined;
	return { rules: rules.map((rule) => ({ folder: rule.folder, days: rule.days, role: rule.role })), ...(trash ? { moveTo: trash.path } : {}) };
}

/**
 * Applies every rule of a plan, in the plan's order, except that the Trash folder's own rule (when
 * messages are moved there) runs first: what this run moves to Trash stays there until the next
 * run at least. Results come in the plan's order.
 */
export async function runRetention(client: ImapFlow, plan: RetentionPlan, options: Omit<RetentionOptions, 'moveTo'> = {}): Promise<RetentionResult[]> {
	const order = plan.rules.map((rule, index) => ({ rule, index }));
	if (plan.moveTo) order.sort((a, b) => Number(b.rule.folder === plan.moveTo) - Number(a.rule.folder === plan.moveTo) || a.index - b.index);
	const results: RetentionResult[] = [];
	for (const { rule, index } of order) results[index] = await applyRetention(client, rule, { ...options, moveTo: plan.moveTo });
	return results;
}
