// The secret canary. Every secret the tests use (the test servers' passwords, client secrets, every
// token the local authorities issue) is registered while a test file runs; what the package lets a
// user see (errors it creates, what it logs, node output items, and in end-to-end tests n8n's
// database with every execution's data and n8n's log) is scanned for them when the file ends: the
// secret itself, its base64 and URL-encoded forms, and any base64 run that decodes to text holding
// it (SASL PLAIN, XOAUTH2, OAUTHBEARER, HTTP Basic). Each file's figures and hits are appended to
// canary.jsonl in the run folder; `npm test` asserts once, over the whole run, that there are none.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

/** Secrets shorter than this are not looked for (they would match ordinary text). */
const MIN_SECRET = 6;
const BASE64_RUN = /[A-Za-z0-9+/]{8,}={0,2}/g;
const FILE = 'canary.jsonl';

/** The file's canary state (test/environment.js puts it on the test file's global). */
function state() {
	return globalThis.__mailboxCanary;
}

/** Registers a secret the test file uses; forms are derived when scanning. */
function registerSecret(secret) {
	const s = state();
	if (s && typeof secret === 'string' && secret.length >= MIN_SECRET) s.secrets.add(secret);
}

/** Records a text the package produced where a user sees it (scanned when the file ends). */
function record(where, text) {
	const s = state();
	if (!s || text === undefined || text === null) return;
	s.texts.push({ where, text: typeof text === 'string' ? text : safeJson(text) });
}

/** Scans a text (or a file's bytes) now, for the secrets registered so far; counts it and keeps its hits. */
function scanNow(where, text) {
	const s = state();
	if (!s) return [];
	const hits = findSecrets(typeof text === 'string' ? text : Buffer.isBuffer(text) ? text.toString('latin1') : safeJson(text), [...s.secrets]);
	s.scanned.texts += 1;
	s.scanned.bytes += typeof text === 'string' || Buffer.isBuffer(text) ? text.length : 0;
	for (const hit of hits) s.hits.push({ where, ...hit });
	return hits;
}

function safeJson(value) {
	const seen = new WeakSet();
	try {
		return JSON.stringify(value, (_key, v) => {
			if (Buffer.isBuffer(v) || v instanceof Uint8Array) return Buffer.from(v).toString('latin1');
			if (typeof v === 'object' && v !== null) {
				if (seen.has(v)) return undefined;
				seen.add(v);
			}
			if (typeof v === 'bigint') return String(v);
			return v;
		}) ?? '';
	} catch {
		return String(value);
	}
}

/** The secret with most of it replaced, for reports. */
function mask(secret) {
	return `${secret.slice(0, 2)}…(${secret.length})`;
}

/** Where in `text` each secret shows, in any of its forms. */
function findSecrets(text, secrets) {
	const hits = [];
	const list = secrets.filter((s) => s.length >= MIN_SECRET);
	if (!list.length || !text) return hits;
	for (const secret of list) {
		const forms = new Set([secret, Buffer.from(secret).toString('base64'), encodeURIComponent(secret), Buffer.from(secret).toString('latin1')]);
		for (const form of forms) {
			const at = text.indexOf(form);
			if (at >= 0) {
				hits.push({ secret: mask(secret), form: form === secret ? 'plain' : 'encoded', excerpt: excerpt(text, at, form.length, secret) });
				break;
			}
		}
	}
	const latin = list.map((s) => [s, Buffer.from(s).toString('latin1')]);
	for (const match of text.matchAll(BASE64_RUN)) {
		const run = match[0];
		for (const skip of [0, 1, 2, 3]) {
			const decoded = Buffer.from(run.slice(skip), 'base64').toString('latin1');
			const found = latin.find(([, l]) => decoded.includes(l));
			if (found) {
				hits.push({ secret: mask(found[0]), form: 'inside base64', excerpt: excerpt(text, match.index, run.length, found[0]) });
				break;
			}
		}
	}
	return hits;
}

function excerpt(text, at, length, secret) {
	const around = text.slice(Math.max(0, at - 60), at + length + 60);
	return around.split(secret).join(mask(secret)).replace(/[A-Za-z0-9+/]{8,}={0,2}/g, (m) => (m.length > 24 ? `${m.slice(0, 8)}…` : m));
}

/** Writes the file's figures and hits to the run's canary.jsonl (when `npm test` gave a run folder). */
function writeFileResult(runDir, result) {
	if (!runDir) return;
	fs.appendFileSync(path.join(runDir, FILE), `${JSON.stringify(result)}\n`);
}

/** Every file's result of the run. */
function readRun(runDir) {
	const file = path.join(runDir, FILE);
	if (!fs.existsSync(file)) return [];
	return fs
		.readFileSync(file, 'utf8')
		.split('\n')
		.filter(Boolean)
		.map((line) => JSON.parse(line));
}

module.exports = { registerSecret, record, scanNow, findSecrets, safeJson, mask, writeFileResult, readRun, MIN_SECRET };
