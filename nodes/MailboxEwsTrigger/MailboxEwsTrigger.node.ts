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
import { EwsWatcher, type EwsAfterProcessing, type EwsWatchedMessage, type EwsWatcherOptions } from '../../lib/ews/watch';
import type { EwsMessage } from '../../lib/ews/items';
import type { FolderSyncEvent, FolderSyncStats } from '../../lib/delivery/folder-sync';
import { connectGraph } from '../../lib/graph/client';
import { GraphWatcher, newestGraphMessage, type GraphFetched, type GraphWatchedMessage, type GraphWatcherOptions } from '../../lib/graph/watch';
import { ewsConnection, graphConnection } from '../shared/connection';
import { MICROSOFT_DELEGATED_CREDENTIAL } from '../shared/microsoft-oauth2';
import type { FirstActivation } from '../../lib/delivery/folder-sync-state';
import { MailboxError } from '../../lib/errors';
import { parseMessage } from '../../lib/message/parse';
import { credentialTests } from '../shared/credential-tests';
import { toNodeError } from '../shared/errors';
import { n8nLogger } from '../shared/logger';
import { attachmentsPrefixOption, downloadAttachmentsOption, includeRawOption, itemOptionsOf, toExecutionData, type MessageItemOptions, correspondentsOption, ownDomainsOption, stampOf, stampProperty, EXCHANGE_SENT_FOLDER_NAMES, aiBodyOption, bodyMaxCharsOption } from '../shared/message-item';
import { accountId } from '../../lib/delivery/message';
import { accountChangedItem, deliveryOptions, deliverySettingsOf, emitRun, persisted, pollIntervalMsOf, runOptions, runStatusItem, startWatching, statusEmitter, statusItem, type TriggerOptions, type TriggerStaticData } from '../shared/trigger-runs';
import { parseFolderList, type EwsAuthentication } from '../shared/ews-settings';
import { stuckPollOption } from '../shared/trigger-properties';

const properties: INodeProperties[] = [
	{
		displayName: 'Access Via',
		name: 'accessVia',
		type: 'options',
		options: [
			{ name: 'Exchange Web Services (EWS)', value: 'ews', description: 'On-premises Exchange, or Exchange Online for apps its admin allows EWS (Microsoft switches EWS off in Exchange Online on 1 April 2027)' },
			{ name: 'Microsoft Graph', value: 'graph', description: 'Exchange Online through Microsoft Graph (delta query); the app or signed-in user needs Graph\'s Mail.ReadWrite' },
		],
		default: 'ews',
	},
	{
		displayName: 'Authentication',
		name: 'authentication',
		type: 'options',
		options: [
			{ name: 'Microsoft 365 App (Client Credentials)', value: 'microsoftApp', description: 'An app registration with the application permission full_access_as_app; acts on the mailbox by impersonation' },
			{ name: 'Microsoft 365 (Delegated OAuth2)', value: 'microsoftOAuth2', description: 'A signed-in user (EWS.AccessAsUser.All); their own mailbox or one they have Full Access to' },
			{ name: 'Password (On-Premises Exchange)', value: 'password', description: 'User and password against the EWS URL of an Exchange server (EWS only)' },
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
		displayOptions: { show: { authentication: ['microsoftApp', 'microsoftOAuth2'], accessVia: ['ews'] } },
		description: 'Exchange Online\'s EWS endpoint; change only for a national cloud (e.g. https://outlook.office365.us/EWS/Exchange.asmx). The token goes only to Exchange Online\'s hosts and to the hosts the credential names (IMAP, POP3 or Exchange Host).',
	},
	{
		displayName: 'Graph URL',
		name: 'graphUrl',
		type: 'string',
		default: 'https://graph.microsoft.com/v1.0',
		displayOptions: { show: { accessVia: ['graph'] } },
		description: 'Microsoft Graph\'s endpoint; change only for a national cloud (e.g. https://graph.microsoft.us/v1.0). The token goes only to Graph\'s hosts and to the hosts the credential names.',
	},
	{
		displayName: 'Folders',
		name: 'folders',
		type: 'string',
		default: 'Inbox',
		placeholder: 'Inbox, Inbox/Projects, Archive',
		description: 'Folders to watch, separated by commas: a path with "/" between levels as shown in Outlook, or a well-known name (Inbox, JunkEmail, SentItems)',
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
		description: 'Done in the mailbox only after the run that received the message finished successfully; a failed run leaves the message untouched',
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
		description: 'How often to ask for changes (EWS: SyncFolderItems; Graph: delta query); failed runs are retried at this interval too',
	},
	stampProperty,
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			aiBodyOption,
			correspondentsOption,
			attachmentsPrefixOption,
			bodyMaxCharsOption,
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
				description: 'Larger messages (by the size Exchange reports) are not downloaded: skipped and reported on Mailbox Status; 0 means no limit',
			},
			runOptions[0],
			ownDomainsOption,
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
			stuckPollOption,
		],
	},
];

