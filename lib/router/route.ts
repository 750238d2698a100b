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

/**
 * Which envelope headers (Delivered-To, X-Original-To, Envelope-To) are believed. Receiving
 * servers put theirs on top of the message: Postfix writes Delivered-To / X-Original-To above
 * everything at final delivery, Dovecot LMTP writes Return-Path and Delivered-To above its own
 * Received header, Exim's Envelope-to goes on top. Anything below the first Received header was
 * written before the message reached this server: by the sender, or by an earlier server (a
 * mailbox that forwards, such as Gmail, keeps its own Delivered-To in the message).
 * - top: of each envelope header only its topmost occurrence, and only when it stands above the
 *   message's first Received header (see {@link envelopeOccurrences});
 * - ownDomains: the topmost as with top, and every other occurrence whose address is in one of the
 *   master mailbox's own domains (ownDomains; when that means all domains, the directory's
 *   domains; when there are none, no other occurrence);
 * - any: every occurrence (version 1 of the node).
 * With top and ownDomains, Drop Unknown drops only on an address from a topmost envelope header:
 * an unknown address from To/Cc/Bcc, or from an envelope header trusted for its domain only,
 * keeps the message in the master mailbox.
 */
export type EnvelopeTrust = 'top' | 'ownDomains' | 'any';

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

