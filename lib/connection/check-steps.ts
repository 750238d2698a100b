/**
 * What every protocol's connection check shares: the step and result types, the TLS line
 * ("TLSv1.3, certificate for mail.example.com issued by R11, valid until ..."), which step a
 * MailboxError belongs to, and turning any failure into a result without a secret in it.
 */
import type { TLSSocket } from 'node:tls';
import { MailboxError, redact, type ConnectionStep } from '../errors';

export type CheckStepName = 'config' | 'resolve' | 'proxy' | 'connect' | 'tls' | 'login' | 'capabilities' | 'inbox' | 'shared';

export interface CheckStep {
	step: CheckStepName;
	ok: boolean;
	/** What was found (on success) or what failed, with the fix. */
	detail: string;
}

export interface ConnectionCheckResult {
	ok: boolean;
	/** One line for the credential dialog: what was found, or the failure with its fix. */
	message: string;
	steps: CheckStep[];
	/** Set when ok is false. */
	error?: MailboxError;
}

/**
 * The check step a failure belongs to, from where in the connection it happened. A failed
 * command after the login belongs to the protocol's last step (`inbox`; SMTP: `capabilities`).
 */
export function failedStep(step: ConnectionStep | undefined, commandStep: CheckStepName = 'inbox'): CheckStepName {
	switch (step) {
		case 'config':
			return 'config';
		case 'dns':
			return 'resolve';
		case 'proxy':
			return 'proxy';
		case 'tls':
			return 'tls';
		case 'login':
			return 'login';
		case 'command':
			return commandStep;
		default:
			return 'connect';
	}
}

/**
 * The negotiated TLS version and the server certificate in words, or 'not encrypted' for a plain
 * socket (or none).
 */
export function tlsDetail(socket: Partial<Pick<TLSSocket, 'getProtocol' | 'getPeerCertificate'>> | null | undefined): string {
	const version = typeof socket?.getProtocol === 'function' ? socket.getProtocol() : null;
	if (!version) return 'not encrypted';
	const cert = socket?.getPeerCertificate?.();
	const subject = cert?.subject?.CN ? `, certificate for ${cert.subject.CN}` : '';
	const issuer = cert?.issuer?.CN && cert.issuer.CN !== cert.subject?.CN ? ` issued by ${cert.issuer.CN}` : cert?.issuer?.CN ? ' (self-signed)' : '';
	const until = cert?.valid_to ? `, valid until ${new Date(cert.valid_to).toISOString().slice(0, 10)}` : '';
	return `${version}${subject}${issuer}${until}`;
}

/**
 * Ends a check with a failure: an unexpected error becomes a PROTOCOL MailboxError with the
 * secrets removed, and the failed step is appended to the steps found so far.
 */
export function failureResult(error: unknown, steps: CheckStep[], secrets: ReadonlyArray<string | undefined>, commandStep: CheckStepName = 'inbox'): ConnectionCheckResult {
	const mailboxError =
		error instanceof MailboxError ? error : new MailboxError('PROTOCOL', `Unexpected failure: ${redact(error instanceof Error ? error.message : String(error), secrets)}`);
	steps.push({ step: failedStep(mailboxError.step, commandStep), ok: false, detail: mailboxError.fullMessage });
	return { ok: false, message: mailboxError.fullMessage, steps, error: mailboxError };
}
