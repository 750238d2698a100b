import { isTokenLogin, secretsOf, type Login, type ResolvedProxy, type ResolvedServer } from '../connection/options';

/** The proxy's password as sent on the wire: itself, and `user:password` with its Basic (base64) form. */
export function proxySecrets(proxy: ResolvedProxy | undefined): string[] {
	if (!proxy?.password) return [];
	const pair = `${proxy.user ?? ''}:${proxy.password}`;
	return [proxy.password, pair, Buffer.from(pair).toString('base64')];
}

/**
 * Every form in which a secret of this login can appear in SMTP traffic or an error: the password
 * and token themselves (redact() also strips their base64 forms, as sent by AUTH LOGIN), the AUTH
 * PLAIN response ("\0user\0password" in base64), the XOAUTH2 string in base64, and the proxy's
 * password with its Basic form.
 */
export function smtpSecrets(login: Partial<Login> | undefined, server?: Pick<ResolvedServer, 'proxy'>): string[] {
	const secrets = secretsOf(login);
	if (login?.user !== undefined) {
		if (isTokenLogin(login)) {
			secrets.push(Buffer.from(`user=${login.user}\x01auth=Bearer ${login.accessToken}\x01\x01`).toString('base64'));
		} else if ('password' in login && login.password) {
			secrets.push(Buffer.from(`\0${login.user}\0${login.password}`).toString('base64'));
		}
	}
	return [...secrets, ...proxySecrets(server?.proxy)];
}
