/** R10 correspondents and R11 stamps: who a message names, once each, and the fields stamped on items. */
import { correspondentsOf, MAX_CORRESPONDENTS, parseDomains } from '../../../../lib/message/correspondents';
import type { AddressList } from '../../../../lib/message/parse';
import { stampOf } from '../../../../nodes/shared/message-item';
import { MailboxError } from '../../../../lib/errors';

const list = (...entries: Array<[string, string?]>): AddressList => ({ value: entries.map(([address, name]) => ({ address, name: name ?? '' })), text: '' });
const none = list();

describe('correspondentsOf', () => {
	const received = {
		from: list(['dana@fabrikam.test', 'Dana Swope']),
		replyTo: list(['support@fabrikam.test', 'Fabrikam Support']),
		to: list(['info@contoso.test', 'Contoso Info'], ['Dana@Fabrikam.test']),
		cc: list(['bob@contoso.test', 'Bob'], ['carol@partner.test', '']),
		bcc: list(['hidden@contoso.test']),
	};

	it('names every person once, with the first role and all roles, inbound, internal by the mailbox domain; no Bcc for received mail', () => {
		const people = correspondentsOf(received, { direction: 'inbound', mailbox: 'info@contoso.test' });
		expect(people).toEqual([
			{ name: 'Dana Swope', address: 'dana@fabrikam.test', role: 'from', roles: ['from', 'to'], direction: 'inbound', internal: false, self: false },
			{ name: 'Fabrikam Support', address: 'support@fabrikam.test', role: 'replyTo', roles: ['replyTo'], direction: 'inbound', internal: false, self: false },
			{ name: 'Contoso Info', address: 'info@contoso.test', role: 'to', roles: ['to'], direction: 'inbound', internal: true, self: true },
			{ name: 'Bob', address: 'bob@contoso.test', role: 'cc', roles: ['cc'], direction: 'inbound', internal: true, self: false },
			{ name: null, address: 'carol@partner.test', role: 'cc', roles: ['cc'], direction: 'inbound', internal: false, self: false },
		]);
	});

	it('sent mail is outbound and includes Bcc; Own Domains replace the mailbox domain', () => {
		const people = correspondentsOf(received, { direction: 'outbound', mailbox: 'info@contoso.test', ownDomains: parseDomains('@fabrikam.test; partner.test') });
		expect(people.map((p) => [p.address, p.direction, p.internal])).toEqual([
			['dana@fabrikam.test', 'outbound', true],
			['support@fabrikam.test', 'outbound', true],
			['info@contoso.test', 'outbound', false],
			['bob@contoso.test', 'outbound', false],
			['carol@partner.test', 'outbound', true],
			['hidden@contoso.test', 'outbound', false],
		]);
	});

	it('skips entries without an address (groups, undisclosed recipients) and a mailbox name without a domain counts nothing internal', () => {
		const people = correspondentsOf({ from: list(['alice', 'Alice']), replyTo: none, to: list(['', 'Undisclosed recipients']), cc: none, bcc: none }, { direction: 'inbound', mailbox: 'alice' });
		expect(people).toEqual([]);
		const one = correspondentsOf({ from: list(['x@y.test']), replyTo: none, to: none, cc: none, bcc: none }, { direction: 'inbound', mailbox: 'alice' });
		expect(one[0]).toMatchObject({ internal: false, self: false });
	});

	it('is bounded: a sender cannot make an item of unbounded size', () => {
		const many = list(...Array.from({ length: MAX_CORRESPONDENTS + 200 }, (_, k): [string] => [`p${k}@spam.test`]));
		const people = correspondentsOf({ from: list(['a@b.test']), replyTo: none, to: many, cc: none, bcc: none }, { direction: 'inbound' });
		expect(people).toHaveLength(MAX_CORRESPONDENTS);
		expect(people[0].address).toBe('a@b.test');
	});

	it('Own Domains accept commas, semicolons, spaces and lines; duplicates and "@" are dropped', () => {
		expect(parseDomains(' Example.com, @example.de;example.com\nfoo.test ')).toEqual(['example.com', 'example.de', 'foo.test']);
		expect(parseDomains('')).toEqual([]);
	});
});

describe('stampOf (Stamp on Every Item)', () => {
	it('keeps set values only, tags as a list, other fields by name', () => {
		expect(stampOf({})).toEqual({});
		expect(stampOf({ owner: ' jane ', activityType: 'E-Mail inbound', tags: 'support, , inbound ', accessGroup: '', fields: { field: [{ name: 'costCenter', value: '4711' }] } })).toEqual({
			owner: 'jane',
			activityType: 'E-Mail inbound',
			tags: ['support', 'inbound'],
			costCenter: '4711',
		});
	});

	it('refuses an unnamed field and a name used twice, naming the parameter', () => {
		let unnamed: unknown;
		try {
			stampOf({ fields: { field: [{ name: ' ', value: 'x' }] } });
		} catch (error) {
			unnamed = error;
		}
		expect(unnamed).toBeInstanceOf(MailboxError);
		expect(unnamed).toMatchObject({ code: 'CONFIG', field: 'stamp' });
		expect(() => stampOf({ owner: 'jane', fields: { field: [{ name: 'owner', value: 'x' }] } })).toThrow(/"owner" is used twice/);
		expect(() => stampOf({ fields: { field: [{ name: 'a', value: '1' }, { name: 'a', value: '2' }] } })).toThrow(/"a" is used twice/);
	});
});
