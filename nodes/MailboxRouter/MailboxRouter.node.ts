import {
	NodeConnectionTypes,
	NodeOperationError,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeProperties,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';
import { configError, MailboxError } from '../../lib/errors';
import { splitAddressList } from '../../lib/router/address';
import { DeliveryConnections } from '../../lib/router/connections';
import type { RecipientDecision } from '../../lib/router/decide';
import type { CopyResult, MasterAction, MasterResult } from '../../lib/router/deliver';
import { buildDirectory, mergeDirectories, parseDirectoryJson, type DirectoryInput, type Target } from '../../lib/router/directory';
import { MessageRouter, type EnvelopeTrust, type RecipientSource } from '../../lib/router/route';
import { routeAndDeliver, type MessageItem } from '../../lib/router/run';
import { graphConnection, imapConnection, type Authentication } from '../shared/connection';
import { credentialTests } from '../shared/credential-tests';
import { toNodeError } from '../shared/errors';
import { imapSignInProperties } from '../shared/imap-properties';
import { n8nLogger } from '../shared/logger';

const whenDelivering = { show: { deliver: [true] } };

const properties: INodeProperties[] = [
	{
		displayName:
			'Routes each message of a catch-all (master) mailbox, per recipient: domain redirect, an existing inbox, local-part redirect, an employee\'s inbox, a distribution list\'s inbox (both created when missing), else unknown. Connect it after a Mailbox IMAP or POP3 Trigger on the master mailbox.',
		name: 'notice',
		type: 'notice',
		default: '',
	},
	{
		displayName: 'Inboxes',
		name: 'inboxes',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true, sortable: true },
		placeholder: 'Add Inbox',
		default: {},
		description: 'Inboxes that exist, with the addresses they receive',
		options: [
			{
				displayName: 'Inbox',
				name: 'inbox',
				values: [
					{ displayName: 'Name', name: 'name', type: 'string', default: '', placeholder: 'Sales', description: 'Unique; also the folder name under the inbox folder' },
					{ displayName: 'Addresses', name: 'addresses', type: 'string', default: '', placeholder: 'sales@example.com, orders@example.com', description: 'Addresses this inbox receives, separated by commas' },
					{ displayName: 'Folder', name: 'folder', type: 'string', default: '', placeholder: 'Shared/Sales', description: 'Its own IMAP folder ("/" between levels); leave empty for the inbox folder, then the name' },
				],
			},
		],
	},
	{
		displayName: 'Employees',
		name: 'employees',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true, sortable: true },
		placeholder: 'Add Employee',
		default: {},
		description: "An employee's address goes to the employee's inbox, which is created when it does not exist",
		options: [
			{
				displayName: 'Employee',
				name: 'employee',
				values: [
					{ displayName: 'Name', name: 'name', type: 'string', default: '', placeholder: 'Anna Miller' },
					{ displayName: 'Addresses', name: 'addresses', type: 'string', default: '', placeholder: 'anna.miller@example.com, a.miller@example.com', description: 'Separated by commas' },
					{ displayName: 'Inbox', name: 'inbox', type: 'string', default: '', description: 'Name of the inbox (one of Inboxes, or a new one); leave empty for the employee\'s name' },
				],
			},
		],
	},
	{
		displayName: 'Distribution Lists',
		name: 'distributionLists',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true, sortable: true },
		placeholder: 'Add Distribution List',
		default: {},
		description: "A list's address goes to the list's inbox, which is created when it does not exist. Employees are checked first.",
		options: [
			{
				displayName: 'Distribution List',
				name: 'list',
				values: [
					{ displayName: 'Name', name: 'name', type: 'string', default: '', placeholder: 'Support' },
					{ displayName: 'Addresses', name: 'addresses', type: 'string', default: '', placeholder: 'support@example.com', description: 'Separated by commas' },
					{ displayName: 'Inbox', name: 'inbox', type: 'string', default: '', description: "Name of the inbox (one of Inboxes, or a new one); leave empty for the list's name" },
				],
			},
		],
	},
	{
		displayName: 'Domain Redirects',
		name: 'domainRedirects',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true },
		placeholder: 'Add Domain Redirect',
		default: {},
		description: 'Applied first: xyz@old.example is routed as xyz@new.example. Chains (a → b → c) are followed.',
		options: [
			{
				displayName: 'Rule',
				name: 'rule',
				values: [
					{ displayName: 'From Domain', name: 'from', type: 'string', default: '', placeholder: 'old.example' },
					{ displayName: 'To Domain', name: 'to', type: 'string', default: '', placeholder: 'example.com' },
				],
			},
		],
	},
	{
		displayName: 'Local-Part Redirects',
		name: 'localPartRedirects',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true },
		placeholder: 'Add Local-Part Redirect',
		default: {},
		description: 'Applied when no inbox receives the address: sys.admin@ is routed as sysadmin@, then inboxes are checked again',
		options: [
			{
				displayName: 'Rule',
				name: 'rule',
				values: [
					{ displayName: 'From', name: 'from', type: 'string', default: '', placeholder: 'sys.admin', description: 'A local part (any domain), or a full address (that address only)' },
					{ displayName: 'To', name: 'to', type: 'string', default: '', placeholder: 'sysadmin', description: 'The new local part (same domain), or a full address' },
				],
			},
		],
	},
	{
		displayName: 'Directory From JSON',
		name: 'directoryJson',
		type: 'json',
		default: '',
		placeholder: '{{ { employees: $(\'Employees\').all().map(i => i.json) } }}',
		description:
			'More of the above as JSON, added to what is entered here: usually an expression that reads a database or spreadsheet node. An object with the lists inboxes, employees, distributionLists, domainRedirects, localPartRedirects, exceptions; or rows with a "type" column (inbox, employee, distributionList, domainRedirect, localPartRedirect, exception) and name, addresses, inbox, folder, from, to. Read once per run.',
	},
	{
		displayName: 'Drop Unknown Addresses',
		name: 'dropUnknown',
		type: 'boolean',
		default: false,
		description: 'Whether to drop messages to addresses no rule knows (output "Unknown — Dropped") instead of keeping them in the master mailbox (output "Unknown — Kept")',
	},
	{
		displayName: 'Exceptions',
		name: 'exceptions',
		type: 'string',
		default: '',
		placeholder: '@example.com, ceo@example.org',
		description: 'Unknown addresses that are kept all the same: full addresses, or @domain for every address of a domain; separated by commas',
		displayOptions: { show: { dropUnknown: [true] } },
	},
	{
		displayName: 'Inbox Folder',
		name: 'inboxRoot',
		type: 'string',
		default: 'Inboxes',
		description: 'The folder that holds the inboxes ("/" between levels): an inbox named Sales is "Inboxes/Sales". Empty puts them at the top.',
	},
	{
		displayName: 'Master Mailbox Addresses',
		name: 'masterAddresses',
		type: 'string',
		default: '',
		placeholder: 'catchall@example.com',
		description: "The catch-all mailbox's own addresses, separated by commas: never a recipient (mail servers often put it in Delivered-To)",
	},
	{
		displayName: 'Deliver Into Folders',
		name: 'deliver',
		type: 'boolean',
		default: false,
		description:
			'Whether to store each routed message in its inbox folder (over IMAP, or over Microsoft Graph in a Microsoft 365 mailbox; folders created when missing, no duplicates on a re-run) and then remove it from the master mailbox once every copy is stored',
	},
	{
		displayName: 'Deliver Via',
		name: 'deliverVia',
		type: 'options',
		noDataExpression: true,
		default: 'imap',
		options: [
			{ name: 'IMAP', value: 'imap', description: 'APPEND into the folders of an IMAP account' },
			{
				name: 'Microsoft Graph',
				value: 'graph',
				description:
					'A Microsoft 365 mailbox: each copy created from the raw message as delivered (not a draft) with mailFolder: importMime, a Graph beta request that needs the permission Mail-Advanced.ReadWrite.All (app) or Mail-Advanced.ReadWrite (delegated); the master mailbox is reached over Graph too',
			},
		],
		displayOptions: whenDelivering,
	},
	...imapSignInProperties.map((p): INodeProperties =>
		p.name === 'mailbox'
			? { ...p, displayName: 'Target Mailbox', description: 'The mailbox that holds the inbox folders: leave empty for the account\'s own mailbox, or enter one of the Shared Mailboxes listed in the credential', displayOptions: whenDelivering }
			: { ...p, displayOptions: { show: { deliver: [true], deliverVia: ['imap'] } } },
	),
	{
		displayName: 'Authentication',
		name: 'authentication',
		type: 'options',
		options: [
			{ name: 'Microsoft 365 App (Client Credentials)', value: 'microsoftApp', description: 'The app\'s token for Graph (Mail.ReadWrite and Mail-Advanced.ReadWrite.All)' },
			{ name: 'Microsoft 365 (Delegated OAuth2)', value: 'microsoftOAuth2', description: 'A credential with API: Microsoft Graph (Mail.ReadWrite and Mail-Advanced.ReadWrite)' },
		],
		default: 'microsoftApp',
		displayOptions: { show: { deliver: [true], deliverVia: ['graph'] } },
	},
	{
		displayName: 'Graph URL',
		name: 'graphUrl',
		type: 'string',
		default: 'https://graph.microsoft.com/v1.0',
		description: 'Microsoft Graph, or a national cloud\'s Graph URL; importMime goes to the same host\'s /beta. The token goes only to Graph\'s hosts and to the hosts the credential names.',
		displayOptions: { show: { deliver: [true], deliverVia: ['graph'] } },
	},
	{
		displayName: 'Master Mailbox',
		name: 'masterMailbox',
		type: 'string',
		default: '',
		placeholder: 'catchall@example.com',
		description: "The mailbox the messages come from (the trigger's): leave empty for the account's own mailbox, or enter one of the credential's Shared Mailboxes",
		displayOptions: whenDelivering,
	},
	{
		displayName: 'After Delivery',
		name: 'afterDelivery',
		type: 'options',
		default: 'delete',
		description: 'What happens to the message in the master mailbox once every copy is stored. A message with an unknown recipient that is kept always stays.',
		options: [
			{ name: 'Delete From Master Mailbox', value: 'delete', description: 'Over Microsoft Graph: to Deleted Items' },
			{ name: 'Keep in Master Mailbox', value: 'keep' },
			{ name: 'Move to Folder', value: 'move', description: 'Move it to a folder of the master mailbox, e.g. an archive' },
		],
		displayOptions: whenDelivering,
	},
	{
		displayName: 'Move To Folder',
		name: 'moveToFolder',
		type: 'string',
		default: 'Routed',
		description: 'Folder of the master mailbox ("/" between levels), created when missing',
		displayOptions: { show: { deliver: [true], afterDelivery: ['move'] } },
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'Case-Sensitive Local Part',
				name: 'caseSensitiveLocalPart',
				type: 'boolean',
				default: false,
				description: 'Whether Anna@example.com and anna@example.com are different addresses (domains are always compared without case)',
			},
			{
				displayName: 'Own Domains',
				name: 'ownDomains',
				type: 'string',
				default: '',
				placeholder: 'example.com, example.org',
				description: 'To/Cc/Bcc addresses of other domains (a customer in Cc) are not recipients; with Trust Envelope Headers "Any, for Own Domains Only", the envelope headers below the top count for these domains only. Leave empty for the domains the rules name; * for all domains.',
			},
			{
				displayName: 'Plus-Addressing Separator',
				name: 'subaddressSeparator',
				type: 'string',
				default: '+',
				description: 'Anna+news@example.com is routed as anna@example.com when no rule names it with the tag. Empty turns this off.',
			},
			{
				displayName: 'Raw Message Property',
				name: 'rawProperty',
				type: 'string',
				default: 'raw',
				description:
					'Binary property with the whole message (.eml) to deliver: the triggers\' "Include Raw Message" option. Without it (or for messages over the size limit) the message is read from the master mailbox by its UID.',
			},
			{
				displayName: 'Recipients From',
				name: 'recipientSource',
				type: 'options',
				default: 'envelopeThenHeaders',
				options: [
					{ name: 'Envelope and To/Cc', value: 'envelopeAndHeaders', description: 'Both together' },
					{ name: 'Envelope Only', value: 'envelope', description: 'Delivered-To, X-Original-To, Envelope-To' },
					{ name: 'Envelope, Else To/Cc', value: 'envelopeThenHeaders', description: 'Delivered-To, X-Original-To and Envelope-To; To, Cc and Bcc when the message has none' },
					{ name: 'To/Cc Only', value: 'headers', description: 'To, Cc and Bcc' },
				],
			},
			{
				displayName: 'Trust Envelope Headers',
				name: 'trustEnvelope',
				type: 'options',
				default: 'top',
				description:
					'Which Delivered-To, X-Original-To and Envelope-To headers name a recipient. Your mail server writes its own on top of the message, above its Received header; those further down were written by the sender or by a server before yours (a Gmail account that forwards keeps its own Delivered-To). Except with "Any (Version 1)", Drop Unknown Addresses drops only on an address from the topmost envelope header: an unknown address from To/Cc/Bcc or from an envelope header further down keeps the message. Without this option: "Added by Your Server (Topmost)" (version 1 of the node: "Any (Version 1)").',
				options: [
					{ name: 'Added by Your Server (Topmost)', value: 'top', description: 'Of each header only the topmost, when it stands above the first Received header' },
					{ name: 'Any (Version 1)', value: 'any', description: 'Every one, wherever it stands, and Drop Unknown Addresses drops on any header' },
					{ name: 'Any, for Own Domains Only', value: 'ownDomains', description: 'The topmost, and any further down that names an address of your own domains (see Own Domains)' },
				],
			},
		],
	},
];

