import type { IDisplayOptions, IExecuteFunctions, INodeProperties } from 'n8n-workflow';
import { DEFAULT_EWS_URL } from '../../../lib/ews/client';
import { DEFAULT_GRAPH_URL } from '../../../lib/graph/client';
import { configError, type MailboxError } from '../../../lib/errors';

/** How the node reaches the mailbox: IMAP (the default, every server), Exchange Web Services or Microsoft Graph. */
export type AccessVia = 'imap' | 'ews' | 'graph';

export function accessViaOf(ctx: IExecuteFunctions, itemIndex = 0): AccessVia {
	const value = ctx.getNodeParameter('accessVia', itemIndex, 'imap');
	return value === 'ews' || value === 'graph' ? value : 'imap';
}

/** A parameter shown only with Access Via: IMAP (its displayOptions plus hide for EWS and Graph). */
export function imapOnly(property: INodeProperties): INodeProperties {
	const displayOptions: IDisplayOptions = property.displayOptions ?? {};
	return { ...property, displayOptions: { ...displayOptions, hide: { ...(displayOptions.hide ?? {}), accessVia: ['ews', 'graph'] } } };
}

/** A parameter hidden with Access Via: Microsoft Graph (Graph has its own in its place). */
export function notGraph(property: INodeProperties): INodeProperties {
	const displayOptions: IDisplayOptions = property.displayOptions ?? {};
	const hidden = (displayOptions.hide?.accessVia as string[] | undefined) ?? [];
	return { ...property, displayOptions: { ...displayOptions, hide: { ...(displayOptions.hide ?? {}), accessVia: [...new Set([...hidden, 'graph'])] } } };
}

/** A parameter shown only with Access Via: Microsoft Graph. */
export function graphOnly(property: INodeProperties): INodeProperties {
	const displayOptions: IDisplayOptions = property.displayOptions ?? {};
	return { ...property, displayOptions: { ...displayOptions, show: { ...(displayOptions.show ?? {}), accessVia: ['graph'] } } };
}

/** A parameter shown only with Access Via: EWS. */
export function ewsOnly(property: INodeProperties): INodeProperties {
	const displayOptions: IDisplayOptions = property.displayOptions ?? {};
	return { ...property, displayOptions: { ...displayOptions, show: { ...(displayOptions.show ?? {}), accessVia: ['ews'] } } };
}

/** The error of an operation that EWS does not offer here, naming Access Via. */
export function notOverEws(what: string): MailboxError {
	return configError('accessVia', `${what} is not available with Access Via: Exchange Web Services (EWS).`, 'Set Access Via to IMAP for this operation (Microsoft 365 offers IMAP with the same credentials), or use an operation EWS supports.');
}

/** The error of an operation that Microsoft Graph does not offer here, naming Access Via. */
export function notOverGraph(what: string): MailboxError {
	return configError('accessVia', `${what} is not available with Access Via: Microsoft Graph.`, 'Set Access Via to IMAP for this operation (Microsoft 365 offers IMAP with the same credentials), or use an operation Graph supports.');
}

/** The node-level parameters of Access Via: the protocol choice (the sign-in and URLs follow). */
export const accessProperties: INodeProperties[] = [
	{
		displayName: 'Access Via',
		name: 'accessVia',
		type: 'options',
		noDataExpression: true,
		default: 'imap',
		options: [
			{ name: 'IMAP', value: 'imap', description: 'Any mail server, Microsoft 365 included: every operation' },
			{
				name: 'Exchange Web Services (EWS)',
				value: 'ews',
				description: 'Exchange Online (Microsoft 365) or on-premises Exchange without IMAP: Connection → Check, Folder → List and Create, Message → Get, Move, Copy, Delete, Mark Read/Unread, Spam and Not Spam; messages by their EWS item ID',
			},
			{
				name: 'Microsoft Graph',
				value: 'graph',
				description:
					'Exchange Online (Microsoft 365) through its REST API: Folder → List, Create, Rename, Delete; Message → Get, Search, Move, Copy, Delete, Flags and Categories, Spam and Not Spam; Out of Office; Retention; messages by their Graph message ID',
			},
		],
		description: 'The protocol the node uses to reach the mailbox',
	},
];

/** Authentication with Access Via: EWS (the IMAP one is the shared Authentication parameter). */
export const ewsAuthenticationProperty: INodeProperties = {
	displayName: 'Authentication',
	name: 'authentication',
	type: 'options',
	options: [
		{ name: 'Microsoft 365 App (Client Credentials)', value: 'microsoftApp', description: "An app registration with the application permission full_access_as_app; acts on the mailbox (the node's Mailbox, else the credential's) by impersonation" },
		{ name: 'Microsoft 365 (Delegated OAuth2)', value: 'microsoftOAuth2', description: 'A signed-in user (EWS.AccessAsUser.All): their own mailbox, or one they have Full Access to' },
		{ name: 'Password (On-Premises Exchange)', value: 'ewsPassword', description: 'User and password against the EWS URL of an Exchange server (Mailbox Exchange EWS credential)' },
	],
	default: 'microsoftApp',
	displayOptions: { show: { accessVia: ['ews'] } },
};

export const ewsUrlProperty: INodeProperties = {
	displayName: 'EWS URL',
	name: 'ewsUrl',
	type: 'string',
	default: DEFAULT_EWS_URL,
	placeholder: DEFAULT_EWS_URL,
	description: "Exchange Online's EWS endpoint; change only for a national cloud (e.g. https://outlook.office365.us/EWS/Exchange.asmx) or a hybrid server. The token goes only to Exchange Online's hosts and to the hosts the credential names (IMAP, POP3 or Exchange Host).",
	displayOptions: { show: { accessVia: ['ews'], authentication: ['microsoftApp', 'microsoftOAuth2'] } },
};

/** Authentication with Access Via: Microsoft Graph. */
export const graphAuthenticationProperty: INodeProperties = {
	displayName: 'Authentication',
	name: 'authentication',
	type: 'options',
	options: [
		{ name: 'Microsoft 365 App (Client Credentials)', value: 'microsoftApp', description: "An app registration with the Graph application permissions Mail.ReadWrite and MailboxSettings.ReadWrite; acts on the mailbox (the node's Mailbox, else the credential's)" },
		{ name: 'Microsoft 365 (Delegated OAuth2)', value: 'microsoftOAuth2', description: 'A signed-in user (credential with API: Microsoft Graph): their own mailbox, or one they have Full Access to' },
	],
	default: 'microsoftApp',
	displayOptions: { show: { accessVia: ['graph'] } },
};

export const graphUrlProperty: INodeProperties = {
	displayName: 'Graph URL',
	name: 'graphUrl',
	type: 'string',
	default: DEFAULT_GRAPH_URL,
	placeholder: DEFAULT_GRAPH_URL,
	description: "Microsoft Graph's endpoint; change only for a national cloud (e.g. https://graph.microsoft.us/v1.0). The token goes only to Microsoft Graph's hosts and to the hosts the credential names.",
	displayOptions: { show: { accessVia: ['graph'] } },
};
