import { makeAddress, normalizeAddress, withDomain, type NormalAddress } from './address';
import type { AddressEntry, Directory, Redirect, Target } from './directory';

/**
 * The routing decision for one recipient address, in the order of a master (catch-all) mailbox:
 *
 * 1. domain redirect (xyz@old.example -> xyz@new.example);
 * 2. an existing inbox for the address;
 * 3. local-part redirect (sys.admin@ -> sysadmin@), then an existing inbox again;
 * 4. an employee's address -> the employee's inbox (created when missing);
 * 5. a distribution list's address -> the list's inbox (created when missing);
 * 6. unknown: kept in the master mailbox, or dropped when unknown addresses are not stored, except
 *    for the exceptions (addresses, or "@domain") and addresses from a header the sender could
 *    have written (see DecideOptions.keepReason).
 *
 * Every lookup tries the address as it is, then without its plus-tag. Every step taken is
 * recorded in the decision path.
 */

export type Outcome = 'routed' | 'unknownKept' | 'unknownDropped';

export type StepName = 'address' | 'domainRedirect' | 'inbox' | 'localPartRedirect' | 'inboxAfterRedirect' | 'employee' | 'distributionList' | 'unknown' | 'exception';

export interface PathStep {
	step: StepName;
	matched: boolean;
	/** The address the step looked at. */
	address: string;
	/** What happened, in words. */
	detail: string;
}

export interface RecipientDecision {
	/** The recipient as found. */
	recipient: string;
	/** Where it was found: Delivered-To, X-Original-To, To, Cc... (empty when decided alone). */
	source: string;
	/** The normalized address; null when the recipient is not an address. */
	address: string | null;
	/** The address after the redirects (equal to address without them). */
	finalAddress: string | null;
	outcome: Outcome;
	/** For 'routed': where the copy goes. */
	target?: Target;
	path: PathStep[];
}

export interface DecideOptions {
	/** Drop unknown addresses instead of keeping them in the master mailbox (exceptions stay). */
	dropUnknown: boolean;
	/**
	 * Why this address is kept even when unknown addresses are dropped: it was found in a header
	 * the sender could have written (To, Cc, an envelope header below the receiving server's
	 * Received). Undefined: it may be dropped.
	 */
	keepReason?: string;
}

/** An address and its directory entries (as it is, and without its tag): looked up once per decision. */
interface Probe {
	a: NormalAddress;
	exact: AddressEntry | undefined;
	base: AddressEntry | undefined;
}

function probe(dir: Directory, a: NormalAddress): Probe {
	return { a, exact: dir.entries.get(a.address), base: a.base !== undefined ? dir.entries.get(a.base) : undefined };
}

type Slot = 'inbox' | 'employee' | 'list';

/** The key the last {@link lookup} matched (the address, or its base). */
let matchedKey = '';

/** The target of a slot for the address, or else for the address without its tag. */
function lookup(p: Probe, slot: Slot): Target | undefined {
	const exact = p.exact?.[slot];
	if (exact) {
		matchedKey = p.a.address;
		return exact;
	}
	const base = p.base?.[slot];
	if (base) {
		matchedKey = p.a.base!;
		return base;
	}
	return undefined;
}

function via(a: NormalAddress): string {
	return matchedKey === a.address ? '' : ` (as ${matchedKey}, without the tag "${a.tag}")`;
}

function describe(target: Target): string {
	return target.inboxIsNew ? `inbox "${target.inbox}" (new, folder ${target.folder})` : `inbox "${target.inbox}" (folder ${target.folder})`;
}

/** The local-part redirect for an address: one for exactly it, else one for its local part in any domain (each also without the tag). */
function localRedirect(dir: Directory, p: Probe): NormalAddress | undefined {
	const a = p.a;
	let redirect: Redirect | undefined = p.exact?.redirect;
	let tagged = false;
	if (!redirect && p.base?.redirect) {
		redirect = p.base.redirect;
		tagged = true;
	}
	if (!redirect) redirect = dir.redirectByLocal.get(a.local);
	if (!redirect && a.tag !== undefined) {
		redirect = dir.redirectByLocal.get(a.local.slice(0, a.local.length - a.tag.length - dir.rules.subaddressSeparator.length));
		tagged = redirect !== undefined;
	}
	if (!redirect) return undefined;
	matchedKey = redirect.rule;
	return makeAddress(tagged ? `${redirect.local}${dir.rules.subaddressSeparator}${a.tag}` : redirect.local, redirect.domain ?? a.domain, dir.rules);
}

function routed(recipient: string, source: string, original: NormalAddress, final: NormalAddress, target: Target, path: PathStep[]): RecipientDecision {
	return { recipient, source, address: original.address, finalAddress: final.address, outcome: 'routed', target, path };
}

