import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { configError } from '../../../../lib/errors';
import { fetchMessages, searchFolder } from '../../../../lib/imap/messages';
import { buildSearch, type SearchCriteria } from '../../../../lib/imap/search';
import { parseMessage } from '../../../../lib/message/parse';
import { correspondentsOf, parseDomains } from '../../../../lib/message/correspondents';
import { sentFolderPaths } from '../../../../lib/imap/folders';
import type { SessionOf } from '../types';
import { flaggedChoices, mailboxName, readChoices, receivedFilters, show } from './common';
import { messageItem } from './get.operation';
import { itemOptionsOf, itemShapeOptions, type ShapeOptions } from '../../../shared/message-item';

export const description: INodeProperties[] = [
	{
		displayName: 'Folder',
		name: 'folder',
		type: 'string',
		required: true,
		default: 'INBOX',
		description: 'The folder to search in, by its path (Folder → List shows them)',
		displayOptions: show(['search']),
	},
	{
		displayName: 'Filters',
		name: 'filters',
		type: 'collection',
		placeholder: 'Add Filter',
		default: {},
		description: 'Every filter set must match; without filters, every message of the folder matches',
		displayOptions: show(['search']),
		options: [
			{
				displayName: 'Flagged',
				name: 'flagged',
				type: 'options',
				default: 'any',
				options: flaggedChoices,
				description: 'Whether the message is flagged (\\Flagged)',
			},
			{
				displayName: 'From',
				name: 'from',
				type: 'string',
				default: '',
				placeholder: 'alice@example.com',
				description: 'Text the From header contains (address or name)',
			},
			{
				displayName: 'Header Name',
				name: 'headerName',
				type: 'string',
				default: '',
				placeholder: 'X-Ticket-ID',
				description: 'A header that must contain Header Value (an empty value: the header must exist)',
			},
			{
				displayName: 'Header Value',
				name: 'headerValue',
				type: 'string',
				default: '',
				description: 'Text the header named in Header Name contains',
			},
			{
				displayName: 'Larger Than (Bytes)',
				name: 'largerThan',
				type: 'number',
				default: 0,
				typeOptions: { minValue: 0 },
				description: 'Only messages larger than this many bytes; 0 means no limit',
			},
			{
				displayName: 'Raw IMAP Search',
				name: 'rawSearch',
				type: 'string',
				default: '',
				placeholder: 'OR FROM alice@example.com SUBJECT "invoice" SINCE 1-Jan-2026',
				description: 'IMAP search keys as in RFC 3501 (FROM, SUBJECT, SINCE d-Mon-yyyy, UNSEEN, OR a b, NOT a, HEADER name value, KEYWORD k, LARGER n, UID set...), combined with the other filters. Checked before it is sent.',
			},
			{
				displayName: 'Read Status',
				name: 'seen',
				type: 'options',
				default: 'any',
				options: readChoices,
				description: 'Whether the message was read (\\Seen)',
			},
			...receivedFilters,
			{
				displayName: 'Smaller Than (Bytes)',
				name: 'smallerThan',
				type: 'number',
				default: 0,
				typeOptions: { minValue: 0 },
				description: 'Only messages smaller than this many bytes; 0 means no limit',
			},
			{
				displayName: 'Subject',
				name: 'subject',
				type: 'string',
				default: '',
				description: 'Text the subject contains',
			},
			{
				displayName: 'To',
				name: 'to',
				type: 'string',
				default: '',
				placeholder: 'sales@example.com',
				description: 'Text the To header contains (address or name)',
			},
		],
	},
	{
		displayName: 'Return All',
		name: 'returnAll',
		type: 'boolean',
		default: false,
		description: 'Whether to return all results or only up to a given limit',
		displayOptions: show(['search']),
	},
	{
		displayName: 'Limit',
		name: 'limit',
		type: 'number',
		default: 50,
		typeOptions: { minValue: 1 },
		description: 'Max number of results to return',
		displayOptions: { show: { resource: ['message'], operation: ['search'], returnAll: [false] } },
	},
	{
		displayName: 'Output',
		name: 'output',
		type: 'options',
		default: 'headers',
		options: [
			{
				name: 'Full Messages',
				value: 'full',
				description: 'Each message as Get and the trigger output it: text, HTML, headers, attachments as binary data',
			},
			{
				name: 'Headers Only',
				value: 'headers',
				description: 'Folder, UID, UIDVALIDITY, Message-ID, subject, from, to, date, flags and size; fast, nothing is downloaded but the headers',
			},
		],
		displayOptions: show(['search']),
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: show(['search']),
		options: [
			...itemShapeOptions,
			{
				displayName: 'Sort',
				name: 'sort',
				type: 'options',
				default: 'newestFirst',
				options: [
					{ name: 'Newest First', value: 'newestFirst', description: 'The latest to arrive in the folder first (highest UID)' },
					{ name: 'Oldest First', value: 'oldestFirst', description: 'The first to arrive in the folder first (lowest UID)' },
				],
			},
		],
	},
];

