import type { TLSSocket } from 'node:tls';
import { MailboxError, redact } from '../errors';
import { withImap } from '../imap/connect';
import { listFolders } from '../imap/folders';
import { checkPasswordLogin, describeServer, resolveServer, type PasswordLogin, type ServerSettings } from './options';
import { silentLogger, type Logger } from '../logger';

export interface ConnectionCheckResult {
	ok: boolean;
	/** One line for the credential dialog: the success summary, or the cause and fix. */
	message: string;
	/** Set when ok is false. */
	error?: MailboxError;
}

/**
 * Connects, negotiates TLS as configured, logs in and lists the folders: the same path every IMAP
 * node takes, so a passing check means the nodes will connect. Never throws.
 */
export async function checkImapConnection(settings: ServerSettings, login: Partial<PasswordLogin>, logger: Logger = silentLogger): Promise<ConnectionCheckResult> {
	try {
		const server = resolveServer('imap', settings);
		const checkedLogin = checkPasswordLogin(login);
		return await withImap(
			server,
			checkedLogin,
			async (client) => {
				const folders = await listFolders(client);
				const socket = (client as unknown as { socket?: TLSSocket }).socket;
				const tlsVersion = typeof socket?.getProtocol === 'function' ? socket.getProtocol() : null;
				const encryption = tlsVersion ? `encrypted with ${tlsVersion}` : 'NOT encrypted';
				return {
					ok: true,
					message: `Connected to ${describeServer(server)}, ${encryption}; logged in as "${checkedLogin.user}"; ${folders.length} folder${folders.length === 1 ? '' : 's'}.`,
				};
			},
			logger,
		);
	} catch (error) {
		const mailboxError =
			error instanceof MailboxError ? error : new MailboxError('PROTOCOL', `Unexpected failure: ${redact(error instanceof Error ? error.message : String(error), [login.password])}`);
		return { ok: false, message: mailboxError.fullMessage, error: mailboxError };
	}
}
