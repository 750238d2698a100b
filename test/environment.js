// The test environment of every layer: jest's node environment, plus a registry of what the test
// file started (test/servers/lifetime.ts). When the file ends, after its own afterAll hooks, what
// is still running is stopped, newest first, and named on stderr, so a hook that timed out or threw
// after starting a server cannot leave it running (and jest waiting for it).
'use strict';
const { TestEnvironment } = require('jest-environment-node');

const STOP_TIMEOUT_MS = 30_000;

class MailboxTestEnvironment extends TestEnvironment {
	constructor(config, context) {
		super(config, context);
		this.running = { entries: new Map(), closed: false };
		this.global.__mailboxRunning = this.running;
		this.global.__mailboxTimeoutMs = config.projectConfig.testEnvironmentOptions.timeoutMs;
		this.testPath = context.testPath;
	}

	async teardown() {
		// From now on a late start (a hook that timed out and went on) is stopped at once.
		this.running.closed = true;
		const left = [...this.running.entries.values()].reverse();
		this.running.entries.clear();
		for (const { name, stop } of left) {
			process.stderr.write(`test environment: ${name} was still running at the end of ${this.testPath}; stopping it\n`);
			let timer;
			const timeout = new Promise((_, reject) => {
				timer = setTimeout(() => reject(new Error(`did not stop within ${STOP_TIMEOUT_MS / 1000} s`)), STOP_TIMEOUT_MS);
			});
			try {
				await Promise.race([stop(), timeout]);
			} catch (error) {
				process.stderr.write(`test environment: stopping ${name} failed: ${error && error.message}\n`);
			} finally {
				clearTimeout(timer);
			}
		}
		await super.teardown();
	}
}

module.exports = MailboxTestEnvironment;
