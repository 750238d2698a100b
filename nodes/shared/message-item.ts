import type { IBinaryKeyData, IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties, ITriggerFunctions } from 'n8n-workflow';
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
export function messageItemJson(meta: MessageMeta, parsed: ParsedMessage, binaries: MessageBinary[] = []): IDataObject {
	const property = new Map(binaries.filter((b) => b.attachment !== undefined).map((b) => [b.attachment, b.property]));
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
	};
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
	const item: INodeExecutionData = { json: messageItemJson(meta, parsed, binaries) };
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

export const itemShapeOptions: INodeProperties[] = [attachmentsPrefixOption, downloadAttachmentsOption, includeRawOption];

export interface ShapeOptions {
	attachmentsPrefix?: string;
	downloadAttachments?: boolean;
	includeRaw?: boolean;
}

export function itemOptionsOf(options: ShapeOptions): MessageItemOptions {
	return {
		attachmentsPrefix: options.attachmentsPrefix || 'attachment_',
		includeAttachments: options.downloadAttachments !== false,
		includeRaw: options.includeRaw === true,
	};
}
