/**
 * The correspondents of a message (R10): every person it names, once, with what a CRM step needs
 * to create contacts and communication records without parsing headers: name, address, the roles
 * the person has in the message, the message's direction, and whether the address is one of the
 * mailbox's own.
 *
 * - From, Reply-To, To and Cc count for every message; Bcc only for sent mail (received mail
 *   carries none, and where a server leaves one in, it is not the recipient's business).
 * - The direction is the message's: outbound in the Sent folder, inbound everywhere else.
 * - An address is `internal` when its domain is one of the own domains (the mailbox's domain,
 *   unless the user lists them), `self` when it is the mailbox's own address.
 * Addresses are compared case-insensitively; the first spelling and the first non-empty name win.
 */
import type { AddressList, ParsedMessageJson } from './parse';

export type CorrespondentRole = 'from' | 'replyTo' | 'to' | 'cc' | 'bcc';
export type Direction = 'inbound' | 'outbound';

export interface Correspondent {
	name: string | null;
	address: string;
	/** The first role the person has (in the order from, replyTo, to, cc, bcc). */
	role: CorrespondentRole;
	/** Every role the person has. */
	roles: CorrespondentRole[];
	direction: Direction;
	/** The address's domain is one of the mailbox's own domains. */
	internal: boolean;
	/** The address is the mailbox's own. */
	self: boolean;
}

export interface CorrespondentsOptions {
	direction: Direction;
	/** The mailbox's own address (its domain is the own domain unless `ownDomains` is given). */
	mailbox?: string;
	/** The own domains, e.g. ["example.com", "example.de"]; a leading "@" is ignored. */
	ownDomains?: readonly string[];
}

type AddressFields = Pick<ParsedMessageJson, 'from' | 'replyTo' | 'to' | 'cc' | 'bcc'>;

const ROLES: ReadonlyArray<readonly [CorrespondentRole, keyof AddressFields]> = [
	['from', 'from'],
	['replyTo', 'replyTo'],
	['to', 'to'],
	['cc', 'cc'],
	['bcc', 'bcc'],
];

/** The most correspondents one message yields: a sender cannot make an item of unbounded size. */
export const MAX_CORRESPONDENTS = 500;

function domainOf(address: string): string {
	const at = address.lastIndexOf('@');
	return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}

/** Own Domains as the user typed them (commas, semicolons, spaces or lines), lower case, without "@". */
export function parseDomains(text: string | undefined | null): string[] {
	return [
		...new Set(
			String(text ?? '')
				.split(/[\s,;]+/)
				.map((d) => d.trim().replace(/^@/, '').toLowerCase())
				.filter(Boolean),
		),
	];
}

export function correspondentsOf(message: AddressFields, options: CorrespondentsOptions): Correspondent[] {
	const own = (options.mailbox ?? '').trim().toLowerCase();
	const domains = new Set(options.ownDomains?.length ? options.ownDomains.map((d) => d.replace(/^@/, '').toLowerCase()) : own.includes('@') ? [domainOf(own)] : []);
	const byAddress = new Map<string, Correspondent>();
	for (const [role, field] of ROLES) {
		if (role === 'bcc' && options.direction !== 'outbound') continue;
		for (const { address, name } of (message[field] as AddressList | undefined)?.value ?? []) {
			const trimmed = (address ?? '').trim();
			if (!trimmed.includes('@')) continue;
			const key = trimmed.toLowerCase();
			const known = byAddress.get(key);
			if (known) {
				if (!known.roles.includes(role)) known.roles.push(role);
				if (!known.name && name?.trim()) known.name = name.trim();
				continue;
			}
			if (byAddress.size >= MAX_CORRESPONDENTS) continue;
			byAddress.set(key, {
				name: name?.trim() || null,
				address: trimmed,
				role,
				roles: [role],
				direction: options.direction,
				internal: domains.has(domainOf(key)),
				self: key === own,
			});
		}
	}
	return [...byAddress.values()];
}
