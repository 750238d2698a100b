import { configError } from '../errors';
import { DEFAULT_ADDRESS_RULES, normalizeAddress, normalizeDomain, splitAddressList, type AddressRules, type NormalAddress } from './address';

/**
 * The directory of a master (catch-all) mailbox: the inboxes that exist, the employees and
 * distribution lists (whose inboxes are created when missing), the domain and local-part
 * redirects, and the exceptions to "drop unknown addresses". As the user or a previous node
 * gives it ({@link DirectoryInput}), and indexed for routing ({@link Directory}): every lookup is
 * one Map access by normalized address, so a decision costs the same for 10 or 100,000 entries.
 */

export interface InboxEntry {
	name: string;
	/** The addresses the inbox receives. */
	addresses: string[];
	/** Its IMAP folder, "/"-separated; default: the inbox root, then the name. */
	folder?: string;
}

export interface OwnerEntry {
	/** The employee's or the list's name. */
	name: string;
	addresses: string[];
	/** The name of the inbox (existing, or to create); default: the name. */
	inbox?: string;
}

export interface RedirectRule {
	from: string;
	to: string;
}

export interface DirectoryInput {
	inboxes?: InboxEntry[];
	employees?: OwnerEntry[];
	distributionLists?: OwnerEntry[];
	/** old.example -> new.example ("@old.example" is accepted too). */
	domainRedirects?: RedirectRule[];
	/** sys.admin -> sysadmin (any domain), or sys.admin@example.com -> sysadmin (that address only); the target may be a full address. */
	localPartRedirects?: RedirectRule[];
	/** Addresses ("info@example.com") and domains ("@example.com") kept although unknown addresses are dropped. */
	exceptions?: string[];
}

export type TargetType = 'inbox' | 'employee' | 'distributionList';

/** Where a recipient's copy goes: an inbox and its folder. One object per inbox, shared by all decisions. */
export interface Target {
	/** What matched: the inbox itself (steps 2/3), an employee (4) or a distribution list (5). */
	type: TargetType;
	/** The inbox's, employee's or list's name. */
	name: string;
	/** The inbox the message goes to. */
	inbox: string;
	/** Its folder, "/"-separated (the server's delimiter is used when delivering). */
	folder: string;
	/** The folder path split into its parts. */
	folderParts: readonly string[];
	/** True when the directory has no inbox of that name: it is created on delivery. */
	inboxIsNew: boolean;
	/** Same key = same folder: one copy per message. */
	key: string;
}

/** What the directory knows about one address. */
export interface AddressEntry {
	inbox?: Target;
	employee?: Target;
	list?: Target;
	/** A local-part redirect for exactly this address. */
	redirect?: Redirect;
	/** Listed as an exception to "drop unknown addresses". */
	exception?: boolean;
}

export interface Redirect {
	/** Replacement local part. */
	local: string;
	/** Replacement domain, when the rule names one. */
	domain?: string;
	rule: string;
}

export interface DirectorySettings {
	rules?: AddressRules;
	/** Parent folder of the inboxes, "/"-separated (default "Inboxes"); '' puts them at the top. */
	inboxRoot?: string;
	/** The parameter that held the directory, for error messages (default "directory"). */
	field?: string;
}

/** Parameter field names of each part, for error messages. */
export interface DirectoryFields {
	inboxes: string;
	employees: string;
	distributionLists: string;
	domainRedirects: string;
	localPartRedirects: string;
	exceptions: string;
}

const DEFAULT_FIELDS: DirectoryFields = {
	inboxes: 'inboxes',
	employees: 'employees',
	distributionLists: 'distributionLists',
	domainRedirects: 'domainRedirects',
	localPartRedirects: 'localPartRedirects',
	exceptions: 'exceptions',
};

function splitFolder(folder: string): string[] {
	return folder
		.split('/')
		.map((s) => s.trim())
		.filter(Boolean);
}

