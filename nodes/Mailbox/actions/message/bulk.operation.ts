import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import type { FolderInfo } from '../../../../lib/imap/folders';
import { configError } from '../../../../lib/errors';
import { foldersOf, resolveFolder, runBulk, type BulkAction, type BulkDone, type BulkOutcome, type MessageAddress } from '../../../../lib/imap/messages';
import type { SessionOf } from '../types';
import { isGoogleAuthentication } from '../../../shared/credentials';
import { FLAG_OPTIONS, addressOf, failedItem, flagsOf, messageIdOptions, show, type AddressOptions } from './common';

/** The batch operations of the Message resource: one command per folder for all input items. */
export type BulkOperation = 'clearFlags' | 'copy' | 'delete' | 'markAsNotSpam' | 'markAsSpam' | 'move' | 'setFlags';

const options = (operation: BulkOperation, own: INodeProperties[]): INodeProperties => ({
	displayName: 'Options',
	name: 'options',
	type: 'collection',
	placeholder: 'Add Option',
	default: {},
	displayOptions: show([operation]),
	options: [...own, ...messageIdOptions].sort((a, b) => a.displayName.localeCompare(b.displayName)),
});

const junkFolderOption: INodeProperties = {
	displayName: 'Junk Folder',
	name: 'junkFolder',
	type: 'string',
	default: '',
	placeholder: 'Junk',
	description: "The spam folder; empty: the account's Junk folder as the server names it (SPECIAL-USE \\Junk)",
};

export const description: INodeProperties[] = [
	{
		displayName: 'Destination Folder',
		name: 'destination',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'Archive',
		description: 'The folder to put the message in, by its path (e.g. Archive or Projects/2026; Folder → List shows them). It must exist.',
		displayOptions: show(['move', 'copy']),
	},
	{
		displayName: 'Flags',
		name: 'flags',
		type: 'multiOptions',
		default: [],
		options: FLAG_OPTIONS,
		description: 'System flags to set or clear',
		displayOptions: show(['setFlags', 'clearFlags']),
	},
	{
		displayName: 'Keywords',
		name: 'keywords',
		type: 'string',
		default: '',
		placeholder: '$Forwarded, Invoice-Paid',
		description: 'Custom keywords (IMAP user flags) to set or clear, separated by commas',
		displayOptions: show(['setFlags', 'clearFlags']),
	},
	options('move', []),
	options('copy', []),
	options('setFlags', []),
	options('clearFlags', []),
	options('delete', [
		{
			displayName: 'Delete Permanently',
			name: 'deletePermanently',
			type: 'boolean',
			default: false,
			description: 'Whether to remove the message at once (\\Deleted and UID EXPUNGE of exactly these messages) instead of moving it to Trash. A message already in Trash is always removed permanently.',
		},
		{
			displayName: 'Trash Folder',
			name: 'trashFolder',
			type: 'string',
			default: '',
			placeholder: 'Trash',
			description: "The folder deleted messages go to; empty: the account's Trash folder as the server names it (SPECIAL-USE \\Trash)",
		},
	]),
	options('markAsSpam', [junkFolderOption]),
	options('markAsNotSpam', [
		junkFolderOption,
		{
			displayName: 'Move To',
			name: 'moveTo',
			type: 'string',
			default: 'INBOX',
			description: 'Where a message marked as not spam goes',
		},
	]),
];

interface BulkOptions extends AddressOptions {
	deletePermanently?: boolean;
	trashFolder?: string;
	junkFolder?: string;
	moveTo?: string;
}

interface Planned {
	i: number;
	address: MessageAddress;
	action: BulkAction;
}

/** What an item asks for, with its folders resolved against the account's folder list. */
function plan(ctx: IExecuteFunctions, operation: BulkOperation, i: number, folders: () => FolderInfo[]): Planned {
	const opts = ctx.getNodeParameter('options', i, {}) as BulkOptions;
	const address = addressOf(ctx, i, opts);
	const junk = () => resolveFolder(folders(), opts.junkFolder, 'junk', 'junkFolder', 'Junk Folder');
	let action: BulkAction;
	switch (operation) {
		case 'move':
		case 'copy':
			action = { type: operation, destination: resolveFolder(folders(), String(ctx.getNodeParameter('destination', i, '')), undefined, 'destination', 'Destination Folder') };
			break;
		case 'delete': {
			const permanently = opts.deletePermanently === true;
			action = { type: 'delete', permanently, trash: permanently && !opts.trashFolder ? undefined : resolveFolder(folders(), opts.trashFolder, 'trash', 'trashFolder', 'Trash Folder') };
			break;
		}
		case 'setFlags':
		case 'clearFlags': {
			const flags = flagsOf(ctx.getNodeParameter('flags', i, []), ctx.getNodeParameter('keywords', i, ''));
			if (flags.length === 0) throw configError('flags', 'No flag or keyword is chosen: there is nothing to set or clear.', 'Choose flags under Flags, or enter keywords.');
			action = { type: operation === 'setFlags' ? 'addFlags' : 'removeFlags', flags };
			break;
		}
		case 'markAsSpam': {
			const junkPath = junk();
			action = address.folder === junkPath ? { type: 'none', reason: `already in the Junk folder "${junkPath}"` } : { type: 'move', destination: junkPath };
			break;
		}
		case 'markAsNotSpam': {
			const junkPath = junk();
			const target = resolveFolder(folders(), opts.moveTo || 'INBOX', undefined, 'moveTo', 'Move To');
			action = address.folder !== junkPath ? { type: 'none', reason: `not in the Junk folder "${junkPath}"` } : { type: 'move', destination: target };
			break;
		}
	}
	return { i, address, action };
}

