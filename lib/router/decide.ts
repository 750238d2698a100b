import { normalizeAddress, withDomain, type NormalAddress } from './address';
import { applyLocalRedirect, type Directory, type Target } from './directory';

/**
 * The routing decision for one recipient address, in the order of a master (catch-all) mailbox:
 *
 * 1. domain redirect (xyz@old.example -> xyz@new.example);
 * 2. an existing inbox for the address;
 * 3. local-part redirect (sys.admin@ -> sysadmin@), then an existing inbox again;
 * 4. an employee's address -> the employee's inbox (created when missing);
 * 5. a distribution list's address -> the list's inbox (created when missing);
 * 6. unknown: kept in the master mailbox, or dropped when unknown addresses are not stored, except
 *    for the exceptions (addresses, or "@domain").
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
}

/** The value for the address, or else for the address without its tag. */
function find<T>(map: Map<string, T>, a: NormalAddress): { value: T; key: string } | undefined {
	const exact = map.get(a.address);
	if (exact !== undefined) return { value: exact, key: a.address };
	if (a.base !== undefined) {
		const base = map.get(a.base);
		if (base !== undefined) return { value: base, key: a.base };
	}
	return undefined;
}

function via(key: string, a: NormalAddress): string {
	return key === a.address ? '' : ` (as ${key}, without the tag "${a.tag}")`;
}

function describe(target: Target): string {
	return target.inboxIsNew ? `inbox "${target.inbox}" (new, folder ${target.folder})` : `inbox "${target.inbox}" (folder ${target.folder})`;
}

export function decideRecipient(dir: Directory, recipient: string, options: DecideOptions, source = ''): RecipientDecision {
	const path: PathStep[] = [];
	const original = normalizeAddress(recipient, dir.rules);
	if (!original) {
		path.push({ step: 'address', matched: false, address: recipient, detail: `"${recipient}" is not an e-mail address` });
		return unknown(dir, recipient, source, null, [], path, options);
	}
	const done = (target: Target, finalAddress: string): RecipientDecision => ({ recipient, source, address: original.address, finalAddress, outcome: 'routed', target, path });

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
	let hit = find(dir.inboxByAddress, current);
	if (hit) {
		path.push({ step: 'inbox', matched: true, address: current.address, detail: `${describe(hit.value)} receives ${hit.key}${via(hit.key, current)}` });
		return done(hit.value, current.address);
	}
	path.push({ step: 'inbox', matched: false, address: current.address, detail: `no inbox receives ${current.address}` });

	// 3. local-part redirect, then an inbox again
	const local = applyLocalRedirect(dir, current);
	const candidates: NormalAddress[] = [current];
	if (local) {
		const before = current;
		current = local.address;
		path.push({ step: 'localPartRedirect', matched: true, address: before.address, detail: `local-part redirect ${local.rule}: ${current.address}` });
		hit = find(dir.inboxByAddress, current);
		if (hit) {
			path.push({ step: 'inboxAfterRedirect', matched: true, address: current.address, detail: `${describe(hit.value)} receives ${hit.key}${via(hit.key, current)}` });
			return done(hit.value, current.address);
		}
		path.push({ step: 'inboxAfterRedirect', matched: false, address: current.address, detail: `no inbox receives ${current.address}` });
		candidates.unshift(current);
	} else {
		path.push({ step: 'localPartRedirect', matched: false, address: current.address, detail: `no local-part redirect for ${current.address}` });
	}
	if (!candidates.some((c) => c.address === original.address)) candidates.push(original);

	// 4. employee, 5. distribution list: the redirected address first, then the one sent to
	for (const [step, map, label] of [
		['employee', dir.employeeByAddress, 'employee'],
		['distributionList', dir.listByAddress, 'distribution list'],
	] as const) {
		for (const a of candidates) {
			hit = find(map, a);
			if (hit) {
				path.push({ step, matched: true, address: a.address, detail: `${label} "${hit.value.name}" has ${hit.key}${via(hit.key, a)}: ${describe(hit.value)}` });
				return done(hit.value, current.address);
			}
		}
		path.push({ step, matched: false, address: current.address, detail: `no ${label} has ${candidates.map((c) => c.address).join(' or ')}` });
	}
	return unknown(dir, recipient, source, original.address, candidates, path, options, current.address);
}

function unknown(
	dir: Directory,
	recipient: string,
	source: string,
	address: string | null,
	candidates: NormalAddress[],
	path: PathStep[],
	options: DecideOptions,
	finalAddress: string | null = address,
): RecipientDecision {
	const base = { recipient, source, address, finalAddress, path };
	if (!options.dropUnknown) {
		path.push({ step: 'unknown', matched: true, address: finalAddress ?? recipient, detail: 'unknown address: the message stays in the master mailbox' });
		return { ...base, outcome: 'unknownKept' };
	}
	for (const a of candidates) {
		const byAddress = dir.exceptionAddresses.has(a.address) ? a.address : a.base !== undefined && dir.exceptionAddresses.has(a.base) ? a.base : undefined;
		if (byAddress || dir.exceptionDomains.has(a.domain)) {
			path.push({ step: 'exception', matched: true, address: a.address, detail: `unknown address, but ${byAddress ?? `@${a.domain}`} is an exception: the message stays in the master mailbox` });
			return { ...base, outcome: 'unknownKept' };
		}
	}
	path.push({ step: 'exception', matched: false, address: finalAddress ?? recipient, detail: 'unknown address and no exception: dropped (unknown addresses are not stored)' });
	return { ...base, outcome: 'unknownDropped' };
}
