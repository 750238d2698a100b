import type { ICredentialType, INodeProperties } from 'n8n-workflow';
import { allowSelfSignedField, proxyFields, serverFields } from './common/mail-server-fields';

/**
 * A POP3 mailbox signed in with user name and password, by USER/PASS or APOP. The connection
 * check (lib/pop3/check.ts) connects, negotiates TLS, reads CAPA, logs in with the Login Method
 * and counts the maildrop; nodes/shared/pop3-credentials.ts turns these fields into its settings.
 */
export class MailboxPop3Api implements ICredentialType {
	name = 'mailboxPop3Api';

	// A mail protocol, not a web API, named like Mailbox IMAP (which the rule exempts by file name).
	// eslint-disable-next-line n8n-nodes-base/cred-class-field-display-name-missing-api
	displayName = 'Mailbox POP3';

	icon = { light: 'file:mailbox.svg', dark: 'file:mailbox.dark.svg' } as const;

	documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-mailbox#credentials';

	properties: INodeProperties[] = [
		...serverFields('pop3'),
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
			displayName: 'Login Method',
			name: 'loginMethod',
			type: 'options',
			default: 'password',
			options: [
				{ name: 'Password', value: 'password', description: 'USER and PASS (or AUTH PLAIN where the server wants it); use it with SSL/TLS or STARTTLS' },
				{ name: 'APOP', value: 'apop', description: 'Proves the password with a digest and never sends it; fails if the server offers no APOP' },
				{ name: 'APOP If Offered, Else Password', value: 'apop-or-password', description: 'APOP when the server\'s greeting offers it, USER and PASS otherwise' },
			],
			description: 'How to log in. APOP keeps the password off the wire even without encryption, but few servers still offer it.',
		},
		allowSelfSignedField,
		...proxyFields,
	];
}
