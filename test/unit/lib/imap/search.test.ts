/**
 * Search criteria (fields and raw IMAP search keys) as the IMAP text imapflow sends for them,
 * UID sets split for long command lines, message addresses and keywords checked.
 */
import type { SearchObject } from 'imapflow';
import { MailboxError } from '../../../../lib/errors';
import { checkAddress, uidSetChunks } from '../../../../lib/imap/messages';
import { buildSearch, isValidKeyword, parseRawSearch } from '../../../../lib/imap/search';
import { flagsOf } from '../../../../nodes/Mailbox/actions/message/common';

// the compiler imapflow itself uses for SEARCH, on a server without WITHIN
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { searchCompiler } = require('imapflow/lib/search-compiler') as { searchCompiler: (c: unknown, q: SearchObject) => unknown[] };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { compiler } = require('imapflow/lib/handler/imap-handler') as { compiler: (r: unknown, o: unknown) => Buffer };
const connection = { capabilities: new Map([['IMAP4rev1', true]]), enabled: new Set() };
const imap = (query: SearchObject) => compiler({ tag: 'T', command: 'UID SEARCH', attributes: searchCompiler(connection, query) }, { isLogging: true }).toString().replace(/^T UID SEARCH /, '');

function configErrorOf(fn: () => unknown): MailboxError {
	try {
		fn();
	} catch (error) {
		expect(error).toBeInstanceOf(MailboxError);
		return error as MailboxError;
	}
	throw new Error('expected an error');
}

