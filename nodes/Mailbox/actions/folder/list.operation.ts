import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { listFolders } from '../../../../lib/imap/folders';
import type { SessionOf } from '../types';

export const description: INodeProperties[] = [
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: { show: { resource: ['folder'], operation: ['list'] } },
		options: [
			{
				displayName: 'Include Counts',
				name: 'counts',
				type: 'boolean',
				default: true,
				description: 'Whether to add the number of messages and unseen messages of each folder',
			},
			{
				displayName: 'Only Subscribed',
				name: 'subscribedOnly',
				type: 'boolean',
				default: false,
				description: 'Whether to return only the folders the account is subscribed to',
			},
		],
	},
];

/** One output item per folder: path, name, role (SPECIAL-USE), subscribed, counts. */
export async function execute(this: IExecuteFunctions, itemIndex: number, session: SessionOf): Promise<INodeExecutionData[]> {
	const options = this.getNodeParameter('options', itemIndex, {}) as { counts?: boolean; subscribedOnly?: boolean };
	const folders = await (await session()).run((client) => listFolders(client, { counts: options.counts !== false }));
	return folders
		.filter((folder) => !options.subscribedOnly || folder.subscribed)
		.map((folder) => ({ json: { ...folder } as IDataObject, pairedItem: { item: itemIndex } }));
}