interface RouterOptionValues {
	caseSensitiveLocalPart?: boolean;
	ownDomains?: string;
	subaddressSeparator?: string;
	rawProperty?: string;
	recipientSource?: RecipientSource;
	trustEnvelope?: EnvelopeTrust;
}

/** The first version that trusts only the receiving server's envelope headers unless told otherwise. */
const TRUST_TOP_VERSION = 1.1;

/** Trust Envelope Headers: the option, else the default of the node's version (1: every header, as it always did). */
function envelopeTrustOf(options: RouterOptionValues, typeVersion: number | undefined): EnvelopeTrust {
	if (options.trustEnvelope === 'top' || options.trustEnvelope === 'ownDomains' || options.trustEnvelope === 'any') return options.trustEnvelope;
	return (typeVersion ?? 1) >= TRUST_TOP_VERSION ? 'top' : 'any';
}

type Rows<K extends string> = { [key in K]?: Array<Record<string, unknown>> };

const str = (value: unknown): string => (typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value));
const list = (value: unknown): string[] => splitAddressList(str(value));

/** The directory entered as node parameters. */
function directoryFromParameters(ctx: IExecuteFunctions): DirectoryInput {
	const rows = <K extends string>(name: string, key: K) => ((ctx.getNodeParameter(name, 0, {}) as Rows<K>)[key] ?? []);
	return {
		inboxes: rows('inboxes', 'inbox').map((r) => ({ name: str(r.name), addresses: list(r.addresses), folder: str(r.folder) || undefined })),
		employees: rows('employees', 'employee').map((r) => ({ name: str(r.name), addresses: list(r.addresses), inbox: str(r.inbox) || undefined })),
		distributionLists: rows('distributionLists', 'list').map((r) => ({ name: str(r.name), addresses: list(r.addresses), inbox: str(r.inbox) || undefined })),
		domainRedirects: rows('domainRedirects', 'rule').map((r) => ({ from: str(r.from), to: str(r.to) })),
		localPartRedirects: rows('localPartRedirects', 'rule').map((r) => ({ from: str(r.from), to: str(r.to) })),
		exceptions: ctx.getNodeParameter('dropUnknown', 0, false) ? list(ctx.getNodeParameter('exceptions', 0, '')) : [],
	};
}

