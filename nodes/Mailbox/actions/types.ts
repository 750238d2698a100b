import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import type { ImapSession } from '../transport';

/** The run's shared IMAP connection, opened on first use. */
export type SessionOf = () => Promise<ImapSession>;

/** An operation run once per input item. */
export type ItemOperation = (this: IExecuteFunctions, itemIndex: number, session: SessionOf) => Promise<INodeExecutionData[]>;

/**
 * An operation run once for all input items (bulk work such as moving many messages with one
 * UID MOVE per folder). It reports each item's failure on that item itself: with Continue On Fail
 * an item { error, description } paired with it, otherwise by throwing.
 */
export type BatchOperation = (this: IExecuteFunctions, itemIndices: number[], session: SessionOf) => Promise<INodeExecutionData[]>;

export type OperationEntry = { execute: ItemOperation } | { executeBatch: BatchOperation };

/**
 * One resource of the Mailbox node: its Operation parameter, the parameters of its operations
 * (each with displayOptions for its resource and operation) and what runs them.
 */
export interface ResourceDefinition {
	/** The resource's Operation parameter (type options, noDataExpression, shown for the resource only). */
	operation: INodeProperties;
	/** The operations' own parameters. */
	properties: INodeProperties[];
	operations: Record<string, OperationEntry>;
}
