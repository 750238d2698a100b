import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { configError } from '../../../../lib/errors';
import { runGraphRetention, type GraphRetentionRule } from '../../../../lib/graph/mailbox';
import { checkDays } from '../../../../lib/imap/retention';
import type { GraphSessionOf } from '../types';
import { referenceTimeOf, type ApplyOptions } from './apply.operation';

/**
 * Retention → Remove Old Mail over Microsoft Graph, with the parameters and item shape of the IMAP
 * one: Inbox, Junk Email, Sent Items and the other folders, each with its days; a dry run lists,
 * otherwise the old messages are deleted permanently (or moved to Deleted Items) in $batch requests.
 */
export async function execute(this: IExecuteFunctions, itemIndex: number, session: GraphSessionOf): Promise<INodeExecutionData[]> {
	const options = this.getNodeParameter('options', itemIndex, {}) as ApplyOptions;
	const other = this.getNodeParameter('otherFolders', itemIndex, {}) as { folders?: Array<{ folder?: string; days?: number }> };
	const dryRun = this.getNodeParameter('dryRun', itemIndex, true) as boolean;
	const now = referenceTimeOf(options.referenceTime);
	const separator = options.separator || '/';
	const pathOf = (text: string) => (separator === '/' ? text : text.split('/').join('\\/').split(separator).join('/'));
	const rules: GraphRetentionRule[] = [];
	const add = (folder: string, days: unknown, role: string, field: string, label: string, at = { field, label }) => {
		const n = checkDays(days, field, label);
		if (n > 0) rules.push({ folder, days: n, role, at });
	};
	add('inbox', this.getNodeParameter('inboxDays', itemIndex, 0), 'inbox', 'inboxDays', 'Inbox Days');
	add(options.junkFolder?.trim() ? pathOf(options.junkFolder) : 'junkemail', this.getNodeParameter('junkDays', itemIndex, 0), 'junk', 'junkDays', 'Junk Days', options.junkFolder?.trim() ? { field: 'junkFolder', label: 'Junk Folder' } : undefined);
	add(options.sentFolder?.trim() ? pathOf(options.sentFolder) : 'sentitems', this.getNodeParameter('sentDays', itemIndex, 0), 'sent', 'sentDays', 'Sent Days', options.sentFolder?.trim() ? { field: 'sentFolder', label: 'Sent Folder' } : undefined);
	for (const entry of other.folders ?? []) {
		if (!String(entry.folder ?? '').trim()) throw configError('otherFolders', 'Other Folders: a Folder Path is empty.', 'Enter the folder path of every entry, or remove the entry.');
		add(pathOf(String(entry.folder)), entry.days ?? 0, 'extra', 'otherFolders', `Other Folders: "${entry.folder}"`);
	}
	const s = await session();
	const results = await runGraphRetention(s.client, rules, { now, dryRun, ageBy: options.ageBy ?? 'arrival', moveToTrash: options.moveToTrash === true, listLimit: options.listLimit });
	return results.map((result) => ({
		json: { ...result, mailbox: s.mailbox, messages: result.messages.map((m) => ({ ...m })), failed: result.failed.map((f) => ({ ...f })) } as IDataObject,
		pairedItem: { item: itemIndex },
	}));
}
