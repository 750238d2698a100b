import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { renameFolder } from '../../../../lib/imap/folders';
import type { SessionOf } from '../types';
import { FOLDER_PATH, folderPathProperty, pathSeparatorOption } from './common';

export const description: INodeProperties[] = [
	folderPathProperty('rename', 'The folder to rename, levels separated by "/" (e.g. "Projects/2026"); its subfolders move with it', 'Projects/2026'),
	{
		displayName: 'New Path',
		name: 'newPath',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'Archive/Projects 2026',
		displayOptions: { show: { resource: ['folder'], operation: ['rename'] } },
		description: 'The full new path, levels separated by "/": "Projects/2025" renames, "Archive/Projects 2026" also moves it under Archive (created if missing)',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: { show: { resource: ['folder'], operation: ['rename'] } },
		options: [pathSeparatorOption],
	},
];

/** Renames the folder; one item: from, to, subfolders that moved, subscriptions moved. */
export async function execute(this: IExecuteFunctions, itemIndex: number, session: SessionOf): Promise<INodeExecutionData[]> {
	const from = this.getNodeParameter('folderPath', itemIndex) as string;
	const to = this.getNodeParameter('newPath', itemIndex) as string;
	const options = this.getNodeParameter('options', itemIndex, {}) as { separator?: string };
	const result = await (await session()).run((client) =>
		renameFolder(client, from, to, { separator: options.separator || '/', from: FOLDER_PATH, to: { field: 'newPath', label: 'New Path' } }),
	);
	return [{ json: { ...result }, pairedItem: { item: itemIndex } }];
}
