import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { configError } from '../../../../lib/errors';
import type { GraphMessage } from '../../../../lib/graph/client';
import {
	checkGraphId,
	deleteGraphMessages,
	getGraphMessage,
	graphFlags,
	markGraphJunk,
	moveOrCopyGraphMessages,
	resolveGraphFolder,
	searchGraphMessages,
	setGraphFlags,
	type GraphFlagChange,
	type GraphSearchCriteria,
} from '../../../../lib/graph/mailbox';
import { parseMessage } from '../../../../lib/message/parse';
import { EXCHANGE_SENT_FOLDER_NAMES, itemOptionsOf, itemShapeOptions, toExecutionData, type MessageItemOptions, type ShapeOptions } from '../../../shared/message-item';
import type { GraphSession } from '../../transport';
import type { GraphSessionOf } from '../types';
import { flaggedChoices, readChoices, receivedFilters } from './common';
import { BY_ID_OPERATIONS, notSpamMoveToOption, optionsOf, runInGroups, targetKeyOf, type ExchangeMessageOperation, type PlannedItem, type TargetOptions } from './exchange-common';

/** The Message operations over Microsoft Graph that address a message by its Graph message id. */
export type GraphMessageOperation = ExchangeMessageOperation;

const showGraph = (operation: string[]) => ({ show: { resource: ['message'], operation, accessVia: ['graph'] } });

const options = optionsOf(showGraph);

const junkFolderOption: INodeProperties = {
	displayName: 'Junk Folder',
	name: 'junkFolder',
	type: 'string',
	default: '',
	placeholder: 'Junk Email',
	description: "The spam folder by path; empty: the mailbox's Junk Email folder (well-known folder junkemail)",
};

export const description: INodeProperties[] = [
	{
		displayName: 'Message ID',
		name: 'itemId',
		type: 'string',
		required: true,
		default: '={{ $json.itemId }}',
		description: 'The Microsoft Graph ID of the message, as Message → Search outputs it ("itemId"). The node asks for immutable IDs, so a message keeps its ID when it is moved.',
		displayOptions: showGraph(BY_ID_OPERATIONS),
	},
	{
		displayName: 'Destination Folder',
		name: 'destination',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'Archive',
		description: 'The folder to put the message in: a path as Folder → List outputs it ("Inbox/Projects", "Archive"), or a standard folder (inbox, junkemail, deleteditems, sentitems, drafts, archive)',
		displayOptions: showGraph(['move', 'copy']),
	},
	{
		displayName: 'Categories',
		name: 'categories',
		type: 'string',
		default: '',
		placeholder: 'Invoice, Red category',
		description: 'Outlook categories to add (Set Flags) or remove (Clear Flags), separated by commas',
		displayOptions: showGraph(['setFlags', 'clearFlags']),
	},
	{
		displayName: 'Search Text',
		name: 'searchText',
		type: 'string',
		default: '',
		placeholder: 'from:alice@example.com subject:invoice',
		description:
			'KQL for Graph\'s $search (words, from:, to:, subject:, body:, received>=2026-03-01...). Microsoft Graph does not combine $search with the filters or Oldest First: use one or the other.',
		displayOptions: showGraph(['search']),
	},
	{
		displayName: 'Filters',
		name: 'filters',
		type: 'collection',
		placeholder: 'Add Filter',
		default: {},
		description: 'Every filter set must match (an OData $filter); without filters or Search Text, every message of the folder matches',
		displayOptions: showGraph(['search']),
		options: [
			{
				displayName: 'Category',
				name: 'category',
				type: 'string',
				default: '',
				placeholder: 'Invoice',
				description: 'An Outlook category the message has',
			},
			{
				displayName: 'Flagged',
				name: 'flagged',
				type: 'options',
				default: 'any',
				options: flaggedChoices,
				description: 'Whether the message is flagged for follow-up',
			},
			{
				displayName: 'From',
				name: 'from',
				type: 'string',
				default: '',
				placeholder: 'alice@example.com',
				description: "The sender's address (exact)",
			},
			{
				displayName: 'Read Status',
				name: 'seen',
				type: 'options',
				default: 'any',
				options: readChoices,
				description: 'Whether the message was read',
			},
			...receivedFilters,
		],
	},
	options('delete', [
		{
			displayName: 'Delete Permanently',
			name: 'deletePermanently',
			type: 'boolean',
			default: false,
			description: 'Whether to remove the message at once (permanentDelete) instead of moving it to Deleted Items',
		},
	]),
	options('get', itemShapeOptions),
	options('markAsSpam', [junkFolderOption]),
	options('markAsNotSpam', [junkFolderOption, notSpamMoveToOption]),
	options('setFlags', [
		{
			displayName: 'Mark Flag Complete',
			name: 'flagComplete',
			type: 'boolean',
			default: false,
			description: 'Whether Flagged sets the follow-up flag to complete instead of flagged',
		},
		{
			displayName: 'Replace Categories',
			name: 'replaceCategories',
			type: 'boolean',
			default: false,
			description: 'Whether Categories replace all categories of the message (empty: remove all) instead of being added',
		},
	]),
];

