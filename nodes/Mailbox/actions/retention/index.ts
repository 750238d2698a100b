import type { ResourceDefinition } from '../types';

export const retention: ResourceDefinition = {
	operation: {
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['retention'] } },
		options: [],
		default: '',
	},
	properties: [],
	operations: {},
};
