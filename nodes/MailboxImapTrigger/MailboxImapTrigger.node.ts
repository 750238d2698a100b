import {
	NodeConnectionTypes,
	type ILoadOptionsFunctions,
	type INodeExecutionData,
	type INodeProperties,
	type INodePropertyOptions,
	type INodeType,
	type INodeTypeDescription,
	type ITriggerFunctions,
	type ITriggerResponse,
} from 'n8n-workflow';
import type { Login, ResolvedServer } from '../../lib/connection/options';
import { MailboxError } from '../../lib/errors';
import { folderChoices, ImapWatcher, newestMessage, watchFolders, type AfterProcessing, type FirstActivation, type ResetPoint, type WatchedMessage } from '../../lib/imap/watch';
import { parseMessage } from '../../lib/message/parse';
import { imapConnection, isGoogleAuthentication, type Authentication } from '../shared/connection';
import { credentialTests } from '../shared/credential-tests';
import { accountId } from '../../lib/delivery/message';
import {
	accountChangedItem,
	deliveryOptions,
	emitRun,
	deliverySettingsOf,
	failsActivation,
	persisted,
	pollIntervalMsOf,
	reportFailure,
	runOptions,
	runStatusItem,
	type TriggerOptions as SharedOptions,
	type TriggerStaticData as SharedStaticData,
} from '../shared/trigger-runs';
import { toNodeError } from '../shared/errors';
import { n8nLogger } from '../shared/logger';
import { type MessageItemOptions, attachmentsPrefixOption, correspondentsOption, downloadAttachmentsOption, includeRawOption, itemOptionsOf, ownDomainsOption, stampOf, stampProperty, toExecutionData, aiBodyOption, bodyMaxCharsOption } from '../shared/message-item';
import { DEFAULT_EXCLUDED_FOLDERS, excludedBy, folderStatusItem, parseReloadFrom } from './helpers';
import { imapSignInProperties } from '../shared/imap-properties';
import { fetchUncheckedOption, oversizedOption } from '../shared/trigger-properties';
import { NOT_WATCHED_ROLES } from '../../lib/imap/gmail';

