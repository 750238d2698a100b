/**
 * HTTPS on 127.0.0.1 for the integration tests of the local Microsoft and Google endpoints: a
 * temporary folder with a self-signed certificate, and a fixture script run in a child process
 * that trusts that certificate (as n8n would a company CA through NODE_EXTRA_CA_CERTS, which Node
 * reads only at start-up).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
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
export async function runFixture<T>(fixture: string, input: unknown, certPath: string): Promise<T> {
	const { stdout } = await promisify(execFile)(path.join(root, 'node_modules', '.bin', 'tsx'), [path.join(root, 'test', 'integration', 'fixtures', fixture), JSON.stringify(input)], {
		cwd: root,
		env: { ...process.env, NODE_EXTRA_CA_CERTS: certPath },
		encoding: 'utf8',
		timeout: 90_000, // a hang ends as a failure, not as a child left running
		killSignal: 'SIGKILL',
	});
	return JSON.parse(stdout) as T;
}
