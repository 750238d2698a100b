import type { ImapFlow } from 'imapflow';

export type SpecialUse = 'inbox' | 'sent' | 'drafts' | 'junk' | 'trash' | 'archive' | 'all' | 'flagged';

export interface FolderInfo {
	/** Full path as the server names it, e.g. "INBOX" or "Projects/2026". */
	path: string;
	/** Last part of the path, decoded. */
	name: string;
	/** Path of the parent folder, "" at the top. */
	parentPath: string;
	delimiter: string;
	/** The folder's role from SPECIAL-USE (RFC 6154), if the server announces one. */
	specialUse?: SpecialUse;
	subscribed: boolean;
	/** False for folders that only hold other folders (\Noselect). */
	selectable: boolean;
	messages?: number;
	unseen?: number;
	uidValidity?: string;
	uidNext?: number;
}

function roleOf(specialUse: string | undefined): SpecialUse | undefined {
	if (!specialUse) return undefined;
	const role = specialUse.replace(/^\\/, '').toLowerCase();
	return (['inbox', 'sent', 'drafts', 'junk', 'trash', 'archive', 'all', 'flagged'] as const).find((r) => r === role);
}

/**
 * Lists every folder with its role; with `counts`, also the number of messages and unseen
 * messages (LIST-STATUS where the server has it, otherwise one STATUS per folder).
 */
export async function listFolders(client: ImapFlow, options: { counts?: boolean } = {}): Promise<FolderInfo[]> {
	const list = await client.list(options.counts ? { statusQuery: { messages: true, unseen: true, uidValidity: true, uidNext: true } } : {});
	return list.map((entry) => {
		const flags = entry.flags instanceof Set ? entry.flags : new Set<string>();
		const info: FolderInfo = {
			path: entry.path,
			name: entry.name,
			parentPath: entry.parentPath ?? '',
			delimiter: entry.delimiter ?? '/',
			specialUse: roleOf(entry.specialUse),
			subscribed: entry.subscribed === true,
			selectable: !flags.has('\\Noselect') && !flags.has('\\NonExistent'),
		};
		if (entry.status) {
			info.messages = entry.status.messages;
			info.unseen = entry.status.unseen;
			info.uidValidity = entry.status.uidValidity !== undefined ? String(entry.status.uidValidity) : undefined;
			info.uidNext = entry.status.uidNext;
		}
		return info;
	});
}
