/**
 * The EWS trigger's watcher: the folder-sync watcher of the delivery core (lib/delivery/folder-sync.ts)
 * over SyncFolderItems. Exchange reports created messages as such (Create), so a message that only
 * changed (read, flagged) is never taken for a new one; ErrorInvalidSyncStateData makes a folder
 * sync from scratch.
 */
import { ChangeType, SyncFolderItemsScope, type ItemChange } from 'ews-javascript-api';
import { isItemGone, isResyncRequired, type MailboxError } from '../errors';
import { FolderSyncWatcher, type FolderSyncAfterProcessing, type FolderSyncChange, type FolderSyncEvent, type FolderSyncMessage, type FolderSyncOptions, type FolderSyncSession, type FolderSyncStats } from '../delivery/folder-sync';
import type { EwsClient, EwsFolderRef } from './client';
import { deleteMessages, getMessage, itemInfo, markRead, moveMessages, SYNC_PROPERTIES, type EwsMessage } from './items';

export { folderKey } from '../delivery/folder-sync';

export type EwsAfterProcessing = FolderSyncAfterProcessing;
/** What `deliver` gets for each message (`key`: mailbox, folder and item id). */
export type EwsWatchedMessage = FolderSyncMessage<EwsMessage>;
export type EwsWatchEvent = FolderSyncEvent<EwsWatchedMessage>;
export type EwsWatchStats = FolderSyncStats;

export interface EwsWatcherOptions extends Omit<FolderSyncOptions<EwsMessage>, 'connect'> {
	/** A client; called again after a poll failed (a new token, a new connection). */
	connect: () => Promise<EwsClient>;
}


/** An EWS client as the folder-sync watcher uses it; failures come out as MailboxErrors. */
export function ewsSyncSession(client: EwsClient): FolderSyncSession<EwsMessage> {
	const mapped = async <T>(operation: string | undefined, work: () => Promise<T>): Promise<T> => {
		try {
			return await work();
		} catch (error) {
			throw client.toMailboxError(error, operation);
		}
	};
	/** Acts on one message at a time, each failure its own result; after a failure other than a message gone, the rest waits (not attempted). */
	const each = async (ids: string[], act: (id: string) => Promise<void>): Promise<Array<MailboxError | undefined>> => {
		const results: Array<MailboxError | undefined> = [];
		for (const id of ids) {
			try {
				await act(id);
				results.push(undefined);
			} catch (error) {
				const e = client.toMailboxError(error);
				results.push(e);
				if (!isItemGone(e)) break;
			}
		}
		return results;
	};
	return {
		resolveFolder: (path) => mapped(undefined, () => client.resolveFolder(path)),
		syncPage: (folder, syncState, max) =>
			mapped('SyncFolderItems', async () => {
				const changes = await client.call('SyncFolderItems', (service) =>
					service.SyncFolderItems(client.folderIdOf(folder as EwsFolderRef), SYNC_PROPERTIES, [], max, SyncFolderItemsScope.NormalItems, syncState ?? ''),
				);
				const list: FolderSyncChange[] = [];
				for (const change of changes.GetEnumerator() as ItemChange[]) {
					if (change.ChangeType === ChangeType.Create && change.Item) {
						const { itemId, messageId, isRead, received, size } = itemInfo(change.Item);
						list.push({ type: 'created', item: { itemId, messageId, isRead, received, size } });
					} else if (change.ChangeType === ChangeType.Delete && change.ItemId?.UniqueId) {
						list.push({ type: 'removed', itemId: change.ItemId.UniqueId });
					}
				}
				return { changes: list, syncState: changes.SyncState, more: changes.MoreChangesAvailable };
			}),
		fetch: (itemId) => mapped('GetItem', () => getMessage(client, itemId)),
		// one request per message, as before: a message's failure is its own
		markRead: (ids) => each(ids, (id) => markRead(client, [id])),
		move: (ids, target) => each(ids, (id) => moveMessages(client, [id], target as EwsFolderRef)),
		delete: (ids, mode) => each(ids, (id) => deleteMessages(client, [id], mode)),
		close: () => client.close(),
	};
}

/**
 * The engine of the EWS trigger. Create it with the persisted state, `start()` it, persist what
 * `onState` and `onLedger` report, `stop()` it. Never throws from its background work.
 */
export class EwsWatcher extends FolderSyncWatcher<EwsMessage> {
	constructor(options: EwsWatcherOptions) {
		super(
			{ ...options, connect: async () => ewsSyncSession(await options.connect()) },
			{
				label: 'EWS',
				loggerName: 'mailbox-ews',
				largestPage: 512,
				isResync: isResyncRequired,
				isGone: isItemGone,
			},
		);
	}
}
