import { NodeConnectionTypes, NodeOperationError, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties, type INodeType, type INodeTypeDescription } from 'n8n-workflow';
import { connectGraph, type GraphClient } from '../../lib/graph/client';
import { composeForGraph, sendComposedViaGraph } from '../../lib/graph/send';
import { SentCopies } from '../../lib/imap/sent-copy';
import { composeMessage, parseAllowedSenders, type ComposeAttachment, type ComposeInput, type ReplyTarget } from '../../lib/smtp/compose';
import { SmtpSender } from '../../lib/smtp/send';
import { MAX_CONNECTIONS, MAX_IN_FLIGHT, sendAll, SentCopyFailedError, type Sent, type SendAllResult, type SendFailure } from '../../lib/smtp/send-all';
import { graphConnection, imapConnection, isGoogleAuthentication, smtpConnection, type Authentication, type ServerSource } from '../shared/connection';
import { credentialTests } from '../shared/credential-tests';
import { toNodeError } from '../shared/errors';
import { googleSignInOptions } from '../shared/imap-properties';
import { n8nLogger } from '../shared/logger';

const viaSmtp = { sendVia: ['smtp'] };
const viaGoogle = { authentication: ['googleServiceAccount', 'googleOAuth2'] };
const viaGraph = { sendVia: ['graph'] };

