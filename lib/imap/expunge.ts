/**
 * Removing messages from a folder ends in EXPUNGE: a delete, and a move on a server without MOVE
 * (imapflow copies, marks \Deleted and expunges). With UIDPLUS imapflow expunges exactly those UIDs
 * (UID EXPUNGE); without it only the whole folder, which also removes the messages other mail
 * clients marked \Deleted (and may still undelete). Every removal in this package asks here first.
 */
import type { ImapFlow } from 'imapflow';

/** Whether removing messages (`delete`, or `move`) would expunge the whole folder. */
export function expungesWholeFolder(capabilities: { has(name: string): boolean }, removal: 'delete' | 'move'): boolean {
	return !capabilities.has('UIDPLUS') && (removal === 'delete' || !capabilities.has('MOVE'));
}

/** How many messages of the open folder, other than `ours`, are marked \Deleted: what a whole-folder EXPUNGE would take with it. */
export async function othersMarkedDeleted(client: ImapFlow, ours: Iterable<number>): Promise<number> {
	const marked = await client.search({ deleted: true }, { uid: true });
	const mine = new Set(ours);
	return marked ? marked.filter((uid) => !mine.has(uid)).length : 0;
}
