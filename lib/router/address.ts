import { domainToASCII } from 'node:url';

/**
 * E-mail addresses as the router compares them: the domain always in lower case (and IDN domains
 * in their ASCII form), the local part in lower case unless the local part is configured to be
 * case-sensitive, and plus-addressing (user+tag@) understood: the address without its tag is the
 * "base" address that is looked up when the tagged one is not known.
 */
export interface AddressRules {
	/** Compare local parts case-sensitively (RFC 5321 allows it; almost no server does it). Default false. */
	caseSensitiveLocalPart: boolean;
	/** The sub-address separator ("+" for user+tag@); '' turns plus-addressing off. */
	subaddressSeparator: string;
}

export const DEFAULT_ADDRESS_RULES: Readonly<AddressRules> = { caseSensitiveLocalPart: false, subaddressSeparator: '+' };

export interface NormalAddress {
	/** local@domain, normalized: the key for every lookup. */
	address: string;
	local: string;
	domain: string;
	/** The address without its sub-address tag (user@domain for user+tag@domain); undefined without a tag. */
	base?: string;
	/** The tag of user+tag@domain, without the separator. */
	tag?: string;
}

// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\u0000-\u007f]/;

/** The domain as compared: lower case, without a trailing dot, IDN in its punycode (xn--) form. */
export function normalizeDomain(domain: string): string {
	let d = domain.trim().toLowerCase();
	if (d.endsWith('.')) d = d.slice(0, -1);
	if (d.startsWith('[')) return d; // address literal, [192.0.2.1]
	if (NON_ASCII.test(d)) {
		const ascii = domainToASCII(d);
		if (ascii) d = ascii;
	}
	return d;
}

/**
 * The bare address of "Name <user@example.com>", "<user@example.com>", "mailto:user@example.com"
 * or "user@example.com"; surrounding white space removed.
 */
export function bareAddress(text: string): string {
	let s = text.trim();
	const open = s.lastIndexOf('<');
	if (open >= 0) {
		const close = s.indexOf('>', open);
		s = s.slice(open + 1, close < 0 ? undefined : close).trim();
	}
	if (s.length > 7 && s.slice(0, 7).toLowerCase() === 'mailto:') s = s.slice(7);
	return s;
}

/** Joins a local part and a (normalized) domain and splits off the tag: the one place that builds a NormalAddress. */
export function makeAddress(local: string, domain: string, rules: AddressRules): NormalAddress {
	const l = rules.caseSensitiveLocalPart ? local : local.toLowerCase();
	const address = `${l}@${domain}`;
	const sep = rules.subaddressSeparator;
	if (sep) {
		const i = l.indexOf(sep);
		// "+tag@" (nothing before the separator) is an address of its own, not a tag
		if (i > 0) return { address, local: l, domain, base: `${l.slice(0, i)}@${domain}`, tag: l.slice(i + sep.length) };
	}
	return { address, local: l, domain };
}

/**
 * Parses and normalizes one address; undefined when it is not an address (no "@", empty local
 * part or domain, white space inside).
 */
export function normalizeAddress(text: string, rules: AddressRules = DEFAULT_ADDRESS_RULES): NormalAddress | undefined {
	const bare = bareAddress(text);
	const at = bare.lastIndexOf('@');
	if (at <= 0 || at === bare.length - 1) return undefined;
	const local = bare.slice(0, at);
	const domain = normalizeDomain(bare.slice(at + 1));
	if (!domain || /\s/.test(domain) || (/\s/.test(local) && !local.startsWith('"'))) return undefined;
	return makeAddress(local, domain, rules);
}

/** The address with another domain (domain redirect), the tag kept. */
export function withDomain(address: NormalAddress, domain: string, rules: AddressRules): NormalAddress {
	return makeAddress(address.local, domain, rules);
}

/**
 * Splits a header value or a field that lists several addresses ("a@x, B <b@y>; c@z") into the
 * single entries. Commas and semicolons inside quotes or angle brackets do not split.
 */
export function splitAddressList(text: string): string[] {
	const out: string[] = [];
	let start = 0;
	let quoted = false;
	let angle = false;
	for (let i = 0; i < text.length; i++) {
		const c = text.charCodeAt(i);
		if (c === 34 /* " */ && text.charCodeAt(i - 1) !== 92 /* \ */) quoted = !quoted;
		else if (!quoted && c === 60 /* < */) angle = true;
		else if (!quoted && c === 62 /* > */) angle = false;
		else if (!quoted && !angle && (c === 44 /* , */ || c === 59 /* ; */ || c === 10 || c === 13)) {
			const part = text.slice(start, i).trim();
			if (part) out.push(part);
			start = i + 1;
		}
	}
	const last = text.slice(start).trim();
	if (last) out.push(last);
	return out;
}
