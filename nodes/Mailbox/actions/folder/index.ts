import type { ResourceDefinition } from '../types';
import * as create from './create.operation';
import * as del from './delete.operation';
import * as ews from './ews.operation';
import * as graph from './graph.operation';
import { imapOnly } from '../access';
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
				description: 'Delete an empty folder, or with Force a folder with its messages and subfolders (IMAP and Microsoft Graph). As an AI agent\'s tool only with Allow Deleting on.',
				action: 'Delete a folder',
			},
			{
				name: 'List',
				value: 'list',
				description: 'List the folders of the mailbox, one item each, with its path (what other operations take as a folder), its role (Sent, Junk, Trash...) and message counts',
				action: 'List folders',
			},
			{
				name: 'Rename',
				value: 'rename',
				description: 'Rename or move a folder with its subfolders (IMAP; Microsoft Graph renames in place)',
				action: 'Rename a folder',
			},
		],
		default: 'list',
	},
	// The Options of List and Create differ by Access Via; Folder Path is the same for both.
	properties: [
		...list.description.map(imapOnly),
		...create.description.map((p) => (p.name === 'options' ? imapOnly(p) : p)),
		...rename.description,
		...del.description,
		...ews.description,
		...graph.description,
	],
	operations: {
		create: { execute: create.execute },
		delete: { execute: del.execute },
		list: { execute: list.execute },
		rename: { execute: rename.execute },
	},
	ews: {
		create: { execute: ews.create },
		list: { execute: ews.list },
	},
	graph: {
		create: { execute: graph.create },
		delete: { execute: graph.remove },
		list: { execute: graph.list },
		rename: { execute: graph.rename },
	},
};