interface GraphMessageOptions extends ShapeOptions, TargetOptions {
	flagComplete?: boolean;
	replaceCategories?: boolean;
}

/** Comma-separated category names (they may contain spaces). */
function categoriesOf(value: unknown): string[] {
	const list = Array.isArray(value) ? value.map(String) : String(value ?? '').split(',');
	return [...new Set(list.map((c) => c.trim()).filter(Boolean))];
}

/** What Set Flags / Clear Flags change over Graph: Read, Flagged and categories; Answered and Draft are refused naming Flags. */
function flagChangeOf(ctx: IExecuteFunctions, i: number, set: boolean, opts: GraphMessageOptions): { change: GraphFlagChange; flags: string[] } {
	const raw = ctx.getNodeParameter('flags', i, []);
	const flags = Array.isArray(raw) ? raw.map(String) : [];
	const other = flags.filter((f) => f !== '\\Seen' && f !== '\\Flagged');
	if (other.length) {
		throw configError('flags', `Flags ${other.join(', ')} are not supported with Access Via: Microsoft Graph: only Read and Flagged are.`, 'Choose Read or Flagged under Flags (and Categories for Outlook categories), or set Access Via to IMAP for Answered and Draft.');
	}
	const names = categoriesOf(ctx.getNodeParameter('categories', i, ''));
	const replace = set && opts.replaceCategories === true;
	const change: GraphFlagChange = {};
	if (flags.includes('\\Seen')) change.read = set;
	if (flags.includes('\\Flagged')) change.flagStatus = set ? (opts.flagComplete ? 'complete' : 'flagged') : 'notFlagged';
	if (names.length || replace) change.categories = { mode: replace ? 'set' : set ? 'add' : 'remove', names };
	if (change.read === undefined && change.flagStatus === undefined && !change.categories) {
		throw configError('flags', 'No flag or category is chosen: there is nothing to set or clear.', 'Choose Read or Flagged under Flags, or enter Categories.');
	}
	return { change, flags };
}

interface Planned extends PlannedItem<GraphMessageOptions> {
	flags?: { change: GraphFlagChange; flags: string[] };
}

/** Runs one bulk Graph operation for all items: the items that share a target in $batch requests of 20, each message with its own result. */
export function executeFor(operation: Exclude<GraphMessageOperation, 'get'>) {
	return async function executeBatch(this: IExecuteFunctions, indices: number[], session: GraphSessionOf): Promise<INodeExecutionData[]> {
		return runInGroups(this, operation, indices, {
			plan: (i): Planned => {
				const opts = this.getNodeParameter('options', i, {}) as GraphMessageOptions;
				const flags = operation === 'setFlags' || operation === 'clearFlags' ? flagChangeOf(this, i, operation === 'setFlags', opts) : undefined;
				return { i, itemId: checkGraphId(this.getNodeParameter('itemId', i, '')), options: opts, flags };
			},
			session,
			keyOf: (p) => targetKeyOf(this, operation, p) ?? JSON.stringify(p.flags?.change ?? {}),
			act: async ({ session: s, key, group, ids, record }) => {
				const client = s.client;
				switch (operation) {
					case 'move':
					case 'copy': {
						const target = await resolveGraphFolder(client, key, { field: 'destination', label: 'Destination Folder' });
						record(await moveOrCopyGraphMessages(client, ids, target, operation), (_p, r) => ({ destination: target.path, destinationFolderId: target.id, newItemId: r.newItemId }));
						break;
					}
					case 'delete':
						record(await deleteGraphMessages(client, ids, key === 'hard' ? 'hard' : 'trash'), () => ({ deleted: true, permanently: key === 'hard' }));
						break;
					case 'setFlags':
					case 'clearFlags': {
						const { change, flags } = group[0].flags!;
						const set = operation === 'setFlags';
						record(await setGraphFlags(client, ids, change), (_p, r) => ({ ...r, ...(flags.length ? (set ? { flagsSet: flags } : { flagsCleared: flags }) : {}) }));
						break;
					}
					case 'markAsSpam':
					case 'markAsNotSpam': {
						const [junkFolder, moveTo] = JSON.parse(key) as [string, string | undefined];
						const results = await markGraphJunk(client, ids, { isJunk: operation === 'markAsSpam', junkFolder, moveTo });
						record(results, (_p, r) => ({ moved: r.moved, newItemId: r.newItemId, destination: r.moved ? results.destination : null, ...(r.note ? { note: `Not moved: ${r.note}.` } : {}) }));
						break;
					}
				}
			},
		});
	};
}

