import {
	NodeConnectionTypes,
	type INodeExecutionData,
	type INodeProperties,
	type INodeType,
	type INodeTypeDescription,
	type ITriggerFunctions,
	type ITriggerResponse,
} from 'n8n-workflow';
import type { Login, ResolvedServer } from '../../lib/connection/options';
import { MailboxError } from '../../lib/errors';
import { parseMessage } from '../../lib/message/parse';
import type { Pop3LoginMethod } from '../../lib/pop3/connect';
import { newestMessage } from '../../lib/pop3/newest';
import { Pop3Watcher, type Pop3WatchEvent, type Pop3WatchedMessage, type Pop3WatchStats } from '../../lib/pop3/watch';
import { credentialTests } from '../shared/credential-tests';
import { toNodeError } from '../shared/errors';
import { n8nLogger } from '../shared/logger';
import { attachmentsPrefixOption, downloadAttachmentsOption, includeRawOption, itemOptionsOf, toExecutionData, correspondentsOption, ownDomainsOption, stampOf, stampProperty, type MessageItemOptions, aiBodyOption, bodyMaxCharsOption } from '../shared/message-item';
import { pop3Connection, type Authentication } from '../shared/connection';
import { googleSignInOptions, microsoftSignInOptions } from '../shared/imap-properties';
import { fetchUncheckedOption, oversizedOption, stuckPollOption } from '../shared/trigger-properties';
import { accountId } from '../../lib/delivery/message';
import { accountChangedItem, deliveryOptions, deliverySettingsOf, emitRun, persisted, pollIntervalMsOf, runOptions, runStatusItem, startWatching, statusEmitter, statusItem, type TriggerOptions as SharedOptions, type TriggerStaticData } from '../shared/trigger-runs';

const properties: INodeProperties[] = [
	{
		displayName: 'Authentication',
		name: 'authentication',
		type: 'options',
		options: [
			{ name: 'Password or APOP (POP3)', value: 'password' },
			...microsoftSignInOptions,
			...googleSignInOptions,
		],
		default: 'password',
	},
	{
		displayName: 'On First Activation',
		name: 'firstActivation',
		type: 'options',
		default: 'new',
		options: [
			{ name: 'Only Mail Arriving From Now On', value: 'new' },
			{ name: 'All Mail on the Server, Then New Mail', value: 'all' },
		],
		description: 'What the trigger starts with the first time. Later activations continue where the last one stopped.',
	},
	{
		displayName: 'Polling Interval (Minutes)',
		name: 'pollMinutes',
		type: 'number',
		default: 15,
		typeOptions: { minValue: 0.1 },
		description: 'How often to look for new mail (POP3 has no push)',
	},
	{
		displayName: 'Delete From Server After Fetch',
		name: 'deleteAfterFetch',
		type: 'boolean',
		default: false,
		description:
			'Whether to delete a message from the server once the workflow run that received it has succeeded (DELE, committed by QUIT on the next poll). Mail received before this was switched on is not deleted by it.',
	},
	{
		displayName: 'Delete From Server After (Days)',
		name: 'deleteAfterDays',
		type: 'number',
		default: 0,
		typeOptions: { minValue: 0 },
		description: 'Delete received mail this many days after the trigger first saw it; 0 keeps it',
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
			fetchUncheckedOption,
			includeRawOption,
			deliveryOptions[0],
			deliveryOptions[1],
			{
				displayName: 'Max Message Size (MB)',
				name: 'maxSizeMb',
				type: 'number',
				default: 0,
				typeOptions: { minValue: 0 },
				description: 'Larger messages are not downloaded (LIST size); 0 means no limit',
			},
			runOptions[0],
			oversizedOption,
			ownDomainsOption,
			deliveryOptions[2],
			{
				displayName: 'Retry Failed Runs',
				name: 'retryFailed',
				type: 'boolean',
				default: true,
				description: 'Whether a message whose workflow run failed is delivered again on the next poll (otherwise it is skipped and stays on the server)',
			},
			runOptions[2],
			runOptions[1],
			stuckPollOption,
		],
	},
];

interface TriggerOptions extends SharedOptions {
	fetchUnchecked?: boolean;
	oversized?: 'headers' | 'skip';
}

function pop3StatusItem(event: Pop3WatchEvent, mailbox: string, stats: Pop3WatchStats): INodeExecutionData | undefined {
	const statistics = {
		lastFetchAt: stats.lastFetchAt?.toISOString() ?? null,
		lastFetchMs: stats.lastFetchMs ?? null,
		messagesOnServer: stats.messages,
		delivered: stats.delivered,
		acknowledged: stats.acknowledged,
		untouched: stats.untouched,
		failedRuns: stats.failed,
		skipped: stats.skipped,
		oversized: stats.oversized,
		deleted: stats.deleted,
	};
	if (event.type === 'skipped') {
		return { json: { mailbox, folder: 'INBOX', statistics, status: 'skipped', title: 'A message over the size limit was not received', uidl: event.uidl, size: event.size, reason: event.reason } };
	}
	if (event.type === 'failing' || event.type === 'updated' || event.type === 'recovered') return statusItem(event, mailbox, 'INBOX', statistics);
	if (event.type === 'runFailed' || event.type === 'runWaiting' || event.type === 'duplicate') return runStatusItem(event, mailbox, 'INBOX', { uidl: event.message.uidl }, statistics);
	if (event.type === 'accountChanged') return accountChangedItem(mailbox, 'INBOX');
	return undefined;
}

