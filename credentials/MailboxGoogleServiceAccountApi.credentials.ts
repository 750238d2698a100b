import type { ICredentialType, INodeProperties } from 'n8n-workflow';
import { googleServerFields } from './common/google-server-fields';

/**
 * A Google Workspace mailbox reached by a service account with domain-wide delegation: no user
 * signs in; the Workspace admin grants the service account's client ID the scope
 * https://mail.google.com/ in the Admin console, and the account acts as a user of the domain.
 * Tokens come from Google's token endpoint by the JWT bearer grant and stay in memory.
 */
export class MailboxGoogleServiceAccountApi implements ICredentialType {
	name = 'mailboxGoogleServiceAccountApi';

	displayName = 'Mailbox Google Workspace Service Account API';

	icon = { light: 'file:mailbox.svg', dark: 'file:mailbox.dark.svg' } as const;

	documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-mailbox#google-workspace-and-gmail';

	properties: INodeProperties[] = [
		{
			displayName: 'Key Input',
			name: 'keyInput',
			type: 'options',
			options: [
				{ name: 'JSON Key File', value: 'json', description: 'Paste the whole key file downloaded from the Google Cloud console' },
				{ name: 'Email and Private Key', value: 'fields', description: 'Enter the client_email and private_key of the key file' },
			],
			default: 'json',
		},
		// eslint-disable-next-line @n8n/community-nodes/credential-unnecessary-password -- the key file holds the private key
		{
			displayName: 'Service Account Key (JSON)',
			name: 'serviceAccountKey',
			type: 'string',
			typeOptions: { password: true, rows: 6 },
			default: '',
			required: true,
			placeholder: '{ "type": "service_account", "client_email": "…", "private_key": "…", … }',
			description: 'The JSON key file of the service account (Google Cloud console → IAM & Admin → Service Accounts → Keys → Add Key → JSON)',
			displayOptions: { show: { keyInput: ['json'] } },
		},
		{
			displayName: 'Service Account Email',
			name: 'clientEmail',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'mail-robot@my-project.iam.gserviceaccount.com',
			displayOptions: { show: { keyInput: ['fields'] } },
		},
		{
			displayName: 'Private Key',
			name: 'privateKey',
			type: 'string',
			typeOptions: { password: true, rows: 4 },
			default: '',
			required: true,
			placeholder: '-----BEGIN PRIVATE KEY-----\n…\n-----END PRIVATE KEY-----',
			description: 'The private_key of the key file, with its BEGIN and END lines',
			displayOptions: { show: { keyInput: ['fields'] } },
		},
		{
			displayName: 'Token URL',
			name: 'tokenUrl',
			type: 'string',
			default: 'https://oauth2.googleapis.com/token',
			description: "The key file's token_uri; Google's unless your key file says otherwise",
			displayOptions: { show: { keyInput: ['fields'] } },
		},
		{
			displayName: 'Mailbox',
			name: 'mailbox',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'info@example.com',
			description: 'The user of your Google Workspace domain the service account acts as: its mailbox is the one the nodes open',
		},
		{
			displayName: 'Shared Mailboxes',
			name: 'sharedMailboxes',
			type: 'string',
			default: '',
			placeholder: 'sales@example.com; support@example.com',
			description: 'More users of the domain the nodes may act as (their Mailbox field), separated by semicolons; each gets its own token. The Test opens each one.',
		},
		...googleServerFields,
	];
}
