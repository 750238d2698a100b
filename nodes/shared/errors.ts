import { NodeApiError, NodeOperationError, type INode, type JsonObject } from 'n8n-workflow';
import { MailboxError } from '../../lib/errors';

/**
 * Configuration mistakes become NodeOperationError, server failures NodeApiError; both carry the
 * cause as message and the fix as description. No field of a MailboxError holds a secret. The
 * lower-level error (`cause`) is left out of the details: n8n may serialize them, and it can hold server text.
 */
export function toNodeError(node: INode, error: unknown, itemIndex?: number): NodeOperationError | NodeApiError {
	if (error instanceof NodeOperationError || error instanceof NodeApiError) return error;
	if (error instanceof MailboxError) {
		if (error.code === 'CONFIG') {
			return new NodeOperationError(node, error.message, { description: error.hint, itemIndex });
		}
		const details: JsonObject = { message: error.message, code: error.code };
		if (error.causeCode) details.causeCode = error.causeCode;
		if (error.command) details.command = error.command;
		if (error.responseCode !== undefined) details.responseCode = error.responseCode;
		if (error.serverResponse) details.serverResponse = error.serverResponse;
		return new NodeApiError(node, details, { message: error.message, description: error.hint, itemIndex });
	}
	const message = error instanceof Error ? error.message : String(error);
	return new NodeOperationError(node, message, { itemIndex });
}
