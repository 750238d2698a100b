import {
	NodeConnectionTypes,
	type INodeExecutionData,
	type INodeProperties,
	type INodeType,
	type INodeTypeDescription,
	type ITriggerFunctions,
	type ITriggerResponse,
} from 'n8n-workflow';
import { connectEws } from '../../lib/ews/client';
import { newestMessage } from '../../lib/ews/items';
import { EwsWatcher, type EwsAfterProcessing, type EwsWatchedMessage, type EwsWatchEvent, type EwsWatchStats } from '../../lib/ews/watch';
import type { FirstActivation } from '../../lib/delivery/folder-sync-state';
import { MailboxError } from '../../lib/errors';
import { parseMessage } from '../../lib/message/parse';
import { credentialTests } from '../shared/credential-tests';
import { toNodeError } from '../shared/errors';
import { n8nLogger } from '../shared/logger';
import { attachmentsPrefixOption, downloadAttachmentsOption, includeRawOption, itemOptionsOf, toExecutionData, type MessageItemOptions } from '../shared/message-item';
import { accountId } from '../../lib/delivery/message';
import { accountChangedItem, deliveryOptions, emitRun, failsActivation, persisted, reportFailure, retryPolicyOf, lostAfterMsOf, runOptions, runShapeOf, runStatusItem, statusItem, type RetryOptions, type RunOptions, type TriggerStaticData } from '../shared/trigger-runs';
import { ewsSettingsOf, parseFolderList, type EwsAuthentication } from '../shared/ews-settings';

const properties: INodeProperties[] = [
	{
		displayName: 'Authentication',
		name: 'authentication',
		type: 'options',
		options: [
			{ name: 'Microsoft 365 App (Client Credentials)', value: 'microsoftApp', description: 'An app registration with the application permission full_access_as_app; acts on the mailbox by impersonation' },
			{ name: 'Microsoft 365 (Delegated OAuth2)', value: 'microsoftOAuth2', description: 'A signed-in user (EWS.AccessAsUser.All); their own mailbox or one they have Full Access to' },
			{ name: 'Password (On-Premises Exchange)', value: 'password', description: 'User and password against the EWS URL of an Exchange server' },
		],
		default: 'microsoftApp',
	},
	{
		displayName: 'Mailbox',
		name: 'mailbox',
		type: 'string',
		default: '',
		placeholder: 'info@contoso.com',
		description: "The address of the mailbox to watch. Empty: the credential's Mailbox (with an app: the mailbox it acts on; signed in: the user's own).",
	},
	{
		displayName: 'EWS URL',
		name: 'ewsUrl',
		type: 'string',
		default: 'https://outlook.office365.com/EWS/Exchange.asmx',
		displayOptions: { show: { authentication: ['microsoftApp', 'microsoftOAuth2'] } },
		description: 'Exchange Online\'s EWS endpoint; change only for a national cloud (e.g. https://outlook.office365.us/EWS/Exchange.asmx). The token goes only to Exchange Online\'s hosts and to the hosts the credential names (IMAP, POP3 or Exchange Host).',
	},
	{
		displayName: 'Folders',
		name: 'folders',
		type: 'string',
		default: 'Inbox',
		placeholder: 'Inbox, Inbox/Projects, Archive',
		description: 'Folders to watch, separated by commas: a path with "/" between levels as shown in Outlook, or a distinguished name (Inbox, JunkEmail, SentItems)',
	},
	{
		displayName: 'On First Activation',
		name: 'firstActivation',
		type: 'options',
		default: 'new',
		options: [
			{ name: 'Only Mail Arriving From Now On', value: 'new' },
			{ name: 'All Unread Mail, Then New Mail', value: 'unread' },
			{ name: 'All Mail in the Folders, Then New Mail', value: 'all' },
		],
		description: 'What a folder the trigger has not seen before starts with. Later activations continue where the last one stopped.',
	},
	{
		displayName: 'After the Workflow Succeeded',
		name: 'afterProcessing',
		type: 'options',
		default: 'none',
		options: [
			{ name: 'Leave the Message As It Is', value: 'none' },
			{ name: 'Mark as Read', value: 'markRead' },
			{ name: 'Move to a Folder', value: 'move' },
			{ name: 'Delete', value: 'delete' },
		],
		description: 'Done in Exchange only after the run that received the message finished successfully; a failed run leaves the message untouched',
	},
	{
		displayName: 'Move To',
		name: 'moveTo',
		type: 'string',
		default: 'Archive',
		required: true,
		displayOptions: { show: { afterProcessing: ['move'] } },
		description: 'The folder path, e.g. Archive or Inbox/Done',
	},
	{
		displayName: 'Delete Mode',
		name: 'deleteMode',
		type: 'options',
		default: 'trash',
		displayOptions: { show: { afterProcessing: ['delete'] } },
		options: [
			{ name: 'Move to Deleted Items', value: 'trash' },
			{ name: 'Delete Permanently', value: 'hard' },
		],
	},
	{
		displayName: 'Polling Interval (Minutes)',
		name: 'pollMinutes',
		type: 'number',
		default: 1,
		typeOptions: { minValue: 0.1 },
		description: 'How often to ask Exchange for changes (SyncFolderItems); failed runs are retried at this interval too',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			attachmentsPrefixOption,
			downloadAttachmentsOption,
			deliveryOptions[0],
			includeRawOption,
			deliveryOptions[1],
			{
				displayName: 'Max Message Size (MB)',
				name: 'maxSizeMb',
				type: 'number',
				default: 0,
				typeOptions: { minValue: 0 },
				description: 'Larger messages (by Exchange\'s size) are not downloaded: skipped and reported on Mailbox Status; 0 means no limit',
			},
			runOptions[0],
			deliveryOptions[2],
			{
				displayName: 'Retry Failed Runs',
				name: 'retryFailed',
				type: 'boolean',
				default: true,
				description: 'Whether a message whose workflow run failed is delivered again on the next poll (otherwise it is skipped and left as it is)',
			},
			runOptions[2],
			runOptions[1],
			{
				displayName: 'Stuck Poll Timeout (Minutes)',
				name: 'stuckMinutes',
				type: 'number',
				default: 30,
				typeOptions: { minValue: 1 },
				description: 'A poll running longer is abandoned and the next one proceeds',
			},
		],
	},
];

