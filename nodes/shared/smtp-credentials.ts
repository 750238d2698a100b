import type { ICredentialDataDecryptedObject } from 'n8n-workflow';
import type { PasswordLogin, ServerSettings } from '../../lib/connection/options';
import { serverSettingsFromCredential } from './credentials';

export const SMTP_CREDENTIAL = 'mailboxSmtpApi';

/**
 * The mailboxSmtpApi credential as lib/ settings; lib/ validates the values. With a provider or
 * the instance default chosen as Server and Host left empty, host, port and security come from
 * there; a Host the user fills in wins. `login` is undefined when Authentication is None: the
 * check and the transport then send without AUTH. Throws a CONFIG MailboxError for an unusable
 * Server choice.
 */
export function smtpSettingsFromCredential(data: ICredentialDataDecryptedObject): { settings: ServerSettings; login: Partial<PasswordLogin> | undefined } {
	return {
		settings: serverSettingsFromCredential('smtp', data, 'starttls'),
		login: data.authentication === 'none' ? undefined : { user: String(data.user ?? ''), password: String(data.password ?? '') },
	};
}
