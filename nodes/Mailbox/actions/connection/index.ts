import type { ResourceDefinition } from '../types';
import * as check from './check.operation';

export const connection: ResourceDefinition = {
	operation: {
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['connection'] } },
		options: [
			{
				name: 'Check',
				value: 'check',
				description:
					'Check step by step that the IMAP, POP3 or SMTP server can be reached and logged into: host, proxy, connection, TLS version and certificate, capabilities, login mechanism, INBOX or maildrop',
				action: 'Check the connection',
			},
		],
		default: 'check',
	},
	properties: check.description,
	operations: { check: { execute: check.execute } },
};
