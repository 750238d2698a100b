import type { ICredentialType, INodeProperties } from 'n8n-workflow';
import { exchangeServerFields } from './common/mail-server-fields';

/**
 * A Microsoft 365 mailbox the user signs in to at Microsoft (OAuth2 authorization code with
 * delegated permissions). n8n keeps the tokens; the Mailbox node logs in to IMAP with the access
 * token and lets n8n refresh it when the mail server rejects it or it has expired.
 *
 * A token is for one resource. With API "Exchange Protocols" its scopes are the Outlook resource's
 * that Exchange Online checks for each protocol: IMAP.AccessAsUser.All, POP.AccessAsUser.All,
 * SMTP.Send and EWS.AccessAsUser.All; with "Microsoft Graph" Graph's Mail.ReadWrite, Mail.Send and
 * MailboxSettings.ReadWrite. Both add offline_access so that a refresh token is issued.
 */
export class MailboxMicrosoftOAuth2Api implements ICredentialType {
	name = 'mailboxMicrosoftOAuth2Api';

	extends = ['oAuth2Api'];

	displayName = 'Mailbox Microsoft 365 Delegated OAuth2 API';

	icon = { light: 'file:mailbox.svg', dark: 'file:mailbox.dark.svg' } as const;

	documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-mailbox#microsoft-365-delegated-oauth2';

	properties: INodeProperties[] = [
		{
			displayName: 'Grant Type',
			name: 'grantType',
			type: 'hidden',
			default: 'authorizationCode',
		},
		{
			displayName: 'Mailbox',
			name: 'mailbox',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'alice@contoso.com',
			description: 'The address of the account that signs in (the IMAP login name for the token)',
		},
		{
			displayName: 'Shared Mailboxes',
			name: 'sharedMailboxes',
			type: 'string',
			default: '',
			placeholder: 'sales@contoso.com; support@contoso.com',
			description: 'More mailboxes the signed-in user may open (full access in Exchange), separated by semicolons; each is signed in to with the user\'s token as that address',
		},
		{
			displayName: 'API',
			name: 'api',
			type: 'options',
			options: [
				{ name: 'Exchange Protocols (IMAP, POP3, SMTP, EWS)', value: 'exchange' },
				{ name: 'Microsoft Graph', value: 'graph' },
			],
			default: 'exchange',
			description: 'What the token is for: a Microsoft token serves one API. Nodes with Access Via: Microsoft Graph need a credential with Microsoft Graph (delegated permissions Mail.ReadWrite, Mail.Send, MailboxSettings.ReadWrite).',
		},
		{
			displayName: 'Tenant',
			name: 'tenantId',
			type: 'string',
			default: 'organizations',
			description:
				'Directory (tenant) ID or domain of the app registration; "organizations" lets any work or school account sign in, "common" also personal Outlook.com accounts',
		},
		{
			displayName: 'Sign-In Host',
			name: 'authorityHost',
			type: 'string',
			default: 'login.microsoftonline.com',
			description: 'Change only for a national cloud, e.g. login.microsoftonline.us or login.partner.microsoftonline.cn',
		},
		{
			displayName: 'Exchange Host',
			name: 'exchangeHost',
			type: 'string',
			default: 'outlook.office365.com',
			description: 'The Exchange Online resource the token is for (its scopes); change only for a national cloud, e.g. outlook.office365.us',
		},
		{
			displayName: 'Graph Host',
			name: 'graphHost',
			type: 'string',
			default: 'graph.microsoft.com',
			displayOptions: { show: { api: ['graph'] } },
			description: 'The Microsoft Graph resource the token is for; change only for a national cloud, e.g. graph.microsoft.us',
		},
		...exchangeServerFields,
		{
			displayName: 'Authorization URL',
			name: 'authUrl',
			type: 'hidden',
			default:
				'=https://{{$self["authorityHost"] || "login.microsoftonline.com"}}/{{$self["tenantId"] || "organizations"}}/oauth2/v2.0/authorize',
		},
		{
			displayName: 'Access Token URL',
			name: 'accessTokenUrl',
			type: 'hidden',
			default:
				'=https://{{$self["authorityHost"] || "login.microsoftonline.com"}}/{{$self["tenantId"] || "organizations"}}/oauth2/v2.0/token',
		},
		{
			displayName: 'Scope',
			name: 'scope',
			type: 'hidden',
			default:
				'={{["offline_access"].concat($self["api"] === "graph" ? ["Mail.ReadWrite", "Mail.Send", "MailboxSettings.ReadWrite"].map(s => "https://" + ($self["graphHost"] || "graph.microsoft.com") + "/" + s) : ["IMAP.AccessAsUser.All", "POP.AccessAsUser.All", "SMTP.Send", "EWS.AccessAsUser.All"].map(s => "https://" + ($self["exchangeHost"] || "outlook.office365.com") + "/" + s)).join(" ")}}',
		},
		{
			// Answers 401 to an expired token: a request here through n8n makes n8n refresh the token
			// on n8n versions without a direct refresh helper.
			displayName: 'Token Check URL',
			name: 'tokenCheckUrl',
			type: 'hidden',
			default: '={{$self["api"] === "graph" ? "https://" + ($self["graphHost"] || "graph.microsoft.com") + "/v1.0/me/mailFolders/inbox" : "https://" + ($self["exchangeHost"] || "outlook.office365.com") + "/EWS/Exchange.asmx"}}',
		},
		{
			displayName: 'Auth URI Query Parameters',
			name: 'authQueryParameters',
			type: 'hidden',
			default: 'response_mode=query&prompt=select_account',
		},
		{
			displayName: 'Authentication',
			name: 'authentication',
			type: 'hidden',
			default: 'body',
		},
	];
}
