import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { toNodeError } from '../../shared/errors';
import { ImapSession } from '../transport';
import * as connectionCheck from './connection/check.operation';
import * as folderList from './folder/list.operation';

/** An operation gets the item index and, on demand, the run's shared IMAP connection. */
export type Operation = (this: IExecuteFunctions, itemIndex: number, session: () => Promise<ImapSession>) => Promise<INodeExecutionData[]>;

const operations: Record<string, Record<string, Operation>> = {
	connection: { check: connectionCheck.execute },
	folder: { list: folderList.execute },
};

/** Runs the chosen operation once per input item on one shared connection. */
export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const output: INodeExecutionData[] = [];
	let session: ImapSession | undefined;
	try {
		for (let i = 0; i < items.length; i++) {
			const resource = this.getNodeParameter('resource', i) as string;
			const operation = this.getNodeParameter('operation', i) as string;
			try {
				const run = operations[resource]?.[operation];
				if (!run) throw new Error(`The operation "${operation}" of resource "${resource}" is not supported.`);
				const shared = async () => (session ??= await ImapSession.open(this));
				output.push(...(await run.call(this, i, shared)));
			} catch (error) {
				const nodeError = toNodeError(this.getNode(), error, i);
				if (!this.continueOnFail()) throw nodeError;
				output.push({ json: { error: nodeError.message, description: nodeError.description ?? null }, pairedItem: { item: i } });
			}
		}
	} finally {
		await session?.close();
	}
	return [output];
}
