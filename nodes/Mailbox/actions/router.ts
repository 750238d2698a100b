import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { toNodeError } from '../../shared/errors';
import { ImapSession } from '../transport';
import type { OperationEntry, ResourceDefinition } from './types';
import { connection } from './connection';
import { folder } from './folder';
import { message } from './message';
import { outOfOffice } from './outOfOffice';
import { retention } from './retention';

export const resources: Record<string, ResourceDefinition> = { connection, folder, message, outOfOffice, retention };

/**
 * Runs the chosen operation on one shared connection: an item operation once per input item, a
 * batch operation once for all of them. Resource and Operation take no expressions, so every item
 * asks for the same operation.
 */
export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const output: INodeExecutionData[] = [];
	let session: ImapSession | undefined;
	const shared = async () => (session ??= await ImapSession.open(this));
	const failed = (error: unknown, i: number) => {
		const nodeError = toNodeError(this.getNode(), error, i);
		if (!this.continueOnFail()) throw nodeError;
		output.push({ json: { error: nodeError.message, description: nodeError.description ?? null }, pairedItem: { item: i } });
	};
	try {
		if (items.length === 0) return [output];
		const resource = this.getNodeParameter('resource', 0) as string;
		const operation = this.getNodeParameter('operation', 0) as string;
		const entry: OperationEntry | undefined = resources[resource]?.operations[operation];
		if (!entry) {
			failed(new Error(`The operation "${operation}" of resource "${resource}" is not supported.`), 0);
			return [output];
		}
		if ('executeBatch' in entry) {
			try {
				output.push(...(await entry.executeBatch.call(this, items.map((_, i) => i), shared)));
			} catch (error) {
				failed(error, 0);
			}
			return [output];
		}
		for (let i = 0; i < items.length; i++) {
			try {
				output.push(...(await entry.execute.call(this, i, shared)));
			} catch (error) {
				failed(error, i);
			}
		}
	} finally {
		await session?.close();
	}
	return [output];
}
