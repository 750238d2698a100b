import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { toNodeError } from '../../shared/errors';
import { EwsSession, GraphSession, openImapSession, type ImapSession } from '../transport';
import { accessViaOf, notOverEws, notOverGraph } from './access';
import type { EwsOperationEntry, GraphOperationEntry, OperationEntry, ResourceDefinition } from './types';
import { connection } from './connection';
import { folder } from './folder';
import { message } from './message';
import { outOfOffice } from './outOfOffice';
import { retention } from './retention';
import { refusalAsTool } from './tool-use';

export const resources: Record<string, ResourceDefinition> = { connection, folder, message, outOfOffice, retention };

const RESOURCE_NAMES: Record<string, string> = { connection: 'Connection', folder: 'Folder', message: 'Message', outOfOffice: 'Out of Office', retention: 'Retention' };

/**
 * Runs the chosen operation on one shared connection (IMAP, or the EWS or Graph client with
 * Access Via: EWS or Microsoft Graph): an item operation once per input item, a batch operation
 * once for all of them. Resource, Operation and Access Via take no expressions, so every item asks
 * for the same operation.
 */
export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const output: INodeExecutionData[] = [];
	let session: ImapSession | undefined;
	let ews: EwsSession | undefined;
	let graph: GraphSession | undefined;
	const shared = async () => (session ??= await openImapSession(this));
	const sharedEws = async () => (ews ??= await EwsSession.open(this));
	const sharedGraph = async () => (graph ??= await GraphSession.open(this));
	const failed = (error: unknown, i: number) => {
		const nodeError = toNodeError(this.getNode(), error, i);
		if (!this.continueOnFail()) throw nodeError;
		output.push({ json: { error: nodeError.message, description: nodeError.description ?? null }, pairedItem: { item: i } });
	};
	try {
		if (items.length === 0) return [output];
		const resource = this.getNodeParameter('resource', 0) as string;
		const operation = this.getNodeParameter('operation', 0) as string;
		const imapEntry: OperationEntry | undefined = resources[resource]?.operations[operation];
		if (!imapEntry) {
			failed(new Error(`The operation "${operation}" of resource "${resource}" is not supported.`), 0);
			return [output];
		}
		const accessVia = accessViaOf(this);
		const operationName = () => `${RESOURCE_NAMES[resource] ?? resource} → ${(resources[resource]?.operation.options as Array<{ name: string; value: string }> | undefined)?.find((o) => o.value === operation)?.name ?? operation}`;
		// as an AI agent's tool, deleting needs Allow Deleting: refused before anything is opened
		const refusal = refusalAsTool(this, resource, operation, operationName());
		if (refusal) {
			failed(refusal, 0);
			return [output];
		}
		if (accessVia === 'graph') {
			const entry: GraphOperationEntry | undefined = resources[resource]?.graph?.[operation];
			if (!entry) {
				failed(notOverGraph(operationName()), 0);
				return [output];
			}
			if ('executeBatch' in entry) {
				try {
					output.push(...(await entry.executeBatch.call(this, items.map((_, i) => i), sharedGraph)));
				} catch (error) {
					failed(error, 0);
				}
				return [output];
			}
			for (let i = 0; i < items.length; i++) {
				try {
					output.push(...(await entry.execute.call(this, i, sharedGraph)));
				} catch (error) {
					failed(error, i);
				}
			}
			return [output];
		}
		if (accessVia === 'ews') {
			const entry: EwsOperationEntry | undefined = resources[resource]?.ews?.[operation];
			if (!entry) {
				failed(notOverEws(operationName()), 0);
				return [output];
			}
			if ('executeBatch' in entry) {
				try {
					output.push(...(await entry.executeBatch.call(this, items.map((_, i) => i), sharedEws)));
				} catch (error) {
					failed(error, 0);
				}
				return [output];
			}
			for (let i = 0; i < items.length; i++) {
				try {
					output.push(...(await entry.execute.call(this, i, sharedEws)));
				} catch (error) {
					failed(error, i);
				}
			}
			return [output];
		}
		const entry = imapEntry;
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
		ews?.close();
		graph?.close();
	}
	return [output];
}
