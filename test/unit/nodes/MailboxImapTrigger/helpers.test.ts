import { MailboxError } from '../../../../lib/errors';
import { DEFAULT_EXCLUDED_FOLDERS, excludedBy, folderStatusItem, parseReloadFrom } from '../../../../nodes/MailboxImapTrigger/helpers';

describe('IMAP trigger: excluded folders (R7)', () => {
	it('leaves out the default system folders by whole path or last path part, in any case', () => {
		const excluded = excludedBy(DEFAULT_EXCLUDED_FOLDERS);
		for (const path of ['Calendar', 'Contacts', 'Notes', 'Sync Issues', 'Conversation History', 'Tasks', 'Junk', 'Journal', 'Deleted Items', 'INBOX/Junk', 'inbox.calendar']) {
			expect(excluded(path)).toBe(true);
		}
		for (const path of ['INBOX', 'Sent', 'Archive', 'INBOX/Orders', 'Projects/Journalism']) expect(excluded(path)).toBe(false);
	});

	it('takes the user\'s own list instead (commas, semicolons, lines)', () => {
		const excluded = excludedBy('Archive; Newsletters,\nSent');
		expect(['Archive', 'Newsletters', 'INBOX/Sent'].map(excluded)).toEqual([true, true, true]);
		expect(excluded('Junk')).toBe(false);
		expect(excludedBy('')('Junk')).toBe(false);
	});
});

describe('IMAP trigger: Reload From', () => {
	it('reads a date, a date-time or "uid:N", and nothing for empty', () => {
		expect(parseReloadFrom('')).toBeUndefined();
		expect(parseReloadFrom(undefined)).toBeUndefined();
		expect(parseReloadFrom('2026-11-01')).toEqual({ since: new Date('2026-11-01T00:00:00Z') });
		expect(parseReloadFrom('2026-11-01T08:30:00+01:00')).toEqual({ since: new Date('2026-11-01T07:30:00Z') });
		expect(parseReloadFrom(' uid:1234 ')).toEqual({ fromUid: 1234 });
	});

	it('names the field and the accepted forms for anything else', () => {
		for (const bad of ['yesterday', '01.11.2026', 'uid:', '2026-13-45']) {
			let error: unknown;
			try {
				parseReloadFrom(bad);
			} catch (e) {
				error = e;
			}
			expect(error).toBeInstanceOf(MailboxError);
			expect(error).toMatchObject({ code: 'CONFIG', field: 'reloadFrom' });
			expect((error as MailboxError).fullMessage).toContain('Enter a date such as 2026-11-01');
		}
	});
});

describe('IMAP trigger: Mailbox Status items (H2-H4)', () => {
	const stats = { fetches: 3, delivered: 10, acknowledged: 9, failed: 1, skipped: 0, oversized: 0, bounces: 2, connects: 2, failing: true, push: true, lastFetchMs: 42, lastFetchAt: new Date('2026-11-29T10:00:00Z') };
	const first = new Date('2026-11-29T10:00:00Z');
	const last = new Date('2026-11-29T10:05:00Z');

	it('says "cannot be fetched" with the cause, times and count, and later that it recovered', () => {
		const error = new MailboxError('AUTH', 'Authentication failed: imap.example.com rejected the login for user "alice".', { field: 'password' });
		const failing = folderStatusItem({ type: 'failing', folder: 'INBOX', error, message: error.message, firstFailureAt: first, lastFailureAt: first, count: 1 }, 'alice@example.com', stats);
		expect(failing?.json).toMatchObject({
			status: 'failing',
			update: false,
			title: "Mailbox 'alice@example.com' cannot be fetched",
			message: error.message,
			errorCode: 'AUTH',
			field: 'password',
			failures: 1,
			folder: 'INBOX',
			statistics: { lastFetchMs: 42, bounces: 2, failedRuns: 1 },
		});
		const updated = folderStatusItem({ type: 'updated', folder: 'INBOX', error, message: error.message, firstFailureAt: first, lastFailureAt: last, count: 4 }, 'alice@example.com', stats);
		expect(updated?.json).toMatchObject({ status: 'failing', update: true, failures: 4, firstFailureAt: first.toISOString(), lastFailureAt: last.toISOString() });
		const recovered = folderStatusItem({ type: 'recovered', folder: 'INBOX', firstFailureAt: first, lastFailureAt: last, recoveredAt: last, count: 4 }, 'alice@example.com', stats);
		expect(recovered?.json).toMatchObject({ status: 'recovered', title: "Mailbox 'alice@example.com' is fetched again", failures: 4 });
	});

	it('reports renumbered folders and skipped oversized mail, and nothing for routine events', () => {
		expect(folderStatusItem({ type: 'uidValidityChanged', folder: 'INBOX', previous: '1', current: '2', handling: 'matchByMessageId' }, 'a', undefined)?.json).toMatchObject({ status: 'uidValidityChanged', previousUidValidity: '1', uidValidity: '2', statistics: null });
		expect(folderStatusItem({ type: 'skipped', folder: 'INBOX', uid: 7, size: 9_000_000, reason: 'oversized' }, 'a', undefined)?.json).toMatchObject({ status: 'skipped', uid: 7, size: 9_000_000 });
		expect(folderStatusItem({ type: 'connected', folder: 'INBOX', push: true }, 'a', undefined)).toBeUndefined();
		expect(folderStatusItem({ type: 'fetched', folder: 'INBOX', startedAt: first, durationMs: 5, delivered: 1, skipped: 0 }, 'a', undefined)).toBeUndefined();
	});
});
