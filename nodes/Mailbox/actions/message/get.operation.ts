import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { fetchAddressed, type FetchedMessage } from '../../../../lib/imap/messages';
import { sentFolderPaths } from '../../../../lib/imap/folders';
import type { ImapClient } from '../../../../lib/imap/session';
import { parseMessage } from '../../../../lib/message/parse';
import { itemOptionsOf, itemShapeOptions, toExecutionData, type MessageItemOptions, type ShapeOptions } from '../../../shared/message-item';
import type { SessionOf } from '../types';
import { addressOf, mailboxName, messageIdOptions, show, type AddressOptions } from './common';

export const description: INodeProperties[] = [
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: show(['get']),
		options: [...itemShapeOptions, ...messageIdOptions].sort((a, b) => a.displayName.localeCompare(b.displayName)),
	},
];


/** A fetched message as the IMAP trigger outputs it (same functions, same keys). */
export async function messageItem(ctx: IExecuteFunctions, client: ImapClient, folder: string, uidValidity: string, message: FetchedMessage, itemOptions: MessageItemOptions): Promise<INodeExecutionData> {
	const raw = message.source ?? message.headers ?? Buffer.alloc(0);
	const parsed = await parseMessage(raw, { headersOnly: !message.source, includeAttachments: itemOptions.includeAttachments });
	return toExecutionData(
		ctx,
		{ mailbox: mailboxName(ctx, client) ?? undefined, folder, uid: message.uid, uidValidity, flags: message.flags, size: message.size, internalDate: message.internalDate, oversized: false },
		parsed,
		message.source,
		itemOptions,
	);
}

/** The whole message (BODY.PEEK[]: \Seen stays as it is) as the trigger's item. */
export async function execute(this: IExecuteFunctions, i: number, session: SessionOf): Promise<INodeExecutionData[]> {
	const options = this.getNodeParameter('options', i, {}) as ShapeOptions & AddressOptions;
	const address = addressOf(this, i, options);
	const item = await (await session()).run(async (client) => {
		const { folder, where, message } = await fetchAddressed(client, address, { findByMessageId: options.findByMessageId === true });
		const sentFolders = options.correspondents ? await sentFolderPaths(client) : [];
		const out = await messageItem(this, client, folder, where.uidValidity, message, itemOptionsOf(options, { sentFolders }));
		if (where.foundByMessageId) {
			out.json.foundByMessageId = true;
			out.json.previousUid = where.previousUid ?? null;
			out.json.previousUidValidity = where.previousUidValidity ?? null;
		}
		return out;
	});
	return [{ ...item, pairedItem: { item: i } }];
}
