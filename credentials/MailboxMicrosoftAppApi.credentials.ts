import type { ICredentialType, INodeProperties } from 'n8n-workflow';
import { exchangeServerFields } from './common/mail-server-fields';

/**
 * A Microsoft 365 mailbox reached by an app registration (OAuth2 client credentials): no user
 * signs in; the app needs the application permission IMAP.AccessAsApp and admin consent, and an
 * Exchange service principal with access to the mailbox. Tokens come from MSAL and stay in memory.
 */
export class MailboxMicrosoftAppApi implements ICredentialType {
	name = 'mailboxMicrosoftAppApi';

	displayName = 'Mailbox Microsoft 365 App API';

	icon = { light: 'file:mailbox.svg', dark: 'file:mailbox.dark.svg' } as const;

	documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-mailbox#microsoft-365-app-client-credentials';

	properties: INodeProperties[] = [
		{
			displayName: 'Tenant ID',
			name: 'tenantId',
			type: 'string',
			default: '',
			required: true,
			placeholder: '00000000-0000-0000-0000-000000000000',
			description: 'Directory (tenant) ID of the app registration, or the tenant\'s domain',
		},
		{
			displayName: 'Client ID',
			name: 'clientId',
			type: 'string',
			default: '',
			required: true,
			description: 'Application (client) ID of the app registration',
		},
		{
			displayName: 'Client Secret',
			name: 'clientSecret',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description: 'The value (not the ID) of a client secret of the app registration',
		},
		{
			displayName: 'Mailbox',
			name: 'mailbox',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'info@contoso.com',
			description: 'The address of the mailbox to act on (a user or shared mailbox the app may access)',
		},
		{
			displayName: 'Shared Mailboxes',
			name: 'sharedMailboxes',
			type: 'string',
			default: '',
			placeholder: 'sales@contoso.com; support@contoso.com',
			description: 'More mailboxes the app may open, separated by semicolons; each is signed in to with the app\'s token as that address. The Test opens each one.',
		},
		{
			displayName: 'Sign-In Host',
			name: 'authorityHost',
			type: 'string',
			default: 'login.microsoftonline.com',
			description: 'Change only for a national cloud, e.g. login.microsoftonline.us or login.partner.microsoftonline.cn',
		},
		...exchangeServerFields,
	];
}