const PARAMETER_NAMES: Record<string, string> = {
	inboxes: 'Inboxes',
	employees: 'Employees',
	distributionLists: 'Distribution Lists',
	domainRedirects: 'Domain Redirects',
	localPartRedirects: 'Local-Part Redirects',
	exceptions: 'Exceptions',
	directoryJson: 'Directory From JSON',
};

/** A directory error that starts with the parameter's name as the user sees it. */
function withParameterName(error: unknown): unknown {
	if (error instanceof MailboxError && error.field && PARAMETER_NAMES[error.field]) return configError(error.field, `${PARAMETER_NAMES[error.field]}: ${error.message}`, error.hint);
	return error;
}

/** The router for the run: parameters and JSON directory, each checked on its own first so an error names the right parameter. */
function routerFor(ctx: IExecuteFunctions): MessageRouter {
	const options = ctx.getNodeParameter('options', 0, {}) as RouterOptionValues;
	const rules = { caseSensitiveLocalPart: options.caseSensitiveLocalPart === true, subaddressSeparator: options.subaddressSeparator ?? '+' };
	const inboxRoot = str(ctx.getNodeParameter('inboxRoot', 0, 'Inboxes'));
	const settings = { rules, inboxRoot };
	const fromParameters = directoryFromParameters(ctx);
	buildDirectory(fromParameters, settings);
	const json = ctx.getNodeParameter('directoryJson', 0, '') as unknown;
	const fromJson = parseDirectoryJson(json, 'directoryJson');
	const jsonField = { inboxes: 'directoryJson', employees: 'directoryJson', distributionLists: 'directoryJson', domainRedirects: 'directoryJson', localPartRedirects: 'directoryJson', exceptions: 'directoryJson' };
	buildDirectory(fromJson, settings, jsonField);
	return new MessageRouter(mergeDirectories(fromParameters, fromJson), {
		...settings,
		dropUnknown: ctx.getNodeParameter('dropUnknown', 0, false) as boolean,
		recipientSource: options.recipientSource ?? 'envelopeThenHeaders',
		trustEnvelope: envelopeTrustOf(options, ctx.getNode().typeVersion),
		masterAddresses: list(ctx.getNodeParameter('masterAddresses', 0, '')),
		ownDomains: list(options.ownDomains),
	});
}

