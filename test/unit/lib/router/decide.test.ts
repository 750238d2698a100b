/**
 * The master mailbox's decision order, step by step, with the examples of the help page:
 * xyz@myfactory.abc -> xyz@myfactory.exp (domain redirect), sys.admin@ -> sysadmin@ (local-part
 * redirect), employees' and distribution lists' inboxes created when missing, unknown addresses
 * kept or dropped, "@myfactory.com" as an exception.
 */
import { MailboxError } from '../../../../lib/errors';
import { normalizeAddress, splitAddressList } from '../../../../lib/router/address';
import { buildDirectory, type DirectoryInput } from '../../../../lib/router/directory';
import { MessageRouter, type MessageRouterOptions } from '../../../../lib/router/route';

const directory: DirectoryInput = {
	inboxes: [
		{ name: 'XYZ', addresses: ['xyz@myfactory.exp'] },
		{ name: 'Admin', addresses: ['sysadmin@myfactory.exp'] },
		{ name: 'Sales', addresses: ['sales@myfactory.exp', 'vertrieb@myfactory.exp'], folder: 'Shared/Sales Team' },
		{ name: 'Anna Müller', addresses: ['anna.shared@myfactory.exp'] },
		{ name: 'Special', addresses: ['sys.admin@special.exp'] },
	],
	employees: [
		{ name: 'Anna Müller', addresses: ['anna@myfactory.exp', 'a.mueller@myfactory.exp'] },
		{ name: 'Bernd Bauer', addresses: ['bernd@myfactory.exp'] },
		{ name: 'Carla Weiß', addresses: ['carla@myfactory.exp'], inbox: 'Sales' },
		{ name: 'Dora Dual', addresses: ['dual@myfactory.exp'] },
	],
	distributionLists: [
		{ name: 'Support', addresses: ['support@myfactory.exp'] },
		{ name: 'Buchhaltung', addresses: ['rechnung@myfactory.exp'], inbox: 'Sales' },
		{ name: 'Dual List', addresses: ['dual@myfactory.exp'] },
		{ name: 'XYZ List', addresses: ['xyz@myfactory.exp'] },
	],
	domainRedirects: [{ from: 'myfactory.abc', to: 'myfactory.exp' }],
	localPartRedirects: [
		{ from: 'sys.admin', to: 'sysadmin' },
		{ from: 'info@myfactory.exp', to: 'support' },
		{ from: 'chef', to: 'bernd@myfactory.exp' },
	],
	exceptions: ['@myfactory.com', 'keep.me@elsewhere.example'],
};

const router = (options: MessageRouterOptions = {}, input: DirectoryInput = directory) => new MessageRouter(input, options);
const steps = (d: { path: Array<{ step: string; matched: boolean }> }) => d.path.map((p) => `${p.step}:${p.matched ? 'yes' : 'no'}`);

describe('step 1: domain redirect', () => {
	it('xyz@myfactory.abc becomes xyz@myfactory.exp and goes to the inbox of that address', () => {
		const d = router().decide('xyz@myfactory.abc');
		expect(d.outcome).toBe('routed');
		expect(d.address).toBe('xyz@myfactory.abc');
		expect(d.finalAddress).toBe('xyz@myfactory.exp');
		expect(d.target).toMatchObject({ type: 'inbox', inbox: 'XYZ', folder: 'Inboxes/XYZ', inboxIsNew: false });
		expect(steps(d)).toEqual(['domainRedirect:yes', 'inbox:yes']);
		expect(d.path[0].detail).toBe('domain redirect myfactory.abc -> myfactory.exp: xyz@myfactory.exp');
	});

	it('a domain without a rule is left as it is', () => {
		const d = router().decide('xyz@myfactory.exp');
		expect(steps(d)).toEqual(['domainRedirect:no', 'inbox:yes']);
		expect(d.finalAddress).toBe('xyz@myfactory.exp');
	});

	it('chains of redirects are followed to the end (a -> b -> c), and a loop is refused when the directory is built', () => {
		const d = router({}, { ...directory, domainRedirects: [{ from: 'old.example', to: 'myfactory.abc' }, { from: 'myfactory.abc', to: 'myfactory.exp' }] }).decide('xyz@old.example');
		expect(d.finalAddress).toBe('xyz@myfactory.exp');
		expect(d.path[0].detail).toContain('old.example -> myfactory.abc -> myfactory.exp');
		expect(() => buildDirectory({ domainRedirects: [{ from: 'a.example', to: 'b.example' }, { from: 'b.example', to: 'a.example' }] })).toThrow(/loop: a\.example -> b\.example -> a\.example/);
	});

	it('"@old.example" is accepted as a domain; a redirect to itself is refused', () => {
		expect(router({}, { ...directory, domainRedirects: [{ from: '@myfactory.abc', to: '@myfactory.exp' }] }).decide('xyz@myfactory.abc').target?.inbox).toBe('XYZ');
		expect(() => buildDirectory({ domainRedirects: [{ from: 'a.example', to: 'A.EXAMPLE' }] })).toThrow(/to itself/);
	});
});