interface TriggerOptions extends RetryOptions, RunOptions {
	attachmentsPrefix?: string;
	downloadAttachments?: boolean;
	includeRaw?: boolean;
	maxSizeMb?: number;
	stuckMinutes?: number;
}

/** The Mailbox Status output's item for a watcher event, if it gets one. */
export function ewsStatusItem(event: EwsWatchEvent, mailbox: string, folder: string, stats: EwsWatchStats): INodeExecutionData | undefined {
	const statistics = {
		lastFetchAt: stats.lastFetchAt?.toISOString() ?? null,
		lastFetchMs: stats.lastFetchMs ?? null,
		delivered: stats.delivered,
		acknowledged: stats.acknowledged,
		failedRuns: stats.failed,
		skipped: stats.skipped,
		oversized: stats.oversized,
		syncResets: stats.resets,
	};
	if (event.type === 'failing' || event.type === 'updated' || event.type === 'recovered') return statusItem(event, mailbox, folder, statistics);
	if (event.type === 'runFailed' || event.type === 'runWaiting' || event.type === 'duplicate') {
		const m = event.message;
		return runStatusItem(event, mailbox, m.folder, { itemId: m.itemId, messageId: m.messageId ?? null }, statistics);
	}
	if (event.type === 'accountChanged') return accountChangedItem(mailbox, folder);
	if (event.type === 'skipped') {
		return { json: { mailbox, folder: event.folder, statistics, status: 'skipped', title: 'A message over the size limit was not received', itemId: event.itemId, size: event.size, reason: event.reason } };
	}
	if (event.type === 'syncReset') {
		return {
			json: {
				mailbox,
				folder: event.folder,
				statistics,
				status: 'syncReset',
				title: `Folder '${event.folder}' is synced again from the start`,
				reason: event.reason === 'folderRecreated' ? 'the folder was recreated' : 'Exchange no longer accepted the saved sync state (ErrorInvalidSyncStateData)',
			},
		};
	}
	return undefined;
}

/** The item for a message: the IMAP and POP3 triggers' shape, plus Exchange's ids and read state. */
async function toItem(ctx: ITriggerFunctions, message: EwsWatchedMessage & { folder: string }, itemOptions: MessageItemOptions): Promise<INodeExecutionData> {
	const parsed = await parseMessage(message.source, { includeAttachments: itemOptions.includeAttachments });
	const item = await toExecutionData(
		ctx,
		{ mailbox: message.mailbox, folder: message.folder, flags: message.isRead ? ['\\Seen'] : [], size: message.size ?? message.source.length, internalDate: message.received },
		parsed,
		message.source,
		itemOptions,
	);
	item.json = { ...item.json, itemId: message.itemId, changeKey: message.changeKey, folderId: message.folderId, isRead: message.isRead ?? null };
	return item;
}