/** The indexed directory; build it with {@link buildDirectory}. */
export class Directory {
	readonly rules: AddressRules;
	/** Everything known about an address, in one entry: one Map access answers every step for it. */
	readonly entries = new Map<string, AddressEntry>();
	readonly inboxByName = new Map<string, Target>();
	readonly domainRedirects = new Map<string, { domain: string; rule: string }>();
	readonly redirectByLocal = new Map<string, Redirect>();
	readonly exceptionDomains = new Set<string>();
	/** Every domain the directory names (addresses, redirects, exceptions): the domains the master mailbox serves. */
	readonly domains = new Set<string>();
	readonly inboxRootParts: string[];
	/** Number of addresses indexed (inboxes, employees, lists). */
	size = 0;

	constructor(settings: DirectorySettings = {}) {
		this.rules = settings.rules ?? DEFAULT_ADDRESS_RULES;
		this.inboxRootParts = splitFolder(settings.inboxRoot ?? 'Inboxes');
	}

	/** The entry of an address, created when missing (while building). */
	entry(address: string): AddressEntry {
		let e = this.entries.get(address);
		if (!e) {
			e = {};
			this.entries.set(address, e);
		}
		return e;
	}

	/** A new inbox's target: the root folder, then the name. */
	newInboxTarget(type: TargetType, name: string, inbox: string): Target {
		const folderParts = [...this.inboxRootParts, inbox];
		return { type, name, inbox, folder: folderParts.join('/'), folderParts, inboxIsNew: true, key: folderParts.join('/').toLowerCase() };
	}
}

/** Parses a directory address or fails naming the field, the entry and the fix. */
function address(text: string, rules: AddressRules, field: string, where: string): NormalAddress {
	const parsed = normalizeAddress(text, rules);
	if (!parsed) throw configError(field, `${where}: "${text}" is not an e-mail address.`, 'Enter addresses such as anna@example.com, separated by commas.');
	return parsed;
}

function domainOf(text: string, field: string, where: string): string {
	const d = normalizeDomain(text.trim().replace(/^\*?@/, ''));
	if (!d || d.includes('@') || /\s/.test(d) || !d.includes('.')) {
		throw configError(field, `${where}: "${text}" is not a domain.`, 'Enter a domain such as example.com (or @example.com).');
	}
	return d;
}

