import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { clearOutOfOffice } from '../../../../lib/sieve/out-of-office';
import { sieveOptionsProperty, stateJson, withSieve } from './sieve';

export const description: INodeProperties[] = [sieveOptionsProperty('clear')];

/** Turns the auto-reply off and restores the Sieve script that was active before it; one item with the state afterwards. */
export async function execute(this: IExecuteFunctions, itemIndex: number): Promise<INodeExecutionData[]> {
	const result = await withSieve(this, itemIndex, (client) => clearOutOfOffice(client));
	return [{ json: stateJson(result, { cleared: result.cleared, restoredScript: result.restoredScript }), pairedItem: { item: itemIndex } }];
}
