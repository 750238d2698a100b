import { NodeConnectionTypes, type IExecuteFunctions, type INodeExecutionData, type INodeType, type INodeTypeDescription } from 'n8n-workflow';
import { credentialTests } from '../shared/credential-tests';
import { resources, router } from './actions/dispatch';
import { imapSignInProperties } from '../shared/imap-properties';
import { accessProperties, ewsAuthenticationProperty, ewsUrlProperty, graphAuthenticationProperty, graphUrlProperty, imapOnly } from './actions/access';
import { allowDeletingProperty } from './actions/tool-use';

export class Mailbox implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Mailbox',
		name: 'mailbox',
		icon: { light: 'file:mailbox.svg', dark: 'file:mailbox.dark.svg' },
		group: ['input'],
		version: 1,
		subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
		// also the default Description of the node as an AI agent's tool (Tool Description: Set Manually)
		description:
			'Read and organize an email mailbox (IMAP, Exchange EWS or Microsoft 365 Graph): search a folder for messages (each comes with its folder, uid, uidValidity, messageId, subject, from, to and date), get one with its text, move, copy, flag, mark as spam or not spam, or delete messages given by folder + uid + uidValidity; list and manage folders; out-of-office reply; retention',
		defaults: { name: 'Mailbox' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{ name: 'mailboxImapApi', required: true, testedBy: 'mailboxImapConnectionTest', displayOptions: { show: { authentication: ['password'] }, hide: { protocol: ['pop3', 'smtp'], accessVia: ['ews', 'graph'] } } },
			{ name: 'mailboxPop3Api', required: true, testedBy: 'mailboxPop3ConnectionTest', displayOptions: { show: { authentication: ['password'], protocol: ['pop3'] }, hide: { accessVia: ['ews', 'graph'] } } },
			{ name: 'mailboxSmtpApi', required: true, testedBy: 'mailboxSmtpConnectionTest', displayOptions: { show: { authentication: ['password'], protocol: ['smtp'] }, hide: { accessVia: ['ews', 'graph'] } } },
			{ name: 'mailboxMicrosoftAppApi', required: true, testedBy: 'mailboxMicrosoftAppTest', displayOptions: { show: { authentication: ['microsoftApp'] } } },
			// n8n tests OAuth2 credentials itself (connected or not): a node's testedBy is not used for them
			{ name: 'mailboxMicrosoftOAuth2Api', required: true, displayOptions: { show: { authentication: ['microsoftOAuth2'] } } },
			{ name: 'mailboxGoogleServiceAccountApi', required: true, testedBy: 'mailboxGoogleServiceAccountTest', displayOptions: { show: { accessVia: ['imap'], authentication: ['googleServiceAccount'] } } },
			{ name: 'mailboxGoogleOAuth2Api', required: true, displayOptions: { show: { accessVia: ['imap'], authentication: ['googleOAuth2'] } } },
			// on-premises Exchange by EWS (Access Via: EWS, Authentication: Password)
			{ name: 'mailboxEwsApi', required: true, testedBy: 'mailboxEwsConnectionTest', displayOptions: { show: { authentication: ['ewsPassword'], accessVia: ['ews'] } } },
		],
		properties: [
			...accessProperties,
			// Authentication: the IMAP choices, or with Access Via: EWS or Graph their own (same name, one shown at a time)
			...imapSignInProperties.flatMap((p) => (p.name === 'authentication' ? [imapOnly(p), ewsAuthenticationProperty, graphAuthenticationProperty] : [p])),
			ewsUrlProperty,
			graphUrlProperty,
			{
				displayName: 'Resource',
				name: 'resource',
				type: 'options',
				noDataExpression: true,
				options: [
					{ name: 'Connection', value: 'connection' },
					{ name: 'Folder', value: 'folder' },
					{ name: 'Message', value: 'message' },
					{ name: 'Out of Office', value: 'outOfOffice' },
					{ name: 'Retention', value: 'retention' },
				],
				default: 'folder',
			},
			// every resource has operations: n8n's loader fails on an empty list (the descriptions unit test checks it)
			...Object.values(resources).flatMap((resource) => [resource.operation, ...resource.properties]),
			// only on the node as an AI agent's tool, for the operations that delete
			allowDeletingProperty,
		],
	};

	methods = {
		credentialTest: credentialTests,
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return router.call(this);
	}
}
