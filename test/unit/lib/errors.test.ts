import { fromNetworkError } from '../../../lib/connection/network-errors';
import { resolveServer } from '../../../lib/connection/options';
import {
	detailsOf,
	isItemGone,
	isNotFound,
	isPermanent,
	isRejectedToken,
	isResyncRequired,
	lookup,
	MAILBOX_REASONS,
	MailboxError,
	type MailboxReason,
} from '../../../lib/errors';
import { fromEwsHttpStatus, fromEwsResponseCode, type EwsErrorContext } from '../../../lib/ews/errors';
import { fromGraphResponse } from '../../../lib/graph/errors';
import { fromSmtpError } from '../../../lib/smtp/errors';

const imap = resolveServer('imap', { host: 'mail.example.com', port: 993, security: 'tls' });
const smtp = resolveServer('smtp', { host: 'smtp.example.com', port: 587, security: 'starttls' });
const ews: EwsErrorContext = { url: 'https://mail.example.com/EWS/Exchange.asmx', auth: 'password', impersonation: false, secrets: [] };
const graph = { baseUrl: 'https://graph.microsoft.com/v1.0', auth: 'token' as const, secrets: [] };

describe('MailboxError', () => {
	it('keeps the lower-level error as the standard cause, with its stack', () => {
		const low = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:993'), { code: 'ECONNREFUSED' });
		const error = fromNetworkError(low, imap)!;
		expect(error).toBeInstanceOf(MailboxError);
		expect(error.cause).toBe(low);
		expect((error.cause as Error).stack).toBe(low.stack);
		expect(error).toMatchObject({ code: 'CONNECTION_REFUSED', systemCode: 'ECONNREFUSED', causeCode: 'ECONNREFUSED' });
		expect(error.reason).toBeUndefined();
		expect(error.serverCode).toBeUndefined();
		expect(new MailboxError('SERVER', 'x')).not.toHaveProperty('cause');
	});

	it('reads causeCode as the reason, else the server code, else the system code', () => {
		expect(new MailboxError('SERVER', 'x', { reason: 'STUCK', serverCode: 'S', systemCode: 'E' }).causeCode).toBe('STUCK');
		expect(new MailboxError('SERVER', 'x', { serverCode: 'S', systemCode: 'E' }).causeCode).toBe('S');
		expect(new MailboxError('SERVER', 'x', { systemCode: 'E' }).causeCode).toBe('E');
		expect(new MailboxError('SERVER', 'x').causeCode).toBeUndefined();
	});

	it('keeps the causeCode the mappers gave before the split', () => {
		expect(fromEwsHttpStatus(401, {}, ews).causeCode).toBe('HTTP_401');
		expect(fromEwsResponseCode('ErrorAccessDenied', 'denied', ews).causeCode).toBe('ErrorAccessDenied');
		expect(fromGraphResponse(429, { code: 'ApplicationThrottled' }, graph)).toMatchObject({ causeCode: 'TooManyRequests', reason: 'TooManyRequests', serverCode: 'ApplicationThrottled', responseCode: 429 });
		expect(fromGraphResponse(401, { code: 'InvalidAuthenticationToken' }, graph, { operation: 'send' })).toMatchObject({ causeCode: 'InvalidAuthenticationToken', responseCode: 401, command: 'send' });
		const cert = fromNetworkError(Object.assign(new Error('self-signed'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), imap)!;
		expect(cert).toMatchObject({ code: 'TLS_CERTIFICATE', causeCode: 'DEPTH_ZERO_SELF_SIGNED_CERT', systemCode: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
	});

	it('takes command and response code from nodemailer, the AUTH mechanism without what follows', () => {
		const secret = 'AHVzZXIAcGFzc3dvcmQ=';
		const low = Object.assign(new Error('Invalid login'), { code: 'EAUTH', command: `AUTH PLAIN ${secret}`, responseCode: 535, response: '535 5.7.8 Authentication failed' });
		const error = fromSmtpError(low, smtp, { user: 'user', password: 'password' });
		expect(error).toMatchObject({ code: 'AUTH', command: 'AUTH PLAIN', responseCode: 535, serverCode: '535', causeCode: '535' });
		expect(error.cause).toBe(low);
		expect(error.command).not.toContain(secret);
		const rcpt = fromSmtpError(Object.assign(new Error('rejected'), { code: 'EENVELOPE', command: 'RCPT TO', responseCode: 550, response: '550 5.1.1 no such user' }), smtp);
		expect(rcpt).toMatchObject({ code: 'SERVER', command: 'RCPT TO', responseCode: 550 });
	});

	it('rewords an error with all its details, cause included (detailsOf)', () => {
		const low = new Error('low');
		const original = new MailboxError('NOT_FOUND', 'gone', { field: 'folders', step: 'command', serverCode: 'ErrorFolderNotFound', command: 'FindFolder', responseCode: 200, cause: low });
		const reworded = new MailboxError(original.code, `Folder: ${original.message}`, { ...detailsOf(original), field: 'folder' });
		expect(reworded).toMatchObject({ field: 'folder', step: 'command', serverCode: 'ErrorFolderNotFound', command: 'FindFolder', responseCode: 200, causeCode: 'ErrorFolderNotFound' });
		expect(reworded.cause).toBe(low);
	});
});

describe('the reason catalogue', () => {
	it('lists each of the package\'s own markers with a one-line description', () => {
		const reasons = Object.keys(MAILBOX_REASONS) as MailboxReason[];
		expect(reasons).toEqual(expect.arrayContaining(['STUCK', 'BAD_BATCH', 'TOO_LARGE', 'NO_MIME', 'NOT_JSON', 'FOREIGN_LINK', 'BAD_LINK', 'STARTTLS', 'STLS', 'NO_AUTH', 'NO_PLAIN', 'NO_OAUTH_MECHANISM', 'NO_APOP', 'FOREIGN_SCRIPT', 'NO_INCLUDE', 'NO_VACATION', 'OTHER_VACATION']));
		for (const reason of reasons) expect(MAILBOX_REASONS[reason]).toMatch(/^[^\n]{10,}$/);
	});
});

describe('classification', () => {
	const error = (code: ConstructorParameters<typeof MailboxError>[0], details: ConstructorParameters<typeof MailboxError>[2] = {}) => new MailboxError(code, 'x', details);

	it('tells permanent failures from transient ones, also through lib/delivery/health', () => {
		for (const code of ['AUTH', 'CONFIG', 'TLS_CERTIFICATE', 'STARTTLS_UNAVAILABLE', 'NOT_FOUND'] as const) {
			expect(isPermanent(error(code))).toBe(true);
			expect(error(code).transient).toBe(false);
		}
		for (const code of ['DNS', 'PROXY', 'CONNECTION_REFUSED', 'CONNECTION_CLOSED', 'TIMEOUT', 'TLS', 'PROTOCOL', 'SERVER'] as const) {
			expect(isPermanent(error(code))).toBe(false);
			expect(error(code).transient).toBe(true);
		}
	});

	it('recognises a rejected access token, not a rejected password', () => {
		expect(isRejectedToken(error('AUTH', { field: 'accessToken' }))).toBe(true);
		expect(isRejectedToken(error('AUTH', { field: 'password' }))).toBe(false);
		expect(isRejectedToken(error('SERVER', { field: 'accessToken' }))).toBe(false);
		expect(isRejectedToken(new Error('AUTH'))).toBe(false);
	});

	it('recognises not found, a gone item and a sync state to start over', () => {
		expect(isNotFound(error('NOT_FOUND', { field: 'folders' }))).toBe(true);
		expect(isNotFound(error('NOT_FOUND', { field: 'folders' }), 'folders')).toBe(true);
		expect(isNotFound(error('NOT_FOUND', { field: 'mailbox' }), 'folders')).toBe(false);
		expect(isNotFound(error('SERVER'))).toBe(false);

		expect(isItemGone(fromEwsResponseCode('ErrorItemNotFound', 'gone', ews))).toBe(true);
		expect(isItemGone(fromGraphResponse(404, { code: 'ResourceNotFound' }, graph))).toBe(true);
		expect(isItemGone(fromEwsResponseCode('ErrorFolderNotFound', 'gone', ews))).toBe(false);
		expect(isItemGone(error('SERVER', { serverCode: 'ErrorItemNotFound' }))).toBe(false);

		expect(isResyncRequired(fromEwsResponseCode('ErrorInvalidSyncStateData', 'stale', ews))).toBe(true);
		expect(isResyncRequired(fromGraphResponse(410, {}, graph))).toBe(true);
		expect(isResyncRequired(fromGraphResponse(400, { code: 'SyncStateNotFound' }, graph))).toBe(true);
		expect(isResyncRequired(fromEwsHttpStatus(410, {}, ews))).toBe(false);
		expect(isResyncRequired(fromEwsResponseCode('ErrorItemNotFound', 'gone', ews))).toBe(false);
	});
});

describe('lookup', () => {
	it('gives the value, or the NOT_FOUND error as a value; any other failure rejects', async () => {
		await expect(lookup(Promise.resolve(42))).resolves.toEqual({ value: 42 });
		const missing = error404();
		await expect(lookup(Promise.reject(missing))).resolves.toEqual({ missing });
		await expect(lookup(Promise.reject(missing), 'folders')).resolves.toEqual({ missing });
		await expect(lookup(Promise.reject(missing), 'mailbox')).rejects.toBe(missing);
		const other = new MailboxError('TIMEOUT', 'slow');
		await expect(lookup(Promise.reject(other))).rejects.toBe(other);
		const raw = new Error('raw');
		await expect(lookup(Promise.reject(raw))).rejects.toBe(raw);
	});

	function error404(): MailboxError {
		return new MailboxError('NOT_FOUND', 'The folder "Archive" does not exist.', { field: 'folders' });
	}
});