const properties: INodeProperties[] = [
	{
		displayName: 'Send Via',
		name: 'sendVia',
		type: 'options',
		noDataExpression: true,
		options: [
			{ name: 'SMTP', value: 'smtp', description: 'Any mail server, Microsoft 365 included' },
			{
				name: 'Microsoft Graph',
				value: 'graph',
				description:
					'Microsoft 365 over HTTPS (sendMail with the message as MIME), where SMTP AUTH is switched off. Exchange saves every message sent this way in Sent Items, so no copy is appended.',
			},
		],
		default: 'smtp',
	},
	{
		displayName: 'Authentication',
		name: 'authentication',
		type: 'options',
		options: [
			{ name: 'Password (SMTP)', value: 'password', description: 'The Mailbox SMTP credential: user and password, or none for a relay' },
			{ name: 'Microsoft 365 App (Client Credentials)', value: 'microsoftApp', description: 'XOAUTH2 with the app token; the app needs SMTP.SendAsApp' },
			{ name: 'Microsoft 365 (Delegated OAuth2)', value: 'microsoftOAuth2', description: 'XOAUTH2 with the signed-in user\'s token' },
			...googleSignInOptions,
		],
		default: 'password',
		displayOptions: { show: viaSmtp },
	},
	{
		displayName: 'Authentication',
		name: 'authentication',
		type: 'options',
		options: [
			{ name: 'Microsoft 365 App (Client Credentials)', value: 'microsoftApp', description: 'The app\'s token for Graph; the app needs the application permission Mail.Send' },
			{
				name: 'Microsoft 365 (Delegated OAuth2)',
				value: 'microsoftOAuth2',
				description: 'The signed-in user\'s token, from a credential with API: Microsoft Graph (delegated permission Mail.Send)',
			},
		],
		default: 'microsoftApp',
		displayOptions: { show: viaGraph },
	},
	{
		displayName: 'Mailbox',
		name: 'mailbox',
		type: 'string',
		default: '',
		placeholder: 'info@example.com',
		description:
			'The mailbox that sends (its Sent Items keep the copy): leave empty for the credential\'s own mailbox, or enter one of the Shared Mailboxes listed in the credential. A From Email other than the mailbox\'s address needs Send As (or Send on Behalf) permission in Exchange.',
		displayOptions: { show: viaGraph },
	},
	{
		displayName: 'Graph URL',
		name: 'graphUrl',
		type: 'string',
		default: 'https://graph.microsoft.com/v1.0',
		description: 'Microsoft Graph, or a national cloud\'s Graph URL (e.g. https://graph.microsoft.us/v1.0). The token goes only to Graph\'s hosts and to the hosts the credential names.',
		displayOptions: { show: viaGraph },
	},
	{
		displayName: 'SMTP Server',
		name: 'smtpHost',
		type: 'string',
		default: 'smtp.office365.com:587',
		description: 'Host (and port) of the SMTP server for Microsoft 365 sign-ins; STARTTLS is used. STARTTLS on port 587 often works where SSL/TLS on port 465 is blocked. The token goes only to Exchange Online\'s hosts and to the hosts the credential names.',
		displayOptions: { show: { authentication: ['microsoftApp', 'microsoftOAuth2'] }, hide: viaGraph },
	},
	{
		displayName: 'From Email',
		name: 'fromEmail',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'info@example.com',
	},
	{
		displayName: 'From Name',
		name: 'fromName',
		type: 'string',
		default: '',
		placeholder: 'Example Inc. Sales',
		description: 'Display name shown with the sender address',
	},
	{
		displayName: 'To Email',
		name: 'toEmail',
		type: 'string',
		default: '',
		placeholder: 'info@example.com, "Jane Doe" <jane@example.com>',
		description: 'Recipients, separated by commas. When replying and left empty: the Reply-To or From of the message replied to.',
	},
	{
		displayName: 'Subject',
		name: 'subject',
		type: 'string',
		default: '',
		description: 'When replying and left empty: "Re: " and the subject of the message replied to',
	},
	{
		displayName: 'Email Format',
		name: 'emailFormat',
		type: 'options',
		options: [
			{ name: 'Text', value: 'text' },
			{ name: 'HTML', value: 'html', description: 'HTML, with a plain-text part generated from it' },
			{ name: 'Both', value: 'both', description: 'HTML and a plain-text part of your own' },
		],
		default: 'text',
	},
	{
		displayName: 'Text',
		name: 'text',
		type: 'string',
		typeOptions: { rows: 5 },
		default: '',
		displayOptions: { show: { emailFormat: ['text', 'both'] } },
	},
	{
		displayName: 'HTML',
		name: 'html',
		type: 'string',
		typeOptions: { rows: 5 },
		default: '',
		displayOptions: { show: { emailFormat: ['html', 'both'] } },
	},
	{
		displayName: 'Reply to the Input Message',
		name: 'reply',
		type: 'boolean',
		default: false,
		description:
			'Whether to send the mail as a reply to the message of the input item (as the Mailbox triggers output it): In-Reply-To and References from its messageId and references, "Re:" before its subject, so that mail apps show it in the thread',
	},
	{
		displayName: 'Save a Copy in the Sent Folder',
		name: 'saveToSent',
		type: 'boolean',
		default: false,
		description: 'Whether to store the sent message, exactly as sent and marked as read, in the IMAP Sent folder so that phones and mail apps show it',
		displayOptions: { hide: { ...viaGraph, ...viaGoogle } },
	},
	{
		displayName: 'Gmail keeps every message sent through its SMTP server in Sent Mail itself, so no copy is appended. The message goes out as the credential\'s Mailbox; another From Email must be one of its "Send mail as" addresses in Gmail.',
		name: 'gmailSentNotice',
		type: 'notice',
		default: '',
		displayOptions: { show: { ...viaSmtp, ...viaGoogle } },
	},
	{
		displayName: 'Sent Folder',
		name: 'sentFolder',
		type: 'string',
		default: '',
		placeholder: 'Sent',
		description: 'Leave empty for the folder the server marks as Sent (SPECIAL-USE), or enter the folder name',
		displayOptions: { show: { saveToSent: [true] }, hide: { ...viaGraph, ...viaGoogle } },
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'Attachments',
				name: 'attachments',
				type: 'string',
				default: '',
				placeholder: 'data, invoice',
				description: 'Names of the binary properties of the input item to attach, separated by commas; * attaches all of them. File names and types are taken from the binary data.',
			},
			{ displayName: 'BCC Email', name: 'bccEmail', type: 'string', default: '', description: 'Blind copies, separated by commas' },
			{ displayName: 'CC Email', name: 'ccEmail', type: 'string', default: '', description: 'Copies, separated by commas' },
			{
				displayName: 'Custom Headers',
				name: 'headers',
				type: 'fixedCollection',
				typeOptions: { multipleValues: true },
				default: {},
				options: [
					{
						displayName: 'Header',
						name: 'header',
						values: [
							{ displayName: 'Name', name: 'name', type: 'string', default: '', placeholder: 'X-Ticket-ID' },
							{ displayName: 'Value', name: 'value', type: 'string', default: '' },
						],
					},
				],
			},
			{
				displayName: 'Reply To Message ID',
				name: 'inReplyTo',
				type: 'string',
				default: '',
				placeholder: 'e.g. <ID@example.com>',
				description: 'The Message-ID to reply to, instead of the input item\'s messageId (used with "Reply to the Input Message")',
			},
			{ displayName: 'Reply-To Email', name: 'replyTo', type: 'string', default: '', description: 'Where replies should go, separated by commas' },
		],
	},
	{
		displayName: 'Server',
		name: 'serverOverride',
		type: 'string',
		default: '',
		placeholder: 'smtp.example.com:587',
		description:
			'This node\'s own SMTP server (host, or host:port). With the credential\'s login only the credential\'s own host, e.g. another port, at least as protected as the credential asks; without a login any server (the credential\'s "allow self-signed" applies to its own host only). Leave empty to use the credential\'s server (or the provider or instance default it names; an instance default the n8n admin did not set means this machine\'s mail server, localhost:25). The output says which server was used and where it came from.',
		displayOptions: { show: { authentication: ['password'] }, hide: viaGraph },
	},
	{
		displayName: 'Server Security',
		name: 'serverOverrideSecurity',
		type: 'options',
		default: 'starttls',
		options: [
			{ name: 'STARTTLS', value: 'starttls', description: 'Port 587 by default; often works where SSL/TLS on port 465 is blocked' },
			{ name: 'SSL/TLS', value: 'tls', description: 'Port 465 by default' },
			{ name: 'STARTTLS if Offered', value: 'starttls-optional' },
			{ name: 'None', value: 'none', description: 'Port 25 by default; only on a trusted network' },
		],
		displayOptions: { show: { authentication: ['password'] }, hide: { serverOverride: [''], ...viaGraph } },
	},
	{
		displayName: 'Account Rules',
		name: 'account',
		type: 'collection',
		placeholder: 'Add Rule',
		default: {},
		description: 'What every message sent with this account gets or must meet',
		options: [
			{
				displayName: 'Allowed Sender Addresses',
				name: 'allowedSenders',
				type: 'string',
				default: '',
				placeholder: 'info@example.com, @example.org',
				description: 'Addresses that may be used as From Email, separated by commas; @domain allows a whole domain. Any other From is refused and nothing is sent.',
			},
			{
				displayName: 'BCC of Every Message',
				name: 'bccAll',
				type: 'string',
				default: '',
				placeholder: 'archive@example.com',
				description:
					'Every message also goes to this address (SMTP: in the envelope only; Microsoft Graph: in the Bcc header, which Exchange does not send on; either way recipients do not see it)',
			},
			{
				displayName: 'HTML Signature',
				name: 'signatureHtml',
				type: 'string',
				typeOptions: { rows: 4 },
				default: '',
				description: 'Appended to HTML mail (before &lt;/body&gt;); when there is no text signature, its text is appended to the plain-text part',
			},
			{
				displayName: 'Text Signature',
				name: 'signatureText',
				type: 'string',
				typeOptions: { rows: 4 },
				default: '',
				description: 'Appended to the plain-text part after a "-- " line; when there is no HTML signature, also to HTML mail',
			},
		],
	},
];

