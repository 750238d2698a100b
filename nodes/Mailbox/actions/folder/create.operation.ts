import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { createFolder } from '../../../../lib/imap/folders';
import type { SessionOf } from '../types';
import { FOLDER_PATH, folderPathProperty, ifExistsOption, pathSeparatorOption } from './common';

export const description: INodeProperties[] = [
	folderPathProperty('create', 'The folder to create, levels separated by "/" (e.g. "Projects/2026/Q1"); missing parent folders are created too'),
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: { show: { resource: ['folder'], operation: ['create'] } },
		options: [
			ifExistsOption,
			pathSeparatorOption,
			{
				displayName: 'Subscribe',
				name: 'subscribe',
				type: 'boolean',
				default: true,
				description: 'Whether to subscribe the new folder (and parent folders created for it), so that mail clients show it',
			},
		],
	},
];

/** Creates the folder (and missing parents); one item: path, created, parentsCreated, subscribed. */
export async function execute(this: IExecuteFunctions, itemIndex: number, session: SessionOf): Promise<INodeExecutionData[]> {
	const path = this.getNodeParameter('folderPath', itemIndex) as string;
	const options = this.getNodeParameter('options', itemIndex, {}) as { ifExists?: 'error' | 'return'; separator?: string; subscribe?: boolean };
	const result = await (await session()).run((client) =>
		createFolder(client, path, { separator: options.separator || '/', subscribe: options.subscribe !== false, ifExists: options.ifExists ?? 'error', at: FOLDER_PATH }),
	);
	return [{ json: { ...result }, pairedItem: { item: itemIndex } }];
}