type AccessVia = 'ews' | 'graph';
type WatchedMessage = EwsWatchedMessage | GraphWatchedMessage;

/** The Mailbox Status output's item for a watcher event, if it gets one. */
export function folderSyncStatusItem(event: FolderSyncEvent<WatchedMessage>, mailbox: string, folder: string, stats: FolderSyncStats, accessVia: AccessVia = 'ews'): INodeExecutionData | undefined {
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
		const refused = accessVia === 'graph' ? 'Microsoft Graph no longer accepted the saved delta link (410 Gone)' : 'Exchange no longer accepted the saved sync state (ErrorInvalidSyncStateData)';
		return {
			json: {
				mailbox,
				folder: event.folder,
				statistics,
				status: 'syncReset',
				title: `Folder '${event.folder}' is synced again from the start`,
				reason: event.reason === 'folderRecreated' ? 'the folder was recreated' : refused,
			},
		};
	}
	return undefined;
}

/** The item for a message: the IMAP and POP3 triggers' shape, plus Exchange's ids and read state (Graph: its id, conversation and categories). */
async function toItem(ctx: ITriggerFunctions, message: WatchedMessage, itemOptions: MessageItemOptions): Promise<INodeExecutionData> {
	const parsed = await parseMessage(message.source, { includeAttachments: itemOptions.includeAttachments });
	const item = await toExecutionData(
		ctx,
		{ mailbox: message.mailbox, folder: message.folder, flags: message.isRead ? ['\\Seen'] : [], size: message.size ?? message.source.length, internalDate: message.received },
		parsed,
		message.source,
		itemOptions,
	);
	if ('changeKey' in message) {
		item.json = { ...item.json, itemId: message.itemId, changeKey: message.changeKey, folderId: message.folderId, isRead: message.isRead ?? null };
	} else {
		item.json = {
			...item.json,
			id: message.itemId,
			conversationId: message.conversationId ?? null,
			categories: message.categories,
			flagStatus: message.flagStatus ?? null,
			webLink: message.webLink ?? null,
			folderId: message.folderId,
			isRead: message.isRead ?? null,
		};
	}
	return item;
}

/** How the trigger reaches the mailbox: a client for each poll, the mailbox's name, the newest message for "Test step". */
interface Access {
	mailbox: string;
	account: string;
	newest(folder: string): Promise<((EwsMessage | GraphFetched) & { folderId: string }) | undefined>;
	watcher(options: Omit<EwsWatcherOptions, 'connect'>): EwsWatcher | GraphWatcher;
	close(): void;
}

/** Opens the mailbox by EWS or Graph as the node's parameters say; a failure names the field. */
async function openAccess(ctx: ITriggerFunctions, accessVia: AccessVia): Promise<Access> {
	const authentication = ctx.getNodeParameter('authentication', 'microsoftApp') as EwsAuthentication;
	const mailboxParameter = String(ctx.getNodeParameter('mailbox', '') ?? '');
	if (accessVia === 'graph') {
		const choice = { authentication, mailbox: mailboxParameter, graphUrl: String(ctx.getNodeParameter('graphUrl', '') ?? '') };
		// settings for each client: a delegated token is read from n8n (and renewed) every time
		const connect = async () => connectGraph(await graphConnection(ctx, choice));
		const first = await connect();
		// the signed-in user's own mailbox is /me: named by the credential's address
		const mailbox = first.mailbox ?? (String((await ctx.getCredentials(MICROSOFT_DELEGATED_CREDENTIAL)).mailbox ?? '').trim() || 'mailbox');
		return {
			mailbox,
			account: accountId('graph', authentication, first.baseUrl, mailbox),
			newest: (folder) => newestGraphMessage(first, folder),
			// the same options: the node's callbacks take either source's messages and events
			watcher: (options) => new GraphWatcher({ ...(options as unknown as Omit<GraphWatcherOptions, 'connect'>), connect }),
			close: () => first.close(),
		};
	}
	const choice = { authentication, mailbox: mailboxParameter, ewsUrl: authentication === 'password' ? undefined : String(ctx.getNodeParameter('ewsUrl', '') ?? '') };
	const connect = async () => connectEws(await ewsConnection(ctx, choice));
	const first = await connect();
	// the mailbox's name in items, keys and status: its address; a password user's own mailbox by the user name
	const mailbox = first.mailbox ?? ((authentication === 'password' ? String((await ctx.getCredentials('mailboxEwsApi')).user ?? '').trim() : '') || 'mailbox');
	return {
		mailbox,
		account: accountId('ews', authentication, choice.ewsUrl, mailbox),
		newest: (folder) => newestMessage(first, folder),
		watcher: (options) => new EwsWatcher({ ...options, connect }),
		close: () => first.close(),
	};
}

