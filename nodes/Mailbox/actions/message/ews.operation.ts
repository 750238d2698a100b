import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { checkItemId, deleteItems, getEwsMessage, markJunk, moveOrCopyItems, resolveFolderFor, setReadState } from '../../../../lib/ews/actions';
import { configError } from '../../../../lib/errors';
import { parseMessage } from '../../../../lib/message/parse';
import { toExecutionData } from '../../../shared/message-item';
import type { EwsSessionOf } from '../types';
import { flagsOf } from './common';
import { BY_ID_OPERATIONS, notSpamMoveToOption, optionsOf, runInGroups, targetKeyOf, type ExchangeMessageOperation, type PlannedItem, type TargetOptions } from './exchange-common';
import { itemOptionsOf, itemShapeOptions, type ShapeOptions } from '../../../shared/message-item';

/** The Message operations EWS offers: all address a message by its EWS item id. */
export type EwsMessageOperation = ExchangeMessageOperation;

const showEws = (operation: string[]) => ({ show: { resource: ['message'], operation, accessVia: ['ews'] } });

const options = optionsOf(showEws);

const junkFolderOption: INodeProperties = {
	displayName: 'Junk Folder',
	name: 'junkFolder',
	type: 'string',
	default: '',
	placeholder: 'Junk Email',
	description: "The spam folder by path; empty: the mailbox's Junk Email folder (distinguished folder junkemail)",
};

export const description: INodeProperties[] = [
	{
		displayName: 'Item ID',
		name: 'itemId',
		type: 'string',
		required: true,
		default: '={{ $json.itemId }}',
		description: 'The EWS item ID of the message, as the EWS trigger outputs it ("itemId"). A message gets a new item ID when it is moved: use the newItemId of the operation that moved it.',
		displayOptions: showEws(BY_ID_OPERATIONS),
	},
	{
		displayName: 'Destination Folder',
		name: 'destination',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'Archive',
		description: 'The folder to put the message in: a path as Folder → List outputs it ("Inbox/Projects", "Archive"), or a standard folder (inbox, junkemail, deleteditems, sentitems, drafts)',
		displayOptions: showEws(['move', 'copy']),
	},
	options('delete', [
		{
			displayName: 'Delete Permanently',
			name: 'deletePermanently',
			type: 'boolean',
			default: false,
			description: 'Whether to remove the message at once (HardDelete) instead of moving it to Deleted Items',
		},
	]),
	options('get', itemShapeOptions),
	options('markAsSpam', [junkFolderOption]),
	options('markAsNotSpam', [junkFolderOption, notSpamMoveToOption]),
];

type EwsMessageOptions = ShapeOptions & TargetOptions;

/** Set/Clear Flags over EWS: only Read (IsRead); anything else is refused naming the field. */
function readFlagOf(ctx: IExecuteFunctions, i: number): true {
	const flags = flagsOf(ctx.getNodeParameter('flags', i, []), ctx.getNodeParameter('keywords', i, ''));
	if (flags.length === 0) throw configError('flags', 'No flag is chosen: there is nothing to set or clear.', 'Choose Read under Flags (mark as read or unread).');
	const keywords = flags.filter((f) => !f.startsWith('\\'));
	if (keywords.length) {
		throw configError('keywords', `Keywords (${keywords.join(', ')}) are not supported over EWS (Access Via: Exchange Web Services).`, 'Over EWS only Read can be set or cleared; set Access Via to IMAP for keywords.');
	}
	const other = flags.filter((f) => f !== '\\Seen');
	if (other.length) {
		throw configError('flags', `Flags ${other.join(', ')} are not supported over EWS (Access Via: Exchange Web Services): only Read is.`, 'Choose only Read under Flags (mark as read or unread), or set Access Via to IMAP for Flagged, Answered and Draft.');
	}
	return true;
}

/** Runs one bulk EWS operation for all items: one request per distinct target (usually one). */
export function executeFor(operation: Exclude<EwsMessageOperation, 'get'>) {
	return async function executeBatch(this: IExecuteFunctions, indices: number[], session: EwsSessionOf): Promise<INodeExecutionData[]> {
		return runInGroups(this, operation, indices, {
			plan: (i): PlannedItem<EwsMessageOptions> => {
				const opts = this.getNodeParameter('options', i, {}) as EwsMessageOptions;
				if (operation === 'setFlags' || operation === 'clearFlags') readFlagOf(this, i);
				return { i, itemId: checkItemId(this.getNodeParameter('itemId', i, '')), options: opts };
			},
			session,
			keyOf: (p) => targetKeyOf(this, operation, p) ?? '',
			act: async ({ session: s, key, ids, record }) => {
				const client = s.client;
				switch (operation) {
					case 'move':
					case 'copy': {
						const target = await resolveFolderFor(client, key, 'destination', 'Destination Folder');
						record(await moveOrCopyItems(client, ids, target, operation), (_p, r) => ({ destination: target.path, destinationFolderId: target.id, newItemId: r.newItemId }));
						break;
					}
					case 'delete':
						record(await deleteItems(client, ids, key === 'hard' ? 'hard' : 'trash'), () => ({ deleted: true, permanently: key === 'hard' }));
						break;
					case 'setFlags':
					case 'clearFlags': {
						const isRead = operation === 'setFlags';
						record(await setReadState(client, ids, isRead), () => (isRead ? { isRead, flagsSet: ['\\Seen'] } : { isRead, flagsCleared: ['\\Seen'] }));
						break;
					}
					case 'markAsSpam':
					case 'markAsNotSpam': {
						const [junkFolder, moveTo] = JSON.parse(key) as [string, string | undefined];
						const isJunk = operation === 'markAsSpam';
						record(await markJunk(client, ids, { isJunk, junkFolder, moveTo }), (_p, r) => ({
							moved: r.moved,
							newItemId: r.newItemId,
							destination: r.moved ? (isJunk ? junkFolder || 'Junk Email' : moveTo || 'Inbox') : null,
							...(r.note ? { note: `Not moved: ${r.note}.` } : {}),
						}));
						break;
					}
				}
			},
		});
	};
}

/** Message → Get over EWS: the MIME content as the triggers' item (does not mark it read). */
export async function get(this: IExecuteFunctions, i: number, session: EwsSessionOf): Promise<INodeExecutionData[]> {
	const options = this.getNodeParameter('options', i, {}) as EwsMessageOptions;
	const itemId = checkItemId(this.getNodeParameter('itemId', i, ''));
	const s = await session();
	const message = await getEwsMessage(s.client, itemId);
	const itemOptions = itemOptionsOf(options);
	const parsed = await parseMessage(message.source, { includeAttachments: itemOptions.includeAttachments });
	const item = await toExecutionData(
		this,
		{ mailbox: s.mailbox ?? undefined, flags: message.isRead ? ['\\Seen'] : [], size: message.size ?? message.source.length, internalDate: message.received },
		parsed,
		message.source,
		itemOptions,
	);
	item.json = { ...item.json, itemId: message.itemId, changeKey: message.changeKey, folderId: message.folderId, isRead: message.isRead };
	return [{ ...item, pairedItem: { item: i } }];
}