describe('step 2: an existing inbox', () => {
	it('an inbox that receives the address gets it, with its own folder when it has one', () => {
		const d = router().decide('vertrieb@myfactory.exp');
		expect(d.target).toMatchObject({ type: 'inbox', inbox: 'Sales', folder: 'Shared/Sales Team', folderParts: ['Shared', 'Sales Team'] });
	});

	it('is checked before the local-part redirect: an inbox for sys.admin@special.exp takes it as it is', () => {
		const d = router().decide('sys.admin@special.exp');
		expect(d.target?.inbox).toBe('Special');
		expect(steps(d)).toEqual(['domainRedirect:no', 'inbox:yes']);
	});

	it('is checked before employees and lists: xyz@ is an inbox and a list address, the inbox wins', () => {
		expect(router().decide('xyz@myfactory.exp').target?.type).toBe('inbox');
	});
});

describe('step 3: local-part redirect', () => {
	it('sys.admin@myfactory.exp becomes sysadmin@myfactory.exp, then the inbox is looked for again', () => {
		const d = router().decide('sys.admin@myfactory.exp');
		expect(d.outcome).toBe('routed');
		expect(d.finalAddress).toBe('sysadmin@myfactory.exp');
		expect(d.target?.inbox).toBe('Admin');
		expect(steps(d)).toEqual(['domainRedirect:no', 'inbox:no', 'localPartRedirect:yes', 'inboxAfterRedirect:yes']);
	});

	it('both examples together: sys.admin@myfactory.abc -> sys.admin@myfactory.exp -> sysadmin@myfactory.exp', () => {
		const d = router().decide('Sys.Admin@MyFactory.ABC');
		expect(d.finalAddress).toBe('sysadmin@myfactory.exp');
		expect(d.target?.inbox).toBe('Admin');
		expect(steps(d)).toEqual(['domainRedirect:yes', 'inbox:no', 'localPartRedirect:yes', 'inboxAfterRedirect:yes']);
	});

	it('a rule for one address applies to that address only; a rule without a domain to every domain', () => {
		expect(router().decide('info@myfactory.exp').target?.name).toBe('Support');
		expect(router().decide('info@myfactory.com').outcome).toBe('unknownKept');
		expect(router().decide('sys.admin@other.example').finalAddress).toBe('sysadmin@other.example');
	});

	it('the target may be a full address: chef@ -> bernd@myfactory.exp, then the employee', () => {
		const d = router().decide('chef@myfactory.abc');
		expect(d.finalAddress).toBe('bernd@myfactory.exp');
		expect(d.target).toMatchObject({ type: 'employee', name: 'Bernd Bauer' });
	});

	it('after the redirect, employees and lists are looked up with the new address first, then the one sent to', () => {
		const d = router({}, { ...directory, localPartRedirects: [{ from: 'anna', to: 'nobody' }] }).decide('anna@myfactory.exp');
		expect(d.finalAddress).toBe('nobody@myfactory.exp');
		expect(d.target?.name).toBe('Anna Müller');
		expect(d.path.find((p) => p.step === 'employee')?.address).toBe('anna@myfactory.exp');
	});
});

describe('step 4: employees', () => {
	it("an employee's address goes to the employee's inbox, created when missing", () => {
		const d = router().decide('bernd@myfactory.exp');
		expect(d.target).toMatchObject({ type: 'employee', name: 'Bernd Bauer', inbox: 'Bernd Bauer', folder: 'Inboxes/Bernd Bauer', inboxIsNew: true });
		expect(steps(d)).toEqual(['domainRedirect:no', 'inbox:no', 'localPartRedirect:no', 'employee:yes']);
		expect(d.path[3].detail).toContain('(new, folder Inboxes/Bernd Bauer)');
	});

	it("an employee whose inbox exists (by name, or named in Inbox) goes there, not to a new one", () => {
		expect(router().decide('a.mueller@myfactory.exp').target).toMatchObject({ type: 'employee', inbox: 'Anna Müller', inboxIsNew: false });
		expect(router().decide('carla@myfactory.exp').target).toMatchObject({ type: 'employee', name: 'Carla Weiß', inbox: 'Sales', folder: 'Shared/Sales Team', inboxIsNew: false });
	});

	it('after a domain redirect: anna@myfactory.abc', () => {
		expect(router().decide('anna@myfactory.abc').target?.name).toBe('Anna Müller');
	});

	it('is checked before distribution lists', () => {
		expect(router().decide('dual@myfactory.exp').target).toMatchObject({ type: 'employee', name: 'Dora Dual' });
	});

	it('the inbox root is configurable, also empty', () => {
		expect(router({ inboxRoot: 'Shared/Postfächer' }).decide('bernd@myfactory.exp').target?.folder).toBe('Shared/Postfächer/Bernd Bauer');
		expect(router({ inboxRoot: '' }).decide('bernd@myfactory.exp').target?.folderParts).toEqual(['Bernd Bauer']);
	});
});

