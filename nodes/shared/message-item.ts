import type { IBinaryKeyData, IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties, ITriggerFunctions } from 'n8n-workflow';
import { configError } from '../../lib/errors';
import { messageBody } from '../../lib/message/body';
import { correspondentsOf, parseDomains } from '../../lib/message/correspondents';
import { cleanFilename } from '../../lib/message/filename';
import type { ParsedMessage } from '../../lib/message/parse';

/** Where a message came from; IMAP fills mailbox/folder/uid/uidValidity/flags, POP3 mailbox/uidl. */
export interface MessageMeta {
	mailbox?: string;
	folder?: string;
	uid?: number;
	uidValidity?: string;
	uidl?: string;
	flags?: string[];
	size?: number;
	internalDate?: Date;
	/** Over the size limit: only the headers were read. */
	oversized?: boolean;
}

export interface MessageItemOptions {
	/** Binary property names of the attachments are this plus their position (default 'attachment_'). */
	attachmentsPrefix?: string;
	/** Attachments as binary data (default true). */
	includeAttachments?: boolean;
	/** The whole message as binary property 'raw' (message/rfc822, <subject or uid>.eml); default false. */
	includeRaw?: boolean;
	/** Add `correspondents` (R10); undefined: not. */
	correspondents?: CorrespondentsItemOptions;
	/** Fields added to every item as `stamp` (R11); undefined or empty: none. */
	stamp?: IDataObject;
	/** Add `body`, the message's own new text for AI steps (cap in characters; 0: none); undefined: not. */
	body?: { maxChars: number };
}

export interface CorrespondentsItemOptions {
	/** The mailbox's own address: `self`, and its domain is the own domain unless ownDomains says. */
	mailbox?: string;
	ownDomains?: string[];
	/** Folders whose mail is outbound (the Sent folder); matched case-insensitively. */
	sentFolders?: string[];
}

/** One binary property to create: what prepareBinaryData gets. */
export interface MessageBinary {
	property: string;
	data: Buffer;
	fileName: string;
	mimeType: string;
	/** The position in json.attachments, for attachments. */
	attachment?: number;
}

export const RAW_PROPERTY = 'raw';

/**
 * The item's JSON: the parsed fields plus where the message came from. Every key is present for
 * IMAP and POP3 alike (null or empty where a protocol has no value), so downstream nodes work with
 * either. Each attachment names the binary property that holds it (null when not included).
 */
export function messageItemJson(meta: MessageMeta, parsed: ParsedMessage, binaries: MessageBinary[] = [], options: MessageItemOptions = {}): IDataObject {
	const property = new Map(binaries.filter((b) => b.attachment !== undefined).map((b) => [b.attachment, b.property]));
	const who = options.correspondents;
	const outbound = who?.sentFolders?.some((f) => f.toLowerCase() === (meta.folder ?? '').toLowerCase()) === true;
	return {
		...parsed.json,
		attachments: parsed.json.attachments.map((a, k) => ({ ...a, binaryProperty: property.get(k) ?? null })),
		mailbox: meta.mailbox ?? null,
		folder: meta.folder ?? null,
		uid: meta.uid ?? null,
		uidValidity: meta.uidValidity ?? null,
		uidl: meta.uidl ?? null,
		flags: meta.flags ?? [],
		size: meta.size ?? null,
		internalDate: meta.internalDate && !Number.isNaN(meta.internalDate.getTime()) ? meta.internalDate.toISOString() : null,
		oversized: meta.oversized === true,
		...(who ? { correspondents: correspondentsOf(parsed.json, { direction: outbound ? 'outbound' : 'inbound', mailbox: who.mailbox ?? meta.mailbox, ownDomains: who.ownDomains }) as unknown as IDataObject[] } : {}),
		...(options.stamp && Object.keys(options.stamp).length ? { stamp: options.stamp } : {}),
		...(options.body ? bodyFields(parsed, options.body.maxChars) : {}),
	};
}

/** `body` (own new text, no quotes or signature; Markdown from HTML) with how it was made. */
function bodyFields(parsed: ParsedMessage, maxChars: number): IDataObject {
	const result = messageBody({ text: parsed.json.text ?? undefined, html: parsed.json.html ?? undefined }, { maxChars });
	return { body: result.body, bodyFormat: result.format, bodyTruncated: result.truncated, bodyRemoved: result.removed };
}