const properties: INodeProperties[] = [
	...imapSignInProperties,
	{
		displayName: 'Watch',
		name: 'watch',
		type: 'options',
		default: 'selected',
		options: [
			{ name: 'Selected Folders', value: 'selected', description: 'INBOX and the folders chosen below' },
			{ name: 'All Folders Except Excluded', value: 'all', description: 'Every folder of the mailbox except those in Excluded Folders (Options)' },
		],
	},
	{
		displayName: 'Folder Names or IDs',
		name: 'folders',
		type: 'multiOptions',
		typeOptions: { loadOptionsMethod: 'getFolders', loadOptionsDependsOn: ['mailbox', 'authentication'] },
		default: ['INBOX'],
		displayOptions: { show: { watch: ['selected'] } },
		description: 'Which folders to watch (e.g. INBOX and a "done" or Sent folder). Choose from the list, or specify IDs using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
	},
	{
		displayName: 'On First Activation',
		name: 'firstActivation',
		type: 'options',
		default: 'new',
		options: [
			{ name: 'Only Mail Arriving From Now On', value: 'new' },
			{ name: 'All Unread Mail, Then New Mail', value: 'unseen' },
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
			{ name: 'Delete From the Server', value: 'delete', description: 'IMAP download: the message is removed once the workflow has it' },
		],
		description: 'Done on the server only after the run that received the message finished successfully; a failed run leaves the message untouched',
	},
	{
		displayName: 'Move To',
		name: 'moveTo',
		type: 'string',
		default: 'Archive',
		required: true,
		displayOptions: { show: { afterProcessing: ['move'] } },
		description: 'The folder path, e.g. Archive or INBOX/Done',
	},
	{
		displayName: 'Receive By',
		name: 'mode',
		type: 'options',
		default: 'idle',
		options: [
			{ name: 'Push (IDLE), Polling Where Not Offered', value: 'idle', description: 'New mail arrives within a second' },
			{ name: 'Polling', value: 'poll' },
		],
	},
	{
		displayName: 'Polling Interval (Minutes)',
		name: 'pollMinutes',
		type: 'number',
		default: 15,
		typeOptions: { minValue: 0.1 },
		description: 'How often to look for new mail when polling; with push, how often the folder is checked again anyway (at most every 5 minutes), which also retries failed runs',
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
			{
				displayName: 'Excluded Folders',
				name: 'excludeFolders',
				type: 'string',
				default: DEFAULT_EXCLUDED_FOLDERS,
				description:
					'Folder names (or their last path part) left out of "All Folders" and the folder list, separated by commas. Reset the option to restore the defaults. From version 1.3, "All Folders" also leaves out the folders whose role (SPECIAL-USE) is All Mail, Starred/Flagged, Junk, Trash or Drafts, whatever their name (Gmail\'s "[Gmail]/All Mail" would repeat every message).',
			},
			fetchUncheckedOption,
			deliveryOptions[0],
			includeRawOption,
			{
				displayName: 'Match by Message-ID After UIDVALIDITY Change',
				name: 'matchByMessageId',
				type: 'boolean',
				default: true,
				description: 'Whether, when the server renumbers a folder, messages already received are recognised by Message-ID instead of being received again',
			},
			deliveryOptions[1],
			{
				displayName: 'Max Message Size (MB)',
				name: 'maxSizeMb',
				type: 'number',
				default: 0,
				typeOptions: { minValue: 0 },
				description: 'Larger messages are not downloaded; 0 means no limit',
			},
			runOptions[0],
			oversizedOption,
			ownDomainsOption,
			{
				displayName: 'Reload From',
				name: 'reloadFrom',
				type: 'string',
				default: '',
				placeholder: '2026-11-01 or uid:1234',
				description: 'To receive mail again: a date (mail received since then) or "uid:N" (from UID N on). Applied once when the workflow is next activated; change it to reload again.',
			},
			deliveryOptions[2],
			{
				displayName: 'Retry Failed Runs',
				name: 'retryFailed',
				type: 'boolean',
				default: true,
				description: 'Whether a message whose workflow run failed is delivered again on the next fetch (otherwise it is skipped and stays untouched on the server)',
			},
			runOptions[2],
			runOptions[1],
			{
				displayName: 'Stuck Fetch Timeout (Minutes)',
				name: 'stuckMinutes',
				type: 'number',
				default: 30,
				typeOptions: { minValue: 1 },
				description: 'A fetch running longer is abandoned and the next one proceeds',
			},
		],
	},
];

interface TriggerOptions extends SharedOptions {
	excludeFolders?: string;
	fetchUnchecked?: boolean;
	matchByMessageId?: boolean;
	oversized?: 'headers' | 'skip';
	reloadFrom?: string;
}

/** What the trigger keeps in the workflow's static data (saved by n8n with every emit). */
interface TriggerStaticData extends SharedStaticData {
	/** Part of every deduplication key; raised by a reload, so reloaded mail is not refused as a duplicate. */
	generation?: number;
	/** The Reload From value last applied. */
	reloadApplied?: string;
}


type ConnectionFn = (rejectedToken?: string) => Promise<{ server: ResolvedServer; login: Login }>;

/**
 * Server and login for the node's Authentication and Mailbox, fresh for each connection (tokens
 * renew). Given the access token the server has just rejected, the token is renewed first: a
 * new grant for a Google service account or a Microsoft 365 app, n8n's refresh for a delegated sign-in.
 */
function connectionOf(ctx: ITriggerFunctions | ILoadOptionsFunctions): ConnectionFn {
	return async (rejectedToken) => {
		const authentication = ctx.getNodeParameter('authentication', 'password') as Authentication;
		const mailbox = String(ctx.getNodeParameter('mailbox', '') ?? '');
		const { server, login } = await imapConnection(ctx, { authentication, mailbox, rejectedToken });
		return { server, login };
	};
}

/**
 * The folders to watch (the chosen ones, or all but the excluded) and, for Add Correspondents,
 * the Sent folders: from one folder listing, on one connection, when one is needed.
 */
async function resolveFolders(ctx: ITriggerFunctions, first: { server: ResolvedServer; login: Login }, options: TriggerOptions): Promise<{ folders: string[]; sentFolders: string[] }> {
	const all = ctx.getNodeParameter('watch', 'selected') === 'all';
	return watchFolders(first.server, first.login, {
		all,
		chosen: all ? undefined : (ctx.getNodeParameter('folders', ['INBOX']) as string[]),
		excluded: excludedBy(options.excludeFolders ?? DEFAULT_EXCLUDED_FOLDERS),
		// 1.3: also by role, whatever the folder's name (Gmail's "[Gmail]/All Mail" repeats every message)
		notRoles: ctx.getNode().typeVersion >= 1.3 ? NOT_WATCHED_ROLES : [],
		// correspondents: mail in the Sent folder is outbound (the folder found by its role)
		sentFolders: options.correspondents === true,
	});
}