interface SendOptions {
	attachments?: string;
	bccEmail?: string;
	ccEmail?: string;
	headers?: { header?: Array<{ name?: string; value?: string }> };
	inReplyTo?: string;
	replyTo?: string;
}

interface AccountOptions {
	allowedSenders?: string;
	bccAll?: string;
	signatureHtml?: string;
	signatureText?: string;
}

const str = (value: unknown): string => (typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value));

/** The addresses of a trigger item's address field ({ value: [{ address, name }] }, or a string). */
function addressesOf(field: unknown): string[] {
	if (typeof field === 'string') return field.trim() ? [field] : [];
	const value = (field as { value?: Array<{ address?: string; name?: string }> } | undefined)?.value;
	if (!Array.isArray(value)) return [];
	return value.filter((a) => a?.address).map((a) => (a.name ? `"${a.name.replace(/["\\]/g, '')}" <${a.address}>` : String(a.address)));
}

/** The message of item `i` as compose input: the node's fields, binary attachments and the reply target. */
async function composeInput(ctx: IExecuteFunctions, i: number, item: INodeExecutionData): Promise<ComposeInput> {
	const options = ctx.getNodeParameter('options', i, {}) as SendOptions;
	const account = ctx.getNodeParameter('account', i, {}) as AccountOptions;
	const format = ctx.getNodeParameter('emailFormat', i, 'text') as string;
	let to: string | string[] = str(ctx.getNodeParameter('toEmail', i, ''));
	let inReplyTo: ReplyTarget | undefined;
	if (ctx.getNodeParameter('reply', i, false) as boolean) {
		const json = item.json ?? {};
		inReplyTo = {
			messageId: str(options.inReplyTo) || str(json.messageId),
			references: Array.isArray(json.references) ? (json.references as unknown[]).map(str) : str(json.references),
			subject: str(json.subject),
		};
		if (!to.trim()) {
			to = addressesOf(json.replyTo);
			if (to.length === 0) to = addressesOf(json.from);
		}
	}
	const attachments: ComposeAttachment[] = [];
	const wanted = str(options.attachments)
		.split(',')
		.map((s) => s.trim())
		.filter(Boolean);
	const names = wanted.includes('*') ? Object.keys(item.binary ?? {}) : wanted;
	for (const name of names) {
		const binary = item.binary?.[name];
		if (!binary) {
			throw new NodeOperationError(ctx.getNode(), `The input item has no binary property "${name}" to attach; nothing was sent.`, {
				itemIndex: i,
				description: `Binary properties of this item: ${Object.keys(item.binary ?? {}).join(', ') || 'none'}. Check "Attachments" in Options.`,
			});
		}
		attachments.push({ filename: binary.fileName || name, contentType: binary.mimeType, content: await ctx.helpers.getBinaryDataBuffer(i, name) });
	}
	return {
		fromEmail: str(ctx.getNodeParameter('fromEmail', i)),
		fromName: str(ctx.getNodeParameter('fromName', i, '')),
		to,
		cc: str(options.ccEmail),
		bcc: str(options.bccEmail),
		replyTo: str(options.replyTo),
		subject: str(ctx.getNodeParameter('subject', i, '')),
		text: format === 'html' ? undefined : str(ctx.getNodeParameter('text', i, '')),
		html: format === 'text' ? undefined : str(ctx.getNodeParameter('html', i, '')),
		attachments,
		headers: (options.headers?.header ?? []).map((h) => ({ name: str(h.name), value: str(h.value) })),
		inReplyTo,
		account: {
			bccAll: str(account.bccAll),
			signatureText: str(account.signatureText),
			signatureHtml: str(account.signatureHtml),
			allowedSenders: parseAllowedSenders(account.allowedSenders),
		},
	};
}

