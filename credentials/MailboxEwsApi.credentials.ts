import type { ICredentialType, INodeProperties } from 'n8n-workflow';
import { allowSelfSignedField } from './common/mail-server-fields';

/**
 * An on-premises Exchange server reached by Exchange Web Services with user name and password
 * (Basic authentication over HTTPS). Exchange Online uses the Microsoft 365 credentials instead.
 * The Test (the EWS trigger's mailboxEwsConnectionTest) signs in and reads the Inbox of the
 * mailbox, see lib/ews/check.ts.
 */
export class MailboxEwsApi implements ICredentialType {
	name = 'mailboxEwsApi';

	displayName = 'Mailbox Exchange EWS API';

	icon = { light: 'file:mailbox.svg', dark: 'file:mailbox.dark.svg' } as const;

	documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-mailbox#mailbox-ews-trigger';

	properties: INodeProperties[] = [
		{
			displayName: 'EWS URL',
			name: 'url',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'https://mail.example.com/EWS/Exchange.asmx',
			description: 'The Exchange Web Services endpoint of the server, usually https://&lt;your mail host&gt;/EWS/Exchange.asmx',
		},
		{
			displayName: 'User',
			name: 'user',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'name@example.com or EXAMPLE\\name',
			description: 'The user as user@domain (UPN) or DOMAIN\\user',
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
			displayName: 'Mailbox',
			name: 'mailbox',
			type: 'string',
			default: '',
			placeholder: 'info@example.com',
			description: "The mailbox the Test opens: empty for the user's own, or the address of one the user has Full Access to",
		},
		{
			displayName: 'Access to Other Mailboxes',
			name: 'access',
			type: 'options',
			default: 'delegate',
			options: [
				{ name: 'Full Access (Delegate)', value: 'delegate', description: 'The user has Full Access to the mailbox (Exchange: Mailbox delegation)' },
				{ name: 'Impersonation', value: 'impersonation', description: 'A service account with the ApplicationImpersonation role acts as the mailbox' },
			],
		},
		{
			displayName: 'Exchange Version',
			name: 'serverVersion',
			type: 'options',
			default: 'Exchange2013_SP1',
			options: [
				{ name: 'Exchange 2010 SP2', value: 'Exchange2010_SP2' },
				{ name: 'Exchange 2013', value: 'Exchange2013' },
				{ name: 'Exchange 2013 SP1 or Later (2016, 2019, Subscription Edition)', value: 'Exchange2013_SP1' },
				{ name: 'Exchange 2016 or Later', value: 'Exchange2016' },
			],
			description: 'The RequestServerVersion sent with every request; the server must be at least this version',
		},
		allowSelfSignedField,
	];
}