describe('raw IMAP search', () => {
	it.each([
		['UNSEEN', 'UNSEEN'],
		['seen flagged', 'SEEN FLAGGED'],
		['FROM alice@example.com', 'FROM alice@example.com'],
		['SUBJECT "invoice 4711"', 'SUBJECT "invoice 4711"'],
		['SINCE 1-Jan-2026 BEFORE 15-Feb-2026', 'SINCE 01-Jan-2026 BEFORE 15-Feb-2026'],
		['SENTSINCE "3-Mar-2026" SENTBEFORE 4-Mar-2026 ON 2-Mar-2026 SENTON 1-Mar-2026', 'SENTSINCE 03-Mar-2026 SENTBEFORE 04-Mar-2026 ON 02-Mar-2026 SENTON 01-Mar-2026'],
		['LARGER 1000 SMALLER 50000', 'LARGER 1000 SMALLER 50000'],
		['HEADER Message-ID "<a@b>"', 'HEADER MESSAGE-ID <a@b>'],
		['KEYWORD $Forwarded UNKEYWORD NonJunk', 'KEYWORD $Forwarded UNKEYWORD NonJunk'],
		['UID 1:100,205', 'UID 1:100,205'],
		['1:5', '1:5'],
		['OR FROM a@x.test FROM b@x.test', 'OR FROM a@x.test FROM b@x.test'],
		['NOT SEEN', 'NOT SEEN'],
		['OR (FROM a SUBJECT x) TO c', 'OR (FROM a SUBJECT x) TO c'],
		['UNANSWERED UNDELETED UNDRAFT UNFLAGGED', 'UNANSWERED UNDELETED UNDRAFT UNFLAGGED'],
		['TEXT hello BODY world CC c BCC d', 'TEXT hello BODY world CC c BCC d'],
		['ALL', 'ALL'],
		['SUBJECT "say \\"hi\\""', 'SUBJECT "say \\"hi\\""'],
	])('%s -> %s', (raw, expected) => {
		expect(imap(parseRawSearch(raw))).toBe(expected);
	});

	it('joins the same key twice so both must match (NOT OR NOT ... NOT ...)', () => {
		expect(imap(parseRawSearch('FROM alice FROM example.com'))).toBe('NOT OR NOT FROM alice NOT FROM example.com');
		expect(imap(parseRawSearch('HEADER X-A 1 HEADER X-A 2 HEADER X-B 3'))).toBe('NOT OR OR NOT HEADER X-A 1 NOT HEADER X-A 2 NOT HEADER X-B 3');
		expect(imap(parseRawSearch('NOT (HEADER X-A 1 HEADER X-B 2)'))).toBe('NOT NOT OR NOT HEADER X-A 1 NOT HEADER X-B 2');
	});

	it('takes nesting up to 100 levels; deeper is refused naming the field, not a stack overflow', () => {
		expect(imap(parseRawSearch('NOT '.repeat(99) + 'SEEN'))).toBe('NOT '.repeat(99) + 'SEEN');
		for (const [raw, message] of [
			['NOT '.repeat(20_000) + 'SEEN', /nested more than 100 levels deep at position 401/],
			['('.repeat(20_000) + 'SEEN' + ')'.repeat(20_000), /nested more than 100 levels deep at position 101/],
			['OR SEEN '.repeat(20_000) + 'SEEN', /nested more than 100 levels deep/],
		] as const) {
			const error = configErrorOf(() => parseRawSearch(raw));
			expect(error).toMatchObject({ code: 'CONFIG', field: 'rawSearch' });
			expect(error.message).toMatch(message);
		}
	});

	it.each([
		['FROM', /FROM at position 1 needs a value/],
		['SINCE 2026-01-01', /SINCE at position 1 needs a date such as 1-Jan-2026, not "2026-01-01"/],
		['SINCE 31-Feb-2026', /needs a date/],
		['LARGER ten', /LARGER at position 1 needs a number of bytes/],
		['FROM "alice', /quoted string at position 6 is not closed/],
		['(UNSEEN', /"\(" at position 1 is not closed/],
		['UNSEEN)', /unmatched "\)" at position 7/],
		['OR UNSEEN', /OR at position 1 needs two search keys/],
		['NOT', /NOT at position 1 needs a search key/],
		['FORM alice', /unknown search key "FORM" at position 1/],
		['"alice"', /is a value without a search key/],
		['UID abc', /UID at position 1 needs a set/],
		['KEYWORD \\Seen', /needs a keyword/],
		['CHARSET UTF-8 FROM a', /CHARSET .* is chosen automatically/],
		['FROM {5}', /literals/],
		['()', /empty parentheses/],
		['   ', /no search key/],
	])('refuses %j naming the field', (raw, message) => {
		const error = configErrorOf(() => parseRawSearch(raw));
		expect(error).toMatchObject({ code: 'CONFIG', field: 'rawSearch' });
		expect(error.message).toMatch(/^Raw IMAP Search: /);
		expect(error.message).toMatch(message);
		expect(error.hint).toMatch(/RFC 3501/);
	});
});

describe('search fields', () => {
	it('every field as its search key, ANDed with the raw search', () => {
		const query = buildSearch({
			from: ' alice@example.com ',
			to: 'bob',
			subject: 'Angebot',
			since: new Date('2026-01-01T00:00:00Z'),
			before: new Date('2026-02-01T00:00:00Z'),
			seen: false,
			flagged: true,
			larger: 100,
			smaller: 5000,
			header: { name: 'X-Ticket-Id', value: 'T-1' },
			raw: 'OR FROM carol FROM dave',
		});
		expect(imap(query)).toBe('FROM alice@example.com TO bob SUBJECT Angebot SINCE 01-Jan-2026 BEFORE 01-Feb-2026 UNSEEN FLAGGED LARGER 100 SMALLER 5000 HEADER X-TICKET-ID T-1 OR FROM carol FROM dave');
	});

	it('a field and the raw search on the same key both apply', () => {
		expect(imap(buildSearch({ from: 'alice', raw: 'FROM example.com' }))).toBe('NOT OR NOT FROM alice NOT FROM example.com');
	});

	it('no criteria: every message', () => {
		expect(imap(buildSearch({}))).toBe('ALL');
		expect(imap(buildSearch({ from: '  ', raw: '' }))).toBe('ALL');
	});

	it('refuses impossible or incomplete criteria, naming the field', () => {
		expect(configErrorOf(() => buildSearch({ since: new Date('2026-02-01'), before: new Date('2026-01-01') }))).toMatchObject({ field: 'before' });
		expect(configErrorOf(() => buildSearch({ header: { name: '', value: 'x' } }))).toMatchObject({ field: 'headerName' });
		expect(configErrorOf(() => buildSearch({ header: { name: 'X Bad', value: 'x' } }))).toMatchObject({ field: 'headerName' });
		expect(configErrorOf(() => buildSearch({ raw: 'BOGUS' }))).toMatchObject({ field: 'rawSearch' });
	});
});

