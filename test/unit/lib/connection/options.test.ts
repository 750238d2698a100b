import { MailboxError, redact } from '../../../../lib/errors';
import { checkPasswordLogin, resolveServer } from '../../../../lib/connection/options';
import { fromNetworkError } from '../../../../lib/connection/network-errors';

function configErrorOf(fn: () => unknown): MailboxError {
	try {
		fn();
	} catch (error) {
		expect(error).toBeInstanceOf(MailboxError);
		return error as MailboxError;
	}
	throw new Error('expected a MailboxError');
}

describe('resolveServer', () => {
	it('fills the default port for each protocol and security', () => {
		expect(resolveServer('imap', { host: 'mail.example.com', security: 'tls' }).port).toBe(993);
		expect(resolveServer('imap', { host: 'mail.example.com', security: 'starttls', port: 0 }).port).toBe(143);
		expect(resolveServer('pop3', { host: 'mail.example.com', security: 'tls', port: '' }).port).toBe(995);
		expect(resolveServer('smtp', { host: 'mail.example.com', security: 'starttls' }).port).toBe(587);
		expect(resolveServer('smtp', { host: 'mail.example.com', security: 'tls', port: null }).port).toBe(465);
	});

	it('takes "host:port" and "[v6]:port", and the port in the host wins', () => {
		const s = resolveServer('imap', { host: ' imap.example.com:1993 ', security: 'tls', port: 993 });
		expect([s.host, s.port]).toEqual(['imap.example.com', 1993]);
		const v6 = resolveServer('imap', { host: '[::1]:10993', security: 'tls' });
		expect([v6.host, v6.port]).toEqual(['::1', 10993]);
		expect(resolveServer('imap', { host: '::1', security: 'tls' }).host).toBe('::1');
	});

	it('verifies certificates unless the user opts out, and sends SNI only for names', () => {
		const named = resolveServer('imap', { host: 'imap.example.com', security: 'tls' });
		expect(named.tls.rejectUnauthorized).toBe(true);
		expect(named.tls.servername).toBe('imap.example.com');
		const ip = resolveServer('imap', { host: '127.0.0.1', security: 'tls', allowUnauthorizedCerts: true });
		expect(ip.tls.rejectUnauthorized).toBe(false);
		expect(ip.tls.servername).toBeUndefined();
	});

	it('names the field and the fix for bad input', () => {
		const empty = configErrorOf(() => resolveServer('imap', { host: '  ', security: 'tls' }));
		expect([empty.code, empty.field]).toEqual(['CONFIG', 'host']);
		expect(empty.fullMessage).toMatch(/Host is empty.*imap\.example\.com/);

		const url = configErrorOf(() => resolveServer('imap', { host: 'imaps://mail.example.com', security: 'tls' }));
		expect(url.field).toBe('host');
		expect(url.fullMessage).toMatch(/looks like a URL.*without "imaps:\/\/"/);

		const spaces = configErrorOf(() => resolveServer('imap', { host: 'mail example.com', security: 'tls' }));
		expect(spaces.field).toBe('host');

		const port = configErrorOf(() => resolveServer('imap', { host: 'mail.example.com', security: 'tls', port: 70000 }));
		expect(port.field).toBe('port');
		expect(port.fullMessage).toMatch(/1 to 65535/);

		const hostPort = configErrorOf(() => resolveServer('imap', { host: 'mail.example.com:abc', security: 'tls' }));
		expect(hostPort.field).toBe('host');

		const security = configErrorOf(() => resolveServer('imap', { host: 'mail.example.com', security: 'ssl' as never }));
		expect(security.field).toBe('security');
	});
});

