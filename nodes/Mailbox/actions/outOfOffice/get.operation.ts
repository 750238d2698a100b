import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { getOutOfOffice } from '../../../../lib/sieve/out-of-office';
import { sieveConnectionOptions, stateJson, withSieve } from './sieve';

export const description: INodeProperties[] = [
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: { show: { resource: ['outOfOffice'], operation: ['get'] } },
		options: [...sieveConnectionOptions],
	},
];

/** One item: whether the auto-reply is on, its subject, text, period, interval and addresses. */
export async function execute(this: IExecuteFunctions, itemIndex: number): Promise<INodeExecutionData[]> {
	const state = await withSieve(this, itemIndex, (client) => getOutOfOffice(client));
	return [{ json: stateJson(state), pairedItem: { item: itemIndex } }];
}
