/**
 * The EWS connection check (H1), step by step as data, the same result shape as the IMAP, POP3 and
 * SMTP checks: the settings, the sign-in (an app's token from Microsoft), the endpoint over HTTPS
 * (TLS and certificate), and the mailbox (its Inbox read by GetFolder, which is where a missing
 * permission shows: full_access_as_app and admin consent for an app, Full Access for a user).
 */
import { BasePropertySet, Folder, FolderSchema, PropertySet } from 'ews-javascript-api';
import { failureResult, type CheckStep, type ConnectionCheckResult } from '../connection/check-steps';
import { connectEws, type EwsClient, type EwsClientSettings } from './client';

function describeAuth(settings: EwsClientSettings): string {
	const auth = settings.auth;
	if (auth.type === 'app') return 'got a token for the app from Microsoft';
	if (auth.type === 'token') return 'using the signed-in user\'s token';
	return `signing in as "${auth.user}" with a password`;
}

/**
 * Checks the settings against Exchange and says in one line what was found, or which step failed
 * and how to fix it. Never throws; never shows a token or password.
 */
export async function checkEwsConnection(settings: EwsClientSettings): Promise<ConnectionCheckResult> {
	const steps: CheckStep[] = [];
	const auth = settings.auth;
	const secrets = [auth.type === 'password' ? auth.password : undefined, auth.type === 'app' ? auth.app.clientSecret : undefined, auth.type === 'token' ? auth.accessToken : undefined];
	let client: EwsClient;
	try {
		client = await connectEws(settings);
	} catch (error) {
		return failureResult(error, steps, secrets);
	}
	try {
		steps.push({ step: 'config', ok: true, detail: `EWS URL ${client.url}, mailbox ${client.mailbox ?? 'of the signed-in user'}${client.mailbox ? (client.impersonation ? ' (impersonated)' : ' (delegate access)') : ''}, ${client.serverVersion}` });
		const c = client;
		const props = new PropertySet(BasePropertySet.IdOnly, [FolderSchema.DisplayName, FolderSchema.TotalCount, FolderSchema.UnreadCount]);
		let inbox: Folder;
		try {
			inbox = await c.call('GetFolder', (service) => Folder.Bind(service, c.folderId('inbox'), props));
		} catch (error) {
			const e = c.toMailboxError(error, 'GetFolder');
			// Exchange answered: the endpoint and TLS are fine, the sign-in or the mailbox is not
			if (c.tlsDetail) steps.push({ step: 'tls', ok: true, detail: c.tlsDetail });
			if (e.step === 'command') steps.push({ step: 'login', ok: true, detail: describeAuth(settings) });
			return failureResult(e, steps, secrets);
		}
		steps.push({ step: 'tls', ok: true, detail: c.tlsDetail ?? 'HTTPS' });
		steps.push({ step: 'login', ok: true, detail: describeAuth(settings) });
		const name = inbox.DisplayName || 'Inbox';
		steps.push({ step: 'inbox', ok: true, detail: `${name} has ${inbox.TotalCount} messages, ${inbox.UnreadCount} unread` });
		const host = new URL(c.url).host;
		const message = `Connected to ${host} by EWS (${c.tlsDetail ?? 'HTTPS'}); ${describeAuth(settings)}; mailbox ${c.mailbox ?? 'of the signed-in user'}${c.mailbox && c.impersonation ? ' (impersonated)' : ''}: ${name} has ${inbox.TotalCount} messages, ${inbox.UnreadCount} unread.`;
		return { ok: true, message, steps };
	} catch (error) {
		return failureResult(client.toMailboxError(error), steps, secrets);
	} finally {
		client.close();
	}
}
