import type { ResourceDefinition } from '../types';
import * as append from './append.operation';
import * as bulk from './bulk.operation';
import { addressProperties } from './common';
import * as ews from './ews.operation';
import { imapOnly, notGraph } from '../access';
import * as graph from './graph.operation';
import * as get from './get.operation';
import * as search from './search.operation';

export const message: ResourceDefinition = {
	operation: {
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['message'] } },
		options: [
			{
				name: 'Append',
				value: 'append',
				description: 'Store a new message in a folder, e.g. a draft in Drafts, built from fields or from an .eml binary; returns its folder, uid, uidValidity and messageId (IMAP only)',
				action: 'Store a message in a folder',
			},
			{
				name: 'Clear Flags',
				value: 'clearFlags',
				description: 'Remove flags from messages given by folder, uid and uidValidity (as Search returns them): Read (mark as unread), Flagged, Answered, Draft, or custom keywords; over EWS only Read; over Microsoft Graph Read, Flagged and categories',
				action: 'Clear flags of a message',
			},
			{
				name: 'Copy',
				value: 'copy',
				description: 'Copy messages (given by folder, uid and uidValidity as Search returns them; over EWS by item ID) to another folder; the original stays; returns the destination and the uid (EWS: item ID) of each copy',
				action: 'Copy a message to a folder',
			},
			{
				name: 'Delete',
				value: 'delete',
				description: 'Delete messages given by folder, uid and uidValidity (as Search returns them): move them to the Trash folder (EWS: Deleted Items), or remove them permanently. As an AI agent\'s tool only with Allow Deleting on.',
				action: 'Delete a message',
			},
			{
				name: 'Get',
				value: 'get',
				description: 'Get one message (given by folder, uid and uidValidity as Search returns them; over EWS by item ID) with its text, HTML, headers and attachments, as the trigger outputs it; does not mark it as read',
				action: 'Get a message',
			},
			{
				name: 'Mark as Not Spam',
				value: 'markAsNotSpam',
				description: "Move messages from the Junk folder (EWS: Junk Email) back to the inbox (or a chosen folder) so the server's spam filter learns they are wanted mail",
				action: 'Mark a message as not spam',
			},
			{
				name: 'Mark as Spam',
				value: 'markAsSpam',
				description: "Move messages to the account's Junk folder (EWS: Junk Email) so the server's spam filter learns they are spam",
				action: 'Mark a message as spam',
			},
			{
				name: 'Move',
				value: 'move',
				description: 'Move messages (given by folder, uid and uidValidity as Search returns them; over EWS by item ID) to another folder, e.g. Archive; returns the destination and the new uid (EWS: new item ID) of each, as a message gets a new uid in its new folder',
				action: 'Move a message to another folder',
			},
			{
				name: 'Search',
				value: 'search',
				description: 'Find messages in one folder (INBOX by default) by sender, recipient, subject, date, read or flagged status, size, a header, or a raw IMAP search; newest first. Returns one item per message with its folder, uid, uidValidity, messageId, subject, from, to, date and flags: the address other operations act on. Over Microsoft Graph by KQL text or a filter.',
				action: 'Search messages in a folder',
			},
			{
				name: 'Set Flags',
				value: 'setFlags',
				description: 'Add flags to messages given by folder, uid and uidValidity (as Search returns them): Read (mark as read), Flagged, Answered, Draft, or custom keywords; over EWS only Read; over Microsoft Graph Read, Flagged (or complete) and categories',
				action: 'Set flags of a message',
			},
		],
		default: 'search',
	},
	// Folder/UID/UIDVALIDITY and the IMAP options are hidden with Access Via: EWS, which addresses
	// messages by item id; Flags and Keywords are the same for both (EWS: Read only).
	properties: [
		...addressProperties.map(imapOnly),
		...search.description.map((p) => (p.name === 'filters' ? notGraph(p) : p)),
		...get.description.map(imapOnly),
		...bulk.description.map((p) => (p.name === 'flags' ? p : p.name === 'keywords' ? notGraph(p) : imapOnly(p))),
		...append.description,
		...ews.description,
		...graph.description,
	],
	operations: {
		append: { execute: append.execute },
		clearFlags: { executeBatch: bulk.executeFor('clearFlags') },
		copy: { executeBatch: bulk.executeFor('copy') },
		delete: { executeBatch: bulk.executeFor('delete') },
		get: { execute: get.execute },
		markAsNotSpam: { executeBatch: bulk.executeFor('markAsNotSpam') },
		markAsSpam: { executeBatch: bulk.executeFor('markAsSpam') },
		move: { executeBatch: bulk.executeFor('move') },
		search: { execute: search.execute },
		setFlags: { executeBatch: bulk.executeFor('setFlags') },
	},
	ews: {
		clearFlags: { executeBatch: ews.executeFor('clearFlags') },
		copy: { executeBatch: ews.executeFor('copy') },
		delete: { executeBatch: ews.executeFor('delete') },
		get: { execute: ews.get },
		markAsNotSpam: { executeBatch: ews.executeFor('markAsNotSpam') },
		markAsSpam: { executeBatch: ews.executeFor('markAsSpam') },
		move: { executeBatch: ews.executeFor('move') },
		setFlags: { executeBatch: ews.executeFor('setFlags') },
	},
	graph: {
		clearFlags: { executeBatch: graph.executeFor('clearFlags') },
		copy: { executeBatch: graph.executeFor('copy') },
		delete: { executeBatch: graph.executeFor('delete') },
		get: { execute: graph.get },
		markAsNotSpam: { executeBatch: graph.executeFor('markAsNotSpam') },
		markAsSpam: { executeBatch: graph.executeFor('markAsSpam') },
		move: { executeBatch: graph.executeFor('move') },
		search: { execute: graph.search },
		setFlags: { executeBatch: graph.executeFor('setFlags') },
	},
};
