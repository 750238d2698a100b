/**
 * Property tests with random directories and addresses (a seeded generator, so a failure can be
 * replayed with its seed): every recipient of every message ends in exactly one output, each
 * target gets one copy per message, and every decision equals that of a plain reference
 * implementation of the decision order (linear search, no index).
 */
import { normalizeAddress, type AddressRules } from '../../../../lib/router/address';
import type { DirectoryInput, OwnerEntry } from '../../../../lib/router/directory';
import { MessageRouter } from '../../../../lib/router/route';

/** mulberry32: small, fast, seeded. */
function prng(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

interface World {
	input: DirectoryInput;
	rules: AddressRules;
	dropUnknown: boolean;
	randomAddress: () => string;
}

function world(seed: number): World {
	const rnd = prng(seed);
	const int = (n: number) => Math.floor(rnd() * n);
	const pickOf = <T>(list: readonly T[]): T => list[int(list.length)];
	const domains = ['a.example', 'b.example', 'c.example', 'old.example', 'legacy.example', 'x.example'];
	const locals = ['anna', 'bob', 'sys.admin', 'sysadmin', 'info', 'sales', 'support', 'chef', 'team', 'it', 'hr', 'Max.Mustermann', 'q'];
	const rules: AddressRules = { caseSensitiveLocalPart: rnd() < 0.2, subaddressSeparator: pickOf(['+', '+', '-', '']) };
	const mixCase = (s: string) => (rnd() < 0.3 ? s.toUpperCase() : rnd() < 0.3 ? s[0].toUpperCase() + s.slice(1) : s);
	const address = () => `${pickOf(locals)}${rnd() < 0.2 ? `${rules.subaddressSeparator || '+'}${pickOf(['x', 'news', 'a'])}` : ''}@${pickOf(domains)}`;
	const used = new Set<string>();
	const fresh = (n: number) => {
		const out: string[] = [];
		for (let i = 0; i < n; i++) {
			const a = address();
			const key = normalizeAddress(a, rules)!.address;
			if (used.has(key)) continue;
			used.add(key);
			out.push(a);
		}
		return out;
	};
	const inboxes = Array.from({ length: int(5) }, (_, i) => ({ name: `Inbox ${i}`, addresses: fresh(int(4)) }));
	const ownerList = (prefix: string): OwnerEntry[] => {
		const local = new Set<string>();
		return Array.from({ length: int(5) }, (_, i) => ({
			name: `${prefix} ${i}`,
			addresses: Array.from({ length: 1 + int(3) }, address).filter((a) => {
				const key = normalizeAddress(a, rules)!.address;
				if (local.has(key)) return false;
				local.add(key);
				return true;
			}),
			inbox: rnd() < 0.3 && inboxes.length ? pickOf(inboxes).name : undefined,
		})).filter((o) => o.addresses.length > 0);
	};
	const redirectFrom = [...new Set(Array.from({ length: int(3) }, () => pickOf(['old.example', 'legacy.example'])))];
	return {
		rules,
		dropUnknown: rnd() < 0.5,
		input: {
			inboxes,
			employees: ownerList('Employee'),
			distributionLists: ownerList('List'),
			domainRedirects: redirectFrom.map((from) => ({ from, to: pickOf(['a.example', 'b.example']) })),
			localPartRedirects: [...new Set(Array.from({ length: int(4) }, () => pickOf(locals).toLowerCase()))].map((from) => ({ from, to: pickOf(locals).toLowerCase() })).filter((r) => r.from !== r.to),
			exceptions: Array.from({ length: int(3) }, () => (rnd() < 0.5 ? `@${pickOf(domains)}` : address())),
		},
		randomAddress: () => (rnd() < 0.05 ? 'not an address' : mixCase(address())),
	};
}

/** The decision order written out plainly: linear search over the entries, no index. */
function reference(w: World, recipient: string): { outcome: string; inbox?: string } {
	const norm = (a: string) => normalizeAddress(a, w.rules);
	const matches = (list: string[], a: { address: string; base?: string }) => {
		const keys = list.map((x) => norm(x)!.address);
		return keys.includes(a.address) || (a.base !== undefined && keys.includes(a.base));
	};
	const original = norm(recipient);
	const unknown = (cands: Array<{ address: string; base?: string; domain: string }>) => {
		if (!w.dropUnknown) return { outcome: 'unknownKept' };
		const exc = w.input.exceptions!;
		const kept = cands.some((c) => exc.some((e) => (e.startsWith('@') ? e.slice(1) === c.domain : matches([e], c))));
		return { outcome: kept ? 'unknownKept' : 'unknownDropped' };
	};
	if (!original) return unknown([]);
	const redirect = w.input.domainRedirects!.find((r) => r.from === original.domain);
	let current = redirect ? norm(`${original.local}@${redirect.to}`)! : original;
	const inboxFor = (a: typeof current) => w.input.inboxes!.find((i) => matches(i.addresses, a));
	let inbox = inboxFor(current);
	if (inbox) return { outcome: 'routed', inbox: inbox.name };
	const cands = [current];
	const sep = w.rules.subaddressSeparator;
	const rule = w.input.localPartRedirects!.find((r) => r.from === current.local || (current.tag !== undefined && `${r.from}${sep}${current.tag}` === current.local));
	if (rule) {
		const local = current.tag !== undefined && rule.from !== current.local ? `${rule.to}${sep}${current.tag}` : rule.to;
		current = norm(`${local}@${current.domain}`)!;
		inbox = inboxFor(current);
		if (inbox) return { outcome: 'routed', inbox: inbox.name };
		cands.unshift(current);
	}
	if (!cands.some((c) => c.address === original.address)) cands.push(original);
	for (const list of [w.input.employees!, w.input.distributionLists!]) {
		for (const c of cands) {
			const owner = list.find((o) => matches(o.addresses, c));
			if (owner) return { outcome: 'routed', inbox: owner.inbox ?? owner.name };
		}
	}
	return unknown(cands);
}

const SEEDS = Number(process.env.ROUTER_PROPERTY_RUNS ?? 400);

describe('random directories and addresses', () => {
	it(`every recipient ends in exactly one output, each target once per message, as the reference decides (${SEEDS} seeds)`, () => {
		const failures: string[] = [];
		let checked = 0;
		for (let seed = 1; seed <= SEEDS; seed++) {
			const w = world(seed);
			const router = new MessageRouter(w.input, { rules: w.rules, dropUnknown: w.dropUnknown, recipientSource: 'headers', ownDomains: ['*'] });
			const rnd = prng(seed * 7919);
			for (let m = 0; m < 20; m++) {
				const to = Array.from({ length: 1 + Math.floor(rnd() * 5) }, w.randomAddress);
				const routing = router.route({ to: to.join(', ') });
				checked += to.length;
				const context = `seed ${seed}, message ${m}, to ${to.join(', ')}`;

				// exactly one output per distinct recipient
				const firstByKey = new Map<string, string>();
				for (const t of to) {
					const key = normalizeAddress(t, w.rules)?.address ?? t.trim();
					if (!firstByKey.has(key)) firstByKey.set(key, t);
				}
				const distinct = [...firstByKey.values()];
				const decided = [...routing.routed.flatMap((c) => c.recipients), ...routing.kept, ...routing.dropped].map((d) => d.recipient);
				if (JSON.stringify([...decided].sort()) !== JSON.stringify([...distinct].sort())) failures.push(`${context}: decided ${decided.join(', ')}`);

				// one copy per target
				const keys = routing.routed.map((c) => c.target.key);
				if (new Set(keys).size !== keys.length) failures.push(`${context}: targets twice: ${keys.join(', ')}`);

				// the same decision as the reference, and a path that ends in the step that decided
				for (const copy of routing.routed) {
					for (const d of copy.recipients) {
						const expected = reference(w, d.recipient);
						if (expected.inbox !== copy.target.inbox) failures.push(`${context}: ${d.recipient} -> ${copy.target.inbox}, reference ${JSON.stringify(expected)}`);
						if (!d.path[d.path.length - 1].matched) failures.push(`${context}: ${d.recipient}: last step not matched`);
					}
				}
				for (const d of [...routing.kept, ...routing.dropped]) {
					const expected = reference(w, d.recipient);
					if (expected.outcome !== d.outcome) failures.push(`${context}: ${d.recipient} ${d.outcome}, reference ${JSON.stringify(expected)}`);
				}
				if (!w.dropUnknown && routing.dropped.length) failures.push(`${context}: dropped without "drop unknown"`);
				if (routing.removable !== (routing.kept.length === 0)) failures.push(`${context}: removable ${routing.removable}`);
			}
		}
		expect(failures.slice(0, 5)).toEqual([]);
		expect(checked).toBeGreaterThan(SEEDS * 20);
	});
});
