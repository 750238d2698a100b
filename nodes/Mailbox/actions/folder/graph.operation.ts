import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { createGraphFolder, deleteGraphFolder, listGraphFolders, renameGraphFolder } from '../../../../lib/graph/mailbox';
import { graphOnly } from '../access';
import type { GraphSessionOf } from '../types';
import { exchangeCreateOptions, FOLDER_PATH, folderItems } from './common';

/** Folder → List, Create, Rename and Delete with Access Via: Microsoft Graph. */
export const description: INodeProperties[] = [
	graphOnly({
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: { show: { resource: ['folder'], operation: ['list'] } },
		options: [
			{
				displayName: 'Recursive',
				name: 'recursive',
				type: 'boolean',
				default: true,
				description: 'Whether to list the subfolders of every level; off: only the folders directly under Under Folder (or the top of the mailbox)',
			},
			{
				displayName: 'Under Folder',
				name: 'under',
				type: 'string',
				default: '',
				placeholder: 'Inbox',
				description: 'List only the folders below this one (a path or a standard folder such as inbox); empty: from the top of the mailbox',
			},
		],
	}),
	graphOnly(exchangeCreateOptions()),
];

/** One item per folder: path, name, role (specialUse as for IMAP, wellKnownName as Graph names it), ids and counts. */
export async function list(this: IExecuteFunctions, itemIndex: number, session: GraphSessionOf): Promise<INodeExecutionData[]> {
	const options = this.getNodeParameter('options', itemIndex, {}) as { recursive?: boolean; under?: string };
	const s = await session();
	const folders = await listGraphFolders(s.client, { recursive: options.recursive !== false, under: options.under });
	return folderItems(folders, s.mailbox, itemIndex);
}

/** Creates the folder and missing parents; one item: path, folderId, created, parentsCreated. */
export async function create(this: IExecuteFunctions, itemIndex: number, session: GraphSessionOf): Promise<INodeExecutionData[]> {
	const path = String(this.getNodeParameter('folderPath', itemIndex) ?? '');
	const options = this.getNodeParameter('options', itemIndex, {}) as { ifExists?: 'error' | 'return'; separator?: string };
	const s = await session();
	const result = await createGraphFolder(s.client, path, { ifExists: options.ifExists ?? 'error', separator: options.separator || '/', at: FOLDER_PATH });
	return [{ json: { ...result, mailbox: s.mailbox }, pairedItem: { item: itemIndex } }];
}

/** Renames the folder in place; one item: from, to, folderId. */
export async function rename(this: IExecuteFunctions, itemIndex: number, session: GraphSessionOf): Promise<INodeExecutionData[]> {
	const from = String(this.getNodeParameter('folderPath', itemIndex) ?? '');
	const to = String(this.getNodeParameter('newPath', itemIndex) ?? '');
	const options = this.getNodeParameter('options', itemIndex, {}) as { separator?: string };
	const s = await session();
	const result = await renameGraphFolder(s.client, from, to, { separator: options.separator || '/', from: FOLDER_PATH, to: { field: 'newPath', label: 'New Path' } });
	return [{ json: { ...result, mailbox: s.mailbox }, pairedItem: { item: itemIndex } }];
}

/** Deletes the folder (Graph moves it to Deleted Items); one item: path, folderId, messages, subfolders, movedTo. */
export async function remove(this: IExecuteFunctions, itemIndex: number, session: GraphSessionOf): Promise<INodeExecutionData[]> {
	const path = String(this.getNodeParameter('folderPath', itemIndex) ?? '');
	const force = this.getNodeParameter('force', itemIndex, false) as boolean;
	const options = this.getNodeParameter('options', itemIndex, {}) as { separator?: string };
	const s = await session();
	const result = await deleteGraphFolder(s.client, path, { force, separator: options.separator || '/', at: FOLDER_PATH });
	return [{ json: { ...result, deleted: true, mailbox: s.mailbox }, pairedItem: { item: itemIndex } }];
}
