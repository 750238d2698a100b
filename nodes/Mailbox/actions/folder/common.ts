import type { IDataObject, INodeExecutionData, INodeProperties } from 'n8n-workflow';

/** The Path Separator option of the folder operations: how the user separates levels in a path. */
export const pathSeparatorOption: INodeProperties = {
	displayName: 'Path Separator',
	name: 'separator',
	type: 'string',
	default: '/',
	description:
		'The character that separates the levels in the paths entered here ("Projects/2026/Q1"). It is translated to the separator of the server, which may be "." or "/". A path exactly as Folder → List outputs it is also accepted for an existing folder.',
};

/** The folder parameter of one folder operation. */
export function folderPathProperty(operation: string, description: string, placeholder = 'Projects/2026/Q1'): INodeProperties {
	return {
		displayName: 'Folder Path',
		name: 'folderPath',
		type: 'string',
		required: true,
		default: '',
		placeholder,
		displayOptions: { show: { resource: ['folder'], operation: [operation] } },
		description,
	};
}

/** Folder → Create's choice for a path that already exists (IMAP and EWS alike). */
export const ifExistsOption: INodeProperties = {
	displayName: 'If the Folder Exists',
	name: 'ifExists',
	type: 'options',
	default: 'error',
	options: [
		{ name: 'Fail', value: 'error', description: 'Stop with an error naming the folder' },
		{ name: 'Return It', value: 'return', description: 'Output the existing folder with created = false and change nothing' },
	],
	description: 'What to do when a folder with this path already exists',
};

/** Folder → Create's Options over EWS and Microsoft Graph (no Subscribe there); each call a new parameter, for ewsOnly or graphOnly to wrap. */
export function exchangeCreateOptions(): INodeProperties {
	return {
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: { show: { resource: ['folder'], operation: ['create'] } },
		options: [
			ifExistsOption,
			{
				...pathSeparatorOption,
				description: 'The character that separates the levels in the path entered here ("Projects/2026/Q1")',
			},
		],
	};
}

/** Folder → List's items over EWS and Microsoft Graph: each folder with its counts under the IMAP names (messages, unseen) and the mailbox. */
export function folderItems(folders: Array<{ totalCount: number | null; unreadCount: number | null }>, mailbox: string | null, itemIndex: number): INodeExecutionData[] {
	return folders.map((folder) => ({
		json: { ...folder, messages: folder.totalCount, unseen: folder.unreadCount, mailbox } as IDataObject,
		pairedItem: { item: itemIndex },
	}));
}

export const FOLDER_PATH = { field: 'folderPath', label: 'Folder Path' };
