import type { ResourceDefinition } from '../types';

export const message: ResourceDefinition = {
	operation: {
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['message'] } },
		options: [],
		default: '',
	},
	properties: [],
	operations: {},
};
