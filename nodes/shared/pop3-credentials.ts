import type { ICredentialDataDecryptedObject } from 'n8n-workflow';
import type { PasswordLogin, ProxyType, Security, ServerSettings, TlsVersionRule } from '../../lib/connection/options';
import { serverFor, type ServerChoice } from '../../lib/connection/presets';
import { POP3_LOGIN_METHODS, type Pop3LoginMethod } from '../../lib/pop3/connect';

export const POP3_CREDENTIAL = 'mailboxPop3Api';

/**
 * The mailboxPop3Api credential as lib/ settings, for checkPop3Connection and connectPop3; lib/
 * validates the values. With a provider or the instance default (MAILBOX_DEFAULT_POP3_*) chosen
 * as Server and Host left empty, host, port and security come from there; a Host the user fills
 * in wins. Throws a CONFIG MailboxError for an unusable Server choice.
 */
export function pop3SettingsFromCredential(data: ICredentialDataDecryptedObject): { settings: ServerSettings; login: Partial<PasswordLogin>; apop: Pop3LoginMethod } {
	const host = String(data.host ?? '').trim();
	const preset = host ? undefined : serverFor('pop3', (data.server || 'custom') as ServerChoice);
	const method = String(data.loginMethod || 'password') as Pop3LoginMethod;
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
		// An unknown value (an older or hand-edited credential) falls back to the plain password login.
		apop: POP3_LOGIN_METHODS.includes(method) ? method : 'password',
	};
}
