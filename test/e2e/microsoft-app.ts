/**
 * The Microsoft 365 side of the e2e tests of the Exchange trigger (EWS and Graph): the mail servers
 * (for their certificate and token issuer), a local Microsoft-style authority with one app
 * registered whose tokens act as "alice", who may open the shared mailbox SHARED, the app as an n8n
 * credential, and the message the tests put into the shared mailbox.
 */
import fs from 'node:fs';
import { startMailServers, type MailServers } from '../servers';
import { MicrosoftAuthority } from '../servers/microsoft';
import type { Teardown } from './harness';

export const SHARED = 'info@contoso.test';

export interface MicrosoftApp {
	clientId: string;
	clientSecret: string;
}

/** The mail servers and the authority with `app` registered for tenant contoso acting as alice; both stopped by `teardown`. */
export async function startMicrosoftApp(teardown: Teardown, app: MicrosoftApp): Promise<{ servers: MailServers; tls: { key: Buffer; cert: Buffer }; authority: MicrosoftAuthority }> {
	const servers = teardown.add(await startMailServers(), (s) => s.stop());
	const tls = { key: fs.readFileSync(servers.dovecot.keyPath), cert: fs.readFileSync(servers.certPath) };
	const authority = teardown.add(await new MicrosoftAuthority(tls, (user, lifetime) => servers.oauth.issueToken(user, lifetime)).start(), (a) => a.stop());
	authority.register({ tenant: 'contoso', clientId: app.clientId, clientSecret: app.clientSecret, user: 'alice' });
	return { servers, tls, authority };
}

/** The n8n credential (Microsoft 365 app) of `app`: alice's mailbox, SHARED as a shared mailbox, the local authority. */
export function microsoftAppCredential(id: string, name: string, app: MicrosoftApp, authority: MicrosoftAuthority): { id: string; name: string; type: string; data: Record<string, unknown> } {
	return {
		id,
		name,
		type: 'mailboxMicrosoftAppApi',
		data: { tenantId: 'contoso', clientId: app.clientId, clientSecret: app.clientSecret, mailbox: 'alice@contoso.test', sharedMailboxes: SHARED, authorityHost: authority.host, imapHost: '127.0.0.1' },
	};
}

/**
 * Message `n` to SHARED: from "Kundin Müller", Subject `Anfrage <n> über <via>`, Message-ID
 * `<<idPrefix>-<n>@example.test>`, a German text part and a CSV attachment liste.csv.
 */
export function sharedMailboxMessage(n: number, via: string, idPrefix: string): Buffer {
	return Buffer.from(
		[
			'From: "Kundin Müller" <kundin@example.test>',
			`To: ${SHARED}`,
			`Subject: Anfrage ${n} über ${via}`,
			`Message-ID: <${idPrefix}-${n}@example.test>`,
			'Date: Tue, 24 Nov 2026 10:00:00 +0100',
			'MIME-Version: 1.0',
			'Content-Type: multipart/mixed; boundary="b1"',
			'',
			'--b1',
			'Content-Type: text/plain; charset=utf-8',
			'Content-Transfer-Encoding: 8bit',
			'',
			`Guten Tag, das ist Nachricht ${n}.`,
			'--b1',
			'Content-Type: text/csv; name="liste.csv"',
			'Content-Disposition: attachment; filename="liste.csv"',
			'',
			`nr;wert\r\n${n};${n * 10}`,
			'--b1--',
			'',
		].join('\r\n'),
	);
}
