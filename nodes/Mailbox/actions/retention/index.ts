import type { ResourceDefinition } from '../types';
import * as apply from './apply.operation';
import * as graph from './graph.operation';

export const retention: ResourceDefinition = {
	operation: {
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['retention'] } },
		options: [
			{
				name: 'Remove Old Mail',
				value: 'apply',
				description: 'Delete (or move to Trash) the messages in INBOX, Junk, Sent and other folders that are older than the given number of days. As an AI agent\'s tool only with Allow Deleting on.',
				action: 'Remove mail older than N days from folders',
			},
		],
		default: 'apply',
	},
	properties: apply.description,
	operations: { apply: { execute: apply.execute } },
	graph: { apply: { execute: graph.execute } },
};
