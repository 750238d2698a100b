import { normalizeAddress, normalizeDomain, splitAddressList, type AddressRules } from './address';
import { decideRecipient, type RecipientDecision } from './decide';
import { buildDirectory, Directory, type DirectoryFields, type DirectoryInput, type Target } from './directory';

/**
 * A whole message: its recipients (envelope first), one decision per distinct recipient, and the
 * copies to make: one per target inbox, however many of its recipients lead there.
 */

/**
 * Which addresses of a message are its recipients:
 * - envelopeThenHeaders: Delivered-To, X-Original-To and Envelope-To; when none remains (after
 *   leaving out the master mailbox's own addresses), To and Cc (and Bcc where present);
 * - envelopeAndHeaders: both together;
 * - headers: To, Cc and Bcc only;
 * - envelope: the envelope headers only.
 * To/Cc/Bcc addresses outside the domains the master mailbox serves are left out (see ownDomains).
 */
export type RecipientSource = 'envelopeThenHeaders' | 'envelopeAndHeaders' | 'headers' | 'envelope';

export const ENVELOPE_HEADERS = [
	['delivered-to', 'Delivered-To'],
	['x-original-to', 'X-Original-To'],
	['envelope-to', 'Envelope-To'],
] as const;
const ADDRESS_FIELDS = [
	['to', 'To'],
	['cc', 'Cc'],
	['bcc', 'Bcc'],
] as const;

export interface RouterOptions {
	rules?: AddressRules;
	/** Parent folder of the inboxes, "/"-separated (default "Inboxes"). */
	inboxRoot?: string;
	dropUnknown?: boolean;
	recipientSource?: RecipientSource;
	/** The master mailbox's own addresses: never recipients (Delivered-To of a catch-all often names it). */
	masterAddresses?: string[];
	/**
	 * The domains the master mailbox serves: To/Cc/Bcc addresses of other domains (a customer in Cc)
	 * are not recipients. Default: every domain the directory names; empty directory: all domains.
	 * ["*"]: all domains.
	 */
	ownDomains?: string[];
}

/** The fields of a message the router reads: a Mailbox trigger item's JSON has them all. */
export interface MessageFields {
	/** Lower-case header name -> value(s). */
	headers?: Record<string, unknown> | null;
	to?: unknown;
	cc?: unknown;
	bcc?: unknown;
}

export interface FoundRecipient {
	address: string;
	source: string;
}

export interface IgnoredAddress extends FoundRecipient {
	reason: string;
}

export interface RoutedCopy {
	target: Target;
	/** The recipients that lead to this target (at least one). */
	recipients: RecipientDecision[];
}

export interface MessageRouting {
	/** One copy per target inbox. */
	routed: RoutedCopy[];
	/** Unknown recipients the message stays in the master mailbox for. */
	kept: RecipientDecision[];
	/** Unknown recipients that are dropped. */
	dropped: RecipientDecision[];
	/** Addresses found but not treated as recipients, and why. */
	ignored: IgnoredAddress[];
	/** Whether the message may leave the master mailbox once every copy is delivered (no recipient keeps it there). */
	removable: boolean;
}

/** Header values as text: a string, a list of strings, or n8n's {value, text} address objects. */
function valuesOf(value: unknown): string[] {
	if (value === undefined || value === null) return [];
	if (typeof value === 'string') return splitAddressList(value);
	if (Array.isArray(value)) return value.flatMap(valuesOf);
	if (typeof value === 'object') {
		const v = value as { value?: unknown; address?: unknown; text?: unknown };
		if (Array.isArray(v.value)) {
			return v.value.flatMap((a: unknown) => {
				const entry = a as { address?: unknown; group?: unknown };
				if (typeof entry?.address === 'string' && entry.address) return [entry.address];
				if (Array.isArray(entry?.group)) return valuesOf({ value: entry.group });
				return [];
			});
		}
		if (typeof v.address === 'string') return [v.address];
		if (typeof v.text === 'string') return splitAddressList(v.text);
	}
	return [];
}

