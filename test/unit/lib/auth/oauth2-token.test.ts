import { isTokenExpired, storedAccessToken, tokenExpiresAt, withTokenRefresh } from '../../../../lib/auth/oauth2-token';
import { isRejectedToken, MailboxError } from '../../../../lib/errors';

const jwt = (claims: object) => ['{"alg":"none"}', JSON.stringify(claims), ''].map((p) => Buffer.from(p).toString('base64url')).join('.');

describe('stored OAuth2 tokens', () => {
	it('takes the expiry from n8n\'s note, else from a JWT\'s exp claim, else unknown', () => {
		expect(tokenExpiresAt({ access_token: 'opaque', n8n_expires_at: '1700000000000' })?.getTime()).toBe(1_700_000_000_000);
		expect(tokenExpiresAt({ access_token: jwt({ exp: 1_700_000_100 }) })?.getTime()).toBe(1_700_000_100_000);
		expect(tokenExpiresAt({ access_token: 'opaque' })).toBeNull();
		expect(tokenExpiresAt({ access_token: 'a.b.c' })).toBeNull();
		expect(tokenExpiresAt(undefined)).toBeNull();
	});

	it('counts a token as expired a minute early; unknown expiry counts as valid', () => {
		const now = 1_700_000_000_000;
		expect(isTokenExpired({ n8n_expires_at: String(now + 30_000) }, now)).toBe(true);
		expect(isTokenExpired({ n8n_expires_at: String(now + 120_000) }, now)).toBe(false);
		expect(isTokenExpired({ access_token: 'opaque' }, now)).toBe(false);
	});

	it('asks to connect the account when there is no token', () => {
		expect(storedAccessToken({ access_token: ' t ' })).toBe('t');
		expect(() => storedAccessToken(undefined)).toThrow(/not connected/);
		expect(() => storedAccessToken({ access_token: '' })).toThrow(expect.objectContaining({ code: 'CONFIG', field: 'oauthTokenData' }));
	});

	it('renews only for a rejected token, once', async () => {
		const rejected = new MailboxError('AUTH', 'rejected the access token', { field: 'accessToken' });
		expect(isRejectedToken(rejected)).toBe(true);
		expect(isRejectedToken(new MailboxError('AUTH', 'wrong password', { field: 'password' }))).toBe(false);

		const refresh = jest.fn(async () => 'new');
		await expect(withTokenRefresh({ accessToken: 'old', expired: false, attempt: async () => { throw new MailboxError('TIMEOUT', 'slow'); }, refresh })).rejects.toMatchObject({ code: 'TIMEOUT' });
		expect(refresh).not.toHaveBeenCalled();

		const attempts: string[] = [];
		const outcome = withTokenRefresh({ accessToken: 'old', expired: false, attempt: async (t) => { attempts.push(t); throw rejected; }, refresh });
		await expect(outcome).rejects.toBe(rejected);
		expect(attempts).toEqual(['old', 'new']);
		expect(refresh).toHaveBeenCalledTimes(1);
	});
});