export interface MessageRouterOptions {
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
	/** Which envelope headers are believed (default any, as version 1 of the node; the node passes its own default). */
	trustEnvelope?: EnvelopeTrust;
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
	/** Set when the sender could have written the header it was found in: why it is not dropped when unknown. */
	keepReason?: string;
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

/** The header lines of a raw message (the header block, unfolded) in their order: lower-case name and value. */
export function headerLines(raw: Buffer | string): Array<[name: string, value: string]> {
	const text = typeof raw === 'string' ? raw : raw.subarray(0, Math.min(raw.length, 256 * 1024)).toString('latin1');
	const end = text.search(/\r?\n\r?\n/);
	const block = (end < 0 ? text : text.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
	const out: Array<[string, string]> = [];
	for (const line of block.split(/\r?\n/)) {
		const colon = line.indexOf(':');
		if (colon <= 0) continue;
		out.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
	}
	return out;
}

/**
 * The headers of a raw message, lower-case names; for items without a `headers` field. Like the
 * trigger items' `headers` (lib/message/parse.ts), the names are in the order of their first
 * occurrence and each name's values in message order, which {@link envelopeOccurrences} relies on.
 */
export function headersFromRaw(raw: Buffer | string): Record<string, string[]> {
	const out: Record<string, string[]> = {};
	for (const [name, value] of headerLines(raw)) {
		// defined, not assigned: a sender's "__proto__" header is a header like any other
		if (Object.prototype.hasOwnProperty.call(out, name)) out[name].push(value);
		else Object.defineProperty(out, name, { value: [value], enumerable: true, writable: true, configurable: true });
	}
	return out;
}

/**
 * Where an occurrence of an envelope header stands: on top (written by the receiving server),
 * below the first Received header, or not the first of its name (above or below the Received
 * header: the map does not tell).
 */
export type EnvelopePosition = 'top' | 'belowReceived' | 'notFirst';

/**
 * The occurrences of an envelope header (lower-case name) in a headers map as {@link headersFromRaw}
 * and the trigger items have it, with where each stands. Only the first occurrence can be the
 * receiving server's, and only when it stands above the message's first Received header: its name
 * comes before "received" among the map's keys (names are in the order of first occurrence), or
 * the message has no Received header. Every other occurrence was written by the sender or by a
 * server before this one.
 */
export function envelopeOccurrences(headers: Record<string, unknown>, name: string): Array<{ value: unknown; position: EnvelopePosition }> {
	const value = headers[name];
	if (value === undefined || value === null) return [];
	const values: unknown[] = Array.isArray(value) ? value : [value];
	const keys = Object.keys(headers);
	const received = keys.indexOf('received');
	const first: EnvelopePosition = received < 0 || keys.indexOf(name) < received ? 'top' : 'belowReceived';
	return values.map((v, i) => ({ value: v, position: i === 0 || first === 'belowReceived' ? first : 'notFirst' }));
}

const WRITTEN_BY_OTHERS = 'a sender or an earlier server wrote it';

export class MessageRouter {
	readonly directory: Directory;
	private readonly dropUnknown: boolean;
	private readonly recipientSource: RecipientSource;
	private readonly masterAddresses = new Set<string>();
	private readonly ownDomains: Set<string>;
	private readonly envelopeTrust: EnvelopeTrust;
	/** ownDomains trust: the domains an envelope header below the top is believed for. */
	private readonly envelopeDomains: Set<string>;

	constructor(input: DirectoryInput | Directory, options: MessageRouterOptions = {}, fields?: Partial<DirectoryFields>) {
		this.directory = input instanceof Directory ? input : buildDirectory(input, { rules: options.rules, inboxRoot: options.inboxRoot }, fields);
		this.dropUnknown = options.dropUnknown === true;
		this.recipientSource = options.recipientSource ?? 'envelopeThenHeaders';
		for (const text of options.masterAddresses ?? []) {
			const a = normalizeAddress(text, this.directory.rules);
			if (a) this.masterAddresses.add(a.address);
		}
		const own = (options.ownDomains ?? []).map((d) => d.trim()).filter(Boolean);
		this.ownDomains = own.includes('*') ? new Set() : own.length ? new Set(own.map((d) => normalizeDomain(d.replace(/^\*?@/, '')))) : this.directory.domains;
		this.envelopeTrust = options.trustEnvelope ?? 'any';
		this.envelopeDomains = this.ownDomains.size > 0 ? this.ownDomains : this.directory.domains;
	}

	/** The decision for one address; with keepReason (see FoundRecipient) it is kept when unknown, never dropped. */
	decide(address: string, source = '', keepReason?: string): RecipientDecision {
		return decideRecipient(this.directory, address, { dropUnknown: this.dropUnknown, keepReason }, source);
	}

	/** Adds the master mailbox's own address (e.g. the trigger item's `mailbox`) for one call. */
	private isMaster(address: string, extra: Set<string> | undefined): boolean {
		return this.masterAddresses.has(address) || (extra !== undefined && extra.has(address));
	}

	/** The recipients of a message, in order, each once (by normalized address), and what was left out. */
	recipients(message: MessageFields, extraMaster?: string[]): { recipients: FoundRecipient[]; ignored: IgnoredAddress[] } {
		const rules = this.directory.rules;
		const extra = extraMaster?.length ? new Set(extraMaster.map((t) => normalizeAddress(t, rules)?.address).filter((a): a is string => !!a)) : undefined;
		const seen = new Set<string>();
		const recipients: FoundRecipient[] = [];
		const ignored: IgnoredAddress[] = [];
		const headers = (message.headers ?? {}) as Record<string, unknown>;
		const add = (text: string, source: string, envelope: boolean, keepReason?: string) => {
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
			recipients.push(keepReason === undefined ? { address: text, source } : { address: text, source, keepReason });
		};
		if (this.recipientSource !== 'headers') {
			// the receiving server's envelope headers first (an address they name may be dropped), then the others
			const below: Array<{ v: string; label: string; position: EnvelopePosition }> = [];
			for (const [name, label] of ENVELOPE_HEADERS) {
				if (this.envelopeTrust === 'any') {
					for (const v of valuesOf(headers[name])) add(v, label, true);
					continue;
				}
				for (const { value, position } of envelopeOccurrences(headers, name)) {
					for (const v of valuesOf(value)) {
						if (position === 'top') add(v, label, true);
						else below.push({ v, label, position });
					}
				}
			}
			const untrusted: IgnoredAddress[] = [];
			for (const { v, label, position } of below) {
				const where = position === 'belowReceived' ? "below the receiving server's Received header" : `not the topmost ${label} header`;
				const a = normalizeAddress(v, rules);
				if (this.envelopeTrust === 'ownDomains' && a && this.envelopeDomains.has(a.domain)) add(v, label, true, `this ${label} (${where}) could have been written by the sender`);
				else untrusted.push({ address: v, source: label, reason: `${where}: ${WRITTEN_BY_OTHERS}${this.envelopeTrust === 'ownDomains' && a ? ` (${a.domain} is not a domain of the master mailbox)` : ''}` });
			}
			// each reported once, and not when a believed header names the address
			const reported = new Set<string>();
			for (const u of untrusted) {
				const key = normalizeAddress(u.address, rules)?.address ?? u.address.trim();
				if (seen.has(key) || reported.has(`${u.source} ${key}`)) continue;
				reported.add(`${u.source} ${key}`);
				ignored.push(u);
			}
		}
		if (this.recipientSource === 'headers' || this.recipientSource === 'envelopeAndHeaders' || (this.recipientSource === 'envelopeThenHeaders' && recipients.length === 0)) {
			const senderWrites = this.envelopeTrust !== 'any';
			for (const [name, label] of ADDRESS_FIELDS) {
				const field = message[name];
				for (const v of valuesOf(field !== undefined && field !== null && field !== '' ? field : headers[name])) add(v, label, false, senderWrites ? `${label} is written by the sender` : undefined);
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
			const decision = this.decide(r.address, r.source, r.keepReason);
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
				path: [{ step: 'address', matched: false, address: '', detail: `no recipient address found (${this.recipientSource === 'envelope' ? 'no Delivered-To, X-Original-To or Envelope-To' : 'no envelope header, To, Cc or Bcc'} besides those left out): the message stays in the master mailbox` }],
			});
		}
		return { routed, kept, dropped, ignored, removable: kept.length === 0 };
	}
}