function outputOf(operation: BulkOperation, done: BulkDone, action: BulkAction): IDataObject {
	const json: IDataObject = {
		operation,
		folder: done.folder,
		uid: done.uid,
		uidValidity: done.uidValidity,
		messageId: done.messageId ?? null,
	};
	switch (action.type) {
		case 'move':
		case 'copy':
		case 'delete':
			if (action.type === 'delete') json.deleted = done.deleted ?? null;
			json.destination = done.destination ?? null;
			json.destinationUid = done.destinationUid ?? null;
			json.destinationUidValidity = done.destinationUidValidity ?? null;
			break;
		case 'addFlags':
			json.flagsSet = action.flags;
			break;
		case 'removeFlags':
			json.flagsCleared = action.flags;
			break;
		case 'none':
			json.destination = null;
			json.destinationUid = null;
			json.destinationUidValidity = null;
			break;
	}
	if (operation === 'markAsSpam' || operation === 'markAsNotSpam') {
		json.moved = action.type === 'move';
		if (done.unchanged) json.note = `Not moved: ${done.unchanged}.`;
	}
	json.foundByMessageId = done.foundByMessageId;
	if (done.foundByMessageId) {
		json.previousUid = done.previousUid ?? null;
		json.previousUidValidity = done.previousUidValidity ?? null;
		json.note = `The folder's UIDVALIDITY changed from ${done.previousUidValidity} to ${done.uidValidity}; the message was found by its Message-ID as UID ${done.uid}.`;
	}
	return json;
}

/** Runs one bulk operation for all items: grouped by folder, one UID MOVE/COPY/STORE per group. */
export function executeFor(operation: BulkOperation) {
	return async function executeBatch(this: IExecuteFunctions, indices: number[], session: SessionOf): Promise<INodeExecutionData[]> {
		const outcomes = new Map<number, { planned: Planned; result: BulkOutcome } | { error: unknown }>();
		const s = await session();
		await s.run(async (client) => {
			const folderList = operation === 'setFlags' || operation === 'clearFlags' ? [] : await foldersOf(client);
			const planned: Planned[] = [];
			// every item's parameters are checked before anything is touched
			for (const i of indices) {
				try {
					planned.push(plan(this, operation, i, () => folderList));
				} catch (error) {
					outcomes.set(i, { error });
					if (!this.continueOnFail()) return;
				}
			}
			const fallbackOf = (p: Planned) => (this.getNodeParameter('options', p.i, {}) as BulkOptions).findByMessageId === true;
			// items with and without the Message-ID fallback run as separate bulks
			for (const fallback of [false, true]) {
				const part = planned.filter((p) => fallbackOf(p) === fallback);
				if (part.length === 0) continue;
				const results = await runBulk(
					client,
					part.map((p) => p.address),
					part.map((p) => p.action),
					// a Google sign-in means Gmail, whose expunge only removes a label
					{ findByMessageId: fallback, gmail: isGoogleAuthentication(String(this.getNodeParameter('authentication', 0, 'password'))) },
				);
				part.forEach((p, k) => outcomes.set(p.i, { planned: p, result: results[k] }));
			}
		});
		// outside the IMAP work, so that an item's error reaches n8n as it is
		const out: INodeExecutionData[] = [];
		for (const i of indices) {
			const outcome = outcomes.get(i);
			if (!outcome) continue;
			if ('error' in outcome) out.push(failedItem(this, outcome.error, i));
			else if (!outcome.result.ok) out.push(failedItem(this, outcome.result.error, i));
			else out.push({ json: outputOf(operation, outcome.result, outcome.planned.action), pairedItem: { item: i } });
		}
		return out;
	};
}
