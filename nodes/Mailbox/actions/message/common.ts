import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties, INodePropertyOptions } from 'n8n-workflow';
import { MailboxError, configError } from '../../../../lib/errors';
import { checkAddress, type MessageAddress } from '../../../../lib/imap/messages';
import { isValidKeyword } from '../../../../lib/imap/search';
import { loggedInUser, type ImapClient } from '../../../../lib/imap/session';
import { toNodeError } from '../../../shared/errors';

/** The operations that act on one existing message given by folder, UID and UIDVALIDITY. */
export const ADDRESSED_OPERATIONS = ['clearFlags', 'copy', 'delete', 'get', 'markAsNotSpam', 'markAsSpam', 'move', 'setFlags'];

export const show = (operation: string[]) => ({ show: { resource: ['message'], operation } });

/** Folder, UID and UIDVALIDITY, mapped from a trigger or Search item by default. */
export const addressProperties: INodeProperties[] = [
	{
		displayName: 'Folder',
		name: 'folder',
		type: 'string',
		required: true,
		default: '={{ $json.folder }}',
		placeholder: 'INBOX',
		description: 'The folder the message is in now, by its path (e.g. INBOX, Archive/2026), as the trigger or Search output it ("folder"). A message\'s uid is only valid in this folder.',
		displayOptions: show(ADDRESSED_OPERATIONS),
	},
	{
		displayName: 'UID',
		name: 'uid',
		type: 'string',
		required: true,
		default: '={{ $json.uid }}',
		description: 'The message\'s UID: its number in that folder (a whole number, not the Message-ID), as the trigger or Search output it ("uid"). A moved message gets a new UID in its new folder.',
		displayOptions: show(ADDRESSED_OPERATIONS),
	},
	{
		displayName: 'UIDVALIDITY',
		name: 'uidValidity',
		type: 'string',
		required: true,
		default: '={{ $json.uidValidity }}',
		description:
			'The folder\'s UIDVALIDITY when the UID was read (a whole number that goes with every UID of the folder), as the trigger or Search output it ("uidValidity"). If the folder was recreated since, the message is not touched (or found by Message-ID when that option is on).',
		displayOptions: show(ADDRESSED_OPERATIONS),
	},
];

/** The choices of Search's Flagged and Read Status filters (IMAP and Microsoft Graph). */
export const flaggedChoices: INodePropertyOptions[] = [
	{ name: 'Any', value: 'any' },
	{ name: 'Flagged', value: 'yes' },
	{ name: 'Not Flagged', value: 'no' },
];

export const readChoices: INodePropertyOptions[] = [
	{ name: 'Any', value: 'any' },
	{ name: 'Read', value: 'yes' },
	{ name: 'Unread', value: 'no' },
];

/** Search's date filters (Received Before, Received Since), over IMAP and Microsoft Graph alike. */
export const receivedFilters: INodeProperties[] = [
	{
		displayName: 'Received Before',
		name: 'before',
		type: 'dateTime',
		default: '',
		description: 'Only messages that arrived before this time',
	},
	{
		displayName: 'Received Since',
		name: 'since',
		type: 'dateTime',
		default: '',
		description: 'Only messages that arrived at or after this time',
	},
];

/** The two options about a renumbered folder; part of each addressed operation's Options. */
export const messageIdOptions: INodeProperties[] = [
	{
		displayName: 'Find by Message-ID if UIDVALIDITY Changed',
		name: 'findByMessageId',
		type: 'boolean',
		default: false,
		description:
			'Whether to look the message up by its Message-ID when the folder\'s UIDVALIDITY is no longer the item\'s (the folder was recreated), and act on the message found; otherwise such an item fails and nothing is touched',
	},
	{
		displayName: 'Message-ID',
		name: 'messageId',
		type: 'string',
		default: '={{ $json.messageId }}',
		placeholder: '<abc123@example.com>',
		description: 'The Message-ID header to find the message by after a UIDVALIDITY change: the same in every folder, unlike the UID (default: the item\'s messageId)',
	},
];

export interface AddressOptions {
	findByMessageId?: boolean;
	messageId?: string;
}

/** The item's message address; the Message-ID from the option, else the input item's messageId. */
export function addressOf(ctx: IExecuteFunctions, i: number, options: AddressOptions): MessageAddress {
	const fromItem = ctx.getInputData()[i]?.json?.messageId;
	const messageId = options.messageId !== undefined ? options.messageId : typeof fromItem === 'string' ? fromItem : undefined;
	return checkAddress({
		folder: ctx.getNodeParameter('folder', i, ''),
		uid: ctx.getNodeParameter('uid', i, ''),
		uidValidity: ctx.getNodeParameter('uidValidity', i, ''),
		messageId,
	});
}

/** The mailbox an item comes from, as the trigger names it: the Mailbox parameter, else the login user. */
export function mailboxName(ctx: IExecuteFunctions, client: ImapClient): string | null {
	const chosen = String(ctx.getNodeParameter('mailbox', 0, '') ?? '').trim();
	return chosen || loggedInUser(client) || null;
}

/** An item's failure: its own output item with Continue On Fail, else thrown. */
export function failedItem(ctx: IExecuteFunctions, error: unknown, i: number): INodeExecutionData {
	const nodeError = toNodeError(ctx.getNode(), error, i);
	if (!ctx.continueOnFail()) throw nodeError;
	const json: IDataObject = { error: nodeError.message, description: nodeError.description ?? null };
	if (error instanceof MailboxError) {
		json.code = error.code;
		json.field = error.field ?? null;
	}
	return { json, pairedItem: { item: i } };
}

/** The flag choices of Set Flags, Clear Flags and Append. */
export const FLAG_OPTIONS = [
	{ name: 'Answered', value: '\\Answered', description: 'The message was replied to (\\Answered)' },
	{ name: 'Draft', value: '\\Draft', description: 'The message is a draft (\\Draft)' },
	{ name: 'Flagged', value: '\\Flagged', description: 'The message is flagged / starred for attention (\\Flagged)' },
	{ name: 'Read', value: '\\Seen', description: 'The message was read (\\Seen)' },
];

/** System flags from the multi-select plus keywords from a comma-separated list, checked. */
export function flagsOf(systemFlags: unknown, keywords: unknown, field = 'keywords'): string[] {
	const flags = Array.isArray(systemFlags) ? systemFlags.map(String) : [];
	const allowed = new Set(FLAG_OPTIONS.map((o) => o.value));
	for (const f of flags) if (!allowed.has(f)) throw configError('flags', `Flag "${f}" is not one of ${[...allowed].join(', ')}.`);
	const list = String(keywords ?? '')
		.split(/[,\s]+/)
		.map((s) => s.trim())
		.filter(Boolean);
	for (const keyword of list) {
		if (keyword.startsWith('\\')) throw configError(field, `Keyword "${keyword}" starts with a backslash, which only system flags do.`, 'Choose system flags (Read, Flagged, Answered, Draft) under Flags; keywords are words such as $Forwarded or Invoice-Paid.');
		if (!isValidKeyword(keyword)) {
			throw configError(field, `Keyword "${keyword}" contains characters IMAP does not allow in a keyword.`, 'Use letters, digits and $ - _ . only; no spaces, parentheses, braces, quotes, backslashes, %, *, ] or non-ASCII letters.');
		}
	}
	return [...new Set([...flags, ...list])];
}
