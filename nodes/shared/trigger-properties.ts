import type { INodeProperties } from 'n8n-workflow';

/**
 * Options the triggers word alike (inside their Options collection); the ones that read
 * differently per protocol (Retry Failed Runs, Max Message Size, the stuck IMAP fetch) stay with
 * their node. Nothing changes these objects: a node only lists them.
 */

/** IMAP and POP3: download before checking the size, for servers that report wrong sizes. */
export const fetchUncheckedOption: INodeProperties = {
	displayName: 'Fetch Unchecked',
	name: 'fetchUnchecked',
	type: 'boolean',
	default: false,
	description: 'Whether to download each message before checking its size, for servers that report wrong sizes',
};

/** IMAP and POP3: what becomes of a message over Max Message Size. */
export const oversizedOption: INodeProperties = {
	displayName: 'Oversized Messages',
	name: 'oversized',
	type: 'options',
	default: 'headers',
	options: [
		{ name: 'Output Headers Only, Marked Oversized', value: 'headers' },
		{ name: 'Skip (Reported on Mailbox Status)', value: 'skip' },
	],
};

/** POP3 and Exchange: a poll that hangs is given up after this long. */
export const stuckPollOption: INodeProperties = {
	displayName: 'Stuck Poll Timeout (Minutes)',
	name: 'stuckMinutes',
	type: 'number',
	default: 30,
	typeOptions: { minValue: 1 },
	description: 'A poll running longer is abandoned and the next one proceeds',
};
