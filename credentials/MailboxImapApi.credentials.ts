import type { ICredentialType, INodeProperties } from 'n8n-workflow';
import { allowSelfSignedField, proxyFields, serverFields } from './common/mail-server-fields';

/**
 * An IMAP account signed in with user name and password. Tested by the Mailbox node's
 * `mailboxImapConnectionTest`, which connects, negotiates TLS, logs in and lists the folders.
 */
export class MailboxImapApi implements ICredentialType {
	name = 'mailboxImapApi';

	displayName = 'Mailbox IMAP';

	icon = { light: 'file:mailbox.svg', dark: 'file:mailbox.dark.svg' } as const;

	documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-mailbox#credentials';

	properties: INodeProperties[] = [
		...serverFields('imap'),
		{
			displayName: 'User',
			name: 'user',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'name@example.com',
		},
		{
			displayName: 'Password',
			name: 'password',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
		},
		{
			displayName: 'Shared Mailboxes',
			name: 'sharedMailboxes',
			type: 'string',
			default: '',
			placeholder: 'info@example.com; sales@example.com',
			description: 'Other mailboxes this account may open, separated by semicolons (Microsoft 365: mailboxes it has Full Access to). Each is opened with the login "User\\mailbox" and this password; the Test opens each one. To sign in to only one shared mailbox, enter "you@example.com\\info@example.com" as User instead.',
		},
		allowSelfSignedField,
		...proxyFields,
	];
}