interface Filters {
	from?: string;
	to?: string;
	subject?: string;
	since?: string;
	before?: string;
	seen?: 'any' | 'yes' | 'no';
	flagged?: 'any' | 'yes' | 'no';
	largerThan?: number;
	smallerThan?: number;
	headerName?: string;
	headerValue?: string;
	rawSearch?: string;
}

function dateOf(field: string, value: string | undefined): Date | undefined {
	if (value === undefined || value === null || String(value).trim() === '') return undefined;
	const date = new Date(String(value));
	if (Number.isNaN(date.getTime())) throw configError(field, `"${value}" is not a date.`, 'Enter a date such as 2026-03-01 or 2026-03-01T08:00:00Z.');
	return date;
}

export function criteriaOf(filters: Filters): SearchCriteria {
	const yesNo = (v: string | undefined) => (v === 'yes' ? true : v === 'no' ? false : undefined);
	return {
		from: filters.from,
		to: filters.to,
		subject: filters.subject,
		since: dateOf('since', filters.since),
		before: dateOf('before', filters.before),
		seen: yesNo(filters.seen),
		flagged: yesNo(filters.flagged),
		larger: filters.largerThan || undefined,
		smaller: filters.smallerThan || undefined,
		header: filters.headerName || filters.headerValue ? { name: filters.headerName ?? '', value: filters.headerValue ?? '' } : undefined,
		raw: filters.rawSearch,
	};
}

/** UID SEARCH in one folder; one item per message, newest first unless asked otherwise. Reads nothing as \Seen. */
export async function execute(this: IExecuteFunctions, i: number, session: SessionOf): Promise<INodeExecutionData[]> {
	const folder = String(this.getNodeParameter('folder', i, 'INBOX') ?? '').trim();
	if (!folder) throw configError('folder', 'Folder is empty.', 'Enter the folder to search in, such as INBOX.');
	const query = buildSearch(criteriaOf(this.getNodeParameter('filters', i, {}) as Filters));
	const returnAll = this.getNodeParameter('returnAll', i, false) as boolean;
	const limit = returnAll ? 0 : Math.max(1, Math.floor(Number(this.getNodeParameter('limit', i, 50))));
	const output = this.getNodeParameter('output', i, 'headers') as 'headers' | 'full';
	const options = this.getNodeParameter('options', i, {}) as ShapeOptions & { sort?: 'newestFirst' | 'oldestFirst' };

	return (await session()).run(async (client) => {
		const result = await searchFolder(client, folder, query, { limit, order: options.sort ?? 'newestFirst' });
		const messages = await fetchMessages(client, result.uids, output === 'full' ? 'source' : 'headers');
		const items: INodeExecutionData[] = [];
		const sentFolders = options.correspondents ? await sentFolderPaths(client) : [];
		if (output === 'full') {
			const itemOptions = itemOptionsOf(options, { sentFolders });
			for (const m of messages) items.push({ ...(await messageItem(this, client, result.folder, result.uidValidity, m, itemOptions)), pairedItem: { item: i } });
			return items;
		}
		const mailbox = mailboxName(this, client);
		for (const m of messages) {
			const parsed = await parseMessage(m.headers ?? Buffer.alloc(0), { headersOnly: true, includeAttachments: false });
			const json: IDataObject = {
				mailbox,
				folder: result.folder,
				uid: m.uid,
				uidValidity: result.uidValidity,
				messageId: parsed.json.messageId,
				subject: parsed.json.subject,
				from: parsed.json.from,
				to: parsed.json.to,
				date: parsed.json.date,
				flags: m.flags,
				size: m.size,
				internalDate: m.internalDate && !Number.isNaN(m.internalDate.getTime()) ? m.internalDate.toISOString() : null,
			};
			if (options.correspondents) {
				// headers are enough: the people of the message, as with the full output
				const direction = sentFolders.some((f) => f.toLowerCase() === result.folder.toLowerCase()) ? 'outbound' : 'inbound';
				json.correspondents = correspondentsOf(parsed.json, { direction, mailbox: mailbox ?? undefined, ownDomains: parseDomains(options.ownDomains) }) as unknown as IDataObject[];
			}
			items.push({ json, pairedItem: { item: i } });
		}
		return items;
	});
}
