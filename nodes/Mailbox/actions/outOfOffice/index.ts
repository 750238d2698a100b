import type { ResourceDefinition } from '../types';
import * as clear from './clear.operation';
import * as get from './get.operation';
import * as set from './set.operation';
import * as graph from './graph.operation';
import { notGraph } from '../access';

/**
 * The out-of-office auto-reply, kept on the mail server as a Sieve script and managed through
 * ManageSieve (RFC 5804) with the node's credential; the IMAP connection is not used. With Access
 * Via: Microsoft Graph, the mailbox's automatic replies (mailboxSettings).
 */
export const outOfOffice: ResourceDefinition = {
	operation: {
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['outOfOffice'] } },
		options: [
			{
				name: 'Clear',
				value: 'clear',
				description: 'Turn the out-of-office auto-reply off; the mailbox\'s own Sieve filters active before stay active',
				action: 'Clear the out of office reply',
			},
			{
				name: 'Get',
				value: 'get',
				description: 'Read whether the out-of-office auto-reply is on, with its subject, text, period, reply interval and addresses',
				action: 'Get the out of office reply',
			},
			{
				name: 'Set',
				value: 'set',
				description:
					'Turn on the out-of-office auto-reply (subject, text, optional start and end, reply interval, own addresses) through the server\'s ManageSieve; replaces an earlier one set by this node',
				action: 'Set the out of office reply',
			},
		],
		default: 'get',
	},
	// Text is shared; Subject and the ManageSieve options are not Graph's (it has its own options)
	properties: [...[...set.description, ...get.description, ...clear.description].map((p) => (p.name === 'text' ? p : notGraph(p))), ...graph.description],
	operations: { clear: { execute: clear.execute }, get: { execute: get.execute }, set: { execute: set.execute } },
	graph: { clear: { execute: graph.clear }, get: { execute: graph.get }, set: { execute: graph.set } },
};
