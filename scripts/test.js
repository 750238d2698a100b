#!/usr/bin/env node
// `npm test`: the setup step (installs what the tests need from outside npm: Debian packages, Node
// 24 and n8n in the cache; seconds when all is there), build, lint and type-check, then the three
// test layers in order (unit, integration against real servers, end-to-end in real n8n). Every layer runs even if an earlier one failed;
// the last line is the total: "N passed, N failed".
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { readRun } = require('../test/canary');

const root = path.resolve(__dirname, '..');
// One folder for this run: the layers' counts, and what the e2e layer installs once and reuses.
const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailbox-test-'));
const summary = path.join(runDir, 'summary.jsonl');
const env = { ...process.env, MAILBOX_TEST_SUMMARY: summary, MAILBOX_TEST_RUN_DIR: runDir };
const run = (script) => {
	const t0 = Date.now();
	const result = spawnSync('npm', ['run', '--silent', script], { cwd: root, env, stdio: 'inherit' });
	process.stderr.write(`test: ${script} ${result.status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
	return result.status === 0;
};

for (const step of ['test:setup', 'build', 'lint', 'typecheck']) if (!run(step)) process.exit(1);
let ok = true;
for (const layer of ['test:unit', 'test:integration', 'test:e2e']) ok = run(layer) && ok;

const counts = fs.existsSync(summary) ? fs.readFileSync(summary, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
// The secret canary, asserted once over the whole run (test/canary.js): no secret any test used
// in what the package showed (errors, logs, output items, n8n's database and log).
const canary = readRun(runDir);
fs.rmSync(runDir, { recursive: true, force: true });
const canaryHits = canary.flatMap((f) => f.hits.map((h) => ({ file: f.file, ...h })));
const canaryFailed = canary.filter((f) => f.failed);
const sum = (key) => canary.reduce((n, f) => n + (f[key] ?? 0), 0);
process.stdout.write(
	`secret canary: ${canary.length} test files, ${sum('errors')} errors the package created and ${sum('texts') - sum('errors')} other texts (${(sum('bytes') / 1048576).toFixed(1)} MiB) scanned for the secrets each file used: ${canaryHits.length} found\n`,
);
for (const h of canaryHits) process.stdout.write(`secret canary: ${h.file}: ${h.secret} (${h.form}) in ${h.where}: ${h.excerpt}\n`);
for (const f of canaryFailed) process.stdout.write(`secret canary: ${f.file}: not scanned: ${f.failed}\n`);
if (canaryHits.length || canaryFailed.length || canary.length === 0) ok = false;
const total = (key) => counts.reduce((n, c) => n + c[key], 0);
for (const c of counts) process.stdout.write(`${c.layer}: ${c.passed} passed, ${c.failed} failed${c.skipped ? `, ${c.skipped} skipped` : ''}\n`);
if (counts.length < 3) ok = false;
// A layer that failed without a failed test (jest itself crashed) still counts as one failure.
const failed = Math.max(total('failed') + canaryHits.length, ok ? 0 : 1);
const skipped = total('skipped');
process.stdout.write(`${total('passed')} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(ok ? 0 : 1);
