import {
	NodeConnectionTypes,
	NodeOperationError,
	type ICredentialDataDecryptedObject,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeProperties,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';
import type { ImapFlow } from 'imapflow';
import { checkLogin, resolveServer, type Login, type ResolvedServer, type ServerSettings } from '../../lib/connection/options';
import { hasInstanceServer } from '../../lib/connection/presets';
import { checkTokenHost, withinCredential } from '../../lib/connection/scope';
import { loginForMailbox } from '../../lib/connection/shared-mailboxes';
import { MailboxError } from '../../lib/errors';
import { connectImap, fromImapError } from '../../lib/imap/connect';
import { composeMessage, parseAllowedSenders, type ComposeAttachment, type ComposeInput, type ReplyTarget } from '../../lib/smtp/compose';
import { saveSentCopy } from '../../lib/imap/sent-copy';
import { SmtpSender, type SendResult } from '../../lib/smtp/send';
import { imapConnectionOf, imapSettingsFromGoogleServiceAccount, isGoogleAuthentication, MICROSOFT_APP_CREDENTIAL, microsoftCredentialHosts, tokenCredentialOf, type Authentication } from '../shared/credentials';
import { googleSignInOptions } from '../shared/imap-properties';
import { credentialTests } from '../shared/credential-tests';
import { toNodeError } from '../shared/errors';
import { n8nLogger } from '../shared/logger';
import type { Logger } from '../../lib/logger';
import { getAppToken } from '../../lib/auth/microsoft';
import { connectGraph, type GraphClient } from '../../lib/graph/client';
import { composeForGraph, sendComposedViaGraph } from '../../lib/graph/send';
import { graphSettingsOf } from '../shared/graph-settings';
import { GOOGLE_DELEGATED, MICROSOFT_DELEGATED_CREDENTIAL, microsoftOAuth2Connection } from '../shared/microsoft-oauth2';
import { smtpSettingsFromCredential, SMTP_CREDENTIAL } from '../shared/smtp-credentials';

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

/** Where the SMTP server came from: this node, the credential's host, a provider, the instance default (environment), else this machine's mail server. */
export type ServerSource = 'node' | 'credential' | 'provider' | 'instance default' | 'local mail server';

/** The SMTP server and login of the chosen Authentication, and where the server came from. */
/** Where the credential's SMTP server comes from: its Host, a provider, the instance default, or this machine. */
function credentialServerSource(data: ICredentialDataDecryptedObject): ServerSource {
	if (str(data.host).trim() || !data.server || data.server === 'custom') return 'credential';
	if (data.server !== 'instance') return 'provider';
	return hasInstanceServer('smtp') ? 'instance default' : 'local mail server';
}

async function smtpConnection(ctx: IExecuteFunctions): Promise<{ server: ResolvedServer; login: Login | undefined; source: ServerSource; renewToken?: () => Promise<string> }> {
	const authentication = ctx.getNodeParameter('authentication', 0, 'password') as Authentication;
	const logger = n8nLogger(ctx.logger);
	if (authentication === 'password') {
		const data = await ctx.getCredentials(SMTP_CREDENTIAL, 0);
		const override = str(ctx.getNodeParameter('serverOverride', 0, '')).trim();
		const own = smtpSettingsFromCredential(data);
		const login = own.login ? checkLogin(own.login) : undefined;
		if (!override) return { server: resolveServer('smtp', own.settings), login, source: credentialServerSource(data) };
		const chosen = resolveServer('smtp', smtpSettingsFromCredential({ ...data, server: 'custom', host: override, port: 0, security: str(ctx.getNodeParameter('serverOverrideSecurity', 0, 'starttls')) }).settings);
		// the credential's login and its "allow self-signed" stay with the credential's own server
		const server = withinCredential({ credential: resolveServer('smtp', own.settings), chosen, carriesLogin: login !== undefined, field: 'serverOverride', label: 'Server' });
		return { server, login, source: 'node' };
	}
	if (isGoogleAuthentication(authentication)) return googleSmtpConnection(ctx, authentication, logger);
	const settings: ServerSettings = { host: str(ctx.getNodeParameter('smtpHost', 0, 'smtp.office365.com:587')) || 'smtp.office365.com:587', security: 'starttls' };
	const tokenServer = (data: ICredentialDataDecryptedObject): ResolvedServer => {
		const server = resolveServer('smtp', settings);
		checkTokenHost(server.host, microsoftCredentialHosts(data), 'smtpHost', 'SMTP Server');
		return server;
	};
	if (authentication === 'microsoftApp') {
		const data = await ctx.getCredentials(MICROSOFT_APP_CREDENTIAL, 0);
		const server = tokenServer(data);
		const app = { tenantId: String(data.tenantId ?? ''), clientId: String(data.clientId ?? ''), clientSecret: String(data.clientSecret ?? ''), authorityHost: String(data.authorityHost ?? '') };
		const token = await getAppToken(app, logger);
		// MSAL renews before expiry; a token the server rejects earlier (revoked) is fetched anew once
		const renewToken = async () => (await getAppToken(app, logger, { fresh: true })).accessToken;
		return { server, login: checkLogin({ user: String(data.mailbox ?? ''), accessToken: token.accessToken }), source: 'node', renewToken };
	}
	const server = tokenServer(await ctx.getCredentials(MICROSOFT_DELEGATED_CREDENTIAL, 0));
	const { login, renewToken } = await microsoftOAuth2Connection(ctx, 0, logger);
	return { server, login: checkLogin(login), source: 'node', renewToken };
}

/**
 * Gmail's SMTP server (the credential's SMTP Host and Port: 465 SSL/TLS, else STARTTLS) with
 * XOAUTH2 as the credential's mailbox: a service account's token for that user, renewed by a new
 * grant, or the signed-in user's, renewed by n8n.
 */
async function googleSmtpConnection(ctx: IExecuteFunctions, authentication: Authentication, logger: Logger): Promise<{ server: ResolvedServer; login: Login; source: ServerSource; renewToken?: () => Promise<string> }> {
	const data = await ctx.getCredentials(tokenCredentialOf(authentication as Exclude<Authentication, 'password'>), 0);
	const port = Number(data.smtpPort) || 465;
	const server = resolveServer('smtp', { host: str(data.smtpHost) || 'smtp.gmail.com', port, security: port === 465 ? 'tls' : 'starttls' });
	if (authentication === 'googleServiceAccount') {
		const { login, renewToken } = await imapSettingsFromGoogleServiceAccount(data, undefined, logger);
		return { server, login: checkLogin(login), source: 'credential', renewToken };
	}
	const { login, renewToken } = await microsoftOAuth2Connection(ctx, 0, logger, GOOGLE_DELEGATED);
	return { server, login: checkLogin(login), source: 'credential', renewToken };
}

/** One IMAP connection for the run's Sent copies, opened on first use. */
class SentFolderSession {
	private client?: ImapFlow;
	private queue: Promise<unknown> = Promise.resolve();
	private server?: ResolvedServer;
	private login?: Login;

	constructor(private readonly ctx: IExecuteFunctions) {}

	private async connect(): Promise<ImapFlow> {
		if (this.client?.usable) return this.client;
		const authentication = this.ctx.getNodeParameter('authentication', 0, 'password') as Authentication;
		const logger = n8nLogger(this.ctx.logger);
		const { settings, login, sharedMailboxes } = await imapConnectionOf(authentication, (name) => this.ctx.getCredentials(name, 0), logger, { ctx: this.ctx, itemIndex: 0 });
		this.server = resolveServer('imap', settings);
		this.login = loginForMailbox(checkLogin(login), sharedMailboxes, '');
		this.client = await connectImap(this.server, this.login, logger);
		return this.client;
	}

	/** Appends one message; appends run one after another on the one connection. */
	save(raw: Buffer, folder: string): Promise<{ folder: string; uid: number | null }> {
		const run = this.queue.then(async () => {
			const client = await this.connect();
			try {
				return await saveSentCopy(client, raw, folder);
			} catch (error) {
				throw this.server ? fromImapError(error, this.server, this.login) : error;
			}
		});
		this.queue = run.catch(() => undefined);
		return run;
	}

	async close(): Promise<void> {
		await this.queue;
		const client = this.client;
		this.client = undefined;
		if (client) await client.logout().catch(() => client.close());
	}
}

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

/**
 * Send Via: Microsoft Graph. Each item's message is composed as for SMTP (with BCC in the Bcc
 * header, see lib/graph/send.ts) and sent by one Graph client, one message after another.
 */
async function sendViaGraph(ctx: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = ctx.getInputData();
	const out: INodeExecutionData[] = [];
	const logger = n8nLogger(ctx.logger);
	let client: GraphClient | undefined;
	try {
		for (let i = 0; i < items.length; i++) {
			try {
				const message = await composeForGraph(await composeInput(ctx, i, items[i]));
				client ??= await connectGraph(
					await graphSettingsOf(
						ctx,
						{ authentication: str(ctx.getNodeParameter('authentication', 0, 'microsoftApp')), mailbox: str(ctx.getNodeParameter('mailbox', 0, '')), graphUrl: str(ctx.getNodeParameter('graphUrl', 0, '')) },
						logger,
					),
				);
				const result = await sendComposedViaGraph(client, message);
				out.push({ json: { ...result, recipients: [...result.recipients], sendVia: 'graph', subject: message.subject }, pairedItem: { item: i } });
			} catch (error) {
				const nodeError = toNodeError(ctx.getNode(), error, i);
				if (!ctx.continueOnFail()) throw nodeError;
				out.push({ json: { error: nodeError.message, description: nodeError.description ?? null }, pairedItem: { item: i } });
			}
		}
	} finally {
		client?.close();
	}
	return [out];
}

/** Connections the pool keeps open at most. */
const MAX_CONNECTIONS = 5;
/** Messages handed to the pool and not yet answered: enough that no connection waits for the next message to be built. */
const MAX_IN_FLIGHT = 4 * MAX_CONNECTIONS;

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
		if (this.getNodeParameter('sendVia', 0, 'smtp') === 'graph') return sendViaGraph(this);
		const items = this.getInputData();
		const results: Array<INodeExecutionData | undefined> = new Array(items.length);
		let sender: SmtpSender | undefined;
		let serverSource: ServerSource = 'credential';
		let sent: SentFolderSession | undefined;
		const inFlight = new Set<Promise<void>>();
		let fatal: unknown;

		const fail = (i: number, error: unknown, json: IDataObject = {}) => {
			const nodeError = toNodeError(this.getNode(), error, i);
			if (!this.continueOnFail()) {
				fatal ??= nodeError;
				return;
			}
			results[i] = { json: { ...json, error: nodeError.message, description: nodeError.description ?? null }, pairedItem: { item: i } };
		};

		try {
			for (let i = 0; i < items.length && fatal === undefined; i++) {
				let message;
				try {
					message = await composeMessage(await composeInput(this, i, items[i]));
					if (!sender) {
						const { server, login, source, renewToken } = await smtpConnection(this);
						serverSource = source;
						sender = new SmtpSender(server, login, { maxConnections: MAX_CONNECTIONS, logger: n8nLogger(this.logger), renewToken });
					}
				} catch (error) {
					fail(i, error);
					continue;
				}
				// Gmail files what its SMTP server sends into Sent Mail itself
				const saveToSent = !isGoogleAuthentication(str(this.getNodeParameter('authentication', 0, 'password'))) && (this.getNodeParameter('saveToSent', i, false) as boolean);
				const sentFolder = saveToSent ? str(this.getNodeParameter('sentFolder', i, '')) : '';
				const pending = sender.send(message).then(
					async (result: SendResult) => {
						const json: IDataObject = { ...result, serverSource, envelope: { ...result.envelope }, subject: message.subject, sentCopy: null };
						if (saveToSent) {
							try {
								sent ??= new SentFolderSession(this);
								json.sentCopy = await sent.save(message.raw, sentFolder);
							} catch (error) {
								const cause = error instanceof MailboxError ? error.fullMessage : error instanceof Error ? error.message : String(error);
								fail(
									i,
									new NodeOperationError(this.getNode(), `The message was sent (Message-ID ${result.messageId}), but the copy could not be saved into the Sent folder: ${cause}`, {
										itemIndex: i,
										description: 'Do not send it again. Check the IMAP credential and "Sent Folder".',
									}),
									json,
								);
								return;
							}
						}
						results[i] = { json, pairedItem: { item: i } };
					},
					(error: unknown) => fail(i, error),
				);
				const tracked = pending.finally(() => inFlight.delete(tracked));
				inFlight.add(tracked);
				if (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
			}
			await Promise.all(inFlight);
		} finally {
			sender?.close();
			await sent?.close().catch(() => undefined);
		}
		if (fatal !== undefined) throw fatal;
		return [results.filter((r): r is INodeExecutionData => r !== undefined)];
	}
}
