/**
 * Messages through EWS for the trigger: read one with its MIME content (GetItem), and the actions
 * after a successful run: mark as read (UpdateItem IsRead, read receipts suppressed), move to a
 * folder (MoveItem), delete (DeleteItem: to Deleted Items, or permanently).
 */
import {
	BasePropertySet,
	ChangeType,
	ConflictResolutionMode,
	DeleteMode,
	EmailMessage,
	EmailMessageSchema,
	ItemId,
	ItemSchema,
	PropertySet,
	ServiceResponse,
	ServiceResult,
	SyncFolderItemsScope,
	type DateTime,
	type Item,
	type ItemChange,
} from 'ews-javascript-api';
import { MailboxError } from '../errors';
import type { EwsClient, EwsFolderRef } from './client';

/** A message as the trigger reads it. */
export interface EwsMessage {
	itemId: string;
	changeKey: string;
	isRead?: boolean;
	received?: Date;
	/** The Message-ID header as Exchange keeps it (InternetMessageId), with angle brackets. */
	messageId?: string;
	size?: number;
	/** The message as Exchange exports it (MimeContent), byte for byte. */
	source: Buffer;
}

/** The properties a sync reports per message: enough to decide without downloading. */
export const SYNC_PROPERTIES = new PropertySet(BasePropertySet.IdOnly, [ItemSchema.DateTimeReceived, ItemSchema.Size, EmailMessageSchema.IsRead, EmailMessageSchema.InternetMessageId]);

const MESSAGE_PROPERTIES = new PropertySet(BasePropertySet.IdOnly, [ItemSchema.MimeContent, ItemSchema.DateTimeReceived, ItemSchema.Size, EmailMessageSchema.IsRead, EmailMessageSchema.InternetMessageId]);

/** A property that may not have been loaded or may be empty (ews-javascript-api throws for unloaded ones). */
export function read<T>(get: () => T): T | undefined {
	try {
		const value = get();
		return value === null ? undefined : value;
	} catch {
		return undefined;
	}
}

export function dateOf(value: DateTime | undefined): Date | undefined {
	if (!value) return undefined;
	const ms = read(() => value.valueOf());
	return typeof ms === 'number' && Number.isFinite(ms) ? new Date(ms) : undefined;
}

/** The properties of a message item from a sync or GetItem answer. */
export function itemInfo(item: Item): { itemId: string; changeKey: string; isRead?: boolean; received?: Date; messageId?: string; size?: number } {
	const message = item as EmailMessage;
	return {
		itemId: item.Id.UniqueId,
		changeKey: item.Id.ChangeKey,
		isRead: read(() => message.IsRead),
		received: dateOf(read(() => item.DateTimeReceived)),
		messageId: read(() => message.InternetMessageId) || undefined,
		size: read(() => item.Size),
	};
}

/** One message with its MIME content; NOT_FOUND when it is gone (moved or deleted). */
export async function getMessage(client: EwsClient, itemId: string): Promise<EwsMessage> {
	const responses = await client.call('GetItem', (service) => service.BindToItems([new ItemId(itemId)], MESSAGE_PROPERTIES));
	const response = responses.Responses[0];
	if (!response || response.Result !== ServiceResult.Success || !response.Item) throw client.toMailboxError(response ?? new Error('GetItem returned no item'), 'GetItem');
	const item = response.Item;
	const content = read(() => item.MimeContent?.Content);
	if (!content) throw new MailboxError('PROTOCOL', 'Exchange returned the message without its MIME content.', { step: 'command', reason: 'NO_MIME' });
	return { ...itemInfo(item), source: Buffer.from(content, 'base64') };
}

/** Marks messages as read, without sending read receipts. */
export async function markRead(client: EwsClient, itemIds: string[]): Promise<void> {
	for (const id of itemIds) {
		await client.call('UpdateItem', async (service) => {
			const message = await EmailMessage.Bind(service, new ItemId(id), new PropertySet(BasePropertySet.IdOnly, [EmailMessageSchema.IsRead]));
			message.IsRead = true;
			await message.Update(ConflictResolutionMode.AutoResolve, true);
		});
	}
}

/** Moves messages to a folder; each message's own failure is thrown after the others were moved. */
export async function moveMessages(client: EwsClient, itemIds: string[], target: EwsFolderRef): Promise<void> {
	const responses = await client.call('MoveItem', (service) => service.MoveItems(itemIds.map((id) => new ItemId(id)), client.folderIdOf(target)));
	throwFirstFailure(client, responses.Responses, 'MoveItem');
}

/** Deletes messages: to Deleted Items (`trash`) or permanently (`hard`). */
export async function deleteMessages(client: EwsClient, itemIds: string[], mode: 'trash' | 'hard'): Promise<void> {
	const responses = await client.call('DeleteItem', (service) =>
		service.DeleteItems(
			itemIds.map((id) => new ItemId(id)),
			mode === 'hard' ? DeleteMode.HardDelete : DeleteMode.MoveToDeletedItems,
			null as never,
			null as never,
		),
	);
	throwFirstFailure(client, responses.Responses, 'DeleteItem');
}

function throwFirstFailure(client: EwsClient, responses: ServiceResponse[], operation: string): void {
	const failed = responses.find((r) => r.Result === ServiceResult.Error);
	if (failed) throw client.toMailboxError(failed, operation);
}

/**
 * The newest message of a folder (by the time Exchange received it), for the editor's "Test step";
 * nothing is changed. Found by syncing the folder's items from scratch (ids and times only), at
 * most `maxPages` pages of 512.
 */
export async function newestMessage(client: EwsClient, path: string, maxPages = 20): Promise<(EwsMessage & { folderId: string }) | undefined> {
	const ref = await client.resolveFolder(path);
	let syncState = '';
	let newest: { itemId: string; received: number } | undefined;
	for (let page = 0; page < maxPages; page++) {
		const state = syncState;
		const changes = await client.call('SyncFolderItems', (service) => service.SyncFolderItems(client.folderIdOf(ref), SYNC_PROPERTIES, [], 512, SyncFolderItemsScope.NormalItems, state));
		for (const change of changes.GetEnumerator() as ItemChange[]) {
			if (change.ChangeType !== ChangeType.Create || !change.Item) continue;
			const info = itemInfo(change.Item);
			const received = info.received?.getTime() ?? 0;
			if (!newest || received >= newest.received) newest = { itemId: info.itemId, received };
		}
		syncState = changes.SyncState;
		if (!changes.MoreChangesAvailable) break;
	}
	if (!newest) return undefined;
	return { ...(await getMessage(client, newest.itemId)), folderId: ref.id };
}
