import type { INodeProperties, INodePropertyOptions } from 'n8n-workflow';

/** The Google sign-ins, offered wherever IMAP, POP3 or SMTP signs in with a token. */
export const googleSignInOptions: INodePropertyOptions[] = [
	{ name: 'Google Workspace Service Account', value: 'googleServiceAccount', description: 'A service account with domain-wide delegation for https://mail.google.com/; acts as a user of the domain (XOAUTH2)' },
	{ name: 'Google (Delegated OAuth2)', value: 'googleOAuth2', description: 'A Gmail or Google Workspace user signed in at Google (XOAUTH2)' },
];

/** The Microsoft 365 sign-ins of IMAP and POP3, as the Authentication choice words them there. */
export const microsoftSignInOptions: INodePropertyOptions[] = [
	{ name: 'Microsoft 365 App (Client Credentials)', value: 'microsoftApp' },
	{ name: 'Microsoft 365 (Delegated OAuth2)', value: 'microsoftOAuth2' },
];

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
			...microsoftSignInOptions,
			...googleSignInOptions,
		],
		default: 'password',
	},
	{
		displayName: 'Mailbox',
		name: 'mailbox',
		type: 'string',
		default: '',
		placeholder: 'info@example.com',
		description: "Leave empty for the account's own mailbox, or enter one of the Shared Mailboxes listed in the credential (a Google service account then acts as that user)",
	},
];