/** A file name for the raw message: the subject, else the UID or UIDL, else "message". */
export function rawFileName(meta: MessageMeta, subject: string): string {
	const fromSubject = subject
		// eslint-disable-next-line no-control-regex
		.replace(/[\u0000-\u001f\u007f/\\<>:"|?*]/g, '_')
		.replace(/\s+/g, ' ')
		.slice(0, 100)
		.replace(/^[\s.]+|[\s.]+$/g, '');
	const name = fromSubject || (meta.uid !== undefined ? String(meta.uid) : '') || cleanFilename(meta.uidl ?? '') || 'message';
	return `${name}.eml`;
}

/** The binary properties an item gets, in order: attachments (when included), then the raw message (when asked). */
export function messageBinaries(meta: MessageMeta, parsed: ParsedMessage, raw: Buffer | undefined, options: MessageItemOptions = {}): MessageBinary[] {
	const prefix = options.attachmentsPrefix ?? 'attachment_';
	const out: MessageBinary[] = [];
	if (options.includeAttachments !== false) {
		parsed.attachments.forEach((a, k) => {
			out.push({ property: `${prefix}${k}`, data: a.content, fileName: a.filename, mimeType: a.contentType || 'application/octet-stream', attachment: k });
		});
	}
	if (options.includeRaw && raw) out.push({ property: RAW_PROPERTY, data: raw, fileName: rawFileName(meta, parsed.json.subject), mimeType: 'message/rfc822' });
	return out;
}

/** The n8n item for a message, the same for the IMAP and the POP3 trigger. */
export async function toExecutionData(
	ctx: IExecuteFunctions | ITriggerFunctions,
	meta: MessageMeta,
	parsed: ParsedMessage,
	raw: Buffer | undefined,
	options: MessageItemOptions = {},
): Promise<INodeExecutionData> {
	const binaries = messageBinaries(meta, parsed, raw, options);
	const item: INodeExecutionData = { json: messageItemJson(meta, parsed, binaries, options) };
	if (binaries.length) {
		const binary: IBinaryKeyData = {};
		for (const b of binaries) binary[b.property] = await ctx.helpers.prepareBinaryData(b.data, b.fileName, b.mimeType);
		item.binary = binary;
	}
	return item;
}

/** The options that shape a message item: on every trigger, and on the Mailbox node's Get and Search (sorted by name, as n8n lists options). */
export const attachmentsPrefixOption: INodeProperties = {
	displayName: 'Attachments Prefix',
	name: 'attachmentsPrefix',
	type: 'string',
	default: 'attachment_',
	description: 'Binary property names of the attachments: prefix plus 0, 1, 2',
};

export const downloadAttachmentsOption: INodeProperties = {
	displayName: 'Download Attachments',
	name: 'downloadAttachments',
	type: 'boolean',
	default: true,
	description: 'Whether to output attachments as binary data (otherwise only their names, types and sizes)',
};

export const includeRawOption: INodeProperties = {
	displayName: 'Include Raw Message',
	name: 'includeRaw',
	type: 'boolean',
	default: false,
	description: 'Whether to add the whole message as an .eml file in the binary property "raw"',
};

export const correspondentsOption: INodeProperties = {
	displayName: 'Add Correspondents',
	name: 'correspondents',
	type: 'boolean',
	default: false,
	description:
		'Whether to add "correspondents": every person of the message once (from, reply-to, to, cc; bcc for sent mail) with name, address, role, direction (outbound in the Sent folder, else inbound) and whether the address is internal (one of Own Domains), for creating contacts and communication records',
};

export const ownDomainsOption: INodeProperties = {
	displayName: 'Own Domains',
	name: 'ownDomains',
	type: 'string',
	default: '',
	placeholder: 'example.com, example.de',
	description: "With Add Correspondents: the domains whose addresses are internal, separated by commas; empty: the mailbox address's domain",
};

export const aiBodyOption: INodeProperties = {
	displayName: 'Add Body for AI',
	name: 'aiBody',
	type: 'boolean',
	default: false,
	description:
		'Whether to add "body": the message\'s own new text, without the quoted replies ("On … wrote:", "Am … schrieb", "-----Original Message-----", Outlook\'s From/Sent block) and without the signature, as Markdown when the mail is HTML (links and lists kept), capped at Body Max Characters with a note when cut; for AI steps and tickets',
};

export const bodyMaxCharsOption: INodeProperties = {
	displayName: 'Body Max Characters',
	name: 'bodyMaxChars',
	type: 'number',
	default: 4000,
	typeOptions: { minValue: 0 },
	description: 'With Add Body for AI: the most characters of "body" (a note says how much was cut); 0 means no limit',
};

export const itemShapeOptions: INodeProperties[] = [aiBodyOption, correspondentsOption, attachmentsPrefixOption, bodyMaxCharsOption, downloadAttachmentsOption, includeRawOption, ownDomainsOption];

export interface ShapeOptions {
	attachmentsPrefix?: string;
	downloadAttachments?: boolean;
	includeRaw?: boolean;
	correspondents?: boolean;
	ownDomains?: string;
	aiBody?: boolean;
	bodyMaxChars?: number;
}

/**
 * The item options from the node's Options. `where` says what the node knows of the mailbox: its
 * address (for own-domain and self) and its Sent folders (for the direction).
 */
export function itemOptionsOf(options: ShapeOptions, where: { mailbox?: string; sentFolders?: string[] } = {}): MessageItemOptions {
	return {
		attachmentsPrefix: options.attachmentsPrefix || 'attachment_',
		includeAttachments: options.downloadAttachments !== false,
		includeRaw: options.includeRaw === true,
		...(options.correspondents === true ? { correspondents: { mailbox: where.mailbox, ownDomains: parseDomains(options.ownDomains), sentFolders: where.sentFolders ?? [] } } : {}),
		...(options.aiBody === true ? { body: { maxChars: Math.max(0, Math.floor(Number(options.bodyMaxChars ?? 4000)) || 0) } } : {}),
	};
}

/** Exchange's Sent Items folder as triggers and Get/Search name it (well-known name, English and German display names). */
export const EXCHANGE_SENT_FOLDER_NAMES: readonly string[] = ['sentitems', 'sent items', 'sent', 'gesendete elemente', 'gesendete objekte'];

/** The trigger parameter "Stamp on Every Item" (R11): fields every message item carries as `stamp`. */
export const stampProperty: INodeProperties = {
	displayName: 'Stamp on Every Item',
	name: 'stamp',
	type: 'collection',
	placeholder: 'Add Field',
	default: {},
	description: 'Values added to every message as "stamp", so that later steps file it (owner, activity type, tags, access group, or fields of your own); expressions are evaluated when the workflow is activated',
	options: [
		{ displayName: 'Access Group', name: 'accessGroup', type: 'string', default: '', description: 'Who may see the mail downstream, e.g. a team or role' },
		{ displayName: 'Activity Type', name: 'activityType', type: 'string', default: '', placeholder: 'Incoming e-mail' },
		{
			displayName: 'Other Fields',
			name: 'fields',
			type: 'fixedCollection',
			typeOptions: { multipleValues: true },
			placeholder: 'Add Field',
			default: {},
			options: [
				{
					displayName: 'Field',
					name: 'field',
					values: [
						{ displayName: 'Name', name: 'name', type: 'string', default: '', placeholder: 'costCenter' },
						{ displayName: 'Value', name: 'value', type: 'string', default: '' },
					],
				},
			],
		},
		{ displayName: 'Owner', name: 'owner', type: 'string', default: '', placeholder: 'jane.doe', description: 'The person or queue the mail belongs to' },
		{ displayName: 'Tags', name: 'tags', type: 'string', default: '', placeholder: 'support, inbound', description: 'Separated by commas; output as a list' },
	],
};

const STAMP_NAMES = new Set(['owner', 'activityType', 'tags', 'accessGroup']);

/** The Stamp on Every Item parameter as the `stamp` object: set values only; tags as a list. */
export function stampOf(value: unknown): IDataObject {
	const v = (value ?? {}) as { owner?: unknown; activityType?: unknown; tags?: unknown; accessGroup?: unknown; fields?: { field?: Array<{ name?: unknown; value?: unknown }> } };
	const stamp: IDataObject = {};
	for (const key of ['owner', 'activityType', 'accessGroup'] as const) {
		const text = v[key] === undefined || v[key] === null ? '' : String(v[key]).trim();
		if (text) stamp[key] = text;
	}
	const tags = Array.isArray(v.tags) ? v.tags.map(String) : String(v.tags ?? '').split(',');
	const cleanTags = tags.map((t) => t.trim()).filter(Boolean);
	if (cleanTags.length) stamp.tags = cleanTags;
	for (const { name, value: fieldValue } of v.fields?.field ?? []) {
		const key = String(name ?? '').trim();
		if (!key) throw configError('stamp', 'Stamp on Every Item: a field of Other Fields has no name.', 'Enter a name for each field, or remove the empty one.');
		if (STAMP_NAMES.has(key) || key in stamp) throw configError('stamp', `Stamp on Every Item: the field name "${key}" is used twice.`, 'Give each field its own name (Owner, Activity Type, Tags and Access Group have their own fields).');
		stamp[key] = fieldValue === undefined || fieldValue === null ? '' : (fieldValue as IDataObject[keyof IDataObject]);
	}
	return stamp;
}
