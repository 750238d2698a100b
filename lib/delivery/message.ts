/** What every source does with a downloaded message the same way. */
import type { DeliveryMessage } from './dispatcher';
import { fingerprint } from './keys';

/** What every source's message carries beside its own fields. */
export interface Delivered extends DeliveryMessage {
	/** Over the size limit: `headers` instead of `source`. */
	oversized: boolean;
	/** The raw message as stored on the server, byte for byte; absent when oversized. */
	source?: Buffer;
	/** The raw header block; only when oversized. */
	headers?: Buffer;
	/** Its size on the server (with "fetch unchecked": the downloaded size). */
	size?: number;
}

/** The header block of a raw message, with the blank line that ends it. */
export function headerBlock(source: Buffer): Buffer {
	const crlf = source.indexOf('\r\n\r\n');
	const lf = source.indexOf('\n\n');
	if (crlf !== -1 && (lf === -1 || crlf < lf)) return source.subarray(0, crlf + 4);
	if (lf !== -1) return source.subarray(0, lf + 2);
	return source;
}

/**
 * A message downloaded before its size was checked ("fetch unchecked"): within `limit` it is
 * kept whole; over it only its header block is kept (a copy, so the rest can be freed), or
 * nothing with `oversized` 'skip'.
 */
export function limitDownloaded(source: Buffer, limit: number, oversized: 'headers' | 'skip'): { oversized: boolean; source?: Buffer; headers?: Buffer; size: number } {
	if (!limit || source.length <= limit) return { oversized: false, source, size: source.length };
	return { oversized: true, source: undefined, size: source.length, ...(oversized === 'headers' ? { headers: Buffer.from(headerBlock(source)) } : {}) };
}

/** A stable id for the account a state belongs to: another host, user or mailbox starts afresh. */
export function accountId(...parts: Array<string | undefined>): string {
	return fingerprint(parts.map((p) => (p ?? '').trim().toLowerCase()).join('\n'));
}