describe('step 5: distribution lists', () => {
	it("a list's address goes to the list's inbox, created when missing", () => {
		const d = router().decide('support@myfactory.abc');
		expect(d.target).toMatchObject({ type: 'distributionList', name: 'Support', inbox: 'Support', folder: 'Inboxes/Support', inboxIsNew: true });
		expect(steps(d)).toEqual(['domainRedirect:yes', 'inbox:no', 'localPartRedirect:no', 'employee:no', 'distributionList:yes']);
	});

	it('a list with an existing inbox named in Inbox', () => {
		expect(router().decide('rechnung@myfactory.exp').target).toMatchObject({ type: 'distributionList', name: 'Buchhaltung', inbox: 'Sales', inboxIsNew: false });
	});
});

describe('step 6: unknown addresses', () => {
	it('stay in the master mailbox by default', () => {
		const d = router().decide('nobody@myfactory.exp');
		expect(d.outcome).toBe('unknownKept');
		expect(steps(d)).toEqual(['domainRedirect:no', 'inbox:no', 'localPartRedirect:no', 'employee:no', 'distributionList:no', 'unknown:yes']);
	});

	it('are dropped with "drop unknown addresses"', () => {
		const d = router({ dropUnknown: true }).decide('nobody@myfactory.exp');
		expect(d.outcome).toBe('unknownDropped');
		expect(d.path[d.path.length - 1]).toMatchObject({ step: 'exception', matched: false });
	});

	it('except for "@myfactory.com": every address of that domain is kept', () => {
		const d = router({ dropUnknown: true }).decide('Whoever@MYFACTORY.com');
		expect(d.outcome).toBe('unknownKept');
		expect(d.path[d.path.length - 1].detail).toContain('@myfactory.com is an exception');
	});

	it('except for listed addresses (with or without a plus-tag)', () => {
		expect(router({ dropUnknown: true }).decide('keep.me@elsewhere.example').outcome).toBe('unknownKept');
		expect(router({ dropUnknown: true }).decide('keep.me+x@elsewhere.example').outcome).toBe('unknownKept');
		expect(router({ dropUnknown: true }).decide('other@elsewhere.example').outcome).toBe('unknownDropped');
	});

	it('an exception matches the address as sent, also when it was redirected', () => {
		const r = router({ dropUnknown: true }, { ...directory, exceptions: ['@myfactory.abc'] });
		expect(r.decide('nobody@myfactory.abc').outcome).toBe('unknownKept');
		expect(r.decide('nobody@myfactory.exp').outcome).toBe('unknownDropped');
	});

	it('a recipient that is not an address is unknown', () => {
		expect(router().decide('undisclosed-recipients:;').outcome).toBe('unknownKept');
		expect(router({ dropUnknown: true }).decide('no address').outcome).toBe('unknownDropped');
	});
});