/** The node error of a failed item: a message that went out but has no Sent copy says so, and not to send it again. */
function nodeErrorOf(ctx: IExecuteFunctions, failure: SendFailure<unknown, unknown>) {
	const { error, index } = failure;
	if (error instanceof SentCopyFailedError) return new NodeOperationError(ctx.getNode(), error.message, { itemIndex: index, description: error.hint });
	return toNodeError(ctx.getNode(), error, index);
}

/** The run's items in input order (a failed one as error and description, after what was sent if it was), or the error that stopped it. */
function outputOf<M, R>(ctx: IExecuteFunctions, run: SendAllResult<M, R>, jsonOf: (sent: Sent<M, R>) => IDataObject): INodeExecutionData[][] {
	if (run.stoppedBy) throw nodeErrorOf(ctx, run.stoppedBy);
	const items = run.outcomes.map((outcome): INodeExecutionData => {
		if (outcome.ok) return { json: jsonOf(outcome.sent), pairedItem: { item: outcome.index } };
		const nodeError = nodeErrorOf(ctx, outcome);
		return { json: { ...(outcome.sent ? jsonOf(outcome.sent) : {}), error: nodeError.message, description: nodeError.description ?? null }, pairedItem: { item: outcome.index } };
	});
	return [items];
}

/**
 * Send Via: Microsoft Graph. Each item's message is composed as for SMTP (with BCC in the Bcc
 * header, see lib/graph/send.ts) and sent by one Graph client, one message after another.
 */
async function sendViaGraph(ctx: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = ctx.getInputData();
	let client: GraphClient | undefined;
	try {
		const run = await sendAll(
			items.map((item, i) => ({ compose: async () => composeForGraph(await composeInput(ctx, i, item)) })),
			{
				openSender: async () => {
					const graph = (client = await connectGraph(
						await graphConnection(ctx, { authentication: str(ctx.getNodeParameter('authentication', 0, 'microsoftApp')), mailbox: str(ctx.getNodeParameter('mailbox', 0, '')), graphUrl: str(ctx.getNodeParameter('graphUrl', 0, '')) }),
					));
					return { send: (message) => sendComposedViaGraph(graph, message) };
				},
				maxInFlight: 1,
				stopOnError: !ctx.continueOnFail(),
			},
		);
		return outputOf(ctx, run, ({ message, result }) => ({ ...result, recipients: [...result.recipients], sendVia: 'graph', subject: message.subject }));
	} finally {
		client?.close();
	}
}

