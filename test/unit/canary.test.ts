/**
 * The secret canary itself (test/canary.js, test/environment.js, test/canary-setup.js): it finds a
 * secret in every form, and it keeps what the package creates and logs (and not what a test
 * creates). What this file plants is taken out again, so the run's canary stays clean.
 */
import { configError } from '../../lib/errors';
import { silentLogger } from '../../lib/logger';
import { findSecrets, registerSecret } from '../canary';

interface CanaryState {
	secrets: Set<string>;
	texts: Array<{ where: string; text: string }>;
	errors: Array<{ error: Error; where: string }>;
}
const canary = (globalThis as unknown as { __mailboxCanary: CanaryState }).__mailboxCanary;

describe('secret canary', () => {
	const secret = 'Canary-Pa55word!';
	const token = 'issued-Zm9vYmFyYmF6cXV4';
	const b64 = (s: string) => Buffer.from(s).toString('base64');

	it('finds a secret as it is, base64, URL-encoded and inside SASL and Basic strings; not in text that only looks alike', () => {
		for (const text of [
			`login failed for ${secret}`,
			`C: ${b64(secret)}`,
			`client_secret=${encodeURIComponent(secret)}`,
			`AUTHENTICATE PLAIN ${b64(`\0carol\0${secret}`)}`,
			`AUTH XOAUTH2 ${b64(`user=carol\x01auth=Bearer ${token}\x01\x01`)}`,
			`Authorization: Basic ${b64(`carol:${secret}`)}`,
			`"a${b64(`n,a=carol,\x01auth=Bearer ${token}\x01\x01`)}"`,
		]) {
			expect(findSecrets(text, [secret, token]).length).toBeGreaterThan(0);
		}
		expect(findSecrets(`Canary-Pa55 word, ${b64('\0carol\0(* value hidden *)')}, [hidden]`, [secret, token])).toEqual([]);
	});

	it('keeps the errors the package creates, with where, and not those a test creates; logs of the default logger too', () => {
		registerSecret(secret);
		expect(canary.secrets.has(secret)).toBe(true);
		const before = canary.errors.length;
		const planted = configError('host', `a message that leaks ${secret}`);
		const mine = new Error(`a test's own error with ${secret}`);
		const added = canary.errors.slice(before);
		expect(added.map((e) => e.error)).toEqual([planted]);
		expect(added[0].where).toMatch(/^lib\/errors\.ts:\d+$/);
		expect(added.map((e) => e.error)).not.toContain(mine);
		const texts = canary.texts.length;
		silentLogger.debug(`imap: C: ${b64(`\0carol\0${secret}`)}`);
		expect(canary.texts.slice(texts).map((t) => t.where)).toEqual(['log (debug)']);
		expect(findSecrets(canary.texts.slice(texts)[0].text, [secret])).toHaveLength(1);
		// taken out again: the run's canary counts real leaks only
		canary.errors.splice(before);
		canary.texts.splice(texts);
		canary.secrets.delete(secret);
	});
});
