/**
 * HTTPS on 127.0.0.1 for the integration tests of the local Microsoft and Google endpoints: a
 * temporary folder with a self-signed certificate, a fixture script run in a child process that
 * trusts that certificate (as n8n would a company CA through NODE_EXTRA_CA_CERTS, which Node reads
 * only at start-up), and a plain HTTPS request as a browser or a token client sends it.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { makeSelfSignedCertificate } from '../../servers/tls';

const root = path.resolve(__dirname, '..', '..', '..');

export interface LocalCertificate {
	/** The temporary folder (`<name>-…`) holding cert.pem and key.pem; the test removes it. */
	dir: string;
	certPath: string;
	/** The certificate, for a client's `ca` and a server's `cert`. */
	ca: Buffer;
	key: Buffer;
}

/** A temporary folder `<name>-…` in the system's temp folder with a self-signed certificate for 127.0.0.1 in it. */
export function localCertificate(name: string): LocalCertificate {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-`));
	const { certPath, keyPath } = makeSelfSignedCertificate(dir);
	return { dir, certPath, ca: fs.readFileSync(certPath), key: fs.readFileSync(keyPath) };
}

/**
 * Runs test/integration/fixtures/`fixture` with tsx and `input` as its JSON argument, in a child
 * process that trusts the certificate at `certPath`; gives what it printed, parsed as JSON.
 * Asynchronous on purpose: the servers it talks to run in this process and must keep answering.
 */
export async function runFixture<T>(fixture: string, input: unknown, certPath: string, options: { maxBuffer?: number } = {}): Promise<T> {
	const { stdout } = await promisify(execFile)(path.join(root, 'node_modules', '.bin', 'tsx'), [path.join(root, 'test', 'integration', 'fixtures', fixture), JSON.stringify(input)], {
		cwd: root,
		env: { ...process.env, NODE_EXTRA_CA_CERTS: certPath },
		encoding: 'utf8',
		timeout: 90_000, // a hang ends as a failure, not as a child left running
		killSignal: 'SIGKILL',
		...options,
	});
	return JSON.parse(stdout) as T;
}

export interface HttpsReply {
	status: number;
	headers: Record<string, string | string[] | undefined>;
	body: string;
}

/** One HTTPS request trusting `ca`: `form` as its urlencoded body, `headers` on top; gives the answer whatever its status. */
export function httpsRequest(ca: string | Buffer, method: string, url: string, options: { form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<HttpsReply> {
	return new Promise((resolve, reject) => {
		const body = options.form ? new URLSearchParams(options.form).toString() : undefined;
		const req = https.request(url, { method, ca, headers: { ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...options.headers } });
		req.on('response', (res) => {
			let text = '';
			res.on('data', (c: Buffer) => (text += c.toString()));
			res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
		});
		req.on('error', reject);
		req.end(body);
	});
}