export class MailboxPop3Trigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Mailbox POP3 Trigger',
		name: 'mailboxPop3Trigger',
		icon: { light: 'file:mailbox.svg', dark: 'file:mailbox.dark.svg' },
		group: ['trigger'],
		version: [1, 1.1, 1.2],
		defaultVersion: 1.2,
		subtitle: '={{"every " + $parameter["pollMinutes"] + " min"}}',
		description: 'Starts the workflow for every new message in a POP3 mailbox, exactly once; APOP, delete after fetch or after N days',
		eventTriggerDescription: 'Waiting for new mail',
		defaults: { name: 'Mailbox POP3 Trigger' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main],
		outputNames: ['Messages', 'Mailbox Status'],
		credentials: [
			{ name: 'mailboxPop3Api', required: true, testedBy: 'mailboxPop3ConnectionTest', displayOptions: { show: { authentication: ['password'] } } },
			{ name: 'mailboxMicrosoftAppApi', required: true, testedBy: 'mailboxMicrosoftAppTest', displayOptions: { show: { authentication: ['microsoftApp'] } } },
			{ name: 'mailboxMicrosoftOAuth2Api', required: true, displayOptions: { show: { authentication: ['microsoftOAuth2'] } } },
			{ name: 'mailboxGoogleServiceAccountApi', required: true, testedBy: 'mailboxGoogleServiceAccountTest', displayOptions: { show: { authentication: ['googleServiceAccount'] } } },
			{ name: 'mailboxGoogleOAuth2Api', required: true, displayOptions: { show: { authentication: ['googleOAuth2'] } } },
		],
		properties,
	};

	methods = { credentialTest: credentialTests };

	async trigger(this: ITriggerFunctions): Promise<ITriggerResponse> {
		const node = this.getNode();
		const logger = n8nLogger(this.logger);
		const options = this.getNodeParameter('options', {}) as TriggerOptions;
		const authentication = this.getNodeParameter('authentication', 'password') as Authentication;
		// Server and login for each session: a token is fetched (and renewed) per session, and renewed
		// at once when the server has just rejected it (`rejectedToken`).
		const connection = async (rejectedToken?: string): Promise<{ server: ResolvedServer; login: Login; loginMethod: Pop3LoginMethod }> => {
			const { server, login, loginMethod } = await pop3Connection(this, { authentication, rejectedToken });
			return { server, login, loginMethod };
		};
		let server: ResolvedServer;
		let login: Login;
		let loginMethod: Pop3LoginMethod;
		let itemOptions: MessageItemOptions;
		try {
			({ server, login, loginMethod } = await connection());
			// POP3 has only INBOX: all its mail is inbound
			itemOptions = { ...itemOptionsOf(options, { mailbox: login.user, sentFolders: [] }), stamp: stampOf(this.getNodeParameter('stamp', {})) };
		} catch (error) {
			throw toNodeError(node, error);
		}
		const mailbox = `${login.user}@${server.host}`;

		const toItem = async (message: Pop3WatchedMessage): Promise<INodeExecutionData> => {
			const raw = message.source ?? message.headers ?? Buffer.alloc(0);
			const parsed = await parseMessage(raw, { headersOnly: message.oversized, includeAttachments: itemOptions.includeAttachments });
			return toExecutionData(this, { mailbox, folder: 'INBOX', uidl: message.uidl, size: message.size, oversized: message.oversized }, parsed, message.source, itemOptions);
		};

		if (this.getMode() === 'manual') {
			// "Test step": the newest message on the server at once; nothing deleted, state untouched.
			const manualTriggerFunction = async () => {
				const newest = await newestMessage(server, login, { name: mailbox, loginMethod, logger }).catch((error: unknown) => {
					throw toNodeError(node, error);
				});
				if (!newest) {
					throw toNodeError(node, new MailboxError('NOT_FOUND', `The POP3 mailbox ${mailbox} has no messages to show.`, { hint: 'Send a message to it and test again, or activate the workflow to wait for new mail.' }));
				}
				this.emit([[await toItem(newest)], []]);
			};
			return { manualTriggerFunction };
		}

		const staticData = this.getWorkflowStaticData('node') as TriggerStaticData;
		const workflowId = this.getWorkflow().id ?? 'manual';
		const watcher: Pop3Watcher = new Pop3Watcher({
			server,
			login: authentication === 'password' ? login : async (rejectedToken) => (await connection(rejectedToken)).login,
			loginMethod,
			name: mailbox,
			...persisted(staticData),
			account: accountId('pop3', server.host, String(server.port), login.user),
			keyPrefix: `mailbox-pop3:${workflowId}:${node.id}`,
			firstActivation: this.getNodeParameter('firstActivation', 'new') as 'new' | 'all',
			pollIntervalMs: pollIntervalMsOf(this, 15),
			deleteAfterFetch: this.getNodeParameter('deleteAfterFetch', false) === true,
			deleteAfterDays: Number(this.getNodeParameter('deleteAfterDays', 0)) || 0,
			oversized: options.oversized ?? 'headers',
			fetchUnchecked: options.fetchUnchecked === true,
			...deliverySettingsOf(options, node.typeVersion),
			logger,
			...statusEmitter(this, options, () => watcher.getStats(), (event: Pop3WatchEvent, stats) => pop3StatusItem(event, mailbox, stats)),
			deliver: async (messages, run) => emitRun(this, await Promise.all(messages.map(toItem)), run.key),
		});

		return startWatching(this, watcher);
	}
}