describe('proxy and TLS version settings', () => {
	it('builds the proxy URL with the login percent-encoded and default ports', () => {
		const socks = resolveServer('imap', { host: 'imap.example.com', security: 'tls', proxy: { type: 'socks5', host: 'proxy.example.com', user: 'me@corp', password: 'p@ss:w/rd' } });
		expect(socks.proxy).toMatchObject({ port: 1080, url: 'socks5://me%40corp:p%40ss%3Aw%2Frd@proxy.example.com:1080' });
		const http = resolveServer('imap', { host: 'imap.example.com', security: 'tls', proxy: { type: 'http', host: '10.0.0.1:3128' } });
		expect(http.proxy?.url).toBe('http://10.0.0.1:3128');
	});

	it('turns the TLS version rule into exact or minimum versions, with old ciphers only for old versions', () => {
		const tls = (tlsVersion: string) => resolveServer('imap', { host: 'h.example.com', security: 'tls', tlsVersion: tlsVersion as never }).tls;
		expect(tls('auto')).not.toHaveProperty('minVersion');
		expect(tls('1.2')).toMatchObject({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
		expect(tls('min-1.2')).toMatchObject({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' });
		expect(tls('1.2')).not.toHaveProperty('ciphers');
		expect(tls('1.0')).toMatchObject({ minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' });
		expect(configErrorOf(() => tls('1.4')).field).toBe('tlsVersion');
	});
});

describe('checkPasswordLogin', () => {
	it('trims the user and requires both fields', () => {
		expect(checkPasswordLogin({ user: ' alice ', password: ' pw ' })).toEqual({ user: 'alice', password: ' pw ' });
		expect(configErrorOf(() => checkPasswordLogin({ user: '', password: 'x' })).field).toBe('user');
		expect(configErrorOf(() => checkPasswordLogin({ user: 'alice', password: '' })).field).toBe('password');
	});
});

describe('redact', () => {
	it('removes the secret and its base64 form, leaves short ones', () => {
		const secret = 'S3cr3t!pw';
		const b64 = Buffer.from(secret).toString('base64');
		expect(redact(`login alice ${secret} then ${b64}`, [secret])).toBe('login alice [hidden] then [hidden]');
		expect(redact('a b c', ['a', undefined])).toBe('a b c');
	});

	it('hides SASL and HTTP forms that carry a secret inside base64, whatever surrounds it', () => {
		const password = 'Pa55-word!';
		const token = 'eyJ0eXAiOiJKV1QiLCJhbGciOi.token-part';
		const b64 = (s: string) => Buffer.from(s).toString('base64');
		const forms = [
			`C: A1 AUTHENTICATE PLAIN ${b64(`\0alice@example.com\0${password}`)}`,
			`C: A1 AUTHENTICATE PLAIN ${b64(`me@contoso.com\\info@contoso.com\0me@contoso.com\0${password}`)}`,
			`AUTH XOAUTH2 ${b64(`user=alice@contoso.com\x01auth=Bearer ${token}\x01\x01`)}`,
			`C: 2 AUTHENTICATE OAUTHBEARER ${b64(`n,a=alice@contoso.com,\x01host=imap.example.com\x01port=993\x01auth=Bearer ${token}\x01\x01`)}`,
			`Authorization: Basic ${b64(`alice:${password}`)}`,
			`"x${b64(`\0alice\0${password}`)}"`,
		];
		for (const text of forms) {
			const out = redact(text, [password, token]);
			expect(out).toContain('[hidden]');
			expect(out).not.toContain(password);
			for (const m of out.match(/[A-Za-z0-9+/]{8,}={0,2}/g) ?? []) expect(Buffer.from(m, 'base64').toString('latin1')).not.toMatch(/Pa55|token-part/);
		}
		// base64 that carries no secret stays
		expect(redact(`C: A1 AUTHENTICATE PLAIN ${b64('\0alice\0other-password')}`, [password])).toBe(`C: A1 AUTHENTICATE PLAIN ${b64('\0alice\0other-password')}`);
	});
});

describe('fromNetworkError', () => {
	const server = resolveServer('imap', { host: 'imap.example.com', security: 'tls' });
	const mapped = (err: object) => fromNetworkError(Object.assign(new Error('x'), err), server);

	it('explains refused connections, DNS, certificates, TLS on a plain port and greeting timeouts', () => {
		expect(mapped({ code: 'ECONNREFUSED' })).toMatchObject({ code: 'CONNECTION_REFUSED', field: 'port', step: 'connect' });
		expect(mapped({ code: 'ECONNREFUSED' })?.fullMessage).toMatch(/993 for SSL\/TLS and 143 for STARTTLS/);
		expect(mapped({ code: 'ENOTFOUND' })).toMatchObject({ code: 'DNS', field: 'host' });
		expect(mapped({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })?.fullMessage).toMatch(/self-signed.*Allow Self-Signed Certificates/);
		expect(mapped({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' })?.message).toMatch(/another host name/);
		const plain = fromNetworkError(Object.assign(new Error('1C0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' }), server);
		expect(plain).toMatchObject({ code: 'TLS', field: 'security' });
		expect(plain?.fullMessage).toMatch(/does not speak TLS on port 993.*STARTTLS/);
		expect(mapped({ code: 'GREETING_TIMEOUT' })).toMatchObject({ code: 'TIMEOUT', field: 'security', step: 'greeting' });
	});

	it('leaves protocol errors to the protocol mapper', () => {
		expect(mapped({ code: 'ParserError3' })).toBeUndefined();
		expect(fromNetworkError('text', server)).toBeUndefined();
	});
});
