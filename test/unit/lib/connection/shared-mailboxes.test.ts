import { MailboxError } from '../../../../lib/errors';
import { loginForMailbox, loginForSharedMailbox, parseSharedMailboxes } from '../../../../lib/connection/shared-mailboxes';

describe('Shared Mailboxes field', () => {
	it('takes semicolons, commas and line breaks, trims, drops empty entries and duplicates in any case', () => {
		expect(parseSharedMailboxes(' info@example.com; sales@example.com ,\nINFO@example.com;;\r\nteam@example.com; ')).toEqual(['info@example.com', 'sales@example.com', 'team@example.com']);
		expect(parseSharedMailboxes('')).toEqual([]);
		expect(parseSharedMailboxes(undefined)).toEqual([]);
	});

	it('refuses an entry with a space or a backslash, naming the field and the entry', () => {
		for (const bad of ['info@example.com sales@example.com', 'me@example.com\\info@example.com']) {
			let error: unknown;
			try {
				parseSharedMailboxes(bad);
			} catch (e) {
				error = e;
			}
			expect(error).toBeInstanceOf(MailboxError);
			expect(error).toMatchObject({ code: 'CONFIG', field: 'sharedMailboxes' });
			expect((error as MailboxError).fullMessage).toMatch(/^Shared mailbox ".+" is not a mailbox address\. Enter addresses such as info@example\.com, separated by semicolons/);
		}
	});
});

describe('the login for a shared mailbox', () => {
	it('is "account\\mailbox" with the password, and the mailbox as user with a token', () => {
		expect(loginForSharedMailbox({ user: 'me@example.com', password: 'pw' }, 'info@example.com')).toEqual({ user: 'me@example.com\\info@example.com', password: 'pw' });
		expect(loginForSharedMailbox({ user: 'me@example.com\\other@example.com', password: 'pw' }, 'info@example.com')).toEqual({ user: 'me@example.com\\info@example.com', password: 'pw' });
		expect(loginForSharedMailbox({ user: 'me@example.com', accessToken: 't' }, 'info@example.com')).toEqual({ user: 'info@example.com', accessToken: 't' });
	});

	it('a node may name its own mailbox or a listed one, nothing else', () => {
		const me = { user: 'me@example.com', password: 'pw' };
		expect(loginForMailbox(me, ['info@example.com'], '')).toBe(me);
		expect(loginForMailbox(me, ['info@example.com'], 'ME@example.com')).toBe(me);
		expect(loginForMailbox(me, ['info@example.com'], 'Info@Example.com')).toEqual({ user: 'me@example.com\\info@example.com', password: 'pw' });
		expect(() => loginForMailbox(me, [], 'boss@example.com')).toThrow(/Mailbox "boss@example\.com" is not one of the credential's shared mailboxes \(none are listed\)/);
	});
});
