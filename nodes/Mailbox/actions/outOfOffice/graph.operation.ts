import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { clearGraphOutOfOffice, getGraphOutOfOffice, setGraphOutOfOffice, type GraphOutOfOffice } from '../../../../lib/graph/mailbox';
import { parseMoment } from '../../../../lib/sieve/vacation';
import type { GraphSessionOf } from '../types';

const show = { resource: ['outOfOffice'], operation: ['set'], accessVia: ['graph'] };

/** Out of Office → Set with Access Via: Microsoft Graph (mailboxSettings automaticRepliesSetting). */
export const description: INodeProperties[] = [
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: { show },
		options: [
			{
				displayName: 'End',
				name: 'endDate',
				type: 'dateTime',
				default: '',
				description: "When the automatic replies stop, in the workflow's time zone unless the value has its own. With Start: scheduled; neither: on until cleared.",
			},
			{
				displayName: 'External Audience',
				name: 'externalAudience',
				type: 'options',
				default: 'all',
				options: [
					{ name: 'All', value: 'all', description: 'Every sender outside the organisation gets the external reply' },
					{ name: 'Contacts Only', value: 'contactsOnly', description: "Only senders in the mailbox's contacts get it" },
					{ name: 'None', value: 'none', description: 'Senders outside the organisation get no reply' },
				],
				description: 'Who outside the organisation gets the external reply',
			},
			{
				displayName: 'External Text',
				name: 'externalText',
				type: 'string',
				typeOptions: { rows: 4 },
				default: '',
				description: 'The reply to senders outside the organisation; empty: the same as Text',
			},
			{
				displayName: 'Start',
				name: 'startDate',
				type: 'dateTime',
				default: '',
				description: "When the automatic replies start, in the workflow's time zone unless the value has its own. With End: scheduled; neither: on until cleared.",
			},
		],
	},
];

/** The output item of every Out of Office operation over Graph: the setting as Exchange keeps it afterwards. */
function stateJson(state: GraphOutOfOffice, mailbox: string | null, extra: IDataObject = {}): IDataObject {
	return { ...state, text: state.internalText, mailbox, ...extra };
}

export async function get(this: IExecuteFunctions, itemIndex: number, session: GraphSessionOf): Promise<INodeExecutionData[]> {
	const s = await session();
	return [{ json: stateJson(await getGraphOutOfOffice(s.client), s.mailbox), pairedItem: { item: itemIndex } }];
}

/** Turns the automatic replies on: scheduled (Start and End) or always, internal and external text, external audience. */
export async function set(this: IExecuteFunctions, itemIndex: number, session: GraphSessionOf): Promise<INodeExecutionData[]> {
	const options = this.getNodeParameter('options', itemIndex, {}) as { startDate?: string; endDate?: string; externalText?: string; externalAudience?: 'none' | 'contactsOnly' | 'all' };
	const timeZone = typeof this.getTimezone === 'function' ? this.getTimezone() : 'UTC';
	const settings = {
		internalText: String(this.getNodeParameter('text', itemIndex, '') ?? ''),
		externalText: options.externalText,
		externalAudience: options.externalAudience,
		start: parseMoment(options.startDate, timeZone),
		end: parseMoment(options.endDate, timeZone),
	};
	const s = await session();
	return [{ json: stateJson(await setGraphOutOfOffice(s.client, settings), s.mailbox), pairedItem: { item: itemIndex } }];
}

/** Turns the automatic replies off; the texts stay for the next time. */
export async function clear(this: IExecuteFunctions, itemIndex: number, session: GraphSessionOf): Promise<INodeExecutionData[]> {
	const s = await session();
	return [{ json: stateJson(await clearGraphOutOfOffice(s.client), s.mailbox, { cleared: true }), pairedItem: { item: itemIndex } }];
}
