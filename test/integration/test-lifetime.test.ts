/**
 * The test environment's promise: nothing a test file starts outlives it, also when the hook that
 * started it timed out or a test forgot to stop it, and jest then exits by itself. Proven by
 * running jest on fixture files that do exactly that, and looking for their Dovecot afterwards.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

interface JestRun {
	code: number | null;
	output: string;
	/** killed because it did not exit by itself */
	hung: boolean;
}

/** jest on one fixture file, with the project's environment and setup; killed if it does not end within `limitMs`. */
function runJest(fixture: string, limitMs = 90_000): Promise<JestRun> {
	const config = {
		rootDir: root,
		preset: 'ts-jest',
		testEnvironment: '<rootDir>/test/environment.js',
		setupFilesAfterEnv: ['<rootDir>/test/timeout.js'],
		testEnvironmentOptions: { timeoutMs: 60_000 },
		transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
		testMatch: [`<rootDir>/test/fixtures/lifetime/${fixture}`],
	};
	return new Promise((resolve, reject) => {
		const env = { ...process.env };
		delete env.MAILBOX_TEST_SUMMARY; // not a layer of this run
		const child = spawn(process.execPath, [require.resolve('jest/bin/jest'), '--config', JSON.stringify(config), '--runInBand', '--ci'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
		const chunks: Buffer[] = [];
		child.stdout.on('data', (c: Buffer) => chunks.push(c));
		child.stderr.on('data', (c: Buffer) => chunks.push(c));
		let hung = false;
		const timer = setTimeout(() => {
			hung = true;
			child.kill('SIGKILL');
		}, limitMs);
		child.once('error', reject);
		child.once('close', (code) => {
			clearTimeout(timer);
			resolve({ code, output: Buffer.concat(chunks).toString('utf8'), hung });
		});
	});
}

/** The state folders of the Dovecots the run named, and which of them still have a process. */
function dovecots(output: string): { named: string[]; running: string[] } {
	const named = [...new Set([...output.matchAll(/Dovecot \((\/tmp\/mailbox-dovecot-[^)\s]+)\)/g)].map((m) => m[1]))];
	const running = new Set<string>();
	for (const pid of fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
		let cmdline = '';
		try {
			cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
		} catch {
			continue; // ended meanwhile
		}
		for (const dir of named) if (cmdline.includes(dir)) running.add(dir);
	}
	return { named, running: [...running] };
}

describe('what a test file starts ends with it', () => {
	it('servers a test forgot to stop are stopped when its file ends, and jest exits by itself', async () => {
		const run = await runJest('forgotten.fixture.ts');
		expect(run.hung).toBe(false);
		expect(run.output).not.toContain('did not exit');
		expect(run.code).toBe(0);
		expect(run.output).toMatch(/Dovecot \(\/tmp\/mailbox-dovecot-[^)]+\) was still running at the end of .*forgotten\.fixture\.ts; stopping it/);
		expect(run.output).toContain('OAuth2 test server was still running');
		expect(run.output).toContain('SMTP capture server was still running');
		const { named, running } = dovecots(run.output);
		expect(named).toHaveLength(1);
		expect(running).toEqual([]);
		expect(fs.existsSync(named[0])).toBe(false);
	});

	it('servers whose starting hook timed out are stopped too, and jest exits by itself', async () => {
		const run = await runJest('hook-timeout.fixture.ts');
		expect(run.hung).toBe(false);
		expect(run.output).not.toContain('did not exit');
		expect(run.output).toContain('Exceeded timeout of 1 ms for a hook');
		expect(run.code).toBe(1);
		// Depending on how far the start got when the file ended, Dovecot was running then, or it
		// started after the file had ended: either way it is named and stopped.
		expect(run.output).toMatch(/Dovecot \(\/tmp\/mailbox-dovecot-[^)]+\) (was still running at the end of|started after its test file ended)/);
		const { named, running } = dovecots(run.output);
		expect(named).toHaveLength(1);
		expect(running).toEqual([]);
	});
});
