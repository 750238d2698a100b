/**
 * Deduplication keys and short fingerprints.
 *
 * n8n stores a run's deduplication key in `execution_entity.deduplicationKey`, a varchar(255):
 * SQLite ignores the limit, Postgres refuses the insert and the run fails. A key is the trigger's
 * prefix (workflow, node, generation), the message's key (folder and UID, UIDL, item id) and the
 * attempt; when that is longer than 255 characters the message's key is replaced by its SHA-256,
 * so keys up to 255 characters are exactly what earlier releases used.
 */
import { createHash } from 'node:crypto';

export const MAX_KEY_LENGTH = 255;

/** A short, stable fingerprint (96 bits of SHA-256, base64url): for state entries whose text a sender chooses (Message-IDs). */
export function fingerprint(text: string): string {
	return createHash('sha256').update(text).digest('base64url').slice(0, 16);
}

const FINGERPRINT = /^[A-Za-z0-9_-]{16}$/;

/** A fingerprint as stored; text saved by an earlier release (whole Message-IDs, item ids) is fingerprinted now. */
export function asFingerprint(stored: string): string {
	return FINGERPRINT.test(stored) ? stored : fingerprint(stored);
}

/** The deduplication key of a message's run: at most 255 characters on every path. */
export function deliveryKey(prefix: string, messageKey: string, attempt: number): string {
	const tail = attempt > 1 ? `:retry${attempt}` : '';
	const whole = `${prefix}:${messageKey}${tail}`;
	if (whole.length <= MAX_KEY_LENGTH) return whole;
	const hashed = `${prefix}:#${createHash('sha256').update(messageKey).digest('hex')}${tail}`;
	if (hashed.length <= MAX_KEY_LENGTH) return hashed;
	return `#${createHash('sha256').update(whole).digest('hex')}`;
}
