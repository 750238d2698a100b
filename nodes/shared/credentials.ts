import type { ICredentialDataDecryptedObject } from 'n8n-workflow';
import type { PasswordLogin, Security, ServerSettings, TlsVersionRule } from '../../lib/connection/options';

export const IMAP_CREDENTIAL = 'mailboxImapApi';

/** The mailboxImapApi credential as lib/ settings; lib/ validates the values. */
export function imapSettingsFromCredential(data: ICredentialDataDecryptedObject): { settings: ServerSettings; login: Partial<PasswordLogin> } {
	return {
		settings: {
			host: String(data.host ?? ''),
			port: data.port as number | string | undefined,
			security: (data.security ?? 'tls') as Security,
			tlsVersion: (data.tlsVersion || 'auto') as TlsVersionRule,
			allowUnauthorizedCerts: data.allowSelfSigned === true,
		},
		login: { user: String(data.user ?? ''), password: String(data.password ?? '') },
	};
}