export class MailboxEwsTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Mailbox Exchange Trigger',
		name: 'mailboxEwsTrigger',
		icon: { light: 'file:mailbox.svg', dark: 'file:mailbox.dark.svg' },
		group: ['trigger'],
		version: [1, 1.1, 1.2],
		defaultVersion: 1.2,
		subtitle: '={{$parameter["mailbox"] || "Exchange"}}',
		description: 'Starts the workflow for every new message in Exchange or Microsoft 365 folders (Exchange Web Services or Microsoft Graph), exactly once',
		eventTriggerDescription: 'Waiting for new mail',
		defaults: { name: 'Mailbox Exchange Trigger' },
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
		const accessVia: AccessVia = this.getNodeParameter('accessVia', 'ews') === 'graph' ? 'graph' : 'ews';
		const folders = parseFolderList(this.getNodeParameter('folders', 'Inbox') as string);
		let access: Access;
		try {
			access = await openAccess(this, accessVia);
		} catch (error) {
			throw toNodeError(node, error);
		}
		const mailbox = access.mailbox;
		let itemOptions: MessageItemOptions;
		try {
			// correspondents: mail of the Sent Items folder is outbound
			itemOptions = { ...itemOptionsOf(options, { mailbox, sentFolders: folders.filter((f) => EXCHANGE_SENT_FOLDER_NAMES.includes(f.toLowerCase())) }), stamp: stampOf(this.getNodeParameter('stamp', {})) };
		} catch (error) {
			throw toNodeError(node, error);
		}

		if (this.getMode() === 'manual') {
			// "Test step": the newest message of the first folder at once; nothing changed, state untouched.
			const manualTriggerFunction = async () => {
				let newest: Awaited<ReturnType<Access['newest']>>;
				try {
					newest = await access.newest(folders[0]);
				} catch (error) {
					throw toNodeError(node, error);
				} finally {
					access.close();
				}
				if (!newest) {
					throw toNodeError(node, new MailboxError('NOT_FOUND', `The folder "${folders[0]}" of ${mailbox} has no messages to show.`, { hint: 'Send a message to it and test again, or activate the workflow to wait for new mail.' }));
				}
				this.emit([[await toItem(this, { ...newest, mailbox, folder: folders[0], attempt: 1, key: '', oversized: false } as WatchedMessage, itemOptions)], []]);
			};
			return { manualTriggerFunction, closeFunction: async () => access.close() };
		}
		access.close();

		const staticData = this.getWorkflowStaticData('node') as TriggerStaticData;
		const workflowId = this.getWorkflow().id ?? 'manual';
		const afterProcessing = this.getNodeParameter('afterProcessing', 'none') as EwsAfterProcessing;

		const watcher = access.watcher({
			mailbox,
			folders,
			...persisted(staticData),
			account: access.account,
			keyPrefix: `mailbox-${accessVia}:${workflowId}:${node.id}`,
			firstActivation: this.getNodeParameter('firstActivation', 'new') as FirstActivation,
			pollIntervalMs: pollIntervalMsOf(this, 1),
			afterProcessing,
			moveTo: afterProcessing === 'move' ? String(this.getNodeParameter('moveTo', '')) : undefined,
			deleteMode: afterProcessing === 'delete' ? (this.getNodeParameter('deleteMode', 'trash') as 'trash' | 'hard') : undefined,
			...deliverySettingsOf(options, node.typeVersion),
			logger,
			...statusEmitter(this, options, () => watcher.getStats(), (event: FolderSyncEvent<WatchedMessage>, stats) => folderSyncStatusItem(event, mailbox, folders[0], stats, accessVia)),
			deliver: async (messages, run) => emitRun(this, await Promise.all(messages.map((message) => toItem(this, message, itemOptions))), run.key),
		});

		return startWatching(this, watcher);
	}
}
