import type { INodeProperties } from 'n8n-workflow';

/**
 * How an IMAP node signs in, and which mailbox it works in: the same two parameters on the Mailbox
 * node and the IMAP trigger (nodes/shared/credentials.ts imapConnectionOf reads them).
 */
export const imapSignInProperties: INodeProperties[] = [
	{
		displayName: 'Authentication',
		name: 'authentication',
		type: 'options',
		options: [
			{ name: 'Password (IMAP)', value: 'password' },
			{ name: 'Microsoft 365 App (Client Credentials)', value: 'microsoftApp' },
			{ name: 'Microsoft 365 (Delegated OAuth2)', value: 'microsoftOAuth2' },
		],
		default: 'password',
	},
	{
		displayName: 'Mailbox',
		name: 'mailbox',
		type: 'string',
		default: '',
		placeholder: 'info@example.com',
		description: "Leave empty for the account's own mailbox, or enter one of the Shared Mailboxes listed in the credential",
	},
];
