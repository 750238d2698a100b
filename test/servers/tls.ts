import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface CertificateFiles {
	/** PEM certificate; clients trust it with `tls: { ca: fs.readFileSync(certPath) }`. */
	certPath: string;
	/** PEM private key, mode 0600. */
	keyPath: string;
}

/**
 * A self-signed certificate for CN=localhost with SAN DNS:localhost and IP:127.0.0.1, made by
 * openssl into `dir` (cert.pem, key.pem). Takes about 0.1 to 0.5 s (RSA 2048 key generation).
 */
export function makeSelfSignedCertificate(dir: string): CertificateFiles {
	fs.mkdirSync(dir, { recursive: true });
	const certPath = path.join(dir, 'cert.pem');
	const keyPath = path.join(dir, 'key.pem');
	try {
		execFileSync(
			'openssl',
			['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-sha256', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyPath, '-out', certPath],
			{ stdio: ['ignore', 'ignore', 'pipe'] },
		);
	} catch (error) {
		throw new Error(`openssl could not make the test certificate: ${(error as { stderr?: Buffer }).stderr?.toString().trim() || String(error)}`);
	}
	fs.chmodSync(keyPath, 0o600);
	fs.chmodSync(certPath, 0o644);
	return { certPath, keyPath };
}
