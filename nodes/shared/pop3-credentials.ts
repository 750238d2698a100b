import type { ICredentialDataDecryptedObject } from 'n8n-workflow';
import type { PasswordLogin, ServerSettings } from '../../lib/connection/options';
import { serverSettingsFromCredential } from './credentials';
import { POP3_LOGIN_METHODS, type Pop3LoginMethod } from '../../lib/pop3/connect';

export const POP3_CREDENTIAL = 'mailboxPop3Api';

/**
 * The mailboxPop3Api credential as lib/ settings, for checkPop3Connection and connectPop3; lib/
 * validates the values. With a provider or the instance default (MAILBOX_DEFAULT_POP3_*) chosen
 * as Server and Host left empty, host, port and security come from there; a Host the user fills
 * in wins. Throws a CONFIG MailboxError for an unusable Server choice.
 */
export function pop3SettingsFromCredential(data: ICredentialDataDecryptedObject): { settings: ServerSettings; login: Partial<PasswordLogin>; apop: Pop3LoginMethod } {
	const method = String(data.loginMethod || 'password') as Pop3LoginMethod;
	return {
		settings: serverSettingsFromCredential('pop3', data),
		login: { user: String(data.user ?? ''), password: String(data.password ?? '') },
		// An unknown value (an older or hand-edited credential) falls back to the plain password login.
		apop: POP3_LOGIN_METHODS.includes(method) ? method : 'password',
	};
}
