/**
 * Sending a composed message through Microsoft Graph (user: sendMail with MIME content) instead of
 * SMTP: the same message the SMTP path composes (lib/smtp/compose.ts: signatures, the account's
 * BCC, allowed senders, threading, attachments), sent as it is.
 *
 * - Recipients: Graph's MIME send has no envelope; Exchange takes the recipients from the To, Cc
 *   and Bcc headers of the MIME. So BCC and the account's BCC go into a Bcc header (and nowhere
 *   else); Exchange's MIME writer leaves the Bcc header out of every message it sends over SMTP
 *   ([MS-OXCMAIL] 2.1.3.1.1.2 "Bcc Recipients"), so To and Cc recipients do not see them. The copy
 *   in the sender's Sent Items shows them as Bcc, as Outlook does for any message with BCC.
 * - Sent copy: Exchange saves every message sent this way in the mailbox's Sent Items; no copy is
 *   appended by us.
 * - The SHA-256 is of the exact MIME bytes handed to Graph (before base64); Exchange stores and
 *   transmits its own rendering of it (it converts MIME to MAPI and back).
 * - Throttling (429/503) is waited out by the client for Retry-After and the request sent again;
 *   Graph answers 202 only once the message is accepted, so a throttled message is sent once.
 */
import { composeMessage, type ComposedMessage, type ComposeInput } from '../smtp/compose';
import type { GraphClient } from './client';

/** What was sent through Graph, and where. */
export interface GraphSendResult {
	messageId: string;
	/** The mailbox that sent it (its address; "me": the signed-in user's own). */
	mailbox: string;
	/** The Graph URL used. */
	graphUrl: string;
	/** Every recipient Exchange takes from the headers: To, Cc and Bcc (with the account's BCC). */
	recipients: string[];
	/** SHA-256 (hex) of the exact MIME bytes sent. */
	sha256: string;
	size: number;
	/** Exchange saves messages sent with sendMail in Sent Items. */
	savedToSentItems: true;
}

/** Composes the message for Graph: as for SMTP, with BCC (and the account's BCC) in the Bcc header. */
export function composeForGraph(input: ComposeInput): Promise<ComposedMessage> {
	return composeMessage({ ...input, bccHeader: true });
}

/** Sends a message composed by composeForGraph() through the client's mailbox. */
export async function sendComposedViaGraph(client: GraphClient, message: ComposedMessage): Promise<GraphSendResult> {
	await client.sendMime(message.raw);
	return {
		messageId: message.messageId,
		mailbox: client.mailbox ?? 'me',
		graphUrl: client.baseUrl,
		recipients: [...message.envelope.to],
		sha256: message.sha256,
		size: message.raw.length,
		savedToSentItems: true,
	};
}
