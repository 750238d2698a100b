import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { deleteFolder } from '../../../../lib/imap/folders';
import type { SessionOf } from '../types';
import { FOLDER_PATH, folderPathProperty, pathSeparatorOption } from './common';

export const description: INodeProperties[] = [
	folderPathProperty('delete', 'The folder to delete, levels separated by "/" (e.g. "Projects/2026/Q1"). INBOX is never deleted.'),
	{
		displayName: 'Force',
		name: 'force',
		type: 'boolean',
		default: false,
		displayOptions: { show: { resource: ['folder'], operation: ['delete'] } },
		description:
			'Whether to delete the folder also when it holds messages or subfolders (everything in it is deleted, deepest subfolders first) or has a role such as Sent, Drafts, Junk, Trash or Archive. Off: such folders are refused with an error and nothing is deleted.',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: { show: { resource: ['folder'], operation: ['delete'] } },
		options: [pathSeparatorOption],
	},
];

/** Deletes the folder; one item: path, the folders deleted (deepest first) with their message counts. */
export async function execute(this: IExecuteFunctions, itemIndex: number, session: SessionOf): Promise<INodeExecutionData[]> {
	const path = this.getNodeParameter('folderPath', itemIndex) as string;
	const force = this.getNodeParameter('force', itemIndex, false) as boolean;
	const options = this.getNodeParameter('options', itemIndex, {}) as { separator?: string };
	const result = await (await session()).run((client) => deleteFolder(client, path, { separator: options.separator || '/', force, at: FOLDER_PATH }));
	return [{ json: { ...result, deleted: result.deleted.map((d) => ({ ...d })) }, pairedItem: { item: itemIndex } }];
}
