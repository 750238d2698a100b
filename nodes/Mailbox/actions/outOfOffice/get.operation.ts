import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { getOutOfOffice } from '../../../../lib/sieve/out-of-office';
import { sieveOptionsProperty, stateJson, withSieve } from './sieve';

export const description: INodeProperties[] = [sieveOptionsProperty('get')];

/** One item: whether the auto-reply is on, its subject, text, period, interval and addresses. */
export async function execute(this: IExecuteFunctions, itemIndex: number): Promise<INodeExecutionData[]> {
	const state = await withSieve(this, itemIndex, (client) => getOutOfOffice(client));
	return [{ json: stateJson(state), pairedItem: { item: itemIndex } }];
}
