#!/usr/bin/env node
// Build: clean dist/, compile TypeScript, copy node icons and codex files next to the output.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
fs.rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')], {
	stdio: 'inherit',
	cwd: root,
});

let copied = 0;
for (const top of ['nodes', 'credentials']) {
	(function walk(dir) {
		if (!fs.existsSync(dir)) return;
		for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
			const from = path.join(dir, entry.name);
			if (entry.isDirectory()) walk(from);
			else if (/\.(svg|png|json)$/.test(entry.name)) {
				const to = path.join(dist, path.relative(root, from));
				fs.mkdirSync(path.dirname(to), { recursive: true });
				fs.copyFileSync(from, to);
				copied++;
			}
		}
	})(path.join(root, top));
}
console.log(`build: compiled to dist/, copied ${copied} icon/codex files`);
