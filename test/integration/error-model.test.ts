/**
 * The error model against the real servers: a wrong password over IMAP (Dovecot), POP3 (Dovecot),
 * ManageSieve (Dovecot Pigeonhole) and SMTP (the npm smtp-server) is a MailboxError that keeps the
 * library's own error as `cause`, names the command that failed (and for SMTP the reply code),
 * and carries the password in none of its fields, its cause included. Through a SOCKS5 proxy, whose
 * client keeps its options (the proxy password) in its errors, the cause is kept without them.
 */
import { inspect } from 'node:util';
import { resolveServer } from '../../lib/connection/options';
import { MailboxError } from '../../lib/errors';
import { connectImap } from '../../lib/imap/connect';
import { connectPop3 } from '../../lib/pop3/connect';
import { Pop3CommandError } from '../../lib/pop3/errors';
import { connectManageSieve, sieveServerFrom } from '../../lib/sieve/connect';
import { SieveCommandError } from '../../lib/sieve/managesieve';
import { composeMessage } from '../../lib/smtp/compose';
import { SmtpSender } from '../../lib/smtp/send';
import { closedPort } from '../servers/ports';
import { Socks5Proxy } from '../servers/proxy';
import { useMailServers } from './helpers/mail-servers';

const WRONG = 'Wr0ng-Secret-4711';

/** The error a promise rejects with (fails the test when it resolves). */
async function failure(promise: Promise<unknown>): Promise<MailboxError> {
	const error = await promise.then(
		() => undefined,
		(e: unknown) => e,
	);
	expect(error).toBeInstanceOf(MailboxError);
	return error as MailboxError;
}

/** The secret in none of the fields a user or a log sees, nor anywhere in the error and its cause, nor in its base64 form. */
function expectNoSecret(error: MailboxError, secret = WRONG): void {
	const base64 = Buffer.from(secret).toString('base64');
	for (const text of [error.message, error.fullMessage, error.command ?? '', error.serverResponse ?? '', JSON.stringify({ ...error, causeCode: error.causeCode }), inspect(error, { depth: null, showHidden: true })]) {
		expect(text).not.toContain(secret);
		expect(text).not.toContain(base64);
	}
}

describe('error model against the real servers', () => {
	const env = useMailServers();

	it('IMAP: a wrong password keeps imapflow\'s error as cause, with the LOGIN or AUTHENTICATE command', async () => {
		const error = await failure(connectImap(env.imapServer(), { user: 'alice', password: WRONG }));
		expect(error).toMatchObject({ code: 'AUTH', field: 'password', step: 'login', causeCode: 'AUTHENTICATIONFAILED', serverCode: 'AUTHENTICATIONFAILED' });
		expect(error.reason).toBeUndefined();
		expect(error.command).toMatch(/^(LOGIN|AUTHENTICATE PLAIN)$/);
		const cause = error.cause as { authenticationFailed?: boolean; stack?: string } | undefined;
		expect(cause).toBeInstanceOf(Error);
		expect(cause).not.toBeInstanceOf(MailboxError);
		expect(cause?.authenticationFailed).toBe(true);
		expect(cause?.stack).toContain('imapflow');
		expect(error.transient).toBe(false);
		expectNoSecret(error);
	});

	it('POP3: a wrong password keeps the client\'s -ERR as cause, with the PASS command', async () => {
		const server = resolveServer('pop3', { host: '127.0.0.1', port: env.servers.ports.pop3s, security: 'tls', ca: env.ca });
		const error = await failure(connectPop3(server, { user: 'alice', password: WRONG }));
		expect(error).toMatchObject({ code: 'AUTH', field: 'password', step: 'login' });
		expect(error.command).toMatch(/^(PASS|AUTH PLAIN)$/);
		expect(error.cause).toBeInstanceOf(Pop3CommandError);
		expect((error.cause as Pop3CommandError).command).toBe(error.command!.split(' ')[0]);
		expect(error.causeCode).toBe(error.serverCode);
		expectNoSecret(error);
	});

	it('ManageSieve: a wrong password keeps the client\'s NO as cause, with AUTHENTICATE PLAIN', async () => {
		const server = sieveServerFrom(env.imapServer(), { port: env.servers.ports.sieve, security: 'starttls' });
		const error = await failure(connectManageSieve(server, { user: 'alice', password: WRONG }));
		expect(error).toMatchObject({ code: 'AUTH', field: 'password', step: 'login', command: 'AUTHENTICATE PLAIN' });
		expect(error.cause).toBeInstanceOf(SieveCommandError);
		expect((error.cause as SieveCommandError).command).toBe('AUTHENTICATE');
		expectNoSecret(error);
	});

	it('SMTP: a wrong password keeps nodemailer\'s error as cause, with AUTH <mechanism> and reply code 535', async () => {
		const server = resolveServer('smtp', { host: '127.0.0.1', port: env.servers.ports.smtp, security: 'starttls', ca: env.ca });
		const message = await composeMessage({ fromEmail: 'alice@mailbox.test', to: 'bob@mailbox.test', text: 'x' });
		const sender = new SmtpSender(server, { user: 'alice', password: WRONG });
		const error = await failure(sender.send(message)).finally(() => sender.close());
		expect(error).toMatchObject({ code: 'AUTH', field: 'password', step: 'login', responseCode: 535, serverCode: '535', causeCode: '535' });
		expect(error.command).toMatch(/^AUTH (PLAIN|LOGIN)$/);
		const cause = error.cause as { code?: string; responseCode?: number; command?: string } | undefined;
		expect(cause).toBeInstanceOf(Error);
		expect(cause).toMatchObject({ code: 'EAUTH', responseCode: 535, command: error.command });
		expectNoSecret(error);
	});

	it('through a SOCKS5 proxy with a login, a refused tunnel or an unreachable proxy keeps a cause without the proxy password (IMAP and POP3)', async () => {
		const proxyLogin = { user: 'proxy-user', password: 'Proxy-Pa55-4711' };
		const proxy = await new Socks5Proxy(proxyLogin).listen();
		try {
			const deadTarget = await closedPort();
			const deadProxy = await closedPort();
			const cases = [
				{ proxyPort: proxy.port, message: /did not open a tunnel/ },
				{ proxyPort: deadProxy, message: /cannot be reached \(ECONNREFUSED\)/ },
			];
			for (const { proxyPort, message } of cases) {
				const via = { type: 'socks5' as const, host: '127.0.0.1', port: proxyPort, ...proxyLogin };
				const imap = await failure(connectImap(resolveServer('imap', { host: '127.0.0.1', port: deadTarget, security: 'tls', ca: env.ca, proxy: via }), { user: 'alice', password: WRONG }));
				const pop3 = await failure(connectPop3(resolveServer('pop3', { host: '127.0.0.1', port: deadTarget, security: 'tls', ca: env.ca, proxy: via }), { user: 'alice', password: WRONG }));
				for (const error of [imap, pop3]) {
					expect(error).toMatchObject({ code: 'PROXY' });
					expect(error.message).toMatch(message);
					expect(error.cause).toBeInstanceOf(Error);
					expectNoSecret(error, proxyLogin.password);
					expectNoSecret(error);
				}
			}
		} finally {
			await proxy.stop();
		}
	});
});
