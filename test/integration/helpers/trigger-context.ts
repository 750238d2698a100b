/**
 * A stand-in for n8n's trigger context, for running a trigger node's trigger() in a test:
 * parameters, credentials, static data, n8n's logger (what it logs is kept for the secret canary),
 * and emit with done promises whose runs succeed.
 */
import type { IDataObject, INodeExecutionData, IRun, ITriggerFunctions } from 'n8n-workflow';
import { record, safeJson } from '../../canary';

export interface TriggerContextOptions {
	node: { id: string; name: string; type: string; typeVersion: number };
	params: Record<string, unknown>;
	credentials: Record<string, IDataObject>;
	mode?: 'trigger' | 'manual';
	staticData?: IDataObject;
}

export function triggerContext(options: TriggerContextOptions) {
	const emitted: Array<{ data: INodeExecutionData[][]; key?: string }> = [];
	const staticData = options.staticData ?? {};
	const node = { ...options.node, position: [0, 0] as [number, number], parameters: {} };
	const log = (message: string, meta?: unknown) => record('n8n logger', meta === undefined ? message : `${message} ${safeJson(meta)}`);
	const ctx = {
		getNode: () => node,
		getMode: () => options.mode ?? 'trigger',
		getActivationMode: () => 'init',
		getWorkflow: () => ({ id: 'wf-1' }),
		getWorkflowStaticData: () => staticData,
		getNodeParameter: (name: string, fallback?: unknown) => options.params[name] ?? fallback,
		getCredentials: async (name: string) => {
			const data = options.credentials[name];
			if (!data) throw new Error(`no credential ${name}`);
			return data;
		},
		logger: { debug: log, info: log, warn: log, error: log },
		emit: (data: INodeExecutionData[][], _response?: unknown, done?: { resolve: (run: IRun) => void }, key?: string) => {
			emitted.push({ data, key });
			record('trigger items', data);
			done?.resolve({ status: 'success', data: { resultData: { runData: {} } } } as unknown as IRun);
		},
		helpers: {
			createDeferredPromise: <T>() => {
				let resolve!: (v: T) => void;
				let reject!: (e: Error) => void;
				const promise = new Promise<T>((res, rej) => {
					resolve = res;
					reject = rej;
				});
				return { promise, resolve, reject };
			},
			prepareBinaryData: async (data: Buffer, fileName?: string, mimeType?: string) => ({ data: data.toString('base64'), fileName, mimeType: mimeType ?? 'application/octet-stream', fileSize: String(data.length) }),
		},
	};
	return { ctx: ctx as unknown as ITriggerFunctions, emitted, staticData };
}
