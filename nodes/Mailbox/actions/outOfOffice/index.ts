import type { ResourceDefinition } from '../types';

export const outOfOffice: ResourceDefinition = {
	operation: {
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['outOfOffice'] } },
		options: [],
		default: '',
	},
	properties: [],
	operations: {},
};