describe('comparisons', () => {
	it('the domain is compared case-insensitively, the local part too by default', () => {
		expect(router().decide('XYZ@MyFactory.EXP').target?.inbox).toBe('XYZ');
		expect(router().decide('"Anna" <ANNA@myfactory.exp>').target?.name).toBe('Anna Müller');
	});

	it('with a case-sensitive local part, Anna@ is not anna@ (the domain is still case-insensitive)', () => {
		const r = router({ rules: { caseSensitiveLocalPart: true, subaddressSeparator: '+' } });
		expect(r.decide('ANNA@myfactory.exp').outcome).toBe('unknownKept');
		expect(r.decide('anna@MYFACTORY.EXP').target?.name).toBe('Anna Müller');
	});

	it('plus-addressing: anna+newsletter@ is anna@; sys.admin+x@ is redirected to sysadmin+x@ and found as sysadmin@', () => {
		const d = router().decide('anna+newsletter@myfactory.exp');
		expect(d.target?.name).toBe('Anna Müller');
		expect(d.path.find((p) => p.step === 'employee')?.detail).toContain('without the tag "newsletter"');
		const s = router().decide('sys.admin+alerts@myfactory.abc');
		expect(s.finalAddress).toBe('sysadmin+alerts@myfactory.exp');
		expect(s.target?.inbox).toBe('Admin');
	});

	it('a tagged address listed itself wins over its base; without plus-addressing the tag is part of the address', () => {
		const input = { inboxes: [{ name: 'Tagged', addresses: ['anna+vip@myfactory.exp'] }, { name: 'Anna', addresses: ['anna@myfactory.exp'] }] };
		expect(router({}, input).decide('anna+vip@myfactory.exp').target?.inbox).toBe('Tagged');
		expect(router({}, input).decide('anna+other@myfactory.exp').target?.inbox).toBe('Anna');
		expect(router({ rules: { caseSensitiveLocalPart: false, subaddressSeparator: '' } }, input).decide('anna+other@myfactory.exp').outcome).toBe('unknownKept');
		expect(router({ rules: { caseSensitiveLocalPart: false, subaddressSeparator: '-' } }, input).decide('anna-other@myfactory.exp').target?.inbox).toBe('Anna');
	});

	it('IDN domains are compared in their ASCII form', () => {
		const r = router({}, { inboxes: [{ name: 'Büro', addresses: ['info@bücher.example'] }] });
		expect(r.decide('info@xn--bcher-kva.example').target?.inbox).toBe('Büro');
		expect(normalizeAddress('Info@Bücher.Example.')?.address).toBe('info@xn--bcher-kva.example');
	});

	it('address lists split at commas and semicolons, not inside quotes or angle brackets', () => {
		expect(splitAddressList('"Müller, Anna" <anna@x.example>; b@x.example,\r\n c@x.example')).toEqual(['"Müller, Anna" <anna@x.example>', 'b@x.example', 'c@x.example']);
	});
});

describe('directory mistakes are refused with the field and the fix', () => {
	const error = (input: DirectoryInput): MailboxError => {
		try {
			buildDirectory(input);
		} catch (e) {
			return e as MailboxError;
		}
		throw new Error('no error');
	};

	it.each<[string, DirectoryInput, string, RegExp]>([
		['an address that is not one', { inboxes: [{ name: 'A', addresses: ['not-an-address'] }] }, 'inboxes', /Inbox 1 \("A"\): "not-an-address" is not an e-mail address/],
		['one address in two inboxes', { inboxes: [{ name: 'A', addresses: ['x@a.example'] }, { name: 'B', addresses: ['X@A.example'] }] }, 'inboxes', /x@a\.example belongs to two inboxes, "A" and "B"/],
		['two inboxes with one name', { inboxes: [{ name: 'A', addresses: [] }, { name: 'a', addresses: [] }] }, 'inboxes', /Two inboxes are named "a"/],
		['an employee without address', { employees: [{ name: 'Anna', addresses: [] }] }, 'employees', /Employee 1 \("Anna"\) has no address/],
		['one address for two lists', { distributionLists: [{ name: 'A', addresses: ['l@a.example'] }, { name: 'B', addresses: ['l@a.example'] }] }, 'distributionLists', /two distribution lists/],
		['a domain that is not one', { domainRedirects: [{ from: 'localhost', to: 'a.example' }] }, 'domainRedirects', /"localhost" is not a domain/],
		['an old domain redirected twice', { domainRedirects: [{ from: 'a.example', to: 'b.example' }, { from: 'a.example', to: 'c.example' }] }, 'domainRedirects', /redirected twice/],
		['a local part with a space', { localPartRedirects: [{ from: 'sys admin', to: 'sysadmin' }] }, 'localPartRedirects', /"sys admin" is not a local part/],
		['an exception that is not a domain', { exceptions: ['@nodot'] }, 'exceptions', /is not a domain/],
	])('%s', (_label, input, field, message) => {
		const e = error(input);
		expect(e).toBeInstanceOf(MailboxError);
		expect(e.code).toBe('CONFIG');
		expect(e.field).toBe(field);
		expect(e.message).toMatch(message);
		expect(e.hint).toBeTruthy();
	});

	it('the parameter names can be given (the node names its own fields)', () => {
		try {
			buildDirectory({ employees: [{ name: '', addresses: ['a@b.example'] }] }, {}, { employees: 'directoryJson' });
			throw new Error('no error');
		} catch (e) {
			expect((e as MailboxError).field).toBe('directoryJson');
		}
	});
});

describe('lookups do not depend on the directory size', () => {
	it('the index holds one entry per address', () => {
		const dir = buildDirectory({ employees: Array.from({ length: 1000 }, (_, i) => ({ name: `E${i}`, addresses: [`e${i}@a.example`, `e${i}.alias@a.example`] })) });
		expect(dir.size).toBe(2000);
		expect(dir.entries.get('e999.alias@a.example')?.employee?.name).toBe('E999');
	});
});
