import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { createEwsFolder, listEwsFolders } from '../../../../lib/ews/actions';
import { ewsOnly } from '../access';
import type { EwsSessionOf } from '../types';
import { exchangeCreateOptions, FOLDER_PATH, folderItems } from './common';

/** Folder → List and Create with Access Via: EWS. */
export const description: INodeProperties[] = [
	ewsOnly({
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: { show: { resource: ['folder'], operation: ['list'] } },
		options: [
			{
				displayName: 'Mail Folders Only',
				name: 'mailOnly',
				type: 'boolean',
				default: true,
				description: 'Whether to leave out calendars, contacts, tasks and notes (folders whose class is not IPF.Note)',
			},
		],
	}),
	ewsOnly(exchangeCreateOptions()),
];

/**
 * One item per folder under the top of the mailbox: path ("Inbox/Projects"), name, role (specialUse
 * as for IMAP, distinguishedFolderId as Exchange names it), folder ids and counts.
 */
export async function list(this: IExecuteFunctions, itemIndex: number, session: EwsSessionOf): Promise<INodeExecutionData[]> {
	const options = this.getNodeParameter('options', itemIndex, {}) as { mailOnly?: boolean };
	const s = await session();
	const folders = await listEwsFolders(s.client, { mailOnly: options.mailOnly !== false });
	return folderItems(folders, s.mailbox, itemIndex);
}

/** Creates the folder and missing parents; one item: path, folderId, created, parentsCreated. */
export async function create(this: IExecuteFunctions, itemIndex: number, session: EwsSessionOf): Promise<INodeExecutionData[]> {
	const path = String(this.getNodeParameter('folderPath', itemIndex) ?? '');
	const options = this.getNodeParameter('options', itemIndex, {}) as { ifExists?: 'error' | 'return'; separator?: string };
	const s = await session();
	const result = await createEwsFolder(s.client, path, { ifExists: options.ifExists ?? 'error', separator: options.separator || '/', field: FOLDER_PATH.field, label: FOLDER_PATH.label });
	return [{ json: { ...result, mailbox: s.mailbox }, pairedItem: { item: itemIndex } }];
}
