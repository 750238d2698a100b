/**
 * What the protocol clients log at debug level and put in their errors, against Dovecot: no
 * password or token in any form (as is, base64, inside the SASL PLAIN, XOAUTH2 or OAUTHBEARER
 * strings the clients send), for good and for refused sign-ins. n8n writes these logs when its log
 * level is debug.
 */
import { resolveServer, type Login, type ResolvedServer } from '../../lib/connection/options';
import type { Logger } from '../../lib/logger';
import { withImap } from '../../lib/imap/connect';
import { withPop3 } from '../../lib/pop3/connect';
import { sieveServerFrom, withManageSieve } from '../../lib/sieve/connect';
import { findSecrets, safeJson } from '../canary';
import { useMailServers } from './helpers/mail-servers';

const PASSWORD = 'Secret-Pa55word!';
const WRONG = 'Wrong-Pa55word?';

describe('secrets in debug logs and errors of the IMAP, POP3 and ManageSieve clients', () => {
	const env = useMailServers({ users: { carol: PASSWORD } });
	const tokenOf = (user: string) => `valid-token-${user}`;

	/** Runs `work` with a logger that keeps everything, at every level with its details. */
	async function captured(work: (logger: Logger) => Promise<unknown>): Promise<string> {
		const lines: string[] = [];
		const log = (level: string) => (message: string, meta?: Record<string, unknown>) => lines.push(`${level} ${message} ${meta ? safeJson(meta) : ''}`);
		const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
		try {
			await work(logger);
		} catch (error) {
			const e = error as Error & Record<string, unknown>;
			lines.push(`thrown ${e.message} ${safeJson({ ...e })}`);
		}
		expect(lines.length).toBeGreaterThan(0);
		return lines.join('\n');
	}
	const server = (protocol: 'imap' | 'pop3', port: number): ResolvedServer => resolveServer(protocol, { host: '127.0.0.1', port, security: 'tls', ca: env.ca });
	const secrets = [PASSWORD, WRONG, tokenOf('carol')];

	const logins: Array<[string, Login]> = [
		['password', { user: 'carol', password: PASSWORD }],
		['wrong password', { user: 'carol', password: WRONG }],
		['token (XOAUTH2/OAUTHBEARER)', { user: 'carol', accessToken: tokenOf('carol') }],
	];

	it.each(logins)('IMAP, %s: the debug log and the error hold no secret in any form', async (_name, login) => {
		const text = await captured((logger) => withImap(server('imap', env.servers.ports.imaps), login, (client) => client.status('INBOX', { messages: true }), logger));
		expect(text).toMatch(/AUTHENTICATE|Logged in|authentication failed/i);
		expect(findSecrets(text, secrets)).toEqual([]);
	});

	it.each(logins)('POP3, %s: the debug log and the error hold no secret in any form', async (_name, login) => {
		const text = await captured((logger) => withPop3(server('pop3', env.servers.ports.pop3s), login, (session) => session.client.stat(), { logger }));
		expect(findSecrets(text, secrets)).toEqual([]);
	});

	it.each(logins)('ManageSieve, %s: the debug log and the error hold no secret in any form', async (_name, login) => {
		const sieve = sieveServerFrom(server('imap', env.servers.ports.imaps), { port: env.servers.ports.sieve, security: 'starttls' });
		const text = await captured((logger) => withManageSieve(sieve, login, ({ client }) => client.listScripts(), { logger }));
		expect(findSecrets(text, secrets)).toEqual([]);
	});
});
