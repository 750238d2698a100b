import type { ICredentialType, INodeProperties } from 'n8n-workflow';
import { googleServerFields } from './common/google-server-fields';

/**
 * A Gmail or Google Workspace mailbox the user signs in to at Google (OAuth2 authorization code
 * with offline access, so that Google issues a refresh token). n8n keeps the tokens; the nodes log
 * in to IMAP, POP3 and SMTP with the access token (XOAUTH2) and let n8n refresh it.
 */
export class MailboxGoogleOAuth2Api implements ICredentialType {
	name = 'mailboxGoogleOAuth2Api';

	extends = ['oAuth2Api'];

	displayName = 'Mailbox Google Delegated OAuth2 API';

	icon = { light: 'file:mailbox.svg', dark: 'file:mailbox.dark.svg' } as const;

	documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-mailbox#google-workspace-and-gmail';

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
			placeholder: 'alice@example.com',
			description: 'The address of the Google account that signs in (Gmail takes the token only for this account)',
		},
		...googleServerFields,
		{
			displayName: 'Authorization URL',
			name: 'authUrl',
			type: 'hidden',
			default: 'https://accounts.google.com/o/oauth2/v2/auth',
		},
		{
			displayName: 'Access Token URL',
			name: 'accessTokenUrl',
			type: 'hidden',
			default: 'https://oauth2.googleapis.com/token',
		},
		{
			displayName: 'Scope',
			name: 'scope',
			type: 'hidden',
			default: 'https://mail.google.com/',
		},
		{
			// Answers 401 to an expired token: a request here through n8n makes n8n refresh the token
			// on n8n versions without a direct refresh helper.
			displayName: 'Token Check URL',
			name: 'tokenCheckUrl',
			type: 'hidden',
			default: 'https://gmail.googleapis.com/gmail/v1/users/me/profile',
		},
		{
			// Google issues a refresh token only with access_type=offline, and again only after prompt=consent
			displayName: 'Auth URI Query Parameters',
			name: 'authQueryParameters',
			type: 'hidden',
			default: 'access_type=offline&prompt=consent',
		},
		{
			displayName: 'Authentication',
			name: 'authentication',
			type: 'hidden',
			default: 'body',
		},
	];
}
