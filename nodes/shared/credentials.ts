import type { ICredentialDataDecryptedObject } from 'n8n-workflow';
import type { PasswordLogin, ProxyType, Security, ServerSettings, TlsVersionRule } from '../../lib/connection/options';
import { serverFor, type ServerChoice } from '../../lib/connection/presets';

export const IMAP_CREDENTIAL = 'mailboxImapApi';

/**
 * The mailboxImapApi credential as lib/ settings; lib/ validates the values. With a provider or the
 * instance default chosen as Server and Host left empty, host, port and security come from there;
 * a Host the user fills in wins. Throws a CONFIG MailboxError for an unusable Server choice.
 */
export function imapSettingsFromCredential(data: ICredentialDataDecryptedObject): { settings: ServerSettings; login: Partial<PasswordLogin> } {
	const host = String(data.host ?? '').trim();
	const preset = host ? undefined : serverFor('imap', (data.server || 'custom') as ServerChoice);
	return {
		settings: {
			host: preset?.host ?? host,
			port: preset ? preset.port : (data.port as number | string | undefined),
			security: (preset?.security ?? data.security ?? 'tls') as Security,
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