/** Send Via: SMTP. One pooled sender for the run, and the Sent copies in the credential's own mailbox over one IMAP connection. */
async function sendViaSmtp(ctx: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = ctx.getInputData();
	const logger = n8nLogger(ctx.logger);
	const authentication = () => ctx.getNodeParameter('authentication', 0, 'password') as Authentication;
	let sender: SmtpSender | undefined;
	let serverSource: ServerSource = 'credential';
	const copies = new SentCopies(() => imapConnection(ctx, { authentication: authentication(), itemIndex: 0, mailbox: '' }), logger);
	let run;
	try {
		run = await sendAll(
			items.map((item, i) => ({
				compose: async () => composeMessage(await composeInput(ctx, i, item)),
				sentFolder: () => {
					// Gmail files what its SMTP server sends into Sent Mail itself
					const saveToSent = !isGoogleAuthentication(str(authentication())) && (ctx.getNodeParameter('saveToSent', i, false) as boolean);
					return saveToSent ? str(ctx.getNodeParameter('sentFolder', i, '')) : undefined;
				},
			})),
			{
				openSender: async () => {
					const { server, login, source, renewToken } = await smtpConnection(ctx, {
						authentication: authentication(),
						itemIndex: 0,
						serverOverride: str(ctx.getNodeParameter('serverOverride', 0, '')),
						serverOverrideSecurity: str(ctx.getNodeParameter('serverOverrideSecurity', 0, 'starttls')),
						smtpHost: str(ctx.getNodeParameter('smtpHost', 0, 'smtp.office365.com:587')),
					});
					serverSource = source;
					return (sender = new SmtpSender(server, login, { maxConnections: MAX_CONNECTIONS, logger, renewToken }));
				},
				saveCopy: (raw, folder) => copies.save(raw, folder),
				maxInFlight: MAX_IN_FLIGHT,
				stopOnError: !ctx.continueOnFail(),
			},
		);
	} finally {
		sender?.close();
		await copies.close().catch(() => undefined);
	}
	return outputOf(ctx, run, ({ message, result, sentCopy }) => ({ ...result, serverSource, envelope: { ...result.envelope }, subject: message.subject, sentCopy }));
}

export class MailboxSend implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Mailbox Send Email',
		name: 'mailboxSend',
		icon: { light: 'file:mailbox.svg', dark: 'file:mailbox.dark.svg' },
		group: ['output'],
		version: 1,
		subtitle: '={{$parameter["subject"]}}',
		description: 'Send mail over SMTP or Microsoft Graph, with reply threading, signatures, account rules and a copy in the Sent folder',
		defaults: { name: 'Mailbox Send Email' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{ name: 'mailboxSmtpApi', required: true, testedBy: 'mailboxSmtpConnectionTest', displayOptions: { show: { authentication: ['password'], ...viaSmtp } } },
			{ name: 'mailboxImapApi', required: true, testedBy: 'mailboxImapConnectionTest', displayOptions: { show: { authentication: ['password'], saveToSent: [true], ...viaSmtp } } },
			{ name: 'mailboxMicrosoftAppApi', required: true, testedBy: 'mailboxMicrosoftAppTest', displayOptions: { show: { authentication: ['microsoftApp'] } } },
			{ name: 'mailboxMicrosoftOAuth2Api', required: true, displayOptions: { show: { authentication: ['microsoftOAuth2'] } } },
			{ name: 'mailboxGoogleServiceAccountApi', required: true, testedBy: 'mailboxGoogleServiceAccountTest', displayOptions: { show: { sendVia: ['smtp'], authentication: ['googleServiceAccount'] } } },
			{ name: 'mailboxGoogleOAuth2Api', required: true, displayOptions: { show: { sendVia: ['smtp'], authentication: ['googleOAuth2'] } } },
		],
		properties,
	};

	methods = {
		credentialTest: credentialTests,
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return this.getNodeParameter('sendVia', 0, 'smtp') === 'graph' ? sendViaGraph(this) : sendViaSmtp(this);
	}
}
