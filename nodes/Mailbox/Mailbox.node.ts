import { NodeConnectionTypes, type IExecuteFunctions, type INodeExecutionData, type INodeType, type INodeTypeDescription } from 'n8n-workflow';
import { credentialTests } from '../shared/credential-tests';
import { router } from './actions/router';
import * as connectionCheck from './actions/connection/check.operation';
import * as folderList from './actions/folder/list.operation';
import { imapSignInProperties } from '../shared/imap-properties';

export class Mailbox implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Mailbox',
		name: 'mailbox',
		icon: { light: 'file:mailbox.svg', dark: 'file:mailbox.dark.svg' },
		group: ['input'],
		version: 1,
		subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
		description: 'Work with the folders and messages of an IMAP mailbox',
		defaults: { name: 'Mailbox' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{ name: 'mailboxImapApi', required: true, testedBy: 'mailboxImapConnectionTest', displayOptions: { show: { authentication: ['password'] }, hide: { protocol: ['pop3', 'smtp'] } } },
			{ name: 'mailboxPop3Api', required: true, testedBy: 'mailboxPop3ConnectionTest', displayOptions: { show: { authentication: ['password'], protocol: ['pop3'] } } },
			{ name: 'mailboxSmtpApi', required: true, testedBy: 'mailboxSmtpConnectionTest', displayOptions: { show: { authentication: ['password'], protocol: ['smtp'] } } },
			{ name: 'mailboxMicrosoftAppApi', required: true, testedBy: 'mailboxMicrosoftAppTest', displayOptions: { show: { authentication: ['microsoftApp'] } } },
			// n8n tests OAuth2 credentials itself (connected or not): a node's testedBy is not used for them
			{ name: 'mailboxMicrosoftOAuth2Api', required: true, displayOptions: { show: { authentication: ['microsoftOAuth2'] } } },
		],
		properties: [
			...imapSignInProperties,
			{
				displayName: 'Resource',
				name: 'resource',
				type: 'options',
				noDataExpression: true,
				options: [
					{ name: 'Connection', value: 'connection' },
					{ name: 'Folder', value: 'folder' },
				],
				default: 'folder',
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['connection'] } },
				options: [
					{
						name: 'Check',
						value: 'check',
						description: 'Check step by step that the IMAP, POP3 or SMTP server can be reached and logged into: host, proxy, connection, TLS version and certificate, capabilities, login mechanism, INBOX or maildrop',
						action: 'Check the connection',
					},
				],
				default: 'check',
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['folder'] } },
				options: [
					{
						name: 'List',
						value: 'list',
						description: 'List the folders of the mailbox with their roles (Sent, Junk...) and message counts',
						action: 'List folders',
					},
				],
				default: 'list',
			},
			...connectionCheck.description,
			...folderList.description,
		],
	};

	methods = {
		credentialTest: credentialTests,
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return router.call(this);
	}
}