export function decideRecipient(dir: Directory, recipient: string, options: DecideOptions, source = ''): RecipientDecision {
	const path: PathStep[] = [];
	const original = normalizeAddress(recipient, dir.rules);
	if (!original) {
		path.push({ step: 'address', matched: false, address: recipient, detail: `"${recipient}" is not an e-mail address` });
		return unknown(dir, recipient, source, null, null, [], path, options);
	}

	// 1. domain redirect
	let current = original;
	const redirect = dir.domainRedirects.get(original.domain);
	if (redirect) {
		current = withDomain(original, redirect.domain, dir.rules);
		path.push({ step: 'domainRedirect', matched: true, address: original.address, detail: `domain redirect ${redirect.rule}: ${current.address}` });
	} else {
		path.push({ step: 'domainRedirect', matched: false, address: original.address, detail: `no domain redirect for ${original.domain}` });
	}

	// 2. an existing inbox
	const cur = probe(dir, current);
	let target = lookup(cur, 'inbox');
	if (target) {
		path.push({ step: 'inbox', matched: true, address: current.address, detail: `${describe(target)} receives ${matchedKey}${via(current)}` });
		return routed(recipient, source, original, current, target, path);
	}
	path.push({ step: 'inbox', matched: false, address: current.address, detail: `no inbox receives ${current.address}` });

	// 3. local-part redirect, then an inbox again
	const redirected = localRedirect(dir, cur);
	let loc: Probe | undefined;
	let final = current;
	if (redirected) {
		path.push({ step: 'localPartRedirect', matched: true, address: current.address, detail: `local-part redirect ${matchedKey}: ${redirected.address}` });
		final = redirected;
		loc = probe(dir, redirected);
		target = lookup(loc, 'inbox');
		if (target) {
			path.push({ step: 'inboxAfterRedirect', matched: true, address: redirected.address, detail: `${describe(target)} receives ${matchedKey}${via(redirected)}` });
			return routed(recipient, source, original, redirected, target, path);
		}
		path.push({ step: 'inboxAfterRedirect', matched: false, address: redirected.address, detail: `no inbox receives ${redirected.address}` });
	} else {
		path.push({ step: 'localPartRedirect', matched: false, address: current.address, detail: `no local-part redirect for ${current.address}` });
	}

	// 4. employee, 5. distribution list: the redirected address first, then the one sent to
	const candidates: Probe[] = loc && loc.a.address !== current.address ? [loc, cur] : [cur];
	if (original.address !== current.address && (!loc || original.address !== loc.a.address)) candidates.push(probe(dir, original));
	for (let s = 0; s < 2; s++) {
		const slot: Slot = s === 0 ? 'employee' : 'list';
		const label = s === 0 ? 'employee' : 'distribution list';
		for (let c = 0; c < candidates.length; c++) {
			target = lookup(candidates[c], slot);
			if (target) {
				const a = candidates[c].a;
				path.push({ step: s === 0 ? 'employee' : 'distributionList', matched: true, address: a.address, detail: `${label} "${target.name}" has ${matchedKey}${via(a)}: ${describe(target)}` });
				return routed(recipient, source, original, final, target, path);
			}
		}
		path.push({ step: s === 0 ? 'employee' : 'distributionList', matched: false, address: final.address, detail: `no ${label} has ${candidateList(candidates)}` });
	}
	return unknown(dir, recipient, source, original.address, final.address, candidates, path, options);
}

function candidateList(candidates: Probe[]): string {
	let out = candidates[0].a.address;
	for (let c = 1; c < candidates.length; c++) out += ` or ${candidates[c].a.address}`;
	return out;
}

function unknown(
	dir: Directory,
	recipient: string,
	source: string,
	address: string | null,
	finalAddress: string | null,
	candidates: Probe[],
	path: PathStep[],
	options: DecideOptions,
): RecipientDecision {
	if (!options.dropUnknown) {
		path.push({ step: 'unknown', matched: true, address: finalAddress ?? recipient, detail: 'unknown address: the message stays in the master mailbox' });
		return { recipient, source, address, finalAddress, outcome: 'unknownKept', path };
	}
	for (let c = 0; c < candidates.length; c++) {
		const p = candidates[c];
		const byAddress = p.exact?.exception ? p.a.address : p.base?.exception ? p.a.base : undefined;
		if (byAddress || dir.exceptionDomains.has(p.a.domain)) {
			path.push({ step: 'exception', matched: true, address: p.a.address, detail: `unknown address, but ${byAddress ?? `@${p.a.domain}`} is an exception: the message stays in the master mailbox` });
			return { recipient, source, address, finalAddress, outcome: 'unknownKept', path };
		}
	}
	if (options.keepReason !== undefined) {
		path.push({ step: 'unknown', matched: true, address: finalAddress ?? recipient, detail: `unknown address and no exception, but not dropped: ${options.keepReason}; the message stays in the master mailbox` });
		return { recipient, source, address, finalAddress, outcome: 'unknownKept', path };
	}
	path.push({ step: 'exception', matched: false, address: finalAddress ?? recipient, detail: 'unknown address and no exception: dropped (unknown addresses are not stored)' });
	return { recipient, source, address, finalAddress, outcome: 'unknownDropped', path };
}
