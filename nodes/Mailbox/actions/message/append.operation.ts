import MailComposer from 'nodemailer/lib/mail-composer';
import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { configError } from '../../../../lib/errors';
import { headerBlock } from '../../../../lib/delivery/message';
import { appendMessage, foldersOf, resolveFolder } from '../../../../lib/imap/messages';
import type { SessionOf } from '../types';
import { FLAG_OPTIONS, flagsOf, show } from './common';

const forFields = { show: { resource: ['message'], operation: ['append'], source: ['fields'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Folder',
		name: 'folder',
		type: 'string',
		default: '',
		placeholder: 'Drafts',
		description: "The folder to store the message in; empty: the account's Drafts folder as the server names it (SPECIAL-USE \\Drafts)",
		displayOptions: show(['append']),
	},
	{
		displayName: 'Message Source',
		name: 'source',
		type: 'options',
		default: 'fields',
		options: [
			{ name: 'Binary Property (.Eml)', value: 'binary', description: 'A complete message (RFC 5322, e.g. an .eml file) from a binary property of the input item' },
			{ name: 'Fields', value: 'fields', description: 'A message built from From, To, Subject and text or HTML' },
		],
		displayOptions: show(['append']),
	},
	{
		displayName: 'Input Binary Field',
		name: 'binaryProperty',
		type: 'string',
		default: 'data',
		hint: 'The name of the input binary field containing the message (.eml)',
		displayOptions: { show: { resource: ['message'], operation: ['append'], source: ['binary'] } },
	},
	{
		displayName: 'From Email',
		name: 'fromEmail',
		type: 'string',
		default: '',
		placeholder: 'Anna Müller <anna@example.com>',
		description: 'The sender, with or without display name',
		displayOptions: forFields,
	},
	{
		displayName: 'To Email',
		name: 'toEmail',
		type: 'string',
		default: '',
		placeholder: 'info@example.com',
		description: 'Recipients, separated by commas; may be empty for a draft',
		displayOptions: forFields,
	},
	{
		displayName: 'CC Email',
		name: 'ccEmail',
		type: 'string',
		default: '',
		description: 'CC recipients, separated by commas',
		displayOptions: forFields,
	},
	{
		displayName: 'Subject',
		name: 'subject',
		type: 'string',
		default: '',
		displayOptions: forFields,
	},
	{
		displayName: 'Text',
		name: 'text',
		type: 'string',
		default: '',
		typeOptions: { rows: 5 },
		description: 'The plain-text body',
		displayOptions: forFields,
	},
	{
		displayName: 'HTML',
		name: 'html',
		type: 'string',
		default: '',
		typeOptions: { rows: 5 },
		description: 'The HTML body (optional; with it the message has both parts)',
		displayOptions: forFields,
	},
	{
		displayName: 'Flags',
		name: 'flags',
		type: 'multiOptions',
		default: ['\\Draft', '\\Seen'],
		options: FLAG_OPTIONS,
		description: 'System flags the stored message gets; a draft is usually Draft and Read',
		displayOptions: show(['append']),
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: show(['append']),
		options: [
			{
				displayName: 'Internal Date',
				name: 'internalDate',
				type: 'dateTime',
				default: '',
				description: 'The date the server records as the arrival time; empty: now',
			},
			{
				displayName: 'Keywords',
				name: 'keywords',
				type: 'string',
				default: '',
				placeholder: '$Forwarded, Invoice-Paid',
				description: 'Custom keywords (IMAP user flags) the stored message gets, separated by commas',
			},
		],
	},
];

function noLineBreak(field: string, label: string, value: string): string {
	if (/[\r\n]/.test(value)) throw configError(field, `${label} contains a line break, which would end the header.`, `Remove the line break from ${label}.`);
	return value.trim();
}

async function composed(ctx: IExecuteFunctions, i: number): Promise<Buffer> {
	const text = (name: string) => String(ctx.getNodeParameter(name, i, '') ?? '');
	const from = noLineBreak('fromEmail', 'From Email', text('fromEmail'));
	if (!from) throw configError('fromEmail', 'From Email is empty.', 'Enter the sender, e.g. anna@example.com.');
	const body = text('text');
	const html = text('html');
	const composer = new MailComposer({
		from,
		to: noLineBreak('toEmail', 'To Email', text('toEmail')) || undefined,
		cc: noLineBreak('ccEmail', 'CC Email', text('ccEmail')) || undefined,
		subject: noLineBreak('subject', 'Subject', text('subject')),
		text: body || (html ? undefined : ''),
		html: html || undefined,
		date: new Date(),
	});
	return composer.compile().build();
}

/** Stores a message in a folder (APPEND), e.g. a draft in Drafts; outputs its new UID from APPENDUID. */
export async function execute(this: IExecuteFunctions, i: number, session: SessionOf): Promise<INodeExecutionData[]> {
	const source = this.getNodeParameter('source', i, 'fields') as 'fields' | 'binary';
	const options = this.getNodeParameter('options', i, {}) as { internalDate?: string; keywords?: string };
	const flags = flagsOf(this.getNodeParameter('flags', i, []), options.keywords);
	let internalDate: Date | undefined;
	if (options.internalDate) {
		internalDate = new Date(options.internalDate);
		if (Number.isNaN(internalDate.getTime())) throw configError('internalDate', `Internal Date "${options.internalDate}" is not a date.`);
	}
	let raw: Buffer;
	if (source === 'binary') {
		const property = String(this.getNodeParameter('binaryProperty', i, 'data') ?? '').trim();
		const item = this.getInputData()[i];
		if (!property || !item.binary?.[property]) {
			throw configError('binaryProperty', `The input item has no binary property "${property}" with a message to store.`, `Binary properties of this item: ${Object.keys(item.binary ?? {}).join(', ') || 'none'}.`);
		}
		raw = await this.helpers.getBinaryDataBuffer(i, property);
		if (raw.length === 0 || !/^[\x21-\x39\x3b-\x7e]+:/m.test(raw.subarray(0, 4096).toString('latin1'))) {
			throw configError('binaryProperty', `Binary property "${property}" does not hold a mail message (no header lines at its start).`, 'Use a complete message in RFC 5322 format, such as an .eml file or the "raw" binary of a trigger item.');
		}
	} else {
		raw = await composed(this, i);
	}
	const folderName = String(this.getNodeParameter('folder', i, '') ?? '');
	const result = await (await session()).run(async (client) => {
		const folder = resolveFolder(await foldersOf(client), folderName, 'drafts', 'folder', 'Folder');
		return appendMessage(client, folder, raw, flags, internalDate);
	});
	const messageId = /^message-id:\s*(<[^>\r\n]*>)/im.exec(headerBlock(raw).toString('latin1'))?.[1] ?? null;
	return [{ json: { folder: result.folder, uid: result.uid, uidValidity: result.uidValidity, messageId, size: raw.length, flags }, pairedItem: { item: i } }];
}
