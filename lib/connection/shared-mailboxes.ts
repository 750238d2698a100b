import { configError } from '../errors';
import { isTokenLogin, type Login } from './options';

/**
 * Shared mailboxes: mailboxes an account may open besides its own, such as info@ or the
 * accounting team's box in Microsoft 365.
 *
 * - With a password, Microsoft 365 (and servers that copy its convention) take the login form
 *   "account\shared-mailbox": the account's user name, a backslash, the shared mailbox's address,
 *   and the account's own password.
 * - With an OAuth2 token (XOAUTH2/OAUTHBEARER), the token stays the same and the user named in
 *   the SASL exchange is the shared mailbox's address.
 */

/** The separator Microsoft 365 uses in "account\shared-mailbox". */
export const SHARED_MAILBOX_SEPARATOR = '\\';

const MAILBOX_PATTERN = /^[^\s\\;,]+$/;

/**
 * Parses the "Shared Mailboxes" field: addresses separated by semicolons (commas and line
 * breaks are accepted too, as mail clients paste them). Duplicates are dropped, order is kept.
 */
export function parseSharedMailboxes(text: string | undefined | null, field = 'sharedMailboxes'): string[] {
	const entries = String(text ?? '')
		.split(/[;,\r\n]+/)
		.map((s) => s.trim())
		.filter(Boolean);
	const seen = new Set<string>();
	const result: string[] = [];
	for (const entry of entries) {
		if (!MAILBOX_PATTERN.test(entry)) {
			throw configError(field, `Shared mailbox "${entry}" is not a mailbox address.`, 'Enter addresses such as info@example.com, separated by semicolons, without spaces or backslashes.');
		}
		const key = entry.toLowerCase();
		if (seen.has(key)) continue;
		seen.add(key);
		result.push(entry);
	}
	return result;
}

/** "account\shared" -> the account part; a user without a backslash is the account itself. */
export function accountOf(user: string): string {
	const i = user.indexOf(SHARED_MAILBOX_SEPARATOR);
	return i < 0 ? user : user.slice(0, i);
}

/** "account\shared" -> the shared mailbox part, or undefined for a plain user. */
export function sharedMailboxIn(user: string): string | undefined {
	const i = user.indexOf(SHARED_MAILBOX_SEPARATOR);
	return i < 0 ? undefined : user.slice(i + 1) || undefined;
}

/** The login that opens `mailbox` on behalf of the account of `login`. */
export function loginForSharedMailbox(login: Login, mailbox: string): Login {
	if (isTokenLogin(login)) return { user: mailbox, accessToken: login.accessToken };
	return { user: `${accountOf(login.user)}${SHARED_MAILBOX_SEPARATOR}${mailbox}`, password: login.password };
}

/**
 * The mailbox a node may open besides the account's own: an empty name or the own address gives
 * undefined (the own mailbox), one of the credential's shared mailboxes gives its address as the
 * list spells it, and any other mailbox is refused naming the field: the credential's list is what
 * the admin allowed, for IMAP logins and for Exchange impersonation or delegate access alike.
 */
export function sharedMailboxFor(own: string, sharedMailboxes: readonly string[], mailbox: string | undefined, field = 'mailbox'): string | undefined {
	const wanted = (mailbox ?? '').trim();
	if (!wanted || wanted.toLowerCase() === own.trim().toLowerCase()) return undefined;
	const listed = sharedMailboxes.find((m) => m.toLowerCase() === wanted.toLowerCase());
	if (!listed) {
		const choices = sharedMailboxes.length ? `one of ${sharedMailboxes.join('; ')}` : 'none are listed';
		throw configError(field, `Mailbox "${wanted}" is not one of the credential's shared mailboxes (${choices}).`, "Leave Mailbox empty for the account's own mailbox, or add the address to Shared Mailboxes in the credential.");
	}
	return listed;
}

/**
 * Which login to use for the mailbox a node names: its own (empty name, or the account's own
 * address) or one of the credential's shared mailboxes (see sharedMailboxFor).
 */
export function loginForMailbox(login: Login, sharedMailboxes: readonly string[], mailbox: string | undefined, field = 'mailbox'): Login {
	const own = sharedMailboxIn(login.user) ?? accountOf(login.user);
	const listed = sharedMailboxFor(own, sharedMailboxes, mailbox, field);
	return listed === undefined ? login : loginForSharedMailbox(login, listed);
}