/** A Graph recipient list as mailparser's address object ({ value, text }), the shape the IMAP items have. */
function addressesOf(value: unknown): IDataObject | null {
	const list = (Array.isArray(value) ? value : value ? [value] : []) as Array<{ emailAddress?: { name?: string; address?: string } }>;
	const entries = list.map((r) => ({ address: r?.emailAddress?.address ?? '', name: r?.emailAddress?.name ?? '' })).filter((a) => a.address || a.name);
	if (!entries.length) return null;
	return { value: entries, text: entries.map((a) => (a.name && a.name !== a.address ? `"${a.name}" <${a.address}>` : a.address)).join(', ') };
}

/** The Graph properties every item of a message carries besides the parsed content. */
function graphProperties(message: GraphMessage): IDataObject {
	return {
		itemId: message.id,
		folderId: typeof message.parentFolderId === 'string' ? message.parentFolderId : null,
		isRead: typeof message.isRead === 'boolean' ? message.isRead : null,
		flagStatus: (message.flag as { flagStatus?: string } | undefined)?.flagStatus ?? null,
		categories: Array.isArray(message.categories) ? (message.categories as unknown[]).map(String) : [],
		conversationId: typeof message.conversationId === 'string' ? message.conversationId : null,
		receivedDateTime: typeof message.receivedDateTime === 'string' ? message.receivedDateTime : null,
		webLink: typeof message.webLink === 'string' ? message.webLink : null,
	};
}

/** A message with its MIME as the triggers' item, plus its Graph properties. */
async function fullItem(ctx: IExecuteFunctions, s: GraphSession, itemId: string, itemOptions: MessageItemOptions, folder?: string): Promise<INodeExecutionData> {
	const message = await getGraphMessage(s.client, itemId);
	const parsed = await parseMessage(message.source, { includeAttachments: itemOptions.includeAttachments });
	const received = typeof message.properties.receivedDateTime === 'string' ? new Date(message.properties.receivedDateTime) : undefined;
	const item = await toExecutionData(
		ctx,
		{ mailbox: s.mailbox ?? undefined, folder, flags: graphFlags(message.properties), size: message.source.length, internalDate: received && !Number.isNaN(received.getTime()) ? received : undefined },
		parsed,
		message.source,
		itemOptions,
	);
	item.json = { ...item.json, ...graphProperties(message.properties) };
	return item;
}

/** Message → Get over Graph: the MIME content as the triggers' item with the message's Graph properties (does not mark it read). */
export async function get(this: IExecuteFunctions, i: number, session: GraphSessionOf): Promise<INodeExecutionData[]> {
	const opts = this.getNodeParameter('options', i, {}) as GraphMessageOptions;
	const itemId = checkGraphId(this.getNodeParameter('itemId', i, ''));
	const s = await session();
	const item = await fullItem(this, s, itemId, itemOptionsOf(opts, { sentFolders: [...EXCHANGE_SENT_FOLDER_NAMES] }));
	return [{ ...item, pairedItem: { item: i } }];
}

interface GraphFilters {
	from?: string;
	since?: string;
	before?: string;
	seen?: 'any' | 'yes' | 'no';
	flagged?: 'any' | 'yes' | 'no';
	category?: string;
	// IMAP's filters Graph has no $filter for (from a workflow saved with Access Via: IMAP)
	to?: string;
	subject?: string;
	headerName?: string;
	headerValue?: string;
	largerThan?: number;
	smallerThan?: number;
	rawSearch?: string;
}

