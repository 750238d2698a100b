/**
 * The packed package in a real n8n 2.41.1, installed the way Community Nodes installs it: n8n
 * loads every node and credential its package.json names, serves their icons, and reports no
 * load problem for it. A deliberately broken package installed next to it proves that a load
 * problem would be seen.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startPackagedN8n, Teardown } from './harness';
import type { CredentialTypeInfo, N8n, NodeTypeInfo } from './n8n';

// a cold install of n8n takes ~5 minutes; everything else well under one

const root = path.resolve(__dirname, '..', '..');

/** A community package whose node cannot be loaded: it requires a module nobody installed. */
function brokenPackage(dir: string): string {
	const pkgDir = path.join(dir, 'package');
	fs.mkdirSync(path.join(pkgDir, 'dist'), { recursive: true });
	fs.writeFileSync(
		path.join(pkgDir, 'package.json'),
		JSON.stringify({ name: 'n8n-nodes-e2e-broken-fixture', version: '0.0.1', n8n: { n8nNodesApiVersion: 1, nodes: ['dist/Broken.node.js'], credentials: [] } }),
	);
	fs.writeFileSync(
		path.join(pkgDir, 'dist', 'Broken.node.js'),
		"require('n8n-nodes-e2e-module-that-is-not-installed');\nclass Broken {}\nmodule.exports = { Broken };\n",
	);
	const tarball = path.join(dir, 'n8n-nodes-e2e-broken-fixture-0.0.1.tgz');
	execFileSync('tar', ['-czf', tarball, '-C', dir, 'package']);
	return tarball;
}

describe('the package loaded by a real n8n', () => {
	const teardown = new Teardown();
	let n8n: N8n;
	let expected: Awaited<ReturnType<N8n['declaredTypes']>>;
	let types: { nodes: NodeTypeInfo[]; credentials: CredentialTypeInfo[] };
	let cliNodes: NodeTypeInfo[];
	/** the listed types that belong to the package */
	const ours = () => ({
		nodes: types.nodes.filter((n) => n.name.startsWith(`${n8n.packageName}.`)),
		credentials: types.credentials.filter((c) => expected.credentials.includes(c.name)),
	});

	beforeAll(async () => {
		let workDir: string;
		({ n8n, workDir } = await startPackagedN8n(teardown, 'load'));
		// what to expect, from the installed files themselves (not dist/, which a parallel build may be rewriting)
		expected = await n8n.declaredTypes();
		await n8n.installTarball(brokenPackage(path.join(workDir, 'broken')));
		cliNodes = await n8n.exportNodeTypes();
		await n8n.start();
		await n8n.setupOwner();
		types = await n8n.nodeTypes();
	});

	afterAll(() => teardown.run());

	it('reads what to expect from the installed package: at least one node and one credential', () => {
		expect(n8n.packageName).toBe(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).name);
		expect(expected.nodes.map((n) => n.type)).toContain('n8n-nodes-mailbox.mailbox');
		expect(expected.credentials).toContain('mailboxImapApi');
	});

	it('is installed as Community Nodes installs it: its dependencies in place, n8n-workflow left to n8n', () => {
		const pkgDir = path.join(n8n.nodesDir, 'node_modules', n8n.packageName);
		const installed = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
		expect(installed.peerDependencies).toBeUndefined();
		expect(installed.devDependencies).toBeUndefined();
		for (const dep of Object.keys(installed.dependencies ?? {})) expect(fs.existsSync(path.join(pkgDir, 'node_modules', dep, 'package.json'))).toBe(true);
		expect(fs.existsSync(path.join(pkgDir, 'node_modules', 'n8n-workflow'))).toBe(false);
		const ledger = JSON.parse(fs.readFileSync(path.join(n8n.nodesDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
		expect(ledger.dependencies[n8n.packageName]).toBe(n8n.packageVersion);
	});

	it('lists every node of the package in the editor as a community node, with its version, and the AI-tool variant where usable as a tool', () => {
		const byName = new Map(types.nodes.map((n) => [n.name, n]));
		for (const node of expected.nodes) {
			expect(byName.get(node.type)).toMatchObject({ name: node.type, version: node.version, communityNodePackageVersion: n8n.packageVersion });
			if (node.usableAsTool) expect(byName.has(`${node.type}Tool`)).toBe(true);
		}
	});

	it('lists every credential of the package, and every credential its nodes name is a known type', () => {
		const credentialNames = types.credentials.map((c) => c.name);
		expect(credentialNames).toEqual(expect.arrayContaining(expected.credentials));
		const named = ours().nodes.flatMap((n) => (n.credentials ?? []).map((c) => c.name));
		expect(named.length).toBeGreaterThan(0);
		for (const name of named) expect(credentialNames).toContain(name);
	});

	it('serves the icons the editor asks for, for each of its nodes and credentials', async () => {
		const { nodes, credentials } = ours();
		const urls = new Set<string>();
		for (const type of [...nodes, ...credentials]) {
			expect({ type: type.name, hasIcon: !!type.iconUrl }).toEqual({ type: type.name, hasIcon: true });
			for (const url of typeof type.iconUrl === 'string' ? [type.iconUrl] : Object.values(type.iconUrl ?? {})) urls.add(url);
		}
		for (const url of urls) {
			const res = await n8n.rest('GET', `/${url}`);
			expect({ url, status: res.status }).toEqual({ url, status: 200 });
			expect(String(res.json)).toContain('<svg');
		}
	});

	it('reports no load problem for the package, while the broken package next to it is reported and left out', () => {
		expect(n8n.packageLoadProblems()).toEqual([]);
		expect(n8n.packageLoadProblems(n8n.packageName, n8n.cliLogs())).toEqual([]);
		// the check can see a failure: the broken package's is in the same log
		expect(n8n.packageLoadProblems('n8n-nodes-e2e-broken-fixture').join('\n')).toMatch(/Failed to load package "n8n-nodes-e2e-broken-fixture"/);
		expect(types.nodes.map((n) => n.name).filter((name) => name.startsWith('n8n-nodes-e2e-broken-fixture'))).toEqual([]);
	});

	it('is loaded by n8n CLI commands too (n8n export:nodes, which loads nodes like n8n execute)', () => {
		expect(cliNodes.map((n) => n.name)).toEqual(expect.arrayContaining(expected.nodes.map((n) => n.type)));
	});
});
