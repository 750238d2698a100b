/**
 * The out-of-office Sieve script: what is written (escaping, text: form with dot-stuffing,
 * period tests, list/bulk guards, include) and that reading it back gives the same settings.
 */
import { MailboxError } from '../../../../lib/errors';
import { buildVacationScript, isOwnScript, MARKER, parseMoment, parseVacationScript, requiredBy, tokenizeSieve, type VacationScript } from '../../../../lib/sieve/vacation';

const ALL = ['fileinto', 'vacation', 'date', 'relational', 'include', 'variables'];

describe('out-of-office Sieve script', () => {
	const full: VacationScript = {
		subject: 'Abwesend: "Urlaub" \\ bis 10.3.',
		text: 'Guten Tag,\n\nich bin bis 10. März nicht im Büro.\n.\n..two dots\n"quoted" \\ backslash\n${not.a.variable}\n',
		start: new Date('2026-03-01T07:00:00Z'),
		end: new Date('2026-03-10T17:30:00Z'),
		days: 3,
		addresses: ['anna@example.com', 'sales@example.com'],
		from: 'Anna Müller <anna@example.com>',
		includeScript: 'roundcube "filters"',
	};

	it('writes the marker, the extensions, the guards, the period in UTC and the include', () => {
		const script = buildVacationScript(full, ALL);
		expect(script.startsWith(`${MARKER}\r\n`)).toBe(true);
		expect(script).toContain('require ["vacation", "date", "relational", "include"];');
		expect(script).toContain('currentdate :zone "+0000" :value "ge" "iso8601" "2026-03-01T07:00:00"');
		expect(script).toContain('currentdate :zone "+0000" :value "lt" "iso8601" "2026-03-10T17:30:00"');
		expect(script).toContain('not exists ["List-Id", "List-Unsubscribe"]');
		expect(script).toContain('"Precedence" ["bulk", "list", "junk"]');
		expect(script).toContain('"Auto-Submitted" "no"');
		expect(script).toContain(':subject "Abwesend: \\"Urlaub\\" \\\\ bis 10.3."');
		expect(script).toContain(':addresses ["anna@example.com", "sales@example.com"]');
		// text: form, CRLF, leading dots doubled, the terminating "." on a line of its own
		expect(script).toContain('text:\r\nGuten Tag,\r\n\r\nich bin bis 10. März nicht im Büro.\r\n..\r\n...two dots\r\n"quoted" \\ backslash\r\n');
		expect(script).toContain('include :personal :optional "roundcube \\"filters\\"";');
		expect(script.split('\r\n').every((line) => !line.includes('\n'))).toBe(true);
		expect(() => tokenizeSieve(script)).not.toThrow();
	});

	it('reads its own script back to the same settings', () => {
		expect(parseVacationScript(buildVacationScript(full, ALL))).toEqual(full);
		const minimal: VacationScript = { text: 'Away.', days: 7, addresses: [] };
		const script = buildVacationScript(minimal, ALL);
		expect(script).toContain('require ["vacation"];');
		expect(script).not.toContain('currentdate');
		expect(script).not.toContain('include');
		expect(script).not.toContain(':subject');
		expect(parseVacationScript(script)).toEqual(minimal);
		// CRLF in the input comes back as LF
		expect(parseVacationScript(buildVacationScript({ ...minimal, text: 'a\r\nb' }))?.text).toBe('a\nb');
	});

	it('leaves scripts without the marker alone', () => {
		const foreign = 'require ["vacation"];\r\nvacation :days 1 "x";\r\n';
		expect(isOwnScript(foreign)).toBe(false);
		expect(parseVacationScript(foreign)).toBeUndefined();
		expect(parseVacationScript(`# something else\r\n${MARKER}\r\n${foreign}`)).toBeUndefined();
		expect(requiredBy(foreign)).toEqual(['vacation']);
		expect(requiredBy('require "fileinto"; /* vacation */ # require "vacation"\r\nrequire ["Body", "copy"];')).toEqual(['fileinto', 'body', 'copy']);
	});

	it('refuses what would make a broken or surprising script, naming the field', () => {
		const base = { text: 'Away.', days: 7, addresses: [] };
		const fails = (input: Partial<VacationScript>, field: string, available = ALL) => {
			let error: unknown;
			try {
				buildVacationScript({ ...base, ...input }, available);
			} catch (e) {
				error = e;
			}
			expect(error).toBeInstanceOf(MailboxError);
			expect(error).toMatchObject({ code: 'CONFIG', field });
		};
		fails({ text: '  ' }, 'text');
		fails({ subject: 'two\nlines' }, 'subject');
		fails({ days: 0 }, 'days');
		fails({ days: 1.5 }, 'days');
		fails({ start: new Date('2026-03-10T00:00:00Z'), end: new Date('2026-03-01T00:00:00Z') }, 'endDate');
		fails({ start: new Date('nonsense') }, 'startDate');
		fails({ addresses: ['anna@example.com', 'not an address'] }, 'addresses');
		fails({ from: 'x\r\nBcc: y@example.com' }, 'from');
		// a period needs "date" and "relational" on the server
		fails({ end: new Date('2026-03-01T00:00:00Z') }, 'endDate', ['vacation']);
	});

	it('reads dates without a zone in the workflow time zone, with a zone as given', () => {
		expect(parseMoment('2026-03-01T08:00:00', 'Europe/Berlin')?.toISOString()).toBe('2026-03-01T07:00:00.000Z');
		expect(parseMoment('2026-07-01T08:00:00', 'Europe/Berlin')?.toISOString()).toBe('2026-07-01T06:00:00.000Z');
		expect(parseMoment('2026-03-01', 'America/New_York')?.toISOString()).toBe('2026-03-01T05:00:00.000Z');
		expect(parseMoment('2026-03-01T08:00:00+02:00', 'Europe/Berlin')?.toISOString()).toBe('2026-03-01T06:00:00.000Z');
		expect(parseMoment('2026-03-01T08:00:00.000Z', 'Europe/Berlin')?.toISOString()).toBe('2026-03-01T08:00:00.000Z');
		expect(parseMoment('', 'UTC')).toBeUndefined();
		expect(Number.isNaN(parseMoment('next tuesday', 'UTC')!.getTime())).toBe(true);
	});
});
