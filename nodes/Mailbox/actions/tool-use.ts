import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';
import { configError, type MailboxError } from '../../../lib/errors';

/**
 * The operations that delete mail or folders, by resource. An AI agent's tool may run them only
 * when the node's Allow Deleting is on (see {@link refusalAsTool}).
 */
export const DELETING_OPERATIONS: Readonly<Record<string, readonly string[]>> = {
	folder: ['delete'],
	message: ['delete'],
	retention: ['apply'],
};

/**
 * Allow Deleting: shown only on the node as a tool of an AI agent (n8n's '@tool' display option:
 * the node type ends in "Tool", as n8n names the tool it derives from `usableAsTool`), and only
 * for the deleting operations. Off by default; in a workflow's own steps it is never shown and
 * never asked.
 */
export const allowDeletingProperty: INodeProperties = {
	displayName: 'Allow Deleting',
	name: 'allowDeleting',
	type: 'boolean',
	default: false,
	description:
		'Whether the AI agent may run this operation, which deletes mail or folders (Message → Delete, Folder → Delete, Retention → Remove Old Mail). Off: the tool refuses and tells the agent so; nothing is deleted.',
	displayOptions: { show: { '@tool': [true], operation: ['delete', 'apply'] } },
};

/**
 * Whether the node runs as a tool of an AI agent. n8n 2.x derives the tool node type
 * `<package>.mailboxTool` from `usableAsTool` and runs it in two ways: the Tools Agent v3 asks the
 * engine to run the tool node like any node (an ExecuteContext whose isToolExecution() is false,
 * but whose node type is the tool's), older agents call it through supplyData (isToolExecution()
 * true). Either is enough.
 */
export function runsAsTool(ctx: Pick<IExecuteFunctions, 'getNode'> & { isToolExecution?: () => boolean }): boolean {
	try {
		if (typeof ctx.isToolExecution === 'function' && ctx.isToolExecution()) return true;
	} catch {
		// an n8n without it: the node type tells
	}
	const type = ctx.getNode().type ?? '';
	return /Tool$/.test(type.slice(type.lastIndexOf('.') + 1));
}

/**
 * The refusal of a deleting operation run by an AI agent without Allow Deleting, or undefined when
 * it may run (not a deleting operation, not run as a tool, or Allow Deleting on). The message
 * names the option: an agent receives only the message as the tool's result.
 */
export function refusalAsTool(ctx: IExecuteFunctions, resource: string, operation: string, operationName: string): MailboxError | undefined {
	if (!DELETING_OPERATIONS[resource]?.includes(operation)) return undefined;
	if (!runsAsTool(ctx)) return undefined;
	if (ctx.getNodeParameter('allowDeleting', 0, false) === true) return undefined;
	return configError(
		'allowDeleting',
		`${operationName} was refused: this Mailbox tool may not delete, because its option "Allow Deleting" is off. Nothing was deleted.`,
		'To let the AI agent delete, turn on "Allow Deleting" in this tool node; otherwise leave the mail as it is or move it to a folder instead.',
	);
}
