import type { ResourceDefinition } from '../types';
import * as list from './list.operation';

export const folder: ResourceDefinition = {
	operation: {
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['folder'] } },
		options: [
			{
				name: 'List',
				value: 'list',
				description: 'List the folders of the mailbox with their roles (Sent, Junk...) and message counts',
				action: 'List folders',
			},
		],
		default: 'list',
	},
	properties: list.description,
	operations: { list: { execute: list.execute } },
};
