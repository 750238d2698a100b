import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { setOutOfOffice } from '../../../../lib/sieve/out-of-office';
import { DEFAULT_DAYS, MAX_DAYS, parseMoment } from '../../../../lib/sieve/vacation';
import { sieveConnectionOptions, stateJson, withSieve } from './sieve';

const show = { resource: ['outOfOffice'], operation: ['set'] };

export const description: INodeProperties[] = [
	{
		displayName: 'Subject',
		name: 'subject',
		type: 'string',
		default: '',
		placeholder: 'Out of office until 10 March',
		description: 'Subject of the auto-reply. Leave empty for the server\'s default ("Auto: " and the original subject).',
		displayOptions: { show },
	},
	{
		displayName: 'Text',
		name: 'text',
		type: 'string',
		typeOptions: { rows: 5 },
		required: true,
		default: '',
		placeholder: 'Thank you for your message. I am out of the office until 10 March and will reply after my return.',
		description: 'Plain text of the auto-reply sent to people who write to this mailbox',
		displayOptions: { show },
	},
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
				description: "When the auto-reply stops (exclusive), in the workflow's time zone unless the value has its own. Empty: until cleared.",
			},
			{
				displayName: 'From',
				name: 'from',
				type: 'string',
				default: '',
				placeholder: 'Anna Müller <anna@example.com>',
				description: 'Sender of the auto-reply. Empty: the address the message was sent to.',
			},
			...sieveConnectionOptions,
			{
				displayName: 'Own Addresses',
				name: 'addresses',
				type: 'string',
				default: '',
				placeholder: 'anna@example.com, sales@example.com',
				description:
					'Comma-separated addresses and aliases of this mailbox. Only mail that names one of them (or the delivery address) in To or Cc gets a reply, so list and Bcc copies get none.',
			},
			{
				displayName: 'Reply Interval (Days)',
				name: 'days',
				type: 'number',
				typeOptions: { minValue: 1, maxValue: MAX_DAYS },
				default: DEFAULT_DAYS,
				description: 'How many days pass before the same sender gets the auto-reply again',
			},
			{
				displayName: 'Start',
				name: 'startDate',
				type: 'dateTime',
				default: '',
				description: "When the auto-reply starts, in the workflow's time zone unless the value has its own. Empty: at once.",
			},
		],
	},
];

interface SetOptions {
	startDate?: string;
	endDate?: string;
	days?: number;
	addresses?: string | string[];
	from?: string;
}

/**
 * Writes the auto-reply as a Sieve script and activates it. A Sieve script that was active before
 * keeps running (it is included after the auto-reply) and becomes active again on Clear.
 */
export async function execute(this: IExecuteFunctions, itemIndex: number): Promise<INodeExecutionData[]> {
	const options = this.getNodeParameter('options', itemIndex, {}) as SetOptions;
	const timeZone = typeof this.getTimezone === 'function' ? this.getTimezone() : 'UTC';
	const addresses = Array.isArray(options.addresses) ? options.addresses.map(String) : String(options.addresses ?? '').split(/[,;\s]+/);
	const settings = {
		subject: this.getNodeParameter('subject', itemIndex, '') as string,
		text: this.getNodeParameter('text', itemIndex) as string,
		start: parseMoment(options.startDate, timeZone),
		end: parseMoment(options.endDate, timeZone),
		days: options.days ?? DEFAULT_DAYS,
		addresses: addresses.filter(Boolean),
		from: options.from,
	};
	const result = await withSieve(this, itemIndex, (client) => setOutOfOffice(client, settings));
	return [{ json: stateJson(result, result.warnings ? { warnings: result.warnings } : {}), pairedItem: { item: itemIndex } }];
}
