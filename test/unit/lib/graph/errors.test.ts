/**
 * The pure parts of the Graph client: Graph's error bodies and codes as MailboxError (the resync
 * family in its spellings, throttling, permissions by sign-in kind, secrets removed), Retry-After
 * in seconds or as a date, and request paths as logged (state tokens hidden).
 */
import { MailboxError } from '../../../../lib/errors';
import { isResyncRequired } from '../../../../lib/errors';
import { fromGraphResponse, graphErrorOf, type GraphErrorContext } from '../../../../lib/graph/errors';
import { loggedPath, retryAfterMs } from '../../../../lib/graph/transport';

const app: GraphErrorContext = { baseUrl: 'https://graph.microsoft.com/v1.0', mailbox: 'info@contoso.com', auth: 'app', secrets: ['eyJ0eXAiOiJKV1QiLCJhbGciOi.secret-token'] };
const user: GraphErrorContext = { ...app, auth: 'token', mailbox: undefined };

describe('Graph errors', () => {
	it('reads the error object of a body, as JSON text, a Buffer or parsed; plain text as the message', () => {
		const body = { error: { code: 'ErrorItemNotFound', message: 'The specified object was not found in the store.', innerError: { 'request-id': 'x' } } };
		expect(graphErrorOf(JSON.stringify(body))).toEqual({ code: 'ErrorItemNotFound', message: 'The specified object was not found in the store.' });
		expect(graphErrorOf(Buffer.from(JSON.stringify(body)))).toEqual(graphErrorOf(body));
		expect(graphErrorOf('Bad Gateway')).toEqual({ message: 'Bad Gateway' });
		expect(graphErrorOf('')).toEqual({});
		expect(graphErrorOf({ value: [] })).toEqual({});
	});

	it('an expired delta link is a resync in every spelling Graph uses, and 410 without a code', () => {
		for (const [status, code] of [
			[410, 'SyncStateNotFound'],
			[400, 'syncStateNotFound'],
			[400, 'resyncRequired'],
			[400, 'SyncStateInvalid'],
			[410, undefined],
		] as const) {
			const e = fromGraphResponse(status, { code, message: 'The sync state generation is not found.' }, user, { operation: 'delta' });
			expect(isResyncRequired(e)).toBe(true);
			expect(e.causeCode).toBe(code ?? 'HTTP_410');
		}
		expect(isResyncRequired(fromGraphResponse(404, { code: 'ErrorItemNotFound' }, user))).toBe(false);
		expect(isResyncRequired(new Error('SyncStateNotFound'))).toBe(false);
	});

	it('maps sign-in, permission, mailbox, item and throttling failures to codes and fields', () => {
		const auth = fromGraphResponse(401, { code: 'InvalidAuthenticationToken', message: 'Access token validation failure. Invalid audience.' }, app);
		expect(auth).toMatchObject({ code: 'AUTH', field: 'accessToken', causeCode: 'InvalidAuthenticationToken', serverResponse: 'InvalidAuthenticationToken: Access token validation failure. Invalid audience.' });
		expect(auth.hint).toContain('https://graph.microsoft.com/.default');
		expect(fromGraphResponse(401, {}, user).hint).toContain('Connect my account');

		const denied = fromGraphResponse(403, { code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' }, app);
		expect(denied).toMatchObject({ code: 'SERVER', field: 'mailbox', causeCode: 'Authorization_RequestDenied' });
		expect(denied.hint).toMatch(/Mail\.ReadWrite, Mail\.Send and MailboxSettings\.ReadWrite.*admin consent.*application access policy.*info@contoso\.com/);
		expect(fromGraphResponse(403, { code: 'ErrorAccessDenied' }, user).hint).toContain('offline_access');

		expect(fromGraphResponse(404, { code: 'ErrorInvalidUser', message: "The requested user 'info@contoso.com' is invalid." }, app)).toMatchObject({ code: 'NOT_FOUND', field: 'mailbox' });
		expect(fromGraphResponse(404, { code: 'MailboxNotEnabledForRESTAPI' }, app).hint).toContain('on-premises');
		expect(fromGraphResponse(404, { code: 'ErrorItemNotFound' }, app)).toMatchObject({ code: 'NOT_FOUND', causeCode: 'ErrorItemNotFound' });
		expect(fromGraphResponse(404, { code: 'ResourceNotFound' }, app)).toMatchObject({ code: 'NOT_FOUND', field: 'baseUrl' });

		const busy = fromGraphResponse(429, { code: 'ApplicationThrottled', message: 'Application is over its MailboxConcurrency limit.' }, app, { waits: [5000, 5000] });
		expect(busy).toMatchObject({ code: 'SERVER', causeCode: 'TooManyRequests', serverResponse: 'ApplicationThrottled: Application is over its MailboxConcurrency limit.' });
		expect(busy.message).toContain('also after waiting 10 s and sending it again 2 times');
		expect(fromGraphResponse(503, { code: 'ServiceUnavailable' }, app).causeCode).toBe('TooManyRequests');
		expect(fromGraphResponse(500, {}, app)).toMatchObject({ code: 'SERVER', causeCode: 'HTTP_500' });
	});

	it('never repeats a token Graph echoed', () => {
		const e = fromGraphResponse(401, { code: 'InvalidAuthenticationToken', message: `Token eyJ0eXAiOiJKV1QiLCJhbGciOi.secret-token is expired.` }, app);
		expect(e).toBeInstanceOf(MailboxError);
		expect(JSON.stringify({ ...e, message: e.message })).not.toContain('secret-token');
	});
});

describe('Graph transport helpers', () => {
	it('Retry-After in seconds or as an HTTP date; nothing for a missing or unreadable one', () => {
		expect(retryAfterMs('7')).toBe(7000);
		expect(retryAfterMs(' 0 ')).toBe(0);
		const now = Date.parse('2030-01-01T00:00:00Z');
		expect(retryAfterMs('Tue, 01 Jan 2030 00:00:30 GMT', now)).toBe(30_000);
		expect(retryAfterMs('Mon, 31 Dec 2029 23:00:00 GMT', now)).toBe(0);
		expect(retryAfterMs(undefined)).toBeUndefined();
		expect(retryAfterMs('soon')).toBeUndefined();
	});

	it('logs paths with the values of state and secret parameters hidden', () => {
		expect(loggedPath(new URL('https://graph.microsoft.com/v1.0/me/mailFolders/inbox/messages/delta?$deltatoken=abc&$select=id'))).toBe(
			'/v1.0/me/mailFolders/inbox/messages/delta?$deltatoken=[hidden]&$select=id',
		);
		expect(loggedPath(new URL('https://graph.microsoft.com/v1.0/me/messages?%24skiptoken=xyz'))).toBe('/v1.0/me/messages?$skiptoken=[hidden]');
		expect(loggedPath(new URL('https://graph.microsoft.com/v1.0/me'))).toBe('/v1.0/me');
	});
});
