/**
 * Gmail's IMAP is not a plain IMAP server: labels appear as folders, so one message shows in every
 * folder whose label it carries; "[Gmail]/All Mail" holds every message once more and
 * "[Gmail]/Starred" the starred ones again. Moving a message out of a folder removes that label,
 * and expunging it from a folder only removes the label too (with Gmail's default setting the
 * message lives on in All Mail, archived): a message is deleted by moving it to the Trash folder.
 * Gmail names its system folders per account language, so they are found by their SPECIAL-USE
 * role (RFC 6154), never by name. Gmail announces itself with the capability X-GM-EXT-1; a
 * Google sign-in says so too (the nodes pass `gmail`).
 */
import type { ImapFlow } from 'imapflow';
import type { SpecialUse } from './folders';

/** The capability Gmail (and servers imitating it) announces. */
export const GMAIL_CAPABILITY = 'X-GM-EXT-1';

export function isGmail(capabilities: { has(name: string): boolean }): boolean {
	return capabilities.has(GMAIL_CAPABILITY);
}

/**
 * Folder roles whose folders hold no mail of their own to process: All Mail repeats every
 * message, a \Flagged folder (Gmail's Starred) repeats the flagged ones, and Junk, Trash and
 * Drafts are not incoming mail. "Watch all folders" leaves them out (trigger 1.3).
 */
export const NOT_WATCHED_ROLES: readonly SpecialUse[] = ['all', 'flagged', 'junk', 'trash', 'drafts'];

/** The path of the folder with the \Trash role, if the server names one. */
export async function trashFolderOf(client: ImapFlow): Promise<string | undefined> {
	const folders = await client.list();
	return folders.find((f) => f.specialUse === '\\Trash' && !f.flags.has('\\Noselect'))?.path;
}
