import type { ICredentialDataDecryptedObject } from 'n8n-workflow';
import type { PasswordLogin, ProxyType, Security, ServerSettings, TlsVersionRule } from '../../lib/connection/options';

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
			proxy:
				data.proxy && data.proxy !== 'none'
					? {
							type: data.proxy as ProxyType,
							host: String(data.proxyHost ?? ''),
							port: data.proxyPort as number | string | undefined,
							user: data.proxyUser ? String(data.proxyUser) : undefined,
							password: data.proxyPassword ? String(data.proxyPassword) : undefined,
						}
					: undefined,
		},
		login: { user: String(data.user ?? ''), password: String(data.password ?? '') },
	};
}