/**
 * "Test step" in the editor: the newest message of the first folder at once, so the user sees
 * real data; nothing is marked or moved and the trigger's state is not touched.
 */
function manualResponse(
ctx: ITriggerFunctions,
	first: { server: ResolvedServer; login: Login },
	folder: string,
	toItem: (message: WatchedMessage) => Promise<INodeExecutionData>,
): ITriggerResponse {
	const manualTriggerFunction = async () => {
		const newest = await newestMessage(first.server, first.login, folder);
		if (!newest) {
			throw toNodeError(ctx.getNode(), new MailboxError('NOT_FOUND', `${folder} has no messages to show.`, { hint: 'Put a message into the folder and test again, or activate the workflow to wait for new mail.' }));
		}
		ctx.emit([[await toItem(newest)], []]);
	};
	return { manualTriggerFunction };
}

export class MailboxImapTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Mailbox IMAP Trigger',
		name: 'mailboxImapTrigger',
		icon: { light: 'file:mailbox.svg', dark: 'file:mailbox.dark.svg' },
		group: ['trigger'],
		version: [1, 1.1, 1.2, 1.3],
		defaultVersion: 1.3,
		subtitle: '={{$parameter["watch"] === "all" ? "all folders" : ($parameter["folders"] || []).join(", ")}}',
		description: 'Starts the workflow for every new message in an IMAP mailbox, exactly once, by push (IDLE) or polling',
		eventTriggerDescription: 'Waiting for new mail',
		defaults: { name: 'Mailbox IMAP Trigger' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main],
		outputNames: ['Messages', 'Mailbox Status'],
		credentials: [
			{ name: 'mailboxImapApi', required: true, testedBy: 'mailboxImapConnectionTest', displayOptions: { show: { authentication: ['password'] } } },
			{ name: 'mailboxMicrosoftAppApi', required: true, testedBy: 'mailboxMicrosoftAppTest', displayOptions: { show: { authentication: ['microsoftApp'] } } },
			{ name: 'mailboxMicrosoftOAuth2Api', required: true, displayOptions: { show: { authentication: ['microsoftOAuth2'] } } },
			{ name: 'mailboxGoogleServiceAccountApi', required: true, testedBy: 'mailboxGoogleServiceAccountTest', displayOptions: { show: { authentication: ['googleServiceAccount'] } } },
			{ name: 'mailboxGoogleOAuth2Api', required: true, displayOptions: { show: { authentication: ['googleOAuth2'] } } },
		],
		properties,
};

	methods = {
		credentialTest: credentialTests,
		loadOptions: {
			/** The mailbox's folders (with roles) minus the excluded ones, for the Folders choice. */
			async getFolders(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
				const { server, login } = await connectionOf(this)();
				const options = this.getNodeParameter('options', {}) as TriggerOptions;
				const folders = await folderChoices(server, login, excludedBy(options.excludeFolders ?? DEFAULT_EXCLUDED_FOLDERS));
				return folders.map((f) => ({ name: f.specialUse ? `${f.path} (${f.specialUse})` : f.path, value: f.path }));
			},
		},
	};

	async trigger(this: ITriggerFunctions): Promise<ITriggerResponse> {
		const node = this.getNode();
		const logger = n8nLogger(this.logger);
		const connection = connectionOf(this);
		const options = this.getNodeParameter('options', {}) as TriggerOptions;
		const mailboxName = String(this.getNodeParameter('mailbox', '') || '') || undefined;

		let first: { server: ResolvedServer; login: Login };
		let itemOptions: MessageItemOptions;
		let folders: string[];
		try {
			first = await connection();
			const stamp = stampOf(this.getNodeParameter('stamp', {}));
			let sentFolders: string[];
			({ folders, sentFolders } = await resolveFolders(this, first, options));
			itemOptions = { ...itemOptionsOf(options, { mailbox: mailboxName ?? first.login.user, sentFolders }), stamp };
		} catch (error) {
			throw toNodeError(node, error);
		}

		const toItem = async (message: WatchedMessage): Promise<INodeExecutionData> => {
			const raw = message.source ?? message.headers ?? Buffer.alloc(0);
			const parsed = await parseMessage(raw, { headersOnly: message.oversized, includeAttachments: itemOptions.includeAttachments });
			return toExecutionData(
				this,
				{
					mailbox: mailboxName ?? first.login.user,
					folder: message.folder,
					uid: message.uid,
					uidValidity: message.uidValidity,
					flags: message.flags,
					size: message.size,
					internalDate: message.internalDate,
					oversized: message.oversized,
				},
				parsed,
				message.source,
				itemOptions,
			);
		};

		if (this.getMode() === 'manual') return manualResponse(this, first, folders[0] ?? 'INBOX', toItem);

		const staticData = this.getWorkflowStaticData('node') as TriggerStaticData;
		const reload = parseReloadFrom(options.reloadFrom);
		const applyReload = reload && options.reloadFrom !== staticData.reloadApplied;
		if (applyReload) {
			staticData.generation = (staticData.generation ?? 0) + 1;
			staticData.reloadApplied = options.reloadFrom;
		}
		const workflowId = this.getWorkflow().id ?? 'manual';
		const generation = staticData.generation ?? 0;

		const pollIntervalMs = pollIntervalMsOf(this, 15);
		const mailbox = mailboxName ?? first.login.user;

		const watcher: ImapWatcher = new ImapWatcher({
			server: first.server,
			login: async (rejectedToken) => (await connection(rejectedToken)).login,
			folders,
			...persisted(staticData),
			account: accountId('imap', first.server.host, String(first.server.port), first.login.user, mailboxName),
			keyPrefix: `mailbox-imap:${workflowId}:${node.id}:g${generation}`,
			firstActivation: this.getNodeParameter('firstActivation', 'new') as FirstActivation,
			afterProcessing: this.getNodeParameter('afterProcessing', 'none') as AfterProcessing,
			moveTo: this.getNodeParameter('afterProcessing', 'none') === 'move' ? String(this.getNodeParameter('moveTo', '')) : undefined,
			gmail: isGoogleAuthentication(String(this.getNodeParameter('authentication', 'password'))),
			...deliverySettingsOf(options, node.typeVersion),
			matchByMessageId: options.matchByMessageId !== false,
			oversized: options.oversized ?? 'headers',
			fetchUnchecked: options.fetchUnchecked === true,
			mode: this.getNodeParameter('mode', 'idle') as 'idle' | 'poll',
			pollIntervalMs,
			// with push, the folder is re-checked at the polling interval, but at least every 5 minutes
			// (which also notices a connection that died silently during IDLE)
			maxIdleMs: Math.min(pollIntervalMs, 5 * 60_000),
			logger,
			// the messages of a run that failed or waits: one item each, in one emit
			onEvents: (events) => {
				const items = events.flatMap((event) => {
					if (event.type !== 'runFailed' && event.type !== 'runWaiting' && event.type !== 'duplicate') return [];
					const m = event.message;
					return runStatusItem(event, mailbox, m.folder, { uid: m.uid, messageId: m.messageId ?? null }, null) ?? [];
				});
				if (items.length) this.emit([[], items]);
			},
			onEvent: (event) => {
				reportFailure(this, options, event);
				let item: INodeExecutionData | undefined;
				if (event.type === 'accountChanged') {
					item = accountChangedItem(mailbox, event.folder);
				} else if (event.type !== 'skipped' || event.reason === 'oversized') {
					item = folderStatusItem(event, mailbox, watcher.getStats()[event.folder]);
				}
				if (item) this.emit([[], [item]]);
			},
			deliver: async (messages, run) => emitRun(this, await Promise.all(messages.map(toItem)), run.key),
		});

		if (applyReload && reload) for (const folder of folders) watcher.reset(folder, reload as ResetPoint);

		const started = await watcher.start();
		const failed = started.filter((s) => s.error);
		if (failed.length === started.length && failed[0]?.error && failsActivation(this, failed[0].error)) {
			// nothing could be reached at all, and it needs the user: a clear activation error
			await watcher.stop();
			throw toNodeError(node, failed[0].error);
		}
		return { closeFunction: async () => watcher.stop() };
	}
}
