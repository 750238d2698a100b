// The test environment of every layer: jest's node environment, plus a registry of what the test
// file started (test/servers/lifetime.ts). When the file ends, after its own afterAll hooks, what
// is still running is stopped, newest first, and named on stderr, so a hook that timed out or threw
// after starting a server cannot leave it running (and jest waiting for it).
// It also keeps the file's secret canary (test/canary.js): every error the package's own code
// creates is kept, and when the file ends they and the texts test/canary-setup.js recorded are
// scanned for the secrets the file's servers registered.
'use strict';
const path = require('node:path');
const { TestEnvironment } = require('jest-environment-node');
const { findSecrets, safeJson, writeFileResult } = require('./canary');

const ROOT = path.resolve(__dirname, '..');
/** Errors created by code in these folders are the package's: what a user sees. */
const PACKAGE_DIRS = ['lib', 'nodes', 'credentials'].map((d) => path.join(ROOT, d) + path.sep);
const MAX_ERRORS = 50_000;

/**
 * The test file's Error, recording every error that package code creates (the first frame that is
 * not an error's constructor lies in lib/, nodes/ or credentials/); subclasses such as MailboxError
 * and n8n's NodeOperationError extend it because the package's modules load after this is set.
 */
function recordingError(OriginalError, canary) {
	// from the stack as text: Node formats a test file's stacks itself (a prepareStackTrace set here is not used)
	const createdByPackage = () => {
		const holder = {};
		OriginalError.captureStackTrace(holder, createdByPackage);
		const lines = String(holder.stack).split('\n').slice(1);
		for (const line of lines) {
			const m = /^\s*at (new \S+ )?(?:.*\()?(\/[^():]+):(\d+):\d+\)?$/.exec(line);
			if (!m) continue;
			const [, constructor, file, lineNo] = m;
			if (constructor || file === __filename) continue;
			return PACKAGE_DIRS.some((d) => file.startsWith(d)) ? `${path.relative(ROOT, file)}:${lineNo}` : undefined;
		}
		return undefined;
	};
	class Error extends OriginalError {
		constructor(...args) {
			super(...args);
			if (canary.errors.length < MAX_ERRORS) {
				const where = createdByPackage();
				if (where) canary.errors.push({ error: this, where });
			}
		}
	}
	return Error;
}

const STOP_TIMEOUT_MS = 30_000;

class MailboxTestEnvironment extends TestEnvironment {
	constructor(config, context) {
		super(config, context);
		this.running = { entries: new Map(), closed: false };
		this.global.__mailboxRunning = this.running;
		this.global.__mailboxTimeoutMs = config.projectConfig.testEnvironmentOptions.timeoutMs;
		this.testPath = context.testPath;
		this.canary = { secrets: new Set(), texts: [], errors: [], hits: [], scanned: { texts: 0, bytes: 0 } };
		this.global.__mailboxCanary = this.canary;
		this.global.Error = recordingError(this.global.Error, this.canary);
	}

	/** Scans what the file recorded for the secrets its servers registered; reports to stderr and the run's canary.jsonl. */
	scanCanary() {
		const canary = this.canary;
		const secrets = [...canary.secrets];
		const scan = (where, text) => {
			canary.scanned.texts += 1;
			canary.scanned.bytes += text.length;
			for (const hit of findSecrets(text, secrets)) canary.hits.push({ where, ...hit });
		};
		for (const { error, where } of canary.errors) {
			const { stack: _stack, ...fields } = Object.getOwnPropertyDescriptors(error);
			const own = {};
			for (const [key, d] of Object.entries(fields)) if ('value' in d) own[key] = d.value;
			scan(`error created at ${where}`, `${error.message}\n${safeJson(own)}`);
		}
		for (const { where, text } of canary.texts) scan(where, text);
		const file = path.relative(ROOT, this.testPath);
		for (const hit of canary.hits) process.stderr.write(`secret canary: ${file}: ${hit.secret} (${hit.form}) in ${hit.where}: ${hit.excerpt}\n`);
		writeFileResult(process.env.MAILBOX_TEST_RUN_DIR, { file, secrets: secrets.length, errors: canary.errors.length, texts: canary.scanned.texts, bytes: canary.scanned.bytes, hits: canary.hits });
	}

	async teardown() {
		try {
			this.scanCanary();
		} catch (error) {
			process.stderr.write(`secret canary: scanning ${this.testPath} failed: ${error && error.stack}\n`);
			writeFileResult(process.env.MAILBOX_TEST_RUN_DIR, { file: path.relative(ROOT, this.testPath), failed: String(error && error.message), hits: [] });
		}
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