export class MailboxEwsTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Mailbox EWS Trigger',
		name: 'mailboxEwsTrigger',
		icon: { light: 'file:mailbox.svg', dark: 'file:mailbox.dark.svg' },
		group: ['trigger'],
		version: [1, 1.1, 1.2],
		defaultVersion: 1.2,
		subtitle: '={{$parameter["mailbox"] || "Exchange"}}',
		description: 'Starts the workflow for every new message in Exchange or Microsoft 365 folders (Exchange Web Services), exactly once',
		eventTriggerDescription: 'Waiting for new mail',
		defaults: { name: 'Mailbox EWS Trigger' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main],
		outputNames: ['Messages', 'Mailbox Status'],
		credentials: [
			{ name: 'mailboxMicrosoftAppApi', required: true, testedBy: 'mailboxMicrosoftAppTest', displayOptions: { show: { authentication: ['microsoftApp'] } } },
			{ name: 'mailboxMicrosoftOAuth2Api', required: true, displayOptions: { show: { authentication: ['microsoftOAuth2'] } } },
			{ name: 'mailboxEwsApi', required: true, testedBy: 'mailboxEwsConnectionTest', displayOptions: { show: { authentication: ['password'] } } },
		],
		properties,
	};

	methods = {
		credentialTest: credentialTests,
	};

	async trigger(this: ITriggerFunctions): Promise<ITriggerResponse> {
		const node = this.getNode();
		const logger = n8nLogger(this.logger);
		const options = this.getNodeParameter('options', {}) as TriggerOptions;
		const itemOptions = itemOptionsOf(options);
		const authentication = this.getNodeParameter('authentication', 'microsoftApp') as EwsAuthentication;
		const choice = {
			authentication,
			mailbox: String(this.getNodeParameter('mailbox', '') ?? ''),
			ewsUrl: authentication === 'password' ? undefined : String(this.getNodeParameter('ewsUrl', '') ?? ''),
		};
		const folders = parseFolderList(this.getNodeParameter('folders', 'Inbox') as string);
		// Settings for each client: a delegated token is read from n8n (and renewed) every time.
		const connect = async () => connectEws(await ewsSettingsOf(this, choice, logger));
		let first;
		try {
			first = await connect();
		} catch (error) {
			throw toNodeError(node, error);
		}
		// the mailbox's name in items, keys and status: its address; a password user's own mailbox by the user name
		const mailbox = first.mailbox ?? ((authentication === 'password' ? String((await this.getCredentials('mailboxEwsApi')).user ?? '').trim() : '') || 'mailbox');

		if (this.getMode() === 'manual') {
			// "Test step": the newest message of the first folder at once; nothing changed, state untouched.
			const client = first;
			const manualTriggerFunction = async () => {
				let newest: Awaited<ReturnType<typeof newestMessage>>;
				try {
					newest = await newestMessage(client, folders[0]);
				} catch (error) {
					throw toNodeError(node, error);
				} finally {
					client.close();
				}
				if (!newest) {
					throw toNodeError(node, new MailboxError('NOT_FOUND', `The folder "${folders[0]}" of ${mailbox} has no messages to show.`, { hint: 'Send a message to it and test again, or activate the workflow to wait for new mail.' }));
				}
				this.emit([[await toItem(this, { ...newest, mailbox, folder: folders[0], attempt: 1, key: '', oversized: false }, itemOptions)], []]);
			};
			return { manualTriggerFunction, closeFunction: async () => client.close() };
		}
		first.close();

		const staticData = this.getWorkflowStaticData('node') as TriggerStaticData;
		const workflowId = this.getWorkflow().id ?? 'manual';
		const afterProcessing = this.getNodeParameter('afterProcessing', 'none') as EwsAfterProcessing;

		const watcher: EwsWatcher = new EwsWatcher({
			connect,
			mailbox,
			folders,
			...persisted(staticData),
			account: accountId('ews', authentication, choice.ewsUrl, mailbox),
			keyPrefix: `mailbox-ews:${workflowId}:${node.id}`,
			firstActivation: this.getNodeParameter('firstActivation', 'new') as FirstActivation,
			pollIntervalMs: Math.max(6_000, Number(this.getNodeParameter('pollMinutes', 1)) * 60_000),
			afterProcessing,
			moveTo: afterProcessing === 'move' ? String(this.getNodeParameter('moveTo', '')) : undefined,
			deleteMode: afterProcessing === 'delete' ? (this.getNodeParameter('deleteMode', 'trash') as 'trash' | 'hard') : undefined,
			maxSizeBytes: options.maxSizeMb ? Math.round(options.maxSizeMb * 1024 * 1024) : 0,
			retry: retryPolicyOf(options, node.typeVersion),
			...runShapeOf(options, node.typeVersion),
			lostAfterMs: lostAfterMsOf(options),
			stuckAfterMs: (options.stuckMinutes ?? 30) * 60_000,
			logger,
			// the messages of a run that failed or waits: one item each, in one emit
			onEvents: (events) => {
				const stats = watcher.getStats();
				const items = events.flatMap((event) => ewsStatusItem(event, mailbox, folders[0], stats) ?? []);
				if (items.length) this.emit([[], items]);
			},
			onEvent: (event) => {
				reportFailure(this, options, event);
				const item = ewsStatusItem(event, mailbox, folders[0], watcher.getStats());
				if (item) this.emit([[], [item]]);
			},
			deliver: async (messages, run) => emitRun(this, await Promise.all(messages.map((message) => toItem(this, message, itemOptions))), run.key),
		});

		const started = await watcher.start();
		if (started.error && failsActivation(this, started.error)) {
			await watcher.stop();
			throw toNodeError(node, started.error);
		}
		return { closeFunction: async () => watcher.stop() };
	}
}
