import type { ResourceDefinition } from '../types';
import * as create from './create.operation';
import * as del from './delete.operation';
import * as list from './list.operation';
import * as rename from './rename.operation';

export const folder: ResourceDefinition = {
	operation: {
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['folder'] } },
		options: [
			{
				name: 'Create',
				value: 'create',
				description: 'Create a folder, nested paths such as "Projects/2026/Q1" included',
				action: 'Create a folder',
			},
			{
				name: 'Delete',
				value: 'delete',
				description: 'Delete an empty folder, or with Force a folder with its messages and subfolders',
				action: 'Delete a folder',
			},
			{
				name: 'List',
				value: 'list',
				description: 'List the folders of the mailbox with their roles (Sent, Junk...) and message counts',
				action: 'List folders',
			},
			{
				name: 'Rename',
				value: 'rename',
				description: 'Rename or move a folder with its subfolders',
				action: 'Rename a folder',
			},
		],
		default: 'list',
	},
	properties: [...list.description, ...create.description, ...rename.description, ...del.description],
	operations: {
		create: { execute: create.execute },
		delete: { execute: del.execute },
		list: { execute: list.execute },
		rename: { execute: rename.execute },
	},
};
