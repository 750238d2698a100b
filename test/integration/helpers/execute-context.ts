/**
 * A minimal stand-in for n8n's execute context, for running a node's execute() against the real
 * test servers: parameters per item (a value, or a function of the item index), credentials,
 * binary data of the input items, Continue On Fail.
 */
import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { record, safeJson } from '../../canary';

export interface ExecuteContextOptions {
	items: INodeExecutionData[];
	params: Record<string, unknown | ((i: number) => unknown)>;
	credentials: Record<string, IDataObject>;
	continueOnFail?: boolean;
	/** Node name and type, for error messages (default: the Mailbox node), and its version (default 1). */
	node?: { name: string; type: string; typeVersion?: number };
}

export function executeContext(options: ExecuteContextOptions): IExecuteFunctions {
	const node = { id: 'node-under-test', name: options.node?.name ?? 'Mailbox', type: options.node?.type ?? 'n8n-nodes-mailbox.mailbox', typeVersion: options.node?.typeVersion ?? 1, position: [0, 0] as [number, number], parameters: {} };
	// n8n's logger: what the node logs is kept for the secret canary (test/canary.js)
	const log = (message: string, meta?: unknown) => record('n8n logger', meta === undefined ? message : `${message} ${safeJson(meta)}`);
	return {
		getInputData: () => options.items,
		getNodeParameter: (name: string, i: number, fallback?: unknown) => {
			const value = options.params[name];
			if (value === undefined) {
				if (fallback === undefined) throw new Error(`parameter ${name} missing`);
				return fallback;
			}
			return typeof value === 'function' ? (value as (i: number) => unknown)(i) : value;
		},
		getCredentials: async (name: string) => {
			const data = options.credentials[name];
			if (!data) throw new Error(`no credential ${name}`);
			return data;
		},
		getNode: () => node,
		continueOnFail: () => options.continueOnFail === true,
		logger: { debug: log, info: log, warn: log, error: log },
		helpers: {
			getBinaryDataBuffer: async (i: number, name: string) => Buffer.from(options.items[i].binary?.[name]?.data ?? '', 'base64'),
			prepareBinaryData: async (data: Buffer, fileName?: string, mimeType?: string) => ({ data: data.toString('base64'), fileName, mimeType: mimeType ?? 'application/octet-stream', fileSize: String(data.length) }),
			returnJsonArray: (data: IDataObject | IDataObject[]) => (Array.isArray(data) ? data : [data]).map((json) => ({ json })),
		},
	} as unknown as IExecuteFunctions;
}

/** The error a node run (or any work) fails with; fails the test when it does not fail. */
export async function failure(work: Promise<unknown>): Promise<Error & { description?: string }> {
	try {
		await work;
	} catch (error) {
		return error as Error & { description?: string };
	}
	throw new Error('expected the node to fail');
}
