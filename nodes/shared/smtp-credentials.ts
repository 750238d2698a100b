import type { ICredentialDataDecryptedObject } from 'n8n-workflow';
import type { PasswordLogin, ProxyType, Security, ServerSettings, TlsVersionRule } from '../../lib/connection/options';
import { serverFor, type ServerChoice } from '../../lib/connection/presets';

export const SMTP_CREDENTIAL = 'mailboxSmtpApi';

/**
 * The mailboxSmtpApi credential as lib/ settings; lib/ validates the values. With a provider or
 * the instance default chosen as Server and Host left empty, host, port and security come from
 * there; a Host the user fills in wins. `login` is undefined when Authentication is None: the
 * check and the transport then send without AUTH. Throws a CONFIG MailboxError for an unusable
 * Server choice.
 */
export function smtpSettingsFromCredential(data: ICredentialDataDecryptedObject): { settings: ServerSettings; login: Partial<PasswordLogin> | undefined } {
	const host = String(data.host ?? '').trim();
	const preset = host ? undefined : serverFor('smtp', (data.server || 'custom') as ServerChoice);
	return {
		settings: {
			host: preset?.host ?? host,
			port: preset ? preset.port : (data.port as number | string | undefined),
			security: (preset?.security ?? data.security ?? 'starttls') as Security,
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
		login: data.authentication === 'none' ? undefined : { user: String(data.user ?? ''), password: String(data.password ?? '') },
	};
}