function targetJson(target: Target): IDataObject {
	return { type: target.type, name: target.name, inbox: target.inbox, folder: target.folder, inboxIsNew: target.inboxIsNew };
}

function decisionJson(d: RecipientDecision): IDataObject {
	return { recipient: d.recipient, source: d.source, address: d.address, finalAddress: d.finalAddress, path: d.path.map((p) => ({ ...p })) };
}

function copyJson(copy: CopyResult): IDataObject {
	return { status: copy.status, folder: copy.folder, uid: copy.uid, ...(copy.id ? { id: copy.id } : {}), folderCreated: copy.folderCreated, error: copy.error ? copy.error.fullMessage : null };
}

function masterJson(master: MasterResult): IDataObject {
	return { status: master.status, reason: master.reason, uid: master.uid ?? null, ...(master.id ? { id: master.id } : {}), error: master.error ? master.error.fullMessage : null };
}

export class MailboxRouter implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Mailbox Router',
		name: 'mailboxRouter',
		icon: { light: 'file:mailbox.svg', dark: 'file:mailbox.dark.svg' },
		group: ['transform'],
		version: [1, 1.1],
		defaultVersion: 1.1,
		subtitle: '={{$parameter["deliver"] ? "route and deliver" : "route"}}',
		description: 'Distribute the mail of a catch-all (master) mailbox to inboxes: redirects, employees, distribution lists, unknown addresses kept or dropped',
		defaults: { name: 'Mailbox Router' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main, NodeConnectionTypes.Main],
		outputNames: ['Routed', 'Unknown — Kept', 'Unknown — Dropped'],
		credentials: [
			{ name: 'mailboxImapApi', required: true, testedBy: 'mailboxImapConnectionTest', displayOptions: { show: { deliver: [true], authentication: ['password'], deliverVia: ['imap'] } } },
			{ name: 'mailboxMicrosoftAppApi', required: true, testedBy: 'mailboxMicrosoftAppTest', displayOptions: { show: { deliver: [true], authentication: ['microsoftApp'] } } },
			{ name: 'mailboxMicrosoftOAuth2Api', required: true, displayOptions: { show: { deliver: [true], authentication: ['microsoftOAuth2'] } } },
			{ name: 'mailboxGoogleServiceAccountApi', required: true, testedBy: 'mailboxGoogleServiceAccountTest', displayOptions: { show: { deliver: [true], deliverVia: ['imap'], authentication: ['googleServiceAccount'] } } },
			{ name: 'mailboxGoogleOAuth2Api', required: true, displayOptions: { show: { deliver: [true], deliverVia: ['imap'], authentication: ['googleOAuth2'] } } },
		],
		properties,
	};

	methods = {
		credentialTest: credentialTests,
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const routed: INodeExecutionData[] = [];
		const kept: INodeExecutionData[] = [];
		const dropped: INodeExecutionData[] = [];
		let messageRouter: MessageRouter;
		try {
			messageRouter = routerFor(this);
		} catch (error) {
			throw toNodeError(this.getNode(), withParameterName(error));
		}
		const deliver = this.getNodeParameter('deliver', 0, false) as boolean;
		const options = this.getNodeParameter('options', 0, {}) as RouterOptionValues;
		const rawProperty = str(options.rawProperty ?? 'raw') || 'raw';
		let masterAction: MasterAction = { action: 'keep' };
		if (deliver) {
			const after = this.getNodeParameter('afterDelivery', 0, 'delete') as string;
			if (after === 'move') {
				const folder = str(this.getNodeParameter('moveToFolder', 0, 'Routed')).trim();
				if (!folder) throw new NodeOperationError(this.getNode(), '"Move To Folder" is empty.', { description: 'Enter the folder of the master mailbox that delivered messages go to, or choose another "After Delivery".' });
				masterAction = { action: 'move', folder };
			} else if (after === 'delete') masterAction = { action: 'delete' };
		}
		const connections = new DeliveryConnections(
			() => ({
				targetMailbox: str(this.getNodeParameter('mailbox', 0, '')).trim(),
				masterMailbox: str(this.getNodeParameter('masterMailbox', 0, '')).trim(),
				via: this.getNodeParameter('deliverVia', 0, 'imap') === 'graph' ? 'graph' : 'imap',
			}),
			{
				imap: (mailbox) => imapConnection(this, { authentication: this.getNodeParameter('authentication', 0, 'password') as Authentication, mailbox, itemIndex: 0 }),
				graph: (mailbox) => graphConnection(this, { authentication: str(this.getNodeParameter('authentication', 0, 'microsoftApp')), mailbox, graphUrl: str(this.getNodeParameter('graphUrl', 0, '')) }),
			},
			'inboxRoot',
			n8nLogger(this.logger),
		);

		try {
			for (let i = 0; i < items.length; i++) {
				const item = items[i];
				const json = item.json ?? {};
				const base = (routing: IDataObject): INodeExecutionData => ({ json: { ...json, routing }, binary: item.binary, pairedItem: { item: i } });
				try {
					const result = await routeAndDeliver({
						item: json as MessageItem,
						messageRouter,
						deliver,
						masterAction,
						deliverer: () => connections.open(),
						raw: async () => (item.binary?.[rawProperty] && json.oversized !== true ? this.helpers.getBinaryDataBuffer(i, rawProperty) : undefined),
					});
					if (result.stopError && !this.continueOnFail()) throw result.stopError;
					const ignored = result.ignored.map((x) => ({ ...x }));
					const master = result.master ? masterJson(result.master) : null;
					for (const copy of result.routed) {
						const delivery = copy.delivery;
						const out = base({ outcome: 'routed', target: targetJson(copy.target), recipients: copy.recipients.map(decisionJson), delivery: delivery ? copyJson(delivery) : null, master, ignored });
						if (delivery?.error) out.json.error = delivery.error.fullMessage;
						routed.push(out);
					}
					if (result.kept.length) kept.push(base({ outcome: 'unknownKept', recipients: result.kept.map(decisionJson), master, ignored }));
					if (result.dropped.length) dropped.push(base({ outcome: 'unknownDropped', recipients: result.dropped.map(decisionJson), master, ignored }));
				} catch (error) {
					const nodeError = toNodeError(this.getNode(), error, i);
					if (!this.continueOnFail()) throw nodeError;
					routed.push({ json: { ...json, error: nodeError.message, description: nodeError.description ?? null }, pairedItem: { item: i } });
				}
			}
		} finally {
			await connections.close();
		}
		return [routed, kept, dropped];
	}
}
