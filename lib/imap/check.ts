import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ImapFlow } from 'imapflow';
import { detailsOf, MailboxError } from '../errors';
import { failureResult, tlsDetail, type CheckStep, type ConnectionCheckResult } from '../connection/check-steps';
import { connectImap, fromImapError } from './connect';
import { loginForSharedMailbox } from '../connection/shared-mailboxes';
import { checkLogin, describeProxy, describeServer, isTokenLogin, resolveServer, secretsOf, type Login, type ResolvedServer, type ServerSettings } from '../connection/options';
import { silentLogger, type Logger } from '../logger';

export type { CheckStep, CheckStepName, ConnectionCheckResult } from '../connection/check-steps';

/** Capabilities the nodes make use of, reported by the check. */
const USEFUL_CAPABILITIES = ['IDLE', 'MOVE', 'UIDPLUS', 'CONDSTORE', 'QRESYNC', 'SPECIAL-USE', 'LIST-STATUS', 'ID'];

function imapTlsDetail(client: ImapFlow): string {
	return tlsDetail((client as unknown as { socket?: TLSSocket }).socket);
}

/** The SASL mechanism imapflow used: it marks the AUTH= capability it authenticated with. */
function mechanismOf(client: ImapFlow, login: Login): string {
	const used = [...((client as unknown as { authCapabilities?: Map<string, boolean> }).authCapabilities ?? new Map()).entries()].find(([, v]) => v);
	if (used) return used[0].replace(/^AUTH=/, '');
	return isTokenLogin(login) ? 'OAUTHBEARER' : 'LOGIN';
}


/**
 * The connection check behind the credential Test button and the Check Connection operation:
 * resolve the host, connect, negotiate TLS, log in, read the capabilities and open INBOX, the same
 * path every IMAP node takes. Reports each step; a failed step names the cause and the fix.
 * Never throws, never shows a secret.
 */
export async function checkImapConnection(
	settings: ServerSettings,
	login: Partial<Login>,
	logger: Logger = silentLogger,
	options: {
		sharedMailboxes?: readonly string[];
		/** The login for a shared mailbox (default: the account's, as the mailbox; Google service accounts get a token per user). */
		sharedLogin?: (account: Login, mailbox: string) => Promise<Login>;
	} = {},
): Promise<ConnectionCheckResult> {
	const steps: CheckStep[] = [];
	let server: ResolvedServer | undefined;
	let client: ImapFlow | undefined;
	try {
		server = resolveServer('imap', settings);
		const checked = checkLogin(login);
		// Through a proxy the proxy resolves the name; looking it up here could fail for no reason.
		if (!isIP(server.host) && !server.proxy) {
			const { address } = await lookup(server.host).catch((error: unknown) => {
				throw fromImapError(error, server as ResolvedServer, checked);
			});
			steps.push({ step: 'resolve', ok: true, detail: `${server.host} is ${address}` });
		}
		client = await connectImap(server, checked, logger);
		if (server.proxy) steps.push({ step: 'proxy', ok: true, detail: `through the ${describeProxy(server.proxy)}` });
		steps.push({ step: 'connect', ok: true, detail: `Connected to ${describeServer(server)}` });
		const tls = imapTlsDetail(client);
		steps.push({ step: 'tls', ok: true, detail: tls === 'not encrypted' ? 'NOT encrypted' : `encrypted with ${tls}` });
		steps.push({ step: 'login', ok: true, detail: `logged in as "${checked.user}" with ${mechanismOf(client, checked)}` });
		const caps = USEFUL_CAPABILITIES.filter((c) => client?.capabilities.has(c));
		steps.push({ step: 'capabilities', ok: true, detail: `server supports ${caps.length ? caps.join(', ') : 'none of IDLE, MOVE, UIDPLUS'}` });
		const inbox = await client.status('INBOX', { messages: true, unseen: true }).catch((error: unknown) => {
			throw fromImapError(error, server as ResolvedServer, checked);
		});
		if (!inbox) throw new MailboxError('NOT_FOUND', `${describeServer(server)} has no INBOX for "${checked.user}".`, { step: 'command', hint: 'Check that the user is a mailbox, not only a login name.' });
		steps.push({ step: 'inbox', ok: true, detail: `INBOX has ${inbox.messages ?? 0} messages, ${inbox.unseen ?? 0} unseen` });
		for (const mailbox of options.sharedMailboxes ?? []) {
			const login = options.sharedLogin ? await options.sharedLogin(checked, mailbox) : loginForSharedMailbox(checked, mailbox);
			steps.push({ step: 'shared', ok: true, detail: await openSharedMailbox(server, login, mailbox, logger) });
		}
		const ordered = server.proxy ? [steps[1], steps[0], ...steps.slice(2)] : steps;
		return { ok: true, message: `${ordered.map((s) => s.detail).join('; ')}.`, steps };
	} catch (error) {
		return failureResult(error, steps, [...secretsOf(login), settings.proxy?.password]);
	} finally {
		if (client) await client.logout().catch(() => client?.close());
	}
}

/** Logs in to a shared mailbox the way the nodes will and reads its INBOX; the step's detail. */
async function openSharedMailbox(server: ResolvedServer, login: Login, mailbox: string, logger: Logger): Promise<string> {
	const how = isTokenLogin(login) ? `with the token as "${login.user}"` : `as "${login.user}"`;
	let client: ImapFlow | undefined;
	try {
		client = await connectImap(server, login, logger);
		const inbox = (await client.status('INBOX', { messages: true, unseen: true })) || { messages: 0, unseen: 0 };
		return `shared mailbox ${mailbox} opened ${how}: INBOX has ${inbox.messages ?? 0} messages, ${inbox.unseen ?? 0} unseen`;
	} catch (error) {
		const cause = fromImapError(error, server, login);
		if (cause.code !== 'AUTH') throw cause;
		throw sharedMailboxRefused(server, mailbox, how, cause);
	} finally {
		if (client) await client.logout().catch(() => client?.close());
	}
}

function sharedMailboxRefused(server: ResolvedServer, mailbox: string, how: string, cause: MailboxError): MailboxError {
	return new MailboxError('AUTH', `Shared mailbox ${mailbox}: ${server.host} refused the login ${how}${cause.serverResponse ? ` (server said: ${cause.serverResponse})` : ''}.`, {
		...detailsOf(cause),
		field: 'sharedMailboxes',
		step: 'login',
		hint: `Check the address in Shared Mailboxes, and that the account may open it (Microsoft 365: Full Access permission on ${mailbox}; for an app, access to that mailbox; Google Workspace: a user of the domain with IMAP enabled). The account's own login works.`,
	});
}
