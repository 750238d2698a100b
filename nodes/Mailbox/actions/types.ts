import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import type { EwsSession, GraphSession, ImapSession } from '../transport';

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
	/** The operations available with Access Via: EWS; the others fail with an error naming Access Via. */
	ews?: Record<string, EwsOperationEntry>;
	/** The operations available with Access Via: Microsoft Graph; the others fail with an error naming Access Via. */
	graph?: Record<string, GraphOperationEntry>;
}

/** The run's shared EWS client (Access Via: EWS), connected on first use. */
export type EwsSessionOf = () => Promise<EwsSession>;

/** An EWS operation run once per input item. */
export type EwsItemOperation = (this: IExecuteFunctions, itemIndex: number, session: EwsSessionOf) => Promise<INodeExecutionData[]>;

/** An EWS operation run once for all input items (one request for all item ids); each item's failure on that item. */
export type EwsBatchOperation = (this: IExecuteFunctions, itemIndices: number[], session: EwsSessionOf) => Promise<INodeExecutionData[]>;

export type EwsOperationEntry = { execute: EwsItemOperation } | { executeBatch: EwsBatchOperation };

/** The run's shared Graph client (Access Via: Microsoft Graph), connected on first use. */
export type GraphSessionOf = () => Promise<GraphSession>;

/** A Graph operation run once per input item. */
export type GraphItemOperation = (this: IExecuteFunctions, itemIndex: number, session: GraphSessionOf) => Promise<INodeExecutionData[]>;

/** A Graph operation run once for all input items ($batch requests for all message ids); each item's failure on that item. */
export type GraphBatchOperation = (this: IExecuteFunctions, itemIndices: number[], session: GraphSessionOf) => Promise<INodeExecutionData[]>;

export type GraphOperationEntry = { execute: GraphItemOperation } | { executeBatch: GraphBatchOperation };