/** Builds the index; every mistake in the directory is a CONFIG error naming the parameter, the entry and the fix. */
export function buildDirectory(input: DirectoryInput, settings: DirectorySettings = {}, fieldNames: Partial<DirectoryFields> = {}): Directory {
	const fields = { ...DEFAULT_FIELDS, ...fieldNames };
	const dir = new Directory(settings);
	const rules = dir.rules;

	// inboxes: by name (employees and lists refer to them) and by address
	(input.inboxes ?? []).forEach((entry, k) => {
		const where = `Inbox ${k + 1} ("${entry.name}")`;
		const name = entry.name.trim();
		if (!name) throw configError(fields.inboxes, `Inbox ${k + 1} has no name.`, 'Give every inbox a name; it is also the folder name under the inbox root.');
		const nameKey = name.toLowerCase();
		if (dir.inboxByName.has(nameKey)) throw configError(fields.inboxes, `Two inboxes are named "${name}".`, 'Inbox names must be unique (letter case is ignored): rename or merge them.');
		const folderParts = entry.folder?.trim() ? splitFolder(entry.folder) : [...dir.inboxRootParts, name];
		const folder = folderParts.join('/');
		const target: Target = { type: 'inbox', name, inbox: name, folder, folderParts, inboxIsNew: false, key: folder.toLowerCase() };
		dir.inboxByName.set(nameKey, target);
		for (const text of entry.addresses) {
			const a = address(text, rules, fields.inboxes, where);
			const e = dir.entry(a.address);
			if (e.inbox && e.inbox.name !== name) {
				throw configError(fields.inboxes, `The address ${a.address} belongs to two inboxes, "${e.inbox.name}" and "${name}".`, 'An address can be received by one inbox only: remove it from one of them.');
			}
			e.inbox = target;
			dir.domains.add(a.domain);
			dir.size++;
		}
	});

	const owners = (list: OwnerEntry[] | undefined, type: 'employee' | 'distributionList', field: string, label: string) => {
		const slot = type === 'employee' ? 'employee' : 'list';
		(list ?? []).forEach((entry, k) => {
			const name = entry.name.trim();
			const where = `${label} ${k + 1}${name ? ` ("${name}")` : ''}`;
			if (!name) throw configError(field, `${where} has no name.`, `Give every ${label.toLowerCase()} a name; it names the inbox that is created for it when "Inbox" is empty.`);
			if (entry.addresses.length === 0) throw configError(field, `${where} has no address.`, 'Enter at least one address, e.g. anna@example.com.');
			const inboxName = entry.inbox?.trim() || name;
			const existing = dir.inboxByName.get(inboxName.toLowerCase());
			const target: Target = existing ? { ...existing, type, name } : dir.newInboxTarget(type, name, inboxName);
			for (const text of entry.addresses) {
				const a = address(text, rules, field, where);
				const e = dir.entry(a.address);
				const other = e[slot];
				if (other && other.name !== name) {
					throw configError(field, `The address ${a.address} belongs to two ${type === 'employee' ? 'employees' : 'distribution lists'}, "${other.name}" and "${name}".`, 'Remove it from one of them.');
				}
				e[slot] = target;
				dir.domains.add(a.domain);
				dir.size++;
			}
		});
	};
	owners(input.employees, 'employee', fields.employees, 'Employee');
	owners(input.distributionLists, 'distributionList', fields.distributionLists, 'Distribution list');

	// domain redirects, chains resolved (a -> b, b -> c: a -> c); a loop is an error
	const direct = new Map<string, string>();
	(input.domainRedirects ?? []).forEach((rule, k) => {
		const where = `Domain redirect ${k + 1}`;
		const from = domainOf(rule.from, fields.domainRedirects, where);
		const to = domainOf(rule.to, fields.domainRedirects, where);
		if (from === to) throw configError(fields.domainRedirects, `${where} redirects ${from} to itself.`, 'Remove the rule, or enter the new domain as "To".');
		const before = direct.get(from);
		if (before && before !== to) throw configError(fields.domainRedirects, `${from} is redirected twice, to ${before} and to ${to}.`, 'Keep one rule per old domain.');
		direct.set(from, to);
		dir.domains.add(from).add(to);
	});
	for (const [from] of direct) {
		let to = from;
		const seen = [from];
		while (direct.has(to)) {
			to = direct.get(to)!;
			if (seen.includes(to)) throw configError(fields.domainRedirects, `The domain redirects form a loop: ${[...seen, to].join(' -> ')}.`, 'Remove one of these rules.');
			seen.push(to);
		}
		dir.domainRedirects.set(from, { domain: to, rule: seen.join(' -> ') });
	}

	(input.localPartRedirects ?? []).forEach((rule, k) => {
		const where = `Local-part redirect ${k + 1}`;
		const toText = rule.to.trim();
		let redirect: Redirect;
		if (toText.includes('@')) {
			const to = address(toText, rules, fields.localPartRedirects, where);
			redirect = { local: to.local, domain: to.domain, rule: '' };
			dir.domains.add(to.domain);
		} else {
			if (!toText || /[\s@]/.test(toText)) throw configError(fields.localPartRedirects, `${where}: "${rule.to}" is not a local part.`, 'Enter the new local part (sysadmin) or a full address (sysadmin@example.com) as "To".');
			redirect = { local: rules.caseSensitiveLocalPart ? toText : toText.toLowerCase(), rule: '' };
		}
		const fromText = rule.from.trim();
		if (fromText.includes('@')) {
			const from = address(fromText, rules, fields.localPartRedirects, where);
			redirect.rule = `${from.address} -> ${redirect.domain ? `${redirect.local}@${redirect.domain}` : `${redirect.local}@${from.domain}`}`;
			dir.entry(from.address).redirect = redirect;
			dir.domains.add(from.domain);
		} else {
			if (!fromText || /\s/.test(fromText)) throw configError(fields.localPartRedirects, `${where}: "${rule.from}" is not a local part.`, 'Enter the local part to replace (sys.admin), or a full address for one domain only (sys.admin@example.com), as "From".');
			const local = rules.caseSensitiveLocalPart ? fromText : fromText.toLowerCase();
			redirect.rule = `${local}@ -> ${redirect.domain ? `${redirect.local}@${redirect.domain}` : `${redirect.local}@`}`;
			dir.redirectByLocal.set(local, redirect);
		}
	});

	for (const text of input.exceptions ?? []) {
		const t = text.trim();
		if (!t) continue;
		if (t.startsWith('@') || t.startsWith('*@') || !t.includes('@')) {
			const d = domainOf(t, fields.exceptions, `Exception "${t}"`);
			dir.exceptionDomains.add(d);
			dir.domains.add(d);
		} else {
			const a = address(t, rules, fields.exceptions, 'Exceptions');
			dir.entry(a.address).exception = true;
			dir.domains.add(a.domain);
		}
	}
	return dir;
}

