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
					'Check step by step that the IMAP, POP3 or SMTP server (with Access Via: EWS or Microsoft Graph, that endpoint) can be reached and logged into: host, proxy, connection, TLS version and certificate, capabilities, login mechanism or token, INBOX or maildrop; a missing EWS or Graph permission names what to grant',
				action: 'Check the connection',
			},
		],
		default: 'check',
	},
	properties: check.description,
	operations: { check: { execute: check.execute } },
	ews: { check: { execute: check.execute } },
	graph: { check: { execute: check.execute } },
};