const UNMAPPED: Array<{ key: keyof GraphFilters; label: string; hint: string }> = [
	{ key: 'to', label: 'To', hint: 'Use Search Text with to:sales@example.com instead.' },
	{ key: 'subject', label: 'Subject', hint: 'Use Search Text with subject:invoice instead.' },
	{ key: 'headerName', label: 'Header Name', hint: 'Remove it, or set Access Via to IMAP to search headers.' },
	{ key: 'headerValue', label: 'Header Value', hint: 'Remove it, or set Access Via to IMAP to search headers.' },
	{ key: 'largerThan', label: 'Larger Than (Bytes)', hint: 'Remove it, or set Access Via to IMAP to search by size.' },
	{ key: 'smallerThan', label: 'Smaller Than (Bytes)', hint: 'Remove it, or set Access Via to IMAP to search by size.' },
	{ key: 'rawSearch', label: 'Raw IMAP Search', hint: 'Use Search Text (KQL) instead, or set Access Via to IMAP.' },
];

function dateOf(field: string, label: string, value: string | undefined): Date | undefined {
	if (value === undefined || value === null || String(value).trim() === '') return undefined;
	const date = new Date(String(value));
	if (Number.isNaN(date.getTime())) throw configError(field, `${label} "${value}" is not a date.`, 'Enter a date such as 2026-03-01 or 2026-03-01T08:00:00Z.');
	return date;
}

/** The node's search fields as Graph criteria; a filter Graph cannot express is refused naming it. */
export function graphCriteriaOf(text: string, filters: GraphFilters, sort: 'newestFirst' | 'oldestFirst' | undefined): GraphSearchCriteria {
	for (const u of UNMAPPED) {
		const value = filters[u.key];
		if (value !== undefined && value !== '' && value !== 0) throw configError(u.key, `${u.label} is not available with Access Via: Microsoft Graph (Graph's $filter has no such property).`, u.hint);
	}
	const yesNo = (v: string | undefined) => (v === 'yes' ? true : v === 'no' ? false : undefined);
	return {
		text: text.trim() || undefined,
		read: yesNo(filters.seen),
		from: filters.from?.trim() || undefined,
		since: dateOf('since', 'Received Since', filters.since),
		before: dateOf('before', 'Received Before', filters.before),
		flagged: yesNo(filters.flagged),
		category: filters.category?.trim() || undefined,
		order: sort,
	};
}

/** Message → Search over Graph: $search or $filter in one folder; one item per message, newest first unless asked otherwise. */
export async function search(this: IExecuteFunctions, i: number, session: GraphSessionOf): Promise<INodeExecutionData[]> {
	const folder = String(this.getNodeParameter('folder', i, 'Inbox') ?? '').trim();
	if (!folder) throw configError('folder', 'Folder is empty.', 'Enter the folder to search in, such as Inbox or Inbox/Projects.');
	const opts = this.getNodeParameter('options', i, {}) as ShapeOptions & { sort?: 'newestFirst' | 'oldestFirst' };
	const criteria = graphCriteriaOf(String(this.getNodeParameter('searchText', i, '') ?? ''), this.getNodeParameter('filters', i, {}) as GraphFilters, opts.sort);
	const returnAll = this.getNodeParameter('returnAll', i, false) as boolean;
	const limit = returnAll ? 0 : Math.max(1, Math.floor(Number(this.getNodeParameter('limit', i, 50))));
	const output = this.getNodeParameter('output', i, 'headers') as 'headers' | 'full';
	const s = await session();
	const result = await searchGraphMessages(s.client, folder, criteria, { limit });
	const items: INodeExecutionData[] = [];
	if (output === 'full') {
		const itemOptions = itemOptionsOf(opts, { sentFolders: [...EXCHANGE_SENT_FOLDER_NAMES] });
		for (const m of result.messages) items.push({ ...(await fullItem(this, s, m.id, itemOptions, result.folder.path)), pairedItem: { item: i } });
		return items;
	}
	for (const m of result.messages) {
		items.push({
			json: {
				mailbox: s.mailbox,
				folder: result.folder.path,
				messageId: typeof m.internetMessageId === 'string' ? m.internetMessageId : null,
				subject: typeof m.subject === 'string' ? m.subject : null,
				from: addressesOf(m.from),
				to: addressesOf(m.toRecipients),
				date: typeof m.sentDateTime === 'string' ? m.sentDateTime : null,
				flags: graphFlags(m),
				hasAttachments: m.hasAttachments === true,
				...graphProperties(m),
			},
			pairedItem: { item: i },
		});
	}
	return items;
}