// ---------------------------------------------------------------------------------------------
// Directory input from JSON (a previous node's output, a database, a spreadsheet)

const ROW_TYPES: Record<string, keyof DirectoryInput> = {
	inbox: 'inboxes',
	inboxes: 'inboxes',
	employee: 'employees',
	employees: 'employees',
	distributionlist: 'distributionLists',
	distributionlists: 'distributionLists',
	list: 'distributionLists',
	domainredirect: 'domainRedirects',
	domainredirects: 'domainRedirects',
	localpartredirect: 'localPartRedirects',
	localpartredirects: 'localPartRedirects',
	exception: 'exceptions',
	exceptions: 'exceptions',
};

const EXAMPLE =
	'{"inboxes":[{"name":"Sales","addresses":["sales@example.com"]}],"employees":[{"name":"Anna Miller","addresses":["anna@example.com"]}],"distributionLists":[],"domainRedirects":[{"from":"old.example","to":"example.com"}],"localPartRedirects":[{"from":"sys.admin","to":"sysadmin"}],"exceptions":["@example.com"]}';

function isObject(v: unknown): v is Record<string, unknown> {
	return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A field by any of its accepted names, letter case and "_"/"-"/" " ignored (spreadsheet headers). */
function pick(row: Record<string, unknown>, names: string[]): unknown {
	for (const key of Object.keys(row)) {
		const k = key.toLowerCase().replace(/[\s_-]/g, '');
		if (names.includes(k)) return row[key];
	}
	return undefined;
}

function text(v: unknown): string {
	return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}

function addressesOf(v: unknown): string[] {
	if (Array.isArray(v)) return v.flatMap((x) => (typeof x === 'string' ? splitAddressList(x) : isObject(x) ? addressesOf(x.address ?? x.email) : []));
	return typeof v === 'string' ? splitAddressList(v) : [];
}

function fail(field: string, message: string): never {
	throw configError(field, message, `Give an object like ${EXAMPLE}, or a list of rows with a "type" column (inbox, employee, distributionList, domainRedirect, localPartRedirect, exception) and the columns name, addresses, inbox, folder, from, to.`);
}

function rowInto(out: Required<DirectoryInput>, kind: keyof DirectoryInput, row: unknown, field: string, where: string): void {
	if (kind === 'exceptions') {
		if (typeof row === 'string') out.exceptions.push(...splitAddressList(row));
		else if (isObject(row)) out.exceptions.push(...addressesOf(pick(row, ['address', 'addresses', 'email', 'domain', 'exception', 'value'])));
		else fail(field, `${where} is not an address or domain.`);
		return;
	}
	if (!isObject(row)) fail(field, `${where} is not an object.`);
	if (kind === 'domainRedirects' || kind === 'localPartRedirects') {
		const from = text(pick(row, ['from', 'old', 'source']));
		const to = text(pick(row, ['to', 'new', 'target']));
		if (!from || !to) fail(field, `${where} needs "from" and "to" (got ${JSON.stringify(row).slice(0, 120)}).`);
		out[kind].push({ from, to });
		return;
	}
	const name = text(pick(row, ['name', 'displayname', 'title']));
	const addresses = addressesOf(pick(row, ['addresses', 'address', 'email', 'emails', 'mail']));
	if (!name) fail(field, `${where} has no "name" (got ${JSON.stringify(row).slice(0, 120)}).`);
	if (addresses.length === 0) fail(field, `${where} ("${name}") has no "addresses" (a list, or text separated by commas).`);
	if (kind === 'inboxes') out.inboxes.push({ name, addresses, folder: text(pick(row, ['folder', 'path'])) || undefined });
	else out[kind].push({ name, addresses, inbox: text(pick(row, ['inbox', 'mailbox'])) || undefined });
}

/**
 * Reads a directory given as JSON: an object with the lists (inboxes, employees,
 * distributionLists, domainRedirects, localPartRedirects, exceptions), a list of such objects, or
 * a list of rows with a "type" column; also as JSON text. Empty text or null is an empty directory.
 */
export function parseDirectoryJson(value: unknown, field = 'directoryJson'): DirectoryInput {
	const out: Required<DirectoryInput> = { inboxes: [], employees: [], distributionLists: [], domainRedirects: [], localPartRedirects: [], exceptions: [] };
	let data = value;
	if (typeof data === 'string') {
		if (!data.trim()) return out;
		try {
			data = JSON.parse(data);
		} catch (error) {
			fail(field, `The directory is not valid JSON: ${error instanceof Error ? error.message : String(error)}.`);
		}
	}
	if (data === null || data === undefined) return out;
	const objects = Array.isArray(data) ? data : [data];
	objects.forEach((obj, k) => {
		if (!isObject(obj)) fail(field, `Entry ${k + 1} of the directory is not an object.`);
		const typeValue = pick(obj, ['type', 'kind']);
		if (typeValue !== undefined) {
			const kind = ROW_TYPES[text(typeValue).toLowerCase().replace(/[\s_-]/g, '')];
			if (!kind) fail(field, `Row ${k + 1} has the unknown type "${text(typeValue)}".`);
			rowInto(out, kind, obj, field, `Row ${k + 1} (${text(typeValue)})`);
			return;
		}
		for (const [key, list] of Object.entries(obj)) {
			const kind = ROW_TYPES[key.toLowerCase().replace(/[\s_-]/g, '')];
			if (!kind) fail(field, `The directory has the unknown key "${key}".`);
			if (list === null || list === undefined || list === '') continue;
			if (kind === 'exceptions' && typeof list === 'string') {
				out.exceptions.push(...splitAddressList(list));
				continue;
			}
			if (!Array.isArray(list)) fail(field, `"${key}" in the directory is not a list.`);
			list.forEach((row, i) => rowInto(out, kind, row, field, `${key}[${i}]`));
		}
	});
	return out;
}

/** Both directories in one: the lists appended. */
export function mergeDirectories(...parts: DirectoryInput[]): DirectoryInput {
	const out: Required<DirectoryInput> = { inboxes: [], employees: [], distributionLists: [], domainRedirects: [], localPartRedirects: [], exceptions: [] };
	for (const p of parts) for (const key of Object.keys(out) as Array<keyof DirectoryInput>) (out[key] as unknown[]).push(...((p[key] as unknown[] | undefined) ?? []));
	return out;
}
