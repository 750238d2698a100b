import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { configError } from '../../../../lib/errors';
import { planRetention, runRetention, type RetentionAgeBy } from '../../../../lib/imap/retention';
import type { SessionOf } from '../types';

const show = { show: { resource: ['retention'], operation: ['apply'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Inbox Days',
		name: 'inboxDays',
		type: 'number',
		default: 0,
		typeOptions: { minValue: 0 },
		displayOptions: show,
		description: 'Remove messages from INBOX that arrived more than this many days ago. 0 = never.',
	},
	{
		displayName: 'Junk Days',
		name: 'junkDays',
		type: 'number',
		default: 30,
		typeOptions: { minValue: 0 },
		displayOptions: show,
		description: 'Remove messages from the Junk folder (the one the server marks as Junk, or Junk Folder in the options) that arrived more than this many days ago. 0 = never.',
	},
	{
		displayName: 'Sent Days',
		name: 'sentDays',
		type: 'number',
		default: 0,
		typeOptions: { minValue: 0 },
		displayOptions: show,
		description: 'Remove messages from the Sent folder (the one the server marks as Sent, or Sent Folder in the options) that are older than this many days. 0 = never.',
	},
	{
		displayName: 'Other Folders',
		name: 'otherFolders',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true },
		placeholder: 'Add Folder',
		default: {},
		displayOptions: show,
		description: 'Further folders, each with its own number of days',
		options: [
			{
				displayName: 'Folder',
				name: 'folders',
				values: [
					{
						displayName: 'Folder Path',
						name: 'folder',
						type: 'string',
						default: '',
						placeholder: 'Newsletters/2026',
						description: 'The folder, levels separated by "/" (or as Folder → List outputs it)',
					},
					{
						displayName: 'Days',
						name: 'days',
						type: 'number',
						default: 30,
						typeOptions: { minValue: 0 },
						description: 'Remove messages older than this many days. 0 = never.',
					},
				],
			},
		],
	},
	{
		displayName: 'Dry Run',
		name: 'dryRun',
		type: 'boolean',
		default: true,
		displayOptions: show,
		description:
			'Whether to only list what would be removed, changing nothing (folders are opened read-only). On by default because removing mail cannot be undone: check the output once, then switch it off for the scheduled runs.',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: show,
		options: [
			{
				displayName: 'Age By',
				name: 'ageBy',
				type: 'options',
				default: 'arrival',
				options: [
					{ name: 'Arrival on the Server', value: 'arrival', description: 'When the message arrived in the mailbox (INTERNALDATE); senders cannot fake it' },
					{ name: 'Date Header', value: 'dateHeader', description: 'The date the sender wrote into the message; the arrival time where it has none' },
				],
				description: 'Which time makes a message old',
			},
			{
				displayName: 'Batch Size',
				name: 'batchSize',
				type: 'number',
				default: 1000,
				typeOptions: { minValue: 1 },
				description: 'How many messages one IMAP command handles; lower it for servers that refuse long commands',
			},
			{
				displayName: 'Junk Folder',
				name: 'junkFolder',
				type: 'string',
				default: '',
				placeholder: 'Spam',
				description: 'The Junk folder, when the server marks none or the wrong one as Junk. Empty: the folder with the Junk role.',
			},
			{
				displayName: 'Max Listed Messages',
				name: 'listLimit',
				type: 'number',
				default: 100,
				typeOptions: { minValue: 0 },
				description: 'How many of the removed messages each folder\'s item lists (UID, Message-ID, subject, dates); the counts are always complete',
			},
			{
				displayName: 'Move to Trash Instead of Deleting',
				name: 'moveToTrash',
				type: 'boolean',
				default: false,
				description:
					'Whether to move the messages to the Trash folder instead of deleting them. Off: they are deleted at once (marked \\Deleted and removed with UID EXPUNGE of exactly those messages, so messages another mail client only marked as deleted stay). Messages in the Trash folder itself are always deleted.',
			},
			{
				displayName: 'Path Separator',
				name: 'separator',
				type: 'string',
				default: '/',
				description: 'The character that separates levels in the folder paths entered here; translated to the server\'s',
			},
			{
				displayName: 'Reference Time',
				name: 'referenceTime',
				type: 'dateTime',
				default: '',
				description: 'Count the days back from this moment instead of now, e.g. to see what a run on a given date would remove',
			},
			{
				displayName: 'Sent Folder',
				name: 'sentFolder',
				type: 'string',
				default: '',
				placeholder: 'Sent Items',
				description: 'The Sent folder, when the server marks none or the wrong one as Sent. Empty: the folder with the Sent role.',
			},
			{
				displayName: 'Trash Folder',
				name: 'trashFolder',
				type: 'string',
				default: '',
				placeholder: 'Deleted Items',
				description: 'With Move to Trash: the Trash folder, when the server marks none or the wrong one as Trash. Empty: the folder with the Trash role.',
			},
		],
	},
];

export interface ApplyOptions {
	ageBy?: RetentionAgeBy;
	batchSize?: number;
	junkFolder?: string;
	listLimit?: number;
	moveToTrash?: boolean;
	separator?: string;
	referenceTime?: string;
	sentFolder?: string;
	trashFolder?: string;
}

/** The option Reference Time as a date (now when empty); a CONFIG error naming it when it is no date. */
export function referenceTimeOf(value: string | undefined): Date {
	if (value === undefined || value === null || String(value).trim() === '') return new Date();
	const date = new Date(value);
	if (Number.isNaN(date.getTime())) {
		throw configError('referenceTime', `Reference Time "${value}" is not a date and time.`, 'Enter an ISO date such as 2026-03-01T12:00:00Z, or remove the option to count from now.');
	}
	return date;
}

/**
 * Removes old mail from INBOX, Junk, Sent and the other folders. All folders are resolved before
 * anything is removed; one output item per folder: folder, role, days, cutoff, matched, deleted,
 * dryRun and the (capped) list of messages that were or would be removed. With Move to Trash,
 * the Trash folder's own rule runs first, so what this run moves there stays until the next run.
 */
export async function execute(this: IExecuteFunctions, itemIndex: number, session: SessionOf): Promise<INodeExecutionData[]> {
	const options = this.getNodeParameter('options', itemIndex, {}) as ApplyOptions;
	const other = this.getNodeParameter('otherFolders', itemIndex, {}) as { folders?: Array<{ folder?: string; days?: number }> };
	const dryRun = this.getNodeParameter('dryRun', itemIndex, true) as boolean;
	const now = referenceTimeOf(options.referenceTime);
	const input = {
		inboxDays: this.getNodeParameter('inboxDays', itemIndex, 0) as number,
		junkDays: this.getNodeParameter('junkDays', itemIndex, 0) as number,
		sentDays: this.getNodeParameter('sentDays', itemIndex, 0) as number,
		junkFolder: options.junkFolder,
		sentFolder: options.sentFolder,
		trashFolder: options.trashFolder,
		moveToTrash: options.moveToTrash === true,
		separator: options.separator || '/',
		otherFolders: (other.folders ?? []).map((entry) => ({ folder: entry.folder ?? '', days: entry.days ?? 0 })),
	};
	const results = await (await session()).run(async (client) =>
		runRetention(client, await planRetention(client, input), { now, dryRun, ageBy: options.ageBy ?? 'arrival', batchSize: options.batchSize, listLimit: options.listLimit }),
	);
	return results.map((result) => ({ json: { ...result, messages: result.messages.map((m) => ({ ...m })) } as IDataObject, pairedItem: { item: itemIndex } }));
}
