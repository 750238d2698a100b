import type { IDataObject, IDisplayOptions, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { failedItem } from './common';

/**
 * What the Message operations over EWS and over Microsoft Graph share: the Options parameter of an
 * operation, the Move To option of Mark as Not Spam, and the way a bulk operation runs (every item
 * checked first, then one request per target, each message with its own result).
 */

/** The Message operations over EWS and Microsoft Graph that address a message by its id. */
export type ExchangeMessageOperation = 'clearFlags' | 'copy' | 'delete' | 'get' | 'markAsNotSpam' | 'markAsSpam' | 'move' | 'setFlags';

export const BY_ID_OPERATIONS: ExchangeMessageOperation[] = ['clearFlags', 'copy', 'delete', 'get', 'markAsNotSpam', 'markAsSpam', 'move', 'setFlags'];

/** The Options parameter of one operation, shown as `show` says (each protocol its own). */
export function optionsOf(show: (operation: string[]) => IDisplayOptions) {
	return (operation: string, own: INodeProperties[]): INodeProperties => ({
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: show([operation]),
		options: own,
	});
}

/** Mark as Not Spam: where the message goes. */
export const notSpamMoveToOption: INodeProperties = {
	displayName: 'Move To',
	name: 'moveTo',
	type: 'string',
	default: 'Inbox',
	description: 'Where a message marked as not spam goes (a path, or a standard folder such as inbox)',
};

/** An item of a bulk operation, its parameters checked: its index, the message's id and its options. */
export interface PlannedItem<O = unknown> {
	i: number;
	itemId: string;
	options: O;
}

/** The options that choose an operation's target. */
export interface TargetOptions {
	deletePermanently?: boolean;
	junkFolder?: string;
	moveTo?: string;
}

/**
 * The target key of an item: items with the same key go as one request. Move and Copy by the
 * destination, Delete by how, the spam operations by their folders; undefined for the others.
 */
export function targetKeyOf(ctx: IExecuteFunctions, operation: string, p: PlannedItem<TargetOptions>): string | undefined {
	switch (operation) {
		case 'move':
		case 'copy':
			return String(ctx.getNodeParameter('destination', p.i, '') ?? '').trim();
		case 'delete':
			return p.options.deletePermanently === true ? 'hard' : 'trash';
		case 'markAsSpam':
			return JSON.stringify([p.options.junkFolder?.trim() ?? '']);
		case 'markAsNotSpam':
			return JSON.stringify([p.options.junkFolder?.trim() ?? '', p.options.moveTo?.trim() || 'Inbox']);
		default:
			return undefined;
	}
}

/** A request's results, one per message of the group in order, as the items' output. */
export type Recorder<P> = <T extends object>(results: Array<({ ok: true } & T) | { ok: false; error: unknown }>, json: (p: P, result: T) => IDataObject) => void;

/** One request of a bulk operation: the session, the group's key, its items and their ids. */
export interface GroupRequest<P, S> {
	session: S;
	key: string;
	group: P[];
	ids: string[];
	record: Recorder<P>;
}

/**
 * Runs a bulk operation over the items: `plan` checks each item's parameters before anything is
 * touched; the items that share a key go as one request (`act`), each message with its own
 * result. The output is in input order, a failed item as failedItem makes it.
 */
export async function runInGroups<P extends PlannedItem, S extends { mailbox: string | null }>(
	ctx: IExecuteFunctions,
	operation: string,
	indices: number[],
	steps: { plan: (i: number) => P; session: () => Promise<S>; keyOf: (p: P) => string; act: (request: GroupRequest<P, S>) => Promise<void> },
): Promise<INodeExecutionData[]> {
	const outcomes = new Map<number, { json: IDataObject } | { error: unknown }>();
	const planned: P[] = [];
	// every item's parameters are checked before anything is touched
	for (const i of indices) {
		try {
			planned.push(steps.plan(i));
		} catch (error) {
			outcomes.set(i, { error });
			if (!ctx.continueOnFail()) break;
		}
	}
	if (planned.length && (ctx.continueOnFail() || outcomes.size === 0)) {
		const s = await steps.session();
		const base = (p: P): IDataObject => ({ operation, mailbox: s.mailbox, itemId: p.itemId });
		// items that share their target run as one request
		const groups = new Map<string, P[]>();
		for (const p of planned) {
			const key = steps.keyOf(p);
			groups.set(key, [...(groups.get(key) ?? []), p]);
		}
		for (const [key, group] of groups) {
			const record: Recorder<P> = (results, json) =>
				group.forEach((p, k) => {
					const r = results[k];
					outcomes.set(p.i, r.ok ? { json: { ...base(p), ...json(p, r) } } : { error: r.error });
				});
			try {
				await steps.act({ session: s, key, group, ids: group.map((p) => p.itemId), record });
			} catch (error) {
				// the whole request failed (sign-in, throttling, the folder): every item of it fails alike
				for (const p of group) outcomes.set(p.i, { error });
				if (!ctx.continueOnFail()) break;
			}
		}
	}
	const out: INodeExecutionData[] = [];
	for (const i of indices) {
		const outcome = outcomes.get(i);
		if (!outcome) continue;
		if ('error' in outcome) out.push(failedItem(ctx, outcome.error, i));
		else out.push({ json: outcome.json, pairedItem: { item: i } });
	}
	return out;
}