/** The headers of a raw message (the header block, unfolded), lower-case names; for items without a `headers` field. */
export function headersFromRaw(raw: Buffer | string): Record<string, string[]> {
	const text = typeof raw === 'string' ? raw : raw.subarray(0, Math.min(raw.length, 256 * 1024)).toString('latin1');
	const end = text.search(/\r?\n\r?\n/);
	const block = (end < 0 ? text : text.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
	const out: Record<string, string[]> = {};
	for (const line of block.split(/\r?\n/)) {
		const colon = line.indexOf(':');
		if (colon <= 0) continue;
		const name = line.slice(0, colon).trim().toLowerCase();
		(out[name] ??= []).push(line.slice(colon + 1).trim());
	}
	return out;
}

export class MessageRouter {
	readonly directory: Directory;
	private readonly dropUnknown: boolean;
	private readonly source: RecipientSource;
	private readonly master = new Set<string>();
	private readonly ownDomains: Set<string>;

	constructor(input: DirectoryInput | Directory, options: RouterOptions = {}, fields?: Partial<DirectoryFields>) {
		this.directory = input instanceof Directory ? input : buildDirectory(input, { rules: options.rules, inboxRoot: options.inboxRoot }, fields);
		this.dropUnknown = options.dropUnknown === true;
		this.source = options.recipientSource ?? 'envelopeThenHeaders';
		for (const text of options.masterAddresses ?? []) {
			const a = normalizeAddress(text, this.directory.rules);
			if (a) this.master.add(a.address);
		}
		const own = (options.ownDomains ?? []).map((d) => d.trim()).filter(Boolean);
		this.ownDomains = own.includes('*') ? new Set() : own.length ? new Set(own.map((d) => normalizeDomain(d.replace(/^\*?@/, '')))) : this.directory.domains;
	}

	/** The decision for one address. */
	decide(address: string, source = ''): RecipientDecision {
		return decideRecipient(this.directory, address, { dropUnknown: this.dropUnknown }, source);
	}

	/** Adds the master mailbox's own address (e.g. the trigger item's `mailbox`) for one call. */
	private isMaster(address: string, extra: Set<string> | undefined): boolean {
		return this.master.has(address) || (extra !== undefined && extra.has(address));
	}

	/** The recipients of a message, in order, each once (by normalized address), and what was left out. */
	recipients(message: MessageFields, extraMaster?: string[]): { recipients: FoundRecipient[]; ignored: IgnoredAddress[] } {
		const rules = this.directory.rules;
		const extra = extraMaster?.length ? new Set(extraMaster.map((t) => normalizeAddress(t, rules)?.address).filter((a): a is string => !!a)) : undefined;
		const seen = new Set<string>();
		const recipients: FoundRecipient[] = [];
		const ignored: IgnoredAddress[] = [];
		const headers = (message.headers ?? {}) as Record<string, unknown>;
		const add = (text: string, source: string, envelope: boolean) => {
			const a = normalizeAddress(text, rules);
			const key = a?.address ?? text.trim();
			if (seen.has(key)) return;
			seen.add(key);
			if (a && this.isMaster(a.address, extra)) {
				ignored.push({ address: text, source, reason: 'the master mailbox itself' });
				return;
			}
			if (!envelope && a && this.ownDomains.size > 0 && !this.ownDomains.has(a.domain)) {
				ignored.push({ address: text, source, reason: `not a domain of the master mailbox (${a.domain})` });
				return;
			}
			recipients.push({ address: text, source });
		};
		if (this.source !== 'headers') {
			for (const [name, label] of ENVELOPE_HEADERS) for (const v of valuesOf(headers[name])) add(v, label, true);
		}
		if (this.source === 'headers' || this.source === 'envelopeAndHeaders' || (this.source === 'envelopeThenHeaders' && recipients.length === 0)) {
			for (const [name, label] of ADDRESS_FIELDS) {
				const field = message[name];
				for (const v of valuesOf(field !== undefined && field !== null && field !== '' ? field : headers[name])) add(v, label, false);
			}
		}
		return { recipients, ignored };
	}

	/** Routes a whole message. A message without any recipient is kept in the master mailbox. */
	route(message: MessageFields, extraMaster?: string[]): MessageRouting {
		const { recipients, ignored } = this.recipients(message, extraMaster);
		const routed: RoutedCopy[] = [];
		const byTarget = new Map<string, RoutedCopy>();
		const kept: RecipientDecision[] = [];
		const dropped: RecipientDecision[] = [];
		for (const r of recipients) {
			const decision = this.decide(r.address, r.source);
			if (decision.outcome === 'routed' && decision.target) {
				const copy = byTarget.get(decision.target.key);
				if (copy) copy.recipients.push(decision);
				else {
					const created = { target: decision.target, recipients: [decision] };
					byTarget.set(decision.target.key, created);
					routed.push(created);
				}
			} else if (decision.outcome === 'unknownKept') kept.push(decision);
			else dropped.push(decision);
		}
		if (recipients.length === 0) {
			kept.push({
				recipient: '',
				source: '',
				address: null,
				finalAddress: null,
				outcome: 'unknownKept',
				path: [{ step: 'address', matched: false, address: '', detail: `no recipient address found (${this.source === 'envelope' ? 'no Delivered-To, X-Original-To or Envelope-To' : 'no envelope header, To, Cc or Bcc'} besides those left out): the message stays in the master mailbox` }],
			});
		}
		return { routed, kept, dropped, ignored, removable: kept.length === 0 };
	}
}
