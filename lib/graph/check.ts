/**
 * The Microsoft Graph connection check, step by step as data, the same result shape as the IMAP,
 * POP3, SMTP and EWS checks: the settings, the sign-in (an app's token for Graph from Microsoft, or
 * the signed-in user's), Graph over HTTPS (TLS and certificate), and the mailbox (its Inbox read,
 * which is where a missing permission or an application access policy shows), then each shared
 * mailbox the credential lists.
 */
import { failureResult, type CheckStep, type ConnectionCheckResult } from '../connection/check-steps';
import { connectGraph, type GraphClient, type GraphClientOptions } from './client';

function describeAuth(options: GraphClientOptions): string {
	return options.auth.type === 'app' ? 'got a token for Microsoft Graph for the app from Microsoft' : "using the signed-in user's token for Microsoft Graph";
}

/**
 * Checks the options against Graph and says in one line what was found, or which step failed and
 * how to fix it. `sharedMailboxes`: further mailboxes to open with the same sign-in. Never throws;
 * never shows a token or secret.
 */
export async function checkGraphConnection(options: GraphClientOptions, sharedMailboxes: readonly string[] = []): Promise<ConnectionCheckResult> {
	const steps: CheckStep[] = [];
	const secrets = [options.auth.type === 'app' ? options.auth.app.clientSecret : options.auth.token];
	const opened: GraphClient[] = [];
	const open = async (mailbox: string | undefined) => {
		const client = await connectGraph({ ...options, mailbox });
		opened.push(client);
		return client;
	};
	let client: GraphClient;
	try {
		client = await open(options.mailbox);
	} catch (error) {
		return failureResult(error, steps, secrets);
	}
	const name = (c: GraphClient) => c.mailbox ?? 'of the signed-in user';
	try {
		steps.push({ step: 'config', ok: true, detail: `Graph URL ${client.baseUrl}, mailbox ${name(client)}` });
		let inbox;
		try {
			inbox = await client.resolveFolder('inbox');
		} catch (error) {
			const e = client.toMailboxError(error);
			// Graph answered: the endpoint and TLS are fine, the sign-in or the mailbox is not
			if (client.tlsDetail) steps.push({ step: 'tls', ok: true, detail: client.tlsDetail });
			if (e.step === 'command') steps.push({ step: 'login', ok: true, detail: describeAuth(options) });
			return failureResult(e, steps, secrets);
		}
		steps.push({ step: 'tls', ok: true, detail: client.tlsDetail ?? 'HTTPS' });
		steps.push({ step: 'login', ok: true, detail: describeAuth(options) });
		const found = [`mailbox ${name(client)}: ${inbox.displayName || 'Inbox'} has ${inbox.totalItemCount} messages, ${inbox.unreadItemCount} unread`];
		steps.push({ step: 'inbox', ok: true, detail: found[0] });
		for (const shared of sharedMailboxes) {
			if (shared.toLowerCase() === client.mailbox?.toLowerCase()) continue;
			const other = await open(shared);
			try {
				const box = await other.resolveFolder('inbox');
				found.push(`shared mailbox ${shared}: ${box.displayName || 'Inbox'} has ${box.totalItemCount} messages`);
				steps.push({ step: 'inbox', ok: true, detail: found.at(-1)! });
			} catch (error) {
				return failureResult(other.toMailboxError(error), steps, secrets);
			}
		}
		const host = new URL(client.baseUrl).host;
		return { ok: true, message: `Connected to ${host} by Microsoft Graph (${client.tlsDetail ?? 'HTTPS'}); ${describeAuth(options)}; ${found.join('; ')}.`, steps };
	} catch (error) {
		return failureResult(client.toMailboxError(error), steps, secrets);
	} finally {
		for (const c of opened) c.close();
	}
}