describe('UID sets', () => {
	it('compresses into ranges', () => {
		expect(uidSetChunks([5, 1, 2, 3, 502, 4, 7, 2])).toEqual(['1:5,7,502']);
		expect(uidSetChunks(Array.from({ length: 10_000 }, (_, k) => k + 1))).toEqual(['1:10000']);
	});

	it('splits long sets at whole ranges, each piece under the limit, nothing lost', () => {
		const uids = Array.from({ length: 5000 }, (_, k) => 2 * k + 1); // no two adjacent
		const chunks = uidSetChunks(uids, 7000);
		expect(chunks.length).toBeGreaterThan(1);
		for (const c of chunks) expect(c.length).toBeLessThanOrEqual(7000);
		expect(chunks.join(',').split(',').map(Number)).toEqual(uids);
	});
});

describe('message addresses', () => {
	it('normalises folder, UID and UIDVALIDITY', () => {
		expect(checkAddress({ folder: ' INBOX ', uid: '42', uidValidity: 1712345678, messageId: '<a@b>' })).toEqual({ folder: 'INBOX', uid: 42, uidValidity: '1712345678', messageId: '<a@b>' });
	});
	it.each([
		[{ folder: '', uid: 1, uidValidity: '1' }, 'folder', /Folder is empty/],
		[{ folder: 'INBOX', uid: '', uidValidity: '1' }, 'uid', /UID is empty/],
		[{ folder: 'INBOX', uid: undefined, uidValidity: '1' }, 'uid', /UID is empty/],
		[{ folder: 'INBOX', uid: '1.5', uidValidity: '1' }, 'uid', /not a message UID/],
		[{ folder: 'INBOX', uid: 0, uidValidity: '1' }, 'uid', /not a message UID/],
		[{ folder: 'INBOX', uid: 3, uidValidity: '' }, 'uidValidity', /UIDVALIDITY is empty/],
		[{ folder: 'INBOX', uid: 3, uidValidity: 'abc' }, 'uidValidity', /not a UIDVALIDITY/],
	])('refuses %j naming %s', (address, field, message) => {
		const error = configErrorOf(() => checkAddress(address));
		expect(error).toMatchObject({ code: 'CONFIG', field });
		expect(error.message).toMatch(message);
	});
});

describe('flags and keywords', () => {
	it('system flags and keywords together, deduplicated', () => {
		expect(flagsOf(['\\Seen', '\\Flagged'], '$Forwarded, Invoice-Paid $Forwarded')).toEqual(['\\Seen', '\\Flagged', '$Forwarded', 'Invoice-Paid']);
	});
	it.each(['bad(flag', 'quo"te', 'star*', 'pct%', 'brace{', 'close]', 'Umlaut-ä', '\\Seen'])('refuses keyword %j naming the field', (keyword) => {
		expect(configErrorOf(() => flagsOf([], keyword))).toMatchObject({ code: 'CONFIG', field: 'keywords' });
	});
	it('knows valid keywords', () => {
		expect(['$Forwarded', 'NonJunk', '$label1', 'a.b-c_d'].every(isValidKeyword)).toBe(true);
		expect(['', 'a b', 'a\\b'].some(isValidKeyword)).toBe(false);
	});
});
